"""hardened.analyzer: the pack in its own process, driven as the Pulumi engine drives it."""
from __future__ import annotations

import json

import pytest

from hardened.analyzer import ConfigError, PackError, PolicyPackProcess, resolve_config
from hardened.manifests import load_path


@pytest.fixture(scope="module")
def pack():
    with PolicyPackProcess() as process:
        yield process


def test_the_pack_runs_as_its_own_process_and_stops_with_the_context(clean_dir):
    with PolicyPackProcess() as pack:
        process = pack.process
        assert process.poll() is None and pack.port > 0
        assert pack.name == "hardened-stack" and pack.version == "1.0.0"
        analysis = pack.analyze(load_path(clean_dir))
    assert process.poll() is not None, "the pack process is killed on exit"
    assert analysis.passed and not analysis.verdicts


def test_verdicts_carry_policy_metadata_and_resource_location(pack, dirty_dir):
    analysis = pack.analyze(load_path(dirty_dir))
    assert not analysis.passed
    by_policy = {v.policy: v for v in analysis.verdicts}
    tag = by_policy["container-disallow-mutable-image-tags"]
    assert tag.resource.kind == "CronJob" and tag.resource.file.endswith("cronjob.yaml") and tag.resource.line == 2
    assert tag.enforcement_level == "mandatory" and tag.severity == "high"
    assert "compliance-scanner:latest" in tag.message and not tag.message.startswith(
        analysis.policies[tag.policy].description), "the description prefix is stripped"
    info = analysis.policies["container-disallow-mutable-image-tags"]
    assert info.control == "NIST SP 800-171 r2 3.4.1" and info.url.endswith("#container-disallow-mutable-image-tags")
    assert by_policy["secret-disallow-literal-data"].resource.kind == "Secret"


def test_verdict_order_is_deterministic(pack, dirty_dir):
    resources = load_path(dirty_dir)
    first = [(v.urn, v.policy, v.message) for v in pack.analyze(resources).verdicts]
    second = [(v.urn, v.policy, v.message) for v in pack.analyze(list(reversed(resources))).verdicts]
    assert first == second


def test_many_resources_in_flight_keep_their_own_verdicts(pack, dirty_dir):
    resources = load_path(dirty_dir) * 1  # one of each, then many copies with distinct URNs
    copies = []
    for i in range(60):
        for r in resources:
            copies.append(type(r)(r.type, f"{r.name}-{i}", r.inputs, f"{r.urn}-{i}", file=r.file, line=r.line))
    analysis = pack.analyze(copies)
    per_resource = {}
    for v in analysis.verdicts:
        per_resource.setdefault(v.urn, set()).add(v.policy)
    cron = {u: p for u, p in per_resource.items() if "CronJob" in u}
    assert len(cron) == 60 and len({frozenset(p) for p in cron.values()}) == 1


@pytest.mark.parametrize("document,expected", [
    ({}, {}),
    ({"pod-disallow-host-ports": "advisory"}, {"pod-disallow-host-ports": ("advisory", {})}),
    ({"container-missing-resource-limits": {"maxCpu": "2"}},
     {"container-missing-resource-limits": ("mandatory", {"maxCpu": "2"})}),
    ({"container-missing-resource-limits": {"enforcementLevel": "advisory", "maxMemory": "4Gi"}},
     {"container-missing-resource-limits": ("advisory", {"maxMemory": "4Gi"})}),
])
def test_policy_configuration_in_pulumis_format(pack, document, expected):
    """As the CLI configures the pack (pulumi pkg/resource/analyzer/config.go,
    ReconcilePolicyPackConfig): every policy, its own level and schema defaults, the entries over them."""
    resolved = resolve_config(document, pack.policies)
    assert set(resolved) == set(pack.policies)
    for name, info in pack.policies.items():
        level, props = expected.get(name, (info.enforcement_level, {}))
        assert resolved[name][0] == level and props.items() <= resolved[name][1].items(), name


