"""Where our load generator's CPU per action goes, layer by layer, and the floor for a Python+gevent client.

A script, not a test. The workload is `generators.py roundtrip`: the Node firehose (benchmarks/firehose) on
--server-core answers each `oh_user_action` with K `oh_event`s (echo, `running`, K-3 agent events,
`awaiting_user_input`); --users closed-loop connections each send an action, wait for the turn's end (the
`awaiting_user_input` state event) and send the next, no think time. Each layer runs in its own child process
pinned to --gen-core, one after the other against the same firehose:

1. `floor`: the cheapest honest Python client, written here on `gevent.socket` alone: WebSocket upgrade by hand,
   Engine.IO OPEN, `40` / `40{...}`, then masked `42["oh_user_action",...]` frames out and, per read, the
   server's frames split (126/127 lengths, partial reads, Engine.IO ping `2` answered with `3`), each `42[...]`
   decoded with orjson and counted, the turn ended on `awaiting_user_input`. One greenlet per connection, no
   measurement. It bounds what any Python/gevent generator can do on this workload.
2. `client`: our `loadtest.sio.SocketIOClient`, an `oh_event` handler that sets a gevent Event at the end state.
3. `conversation`: our `loadtest.openhands.Conversation` (join by id, `send_message(text, wait=True)`), its
   default listener (no Locust).
4. `locust-batched` and `locust` (`--with-locust`): ours under Locust with the full measurement path, exactly as
   `generators.py roundtrip --generators ours-batched,ours` (locustfile.py ChatUser, `--think-time 0s`; the first
   with `--locust-rows batched`, the second with one `events.request` per measurement, the default).

Actions are counted by the firehose (`/bench/stats`), CPU over the child's process tree (psutil), both over a
window that leaves out --warmup seconds and the last 3 s. Every child stops by itself after --seconds.

    .venv/bin/python benchmarks/layers.py --seconds 12 --with-locust

Loopback only; the children are this file run with `--child LAYER --url URL`.
"""

from __future__ import annotations

# isort: split

import gevent
import gevent.event
import gevent.socket

import argparse
import base64
import contextlib
import hashlib
import json
import math
import os
import socket
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import generators  # its Locust and Artillery command lines and its measurement window: same rows as there
from _procs import PY, ROOT, Firehose, Proc, load_average, pin, raise_fd_limit

LAYERS = ("floor", "client", "conversation")
MESSAGE = "Say hello."  # the harness's default --message
END_STATE = "awaiting_user_input"
CONNECT_TIMEOUT = 10.0
_WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
_perf = time.perf_counter


@dataclass
class Counts:
    """What a child did, summed over its connections."""

    connected: int = 0
    actions: int = 0
    events: int = 0
    errors: int = 0
    first_error: str = ""

    def fail(self, exc: BaseException) -> None:
        self.errors += 1
        if not self.first_error:
            self.first_error = repr(exc)[:300]


def _action(text: str) -> dict[str, Any]:
    return {"action": "message", "args": {"content": text}}


def _is_end(payload: Any) -> bool:
    """True for the `agent_state_changed` event with state `awaiting_user_input` (as `classify` reads it)."""
    if type(payload) is not dict or payload.get("observation") != "agent_state_changed":
        return False
    extras = payload.get("extras")
    return type(extras) is dict and extras.get("agent_state") == END_STATE


# ------------------------------------------------------------------------------------------------ floor


class _MaskKeys:
    """Fresh, unpredictable masking keys: slices of `os.urandom` output, one 4 KiB call per 1,024 frames."""

    def __init__(self) -> None:
        self.pool = b""
        self.pos = 0

    def __call__(self) -> bytes:
        pos = self.pos
        if pos >= len(self.pool):
            self.pool, pos = os.urandom(4096), 0
        self.pos = pos + 4
        return self.pool[pos : pos + 4]


_mask_key = _MaskKeys()


def _masked_text(payload: bytes) -> bytes:
    """One masked WebSocket text frame (FIN set), as a client must send it (RFC 6455 §5.3)."""
    n = len(payload)
    if n < 126:
        head = bytes((0x81, 0x80 | n))
    elif n < 65536:
        head = bytes((0x81, 0x80 | 126)) + n.to_bytes(2, "big")
    else:
        head = bytes((0x81, 0x80 | 127)) + n.to_bytes(8, "big")
    key = _mask_key()
    mask = key * (n >> 2) + key[: n & 3]
    return head + key + (int.from_bytes(payload, "little") ^ int.from_bytes(mask, "little")).to_bytes(n, "little")


def _masked_control(opcode: int, payload: bytes) -> bytes:
    n = len(payload)  # control frames are < 126 bytes
    key = _mask_key()
    body = bytes(b ^ key[i & 3] for i, b in enumerate(payload))
    return bytes((0x80 | opcode, 0x80 | n)) + key + body


