"""``--format junit``: JUnit XML, as CI test reporters (GitLab, Jenkins, Azure) read it.

One ``testsuite`` per policy (its control and severity as properties). Within it, one
``testcase`` per policy x resource that the policy judged: a resource with findings is one
failing testcase whatever the number of messages (all of them in the failure text), an exempted
or suppressed one is skipped with the reason, and a policy with no finding at all has one passing
testcase, so that every policy of the run is listed. Every testcase has a unique ``id``
(``<policy>/<resource URN>``), a ``name`` of the resource (``Deployment ns/name``) and a ``file``
relative to the working directory (as CI reporters link it), with its line.
"""
from __future__ import annotations

from collections import OrderedDict
from xml.etree import ElementTree as ET

NAME = "junit"
SUMMARY = "JUnit XML: a testsuite per policy, a testcase per policy x resource judged"


def _place(report, verdict):
    from ..manifests import display_path

    place = report.findings.origin(verdict).primary
    file = place.file or ""
    if file and not file.startswith("<"):
        file = display_path(file)
    return file, place.line


def render(report) -> str:
    analysis = report.analysis
    root = ET.Element("testsuites", name="hardened check", tests="0", failures="0", skipped="0",
                      time=f"{analysis.seconds:.3f}")
    totals = [0, 0, 0]
    suppressed_by_policy: dict[str, list] = {}
    for s in report.suppressed:
        suppressed_by_policy.setdefault(s.verdict.policy, []).append(s)
    for name in sorted(analysis.policies):
        p = analysis.policies[name]
        suite = ET.SubElement(root, "testsuite", name=name, id=name, tests="0", failures="0", skipped="0")
        props = ET.SubElement(suite, "properties")
        for key, value in (("control", p.control), ("severity", p.severity),
                           ("enforcementLevel", p.enforcement_level)):
            if value:
                ET.SubElement(props, "property", name=key, value=value)
        by_urn: "OrderedDict[str, list]" = OrderedDict()
        for v in analysis.by_policy(name):
            by_urn.setdefault(v.urn or "stack", []).append(v)
        cases = failures = skipped = 0
        ids: set[str] = set()

        def case(urn: str, label: str, file: str = "", line=None) -> ET.Element:
            case_id = f"{name}/{urn}"
            n = 2
            while case_id in ids:  # the same URN twice (a stack-level and a resource-level finding)
                case_id, n = f"{name}/{urn}#{n}", n + 1
            ids.add(case_id)
            attrs = {"id": case_id, "classname": name, "name": label}
            if file:
                attrs["file"] = file
                if line:
                    attrs["line"] = str(line)
            return ET.SubElement(suite, "testcase", **attrs)

        for urn, verdicts in by_urn.items():
            first = verdicts[0]
            file, line = _place(report, first)
            element = case(urn, first.resource.label if first.resource else "stack", file, line)
            failure = ET.SubElement(element, "failure", type=first.enforcement_level,
                                    message=(first.message.splitlines() or [name])[0])
            failure.text = "\n".join([*(v.message for v in verdicts),
                                      *([f"Control: {p.control}"] if p.control else []),
                                      *([f"Fix: {p.remediation}"] if p.remediation else [])])
            cases, failures = cases + 1, failures + 1
        for e in (e for e in analysis.exempted if e.policy == name):
            element = case(e.urn, e.resource.label if e.resource else e.urn,
                           *(_resource_place(e.resource)))
            ET.SubElement(element, "skipped", message=e.reason)
            cases, skipped = cases + 1, skipped + 1
        for s in suppressed_by_policy.get(name, []):
            v = s.verdict
            file, line = _place(report, v)
            element = case(v.urn or "stack", v.resource.label if v.resource else "stack", file, line)
            ET.SubElement(element, "skipped", message=f"suppressed by {s.source}: {s.justification}")
            cases, skipped = cases + 1, skipped + 1
        if not cases:
            case("stack", f"{name}: no violation in {len(analysis.resources)} resources")
            cases = 1
        suite.set("tests", str(cases))
        suite.set("failures", str(failures))
        suite.set("skipped", str(skipped))
        totals = [totals[0] + cases, totals[1] + failures, totals[2] + skipped]
    root.set("tests", str(totals[0]))
    root.set("failures", str(totals[1]))
    root.set("skipped", str(totals[2]))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _resource_place(resource) -> tuple[str, object]:
    from ..manifests import display_path

    if resource is None or not resource.file or resource.file.startswith("<"):
        return "", None
    return display_path(resource.file), resource.line
