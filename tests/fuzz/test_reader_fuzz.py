"""The manifest reader on mangled input: whatever the bytes, it returns resources or raises
ManifestError naming the file; it never raises anything else (which ``check`` would print as a
traceback with exit 1) and never takes long. Seeded, so a failure reproduces."""
from __future__ import annotations

import json
import random
import time

import pytest

from hardened.manifests import ManifestError, load_path

from ..check.conftest import SAMPLES

SEEDS = range(12)
SOURCES = sorted(SAMPLES.glob("*/samples/*.yaml"))
#: Bytes that matter to YAML and JSON: indicators, quotes, anchors, aliases, breaks, BOMs.
NASTY = [b"[", b"{", b"]", b"}", b"*a", b"&a ", b"<<: ", b"- ", b": ", b"\n", b"\r", b"\t", b'"', b"'", b"!!",
         b"---\n", b"...\n", b"\xff\xfe", b"\xfe\xff", b"\xef\xbb\xbf", b"\x00", b"\xc3", b"|\n", b">-\n", b"#",
         b"%YAML 1.1\n", b"items: [", b"kind: List\n", b"&a [*a]", b"- &a\n  - *a\n"]


def mangle(data: bytes, rng: random.Random) -> bytes:
    data = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        at = rng.randrange(len(data) + 1)
        choice = rng.random()
        if choice < 0.4:
            data[at:at] = rng.choice(NASTY) * rng.randint(1, 40)
        elif choice < 0.6:
            del data[at:at + rng.randint(1, 30)]
        elif choice < 0.8 and data:
            data[min(at, len(data) - 1)] = rng.randrange(256)
        else:
            data = data[:at]
    return bytes(data)


def as_json(data: bytes) -> bytes:
    import yaml
    try:
        docs = [d for d in yaml.safe_load_all(data.decode()) if d is not None]
    except yaml.YAMLError:
        return data
    return json.dumps({"apiVersion": "v1", "kind": "List", "items": docs}, indent=2).encode()


@pytest.mark.parametrize("seed", SEEDS)
def test_mangled_manifests_are_read_or_refused_cleanly(tmp_path, seed):
    rng = random.Random(seed)
    for i in range(40):
        source = rng.choice(SOURCES).read_bytes()
        if rng.random() < 0.3:
            source = as_json(source)
        path = tmp_path / f"case-{i}{rng.choice(['.yaml', '.json', '.yml'])}"
        path.write_bytes(mangle(source, rng))
        started = time.perf_counter()
        try:
            load_path(path)
        except ManifestError as e:
            assert e.problems and all(p.startswith(str(path)) for p in e.problems), e.problems
        assert time.perf_counter() - started < 5, path.read_bytes()[:200]
