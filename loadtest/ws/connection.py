"""One client WebSocket over gevent: open (URL, query, headers, cookies, source address), send, one reader greenlet.

The TCP connection is a gevent socket created here; nothing needs to be monkey-patched. The HTTP upgrade is ours
(`loadtest.ws.upgrade`: one write, 4 KiB reads); a refused upgrade becomes `HandshakeRejected(status,
retry_after, body)`. After the upgrade the reader reads into 64 KiB buffers that may hold many frames, and every
message of a read is stamped with the `time.perf_counter()` taken when that read returned; `FrameParser` (pure)
turns the bytes into messages. Server frames are never masked; client frames always are. With `deflate=True`,
permessage-deflate is offered and, if the server accepts, compressed messages are inflated (ours go plain).

Per connection there is exactly one greenlet (the reader, a raw greenlet) and no timer. The socket has no read
timeout either (gevent would start and cancel a timer around every `recv`, which cost ~13 % of the client's CPU
under load): the reader stamps each read, and one process-wide watchdog greenlet (`_Watchdog`) shuts down the
socket of a connection silent for longer than its read timeout, which ends the read with ``read_timeout``.

How a connection ends, as the `on_close` reason (once, and only when it ends other than by `close`/`abort`):
``server_close`` (a close frame came; the error is `WsClosed(code, reason)`), ``transport_close`` (EOF or a
reset), ``transport_error``, ``read_timeout``, ``protocol_error`` (the error is the `ProtocolError`).
"""

from __future__ import annotations

# isort: split

import gevent
import gevent.lock
import gevent.socket
import gevent.ssl

import contextlib
import errno
import logging
import socket
import struct
import time
import weakref
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from loadtest.ws.deflate import Inflater
from loadtest.ws.dial import Query, errno_kind, target_of, tcp_connect
from loadtest.ws.errors import ConnectTimeout, ProtocolError, TransportError, WsClosed, WsError
from loadtest.ws.frames import (
    OP_BINARY,
    OP_CLOSE,
    OP_PING,
    OP_PONG,
    OP_TEXT,
    FrameParser,
    MessageHandler,
    close_payload,
    mask_frame,
    parse_close,
)
from loadtest.ws.upgrade import build_request, read_response

__all__ = ["REASONS", "CloseHandler", "MessageHandler", "WebSocket"]

CloseHandler = Callable[[str, BaseException | None], None]
"""Called once by the reader when the connection ends on its own: (reason, the error behind it or None)."""
REASONS = ("server_close", "transport_close", "transport_error", "read_timeout", "protocol_error")

RECV_SIZE = 65536
_RESET_ERRNOS = frozenset({errno.ECONNRESET, errno.EPIPE, errno.ECONNABORTED, errno.ESHUTDOWN})
_LINGER_RESET = struct.pack("ii", 1, 0)
_NORMAL_CLOSE = close_payload(1000)
_perf = time.perf_counter
_log = logging.getLogger("loadtest.ws")


