"""How render keeps near the SDK import floor without changing a byte of what it writes (issue 26):
the Charts expanded by background workers in registration order while the program runs, the
manifests serialised while the charts still render, the SDK's cycle check answered by a loop,
Helm's separator found by a fast scan, a chart's documents decoded two at a time, and the stack
file and charts.lock parsed once per process. Each is checked against the way it replaced."""
from __future__ import annotations

import random
import re
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from hardened import engine, render, stackfile
from tests import rendercache
from tests.engine.test_engine import cache  # noqa: F401 (the fixture: a one-chart cache, demo 1.2.3)

HELM_SEPARATOR = r"(?:^|\n)---\s*"   # the pattern split_manifests replaced


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(["-", "---", "\n", "\n---", " ", "\t", "\r", "\x0b", "\x85", "\xa0", "\u2028",
                                 "a", "#"]), max_size=20).map("".join))
def test_split_manifests_splits_as_the_separator_pattern(text):
    assert engine.split_manifests(text) == re.split(HELM_SEPARATOR, text)


def test_split_manifests_splits_the_cached_charts_as_the_separator_pattern():
    texts = [p.read_text(encoding="utf-8") for p in sorted(engine.chart_cache().glob("*/**/*.yaml"))[:400]]
    assert texts, f"no chart in {engine.chart_cache()}"
    for text in texts:
        assert engine.split_manifests(text) == re.split(HELM_SEPARATOR, text)


def test_documents_are_decoded_in_order_and_the_first_invalid_one_is_named():
    texts = [("a: 1\n---\nb: [1, 2]\n", "one"), ("---\nc: {d: e}\n---\n\n", "two"), ("f: yes\n---\ng: 010\n", "three")]
    assert engine._documents_of(texts) == [list(engine._documents(t, s)) for t, s in texts]
    assert [len(docs) for docs in engine._documents_of(texts)] == [2, 1, 2]
    broken = texts + [("h: [", "first-bad"), ("i: 1", "fine"), ("j: {", "second-bad")]
    with pytest.raises(engine.ChartError, match="^first-bad: the chart rendered invalid YAML"):
        engine._documents_of(broken)


class _Node:
    """A stand-in for a Resource: the cycle breaker only sets and reads an attribute on it."""


def test_the_cycle_check_answers_as_the_sdks_on_random_graphs():
    """pulumi sdk/python/lib/pulumi/runtime/resource_cycle_breaker.py, declare_dependency: the same
    answer (a cycle refused, anything else recorded) and the same recorded graph, including the
    graphs where a resource is depended on before its own dependencies are declared."""
    from pulumi.runtime import resource_cycle_breaker as breaker

    rng = random.Random(26)
    refused = 0
    for _ in range(1000):
        n = rng.randint(1, 16)
        theirs, ours = [_Node() for _ in range(n)], [_Node() for _ in range(n)]
        ops = [(rng.randrange(n), rng.randrange(n)) for _ in range(rng.randint(1, 40))]
        expected = [breaker.declare_dependency(theirs[a], theirs[b]) for a, b in ops]
        with render.sdk_cycle_check():
            assert isinstance(breaker._reachable.__self__, render._CycleCheck)   # ours is in place
            got = [breaker.declare_dependency(ours[a], ours[b]) for a, b in ops]
        assert got == expected
        refused += expected.count(False)
        edges = [{theirs.index(d) for d in breaker._deps(x)} for x in theirs]
        assert edges == [{ours.index(d) for d in breaker._deps(x)} for x in ours]
    assert refused > 50   # the graphs had cycles to refuse
    assert breaker._reachable.__module__ == breaker.__name__   # restored


