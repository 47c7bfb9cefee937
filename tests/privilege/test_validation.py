"""Issue 23.9, attacked: config that means "the world", and HSM switches under another name.

One CIDR type (components.base.Cidr) holds every range that names where something lives; the
raw-document pass (components.config.cidr_errors) applies the same rule to every ``*cidr(s)`` key,
escape hatches included. The HSM refusal covers the class: any environment variable with HSM (or
PKCS11) as a word, in a workload's env and in Vault's server env (an HSM seal).
"""
from __future__ import annotations

import importlib
import inspect
import typing

import pytest

from components import base
from components.base import StrictModel, cidr_problem
from components.config import ConfigError, StackConfig, hsm_env_problem, parse_stack_config
from tests.harness import prod_document

MODULES = ("admission", "compliance", "edge", "ingress", "mesh", "runtime_detection", "secrets", "spire", "vault",
           "config", "namespace", "workload", "tenancy", "storage", "audit")
WORLD = ["0.0.0.0/0", "::/0", "0.0.0.0/1", "128.0.0.0/2", "10.0.0.0/7", "2000::/3", "::/1"]


def _models():
    seen = {}
    for m in MODULES:
        module = importlib.import_module(f"components.{m}")
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if issubclass(cls, StrictModel) and cls is not StrictModel and cls.__module__.startswith("components."):
                seen[f"{cls.__module__}.{cls.__qualname__}"] = cls
    return seen


def _inner(annotation):
    while typing.get_origin(annotation) in (list, typing.Union, tuple) or (
            typing.get_origin(annotation) is not None and type(None) in typing.get_args(annotation)):
        annotation = next(a for a in typing.get_args(annotation) if a is not type(None))
    return annotation


CIDR_FIELDS = [(name, cls, field) for name, cls in sorted(_models().items())
               for field, info in cls.model_fields.items()
               if field.endswith(("cidr", "cidrs")) or field == "egress_except"]


@pytest.mark.parametrize("name,cls,field", CIDR_FIELDS, ids=[f"{n.rsplit('.', 1)[1]}.{f}" for n, _, f in CIDR_FIELDS])
def test_every_cidr_field_is_the_one_validated_type(name, cls, field):
    """A CIDR field typed as a plain string would let the world through: each is Cidr (a place)
    or, for egress exceptions that only narrow, CidrExcept."""
    want = base.CidrExcept if field == "egress_except" else base.Cidr
    info = cls.model_fields[field]
    # (pydantic moves a scalar field's Annotated validators into the field's metadata)
    assert _inner(info.annotation) == want or (info.annotation is str and info.metadata == list(want.__metadata__))


def test_the_walk_finds_the_fields_the_issue_names():
    found = {f"{n.rsplit('.', 1)[1]}.{f}" for n, _, f in CIDR_FIELDS}
    assert {"DatastoreConfig.cidrs", "VaultConfig.aws_endpoint_cidrs", "AlbConfig.vpc_cidr",
            "AdmissionConfig.control_plane_cidrs", "SiemConfig.cidrs"} <= found, found


@pytest.mark.parametrize("cidr", WORLD)
@pytest.mark.parametrize("name,cls,field", [c for c in CIDR_FIELDS if c[2] != "egress_except"],
                         ids=[f"{n.rsplit('.', 1)[1]}.{f}" for n, _, f in CIDR_FIELDS if f != "egress_except"])
def test_the_world_is_refused_in_every_range_that_names_a_place(name, cls, field, cidr):
    from pydantic import TypeAdapter, ValidationError

    info = cls.model_fields[field]
    value = [cidr] if typing.get_origin(_strip_optional(info.annotation)) is list else cidr
    annotation = typing.Annotated[info.annotation, *info.metadata] if info.metadata else info.annotation
    with pytest.raises(ValidationError, match="every address|too broad"):
        TypeAdapter(annotation).validate_python(value)


def _strip_optional(annotation):
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    return args[0] if typing.get_origin(annotation) is typing.Union and len(args) == 1 else annotation


