"""``hardened check PATH... [--format FORMAT [--output FILE]]... [options]``

Run the policy pack over Kubernetes YAML (the output of ``render`` or ``helm template``, any
files or directories, ``-`` for standard input), exactly as ``pulumi preview --policy-pack
policy_pack`` would run it: the pack in its own process, driven over the Analyzer gRPC protocol.
Inputs are read as ``kubectl apply -R -f`` reads them (hardened.manifests); an object defined more
than once is judged by its last definition, and each such object is warned about on stderr (and
listed under ``duplicates`` in the JSON report).

Formats: text (default), json (schema: docs/schema/check-result.v1.json), sarif (GitHub code
scanning), junit (JUnit XML), github (GitHub Actions annotations). Each --format may be followed
by its own --output FILE; a last --format without one goes to standard output, e.g.
``--format sarif --output check.sarif --format text``.

Exit status: 0 with no mandatory violation (or with --soft-fail), 1 with any (with --fail-on, any
of at least that severity), 2 when the input, the flags or the configuration cannot be used (the
message names the file and line) or the pack cannot run.
"""
from __future__ import annotations

import argparse
import contextlib
import datetime as _dt
import hashlib
import json
import os
import re
import subprocess
import sys
from collections import OrderedDict
from pathlib import Path
from typing import Any, Iterable, Iterator, Optional, TextIO
from xml.etree import ElementTree as ET

from .analyzer import DEFAULT_PACK, Analysis, PolicyInfo, PolicyPackProcess, Verdict
from .console import Console, UserError, did_you_mean, paint, plural, use_color
from .formats import FORMATS, Report, Suppression
from .gcpause import without_cyclic_gc
from .manifests import (DEFAULT_STACK, RESOURCES_JSON, ManifestError, Resource, display_path, load_path,  # noqa: F401
                        load_text, stream_resources)
from .origin import Locator, Origin

SEVERITIES = ("low", "medium", "high", "critical")
SEVERITY_RANK = {"critical": 0, "high": 1, "medium": 2, "low": 3, "": 4}
#: GitHub code scanning ranks security alerts by this score (its documented bands).
SECURITY_SEVERITY = {"critical": "9.5", "high": "8.0", "medium": "5.5", "low": "3.0", "": "5.0"}
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
#: The JSON format's version (docs/schema/check-result.v<N>.json; see docs/cli.md for the promise).
JSON_FORMAT_VERSION = 1
#: The schema's path in the repository, and its URL (``$schema`` of every report and ``$id`` of the
#: schema): the file itself on the repository's default branch (pyproject.toml [project.urls]
#: Repository), which a validator can fetch (tests/check/test_consistency.py holds them together).
JSON_SCHEMA_PATH = "docs/schema/check-result.v1.json"
JSON_SCHEMA_ID = f"https://raw.githubusercontent.com/lego-mcp/hardened-stack/main/{JSON_SCHEMA_PATH}"
#: The repository configuration file: flags for ``check`` (see :func:`apply_repo_config`).
REPO_CONFIG = ".hardened.yaml"
#: The inline suppression annotation: ``hardened.io/skip-<policy>: <reason>``.
SKIP_ANNOTATION = "hardened.io/skip-"
#: The baseline file's format version.
BASELINE_VERSION = 1
#: An exemption that expires within this many days is announced with a warning.
EXPIRY_WARNING_DAYS = 30


# ---------------------------------------------------------------------------------------------
# What every format shares
# ---------------------------------------------------------------------------------------------

#: Reports whose findings lie in at least this many files place them on two cores (Findings.locate).
PARALLEL_LOCATE_FILES = 400


class Findings:
    """An analysis plus where each verdict points (field line, stack config key)."""

    def __init__(self, analysis: Analysis, locator: Optional[Locator] = None, fallback_file: Optional[str] = None):
        self.analysis = analysis
        self.fallback_file = fallback_file
        self.locator = locator or Locator(analysis.resources)
        self._origins: dict[int, Origin] = {}

    def origin(self, v: Verdict) -> Origin:
        key = id(v)
        if key not in self._origins:
            self._origins[key] = self.locator.origin(v.resource, v.message, self.fallback_file, v.policy)
        return self._origins[key]

    def locate(self, verdicts: list[Verdict]) -> None:
        """Work out where each of *verdicts* points, on two cores when there are many files to read
        (each file holding findings is read and composed again to place them: most of a report's
        time): a forked child places the findings of the later half of the files and hands its
        origins back through a pipe, the parent places the others. What the child could not hand
        back is placed later, as :meth:`origin` places any verdict."""
        groups: list[list[Verdict]] = []  # the verdicts of each file in a row
        last: Any = object()
        for v in verdicts:
            file = v.resource.file if v.resource is not None else None
            if file == last:
                groups[-1].append(v)
            else:
                groups.append([v])
                last = file
        if len(groups) < PARALLEL_LOCATE_FILES:
            return
        half = len(groups) // 2
        mine = [v for group in groups[:half] for v in group]
        theirs = [v for group in groups[half:] for v in group]
        import pickle
        import time

        from policy_pack.policies._lib.parallel import MIN_WAIT, answer, forked

        child = forked(lambda: pickle.dumps([self.origin(v) for v in theirs]))
        if child is None:
            return
        started = time.monotonic()
        try:
            for v in mine:
                self.origin(v)
        finally:
            data = answer(*child, max(MIN_WAIT, 4 * (time.monotonic() - started)))
        if data is not None:
            for v, origin in zip(theirs, pickle.loads(data)):
                self._origins[id(v)] = origin


def _place_json(origin: Origin) -> dict:
    p = origin.primary
    out: dict[str, Any] = {"file": p.file, "line": p.line, "column": p.column}
    if origin.config_key:
        out["configKey"] = origin.config_key
    if origin.related:
        r = origin.related[0]
        out["rendered"] = {"file": r.file, "line": r.line, "column": r.column}
    return out


def resource_json(r: Optional[Resource]) -> Optional[dict]:
    if r is None:
        return None
    return {"kind": r.kind, "namespace": r.namespace, "name": r.object_name, "type": r.type, "urn": r.urn,
            "file": r.file, "line": r.line}


def policy_json(p: PolicyInfo) -> dict:
    return {"name": p.name, "description": p.description, "type": p.type, "enforcementLevel": p.enforcement_level,
            "severity": p.severity, "framework": dict(p.framework), "tags": list(p.tags),
            "remediation": p.remediation, "url": _absolute(p.url)}


def _absolute(url: str) -> str:
    """A policy's docs link (``docs/policies.md#<name>``) as a URL into the repository."""
    from .project import docs_url

    return docs_url(url) if url else ""


