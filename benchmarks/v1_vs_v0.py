"""V1 vs V0: our conversation layer's CPU per action on each protocol, in one run (issue 14's 1.2× target).

A script, not a test. Two Node targets on --server-core (`taskset`): the V0 firehose (benchmarks/firehose,
socket.io 4.8, the target of generators.py and layers.py) and the V1 firehose (benchmarks/node/v1_firehose.js,
http + ws 8.x: create over REST, the full_state snapshot on open, each Message frame answered by one turn of
K frames in the real agent server's shapes, ending with the post-run full_state). Each measured run is one child
process pinned to --gen-core driving --users closed-loop conversations through the harness's one contract
(`loadtest.openhands.contract.pick_api(api).build(...)`: V0 `Conversation`, V1 `V1Conversation` on the events
socket, messages over the socket, no think time, no Locust), for --seconds; the window leaves out --warmup s of
ramp (connects, V1's creates) and the last 3 s. --repeat rounds alternate the order (v0 v1, v1 v0, ...).

Both targets send the same K events per turn (--events, at least 5: V1's turn is echo, last_user_message_id,
running, K-5 agent events, finished, full_state; V0's is echo, running, K-3 agent events, awaiting_user_input),
agent events carry the same --agent-bytes of text. Counts (turns received, events sent) come from the targets'
/bench/stats; generator CPU from the child's process tree (psutil).

    .venv/bin/python benchmarks/v1_vs_v0.py --users 20 --seconds 10 --repeat 2

Loopback only; every process started here is stopped by its pid. The children are this file run with
`--child v0|v1 --url URL`.
"""

from __future__ import annotations

# isort: split

import gevent

import argparse
import json
import os
import statistics
import sys
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import generators  # its measurement window (warm-up left out, last 3 s left out): the same as layers.py
from _procs import BENCH, PY, ROOT, Firehose, Proc, load_average, npm_ci, pin, raise_fd_limit

APIS = ("v0", "v1")
MESSAGE = "Say hello."
TARGET = 1.2  # issue 14: V1 costs no more than 1.2× V0's CPU per action
NODE_PEERS = ROOT / "tests" / "node"  # `ws` comes from the test peers' install (tests/node/package.json)
V1_FIREHOSE = BENCH / "node" / "v1_firehose.js"
#: The turn's end state each protocol reports when the target's turn ended normally.
END_STATE = {"v0": "awaiting_user_input", "v1": "finished"}
#: V1's create needs agent settings; the firehose ignores them (no secret: a placeholder key).
AGENT = {"agent": {"llm": {"model": "bench/none", "api_key": "placeholder"}}}


class V1Firehose(Firehose):
    """The V1 firehose on `core`: the same `url`, `stats()` and `stop()` as the V0 `Firehose`."""

    def __init__(self, core: int | None, events: int, agent_bytes: int = 200) -> None:
        npm_ci(NODE_PEERS, "ws")
        argv = [*pin(core), "node", str(V1_FIREHOSE), "--port", "0", "--events", str(events)]
        argv += ["--agent-bytes", str(agent_bytes)]
        # Proc.__init__, not Firehose.__init__ (that one starts the V0 firehose)
        Proc.__init__(self, argv, cwd=V1_FIREHOSE.parent, env={"NODE_PATH": str(NODE_PEERS / "node_modules")})
        assert self.popen.stdout is not None
        line = self.popen.stdout.readline()
        if not line.startswith("listening "):
            self.stop()
            raise SystemExit(f"v1 firehose did not start: {line!r}")
        self.url = f"http://127.0.0.1:{int(line.split()[1])}"


# ------------------------------------------------------------------------------------------------ child


@dataclass
class Counts:
    """What a child did, summed over its conversations."""

    connected: int = 0
    turns: int = 0
    events: int = 0
    errors: int = 0
    first_error: str = ""
    end_states: Counter[str] = field(default_factory=Counter)

    def fail(self, exc: BaseException) -> None:
        self.errors += 1
        if not self.first_error:
            self.first_error = repr(exc)[:300]


