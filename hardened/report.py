"""``hardened report [--stack prod] [--out DIR]``: compliance evidence from the real stack and pack.

Runs the stack's Pulumi program offline (``hardened.render.run_program``), runs the policy pack over
what it registered (``hardened.analyzer.PolicyPackProcess``, the same gRPC path ``pulumi preview``
uses), and writes, per control of NIST SP 800-171 r2, CMMC 2.0, IEC 62443-3-3 and NIST SP 800-207
that the project addresses: the components implementing it (``hardened/controls.yaml``), the
policies enforcing it (read from the pack's GetAnalyzerInfo framework and tags, never duplicated),
how many resources each policy judged, and the verdict: pass, fail, not applicable (its policies
judged no resource) or manual (no policy; evidence comes from outside the render). The seed's
pre-deployment checklist is reported item by item.

Every document starts with what it is evidence of: generation time, git commit, the digest of
Pulumi.<stack>.yaml, tool and pack versions, what was and was not evaluated, and the active
exemptions with their expiry.

Outputs in --out: compliance.md, compliance.html, component-definition.json (OSCAL: what
implements what) and assessment-results.json (OSCAL: the verdicts), both built and validated
with compliance-trestle. Exit status 1 when a verdict fails, 2 when the stack cannot be rendered.
"""
from __future__ import annotations

import argparse
import datetime as _dt
import hashlib
import json
import subprocess
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

PASS, FAIL, MANUAL, NOT_APPLICABLE = "pass", "fail", "manual", "not applicable"
#: Its policies judged resources and found nothing, but only because exemptions lifted findings.
PASS_WITH_EXEMPTIONS = "pass with exemptions"
#: Its policies pass, but they prove part of the control only (controls.yaml ``assurance: partial``).
PARTIAL = "partial"
#: Nothing in the render can prove it (controls.yaml ``assurance: not-addressed``): a policy that
#: looks related is not evidence (a TLS setting is no FIPS validation, KMS rotation no HSM storage).
NOT_ADDRESSED = "not addressed"
VERDICTS = (PASS, PASS_WITH_EXEMPTIONS, PARTIAL, FAIL, NOT_APPLICABLE, NOT_ADDRESSED, MANUAL)
#: controls.yaml ``assurance`` values: what the enforcing policies prove of the control.
ASSURANCE = {"partial": PARTIAL, "not-addressed": NOT_ADDRESSED}
#: Stable namespace for the OSCAL UUIDs, so two reports of the same stack diff cleanly.
_NS = uuid.UUID("6f2b8a52-6a0e-4b1f-9a55-3c1c8f4b2d11")
#: The namespace of this project's own OSCAL props (OSCAL reserves props without ``ns`` for its own names).
OSCAL_NS = "https://github.com/lego-mcp/hardened-stack/ns/oscal"


@dataclass
class PolicyRun:
    """One policy on this stack: how many resources it judged (None: unknown for another pack)."""

    name: str
    judged: Optional[int]
    violations: int
    exempted: int = 0


@dataclass
class ControlRow:
    framework: str
    control_id: str
    title: str
    components: list[str]
    policies: list[str]
    verdict: str
    violations: list[str] = field(default_factory=list)
    judged: dict[str, Optional[int]] = field(default_factory=dict)
    framework_key: str = ""
    reason: str = ""                                   # why partial / not addressed / with exemptions
    urls: dict[str, str] = field(default_factory=dict)  # policy -> its documentation

    @property
    def anchor(self) -> str:
        return "control-" + _token(f"{self.framework_key or self.framework}-{self.control_id}").lower()


@dataclass
class ChecklistRow:
    section: str
    item: str
    policies: list[str]
    evidence: str
    verdict: str
    violations: list[str] = field(default_factory=list)
    judged: dict[str, Optional[int]] = field(default_factory=dict)
    reason: str = ""
    urls: dict[str, str] = field(default_factory=dict)


@dataclass
class ExemptionRow:
    id: str
    policies: list[str]
    target: str
    reason: str
    expires: str
    status: str          # "active", "expires in N days", "expired"
    applied: int         # resources it exempted in this run
    owner: str = ""      # who answers for it (team and contact)


