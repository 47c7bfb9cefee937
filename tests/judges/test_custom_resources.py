"""Judge 2: custom resources, which no upstream OpenAPI set covers. Gatekeeper constraints are
checked against the parameter schema their own ConstraintTemplate declares (with jsonschema, as
the API server would after the template's CRD exists); every other custom resource must be a
known (group, version, kind), carry a DNS-1123 name, and sit in a namespace exactly when its kind
is namespaced."""
from __future__ import annotations

import copy
import re

import jsonschema
import pytest

from .kinds import (CLUSTER_SCOPED_CUSTOM, CONSTRAINT_GROUP, KNOWN_CUSTOM_KINDS, group_version,
                    is_builtin)

DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


def custom(rendered) -> dict[str, dict]:
    return {p: o for p, o in rendered.manifests.items() if not is_builtin(o)}


def templates(rendered) -> dict[str, dict]:
    """Constraint kind -> the template's parameter schema."""
    out = {}
    for obj in rendered.manifests.values():
        if obj["kind"] == "ConstraintTemplate":
            crd = obj["spec"]["crd"]["spec"]
            out[crd["names"]["kind"]] = (crd.get("validation") or {}).get("openAPIV3Schema") or {}
    return out


def sanity_errors(obj: dict, template_kinds) -> list[str]:
    errors = []
    group, version = group_version(obj.get("apiVersion", ""))
    kind = obj.get("kind")
    meta = obj.get("metadata") or {}
    name = meta.get("name")
    if not isinstance(name, str) or len(name) > 253 or not DNS1123_SUBDOMAIN.match(name):
        errors.append(f"metadata.name {name!r} is not a DNS-1123 subdomain")
    if group == CONSTRAINT_GROUP:
        if version not in ("v1", "v1beta1", "v1alpha1"):
            errors.append(f"constraint version {version!r} is not served by Gatekeeper")
        if kind not in template_kinds:
            errors.append(f"constraint kind {kind} has no ConstraintTemplate in the render")
        if "namespace" in meta:
            errors.append("constraints are cluster-scoped but metadata.namespace is set")
        return errors
    known = KNOWN_CUSTOM_KINDS.get((group, version))
    if known is None or kind not in known:
        errors.append(f"{group}/{version} {kind} is not a known custom resource (typo, or add it to kinds.py)")
        return errors
    namespaced = kind not in CLUSTER_SCOPED_CUSTOM
    if namespaced and not meta.get("namespace"):
        errors.append(f"{kind} is namespaced but metadata.namespace is missing")
    if not namespaced and "namespace" in meta:
        errors.append(f"{kind} is cluster-scoped but metadata.namespace is set")
    if "spec" in obj and not isinstance(obj["spec"], dict):
        errors.append("spec is not an object")
    return errors


def constraint_errors(obj: dict, schemas: dict[str, dict]) -> list[str]:
    schema = schemas.get(obj["kind"])
    if schema is None:
        return []  # reported by sanity_errors
    params = (obj.get("spec") or {}).get("parameters", {})
    validator = jsonschema.Draft7Validator(schema)
    return [f"spec.parameters.{'.'.join(map(str, e.path))}: {e.message}" for e in validator.iter_errors(params)]


def test_render_contains_custom_resources_and_constraints(rendered_prod):
    kinds = {o["kind"] for o in custom(rendered_prod).values()}
    assert "ConstraintTemplate" in kinds
    assert any(group_version(o["apiVersion"])[0] == CONSTRAINT_GROUP for o in custom(rendered_prod).values())


def test_every_custom_resource_is_a_known_kind_with_sane_metadata(rendered_prod):
    kinds = templates(rendered_prod)
    errors = [f"{p}: {e}" for p, o in custom(rendered_prod).items() for e in sanity_errors(o, kinds)]
    assert not errors, "\n".join(errors)


def test_every_constraint_matches_its_template_parameter_schema(rendered_prod):
    schemas = templates(rendered_prod)
    constraints = {p: o for p, o in custom(rendered_prod).items()
                   if group_version(o["apiVersion"])[0] == CONSTRAINT_GROUP}
    assert constraints
    errors = [f"{p}: {e}" for p, o in constraints.items() for e in constraint_errors(o, schemas)]
    assert not errors, "\n".join(errors)


def test_every_template_schema_is_itself_a_valid_schema(rendered_prod):
    for kind, schema in templates(rendered_prod).items():
        jsonschema.Draft7Validator.check_schema(schema)


# The judges must be able to fail.

def test_a_typo_in_a_custom_kind_is_refused(rendered_prod):
    obj = copy.deepcopy(next(o for o in custom(rendered_prod).values() if o["kind"] == "ConstraintTemplate"))
    obj["kind"] = "ConstraintTemplat"
    assert any("not a known custom resource" in e for e in sanity_errors(obj, templates(rendered_prod)))


def test_a_constraint_without_a_template_is_refused(rendered_prod):
    obj = copy.deepcopy(next(o for o in custom(rendered_prod).values()
                             if group_version(o["apiVersion"])[0] == CONSTRAINT_GROUP))
    obj["kind"] = "K8sNoSuchTemplate"
    assert any("no ConstraintTemplate" in e for e in sanity_errors(obj, templates(rendered_prod)))


def test_constraint_parameters_of_the_wrong_shape_are_refused(rendered_prod):
    schemas = templates(rendered_prod)
    with_params = [o for o in custom(rendered_prod).values()
                   if group_version(o["apiVersion"])[0] == CONSTRAINT_GROUP
                   and (o.get("spec") or {}).get("parameters") and schemas.get(o["kind"], {}).get("properties")]
    assert with_params, "no constraint with parameters to break"
    for obj in with_params:
        broken = copy.deepcopy(obj)
        broken["spec"]["parameters"] = {name: {"wrong": "type"} for name in broken["spec"]["parameters"]}
        broken["spec"]["parameters"]["noSuchParameter"] = 1
        assert constraint_errors(broken, schemas), f"{obj['kind']}: a malformed parameter set passed"


# Upstream CRD floors (crd_schemas.py): required fields, types, enums.

def crd_errors(obj: dict) -> list[str]:
    from .crd_schemas import SCHEMAS

    schema = SCHEMAS.get((group_version(obj["apiVersion"])[0], obj["kind"]))
    if schema is None:
        return []
    return [f"{'.'.join(map(str, e.path)) or '(object)'}: {e.message}"
            for e in jsonschema.Draft7Validator(schema).iter_errors(obj)]


def test_custom_resources_meet_their_upstream_crd_floor(rendered_prod):
    from .crd_schemas import SCHEMAS

    checked = {p: o for p, o in custom(rendered_prod).items()
               if (group_version(o["apiVersion"])[0], o["kind"]) in SCHEMAS}
    errors = [f"{p}: {e}" for p, o in checked.items() for e in crd_errors(o)]
    assert not errors, "\n".join(errors)


def test_crd_floor_refuses_a_certificate_without_a_secret_name(rendered_prod):
    certs = [o for o in custom(rendered_prod).values() if o["kind"] == "Certificate"]
    if not certs:
        pytest.skip("no Certificate in the render")
    broken = copy.deepcopy(certs[0])
    del broken["spec"]["secretName"]
    assert any("secretName" in e for e in crd_errors(broken))
