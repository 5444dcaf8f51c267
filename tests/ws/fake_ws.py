"""A scripted raw WebSocket server on loopback (gevent, in the test process) for WebSocket edge cases.

Each connection: read the HTTP upgrade request, answer 101 (plus optional bytes in the same write), then run
the test's `script(conn)`; `conn` offers frame helpers. Frames are built by hand here on purpose, so the
client's frame parser is checked against an independent writer.
"""

from __future__ import annotations

# isort: split

import gevent
from gevent.server import StreamServer

import base64
import hashlib
import socket
from collections.abc import Callable
from typing import Any

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def frame(opcode: int, payload: bytes | str, *, fin: bool = True, masked: bool = False) -> bytes:
    """One server frame (unmasked unless asked)."""
    data = payload.encode() if isinstance(payload, str) else payload
    n = len(data)
    head = bytes([(0x80 if fin else 0) | opcode])
    mask_bit = 0x80 if masked else 0
    if n < 126:
        head += bytes([mask_bit | n])
    elif n < 65536:
        head += bytes([mask_bit | 126]) + n.to_bytes(2, "big")
    else:
        head += bytes([mask_bit | 127]) + n.to_bytes(8, "big")
    if masked:
        key = b"\x01\x02\x03\x04"
        data = bytes(b ^ key[i % 4] for i, b in enumerate(data))
        head += key
    return head + data


def text(payload: str) -> bytes:
    return frame(0x1, payload)


class Conn:
    """The server side of one accepted connection."""

    def __init__(self, sock: socket.socket, request: bytes) -> None:
        self.sock = sock
        self.request = request
        self._buf = b""

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def _read(self, n: int) -> bytes:
        while len(self._buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError
            self._buf += chunk
        out, self._buf = self._buf[:n], self._buf[n:]
        return out

    def read_frame(self) -> tuple[int, bytes, bool]:
        """(opcode, unmasked payload, was_masked) of the next client frame."""
        b0, b1 = self._read(2)
        size = b1 & 0x7F
        if size == 126:
            size = int.from_bytes(self._read(2), "big")
        elif size == 127:
            size = int.from_bytes(self._read(8), "big")
        masked = bool(b1 & 0x80)
        key = self._read(4) if masked else b"\x00\x00\x00\x00"
        data = self._read(size)
        return b0 & 0x0F, bytes(b ^ key[i % 4] for i, b in enumerate(data)), masked

    def read_text(self) -> str:
        opcode, data, _ = self.read_frame()
        assert opcode == 0x1, opcode
        return data.decode()


def read_request(sock: socket.socket) -> bytes | None:
    """The HTTP upgrade request, up to its blank line; None if the peer closed first."""
    request = b""
    while b"\r\n\r\n" not in request:
        chunk = sock.recv(4096)
        if not chunk:
            return None
        request += chunk
    return request


def accept_key(request: bytes) -> bytes:
    """``Sec-WebSocket-Accept`` for the request's ``Sec-WebSocket-Key`` (RFC 6455 §4.2.2)."""
    key = next(
        line.split(b":", 1)[1].strip()
        for line in request.split(b"\r\n")
        if line.lower().startswith(b"sec-websocket-key:")
    )
    return base64.b64encode(hashlib.sha1(key + _GUID).digest())


class FakeServer:
    """Runs `script(conn)` for every connection; `upgrade=False` never answers the upgrade."""

    def __init__(
        self,
        script: Callable[[Conn], Any],
        *,
        upgrade: bool = True,
        with_101: bytes = b"",
    ) -> None:
        self.script = script
        self.upgrade = upgrade
        self.with_101 = with_101
        self.requests: list[bytes] = []
        self.errors: list[BaseException] = []
        self.server = StreamServer(("127.0.0.1", 0), self._handle)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}"

    def _handle(self, sock: socket.socket, _addr: Any) -> None:
        try:
            request = read_request(sock)
            if request is None:
                return
            self.requests.append(request)
            if not self.upgrade:
                gevent.sleep(30)
                return
            accept = accept_key(request)
            head = (
                b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                b"Sec-WebSocket-Accept: " + accept + b"\r\n\r\n"
            )
            sock.sendall(head + self.with_101)
            self.script(Conn(sock, request))
        except (EOFError, OSError):
            pass
        except BaseException as exc:  # surfaced by the test through .errors
            self.errors.append(exc)
        finally:
            gevent.sleep(0.05)
            sock.close()

    def __enter__(self) -> FakeServer:
        self.server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.stop(timeout=1)


def hold(conn: Conn, seconds: float = 5.0) -> None:
    """Keep the connection open (reading and discarding) for a while."""
    with gevent.Timeout(seconds, False):
        while True:
            conn.read_frame()
