"""The offline engine (hardened/engine.py) against a small chart built here: each fact it models
about pulumi-kubernetes' helm.v4.Chart and the Pulumi engine, pinned with the upstream source it
comes from.

- pulumi-kubernetes provider/pkg/provider/helm/v4/chart.go, ChartProvider.Construct: release name
  = resource name, DisableHooks, IncludeCRDs, no children when an input is unknown.
- pulumi-kubernetes provider/pkg/provider/yaml/v2/yaml.go, Normalize and register: List expansion,
  namespace defaulting by scope, child name `<prefix>:<ns>/<name>`, Secret data marked secret.
- pulumi-kubernetes provider/pkg/clients/unstructured.go, Normalize: stringData -> base64 data.
- pulumi pkg/resource/deploy/step_generator.go: every registration is analysed (components too,
  with no Check), AnalyzeStack gets outputs, and a remote component has none.
"""
from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from hardened import engine
from hardened.render import ChartContext, expand_chart

CHART = {
    "Chart.yaml": """apiVersion: v2
name: demo
version: 1.2.3
dependencies:
  - {name: sub, version: 0.1.0, condition: sub.enabled}
""",
    "values.yaml": "replicas: 1\nsub: {enabled: false}\n",
    "crds/widgets.yaml": """apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.com}
spec:
  group: example.com
  names: {kind: Widget, plural: widgets}
  scope: Namespaced
  versions: [{name: v1, served: true, storage: true, schema: {openAPIV3Schema: {type: object}}}]
status: {acceptedNames: {kind: Widget}}
""",
    "templates/all.yaml": """apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}-web
spec:
  replicas: {{ .Values.replicas }}
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      initContainers: null
      containers: [{name: web, image: "example.com/web:{{ .Capabilities.KubeVersion.Minor }}"}]
---# Source: a separator with a comment, as some charts render it
apiVersion: v1
kind: Secret
metadata: {name: creds}
stringData: {password: hunter2}
---
apiVersion: example.com/v1
kind: Widget
metadata: {name: w}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: reader}
rules: []
---
apiVersion: v1
kind: ConfigMapList
items:
  - {apiVersion: v1, kind: ConfigMap, metadata: {name: a}, data: {k: v}}
  - {apiVersion: v1, kind: ConfigMap, metadata: {name: b}, data: {k: v}}
---
apiVersion: other.io/v1
kind: Gadget
metadata: {name: g}
""",
    "templates/hook.yaml": """apiVersion: batch/v1
kind: Job
metadata:
  name: migrate
  annotations: {"helm.sh/hook": post-install}
spec: {template: {spec: {restartPolicy: Never, containers: [{name: m, image: x}]}}}
""",
    "templates/NOTES.txt": "Thanks for installing {{ .Release.Name }}",
    "templates/capabilities.yaml": """{{- if .Capabilities.APIVersions.Has "example.com/v1/Widget" }}
apiVersion: v1
kind: ConfigMap
metadata: {name: widgets-served}
{{- end }}
""",
    "templates/extra.tpl": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: from-tpl}\n",
    "templates/_partial.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: from-partial}\n",
    "templates/sub/NOTES.txt": "more notes",
    "charts/sub/Chart.yaml": "apiVersion: v2\nname: sub\nversion: 0.1.0\n",
    "charts/sub/crds/gizmos.yaml": """apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: gizmos.example.com}
spec:
  group: example.com
  names: {kind: Gizmo, plural: gizmos}
  scope: Cluster
  versions: [{name: v1, served: true, storage: true, schema: {openAPIV3Schema: {type: object}}}]
""",
    "charts/sub/templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: sub}\n",
}


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("charts")
    for rel, text in CHART.items():
        path = root / "demo-1.2.3" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def _render(cache, values=None, **kw):
    return engine.render_chart("demo", "1.2.3", release="rel", namespace="apps", values=values or {},
                               kube_version=kw.pop("kube_version", "1.33"), cache=cache, **kw)


