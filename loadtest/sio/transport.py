"""One WebSocket connection over gevent: open (URL, query, headers, cookies), send frames, one reader greenlet.

The TCP connection is a gevent socket created here; nothing needs to be monkey-patched. The HTTP upgrade is ours
(`loadtest.sio.upgrade`: one write, 4 KiB reads); a refused upgrade becomes `HandshakeRejected(status,
retry_after, body)`. After the upgrade this module reads and writes RFC 6455 frames itself: one `recv` fills a
64 KiB buffer that may hold many frames, and every frame of a read is stamped with the `time.perf_counter()` taken
when that read returned. Server frames are never masked; client frames always are. With `deflate=True`,
permessage-deflate is offered and, if the server accepts, compressed messages are inflated (ours go plain).

Per connection there is exactly one greenlet (the reader, a raw greenlet) and no timer. The socket has no read
timeout either (gevent would start and cancel a timer around every `recv`, which cost ~13 % of the client's CPU
under load): the reader stamps each read, and one process-wide watchdog greenlet (`_Watchdog`) shuts down the
socket of a connection silent for longer than its read timeout (Engine.IO ping interval + ping timeout), which
ends the read with `ping_timeout` in the reader itself.
"""

from __future__ import annotations

# isort: split

import gevent
import gevent.lock
import gevent.socket
import gevent.ssl

import contextlib
import errno
import ipaddress
import logging
import socket
import struct
import time
import weakref
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import urlencode, urlsplit

from loadtest.sio.errors import ConnectTimeout, ProtocolError, SioError, TransportError
from loadtest.sio.frames import OP_BINARY as _OP_BINARY
from loadtest.sio.frames import OP_CLOSE as _OP_CLOSE
from loadtest.sio.frames import OP_CONT as _OP_CONT
from loadtest.sio.frames import OP_PING as _OP_PING
from loadtest.sio.frames import OP_PONG as _OP_PONG
from loadtest.sio.frames import OP_TEXT as _OP_TEXT
from loadtest.sio.frames import mask_frame as _mask_frame
from loadtest.sio.upgrade import Inflater, build_request, parse_retry_after, read_response

__all__ = ["FrameHandler", "WebSocketTransport", "build_url", "parse_retry_after"]

FrameHandler = Callable[[bool, bytes, float], None]
"""Called by the reader for each complete data message: (is_text, payload, received_at)."""
CloseHandler = Callable[[str, BaseException | None], None]
"""Called once by the reader when the connection ends on its own: (reason, the error behind it or None)."""

RECV_SIZE = 65536
_RESET_ERRNOS = frozenset({errno.ECONNRESET, errno.EPIPE, errno.ECONNABORTED, errno.ESHUTDOWN})
_LINGER_RESET = struct.pack("ii", 1, 0)
_perf = time.perf_counter
_log = logging.getLogger("loadtest.sio")


def build_url(
    url: str, query: Mapping[str, Any] | Sequence[tuple[str, Any]] | None, socketio_path: str
) -> tuple[str, str, int, bool]:
    """The ws(s) URL of the Engine.IO endpoint, and host, port and TLS flag of the server.

    Args:
        url: http(s) or ws(s) base URL; its path is ignored (use `socketio_path` for a prefix).
        query: extra query parameters, added after `EIO=4&transport=websocket`; sequences become repeated keys.
        socketio_path: the endpoint path, "socket.io" by default.
    """
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https", "ws", "wss"):
        raise ValueError(f"unsupported URL scheme {scheme!r}; use http, https, ws or wss")
    tls = scheme in ("https", "wss")
    host = parts.hostname or ""
    if not host:
        raise ValueError(f"no host in URL {url!r}")
    port = parts.port or (443 if tls else 80)
    path = "/" + socketio_path.strip("/") + "/"
    pairs: list[tuple[str, Any]] = [("EIO", "4"), ("transport", "websocket")]
    if query:
        pairs.extend(query.items() if isinstance(query, Mapping) else query)
    netloc = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    ws_url = f"{'wss' if tls else 'ws'}://{netloc}{path}?{urlencode(pairs, doseq=True)}"
    return ws_url, host, port, tls


