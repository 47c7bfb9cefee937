"""The policy framework: every policy gets the same metadata, configuration, exemptions and
fail-closed handling of malformed and unknown input, so a policy module holds only its rule.

A resource policy is built with :func:`resource_policy` from a ``check(obj, config)`` generator
that yields one message per violation; a stack policy with :func:`stack_policy` from a
``check(objects, config)`` generator that yields ``(obj, message)``. The framework:

- skips resources whose type the policy does not judge (one dictionary lookup);
- reads the policy's configuration (``--policy-pack-config``) against its schema, with the
  defaults applied; a malformed setting is reported (the default applies, the stricter choice);
- fails closed on values unknown at preview. pulumi_policy hands a policy proxies that raise
  ``UnknownValueError`` on such a value, and its servicer turns an escaping one into an ADVISORY
  "can't run policy ... during preview" (pulumi_policy/policy.py, ``_PolicyAnalyzerServicer.Analyze``
  and ``AnalyzeStack``), so ``pulumi preview`` passes what ``pulumi up`` then refuses half-way.
  Here the check's findings so far are kept and the unknown becomes a finding of its own,
  "cannot verify <field> at preview: <what would make it known>", at the policy's level. A policy's
  ``unknowns: advisory`` setting (every policy has it) lowers only those findings to the SDK's
  advisory, saying so. A check may also yield :func:`cannot_verify` itself to go on past an
  unknown (stack policies do, so that an unknown defers only the verdicts it can affect);
- applies exemptions from ``policy_pack/exemptions.yaml`` and from the configuration only once a
  finding exists, and only to the exact object (kind, namespace, name and, where the entry lists
  them, images) they name: an identity or image unknown at preview matches nothing. An active one
  marks the policy not applicable to the object, with the exemption's id, owner, expiry and
  reason; an expired one is reported next to the finding it no longer lifts;
- turns a field of the wrong type into a violation naming the field (fail closed), and any
  unexpected error into an *internal error* (:class:`InternalError`, its text starting with
  :data:`INTERNAL_ERROR_PREFIX`): still a finding at the policy's level, so the pack fails closed and
  never crashes, but distinct from a violation, so that tests (the fuzz tests first) see a crash.

Every finding has a *message key*, a short stable name of the rule it reports (``hsts-max-age``),
that the samples and the mutation tests assert on while the user-facing text stays free to change:
a check yields :func:`finding` ``(key, text)`` (a ``str`` whose text is exactly *text*), or a plain
string whose key :func:`message_key` derives from the field path the text names.
"""
from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from collections.abc import Mapping, Sequence
from typing import Any, Callable, Iterable, Optional

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
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, UnknownValueError

from . import exemptions as ex
from . import schema
from .k8s import BY_SHAPE, NotJudged, Obj, Unverifiable, is_list, join, parse_type, pod_spec, shape_candidate

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

#: The ``exemptions`` property every policy accepts (the entries of policy_pack/exemptions.yaml,
#: with ``policies`` implied by the policy and ``id`` and ``owner`` optional).
EXEMPTIONS_PROPERTY: dict[str, Any] = {
    "type": "array",
    "description": "Named, justified, expiring exemptions from this policy, each for one exact object.",
    "default": [],
    "items": {
        "type": "object",
        "additionalProperties": False,
        "required": ["resource", "reason", "expires"],
        "properties": {
            "id": {"type": "string", "minLength": 1, "description": "A unique name for the exemption."},
            "owner": {
                "type": "object",
                "additionalProperties": False,
                "required": ["team", "contact"],
                "properties": {
                    "team": {"type": "string", "minLength": 1, "description": "The team that answers for it."},
                    "contact": {"type": "string", "minLength": 1, "description": "An email or channel."},
                },
            },
            "resource": {
                "type": "object",
                "additionalProperties": False,
                "required": ["kind", "name"],
                "properties": {
                    "kind": {"type": "string", "minLength": 1, "description": "Exact Kind, e.g. DaemonSet."},
                    "namespace": {"type": "string", "description": "Exact namespace; omit for cluster-scoped."},
                    "name": {"type": "string", "minLength": 1,
                             "description": "Exact name (a glob only for generated names; on a kind that runs "
                                            "pods, only with images)."},
                },
            },
            "images": {"type": "array", "items": {"type": "string", "minLength": 1},
                       "description": "Image repositories (registry/path, no tag or digest); the exemption "
                                      "applies only while every image of the object is from one of them."},
            "reason": {"type": "string", "minLength": 10,
                       "description": "Why it is needed and why it is the narrowest form."},
            "expires": {"type": "string", "pattern": _DATE_PATTERN, "description": "Expiry date, YYYY-MM-DD."},
        },
    },
}

