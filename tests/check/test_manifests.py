"""hardened.manifests: Kubernetes YAML and rendered stacks as the resources the engine registers."""
from __future__ import annotations

import json
import os
import textwrap

import pytest
import yaml

from hardened.manifests import (UNKNOWN, ManifestError, iter_resources, load_path, load_text, make_urn,
                                type_token)

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec: {template: {spec: {containers: [{name: web, image: nginx}]}}}
"""


@pytest.mark.parametrize("api_version,kind,token", [
    ("v1", "Pod", "kubernetes:core/v1:Pod"),
    ("v1", "Namespace", "kubernetes:core/v1:Namespace"),
    ("apps/v1", "Deployment", "kubernetes:apps/v1:Deployment"),
    ("networking.k8s.io/v1", "NetworkPolicy", "kubernetes:networking.k8s.io/v1:NetworkPolicy"),
    ("rbac.authorization.k8s.io/v1", "ClusterRole", "kubernetes:rbac.authorization.k8s.io/v1:ClusterRole"),
    ("cert-manager.io/v1", "Certificate", "kubernetes:cert-manager.io/v1:Certificate"),
])
def test_type_tokens_follow_the_provider(api_version, kind, token):
    assert type_token(api_version, kind) == token


def test_a_manifest_becomes_a_resource_with_urn_file_and_line(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "app.yaml").write_text("# comment\n---\n" + DEPLOYMENT)
    [r] = load_path(tmp_path / "app.yaml", stack="ci")
    assert r.type == "kubernetes:apps/v1:Deployment" and r.name == "shop/web"
    assert r.urn == "urn:pulumi:ci::hardened-stack::kubernetes:apps/v1:Deployment::shop/web"
    assert (r.file, r.line) == ("app.yaml", 3)
    assert r.label == "Deployment shop/web" and r.analyzed and r.kind == "Deployment"


def test_multi_document_streams_and_lists_are_flattened_with_lines(tmp_path):
    text = DEPLOYMENT + "---\n" + textwrap.dedent("""\
        apiVersion: v1
        kind: List
        items:
          - apiVersion: v1
            kind: Service
            metadata: {name: web, namespace: shop}
          - apiVersion: v1
            kind: ServiceAccount
            metadata: {name: web, namespace: shop}
        ---
        ---
        """)
    (tmp_path / "all.yaml").write_text(text)
    resources = load_path(tmp_path)
    assert [(r.kind, r.line) for r in resources] == [("Deployment", 1), ("Service", 9), ("ServiceAccount", 12)]


def test_directories_are_read_as_kubectl_apply_r_reads_them(tmp_path):
    """k8s.io/cli-runtime ExpandPathsToFileVisitors: filepath.Walk order (a subdirectory's files
    where its name sorts), extensions exactly .json/.yaml/.yml, hidden names not skipped."""
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "z.yml").write_text(DEPLOYMENT.replace("web", "z"))
    (tmp_path / "a.yaml").write_text(DEPLOYMENT.replace("web", "a"))
    (tmp_path / "c.json").write_text(json.dumps(yaml.safe_load(DEPLOYMENT.replace("web", "c"))))
    (tmp_path / "notes.txt").write_text("not yaml")
    (tmp_path / "upper.YAML").write_text("::: not read, as kubectl matches extensions exactly")
    (tmp_path / ".hidden").mkdir()
    (tmp_path / ".hidden" / "x.yaml").write_text(DEPLOYMENT.replace("web", "hidden"))
    (tmp_path / ".dot.yaml").write_text(DEPLOYMENT.replace("web", "dot"))
    assert [r.object_name for r in load_path(tmp_path)] == ["dot", "hidden", "a", "z", "c"]


def test_non_kubernetes_resources_as_pulumi_type_documents():
    [key] = load_text("pulumiType: aws:kms/key:Key\nname: vault-unseal\ninputs: {enableKeyRotation: true}\n")
    assert key.type == "aws:kms/key:Key" and key.inputs == {"enableKeyRotation": True}
    assert key.urn == make_urn("offline", "aws:kms/key:Key", "vault-unseal") and key.kind == "Key"


def test_dates_stay_strings_as_kubernetes_reads_them():
    [cm] = load_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {expires: 2027-11-30}\n")
    assert cm.inputs["data"]["expires"] == "2027-11-30"


def test_same_names_get_distinct_urns_when_they_are_distinct_objects():
    a, b = load_text(DEPLOYMENT + "---\n" + DEPLOYMENT.replace("apps/v1", "example.com/v1"))
    assert a.urn != b.urn
    c, d = load_text(DEPLOYMENT.replace("name: web", "generateName: web-") * 1 + "---\n"
                     + DEPLOYMENT.replace("name: web", "generateName: web-"))
    assert c.urn != d.urn and d.urn.endswith("#2"), "generateName creates a new object each time"


@pytest.mark.parametrize("text,where,problem", [
    ("apiVersion: v1\nkind: Pod\nmetadata: {name: [unclosed\n", ":4:1:", "flow sequence began at line 3"),
    ("a: b\n  c: d\n", ":2:", "YAML syntax error"),
    ("apiVersion: v1\nkind: Pod\n---\nmetadata: {name: x}\n", ":4:", "no apiVersion and no kind"),
    ("apiVersion: v1\nmetadata: {name: x}\n", ":1:", "no kind"),
    ("just a string\n", ":1:", "expected a Kubernetes object"),  # a top-level list is skipped (test_real_repos)
    ("pulumiType: nonsense\nname: x\n", ":1:", "pulumiType must be a type token"),
])
def test_unreadable_input_names_the_file_and_line(tmp_path, text, where, problem):
    (tmp_path / "bad.yaml").write_text(text)
    with pytest.raises(ManifestError) as raised:
        load_path(tmp_path / "bad.yaml")
    [message] = raised.value.problems
    assert "bad.yaml" + where in message and problem in message


def test_every_problem_is_reported_at_once(tmp_path):
    (tmp_path / "a.yaml").write_text("kind: Pod\n")
    (tmp_path / "b.yaml").write_text("x: [\n")
    with pytest.raises(ManifestError) as raised:
        load_path([tmp_path / "a.yaml", tmp_path / "b.yaml", tmp_path / "missing.yaml"])
    assert len(raised.value.problems) == 3 and "missing.yaml: no such file" in raised.value.problems[2]


def test_streaming_yields_resources_before_reporting_problems(tmp_path):
    (tmp_path / "a.yaml").write_text(DEPLOYMENT)
    (tmp_path / "b.yaml").write_text("kind: Pod\n")
    stream = iter_resources(tmp_path)
    assert next(stream).object_name == "web"
    with pytest.raises(ManifestError):
        next(stream)


def _render(tmp_path):
    out = tmp_path / "render"
    (out / "manifests" / "shop").mkdir(parents=True)
    (out / "manifests" / "shop" / "deployment-web.yaml").write_text(DEPLOYMENT)
    (out / "extra.yaml").write_text(DEPLOYMENT.replace("name: web", "name: extra"))
    urn = "urn:pulumi:prod::hardened-stack::hardened:index:HardenedWorkload$kubernetes:apps/v1:Deployment::web-dep"
    parent = "urn:pulumi:prod::hardened-stack::hardened:index:HardenedWorkload::web"
    doc = {"project": "hardened-stack", "stack": "prod", "resources": [
        {"urn": parent, "type": "hardened:index:HardenedWorkload", "name": "web", "parent": "", "custom": False,
         "inputs": {}},
        {"urn": urn, "type": "kubernetes:apps/v1:Deployment", "name": "web-dep", "parent": parent, "custom": True,
         "inputs": json.loads(json.dumps({**__import__("yaml").safe_load(DEPLOYMENT)})),
         "manifest": "manifests/shop/deployment-web.yaml"},
        {"urn": "urn:pulumi:prod::hardened-stack::aws:kms/key:Key::unseal", "type": "aws:kms/key:Key",
         "name": "unseal", "parent": parent, "custom": True, "inputs": {"enableKeyRotation": "[unknown]"}},
        {"urn": "urn:pulumi:prod::hardened-stack::kubernetes:helm.sh/v4:Chart::vault", "type": "kubernetes:helm.sh/v4:Chart",
         "name": "vault", "parent": parent, "custom": False, "inputs": {"chart": "vault", "version": "0.30.0"}},
    ]}
    (out / "resources.json").write_text(json.dumps(doc, indent=2, sort_keys=True))
    return out


def test_a_render_directory_is_read_through_resources_json(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    resources = {r.name: r for r in load_path(_render(tmp_path))}
    assert sorted(resources) == ["shop/extra", "unseal", "vault", "web", "web-dep"]
    dep = resources["web-dep"]
    assert dep.parent.endswith("HardenedWorkload::web") and dep.urn.startswith("urn:pulumi:prod::")
    assert (dep.file, dep.line) == ("render/manifests/shop/deployment-web.yaml", 1)
    key = resources["unseal"]
    assert key.file == "render/resources.json" and key.line > 1
    assert key.inputs["enableKeyRotation"] == UNKNOWN, "a rendered unknown is an unknown again"
    # every registration is analysed, components too (pulumi step_generator.go continueStepsFromRefresh)
    assert resources["web"].analyzed and resources["vault"].analyzed and key.analyzed
    assert resources["shop/extra"].file == "render/extra.yaml"


def test_display_paths_are_relative_under_the_working_directory(tmp_path, monkeypatch):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "a.yaml").write_text(DEPLOYMENT)
    monkeypatch.chdir(tmp_path)
    assert load_path("sub")[0].file == "sub/a.yaml"
    monkeypatch.chdir(tmp_path / "sub")
    assert load_path(os.path.join("..", "sub", "a.yaml"))[0].file == "a.yaml"


def test_a_render_directory_skips_its_own_json_files(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    out = _render(tmp_path)
    (out / "policy-config.json").write_text(json.dumps({"all": "mandatory"}))
    (out / "extra.json").write_text(json.dumps(yaml.safe_load(DEPLOYMENT.replace("name: web", "name: json"))))
    names = sorted(r.name for r in load_path(out))
    assert names == ["shop/extra", "shop/json", "unseal", "vault", "web", "web-dep"]
    from hardened.policyconfig import FILE_NAME
    from hardened.manifests import POLICY_CONFIG
    assert POLICY_CONFIG == FILE_NAME


def _object(kind: str, name: str, extra: str = "") -> str:
    return f"- apiVersion: v1\n  kind: {kind}\n  metadata: {{name: {name}}}\n{extra}"


def test_nested_lists_are_flattened_breadth_first_as_kubectl_does():
    """FlattenListVisitor (k8s.io/cli-runtime pkg/resource/visitor.go) appends a nested list's
    items to the end of its queue: List[a, List[b, List[c]], d] applies a, d, b, c."""
    inner = "  items:\n" + textwrap.indent(_object("ConfigMap", "c"), "  ")
    middle = "  items:\n" + textwrap.indent(_object("ConfigMap", "b") + "- apiVersion: v1\n  kind: List\n" + inner,
                                            "  ")
    text = ("apiVersion: v1\nkind: List\nitems:\n" + _object("ConfigMap", "a")
            + "- apiVersion: v1\n  kind: ConfigMapList\n" + middle + _object("Secret", "d"))
    lines = text.splitlines()
    line = {n: next(i for i, t in enumerate(lines, 1) if f"name: {n}}}" in t) - 2 for n in "abcd"}
    assert all(lines[line[n] - 1].lstrip().startswith("- apiVersion") for n in "abcd")
    resources = load_text(text)
    assert [(r.object_name, r.line) for r in resources] == [(n, line[n]) for n in "adbc"]


def test_any_item_holding_an_items_list_is_a_list_to_kubectl():
    text = ("apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Whatever\n  items:\n"
            + textwrap.indent(_object("Pod", "p"), "  "))
    [pod] = load_text(text)
    assert (pod.kind, pod.line) == ("Pod", 7)


def test_json_streams_and_yaml_after_one_json_object_as_kubectls_decoder_reads_them():
    first = json.dumps({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "one"}})
    second = json.dumps({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "two"}}, indent=2)
    assert [(r.object_name, r.line) for r in load_text(first + "\n" + second)] == [("one", 1), ("two", 2)]
    # one JSON object, then YAML: YAMLOrJSONDecoder switches to YAML for the rest
    mixed = load_text(first + "\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: yaml}\n")
    assert [(r.object_name, r.line) for r in mixed] == [("one", 1), ("yaml", 3)]
    # a YAML flow mapping is not JSON: the stream is YAML
    [flow] = load_text("{apiVersion: v1, kind: ConfigMap, metadata: {name: flow}}\n")
    assert flow.object_name == "flow"


def test_a_json_syntax_error_names_the_line_and_column():
    with pytest.raises(ManifestError) as raised:
        load_text('{"apiVersion": "v1",\n "kind": ]}', "bad.json")
    assert raised.value.problems == ["bad.json:2:10: JSON syntax error: Expecting value"]
    two = '{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}}\n'
    with pytest.raises(ManifestError) as raised:
        load_text(two * 2 + '{"kind": ]', "three.json")
    assert raised.value.problems[0].startswith("three.json:3:10: JSON syntax error")


def test_duplicates_keep_the_last_definition_in_place_and_are_reported():
    from hardened.manifests import Duplicate
    duplicates: list = []
    text = (DEPLOYMENT + "---\n" + DEPLOYMENT.replace("name: web", "name: other") + "---\n"
            + DEPLOYMENT.replace("image: nginx", "image: nginx:2"))
    resources = load_text(text, "all.yaml", duplicates=duplicates)
    assert [(r.object_name, r.line) for r in resources] == [("other", 6), ("web", 11)]
    assert resources[1].inputs["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:2"
    assert resources[1].urn.endswith("::shop/web"), "the one definition left keeps the plain URN"
    assert duplicates == [Duplicate("Deployment shop/web", ("all.yaml:1", "all.yaml:11"))]
    assert "defined 2 times (all.yaml:1, all.yaml:11)" in duplicates[0].message


def test_symbolic_links_to_directories_are_not_followed(tmp_path):
    (tmp_path / "real").mkdir()
    (tmp_path / "real" / "a.yaml").write_text(DEPLOYMENT)
    (tmp_path / "input").mkdir()
    (tmp_path / "input" / "link").symlink_to(tmp_path / "real", target_is_directory=True)
    (tmp_path / "input" / "b.yaml").write_text(DEPLOYMENT.replace("name: web", "name: b"))
    assert [r.object_name for r in load_path(tmp_path / "input")] == ["b"]


def test_windows_line_endings_and_a_bom_keep_lines():
    text = ("# c\r\n" + DEPLOYMENT.replace("\n", "\r\n")).encode("utf-16-le")
    from hardened.manifests import decode
    [r] = load_text(decode(b"\xff\xfe" + text))
    assert (r.object_name, r.line) == ("web", 2)


# Scalars of every kind the YAML 1.1 resolver tells apart (PyYAML resolver.py, Resolver's implicit
# resolvers), each plain, quoted and tagged, in block and flow collections, as keys and values.
_SCALARS = ["web", "~", "null", "Null", "NULL", "true", "True", "yes", "No", "on", "OFF", "y", "n",
            "0", "-12", "+7", "0o17", "017", "0x1F", "0b101", "1_000", "1:20", "190:20:30", "3.5", "-.5",
            "1e3", "1.5e3", "6.8523015e+5", "inf", "NaN", "1_000.5", "2027-11-30",
            "2001-12-14t21:59:43.10-05:00", "=", "<<", "'quoted'", '"dq"', "!!str 12", "! 12", "!!int '12'",
            "!!float 1", "!!bool yes", "!!null ''"]


def _reference_load_all(text: str) -> list:
    """PyYAML's own safe loader, minus timestamps (what hardened.manifests promises to equal)."""
    class Reference(yaml.SafeLoader):
        pass

    Reference.yaml_implicit_resolvers = {
        first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()}
    return list(yaml.load_all(text, Loader=Reference))  # noqa: S506 (a safe loader)