@dataclass
class Header:
    stack: str
    generated: str
    commit: str
    stack_file: str
    stack_digest: str
    tool_version: str
    pack: str
    pack_version: str
    evaluated: list[str]
    not_evaluated: list[str]
    assessor: str = ""   # who assessed (--assessor); blank lines for the sign-off otherwise


def _check_assurance(where: str, item: Mapping[str, Any]) -> None:
    level = item.get("assurance")
    if level is None:
        return
    if level not in ASSURANCE:
        raise ValueError(f"{where}: assurance must be one of {', '.join(ASSURANCE)}, got {level!r}")
    if len(str(item.get("reason") or "")) < 20:
        raise ValueError(f"{where}: assurance {level} needs a reason: what the policies do not prove, and the "
                         "evidence that would")


def load_controls(path: Path = CONTROLS) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    for key, fw in data["frameworks"].items():
        for cid, c in fw["controls"].items():
            if not isinstance(c, dict) or "title" not in c or "components" not in c:
                raise ValueError(f"{path}: frameworks.{key}.controls.{cid} needs title and components")
            _check_assurance(f"{path}: frameworks.{key}.controls.{cid}", c)
    for section, items in (data.get("checklist") or {}).items():
        for it in items:
            _check_assurance(f"{path}: checklist {section!r} item {it.get('item')!r}", it)
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


# ---------------------------------------------------------------------------------------------
# What each policy judged
# ---------------------------------------------------------------------------------------------

def policy_runs(analysis: Any, pack_dir: Optional[Path] = None) -> dict[str, PolicyRun]:
    """Per policy: the resources it judged (those of the kinds it applies to that the engine sent
    it, less the exempted ones), its mandatory violations and its exemptions. The kinds come from
    the pack's own policy objects (the predicate the pack applies), so the count is exact for this
    repository's pack and unknown (None) for another one."""
    from .analyzer import DEFAULT_PACK

    applies = None
    if pack_dir is None or Path(pack_dir).resolve() == Path(DEFAULT_PACK).resolve():
        try:
            from policy_pack.policies import all_policies

            applies = {p.name: p for p in all_policies()}
        except Exception:  # noqa: BLE001 - the counts are then unknown, not wrong
            applies = None
    exempted: dict[str, set[str]] = {}
    for e in analysis.exempted:
        exempted.setdefault(e.policy, set()).add(e.urn)
    runs = {}
    for name, info in analysis.policies.items():
        violations = sum(1 for v in analysis.by_policy(name) if v.mandatory)
        judged = None
        policy = applies.get(name) if applies else None
        if policy is not None and hasattr(policy, "applies_to"):
            considered = analysis.resources if info.type == "stack" else [r for r in analysis.resources if r.analyzed]
            judged = sum(1 for r in considered if policy.applies_to(r.type) and r.urn not in exempted.get(name, ()))
        runs[name] = PolicyRun(name, judged, violations, len(exempted.get(name, ())))
    return runs


def _verdict(policies: list[str], analysis: Any, runs: Mapping[str, PolicyRun],
             item: Optional[Mapping[str, Any]] = None) -> tuple[str, list[str], str]:
    """(verdict, violations, reason) of one control or checklist item. No control passes on
    evidence that does not prove it: ``assurance`` in controls.yaml caps the verdict at partial or
    not addressed whatever the policies say; a pass that needed exemptions says so."""
    item = item or {}
    assurance, reason = item.get("assurance"), str(item.get("reason") or "").strip()
    if not policies:
        return (ASSURANCE[assurance], [], reason) if assurance else (MANUAL, [], "")
    violations = [f"{v.policy}: {v.message} ({v.urn or 'stack'})"
                  for name in policies for v in analysis.by_policy(name) if v.mandatory]
    if violations:
        return FAIL, violations, reason
    counts = [runs[n].judged if n in runs else None for n in policies]
    if counts and all(c == 0 for c in counts):
        return NOT_APPLICABLE, [], ""
    if assurance:
        return ASSURANCE[assurance], [], reason
    exempted = {n: runs[n].exempted for n in policies if n in runs and runs[n].exempted}
    if exempted:
        return PASS_WITH_EXEMPTIONS, [], "findings lifted by exemptions: " + ", ".join(
            f"{n} ({k})" for n, k in sorted(exempted.items()))
    return PASS, [], ""


