"""The coverage matrix (issue 27): every item of the field's catalogs (policy_pack/coverage.yaml)
maps to a policy of the pack with a disallowed sample that proves it, or to a written "out of
scope" reason, or is an openly counted gap. The table in docs/policies.md ("Coverage matrix") is
generated from the file (``HARDENED_UPDATE_DOCS=1`` rewrites it) and must match.

The sample an item names must draw, from the item's policy, the finding its ``# expect:`` header
names: the samples test (tests/policy/test_samples.py) runs it through the pack process and
asserts exactly that, so a row here is proved, not asserted.
"""
from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
import yaml

from policy_pack.policies import all_policies
from tests.harness import assert_generated_section

ROOT = Path(__file__).resolve().parents[2]
CATALOG = ROOT / "policy_pack" / "coverage.yaml"
DOCS = ROOT / "docs" / "policies.md"
START, END = "<!-- coverage-matrix:start -->", "<!-- coverage-matrix:end -->"
NAMES = {p.name for p in all_policies()}


def load() -> dict:
    return yaml.safe_load(CATALOG.read_text())["catalogs"]


def rows() -> list[tuple[str, dict]]:
    return [(name, item) for name, catalog in load().items() for item in catalog["items"]]


def sample_path(item: dict) -> Path:
    return ROOT / "policy_pack" / "policies" / item["policy"].replace("-", "_") / "samples" / item["sample"]


def status(item: dict) -> str:
    return "covered" if "policy" in item else "out of scope" if "out_of_scope" in item else "gap"


def table() -> str:
    lines = []
    counts = Counter(status(i) for _, i in rows())
    allowed = sum(1 for _, i in rows() if i.get("allowed"))
    lines.append(f"{len(rows())} catalog items: {counts['covered'] - allowed} forbidden by a policy with a sample that "
                 f"proves it, {allowed} allowed by the catalog and proved silent by a sample, "
                 f"{counts['out of scope']} out of scope (with the reason), {counts['gap']} open gaps.")
    for name, catalog in load().items():
        lines += ["", f"#### {catalog['title']}", "", f"Source: <{catalog['url']}>", "",
                  "| Item | Source | Status | Policy / reason | Proved by |", "|---|---|---|---|---|"]
        for item in catalog["items"]:
            text = item["item"].replace("|", "\\|")
            if "policy" in item and item.get("allowed"):
                row = (f"allowed (no finding) | [`{item['policy']}`](#{item['policy']}) | "
                       f"`{item['policy'].replace('-', '_')}/samples/{item['sample']}`")
            elif "policy" in item:
                row = (f"covered | [`{item['policy']}`](#{item['policy']}) | "
                       f"`{item['policy'].replace('-', '_')}/samples/{item['sample']}`")
            elif "out_of_scope" in item:
                row = f"out of scope | {item['out_of_scope']} | -"
            else:
                row = f"**gap** | {item['gap']} | -"
            lines.append(f"| {text} | {item['source']} | {row} |")
    return "\n".join(lines)


def test_every_item_is_well_formed_and_unique():
    ids = [item["id"] for _, item in rows()]
    assert len(ids) == len(set(ids)), [i for i, n in Counter(ids).items() if n > 1]
    for _, item in rows():
        assert set(item) <= {"id", "item", "source", "policy", "sample", "allowed", "out_of_scope", "gap"}, item["id"]
        keys = {"policy", "out_of_scope", "gap"} & set(item)
        assert len(keys) == 1, f"{item['id']}: exactly one of policy, out_of_scope, gap"
        assert item.get("item") and item.get("source"), item["id"]
        for k in ("out_of_scope", "gap"):
            if k in item:
                assert len(item[k]) > 20, f"{item['id']}: {k} needs a written reason"


@pytest.mark.parametrize("item", [i for _, i in rows() if "policy" in i], ids=lambda i: i["id"])
def test_a_covered_item_names_a_policy_and_a_sample_that_proves_it(item):
    assert item["policy"] in NAMES, f"{item['id']}: {item['policy']} is no policy of the pack"
    path = sample_path(item)
    assert path.is_file(), f"{item['id']}: no sample {path}"
    if item.get("allowed"):
        # What the catalog allows: the samples test asserts the policy reports nothing on it.
        assert path.name.startswith("allowed-"), f"{item['id']}: an allowed row names an allowed-* sample"
        return
    assert path.name.startswith("disallowed-"), f"{item['id']}: a covered row names a disallowed-* sample"
    header = [line for line in path.read_text().splitlines() if line.startswith("# expect:")]
    assert any(line.split(":")[1].strip() == item["policy"] for line in header), (
        f"{item['id']}: {path.name} does not expect a finding of {item['policy']}")


def test_the_catalogs_named_by_the_issue_are_all_there():
    assert set(load()) == {"rbac-good-practices", "pod-security-standards", "cis-kubernetes-5", "istio-security",
                           "ingress-nginx", "gateway-api", "secrets-good-practices", "external-secrets-cert-manager",
                           "metadata-and-egress", "admission-integrity"}


def test_every_pss_check_of_the_pack_has_a_row():
    """The PSS rows agree with the pack's own PSS mapping (policy_pack/policies/_lib/pss.py)."""
    from policy_pack.policies._lib import pss

    covered = {i["policy"] for _, i in rows() if "policy" in i}
    assert set(pss.CHECKS.values()) <= covered


def test_the_docs_table_is_generated_from_the_catalog():
    assert_generated_section(DOCS, START, END, table(), "coverage matrix", "coverage-matrix",
                             "tests/coverage/test_coverage.py")