@pytest.mark.parametrize("process", [False, True], ids=["here", "child-process"])
def test_what_is_prepared_during_the_render_is_what_write_output_writes(tmp_path, process):
    records = rendercache.cached_run_program("prod")
    render.write_output(records, tmp_path / "plain", "prod")
    prepared = render.PreparedOutput(process=process)
    assert (prepared._child is not None) == process
    for record in records:
        prepared.add(record)
    render.write_output(records, tmp_path / "prepared", "prod", prepared)
    assert all(prepared.get(r) is not None for r in records)   # nothing was left to serialise at write time
    if process:   # the child answered from the front, this process from the back
        assert prepared._child is None
    plain = sorted(p.relative_to(tmp_path / "plain") for p in (tmp_path / "plain").rglob("*") if p.is_file())
    assert len(plain) > 400
    assert plain == sorted(p.relative_to(tmp_path / "prepared") for p in (tmp_path / "prepared").rglob("*")
                           if p.is_file())
    for rel in plain:
        assert (tmp_path / "plain" / rel).read_bytes() == (tmp_path / "prepared" / rel).read_bytes(), rel


def test_a_record_prepared_for_another_list_is_not_taken(tmp_path):
    record = render.Registered("urn:pulumi:prod::hardened-stack::kubernetes:core/v1:ConfigMap::a",
                               "kubernetes:core/v1:ConfigMap", "a", "", True,
                               {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}})
    prepared = render.PreparedOutput()
    prepared.add(record)
    twin = render.Registered(**{**record.__dict__, "inputs": {**record.inputs, "data": {"k": "v"}}})
    assert prepared.get(record) is not None and prepared.get(twin) is None
    render.write_output([twin], tmp_path, "prod", prepared)
    assert "k: v" in (tmp_path / "manifests/_cluster/configmap-a.yaml").read_text()


def test_charts_expand_in_registration_order_while_the_program_runs_on(cache):
    """The second Chart depends on the first, so it registers after it: it sees the CRDs the
    first installs (pulumi-kubernetes helm/v4/chart.go, Construct, hands Helm the server's API
    versions), and each Chart's children follow it in the records, as when a Chart's registration
    waited for its expansion."""
    import pulumi
    from pulumi_kubernetes.helm.v4 import Chart

    def program():
        first = Chart("first", chart="demo", version="1.2.3", namespace="apps")
        Chart("second", chart="demo", version="1.2.3", namespace="apps",
              opts=pulumi.ResourceOptions(depends_on=[first]))

    ctx = render.ChartContext(cache=str(cache))
    records = render.run_program("prod", program=program, charts=ctx)
    charts = [i for i, r in enumerate(records) if r.type == engine.CHART_TOKEN]
    assert [records[i].name for i in charts] == ["first", "second"]
    for i in charts:
        children = [r for r in records if r.parent == records[i].urn]
        assert children and records[i + 1:i + 1 + len(children)] == children
    served = {r.parent.rsplit("::", 1)[-1] for r in records if r.name.endswith("/widgets-served")}
    assert served == {"second"}
    assert "example.com/v1/Widget" in ctx.installed_apis


def test_a_chart_that_cannot_render_fails_the_render_naming_it(cache):
    from pulumi_kubernetes.helm.v4 import Chart

    def program():
        Chart("missing", chart="demo", version="9.9.9", namespace="apps")

    with pytest.raises(render.RenderError, match="demo 9.9.9"):
        render.run_program("prod", program=program, charts=render.ChartContext(cache=str(cache)))


def test_the_stack_file_is_parsed_once_per_process_and_version(tmp_path, monkeypatch):
    path = tmp_path / "Pulumi.s.yaml"
    path.write_text("config:\n  hardened-stack:a: 1\n")
    loads = []
    real = stackfile.yaml.load
    monkeypatch.setattr(stackfile.yaml, "load", lambda *a, **k: loads.append(a) or real(*a, **k))
    for _ in range(3):
        assert stackfile.read_yaml(path) == {"config": {"hardened-stack:a": 1}}
    assert len(loads) == 1
    path.write_text("config:\n  hardened-stack:a: 22\n")   # a new version: read again
    assert stackfile.read_yaml(path) == {"config": {"hardened-stack:a": 22}}
    path.write_text("config:\n  hardened-stack:a: 33\n")   # the same size, at once: still a new content
    assert stackfile.read_yaml(path) == {"config": {"hardened-stack:a": 33}}
    assert len(loads) == 3