def _urls(policies: Iterable[str], analysis: Any) -> dict[str, str]:
    return {n: getattr(analysis.policies.get(n), "url", "") or "" for n in policies}


def build_rows(controls: Mapping[str, Any], analysis: Any,
               runs: Optional[Mapping[str, PolicyRun]] = None) -> tuple[list[ControlRow], list[ChecklistRow]]:
    runs = runs if runs is not None else policy_runs(analysis)
    mapping = policy_controls(analysis.policies)
    rows = []
    for key, fw in controls["frameworks"].items():
        for cid, c in fw["controls"].items():
            # CMMC ids carry the practice level (AC.L2-3.1.5); the pack's tags may too or not.
            names = sorted(set(mapping.get((key, str(cid)), []))
                           | set(mapping.get((key, str(cid).split("-", 1)[-1]), []) if key == "cmmc" else []))
            verdict, violations, reason = _verdict(names, analysis, runs, c)
            rows.append(ControlRow(fw["title"], str(cid), c["title"], list(c["components"]), names, verdict,
                                   violations, {n: runs[n].judged if n in runs else None for n in names}, key,
                                   reason, _urls(names, analysis)))
    checklist = []
    for section, items in controls.get("checklist", {}).items():
        for it in items:
            names = list(it.get("policies", []))
            unknown = [n for n in names if n not in analysis.policies]
            if unknown:
                raise ValueError(f"controls.yaml checklist item {it['item']!r} names unknown policies {unknown}")
            verdict, violations, reason = _verdict(names, analysis, runs, it)
            evidence = it.get("evidence", "")
            if verdict == MANUAL and not evidence:
                raise ValueError(f"controls.yaml checklist item {it['item']!r} has neither policies nor evidence")
            checklist.append(ChecklistRow(section, it["item"], names, evidence, verdict, violations,
                                          {n: runs[n].judged if n in runs else None for n in names}, reason,
                                          _urls(names, analysis)))
    return rows, checklist


# ---------------------------------------------------------------------------------------------
# Header, scope and exemptions
# ---------------------------------------------------------------------------------------------