def _by_kind(render):
    return {(o["kind"], o["metadata"]["name"]): o for o in render.objects}


def test_hooks_are_dropped_and_listed_and_notes_are_not_objects(cache):
    render = _render(cache)
    assert render.hooks == ["Job migrate (post-install)"]
    assert not [o for o in render.objects if o["kind"] == "Job"]


def test_every_rendered_template_is_applied_but_partials_and_notes(cache):
    """helm v3.20.2 pkg/action/action.go renderResources (NOTES.txt out), pkg/releaseutil/
    manifest_sorter.go SortManifests (a base name starting with _ skipped): the extension does not
    matter."""
    names = {o["metadata"]["name"] for o in _render(cache).objects}
    assert "from-tpl" in names and "from-partial" not in names
    assert engine.is_manifest_template("demo/templates/x.txt")
    assert not engine.is_manifest_template("demo/templates/NOTES.txt")
    assert not engine.is_manifest_template("demo/charts/sub/templates/_helpers.tpl")


def test_release_name_namespace_and_kube_version_reach_the_templates(cache):
    objs = _by_kind(_render(cache, kube_version="1.32"))
    web = objs[("Deployment", "rel-web")]
    assert web["metadata"]["namespace"] == "apps"          # namespaced kind without one: the chart's
    assert web["spec"]["template"]["spec"]["containers"][0]["image"] == "example.com/web:32"
    assert "initContainers" not in web["spec"]["template"]["spec"]   # null dropped by the typed round trip


def test_crds_of_enabled_charts_only_and_their_scope_decides_the_namespace(cache):
    render = _render(cache)
    objs = _by_kind(render)
    assert ("CustomResourceDefinition", "widgets.example.com") in objs
    assert ("CustomResourceDefinition", "gizmos.example.com") not in objs       # sub is disabled
    assert "status" not in objs[("CustomResourceDefinition", "widgets.example.com")]
    assert objs[("Widget", "w")]["metadata"]["namespace"] == "apps"   # Namespaced per its CRD
    assert "namespace" not in objs[("ClusterRole", "reader")]["metadata"]
    # unknown scope: Normalize leaves it unset and warns; Check assumes namespaced, provider's namespace
    assert objs[("Gadget", "g")]["metadata"]["namespace"] == engine.PROVIDER_DEFAULT_NAMESPACE == "default"
    assert render.unresolved_scopes == ["other.io/Gadget"]
    enabled = _by_kind(_render(cache, {"sub": {"enabled": True}}))
    assert ("CustomResourceDefinition", "gizmos.example.com") in enabled and ("ConfigMap", "sub") in enabled


def test_lists_are_expanded_and_secret_string_data_becomes_base64_data(cache):
    objs = _by_kind(_render(cache))
    assert ("ConfigMap", "a") in objs and ("ConfigMap", "b") in objs
    secret = objs[("Secret", "creds")]
    assert "stringData" not in secret
    assert base64.b64decode(secret["data"]["password"]) == b"hunter2"


def test_children_are_registered_as_the_provider_registers_them(cache):
    ctx = ChartContext(cache=str(cache))
    urn = "urn:pulumi:prod::hardened-stack::hardened:index:X$kubernetes:helm.sh/v4:Chart::rel"
    inputs = {"chart": "demo", "version": "1.2.3", "namespace": "apps", "values": {}}
    children = expand_chart(urn, engine.CHART_TOKEN, "rel", inputs, ctx)
    names = {c.name: c for c in children}
    web = names["rel:apps/rel-web"]
    assert web.type == "kubernetes:apps/v1:Deployment" and web.parent == urn
    assert web.urn == ("urn:pulumi:prod::hardened-stack::hardened:index:X$kubernetes:helm.sh/v4:Chart"
                       "$kubernetes:apps/v1:Deployment::rel:apps/rel-web")
    assert "rel:reader" in names and names["rel:reader"].type == "kubernetes:rbac.authorization.k8s.io/v1:ClusterRole"
    secret = names["rel:apps/creds"]
    assert secret.type == "kubernetes:core/v1:Secret"
    assert secret.inputs["data"] == {"password": "[secret]"} and secret.secret_paths == ["/data/password"]


