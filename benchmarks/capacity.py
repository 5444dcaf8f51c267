"""`idle` and `server` workloads of benchmarks/generators.py (run them through it).

idle    one child process on --gen-core opens idle conversations against the firehose in steps up to --conns
        (or the first failure), and reports connect rate and RSS per held connection at each step; then the
        anchors up to --anchor-conns (alias --pysio-conns): python-socketio's `Client` and Locust's contrib
        `SocketIOUser` (instantiated in a Locust Environment with a local runner; no task greenlet) in steps like
        ours, and Artillery (two waves of half, RSS per connection from the second; artillery_anchor.py).
server  the reference server (`loadtest serve`, no delays, no HTTP limiter) on --server-core, driven by our
        client in a plain gevent child on --gen-core (no Locust, so the server is the bottleneck): events/s per
        server CPU-second, with the server's ws compression on and off and our client offering
        permessage-deflate or not.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from typing import Any

from _procs import PY, ROOT, Firehose, Proc, load_average, pin

STEPS = (1_000, 2_500, 5_000, 10_000, 15_000, 20_000)


# ------------------------------------------------------------------------------------------------ children


def _idle_child(args: argparse.Namespace) -> dict[str, Any]:
    from gevent import monkey

    monkey.patch_all()  # as in a Locust worker
    import gevent
    import gevent.pool

    import gc

    import psutil

    proc = psutil.Process()
    conns: list[Any] = []
    errors: list[str] = []
    if args.kind == "ours":
        sys.path.insert(0, str(ROOT))
        from loadtest.sio import SocketIOClient

        def make(i: int) -> Any:
            client = SocketIOClient(deflate=args.deflate)
            query = {"conversation_id": f"idle-{i}", "latest_event_id": -1}
            # spread over --sources local addresses: past ~half of the ephemeral port range of one address the
            # kernel's free-port search in connect() dominates the cost of a connect
            source = f"127.0.0.{1 + i % args.sources}" if args.sources > 1 else None
            client.connect(args.url, query=query, timeout=60, source_address=source)
            return client
    elif args.kind == "contrib":
        from locust.contrib.socketio import SocketIOUser
        from locust.env import Environment

        class IdleContribUser(SocketIOUser):
            options = {"reconnection": False}

        env = Environment(user_classes=[IdleContribUser])
        env.create_local_runner()  # Locust's stats listen on events.request (the contrib client's `WS connect` row)

        def make(i: int) -> Any:
            user = IdleContribUser(env)  # its own SocketIOClient, the catch-all `WSR` handler, a wait greenlet
            user.sio.connect(f"{args.url}?conversation_id=idle-{i}&latest_event_id=-1", transports=["websocket"])
            user.sio_greenlet = gevent.spawn(user.sio.wait)  # as in Locust's example: the first one exits at once
            return user.sio
    else:
        import socketio

        def make(i: int) -> Any:
            client = socketio.Client(reconnection=False)
            client.connect(f"{args.url}?conversation_id=idle-{i}&latest_event_id=-1", transports=["websocket"])
            return client

    conns.append(make(-1))  # warm-up: imports, first allocations
    gc.collect()
    rss0 = proc.memory_info().rss
    pool = gevent.pool.Pool(args.concurrency)
    deadline = time.monotonic() + args.time_limit
    steps: list[dict[str, Any]] = []

    def one(i: int) -> None:
        if errors:
            return
        try:
            conns.append(make(i))
        except Exception as exc:
            errors.append(repr(exc)[:160])

    done = 0
    targets = [s for s in STEPS if s < args.conns] + [args.conns]
    for target in targets:
        cpu0, t0 = proc.cpu_times(), time.perf_counter()
        for i in range(done, target):
            if errors or time.monotonic() > deadline:
                break
            pool.spawn(one, i)
        pool.join()
        wall = time.perf_counter() - t0
        cpu1 = proc.cpu_times()
        made = len(conns) - 1 - done
        done = len(conns) - 1
        gevent.sleep(1.0)
        gc.collect()
        if os.environ.get("BENCH_GC_FREEZE"):
            gc.freeze()  # long-lived connections out of the collector's way (try: BENCH_GC_FREEZE=1)
        rss = proc.memory_info().rss
        steps.append({
            "held": done,
            "connect_rate": made / wall if wall else 0.0,
            "connect_cpu_us": ((cpu1.user - cpu0.user) + (cpu1.system - cpu0.system)) / made * 1e6 if made else 0,
            "rss_per_conn_kib": (rss - rss0) / done / 1024 if done else 0.0,
            "still_connected": sum(1 for c in conns[1:] if getattr(c, "connected", False)),
        })  # fmt: skip
        if errors or time.monotonic() > deadline:
            break
    return {"kind": args.kind, "steps": steps, "errors": errors[:3]}


def _driver_child(args: argparse.Namespace) -> dict[str, Any]:
    from gevent import monkey

    monkey.patch_all()
    import gevent
    import gevent.event

    import urllib.request

    sys.path.insert(0, str(ROOT))
    from loadtest.sio import SocketIOClient

    counts = {"events": 0, "turns": 0}
    until = time.perf_counter() + args.seconds

    def conversation(i: int) -> None:
        req = urllib.request.Request(f"{args.url}/api/conversations", data=b"{}", method="POST")
        req.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(req, timeout=30) as resp:
            cid = json.loads(resp.read())["conversation_id"]
        done = gevent.event.Event()

        def on_event(event: str, items: list[Any], at: float, size: int) -> None:
            counts["events"] += 1
            extras = items[0].get("extras") if items and isinstance(items[0], dict) else None
            if extras and extras.get("agent_state") == "awaiting_user_input":
                done.set()

        client = SocketIOClient(on_event=on_event, deflate=args.deflate)
        client.connect(args.url, query={"conversation_id": cid, "latest_event_id": -1}, timeout=30)
        gevent.sleep(0.5)
        while time.perf_counter() < until:
            done.clear()
            client.emit("oh_user_action", {"action": "message", "args": {"content": f"hi {i}", "image_urls": []}})
            if not done.wait(10):
                break
            counts["turns"] += 1
        client.disconnect()

    import psutil

    proc = psutil.Process()
    cpu0 = proc.cpu_times()
    jobs = [gevent.spawn(conversation, i) for i in range(args.conns)]
    gevent.joinall(jobs, timeout=args.seconds + 60)
    cpu1 = proc.cpu_times()
    cpu = (cpu1.user - cpu0.user) + (cpu1.system - cpu0.system)
    rss_kib = proc.memory_info().rss / 1024
    return {
        **counts,
        "cpu_s": cpu,
        "rss_kib": rss_kib,
        "errors": [repr(j.exception)[:160] for j in jobs if j.exception][:3],
    }


# ------------------------------------------------------------------------------------------------ parent


def _child(argv: list[str], core: int | None, timeout: float) -> dict[str, Any]:
    out = subprocess.run([*pin(core), PY, __file__, *argv], capture_output=True, text=True, timeout=timeout, cwd=ROOT)
    for line in out.stdout.splitlines():
        if line.startswith("RESULT "):
            return dict(json.loads(line[7:]))
    raise SystemExit(f"child failed (exit {out.returncode}):\n{out.stdout[-1500:]}\n{out.stderr[-1500:]}")


def idle(args: argparse.Namespace) -> None:
    server = Firehose(args.server_core)
    results = []
    try:
        kinds = (("ours", args.conns), ("pysio", args.pysio_conns), ("contrib", args.pysio_conns))
        for kind, conns in (*kinds, ("artillery", args.pysio_conns)):
            if kind not in args.generators:
                continue
            s0 = server.stats()
            if kind == "artillery":
                import artillery_anchor

                result = artillery_anchor.idle(args, server, conns)
                result["server_cpu_s"] = (server.stats()["cpu_ms"] - s0["cpu_ms"]) / 1000
                results.append(result)
                print(f"  {kind}: {json.dumps(result)}", flush=True)
                continue
            argv = ["--child", "idle", "--kind", kind, "--url", server.url, "--conns", str(conns)]
            argv += ["--time-limit", "300", "--sources", str(args.sources), *(["--deflate"] if args.deflate else [])]
            result = _child(argv, args.gen_core, 900)
            s1 = server.stats()
            result["server_cpu_s"] = (s1["cpu_ms"] - s0["cpu_ms"]) / 1000
            results.append(result)
            print(f"  {kind}: {json.dumps(result)}", flush=True)
    finally:
        server.stop()
    print(f"idle: conversations held by one process (firehose on core {args.server_core}, client on {args.gen_core})")
    print("| client | held | connect rate (conn/s, wall) | client CPU per connect (µs) | RSS per conn (KiB) |")
    print("|---|---:|---:|---:|---:|")
    for r in results:
        for st in r["steps"]:
            print(f"| {r['kind']} | {st['still_connected']:,} / {st['held']:,} | {st['connect_rate']:,.0f} | "
                  f"{st['connect_cpu_us']:,.0f} | {st['rss_per_conn_kib']:.1f} |")  # fmt: skip
        if r["errors"]:
            print(f"| {r['kind']} first failure | {r['errors'][0]} | | | |")
    servers = ", ".join(f"{r['kind']} {r['server_cpu_s']:.1f} s" for r in results)
    print(f"firehose CPU over each client's run (the firehose's core): {servers}")
    if any(r["kind"] == "artillery" for r in results):
        print(f"(Artillery's connect rate is capped by its arrival phases: --anchor-conns / 2 / --artillery-ramp "
              f"= {args.pysio_conns / 2 / max(1.0, args.artillery_ramp):,.0f}/s)")  # fmt: skip
    print(f"load average: {load_average()}")
    print(json.dumps({"idle": results}))


def server(args: argparse.Namespace) -> None:
    rows = []
    for compression, deflate in (
        ("--ws-compression", True),
        ("--ws-compression", False),
        ("--no-ws-compression", True),
    ):
        argv = [*pin(args.server_core), PY, "-m", "loadtest", "serve", "--host", "127.0.0.1", "--port", "0"]
        argv += ["--no-http-limit", "--max-conversations", "0", "--event-delay-ms", "0", compression]
        srv = Proc(argv, cwd=ROOT)
        assert srv.popen.stdout is not None
        line = srv.popen.stdout.readline()
        url = line.strip().rsplit(" ", 1)[-1]
        try:
            c0, t0 = srv.cpu_s(), time.perf_counter()
            drv = ["--child", "driver", "--url", url, "--conns", str(args.users), "--seconds", str(int(args.seconds))]
            result = _child([*drv, *(["--deflate"] if deflate else [])], args.gen_core, args.seconds + 120)
            cpu, wall = srv.cpu_s() - c0, time.perf_counter() - t0
        finally:
            srv.stop()
        row = {
            "server": compression,
            "client_offers_deflate": deflate,
            "events": result["events"],
            "events_per_s": result["events"] / wall,
            "server_cpu_share": cpu / wall,
            "events_per_server_cpu_s": result["events"] / cpu if cpu else 0.0,
            "errors": result["errors"],
        }
        rows.append(row)
        print(f"  {json.dumps(row)}", flush=True)
    print(f"server: loadtest serve on core {args.server_core} (no delays), {args.users} conversations driven by our "
          f"client on core {args.gen_core}")  # fmt: skip
    print("| server | client offers deflate | events/s | server CPU share | events per server CPU-second |")
    print("|---|---|---:|---:|---:|")
    for r in rows:
        print(f"| {r['server']} | {'yes' if r['client_offers_deflate'] else 'no'} | {r['events_per_s']:,.0f} | "
              f"{r['server_cpu_share']:.0%} | {r['events_per_server_cpu_s']:,.0f} |")  # fmt: skip
    print(f"load average: {load_average()}")
    print(json.dumps({"server": rows}))


def deflate(args: argparse.Namespace) -> None:
    """Our client's cost of permessage-deflate: the firehose compresses every message (--deflate, threshold 0)
    when the client offers it; the same driver runs turns with the offer and without it."""
    rows = []
    server = Firehose(args.server_core, events=args.events, deflate=True, agent_bytes=600)
    try:
        for offer in (False, True):
            s0 = server.stats()
            drv = [
                "--child",
                "driver",
                "--url",
                server.url,
                "--conns",
                str(args.users),
                "--seconds",
                str(int(args.seconds)),
            ]
            result = _child([*drv, *(["--deflate"] if offer else [])], args.gen_core, args.seconds + 120)
            s1 = server.stats()
            result["offer"] = offer
            result["cpu_us_per_event"] = result["cpu_s"] / result["events"] * 1e6 if result["events"] else 0.0
            result["server_cpu_s"] = (s1["cpu_ms"] - s0["cpu_ms"]) / 1000
            result["server_us_per_event"] = result["server_cpu_s"] / result["events"] * 1e6 if result["events"] else 0
            rows.append(result)
            print(f"  {json.dumps(result)}", flush=True)
    finally:
        server.stop()
    print(
        f"deflate: firehose compressing every message when offered, {args.users} conversations, our client (no Locust)"
    )
    print("| client offers deflate | events | client CPU per event (µs) | firehose CPU per event (µs) | RSS (MiB) |")
    print("|---|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {'yes' if r['offer'] else 'no'} | {r['events']:,} | {r['cpu_us_per_event']:.1f} | "
              f"{r['server_us_per_event']:.1f} | {r['rss_kib'] / 1024:.0f} |")  # fmt: skip
    print(f"load average: {load_average()}")
    print(json.dumps({"deflate": rows}))


def run(args: argparse.Namespace) -> None:
    """Entry point from generators.py."""
    {"idle": idle, "server": server, "deflate": deflate}[args.workload](args)


def _child_main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--child", choices=["idle", "driver"], required=True)
    parser.add_argument("--kind", default="ours")
    parser.add_argument("--url", required=True)
    parser.add_argument("--conns", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=200)
    parser.add_argument("--time-limit", type=float, default=300)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--deflate", action="store_true")
    parser.add_argument("--sources", type=int, default=1, help="local addresses 127.0.0.1..N to connect from")
    args = parser.parse_args()
    result = _idle_child(args) if args.child == "idle" else _driver_child(args)
    sys.stdout.write("RESULT " + json.dumps(result) + "\n")
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    _child_main()