def git_commit(root: Path) -> str:
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10)
        if head.returncode != 0:
            return "unknown (not a git checkout)"
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, timeout=30)
        return head.stdout.strip() + (" (with uncommitted changes)" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown (git unavailable)"


def scope(analysis: Any, rows: list[ControlRow], runs: Mapping[str, PolicyRun]) -> tuple[list[str], list[str]]:
    """What this report evaluated and what it did not, from the run itself."""
    resources = analysis.resources
    k8s = sum(1 for r in resources if r.is_kubernetes)
    charts = [r for r in resources if r.type.startswith("kubernetes:helm.sh/")]
    chart_urns = {r.urn for r in charts}
    chart_objects = sum(1 for r in resources if r.parent in chart_urns)
    components = sum(1 for r in resources if not r.custom and not r.type.startswith("kubernetes:helm.sh/"))
    others = len(resources) - k8s - len(charts) - components
    unknown = [n for n, r in runs.items() if r.judged is None]
    evaluated = [
        f"{len(resources):,} resources the stack's program registered offline (SDK mocks): {k8s:,} Kubernetes "
        f"objects, {len(charts)} Helm charts, {others} other resources (AWS), {components} components",
        f"{len(analysis.policies)} policies of {analysis.pack} {analysis.version}, run over the Analyzer protocol "
        "as pulumi preview --policy-pack runs them, with the stack's own policy configuration",
    ]
    not_evaluated = []
    if charts and not chart_objects:
        not_evaluated.append(f"the objects inside the {len(charts)} Helm charts: no chart was rendered, so the "
                             "pack judged their values only")
    elif chart_objects:
        evaluated.append(f"{chart_objects:,} objects rendered from the Helm charts")
    manual = [r for r in rows if r.verdict in (MANUAL, NOT_ADDRESSED)]
    na = [r for r in rows if r.verdict == NOT_APPLICABLE]
    not_evaluated += [
        "the live cluster, the cloud account and the nodes (CIS node items, EKS settings, IAM): this is the "
        "configuration as rendered, not the running system",
        "secret values: they are redacted in the render and never judged",
        f"{len(manual)} controls that no policy covers or can prove (manual or not addressed: evidence from "
        "outside the render)",
    ]
    partial = [r for r in rows if r.verdict == PARTIAL]
    if partial:
        not_evaluated.append(f"the rest of {len(partial)} controls the policies prove in part only (partial: "
                             "each says what is missing)")
    if na:
        not_evaluated.append(f"{len(na)} controls whose policies judged no resource of this stack "
                             "(not applicable here; not a pass)")
    if unknown:
        not_evaluated.append(f"how many resources {len(unknown)} policies judged (the pack is not this "
                             "repository's, so its kinds are unknown)")
    return evaluated, not_evaluated


def exemption_rows(analysis: Any, today: Optional[_dt.date] = None,
                   config: Optional[Mapping[str, Any]] = None) -> list[ExemptionRow]:
    """The exemptions file's entries with their status in this run. One that lifted no finding is
    "unused" (like an unused noqa), unless it is dormant for this stack: its ``when`` does not hold
    for *config* (the stack's sections) or its namespace is not deployed at all."""
    from policy_pack.policies._lib import exemptions as ex

    today = today or ex.utc_today()
    namespaces = {r.namespace for r in analysis.resources if getattr(r, "namespace", None)}
    out = []
    for e in ex.load_exemptions():
        dormant = (config is not None and not ex.condition_holds(e, config)) or \
            (e.namespace is not None and e.namespace not in namespaces)
        days = (e.expires - today).days
        status = "expired" if days < 0 else ("active" if days > 30 else f"active, expires in {days} days")
        applied = sum(1 for x in analysis.exempted if e.describe() in x.reason)
        if dormant and applied == 0 and days >= 0:
            status = "dormant: its object is not deployed in this stack"
        elif applied == 0 and days >= 0:
            # like an unused noqa: it lifted no finding in this run (render refuses one that names no
            # object; this one names an object that no longer needs it, or another stack's)
            status = "unused: lifted no finding in this run"
        owner = getattr(e, "owner", None)
        who = " ".join(str(v) for v in (getattr(owner, "team", None), getattr(owner, "contact", None)) if v) \
            if owner else ""
        out.append(ExemptionRow(e.id, list(e.policies), e.target, e.reason, e.expires.isoformat(), status, applied,
                                who))
    return out


def make_header(stack: str, analysis: Any, rows: list[ControlRow], runs: Mapping[str, PolicyRun],
                root: Path, assessor: str = "") -> Header:
    from . import __version__
    from .stackfile import stack_file

    path = stack_file(stack, root)
    digest = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "unknown"
    evaluated, not_evaluated = scope(analysis, rows, runs)
    now = _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()
    return Header(stack, now, git_commit(root), path.name, f"sha256:{digest}", __version__, analysis.pack,
                  analysis.version, evaluated, not_evaluated, assessor)


# ---------------------------------------------------------------------------------------------
# OSCAL
# ---------------------------------------------------------------------------------------------

def _token(text: str) -> str:
    out = "".join(ch if ch.isalnum() or ch in ".-_" else "_" for ch in text)
    return out if out[:1].isalpha() or out[:1] == "_" else "c-" + out


def oscal_control_id(framework: Mapping[str, Any], control_id: str) -> str:
    """The control id as an OSCAL token (controls.yaml ``oscal.id-prefix`` before a label that does
    not start with a letter): SP 800-171 Rev. 2's 3.1.5 is ``SP_800_171_r2_3.1.5``. NIST publishes
    an OSCAL catalog of Rev. 3 only, whose ``SP_800_171_03.01.05`` is a different requirement set, so
    Rev. 2 is not spelled as Rev. 3. Frameworks whose labels are tokens keep them (``AC.L2-3.1.5``,
    ``SR_1.2``, ``tenet-2``)."""
    spec = framework.get("oscal") or {}
    if spec.get("id-prefix") and not control_id[:1].isalpha():
        return _token(spec["id-prefix"] + control_id)
    return _token(control_id)


def _uid(*parts: str) -> str:
    return str(uuid.uuid5(_NS, "/".join(parts)))


def _prop(name: str, value: Any):
    from trestle.oscal.common import Property

    return Property(name=name, value=str(value), ns=OSCAL_NS)


def _back_matter(controls: Mapping[str, Any], stack: str, header: Optional[Header] = None):
    """Back-matter resources: one per framework (its publication, and its OSCAL catalog where
    one exists) and one for this stack's assessment plan (controls.yaml plus the pack)."""
    from trestle.oscal.common import BackMatter, Citation, Resource, Rlink

    resources = []
    for key, fw in controls["frameworks"].items():
        rlinks = [Rlink(href=fw["source"])] if fw.get("source") else []
        if fw.get("publication"):
            rlinks.append(Rlink(href=fw["publication"], media_type="application/pdf"))
        catalog = (fw.get("oscal") or {}).get("catalog")
        if catalog:
            rlinks.append(Rlink(href=catalog, media_type="application/oscal.catalog+json"))
        resources.append(Resource(uuid=_uid("framework", key), title=fw["title"], rlinks=rlinks or None,
                                  citation=Citation(text=fw["title"]),
                                  props=[_prop("framework", key)]))
    plan_props = [_prop("controls-file", "hardened/controls.yaml")]
    if header is not None:
        plan_props += [_prop("git-commit", header.commit), _prop("stack-config-digest", header.stack_digest)]
    resources.append(Resource(uuid=_uid("assessment-plan", stack), title=f"hardened-stack assessment of stack {stack}",
                              description="The controls of hardened/controls.yaml, judged by the CrossGuard pack "
                                          "(policy_pack/) over the stack rendered offline by `hardened report`.",
                              props=plan_props, rlinks=[Rlink(href=ASSESSMENT_PLAN,
                                                              media_type="application/oscal.ap+json")]))
    resources.append(Resource(uuid=_uid("system-security-plan", stack), title=f"System security plan of stack {stack}",
                              description="The system owner's SSP is not produced by this tool; the components that "
                                          "implement the controls are described in component-definition.json.",
                              rlinks=[Rlink(href=COMPONENT_DEFINITION, media_type="application/oscal.component+json")]))
    return BackMatter(resources=resources)


def _metadata(title: str, version: str, generated: Optional[str] = None):
    from trestle.oscal import OSCAL_VERSION
    from trestle.oscal.common import Metadata

    now = _dt.datetime.fromisoformat(generated) if generated else \
        _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0)
    return Metadata(title=title, last_modified=now, version=version or "0", oscal_version=OSCAL_VERSION)