def _typed(value):
    if isinstance(value, dict):
        return {_typed(k): _typed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_typed(v) for v in value]
    return type(value).__name__, repr(value)


@pytest.mark.parametrize("scalar", _SCALARS)
def test_the_fast_loader_builds_what_pyyamls_safe_loader_builds(scalar):
    """The reader's loader (hardened.manifests._Loader: cached tag resolution, strings, mappings and
    sequences built directly) gives the data, types included, of PyYAML's pure safe loader."""
    from hardened.manifests import iter_documents

    text = textwrap.dedent(f"""\
        plain: {scalar}
        list: [{scalar}, x, {{k: {scalar}}}]
        block:
          - {scalar}
          - {{nested: [{scalar}]}}
        base: &b {{a: {scalar}}}
        merged: {{<<: *b, c: d}}
        ---
        {scalar}: value
        ---
        - {scalar}
        """)
    try:
        expected = _reference_load_all(text)
    except yaml.YAMLError:  # "=" (a value key) has no safe constructor: an error either way
        with pytest.raises(ManifestError, match="constructor"):
            list(iter_documents(text, "t.yaml"))
        return
    got = [data for data, _, _ in iter_documents(text, "t.yaml")]
    assert _typed(got) == _typed(expected)


def test_a_file_is_read_whole_up_to_the_streaming_size_and_streamed_beyond(tmp_path, monkeypatch):
    """hardened.manifests reads a file up to STREAM_BYTES whole (sized by the file, not the limit),
    and streams a larger one document by document; the boundary is the same either way."""
    from hardened import manifests

    doc = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c%d}\n---\n"
    text = "".join(doc % i for i in range(50))
    path = tmp_path / "m.yaml"
    path.write_text(text)
    for limit in (len(text) - 1, len(text), len(text) + 1):
        monkeypatch.setattr(manifests, "STREAM_BYTES", limit)
        names = [r.name for r in load_path(path)]
        assert names == [f"c{i}" for i in range(50)], limit
    with open(path, "rb") as f:
        assert manifests._read_head(f, 10) == text.encode()[:10]
    with open(path, "rb") as f:
        assert manifests._read_head(f, len(text) + 5) == text.encode()
