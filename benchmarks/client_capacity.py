"""Client capacity: our SocketIOClient vs python-socketio's `Client` under gevent, same server, same run.

A script, not a test. It starts Node's socket.io 4.x server (tests/node/sio_server.js) pinned to one core,
then, for each client, a child process pinned to another core that
  1. opens up to --conns idle connections (bounded by --time-limit; stops at the first failure),
  2. measures connect rate (wall) and RSS growth per held connection (after a settle and gc),
  3. asks --stream-conns of them for a stream of events (the server sends them as fast as it can) and measures
     events received per CPU-second of the child (user + system), with a handler that reads each event's id.
It prints one table with ratios (ours / python-socketio) and the server's CPU share, so a saturated server is
visible. Loopback only; every phase is bounded in count and time.

    .venv/bin/python benchmarks/client_capacity.py                      # full size: 10,000 vs 2,000 conns
    .venv/bin/python benchmarks/client_capacity.py --conns 1000 --pysio-conns 500 --events 20000   # quick
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
NODE_DIR = ROOT / "tests" / "node"


# ------------------------------------------------------------------------------------------------ child side


def _child(args: argparse.Namespace) -> dict[str, Any]:
    from gevent import monkey

    monkey.patch_all()  # as in a Locust worker (python-socketio's Client needs it; ours does not care)

    import gevent
    import gevent.pool

    import gc

    import greenlet
    import psutil

    proc = psutil.Process()
    counted = [0]
    conns: list[Any] = []
    errors: list[str] = []
    deadline = time.monotonic() + args.time_limit

    if args.child == "ours":
        sys.path.insert(0, str(ROOT))
        from loadtest.sio import SocketIOClient

        def on_tick(event: str, items: list[Any], at: float, size: int) -> None:
            if items[0]["id"] >= 0:
                counted[0] += 1

        def make() -> Any:
            client = SocketIOClient(on_event=on_tick)
            client.connect(args.url, timeout=60)
            return client

        def stream(client: Any, count: int) -> None:
            client.call("stream", count, args.size, timeout=args.time_limit)

        def stats(client: Any) -> dict[str, Any]:
            return dict(client.call("stats", timeout=30).args[0])

    else:
        import socketio

        def make() -> Any:
            client = socketio.Client(reconnection=False)

            @client.on("tick")
            def on_tick(item: dict[str, Any]) -> None:
                if item["id"] >= 0:
                    counted[0] += 1

            client.connect(args.url, transports=["websocket"], wait_timeout=60)
            return client

        def stream(client: Any, count: int) -> None:
            client.call("stream", (count, args.size), timeout=args.time_limit)

        def stats(client: Any) -> dict[str, Any]:
            return dict(client.call("stats", timeout=30))

    conns.append(make())  # warm-up: imports, first allocations
    gc.collect()
    rss0 = proc.memory_info().rss
    greenlets0 = _count_greenlets(gc, greenlet)
    pool = gevent.pool.Pool(args.concurrency)

    def one() -> None:
        if errors or time.monotonic() > deadline:
            return
        try:
            conns.append(make())
        except Exception as exc:
            errors.append(repr(exc)[:120])

    server_c0 = stats(conns[0])
    ccpu0 = proc.cpu_times()
    started = time.perf_counter()
    for _ in range(args.conns):
        if errors or time.monotonic() > deadline:
            break
        pool.spawn(one)
    pool.join()
    connect_wall = time.perf_counter() - started
    ccpu1 = proc.cpu_times()
    server_c1 = stats(conns[0])
    connect_cpu = (ccpu1.user - ccpu0.user) + (ccpu1.system - ccpu0.system)
    held = len(conns) - 1
    gevent.sleep(2.0)
    gc.collect()
    rss1 = proc.memory_info().rss
    greenlets = _count_greenlets(gc, greenlet) - greenlets0

    streamers = conns[: args.stream_conns]
    per = args.events // len(streamers)
    server_before = stats(conns[0])
    counted[0] = 0
    cpu0 = proc.cpu_times()
    t0 = time.perf_counter()
    jobs = [gevent.spawn(stream, c, per) for c in streamers]
    gevent.joinall(jobs, timeout=args.time_limit)
    wall = time.perf_counter() - t0
    cpu1 = proc.cpu_times()
    server_after = stats(conns[0])
    cpu = (cpu1.user - cpu0.user) + (cpu1.system - cpu0.system)
    stream_errors = [repr(j.exception)[:120] for j in jobs if j.exception is not None]
    result = {
        "client": args.child,
        "attempted": args.conns,
        "held": held,
        "still_connected": sum(1 for c in conns[1:] if c.connected),
        "connect_wall_s": connect_wall,
        "connect_rate": held / connect_wall if connect_wall else 0.0,
        "connect_cpu_us": connect_cpu / held * 1e6 if held else 0.0,
        "connects_per_cpu_s": held / connect_cpu if connect_cpu else 0.0,
        "server_connect_cpu_share": (server_c1["cpu_ms"] - server_c0["cpu_ms"]) / 1000 / connect_wall,
        "rss_per_conn_kib": (rss1 - rss0) / held / 1024 if held else 0.0,
        "greenlets_per_conn": greenlets / held if held else 0.0,
        "events": counted[0],
        "events_expected": per * len(streamers),
        "stream_wall_s": wall,
        "stream_cpu_s": cpu,
        "events_per_cpu_s": counted[0] / cpu if cpu else 0.0,
        "cpu_us_per_event": cpu / counted[0] * 1e6 if counted[0] else 0.0,
        "server_cpu_share": (server_after["cpu_ms"] - server_before["cpu_ms"]) / 1000 / wall if wall else 0.0,
        "errors": errors[:3] + stream_errors[:3],
    }
    os._exit(_emit(result))


def _count_greenlets(gc: Any, greenlet: Any) -> int:
    return sum(1 for o in gc.get_objects() if isinstance(o, greenlet.greenlet))


def _emit(result: dict[str, Any]) -> int:
    sys.stdout.write("RESULT " + json.dumps(result) + "\n")
    sys.stdout.flush()
    return 0


# ------------------------------------------------------------------------------------------------ parent side


def _pin(core: int | None) -> list[str]:
    return ["taskset", "-c", str(core)] if core is not None and shutil.which("taskset") else []


def _start_server(args: argparse.Namespace) -> tuple[subprocess.Popen[str], str]:
    if not (NODE_DIR / "node_modules" / "socket.io").exists():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=NODE_DIR, check=True, timeout=300)
    argv = [*_pin(args.server_core), "node", str(NODE_DIR / "sio_server.js"), "--port", "0"]
    proc = subprocess.Popen(argv, cwd=NODE_DIR, stdout=subprocess.PIPE, text=True, start_new_session=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line.startswith("listening "):
        proc.kill()
        raise SystemExit(f"server did not start: {line!r}")
    return proc, f"http://127.0.0.1:{int(line.split()[1])}"


def _run_child(args: argparse.Namespace, kind: str, url: str, conns: int) -> dict[str, Any]:
    argv = [*_pin(args.client_core), sys.executable, __file__, "--child", kind, "--url", url, "--conns", str(conns)]
    for name in ("events", "size", "stream_conns", "concurrency", "time_limit"):
        argv += [f"--{name.replace('_', '-')}", str(getattr(args, name))]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=args.time_limit * 3 + 60)
    for line in out.stdout.splitlines():
        if line.startswith("RESULT "):
            return dict(json.loads(line[7:]))
    raise SystemExit(f"{kind} child failed (exit {out.returncode}):\n{out.stdout[-2000:]}\n{out.stderr[-2000:]}")


def _table(ours: dict[str, Any], theirs: dict[str, Any]) -> str:
    rows = [
        ("connections held / attempted", "held", "{:,.0f}", True),
        ("RSS per connection (KiB)", "rss_per_conn_kib", "{:.1f}", False),
        ("greenlets per connection", "greenlets_per_conn", "{:.2f}", False),
        ("connect rate (conn/s, wall)", "connect_rate", "{:,.0f}", True),
        ("client CPU per connect (µs)", "connect_cpu_us", "{:.0f}", False),
        ("connects per client CPU-second", "connects_per_cpu_s", "{:,.0f}", True),
        ("server CPU share while connecting", "server_connect_cpu_share", "{:.0%}", None),
        ("events received per CPU-second", "events_per_cpu_s", "{:,.0f}", True),
        ("client CPU per event (µs)", "cpu_us_per_event", "{:.1f}", False),
        ("server CPU share while streaming", "server_cpu_share", "{:.0%}", None),
    ]
    lines = [
        "| metric | ours | python-socketio | ours / python-socketio |",
        "|---|---:|---:|---:|",
    ]
    for label, key, fmt, higher_better in rows:
        a, b = ours[key], theirs[key]
        cell_a, cell_b = fmt.format(a), fmt.format(b)
        if key == "held":
            cell_a = f"{a:,} / {ours['attempted']:,}"
            cell_b = f"{b:,} / {theirs['attempted']:,}"
        ratio = f"{a / b:.2f}×" if b and higher_better is not None else "—"
        lines.append(f"| {label} | {cell_a} | {cell_b} | {ratio} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conns", type=int, default=10_000, help="idle connections our client opens")
    parser.add_argument("--pysio-conns", type=int, default=2_000, help="idle connections python-socketio opens")
    parser.add_argument("--events", type=int, default=100_000, help="events streamed to each client")
    parser.add_argument("--size", type=int, default=200, help="approximate bytes per event")
    parser.add_argument("--stream-conns", type=int, default=50, help="connections that receive the stream")
    parser.add_argument("--concurrency", type=int, default=200, help="connects in flight at once")
    parser.add_argument("--time-limit", type=float, default=120.0, help="seconds per phase at most")
    parser.add_argument("--server-core", type=int, default=1)
    parser.add_argument("--client-core", type=int, default=0)
    parser.add_argument("--child", choices=["ours", "pysio"], help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args)
        return
    server, url = _start_server(args)
    try:
        ours = _run_child(args, "ours", url, args.conns)
        theirs = _run_child(args, "pysio", url, args.pysio_conns)
    finally:
        server.terminate()
        server.wait(10)
    print(
        f"client_capacity: Node socket.io server on core {args.server_core}, clients on core {args.client_core}, "
        f"{args.events:,} events of ~{args.size} B over {args.stream_conns} connections per client"
    )
    print(_table(ours, theirs))
    load = os.getloadavg()
    print(f"load average during the run: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} cores")
    for result in (ours, theirs):
        if result["errors"] or result["events"] != result["events_expected"]:
            print(
                f"{result['client']}: events {result['events']:,}/{result['events_expected']:,}, "
                f"errors {result['errors']}"
            )
    print(json.dumps({"ours": ours, "python_socketio": theirs}))


if __name__ == "__main__":
    main()