#: The documents `report` writes beside each other; the OSCAL ones link each other by these names.
COMPONENT_DEFINITION = "component-definition.json"
ASSESSMENT_PLAN = "assessment-plan.json"
ASSESSMENT_RESULTS = "assessment-results.json"


def _control_selections(rows: list[ControlRow], controls: Mapping[str, Any]):
    from trestle.oscal.common import ControlSelections, ReviewedControls, SelectControlById

    frameworks = {fw["title"]: fw for fw in controls["frameworks"].values()}
    ids = list(dict.fromkeys(oscal_control_id(frameworks.get(r.framework, {}), r.control_id) for r in rows))
    return ReviewedControls(control_selections=[ControlSelections(
        include_controls=[SelectControlById(control_id=i) for i in ids])])


def oscal_assessment_plan(stack: str, rows: list[ControlRow], version: str,
                          controls: Optional[Mapping[str, Any]] = None,
                          header: Optional[Header] = None) -> dict[str, Any]:
    """The OSCAL assessment-plan the assessment results import (``import-ap``): which controls are
    reviewed, how (the pack over the offline render), against which SSP (the system owner's; the
    implementing components are in component-definition.json)."""
    from trestle.oscal.assessment_plan import AssessmentPlan
    from trestle.oscal.common import ImportSsp

    controls = controls or load_controls()
    plan = AssessmentPlan(
        uuid=_uid(stack, "assessment-plan-document"),
        metadata=_metadata(f"hardened-stack assessment plan ({stack})", version, header.generated if header else None),
        import_ssp=ImportSsp(href=f"#{_uid('system-security-plan', stack)}"),
        reviewed_controls=_control_selections(rows, controls),
        back_matter=_back_matter(controls, stack, header))
    return json.loads(plan.oscal_serialize_json(pretty=False))


