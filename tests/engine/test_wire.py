"""What the offline engine puts on the wire, against what the real engine does (issue 24, see
docs/engine.md): preview IDs, the policy configuration the CLI sends, the pack's version guard.
Each test names the upstream file and function it pins."""
from __future__ import annotations

import pytest

from hardened import engine
from hardened.analyzer import PolicyPackProcess, resolve_config
from hardened.manifests import load_text


# --- item 8: a create at preview has an empty ID, which the SDK treats as unknown -------------------

def _program():
    import pulumi

    class Thing(pulumi.CustomResource):
        def __init__(self, name, props, opts=None):
            super().__init__("test:index:Thing", name, props, opts)

    first = Thing("first", {"value": "a"})
    Thing("second", {"ref": first.id})


@pytest.mark.parametrize("preview", [True, False], ids=["preview", "update"])
def test_an_id_is_unknown_at_preview_and_known_at_update(preview):
    """pulumi pkg/resource/plugin/provider_plugin.go, provider.Create: an empty ID is accepted only
    with Preview; sdk/python/lib/pulumi/runtime/resource.py, register_resource: is_known = bool(resp.id)."""
    from hardened.render import run_program

    records = run_program("prod", program=_program, preview=preview)
    [second] = [r for r in records if r.name == "second"]
    assert (second.inputs.get("ref") == "[unknown]") is preview, second.inputs
    if not preview:
        assert second.inputs["ref"] == "first-id"


# --- item 11: the CLI passes unknown names and settings on; the pack reports them --------------------

def test_the_cli_model_sends_every_policy_its_defaults_and_passes_unknown_entries_on(pack_policies):
    """pulumi pkg/resource/analyzer/config.go: ReconcilePolicyPackConfig (createConfigWithDefaults,
    then applyConfig, which adds an entry naming no policy), validatePolicyPackConfig (the pack's
    policies only; convertSchema sets no additionalProperties)."""
    resolved = resolve_config({"no-such-policy": "advisory",
                               "container-missing-resource-limits": {"maxCPU": "4"}}, pack_policies)
    assert resolved["no-such-policy"] == ("advisory", {})
    level, props = resolved["container-missing-resource-limits"]
    assert props["maxCPU"] == "4" and props["unknowns"] == "mandatory"      # the schema default is sent too
    assert set(pack_policies) <= set(resolved)
    assert resolve_config({}, pack_policies)["pod-disallow-host-ports"][0] == pack_policies[
        "pod-disallow-host-ports"].enforcement_level
    everything = resolve_config({"all": "advisory", "pod-disallow-host-ports": "mandatory"}, pack_policies)
    assert everything["pod-disallow-host-ports"][0] == "mandatory"
    assert everything["container-missing-probes"][0] == "advisory"


@pytest.fixture(scope="module")
def pack():
    with PolicyPackProcess() as process:
        yield process


@pytest.fixture(scope="module")
def pack_policies(pack):
    return pack.policies


CONFIG_MAP = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: default}\ndata: {k: v}\n"


@pytest.mark.parametrize("document,policy,needle", [
    ({"pod-disallow-privileged-container": "disabled"}, "pod-disallow-privileged-container",
     "did you mean 'pod-disallow-privileged-containers'"),
    ({"container-missing-resource-limits": {"maxCPU": "4"}}, "container-missing-resource-limits",
     "no setting 'maxCPU', so it is ignored; did you mean 'maxCpu'"),
    ({"container-missing-resource-limits": {"enforcementLevel": "disabled", "maxCPU": "4"}},
     "container-missing-resource-limits", "no setting 'maxCPU'"),
], ids=["unknown-policy", "unknown-setting", "unknown-setting-of-a-disabled-policy"])
def test_a_configuration_mistake_is_one_mandatory_finding_naming_the_setting(pack, document, policy, needle):
    pack.configure(document)
    try:
        analysis = pack.analyze(load_text(CONFIG_MAP, "cm.yaml"))
    finally:
        pack.configure({})
    found = [v for v in analysis.verdicts if v.policy == policy]
    assert len(found) == 1 and found[0].mandatory and found[0].stage == "stack" and needle in found[0].message, found