def test_an_unknown_input_registers_no_child(cache):
    ctx = ChartContext(cache=str(cache))
    inputs = {"chart": "demo", "version": "1.2.3", "namespace": "apps", "values": {"arn": engine.UNKNOWN}}
    assert expand_chart("urn:pulumi:s::p::kubernetes:helm.sh/v4:Chart::rel", engine.CHART_TOKEN, "rel", inputs,
                        ctx) == []
    assert "unknown values" in ctx.warnings[0]


def test_a_missing_chart_names_chart_version_and_how_to_fill_the_cache(tmp_path):
    with pytest.raises(engine.ChartError) as e:
        engine.render_chart("vault", "9.9.9", release="v", namespace="vault", values={}, kube_version="1.33",
                            repo="https://helm.releases.hashicorp.com", cache=tmp_path)
    message = str(e.value)
    assert "vault 9.9.9" in message and str(tmp_path / "vault-9.9.9") in message
    assert "HARDENED_CHART_CACHE" in message and "https://helm.releases.hashicorp.com" in message


def test_a_template_error_names_the_chart(cache, tmp_path):
    broken = tmp_path / "demo-1.2.3"
    for rel, text in CHART.items():
        (broken / rel).parent.mkdir(parents=True, exist_ok=True)
        (broken / rel).write_text(text)
    (broken / "templates" / "fail.yaml").write_text('{{ fail "needs a value" }}')
    with pytest.raises(engine.ChartError, match=r"demo 1.2.3 \(release rel\) failed to render: .*needs a value"):
        _render(tmp_path)


def test_what_analyze_and_analyze_stack_receive_for_a_remote_component():
    """Construct registers the Chart with no inputs and nothing registers outputs for it
    (pulumi-kubernetes provider/pkg/provider/helm/v4/chart.go, ChartProvider.Construct: the state
    goes back to the program only); AnalyzeResources sends outputs (step_generator.go)."""
    inputs = {"chart": "vault", "values": {"server": {"ha": {"enabled": True}}}}
    assert engine.analyze_properties(engine.CHART_TOKEN, inputs) == {}
    assert engine.stack_properties(engine.CHART_TOKEN, inputs) == {}
    assert engine.stack_properties(engine.CONFIG_FILE_TOKEN, {"file": "x.yaml"}) == {}
    pod = {"apiVersion": "v1", "kind": "Pod"}
    assert engine.analyze_properties("kubernetes:core/v1:Pod", pod) is pod
    assert not hasattr(engine.Registered("u", "t", "n", "", False, {}), "outputs")


def _chart_render(tmp_path, children: bool) -> Path:
    chart = "urn:pulumi:prod::hardened-stack::kubernetes:helm.sh/v4:Chart::vault"
    resources = [{"urn": chart, "type": engine.CHART_TOKEN, "name": "vault", "parent": "", "custom": False,
                  "inputs": {"chart": "vault", "values": {"x": 1}}}]
    if children:
        resources.append({"urn": chart + "$kubernetes:core/v1:ConfigMap::vault:vault/c",
                          "type": "kubernetes:core/v1:ConfigMap", "name": "vault:vault/c", "parent": chart,
                          "custom": True, "inputs": {"apiVersion": "v1", "kind": "ConfigMap",
                                                     "metadata": {"name": "c", "namespace": "vault"}}})
    (tmp_path / "resources.json").write_text(json.dumps({"project": "hardened-stack", "stack": "prod",
                                                         "resources": resources}))
    return tmp_path


