"""No import cycles between the modules issue 14 named: the components take their shared config
helpers (ConfigError, located errors, QuotaConfig) from components/base.py, never from
components/config.py (which composes every component's section), and the offline tools read the
stack file through hardened/stackfile.py (render and policy-config no longer import each other).
Read from the source with ast, so a function-level import counts as much as a top-level one."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def imports(path: Path, package: str) -> set[str]:
    """The sibling modules *path* imports (``from .x import``), at any level of the file."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 1 and node.module:
            found.add(node.module.split(".")[0])
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith(f"{package}."):
            found.add(node.module.split(".")[1])
    return found


def graph(package: str) -> dict[str, set[str]]:
    folder = ROOT / package
    modules = {p.stem for p in folder.glob("*.py") if p.stem != "__init__"}
    return {m: imports(folder / f"{m}.py", package) & modules for m in modules}


def cycles(g: dict[str, set[str]]) -> list[list[str]]:
    found, state, stack = [], {}, []

    def visit(n: str) -> None:
        state[n] = 1
        stack.append(n)
        for m in sorted(g.get(n, ())):
            if state.get(m) == 1:
                found.append(stack[stack.index(m):] + [m])
            elif m not in state:
                visit(m)
        stack.pop()
        state[n] = 2

    for n in sorted(g):
        if n not in state:
            visit(n)
    return found


@pytest.mark.parametrize("package", ["components", "hardened"])
def test_no_import_cycles(package):
    assert cycles(graph(package)) == []


def test_components_never_import_the_stack_config_module():
    g = graph("components")
    importers = sorted(m for m, deps in g.items() if "config" in deps and m not in ("stack", "workload", "tenancy"))
    assert importers == [], f"components that import components/config.py: {importers}"


def test_the_checker_can_find_a_cycle():
    assert cycles({"a": {"b"}, "b": {"a"}, "c": set()}) == [["a", "b", "a"]]