def _user(api_name: str, url: str, end: float, counts: Counts) -> None:
    from loadtest.openhands.contract import ClientSettings, Listener, pick_api

    api = pick_api(api_name, url)
    v1 = api_name == "v1"  # the benchmark picks; the harness's code below is the same for both
    settings = ClientSettings(
        base_url=url, connect_timeout=10.0, turn_timeout=30.0, agent_settings=AGENT if v1 else None
    )
    conv = api.build(settings, None if v1 else os.urandom(16).hex(), Listener())  # V0: the firehose makes any id
    conv.connect()
    counts.connected += 1
    expected = END_STATE[api_name]
    try:
        while time.perf_counter() < end:
            turn = conv.send_message(MESSAGE, wait=True)
            state = str(turn.end_state)
            counts.end_states[state] += 1
            if state != expected:
                raise ConnectionError(f"turn ended with {state!r}, expected {expected!r}")
            counts.turns += 1
    finally:
        counts.events += conv.integrity.events
        conv.close()


def child(args: argparse.Namespace) -> None:
    """Run --users conversations of one API for --seconds, then print one JSON line with the counts."""
    counts = Counts()
    start = time.perf_counter()
    end = start + args.seconds

    def one() -> None:
        try:
            _user(args.child, args.url, end, counts)
        except Exception as exc:
            counts.fail(exc)

    greenlets = [gevent.spawn(one) for _ in range(args.users)]
    gevent.joinall(greenlets, timeout=args.seconds + 10)
    stuck = [g for g in greenlets if not g.dead]
    gevent.killall(stuck, timeout=5)
    fields = {**asdict(counts), "end_states": dict(counts.end_states)}  # asdict would turn a Counter's items into keys
    result = {"api": args.child, **fields, "stuck": len(stuck), "wall_s": round(time.perf_counter() - start, 3)}
    print("CHILD " + json.dumps(result), flush=True)


# ------------------------------------------------------------------------------------------------ parent


def _run(args: argparse.Namespace, api: str, server: Firehose) -> dict[str, Any]:
    argv = [*pin(args.gen_core), PY, str(Path(__file__).resolve()), "--child", api, "--url", server.url]
    argv += ["--users", str(args.users), "--seconds", str(args.seconds)]
    row, out = generators.measure(args, Proc(argv, cwd=ROOT), server)
    line = next((x for x in out.splitlines() if x.startswith("CHILD ")), None)
    reported = json.loads(line[6:]) if line else None
    if reported is None:
        print(f"  {api}: no result line: {out[-600:]}", file=sys.stderr)
    elif reported["errors"] or reported["stuck"]:
        print(f"  {api}: {reported['errors']} errors, {reported['stuck']} stuck: {reported['first_error']}")
    gen_cpu = row["gen_cpu_s"]
    row["cpu_us_per_event"] = gen_cpu / row["events"] * 1e6 if row["events"] else float("nan")
    row["events_per_action"] = row["events"] / row["actions"] if row["actions"] else float("nan")
    return {**row, "child": reported}


def _median(rows: list[dict[str, Any]], key: str) -> float:
    return statistics.median(r[key] for r in rows)