def oscal_component_definition(stack: str, rows: list[ControlRow], version: str,
                               controls: Optional[Mapping[str, Any]] = None,
                               header: Optional[Header] = None) -> dict[str, Any]:
    """An OSCAL component-definition (what implements what), validated by trestle's models."""
    from trestle.oscal.component import (ComponentDefinition, ControlImplementation, DefinedComponent,
                                         ImplementedRequirement)

    controls = controls or load_controls()
    frameworks = {fw["title"]: (key, fw) for key, fw in controls["frameworks"].items()}
    by_component: dict[str, dict[str, list[ControlRow]]] = {}
    for r in rows:
        for comp in r.components or ["manual"]:
            by_component.setdefault(comp, {}).setdefault(r.framework, []).append(r)
    components = []
    for comp in sorted(by_component):
        impls = []
        for fw_title in sorted(by_component[comp]):
            key, fw = frameworks.get(fw_title, (fw_title, {}))
            reqs = [ImplementedRequirement(
                uuid=_uid(stack, comp, fw_title, r.control_id), control_id=oscal_control_id(fw, r.control_id),
                description=f"{r.title}. Implemented by the {comp} component; enforced by "
                            f"{', '.join(r.policies) if r.policies else 'no automated policy (manual evidence)'}.",
                props=[_prop("control-label", r.control_id)] + [_prop("enforcing-policy", p) for p in r.policies])
                for r in by_component[comp][fw_title]]
            impls.append(ControlImplementation(uuid=_uid(stack, comp, fw_title), source=f"#{_uid('framework', key)}",
                                               description=f"{fw_title} controls addressed by {comp}",
                                               implemented_requirements=reqs))
        components.append(DefinedComponent(uuid=_uid(stack, comp), type="software", title=f"hardened-stack {comp}",
                                           description=f"The {comp} component of hardened-stack (stack {stack}).",
                                           control_implementations=impls))
    cd = ComponentDefinition(uuid=_uid(stack), metadata=_metadata(
        f"hardened-stack components ({stack})", version, header.generated if header else None),
        components=components, back_matter=_back_matter(controls, stack, header))
    return json.loads(cd.oscal_serialize_json(pretty=False))  # {"component-definition": {...}}


def oscal_assessment_results(stack: str, rows: list[ControlRow], runs: Mapping[str, PolicyRun], analysis: Any,
                             controls: Optional[Mapping[str, Any]] = None,
                             header: Optional[Header] = None) -> dict[str, Any]:
    """An OSCAL assessment-results document: one observation per policy (what it judged), one
    finding per control (its verdict), validated by trestle's models."""
    from trestle.oscal.assessment_results import AssessmentResults, ImportAp, Result
    from trestle.oscal.common import Finding, FindingTarget, ObjectiveStatus, Observation, RelatedObservation

    controls = controls or load_controls()
    frameworks = {fw["title"]: fw for fw in controls["frameworks"].values()}
    generated = _dt.datetime.fromisoformat(header.generated) if header else \
        _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0)
    observations = []
    for name in sorted(runs):
        run = runs[name]
        judged = "an unknown number of" if run.judged is None else f"{run.judged}"
        observations.append(Observation(
            uuid=_uid(stack, "observation", name), title=name,
            description=f"Policy {name} judged {judged} resources of stack {stack}: {run.violations} mandatory "
                        f"violations, {run.exempted} exempted.",
            methods=["TEST"], types=["finding"], collected=generated,
            props=[_prop("policy", name), _prop("judged", "unknown" if run.judged is None else run.judged),
                   _prop("violations", run.violations), _prop("exempted", run.exempted)]))
    state = {PASS: ("satisfied", "pass"), PASS_WITH_EXEMPTIONS: ("satisfied", "pass"), FAIL: ("not-satisfied", "fail")}
    remarks = {MANUAL: "not assessed by a policy: manual evidence is needed",
               NOT_APPLICABLE: "not applicable: the policies for this control judged no resource"}
    findings = []
    for r in rows:
        cid = oscal_control_id(frameworks.get(r.framework, {}), r.control_id)
        if r.verdict in state:
            st, reason = state[r.verdict]
            status = ObjectiveStatus(state=st, reason=reason, remarks=r.reason or None)
        else:
            status = ObjectiveStatus(state="not-satisfied", reason="other",
                                     remarks=f"{r.verdict}: {r.reason}" if r.reason else remarks[r.verdict])
        findings.append(Finding(
            uuid=_uid(stack, "finding", r.framework, r.control_id), title=f"{r.framework} {r.control_id}",
            description=f"{r.title}: {r.verdict}" + (f" ({len(r.violations)} violations)" if r.violations else ""),
            target=FindingTarget(type="objective-id", target_id=cid, status=status),
            props=[_prop("verdict", r.verdict.replace(" ", "-")), _prop("control-label", r.control_id)],
            related_observations=[RelatedObservation(observation_uuid=_uid(stack, "observation", p))
                                  for p in r.policies if p in runs] or None))
    result = Result(
        uuid=_uid(stack, "result"), title=f"Policy pack verdicts for stack {stack}",
        description=f"{analysis.pack} {analysis.version} over the stack rendered offline.",
        start=generated, end=generated, reviewed_controls=_control_selections(rows, controls),
        observations=observations, findings=findings,
        props=[_prop("stack", stack)] + ([_prop("git-commit", header.commit),
                                          _prop("stack-config-digest", header.stack_digest)] if header else [])
        + ([_prop("assessor", header.assessor)] if header and header.assessor else []))
    ar = AssessmentResults(uuid=_uid(stack, "assessment-results"),
                           metadata=_metadata(f"hardened-stack assessment results ({stack})", analysis.version,
                                              header.generated if header else None),
                           import_ap=ImportAp(href=ASSESSMENT_PLAN),
                           results=[result], back_matter=_back_matter(controls, stack, header))
    return json.loads(ar.oscal_serialize_json(pretty=False))