#: The ``unknowns`` property every policy accepts: what a value unknown at preview does.
UNKNOWNS_PROPERTY: dict[str, Any] = {
    "type": "string",
    "enum": ["mandatory", "advisory"],
    "default": "mandatory",
    "description": "A field this policy needs whose value is unknown at preview (computed from another "
                   "resource's output) is a 'cannot verify' finding at the policy's level (mandatory, the "
                   "default: preview fails rather than `pulumi up` stopping half-way), or an advisory "
                   "(advisory: the update judges the known value).",
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
        self.properties = {"exemptions": EXEMPTIONS_PROPERTY, "unknowns": UNKNOWNS_PROPERTY, **properties}
        self.defaults = {k: v.get("default") for k, v in self.properties.items() if k != "exemptions"}
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
                if _GUARDED["active"]:
                    continue  # reported once, at the stack level, by guard_configuration
                problems.append(f"unknown setting '{key}' (known: {', '.join(sorted(self.properties))}); "
                                "it is ignored")
            elif key != "exemptions":
                errs = schema.errors(raw[key], self.properties[key], key)
                if errs:
                    problems.append("; ".join(errs) + f"; the default {self.defaults[key]!r} applies")
                else:
                    values[key] = schema.canonical(raw[key], self.properties[key])
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


def _identity(obj: Obj) -> Optional[tuple[str, Optional[str], str, tuple[str, ...]]]:
    """``(kind, namespace, name, images)`` of *obj*, or None when any of it is unknown at preview
    or malformed: such an object matches no exemption (fail closed)."""
    try:
        images: list[str] = []
        spec = pod_spec(obj)
        if spec is not None:
            for c in spec.containers():
                image = c.obj.get("image")
                if not isinstance(image, str) or not image:
                    return None
                images.append(image)
        return obj.kind, obj.namespace, obj.name, tuple(images)
    except (UnknownValueError, Unverifiable):
        return None


def _exemption_for(policy: str, obj: Obj, configured: Sequence[ex.Exemption]
                   ) -> tuple[Optional[ex.Exemption], list[ex.Exemption]]:
    """The active exemption for *obj*, if any, and the expired ones that name it. Called only
    once the policy has a finding on *obj*."""
    candidates = [e for e in builtin_exemptions() if e.applies_to(policy)]
    candidates.extend(configured)
    if not candidates:
        return None, []
    identity = _identity(obj)
    if identity is None:
        return None, []
    kind, namespace, name, images = identity
    today = ex.utc_today()
    active, expired = None, []
    for e in candidates:
        if not e.matches(kind, namespace, name, images):
            continue
        if e.expired(today):
            expired.append(e)
        elif active is None:
            active = e
    return active, expired


def _expired_notice(e: ex.Exemption) -> str:
    return (f"{e.describe()} for {e.target} expired on {e.expires.isoformat()} and no longer exempts this "
            f"resource; renew it with a fresh justification and date, or fix the resource and remove the exemption")


#: How a stack policy's not-applicable reason names the object an exemption lifted a finding on:
#: ``exempted by ... [on urn:pulumi:...]``, one line each.
STACK_EXEMPTION_URN_OPEN = "[on "


def _exempted(e: ex.Exemption) -> str:
    owner = f" ({e.owner})" if e.owner else ""
    return f"exempted by {e.describe()} until {e.expires.isoformat()}{owner}: {e.reason}"


# ---------------------------------------------------------------------------------------------
# Values unknown at preview
# ---------------------------------------------------------------------------------------------

#: The engine's marker for a string unknown during preview (what ``check`` reads from YAML, too).
UNKNOWN = UNKNOWN_STRING_VALUE

#: What makes an unknown value known, said once for every "cannot verify" finding.
MAKE_IT_KNOWN = ("it is computed from another resource's output, which the engine learns only when that "
                 "resource is created or updated; make it a plain value, or derive it from a resource that "
                 "already exists")


class CannotVerify(str):
    """A finding that a field the policy needs is unknown at preview; ``path`` names the field."""

    path: str = ""


def field_path(keys: Sequence[Any], root: Any = None) -> str:
    """The path of an ``UnknownValueError`` (its ``props``, every key a string) written as the
    policies write paths, ``spec.template.spec.containers[0].image``; list indexes are found by
    walking *root* (or, without it, digits are taken as indexes)."""
    path, node = "", root
    for key in keys:
        index = None
        if node is not None and is_list(node) and str(key).isdigit():
            index = int(key)
        elif node is None and str(key).isdigit():
            index = int(key)
        path = join(path, index if index is not None else str(key))
        try:
            if index is not None and node is not None:
                node = node[index]
            elif isinstance(node, Mapping):
                node = node.get(str(key))
            else:
                node = None
        except (UnknownValueError, LookupError, TypeError):
            node = None
    return path or "(the whole object)"


def cannot_verify(error: UnknownValueError, root: Any = None, subject: str = "", detail: str = "") -> CannotVerify:
    """The finding for a field unknown at preview: ``cannot verify <subject><path> at preview:
    <what would make it known>``. *root* is the object's inputs (for list indexes in the path);
    *subject* names another object when the field is not on the one the finding is about."""
    path = field_path(getattr(error, "props", []) or [], root)
    message = CannotVerify(f"cannot verify {subject}{path} at preview: {detail or MAKE_IT_KNOWN}")
    message.path = path
    return message


def _advisory_unknown(findings: Sequence[str]) -> UnknownValueError:
    """The unknowns of an ``unknowns: advisory`` policy as the SDK's own advisory channel: raised
    from ``validate``, pulumi_policy reports it as an advisory "can't run policy ... during preview"."""
    error = UnknownValueError(UNKNOWN, [])
    error.message = ("; ".join(findings) + " (reported as advisory because this policy's configuration sets "
                     "unknowns: advisory; `pulumi up` judges the value once it is known, and stops there if it "
                     "breaks the policy)")
    return error


def _unknowns_mode(settings: "Settings") -> str:
    return settings.values.get("unknowns") or "mandatory"


def _holds_unknown(root: Any, keys: Sequence[Any]) -> bool:
    """Whether *root* holds a value unknown at preview at *keys* (the path of an UnknownValueError)."""
    node = root
    for key in keys:
        try:
            if is_list(node) and str(key).isdigit():
                node = node[int(key)]
            elif isinstance(node, Mapping):
                if str(key) not in node:
                    return False
                node = node[str(key)]
            else:
                return False
        except UnknownValueError:
            return True
        except (LookupError, TypeError):
            return False
    return False


#: How every internal error's text begins (the analyzer's ``Verdict.internal_error`` reads it).
INTERNAL_ERROR_PREFIX = "internal error: "


class InternalError(str):
    """A policy raised: reported as a finding (fail closed) that is not a violation of its rule."""

    key = "internal-error"


def _internal(e: Exception) -> InternalError:
    return InternalError(f"{INTERNAL_ERROR_PREFIX}the policy could not evaluate this resource ({type(e).__name__}: "
                         f"{e}), so it fails closed; check the resource's shape, and report a bug if it is valid "
                         "Kubernetes")


# ---------------------------------------------------------------------------------------------
# Message keys
# ---------------------------------------------------------------------------------------------

class Finding(str):
    """A finding whose text is the ``str`` itself and whose rule is ``key``."""

    key: str = ""


def finding(key: str, message: str) -> Finding:
    """The finding *message* under the message key *key* (kebab-case, stable across rewording)."""
    out = Finding(message)
    out.key = key
    return out


_PATH = re.compile(r"(?<![\w/.'\"-])((?:[A-Za-z_][\w-]*(?:\[[^\]\s]*\])*)(?:\.[A-Za-z_][\w./-]*?(?:\[[^\]\s]*\])*)+)"
                   r"(?=[\s,;:)'\"]|$)")
_FIELD = re.compile(r"(?<![\w/.'\"-])([a-z]+[A-Z][A-Za-z0-9]*)(?![\w/.-])")
_POD_PREFIXES = ("spec.jobTemplate.spec.template.spec.", "spec.jobTemplate.spec.template.", "spec.template.spec.",
                 "spec.template.", "spec.")


def message_key(message: str) -> str:
    """The message key of a finding: its own (:func:`finding`, an internal error, a "cannot verify"),
    else derived from the first field path its text names, with list indexes and the pod template's
    prefix dropped (``spec.template.spec.containers[0].env[3].value`` -> ``containers.env.value``,
    wherever the template is: ``spec.mpiReplicaSpecs.Launcher.template.spec.containers[0]...`` too),
    else from the first camelCase field name it names (``enableKeyRotation``), else ``violation``."""
    key = getattr(message, "key", "")
    if key:
        return key
    if isinstance(message, CannotVerify) or message.startswith("cannot verify"):
        return "cannot-verify"
    if message.startswith(INTERNAL_ERROR_PREFIX):
        return "internal-error"
    if message.startswith("policy configuration:"):
        return "configuration"
    match = _PATH.search(message)
    if not match:
        field = _FIELD.search(message)
        return field.group(1) if field else "violation"
    path = re.sub(r"\[[^\]]*\]", "", match.group(1)).rstrip(".")
    if ".template.spec." in path:  # a pod template anywhere (a CronJob's, a custom resource's)
        return path.rsplit(".template.spec.", 1)[1]
    for prefix in _POD_PREFIXES:
        if path.startswith(prefix) and path != prefix.rstrip("."):
            path = path[len(prefix):]
            break
    return path


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
                                       or type_token in self.kinds or "*" in self.kinds
                                       or (BY_SHAPE in self.kinds and shape_candidate(type_token)))
            self._applies[type_token] = hit
        return hit


