"""Artillery (npm `artillery`, its `socketio` engine) as the anchor in the `idle` and `stream` workloads.

Run through benchmarks/generators.py (`idle`, `stream`; `roundtrip` has its own in generators.py). The scripts
are artillery/idle.yml and artillery/stream.yml; their `"{{ BENCH_* }}"` placeholders are filled in textually
into `<name>.run.yml`, as generators.py does for roundtrip.yml. Artillery runs its
virtual users in one worker thread of one Node process (2 CPUs seen, so max(1, 2 - 1) workers), pinned with
`taskset` like every generator; its RSS and CPU are those of the process tree.

idle    two waves of N/2 virtual users, each arriving within --artillery-ramp seconds and holding its socket with
        a `think`, separated by a pause of --artillery-settle seconds. The firehose's `connections` counter is
        polled every 0.1 s. After each wave (1.5 s later) processor.js runs a full collection in the worker
        (node --expose-gc, asked through a file), as the Python clients' readings follow gc.collect(); RSS per
        connection = (RSS after the second wave − after the first) / the second wave's connections, so start-up
        memory cancels out. (Without the collection the readings follow V8's memory reducer: −49 to +28 KiB.)
        Connect rate and CPU per connect over the two waves' rising edges. Stopped by pid after the last reading.
stream  N virtual users each listen with processor.js `listen` (count and classify every `oh_event`), the
        firehose counts one event per socket reached; measured like the other generators (generators._measure).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil
from _procs import ARTILLERY_DIR, Firehose, Proc, npm_ci, pin


def _tree(proc: Proc) -> list[psutil.Process]:
    try:
        return [proc.ps, *proc.ps.children(recursive=True)]
    except psutil.Error:
        return []


def tree_rss_kib(proc: Proc) -> float:
    total = 0.0
    for p in _tree(proc):
        try:
            total += p.memory_info().rss
        except psutil.Error:
            continue
    return total / 1024


def start(
    core: int | None,
    url: str,
    name: str,
    values: dict[str, float],
    seconds: float,
    deflate: bool = True,
    env: dict[str, str] | None = None,
) -> Proc:
    """`artillery run <name>.run.yml` against `url` on `core`, BENCH_SECONDS=`seconds` for the processor;
    `deflate=False` adds `perMessageDeflate: false` to the socketio config (the client offers no compression;
    the firehose declines it either way)."""
    npm_ci(ARTILLERY_DIR, "artillery", {"PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD": "1"})
    script = (ARTILLERY_DIR / f"{name}.yml").read_text()
    for key, value in values.items():
        script = script.replace(f'"{{{{ BENCH_{key} }}}}"', f"{value:g}")
    if not deflate:
        line = '    transports: ["websocket"]\n'
        script = script.replace(line, line + "    perMessageDeflate: false\n")
    if "{{ BENCH_" in script:
        raise SystemExit(f"artillery/{name}.yml: unfilled placeholder")
    run_yml: Path = ARTILLERY_DIR / f"{name}.run.yml"
    run_yml.write_text(script)
    env = {"BENCH_SECONDS": str(int(seconds)), "ARTILLERY_DISABLE_TELEMETRY": "true", **(env or {})}
    argv = ["node", str(ARTILLERY_DIR / "node_modules" / "artillery" / "bin" / "run"), "run", "--quiet"]
    return Proc([*pin(core), *argv, "--target", url, str(run_yml)], cwd=ARTILLERY_DIR, env=env)


def stream(args: argparse.Namespace, url: str, users: int) -> Proc:
    return start(args.gen_core, url, "stream", {"USERS": users}, args.seconds, not args.artillery_no_deflate)


def _collect(gen: Proc, gc_file: Path, n: int) -> float:
    """Ask processor.js for a full collection in the worker (round `n`), then read the tree's RSS (KiB)."""
    gc_file.write_text(str(n))
    done = gc_file.with_name(gc_file.name + ".done")
    until = time.monotonic() + 5
    while time.monotonic() < until and not (done.exists() and done.read_text() == str(n)):
        time.sleep(0.05)
    if not (done.exists() and done.read_text() == str(n)):
        raise RuntimeError("processor.js did not collect (needs node --expose-gc)")
    time.sleep(0.3)
    return tree_rss_kib(gen)