def test_registrations_go_without_a_stack_trace_only_while_the_program_runs():
    """A render records no source position (the mock monitor drops the request's stack trace)."""
    from pulumi.runtime import resource as sdk_resource

    original = sdk_resource._get_stack_trace
    with render.without_source_positions():
        assert list(sdk_resource._get_stack_trace().frames) == []
    assert sdk_resource._get_stack_trace is original


@pytest.mark.parametrize("text", ['{"a": [1, 2.5, -0.0, 1e300, true, null, "\\u00e9"]}', '{"big": 123456789012345678901234567890}',
                                  '{"lone": "\\ud800"}', '{"a": 1, "a": 2}', '[1E400]', '[-9223372036854775809]',
                                  '[18446744073709551616, 18446744073709551615, -9223372036854775808]',
                                  '["\u0663\u0663\u0663", "\ud800", 1]'],
                         ids=["plain", "beyond-64-bits", "lone-surrogate", "duplicate-key", "overflow",
                              "below-signed-64-bits", "at-the-64-bit-limits", "other-digits-and-a-raw-surrogate"])
def test_chart_json_decodes_as_the_standard_library_does(text):
    import json

    assert repr(engine.json_loads(text)) == repr(json.loads(text))


@pytest.mark.parametrize("objects", [[{"a": {"b": [1, 2.5, None, True, "x"]}}], [{"n": 2**70}], [{1: "int key"}]],
                         ids=["plain", "beyond-64-bits", "int-key"])
def test_a_cached_chart_render_is_an_independent_copy(objects):
    import json

    frozen = engine._frozen(objects)
    objects[0]["changed"] = True
    assert engine._thawed(frozen) == json.loads(json.dumps([{k: v for k, v in objects[0].items() if k != "changed"}]))


def _configmap(name: str, **data: str) -> render.Registered:
    return render.Registered(f"urn:pulumi:prod::hardened-stack::kubernetes:core/v1:ConfigMap::{name}",
                             "kubernetes:core/v1:ConfigMap", name, "", True,
                             {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data})


def test_the_serialiser_answers_each_record_with_its_yaml_and_json():
    import io
    import pickle

    records = [_configmap("a", k="v"), _configmap("b", multi="x\ny", long="word " * 40),
               render.Registered("urn:pulumi:prod::hardened-stack::aws:s3/bucketV2:BucketV2::b",
                                 "aws:s3/bucketV2:BucketV2", "b", "", True, {"bucket": "b", "tags": {"z": 1}})]
    source = io.BytesIO(b"".join(len(blob).to_bytes(8, "little") + blob for blob in
                                 (pickle.dumps((i, r.inputs, r.is_kubernetes_object)) for i, r in enumerate(records))))
    sink = io.BytesIO()
    assert render.serve(source, sink) == 0
    out, answers = sink.getvalue(), []
    while out:
        size = int.from_bytes(out[:8], "little")
        answers.append(pickle.loads(out[8:8 + size]))
        out = out[8 + size:]
    assert answers == [(i, render.dump_yaml(r.inputs) if r.is_kubernetes_object else None, render._json(r.inputs))
                       for i, r in enumerate(records)]


def test_what_the_child_process_does_not_answer_is_serialised_here(tmp_path):
    records = [_configmap(f"m{i}", k=str(i)) for i in range(5)]
    prepared = render.PreparedOutput(process=True)
    prepared.add(records[0])
    prepared._child._proc.kill()   # the child dies: the records after it are serialised here
    prepared._child._proc.wait()
    for record in records[1:]:
        prepared.add(record)
    assert len(prepared._child.answers) <= 1
    render.write_output(records, tmp_path / "prepared", "prod", prepared)
    render.write_output(records, tmp_path / "plain", "prod")
    for name in ("resources.json", *(f"manifests/_cluster/configmap-m{i}.yaml" for i in range(5))):
        assert (tmp_path / "prepared" / name).read_bytes() == (tmp_path / "plain" / name).read_bytes()


