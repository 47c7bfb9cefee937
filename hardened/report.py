"""Compliance evidence from the real stack and the real policy pack.

Runs the stack's Pulumi program offline (``hardened.render.run_program``), runs the policy pack over
what it registered (``hardened.analyzer.PolicyPackProcess``, the same gRPC path ``pulumi preview``
uses), and writes, per control of NIST SP 800-171 r2, CMMC 2.0, IEC 62443-3-3 and NIST SP 800-207
that the project addresses: the components implementing it (``hardened/controls.yaml``), the
policies enforcing it (read from the pack's GetAnalyzerInfo framework and tags, never duplicated)
and the current verdict. The seed's pre-deployment checklist is reported item by item.

Outputs in ``--out``: ``compliance.md``, ``compliance.html`` and ``component-definition.json``
(OSCAL, built and validated with compliance-trestle). Exit code 1 when a verdict fails.
"""
from __future__ import annotations

import argparse
import datetime as _dt
import json
import sys
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Optional

import yaml

HERE = Path(__file__).resolve().parent
CONTROLS = HERE / "controls.yaml"
TEMPLATES = HERE / "templates"

#: Tag prefix (pack convention) -> framework key in controls.yaml.
TAG_PREFIXES = {"nist800-171": "nist800-171", "cmmc": "cmmc", "iec62443": "iec62443", "nist800-207": "nist800-207"}
#: Framework names a policy's main ``framework`` may carry -> framework key.
FRAMEWORK_NAMES = {"nist sp 800-171": "nist800-171", "cmmc": "cmmc", "iec 62443": "iec62443",
                   "nist sp 800-207": "nist800-207"}

PASS, FAIL, MANUAL = "pass", "fail", "manual"
#: Stable namespace for the OSCAL UUIDs, so two reports of the same stack diff cleanly.
_NS = uuid.UUID("6f2b8a52-6a0e-4b1f-9a55-3c1c8f4b2d11")


@dataclass
class ControlRow:
    framework: str
    control_id: str
    title: str
    components: list[str]
    policies: list[str]
    verdict: str
    violations: list[str] = field(default_factory=list)


@dataclass
class ChecklistRow:
    section: str
    item: str
    policies: list[str]
    evidence: str
    verdict: str
    violations: list[str] = field(default_factory=list)


def load_controls(path: Path = CONTROLS) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    for key, fw in data["frameworks"].items():
        for cid, c in fw["controls"].items():
            if not isinstance(c, dict) or "title" not in c or "components" not in c:
                raise ValueError(f"{path}: frameworks.{key}.controls.{cid} needs title and components")
    return data


def _framework_key(name: str) -> Optional[str]:
    low = (name or "").lower()
    for prefix, key in FRAMEWORK_NAMES.items():
        if low.startswith(prefix):
            return key
    return None


def policy_controls(policies: Mapping[str, Any]) -> dict[tuple[str, str], list[str]]:
    """(framework key, control id) -> policy names, from each policy's framework and tags."""
    out: dict[tuple[str, str], set[str]] = {}
    for name, p in policies.items():
        fw = p.framework or {}
        key = _framework_key(fw.get("name", ""))
        if key and fw.get("reference"):
            out.setdefault((key, str(fw["reference"])), set()).add(name)
        for tag in p.tags:
            prefix, _, ref = tag.partition(":")
            if prefix in TAG_PREFIXES and ref:
                out.setdefault((TAG_PREFIXES[prefix], ref), set()).add(name)
    return {k: sorted(v) for k, v in out.items()}


def _verdict(policies: list[str], analysis: Any) -> tuple[str, list[str]]:
    if not policies:
        return MANUAL, []
    violations = [f"{v.policy}: {v.message} ({v.urn or 'stack'})"
                  for name in policies for v in analysis.by_policy(name) if v.mandatory]
    return (FAIL if violations else PASS), violations


def build_rows(controls: Mapping[str, Any], analysis: Any) -> tuple[list[ControlRow], list[ChecklistRow]]:
    mapping = policy_controls(analysis.policies)
    rows = []
    for key, fw in controls["frameworks"].items():
        for cid, c in fw["controls"].items():
            # CMMC ids carry the practice level (AC.L2-3.1.5); the pack's tags may too or not.
            names = sorted(set(mapping.get((key, str(cid)), []))
                           | set(mapping.get((key, str(cid).split("-", 1)[-1]), []) if key == "cmmc" else []))
            verdict, violations = _verdict(names, analysis)
            rows.append(ControlRow(fw["title"], str(cid), c["title"], list(c["components"]), names, verdict,
                                   violations))
    checklist = []
    for section, items in controls.get("checklist", {}).items():
        for it in items:
            names = list(it.get("policies", []))
            unknown = [n for n in names if n not in analysis.policies]
            if unknown:
                raise ValueError(f"controls.yaml checklist item {it['item']!r} names unknown policies {unknown}")
            verdict, violations = _verdict(names, analysis)
            evidence = it.get("evidence", "")
            if verdict == MANUAL and not evidence:
                raise ValueError(f"controls.yaml checklist item {it['item']!r} has neither policies nor evidence")
            checklist.append(ChecklistRow(section, it["item"], names, evidence, verdict, violations))
    return rows, checklist


def _token(text: str) -> str:
    out = "".join(ch if ch.isalnum() or ch in ".-_" else "-" for ch in text)
    return out if out[:1].isalpha() else "c-" + out


