"""A minimal asyncio Socket.IO client (raw `websockets` frames, no Locust, no gevent) that measures `turn` latency.

It is the yardstick for loadtest's measurement overhead: run it in the same run as a Locust generator against
the same server and compare its turn percentiles with ours. Each of --conns conversations sends
`oh_user_action` on a fixed pace (--rate actions/s in total) and times emit -> the frame that carries the
`awaiting_user_input` state. Bounded by --seconds; prints one line `PROBE {json}`.

    .venv/bin/python benchmarks/asyncio_probe.py --url http://127.0.0.1:3999 --conns 4 --rate 20 --seconds 20
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
import urllib.request
from typing import Any

import websockets

MESSAGE = '42["oh_user_action",{"action":"message","args":{"content":"probe","image_urls":[],"file_urls":[]}}]'


def _create(url: str) -> str:
    req = urllib.request.Request(f"{url}/api/conversations", data=b"{}", method="POST")
    req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req, timeout=30) as resp:
        return str(json.loads(resp.read())["conversation_id"])


async def _conversation(url: str, interval: float, until: float, offset: float, out: list[float]) -> None:
    cid = await asyncio.to_thread(_create, url)
    ws_url = url.replace("http://", "ws://") + f"/socket.io/?EIO=4&transport=websocket&conversation_id={cid}"
    async with websockets.connect(ws_url + "&latest_event_id=-1", compression=None, max_size=2**24) as ws:
        assert str(await ws.recv()).startswith("0")
        await ws.send("40")
        while not str(await ws.recv()).startswith("40"):
            pass
        pending: asyncio.Future[float] | None = None

        async def reader() -> None:
            nonlocal pending
            async for frame in ws:
                text = str(frame)
                if text == "2":
                    await ws.send("3")
                elif '"awaiting_user_input"' in text and pending is not None and not pending.done():
                    pending.set_result(time.perf_counter())

        task = asyncio.create_task(reader())
        loop = asyncio.get_running_loop()
        next_at = time.perf_counter() + offset
        while next_at < until:
            await asyncio.sleep(max(0.0, next_at - time.perf_counter()))
            pending = loop.create_future()
            sent = time.perf_counter()
            await ws.send(MESSAGE)
            try:
                done_at = await asyncio.wait_for(pending, 10.0)
                out.append((done_at - sent) * 1000)
            except TimeoutError:
                out.append(float("inf"))
            next_at += interval
        task.cancel()


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))] if ordered else float("nan")


async def _main(args: argparse.Namespace) -> dict[str, Any]:
    out: list[float] = []
    until = time.perf_counter() + args.seconds
    interval = args.conns / args.rate
    await asyncio.gather(
        *(_conversation(args.url, interval, until, i * interval / args.conns, out) for i in range(args.conns))
    )
    finite = [v for v in out if v != float("inf")]
    return {
        "turns": len(finite),
        "timeouts": len(out) - len(finite),
        "p50_ms": _pct(finite, 50),
        "p90_ms": _pct(finite, 90),
        "p99_ms": _pct(finite, 99),
        "max_ms": max(finite, default=float("nan")),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--conns", type=int, default=4)
    parser.add_argument("--rate", type=float, default=20.0, help="actions/s in total")
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    print("PROBE " + json.dumps(asyncio.run(_main(args))), flush=True)


if __name__ == "__main__":
    main()
