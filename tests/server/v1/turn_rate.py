"""Turns per second of the reference server in V1 mode, with a 0 ms agent (a measuring tool, not a test).

    .venv/bin/python -m tests.server.v1.turn_rate --conversations 1 --turns 200
    .venv/bin/python -m tests.server.v1.turn_rate --conversations 10 --turns 50 --script run,edit,write,message

Starts `loadtest serve --api v1 --event-delay-ms 0` on a loopback port, opens one events socket per
conversation (asyncio `websockets`, in this process, no gevent), sends a message, waits for the end-of-turn
`full_state`, and repeats; all conversations at once. Prints turns/s, the turn latency (median, p90) and the
server's CPU seconds per turn (from /proc).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import time

import requests
from websockets.asyncio.client import connect

from tests.support.procs import ReferenceServer

KEY = "turn-rate-key"
MESSAGE = json.dumps({"role": "user", "content": [{"type": "text", "text": "go"}]})


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def conversation(url: str, turns: int, latencies: list[float]) -> None:
    body = {"agent": {"llm": {"model": "m"}}, "workspace": {"working_dir": "/w"}}
    cid = (
        await asyncio.to_thread(
            requests.post, f"{url}/api/conversations", json=body, headers={"X-Session-API-Key": KEY}, timeout=30
        )
    ).json()["id"]
    ws_url = url.replace("http://", "ws://") + f"/sockets/events/{cid}?session_api_key={KEY}"
    async with connect(ws_url, max_size=None) as ws:
        await ws.recv()  # the snapshot
        for _ in range(turns):
            sent = time.perf_counter()
            await ws.send(MESSAGE)
            seen_message = False
            while True:
                frame = json.loads(await ws.recv())
                seen_message = seen_message or frame.get("kind") == "MessageEvent"
                value = frame.get("value")
                if seen_message and frame.get("key") == "full_state" and value["execution_status"] != "running":
                    break
            latencies.append(time.perf_counter() - sent)


async def run(url: str, conversations: int, turns: int, pid: int) -> None:
    latencies: list[float] = []
    cpu0, t0 = cpu_seconds(pid), time.perf_counter()
    await asyncio.gather(*(conversation(url, turns, latencies) for _ in range(conversations)))
    elapsed, cpu = time.perf_counter() - t0, cpu_seconds(pid) - cpu0
    done = len(latencies)
    p90 = statistics.quantiles(latencies, n=10)[-1] if done >= 10 else max(latencies)
    print(
        f"{conversations} conversation(s) x {turns} turns: {done / elapsed:.0f} turns/s, turn median "
        f"{statistics.median(latencies) * 1000:.1f} ms p90 {p90 * 1000:.1f} ms, server CPU "
        f"{cpu / done * 1000:.2f} ms/turn (incl. creates)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--conversations", type=int, default=1)
    parser.add_argument("--turns", type=int, default=100)
    parser.add_argument("--script", default="finish")
    args = parser.parse_args()
    options = (
        "--api",
        "v1",
        "--session-api-key",
        KEY,
        "--event-delay-ms",
        "0",
        "--script",
        args.script,
        "--max-runs",
        "0",
    )
    with ReferenceServer(*options) as srv:
        asyncio.run(run(srv.url, args.conversations, args.turns, srv.pid))


if __name__ == "__main__":
    main()