def test_the_gil_is_handed_over_in_short_turns_only_while_the_program_runs():
    import sys

    before = sys.getswitchinterval()
    with render.short_gil_turns():
        assert sys.getswitchinterval() == min(before, render.RENDER_SWITCH_INTERVAL) < 0.005
    assert sys.getswitchinterval() == before


def test_one_default_provider_however_many_registrations_race_for_it(monkeypatch):
    """Registrations reach the mock monitor on the SDK's executor threads; the engine registers a
    package's default provider once (pulumi pkg/resource/deploy/providers/registry.go). The GIL's
    short turns during a render made the race visible: two records for one provider. Making the
    provider's record slow to build widens the window."""
    import time

    import pulumi_aws as aws

    real = engine.default_provider
    monkeypatch.setattr(engine, "default_provider", lambda *a, **k: time.sleep(0.05) or real(*a, **k))

    def program():
        for i in range(60):
            aws.s3.BucketV2(f"b{i}")

    for _ in range(2):
        records = render.run_program("prod", program=program)
        defaults = [r.urn for r in records if r.type == "pulumi:providers:aws"]
        assert len(defaults) == 1, defaults
        assert sum(r.type == "aws:s3/bucketV2:BucketV2" for r in records) == 60


#: What the program reads of pulumi_aws's service packages (components/), a lowercase module the
#: resource modules import (``from . import outputs``), names of a service's _inputs and _enums,
#: a function, ``...Args`` classes, and a resource whose module name has a digit (BucketV2).
_AWS_NAMES = {
    "ec2": ["DefaultSecurityGroup", "Eip", "FlowLog", "InternetGateway", "LaunchTemplate", "NatGateway", "RouteTable",
            "RouteTableAssociation", "SecurityGroup", "Subnet", "Vpc", "VpcEndpoint", "VpcArgs", "outputs",
            "SecurityGroupIngressArgs", "get_subnet"],
    "s3": ["Bucket", "BucketObjectLockConfiguration", "BucketPolicy", "BucketPublicAccessBlock", "BucketV2",
           "BucketServerSideEncryptionConfiguration", "BucketVersioning", "CannedAcl"],
    "iam": ["OpenIdConnectProvider", "Policy", "Role", "RolePolicy", "RolePolicyAttachment", "get_policy_document"],
    "eks": ["AccessEntry", "AccessPolicyAssociation", "Addon", "Cluster", "NodeGroup", "get_addon", "get_cluster"],
    "kinesis": ["FirehoseDeliveryStream"], "kms": ["Alias", "Key"], "cloudwatch": ["LogGroup", "LogSubscriptionFilter"],
    "vpc": ["SecurityGroupIngressRule"], "shield": ["Protection"], "wafv2": ["WebAcl", "WebAclAssociation"],
    "lb": ["LoadBalancer", "Listener", "ListenerRule", "TargetGroup"], "cloudcontrol": ["get_resource"],
}


def test_lean_aws_packages_give_the_objects_the_packages_own_imports_bind():
    """In a fresh interpreter: each name read through the lean loader (hardened/sdkimport.py) is the
    very object the service package's own ``__init__.py`` binds to it once it has run (a dunder
    read runs it), and reading them imported a few modules, not every module of the service."""
    import json
    import subprocess
    import sys

    script = f"""
import json, sys
import pulumi_aws as aws
from hardened import sdkimport
names = {json.dumps(_AWS_NAMES)}
assert sdkimport.lean_service_packages()
before = len(sys.modules)
lean = {{(p, n): getattr(getattr(aws, p), n) for p, ns in names.items() for n in ns}}
loaded = len(sys.modules) - before
for p in names:
    getattr(getattr(aws, p), "__all__", None)   # the package's own __init__.py runs
full = len(sys.modules) - before
print(json.dumps({{"loaded": loaded, "full": full,
                  "differ": [list(k) for k, v in lean.items() if getattr(getattr(aws, k[0]), k[1]) is not v]}}))
"""
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=Path(render.__file__).parents[1])
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout)
    assert out["differ"] == []
    assert out["loaded"] < out["full"] / 4, out   # ec2 alone has 180 modules


