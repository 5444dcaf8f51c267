"""`SocketIOClient`: one Socket.IO v5 connection over Engine.IO v4 WebSocket, gevent-native, no reconnection.

Everything the server sends is handled in the transport's single reader greenlet, in arrival order: Engine.IO
OPEN (then the namespace CONNECT is sent), PING (answered at once), events (also those that arrive before the
CONNECT ack, as OpenHands replays before acking), acks, CONNECT_ERROR and DISCONNECT. Nothing else runs per
connection: `call()` waits in the caller's greenlet, and the ping timeout is `loadtest.ws`'s read timeout.

Every close has one reason (see `REASONS`), recorded in `disconnect_reason` and passed to `on_disconnect` when
the connection had been established. Pending acks fail with `Disconnected(reason)`; acks that arrive after their
timeout, or for ids never sent, are counted (`counters.late_acks`, `counters.unknown_acks`).
"""

from __future__ import annotations

# isort: split

from gevent.event import AsyncResult

import contextlib
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from loadtest.sio import packets as P
from loadtest.sio.acks import Acks
from loadtest.sio.attachments import Attachments
from loadtest.sio.errors import AckTimeout, ConnectRefused, ConnectTimeout, Disconnected, ProtocolError
from loadtest.sio.records import AckResult, ClientCounters, ConnectInfo, DisconnectHandler, EventHandler
from loadtest.sio.transport import WebSocket, open_transport, sio_close

__all__ = ["SocketIOClient"]


_IDLE, _OPENING, _OPEN, _CONNECTED, _CLOSED = range(5)
_log = logging.getLogger("loadtest.sio")
_perf = time.perf_counter