def urn_type(urn: str) -> str:
    """The type of the resource a URN names: ``urn:pulumi:<stack>::<project>::<parent
    types>$<type>::<name>`` (pulumi sdk/go/common/resource/urn.go, ``NewURN``; the stack and the
    project hold no ``::``, the name may)."""
    parts = urn.split("::", 3)
    return parts[2].rsplit("$", 1)[-1] if len(parts) == 4 else ""


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
        except Unverifiable as e:
            report(e.message)
            return
        findings = self._findings(obj, settings)
        if not findings:
            return
        exemption, expired = _exemption_for(self.name, obj, settings.exemptions)
        if exemption is not None:
            args.not_applicable(_exempted(exemption))
        for e in expired:
            report(_expired_notice(e))
        deferred = [f for f in findings if isinstance(f, CannotVerify)] if _unknowns_mode(settings) == "advisory" else []
        for message in findings:
            if not (deferred and isinstance(message, CannotVerify)):
                report(message)
        if deferred:
            raise _advisory_unknown(deferred)

    def _findings(self, obj: Obj, settings: Settings) -> list[str]:
        """The check's findings on *obj*; an unknown value ends the check with a finding of its own
        (what the check found before it is kept)."""
        findings: list[str] = []
        try:
            for message in self.check(obj, settings.values):
                findings.append(message)
        except NotJudged:
            return []
        except UnknownValueError as e:
            findings.append(cannot_verify(e, obj.props))
        except Unverifiable as e:
            findings.append(e.message)
        except Exception as e:  # noqa: BLE001 - a policy must never crash the pack
            findings.append(_internal(e))
        return findings

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
                 config: Mapping[str, Mapping[str, Any]], presence: bool = False, children: bool = False,
                 **common: Any):
        if presence:
            config = {**config, "requirePresence": REQUIRE_PRESENCE_PROPERTY}
        configuration = _Configuration(common["name"], config)
        self._init_meta(kinds, control, configuration)
        self.check = check
        self.presence = presence
        self.children = children
        super().__init__(validate=self._validate, **_common(configuration=configuration, control=control, **common))

    def reads(self, type_token: str, parent: str = "") -> bool:
        """Whether :meth:`_validate` reads a resource of *type_token* whose parent has the URN
        *parent*: its objects are the resources it applies to, it looks for the whole-stack
        component, and with ``children`` it lists each object's children (the resources whose
        parent it is). The pack's fast path hands it only these (fastpath.py)."""
        if type_token == WHOLE_STACK_TOKEN or self.applies_to(type_token):
            return True
        return self.children and bool(parent) and self.applies_to(urn_type(parent))

    def _validate(self, args: StackValidationArgs, report: Callable[..., None]) -> None:
        settings = self.configuration.settings(args.get_config())
        for problem in settings.problems:
            report(problem, None)
        objects: list[Obj] = []
        children: dict[str, list[str]] = {}
        if self.children:
            # pulumi_policy links each resource to its parent (``PolicyResource.parent``) when the
            # parent is in the set (policy.py, ``_PolicyAnalyzerServicer.AnalyzeStack``)
            for r in args.resources:
                if r.parent is not None:
                    children.setdefault(r.parent.urn, []).append(r.urn)
        for r in args.resources:
            if not self.applies_to(r.resource_type):
                continue
            try:
                obj = Obj(r.resource_type, r.props, r.name)
            except Unverifiable as e:
                report(e.message, r.urn)
                continue
            obj.urn = r.urn
            obj.children = tuple(children.get(r.urn, ()))
            objects.append(obj)
        # A presence policy reports an absent component (a finding on no real resource) only for a
        # whole stack: `check` over one application's manifests must not demand the whole platform.
        report_absence = (not self.presence or settings.values.get("requirePresence")
                          or any(r.resource_type == WHOLE_STACK_TOKEN for r in args.resources))
        deferred: list[str] = []
        exempted: dict[str, str] = {}   # urn -> the exemption that lifted its finding
        advisory = _unknowns_mode(settings) == "advisory"
        for obj, message in self._findings(objects, settings):
            urn = getattr(obj, "urn", None) if obj is not None else None
            if obj is not None and urn is None and not report_absence:
                continue
            if obj is not None:
                exemption, expired = _exemption_for(self.name, obj, settings.exemptions)
                if exemption is not None:
                    if urn:
                        exempted.setdefault(urn, _exempted(exemption))
                    continue
                for e in expired:
                    report(_expired_notice(e), urn)
            if advisory and isinstance(message, CannotVerify):
                deferred.append(f"{_describe(obj)}: {message}" if obj is not None else message)
            else:
                report(message, urn)
        if deferred:
            raise _advisory_unknown(deferred)
        if exempted:
            # The protocol's PolicyNotApplicable has no URN: one per stack policy, raised last (the
            # findings reported before it stay in the response, pulumi_policy policy.py
            # AnalyzeStack), naming each exempted object, so that the findings the exemptions
            # lifted are accounted for as a resource policy's are (hardened.analyzer reads them).
            # The engine's summary counts a policy with a diagnostic as failed, and one not
            # applicable as neither passed nor failed (pulumi pkg/resource/analyzer/summary.go,
            # newPolicySummary), as it does for an exempted resource policy.
            args.not_applicable("\n".join(f"{reason} {STACK_EXEMPTION_URN_OPEN}{urn}]"
                                          for urn, reason in sorted(exempted.items())))

    def _findings(self, objects: list[Obj], settings: Settings) -> list[tuple[Optional[Obj], str]]:
        """The check's findings. An unknown value the check does not handle itself is pinned on the
        object that holds it ("cannot verify"), and the check runs again without that object; what
        the second run finds on other objects might have been settled by the unknown value, so it is
        deferred too ("cannot verify ... depends on ..."). A check that knows which verdicts an
        unknown can affect yields :func:`cannot_verify` itself and defers only those."""
        findings: list[tuple[Optional[Obj], str]] = []
        seen: set[tuple[Optional[str], str]] = set()
        culprits: list[tuple[Obj, CannotVerify]] = []
        remaining = list(objects)
        for _ in range(len(objects) + 1):
            run: list[tuple[Optional[Obj], str]] = []
            unknown: Optional[UnknownValueError] = None
            try:
                for obj, message in self.check(remaining, settings.values):
                    run.append((obj, message))
            except UnknownValueError as e:
                unknown = e
            except Unverifiable as e:
                run.append((None, e.message))
            except Exception as e:  # noqa: BLE001
                run.append((None, _internal(e)))
            for obj, message in run:
                key = (getattr(obj, "urn", None), str(message))
                if key in seen:
                    continue
                seen.add(key)
                if culprits and not isinstance(message, CannotVerify) and obj not in [c for c, _ in culprits]:
                    names = "; ".join(f"{_describe(c)}: {m.path}" for c, m in culprits)
                    message = CannotVerify(f"cannot verify this at preview: {message}; the verdict may depend on "
                                           f"values unknown at preview ({names}): {MAKE_IT_KNOWN}")
                findings.append((obj, message))
            if unknown is None:
                break
            holder = next((o for o in remaining if _holds_unknown(o.props, unknown.props)), None)
            if holder is None:
                findings.append((None, cannot_verify(unknown)))
                break
            finding = cannot_verify(unknown, holder.props)
            culprits.append((holder, finding))
            findings.append((holder, finding))
            remaining = [o for o in remaining if o is not holder]
        return findings


