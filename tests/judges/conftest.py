"""The rendered prod stack, once per session: what the independent judges look at."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Rendered:
    out: Path
    manifests: dict[str, dict]  # path relative to out/manifests -> object

    @property
    def manifest_dir(self) -> Path:
        return self.out / "manifests"


def render_prod(out: Path) -> Rendered:
    from hardened.render import write_output
    from tests.rendercache import cached_run_program

    write_output(cached_run_program("prod", ROOT), out, "prod")
    base = out / "manifests"
    manifests = {str(p.relative_to(base)): yaml.safe_load(p.read_text())
                 for p in sorted(base.rglob("*.yaml"))}
    return Rendered(out, manifests)


@pytest.fixture(scope="session")
def rendered_prod(tmp_path_factory) -> Rendered:
    """``render --stack prod`` into a temporary directory, once per session."""
    return render_prod(tmp_path_factory.mktemp("judges-prod"))
