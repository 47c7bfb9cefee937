"""Mutation testing of the policy pack: every single security regression of the rendered prod
stack (one field of one object flipped, or one object added or removed) must draw a mandatory
violation from the pack, through the real gRPC path (pack process, Analyze per changed
resource, AnalyzeStack for the whole mutated stack). The kill rate is printed and written to
``build/mutation/summary.json``; anything below 100% fails, naming the surviving mutant."""
from __future__ import annotations

import json
import os
import time
from datetime import date
from pathlib import Path

import pytest

from .conftest import ROOT, as_resource
from .mutators import MUTATORS, Mutant, Res

SUMMARY = ROOT / "build" / "mutation" / "summary.json"


def _shard(mutators):
    """``HARDENED_MUTATION_SHARD=i/n`` runs the i-th of n interleaved slices of the mutators (1-based),
    so n processes (or CI jobs) share the suite; the summary file is then per shard.
    ``HARDENED_MUTATORS=a,b`` runs only the mutators named."""
    only = [n for n in os.environ.get("HARDENED_MUTATORS", "").split(",") if n]
    if only:  # a named subset, while working on some mutators
        mutators = [m for m in mutators if m.name in only]
    spec = os.environ.get("HARDENED_MUTATION_SHARD", "")
    if not spec:
        return list(mutators)
    i, n = (int(x) for x in spec.split("/"))
    return [m for k, m in enumerate(mutators) if k % n == i - 1]


SELECTED = _shard(MUTATORS)
if os.environ.get("HARDENED_MUTATORS"):
    SUMMARY = SUMMARY.with_name("summary-subset.json")
elif os.environ.get("HARDENED_MUTATION_SHARD"):
    SUMMARY = SUMMARY.with_name(f"summary-{os.environ['HARDENED_MUTATION_SHARD'].replace('/', '-of-')}.json")
CORE = sorted(m.name for m in SELECTED if m.core)


def diagnostics_key(d, label: str) -> tuple[str, str, str]:
    return (d.policy, d.urn or label, d.message)


def mandatory_findings(pack, stack: list[Res]) -> set[tuple[str, str, str]]:
    """The pack's mandatory verdicts on the whole stack (Analyze of every resource, then
    AnalyzeStack), as the engine would send it."""
    return {diagnostics_key(d, "stack") for d in pack.analyze_all([as_resource(r) for r in stack]) if d.mandatory}


@pytest.fixture(scope="session")
def baseline(pack, prod_stack) -> set:
    return mandatory_findings(pack, prod_stack)


def _exemption_entries() -> list[dict]:
    """policy_pack/exemptions.yaml read as plain data (not through the pack's matcher)."""
    import yaml

    doc = yaml.safe_load((ROOT / "policy_pack" / "exemptions.yaml").read_text()) or {}
    return list(doc.get("exemptions") or [])


def exempting(mutant: Mutant) -> list[str]:
    """The ids of the exemption entries that name this mutant's target *literally* (the same kind,
    namespace and name, no glob) and every policy meant to catch it. This is the test's own oracle:
    it does not ask the pack's exemption matcher (policy_pack/policies/_lib/exemptions.py), whose
    mistakes it must be able to see. A survivor it lists is still counted in the kill rate."""
    identity = mutant.target_identity()
    if identity is None or not mutant.policies:
        return []
    kind, namespace, name = identity
    ids: set[str] = set()
    for policy in mutant.policies:
        found = [e.get("id") for e in _exemption_entries()
                 if policy in (e.get("policies") or []) and str(e.get("expires")) >= date.today().isoformat()
                 and (e.get("resource") or {}) == ({"kind": kind, "namespace": namespace, "name": name} if namespace
                                                   else {"kind": kind, "name": name})]
        if not found:
            return []
        ids.update(found)
    return sorted(ids)