def _describe(obj: Obj) -> str:
    try:
        namespace = obj.namespace
        return f"{obj.kind} {namespace + '/' if namespace else ''}{obj.name}"
    except (UnknownValueError, Unverifiable):
        return f"{obj.kind} {obj.resource_name}"


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
                 presence: bool = False, children: bool = False) -> HardenedStackPolicy:
    """A stack policy: *check* sees every resource of *kinds* and yields ``(obj, message)``.

    A *presence* policy demands that a component exists; its findings on an absent component (an
    ``obj`` that is no analysed resource) are reported only for a whole stack, one that contains
    the ``hardened:index:HardenedStack`` component (``pulumi preview``, or ``check`` over a render's
    resources.json), or when its ``requirePresence`` setting is true.

    With *children*, each object's ``children`` holds the URNs of the resources (of any kind)
    whose parent it is: how a component such as a Helm Chart, which the engine sends with no
    properties, is judged by what it registered.
    """
    return HardenedStackPolicy(name=name, description=description, kinds=kinds, severity=severity,
                               control=control, tags=tags, remediation=remediation, check=check,
                               config=config or {}, enforcement_level=enforcement_level, presence=presence,
                               children=children)


# ---------------------------------------------------------------------------------------------
# The pack's version: one, from PulumiPolicy.yaml
# ---------------------------------------------------------------------------------------------