class FloorConnection:
    """A minimal Socket.IO-over-WebSocket connection: upgrade, Engine.IO/Socket.IO handshake, framing."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        host, port = parts.hostname or "127.0.0.1", parts.port or 80
        self.cid = os.urandom(16).hex()
        self.sock = gevent.socket.create_connection((host, port), timeout=CONNECT_TIMEOUT)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        key = base64.b64encode(os.urandom(16))
        target = f"/socket.io/?EIO=4&transport=websocket&conversation_id={self.cid}&latest_event_id=-1"
        request = (
            f"GET {target} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key.decode()}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        self.sock.sendall(request.encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise ConnectionError("closed during the upgrade")
            head += chunk
        head, _, self.buf = head.partition(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 101"):
            raise ConnectionError(f"upgrade refused: {head[:80]!r}")
        accept = base64.b64encode(hashlib.sha1(key + _WS_GUID).digest())
        if b"sec-websocket-accept: " + accept.lower() not in head.lower():
            raise ConnectionError("bad Sec-WebSocket-Accept")
        self.sock.settimeout(None)  # no timer per recv; the child's deadline bounds every connection
        self.raw: socket.socket = self.sock._sock  # the non-blocking OS socket under the gevent socket
        self.pending: list[bytes] = []
        leftover, self.buf = self.buf, b""
        self._feed(leftover)  # the OPEN frame may have come with the 101 response
        messages = self.read()
        if not messages[0].startswith(b"0{"):
            raise ConnectionError(f"no Engine.IO OPEN: {messages[0][:80]!r}")
        self.send(_masked_text(b"40"))
        messages = messages[1:]
        while not any(m.startswith(b"40") for m in messages):
            messages = self.read()

    def send(self, frame: bytes) -> None:
        """A non-blocking send straight to the kernel (one greenlet per connection: no writer to wait for);
        what the kernel does not take now goes through gevent's `sendall`."""
        try:
            sent = self.raw.send(frame)
        except (BlockingIOError, InterruptedError):
            sent = 0
        if sent < len(frame):
            self.sock.sendall(frame[sent:])

    def read(self) -> list[bytes]:
        """The text messages complete so far, reading (one `recv` at a time) until there is at least one."""
        while not self.pending:
            data = self.sock.recv(65536)
            if not data:
                raise ConnectionError("closed by the server")
            self._feed(data)
        out, self.pending = self.pending, []
        return out

    def _feed(self, data: bytes) -> None:
        """Split `data` (after what was left over) into frames: text messages to `pending`, pings answered."""
        if self.buf:
            data = self.buf + data
        out = self.pending
        pos, n = 0, len(data)
        while n - pos >= 2:
            b0, length = data[pos], data[pos + 1] & 0x7F
            start = pos + 2
            if length == 126:
                if n - start < 2:
                    break
                length = int.from_bytes(data[start : start + 2], "big")
                start += 2
            elif length == 127:
                if n - start < 8:
                    break
                length = int.from_bytes(data[start : start + 8], "big")
                start += 8
            stop = start + length
            if stop > n:
                break
            pos = stop
            opcode = b0 & 0x0F
            if opcode == 1:
                if not b0 & 0x80:
                    raise ConnectionError("fragmented message (not expected from the firehose)")
                payload = data[start:stop]
                if payload == b"2":
                    self.send(_masked_text(b"3"))
                else:
                    out.append(payload)
            elif opcode == 8:
                raise ConnectionError("close frame from the server")
            elif opcode == 9:
                self.send(_masked_control(0xA, data[start:stop]))
        self.buf = data[pos:] if pos < n else b""

    def turn(self, frame: bytes, counts: Counts) -> None:
        """Send one action frame and read until the turn's end state."""
        self.send(frame)
        loads = orjson.loads
        while True:
            messages = self.read()
            for i, message in enumerate(messages):
                if message[:2] != b"42":
                    continue
                event = loads(message[2:])
                counts.events += 1
                if event[0] == "oh_event" and len(event) > 1 and _is_end(event[1]):
                    self.pending[:0] = messages[i + 1 :]  # anything after the end belongs to what follows
                    return

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.sendall(_masked_control(0x8, (1000).to_bytes(2, "big")))
        self.sock.close()


def _floor(url: str, end: float, counts: Counts) -> None:
    conn = FloorConnection(url)
    counts.connected += 1
    prefix = b'42["oh_user_action",'
    try:
        while _perf() < end:
            conn.turn(_masked_text(prefix + orjson.dumps(_action(MESSAGE)) + b"]"), counts)
            counts.actions += 1
    finally:
        conn.close()


# ------------------------------------------------------------------------------------------------ our layers