def violation_json(v: Verdict, policies: dict[str, PolicyInfo], origin: Optional[Origin] = None,
                   urls: Optional[dict[str, str]] = None) -> dict:
    """A verdict in the json format; *urls* (policy -> its docs URL, :func:`_absolute`) spares
    working each one out again for every verdict."""
    p = policies.get(v.policy)
    out = {
        "policy": v.policy,
        "enforcementLevel": v.enforcement_level,
        "severity": v.severity,
        "message": v.message,
        "resource": resource_json(v.resource),
        "framework": dict(p.framework) if p else {},
        "tags": list(p.tags) if p else [],
        "remediation": p.remediation if p else "",
        "url": (urls[v.policy] if urls is not None and v.policy in urls else _absolute(p.url)) if p else "",
    }
    if origin is not None:
        out["location"] = _place_json(origin)
    return out


def to_json(analysis: Analysis, findings: Optional[Findings] = None, failed: Optional[bool] = None,
            lazy: bool = False) -> dict:
    """The json format's document. With *lazy*, ``violations`` and ``exemptions`` are iterators
    (one item built at a time, for a writer that streams them: see hardened/formats/json_format.py)."""
    findings = findings or Findings(analysis)
    listed = iter if lazy else list
    analyzed = sum(1 for r in analysis.resources if r.analyzed)
    urls = {name: _absolute(p.url) for name, p in analysis.policies.items()}
    from . import __version__

    return {
        "$schema": JSON_SCHEMA_ID,
        "version": JSON_FORMAT_VERSION,
        "tool": {"name": "hardened check", "version": __version__,
                 "pack": {"name": analysis.pack, "version": analysis.version}},
        "summary": {
            "resources": len(analysis.resources), "analyzed": analyzed, "policies": len(analysis.policies),
            "violations": len(analysis.verdicts), "mandatory": len(analysis.mandatory),
            "advisory": len(analysis.advisory), "exempted": len(analysis.exempted), "passed": analysis.passed,
            "failed": (not analysis.passed) if failed is None else failed,
        },
        "violations": listed(violation_json(v, analysis.policies, findings.origin(v), urls) for v in analysis.verdicts),
        "exemptions": listed({"policy": e.policy, "resource": resource_json(e.resource), "reason": e.reason}
                             for e in analysis.exempted),
        "policies": [policy_json(analysis.policies[n]) for n in sorted(analysis.policies)],
    }


# ---------------------------------------------------------------------------------------------
# Text
# ---------------------------------------------------------------------------------------------

def _groups(analysis: Analysis) -> "OrderedDict[str, list[Verdict]]":
    groups: "OrderedDict[str, list[Verdict]]" = OrderedDict()
    for v in analysis.verdicts:
        groups.setdefault(v.resource.urn if v.resource else "", []).append(v)
    return groups


def summary_line(analysis: Analysis, failing: Optional[list[Verdict]] = None) -> str:
    affected = len({v.urn for v in analysis.verdicts if v.urn})
    stack_level = any(not v.urn for v in analysis.verdicts)
    where = (plural(affected, "resource") + (" and the stack" if stack_level else "")) if affected else "the stack"
    from . import __version__

    pack = f"{analysis.pack} {analysis.version}" if analysis.version == __version__ else \
        f"{analysis.pack} {analysis.version}, hardened {__version__}"
    summary = (f"{plural(len(analysis.resources), 'resource')}, {plural(len(analysis.policies), 'policy')} "
               f"({pack}), {analysis.seconds:.2f}s: ")
    mandatory, advisory = len(analysis.mandatory), len(analysis.advisory)
    failing = analysis.mandatory if failing is None else failing
    if mandatory:
        counts = (f"{plural(mandatory, 'mandatory violation')} and {plural(advisory, 'advisory violation')} "
                  f"in {where}")
        summary += f"FAILED with {counts}" if failing else f"passed (not failing on them) with {counts}"
    elif advisory:
        summary += f"passed; {plural(advisory, 'advisory violation')} in {where}"
    else:
        summary += "passed; no violation"
    if analysis.exempted:
        summary += f"; {plural(len(analysis.exempted), 'exemption')} applied"
    return summary


def format_text(analysis: Analysis, findings: Optional[Findings] = None, color: bool = False,
                failing: Optional[list[Verdict]] = None, show_exemptions: bool = False) -> str:
    findings = findings or Findings(analysis)
    lines: list[str] = []
    for _, verdicts in _groups(analysis).items():
        r = verdicts[0].resource
        header = f"{r.location}  {r.label}" if r else "stack (no single resource)"
        lines.append(paint(header, "bold", color))
        for v in sorted(verdicts, key=lambda v: (not v.mandatory, SEVERITY_RANK.get(v.severity, 4), v.policy,
                                                 v.message)):
            p = analysis.policies.get(v.policy)
            level = "MANDATORY" if v.mandatory else v.enforcement_level
            control = f"  [{p.control}]" if p and p.control else ""
            lines.append(f"  {paint(f'{level:<9}', 'red+bold' if v.mandatory else 'yellow', color)} "
                         f"{v.severity or '-':<8} {v.policy}{control}")
            for part in v.message.splitlines() or [""]:
                lines.append(f"      {part}")
            o = findings.origin(v)
            if o.config_key and o.primary.file:
                lines.append(paint(f"      from {display_path(o.primary.file)}:{o.primary.line}: "
                                   f"{o.config_key}", "dim", color))
        lines.append("")
    if analysis.exempted:
        # one line in all (--show-exemptions: one per object, the policies lifted and the entries
        # that lift them; reasons, owners and expiry are in --format json/sarif, the report and
        # policy_pack/exemptions.yaml)
        by_object: "OrderedDict[str, dict[str, list[str]]]" = OrderedDict()
        for e in analysis.exempted:
            label = e.resource.label if e.resource else e.urn
            entry = re.search(r"exemption '([^']+)'", e.reason)
            by_object.setdefault(label, {}).setdefault(entry.group(1) if entry else "?", []).append(e.policy)
        entries_used = {i for entries in by_object.values() for i in entries}
        if not show_exemptions:
            lines.append(f"exempted: {plural(len(analysis.exempted), 'policy finding')} on "
                         f"{plural(len(by_object), 'object')} by {plural(len(entries_used), 'named entry')} "
                         "(list: --show-exemptions; reasons, owners, expiry: --format json or sarif, the report)")
        else:
            lines.append(f"exempted ({plural(len(analysis.exempted), 'policy finding')} on "
                         f"{plural(len(by_object), 'object')}; reasons in --format json):")
            for label, entries in by_object.items():
                lines.append(f"  {label}: " + "; ".join(f"{', '.join(sorted(set(ps)))} ({i})"
                                                        for i, ps in entries.items()))
        lines.append("")
    summary = summary_line(analysis, failing)
    lines.append(paint(summary, ("red+bold" if "FAILED" in summary else "green"), color))
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------
# SARIF 2.1.0 (GitHub code scanning)
# ---------------------------------------------------------------------------------------------