def idle(args: argparse.Namespace, server: Firehose, conns: int) -> dict[str, Any]:
    """Hold `conns` idle sockets in one Artillery process; the result has the shape of capacity._idle_child's."""
    ramp = max(1.0, float(args.artillery_ramp))
    settle = max(4.0, float(args.artillery_settle))
    half = conns // 2
    hold = 2 * ramp + settle + 15.0
    values = {"USERS1": half, "USERS2": conns - half, "RAMP": ramp, "HOLD": hold, "PAUSE": settle}
    conn0 = int(server.stats()["connections"])
    errors: list[str] = []
    readings: dict[str, tuple[int, float]] = {}  # "half"/"full" -> (connections, RSS KiB after a collection)
    waves: list[tuple[float, float, int]] = []  # (wall s, CPU s, connections) of each wave
    with tempfile.TemporaryDirectory() as tmp:
        gc_file = Path(tmp) / "gc"
        env = {"NODE_OPTIONS": "--expose-gc", "BENCH_GC_FILE": str(gc_file)}
        deflate = not args.artillery_no_deflate
        gen = start(args.gen_core, server.url, "idle", values, hold + 10, deflate, env)
        deadline = time.monotonic() + 15 + 2 * ramp + settle + hold  # start-up, pauses, ramps, think: bounded
        try:
            for name, target in (("half", half), ("full", conns)):
                lo = readings["half"][0] if readings else 0
                t0 = c0 = t_last = c_last = 0.0
                n_last = lo
                while time.monotonic() < deadline and gen.popen.poll() is None:
                    now, cpu = time.perf_counter(), gen.cpu_s()
                    n = int(server.stats()["connections"]) - conn0
                    if n <= lo:
                        t0, c0 = now, cpu
                    elif n > n_last:
                        n_last, t_last, c_last = n, now, cpu
                    if n >= target or (n > lo and now - t_last > 3.0):  # all there, or none new for 3 s
                        break
                    time.sleep(0.1)
                if n_last <= lo:
                    break
                waves.append((t_last - t0, c_last - c0, n_last - lo))
                time.sleep(1.5)
                rss = _collect(gen, gc_file, len(readings) + 1)
                n = int(server.stats()["connections"]) - conn0
                readings[name] = (n, rss)
                if n_last < target:
                    break
        except RuntimeError as exc:
            errors.append(str(exc))
        finally:
            gen.stop()
            out = gen.wait(15)
    held = max((w[0] for w in readings.values()), default=0)
    if held < conns:
        tail = [line for line in out.splitlines() if line.strip()][-6:]
        errors.append(f"held {held:,} of {conns:,}; artillery output: {' / '.join(tail)[-300:]}")
    if "full" not in readings:
        return {"kind": "artillery", "steps": [], "errors": errors}
    (n1, rss1), (n2, rss2) = readings["half"], readings["full"]
    made = sum(w[2] for w in waves)
    wall = sum(w[0] for w in waves)
    step = {
        "held": n2,
        "connect_rate": made / wall if wall else 0.0,
        "connect_cpu_us": sum(w[1] for w in waves) / made * 1e6 if made else 0.0,
        "rss_per_conn_kib": (rss2 - rss1) / (n2 - n1) if n2 > n1 else 0.0,
        "still_connected": n2,
        "rss_mib": {"half": rss1 / 1024, "full": rss2 / 1024},
        "conns": {"half": n1, "full": n2},
    }
    return {"kind": "artillery", "steps": [step], "errors": errors}
