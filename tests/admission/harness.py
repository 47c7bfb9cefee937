"""Shared helpers for the admission and ingress tests: the prod config document, a render that
also records each resource's dependencies, and Gatekeeper evaluation of a template with regopy."""
from __future__ import annotations

from typing import Optional

from tests.harness import ROOT, PREFIX, k8s, prod_document  # noqa: F401 (re-exported)
from tests.harness import render_with_dependencies


def render(overrides=None, stack: str = "prod"):
    """Run the real program under mocks. Returns (records, dependencies by URN)."""
    return render_with_dependencies(overrides, stack=stack)


def record(records, kind: str, name: str):
    return next(r for r in records if r.is_kubernetes_object and r.inputs["kind"] == kind
                and r.inputs["metadata"]["name"] == name)


def gatekeeper_review(obj: dict, parameters: Optional[dict] = None) -> dict:
    """The input Gatekeeper's admission target hands a template's Rego."""
    meta = obj.get("metadata", {})
    api = obj.get("apiVersion", "v1")
    group, _, version = api.rpartition("/")
    return {
        "review": {
            "kind": {"group": group, "version": version, "kind": obj.get("kind")},
            "name": meta.get("name"),
            "namespace": meta.get("namespace"),
            "operation": "CREATE",
            "object": obj,
        },
        "parameters": parameters or {},
    }


def violations(template, obj: dict, parameters: Optional[dict] = None) -> list[dict]:
    """Evaluate *template*'s Rego (the very text in the ConstraintTemplate) on *obj*."""
    from regopy import Interpreter

    from components.admission import constraint_template

    source = constraint_template(template)["spec"]["targets"][0]["code"][0]["source"]
    assert source["version"] == "v1"
    rego = Interpreter()
    rego.add_module(template.name, source["rego"])
    rego.set_input(gatekeeper_review(obj, parameters))
    out = rego.query(f"x := data.{template.package}.violation")
    bindings = out.results[0].bindings if out.results else {}
    # `violation` is a partial set: defined (possibly empty) whenever the package compiled. Undefined
    # means the package or rule is missing, which must fail the test, not pass it.
    assert "x" in bindings, f"{template.name}: data.{template.package}.violation is undefined: {out}"
    return list(bindings["x"])