@pytest.mark.parametrize("children", [True, False], ids=["with-children", "without-children"])
def test_the_check_of_a_render_sends_the_chart_empty_and_judges_it_by_its_children(tmp_path, monkeypatch, children):
    """Through the real protocol: a render's Chart reaches Analyze and AnalyzeStack with {} (a
    policy reading chart values or outputs sees nothing); chart-missing-rendered-resources judges it
    by the resources AnalyzeStack sends with the Chart as parent."""
    from hardened.analyzer import PolicyPackProcess
    from hardened.manifests import load_path

    from .test_wire import Spy

    with PolicyPackProcess() as pack:
        spy = Spy(pack.wait_ready())
        spy.attach(pack)
        analysis = pack.analyze(load_path(_chart_render(tmp_path, children)))
    sent = spy.sent
    from google.protobuf import json_format

    [chart_analyze] = [r for r in sent["Analyze"] if r.type == engine.CHART_TOKEN]
    [stack_request] = sent["AnalyzeStack"]
    [chart_stack] = [r for r in stack_request.resources if r.type == engine.CHART_TOKEN]
    assert json_format.MessageToDict(chart_analyze.properties) == {} == json_format.MessageToDict(chart_stack.properties)
    if children:
        [child] = [r for r in stack_request.resources if r.type != engine.CHART_TOKEN]
        assert child.parent == chart_stack.urn
        assert not analysis.by_policy("chart-missing-rendered-resources")
    else:
        [verdict] = analysis.by_policy("chart-missing-rendered-resources")
        assert verdict.mandatory and "'vault' registered no objects" in verdict.message


def test_children_count_for_their_own_chart_only():
    from hardened.manifests import load_path
    from hardened.analyzer import PolicyPackProcess

    sample = (Path(__file__).resolve().parents[2] / "policy_pack" / "policies" / "chart_missing_rendered_resources"
              / "samples" / "disallowed-other-charts-children-only.yaml")
    with PolicyPackProcess() as pack:
        verdicts = pack.analyze(load_path(sample)).by_policy("chart-missing-rendered-resources")
    assert [v.urn.rsplit("::", 1)[1] for v in verdicts] == ["vault"]


def test_a_render_records_no_outputs_for_a_chart(cache):
    """render's resources.json: a Chart entry has no outputs; each child names it as parent."""
    from hardened.render import Registered, write_output  # noqa: F401

    ctx = ChartContext(cache=str(cache))
    urn = "urn:pulumi:prod::hardened-stack::kubernetes:helm.sh/v4:Chart::rel"
    children = expand_chart(urn, engine.CHART_TOKEN, "rel", {"chart": "demo", "version": "1.2.3",
                                                            "namespace": "apps"}, ctx)
    assert children and all(c.parent == urn for c in children)


def test_gateway_api_release_url_resolves_to_the_manifest_cache(tmp_path, monkeypatch):
    from hardened import lockfile

    folder = tmp_path / "gateway-api-v1.6.1"
    folder.mkdir()
    (folder / "a.yaml").write_text(CHART["crds/widgets.yaml"])
    url = "https://github.com/kubernetes-sigs/gateway-api/releases/download/v1.6.1/standard-install.yaml"
    lockfile.forget_verified()
    with pytest.raises(engine.ChartError, match="gateway-api-v1.6.1 .* do not match charts.lock"):
        engine.read_config_file(url, cache=tmp_path)          # not the release the project's lock names
    monkeypatch.setenv(lockfile.LOCK_ENV, str(tmp_path / "none.lock"))   # a lock that names no release
    notes: list[str] = []
    objects, _ = engine.read_config_file(url, cache=tmp_path, unverified=notes)
    assert [o["metadata"]["name"] for o in objects] == ["widgets.example.com"]
    assert notes and "not in none.lock" in notes[0]
    with pytest.raises(engine.ChartError, match="no offline copy"):
        engine.read_config_file("https://example.com/x.yaml", cache=tmp_path)