@pytest.mark.parametrize("path", [("spire", "datastore", "cidrs"), ("vault", "awsEndpointCidrs"),
                                  ("ingress", "alb", "vpcCidr"), ("admission", "controlPlaneCidrs"),
                                  ("spire", "kubeletCidrs")])
@pytest.mark.parametrize("cidr", ["0.0.0.0/0", "::/0", "0.0.0.0/4"])
def test_the_prod_stack_file_refuses_the_world_naming_the_key_once(path, cidr):
    doc = prod_document()
    target = doc
    for part in path[:-1]:
        target = target.setdefault(part, {})
    target[path[-1]] = cidr if path[-1].endswith("Cidr") else [cidr]
    with pytest.raises(ConfigError) as exc:
        parse_stack_config(doc)
    key = "hardened-stack:" + ".".join(path) + ("" if path[-1].endswith("Cidr") else "[0]")
    msg = str(exc.value)
    assert msg.count(key + ":") == 1, msg
    assert "every address" in msg or "too broad" in msg


def test_a_range_in_an_escape_hatch_is_judged_too():
    doc = prod_document()
    doc["vault"]["extraValues"] = {"server": {"networkPolicy": {"egressCidrs": ["0.0.0.0/0"]}}}
    with pytest.raises(ConfigError, match=r"vault\.extraValues\.server\.networkPolicy\.egressCidrs\[0\]: .*every"):
        parse_stack_config(doc)


@pytest.mark.parametrize("cidr,ok", [("10.0.0.0/8", True), ("10.0.0.0/16", True), ("fd00::/8", True),
                                     ("fc00::/7", True), ("10.0.0.0/7", False), ("0.0.0.0/0", False)])
def test_the_breadth_limit_is_the_largest_private_block(cidr, ok):
    assert (cidr_problem(cidr) is None) is ok
    assert cidr_problem(cidr, place=False) is None


def test_the_prod_stack_passes():
    assert isinstance(parse_stack_config(prod_document()), StackConfig)


# --- HSM ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("name,value", [("HSM_ENABLED", "true"), ("ENABLE_HSM", "1"), ("HSM_SLOT", "0"),
                                        ("HSM_LIBRARY", "/usr/lib/softhsm/libsofthsm2.so"), ("USE_HSM", "yes"),
                                        ("VAULT_HSM_LIB", "/usr/lib/libCryptoki2_64.so"), ("VAULT_HSM_PIN", "x"),
                                        ("PKCS11_MODULE", "/usr/lib/p11.so"), ("hsm_slot", "2")])
def test_every_hsm_variable_in_a_workload_is_refused(name, value):
    doc = prod_document()
    doc["workloads"][0]["env"][name] = value
    with pytest.raises(ConfigError, match=rf"workloads\[0\]\.env\.{name}: the workload would look for an HSM"):
        parse_stack_config(doc)


@pytest.mark.parametrize("name,value", [("HSM_ENABLED", "false"), ("ENABLE_HSM", "0"), ("USE_HSM", "off"),
                                        ("HSMS_URL", "x"), ("THRESHOLD", "3"), ("SHSM", "1")])
def test_a_switched_off_flag_or_another_word_is_accepted(name, value):
    assert hsm_env_problem(name, value) is None
    doc = prod_document()
    doc["workloads"][0]["env"][name] = value
    parse_stack_config(doc)


@pytest.mark.parametrize("env", [{"VAULT_HSM_SLOT": "0"}, [{"name": "VAULT_HSM_LIB", "value": "/x.so"}]])
def test_an_hsm_seal_for_vault_through_the_escape_hatch_is_refused(env):
    doc = prod_document()
    key = "extraEnvironmentVars" if isinstance(env, dict) else "extraEnv"
    doc["vault"]["extraValues"] = {"server": {key: env}}
    with pytest.raises(ConfigError, match=rf"vault\.extraValues\.server\.{key}\.VAULT_HSM_\w+: Vault would look"):
        parse_stack_config(doc)