def _sarif_level(enforcement_level: str) -> str:
    return {"mandatory": "error", "remediate": "error", "advisory": "warning", "disabled": "none"}.get(
        enforcement_level, "warning")


def source_root(cwd: Optional[str] = None) -> str:
    """The directory SARIF URIs are relative to: the git top level of *cwd*, else *cwd*."""
    cwd = cwd or os.getcwd()
    try:
        top = subprocess.run(["git", "rev-parse", "--show-toplevel"], cwd=cwd, capture_output=True, text=True,
                             timeout=10)
        if top.returncode == 0 and top.stdout.strip():
            return top.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        pass
    return cwd


def _artifact(file: str, root: str) -> dict:
    absolute = os.path.abspath(file)
    base = root.rstrip(os.sep) + os.sep
    if absolute.startswith(base):
        return {"uri": absolute[len(base):].replace(os.sep, "/"), "uriBaseId": "%SRCROOT%"}
    return {"uri": Path(absolute).as_uri()}


def _region(line: int, column: Optional[int]) -> dict:
    region = {"startLine": max(1, line or 1)}
    if column:
        region["startColumn"] = column
    return region


def _rule(p: PolicyInfo) -> dict:
    from .project import docs_url

    help_text = p.remediation or p.description
    refs = [f"Control: {p.control}"] if p.control else []
    if p.tags:
        refs.append("Also: " + ", ".join(p.tags))
    url = docs_url(p.url) if p.url else ""
    if url:
        refs.append(f"Documentation: {url}")
    rule: dict[str, Any] = {
        "id": p.name,
        "name": "".join(part.title() for part in p.name.split("-")),
        "shortDescription": {"text": p.description},
        "fullDescription": {"text": p.description},
        "help": {"text": "\n\n".join([help_text, *refs]),
                 "markdown": "\n\n".join([help_text, *(f"*{r}*" for r in refs)])},
        "defaultConfiguration": {"level": _sarif_level(p.enforcement_level)},
        "properties": {
            "tags": ["security", *p.tags],
            "precision": "high",
            "problem.severity": "error" if p.enforcement_level == "mandatory" else "warning",
            "security-severity": SECURITY_SEVERITY.get(p.severity, "5.0"),
            "framework": dict(p.framework),
        },
    }
    if url.startswith(("https://", "http://")):
        rule["helpUri"] = url
    return rule


def _sarif_location(place, root: str, label: str, urn: str) -> dict:
    location: dict[str, Any] = {}
    if place.file and not place.file.startswith("<"):
        location["physicalLocation"] = {"artifactLocation": _artifact(place.file, root),
                                        "region": _region(place.line, place.column)}
    location["logicalLocations"] = [{"name": label, "fullyQualifiedName": urn or "stack", "kind": "resource"}]
    return location


def to_sarif(analysis: Analysis, fallback_file: Optional[str] = None, findings: Optional[Findings] = None,
             root: Optional[str] = None) -> dict:
    from . import __version__

    findings = findings or Findings(analysis, fallback_file=fallback_file)
    root = root or source_root()
    names = sorted(analysis.policies)
    index = {n: i for i, n in enumerate(names)}
    results = []
    for v in analysis.verdicts:
        r = v.resource
        origin = findings.origin(v)
        label = r.label if r else "stack"
        fingerprint = hashlib.sha256(f"{v.policy}\0{v.urn}\0{v.message}".encode()).hexdigest()
        result: dict[str, Any] = {
            "ruleId": v.policy,
            "level": _sarif_level(v.enforcement_level),
            "message": {"text": f"{label}: {v.message}" if r else v.message},
            "locations": [_sarif_location(origin.primary, root, label, v.urn)],
            "partialFingerprints": {"hardenedCheck/v1": fingerprint},
            "properties": {"enforcementLevel": v.enforcement_level, "severity": v.severity},
        }
        if origin.config_key:
            result["properties"]["configKey"] = origin.config_key
        related = [_sarif_location(p, root, label, v.urn) for p in origin.related if p.file]
        related = [dict(loc, id=i + 1, message={"text": "the rendered manifest"})
                   for i, loc in enumerate(related) if "physicalLocation" in loc]
        if related:
            result["relatedLocations"] = related
        if v.policy in index:
            result["ruleIndex"] = index[v.policy]
        results.append(result)
    for e in analysis.exempted:
        r = e.resource
        label = r.label if r else e.urn
        place = findings.locator.field_place(r, "") if r is not None else None
        result = {
            "ruleId": e.policy,
            "level": "note",
            "message": {"text": f"{label}: not judged by {e.policy}: {e.reason}"},
            "locations": [_sarif_location(place, root, label, e.urn)] if place else [],
            "partialFingerprints": {"hardenedCheck/v1": hashlib.sha256(
                f"{e.policy}\0{e.urn}\0exempted".encode()).hexdigest()},
            "suppressions": [{"kind": "external", "status": "accepted", "justification": e.reason}],
        }
        if e.policy in index:
            result["ruleIndex"] = index[e.policy]
        results.append(result)
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "hardened-stack policy pack",
                "version": __version__,
                "semanticVersion": analysis.version or "0.0.0",
                "informationUri": _information_uri(),
                "rules": [_rule(analysis.policies[n]) for n in names],
            }},
            "automationDetails": {"id": f"hardened-check/{analysis.pack}/"},
            "originalUriBaseIds": {"%SRCROOT%": {"uri": Path(root).as_uri().rstrip("/") + "/"}},
            "columnKind": "unicodeCodePoints",
            "results": results,
        }],
    }


def _information_uri() -> str:
    from .project import docs_url

    url = docs_url("docs/policies.md")
    return url if url.startswith("http") else "https://www.pulumi.com/docs/iac/using-pulumi/crossguard/"


# ---------------------------------------------------------------------------------------------
# JUnit XML and GitHub Actions annotations
# ---------------------------------------------------------------------------------------------