@pytest.mark.parametrize("name,module", [("VpcEndpoint", "vpc_endpoint"), ("OpenIdConnectProvider", "open_id_connect_provider"),
                                         ("BucketV2", "bucket_v2"), ("get_cluster", "get_cluster"), ("Eip", "eip"),
                                         ("WebAclLoggingConfiguration", "web_acl_logging_configuration")])
def test_a_class_is_looked_for_in_the_module_named_after_it(name, module):
    from hardened.sdkimport import module_name

    assert module_name(name) == module


def test_no_chart_of_the_stack_asks_about_the_apis_of_the_crds_the_stack_installs():
    """Why the charts can render side by side in prod without one waiting for another's CRDs:
    every use of ``.Capabilities`` in every chart the stack renders (templates, helpers, files,
    subcharts) asks about one API named literally, and none of those APIs is served by a CRD that
    any chart or manifest file of the stack installs. (Were one to, join_charts renders that chart
    again with its predecessors' APIs: the test below.)"""
    records = rendercache.cached_run_program("prod")
    charts = [r for r in records if r.type == engine.CHART_TOKEN]
    assert len(charts) >= 10
    installed = set(engine.crd_api_versions(r.inputs for r in records if r.is_kubernetes_object))
    assert "cert-manager.io/v1" in installed and "gateway.networking.k8s.io/v1" in installed
    cache = engine.chart_cache()
    asked = {}
    for folder in sorted(p for p in cache.iterdir() if (p / "Chart.yaml").is_file()):
        queries = engine.capability_queries(str(folder))
        assert queries is not None, f"{folder.name}: a use of .Capabilities that is no literal question"
        asked[folder.name] = queries
    assert asked["falco-9.1.0"] >= {"monitoring.coreos.com/v1", "security.openshift.io/v1"}
    assert {name: q & installed for name, q in asked.items() if q & installed} == {}


@pytest.mark.parametrize("template,expected", [
    ('{{ if .Capabilities.APIVersions.Has "a.io/v1" }}x{{ end }}', {"a.io/v1"}),
    ('{{ if $.Capabilities.APIVersions.Has "a.io/v1/Kind" }}x{{ end }}', {"a.io/v1/Kind"}),
    ('{{ if has "b.io/v1" .Capabilities.APIVersions }}x{{ end }}', {"b.io/v1"}),
    ('{{ if not (has "b.io/v1" $.Capabilities.APIVersions) }}x{{ end }}', {"b.io/v1"}),
    ('{{ .Capabilities.KubeVersion.Minor }} {{ .Capabilities.HelmVersion.Version }}', set()),
    ('allowedCapabilities: []\nname: Capabilities  # {{ .Values.x }}', set()),
    ('{{ toYaml .Capabilities.APIVersions }}', None),
    ('{{ if .Capabilities.APIVersions.Has (printf "%s/v1" .Values.g) }}x{{ end }}', None),
    ('{{ $c := .Capabilities }}{{ $c.APIVersions }}', None),
    ('{{ index . "Capabilities" }}', None),
    ('{{ include "helper" .Capabilities }}', None),
], ids=["has", "root-has", "sprig-has", "sprig-has-root", "versions", "other-words", "dumped", "computed",
        "variable", "index", "passed-on"])
def test_capability_queries_are_literal_questions_or_unknown(tmp_path, template, expected):
    chart = tmp_path / f"c{abs(hash(template))}"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: c\nversion: 1.0.0\n")
    (chart / "templates" / "t.yaml").write_text(template)
    got = engine.capability_queries(str(chart))
    assert got == (None if expected is None else frozenset(expected))


