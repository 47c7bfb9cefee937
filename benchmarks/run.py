"""Benchmarks of the hardened stack, measured side by side in one run.

    python -m benchmarks            # or: python benchmarks/run.py   (from the repository root)
    python -m benchmarks --quick    # smaller sizes, for a smoke run (no bars judged)
    python -m benchmarks --all      # also the older measures below (render scaling, protocol floor)
    python -m benchmarks --render   # only the render bar (a), printed

By default it measures issue 26's bars, each a ratio of two figures taken in the same run:

a. render of prod with every chart (a cold ``python -m hardened render --stack prod``, median of
   3) over the SDK import floor (``python -c "import pulumi, pulumi_kubernetes, pulumi_aws,
   helm_python"``, median of 5), taken in turn so both see the same load: bar <= 8.
b. ``hardened check`` at 1,000, 10,000 and 100,000 generated resources (the rendered prod objects
   without the charts' CRDs, cycled with numbered names, one file each: benchmarks/generate.py
   ``manifest_corpus``): wall time and peak resident memory of the check process and of the pack
   process (resource.getrusage in the measuring subprocess). Bars: time per resource at 100k <=
   1.2x that at 1k; the memory of check and of the pack each <= 600 MB at 100k and linear (MB per
   1,000 resources from 10k to 100k no more than 1.2x that from 1k to 10k).
c. checkov's CLI (``checkov_runner.py``, its in-process Runner in a cold subprocess) on the same
   10,000 files: bar >= 20x check's time.

With ``--all``, also:

1. render scaling: the real program under mocks (in-process, after a warm-up render so imports
   are excluded) for 50 and 500 tenant namespaces, each with one workload and one intent;
   bar t(500)/t(50) <= 11 (linear).
2. ``hardened check`` versus checkov on the same 1,000 and 10,000 manifests (the rendered prod
   objects cycled with numbered names, one file each). Both as a cold subprocess, so each pays its
   interpreter start, imports and (for check) the policy pack process start; checkov is also
   reported by its in-process scan time (Runner.run only). Bars: check >= 10x faster than checkov
   (subprocess against subprocess, median of 3 alternating runs) at 1,000; t_check(10k)/t_check(1k)
   <= 11.
3. where the time of ``check`` at 1,000 goes, and the best ratio any pack could reach here (the
   *protocol floor*): the same ``check`` command with ``benchmarks/floor_pack``, a pack served by
   pulumi_policy exactly like ``policy_pack`` whose only policy judges nothing; and an *ideal
   engine*: every request built before the clock starts (no YAML, no struct building), then the
   pack started and 1,000 ``Analyze`` calls plus ``AnalyzeStack`` sent, timed from the pack's spawn
   to the last answer, for the floor pack and for the real pack. checkov divided by the ideal
   engine with the floor pack bounds what any client and any pack could reach against checkov.
4. pack process start (``python -u -m pulumi.policy 127.0.0.1:0 policy_pack`` until it prints its
   port, as PolicyPackProcess starts it) versus ``python -c pass``; median of 5.
5. cold ``python -m hardened.render --stack prod`` wall time; bar <= 3 s (median of 3); with every
   Helm chart rendered (hardened/engine.py) against the same render recording each Chart alone
   (``--no-charts``): bar <= 2x; ``hardened check`` of that render (every chart object): bar <= 2 s.

Writes benchmarks/results.md (date, machine, numbers, bars) and prints the same table.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.generate import manifest_corpus, project_root, tenant_config  # noqa: E402

PY = sys.executable
CHECKOV_PY = ROOT / "venv-checkov" / "bin" / "python"
CHECKOV_RUNNER = ROOT / "tests" / "judges" / "checkov_runner.py"
RESULTS = ROOT / "benchmarks" / "results.md"
FLOOR_PACK = ROOT / "benchmarks" / "floor_pack"


def say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def wall(argv: list[str], **kw) -> tuple[float, subprocess.CompletedProcess]:
    start = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, text=True, **kw)
    return time.perf_counter() - start, proc


def bench_render_scaling(tmp: Path, sizes: tuple[int, int]) -> dict:
    from hardened.render import run_program, write_output

    root = project_root(tmp / "root", {f"bench{n}": tenant_config(n) for n in sizes})
    run_program("prod")  # warm-up: imports and first-run caches out of the measurement
    out = {}
    for n in sizes:
        start = time.perf_counter()
        counts = write_output(run_program(f"bench{n}", root), tmp / f"render{n}", f"bench{n}")
        out[n] = {"seconds": time.perf_counter() - start, **counts}
        say(f"  render {n} tenants: {out[n]['seconds']:.2f}s ({counts['resources']} resources)")
    return out


#: checkov's time grows faster than linearly (421 s for 10,000 manifests on 2 cores); by default it
#: is stopped after this many seconds so the whole run stays within a few minutes.
CHECKOV_TIMEOUT = 600.0


def _check_seconds(corpus: Path, report: Path, pack: Path = ROOT / "policy_pack") -> tuple[float, dict]:
    t, proc = wall([PY, "-m", "hardened", "check", str(corpus), "--format", "json", "-o", str(report),
                    "--policy-pack", str(pack)], cwd=ROOT)
    if proc.returncode not in (0, 1):
        raise RuntimeError(f"hardened check failed: {proc.stderr[-2000:]}")
    return t, json.loads(report.read_text())["summary"]


def _checkov_seconds(corpus: Path, timeout: float | None) -> tuple[float, dict | None]:
    """(seconds, checkov_runner's document), or (timeout, None) when checkov was stopped."""
    try:
        t, ck = wall([str(CHECKOV_PY), str(CHECKOV_RUNNER), str(corpus)], cwd=ROOT, timeout=timeout)
    except subprocess.TimeoutExpired:
        return float(timeout), None
    if ck.returncode != 0:
        raise RuntimeError(f"checkov failed: {ck.stderr[-2000:]}")
    return t, json.loads(ck.stdout)


def bench_check_vs_checkov(tmp: Path, rendered: Path, sizes: tuple[int, ...],
                           checkov_timeout: float | None = CHECKOV_TIMEOUT, reps: int = 3) -> dict:
    """The median of *reps* alternating runs at the first size, one run at the others. checkov is
    stopped after *checkov_timeout* seconds (None: never); its time is then reported as a lower
    bound."""
    out = {}
    for i, n in enumerate(sizes):
        corpus = tmp / f"corpus{n}"
        manifest_corpus(rendered, n, corpus)
        checks, checkovs, scans = [], [], []
        summary, doc = {}, None
        for _ in range(reps if i == 0 else 1):
            t, summary = _check_seconds(corpus, tmp / f"check{n}.json")
            checks.append(t)
            t, doc = _checkov_seconds(corpus, checkov_timeout)
            if doc is None:
                break
            checkovs.append(t)
            scans.append(doc["seconds"])
        t_check = statistics.median(checks)
        if doc is None:
            out[n] = {"check": t_check, "check_analyzed": summary["analyzed"], "checkov": checkov_timeout,
                      "checkov_scan": None, "checkov_timed_out": True, "runs": len(checks)}
            say(f"  {n} manifests: check {t_check:.2f}s, checkov stopped after {checkov_timeout:.0f}s")
            continue
        out[n] = {"check": t_check, "check_analyzed": summary["analyzed"], "checkov": statistics.median(checkovs),
                  "checkov_scan": statistics.median(scans), "checkov_files": len(doc["files"]),
                  "checkov_timed_out": False, "runs": len(checks)}
        say(f"  {n} manifests: check {t_check:.2f}s, checkov {out[n]['checkov']:.2f}s "
            f"(scan {out[n]['checkov_scan']:.2f}s), median of {len(checks)}")
    return out


def _ideal_engine_seconds(pack_dir: Path, requests: list, stack_request) -> float:
    """Spawn of the pack to the last answer, with every request built beforehand."""
    from hardened.analyzer import DEFAULT_IN_FLIGHT, PolicyPackProcess

    start = time.perf_counter()
    with PolicyPackProcess(pack_dir) as pack:
        stub = pack._stub  # the channel PolicyPackProcess opened; only the requests are prepared here
        pending = []
        for request in requests:
            pending.append(stub.Analyze.future(request))
            if len(pending) >= DEFAULT_IN_FLIGHT:
                pending.pop(0).result()
        stack = stub.AnalyzeStack.future(stack_request)
        for future in pending:
            future.result()
        stack.result()
        return time.perf_counter() - start


def bench_floor(tmp: Path, corpus: Path, reps: int = 3) -> dict:
    """The protocol floor on *corpus* (median of *reps* each): ``check`` with the floor pack, and
    the ideal engine with the floor pack and with the real pack."""
    from hardened.analyzer import _proto, to_struct
    from hardened.manifests import load_path

    pb, _ = _proto()
    resources = load_path(corpus)
    structs = [to_struct(r.inputs) for r in resources]
    requests = [pb.AnalyzeRequest(type=r.type, properties=s, urn=r.urn, name=r.name,
                                  options=pb.AnalyzerResourceOptions(parent=r.parent))
                for r, s in zip(resources, structs) if r.analyzed]
    stack_request = pb.AnalyzeStackRequest(resources=[
        pb.AnalyzerResource(type=r.type, properties=s, urn=r.urn, name=r.name, parent=r.parent)
        for r, s in zip(resources, structs)])
    runs: dict[str, list[float]] = {"check_floor": [], "ideal": [], "ideal_floor": []}
    summary: dict = {}
    for _ in range(reps):
        t, summary = _check_seconds(corpus, tmp / "floor.json", FLOOR_PACK)
        runs["check_floor"].append(t)
        runs["ideal"].append(_ideal_engine_seconds(ROOT / "policy_pack", requests, stack_request))
        runs["ideal_floor"].append(_ideal_engine_seconds(FLOOR_PACK, requests, stack_request))
    if summary["violations"] or summary["analyzed"] != len(requests):
        raise RuntimeError(f"the floor pack must be sent every resource and report nothing: {summary}")
    out = {k: statistics.median(v) for k, v in runs.items()}
    say("  " + ", ".join(f"{k} {v:.2f}s" for k, v in out.items()))
    return out


def bench_pack_start(reps: int = 5) -> dict:
    pack_times, bare = [], []
    for _ in range(reps):
        start = time.perf_counter()
        proc = subprocess.Popen([PY, "-u", "-m", "pulumi.policy", "127.0.0.1:0", str(ROOT / "policy_pack")],
                                cwd=ROOT / "policy_pack", stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        line = proc.stdout.readline()
        pack_times.append(time.perf_counter() - start)
        proc.kill()
        proc.wait()
        proc.stdout.close()
        if not line.strip().isdigit():
            raise RuntimeError(f"pack printed {line!r} instead of a port")
        bare.append(wall([PY, "-c", "pass"])[0])
    return {"pack": statistics.median(pack_times), "bare": statistics.median(bare)}


def bench_cold_render(tmp: Path, reps: int = 3) -> dict:
    """Cold renders of prod, alternating with the baseline that records each Chart without
    expanding it (``--no-charts``: the render as it was before charts were rendered), then
    ``hardened check`` of the full render (every chart object through the pack)."""
    times, baseline, checks = [], [], []
    for i in range(reps):
        t, proc = wall([PY, "-m", "hardened.render", "--stack", "prod", "--out", str(tmp / f"cold{i}"), "--quiet"],
                       cwd=ROOT)
        if proc.returncode != 0:
            raise RuntimeError(f"render failed: {proc.stderr[-2000:]}")
        times.append(t)
        t, proc = wall([PY, "-m", "hardened.render", "--stack", "prod", "--out", str(tmp / f"bare{i}"), "--quiet",
                        "--no-charts"], cwd=ROOT)
        if proc.returncode != 0:
            raise RuntimeError(f"render --no-charts failed: {proc.stderr[-2000:]}")
        baseline.append(t)
    for _ in range(reps):
        t, proc = wall([PY, "-m", "hardened", "check", str(tmp / "cold0"), "--format", "json"], cwd=ROOT)
        if proc.returncode not in (0, 1):
            raise RuntimeError(f"check failed: {proc.stderr[-2000:]}")
        checks.append(t)
    objects = len(json.loads((tmp / "cold0" / "resources.json").read_text())["resources"])
    return {"median": statistics.median(times), "min": min(times), "bare": statistics.median(baseline),
            "check": statistics.median(checks), "resources": objects}


def compare_row(n: int, r: dict) -> str:
    if r.get("checkov_timed_out"):
        return (f"| {n:,} | {r['check']:.2f} | > {r['checkov']:.0f} (stopped) | n/a | > {r['checkov'] / r['check']:.0f}x | "
                f"n/a |")
    return (f"| {n:,} | {r['check']:.2f} | {r['checkov']:.2f} | {r['checkov_scan']:.2f} | "
            f"{r['checkov'] / r['check']:.2f}x | {r['checkov_scan'] / r['check']:.2f}x |")


def machine() -> str:
    return (f"{os.cpu_count()} CPUs (nproc {len(os.sched_getaffinity(0))}), {platform.machine()}, "
            f"{platform.system()} {platform.release()}, Python {platform.python_version()}")


SDK_IMPORTS = "import pulumi, pulumi_kubernetes, pulumi_aws, helm_python"

#: check in this process (RUSAGE_SELF: check's peak); the pack's own peak is its VmHWM, read from
#: /proc just before check stops it. (Not RUSAGE_CHILDREN: Linux carries a process's high-water
#: mark across exec into the child it forks, so a `git` that check starts after growing to N MB
#: reports N MB there, whatever the pack used.)
MEASURE = """
import resource, sys, time
start = time.perf_counter()
from hardened import analyzer
pack_peak = [0.0]
close = analyzer.PolicyPackProcess.close
def measured_close(self):
    if self.process is not None:
        try:
            with open(f"/proc/{self.process.pid}/status") as status:
                for line in status:
                    if line.startswith("VmHWM:"):
                        pack_peak[0] = max(pack_peak[0], int(line.split()[1]) / 1024)
        except OSError:
            pass
    close(self)
analyzer.PolicyPackProcess.close = measured_close
from hardened.cli import main
status = main(sys.argv[1:])
print(status, time.perf_counter() - start, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, pack_peak[0])
"""


def bench_render_floor(tmp: Path, reps: int = 3) -> dict:
    """The SDK import floor (median of 5) and the render (median of *reps*), taken in turn (floor,
    render, floor, ...) so that both see the same load on a shared machine. Both import byte-compiled
    modules: the SDKs' were compiled when they were installed, the project's by one render before
    the clock (with ``PYTHONDONTWRITEBYTECODE`` set, as in some CI images, each render would compile
    them again)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}

    def render(out: Path) -> float:
        t, proc = wall([PY, "-m", "hardened", "render", "--stack", "prod", "--out", str(out), "--quiet"], cwd=ROOT,
                       env=env)
        if proc.returncode != 0:
            raise RuntimeError(f"render failed: {proc.stderr[-2000:]}")
        return t

    render(tmp / "floor-render-untimed")
    floors, renders = [], []
    load = os.getloadavg()[0]
    for i in range(max(5, reps)):
        floors.append(wall([PY, "-c", SDK_IMPORTS], cwd=ROOT, env=env)[0])
        if i < reps:
            renders.append(render(tmp / f"floor-render{i}"))
    out = {"floor": statistics.median(floors), "render": statistics.median(renders), "floors": floors,
           "renders": renders, "load": (load, os.getloadavg()[0])}
    say(f"  SDK import floor {out['floor']:.3f}s {[round(f, 3) for f in floors]}, render {out['render']:.2f}s "
        f"{[round(r, 2) for r in renders]} ({out['render'] / out['floor']:.2f}x; load average {load:.2f} -> "
        f"{out['load'][1]:.2f})")
    return out


def bench_check_scale(tmp: Path, rendered: Path, sizes: tuple[int, ...]) -> dict:
    out = {}
    for n in sizes:
        corpus = tmp / f"scale{n}"
        manifest_corpus(rendered, n, corpus, crds=False)
        os.sync()  # the new files written back before the clock starts, as they are when checkov reads them
        report = tmp / f"scale{n}.json"
        t0 = time.perf_counter()
        proc = subprocess.run([PY, "-c", MEASURE, "check", str(corpus), "--format", "json", "--output", str(report),
                               "--quiet"], cwd=ROOT, capture_output=True, text=True)
        if not proc.stdout.strip():
            raise RuntimeError(f"check failed: {proc.stderr[-2000:]}")
        status, seconds, check_mb, pack_mb = proc.stdout.split()
        summary = json.loads(report.read_text())["summary"]
        out[n] = {"seconds": float(seconds), "wall": time.perf_counter() - t0, "check_mb": float(check_mb),
                  "pack_mb": float(pack_mb), "resources": summary["resources"], "analyzed": summary["analyzed"]}
        say(f"  check {n:,}: {out[n]['wall']:.1f}s, check {out[n]['check_mb']:.0f} MB, pack {out[n]['pack_mb']:.0f} MB")
        if n != sizes[1]:
            import shutil

            shutil.rmtree(corpus)
    return out


def main_issue26(args) -> int:
    started = time.perf_counter()
    sizes = (200, 1000, 5000) if args.quick else (1000, 10000, 100000)
    with tempfile.TemporaryDirectory(prefix="hardened-bench-") as t:
        tmp = Path(t)
        say("render vs the SDK import floor ...")
        floor = bench_render_floor(tmp)
        say("check at scale ...")
        scale = bench_check_scale(tmp, tmp / "floor-render0", sizes)
        say(f"checkov on the same {sizes[1]:,} files ...")
        ck_t, ck = _checkov_seconds(tmp / f"scale{sizes[1]}", args.checkov_timeout or None)
    small, mid, large = sizes
    per = {n: scale[n]["wall"] / n for n in sizes}
    slope_low = (scale[mid]["check_mb"] - scale[small]["check_mb"]) / ((mid - small) / 1000)
    slope_high = (scale[large]["check_mb"] - scale[mid]["check_mb"]) / ((large - mid) / 1000)
    pack_low = (scale[mid]["pack_mb"] - scale[small]["pack_mb"]) / ((mid - small) / 1000)
    pack_high = (scale[large]["pack_mb"] - scale[mid]["pack_mb"]) / ((large - mid) / 1000)
    speedup = ck_t / scale[mid]["wall"]
    bars = [
        ("render --stack prod (every chart) / SDK import floor", f"{floor['render'] / floor['floor']:.2f}x",
         "<= 8", floor["render"] / floor["floor"] <= 8),
        (f"check time per resource at {large:,} / at {small:,}", f"{per[large] / per[small]:.2f}", "<= 1.2",
         per[large] / per[small] <= 1.2),
        (f"check peak memory at {large:,}", f"{scale[large]['check_mb']:.0f} MB", "<= 600 MB",
         scale[large]["check_mb"] <= 600),
        (f"check memory slope {mid // 1000}k-{large // 1000}k / {small // 1000}k-{mid // 1000}k (MB per 1,000)",
         f"{slope_high:.1f} / {slope_low:.1f}", "<= 1.2x (linear)", slope_high <= 1.2 * max(slope_low, 0.1)),
        (f"pack peak memory at {large:,}", f"{scale[large]['pack_mb']:.0f} MB", "<= 600 MB",
         scale[large]["pack_mb"] <= 600),
        (f"pack memory slope {mid // 1000}k-{large // 1000}k / {small // 1000}k-{mid // 1000}k (MB per 1,000)",
         f"{pack_high:.1f} / {pack_low:.1f}", "<= 1.2x (linear)", pack_high <= 1.2 * max(pack_low, 0.1)),
        (f"checkov CLI / check at {mid:,}", f"{'> ' if ck is None else ''}{speedup:.1f}x", ">= 20x", speedup >= 20),
    ]
    lines = [
        "# Benchmarks",
        "",
        f"Measured {dt.datetime.now(dt.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')} on {machine()}, "
        f"a machine shared with other jobs (figures are wall times: ratios within one run are what is judged); "
        f"whole run {time.perf_counter() - started:.0f} s{' (--quick: bars not judged)' if args.quick else ''}.",
        "",
        "Command: `venv/bin/python -m benchmarks` (this page; `--all` adds the older measures; "
        + ("checkov ran to the end" if not args.checkov_timeout else
           f"checkov is stopped after {args.checkov_timeout:.0f} s, a lower bound then") + ").",
        "What each number means is in the docstring of benchmarks/run.py.",
        "",
        "## Bars (issue 26)",
        "",
        "| measure | result | bar | met |",
        "|---|---|---|---|",
        *[f"| {name} | {value} | {bar} | {'yes' if ok else '**no**'} |" for name, value, bar, ok in bars],
        "",
        "## Render",
        "",
        f"- SDK import floor, `python -c \"{SDK_IMPORTS}\"` (median of 5): {floor['floor']:.2f} s",
        f"- `python -m hardened render --stack prod --quiet` (median of 3, every Helm chart rendered): "
        f"{floor['render']:.2f} s",
        "",
        "## `hardened check` at scale",
        "",
        "Command per size: `python -c MEASURE check DIR --format json --output FILE --quiet` (benchmarks/run.py "
        "MEASURE: the CLI in the measuring process, getrusage RUSAGE_SELF for check and the pack process's VmHWM for the "
        "pack it starts); DIR from `benchmarks.generate.manifest_corpus(render, N, DIR, crds=False)`.",
        "",
        "| resources | seconds | ms per resource | check peak MB | pack peak MB |",
        "|---|---|---|---|---|",
        *[f"| {n:,} | {r['wall']:.1f} | {1000 * r['wall'] / n:.2f} | {r['check_mb']:.0f} | {r['pack_mb']:.0f} |"
          for n, r in scale.items()],
        "",
        f"checkov on the same {mid:,} files: `venv-checkov/bin/python tests/judges/checkov_runner.py DIR`: "
        + (f"{ck_t:.1f} s." if ck is not None else f"stopped after {ck_t:.0f} s (a lower bound)."),
        "",
        "The 200,000-document stream of issue 27 (small objects, one file, `benchmarks.generate.small_stream`) is "
        "measured by tests/speed/test_stream_memory.py.",
        "",
    ]
    text = "\n".join(lines)
    print(text)
    if not args.no_write and not args.quick:
        RESULTS.write_text(text)
        say(f"wrote {RESULTS}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes; bars are not judged")
    parser.add_argument("--no-write", action="store_true", help="print only; leave results.md alone")
    parser.add_argument("--all", action="store_true", help="the older measures (render scaling, protocol floor)")
    parser.add_argument("--checkov-timeout", type=float, default=CHECKOV_TIMEOUT, metavar="SECONDS",
                        help=f"stop checkov after this long, reporting a lower bound (default {CHECKOV_TIMEOUT:.0f}; "
                             "0: let it finish, about 7 minutes at 10,000 manifests on 2 cores)")
    parser.add_argument("--render", action="store_true", help="only the render bar (a), printed; results.md alone")
    args = parser.parse_args(argv)
    if args.render:
        with tempfile.TemporaryDirectory(prefix="hardened-bench-") as t:
            floor = bench_render_floor(Path(t))
        print(f"render --stack prod / SDK import floor: {floor['render']:.2f} s / {floor['floor']:.3f} s = "
              f"{floor['render'] / floor['floor']:.2f}x (bar <= 8)")
        return 0
    if not args.all:
        return main_issue26(args)
    render_sizes = (10, 50) if args.quick else (50, 500)
    check_sizes = (200, 1000) if args.quick else (1000, 10000)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="hardened-bench-") as t:
        tmp = Path(t)
        say("cold render of prod ...")
        cold = bench_cold_render(tmp)
        say("render scaling ...")
        scaling = bench_render_scaling(tmp, render_sizes)
        say("check vs checkov ...")
        compare = bench_check_vs_checkov(tmp, tmp / "cold0", check_sizes, args.checkov_timeout or None)
        say("protocol floor ...")
        floor = bench_floor(tmp, tmp / f"corpus{check_sizes[0]}")
        floor.update(check=compare[check_sizes[0]]["check"], checkov=compare[check_sizes[0]]["checkov"])
        say("pack start ...")
        start = bench_pack_start()
    small, large = render_sizes
    c1, c2 = check_sizes
    render_ratio = scaling[large]["seconds"] / scaling[small]["seconds"]
    speedup = compare[c1]["checkov"] / compare[c1]["check"]
    scan = compare[c1]["checkov_scan"]
    check_ratio = compare[c2]["check"] / compare[c1]["check"]
    bars = [
        (f"render t({large})/t({small}) tenants", f"{render_ratio:.2f}", "<= 11", render_ratio <= 11),
        (f"check vs checkov at {c1:,} (both cold subprocesses, median of {compare[c1]['runs']})",
         f"{'> ' if compare[c1].get('checkov_timed_out') else ''}{speedup:.2f}x faster", ">= 10x", speedup >= 10),
        (f"check t({c2})/t({c1})", f"{check_ratio:.2f}", "<= 11", check_ratio <= 11),
        ("cold render --stack prod (median of 3)", f"{cold['median']:.2f} s", "<= 3 s", cold["median"] <= 3),
        ("cold render with every chart rendered / without (median of 3)",
         f"{cold['median'] / cold['bare']:.2f}", "<= 2", cold["median"] / cold["bare"] <= 2),
        (f"check of the prod render ({cold['resources']} resources, median of 3)", f"{cold['check']:.2f} s", "<= 2 s",
         cold["check"] <= 2),
    ]
    lines = [
        "# Benchmarks",
        "",
        f"Measured {dt.datetime.now(dt.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')} on {machine()}; "
        f"checkov {json.loads(subprocess.run([str(CHECKOV_PY), '-c', 'import json, checkov.version as v; print(json.dumps(v.version))'], capture_output=True, text=True).stdout or 'null')}; "
        f"whole run {time.perf_counter() - started:.0f} s{' (--quick: bars not judged)' if args.quick else ''}.",
        "",
        "Reproduce: `make setup`, then `venv/bin/python -m benchmarks` (or `venv/bin/python benchmarks/run.py`; "
        + ("this run let checkov finish (`--checkov-timeout 0`)" if not args.checkov_timeout else
           f"checkov is stopped after {args.checkov_timeout:.0f} s; `--checkov-timeout 0` lets it finish")
        + "). What each number means is in the docstring of benchmarks/run.py.",
        "",
        "## Bars",
        "",
        "| measure | result | bar | met |",
        "|---|---|---|---|",
        *[f"| {name} | {value} | {bar} | {'yes' if ok else '**no**'} |" for name, value, bar, ok in bars],
        "",
        (f"The protocol floor at {c1:,} (below) is {floor['ideal_floor']:.2f} s, so no client and no pack served "
         f"by pulumi_policy one resource at a time can be more than {floor['checkov'] / floor['ideal_floor']:.1f}x "
         "faster than checkov on this machine."),
        "",
        "## Render scaling (in-process, after a warm-up render)",
        "",
        "| tenant namespaces | resources | manifests | seconds |",
        "|---|---|---|---|",
        *[f"| {n} | {r['resources']} | {r['manifests']} | {r['seconds']:.2f} |" for n, r in scaling.items()],
        "",
        "## `hardened check` versus checkov on the same manifests",
        "",
        "check: `python -m hardened check DIR --format json` as a subprocess (interpreter start, imports, YAML "
        "load, pack process start, Analyze per resource pipelined, AnalyzeStack). checkov: "
        "`venv-checkov/bin/python tests/judges/checkov_runner.py DIR` as a subprocess (interpreter start, imports, "
        "`Runner().run(framework=kubernetes)`), and its in-process scan time alone.",
        "",
        "| manifests | check (s) | checkov subprocess (s) | checkov scan only (s) | checkov / check | checkov scan / check |",
        "|---|---|---|---|---|---|",
        *[compare_row(n, r) for n, r in compare.items()],
        "",
        f"## Where the time goes at {c1:,} manifests (median of 3 runs each)",
        "",
        "The protocol floor: `benchmarks/floor_pack` is served by pulumi_policy exactly as `policy_pack` is, "
        "but its only policy judges nothing. The ideal engine builds every request before the clock starts, "
        "then spawns the pack and sends the Analyze calls (12 in flight, as `check` does) and AnalyzeStack; "
        "it times the pack's spawn to the last answer. The last row has neither client work nor policy work: "
        "what is left is the pack's start and the SDK's gRPC server answering one call per resource, which every "
        "pack served by pulumi_policy pays.",
        "",
        "| what | seconds | checkov / this |",
        "|---|---|---|",
        *[f"| {name} | {floor[key]:.2f} | {floor['checkov'] / floor[key]:.2f}x |" for name, key in (
            ("checkov: in-process Runner, as a cold subprocess", "checkov"),
            ("`hardened check`, the real pack", "check"),
            ("`hardened check`, the floor pack (judges nothing)", "check_floor"),
            ("ideal engine, the real pack", "ideal"),
            ("ideal engine, the floor pack: the protocol floor", "ideal_floor"),
        )],
        "",
        "## Process start (median of 5)",
        "",
        "| what | seconds |",
        "|---|---|",
        f"| policy pack: start until its port is printed | {start['pack']:.3f} |",
        f"| `python -c pass` | {start['bare']:.3f} |",
        f"| cold `python -m hardened.render --stack prod` (median of 3; min) | {cold['median']:.2f} ({cold['min']:.2f}) |",
        f"| the same without rendering the charts (`--no-charts`, median of 3) | {cold['bare']:.2f} |",
        f"| `python -m hardened check` of that render, {cold['resources']} resources (median of 3) | {cold['check']:.2f} |",
        "",
    ]
    text = "\n".join(lines)
    print(text)
    if not args.no_write and not args.quick:
        RESULTS.write_text(text)
        say(f"wrote {RESULTS}")
    if scan is not None:
        say(f"speedup at {c1} counting checkov's scan only: {scan / compare[c1]['check']:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