def test_a_correct_configuration_reports_nothing(pack):
    pack.configure({"container-missing-resource-limits": {"maxCpu": "4"}, "all": "mandatory"})
    try:
        analysis = pack.analyze(load_text(CONFIG_MAP, "cm.yaml"))
    finally:
        pack.configure({})
    assert not analysis.verdicts, analysis.verdicts


# --- item 13: serve_version and the configuration guard touch the private servicer only where known --

def test_the_servicer_patches_apply_only_to_the_supported_sdk(monkeypatch):
    from pulumi_policy import policy as sdk
    from pulumi_policy import version

    from policy_pack.policies._lib import framework

    saved = sdk._PolicyAnalyzerServicer
    try:
        monkeypatch.setattr(version, "VERSION", "9.0.0")
        assert framework.serve_version("1.2.3") is False and framework.guard_configuration() is False
        assert sdk._PolicyAnalyzerServicer is saved
        monkeypatch.undo()

        class Changed(saved):  # a future servicer whose constructor no longer starts (name, version)
            def __init__(self, policies, name, version, *args, **kwargs):
                super().__init__(name, version, policies, *args, **kwargs)

        Changed.__module__ = sdk.__name__
        sdk._PolicyAnalyzerServicer = Changed
        assert framework.serve_version("1.2.3") is False
        assert sdk._PolicyAnalyzerServicer is Changed
        sdk._PolicyAnalyzerServicer = saved
        assert framework.serve_version("1.2.3") is True
        assert sdk._PolicyAnalyzerServicer("p", "0.0.1", [object()], sdk.EnforcementLevel.MANDATORY) is not None
    finally:
        sdk._PolicyAnalyzerServicer = saved


# --- item 7: secrets reach the policies as values; what render writes stays redacted ---------------

def _pod(value) -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "apps"},
            "spec": {"containers": [{"name": "c", "image": "example.com/c@sha256:" + "a" * 64,
                                     "env": [{"name": "DB_PASSWORD", "value": value}]}]}}


def _secret_program(value_of):
    def program():
        import pulumi

        pulumi.CustomResource("kubernetes:core/v1:Pod", "p", _pod(pulumi.Output.secret(value_of())))

    return program


def test_pulumi_policy_unwraps_a_secret_before_a_policy_reads_it(pack):
    """pulumi-policy deserialize.py, _deserialize_property: a secret-signed value is replaced by its
    value (proxy_secrets is False for Analyze and AnalyzeStack, policy.py); so a credential policy
    matches inside a secret, and an unknown inside a secret is still unknown."""
    from hardened.analyzer import wrap_secrets
    from hardened.manifests import Resource

    def verdicts(value):
        props = wrap_secrets(_pod(value), ["/spec/containers/0/env/0/value"])
        assert props["spec"]["containers"][0]["env"][0]["value"]["value"] == value
        resource = Resource("kubernetes:core/v1:Pod", "p", props, "urn:pulumi:s::p::kubernetes:core/v1:Pod::p")
        return pack.analyze([resource], stack=False).by_policy("container-disallow-literal-credentials")

    assert any("DB_PASSWORD" in v.message for v in verdicts("hunter2"))
    assert any("cannot verify" in v.message for v in verdicts(engine.UNKNOWN))


