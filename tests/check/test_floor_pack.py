"""benchmarks/floor_pack, the pack the benchmarks use to measure the protocol floor, must be a
fair floor: started and driven by ``check`` like the real pack, sent every resource the real pack
is sent, and judging none of them."""
from __future__ import annotations

import json

from .conftest import ROOT
from .test_cli import check

FLOOR_PACK = ROOT / "benchmarks" / "floor_pack"


def test_the_floor_pack_is_sent_every_resource_and_reports_nothing(capsys, dirty_dir):
    status, out, err = check(capsys, dirty_dir, "--format", "json")
    real = json.loads(out)
    assert status == 1 and real["summary"]["mandatory"] > 0, err

    status, out, err = check(capsys, dirty_dir, "--format", "json", "--policy-pack", FLOOR_PACK)
    floor = json.loads(out)
    assert status == 0, err
    assert floor["tool"]["pack"]["name"] == "protocol-floor"
    assert [p["name"] for p in floor["policies"]] == ["judge-nothing"]
    assert floor["summary"]["analyzed"] == real["summary"]["analyzed"] > 0
    assert floor["summary"]["resources"] == real["summary"]["resources"]
    assert floor["violations"] == [] and floor["exemptions"] == []
