"""``python -m hardened check`` reads every input ``kubectl apply -R -f`` would apply (issue 16,
bypass class 1), and judges what the cluster would keep: nested ``List`` kinds, ``.json`` files
and hidden files in a folder, UTF-16 with a byte-order mark, the last definition of an object
defined twice, and the pod templates of workload custom resources. Each test runs the command as a
user would and asserts its exit status and verdicts."""
from __future__ import annotations

import json
import textwrap

import pytest
import yaml

from hardened.cli import main

from .conftest import SAMPLES

PRIVILEGED = "pod-disallow-privileged-containers"
GOLDEN = (SAMPLES / "pod_disallow_privileged_containers" / "samples" / "allowed-golden-deployment.yaml").read_text()
BAD = (SAMPLES / "pod_disallow_privileged_containers" / "samples" / "disallowed-privileged-container.yaml").read_text()


def check(capsys, *argv):
    status = main(["check", *map(str, argv), "--format", "json"])
    out, err = capsys.readouterr()
    return status, (json.loads(out) if out else None), err


def hits(doc, policy=PRIVILEGED):
    """``(kind, name, file, line)`` of every violation of *policy*."""
    return sorted((v["resource"]["kind"], v["resource"]["name"], v["resource"]["file"], v["resource"]["line"])
                  for v in doc["violations"] if v["policy"] == policy)


def indented(text: str, prefix: str) -> str:
    return textwrap.indent(text, prefix)


def privileged_pod(name: str) -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "shop"},
            "spec": {"containers": [{"name": "c", "image": "nginx", "securityContext": {"privileged": True}}]}}


# ---------------------------------------------------------------------------------------------
# A List inside a List
# ---------------------------------------------------------------------------------------------

def test_a_list_inside_a_list_is_flattened_and_each_item_keeps_its_line(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "nested.yaml").write_text(textwrap.dedent("""\
        apiVersion: v1
        kind: List
        items:
        - apiVersion: v1
          kind: ConfigMapList
          items:
          - apiVersion: v1
            kind: List
            items:
            - apiVersion: v1
              kind: Pod
              metadata: {name: deepest, namespace: shop}
              spec:
                containers:
                - {name: c, image: nginx, securityContext: {privileged: true}}
        - apiVersion: v1
          kind: Pod
          metadata: {name: top, namespace: shop}
          spec:
            containers:
            - {name: c, image: nginx, securityContext: {privileged: true}}
        """))
    status, doc, err = check(capsys, "nested.yaml")
    assert status == 1, err
    assert hits(doc) == [("Pod", "deepest", "nested.yaml", 10), ("Pod", "top", "nested.yaml", 16)]