@pytest.fixture(scope="session")
def outcomes(pack, prod_stack, baseline) -> dict[str, list[dict]]:
    """Mutator name -> one row per mutant: its target, whether it was killed, and by which policies."""
    started = time.perf_counter()
    results: dict[str, list[dict]] = {}
    for m in SELECTED:
        rows = []
        for mutant in m.mutants(prod_stack):
            new = mandatory_findings(pack, mutant.stack) - baseline
            row = {"target": mutant.target, "killed": bool(new), "policies": sorted({policy for policy, _, _ in new})}
            if not new and exempting(mutant):
                row["exempted_by"] = exempting(mutant)
            rows.append(row)
        results[m.name] = rows
    every = [r for rows in results.values() for r in rows]
    killed = sum(r["killed"] for r in every)
    total = len(every)
    summary = {
        "pack_started_by": pack.started_by,
        "seconds": round(time.perf_counter() - started, 1),
        # The kill rate is over ALL mutants: a survivor an exemption entry names is still a survivor.
        "mutants": total, "killed": killed, "kill_rate": (killed / total) if total else None,
        "exempted": [f"{name}[{r['target']}] by {', '.join(r['exempted_by'])}" for name, rows in results.items()
                     for r in rows if "exempted_by" in r],
        "survivors": [f"{name}[{r['target']}]" for name, rows in results.items() for r in rows
                      if not r["killed"] and "exempted_by" not in r],
        "not_applicable": sorted(name for name, rows in results.items() if not rows),
        "mutators": {m.name: {"description": m.description, "mutants": results[m.name]} for m in SELECTED},
    }
    SUMMARY.parent.mkdir(parents=True, exist_ok=True)
    SUMMARY.write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")
    print(f"\nmutation: {killed}/{total} mutants killed ({100 * killed / max(total, 1):.1f}%) in "
          f"{summary['seconds']} s; {len(summary['exempted'])} survive on an exempted component; "
          f"not applicable: {', '.join(summary['not_applicable']) or 'none'}; summary in {SUMMARY}")
    return results


def test_unmutated_prod_stack_has_no_mandatory_violation(baseline):
    # Otherwise a mutant could hide behind an existing violation (findings are diffed against this).
    assert not baseline, "\n".join(f"{p} on {u}: {m}" for p, u, m in sorted(baseline))


@pytest.mark.parametrize("name", CORE)
def test_core_mutator_is_applicable_to_prod(name, outcomes):
    assert outcomes[name], f"mutator {name} found nothing to mutate in the prod render"


@pytest.mark.parametrize("name", [m.name for m in SELECTED])
def test_pack_kills_every_mutant(name, outcomes):
    rows = outcomes[name]
    if not rows:
        pytest.skip(f"not applicable: the prod render has no target for {name}")
    survivors = [r["target"] for r in rows if not r["killed"] and "exempted_by" not in r]
    assert not survivors, f"{name}: the pack reports no new mandatory violation for " + ", ".join(survivors)


def test_kill_rate_is_total(outcomes):
    """Every mutant is killed, except those on a component an exemption entry names literally (the
    rate printed and written counts them as survivors)."""
    every = [r for rows in outcomes.values() for r in rows]
    survivors = [r for r in every if not r["killed"]]
    assert len(every) >= (50 if SELECTED == MUTATORS else 1), f"only {len(every)} mutants: the render lost its pods?"
    unexplained = [r["target"] for r in survivors if "exempted_by" not in r]
    assert not unexplained, f"kill rate {len(every) - len(survivors)}/{len(every)}; survivors: {unexplained}"