PACK_DIR = ex.POLICIES_DIR.parent


def pack_version(pack_dir: Optional[Any] = None) -> str:
    """``version`` of the pack's PulumiPolicy.yaml (the CLI reports that one, and overrides the
    version of every diagnostic with it: pkg/resource/plugin/analyzer_plugin.go, convertDiagnostics)."""
    import yaml

    from pathlib import Path

    path = Path(pack_dir or PACK_DIR) / "PulumiPolicy.yaml"
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError):
        return "0.0.1"
    version = doc.get("version") if isinstance(doc, Mapping) else None
    return str(version) if version else "0.0.1"


def serve_version(version: str) -> bool:
    """Make the SDK's servicer report *version* (GetAnalyzerInfo, every diagnostic, and the text of
    its "can't run policy ... during preview" advisory) instead of the 0.0.1 that
    ``PolicyPack`` hard-codes for Python packs. True when applied.

    The servicer is private to pulumi_policy: like :func:`.fastpath.install`, this applies only to
    the versions it was written against (``fastpath.SUPPORTED_VERSIONS``) and only when the
    servicer still takes ``(name, version, ...)``; elsewhere the pack runs unchanged and loses
    nothing that matters, since the Pulumi CLI reports PulumiPolicy.yaml's version over the
    pack's own (pulumi ``pkg/resource/plugin/analyzer_plugin.go``, ``GetAnalyzerInfo`` and
    ``convertDiagnostics``)."""
    import inspect

    from pulumi_policy import policy as sdk
    from pulumi_policy.version import VERSION

    from .fastpath import SUPPORTED_VERSIONS

    base = getattr(sdk, "_PolicyAnalyzerServicer", None)
    if base is None or not str(VERSION).startswith(SUPPORTED_VERSIONS):
        return False
    if getattr(base, "_served_version", None) == version:
        return True
    sdk_class = next((k for k in base.__mro__ if k.__module__ == sdk.__name__ and "__init__" in vars(k)), None)
    try:
        params = list(inspect.signature(sdk_class.__init__).parameters) if sdk_class else []
    except (TypeError, ValueError):
        return False
    if params[1:3] != ["name", "version"]:
        return False

    class Servicer(base):  # type: ignore[misc, valid-type]
        _served_version = version

        def __init__(self, name, _version, *args: Any, **kwargs: Any):
            super().__init__(name, version, *args, **kwargs)

    Servicer.__name__ = Servicer.__qualname__ = base.__name__
    sdk._PolicyAnalyzerServicer = Servicer
    return True


