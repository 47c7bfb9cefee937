"""Exemptions: the named, owned, justified, expiring exceptions to the policies.

There are two sources, with one shape:

- ``policy_pack/exemptions.yaml``: the ONE place where system components (Falco's driver, the
  SPIRE agent, the SPIFFE CSI driver, the Istio CNI node agent, chart objects) get the narrowest
  exemption they need, and where a namespace may be allowed a Pod Security level below
  ``restricted``. The format is documented at the top of that file;
- the ``exemptions`` property of one policy's configuration (``--policy-pack-config``), for a
  stack's own exceptions; there the policy is implied by the key the entry sits under, and
  ``id`` and ``owner`` are optional.

An entry names ONE object: its exact ``kind`` and ``namespace`` (none for a cluster-scoped
object) and its ``name`` (exact; a glob only where the object's name is generated, and then, for
a kind that runs pods, only together with ``images``). With ``images`` (image repositories,
``registry/path`` without tag or digest) it applies only while every container image of the
object (containers, initContainers, ephemeralContainers) is from one of those repositories, so a
workload that merely reuses the name never inherits it.

The policies consult exemptions only once they have a finding: an active exemption makes the
policy not applicable to the object (with its id, owner, expiry and reason); an expired one
exempts nothing and is reported next to the finding. ``render`` refuses an expired entry of the
file (a component would otherwise deploy half-exempted), and ``render``, ``check`` and ``report``
warn about entries that expire within :data:`WARN_DAYS` days.

This module depends on the standard library and PyYAML only: the components import it from the
repository root (``from policy_pack.policies._lib.exemptions import namespace_pod_security``).
"""
from __future__ import annotations

import datetime as _dt
import difflib
import fnmatch
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from collections.abc import Mapping, Sequence
from typing import Any, Iterable, Optional, TextIO

import yaml

#: The built-in exemptions file.
DEFAULT_PATH = Path(__file__).resolve().parents[2] / "exemptions.yaml"
DEFAULT_SOURCE = "policy_pack/exemptions.yaml"
#: Where the policies live (one package per policy, named after it): the known policy names.
POLICIES_DIR = Path(__file__).resolve().parents[1]

#: Pod Security Standards levels, strictest first.
POD_SECURITY_LEVELS = ("restricted", "baseline", "privileged")
#: An entry expiring within this many days is warned about by render, check and report.
WARN_DAYS = 30

ENTRY_KEYS = ("id", "owner", "policies", "resource", "images", "namespacePodSecurity", "reason", "controls",
              "expires", "added", "when")
#: ``when``: the stack settings under which the named object exists (an entry for an object that
#: only some configurations deploy). ``equals`` maps a dotted stack-config path (``vault.edition``,
#: the section of ``hardened-stack:vault``) to its value; ``set``/``unset`` list paths that must be
#: present/absent. Outside those settings the entry is dormant: it names nothing and is not unused.
WHEN_KEYS = ("equals", "set", "unset")
#: An entry of the file that names no object of the render (like an unused ``noqa``) is a warning
#: for this many days after its ``added`` date, then an error that stops ``render``: an exemption
#: may be written just before the object it covers lands, never left behind after it is gone.
UNUSED_GRACE_DAYS = 14
RESOURCE_KEYS = ("kind", "namespace", "name")
OWNER_KEYS = ("team", "contact")
#: Kinds that run pods: a glob name on one of these needs ``images``.
POD_KINDS = frozenset({"Pod", "PodTemplate", "ReplicationController", "Deployment", "StatefulSet", "DaemonSet",
                       "ReplicaSet", "Job", "CronJob"})
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_GLOB = re.compile(r"[*?\[]")
_MIN_REASON = 10


try:  # libyaml parses and composes; the constructors below stay the same (Python)
    _SafeLoader = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - PyYAML built without libyaml
    _SafeLoader = yaml.SafeLoader  # type: ignore[misc]


