"""A misbehaving Socket.IO server for the fault tests (stdlib only: sockets and threads, no gevent).

It speaks just enough of WebSocket, Engine.IO v4 and Socket.IO v5 to let a client connect and chat, and
sends one malformed frame per connection, chosen by the ``conversation_id`` of the handshake:

- ``bad_type``: an Engine.IO packet of an unknown type (``9x``);
- ``bad_json``: an EVENT whose JSON is cut (``42["oh_event",{"id":``);
- ``huge_ack``: an ACK whose id has 40 digits;
- ``binary``: a binary WebSocket frame of garbage (no binary packet announced it);
- ``oversize``: a text frame whose header announces more than the client's frame limit;
- anything else: no fault.

The bad frame goes out right after the first user action of each connection, before that action's
echo and end state (which are stored, and replayed to a reconnect with a lower ``latest_event_id``, as
OpenHands does), so a client that skips it still completes the turn and one that closes reconnects and
resumes.
Prints ``listening <port>`` once ready. Usage: ``python bad_server.py [PORT]``.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import socket
import struct
import sys
import threading
from urllib.parse import parse_qs, urlsplit

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
OVERSIZE = 16 * 1024 * 1024 + 1
_logs: dict[str, list[dict[str, object]]] = {}
_lock = threading.Lock()


def frame(payload: bytes, opcode: int = 1) -> bytes:
    n = len(payload)
    if n < 126:
        head = struct.pack("!BB", 0x80 | opcode, n)
    elif n < 65536:
        head = struct.pack("!BBH", 0x80 | opcode, 126, n)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, 127, n)
    return head + payload


def read_exact(conn: socket.socket, n: int) -> bytes:
    buf = b""
    while len(buf) < n:
        chunk = conn.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("eof")
        buf += chunk
    return buf


def read_frame(conn: socket.socket) -> tuple[int, bytes]:
    b0, b1 = read_exact(conn, 2)
    n = b1 & 0x7F
    if n == 126:
        (n,) = struct.unpack("!H", read_exact(conn, 2))
    elif n == 127:
        (n,) = struct.unpack("!Q", read_exact(conn, 8))
    mask = read_exact(conn, 4) if b1 & 0x80 else b"\0\0\0\0"
    data = bytes(c ^ mask[i % 4] for i, c in enumerate(read_exact(conn, n)))
    return b0 & 0x0F, data


def record(cid: str, content: str) -> list[dict[str, object]]:
    """Store the echo and the end state of one user message in the conversation's log; returns them."""
    with _lock:
        log = _logs.setdefault(cid, [])
        first = len(log)
        echo = {"id": first, "source": "user", "action": "message", "args": {"content": content}}
        done = {
            "id": first + 1,
            "source": "agent",
            "observation": "agent_state_changed",
            "extras": {"agent_state": "awaiting_user_input"},
        }
        log += [echo, done]
        return [echo, done]


def replay(cid: str, latest: int) -> list[dict[str, object]]:
    with _lock:
        return [ev for ev in _logs.get(cid, []) if int(ev["id"]) > latest]  # type: ignore[call-overload]


def bad_frame(mode: str) -> bytes | None:
    if mode == "bad_type":
        return frame(b"9x")
    if mode == "bad_json":
        return frame(b'42["oh_event",{"id":')
    if mode == "huge_ack":
        return frame(b"43" + b"9" * 40 + b"[1]")
    if mode == "binary":
        return frame(b"\x00\xffgarbage\x01", opcode=2)
    if mode == "oversize":
        return struct.pack("!BBQ", 0x81, 127, OVERSIZE) + b"4" * 1024  # the rest never comes
    return None


def serve(conn: socket.socket) -> None:
    with conn:
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = conn.recv(4096)
            if not chunk:
                return
            head += chunk
        lines = head.split(b"\r\n")
        target = lines[0].split(b" ")[1].decode()
        headers = {k.strip().lower(): v.strip() for k, _, v in (x.partition(b":") for x in lines[1:] if x)}
        key = headers.get(b"sec-websocket-key")
        if key is None:
            conn.sendall(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
            return
        query = parse_qs(urlsplit(target).query)
        cid = query.get("conversation_id", ["good"])[0]
        try:
            latest = int(query.get("latest_event_id", ["-1"])[0])
        except ValueError:
            latest = -1
        accept = base64.b64encode(hashlib.sha1(key + GUID).digest())
        conn.sendall(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Accept: " + accept + b"\r\n\r\n"
        )
        opened = {"sid": "s-" + cid, "upgrades": [], "pingInterval": 25000, "pingTimeout": 20000, "maxPayload": 10**6}
        conn.sendall(frame(b"0" + json.dumps(opened).encode()))
        faulted = False
        while True:
            opcode, data = read_frame(conn)
            if opcode == 8:
                return
            if data == b"40" or data.startswith(b"40{"):
                for ev in replay(cid, latest):  # as OpenHands: ids above latest_event_id, before the ack
                    conn.sendall(frame(b"42" + json.dumps(["oh_event", ev]).encode()))
                conn.sendall(frame(b'40{"sid":"n-' + cid.encode() + b'"}'))
            elif data.startswith(b'42["oh_user_action"'):
                action = json.loads(data[2:])[1]
                events = record(cid, str(action.get("args", {}).get("content", "")))
                if not faulted:
                    faulted = True
                    bad = bad_frame(cid.split("-")[0])
                    if bad is not None:
                        conn.sendall(bad)
                for ev in events:
                    conn.sendall(frame(b"42" + json.dumps(["oh_event", ev]).encode()))


def serve_quietly(conn: socket.socket) -> None:
    with contextlib.suppress(ConnectionError, OSError):
        serve(conn)


def main() -> None:
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", port))
    listener.listen(128)
    print(f"listening {listener.getsockname()[1]}", flush=True)
    while True:
        conn, _ = listener.accept()
        threading.Thread(target=serve_quietly, args=(conn,), daemon=True).start()


if __name__ == "__main__":
    main()
