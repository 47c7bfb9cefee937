"""Custom resources validated strictly against the openAPIV3Schema of their CRD, as the API
server's structural-schema validation and ``kubectl apply --validate=strict`` would.

Where the schemas come from: the CustomResourceDefinitions in the render (chart CRDs and the
stack's own), then the Gateway API standard-channel CRDs in ``../shared/manifests/gateway-api-*/``
for any kind the render defines no CRD for (the newest release there). Gatekeeper constraints
have no CRD in the render (Gatekeeper generates it from the ConstraintTemplate): their schema is
the generated one, ``spec.match`` (Gatekeeper's match fields), ``spec.parameters`` (the
template's ``openAPIV3Schema``), ``spec.enforcementAction`` and ``scopedEnforcementActions``.

Kubernetes' structural-schema rules applied here (apiextensions-apiserver, "Specifying a
structural schema" and "Field pruning" in the CRD documentation):

- an object schema admits only its ``properties`` unless it sets
  ``x-kubernetes-preserve-unknown-fields: true`` or ``additionalProperties``: any other field is
  pruned by the API server and an error under strict validation;
- ``apiVersion``, ``kind`` and ``metadata`` are implicit at the root and inside
  ``x-kubernetes-embedded-resource`` objects;
- ``x-kubernetes-int-or-string`` admits an integer or a string, ``nullable`` admits null;
- CEL rules (``x-kubernetes-validations``) and formats are not evaluated.
"""
from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Iterable, Mapping, Optional

import yaml

#: ``../shared/manifests`` beside the checkout (the sibling of the chart cache ``../shared/charts``).
SHARED_MANIFESTS = Path(__file__).resolve().parents[3] / "shared" / "manifests"
MATCH_FIELDS = ("kinds", "scope", "namespaces", "excludedNamespaces", "labelSelector", "namespaceSelector",
                "name", "source")
_OBJECT_META = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}


def _shared_dirs() -> list[Path]:
    from hardened import engine

    for base in (engine.chart_cache().parent / "manifests", SHARED_MANIFESTS):
        if base.is_dir():
            return sorted(base.glob("gateway-api-v*"),
                          key=lambda p: [int(x) for x in p.name.split("-v")[-1].split(".")])
    return []


def strict(schema: Any, root: bool = False) -> Any:
    """An openAPIV3Schema turned into a JSON Schema with the API server's structural rules."""
    if not isinstance(schema, Mapping):
        return schema
    s = {k: v for k, v in schema.items() if not k.startswith("x-kubernetes-validations")}
    for key in ("properties", "patternProperties"):
        if isinstance(s.get(key), Mapping):
            s[key] = {k: strict(v) for k, v in s[key].items()}
    if isinstance(s.get("items"), Mapping):
        s["items"] = strict(s["items"])
    if isinstance(s.get("additionalProperties"), Mapping):
        s["additionalProperties"] = strict(s["additionalProperties"])
    for key in ("allOf", "anyOf", "oneOf"):
        if isinstance(s.get(key), list):
            s[key] = [strict(x) for x in s[key]]
    if isinstance(s.get("not"), Mapping):
        s["not"] = strict(s["not"])
    if s.pop("x-kubernetes-int-or-string", False):
        s.pop("type", None)
        s.setdefault("anyOf", [{"type": "integer"}, {"type": "string"}])
    embedded = s.pop("x-kubernetes-embedded-resource", False)
    preserve = s.pop("x-kubernetes-preserve-unknown-fields", False)
    if root or embedded:
        # the API server validates metadata as ObjectMeta whatever the CRD says (see metadata_errors)
        props = dict(s.get("properties") or {})
        props["apiVersion"] = {"type": "string"}
        props["kind"] = {"type": "string"}
        props["metadata"] = _OBJECT_META
        s["properties"] = props
        s.setdefault("type", "object")
    if s.pop("nullable", False) and isinstance(s.get("type"), str):
        s["type"] = [s["type"], "null"]
    is_object = s.get("type") == "object" or (isinstance(s.get("type"), list) and "object" in s["type"])
    if is_object and not preserve and "additionalProperties" not in s:
        s["additionalProperties"] = False
    return s


def _crds_from(objects: Iterable[Mapping[str, Any]]) -> dict[tuple[str, str], Mapping[str, Any]]:
    out = {}
    for o in objects:
        if o.get("kind") == "CustomResourceDefinition" and str(o.get("apiVersion", "")).startswith(
                "apiextensions.k8s.io/"):
            spec = o.get("spec") or {}
            out[(spec.get("group", ""), (spec.get("names") or {}).get("kind", ""))] = o
    return out


def shared_crds() -> dict[tuple[str, str], Mapping[str, Any]]:
    """The newest Gateway API release's CRDs in the shared manifests cache (empty without it)."""
    dirs = _shared_dirs()
    if not dirs:
        return {}
    docs = []
    for path in sorted(dirs[-1].glob("*.yaml")):
        docs.extend(d for d in yaml.safe_load_all(path.read_text()) if isinstance(d, dict))
    return _crds_from(docs)