class _Loader(_SafeLoader):  # type: ignore[misc, valid-type]
    """YAML without implicit dates (``expires`` is checked by :func:`parse_date`, which names the
    entry when the date is impossible, 2030-13-01, instead of failing inside the parser), whose
    mappings remember their line and their keys' lines (errors name ``file:line``)."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in _SafeLoader.yaml_implicit_resolvers.items()
}


class _Located(dict):
    """A YAML mapping with the line of its start and of each key (1-based)."""

    line: Optional[int] = None
    key_lines: Mapping[str, int] = {}


def _construct_located(loader: _Loader, node: yaml.MappingNode):
    data = _Located()
    data.line = node.start_mark.line + 1
    data.key_lines = {k.value: k.start_mark.line + 1 for k, _ in node.value if isinstance(k, yaml.ScalarNode)}
    yield data
    data.update(loader.construct_mapping(node))


_Loader.add_constructor("tag:yaml.org,2002:map", _construct_located)


class _PyLoader(yaml.SafeLoader):
    """The same loader on the pure-Python parser: only to word a syntax error."""


_PyLoader.yaml_implicit_resolvers = _Loader.yaml_implicit_resolvers
_PyLoader.add_constructor("tag:yaml.org,2002:map", _construct_located)


class ExemptionError(ValueError):
    """A malformed exemption; the message names the file and line (or the configuration), the
    entry, the field and the fix."""


@dataclass(frozen=True)
class Owner:
    team: str
    contact: str

    def __str__(self) -> str:
        return f"owner team {self.team!r}, contact {self.contact!r}"


def image_repository(ref: str) -> str:
    """``registry/path`` of an image reference, without tag or digest, as container runtimes
    read it (no registry host means Docker Hub; a single-component name there is ``library/<x>``)."""
    name = ref.partition("@")[0]
    slash, colon = name.rfind("/"), name.rfind(":")
    if colon > slash:
        name = name[:colon]
    first, sep, rest = name.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        registry, path = first.lower(), rest
    else:
        registry, path = "docker.io", name
    if registry in ("index.docker.io", "registry-1.docker.io"):
        registry = "docker.io"
    if registry == "docker.io" and "/" not in path:
        path = f"library/{path}"
    return f"{registry}/{path}"


@dataclass(frozen=True)
class Exemption:
    """One exemption: *policies* do not apply to the object it names until *expires*."""

    id: str
    policies: tuple[str, ...]
    kind: str
    namespace: Optional[str]
    name: str
    reason: str
    expires: _dt.date
    controls: tuple[str, ...] = ()
    namespace_pod_security: Optional[str] = None
    source: str = DEFAULT_SOURCE
    images: tuple[str, ...] = ()
    owner: Optional[Owner] = None
    line: Optional[int] = None
    added: Optional[_dt.date] = None
    when: Optional[Mapping[str, Any]] = None

    def applies_to(self, policy: str) -> bool:
        return policy in self.policies

    def matches(self, kind: str, namespace: Optional[str], name: str,
                images: Optional[Iterable[str]] = None) -> bool:
        """Whether this exemption names the object ``kind namespace/name`` running *images*.

        Kind and namespace are exact (an entry without a namespace names a cluster-scoped object
        only); the name is exact unless the entry gives a glob. With the entry's ``images``, every
        one of the object's *images* must be from a listed repository, and an object with no known
        image matches nothing. *images* None means the caller judges the identity only (tools that
        have no object); the policies always pass the object's images.
        """
        if kind != self.kind or (namespace or None) != self.namespace:
            return False
        if not (name == self.name or (_GLOB.search(self.name) and fnmatch.fnmatchcase(name or "", self.name))):
            return False
        if self.images and images is not None:
            found = list(images)
            return bool(found) and all(image_repository(i) in self.images for i in found)
        return True

    def expired(self, today: Optional[_dt.date] = None) -> bool:
        return (today or utc_today()) > self.expires

    def expires_within(self, days: int = WARN_DAYS, today: Optional[_dt.date] = None) -> bool:
        today = today or utc_today()
        return not self.expired(today) and (self.expires - today).days <= days

    @property
    def target(self) -> str:
        where = f"{self.namespace}/" if self.namespace is not None else ""
        images = f" running {', '.join(self.images)}" if self.images else ""
        return f"{self.kind} {where}{self.name}{images}"

    @property
    def location(self) -> str:
        return f"{self.source}:{self.line}" if self.line else self.source

    def describe(self) -> str:
        owner = f", {self.owner}" if self.owner else ""
        return f"exemption {self.id!r} ({self.location}{owner})"


def utc_today() -> _dt.date:
    return _dt.datetime.now(_dt.timezone.utc).date()


def known_policies() -> frozenset[str]:
    """The pack's policy names, from its policy packages (folder ``a_b_c`` holds policy ``a-b-c``;
    a house-rule test holds every folder to that)."""
    if not POLICIES_DIR.is_dir():
        return frozenset()
    return frozenset(p.name.replace("_", "-") for p in POLICIES_DIR.iterdir()
                     if p.is_dir() and not p.name.startswith(("_", ".")) and (p / "__init__.py").is_file())


# ---------------------------------------------------------------------------------------------
# Parsing
# ---------------------------------------------------------------------------------------------

class _Entry:
    """One entry being parsed: it builds errors that name the file and line of the field."""

    def __init__(self, entry: Mapping[str, Any], source: str, where: str, located: bool):
        self.entry = entry
        self.source = source
        self.where = where
        self.located = located
        self.label = where

    def line(self, key: Optional[str] = None, within: Optional[Mapping] = None) -> Optional[int]:
        node = within if within is not None else self.entry
        lines = getattr(node, "key_lines", {}) or {}
        return lines.get(key) if key in lines else getattr(node, "line", None)

    def fail(self, message: str, key: Optional[str] = None, within: Optional[Mapping] = None) -> ExemptionError:
        line = self.line(key, within) if self.located else None
        prefix = f"{self.source}:{line}: " if line else (f"{self.source}: " if self.located else "")
        return ExemptionError(f"{prefix}{self.label}: {message}")

    def string(self, key: str, required: bool = True, within: Optional[Mapping] = None,
               what: str = "") -> Optional[str]:
        node = within if within is not None else self.entry
        value = node.get(key)
        name = f"{what}.{key}" if what else key
        if value is None:
            if required:
                raise self.fail(f"'{name}' is required", key, within)
            return None
        if not isinstance(value, str) or not value.strip():
            raise self.fail(f"'{name}' must be a non-empty string, got {value!r}", key, within)
        return value.strip()


def _fail(where: str, message: str) -> ExemptionError:
    return ExemptionError(f"{where}: {message}")


def parse_date(value: Any, where: str) -> _dt.date:
    """``expires`` as a date: a YAML date or a ``YYYY-MM-DD`` string."""
    if isinstance(value, _dt.datetime):
        return value.date()
    if isinstance(value, _dt.date):
        return value
    if isinstance(value, str) and _DATE.match(value):
        try:
            return _dt.date.fromisoformat(value)
        except ValueError:
            pass
    raise _fail(where, f"'expires' must be a date written YYYY-MM-DD, got {value!r}")


def _unknown_keys(e: _Entry, node: Mapping, allowed: Sequence[str], what: str) -> None:
    unknown = sorted(set(map(str, node)) - set(allowed))
    if unknown:
        hints = []
        for key in unknown:
            close = difflib.get_close_matches(key, allowed, n=1)
            hints.append(repr(key) + (f" (did you mean {close[0]!r}?)" if close else ""))
        raise e.fail(f"unknown {what}field(s) {', '.join(hints)}; allowed: {', '.join(allowed)}",
                     unknown[0], node if node is not e.entry else None)


def _string_list(e: _Entry, key: str, what: str) -> tuple[str, ...]:
    value = e.entry.get(key)
    if value is None:
        return ()
    if (isinstance(value, str) or not isinstance(value, Sequence)
            or not all(isinstance(v, str) and v.strip() for v in value)):
        raise e.fail(f"'{key}' must be a list of {what}, got {value!r}", key)
    return tuple(v.strip() for v in value)


def parse_exemption(entry: Any, where: str, *, source: str = DEFAULT_SOURCE,
                    policy: Optional[str] = None, known: Optional[Iterable[str]] = None) -> Exemption:
    """One entry as an :class:`Exemption`.

    With *policy* (an entry from that policy's configuration) ``policies`` is implied and ``id``
    and ``owner`` are optional; otherwise all three are required. With *known* (the pack's policy
    names), a policy name outside it is an error.
    """
    located = isinstance(entry, _Located)
    e = _Entry(entry if isinstance(entry, Mapping) else {}, source, where, located)
    if not isinstance(entry, Mapping):
        raise e.fail(f"an exemption must be a mapping, got {type(entry).__name__}")
    _unknown_keys(e, entry, ENTRY_KEYS, "")
    ident = e.string("id", required=policy is None)
    if ident:
        e.label = f"{where} ({ident})"
    if policy is None:
        policies = entry.get("policies")
        if (not isinstance(policies, Sequence) or isinstance(policies, str) or not policies
                or not all(isinstance(p, str) and p for p in policies)):
            raise e.fail(f"'policies' must be a non-empty list of policy names, got {policies!r}", "policies")
        names = frozenset(known) if known is not None else None
        for p in policies:
            if names is not None and p not in names:
                close = difflib.get_close_matches(p, sorted(names), n=1)
                raise e.fail(f"'policies' names {p!r}, which is no policy of the pack"
                             + (f" (did you mean {close[0]!r}?)" if close else "; see docs/policies.md"), "policies")
        policies_t = tuple(policies)
    else:
        extra = entry.get("policies")
        if extra is not None and (isinstance(extra, str) or not isinstance(extra, Sequence)
                                  or list(extra) != [policy]):
            raise e.fail(f"'policies' is implied by the policy this entry configures ({policy}); remove it",
                         "policies")
        policies_t = (policy,)
    owner_raw = entry.get("owner")
    owner = None
    if owner_raw is None:
        if policy is None:
            raise e.fail("'owner' is required: {team: <team that answers for it>, contact: <email or channel>}")
    elif not isinstance(owner_raw, Mapping):
        raise e.fail(f"'owner' must be a mapping {{team: ..., contact: ...}}, got {owner_raw!r}", "owner")
    else:
        _unknown_keys(e, owner_raw, OWNER_KEYS, "owner ")
        owner = Owner(e.string("team", within=owner_raw, what="owner"), e.string("contact", within=owner_raw,
                                                                                    what="owner"))
    resource = entry.get("resource")
    if not isinstance(resource, Mapping):
        raise e.fail("'resource' is required: {kind: <Kind>, namespace: <namespace>, name: <name>}", "resource")
    _unknown_keys(e, resource, RESOURCE_KEYS, "resource ")
    kind = e.string("kind", within=resource, what="resource")
    name = e.string("name", within=resource, what="resource")
    namespace = e.string("namespace", required=False, within=resource, what="resource")
    for key, value in (("kind", kind), ("namespace", namespace)):
        if value is not None and _GLOB.search(value):
            raise e.fail(f"'resource.{key}' must be exact, got the glob {value!r}: name one {key}", key, resource)
    images = _string_list(e, "images", "image repositories (registry/path, no tag or digest)")
    for image in images:
        if "@" in image or image_repository(image) != image:
            raise e.fail(f"'images' entry {image!r} must be a full repository without tag or digest, e.g. "
                         f"{image_repository(image)!r}", "images")
    if _GLOB.search(name) and kind in POD_KINDS and not images:
        raise e.fail(f"'resource.name' is the glob {name!r} on a {kind}, which runs pods: add 'images' (the "
                     "repositories it runs) so another workload that reuses the name does not inherit the "
                     "exemption, or give the exact name", "name", resource)
    reason = e.string("reason")
    if len(reason) < _MIN_REASON:
        raise e.fail("'reason' must say why the exemption is needed and why it is the narrowest form", "reason")
    try:
        expires = parse_date(entry.get("expires"), "x")
    except ExemptionError as err:
        raise e.fail(str(err)[3:], "expires") from None
    controls = _string_list(e, "controls", "control references")
    added = None
    if entry.get("added") is not None:
        try:
            added = parse_date(entry.get("added"), "x")
        except ExemptionError as err:
            raise e.fail(str(err)[3:], "added") from None
        if added > expires:
            raise e.fail(f"'added' ({added.isoformat()}) is after 'expires' ({expires.isoformat()})", "added")
    when = entry.get("when")
    if when is not None:
        if not isinstance(when, Mapping) or not when:
            raise e.fail("'when' must be a mapping with equals, set or unset (the stack settings under which the "
                         "object exists)", "when")
        _unknown_keys(e, when, WHEN_KEYS, "when ")
        equals = when.get("equals", {})
        if not isinstance(equals, Mapping) or not all(isinstance(k, str) and k for k in equals):
            raise e.fail("'when.equals' must map dotted stack-config paths (vault.edition) to values", "when")
        for key in ("set", "unset"):
            paths = when.get(key, [])
            if isinstance(paths, str) or not isinstance(paths, Sequence) or not all(
                    isinstance(x, str) and x for x in paths):
                raise e.fail(f"'when.{key}' must be a list of dotted stack-config paths", "when")
        when = {"equals": dict(equals), "set": tuple(when.get("set", ())), "unset": tuple(when.get("unset", ()))}
    level = e.string("namespacePodSecurity", required=False)
    if level is not None:
        if level not in POD_SECURITY_LEVELS:
            raise e.fail(f"'namespacePodSecurity' must be one of {', '.join(POD_SECURITY_LEVELS)}, got {level!r}",
                         "namespacePodSecurity")
        if namespace is None:
            raise e.fail("'namespacePodSecurity' needs resource.namespace to name exactly one namespace",
                         "namespacePodSecurity")
    return Exemption(id=ident or f"{policies_t[0]}:{kind}/{namespace or ''}/{name}", policies=policies_t,
                     kind=kind, namespace=namespace, name=name, reason=reason, expires=expires,
                     controls=controls, namespace_pod_security=level, source=source, images=images,
                     owner=owner, line=getattr(entry, "line", None), added=added, when=when)


def parse_exemptions(entries: Any, *, source: str = DEFAULT_SOURCE, policy: Optional[str] = None,
                     where: str = "exemptions", known: Optional[Iterable[str]] = None) -> list[Exemption]:
    """A list of entries; raises :class:`ExemptionError` on the first malformed one."""
    if entries is None:
        return []
    if isinstance(entries, str) or not isinstance(entries, Sequence):
        raise ExemptionError(f"{where}: must be a list of exemptions, got {type(entries).__name__}")
    out: list[Exemption] = []
    seen: dict[str, Exemption] = {}
    for i, entry in enumerate(entries):
        ex = parse_exemption(entry, f"{where}[{i}]", source=source, policy=policy, known=known)
        if ex.id in seen:
            first = seen[ex.id]
            at = f"{source}:{ex.line}: " if ex.line else ""
            raise ExemptionError(f"{at}{where}[{i}]: duplicate id {ex.id!r} (also at line {first.line})"
                                 if first.line else f"{at}{where}[{i}]: duplicate id {ex.id!r}")
        seen[ex.id] = ex
        out.append(ex)
    return out


#: (path, source, known, size, mtime) -> the parsed entries (or the error): one parse per file
#: version per process (a render asks for the file once per constraint, issue 26).
_CACHE: dict[tuple, tuple[tuple[Exemption, ...], Optional[ExemptionError]]] = {}


def load_exemptions(path: Optional[Path | str] = None, *, known: Optional[Iterable[str]] = None) -> list[Exemption]:
    """The exemptions of *path* (default: ``policy_pack/exemptions.yaml``).

    A missing default file means no exemptions (the narrowest reading); a malformed file raises
    :class:`ExemptionError` naming the file, the line, the entry and the field. Policy names are
    checked against *known* (default: the pack's policies). A file is parsed once per process
    and version (its size and modification time): the entries are immutable.
    """
    file = Path(path) if path is not None else DEFAULT_PATH
    if path is None and not file.exists():
        return []
    source = DEFAULT_SOURCE if path is None or _same_file(file, DEFAULT_PATH) else str(file)
    if known is None:
        known = known_policies() or None
    try:
        stat = file.stat()
        key: Optional[tuple] = (str(file.resolve()), source, frozenset(known) if known is not None else None,
                                stat.st_size, stat.st_mtime_ns)
    except OSError:
        key = None
    if key is not None and key in _CACHE:
        entries, error = _CACHE[key]
        if error is not None:
            raise ExemptionError(str(error))
        return list(entries)
    try:
        entries = tuple(_load_exemptions(file, source, known))
    except ExemptionError as e:
        if key is not None:
            _CACHE[key] = ((), e)
        raise
    if key is not None:
        _CACHE[key] = (entries, None)
    return list(entries)


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve()
    except OSError:
        return False


def _load_exemptions(file: Path, source: str, known: Optional[Iterable[str]]) -> list[Exemption]:
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as e:
        raise ExemptionError(f"{source}: cannot be read: {e.strerror or e}") from None
    try:
        try:
            doc = yaml.load(text, Loader=_Loader)  # noqa: S506 (a safe loader)
        except yaml.YAMLError:
            # the pure-Python parser marks the line a person looks at (libyaml marks where it gave up)
            doc = yaml.load(text, Loader=_PyLoader)  # noqa: S506
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None) or getattr(e, "context_mark", None)
        at = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark else source
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise ExemptionError(f"{at}: not valid YAML: {problem}; fix the indentation or quoting there") from None
    if doc is None:
        return []
    if not isinstance(doc, Mapping) or set(doc) - {"exemptions"}:
        line = getattr(doc, "line", None)
        raise ExemptionError(f"{source}:{line or 1}: the file must be a mapping with one key, 'exemptions'")
    return parse_exemptions(doc.get("exemptions"), source=source, where="exemptions", known=known)


# ---------------------------------------------------------------------------------------------
# Queries
# ---------------------------------------------------------------------------------------------

def for_policy(exemptions: Iterable[Exemption], policy: str) -> tuple[Exemption, ...]:
    return tuple(e for e in exemptions if e.applies_to(policy))


def namespace_pod_security(namespace: str, exemptions: Optional[Iterable[Exemption]] = None,
                           today: Optional[_dt.date] = None) -> str:
    """The Pod Security Standards level *namespace* may enforce: ``restricted`` unless an
    unexpired exemption for that namespace says otherwise (the least strict such level)."""
    entries = load_exemptions() if exemptions is None else exemptions
    level = POD_SECURITY_LEVELS.index("restricted")
    for e in entries:
        if (e.namespace_pod_security and e.namespace == namespace and not e.expired(today)):
            level = max(level, POD_SECURITY_LEVELS.index(e.namespace_pod_security))
    return POD_SECURITY_LEVELS[level]


# ---------------------------------------------------------------------------------------------
# The commands' preflight: render, check and report read the file before anything else
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Review:
    """The exemptions file as a command sees it before it runs."""

    entries: tuple[Exemption, ...]
    error: Optional[str]                  # a malformed file: one line naming file:line and the fix
    expired: tuple[Exemption, ...]
    expiring: tuple[Exemption, ...]       # within WARN_DAYS days

    def active(self, today: Optional[_dt.date] = None) -> tuple[Exemption, ...]:
        return tuple(e for e in self.entries if not e.expired(today))


def review(path: Optional[Path | str] = None, today: Optional[_dt.date] = None,
           days: int = WARN_DAYS) -> Review:
    today = today or utc_today()
    try:
        entries = tuple(load_exemptions(path))
    except ExemptionError as e:
        return Review((), str(e), (), ())
    return Review(entries, None, tuple(e for e in entries if e.expired(today)),
                  tuple(e for e in entries if e.expires_within(days, today)))


_MISSING = object()


def _config_value(config: Mapping[str, Any], path: str) -> Any:
    node: Any = config
    for part in path.split("."):
        if not isinstance(node, Mapping) or part not in node or node[part] is None:
            return _MISSING
        node = node[part]
    return node


def condition_holds(e: Exemption, config: Mapping[str, Any]) -> bool:
    """Whether the stack settings *config* (sections by name: ``{"vault": {...}}``) deploy the
    object *e* names, by its ``when`` (an entry without one is for every stack)."""
    if not e.when:
        return True
    return (all(_config_value(config, k) == v for k, v in e.when["equals"].items())
            and all(_config_value(config, k) is not _MISSING for k in e.when["set"])
            and all(_config_value(config, k) is _MISSING for k in e.when["unset"]))


def unused(entries: Iterable[Exemption], objects: Iterable[tuple[str, Optional[str], str, Sequence[str]]],
           config: Optional[Mapping[str, Any]] = None) -> list[Exemption]:
    """The entries that name no object of *objects* (``(kind, namespace, name, images)`` of every
    object a render registered): they would apply to nothing, like an unused ``noqa``. Matching is
    the policies' own (:meth:`Exemption.matches`, images included). With the stack's settings
    *config*, an entry whose ``when`` does not hold is dormant, not unused; so is an entry for a
    namespace the render does not have at all (its component is off in this stack)."""
    objects = list(objects)
    namespaces = {ns for _, ns, _, _ in objects if ns} | {name for kind, ns, name, _ in objects
                                                          if kind == "Namespace" and not ns}
    return [e for e in entries
            if (config is None or condition_holds(e, config))
            and (e.namespace is None or e.namespace in namespaces)
            and not any(e.matches(kind, ns, name, images) for kind, ns, name, images in objects)]


def unused_overdue(e: Exemption, today: Optional[_dt.date] = None, grace: int = UNUSED_GRACE_DAYS) -> bool:
    """Whether an unused entry is past its grace period: ``added`` more than *grace* days ago, or
    no ``added`` date at all (an entry written before the date was recorded is not new)."""
    return e.added is None or ((today or utc_today()) - e.added).days > grace


def unused_message(e: Exemption, today: Optional[_dt.date] = None, grace: int = UNUSED_GRACE_DAYS) -> str:
    if unused_overdue(e, today, grace):
        since = f"added {e.added.isoformat()}, more than {grace} days ago" if e.added else "no 'added' date"
        return (f"{e.describe()} names {e.target}, which the render does not contain ({since}): it applies to "
                f"nothing; remove the entry, or fix its resource and images")
    left = grace - ((today or utc_today()) - e.added).days
    return (f"{e.describe()} names {e.target}, which the render does not contain: it applies to nothing; "
            f"render fails on it in {left} day{'s' if left != 1 else ''} (added {e.added.isoformat()}) unless the "
            f"object lands or the entry is removed")


def expired_message(e: Exemption) -> str:
    return (f"{e.describe()} for {e.target} expired on {e.expires.isoformat()}: it no longer exempts anything, so "
            f"the stack would deploy half-exempted; renew it with a fresh review and date, or remove it")


def expiring_message(e: Exemption, today: Optional[_dt.date] = None) -> str:
    days = (e.expires - (today or utc_today())).days
    when = "today" if days == 0 else f"in {days} day{'s' if days != 1 else ''}"
    return (f"{e.describe()} for {e.target} expires {when} ({e.expires.isoformat()}); review and renew it "
            f"before then, or fix the object and remove it")


def preflight(command: str, *, fail_on_expired: bool, path: Optional[Path | str] = None,
              today: Optional[_dt.date] = None, stream: Optional[TextIO] = None) -> bool:
    """Read the exemptions file for *command* and print one line per problem to *stream*
    (stderr): a malformed file is an error; an expired entry is an error when *fail_on_expired*
    (``render``), else a warning; an entry expiring within :data:`WARN_DAYS` days is a warning.
    False when the command must stop (exit 2)."""
    out = stream or sys.stderr
    result = review(path, today)
    if result.error:
        print(f"{command}: error: {result.error}", file=out)
        return False
    for e in result.expired:
        print(f"{command}: {'error' if fail_on_expired else 'warning'}: {expired_message(e)}", file=out)
    for e in result.expiring:
        print(f"{command}: warning: {expiring_message(e, today)}", file=out)
    return not (fail_on_expired and result.expired)