@pytest.mark.parametrize("preview", [False, True], ids=["update", "preview"])
def test_render_redacts_on_disk_and_the_pack_sees_the_value_in_memory(tmp_path, pack, preview):
    from hardened.manifests import load_path
    from hardened.render import run_program, to_resources, write_output

    records = run_program("prod", program=_secret_program(lambda: "hunter2"), preview=preview)
    [pod] = [r for r in records if r.name == "p"]
    assert pod.secret_paths == ["/spec/containers/0/env/0/value"]
    assert pod.inputs["spec"]["containers"][0]["env"][0]["value"] == "[secret]"
    write_output(records, tmp_path, "prod")
    assert "hunter2" not in (tmp_path / "resources.json").read_text()
    assert "hunter2" not in "".join(p.read_text() for p in (tmp_path / "manifests").rglob("*.yaml"))
    in_memory = pack.analyze(to_resources([pod]), stack=False).by_policy("container-disallow-literal-credentials")
    assert any("DB_PASSWORD" in v.message for v in in_memory)
    # from disk the value is the redaction marker, still sent marked secret: judged on "[secret]"
    from_disk = [r for r in load_path(tmp_path) if r.name == "p"]
    assert from_disk[0].secret_paths == ("/spec/containers/0/env/0/value",)


def test_an_unknown_inside_a_secret_stays_unknown_on_disk(tmp_path):
    from hardened.render import normalize, SECRET_SIG, SIG_KEY

    paths: list = []
    value = {SIG_KEY: SECRET_SIG, "value": {"user": "admin", "password": engine.UNKNOWN}}
    assert normalize({"auth": value}, "", paths) == {"auth": {"user": "[secret]", "password": "[unknown]"}}
    assert paths == ["/auth"]
    assert normalize({SIG_KEY: SECRET_SIG, "value": "x"}, "/a", []) == "[secret]"


# --- items 9 and 10: what each request carries, and which resources are analysed ------------------

class Spy:
    """Records every Analyze and AnalyzeStack request a PolicyPackProcess sends. Both are sent as
    bytes on the channel (the analyzer writes each Analyze request from the serialized properties,
    and assembles AnalyzeStack from its spool, hardened.analyzer), so they are watched there and
    parsed back; a call through the stub is recorded too."""

    def __init__(self, pack: PolicyPackProcess):
        from hardened.analyzer import _proto

        self.sent: dict[str, list] = {"Analyze": [], "AnalyzeStack": []}
        self.stub, self.channel = pack._stub, pack._channel
        pb, _ = _proto()
        spy = self

        class Method:
            def __init__(self, name):
                self.name, self.real = name, getattr(spy.stub, name)

            def future(self, request, **kw):
                spy.sent[self.name].append(request)
                return self.real.future(request, **kw)

        class Channel:
            def unary_unary(self, method, *args, **kw):
                real = spy.channel.unary_unary(method, *args, **kw)
                name = method.rsplit("/", 1)[-1]
                if name not in ("Analyze", "AnalyzeStack"):
                    return real
                message = pb.AnalyzeRequest if name == "Analyze" else pb.AnalyzeStackRequest

                class Call:
                    def future(self, body, **kw):
                        spy.sent[name].append(message.FromString(body))
                        return real.future(body, **kw)

                return Call()

            def __getattr__(self, name):
                return getattr(spy.channel, name)

        self.Analyze, self.AnalyzeStack = Method("Analyze"), Method("AnalyzeStack")
        self.Channel = Channel()

    def __getattr__(self, name):
        return getattr(self.stub, name)

    def attach(self, pack: PolicyPackProcess) -> None:
        pack._stub, pack._channel = self, self.Channel

    def detach(self, pack: PolicyPackProcess) -> None:
        pack._stub, pack._channel = self.stub, self.channel


@pytest.fixture
def spy(pack):
    watcher = Spy(pack)
    watcher.attach(pack)
    yield watcher
    watcher.detach(pack)


def _wired_program():
    import pulumi
    import pulumi_kubernetes as k8s

    ns = k8s.core.v1.Namespace("ns", metadata={"name": "apps"})
    k8s.core.v1.ConfigMap("cm", metadata={"name": "cm", "namespace": ns.metadata["name"]}, data={"k": "v"},
                          opts=pulumi.ResourceOptions(protect=True, ignore_changes=["data"],
                                                      delete_before_replace=True,
                                                      custom_timeouts=pulumi.CustomTimeouts(create="5m")))