class SocketIOClient:
    """A Socket.IO client for one namespace; connect, emit, call, disconnect. It never reconnects by itself.

    Args:
        on_event: catch-all handler for events without a handler registered with `on()`.
        on_disconnect: called once with the reason when an established connection closes.
        namespace: the Socket.IO namespace, "/" by default.
        max_frame_bytes: the largest message accepted from the server.
        deflate: offer WebSocket permessage-deflate (servers may require it; it costs CPU and, once the first
            compressed message arrives, about 40 KiB of inflater state per connection). Off by default.
    """

    __slots__ = (
        "_acks",
        "_auth",
        "_binary",
        "_handlers",
        "_info",
        "_on_disconnect",
        "_on_event",
        "_open",
        "_opened",
        "_pre_bytes",
        "_pre_events",
        "_started",
        "_state",
        "_transport",
        "_upgraded",
        "_waiter",
        "counters",
        "deflate",
        "disconnect_reason",
        "max_frame_bytes",
        "namespace",
    )

    def __init__(
        self,
        on_event: EventHandler | None = None,
        on_disconnect: DisconnectHandler | None = None,
        namespace: str = "/",
        *,
        max_frame_bytes: int = P.MAX_FRAME_BYTES,
        deflate: bool = False,
    ) -> None:
        if not namespace.startswith("/"):
            raise ValueError(f"namespace must start with '/': {namespace!r}")
        self._on_event = on_event
        self._on_disconnect = on_disconnect
        self.namespace = namespace
        self.max_frame_bytes = max_frame_bytes
        self.deflate = deflate
        self.counters = ClientCounters()
        self.disconnect_reason: str | None = None
        self._handlers: dict[str, EventHandler] | None = None
        self._state = _IDLE
        self._transport: WebSocket | None = None
        self._info: ConnectInfo | None = None
        self._waiter: AsyncResult | None = None
        self._acks = Acks()
        self._binary = Attachments()
        self._auth: Any = None
        self._open: P.OpenInfo | None = None
        self._started = self._upgraded = self._opened = 0.0
        self._pre_events = self._pre_bytes = 0

    # ----------------------------------------------------------------------------------------- public API

    def on(self, event: str, handler: EventHandler) -> None:
        """Register a handler for one event name (it replaces `on_event` for that name).

        Args:
            event: the event name.
            handler: called as handler(event, args, received_at, frame_bytes) in the reader greenlet.
        """
        if self._handlers is None:
            self._handlers = {}
        self._handlers[event] = handler

    @property
    def connected(self) -> bool:
        """True between the CONNECT ack and the close."""
        return self._state == _CONNECTED

    @property
    def info(self) -> ConnectInfo | None:
        """How the current (or last) connection was established, once connected."""
        return self._info

    @property
    def sid(self) -> str | None:
        """The namespace sid of the current (or last) connection."""
        return self._info.sid if self._info else None

    def connect(
        self,
        url: str,
        query: Mapping[str, Any] | Sequence[tuple[str, Any]] | None = None,
        headers: Mapping[str, str] | None = None,
        cookies: Mapping[str, str] | None = None,
        auth: Any = None,
        timeout: float = 30.0,
        socketio_path: str = "socket.io",
        source_address: str | None = None,
    ) -> ConnectInfo:
        """Open the WebSocket, complete the Engine.IO handshake and connect the namespace.

        Events that arrive before the CONNECT ack are delivered to the handlers before this returns.
        A closed client may connect again (a new connection; counters keep adding up).

        Args:
            url: http(s) or ws(s) URL of the server; the path defaults to /socket.io/.
            query: query parameters, added to `EIO=4&transport=websocket`.
            headers: extra handshake headers.
            cookies: cookies for the handshake.
            auth: the CONNECT payload; None sends a bare CONNECT (what OpenHands requires).
            timeout: seconds for the whole connect, handshake to CONNECT ack.
            socketio_path: the Engine.IO endpoint path.
            source_address: local IP address to connect from (bound before connecting), None for the default.

        Raises:
            HandshakeRejected: the upgrade got another HTTP status than 101 (e.g. 429 with `retry_after`).
            ConnectRefused: the server refused the namespace (CONNECT_ERROR).
            ConnectTimeout: the connect did not complete in time (`stage` says where).
            TransportError: TCP or WebSocket failure.
            Disconnected: the connection closed before the CONNECT ack.
            ProtocolError: the server broke the protocol before the CONNECT ack.
        """
        if self._state not in (_IDLE, _CLOSED):
            raise RuntimeError("already connecting or connected; disconnect first")
        self._started = _perf()
        deadline = self._started + timeout
        self._state = _OPENING
        self.disconnect_reason = None
        self._info = None
        self._open = None
        self._pre_events = self._pre_bytes = 0
        self._auth = auth
        try:
            transport = open_transport(
                url,
                query=query,
                headers=headers,
                cookies=cookies,
                timeout=timeout,
                socketio_path=socketio_path,
                max_frame_bytes=self.max_frame_bytes,
                deflate=self.deflate,
                source_address=source_address,
            )
        except BaseException:
            self._state = _CLOSED
            raise
        if self._state != _OPENING:  # abort() or disconnect() ran while the upgrade was in flight
            transport.abort()
            raise Disconnected(self.disconnect_reason or "client_abort")
        self._upgraded = _perf()
        self._transport = transport
        waiter = self._waiter = AsyncResult()
        transport.start(self._on_frame, self._on_transport_close)
        waiter.wait(max(0.0, deadline - _perf()))
        self._waiter = None
        if not waiter.ready():
            stage = "open" if self._state == _OPENING else "namespace"
            self._finish("client_abort", quiet=True)
            raise ConnectTimeout(stage)
        error = waiter.exception
        if error is not None:
            raise error
        assert self._info is not None
        return self._info

    def emit(self, event: str, *args: Any) -> int:
        """Send an event without asking for an ack.

        Args:
            event: the event name.
            *args: JSON-serialisable arguments; bytes anywhere become binary attachments.

        Returns:
            The payload bytes written (text frame plus attachments).

        Raises:
            Disconnected: not connected, or the write failed.
        """
        return self._send_event(event, args, None)

    def call(self, event: str, *args: Any, timeout: float = 5.0) -> AckResult:
        """Send an event and wait for its ack.

        Args:
            event: the event name.
            *args: JSON-serialisable arguments; bytes anywhere become binary attachments.
            timeout: seconds to wait for the ack.

        Raises:
            AckTimeout: no ack in time (a later ack is counted in `counters.late_acks`).
            Disconnected: not connected, or the connection closed while waiting.
        """
        ack_id, result = self._acks.new()
        try:
            self._send_event(event, args, ack_id)
        except BaseException:
            self._acks.drop(ack_id)
            raise
        result.wait(timeout)
        if result.ready():
            value: AckResult = result.get()
            return value
        if self._acks.expire(ack_id):
            self.counters.ack_timeouts += 1
        raise AckTimeout(event, timeout)

    def disconnect(self) -> None:
        """Close cleanly: Socket.IO DISCONNECT, WebSocket close, reason ``client``. Safe to call twice."""
        if self._state in (_OPEN, _CONNECTED) and self._transport is not None:
            with contextlib.suppress(Disconnected):
                self._write(P.SioPacket(P.DISCONNECT, self.namespace))
        self._finish("client")

    def abort(self) -> None:
        """Close abruptly (TCP reset, nothing sent), reason ``client_abort``. Safe to call twice."""
        self._finish("client_abort", quiet=True)

    # ----------------------------------------------------------------------------------------- sending

    def _send_event(self, event: str, args: Sequence[Any], ack_id: int | None) -> int:
        if self._state != _CONNECTED:
            raise Disconnected(self.disconnect_reason or "not_connected")
        return self._write(P.SioPacket(P.EVENT, self.namespace, [event, *args], ack_id))

    def _write(self, packet: P.SioPacket) -> int:
        text, binaries = P.encode_message_utf8(packet)
        transport = self._transport
        if transport is None:
            raise Disconnected(self.disconnect_reason or "not_connected")
        try:
            transport.send_message(text, binaries)
        except OSError as exc:
            self._finish("transport_error")
            raise Disconnected(self.disconnect_reason or "transport_error") from exc
        size = len(text) + sum(map(len, binaries))
        c = self.counters
        c.frames_out += 1 + len(binaries)
        c.bytes_out += size
        return size

    def _send_eio(self, packet: P.EioPacket) -> None:
        transport = self._transport
        if transport is None:
            return
        frame = P.encode_eio(packet)
        assert isinstance(frame, str)
        text = frame.encode("utf-8")
        try:
            transport.send_message(text)
        except OSError:
            self._finish("transport_error")
            return
        self.counters.frames_out += 1
        self.counters.bytes_out += len(text)

    # ----------------------------------------------------------------------------------------- receiving

    def _on_frame(self, text: bool, payload: bytes, received_at: float) -> None:
        c = self.counters
        c.frames_in += 1
        c.bytes_in += len(payload)
        if not text:
            self._on_binary(self._binary.add, payload, received_at)
            return
        try:
            if self.namespace == "/":  # fast path: a plain event, no packet object
                data = P.decode_root_event(payload)
                if data is not None:
                    self._deliver_event(data, None, len(payload), received_at)
                    return
            packet = P.decode_text_frame(payload)
        except ProtocolError as exc:
            self._protocol_error(exc)
            return
        if type(packet) is P.SioPacket:
            self._on_sio(packet, len(payload), received_at)
        else:
            assert isinstance(packet, P.EioPacket)
            self._on_eio(packet, received_at)

    def _on_eio(self, packet: P.EioPacket, received_at: float) -> None:
        kind = packet.type
        if kind == P.PING:
            self.counters.pings += 1
            self._send_eio(P.EioPacket(P.PONG, packet.data))
        elif kind == P.OPEN:
            self._on_open(packet, received_at)
        elif kind == P.CLOSE:
            self._finish("server")
        # PONG, UPGRADE and NOOP need nothing

    def _on_open(self, packet: P.EioPacket, received_at: float) -> None:
        if self._state != _OPENING:
            self._protocol_error(ProtocolError("unexpected_open", str(packet.data)))
            return
        try:
            info = P.decode_open(packet.data)
        except ProtocolError as exc:
            self._protocol_error(exc)
            return
        self._open = info
        self._state = _OPEN
        self._opened = received_at
        assert self._transport is not None
        self._transport.set_read_timeout(info.ping_interval + info.ping_timeout)
        auth, self._auth = self._auth, None  # sent once, not kept (it may hold a token)
        with contextlib.suppress(Disconnected):
            self._write(P.SioPacket(P.CONNECT, self.namespace, auth))

    def _on_sio(self, packet: P.SioPacket, size: int, received_at: float) -> None:
        if packet.namespace != self.namespace:
            self.counters.other_namespace += 1
            return
        kind = packet.type
        if kind == P.EVENT:
            self._deliver_event(packet.data, packet.id, size, received_at)
        elif kind == P.ACK:
            self._resolve(packet, received_at)
        elif kind == P.BINARY_EVENT or kind == P.BINARY_ACK:
            self._on_binary(lambda p: self._binary.begin(p, size), packet, received_at)
        elif kind == P.CONNECT:
            self._on_connect(packet, received_at)
        elif kind == P.CONNECT_ERROR:
            message, data = P.connect_error_fields(packet.data)
            if self._state == _CONNECTED:
                self._finish("server")
            else:
                self._finish("server", error=ConnectRefused(message, data))
        else:  # DISCONNECT
            self._finish("server")

    def _on_binary(self, step: Callable[[Any], P.SioPacket | None], arg: Any, received_at: float) -> None:
        """Feed a binary packet or one of its attachments to `self._binary`; deliver the packet once whole."""
        try:
            whole = step(arg)
        except ProtocolError as exc:
            self._protocol_error(exc)
            return
        if whole is None:
            return
        if whole.type == P.BINARY_EVENT:
            self._deliver_event(whole.data, whole.id, self._binary.size, received_at)
        else:
            self._resolve(whole, received_at)

    def _on_connect(self, packet: P.SioPacket, received_at: float) -> None:
        if self._state != _OPEN or self._open is None:
            self._protocol_error(ProtocolError("unexpected_connect", "CONNECT"))
            return
        data = packet.data if isinstance(packet.data, dict) else {}
        sid = data.get("sid")
        info = self._open
        self._info = ConnectInfo(
            started_at=self._started,
            upgraded_at=self._upgraded,
            opened_at=self._opened,
            connected_at=received_at,
            sid=sid if isinstance(sid, str) else "",
            ping_interval=info.ping_interval,
            ping_timeout=info.ping_timeout,
            events_before_ack=self._pre_events,
            bytes_before_ack=self._pre_bytes,
        )
        self._state = _CONNECTED
        waiter = self._waiter
        if waiter is not None:
            waiter.set(None)

    def _deliver_event(self, data: list[Any], ack_id: int | None, size: int, received_at: float) -> None:
        event = data[0]
        c = self.counters
        c.events_in += 1
        if self._state != _CONNECTED:
            self._pre_events += 1
            self._pre_bytes += size
        handler = self._on_event
        if self._handlers is not None:
            handler = self._handlers.get(event, handler)
        result = None
        if handler is not None:
            try:
                result = handler(event, data[1:], received_at, size)
            except Exception:
                c.handler_errors += 1
                _log.exception("handler for %r failed", event)
        if ack_id is not None and self._state in (_OPEN, _CONNECTED):
            args = [] if result is None else list(result) if isinstance(result, tuple) else [result]
            with contextlib.suppress(Disconnected):
                self._write(P.SioPacket(P.ACK, self.namespace, args, ack_id))

    def _resolve(self, packet: P.SioPacket, received_at: float) -> None:
        assert packet.id is not None
        fault = self._acks.resolve(packet.id, packet.data, received_at)
        if fault == "late":
            self.counters.late_acks += 1
        elif fault == "unknown":
            self.counters.unknown_acks += 1

    # ----------------------------------------------------------------------------------------- closing

    def _protocol_error(self, exc: ProtocolError) -> None:
        errors = self.counters.protocol_errors
        errors[exc.kind] = errors.get(exc.kind, 0) + 1
        self._finish("protocol_error", error=exc)

    def _on_transport_close(self, ws_reason: str, ws_error: BaseException | None) -> None:
        reason, error = sio_close(ws_reason, ws_error)
        if error is not None:
            self._protocol_error(error)
        else:
            self._finish(reason)

    def _finish(self, reason: str, *, error: BaseException | None = None, quiet: bool = False) -> None:
        """End the connection once: close the transport, fail what waits, tell `on_disconnect`."""
        if self._state in (_IDLE, _CLOSED):
            return
        was_connected = self._state == _CONNECTED
        self._state = _CLOSED
        self.disconnect_reason = reason
        transport = self._transport
        self._transport = None
        if transport is not None:
            if quiet:
                transport.abort()
            else:
                transport.close()
        self._binary.reset()
        self.counters.lost_acks += self._acks.fail_all(Disconnected(reason))
        waiter = self._waiter
        if waiter is not None and not waiter.ready():
            waiter.set_exception(error if error is not None else Disconnected(reason))
        if was_connected and self._on_disconnect is not None:
            try:
                self._on_disconnect(reason)
            except Exception:
                self.counters.handler_errors += 1
                _log.exception("disconnect handler failed")