def oscal_component_definition(stack: str, rows: list[ControlRow], version: str) -> dict[str, Any]:
    """An OSCAL component-definition (validated by trestle's pydantic models) as JSON data."""
    from trestle.oscal.common import Metadata, Property
    from trestle.oscal.component import (ComponentDefinition, ControlImplementation, DefinedComponent,
                                         ImplementedRequirement)

    def uid(*parts: str) -> str:
        return str(uuid.uuid5(_NS, "/".join(parts)))

    by_component: dict[str, dict[str, list[ControlRow]]] = {}
    for r in rows:
        for comp in r.components or ["manual"]:
            by_component.setdefault(comp, {}).setdefault(r.framework, []).append(r)
    components = []
    for comp in sorted(by_component):
        impls = []
        for fw in sorted(by_component[comp]):
            reqs = [ImplementedRequirement(
                uuid=uid(stack, comp, fw, r.control_id), control_id=_token(r.control_id),
                description=f"{r.title}. Implemented by the {comp} component; enforced by "
                            f"{', '.join(r.policies) if r.policies else 'no automated policy (manual evidence)'}.",
                props=[Property(name="verdict", value=r.verdict), Property(name="control-label", value=r.control_id)]
                + [Property(name="enforcing-policy", value=p) for p in r.policies])
                for r in by_component[comp][fw]]
            impls.append(ControlImplementation(uuid=uid(stack, comp, fw), source=f"#{_token(fw)}",
                                               description=f"{fw} controls addressed by {comp}",
                                               implemented_requirements=reqs))
        components.append(DefinedComponent(uuid=uid(stack, comp), type="software", title=f"hardened-stack {comp}",
                                           description=f"The {comp} component of hardened-stack (stack {stack}).",
                                           control_implementations=impls))
    now = _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0)
    cd = ComponentDefinition(uuid=uid(stack), metadata=Metadata(
        title=f"hardened-stack compliance evidence ({stack})", last_modified=now, version=version,
        oscal_version="1.1.2"), components=components)
    return json.loads(cd.oscal_serialize_json(pretty=False))  # {"component-definition": {...}}


def analyze_stack(stack: str, policy_pack: Optional[str] = None, overrides: Optional[dict] = None):
    from .analyzer import DEFAULT_PACK, PolicyPackProcess
    from .manifests import iter_resources
    from .policyconfig import stack_policy_config
    from .render import run_program, write_output

    records = run_program(stack, overrides=overrides)
    config = stack_policy_config(stack, overrides=overrides)  # the pack judges with the stack's settings
    with tempfile.TemporaryDirectory(prefix="hardened-report-") as tmp:
        write_output(records, Path(tmp), stack)
        with PolicyPackProcess(policy_pack or DEFAULT_PACK, config=config,
                               config_source=f"policy configuration of stack {stack}") as pack:
            return pack.analyze(list(iter_resources(tmp, stack=stack)))


def render_documents(stack: str, rows: list[ControlRow], checklist: list[ChecklistRow], analysis: Any,
                     exemptions: Optional[list] = None) -> dict[str, str]:
    import jinja2

    from policy_pack.policies._lib.exemptions import review

    if exemptions is None:  # the exemptions in force: policy_pack/exemptions.yaml, active entries
        exemptions = list(review().active())

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), undefined=jinja2.StrictUndefined,
                             autoescape=jinja2.select_autoescape(["html.j2"]), keep_trailing_newline=True,
                             trim_blocks=True, lstrip_blocks=True)
    ctx = dict(stack=stack, rows=rows, checklist=checklist, pack=analysis.pack, version=analysis.version,
               resources=len(analysis.resources), policies=len(analysis.policies),
               summary={v: sum(1 for r in rows if r.verdict == v) for v in (PASS, FAIL, MANUAL)},
               checklist_summary={v: sum(1 for r in checklist if r.verdict == v) for v in (PASS, FAIL, MANUAL)},
               frameworks=list(dict.fromkeys(r.framework for r in rows)),
               exemptions=sorted(exemptions, key=lambda e: (e.expires, e.id)))
    return {"compliance.md": env.get_template("compliance.md.j2").render(**ctx),
            "compliance.html": env.get_template("compliance.html.j2").render(**ctx)}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--stack", default="prod", help="stack whose Pulumi.<stack>.yaml to render (default prod)")
    parser.add_argument("--out", default="compliance-report", help="output directory (default compliance-report)")
    parser.add_argument("--policy-pack", default=None, help="policy pack directory (default the repo's)")


def run(args: argparse.Namespace) -> int:
    from policy_pack.policies._lib.exemptions import preflight

    if not preflight("report", fail_on_expired=False):
        return 2
    try:
        analysis = analyze_stack(args.stack, args.policy_pack)
        rows, checklist = build_rows(load_controls(), analysis)
    except Exception as e:  # noqa: BLE001 - reported, not raised, from a CLI
        print(f"report: {type(e).__name__}: {e}", file=sys.stderr)
        return 2
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for name, text in render_documents(args.stack, rows, checklist, analysis).items():
        (out / name).write_text(text, encoding="utf-8")
    oscal = oscal_component_definition(args.stack, rows, analysis.version or "0")
    (out / "component-definition.json").write_text(json.dumps(oscal, indent=2) + "\n", encoding="utf-8")
    failed = [r for r in rows if r.verdict == FAIL] + [c for c in checklist if c.verdict == FAIL]
    print(f"report: {len(rows)} controls, {len(checklist)} checklist items, {len(failed)} failing -> {out}",
          file=sys.stderr)
    return 1 if failed else 0


def main(argv: Optional[Iterable[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hardened.report", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(parser)
    return run(parser.parse_args(list(argv) if argv is not None else None))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