@pytest.fixture(scope="module")
def wired():
    from hardened.render import run_program, to_resources

    return to_resources(run_program("prod", program=_wired_program))


def test_default_providers_are_registered_as_the_engine_registers_them(wired):
    """pulumi pkg/resource/deploy/default_providers.go, newRegisterDefaultProviderEvent (the
    package's config plus version, no parent); providers/provider.go, ProviderRequest.DefaultName."""
    import pulumi_kubernetes

    from hardened.render import to_resources  # noqa: F401

    version = pulumi_kubernetes._utilities.get_version()
    name = engine.default_provider_name(version)
    [provider] = [r for r in wired if r.type == "pulumi:providers:kubernetes"]
    assert provider.urn == f"urn:pulumi:prod::hardened-stack::pulumi:providers:kubernetes::{name}"
    assert provider.inputs == {"version": version} and provider.parent == ""
    assert {r.provider for r in wired if r.type.startswith("kubernetes:")} == {provider.urn}
    assert engine.default_provider_name("1.2.3-alpha.1+b5") == "default_1_2_3_alpha_1_b5"
    aws = engine.default_provider("prod", "p", "aws", "7.51.1", {"aws:region": "us-east-1", "x:y": "z"})
    assert aws.name == "default_7_51_1" and aws.inputs == {"region": "us-east-1", "version": "7.51.1"}


def test_every_registration_is_analysed_with_its_options_and_provider(pack, spy, wired):
    """pulumi step_generator.go: analyzeAll (options with the parent, the provider with its inputs;
    no dependencies in Analyze) and AnalyzeResources (also parent, dependencies and property
    dependencies); the stack root and the providers are registrations like any other."""
    pack.analyze(wired)
    analysed = {r.type for r in spy.sent["Analyze"]}
    assert {"pulumi:pulumi:Stack", "pulumi:providers:kubernetes", "kubernetes:core/v1:ConfigMap"} <= analysed
    [cm] = [r for r in spy.sent["Analyze"] if r.type == "kubernetes:core/v1:ConfigMap"]
    assert cm.provider.type == "pulumi:providers:kubernetes" and cm.provider.urn.endswith(cm.provider.name)
    assert dict(cm.provider.properties)["version"]
    assert cm.options.protect and list(cm.options.ignoreChanges) == ["data"]
    assert cm.options.deleteBeforeReplace and cm.options.deleteBeforeReplaceDefined
    assert cm.options.customTimeouts.create == 300.0
    [stack_request] = spy.sent["AnalyzeStack"]
    [cm_stack] = [r for r in stack_request.resources if r.type == "kubernetes:core/v1:ConfigMap"]
    [ns] = [r for r in wired if r.type == "kubernetes:core/v1:Namespace"]
    assert ns.urn in cm_stack.dependencies
    assert list(cm_stack.propertyDependencies["metadata"].urns) == [ns.urn]
    assert cm_stack.provider.urn == cm.provider.urn and cm_stack.options.protect


def _privileged_pod() -> dict:
    pod = _pod("x")
    pod["spec"]["containers"][0]["securityContext"] = {"privileged": True}
    return pod


@pytest.mark.parametrize("dry_run", [True, False], ids=["preview", "up"])
def test_at_up_a_mandatory_resource_verdict_stops_before_analyze_stack(pack, spy, dry_run):
    """pulumi step_generator.go, analyzeAll: a mandatory violation makes the resource invalid only
    outside a dry run, and continueStepsFromImport bails on it: no AnalyzeStack at `up`."""
    from hardened.manifests import Resource

    pod = Resource("kubernetes:core/v1:Pod", "p", _privileged_pod(), "urn:pulumi:s::p::kubernetes:core/v1:Pod::p")
    analysis = pack.analyze([pod], dry_run=dry_run)
    assert analysis.mandatory
    assert len(spy.sent["AnalyzeStack"]) == (1 if dry_run else 0)


