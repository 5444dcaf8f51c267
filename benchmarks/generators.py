"""Load-generator efficiency: loadtest's Locust users vs the anchors, same target, same run, printed as ratios.

A script, not a test. The Node firehose (benchmarks/firehose) runs on --server-core, each generator on --gen-core
(`taskset`), one after the other, and the firehose's own CPU share is printed so a saturated target is visible.
Counts come from the target (actions received, events emitted), CPU from the generator's process tree.

    .venv/bin/python benchmarks/generators.py roundtrip   # CPU per action at saturation, then the 50 % run
    .venv/bin/python benchmarks/generators.py stream      # events received per generator CPU-second
    .venv/bin/python benchmarks/generators.py idle        # idle connections held, RSS each, connect rate
    .venv/bin/python benchmarks/generators.py server      # the reference server's events/s on one core
    .venv/bin/python benchmarks/generators.py deflate     # our client's cost of permessage-deflate

Generators: `ours` (locustfile.py ChatUser/PacedUser/IdleUser: Conversation, timeline, histograms, Locust
stats; `ours-batched` the same with `--locust-rows batched`), `pysio` (python-socketio Client in a Locust
user), `contrib` (Locust's contrib SocketIOUser), `artillery` (npm artillery, socketio engine; roundtrip here,
idle and stream in artillery_anchor.py). Every run is bounded by --seconds and stops by itself.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import artillery_anchor
from _procs import (
    ARTILLERY_DIR,
    BENCH,
    LOCUST,
    PY,
    ROOT,
    Firehose,
    Proc,
    Window,
    load_average,
    npm_ci,
    pin,
    raise_fd_limit,
)

from loadtest.histogram import Histogram

ANCHORS = str(BENCH / "anchors_locustfile.py")
#: our generator's variants: the default (one events.request per measurement) and --locust-rows batched
OURS = {"ours": [], "ours-batched": ["--locust-rows", "batched"]}


def _locust(
    args: argparse.Namespace, kind: str, url: str, users: int, report: Path, extra: list[str], mode: str = "turns"
) -> Proc:
    common = ["--headless", "-u", str(users), "-r", str(args.spawn_rate), "-t", f"{int(args.seconds)}s"]
    common += ["--host", url, "--only-summary", "--loglevel", "WARNING", "--stop-timeout", "2"]
    if kind in OURS:
        extra = [*OURS[kind], *extra]
        argv = [LOCUST, "-f", str(ROOT / "locustfile.py"), *common, "--report-dir", str(report), "--skip-report"]
        return Proc([*pin(args.gen_core), *argv, *extra], cwd=ROOT)
    user = {"pysio": "PySioUser", "contrib": "ContribUser"}[kind]
    env = {"BENCH_MODE": mode}
    return Proc([*pin(args.gen_core), LOCUST, "-f", ANCHORS, *common, user], cwd=ROOT, env=env)


def _artillery(args: argparse.Namespace, url: str, users: int) -> Proc:
    npm_ci(ARTILLERY_DIR, "artillery", {"PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD": "1"})
    env = {"BENCH_SECONDS": str(int(args.seconds)), "ARTILLERY_DISABLE_TELEMETRY": "true"}
    script = (ARTILLERY_DIR / "roundtrip.yml").read_text()
    run_yml = ARTILLERY_DIR / "roundtrip.run.yml"
    run_yml.write_text(script.replace('"{{ $processEnvironment.BENCH_USERS }}"', str(users)))
    argv = ["node", str(ARTILLERY_DIR / "node_modules" / "artillery" / "bin" / "run"), "run", "--quiet"]
    argv += ["--target", url, str(run_yml)]
    return Proc([*pin(args.gen_core), *argv], cwd=ARTILLERY_DIR, env=env)


def _measure(args: argparse.Namespace, gen: Proc, server: Firehose, stream: float = 0.0) -> dict[str, float]:
    return measure(args, gen, server, stream)[0]


def measure(args: argparse.Namespace, gen: Proc, server: Firehose, stream: float = 0.0) -> tuple[dict[str, float], str]:
    """Skip the ramp (--warmup), then measure a window that ends 3 s before the generator stops; (window, output)."""
    time.sleep(args.warmup)
    if stream:
        server.stream(stream, args.seconds)
    window = Window(gen, server)
    window.start()
    time.sleep(max(1.0, args.seconds - args.warmup - 3))
    result = window.stop()
    result["gen_rss_mib"] = gen.rss_kib() / 1024
    out = gen.wait(args.seconds + 60)
    result["exit"] = gen.popen.returncode
    if gen.popen.returncode not in (0, 1):
        print(f"  generator exit {gen.popen.returncode}: {out[-600:]}", file=sys.stderr)
    return result, out


def _turn_percentiles(report: Path, skip_s: float) -> dict[str, float]:
    """p50/p99 of `turn` from our timeline, leaving out the first `skip_s` seconds."""
    merged = Histogram()
    with (report / "timeline.jsonl").open() as fh:
        for line in fh:
            row = json.loads(line)
            if row["t"] >= skip_s and "turn" in row.get("metrics", {}):
                merged.merge(Histogram.from_dict(row["metrics"]["turn"]))
    return {"p50_ms": merged.percentile(50) or math.nan, "p99_ms": merged.percentile(99) or math.nan}


# ------------------------------------------------------------------------------------------------ workloads


def roundtrip(args: argparse.Namespace) -> None:
    server = Firehose(args.server_core, events=args.events)
    rows: dict[str, dict[str, float]] = {}
    try:
        for kind in args.generators:
            with tempfile.TemporaryDirectory() as tmp:
                if kind == "artillery":
                    gen = _artillery(args, server.url, args.users)
                else:
                    extra = ["--think-time", "0s", "ChatUser"] if kind in OURS else []
                    gen = _locust(args, kind, server.url, args.users, Path(tmp) / "run", extra)
                rows[kind] = _measure(args, gen, server)
            print(f"  {kind}: {json.dumps(rows[kind])}", flush=True)
        half = _half_load(args, server, rows.get("ours")) if "ours" in rows else None
    finally:
        server.stop()
    _print_table(f"roundtrip: {args.users} users, {args.events} events per action, no think time", rows, _RT_ROWS)
    if half:
        print()
        print("measurement overhead at ~50 % generator CPU (PacedUser) vs a minimal asyncio client, same run:")
        print("| quantity | ours (full path) | asyncio probe | ours − probe |")
        print("|---|---:|---:|---:|")
        for q in ("p50_ms", "p99_ms"):
            print(f"| turn {q[:-3]} (ms) | {half['ours'][q]:.2f} | {half['probe'][q]:.2f} | "
                  f"{half['ours'][q] - half['probe'][q]:+.2f} |")  # fmt: skip
        print(f"generator CPU {half['window']['gen_cpu_share']:.0%} at {half['window']['actions_per_s']:,.0f} "
              f"actions/s; firehose CPU {half['window']['server_cpu_share']:.0%}")  # fmt: skip
    print(f"load average: {load_average()}")
    print(json.dumps({"roundtrip": rows, "half": half}))


def _half_load(args: argparse.Namespace, server: Firehose, sat: dict[str, float] | None) -> dict[str, Any] | None:
    if not sat or not sat["actions_per_s"] or not sat["gen_cpu_share"]:
        return None
    # actions/s for ~50 % of one core: CPU per action is ~1.3x higher when turns are spread out, not batched
    rate = 0.5 / 1.3 * sat["actions_per_s"] / max(sat["gen_cpu_share"], 0.01)
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "run"
        extra = ["--action-rate", f"{rate:.0f}", "PacedUser"]
        gen = _locust(args, "ours", server.url, args.users, report, extra)
        time.sleep(args.warmup)
        probe_argv = [*pin(args.server_core), PY, str(BENCH / "asyncio_probe.py"), "--url", server.url]
        probe_argv += ["--conns", "4", "--rate", "20", "--seconds", str(max(5, int(args.seconds - args.warmup - 4)))]
        probe = Proc(probe_argv, cwd=ROOT)
        window = Window(gen, server)
        window.start()
        out = probe.wait(args.seconds + 30)
        result = window.stop()
        gen.wait(args.seconds + 60)
        ours = _turn_percentiles(report, args.warmup)
    line = next((x for x in out.splitlines() if x.startswith("PROBE ")), None)
    if line is None:
        print(f"  probe failed: {out[-600:]}", file=sys.stderr)
        return None
    return {"rate": rate, "window": result, "ours": ours, "probe": json.loads(line[6:])}


def stream(args: argparse.Namespace) -> None:
    server = Firehose(args.server_core, events=args.events)
    rows: dict[str, dict[str, float]] = {}
    try:
        for kind in args.generators:
            with tempfile.TemporaryDirectory() as tmp:
                if kind == "artillery":
                    gen = artillery_anchor.stream(args, server.url, args.users)
                else:
                    extra = ["IdleUser"] if kind in OURS else []
                    gen = _locust(args, kind, server.url, args.users, Path(tmp) / "run", extra, mode="idle")
                rows[kind] = _measure(args, gen, server, stream=args.stream_rate)
            print(f"  {kind}: {json.dumps(rows[kind])}", flush=True)
    finally:
        server.stop()
    title = f"stream: {args.users} connections, {args.stream_rate:,.0f} events/s pushed to each"
    _print_table(title, rows, _ST_ROWS)
    for kind, row in rows.items():
        if row["gen_cpu_share"] > 0.9:
            share = row["gen_cpu_share"]
            print(f"note: {kind} was saturated ({share:.0%} CPU): it fell behind the stream, so the events counted "
                  "at the firehose overstate what it processed; use a lower --stream-rate for it")  # fmt: skip
    print(f"load average: {load_average()}")
    print(json.dumps({"stream": rows}))


_RT_ROWS = [
    ("actions/s", "actions_per_s", "{:,.0f}", True),
    ("generator CPU share", "gen_cpu_share", "{:.0%}", None),
    ("generator CPU per action (µs)", "cpu_us_per_action", "{:,.0f}", False),
    ("firehose CPU share", "server_cpu_share", "{:.0%}", None),
    ("generator RSS (MiB)", "gen_rss_mib", "{:,.0f}", None),
]
_ST_ROWS = [
    ("events/s delivered", "events", "{:,.0f}", True),
    ("generator CPU share", "gen_cpu_share", "{:.0%}", None),
    ("events per generator CPU-second", "events_per_cpu_s", "{:,.0f}", True),
    ("firehose CPU share", "server_cpu_share", "{:.0%}", None),
]


def _print_table(title: str, rows: dict[str, dict[str, float]], spec: list[tuple[str, str, str, bool | None]]) -> None:
    kinds = list(rows)
    print(title)
    print("| metric | " + " | ".join(kinds) + " | " + " | ".join(f"ours / {k}" for k in kinds if k != "ours") + " |")
    print("|---|" + "---:|" * (len(kinds) * 2 - (1 if "ours" in kinds else 0)))
    for label, key, fmt, higher in spec:
        values = {k: rows[k][key] / (rows[k]["wall_s"] if key == "events" else 1) for k in kinds}
        cells = [fmt.format(values[k]) for k in kinds]
        ratios = []
        for k in kinds:
            if k == "ours":
                continue
            a, b = values.get("ours", math.nan), values[k]
            if higher is None or not b or math.isnan(a):
                ratios.append("—")
            else:
                ratios.append(f"{(a / b if higher else b / a):.2f}×")
        print(f"| {label} | " + " | ".join(cells) + " | " + " | ".join(ratios) + " |")
    print("(ratios > 1 mean ours is better)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workload", choices=["roundtrip", "stream", "idle", "server", "deflate"])
    parser.add_argument("--generators", default="ours,pysio,contrib,artillery", type=lambda v: v.split(","))
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--spawn-rate", type=int, default=50)
    parser.add_argument("--events", type=int, default=4, help="events per action")
    parser.add_argument("--seconds", type=float, default=20.0, help="each generator run")
    parser.add_argument("--warmup", type=float, default=5.0, help="left out at the start of each run")
    parser.add_argument("--stream-rate", type=float, default=100.0, help="events/s pushed to each connection")
    parser.add_argument("--conns", type=int, default=20_000, help="idle: most connections to step up to")
    parser.add_argument(
        "--anchor-conns", "--pysio-conns", dest="pysio_conns", type=int, default=4_000,
        help="idle: most connections for each anchor (python-socketio, contrib, Artillery)",
    )  # fmt: skip
    parser.add_argument("--artillery-ramp", type=float, default=1.0, help="idle: Artillery's arrival phase (s)")
    parser.add_argument(
        "--artillery-no-deflate", action="store_true", help="idle, stream: Artillery with perMessageDeflate: false"
    )
    parser.add_argument("--artillery-settle", type=float, default=6.0, help="idle: Artillery's pause between waves (s)")
    parser.add_argument("--deflate", action="store_true", help="idle: our client offers permessage-deflate")
    parser.add_argument("--sources", type=int, default=1, help="idle: our client connects from 127.0.0.1..N")
    parser.add_argument("--server-core", type=int, default=1)
    parser.add_argument("--gen-core", type=int, default=0)
    args = parser.parse_args()
    raise_fd_limit()
    if args.workload in ("idle", "server", "deflate"):
        import capacity

        capacity.run(args)
        return
    {"roundtrip": roundtrip, "stream": stream}[args.workload](args)


if __name__ == "__main__":
    main()