# ---------------------------------------------------------------------------------------------
# Configuration mistakes the Pulumi CLI lets through
# ---------------------------------------------------------------------------------------------

def unknown_policy_names(configured: Iterable[str], known: Iterable[str]) -> list[str]:
    """The configured names that are no policy of the pack (``all`` sets every policy's level)."""
    known = set(known)
    return sorted(n for n in configured if n != "all" and n not in known)


def unknown_policy_message(name: str, known: Iterable[str]) -> str:
    import difflib

    close = difflib.get_close_matches(name, sorted(known), n=1)
    hint = f"; did you mean '{close[0]}'?" if close else " (the pack's policies are listed in docs/policies.md)"
    return (f"policy configuration: '{name}' is no policy of this pack, so its setting is ignored{hint} Fix the "
            "name in the --policy-pack-config document (the Pulumi CLI accepts unknown names without a word)")


def unknown_setting_message(policy: str, key: str, declared: Iterable[str]) -> str:
    import difflib

    close = difflib.get_close_matches(key, sorted(declared), n=1)
    hint = f"; did you mean '{close[0]}'?" if close else f" (known: {', '.join(sorted(declared)) or 'none'})"
    return (f"policy configuration: {policy} has no setting '{key}', so it is ignored{hint} Fix it in the "
            "--policy-pack-config document (the Pulumi CLI accepts unknown settings without a word)")