def _report(args: argparse.Namespace, runs: dict[str, list[dict[str, Any]]]) -> bool:
    print(f"\nv1_vs_v0: {args.users} closed-loop conversations per API, {args.events} events per turn, "
          f"{args.seconds:g} s each ({args.warmup:g} s warm-up and the last 3 s left out), {args.repeat} "
          f"alternating rounds; targets pinned to core {args.server_core}, generator to core {args.gen_core} "
          "(taskset)")  # fmt: skip
    print("| round | API | turns/s | generator CPU share | CPU per turn (µs) | CPU per event (µs) | events/turn | "
          "target CPU share |")  # fmt: skip
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for i in range(args.repeat):
        for api in APIS:
            r = runs[api][i]
            print(f"| {i + 1} | {api} | {r['actions_per_s']:,.0f} | {r['gen_cpu_share']:.0%} | "
                  f"{r['cpu_us_per_action']:,.1f} | {r['cpu_us_per_event']:,.2f} | {r['events_per_action']:.2f} | "
                  f"{r['server_cpu_share']:.0%} |")  # fmt: skip
    v0, v1 = runs["v0"], runs["v1"]
    turn0, turn1 = _median(v0, "cpu_us_per_action"), _median(v1, "cpu_us_per_action")
    ev0, ev1 = _median(v0, "cpu_us_per_event"), _median(v1, "cpu_us_per_event")
    ratio = turn1 / turn0
    ok = ratio <= TARGET
    print(f"| median | v0 | | | {turn0:,.1f} | {ev0:,.2f} | | |")
    print(f"| median | v1 | | | {turn1:,.1f} | {ev1:,.2f} | | |")
    per_round = ", ".join(
        f"{b['cpu_us_per_action'] / a['cpu_us_per_action']:.2f}×" for a, b in zip(v0, v1, strict=True)
    )
    print(f"V1/V0 CPU per turn: {ratio:.2f}× (rounds: {per_round}); per event: {ev1 / ev0:.2f}×; "
          f"target ≤ {TARGET}×: {'PASS' if ok else 'NOT MET'}")  # fmt: skip
    busy = [api for api in APIS for r in runs[api] if r["server_cpu_share"] > 0.9]
    if busy:
        print(f"note: a target was > 90 % busy in runs of {', '.join(sorted(set(busy)))}: turns/s bounded by it; "
              "CPU per turn still compares")  # fmt: skip
    return ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=20, help="closed-loop conversations per API (max 500)")
    parser.add_argument("--events", type=int, default=8, help="events per turn on both targets (5..50)")
    parser.add_argument("--seconds", type=float, default=10.0, help="each run (max 120)")
    parser.add_argument("--warmup", type=float, default=4.0, help="left out at the start of each run")
    parser.add_argument("--repeat", type=int, default=2, help="alternating rounds (max 10)")
    parser.add_argument("--server-core", type=int, default=1)
    parser.add_argument("--gen-core", type=int, default=0)
    parser.add_argument("--child", choices=APIS, help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if not (1 <= args.users <= 500 and 5 <= args.events <= 50 and 0 < args.seconds <= 120 and 1 <= args.repeat <= 10):
        raise SystemExit("out of bounds: --users 1..500, --events 5..50, --seconds ≤ 120, --repeat 1..10")
    if args.child:
        if not args.url or urlsplit(args.url).hostname != "127.0.0.1":
            raise SystemExit("--child needs a loopback --url (http://127.0.0.1:PORT)")
        child(args)
        return
    if args.seconds - args.warmup - 3 < 1:
        raise SystemExit("--seconds must leave at least 1 s after --warmup and the last 3 s")
    raise_fd_limit()
    before = load_average()
    servers: dict[str, Firehose] = {}
    runs: dict[str, list[dict[str, Any]]] = {api: [] for api in APIS}
    try:
        servers["v0"] = Firehose(args.server_core, events=args.events)
        servers["v1"] = V1Firehose(args.server_core, events=args.events)
        for i in range(args.repeat):
            for api in APIS if i % 2 == 0 else APIS[::-1]:
                row = _run(args, api, servers[api])
                runs[api].append(row)
                print(f"  round {i + 1} {api}: {json.dumps(row)}", flush=True)
    finally:
        for server in servers.values():
            server.stop()
    ok = _report(args, runs)
    print(f"load average: before {before}; after {load_average()}")
    print("command: " + " ".join([".venv/bin/python", "benchmarks/v1_vs_v0.py", *sys.argv[1:]]))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
