"""Property: the same configuration renders byte-identical output (every manifest file and
resources.json), across two runs in one process with different output directories."""
from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def tree(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("stack", ["prod"])
def test_two_renders_of_the_same_config_are_byte_identical(tmp_path, stack):
    from hardened.render import run_program, write_output

    first, second = tmp_path / "a", tmp_path / "b"
    write_output(run_program(stack, ROOT), first, stack)
    write_output(run_program(stack, ROOT), second, stack)
    a, b = tree(first), tree(second)
    assert sorted(a) == sorted(b), f"different file sets: {sorted(set(a) ^ set(b))}"
    assert len(a) > 10
    differing = [name for name in a if a[name] != b[name]]
    assert not differing, f"renders differ in: {', '.join(differing)}"