#: Policies no mutator of the prod render can exercise, and why (each has samples that break it).
NO_MUTATOR = {
    "bucket-enforce-public-access-block": "the render's buckets keep their public access block in the same "
                                          "resource the retention mutator changes; samples prove it",
    "chart-missing-rendered-resources": "a chart without its children cannot come from a render; samples prove it",
    "clusterrole-disallow-secrets-read": "judged with the bindings across the stack; samples prove it",
    "configmap-configure-nginx-tls13-hsts": "the prod stack's edge is the Gateway API, no ingress-nginx ConfigMap",
    "cronjob-enforce-bounded-runs": "samples prove it (the CronJobs' fields are bounded by the component)",
    "externalsecret-disallow-cross-tenant-key": "samples prove it",
    "gateway-disallow-plaintext-http": "samples prove it",
    "httproute-missing-hsts": "samples prove it",
    "ingress-missing-tls": "the prod stack's edge is the Gateway API, no Ingress",
    "ingress-disallow-nginx-snippets": "the prod stack's edge is the Gateway API, no Ingress",
    "namespace-configure-pod-security-labels": "advisory: a mutant draws no mandatory finding by design",
    "persistentvolume-disallow-host-path": "the render has no PersistentVolume",
    "role-disallow-privilege-escalation": "samples prove it",
    "rolebinding-disallow-broad-subjects": "samples prove it",
    "rolebinding-disallow-cluster-admin": "samples prove it",
    "stack-missing-gatekeeper-fail-closed": "samples prove it",
    "authorizationpolicy-disallow-allow-all": "samples prove it",
    # the wiring branch's stack policies judge references between objects (a dangling name, a missing
    # counterpart); no mutator of one object's fields breaks a reference yet: their samples prove them
    "certificate-missing-issuer": "wiring across objects (issuerRef to an Issuer); samples prove it",
    "clusterrole-disallow-aggregated-cluster-writes": "wiring across objects (aggregation labels); samples prove it",
    "externalsecret-missing-store": "wiring across objects (secretStoreRef); samples prove it",
    "httproute-missing-references": "wiring across objects (parentRefs, backendRefs); samples prove it",
    "networkpolicy-enforce-emergency-isolation": "wiring across objects (a deny-all per namespace); samples prove it",
    "networkpolicy-missing-selected-pods": "wiring across objects (podSelector to pods); samples prove it",
    "rolebinding-missing-service-account": "wiring across objects (subjects to ServiceAccounts); samples prove it",
    "serviceaccount-disallow-idle-sensitive-permissions": "wiring across objects (bindings to pods); samples prove it",
    "serviceaccount-missing-irsa-trust": "wiring across the AWS and Kubernetes layers (role trust); samples prove it",
    "volume-missing-storage-class": "wiring across objects (storageClassName); samples prove it",
    "webhook-missing-service": "wiring across objects (clientConfig.service); samples prove it",
}


def test_every_policy_has_a_mutator_or_a_reason():
    from policy_pack.policies import all_policies

    named = {p for m in MUTATORS for p in m.policies}
    missing = sorted(p.name for p in all_policies() if p.name not in named and p.name not in NO_MUTATOR)
    assert not missing, f"policies no mutator names and NO_MUTATOR does not explain: {missing}"


def test_mutation_harness_notices_a_harmless_change(pack, prod_stack, baseline):
    # The oracle must be able to say "survived": a label change is not a security regression.
    import copy
    stack = copy.deepcopy(prod_stack)
    idx = next(i for i, r in enumerate(stack) if r.kind == "Deployment")
    stack[idx].inputs["metadata"].setdefault("labels", {})["harmless"] = "yes"
    assert not (mandatory_findings(pack, stack) - baseline)


def test_every_mutant_changes_one_object(prod_stack):
    # One regression per mutant: one object changed, added or removed (an RBAC role with its binding
    # counts as one, and so does a Helm chart removed with the objects it registered), so a kill is
    # attributable.
    from .mutators import all_mutants

    for name, mutants in all_mutants(prod_stack).items():
        for mutant in mutants:
            before = {r.urn: r.inputs for r in prod_stack}
            after = {r.urn: r.inputs for r in mutant.stack}
            touched = {u for u in before.keys() | after.keys() if before.get(u) != after.get(u)}
            charts = {r.urn: r.name for r in prod_stack if r.type == "kubernetes:helm.sh/v4:Chart"}
            removed_chart = [charts[u] for u in touched if u in charts and u not in after]
            if removed_chart:  # the chart and its children (named <chart>:...) only
                (chart,) = removed_chart
                names = {r.urn: r.name for r in prod_stack}
                assert all(names[u] == chart or names[u].startswith(f"{chart}:") for u in touched), mutant.id
                continue
            assert 1 <= len(touched) <= 2, f"{mutant.id} touches {sorted(touched)}"


