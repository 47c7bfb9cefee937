"""Every policy on every one of its samples, through the real gRPC path; and the house rules
every policy must follow (Gatekeeper's require-suites, pulumi/compliance-policies' metadata)."""
from __future__ import annotations

import re

import pytest

from hardened.manifests import load_path
from policy_pack.policies import all_policies
from policy_pack.policies._lib.exemptions import load_exemptions
from policy_pack.policies._lib.framework import NAME_RULE, VERBS

from .helpers import EXPECT_PREFIX, POLICIES_DIR, ROOT, expected_findings, finding_keys, messages, samples

POLICIES = all_policies()
NAMES = [p.name for p in POLICIES]
CASES = [(p.name, path) for p in POLICIES for path in samples(p.name)]


BY_NAME = {p.name: p for p in POLICIES}


@pytest.mark.parametrize("policy,sample", CASES, ids=[f"{n}/{p.stem}" for n, p in CASES])
def test_sample_verdict(pack, policy, sample):
    """An allowed sample draws nothing from its policy; a disallowed one breaks ONE rule of it and
    draws exactly the findings its ``# expect: <policy>: <message key>`` header names (the message
    keys of the findings, not merely "some finding"): a sample that breaks two rules, or a check
    that reports the wrong rule, fails here."""
    resources = load_path(sample)
    analysis = pack.analyze(resources)
    found = messages(analysis, policy)
    expected = expected_findings(sample)
    if sample.name.startswith("allowed-"):
        assert not found, f"{sample.name} should pass {policy}, got: {found}"
        assert not expected, f"{sample.name}: an allowed sample expects no finding"
        return
    assert found, f"{sample.name} should violate {policy}; all verdicts: {messages(analysis)}"
    assert expected, f"{sample.name}: no '{EXPECT_PREFIX} {policy}: <message key>' header"
    assert {p for p, _ in expected} == {policy}, f"{sample.name} names findings of other policies: {expected}"
    assert len(expected) == 1, f"{sample.name} breaks several rules of {policy}: {sorted(expected)}; split it"
    wire = [v.message for v in analysis.verdicts if v.policy == policy]
    keys = {(policy, k) for k in finding_keys(BY_NAME[policy], resources, wire)}
    assert keys == expected, f"{sample.name}: expected {sorted(expected)}, the pack reported {sorted(keys)}: {wire}"


@pytest.mark.parametrize("policy", POLICIES, ids=NAMES)
def test_policy_follows_the_house_rules(policy):
    problems = []
    if not NAME_RULE.match(policy.name):
        problems.append(f"name is not <kind>-<verb>-<what> with a verb from {VERBS}")
    folder = POLICIES_DIR / policy.name.replace("-", "_")
    if not (folder / "__init__.py").is_file():
        problems.append(f"no package {folder.relative_to(ROOT)}")
    files = samples(policy.name)
    for kind in ("allowed", "disallowed"):
        if not any(f.name.startswith(f"{kind}-") for f in files):
            problems.append(f"no samples/{kind}-*.yaml")
    stray = [f.name for f in files if not f.name.startswith(("allowed-", "disallowed-"))]
    if stray:
        problems.append(f"samples not named allowed-*/disallowed-*: {stray}")
    f = policy.framework
    if f is None or not (f.name and f.version and f.reference):
        problems.append("no framework (name, version, reference) for its main control")
    if policy.severity is None:
        problems.append("no severity")
    if policy.enforcement_level is None:
        problems.append("no enforcement level")
    if not (policy.remediation_steps or "").strip():
        problems.append("no remediation_steps")
    if policy.url != f"docs/policies.md#{policy.name}":
        problems.append(f"url is {policy.url!r}, expected docs/policies.md#{policy.name}")
    if not policy.description:
        problems.append("no description")
    if not policy.tags or not all(re.match(r"^[a-z0-9-]+:\S.*$", t) for t in policy.tags):
        problems.append(f"tags must be secondary mappings 'framework:control', got {policy.tags}")
    assert not problems, f"{policy.name}: " + "; ".join(problems)