def constraint_schema(template: Mapping[str, Any]) -> dict:
    """The schema of the CRD Gatekeeper generates for a ConstraintTemplate."""
    params = ((((template.get("spec") or {}).get("crd") or {}).get("spec") or {}).get("validation") or {}).get(
        "openAPIV3Schema") or {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
    selector = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
    match = {"type": "object", "properties": {
        "kinds": {"type": "array", "items": {"type": "object", "properties": {
            "apiGroups": {"type": "array", "items": {"type": "string"}},
            "kinds": {"type": "array", "items": {"type": "string"}}}}},
        "scope": {"type": "string"}, "namespaces": {"type": "array", "items": {"type": "string"}},
        "excludedNamespaces": {"type": "array", "items": {"type": "string"}},
        "labelSelector": selector, "namespaceSelector": selector, "name": {"type": "string"},
        "source": {"type": "string", "enum": ["All", "Generated", "Original"]}}}
    return {"type": "object", "properties": {"spec": {"type": "object", "properties": {
        "match": match, "parameters": params, "enforcementAction": {"type": "string"},
        "scopedEnforcementActions": {"type": "array", "items": {"type": "object",
                                                                 "x-kubernetes-preserve-unknown-fields": True}}}},
        "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}}


class Schemas:
    """Every custom kind's schema: (group, version, kind) -> strict JSON Schema."""

    def __init__(self, objects: Iterable[Mapping[str, Any]], fallback: Optional[Mapping] = None):
        objects = list(objects)
        self.crds = {**(shared_crds() if fallback is None else fallback), **_crds_from(objects)}
        self.templates = {}
        for o in objects:
            if o.get("kind") == "ConstraintTemplate":
                kind = ((((o.get("spec") or {}).get("crd") or {}).get("spec") or {}).get("names") or {}).get("kind")
                if kind:
                    self.templates[kind] = o
        self._cache: dict[tuple[str, str, str], Optional[dict]] = {}

    def schema(self, group: str, version: str, kind: str) -> tuple[Optional[dict], str]:
        """The strict schema and where it came from (or None and why not)."""
        if group == "constraints.gatekeeper.sh":
            t = self.templates.get(kind)
            if t is None:
                return None, f"no ConstraintTemplate defines {kind}"
            return strict(constraint_schema(t), root=True), f"ConstraintTemplate {t['metadata']['name']}"
        crd = self.crds.get((group, kind))
        if crd is None:
            return None, f"no CustomResourceDefinition for {kind}.{group} in the render or the shared manifests"
        served = [v for v in (crd.get("spec") or {}).get("versions") or [] if v.get("name") == version]
        if not served or served[0].get("served") is False:
            names = [v.get("name") for v in (crd.get("spec") or {}).get("versions") or [] if v.get("served", True)]
            return None, f"CRD {crd['metadata']['name']} does not serve {version} (serves {', '.join(names)})"
        raw = (served[0].get("schema") or {}).get("openAPIV3Schema")
        if raw is None:
            return None, f"CRD {crd['metadata']['name']} {version} has no openAPIV3Schema"
        key = (group, version, kind)
        if key not in self._cache:
            self._cache[key] = strict(raw, root=True)
        return self._cache[key], f"CRD {crd['metadata']['name']} {version}"


def metadata_errors(obj: Mapping[str, Any], kube_version: str) -> list[str]:
    """``metadata`` as ObjectMeta of that Kubernetes version, strictly (kubernetes-validate's
    schema, through a ConfigMap that carries nothing else)."""
    import kubernetes_validate

    probe = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": copy.deepcopy(dict(obj.get("metadata") or {}))}
    try:
        kubernetes_validate.validate(probe, f"{kube_version}.0", strict=True)
    except kubernetes_validate.ValidationError as e:
        return [f"{'.'.join(map(str, e.path)) or 'metadata'}: {e.message} (ObjectMeta, Kubernetes {kube_version})"]
    return []


def validate(obj: Mapping[str, Any], schemas: Schemas, kube_version: Optional[str] = None) -> list[str]:
    """Errors of one custom resource against its CRD's schema, strictly (and its metadata as
    ObjectMeta when *kube_version* is given)."""
    import jsonschema

    api = str(obj.get("apiVersion") or "")
    group, _, version = api.rpartition("/")
    schema, source = schemas.schema(group, version, str(obj.get("kind")))
    if schema is None:
        return [source]
    validator = jsonschema.Draft7Validator(schema)
    errors = []
    for e in sorted(validator.iter_errors(copy.deepcopy(dict(obj))), key=lambda e: list(map(str, e.absolute_path))):
        where = ".".join(map(str, e.absolute_path)) or "(object)"
        errors.append(f"{where}: {e.message} ({source})")
    if kube_version:
        errors += metadata_errors(obj, kube_version)
    return errors