def test_every_policy_a_mutator_names_is_in_the_pack(pack):
    # Exemptions are read against these names: a renamed policy must not silently exempt mutants.
    missing = sorted({p for m in MUTATORS for p in m.policies} - set(pack.policies()))
    assert not missing, f"mutators name policies the pack does not have: {', '.join(missing)}"


def test_exemption_lookup_lifts_only_what_the_exemption_names(prod_stack):
    from .mutators import Mutant

    deployment = next(i for i, r in enumerate(prod_stack) if r.kind == "Deployment")
    mutant = Mutant("host-path-volume", "x", prod_stack, [deployment], ("pod-disallow-host-path-volumes",))
    assert exempting(mutant) == []  # a tenant Deployment is exempt from nothing


def test_exemption_lookup_finds_an_exempted_component():
    # Generic over the exemptions file: a resource named exactly as the first literal entry names it.
    from .mutators import Mutant, Res

    active = [e for e in _exemption_entries() if str(e.get("expires")) >= date.today().isoformat()
              and not any(c in str((e.get("resource") or {}).get("name")) for c in "*?")]
    if not active:
        pytest.skip("policy_pack/exemptions.yaml lists no active literal exemption")
    e = active[0]
    r = e["resource"]
    meta = {"name": r["name"]} | ({"namespace": r["namespace"]} if r.get("namespace") else {})
    res = Res("kubernetes:apps/v1:DaemonSet", "component", {"apiVersion": "apps/v1", "kind": r["kind"], "metadata": meta})
    mutant = Mutant("m", "x", [res], [0], (e["policies"][0],))
    assert e["id"] in exempting(mutant)


def test_no_policy_judges_crds():
    """The mutation stack leaves CustomResourceDefinitions out (conftest.CRD): that is only sound
    while no policy reports anything on one. A policy that looks at every kind (a credential
    scanner) must stay silent on a CRD, even one whose schema text looks like a credential."""
    from policy_pack.policies import all_policies

    from .conftest import CRD

    crd = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
           "metadata": {"name": "widgets.example.io"},
           "spec": {"group": "example.io", "names": {"kind": "Widget", "plural": "widgets"}, "scope": "Namespaced",
                    "versions": [{"name": "v1", "served": True, "storage": True, "schema": {"openAPIV3Schema": {
                        "type": "object", "description": "e.g. AKIAZ7VRSQ5WOQJDKXMV or -----BEGIN RSA PRIVATE KEY-----",
                        "properties": {"spec": {"type": "object", "properties": {"containers": {
                            "type": "array", "items": {"type": "object"}}}}}}}}]}}
    from policy_pack.policies._lib.framework import HardenedStackPolicy
    from policy_pack.policies._lib.k8s import Obj

    def reports_on_the_crd(policy) -> list[str]:
        if not isinstance(policy, HardenedStackPolicy):
            return policy.run(CRD, crd)
        # a stack policy reads a CRD as context (which kinds exist); it must pin nothing on it
        obj = Obj(CRD, crd, "widgets", urn="urn:crd")
        return [m for o, m in policy._findings([obj], policy.configuration.default_settings) if o is obj]

    applicable = [p for p in all_policies() if p.applies_to(CRD)]
    assert [p.name for p in applicable if reports_on_the_crd(p)] == []
    # the wiring branch's stack policies read CRDs (the kinds an aggregated ClusterRole reaches, every
    # object a ServiceAccount could touch) but judge ClusterRoles and ServiceAccounts, not the CRD
    assert {p.name for p in applicable} <= {"manifest-disallow-credential-patterns",
                                            "clusterrole-disallow-aggregated-cluster-writes",
                                            "serviceaccount-disallow-idle-sensitive-permissions"}
