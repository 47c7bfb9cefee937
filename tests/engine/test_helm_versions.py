"""Helm v3 (what the Kubernetes provider renders with) against Helm v4 (what render uses), for the
charts the stack deploys (issue 24 item 2; docs/engine.md).

pulumi-kubernetes' provider/go.mod requires helm.sh/helm/v3 v3.20.2; render uses the Helm v4 SDK
(helm-python-sdk). No Helm v3 renderer without a binary can be had here: the one Python binding on
PyPI (helm-sdkpy) needs Python 3.12 and this project's interpreter is 3.11. So the template-engine
differences between helm v3.20.2 and v4.2.3 were read from the source, and each is checked against
the cached charts the stack renders:

1. Chart default values that are null: v4 drops them when coalescing (pkg/chart/common/util/
   coalesce.go, coalesceValues and cleanNilValues), v3 keeps the key with a nil value
   (pkg/chartutil/coalesce.go, coalesceValues). Only a template that tests the key (hasKey) or
   serialises a map holding it (toYaml, toJson, keys, ...) can tell; reading the value itself gives
   nil either way.
2. Template functions v4 adds: mustToYaml and mustToToml (pkg/engine/funcs.go, funcMap); v3 fails
   on them. (mustToJson exists in both: sprig's in v3, Helm's own in v4, same output on success.)
3. Chart API version v3 (Chart.yaml apiVersion: v3) exists in v4 only.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from hardened import engine

SERIALISERS = r"(toYaml|toJson|toPrettyJson|toRawJson|mustToYaml|mustToJson|keys|values|len)"
_BEFORE = re.compile(SERIALISERS + r"\s*\(?\s*\$?\.Values((?:\.[A-Za-z0-9_]+)*)")
_AFTER = re.compile(r"\$?\.Values((?:\.[A-Za-z0-9_]+)*)\s*\)?\s*\|\s*" + SERIALISERS)
_HAS_KEY = re.compile(r"hasKey\s+\(?\s*\$?\.Values((?:\.[A-Za-z0-9_]+)*)\s*\)?\s+\"([A-Za-z0-9_]+)\"")


def _path(text: str) -> tuple[str, ...]:
    return tuple(x for x in text.split(".") if x)


def null_defaults(values: object, prefix: tuple[str, ...] = ()):
    if isinstance(values, dict):
        for k, v in values.items():
            if v is None:
                yield prefix + (str(k),)
            else:
                yield from null_defaults(v, prefix + (str(k),))


def nil_sensitive_uses(chart_dir: Path) -> list[tuple[str, str, str]]:
    """``(values path, template, how)`` for every template of *chart_dir* (and its subcharts) that
    could tell a null chart default from an absent one."""
    found = []
    for values_file in sorted(chart_dir.rglob("values.yaml")):
        chart = values_file.parent
        templates = chart / "templates"
        if not (chart / "Chart.yaml").is_file() or not templates.is_dir():
            continue
        nulls = list(null_defaults(yaml.safe_load(values_file.read_text()) or {}))
        for template in sorted(p for p in templates.rglob("*") if p.is_file()):
            text = template.read_text(errors="replace")
            serialised = [_path(m.group(2)) for m in _BEFORE.finditer(text)]
            serialised += [_path(m.group(1)) for m in _AFTER.finditer(text)]
            tested = [_path(m.group(1)) + (m.group(2),) for m in _HAS_KEY.finditer(text)]
            for null in nulls:
                where = str(template.relative_to(chart_dir))
                if any(len(p) < len(null) and null[:len(p)] == p for p in serialised):
                    found.append((".".join(null), where, "serialised"))
                if null in tested:
                    found.append((".".join(null), where, "hasKey"))
    return found


@pytest.fixture(scope="module")
def stack_charts() -> list[Path]:
    """The chart folders the prod stack renders (one render of the program)."""
    from hardened.render import ChartContext, run_program

    ctx = ChartContext()
    run_program("prod", charts=ctx)
    charts = sorted({engine.chart_dir(r.chart, r.version) for r in ctx.renders.values() if r.version})
    assert len(charts) >= 10, charts
    return charts


def test_the_detector_sees_what_tells_a_null_default_apart(tmp_path):
    chart = tmp_path / "c"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: c\nversion: 0.1.0\n")
    (chart / "values.yaml").write_text("a: {b: null, c: 1}\nd: null\n")
    (chart / "templates" / "x.yaml").write_text('{{ toYaml .Values.a }}\n{{ if hasKey .Values "d" }}x{{ end }}\n'
                                                '{{ .Values.a.b }}\n')
    assert nil_sensitive_uses(chart) == [("a.b", "templates/x.yaml", "serialised"), ("d", "templates/x.yaml", "hasKey")]


def test_no_stack_chart_can_tell_a_null_default_from_an_absent_one(stack_charts):
    found = {str(c.name): nil_sensitive_uses(c) for c in stack_charts}
    assert not {c: f for c, f in found.items() if f}, found


def test_no_stack_chart_uses_what_only_helm_v4_has(stack_charts):
    for chart in stack_charts:
        for path in chart.rglob("*"):
            if path.is_file() and path.suffix in (".yaml", ".yml", ".tpl", ".txt", ".json"):
                text = path.read_text(errors="replace")
                assert not re.search(r"\bmustTo(Yaml|Toml)\b", text), path
                if path.name == "Chart.yaml":
                    assert not re.search(r"^apiVersion:\s*v3\b", text, re.M), path