class WebSocketTransport:
    """A client WebSocket on a gevent socket, with one reader greenlet started by `start`.

    Args:
        sock: the connected (and upgraded) gevent socket.
        max_frame_bytes: the largest message accepted from the server.
    """

    __slots__ = (
        "__weakref__",
        "_closed",
        "_deadline_s",
        "_early",
        "_frag",
        "_frag_text",
        "_frag_z",
        "_inflater",
        "_last_rx",
        "_lock",
        "_max",
        "_on_close",
        "_on_frame",
        "_raw",
        "_sock",
        "_timed_out",
    )

    def __init__(self, sock: gevent.socket.socket, max_frame_bytes: int, deflate: bool = False) -> None:
        self._sock = sock
        # the non-blocking OS socket under a plain gevent socket (not under TLS, which must go through its wrapper)
        self._raw = sock._sock if type(sock) is gevent.socket.socket else None  # type: ignore[attr-defined,unused-ignore]
        self._max = max_frame_bytes
        self._lock = gevent.lock.Semaphore()
        self._closed = False
        self._on_frame: FrameHandler | None = None
        self._on_close: CloseHandler | None = None
        self._frag: list[bytes] | None = None
        self._frag_text = False
        self._early = b""  # bytes read with the upgrade response that already belong to the first frames
        self._inflater = Inflater(max_frame_bytes) if deflate else None
        self._frag_z = False
        self._last_rx = _perf()
        self._deadline_s: float | None = None
        self._timed_out = False

    @classmethod
    def open(
        cls,
        url: str,
        *,
        query: Mapping[str, Any] | Sequence[tuple[str, Any]] | None = None,
        headers: Mapping[str, str] | None = None,
        cookies: Mapping[str, str] | None = None,
        timeout: float = 30.0,
        socketio_path: str = "socket.io",
        max_frame_bytes: int = 16 * 1024 * 1024,
        deflate: bool = False,
        source_address: str | None = None,
    ) -> WebSocketTransport:
        """Connect over TCP (and TLS), perform the WebSocket upgrade and return the open transport.

        Args:
            url: http(s) or ws(s) base URL of the server.
            query: query parameters for the Engine.IO endpoint.
            headers: extra handshake headers.
            cookies: cookies, sent as one `Cookie` header.
            timeout: seconds for TCP connect and upgrade together.
            socketio_path: the endpoint path.
            max_frame_bytes: the largest message accepted from the server.
            deflate: offer permessage-deflate (used only if the server accepts it).
            source_address: local IP address to bind before connecting (e.g. 127.0.0.2), None for the default.

        Raises:
            HandshakeRejected: the server answered the upgrade with another status than 101.
            ConnectTimeout: ("transport") TCP connect or upgrade took longer than `timeout`.
            TransportError: anything else that prevented the connection.
        """
        ws_url, host, port, tls = build_url(url, query, socketio_path)
        target = ws_url[ws_url.index("/", ws_url.index("//") + 2) :]
        deadline = _perf() + timeout
        try:
            sock = _tcp_connect(host, port, timeout, source_address)
        except TimeoutError as exc:
            raise ConnectTimeout("transport") from exc
        except OSError as exc:
            raise TransportError(_errno_kind(exc), str(exc)) from exc
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.settimeout(max(0.001, deadline - _perf()))
            if tls:
                sock = gevent.ssl.create_default_context().wrap_socket(sock, server_hostname=host)
            request, key = build_request(host, port, tls, target, headers, cookies, deflate)
            sock.sendall(request)
            upgrade = read_response(sock.recv, key, deflate)
        except SioError:
            _close_quietly(sock)
            raise
        except TimeoutError as exc:
            _close_quietly(sock)
            raise ConnectTimeout("transport") from exc
        except OSError as exc:
            _close_quietly(sock)
            raise TransportError(_errno_kind(exc), str(exc)) from exc
        except BaseException:
            _close_quietly(sock)
            raise
        sock.settimeout(None)
        transport = cls(sock, max_frame_bytes, upgrade.deflate)
        transport._early = upgrade.leftover
        return transport

    # ----------------------------------------------------------------------------------------- reading

    def start(self, on_frame: FrameHandler, on_close: CloseHandler) -> None:
        """Start the reader greenlet.

        Args:
            on_frame: called for each complete message, in order, in the reader greenlet.
            on_close: called once if the connection ends other than by `close`/`abort`, with the reason:
                ``transport_close``, ``transport_error``, ``ping_timeout`` or ``protocol_error``.
        """
        self._on_frame = on_frame
        self._on_close = on_close
        gevent.spawn_raw(self._read_loop)

    def set_read_timeout(self, seconds: float | None) -> None:
        """Set the silence after which the reader ends with ``ping_timeout``.

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
        """Called by the watchdog: wake the reader with EOF; it ends with ``ping_timeout``."""
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
                pos, need = self._parse(data, now)
                if self._closed:
                    return
                if pos < len(data):
                    rest = data[pos:]
                    chunks = [rest]
                    have = len(rest)
        except TimeoutError as exc:
            reason, error = "ping_timeout", exc
        except ProtocolError as exc:
            reason, error = "protocol_error", exc
        except OSError as exc:
            reason = "transport_close" if exc.errno in _RESET_ERRNOS else "transport_error"
            error = exc
        except gevent.GreenletExit:
            return
        except Exception as exc:  # a bug in a frame handler: end the connection, never the process
            _log.exception("reader failed")
            reason, error = "transport_error", exc
        self._end(reason, error)

    def _end(self, reason: str, error: BaseException | None = None) -> None:
        if self._closed:
            return
        if self._timed_out and reason in ("transport_close", "transport_error"):
            reason, error = "ping_timeout", None
        self._closed = True
        _WATCHDOG.discard(self)
        _close_quietly(self._sock)
        if self._on_close is not None:
            self._on_close(reason, error)

    def _parse(self, data: bytes, now: float) -> tuple[int, int]:
        """Deliver every complete frame in `data`; return (end of the last complete frame, bytes needed next)."""
        pos = 0
        n = len(data)
        on_frame = self._on_frame
        assert on_frame is not None
        while True:
            left = n - pos
            if left < 2:
                return pos, 2
            b0 = data[pos]
            b1 = data[pos + 1]
            size = b1 & 0x7F
            head = 2
            if (b1 & 0x80 or b0 & 0x70) and (  # masked, or RSV bits other than a deflated first frame
                b1 & 0x80 or b0 & 0x30 or self._inflater is None or b0 & 0x0F not in (_OP_TEXT, _OP_BINARY)
            ):
                raise ProtocolError("bad_ws_frame", data[pos : pos + 2])
            if size == 126:
                if left < 4:
                    return pos, 4
                size = int.from_bytes(data[pos + 2 : pos + 4], "big")
                head = 4
            elif size == 127:
                if left < 10:
                    return pos, 10
                size = int.from_bytes(data[pos + 2 : pos + 10], "big")
                head = 10
            if size > self._max:
                raise ProtocolError("frame_too_large", data[pos : pos + head])
            end = pos + head + size
            if end > n:
                return pos, head + size
            payload = data[pos + head : end]
            pos = end
            opcode = b0 & 0x0F
            if opcode in (_OP_TEXT, _OP_BINARY):
                if self._frag is not None:
                    raise ProtocolError("bad_ws_fragment", payload)
                if b0 & 0x80:
                    if b0 & 0x40:
                        assert self._inflater is not None
                        payload = self._inflater.inflate(payload)
                    on_frame(opcode == _OP_TEXT, payload, now)
                else:
                    self._frag = [payload]
                    self._frag_text = opcode == _OP_TEXT
                    self._frag_z = bool(b0 & 0x40)
            elif opcode == _OP_CONT:
                if self._frag is None:
                    raise ProtocolError("bad_ws_fragment", payload)
                self._frag.append(payload)
                if sum(map(len, self._frag)) > self._max:
                    raise ProtocolError("frame_too_large", payload)
                if b0 & 0x80:
                    whole = b"".join(self._frag)
                    self._frag = None
                    if self._frag_z:
                        assert self._inflater is not None
                        whole = self._inflater.inflate(whole)
                    self._deliver(self._frag_text, whole, now)
            elif opcode == _OP_PING:
                self._send_raw(_mask_frame(_OP_PONG, payload))
            elif opcode == _OP_CLOSE:
                self._send_raw(_mask_frame(_OP_CLOSE, payload[:2]))
                self._end("transport_close")
                return pos, 2
            elif opcode != _OP_PONG:
                raise ProtocolError("bad_ws_opcode", data[pos - size - head : pos])
            if self._closed:
                return pos, 2

    def _deliver(self, text: bool, payload: bytes, now: float) -> None:
        assert self._on_frame is not None
        self._on_frame(text, payload, now)

    # ----------------------------------------------------------------------------------------- writing

    def send_message(self, text: bytes, binaries: Sequence[bytes] = ()) -> None:
        """Send one text frame (UTF-8 payload) and the binary frames that belong to it, in one write.

        Args:
            text: the text frame's payload, UTF-8 encoded.
            binaries: binary frames sent right after it (Socket.IO attachments).

        Raises:
            OSError: the socket failed (the caller decides the disconnect reason).
        """
        frame = _mask_frame(_OP_TEXT, text)
        if binaries:
            frame = b"".join([frame, *(_mask_frame(_OP_BINARY, b) for b in binaries)])
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

    def close(self) -> None:
        """Close cleanly: a WebSocket close frame (1000), then the socket. The reader ends without a callback."""
        if self._closed:
            return
        self._closed = True
        _WATCHDOG.discard(self)
        try:
            if not self._lock.locked():
                self._sock.settimeout(1.0)
                self._sock.sendall(_mask_frame(_OP_CLOSE, (1000).to_bytes(2, "big")))
        except OSError:
            pass
        _close_quietly(self._sock)

    def abort(self) -> None:
        """Close abruptly: TCP reset (SO_LINGER 0), no close frame. The reader ends without a callback."""
        if self._closed:
            return
        self._closed = True
        _WATCHDOG.discard(self)
        with contextlib.suppress(OSError):
            self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RESET)
        _close_quietly(self._sock)


class _Watchdog:
    """One greenlet for the whole process that ends connections silent for longer than their read timeout.

    It wakes every `period` seconds (a quarter of the shortest timeout registered, within 50 ms..1 s), so a
    timeout fires between 1 and 1.25 times its nominal value; it exits when no connection is registered.
    """

    def __init__(self) -> None:
        self._watched: weakref.WeakSet[WebSocketTransport] = weakref.WeakSet()
        self._period = 1.0
        self._running = False

    def add(self, transport: WebSocketTransport, seconds: float) -> None:
        self._watched.add(transport)
        self._period = min(self._period, max(0.05, seconds / 4))
        if not self._running:
            self._running = True
            gevent.spawn_raw(self._run)

    def discard(self, transport: WebSocketTransport) -> None:
        self._watched.discard(transport)

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


def _tcp_connect(host: str, port: int, timeout: float, source_address: str | None = None) -> gevent.socket.socket:
    """A TCP connection; numeric addresses skip the resolver (gevent's runs getaddrinfo in a thread pool).

    With `source_address` the socket is bound to that local address (port chosen by the kernel) first.
    """
    try:
        family = socket.AF_INET6 if ipaddress.ip_address(host).version == 6 else socket.AF_INET
    except ValueError:
        source = (source_address, 0) if source_address else None
        return gevent.socket.create_connection((host, port), timeout=timeout, source_address=source)
    sock = gevent.socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.settimeout(timeout)
        if source_address:
            sock.bind((source_address, 0))
        sock.connect((host, port))
    except BaseException:
        sock.close()
        raise
    return sock


def _close_quietly(sock: Any) -> None:
    with contextlib.suppress(OSError):
        sock.close()


def _errno_kind(exc: OSError) -> str:
    if exc.errno is not None and exc.errno in errno.errorcode:
        return errno.errorcode[exc.errno].lower()
    return type(exc).__name__.lower()