def test_a_chart_started_before_its_predecessors_crds_are_known_is_rendered_again_with_them(cache, monkeypatch):
    """The demo chart asks about its own CRD's API (example.com/v1/Widget): the second copy, started
    while the first is still rendering, saw none; join_charts renders it again with the first's."""
    import threading

    import pulumi
    from pulumi_kubernetes.helm.v4 import Chart

    release = threading.Event()
    real = render.expand_chart

    def slow_first(urn, token, name, inputs, ctx, installed=None):
        if name == "first":
            release.wait(10)
        return real(urn, token, name, inputs, ctx, installed)

    def program():
        first = Chart("first", chart="demo", version="1.2.3", namespace="apps")
        Chart("second", chart="demo", version="1.2.3", namespace="apps",
              opts=pulumi.ResourceOptions(depends_on=[first]))

    renders = []
    monkeypatch.setattr(render, "expand_chart", lambda *a: renders.append(a[2]) or slow_first(*a))
    monkeypatch.setattr(render, "CHART_WORKERS", 2)
    threading.Timer(1.0, release.set).start()   # the second chart renders meanwhile, without the CRDs
    records = render.run_program("prod", program=program, charts=render.ChartContext(cache=str(cache)))
    served = {r.parent.rsplit("::", 1)[-1] for r in records if r.name.endswith("/widgets-served")}
    assert served == {"second"}
    assert renders.count("second") == 2 and renders.count("first") == 1


@pytest.mark.parametrize("environment,expected", [({}, "400"), ({"GOGC": "50"}, None)], ids=["unset", "set"])
def test_a_render_restarts_once_with_the_go_collectors_target_unless_the_environment_sets_one(environment, expected):
    """The Helm SDK's Go runtime reads GOGC from the process's initial environment only:
    ``python -m hardened render`` started without it runs its own command line again with it
    (hardened/__main__.py); here that command line is one that prints what it got."""
    import os
    import subprocess
    import sys

    show = "import os; print('GOGC=' + os.environ.get('GOGC', ''))"
    script = (f"import runpy, sys; sys.argv = ['hardened', 'render', '--help']; "
              f"sys.orig_argv = [sys.executable, '-c', {show!r}]; runpy.run_module('hardened', run_name='__main__')")
    env = {k: v for k, v in os.environ.items() if k != "GOGC"} | environment
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env,
                          cwd=Path(render.__file__).parents[1])
    assert proc.returncode == 0, proc.stderr
    if expected:
        assert proc.stdout.strip() == f"GOGC={expected}"
    else:
        assert "GOGC=" not in proc.stdout and "--stack" in proc.stdout   # render's own --help, no restart


def test_a_chart_without_a_crd_folder_is_not_asked_for_its_crds(tmp_path):
    """helm.sh/helm chart.go, ``CRDObjects``: the files under ``crds/`` of the chart and of each
    subchart; engine.has_crd_folder says where there are none, checked against the SDK's answer
    on every cached chart and on a subchart's folder."""
    import shutil

    import helm_python

    folders = [p for p in sorted(engine.chart_cache().iterdir()) if (p / "Chart.yaml").is_file()]
    parent = tmp_path / "parent"
    shutil.copytree(next(p for p in folders if p.name.startswith("cni-")), parent)
    (parent / "charts" / "sub" / "crds").mkdir(parents=True)
    (parent / "charts" / "sub" / "Chart.yaml").write_text("apiVersion: v2\nname: sub\nversion: 1.0.0\n")
    (parent / "charts" / "sub" / "crds" / "w.yaml").write_text(
        "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata: {name: w.example.com}\n")
    answers = {}
    for folder in folders + [parent]:
        with helm_python.Chart.load(str(folder)) as chart:
            answers[folder.name] = (engine.has_crd_folder(folder), bool(chart.crds))
    assert all(has or not crds for has, crds in answers.values()), answers
    assert answers["parent"] == (True, True) and any(not has for has, _ in answers.values())