def test_every_policy_folder_holds_a_policy():
    folders = sorted(p.name for p in POLICIES_DIR.iterdir()
                     if p.is_dir() and not p.name.startswith(("_", ".")) and p.name != "__pycache__")
    assert folders == sorted(n.replace("-", "_") for n in NAMES)


def test_the_pack_serves_every_policy_with_its_metadata(pack):
    assert sorted(pack.policies) == sorted(NAMES)
    for p in POLICIES:
        served = pack.policies[p.name]
        assert served.severity == p.severity.value
        assert served.enforcement_level == p.enforcement_level.value
        assert served.framework["reference"] == p.framework.reference
        assert list(served.tags) == list(p.tags)
        assert served.url == p.url and served.remediation == p.remediation_steps
        assert served.type == ("stack" if p.name == "namespace-missing-default-deny" or served.type == "stack"
                               else "resource")


def test_every_policy_is_documented():
    text = (ROOT / "docs" / "policies.md").read_text()
    missing = [n for n in NAMES if f'<a id="{n}"></a>' not in text]
    assert not missing, f"docs/policies.md has no section for: {missing}"


def test_the_policy_table_matches_the_policies():
    rows = {}
    for line in (ROOT / "docs" / "policies.md").read_text().splitlines():
        match = re.match(r"^\| \[`([a-z0-9-]+)`\]\(#\1\)[^|]*\|[^|]*\| (\w+) \| (\w+) \| ([^|]+) \| ([^|]+) \|",
                         line)
        if match:
            rows[match.group(1)] = (match.group(2), match.group(3), match.group(4).strip(), match.group(5).strip())
    for p in POLICIES:
        f = p.framework
        assert rows.get(p.name) == (p.enforcement_level.value, p.severity.value, f"{f.name} {f.version} {f.reference}",
                                    ", ".join(sorted(p.tags))), f"docs/policies.md row of {p.name}"


def test_each_policy_section_states_its_metadata():
    text = (ROOT / "docs" / "policies.md").read_text()
    for p in POLICIES:
        section = text.split(f'<a id="{p.name}"></a>', 1)[1].split('<a id="', 1)[0]
        f = p.framework
        line = (f"- **Level / severity:** {p.enforcement_level.value} / {p.severity.value}. **Main control:** "
                f"{f.name} {f.version} {f.reference}. **Also:** {', '.join(sorted(p.tags))}.")
        assert line in section, f"docs/policies.md section of {p.name}"


def test_the_exemptions_file_names_only_existing_policies():
    unknown = {(e.id, p) for e in load_exemptions() for p in e.policies if p not in NAMES}
    assert not unknown, f"exemptions.yaml names unknown policies: {sorted(unknown)}"


#: Advice by design (issue 16: a hardened pack that cries wolf gets switched off).
ADVISORY_BY_DESIGN = {"namespace-configure-pod-security-labels"}


def test_policies_are_mandatory_by_default():
    advisory = {p.name for p in POLICIES if p.enforcement_level.value != "mandatory"}
    assert advisory == ADVISORY_BY_DESIGN, f"not mandatory by default: {sorted(advisory)}"


def test_the_default_registries_are_the_production_stacks():
    """The pack's default allowedRegistries is Pulumi.prod.yaml's trustedRegistries: a pack run
    without the stack's policy configuration (the mutation tests, a plain --policy-pack) trusts
    what the production stack deploys, and nothing more."""
    import yaml

    from policy_pack.policies.pod_disallow_untrusted_registries import DEFAULT_REGISTRIES

    prod = yaml.safe_load((ROOT / "Pulumi.prod.yaml").read_text())["config"]["hardened-stack:trustedRegistries"]
    assert sorted(DEFAULT_REGISTRIES) == sorted(prod)