#: Whether :func:`guard_configuration` reports unknown settings (then a policy does not repeat them).
_GUARDED = {"active": False}


def guard_configuration() -> bool:
    """Report, as a mandatory stack-level finding, every policy name the configuration sets that
    the pack has no policy of. The Pulumi CLI passes them on to ``Configure`` without a word: it
    fills every policy's defaults, applies the document entry by entry (adding unknown names),
    and validates only the pack's own policies against their schemas, which allow unknown
    properties (pulumi ``pkg/resource/analyzer/config.go``: ``ReconcilePolicyPackConfig``,
    ``applyConfig``, ``validatePolicyPackConfig``, ``convertSchema``). A misspelt policy name
    would otherwise switch nothing on or off, silently; a misspelt setting would leave the
    default in force. Both are reported once per ``AnalyzeStack``; without this guard a policy
    reports its own unknown settings when it judges a resource (:class:`_Configuration`).

    Applies to the pulumi_policy versions the fast path supports (the servicer is private);
    True when active."""
    from pulumi_policy import policy as sdk
    from pulumi_policy.version import VERSION

    from .fastpath import SUPPORTED_VERSIONS

    base = getattr(sdk, "_PolicyAnalyzerServicer", None)
    if base is None or not str(VERSION).startswith(SUPPORTED_VERSIONS):
        return False
    if getattr(base, "_guards_configuration", False):
        return True
    proto = sdk.proto

    class Servicer(base):  # type: ignore[misc, valid-type]
        _guards_configuration = True

        def Configure(self, request, context):  # noqa: N802 (gRPC name)
            policies = {p.name: p for p in getattr(self, "_PolicyAnalyzerServicer__policies", [])}
            mistakes = [(n, unknown_policy_message(n, policies))
                        for n in unknown_policy_names(request.policyConfig, policies)] if policies else []
            for name, policy in sorted(policies.items()):
                if name not in request.policyConfig:
                    continue
                schema_ = getattr(policy, "config_schema", None)
                declared = set(getattr(schema_, "properties", None) or {})
                for key in sorted(set(request.policyConfig[name].properties) - declared):
                    mistakes.append((name, unknown_setting_message(name, key, declared)))
            self._mistakes = mistakes
            return super().Configure(request, context)

        def AnalyzeStack(self, request, context):  # noqa: N802
            response = super().AnalyzeStack(request, context)
            for name, message in getattr(self, "_mistakes", []):
                response.diagnostics.append(proto.AnalyzeDiagnostic(
                    policyName=name, policyPackName=getattr(self, "_PolicyAnalyzerServicer__policy_pack_name", ""),
                    policyPackVersion=getattr(self, "_PolicyAnalyzerServicer__policy_pack_version", ""),
                    message=message, urn="", description="a policy configuration entry names no policy",
                    enforcementLevel=proto.MANDATORY))
            return response

    Servicer.__name__ = Servicer.__qualname__ = base.__name__
    sdk._PolicyAnalyzerServicer = Servicer
    _GUARDED["active"] = True
    return True