def to_junit(analysis: Analysis, findings: Optional[Findings] = None) -> str:
    """One ``testsuite`` per policy; one failing ``testcase`` per violation, a skipped one per
    exemption, and one passing ``testcase`` for a policy with neither."""
    findings = findings or Findings(analysis)
    root = ET.Element("testsuites", name="hardened check", tests="0", failures="0", skipped="0",
                      time=f"{analysis.seconds:.3f}")
    totals = [0, 0, 0]
    for name in sorted(analysis.policies):
        p = analysis.policies[name]
        verdicts = analysis.by_policy(name)
        exempted = [e for e in analysis.exempted if e.policy == name]
        suite = ET.SubElement(root, "testsuite", name=name, tests="0", failures="0", skipped="0")
        cases = 0
        failures = 0
        for v in verdicts:
            o = findings.origin(v)
            case = ET.SubElement(suite, "testcase", classname=name,
                                 name=v.resource.label if v.resource else "stack",
                                 file=o.primary.file or "", line=str(o.primary.line))
            failure = ET.SubElement(case, "failure", type=v.enforcement_level,
                                    message=v.message.splitlines()[0] if v.message else name)
            failure.text = "\n".join(x for x in (v.message, f"Control: {p.control}" if p.control else "",
                                                 f"Fix: {p.remediation}" if p.remediation else "") if x)
            cases += 1
            failures += 1
        for e in exempted:
            case = ET.SubElement(suite, "testcase", classname=name, name=e.resource.label if e.resource else e.urn)
            ET.SubElement(case, "skipped", message=e.reason)
            cases += 1
        if not cases:
            ET.SubElement(suite, "testcase", classname=name, name=f"{name}: no violation")
            cases = 1
        suite.set("tests", str(cases))
        suite.set("failures", str(failures))
        suite.set("skipped", str(len(exempted)))
        totals = [totals[0] + cases, totals[1] + failures, totals[2] + len(exempted)]
    root.set("tests", str(totals[0]))
    root.set("failures", str(totals[1]))
    root.set("skipped", str(totals[2]))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def escape_data(text: str) -> str:
    """A workflow command's message: ``%``, CR and LF escaped (GitHub's toolkit rules)."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """A workflow command's property value: as data, plus ``:`` and ``,``."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def to_github(analysis: Analysis, findings: Optional[Findings] = None, root: Optional[str] = None) -> str:
    """``::error file=...,line=...,col=...,title=...::message`` per violation (``warning`` for advisory)."""
    findings = findings or Findings(analysis)
    root = root or source_root()
    out = []
    for v in analysis.verdicts:
        o = findings.origin(v)
        props = []
        if o.primary.file and not o.primary.file.startswith("<"):
            artifact = _artifact(o.primary.file, root)
            props.append(f"file={escape_property(artifact['uri'].removeprefix('file://'))}")
            props.append(f"line={o.primary.line}")
            if o.primary.column:
                props.append(f"col={o.primary.column}")
        p = analysis.policies.get(v.policy)
        title = f"{v.policy} ({v.severity})" if v.severity else v.policy
        props.append(f"title={escape_property(title)}")
        label = v.resource.label if v.resource else "stack"
        text = f"{label}: {v.message}"
        if p and p.remediation:
            text += f"\nFix: {p.remediation}"
        out.append(f"::{'error' if v.mandatory else 'warning'} {','.join(props)}::{escape_data(text)}")
    out.append(f"::notice title=hardened check::{escape_data(summary_line(analysis))}")
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------------------------------------
# The command
# ---------------------------------------------------------------------------------------------

class _Ordered(argparse.Action):
    """--format and --output, kept in the order given so each output pairs with its format."""

    def __call__(self, parser, namespace, values, option_string=None):
        items = list(getattr(namespace, "outputs_in_order", None) or [])
        items.append((self.dest, values))
        setattr(namespace, "outputs_in_order", items)
        setattr(namespace, self.dest, values)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="*", metavar="PATH",
                        help="Kubernetes YAML files or directories (a render directory is read through "
                             "resources.json; a Helm chart directory is rendered with its default values); "
                             "- reads standard input")
    out = parser.add_argument_group("output")
    out.add_argument("--format", "-f", action=_Ordered, choices=FORMATS, default="text",
                     help=f"{', '.join(FORMATS)} (default text); repeatable, each with its own --output")
    out.add_argument("--output", "-o", action=_Ordered, metavar="FILE",
                     help="write the preceding --format here (- for standard output)")
    out.add_argument("--color", choices=("auto", "always", "never"), default="auto",
                     help="colour the text format: auto (default) on a terminal unless NO_COLOR is set")
    out.add_argument("--quiet", "-q", action="store_true",
                     help="no info or progress lines on stderr (warnings and errors are still shown)")
    out.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                     help="progress on stderr during long runs (default: only when stderr is a terminal)")
    out.add_argument("--show-exemptions", action="store_true",
                     help="text format: list each exempted object with the policies lifted and the entries "
                          "(default: one summary line)")
    out.add_argument("--stdin-name", metavar="NAME", default="<stdin>",
                     help="the file name reports give to standard input (default <stdin>)")
    out.add_argument("--list-policies", action="store_true",
                     help="list the pack's policies (id, severity, controls, docs URL) and exit; "
                          "--format json for JSON")
    inp = parser.add_argument_group("inputs")
    inp.add_argument("--skip-path", action="append", default=[], metavar="GLOB",
                     help="leave out files and folders matching GLOB (its path under the PATH given, its "
                          "path or its name: 'values*.yaml', '.github/*'); repeatable")
    inp.add_argument("--values", metavar="FILE",
                     help="values for every Helm chart directory given (default: the chart's own values.yaml)")
    inp.add_argument("--repo-config", metavar="FILE",
                     help=f"flags from this file (default: {REPO_CONFIG} in the working directory or the git "
                          "top level, when present); flags on the command line win")
    sel = parser.add_argument_group("policies and exit status")
    sel.add_argument("--policy", action="append", default=[], metavar="NAME",
                     help="run only this policy (repeatable)")
    sel.add_argument("--skip-policy", action="append", default=[], metavar="NAME",
                     help="do not run this policy (repeatable)")
    sel.add_argument("--fail-on", choices=SEVERITIES, metavar="SEVERITY",
                     help="exit 1 only for mandatory violations of this severity or higher "
                          f"({', '.join(SEVERITIES)}; default: any mandatory violation)")
    sel.add_argument("--soft-fail", action="store_true",
                     help="exit 0 even with mandatory violations (errors still exit 2)")
    sel.add_argument("--baseline", metavar="FILE",
                     help="accept the findings listed in FILE (written by --write-baseline): only new ones "
                          "are reported and fail the run (the accepted ones are suppressions in json/sarif)")
    sel.add_argument("--write-baseline", metavar="FILE",
                     help="write today's findings to FILE as the baseline, and accept them in this run")
    cfg = parser.add_argument_group("configuration")
    cfg.add_argument("--config", metavar="FILE",
                     help="policy configuration, the JSON document `pulumi preview --policy-pack-config` takes")
    cfg.add_argument("--stack", default=DEFAULT_STACK,
                     help=f"stack name used in URNs of plain manifests (default {DEFAULT_STACK})")
    cfg.add_argument("--stack-file", metavar="FILE",
                     help="the Pulumi.<stack>.yaml a rendered stack came from (default: found by the stack "
                          "name in the working directory, the git top level or this repository)")
    cfg.add_argument("--policy-pack", default=str(DEFAULT_PACK), metavar="DIR",
                     help="the policy pack directory (default: this repository's policy_pack)")