def test_go_durations_become_seconds():
    from hardened.analyzer import duration_seconds

    assert duration_seconds("1h30m") == 5400.0 and duration_seconds("250ms") == 0.25
    assert duration_seconds("soon") == 0.0


def test_remediate_before_analyze_changes_nothing_for_this_pack(pack):
    """pulumi step_generator.go, continueStepsFromImport: Remediate runs first and Analyze sees the
    properties it returns. No policy of this pack remediates (pulumi-policy policy.py, Remediate: a
    policy without remediation is reported not applicable), so check, which does not call Remediate,
    sends Analyze what the engine would; even with every policy at the remediate level."""
    from pulumi.runtime.proto import analyzer_pb2 as pb

    from hardened.analyzer import to_struct

    pack.configure({"all": "remediate"})
    try:
        props = _privileged_pod()
        response = pack._call("Remediate", pb.AnalyzeRequest(
            type="kubernetes:core/v1:Pod", properties=to_struct(props), urn="urn:pulumi:s::p::kubernetes:core/v1:Pod::p",
            name="p"))
        assert not response.remediations
        assert {n.reason for n in response.not_applicable} == {"Policy does not implement remediate"}
    finally:
        pack.configure({})
    from policy_pack.policies import all_policies

    assert not [p.name for p in all_policies() if hasattr(p, "has_remediation") and p.has_remediation()]


def test_requests_written_as_bytes_are_the_messages_bytes(wired):
    """hardened.analyzer.request_bytes and stack_entry_bytes write AnalyzeRequest and the
    AnalyzeStack entry (AnalyzerResource) from the serialized properties: byte for byte what
    protobuf writes for the messages (pulumi proto/pulumi/analyzer.proto; fields in their order),
    for a render's registrations (providers, options, parents, dependencies, property
    dependencies, the stack root) and for plain manifests (no parent, empty properties too)."""
    from pulumi.runtime.proto import analyzer_pb2 as pb

    from hardened.analyzer import (properties_bytes, provider_bytes_of, request_bytes, resource_options,
                                   stack_entry_bytes, to_struct)
    from hardened.manifests import Resource, load_text

    resources = list(wired) + load_text(CONFIG_MAP + "---\n" + CONFIG_MAP.replace("name: a", "name: ü€"), "c.yaml")
    resources.append(Resource("kubernetes:helm.sh/v4:Chart", "c", {}, "urn:pulumi:s::p::kubernetes:helm.sh/v4:Chart::c",
                              custom=False, parent="urn:pulumi:s::p::pulumi:pulumi:Stack::p-s"))
    providers = {r.urn: pb.AnalyzerProviderResource(type=r.type, properties=to_struct(engine.analyze_properties(
        r.type, r.inputs)), urn=r.urn, name=r.name) for r in resources if r.type.startswith("pulumi:providers:")}
    assert providers and any(r.options for r in resources) and any(r.property_dependencies for r in resources)
    for r in resources:
        struct = to_struct(engine.analyze_properties(r.type, r.inputs))
        provider = providers.get(r.provider) if r.provider else None
        head = request_bytes(pb, r, properties_bytes(pb, struct), provider and provider_bytes_of(pb, provider))
        assert head == pb.AnalyzeRequest(type=r.type, properties=struct, urn=r.urn, name=r.name,
                                         options=resource_options(pb, r), provider=provider).SerializeToString()
        assert stack_entry_bytes(pb, r, head) == pb.AnalyzerResource(
            type=r.type, properties=struct, urn=r.urn, name=r.name, parent=r.parent,
            options=resource_options(pb, r), provider=provider, dependencies=list(r.dependencies),
            propertyDependencies={k: pb.AnalyzerPropertyDependencies(urns=list(v))
                                  for k, v in (r.property_dependencies or {}).items()}).SerializeToString(), r.urn