def test_a_json_list_inside_a_list_is_flattened_with_lines(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    inner = {"apiVersion": "v1", "kind": "List", "items": [privileged_pod("inner")]}
    (tmp_path / "all.json").write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": [inner]}, indent=2))
    status, doc, err = check(capsys, tmp_path)
    text = (tmp_path / "all.json").read_text().splitlines()
    line = next(i for i, t in enumerate(text, 1) if "\"kind\": \"Pod\"" in t) - 2  # the object's "{"
    assert status == 1, err
    assert hits(doc) == [("Pod", "inner", "all.json", line)]


# ---------------------------------------------------------------------------------------------
# Every file kubectl apply -R reads in a folder
# ---------------------------------------------------------------------------------------------

def test_json_files_and_hidden_files_in_a_folder_are_judged(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "app" / ".overlay").mkdir(parents=True)
    (tmp_path / "app" / "pod.json").write_text(json.dumps(privileged_pod("from-json"), indent=1))
    (tmp_path / "app" / ".overlay" / "pod.yml").write_text(yaml.safe_dump(privileged_pod("hidden")))
    (tmp_path / "app" / "stream.json").write_text(
        json.dumps(privileged_pod("first")) + "\n" + json.dumps(privileged_pod("second")) + "\n")
    (tmp_path / "app" / "README.md").write_text("# not read")
    (tmp_path / "app" / "pod.YAML").write_text("not: read: as kubectl matches extensions exactly\n")
    status, doc, err = check(capsys, "app")
    assert status == 1, err
    assert hits(doc) == [("Pod", "first", "app/stream.json", 1), ("Pod", "from-json", "app/pod.json", 1),
                         ("Pod", "hidden", "app/.overlay/pod.yml", 1), ("Pod", "second", "app/stream.json", 2)]


def test_a_broken_json_file_exits_2_naming_file_line_and_column(capsys, tmp_path):
    (tmp_path / "pod.json").write_text('{\n  "apiVersion": "v1",\n  "kind": "Pod"\n  "metadata": {}\n}\n')
    status, doc, err = check(capsys, tmp_path)
    assert status == 2 and doc is None
    assert "pod.json:4:3: JSON syntax error: Expecting ',' delimiter" in err and "Traceback" not in err


def test_the_stack_policy_configuration_next_to_manifests_is_not_a_manifest(capsys, tmp_path):
    (tmp_path / "pod.yaml").write_text(GOLDEN)
    (tmp_path / "policy-config.json").write_text(json.dumps({PRIVILEGED: "advisory"}))
    (tmp_path / "bad.yaml").write_text(BAD.replace("name: dashboard", "name: bad"))
    status, doc, err = check(capsys, tmp_path)
    assert status == 0 and "policy configuration" in err
    assert [v["enforcementLevel"] for v in doc["violations"] if v["policy"] == PRIVILEGED] == ["advisory"]


# ---------------------------------------------------------------------------------------------
# Encodings
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("bom,encoding", [(b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be"),
                                          (b"\xef\xbb\xbf", "utf-8")], ids=["utf-16-le", "utf-16-be", "utf-8"])
def test_a_byte_order_mark_selects_the_encoding_as_kubectl_reads_it(capsys, tmp_path, monkeypatch, bom, encoding):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "pod.yaml").write_bytes(bom + ("# written by an editor that adds a BOM\n" + BAD).encode(encoding))
    status, doc, err = check(capsys, "pod.yaml")
    assert status == 1, err
    assert hits(doc) == [("Deployment", "dashboard", "pod.yaml", 3)]


def test_utf16_without_a_byte_order_mark_is_refused_as_kubectl_refuses_it(capsys, tmp_path):
    (tmp_path / "pod.yaml").write_bytes(BAD.encode("utf-16-le"))
    status, _, err = check(capsys, tmp_path / "pod.yaml")
    assert status == 2 and "pod.yaml:1" in err and "Traceback" not in err


def test_invalid_utf8_is_read_with_replacement_characters_as_kubectl_reads_it(capsys, tmp_path):
    (tmp_path / "pod.yaml").write_bytes(b"# caf\xe9 (latin-1 in a comment)\n" + BAD.encode())
    status, doc, err = check(capsys, tmp_path / "pod.yaml")
    assert status == 1 and hits(doc), err


# ---------------------------------------------------------------------------------------------
# An object defined twice: the last definition is what the cluster keeps
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("first,second,status", [(BAD, GOLDEN, 0), (GOLDEN, BAD, 1)],
                         ids=["compliant-last", "privileged-last"])
def test_the_last_definition_of_an_object_is_judged_and_the_duplicate_reported(capsys, tmp_path, monkeypatch,
                                                                              first, second, status):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a-base.yaml").write_text(first)
    (tmp_path / "b-patch").mkdir()
    (tmp_path / "b-patch" / "deploy.yaml").write_text("# the same Deployment again\n" + second)
    code, doc, err = check(capsys, ".")
    assert code == status, err
    assert bool(hits(doc)) == (status == 1)
    assert doc["summary"]["resources"] == 1
    [dup] = doc["duplicates"]
    assert dup["locations"] == ["a-base.yaml:2", "b-patch/deploy.yaml:3"] and dup["judged"] == "b-patch/deploy.yaml:3"
    assert ("check: warning: Deployment lego-mcp-prod/dashboard is defined 2 times (a-base.yaml:2, "
            "b-patch/deploy.yaml:3)") in err


def test_definitions_in_other_groups_namespaces_or_by_generate_name_are_not_duplicates(capsys, tmp_path):
    other_ns = GOLDEN.replace("namespace: lego-mcp-prod", "namespace: lego-mcp-dev")
    other_group = BAD.replace("apiVersion: apps/v1", "apiVersion: example.com/v1")
    generated = BAD.replace("name: dashboard,", "generateName: dashboard-,")
    (tmp_path / "all.yaml").write_text("\n---\n".join([GOLDEN, other_ns, other_group, generated, generated]))
    status, doc, err = check(capsys, tmp_path)
    assert doc["duplicates"] == [] and "warning" not in err
    # The example.com "Deployment" is a custom resource embedding a pod spec: judged by its shape.
    assert doc["summary"]["resources"] == 5 and len(hits(doc)) == 3 and status == 1


def test_a_duplicate_across_api_versions_of_one_group_is_the_same_object(capsys, tmp_path):
    (tmp_path / "all.yaml").write_text(BAD + "---\n" + GOLDEN.replace("apps/v1", "apps/v1beta2"))
    status, doc, _ = check(capsys, tmp_path)
    assert status == 0 and doc["summary"]["resources"] == 1 and len(doc["duplicates"]) == 1


def test_a_duplicate_inside_nested_lists_follows_kubectls_breadth_first_order(capsys, tmp_path):
    """FlattenListVisitor queues a nested list's items after the outer list's: in
    ``List[List[privileged], compliant]`` the privileged definition is applied last."""
    bad, good = yaml.safe_load(BAD), yaml.safe_load(GOLDEN)
    inner = {"apiVersion": "v1", "kind": "List", "items": [bad]}
    (tmp_path / "list.yaml").write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": [inner, good]}))
    status, doc, _ = check(capsys, tmp_path)
    assert status == 1 and hits(doc) and len(doc["duplicates"]) == 1


# ---------------------------------------------------------------------------------------------
# Workload custom resources
# ---------------------------------------------------------------------------------------------

def _rollout(pod_spec_yaml: str) -> str:
    return ("apiVersion: argoproj.io/v1alpha1\nkind: Rollout\nmetadata: {name: web, namespace: shop}\nspec:\n"
            "  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n"
            "    spec:\n" + indented(pod_spec_yaml, "      "))


WORKLOADS = {
    "argo-rollout": _rollout,
    "kruise-cloneset": lambda spec: _rollout(spec).replace("argoproj.io/v1alpha1\nkind: Rollout",
                                                           "apps.kruise.io/v1alpha1\nkind: CloneSet"),
    "kruise-advanced-statefulset": lambda spec: _rollout(spec).replace(
        "argoproj.io/v1alpha1\nkind: Rollout", "apps.kruise.io/v1beta1\nkind: StatefulSet"),
    "knative-service": lambda spec: ("apiVersion: serving.knative.dev/v1\nkind: Service\nmetadata: {name: web, "
                                     "namespace: shop}\nspec:\n  template:\n    spec:\n"
                                     + indented(spec, "      ")),
    "keda-scaledjob": lambda spec: ("apiVersion: keda.sh/v1alpha1\nkind: ScaledJob\nmetadata: {name: web, "
                                    "namespace: shop}\nspec:\n  jobTargetRef:\n    template:\n      spec:\n"
                                    + indented(spec, "        ") + "  triggers: [{type: cron}]\n"),
}
POD_SPEC = yaml.safe_dump(yaml.safe_load(GOLDEN)["spec"]["template"]["spec"], sort_keys=False)
PRIVILEGED_POD_SPEC = yaml.safe_dump(yaml.safe_load(BAD)["spec"]["template"]["spec"], sort_keys=False)


@pytest.mark.parametrize("workload", sorted(WORKLOADS))
def test_workload_custom_resources_are_judged_like_a_deployment(capsys, tmp_path, workload):
    (tmp_path / "good.yaml").write_text(WORKLOADS[workload](POD_SPEC))
    status, doc, err = check(capsys, tmp_path / "good.yaml")
    pod_policies = {v["policy"] for v in doc["violations"] if v["policy"].startswith(("pod-", "container-"))}
    assert status == 0 and not pod_policies, (err, doc["violations"])
    (tmp_path / "bad.yaml").write_text(WORKLOADS[workload](PRIVILEGED_POD_SPEC))
    status, doc, err = check(capsys, tmp_path / "bad.yaml")
    assert status == 1 and [h[:2] for h in hits(doc)] == [(doc["violations"][0]["resource"]["kind"], "web")], err