def plan_outputs(args: argparse.Namespace) -> list[tuple[str, Optional[str]]]:
    """``[(format, file or None for stdout)]`` from --format/--output in the order given.

    Each --output belongs to the closest --format before it that has none yet (an --output given
    before any --format waits for the next one, or is the text report's); a format left without
    an --output goes to standard output, and only one may: ``--format sarif --output x.sarif
    --format text`` writes SARIF to x.sarif and text to stdout."""
    items = getattr(args, "outputs_in_order", None) or []
    plan: list[list] = []
    pending: list[str] = []
    for kind, value in items:
        if kind == "format":
            plan.append([value, pending.pop(0) if pending else None])
            continue
        open_slot = next((p for p in reversed(plan) if p[1] is None), None)
        if open_slot is not None:
            open_slot[1] = value
        else:
            pending.append(value)
    if pending:
        if plan or len(pending) > 1:
            raise UserError(f"--output {pending[-1]} has no --format to write; give each --output after its "
                            "--format, e.g. --format sarif --output check.sarif --format text")
        plan.append(["text", pending.pop()])
    if not plan:
        plan = [["text", None]]
    to_stdout = [f for f, o in plan if o in (None, "-")]
    if len(to_stdout) > 1:
        raise UserError(f"only one format can go to standard output, and {', '.join(to_stdout)} have no --output; "
                        "give each but one an --output FILE")
    seen: dict[str, str] = {}
    for fmt, path in plan:
        if path in (None, "-"):
            continue
        key = os.path.abspath(path)
        if key in seen:
            raise UserError(f"--output {path} is given for both {seen[key]} and {fmt}")
        seen[key] = fmt
    return [(f, None if o in (None, "-") else o) for f, o in plan]


def _check_writable(path: str) -> None:
    """An --output that cannot be written is an error before the run, not after it."""
    target = Path(path)
    if target.is_dir():
        raise UserError(f"cannot write {path}: it is a directory")
    existed = target.exists()
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(target, "a", encoding="utf-8"):
            pass
    except OSError as e:
        raise UserError(f"cannot write {path}: {e.strerror or e}") from None
    if not existed:
        target.unlink(missing_ok=True)


@contextlib.contextmanager
def _writing(path: str) -> Iterator[TextIO]:
    """*path* open for writing text (its folder made); an OS error is the user's: ``cannot write``."""
    try:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        with open(path, "w", encoding="utf-8") as fh:
            yield fh
    except OSError as e:
        raise UserError(f"cannot write {path}: {e.strerror or e}") from None




def _write(path: str, text: str) -> None:
    with _writing(path) as fh:
        fh.write(text)


