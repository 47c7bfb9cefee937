"""``python -m hardened check PATH... [--format text|json|sarif] [--config FILE] [--output FILE]``

Run the policy pack over Kubernetes YAML (the output of ``render`` or ``helm template``, any
files or directories), exactly as ``pulumi preview --policy-pack policy_pack`` would run it:
the pack in its own process, driven over the Analyzer gRPC protocol. Inputs are read as
``kubectl apply -R -f`` reads them (hardened.manifests); an object defined more than once is
judged by its last definition, and each such object is warned about on stderr (and listed
under ``duplicates`` in the JSON report).

Exit status: 0 with no mandatory violation, 1 with any, 2 when the input or the configuration
cannot be read (the message names the file and line) or the pack cannot run.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections import OrderedDict
from pathlib import Path
from typing import Any, Optional, TextIO

from .analyzer import DEFAULT_PACK, Analysis, ConfigError, PackError, PolicyInfo, PolicyPackProcess, Verdict
from .manifests import DEFAULT_STACK, RESOURCES_JSON, ManifestError, Resource, display_path, load_path

FORMATS = ("text", "json", "sarif")
SEVERITY_RANK = {"critical": 0, "high": 1, "medium": 2, "low": 3, "": 4}
#: GitHub code scanning ranks security alerts by this score (its documented bands).
SECURITY_SEVERITY = {"critical": "9.5", "high": "8.0", "medium": "5.5", "low": "3.0", "": "5.0"}
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
JSON_FORMAT_VERSION = 1


# ---------------------------------------------------------------------------------------------
# Shapes shared by the formats
# ---------------------------------------------------------------------------------------------

def resource_json(r: Optional[Resource]) -> Optional[dict]:
    if r is None:
        return None
    return {"kind": r.kind, "namespace": r.namespace, "name": r.object_name, "type": r.type, "urn": r.urn,
            "file": r.file, "line": r.line}


def policy_json(p: PolicyInfo) -> dict:
    return {"name": p.name, "description": p.description, "type": p.type, "enforcementLevel": p.enforcement_level,
            "severity": p.severity, "framework": dict(p.framework), "tags": list(p.tags),
            "remediation": p.remediation, "url": p.url}


def violation_json(v: Verdict, policies: dict[str, PolicyInfo]) -> dict:
    p = policies.get(v.policy)
    return {
        "policy": v.policy,
        "enforcementLevel": v.enforcement_level,
        "severity": v.severity,
        "message": v.message,
        "resource": resource_json(v.resource),
        "framework": dict(p.framework) if p else {},
        "tags": list(p.tags) if p else [],
        "remediation": p.remediation if p else "",
        "url": p.url if p else "",
    }


def to_json(analysis: Analysis) -> dict:
    analyzed = sum(1 for r in analysis.resources if r.analyzed)
    return {
        "version": JSON_FORMAT_VERSION,
        "tool": {"name": "hardened check", "pack": {"name": analysis.pack, "version": analysis.version}},
        "summary": {
            "resources": len(analysis.resources), "analyzed": analyzed, "policies": len(analysis.policies),
            "violations": len(analysis.verdicts), "mandatory": len(analysis.mandatory),
            "advisory": len(analysis.advisory), "exempted": len(analysis.exempted), "passed": analysis.passed,
        },
        "violations": [violation_json(v, analysis.policies) for v in analysis.verdicts],
        "exemptions": [{"policy": e.policy, "resource": resource_json(e.resource), "reason": e.reason}
                       for e in analysis.exempted],
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


def format_text(analysis: Analysis) -> str:
    lines: list[str] = []
    for _, verdicts in _groups(analysis).items():
        r = verdicts[0].resource
        lines.append(f"{r.location}  {r.label}" if r else "stack (no single resource)")
        for v in sorted(verdicts, key=lambda v: (not v.mandatory, SEVERITY_RANK.get(v.severity, 4), v.policy,
                                                 v.message)):
            p = analysis.policies.get(v.policy)
            level = "MANDATORY" if v.mandatory else v.enforcement_level
            control = f"  [{p.control}]" if p and p.control else ""
            lines.append(f"  {level:<9} {v.severity or '-':<8} {v.policy}{control}")
            for i, part in enumerate(v.message.splitlines() or [""]):
                lines.append(f"      {part}")
        lines.append("")
    if analysis.exempted:
        lines.append("exempted:")
        for e in analysis.exempted:
            label = e.resource.label if e.resource else e.urn
            lines.append(f"  {label}: {e.policy}: {e.reason}")
        lines.append("")
    affected = len({v.urn for v in analysis.verdicts if v.urn})
    where = f"{affected} resource(s)" + (" and the stack" if any(not v.urn for v in analysis.verdicts) else "")
    summary = (f"{len(analysis.resources)} resources, {len(analysis.policies)} policies "
               f"({analysis.pack} {analysis.version}), {analysis.seconds:.2f}s: ")
    if analysis.mandatory:
        summary += (f"FAILED with {len(analysis.mandatory)} mandatory and {len(analysis.advisory)} advisory "
                    f"violation(s) in {where}")
    elif analysis.advisory:
        summary += f"passed; {len(analysis.advisory)} advisory violation(s) in {where}"
    else:
        summary += "passed; no violation"
    if analysis.exempted:
        summary += f"; {len(analysis.exempted)} exemption(s) applied"
    lines.append(summary)
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------
# SARIF 2.1.0 (GitHub code scanning)
# ---------------------------------------------------------------------------------------------

def _sarif_level(enforcement_level: str) -> str:
    return {"mandatory": "error", "remediate": "error", "advisory": "warning", "disabled": "none"}.get(
        enforcement_level, "warning")


def _artifact(file: str) -> dict:
    if file.startswith("/"):
        return {"uri": Path(file).as_uri()}
    return {"uri": file, "uriBaseId": "%SRCROOT%"}


def _rule(p: PolicyInfo) -> dict:
    help_text = p.remediation or p.description
    refs = [f"Control: {p.control}"] if p.control else []
    if p.tags:
        refs.append("Also: " + ", ".join(p.tags))
    if p.url:
        refs.append(f"Documentation: {p.url}")
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
    if p.url.startswith(("https://", "http://")):
        rule["helpUri"] = p.url
    return rule


def to_sarif(analysis: Analysis, fallback_file: Optional[str] = None) -> dict:
    names = sorted(analysis.policies)
    index = {n: i for i, n in enumerate(names)}
    results = []
    for v in analysis.verdicts:
        r = v.resource
        file = (r.file if r is not None else None) or fallback_file
        location: dict[str, Any] = {}
        if file:
            location["physicalLocation"] = {"artifactLocation": _artifact(file),
                                            "region": {"startLine": max(1, (r.line or 1) if r else 1)}}
        location["logicalLocations"] = [{"name": r.label if r else "stack", "fullyQualifiedName": v.urn or "stack",
                                         "kind": "resource"}]
        fingerprint = hashlib.sha256(f"{v.policy}\0{v.urn}\0{v.message}".encode()).hexdigest()
        result: dict[str, Any] = {
            "ruleId": v.policy,
            "level": _sarif_level(v.enforcement_level),
            "message": {"text": f"{r.label}: {v.message}" if r else v.message},
            "locations": [location],
            "partialFingerprints": {"hardenedCheck/v1": fingerprint},
            "properties": {"enforcementLevel": v.enforcement_level, "severity": v.severity},
        }
        if v.policy in index:
            result["ruleIndex"] = index[v.policy]
        results.append(result)
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "hardened-stack policy pack",
                "semanticVersion": analysis.version or "0.0.0",
                "informationUri": "https://www.pulumi.com/docs/iac/using-pulumi/crossguard/",
                "rules": [_rule(analysis.policies[n]) for n in names],
            }},
            "automationDetails": {"id": f"hardened-check/{analysis.pack}/"},
            "columnKind": "unicodeCodePoints",
            "results": results,
            "properties": {"exemptions": [{"policy": e.policy, "urn": e.urn, "reason": e.reason,
                                           "file": e.resource.file if e.resource else None}
                                          for e in analysis.exempted]},
        }],
    }


# ---------------------------------------------------------------------------------------------
# The command
# ---------------------------------------------------------------------------------------------

def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="+", metavar="PATH",
                        help="Kubernetes YAML files or directories (a render directory is read through resources.json)")
    parser.add_argument("--format", choices=FORMATS, default="text", help="output format (default text)")
    parser.add_argument("--config", metavar="FILE",
                        help="policy configuration, the JSON document `pulumi preview --policy-pack-config` takes")
    parser.add_argument("--output", "-o", metavar="FILE", help="write the report here instead of stdout")
    parser.add_argument("--stack", default=DEFAULT_STACK,
                        help=f"stack name used in URNs of plain manifests (default {DEFAULT_STACK})")
    parser.add_argument("--policy-pack", default=str(DEFAULT_PACK), metavar="DIR",
                        help="the policy pack directory (default: this repository's policy_pack)")


def _fail(message: str, err: TextIO) -> int:
    print(f"check: error: {message}", file=err)
    return 2


def _read_config(path: str) -> Any:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as e:
        raise ValueError(f"{path}: cannot read: {e.strerror or e}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise ValueError(f"{path}:{e.lineno}:{e.colno}: not valid JSON: {e.msg}") from None


def _stack_policy_configs(paths: list[str]) -> list[str]:
    """The distinct ``policy-config.json`` files that ``render`` left in the directories of *paths*."""
    from .policyconfig import FILE_NAME

    found: dict[str, str] = {}
    for raw in paths:
        candidate = Path(raw) / FILE_NAME
        if Path(raw).is_dir() and candidate.is_file():
            found.setdefault(candidate.read_text(encoding="utf-8"), display_path(candidate))
    return list(found.values())


def _fallback_file(paths: list[str], resources: list[Resource]) -> Optional[str]:
    for raw in paths:
        candidate = Path(raw) / RESOURCES_JSON if Path(raw).is_dir() else Path(raw)
        if candidate.is_file():
            return display_path(candidate)
    return next((r.file for r in resources if r.file), None)


def _exemptions_preflight(pack_dir: str, err: TextIO) -> bool:
    """The pack's exemptions file: one error line if malformed (exit 2), warnings for expired ones
    and ones expiring within 30 days (policy_pack/policies/_lib/exemptions.py, ``preflight``)."""
    from policy_pack.policies._lib.exemptions import preflight

    path = Path(pack_dir) / "exemptions.yaml"
    return not path.is_file() or preflight("check", fail_on_expired=False, path=path, stream=err)


def run(args: argparse.Namespace, out: Optional[TextIO] = None, err: Optional[TextIO] = None) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    if not _exemptions_preflight(args.policy_pack, err):
        return 2
    config = None
    config_file = args.config
    if not config_file:
        found = _stack_policy_configs(args.paths)
        if len(found) > 1:
            return _fail(f"the inputs carry different stack policy configurations ({', '.join(found)}); "
                         "check one render at a time or name one with --config FILE", err)
        if found:
            config_file = found[0]
            print(f"check: policy configuration {config_file} (the stack's, written by render; "
                  "--config FILE uses another)", file=err)
    if config_file:
        try:
            config = _read_config(config_file)
        except ValueError as e:
            return _fail(str(e), err)
    # The pack starts first: its start-up (most of a small run) overlaps with reading the input.
    # The input is read in full before Analyze (an object's last definition, the one judged, is
    # known only at the end), so unreadable input fails fast, while the pack is still starting.
    duplicates: list = []  # objects defined more than once: only the last definition is judged
    pack = PolicyPackProcess(args.policy_pack, config=config, config_source=config_file or "policy configuration")
    try:
        pack.start()
        resources = load_path(args.paths, stack=args.stack, duplicates=duplicates)
        analysis = pack.analyze(resources)
    except ManifestError as e:
        return _fail("unreadable input:\n  " + "\n  ".join(e.problems), err)
    except ConfigError as e:
        return _fail("invalid policy configuration:\n  " + "\n  ".join(str(e).splitlines()), err)
    except PackError as e:
        return _fail(str(e), err)
    finally:
        pack.close()
    resources = analysis.resources
    if not resources:
        return _fail(f"no Kubernetes objects found in {', '.join(args.paths)}", err)
    for duplicate in duplicates:
        print(f"check: warning: {duplicate.message}", file=err)
    if args.format == "json":
        text = json.dumps({**to_json(analysis), "duplicates": [d.as_json() for d in duplicates]}, indent=2,
                          sort_keys=True) + "\n"
    elif args.format == "sarif":
        text = json.dumps(to_sarif(analysis, _fallback_file(args.paths, resources)), indent=2, sort_keys=True) + "\n"
    else:
        text = format_text(analysis)
    if args.output:
        Path(args.output).parent.mkdir(parents=True, exist_ok=True)
        Path(args.output).write_text(text, encoding="utf-8")
        print(format_text(analysis).splitlines()[-1], file=err)
    else:
        out.write(text)
    return 1 if analysis.mandatory else 0


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hardened check", description=__doc__.split("\n\n")[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))