def _client(url: str, end: float, counts: Counts) -> None:
    from loadtest.sio import SocketIOClient

    done = gevent.event.Event()

    def on_event(event: str, args: list[Any], received_at: float, size: int) -> None:
        counts.events += 1
        if args and _is_end(args[0]):
            done.set()

    client = SocketIOClient(on_disconnect=lambda reason: done.set())
    client.on("oh_event", on_event)
    query = {"conversation_id": os.urandom(16).hex(), "latest_event_id": "-1"}
    client.connect(url, query=query, timeout=CONNECT_TIMEOUT)
    counts.connected += 1
    try:
        while _perf() < end:
            done.clear()
            client.emit("oh_user_action", _action(MESSAGE))
            done.wait()  # no timer per wait; the child's deadline bounds it
            if not client.connected:
                raise ConnectionError(f"disconnected: {client.disconnect_reason}")
            counts.actions += 1
    finally:
        client.disconnect()


def _conversation(url: str, end: float, counts: Counts) -> None:
    from loadtest.openhands import Conversation, ConversationConfig

    conv = Conversation(ConversationConfig(base_url=url, turn_timeout=30.0), os.urandom(16).hex(), latest_event_id=-1)
    conv.connect()
    counts.connected += 1
    try:
        while _perf() < end:
            turn = conv.send_message(MESSAGE, wait=True)
            if turn.end_state != END_STATE:
                raise ConnectionError(f"turn ended with {turn.end_state!r}")
            counts.actions += 1
    finally:
        counts.events += conv.integrity.events
        conv.close()


RUNNERS: dict[str, Callable[[str, float, Counts], None]] = {
    "floor": _floor,
    "client": _client,
    "conversation": _conversation,
}


def child(args: argparse.Namespace) -> None:
    """Run one layer's --users connections for --seconds, then print one JSON line with the counts."""
    runner = RUNNERS[args.child]
    counts = Counts()
    start = _perf()
    end = start + args.seconds

    def one() -> None:
        try:
            runner(args.url, end, counts)
        except Exception as exc:
            counts.fail(exc)

    greenlets = [gevent.spawn(one) for _ in range(args.users)]
    gevent.joinall(greenlets, timeout=args.seconds + 10)
    stuck = [g for g in greenlets if not g.dead]
    gevent.killall(stuck, timeout=5)
    result = {"layer": args.child, **asdict(counts), "stuck": len(stuck), "wall_s": round(_perf() - start, 3)}
    print("LAYER " + json.dumps(result), flush=True)


# ------------------------------------------------------------------------------------------------ parent


def _run_layer(args: argparse.Namespace, layer: str, server: Firehose) -> dict[str, Any]:
    argv = [*pin(args.gen_core), PY, str(Path(__file__).resolve()), "--child", layer, "--url", server.url]
    argv += ["--users", str(args.users), "--seconds", str(args.seconds)]
    row, out = generators.measure(args, Proc(argv, cwd=ROOT), server)
    line = next((x for x in out.splitlines() if x.startswith("LAYER ")), None)
    if line is None:
        print(f"  {layer}: no result line: {out[-600:]}", file=sys.stderr)
        return {**row, "child": None}
    reported = json.loads(line[6:])
    if reported["errors"] or reported["stuck"]:
        print(f"  {layer}: {reported['errors']} errors, {reported['stuck']} stuck: {reported['first_error']}")
    return {**row, "child": reported}


def _run_locust(args: argparse.Namespace, server: Firehose, kind: str = "ours") -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        extra = ["--think-time", "0s", "ChatUser"]
        gen = generators._locust(args, kind, server.url, args.users, Path(tmp) / "run", extra)
        row, _out = generators.measure(args, gen, server)
    return {**row, "child": None}


def _run_artillery(args: argparse.Namespace, server: Firehose) -> dict[str, Any]:
    gen = generators._artillery(args, server.url, args.users)
    row, _out = generators.measure(args, gen, server)
    return {**row, "child": None}