def test_a_chart_sees_the_apis_of_the_crds_installed_before_it(cache):
    """What discovery reports once the stack's CRDs are installed (the provider hands Helm the
    server's API versions: pulumi-kubernetes provider/pkg/provider/helm/v4/chart.go, Construct,
    through helm's action configuration); offline each chart sees the CRDs registered before it."""
    ctx = ChartContext(cache=str(cache))
    inputs = {"chart": "demo", "version": "1.2.3", "namespace": "apps", "values": {}}
    first = expand_chart("urn:pulumi:s::p::kubernetes:helm.sh/v4:Chart::a", engine.CHART_TOKEN, "a", inputs, ctx)
    assert "example.com/v1/Widget" in ctx.installed_apis and "example.com/v1" in ctx.installed_apis
    second = expand_chart("urn:pulumi:s::p::kubernetes:helm.sh/v4:Chart::b", engine.CHART_TOKEN, "b", inputs, ctx)
    assert not [c for c in first if c.name.endswith("/widgets-served")]
    assert [c for c in second if c.name.endswith("/widgets-served")]


def test_an_eks_version_string_reaches_the_templates_whole(cache):
    """An EKS server reports v1.33.5-eks-<hash>; Helm compares it as a prerelease, so a constraint
    without -0 fails (Masterminds semver), and the built-in APIs are those of 1.33."""
    eks = "v1.33.5-eks-3025e55"
    assert engine.kube_semver(eks) == eks and engine.kube_release(eks) == "v1.33.0"
    assert engine.api_versions(eks) == engine.api_versions("1.33") and "apps/v1/Deployment" in engine.api_versions(eks)
    web = _by_kind(_render(cache, kube_version=eks))[("Deployment", "rel-web")]
    assert web["spec"]["template"]["spec"]["containers"][0]["image"] == "example.com/web:33"


def test_the_stack_charts_compare_kube_versions_so_that_an_eks_string_changes_nothing():
    """Every semverCompare of the cluster version in the cached charts allows prereleases (-0), so
    v1.33.5-eks-x compares as 1.33.5; the one `int .Capabilities.KubeVersion.Minor` (Gatekeeper:
    EKS reports a minor such as "33+", which sprig's int reads as 0) guards matchConditions that our
    values leave empty (components/admission.py)."""
    import re

    cache = engine.chart_cache()
    templates = [p for p in cache.rglob("templates/*") if p.is_file()]
    assert templates, f"no chart cache at {cache}"
    text = {p: p.read_text(errors="replace") for p in templates}
    constraints = {m for t in text.values()
                   for m in re.findall(r'semverCompare "([^"]*)" [^)}]*KubeVersion', t)}
    assert constraints and all(c.endswith("-0") for c in constraints), constraints
    minor = sorted(str(p.relative_to(cache)) for p, t in text.items() if re.search(r"int[^}]*KubeVersion\.Minor", t))
    assert all(m.startswith("gatekeeper-") and "webhook-configuration" in m for m in minor), minor
    for m in minor:
        assert re.search(r"if \.Values\.(validating|mutating)WebhookMatchConditions }}\s*\{\{- if ge \(int",
                         text[cache / m]), m
    components = Path(__file__).resolve().parents[2] / "components"
    assert not [p.name for p in components.glob("*.py") if "MatchConditions" in p.read_text()]


# --- item 12: the Chart options and provider settings the offline engine honours -------------------

def _expand(cache, ctx=None, **inputs):
    ctx = ctx or ChartContext(cache=str(cache))
    args = {"chart": "demo", "version": "1.2.3", "namespace": "apps", "values": {}, **inputs}
    return {c.name: c for c in expand_chart("urn:pulumi:s::p::kubernetes:helm.sh/v4:Chart::rel", engine.CHART_TOKEN,
                                            "rel", args, ctx)}, ctx


