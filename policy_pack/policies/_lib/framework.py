"""The policy framework: every policy gets the same metadata, configuration, exemptions and
fail-closed handling of malformed input, so a policy module holds only its rule.

A resource policy is built with :func:`resource_policy` from a ``check(obj, config)`` generator
that yields one message per violation; a stack policy with :func:`stack_policy` from a
``check(objects, config)`` generator that yields ``(obj, message)``. The framework:

- skips resources whose type the policy does not judge (one dictionary lookup);
- reads the policy's configuration (``--policy-pack-config``) against its schema, with the
  defaults applied; a malformed setting is reported (the default applies, the stricter choice);
- applies exemptions from ``policy_pack/exemptions.yaml`` and from the configuration: an active
  one marks the policy not applicable to the resource, with the exemption's id, expiry and
  reason; an expired one is a violation of its own;
- turns a field of the wrong type into a violation naming the field (fail closed), and any
  unexpected error into a violation too: a policy never crashes the pack. A value unknown
  during preview propagates as ``UnknownValueError``, which pulumi_policy reports as an advisory
  "can't run policy ... during preview: <which field>".
"""
from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping, Optional, Sequence

from pulumi_policy import (
    EnforcementLevel,
    PolicyComplianceFramework,
    PolicyConfigSchema,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Severity,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UnknownValueError

from . import exemptions as ex
from . import schema
from .k8s import NotJudged, Obj, Unverifiable, parse_type

#: Where each policy is documented (an anchor per policy name).
DOCS = "docs/policies.md"

#: ``<kind>-<verb>-<what>``, kebab-case, verb from a fixed list.
VERBS = ("missing", "disallow", "enable", "disable", "configure", "enforce")
NAME_RULE = re.compile(r"^[a-z0-9]+-(?:%s)-[a-z0-9]+(?:-[a-z0-9]+)*$" % "|".join(VERBS))

#: Kinds are ``(group, Kind)`` pairs (``core`` for the core group); ``"*"`` matches any kind.
Kinds = Iterable[tuple[str, str]]
Check = Callable[[Obj, Mapping[str, Any]], Iterable[str]]
StackCheck = Callable[[Sequence[Obj], Mapping[str, Any]], Iterable[tuple[Obj, str]]]


# ---------------------------------------------------------------------------------------------
# Controls
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Control:
    """A compliance control: the policy's main mapping, carried as its ``framework``."""

    framework: str
    version: str
    reference: str

    def as_framework(self) -> PolicyComplianceFramework:
        return PolicyComplianceFramework(name=self.framework, version=self.version, reference=self.reference)

    def __str__(self) -> str:
        return f"{self.framework} {self.version} {self.reference}"


def nist_800_171(reference: str) -> Control:
    """A NIST SP 800-171 Rev. 2 requirement, e.g. ``nist_800_171("3.1.5")``."""
    return Control("NIST SP 800-171", "r2", reference)


# ---------------------------------------------------------------------------------------------
# Configuration
# ---------------------------------------------------------------------------------------------

_DATE_PATTERN = r"^\d{4}-\d{2}-\d{2}$"

#: The ``exemptions`` property every policy accepts.
EXEMPTIONS_PROPERTY: dict[str, Any] = {
    "type": "array",
    "description": "Named, justified, expiring exemptions from this policy.",
    "default": [],
    "items": {
        "type": "object",
        "additionalProperties": False,
        "required": ["resource", "reason", "expires"],
        "properties": {
            "id": {"type": "string", "minLength": 1, "description": "A unique name for the exemption."},
            "resource": {
                "type": "object",
                "additionalProperties": False,
                "required": ["kind", "name"],
                "properties": {
                    "kind": {"type": "string", "minLength": 1, "description": "Kind (glob), e.g. DaemonSet."},
                    "namespace": {"type": "string", "description": "Namespace (glob); omit for cluster-scoped."},
                    "name": {"type": "string", "minLength": 1, "description": "Name (glob), e.g. 'falco*'."},
                },
            },
            "reason": {"type": "string", "minLength": 10,
                       "description": "Why it is needed and why it is the narrowest form."},
            "expires": {"type": "string", "pattern": _DATE_PATTERN, "description": "Expiry date, YYYY-MM-DD."},
        },
    },
}


@dataclass(frozen=True)
class Settings:
    """A policy's configuration as the check sees it: values with defaults applied, the
    configured exemptions, and the problems found in the configuration."""

    values: Mapping[str, Any]
    exemptions: tuple[ex.Exemption, ...]
    problems: tuple[str, ...]


class _Configuration:
    """Parses (and caches) one policy's configuration."""

    def __init__(self, policy: str, properties: Mapping[str, Mapping[str, Any]]):
        self.policy = policy
        self.properties = {"exemptions": EXEMPTIONS_PROPERTY, **properties}
        self.defaults = {k: v.get("default") for k, v in properties.items()}
        self.default_settings = Settings(dict(self.defaults), (), ())
        self._cache: dict[tuple, tuple[list, Settings]] = {}
        self._lock = threading.Lock()

    def schema(self) -> PolicyConfigSchema:
        return PolicyConfigSchema(properties={k: dict(v) for k, v in self.properties.items()})

    def settings(self, raw: Optional[Mapping[str, Any]]) -> Settings:
        if not raw:
            return self.default_settings
        # pulumi_policy hands every call a shallow copy of the same configuration: the identity
        # of its values is a cheap, exact cache key (the cache keeps them alive).
        key = tuple(sorted((k, id(v)) for k, v in raw.items()))
        hit = self._cache.get(key)
        if hit is not None:
            return hit[1]
        settings = self._parse(raw)
        with self._lock:
            if len(self._cache) > 32:
                self._cache.clear()
            self._cache[key] = (list(raw.values()), settings)
        return settings

    def _parse(self, raw: Mapping[str, Any]) -> Settings:
        problems: list[str] = []
        values = dict(self.defaults)
        for key in sorted(raw):
            if key not in self.properties:
                problems.append(f"unknown setting '{key}' (known: {', '.join(sorted(self.properties))}); "
                                "it is ignored")
            elif key != "exemptions":
                errs = schema.errors(raw[key], self.properties[key], key)
                if errs:
                    problems.append("; ".join(errs) + f"; the default {self.defaults[key]!r} applies")
                else:
                    values[key] = raw[key]
        exemptions: list[ex.Exemption] = []
        entries = raw.get("exemptions")
        if entries is not None:
            if not isinstance(entries, (list, tuple)):
                problems.append(f"exemptions must be a list, got {schema.type_name(entries)}; no exemption applies")
            else:
                for i, entry in enumerate(entries):
                    try:
                        exemptions.append(ex.parse_exemption(entry, f"exemptions[{i}]", policy=self.policy,
                                                             source="policy configuration"))
                    except ex.ExemptionError as e:
                        problems.append(f"{e}; this exemption is ignored")
        return Settings(values, tuple(exemptions), tuple(f"policy configuration: {p}" for p in problems))


# ---------------------------------------------------------------------------------------------
# Built-in exemptions (policy_pack/exemptions.yaml), loaded once per process
# ---------------------------------------------------------------------------------------------

_BUILTIN: Optional[list[ex.Exemption]] = None
_BUILTIN_LOCK = threading.Lock()


def builtin_exemptions() -> list[ex.Exemption]:
    """The exemptions file, loaded once; a malformed file raises ``ExemptionError``."""
    global _BUILTIN
    if _BUILTIN is None:
        with _BUILTIN_LOCK:
            if _BUILTIN is None:
                _BUILTIN = ex.load_exemptions()
    return _BUILTIN


def _exemption_for(policy: str, obj: Obj, configured: Sequence[ex.Exemption],
                   report: Callable[[str], None]) -> Optional[ex.Exemption]:
    """The active exemption for *obj*, if any; every matching expired one is reported."""
    candidates = [e for e in builtin_exemptions() if e.applies_to(policy)]
    candidates.extend(configured)
    if not candidates:
        return None
    kind, namespace, name = obj.kind, obj.namespace, obj.name
    today = ex.utc_today()
    active = None
    for e in candidates:
        if not e.matches(kind, namespace, name):
            continue
        if e.expired(today):
            report(f"{e.describe()} for {e.target} expired on {e.expires.isoformat()} and no longer exempts "
                   f"this resource; renew it with a fresh justification and date, or fix the resource and "
                   f"remove the exemption")
        elif active is None:
            active = e
    return active


def _internal(e: Exception) -> str:
    return (f"the policy could not evaluate this resource ({type(e).__name__}: {e}), so it fails closed; "
            "check the resource's shape, and report a bug if it is valid Kubernetes")


# ---------------------------------------------------------------------------------------------
# Policies
# ---------------------------------------------------------------------------------------------

class _Meta:
    """Metadata shared by both kinds of policy (kept on the policy for tests and docs)."""

    kinds: frozenset
    control: Control
    configuration: _Configuration

    def _init_meta(self, kinds: Kinds, control: Control, configuration: _Configuration) -> None:
        self.kinds = frozenset(kinds)
        self.control = control
        self.configuration = configuration
        self._applies: dict[str, bool] = {}

    def applies_to(self, type_token: str) -> bool:
        hit = self._applies.get(type_token)
        if hit is None:
            key = kind_key(type_token)
            hit = key is not None and (key in self.kinds or (key[0], "*") in self.kinds
                                       or type_token in self.kinds or "*" in self.kinds)
            self._applies[type_token] = hit
        return hit


def kind_key(type_token: str) -> Optional[tuple[str, str]]:
    """The ``(group, Kind)`` a policy's ``kinds`` name: ``kubernetes:apps/v1:Deployment`` ->
    ``("apps", "Deployment")``; other providers' tokens by package and module,
    ``aws:kms/key:Key`` -> ``("aws:kms", "Key")``. A policy may also list exact type tokens."""
    info = parse_type(type_token)
    if info is not None:
        return info.group, info.kind
    parts = type_token.split(":")
    if len(parts) != 3:
        return None
    return f"{parts[0]}:{parts[1].split('/', 1)[0]}", parts[2]


def _common(name: str, description: str, severity: Severity, control: Control, tags: Sequence[str],
            remediation: str, enforcement_level: EnforcementLevel, configuration: _Configuration) -> dict:
    if not NAME_RULE.match(name):
        raise ValueError(f"policy name {name!r} must be <kind>-<verb>-<what> with a verb from {VERBS}")
    return dict(name=name, description=description, enforcement_level=enforcement_level,
                config_schema=configuration.schema(), severity=severity, framework=control.as_framework(),
                tags=sorted(tags), remediation_steps=remediation.strip(), url=f"{DOCS}#{name}")


class HardenedResourcePolicy(ResourceValidationPolicy, _Meta):
    """A resource policy built by :func:`resource_policy`."""

    check: Check

    def __init__(self, *, check: Check, kinds: Kinds, control: Control, config: Mapping[str, Mapping[str, Any]],
                 **common: Any):
        configuration = _Configuration(common["name"], config)
        self._init_meta(kinds, control, configuration)
        self.check = check
        super().__init__(validate=self._validate, **_common(configuration=configuration, control=control, **common))

    def _validate(self, args: ResourceValidationArgs, report: Callable[..., None]) -> None:
        if not self.applies_to(args.resource_type):
            return
        settings = self.configuration.settings(args.get_config())
        for problem in settings.problems:
            report(problem)
        try:
            obj = Obj(args.resource_type, args.props, args.name)
            exemption = _exemption_for(self.name, obj, settings.exemptions, report)
        except UnknownValueError:
            raise
        except Unverifiable as e:
            report(e.message)
            return
        except Exception as e:  # noqa: BLE001 - a policy must never crash the pack
            report(_internal(e))
            return
        if exemption is not None:
            args.not_applicable(f"exempted by {exemption.describe()} until {exemption.expires.isoformat()}: "
                                f"{exemption.reason}")
        try:
            for message in self.check(obj, settings.values):
                report(message)
        except NotJudged:
            return
        except UnknownValueError:
            raise
        except Unverifiable as e:
            report(e.message)
        except Exception as e:  # noqa: BLE001
            report(_internal(e))

    def run(self, type_token: str, props: Mapping[str, Any], config: Optional[Mapping[str, Any]] = None,
            name: str = "") -> list[str]:
        """Evaluate the check directly (unit tests): its messages, or the Unverifiable one."""
        if not self.applies_to(type_token):
            return []
        settings = self.configuration.settings(config)
        try:
            return list(settings.problems) + list(self.check(Obj(type_token, props, name), settings.values))
        except NotJudged:
            return list(settings.problems)
        except Unverifiable as e:
            return list(settings.problems) + [e.message]


#: The composition root's type token: its presence marks the analysed set as a whole stack.
WHOLE_STACK_TOKEN = "hardened:index:HardenedStack"

#: The setting every presence policy gets (see :func:`stack_policy`).
REQUIRE_PRESENCE_PROPERTY = {
    "type": "boolean",
    "default": False,
    "description": "Report the missing component even when the analysed set is not a whole stack (no "
                   "hardened:index:HardenedStack resource), e.g. when checking a full cluster's YAML in GitOps.",
}


class HardenedStackPolicy(StackValidationPolicy, _Meta):
    """A stack policy built by :func:`stack_policy`."""

    check: StackCheck

    def __init__(self, *, check: StackCheck, kinds: Kinds, control: Control,
                 config: Mapping[str, Mapping[str, Any]], presence: bool = False, **common: Any):
        if presence:
            config = {**config, "requirePresence": REQUIRE_PRESENCE_PROPERTY}
        configuration = _Configuration(common["name"], config)
        self._init_meta(kinds, control, configuration)
        self.check = check
        self.presence = presence
        super().__init__(validate=self._validate, **_common(configuration=configuration, control=control, **common))

    def _validate(self, args: StackValidationArgs, report: Callable[..., None]) -> None:
        settings = self.configuration.settings(args.get_config())
        for problem in settings.problems:
            report(problem, None)
        objects: list[Obj] = []
        for r in args.resources:
            if not self.applies_to(r.resource_type):
                continue
            try:
                obj = Obj(r.resource_type, r.props, r.name)
            except Unverifiable as e:
                report(e.message, r.urn)
                continue
            obj.urn = r.urn
            objects.append(obj)
        # A presence policy reports an absent component (a finding on no real resource) only for a
        # whole stack: `check` over one application's manifests must not demand the whole platform.
        report_absence = (not self.presence or settings.values.get("requirePresence")
                          or any(r.resource_type == WHOLE_STACK_TOKEN for r in args.resources))
        try:
            for obj, message in self.check(objects, settings.values):
                urn = getattr(obj, "urn", None)
                if urn is None and not report_absence:
                    continue
                try:
                    exemption = _exemption_for(self.name, obj, settings.exemptions,
                                               lambda m, urn=urn: report(m, urn))
                except Unverifiable:
                    exemption = None
                if exemption is None:
                    report(message, urn)
        except UnknownValueError:
            raise
        except Unverifiable as e:
            report(e.message, None)
        except Exception as e:  # noqa: BLE001
            report(_internal(e), None)


def resource_policy(*, name: str, description: str, kinds: Kinds, severity: Severity, control: Control,
                    tags: Sequence[str], remediation: str, check: Check,
                    config: Optional[Mapping[str, Mapping[str, Any]]] = None,
                    enforcement_level: EnforcementLevel = EnforcementLevel.MANDATORY) -> HardenedResourcePolicy:
    """A resource policy. *config* maps each setting to its JSON schema, with a ``default``."""
    return HardenedResourcePolicy(name=name, description=description, kinds=kinds, severity=severity,
                                  control=control, tags=tags, remediation=remediation, check=check,
                                  config=config or {}, enforcement_level=enforcement_level)


def stack_policy(*, name: str, description: str, kinds: Kinds, severity: Severity, control: Control,
                 tags: Sequence[str], remediation: str, check: StackCheck,
                 config: Optional[Mapping[str, Mapping[str, Any]]] = None,
                 enforcement_level: EnforcementLevel = EnforcementLevel.MANDATORY,
                 presence: bool = False) -> HardenedStackPolicy:
    """A stack policy: *check* sees every resource of *kinds* and yields ``(obj, message)``.

    A *presence* policy demands that a component exists; its findings on an absent component (an
    ``obj`` that is no analysed resource) are reported only for a whole stack, one that contains
    the ``hardened:index:HardenedStack`` component (``pulumi preview``, or ``check`` over a render's
    resources.json), or when its ``requirePresence`` setting is true.
    """
    return HardenedStackPolicy(name=name, description=description, kinds=kinds, severity=severity,
                               control=control, tags=tags, remediation=remediation, check=check,
                               config=config or {}, enforcement_level=enforcement_level, presence=presence)
