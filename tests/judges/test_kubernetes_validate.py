"""Judge 1: every rendered built-in object is valid, strictly (no unknown fields), for every
Kubernetes version the stack supports, against the upstream OpenAPI schemas shipped by
kubernetes-validate (a tool nobody here wrote)."""
from __future__ import annotations

import kubernetes_validate
import pytest

from components.base import SUPPORTED_KUBERNETES_VERSIONS

from .kinds import is_builtin


def schema_version(minor: str) -> str:
    """kubernetes-validate names its schema sets by patch version (``1.33.0``)."""
    return f"{minor}.0"


@pytest.mark.parametrize("minor", SUPPORTED_KUBERNETES_VERSIONS)
def test_kubernetes_validate_ships_schemas_for_each_supported_version(minor):
    # A missing schema set is a failure, not a skip: upgrade kubernetes-validate or the version list.
    assert schema_version(minor) in kubernetes_validate.utils.all_versions(), (
        f"kubernetes-validate {kubernetes_validate.version.__version__} has no schemas for Kubernetes {minor}")


def test_render_contains_builtin_objects(rendered_prod):
    builtin = [p for p, o in rendered_prod.manifests.items() if is_builtin(o)]
    kinds = {rendered_prod.manifests[p]["kind"] for p in builtin}
    assert {"Namespace", "NetworkPolicy", "Deployment", "ServiceAccount"} <= kinds


@pytest.mark.parametrize("minor", SUPPORTED_KUBERNETES_VERSIONS)
def test_every_builtin_object_is_strictly_valid(rendered_prod, minor):
    errors = []
    for path, obj in rendered_prod.manifests.items():
        if not is_builtin(obj):
            continue
        try:
            kubernetes_validate.validate(obj, schema_version(minor), strict=True)
        except kubernetes_validate.SchemaNotFoundError as e:
            errors.append(f"{path}: no schema ({e.message}): a built-in kind unknown to Kubernetes {minor}")
        except kubernetes_validate.ValidationError as e:
            where = "/".join(str(p) for p in e.path)
            errors.append(f"{path}: {where}: {e.message}")
    assert not errors, f"invalid for Kubernetes {minor}:\n" + "\n".join(errors)


def test_strict_validation_catches_an_unknown_field(rendered_prod):
    # The judge must be able to fail: a typo'd field in a rendered Deployment is refused.
    import copy
    deployment = copy.deepcopy(next(o for o in rendered_prod.manifests.values() if o["kind"] == "Deployment"))
    deployment["spec"]["template"]["spec"]["containers"][0]["securityContex"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, schema_version(SUPPORTED_KUBERNETES_VERSIONS[-1]), strict=True)