class WebSocket:
    """A client WebSocket on a gevent socket, with one reader greenlet started by `start`.

    Args:
        sock: the connected (and upgraded) gevent socket.
        max_frame_bytes: the largest message accepted from the server.
        deflate: permessage-deflate was negotiated.

    Attributes:
        close_code: the code of the server's close frame (1005 when it had none), or None.
        close_reason: the reason of the server's close frame ("" when none).
    """

    __slots__ = (
        "__weakref__",
        "_closed",
        "_deadline_s",
        "_early",
        "_inflater",
        "_last_rx",
        "_lock",
        "_max",
        "_on_close",
        "_parser",
        "_raw",
        "_sock",
        "_timed_out",
        "close_code",
        "close_reason",
    )

    def __init__(self, sock: gevent.socket.socket, max_frame_bytes: int, deflate: bool = False) -> None:
        self._sock = sock
        # the non-blocking OS socket under a plain gevent socket (not under TLS, which must go through its wrapper)
        self._raw = sock._sock if type(sock) is gevent.socket.socket else None  # type: ignore[attr-defined,unused-ignore]
        self._max = max_frame_bytes
        self._lock = gevent.lock.Semaphore()
        self._closed = False
        self._on_close: CloseHandler | None = None
        self._parser: FrameParser | None = None
        self._early = b""  # bytes read with the upgrade response that already belong to the first frames
        self._inflater = Inflater(max_frame_bytes) if deflate else None
        self._last_rx = _perf()
        self._deadline_s: float | None = None
        self._timed_out = False
        self.close_code: int | None = None
        self.close_reason = ""

    @classmethod
    def open(
        cls,
        url: str,
        *,
        query: Query | None = None,
        headers: Mapping[str, str] | None = None,
        cookies: Mapping[str, str] | None = None,
        timeout: float = 30.0,
        max_frame_bytes: int = 16 * 1024 * 1024,
        deflate: bool = False,
        source_address: str | None = None,
    ) -> WebSocket:
        """Connect over TCP (and TLS), perform the WebSocket upgrade and return the open connection.

        Args:
            url: ws(s) or http(s) URL with path and, optionally, a query.
            query: more query parameters, appended to the URL's.
            headers: extra handshake headers.
            cookies: cookies, sent as one `Cookie` header.
            timeout: seconds for TCP connect and upgrade together.
            max_frame_bytes: the largest message accepted from the server.
            deflate: offer permessage-deflate (used only if the server accepts it).
            source_address: local IP address to bind before connecting (e.g. 127.0.0.2), None for the default.

        Raises:
            HandshakeRejected: the server answered the upgrade with another status than 101.
            ConnectTimeout: ("transport") TCP connect or upgrade took longer than `timeout`.
            TransportError: anything else that prevented the connection.
            ValueError: a URL that is not ws(s) or http(s), or a header with a line break.
        """
        target = target_of(url, query)
        deadline = _perf() + timeout
        try:
            sock = tcp_connect(target.host, target.port, timeout, source_address)
        except TimeoutError as exc:
            raise ConnectTimeout("transport") from exc
        except OSError as exc:
            raise TransportError(errno_kind(exc), str(exc)) from exc
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.settimeout(max(0.001, deadline - _perf()))
            if target.tls:
                sock = gevent.ssl.create_default_context().wrap_socket(sock, server_hostname=target.host)
            request, key = build_request(target.host, target.port, target.tls, target.path, headers, cookies, deflate)
            sock.sendall(request)
            upgrade = read_response(sock.recv, key, deflate)
        except WsError:
            _close_quietly(sock)
            raise
        except TimeoutError as exc:
            _close_quietly(sock)
            raise ConnectTimeout("transport") from exc
        except OSError as exc:
            _close_quietly(sock)
            raise TransportError(errno_kind(exc), str(exc)) from exc
        except BaseException:
            _close_quietly(sock)
            raise
        sock.settimeout(None)
        ws = cls(sock, max_frame_bytes, upgrade.deflate)
        ws._early = upgrade.leftover
        return ws

    # ----------------------------------------------------------------------------------------- reading

    def start(self, on_message: MessageHandler, on_close: CloseHandler) -> None:
        """Start the reader greenlet.

        Args:
            on_message: called as on_message(is_text, payload, received_at) for each complete message, in order,
                in the reader greenlet; `received_at` is the `perf_counter()` of the read that completed it.
            on_close: called once if the connection ends other than by `close`/`abort`, with a reason from
                `REASONS` and the error behind it (`WsClosed` for ``server_close``) or None.
        """
        self._on_close = on_close
        self._parser = FrameParser(on_message, self._on_control, self._max, self._inflater)
        gevent.spawn_raw(self._read_loop)

    def set_read_timeout(self, seconds: float | None) -> None:
        """Set the silence after which the reader ends with ``read_timeout``.

        Args:
            seconds: the timeout, or None for none.
        """
        if self._closed:
            return
        self._deadline_s = seconds
        self._last_rx = _perf()
        if seconds is None:
            _WATCHDOG.discard(self)
        else:
            _WATCHDOG.add(self, seconds)

    def _silent_for_too_long(self) -> None:
        """Called by the watchdog: wake the reader with EOF; it ends with ``read_timeout``."""
        if self._closed:
            return
        self._timed_out = True
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)

    @property
    def closed(self) -> bool:
        """True once `close`/`abort` ran or the reader ended."""
        return self._closed

    def _read_loop(self) -> None:
        # On a plain socket: wait until it is readable, then one non-blocking read. gevent's own `recv` reads first
        # and waits on EAGAIN, so every wake-up of a reader that has just drained its socket costs a second, failed
        # read and an exception (8 % more events per CPU-second when streaming, benchmarks/README.md).
        watcher = getattr(self._sock, "_read_event", None) if self._raw is not None else None
        wait = gevent.get_hub().wait if watcher is not None else None
        recv = self._raw.recv if watcher is not None else self._sock.recv  # type: ignore[union-attr]
        parser = self._parser
        assert parser is not None
        feed = parser.feed
        chunks: list[bytes] = []
        have = 0
        need = 2
        reason = "transport_close"
        error: BaseException | None = None
        early, self._early = self._early, b""
        try:
            while True:
                if early:
                    data, early = early, b""
                else:
                    if wait is not None:
                        wait(watcher)
                        try:
                            data = recv(RECV_SIZE)
                        except (BlockingIOError, InterruptedError):
                            continue
                    else:
                        data = recv(RECV_SIZE)
                    if not data:
                        break
                now = self._last_rx = _perf()
                if chunks:
                    chunks.append(data)
                    have += len(data)
                    if have < need:
                        continue
                    data = b"".join(chunks)
                    chunks = []
                pos, need = feed(data, now)
                if self._closed:
                    return
                if pos < len(data):
                    rest = data[pos:]
                    chunks = [rest]
                    have = len(rest)
        except TimeoutError as exc:
            reason, error = "read_timeout", exc
        except ProtocolError as exc:
            reason, error = "protocol_error", exc
        except OSError as exc:
            reason = "transport_close" if exc.errno in _RESET_ERRNOS else "transport_error"
            error = exc
        except gevent.GreenletExit:
            return
        except Exception as exc:  # a bug in a message handler: end the connection, never the process
            _log.exception("reader failed")
            reason, error = "transport_error", exc
        self._end(reason, error)

    def _on_control(self, opcode: int, payload: bytes) -> None:
        if opcode == OP_PING:
            self._send_raw(mask_frame(OP_PONG, payload))
            return
        code, text = parse_close(payload)  # a one-byte payload raises ProtocolError: the reader ends with it
        self.close_code, self.close_reason = code, text
        with contextlib.suppress(OSError):
            self._send_raw(mask_frame(OP_CLOSE, payload[:2]))
        self._end("server_close", WsClosed(code, text))

    def _end(self, reason: str, error: BaseException | None = None) -> None:
        if self._closed:
            return
        if self._timed_out and reason in ("transport_close", "transport_error"):
            reason, error = "read_timeout", None
        self._stop()
        _close_quietly(self._sock)
        if self._on_close is not None:
            self._on_close(reason, error)

    def _stop(self) -> None:
        self._closed = True
        if self._parser is not None:
            self._parser.stopped = True
        _WATCHDOG.discard(self)

    # ----------------------------------------------------------------------------------------- writing

    def send_text(self, text: str | bytes) -> None:
        """Send one text message (a `str` is encoded as UTF-8; bytes must be UTF-8 already).

        Raises:
            OSError: the socket failed or the connection is closed.
        """
        self._send_raw(mask_frame(OP_TEXT, text.encode("utf-8") if isinstance(text, str) else text))

    def send_binary(self, data: bytes) -> None:
        """Send one binary message.

        Raises:
            OSError: the socket failed or the connection is closed.
        """
        self._send_raw(mask_frame(OP_BINARY, data))

    def send_message(self, text: bytes, binaries: Sequence[bytes] = ()) -> None:
        """Send one text frame (UTF-8 payload) and the binary frames that belong to it, in one write.

        Args:
            text: the text frame's payload, UTF-8 encoded.
            binaries: binary frames sent right after it (e.g. Socket.IO attachments).

        Raises:
            OSError: the socket failed or the connection is closed (the caller decides what that means).
        """
        frame = mask_frame(OP_TEXT, text)
        if binaries:
            frame = b"".join([frame, *(mask_frame(OP_BINARY, b) for b in binaries)])
        self._send_raw(frame)

    def _send_raw(self, frame: bytes) -> None:
        if self._closed:
            raise OSError(errno.ENOTCONN, "transport closed")
        lock = self._lock
        raw = self._raw
        if raw is not None and not lock.locked():
            # Nobody is mid-write and a non-blocking send cannot switch greenlets: hand the frame to the kernel
            # directly (gevent's sendall asks for SO_SNDBUF and chunks on every call). What the kernel does not
            # take now follows through gevent, under the lock, before any other writer's frame.
            try:
                sent = raw.send(frame)
            except (BlockingIOError, InterruptedError):
                sent = 0
            if sent == len(frame):
                return
            frame = frame[sent:]
        with lock:
            self._sock.sendall(frame)

    # ----------------------------------------------------------------------------------------- closing

    def close(self, code: int = 1000, reason: str = "") -> None:
        """Close cleanly: a close frame with `code` and `reason`, then the socket. The reader ends without a callback.

        Args:
            code: 1000 (normal) or an application code 3000-4999.
            reason: UTF-8 text, cut to 123 bytes.

        Raises:
            ValueError: a code a client may not send (checked before anything is closed).
        """
        payload = _NORMAL_CLOSE if code == 1000 and not reason else close_payload(code, reason)
        if self._closed:
            return
        self._stop()
        try:
            if not self._lock.locked():
                self._sock.settimeout(1.0)
                self._sock.sendall(mask_frame(OP_CLOSE, payload))
        except OSError:
            pass
        _close_quietly(self._sock)

    def abort(self) -> None:
        """Close abruptly: TCP reset (SO_LINGER 0), no close frame. The reader ends without a callback."""
        if self._closed:
            return
        self._stop()
        with contextlib.suppress(OSError):
            self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RESET)
        _close_quietly(self._sock)