def test_all_sets_every_level_and_a_policy_entry_wins(pack):
    resolved = resolve_config({"all": "advisory", "pod-disallow-host-ports": "disabled"}, pack.policies)
    # pulumi config.go applyConfig passes the "all" entry on as an entry of its own
    assert set(resolved) == set(pack.policies) | {"all"}
    assert resolved["pod-disallow-host-ports"][0] == "disabled"
    assert resolved["pod-disallow-root-user"][0] == "advisory"


def test_configuration_problems_are_all_listed(pack):
    with pytest.raises(ConfigError) as raised:
        resolve_config({"all": "loud", "nope": 5, "pod-disallow-untrusted-registries": {"allowedRegistries": []}},
                       pack.policies, source="cfg.json")
    text = str(raised.value)
    assert "cfg.json: all: enforcementLevel must be one of" in text
    assert "cfg.json: nope: 5 is not a valid value" in text
    assert "allowedRegistries: must have at least 1 item" in text


def test_configure_sends_settings_the_policies_use(dirty_dir):
    config = {"container-disallow-mutable-image-tags": {"enforcementLevel": "advisory"},
              "secret-disallow-literal-data": {"systemNamespaces": ["lego-mcp-prod"]}}
    with PolicyPackProcess(config=config) as pack:
        analysis = pack.analyze(load_path(dirty_dir))
    assert not analysis.by_policy("secret-disallow-literal-data")
    assert {v.enforcement_level for v in analysis.by_policy("container-disallow-mutable-image-tags")} == {"advisory"}


def test_a_pack_that_cannot_start_says_why(tmp_path):
    (tmp_path / "PulumiPolicy.yaml").write_text("runtime: python\n")
    (tmp_path / "__main__.py").write_text("raise SystemExit('exemptions.yaml: exemptions[0]: reason is required')\n")
    with pytest.raises(PackError, match="failed to start(.|\n)*reason is required"):
        with PolicyPackProcess(tmp_path, start_timeout=30):
            pass


def test_a_directory_without_a_pack_is_refused(tmp_path):
    with pytest.raises(PackError, match="not a policy pack"):
        PolicyPackProcess(tmp_path).start()


def test_json_round_trip_of_struct_values(pack):
    """Numbers arrive as floats, as from the engine; integral floats still satisfy integer fields."""
    from hardened.manifests import load_text

    [r] = load_text("apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: n}\nspec:\n"
                    "  securityContext: {runAsUser: 0}\n  containers: [{name: c, image: x}]\n")
    found = [v.message for v in pack.analyze([r]).by_policy("pod-disallow-root-user")]
    assert any("runs as UID 0" in m for m in found), json.dumps(found)


def test_inputs_become_the_struct_protobuf_builds():
    """hardened.analyzer.to_struct fills the Struct itself (by exact type); the message must be the
    one ``Struct.update`` builds (google/protobuf/internal/well_known_types.py), bytes and map order
    included, for any value YAML or JSON can give, and for the odd ones it hands to protobuf."""
    from collections import OrderedDict

    from google.protobuf import struct_pb2
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from hardened.analyzer import to_struct

    values = st.recursive(
        st.none() | st.booleans() | st.integers(-2**60, 2**60) | st.floats(allow_nan=False, allow_infinity=False)
        | st.text(max_size=8),
        lambda inner: st.lists(inner, max_size=4) | st.tuples(inner, inner) | st.dictionaries(st.text(max_size=6),
                                                                                            inner, max_size=4)
        | st.builds(OrderedDict, st.dictionaries(st.text(max_size=3), inner, max_size=2)),
        max_leaves=25)

    @settings(max_examples=400, deadline=None)
    @given(st.dictionaries(st.text(max_size=6), values, max_size=6))
    def check(value):
        expected = struct_pb2.Struct()
        expected.update(value)
        assert to_struct(value).SerializeToString() == expected.SerializeToString()

    check()