def _plot(path: Path, rows: dict[str, dict[str, Any]], reference: dict[str, Any] | None) -> None:
    """Horizontal bars of CPU per action: the layers top-down, Artillery (if run) as the reference."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = list(rows)
    values = [rows[k]["cpu_us_per_action"] for k in labels]
    colors = ["#4c72b0"] * len(labels)
    if reference is not None:
        labels.append("artillery (Node)")
        values.append(reference["cpu_us_per_action"])
        colors.append("#dd8452")
    fig, ax = plt.subplots(figsize=(7.5, 0.5 * len(labels) + 1.2), dpi=110)
    ys = list(range(len(labels)))[::-1]
    ax.barh(ys, values, color=colors)
    for y, v in zip(ys, values, strict=True):
        ax.text(v, y, f" {v:,.0f} µs", va="center", fontsize=9)
    ax.set_yticks(ys, labels)
    ax.set_xlabel("generator CPU per action (µs), 4 events each, one core")
    ax.set_xlim(0, max(values) * 1.2)
    ax.set_title("Where the load generator's CPU per action goes", fontsize=11)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _print_table(args: argparse.Namespace, rows: dict[str, dict[str, Any]]) -> None:
    floor = rows.get("floor", {}).get("cpu_us_per_action", math.nan)
    print(f"\nlayers: {args.users} closed-loop connections, {args.events} events per action, no think time")
    print("| layer | actions/s | generator CPU share | CPU per action (µs) | ratio to floor | added over the "
          "layer above (µs) | firehose CPU share |")  # fmt: skip
    print("|---|---:|---:|---:|---:|---:|---:|")
    previous = math.nan
    for layer, row in rows.items():
        us = row["cpu_us_per_action"]
        ratio = "—" if math.isnan(floor) or math.isnan(us) else f"{us / floor:.2f}×"
        added = "—" if math.isnan(previous) else f"{us - previous:+,.0f}"
        print(f"| {layer} | {row['actions_per_s']:,.0f} | {row['gen_cpu_share']:.0%} | {us:,.0f} | {ratio} | "
              f"{added} | {row['server_cpu_share']:.0%} |")  # fmt: skip
        previous = us
    if not math.isnan(floor) and "locust" in rows:
        share = floor / rows["locust"]["cpu_us_per_action"]
        print(f"the floor accounts for {share:.0%} of ours-under-Locust's CPU per action")
    busy = [layer for layer, row in rows.items() if row["server_cpu_share"] > 0.9]
    if busy:
        print(f"note: the firehose was > 90 % busy during {', '.join(busy)}: those rows' actions/s are bounded by "
              "the target, not the generator; CPU per action is still comparable")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=50, help="closed-loop connections")
    parser.add_argument("--events", type=int, default=4, help="events per action (the firehose's K)")
    parser.add_argument("--seconds", type=float, default=15.0, help="each layer's run")
    parser.add_argument("--warmup", type=float, default=4.0, help="left out at the start of each run")
    parser.add_argument(
        "--layers",
        default=",".join(LAYERS),
        type=lambda v: [x for x in v.split(",") if x],
        help=f"comma-separated, of {','.join(LAYERS)} ('' for none, e.g. with --with-locust)",
    )
    parser.add_argument("--with-locust", action="store_true", help="also ours under Locust (full measurement path)")
    parser.add_argument("--spawn-rate", type=int, default=50, help="Locust's spawn rate (--with-locust)")
    parser.add_argument("--with-artillery", action="store_true", help="also Artillery, as a reference")
    parser.add_argument("--plot", type=Path, help="write a bar chart of CPU per action (PNG) here")
    parser.add_argument("--server-core", type=int, default=1)
    parser.add_argument("--gen-core", type=int, default=0)
    parser.add_argument("--child", choices=LAYERS, help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        if not args.url or urlsplit(args.url).hostname != "127.0.0.1":
            raise SystemExit("--child needs a loopback --url (http://127.0.0.1:PORT)")
        child(args)
        return
    unknown = [x for x in args.layers if x not in LAYERS]
    if unknown:
        raise SystemExit(f"unknown layers: {', '.join(unknown)} (choose from {', '.join(LAYERS)})")
    raise_fd_limit()
    before = load_average()
    server = Firehose(args.server_core, events=args.events)
    rows: dict[str, dict[str, Any]] = {}
    reference: dict[str, Any] | None = None
    try:
        for layer in args.layers:
            rows[layer] = _run_layer(args, layer, server)
            print(f"  {layer}: {json.dumps(rows[layer])}", flush=True)
        if args.with_locust:
            rows["locust-batched"] = _run_locust(args, server, "ours-batched")
            print(f"  locust-batched: {json.dumps(rows['locust-batched'])}", flush=True)
            rows["locust"] = _run_locust(args, server)
            print(f"  locust: {json.dumps(rows['locust'])}", flush=True)
        if args.with_artillery:
            reference = _run_artillery(args, server)
            print(f"  artillery: {json.dumps(reference)}", flush=True)
    finally:
        server.stop()
    _print_table(args, rows)
    if reference is not None:
        us = reference["cpu_us_per_action"]
        print(f"reference, Artillery on the same workload: {us:,.0f} µs per action at {reference['gen_cpu_share']:.0%} "
              f"CPU, firehose {reference['server_cpu_share']:.0%}")  # fmt: skip
    if args.plot:
        _plot(args.plot, rows, reference)
        print(f"plot: {args.plot}")
    print(f"load average: before {before}; after {load_average()}")
    print("command: " + " ".join([".venv/bin/python", "benchmarks/layers.py", *sys.argv[1:]]))
    print(json.dumps({"layers": rows, "artillery": reference}))


if __name__ == "__main__":
    main()