class _Watchdog:
    """One greenlet for the whole process that ends connections silent for longer than their read timeout.

    It wakes every `period` seconds (a quarter of the shortest timeout registered, within 50 ms..1 s), so a
    timeout fires between 1 and 1.25 times its nominal value; it exits when no connection is registered.
    """

    def __init__(self) -> None:
        self._watched: weakref.WeakSet[WebSocket] = weakref.WeakSet()
        self._period = 1.0
        self._running = False

    def add(self, ws: WebSocket, seconds: float) -> None:
        self._watched.add(ws)
        self._period = min(self._period, max(0.05, seconds / 4))
        if not self._running:
            self._running = True
            gevent.spawn_raw(self._run)

    def discard(self, ws: WebSocket) -> None:
        self._watched.discard(ws)

    def _run(self) -> None:
        try:
            while self._watched:
                gevent.sleep(self._period)
                now = _perf()
                for t in list(self._watched):
                    limit = t._deadline_s
                    if limit is not None and now - t._last_rx > limit:
                        self._watched.discard(t)
                        t._silent_for_too_long()
        finally:
            self._running = False
            self._period = 1.0


_WATCHDOG = _Watchdog()


def _close_quietly(sock: Any) -> None:
    with contextlib.suppress(OSError):
        sock.close()