def _read_config(path: str) -> Any:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as e:
        raise UserError(f"{path}: cannot read: {e.strerror or e}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise UserError(f"{path}:{e.lineno}:{e.colno}: not valid JSON: {e.msg}") from None


def _stack_policy_configs(paths: list[str]) -> list[str]:
    """The distinct ``policy-config.json`` files that ``render`` left in the directories of *paths*."""
    from .policyconfig import FILE_NAME

    found: dict[str, str] = {}
    for raw in paths:
        candidate = Path(raw) / FILE_NAME
        if raw != "-" and Path(raw).is_dir() and candidate.is_file():
            found.setdefault(candidate.read_text(encoding="utf-8"), display_path(candidate))
    return list(found.values())


def _fallback_file(paths: list[str], resources: list[Resource]) -> Optional[str]:
    for raw in paths:
        if raw == "-":
            continue
        candidate = Path(raw) / RESOURCES_JSON if Path(raw).is_dir() else Path(raw)
        if candidate.is_file():
            return display_path(candidate)
    return next((r.file for r in resources if r.file), None)


def read_inputs(paths: list[str], *, stack: str, stdin: TextIO, stdin_name: str,
                duplicates: Optional[list] = None, notes: Optional[list] = None, skip: Iterable[str] = (),
                chart_values: Optional[dict] = None, warnings: Optional[list] = None,
                texts: Optional[dict] = None) -> Iterator[Resource]:
    """The resources of *paths* as they are read (``-`` is standard input, read once):
    hardened.manifests.stream_resources. An object defined more than once is yielded at each
    definition and the earlier ones are marked ``superseded`` (the analysis drops them; the
    objects defined more than once go to *duplicates*); inputs skipped are described in *notes*.
    Every unreadable file or document is reported together at the end (ManifestError)."""
    return stream_resources(paths, stack=stack, duplicates=duplicates, notes=notes, skip=skip,
                            chart_values=chart_values, stdin=stdin, stdin_name=stdin_name, warnings=warnings,
                            texts=texts)


# ---------------------------------------------------------------------------------------------
# The repository configuration file, inline suppressions, the baseline, the policy list
# ---------------------------------------------------------------------------------------------

#: Keys of .hardened.yaml -> (argparse destination, kind): "list" keys add to the command line's.
REPO_CONFIG_KEYS: dict[str, tuple[str, str]] = {
    "skip-path": ("skip_path", "list"), "skip-policy": ("skip_policy", "list"), "policy": ("policy", "list"),
    "fail-on": ("fail_on", "str"), "soft-fail": ("soft_fail", "bool"), "config": ("config", "str"),
    "stack": ("stack", "str"), "stack-file": ("stack_file", "str"), "policy-pack": ("policy_pack", "str"),
    "baseline": ("baseline", "str"), "values": ("values", "str"), "format": ("format", "str"),
    "output": ("output", "str"), "quiet": ("quiet", "bool"), "color": ("color", "str"),
    "stdin-name": ("stdin_name", "str"),
}


def find_repo_config(cwd: Optional[str] = None) -> Optional[Path]:
    """``.hardened.yaml`` in the working directory, else at the git top level."""
    cwd = cwd or os.getcwd()
    for folder in (Path(cwd), Path(source_root(cwd))):
        candidate = folder / REPO_CONFIG
        if candidate.is_file():
            return candidate
    return None


def apply_repo_config(args: argparse.Namespace, console: Optional[Console] = None) -> Optional[Path]:
    """Fill *args* from the repository configuration file (``--repo-config`` or
    :func:`find_repo_config`): a mapping of long flag names (without ``--``) to values, under a
    ``check:`` key or at the top, e.g.::

        check:
          skip-path: [charts/*/ci/*, .github/*]
          fail-on: high
          baseline: .hardened-baseline.json

    A flag given on the command line wins; list flags (skip-path, skip-policy, policy) add to
    the command line's. Relative paths are relative to the file. Unknown keys are an error."""
    explicit = getattr(args, "repo_config", None)
    path = Path(explicit) if explicit else find_repo_config()
    if path is None:
        return None
    import yaml

    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise UserError(f"{path}: cannot read: {e.strerror or e}") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        raise UserError(f"{path}:{mark.line + 1 if mark else 1}: not valid YAML: "
                        f"{getattr(e, 'problem', None) or e}") from None
    if doc is None:
        return path
    if isinstance(doc, dict) and isinstance(doc.get("check"), dict) and set(doc) <= {"check", "render"}:
        doc = doc["check"]
    if not isinstance(doc, dict):
        raise UserError(f"{path}: expected a mapping of check's flags (skip-path, fail-on, baseline, ...)")
    base = path.resolve().parent
    defaults = {"stack": DEFAULT_STACK, "policy_pack": str(DEFAULT_PACK), "color": "auto",
                "stdin_name": "<stdin>", "format": "text"}
    for key, value in doc.items():
        spec = REPO_CONFIG_KEYS.get(str(key))
        if spec is None:
            raise UserError(f"{path}: unknown key {key!r}{did_you_mean(str(key), REPO_CONFIG_KEYS)}; the keys are "
                            f"check's long flags: {', '.join(REPO_CONFIG_KEYS)}")
        dest, kind = spec
        if kind == "list":
            items = value if isinstance(value, list) else [value]
            if not all(isinstance(v, str) and v for v in items):
                raise UserError(f"{path}: {key} takes a string or a list of strings")
            setattr(args, dest, list(items) + list(getattr(args, dest, None) or []))
            continue
        if kind == "bool":
            if not isinstance(value, bool):
                raise UserError(f"{path}: {key} takes true or false, not {value!r}")
            setattr(args, dest, bool(getattr(args, dest, False)) or value)
            continue
        if not isinstance(value, str) or not value:
            raise UserError(f"{path}: {key} takes a string, not {value!r}")
        if key == "fail-on" and value not in SEVERITIES:
            raise UserError(f"{path}: fail-on must be one of {', '.join(SEVERITIES)}{did_you_mean(value, SEVERITIES)}")
        if key == "format" and value not in FORMATS:
            raise UserError(f"{path}: format must be one of {', '.join(FORMATS)}"
                            f"{did_you_mean(value, FORMATS)}")
        if key in ("format", "output"):
            if not getattr(args, "outputs_in_order", None) or all(k == key for k, _ in args.outputs_in_order):
                items = [i for i in (getattr(args, "_repo_outputs", None) or []) if i[0] != key]
                items.append((key, value if key == "format" else str(base / value)))
                args._repo_outputs = sorted(items, key=lambda i: i[0] != "format")
            continue
        current = getattr(args, dest, None)
        if current not in (None, defaults.get(dest)):
            continue  # the command line's
        if key in ("config", "stack-file", "policy-pack", "baseline", "values"):
            value = str(base / value)
        setattr(args, dest, value)
    if getattr(args, "_repo_outputs", None) and not getattr(args, "outputs_in_order", None):
        args.outputs_in_order = list(args._repo_outputs)
    if console is not None:
        console.info(f"flags from {display_path(path)}")
    return path


def suppress_annotated(analysis: Analysis, console: Optional[Console] = None) -> list[Suppression]:
    """Findings on an object annotated ``hardened.io/skip-<policy>: <reason>`` move from the
    verdicts to the returned suppressions (kind ``inSource``). An annotation without a reason,
    or naming no policy of the pack, suppresses nothing and is warned about."""
    suppressed: list[Suppression] = []
    kept: list[Verdict] = []
    warned: set[tuple[str, str]] = set()
    for r in analysis.resources:
        annotations = r.metadata.get("annotations") if r.is_kubernetes else None
        if not isinstance(annotations, dict):
            continue
        for key in annotations:
            if isinstance(key, str) and key.startswith(SKIP_ANNOTATION):
                policy = key[len(SKIP_ANNOTATION):]
                if policy not in analysis.policies and console is not None and (r.urn, key) not in warned:
                    warned.add((r.urn, key))
                    console.warn(f"{r.label} ({r.location}): annotation {key} names no policy of the pack"
                                 f"{did_you_mean(policy, analysis.policies)}; it suppresses nothing")
    for v in analysis.verdicts:
        r = v.resource
        annotations = r.metadata.get("annotations") if r is not None and r.is_kubernetes else None
        key = SKIP_ANNOTATION + v.policy
        reason = annotations.get(key) if isinstance(annotations, dict) else None
        if reason is None:
            kept.append(v)
            continue
        if not isinstance(reason, str) or len(reason.strip()) < 5:
            if console is not None and (v.urn, key) not in warned:
                warned.add((v.urn, key))
                console.warn(f"{r.label} ({r.location}): annotation {key} gives no reason ({reason!r}); a skip "
                             "needs one, so the finding stands: write why, e.g. "
                             f"'{key}: \"reviewed by security, ticket SEC-123\"'")
            kept.append(v)
            continue
        suppressed.append(Suppression(v, "inSource", reason.strip(), f"annotation {key}"))
    analysis.verdicts = kept
    return suppressed


def baseline_key(v: Verdict) -> tuple[str, str, str, str, str]:
    """What identifies a finding across runs: the policy, the object (kind, namespace, name, not
    the file or the line, which move) and the message."""
    r = v.resource
    if r is None:
        return v.policy, "", "", "stack", v.message
    return v.policy, r.kind, r.namespace or "", r.object_name, v.message


def write_baseline(path: str, verdicts: Iterable[Verdict]) -> int:
    from . import __version__

    keys = sorted({baseline_key(v) for v in verdicts})
    document = {"version": BASELINE_VERSION, "tool": f"hardened check {__version__}",
                "comment": "Findings accepted on the day this file was written; `hardened check --baseline "
                           "FILE` fails only on findings not listed here. Regenerate with --write-baseline.",
                "findings": [dict(zip(("policy", "kind", "namespace", "name", "message"), k)) for k in keys]}
    _write(path, json.dumps(document, indent=2, sort_keys=True) + "\n")
    return len(keys)


def read_baseline(path: str) -> set[tuple[str, str, str, str, str]]:
    document = _read_config(path)
    findings = document.get("findings") if isinstance(document, dict) else None
    if not isinstance(findings, list) or document.get("version") != BASELINE_VERSION:
        raise UserError(f"{path}: not a baseline file (version {BASELINE_VERSION}, findings: [...]); write one with "
                        "--write-baseline FILE")
    out = set()
    for i, f in enumerate(findings):
        if not isinstance(f, dict) or not all(isinstance(f.get(k), str) for k in
                                               ("policy", "kind", "namespace", "name", "message")):
            raise UserError(f"{path}: findings[{i}] needs policy, kind, namespace, name and message strings")
        out.add((f["policy"], f["kind"], f["namespace"], f["name"], f["message"]))
    return out


def apply_baseline(analysis: Analysis, accepted: set, source: str) -> list[Suppression]:
    """Findings listed in the baseline move from the verdicts to suppressions (``external``)."""
    kept, suppressed = [], []
    for v in analysis.verdicts:
        if baseline_key(v) in accepted:
            suppressed.append(Suppression(v, "external", f"accepted in the baseline {source}", f"baseline {source}"))
        else:
            kept.append(v)
    analysis.verdicts = kept
    return suppressed


def list_policies(args: argparse.Namespace, out: TextIO, plan: list) -> int:
    """``--list-policies``: every policy of the pack with its severity, controls and docs URL."""
    from .project import docs_url

    with PolicyPackProcess(args.policy_pack) as pack:
        policies = [pack.policies[n] for n in sorted(pack.policies)]
        name, version = pack.name, pack.version
    fmt = next((f for f, _ in plan), "text")
    if fmt == "json":
        text = json.dumps({"pack": {"name": name, "version": version},
                           "policies": [dict(policy_json(p), id=p.name, control=p.control,
                                             docs=docs_url(p.url) if p.url else "") for p in policies]},
                          indent=2, sort_keys=True) + "\n"
    elif fmt == "text":
        width = max((len(p.name) for p in policies), default=10)
        rows = [f"{'POLICY':<{width}}  {'SEVERITY':<8}  {'LEVEL':<9}  CONTROLS  (docs)"]
        for p in policies:
            controls = ", ".join(x for x in (p.control, *p.tags) if x)
            rows.append(f"{p.name:<{width}}  {p.severity or '-':<8}  {p.enforcement_level:<9}  {controls}"
                        f"  ({docs_url(p.url) if p.url else '-'})")
        rows.append(f"{plural(len(policies), 'policy')} in {name} {version}")
        text = "\n".join(rows) + "\n"
    else:
        raise UserError(f"--list-policies writes text or json, not {fmt}")
    path = next((p for _, p in plan if p), None)
    if path:
        _write(path, text)
    else:
        out.write(text)
    return 0


def select_policies(document: Optional[dict], policies: dict[str, PolicyInfo], only: list[str],
                    skip: list[str]) -> tuple[dict, set[str]]:
    """The configuration with every policy not selected set to ``disabled`` (Pulumi's own way to
    switch a policy off), and the names that stay enabled. Unknown names are an error."""
    for flag, names in (("--policy", only), ("--skip-policy", skip)):
        for name in names:
            if name not in policies:
                raise UserError(f"{flag} {name}: no such policy in the pack{did_you_mean(name, policies)}; "
                                f"the pack's policies are listed by `--format json` and in docs/policies.md")
    enabled = set(only or policies) - set(skip)
    if not enabled:
        raise UserError("--policy/--skip-policy leave no policy to run")
    document = dict(document or {})
    for name in sorted(set(policies) - enabled):
        current = document.get(name)
        if isinstance(current, dict):
            document[name] = {**current, "enforcementLevel": "disabled"}
        else:
            document[name] = "disabled"
    return document, enabled


def _exemptions_preflight(pack_dir: str, err: TextIO) -> bool:
    """The pack's exemptions file: one error line if malformed (exit 2), warnings for expired ones
    and ones expiring within 30 days (policy_pack/policies/_lib/exemptions.py, ``preflight``)."""
    try:
        from policy_pack.policies._lib.exemptions import preflight
    except ImportError:  # pragma: no cover - another pack
        return True
    path = Path(pack_dir) / "exemptions.yaml"
    return not path.is_file() or preflight("check", fail_on_expired=False, path=path, stream=err)


def _expiry_warnings(console: Console, config: Any) -> None:
    """Exemptions of the policy configuration (``--config``) that expire soon: a warning each (the
    pack's own file is checked by :func:`_exemptions_preflight`)."""
    try:
        from policy_pack.policies._lib import exemptions as ex
    except ImportError:  # pragma: no cover - another pack
        return
    entries: list = []
    if isinstance(config, dict):
        for policy, value in config.items():
            if isinstance(value, dict) and isinstance(value.get("exemptions"), list):
                try:
                    entries += ex.parse_exemptions(value["exemptions"], source="--config", policy=policy,
                                                   where=f"{policy}.exemptions")
                except ex.ExemptionError:
                    pass  # the pack reports it, naming the entry
    today = ex.utc_today()
    for e in entries:
        days = (e.expires - today).days
        if 0 <= days <= EXPIRY_WARNING_DAYS:
            console.warn(f"{e.describe()} for {e.target} expires on {e.expires.isoformat()} "
                         f"(in {plural(days, 'day')}); renew it with a fresh reason or fix the resource")


def failing_verdicts(analysis: Analysis, fail_on: Optional[str]) -> list[Verdict]:
    if not fail_on:
        return analysis.mandatory
    limit = SEVERITY_RANK[fail_on]
    # an unknown severity fails closed
    return [v for v in analysis.mandatory if SEVERITY_RANK.get(v.severity, 4) <= limit or not v.severity]


def _report(analysis: Analysis, findings: Findings, *, color: bool, failing: list[Verdict],
            duplicates: Optional[list] = None, suppressed: Optional[list] = None, notes: Optional[list] = None,
            show_exemptions: bool = False) -> Report:
    return Report(analysis, findings, failing=failing, duplicates=list(duplicates or []),
                  suppressed=list(suppressed or []), notes=list(notes or []), color=color,
                  show_exemptions=show_exemptions)


def render_format(fmt: str, analysis: Analysis, findings: Findings, **kwargs) -> str:
    """The text of one format (its module in hardened/formats)."""
    from .formats import render

    return render(fmt, _report(analysis, findings, **kwargs))


def write_format(fmt: str, fh: TextIO, analysis: Analysis, findings: Findings, **kwargs) -> None:
    """Write one format to *fh* as it is built (hardened/formats ``write``)."""
    from .formats import write

    write(fmt, _report(analysis, findings, **kwargs), fh)


def run(args: argparse.Namespace, out: Optional[TextIO] = None, err: Optional[TextIO] = None,
        stdin: Optional[TextIO] = None) -> int:
    out = out or sys.stdout
    console = Console("check", quiet=getattr(args, "quiet", False), progress=getattr(args, "progress", None),
                      color=getattr(args, "color", "auto"), err=err or sys.stderr)
    apply_repo_config(args, console)
    console.quiet = bool(getattr(args, "quiet", False))
    plan = plan_outputs(args)
    for _, path in plan:
        if path:
            _check_writable(path)
    if getattr(args, "list_policies", False):
        return list_policies(args, out, plan)
    if not args.paths:
        raise UserError("no PATH to check: give files or directories of Kubernetes YAML (- for standard input), "
                        "or --list-policies")
    if args.paths.count("-") > 1:
        raise UserError("- (standard input) can be given once")
    if not _exemptions_preflight(args.policy_pack, console.err):
        return 2
    only, skip = list(getattr(args, "policy", []) or []), list(getattr(args, "skip_policy", []) or [])
    chart_values = None
    if getattr(args, "values", None):
        import yaml

        try:
            chart_values = yaml.safe_load(Path(args.values).read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as e:
            raise UserError(f"--values {args.values}: cannot be read as YAML: {e}") from None
        if not isinstance(chart_values, dict):
            raise UserError(f"--values {args.values}: expected a mapping of chart values")
    accepted = read_baseline(args.baseline) if getattr(args, "baseline", None) else None

    config = None
    config_file = args.config
    if not config_file:
        found = _stack_policy_configs(args.paths)
        if len(found) > 1:
            raise UserError(f"the inputs carry different stack policy configurations ({', '.join(found)}); "
                            "check one render at a time or name one with --config FILE")
        if found:
            config_file = found[0]
            console.info(f"policy configuration {config_file} (the stack's, written by render; "
                         "--config FILE uses another)")
    if config_file:
        config = _read_config(config_file)
    _expiry_warnings(console, config)

    progress = console.progress()
    # The pack starts first: its start-up overlaps with reading the input, which streams into
    # Analyze calls as it is read. Selecting policies needs their names, so it waits for the pack.
    selecting = bool(only or skip)
    pack = PolicyPackProcess(args.policy_pack, config=None if selecting else config,
                             config_source=config_file or "policy configuration")
    duplicates: list = []  # objects defined more than once: only the last definition is judged
    notes: list[str] = []   # inputs skipped (not Kubernetes objects, FIFOs, ...), with why
    warnings: list[str] = []  # inputs read, but not as a person may expect (an edited rendered manifest)
    texts: dict[str, str] = {}  # standard input's text: its findings point at the field's line too
    try:
        pack.start()
        enabled = None
        if selecting:
            pack.wait_ready()
            document, enabled = select_policies(config, pack.policies, only, skip)
            pack.configure(document, config_file or "policy configuration")
        resources = read_inputs(args.paths, stack=args.stack, stdin=stdin or sys.stdin,
                                stdin_name=getattr(args, "stdin_name", "<stdin>"), duplicates=duplicates,
                                notes=notes, skip=getattr(args, "skip_path", None) or (), chart_values=chart_values,
                                warnings=warnings, texts=texts)
        try:
            analysis = pack.analyze(progress.iterate(resources), slim=True)
        except ManifestError:
            for note in notes:
                console.info(note)
            raise
    finally:
        progress.done()
        pack.close()
    for note in notes:
        console.info(note)
    if enabled is not None:
        analysis.policies = {n: p for n, p in analysis.policies.items() if n in enabled}
    if not analysis.resources:
        raise UserError(f"no Kubernetes objects found in {', '.join(args.paths)}"
                        + ("" if not notes else f" ({plural(len(notes), 'input')} skipped, see above)"))
    for duplicate in duplicates:
        console.warn(duplicate.message)
    for warning in warnings:
        console.warn(warning)

    suppressed = suppress_annotated(analysis, console)
    if getattr(args, "write_baseline", None):
        n = write_baseline(args.write_baseline, analysis.verdicts)
        console.info(f"wrote {plural(n, 'finding')} to the baseline {args.write_baseline}; "
                     f"`--baseline {args.write_baseline}` fails only on findings not listed there")
        accepted = (accepted or set()) | {baseline_key(v) for v in analysis.verdicts}
        baseline_source = args.write_baseline
    else:
        baseline_source = getattr(args, "baseline", None) or ""
    if accepted is not None:
        suppressed += apply_baseline(analysis, accepted, display_path(baseline_source))

    root = source_root()
    locator = Locator(analysis.resources, stack_file=getattr(args, "stack_file", None),
                      search=[os.getcwd(), root, str(Path(__file__).resolve().parent.parent)], texts=texts)
    findings = Findings(analysis, locator, _fallback_file(args.paths, analysis.resources))
    with without_cyclic_gc():
        findings.locate(analysis.verdicts)
    failing = failing_verdicts(analysis, getattr(args, "fail_on", None))
    for fmt, path in plan:
        color = fmt == "text" and path is None and use_color(out, getattr(args, "color", "auto"))
        options = dict(color=color, failing=failing, duplicates=duplicates, suppressed=suppressed, notes=notes,
                       show_exemptions=getattr(args, "show_exemptions", False))
        if path is None:
            with without_cyclic_gc():
                write_format(fmt, out, analysis, findings, **options)
            continue
        with _writing(path) as fh, without_cyclic_gc():
            write_format(fmt, fh, analysis, findings, **options)
        console.info(f"wrote {fmt} to {path}")
    if all(path is not None for _, path in plan) or any(f != "text" for f, p in plan if p is None):
        console.info(summary_line(analysis, failing))
    if failing and getattr(args, "soft_fail", False):
        n = len(failing)
        console.warn(f"--soft-fail: {plural(n, 'mandatory violation')} {'does' if n == 1 else 'do'} not fail this run")
        return 0
    return 1 if failing else 0


def main(argv: Optional[list[str]] = None) -> int:
    from .cli import Parser, run as run_command

    parser = Parser(prog="python -m hardened check", description=__doc__.split("\n\n")[0])
    parser.command = "check"
    add_arguments(parser)
    args = parser.parse_args(argv)
    args.run, args.command = run, "check"
    return run_command(args)