def test_each_record_is_prepared_once(cache):
    """run_program(prepare=...): every record it returns (the program's, the default provider, each
    chart's children) is handed over once."""
    import pulumi
    from pulumi_kubernetes.core.v1 import ConfigMap
    from pulumi_kubernetes.helm.v4 import Chart

    handed: list = []

    def program():
        first = ConfigMap("cm", data={"k": "v"})
        Chart("chart", chart="demo", version="1.2.3", namespace="apps", opts=pulumi.ResourceOptions(depends_on=[first]))

    records = render.run_program("prod", program=program, charts=render.ChartContext(cache=str(cache)),
                                 prepare=handed.append)
    assert len(handed) == len({id(r) for r in handed}) == len(records)
    assert {id(r) for r in handed} == {id(r) for r in records}
    assert any(r.parent.endswith("::chart") for r in handed)


_JSONISH = st.recursive(st.none() | st.booleans() | st.floats(allow_nan=False, allow_infinity=False) | st.integers(-2**53, 2**53)
                        | st.text(max_size=8),
                        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
                        max_leaves=20)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.text(max_size=6), _JSONISH, max_size=6))
def test_a_struct_reads_as_the_protobuf_json_converter_reads_it(document):
    """render.struct_to_dict replaced google.protobuf.json_format.MessageToDict for the monitor's
    requests: the same keys in the same order, the same values of the same types."""
    import json

    from google.protobuf import json_format, struct_pb2

    struct = struct_pb2.Struct()
    struct.update(document)
    ours, theirs = render.struct_to_dict(struct), json_format.MessageToDict(struct)
    assert json.dumps(ours) == json.dumps(theirs) and repr(ours) == repr(theirs)


def test_a_struct_with_a_value_json_cannot_hold_fails_as_the_converter_fails():
    from google.protobuf import json_format, struct_pb2

    struct = struct_pb2.Struct()
    struct.update({"a": {"b": [float("nan")]}})
    with pytest.raises(ValueError) as theirs:
        json_format.MessageToDict(struct)
    with pytest.raises(ValueError) as ours:
        render.struct_to_dict(struct)
    assert str(ours.value) == str(theirs.value)


def _normalize_as_before(value, path="", secrets=None):
    """render.normalize as it was, the general rules only (the reference for its fast path)."""
    if isinstance(value, dict):
        if value.get(render.SIG_KEY) == render.SECRET_SIG:
            if secrets is not None:
                secrets.append(path or "/")
            return render._redact(value.get("value"))
        return {k: _normalize_as_before(v, f"{path}/{k}", secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [_normalize_as_before(v, f"{path}/{i}", secrets) for i, v in enumerate(value)]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if value == render.UNKNOWN:
        return "[unknown]"
    return value


_WIRE = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.sampled_from([render.UNKNOWN, "x", "", "1.0"])
    | st.builds(lambda v: {render.SIG_KEY: render.SECRET_SIG, "value": v}, st.sampled_from(["s", render.UNKNOWN, 1.0]))
    | st.builds(lambda: {render.SIG_KEY: "0def7320c3a5731c473e5ecbe6d01bc7", "path": "a.txt"}),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(["a", "b", "data", "k"]), inner, max_size=4),
    max_leaves=25)


@settings(max_examples=500, deadline=None)
@given(_WIRE)
def test_normalize_gives_what_its_general_rules_give(value):
    """The fast path of render.normalize (plain data, no signature key) and its general rules agree
    on every value: the same result, of the same types, and the same secret paths."""
    ours, theirs = [], []
    assert repr(render.normalize(value, "", ours)) == repr(_normalize_as_before(value, "", theirs))
    assert ours == theirs


def test_normalize_of_the_rendered_stack_is_what_its_general_rules_give():
    records = rendercache.cached_run_program("prod")
    objects = [r.wire if r.wire is not None else r.inputs for r in records]
    assert [render.normalize(o) for o in objects] == [_normalize_as_before(o) for o in objects]