def test_value_yaml_files_merge_before_values(cache, tmp_path):
    """pulumi-kubernetes helm/v4/chart.go, Construct: cmd.Values.ValuesFiles then cmd.Values.Values
    (helm pkg/cli/values/options.go, MergeValues: files in order, then the values over them)."""
    from hardened.render import chart_values

    first = tmp_path / "a.yaml"
    first.write_text("replicas: 2\nnested: {a: 1, b: 1}\n")
    sig = "4dabf18193072939515e22adb298388d"
    files = [{sig: "c44067f5952c0a294b673a41bacd8c17", "path": str(first)},
             {sig: "c44067f5952c0a294b673a41bacd8c17", "text": "replicas: 3\nnested: {b: 2}\n"}]
    assert chart_values({"valueYamlFiles": files, "values": {"nested": {"c": 3}}}) == {
        "replicas": 3, "nested": {"a": 1, "b": 2, "c": 3}}
    children, _ = _expand(cache, valueYamlFiles=files[1:])
    assert children["rel:apps/rel-web"].inputs["spec"]["replicas"] == 3


def test_skip_await_annotates_every_object_and_client_side_apply_labels_it(cache):
    """yaml/v2/yaml.go, register (pulumi.com/skipAwait); provider.go, Check (managed-by: pulumi
    unless server-side apply)."""
    children, _ = _expand(cache, skipAwait=True)
    web = children["rel:apps/rel-web"].inputs["metadata"]
    assert web["annotations"] == {"pulumi.com/skipAwait": "true"} and "labels" not in web
    ctx = ChartContext(cache=str(cache), server_side_apply=False)
    children, _ = _expand(cache, ctx)
    assert children["rel:apps/rel-web"].inputs["metadata"]["labels"] == {"app.kubernetes.io/managed-by": "pulumi"}


def test_the_provider_namespace_is_the_default_of_a_chart_and_of_an_unresolved_kind(cache):
    """helm/v4/chart.go, Construct: no namespace -> the provider's default namespace, which is
    kubernetes:namespace or the kubeconfig context's (provider.go, Configure)."""
    ctx = ChartContext(cache=str(cache), provider_namespace="platform")
    children, _ = _expand(cache, ctx, namespace=None)
    assert "rel:platform/rel-web" in children and "rel:platform/g" in children
    children, _ = _expand(cache, ChartContext(cache=str(cache), provider_namespace="platform"))
    assert "rel:apps/rel-web" in children and "rel:platform/g" in children      # Check's default, not the chart's


def test_a_post_renderer_is_refused_and_include_hooks_is_ignored_with_the_providers_warning(cache):
    """Only images.lock's post-renderer (components/imagelock.py, which the stack sets when the lock
    names an image) runs offline, in-process; any other command, with or without args, is refused."""
    with pytest.raises(engine.ChartError, match="postRenderer"):
        _expand(cache, postRenderer={"command": "kustomize"})
    with pytest.raises(engine.ChartError, match="postRenderer"):
        _expand(cache, postRenderer={"command": "sh", "args": ["-c", "sed s/a/b/"]})
    children, ctx = _expand(cache, includeHooks=True)
    assert not [c for c in children.values() if c.inputs["kind"] == "Job"]
    assert any("includeHooks is only supported" in w for w in ctx.warnings)


def test_any_object_with_an_items_array_is_a_list():
    """yaml/v2/yaml.go, expand: obj.IsList() (apimachinery Unstructured.IsList: an items array)."""
    listed = engine.expand_lists([{"apiVersion": "example.com/v1", "kind": "Bundle",
                                   "items": [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}}]}])
    assert [o["kind"] for o in listed] == ["ConfigMap"]


def test_the_stack_sets_no_option_the_offline_engine_cannot_play():
    """ignoreChanges only matters for an update (a render is a first create), and transforms run
    in the engine's callback server, which the SDK's mocks do not provide: no component uses
    either, so the render cannot differ by them. The one post-renderer is images.lock's (the fetch
    branch: components/imagelock.py, set only when the lock names an image), which the offline
    engine runs in-process (hardened.render._render_chart refuses any other)."""
    import re

    root = Path(__file__).resolve().parents[2]
    sources = {p.name: p.read_text() for p in [*(root / "components").glob("*.py"), root / "__main__.py"]}
    used = {n: re.findall(r"\b(ignore_changes|transforms|transformations)\s*=", t)
            for n, t in sources.items()}
    assert not {n: u for n, u in used.items() if u}
    renderers = {n: re.findall(r"\bpost_renderer\s*=.*", t) for n, t in sources.items()}
    assert {n: u for n, u in renderers.items() if u} == {
        "base.py": ["post_renderer=PostRendererArgs(**post) if post else None,"]}
    assert "post = post_renderer_args()" in sources["base.py"]