# ---------------------------------------------------------------------------------------------
# Running the stack and writing the documents
# ---------------------------------------------------------------------------------------------

def analyze_stack(stack: str, policy_pack: Optional[str] = None, overrides: Optional[dict] = None,
                  root: Optional[Path] = None, progress=None):
    from .analyzer import DEFAULT_PACK, PolicyPackProcess
    from .manifests import iter_resources
    from .policyconfig import stack_policy_config
    from .render import REPO_ROOT, run_program, write_output

    root = Path(root) if root else REPO_ROOT
    records = run_program(stack, root, overrides=overrides, progress=progress)
    config = stack_policy_config(stack, root, overrides=overrides)  # the pack judges with the stack's settings
    with tempfile.TemporaryDirectory(prefix="hardened-report-") as tmp:
        write_output(records, Path(tmp), stack)
        with PolicyPackProcess(policy_pack or DEFAULT_PACK, config=config,
                               config_source=f"policy configuration of stack {stack}") as pack:
            return pack.analyze(list(iter_resources(tmp, stack=stack)))


def render_documents(stack: str, rows: list[ControlRow], checklist: list[ChecklistRow], analysis: Any,
                     header: Optional[Header] = None, exemptions: Optional[list[ExemptionRow]] = None,
                     runs: Optional[Mapping[str, PolicyRun]] = None) -> dict[str, str]:
    import jinja2

    runs = runs if runs is not None else {}
    if header is None:
        header = Header(stack, "", "", "", "", "", analysis.pack, analysis.version, [], [])
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), undefined=jinja2.StrictUndefined,
                             autoescape=jinja2.select_autoescape(["html.j2"]), keep_trailing_newline=True,
                             trim_blocks=True, lstrip_blocks=True)
    ctx = dict(stack=stack, rows=rows, checklist=checklist, pack=analysis.pack, version=analysis.version,
               resources=len(analysis.resources), policies=len(analysis.policies), header=header,
               exemptions=exemptions or [], runs=runs,
               summary={v: sum(1 for r in rows if r.verdict == v) for v in VERDICTS},
               checklist_summary={v: sum(1 for r in checklist if r.verdict == v) for v in VERDICTS},
               frameworks=list(dict.fromkeys(r.framework for r in rows)), verdicts=VERDICTS)
    return {"compliance.md": env.get_template("compliance.md.j2").render(**ctx),
            "compliance.html": env.get_template("compliance.html.j2").render(**ctx)}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--stack", default="prod", help="stack whose Pulumi.<stack>.yaml to render (default prod)")
    parser.add_argument("--out", default="compliance-report", help="output directory (default compliance-report)")
    parser.add_argument("--policy-pack", default=None, metavar="DIR", help="policy pack directory (default the repo's)")
    parser.add_argument("--assessor", default="", metavar="NAME",
                        help="who assesses (name, organisation): printed in the sign-off block and the OSCAL results; "
                             "left blank to fill in by hand otherwise")
    parser.add_argument("--quiet", "-q", action="store_true", help="no info line on stderr")
    parser.add_argument("--root", default=None, help=argparse.SUPPRESS)


