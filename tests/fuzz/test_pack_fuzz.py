"""Property: the policy pack never crashes on arbitrary resource property bags. Every Analyze and
AnalyzeStack call returns (no gRPC error, the pack process stays up), and every violation it
reports carries a non-empty message and a policy name."""
from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.mutation.packclient import PackError, Resource

TYPES = {
    "Pod": ("kubernetes:core/v1:Pod", "v1"),
    "Deployment": ("kubernetes:apps/v1:Deployment", "apps/v1"),
    "StatefulSet": ("kubernetes:apps/v1:StatefulSet", "apps/v1"),
    "CronJob": ("kubernetes:batch/v1:CronJob", "batch/v1"),
    "Namespace": ("kubernetes:core/v1:Namespace", "v1"),
    "NetworkPolicy": ("kubernetes:networking.k8s.io/v1:NetworkPolicy", "networking.k8s.io/v1"),
    "Secret": ("kubernetes:core/v1:Secret", "v1"),
    "ServiceAccount": ("kubernetes:core/v1:ServiceAccount", "v1"),
    "ClusterRole": ("kubernetes:rbac.authorization.k8s.io/v1:ClusterRole", "rbac.authorization.k8s.io/v1"),
    "Gateway": ("kubernetes:gateway.networking.k8s.io/v1:Gateway", "gateway.networking.k8s.io/v1"),
    "EnvoyFilter": ("kubernetes:networking.istio.io/v1alpha3:EnvoyFilter", "networking.istio.io/v1alpha3"),
    "PeerAuthentication": ("kubernetes:security.istio.io/v1:PeerAuthentication", "security.istio.io/v1"),
}
NON_K8S_TYPES = ["aws:kms/key:Key", "aws:wafv2/webAcl:WebAcl", "kubernetes:helm.sh/v4:Chart",
                 "aws:s3/bucketV2:BucketV2", "random:index/randomString:RandomString"]

#: Field names the policies read, so generated objects reach past the first type check.
VOCABULARY = ["metadata", "name", "namespace", "labels", "annotations", "spec", "template", "jobTemplate",
              "containers", "initContainers", "ephemeralContainers", "image", "securityContext", "privileged",
              "runAsNonRoot", "runAsUser", "readOnlyRootFilesystem", "allowPrivilegeEscalation",
              "capabilities", "add", "drop", "seccompProfile", "type", "resources", "limits", "requests",
              "cpu", "memory", "volumes", "hostPath", "path", "hostNetwork", "hostPID", "hostIPC", "ports",
              "hostPort", "automountServiceAccountToken", "serviceAccountName", "podSelector",
              "policyTypes", "ingress", "egress", "from", "to", "data", "stringData", "rules", "verbs",
              "apiGroups", "mtls", "mode", "values", "chart", "server", "ha", "replicas", "global",
              "tlsDisable", "enableKeyRotation", "pod-security.kubernetes.io/enforce", "listeners", "tls"]

scalars = st.one_of(st.none(), st.booleans(), st.integers(-2**31, 2**31),
                    st.floats(allow_nan=False, allow_infinity=False, width=32),
                    st.text(max_size=12), st.sampled_from(["ALL", "SYS_ADMIN", "privileged", "restricted",
                                                           "nginx:latest", "ghcr.io/x@sha256:" + "a" * 64,
                                                           "100m", "1Gi", "Unconfined", "RuntimeDefault",
                                                           "[secret]", "[unknown]", "STRICT", "PERMISSIVE"]))
keys = st.one_of(st.sampled_from(VOCABULARY), st.text(max_size=8))
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                      st.dictionaries(keys, inner, max_size=5)),
                      max_leaves=30)


@st.composite
def resources(draw) -> Resource:
    if draw(st.integers(0, 5)) == 0:
        typ = draw(st.sampled_from(NON_K8S_TYPES))
        props = draw(st.dictionaries(keys, values, max_size=6))
        return Resource(typ, "fuzz", f"urn:pulumi:fuzz::p::{typ}::fuzz", props)
    kind = draw(st.sampled_from(sorted(TYPES)))
    typ, api = TYPES[kind]
    props = draw(st.dictionaries(keys, values, max_size=6))
    if draw(st.booleans()):
        props["apiVersion"], props["kind"] = api, kind
    if draw(st.booleans()):
        # A plausible skeleton with arbitrary leaves, to reach the policies' deeper paths.
        container = draw(st.dictionaries(keys, values, max_size=6))
        pod = draw(st.dictionaries(keys, values, max_size=4))
        pod["containers"] = draw(st.one_of(st.just([container]), values))
        spec = {"template": {"spec": pod}} if kind in ("Deployment", "StatefulSet") else pod
        props["spec"] = draw(st.one_of(st.just(spec), values))
        props["metadata"] = draw(st.one_of(st.fixed_dictionaries({"name": st.text(max_size=10)},
                                                                 optional={"namespace": values, "labels": values}),
                                           values))
    return Resource(typ, "fuzz", f"urn:pulumi:fuzz::p::{typ}::fuzz", props)


def assert_reported_properly(diagnostics) -> None:
    for d in diagnostics:
        assert d.policy, d
        assert d.message.strip(), f"{d.policy} reported an empty message"
        # A policy that raised is reported fail-closed as an internal error: the pack survives, but it
        # is a crash of the policy, which the fuzz tests must see.
        assert not d.internal_error, f"{d.policy} crashed: {d.message}"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(res=resources())
def test_pack_reports_instead_of_crashing_on_any_resource(pack, res):
    try:
        diagnostics = pack.analyze(res)
    except PackError as e:  # pragma: no cover - the failure we are looking for (a gRPC error)
        raise AssertionError(f"Analyze failed for {res.type}: {e}") from None
    assert_reported_properly(diagnostics)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batch=st.lists(resources(), min_size=1, max_size=8))
def test_pack_reports_instead_of_crashing_on_any_stack(pack, batch):
    batch = [r._replace(name=f"fuzz-{i}", urn=f"{r.urn}-{i}") for i, r in enumerate(batch)]
    try:
        diagnostics = pack.analyze_all(batch)
    except PackError as e:  # pragma: no cover
        raise AssertionError(f"Analyze/AnalyzeStack failed: {e}") from None
    assert_reported_properly(diagnostics)


def test_pack_is_still_serving_after_the_fuzzing(pack):
    assert pack.process.process.poll() is None
    assert pack.policies()