# --- item 6: the provider's Check of built-in kinds ---------------------------------------------------

@pytest.mark.parametrize("given,canonical", [
    ("1000m", "1"), ("0.5", "500m"), ("0.1", "100m"), ("1.5", "1500m"), ("250m", "250m"), ("1000", "1k"),
    ("1500", "1500"), ("12000", "12k"), ("1000k", "1M"), ("2048Mi", "2Gi"), ("1.5Gi", "1536Mi"),
    ("0.5Gi", "512Mi"), ("1024Ki", "1Mi"), ("1023Ki", "1023Ki"), ("1Ki", "1Ki"), ("1e3", "1e3"),
    ("5e6", "5e6"), ("1500e-3", "1500e-3"), ("0", "0"), (2, "2"), (0.5, "500m"), ("512", "512"),
    ("1024", "1024"), ("two", "two"),
])
def test_quantities_are_written_back_as_the_api_types_write_them(given, canonical):
    """k8s.io/apimachinery pkg/api/resource/quantity.go: ParseQuantity, then String (CanonicalizeBytes:
    BinarySI below 1024 or not whole bytes falls back to DecimalSI; AsCanonicalBytes: an integer
    mantissa with an exponent that is a multiple of 3; AsCanonicalBase1024Bytes)."""
    assert engine.canonical_quantity(given) == canonical


def test_check_canonicalises_the_quantities_of_built_in_kinds_only():
    pod = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
           "spec": {"template": {"spec": {"containers": [{"name": "c", "resources": {"limits": {"cpu": "1000m",
                                                                                        "memory": "1024Mi"}}}],
                                          "volumes": [{"name": "t", "emptyDir": {"sizeLimit": "0.5Gi"}}]}}}}
    checked = engine.check_normalize(pod)
    spec = checked["spec"]["template"]["spec"]
    assert spec["containers"][0]["resources"]["limits"] == {"cpu": "1", "memory": "1Gi"}
    assert spec["volumes"][0]["emptyDir"]["sizeLimit"] == "512Mi"
    custom = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"},
              "spec": {"template": {"spec": {"containers": [{"resources": {"limits": {"cpu": "1000m"}}}]}}}}
    assert engine.check_normalize(custom)["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"] == {
        "cpu": "1000m"}
    quota = engine.check_normalize({"apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": "q"},
                                    "spec": {"hard": {"pods": 100}}})
    assert quota["spec"]["hard"] == {"pods": "100"}


def test_an_object_the_program_registers_goes_through_check_too():
    """pulumi step_generator.go, continueStepsFromImport: prov.Check for every custom resource, the
    program's own objects included: a Secret's stringData reaches the pack as base64 data, marked
    secret; quantities are canonical."""
    from hardened.render import run_program, to_resources

    def program():
        import pulumi

        pulumi.CustomResource("kubernetes:core/v1:Secret", "s", {
            "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "apps"},
            "stringData": {"token": pulumi.Output.secret("hunter2")}})
        pulumi.CustomResource("kubernetes:core/v1:Pod", "p", {
            "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "apps"},
            "spec": {"containers": [{"name": "c", "image": "i", "resources": {"requests": {"cpu": 0.5}}}]}})

    records = {r.name: r for r in run_program("prod", program=program)}
    secret = records["s"]
    assert "stringData" not in secret.inputs and secret.inputs["data"] == {"token": "[secret]"}
    assert secret.secret_paths == ["/data/token"]
    [wire] = [r for r in to_resources([secret])]
    assert base64.b64decode(wire.inputs["data"]["token"]) == b"hunter2"
    assert records["p"].inputs["spec"]["containers"][0]["resources"]["requests"] == {"cpu": "500m"}