def run(args: argparse.Namespace) -> int:
    from .console import Console, UserError, plural
    from .stackfile import REPO_ROOT

    console = Console("report", quiet=getattr(args, "quiet", False))
    from policy_pack.policies._lib.exemptions import preflight

    if not preflight("report", fail_on_expired=False):  # a malformed file: one error line, exit 2
        return 2
    out = Path(args.out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UserError(f"cannot write {out}: {e.strerror or e}") from None
    root = Path(args.root) if getattr(args, "root", None) else REPO_ROOT
    def progress(message: str) -> None:  # the program's warnings, labelled, never hidden by --quiet
        if message.startswith("warning: "):
            console.warn(message[len("warning: "):])

    analysis = analyze_stack(args.stack, args.policy_pack, root=root, progress=progress)
    controls = load_controls()
    runs = policy_runs(analysis, Path(args.policy_pack) if args.policy_pack else None)
    rows, checklist = build_rows(controls, analysis, runs)
    header = make_header(args.stack, analysis, rows, runs, root, getattr(args, "assessor", "") or "")
    from .render import stack_sections

    exemptions = exemption_rows(analysis, config=stack_sections(args.stack, root))
    for e in exemptions:
        if e.status.startswith(("expired", "active, expires")):
            console.warn(f"exemption {e.id!r} for {e.target}: {e.status} ({e.expires})")
    documents = render_documents(args.stack, rows, checklist, analysis, header, exemptions, runs)
    # The ledger of opt-outs (issue 27.2), in the evidence: a Markdown section before the sign-off, and JSON.
    from .ledger import ledger_json, ledger_markdown, stack_ledger

    ledger = stack_ledger(args.stack, root)
    md = documents["compliance.md"]
    cut = md.index("\n## Sign-off")
    documents["compliance.md"] = md[:cut].rstrip("\n") + "\n" + ledger_markdown(ledger).rstrip("\n") + "\n" + md[cut:]
    documents["opt-outs.json"] = ledger_json(ledger)
    documents[COMPONENT_DEFINITION] = json.dumps(
        oscal_component_definition(args.stack, rows, analysis.version or "0", controls, header), indent=2) + "\n"
    documents[ASSESSMENT_PLAN] = json.dumps(
        oscal_assessment_plan(args.stack, rows, analysis.version or "0", controls, header), indent=2) + "\n"
    documents[ASSESSMENT_RESULTS] = json.dumps(
        oscal_assessment_results(args.stack, rows, runs, analysis, controls, header), indent=2) + "\n"
    for name, text in documents.items():
        try:
            (out / name).write_text(text, encoding="utf-8")
        except OSError as e:
            raise UserError(f"cannot write {out / name}: {e.strerror or e}") from None
    for e in exemptions:
        if e.status.startswith("unused"):
            console.warn(f"exemption {e.id!r} for {e.target} lifted no finding in this run: remove it, or narrow it "
                         "to what still needs it")
    failed = [r for r in rows if r.verdict == FAIL] + [c for c in checklist if c.verdict == FAIL]
    counts = ", ".join(f"{n} {v}" for v in VERDICTS if (n := sum(1 for r in rows if r.verdict == v)))
    console.info(f"{plural(len(rows), 'control')} ({counts}), {plural(len(checklist), 'checklist item')}, "
                 f"{len(failed)} failing -> {out}")
    return 1 if failed else 0


def main(argv: Optional[Iterable[str]] = None) -> int:
    from .cli import Parser, run as run_command

    parser = Parser(prog="python -m hardened report", description=__doc__.split("\n\n")[0])
    parser.command = "report"
    add_arguments(parser)
    args = parser.parse_args(list(argv) if argv is not None else None)
    args.run, args.command = run, "report"
    return run_command(args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
