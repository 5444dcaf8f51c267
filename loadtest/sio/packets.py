"""Engine.IO v4 and Socket.IO v5 packet codec: pure functions over frozen values, no I/O.

Wire format
-----------
Engine.IO v4 over WebSocket carries one Engine.IO packet per WebSocket frame::

    text frame    <type digit><data>
                  0 OPEN     0{"sid":"…","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}
                  1 CLOSE    1
                  2 PING     2        (server → client; "2probe" only during a polling→websocket upgrade)
                  3 PONG     3        (client → server, answering a PING with the same data)
                  4 MESSAGE  4<Socket.IO packet>
                  5 UPGRADE  5
                  6 NOOP     6
    binary frame  the raw bytes of one binary MESSAGE (no type digit in v4 over WebSocket)

Engine.IO v4 over HTTP long-polling joins packets into one payload with "\\x1e" (record separator);
a binary packet there is "b" + base64.

A Socket.IO v5 packet is the data of an Engine.IO MESSAGE::

    <type>[<attachments>-][<namespace>,][<ack id>][<JSON data>]

    type         0 CONNECT, 1 DISCONNECT, 2 EVENT, 3 ACK, 4 CONNECT_ERROR, 5 BINARY_EVENT, 6 BINARY_ACK
    attachments  decimal count, only for 5 and 6; that many binary frames follow the text frame, and each
                 bytes value of the data is replaced by {"_placeholder":true,"num":<index>}
    namespace    only when it is not "/"; starts with "/" and ends at ","
    ack id       decimal digits; an EVENT with an id asks for an ACK with the same id
    data         CONNECT: optional auth object (client → server) or {"sid": "…"} (server → client)
                 EVENT: ["name", arg, …]    ACK: [arg, …]    DISCONNECT: none
                 CONNECT_ERROR: {"message": "…"[, "data": …]} (v5; a bare string from v4 servers)

    40   40/admin,{"token":"t"}   40{"sid":"x"}   42["oh_event",{"id":1}]   4212["call",1]   4312[]
    44{"message":"nope","data":{"code":1}}   451-["up",{"_placeholder":true,"num":0}] + <binary frame>

Hostile input is capped: frame size, digits of JSON integers (stdlib backend; orjson reads integers beyond
64 bits as floats, in linear time, and refuses beyond double range), attachment count, ack-id length,
namespace length and packets per polling payload. Every fault is a `ProtocolError(kind, prefix)`; nothing
else escapes a decode function.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any

from loadtest.sio.errors import ProtocolError
from loadtest.ws import json as _json

__all__ = [
    "ACK",
    "BINARY_ACK",
    "BINARY_EVENT",
    "CLOSE",
    "CONNECT",
    "CONNECT_ERROR",
    "DISCONNECT",
    "EVENT",
    "JSON_BACKEND",
    "MAX_ACK_ID_DIGITS",
    "MAX_ATTACHMENTS",
    "MAX_FRAME_BYTES",
    "MAX_INT_DIGITS",
    "MAX_NAMESPACE_CHARS",
    "MAX_PAYLOAD_PACKETS",
    "MESSAGE",
    "NOOP",
    "OPEN",
    "PING",
    "PONG",
    "UPGRADE",
    "EioPacket",
    "OpenInfo",
    "SioPacket",
    "attach_binary",
    "connect_error_fields",
    "decode_eio",
    "decode_open",
    "decode_payload",
    "decode_root_event",
    "decode_sio",
    "decode_text_frame",
    "encode_eio",
    "encode_message_utf8",
]

# Engine.IO packet types
(OPEN, CLOSE, PING, PONG, MESSAGE, UPGRADE, NOOP) = (0, 1, 2, 3, 4, 5, 6)
# Socket.IO packet types
(CONNECT, DISCONNECT, EVENT, ACK, CONNECT_ERROR, BINARY_EVENT, BINARY_ACK) = (0, 1, 2, 3, 4, 5, 6)

MAX_FRAME_BYTES = 16 * 1024 * 1024
MAX_INT_DIGITS = _json.MAX_INT_DIGITS
MAX_ATTACHMENTS = 64
MAX_ACK_ID_DIGITS = 15
MAX_NAMESPACE_CHARS = 256
MAX_PAYLOAD_PACKETS = 16

_RS = "\x1e"
_PLACEHOLDER = "_placeholder"
_loads = _json.loads
_dumps = _json.dumps
_std_loads = _json.std_loads
_std_dumps = _json.std_dumps
JSON_BACKEND = _json.BACKEND


@dataclass(frozen=True, slots=True)
class EioPacket:
    """One Engine.IO packet.

    Args:
        type: OPEN, CLOSE, PING, PONG, MESSAGE, UPGRADE or NOOP.
        data: text after the type digit, or bytes for a binary MESSAGE.
    """

    type: int
    data: str | bytes = ""


@dataclass(frozen=True, slots=True)
class SioPacket:
    """One Socket.IO packet.

    Args:
        type: CONNECT, DISCONNECT, EVENT, ACK, CONNECT_ERROR, BINARY_EVENT or BINARY_ACK.
        namespace: the namespace, "/" by default.
        data: the decoded JSON data (None when absent); binary packets hold placeholders until
            `attach_binary` puts the attachments back.
        id: the ack id, or None.
        attachments: the number of binary frames that follow (binary packets only).
    """

    type: int
    namespace: str = "/"
    data: Any = None
    id: int | None = None
    attachments: int = 0


@dataclass(frozen=True, slots=True)
class OpenInfo:
    """The Engine.IO OPEN handshake (times in seconds).

    Args:
        sid: the Engine.IO session id.
        upgrades: transports the server offers to upgrade to.
        ping_interval: seconds between server pings.
        ping_timeout: seconds the server waits for a pong.
        max_payload: the largest payload the server accepts, in bytes.
    """

    sid: str
    upgrades: tuple[str, ...]
    ping_interval: float
    ping_timeout: float
    max_payload: int


# --------------------------------------------------------------------------------------------- Engine.IO


def decode_eio(frame: str | bytes) -> EioPacket:
    """Decode one WebSocket frame into an Engine.IO packet.

    Args:
        frame: a text frame as str, or a binary frame as bytes (a binary MESSAGE).
    """
    if isinstance(frame, bytes | bytearray | memoryview):
        if len(frame) > MAX_FRAME_BYTES:
            raise ProtocolError("frame_too_large", bytes(frame[:40]))
        return EioPacket(MESSAGE, bytes(frame))
    if not frame:
        raise ProtocolError("empty", frame)
    if len(frame) > MAX_FRAME_BYTES:
        raise ProtocolError("frame_too_large", frame)
    kind = ord(frame[0]) - 48
    if not 0 <= kind <= 6:
        raise ProtocolError("bad_eio_type", frame)
    return EioPacket(kind, frame[1:])


def encode_eio(packet: EioPacket) -> str | bytes:
    """Encode an Engine.IO packet as the payload of one WebSocket frame (str: text, bytes: binary).

    Args:
        packet: the packet; only a MESSAGE may carry bytes.
    """
    if isinstance(packet.data, bytes | bytearray):
        if packet.type != MESSAGE:
            raise ValueError("only a MESSAGE can be binary")
        return bytes(packet.data)
    return f"{packet.type}{packet.data}"


def decode_open(data: str | bytes) -> OpenInfo:
    """Parse the JSON of an Engine.IO OPEN packet.

    Args:
        data: the text after the "0" type digit.
    """
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
    try:
        obj = _loads(raw)
    except (ValueError, RecursionError) as exc:
        raise ProtocolError("bad_open", raw) from exc
    if not isinstance(obj, dict):
        raise ProtocolError("bad_open", raw)
    sid = obj.get("sid")
    interval = obj.get("pingInterval")
    timeout = obj.get("pingTimeout")
    upgrades = obj.get("upgrades", [])
    max_payload = obj.get("maxPayload", 1_000_000)
    if not isinstance(sid, str) or not sid:
        raise ProtocolError("bad_open", raw)
    for value in (interval, timeout, max_payload):
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**31:
            raise ProtocolError("bad_open", raw)
    if not timeout:
        raise ProtocolError("bad_open", raw)
    if not isinstance(upgrades, list) or not all(isinstance(u, str) for u in upgrades):
        raise ProtocolError("bad_open", raw)
    assert isinstance(interval, int) and isinstance(timeout, int) and isinstance(max_payload, int)
    return OpenInfo(sid, tuple(upgrades), interval / 1000.0, timeout / 1000.0, max_payload)


def decode_payload(payload: str, max_packets: int = MAX_PAYLOAD_PACKETS) -> list[EioPacket]:
    """Split an HTTP long-polling payload into Engine.IO packets.

    Args:
        payload: the response body.
        max_packets: refuse payloads with more packets than this.
    """
    if len(payload) > MAX_FRAME_BYTES:
        raise ProtocolError("frame_too_large", payload)
    if payload.count(_RS) >= max_packets:
        raise ProtocolError("too_many_packets", payload)
    out = []
    for part in payload.split(_RS):
        if part.startswith("b"):
            try:
                out.append(EioPacket(MESSAGE, base64.b64decode(part[1:], validate=True)))
            except (binascii.Error, ValueError) as exc:
                raise ProtocolError("bad_base64", part) from exc
        else:
            out.append(decode_eio(part))
    return out


# --------------------------------------------------------------------------------------------- Socket.IO


def decode_sio(data: str | bytes) -> SioPacket:
    """Decode a Socket.IO packet (the data of an Engine.IO MESSAGE).

    Args:
        data: the packet text, as str or as its UTF-8 bytes.
    """
    if isinstance(data, str):
        try:
            raw = data.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise ProtocolError("bad_utf8", data) from exc
    else:
        raw = bytes(data)
    return _decode_sio_at(raw, 0)


_ROOT_EVENT = b"42["


def decode_root_event(payload: bytes) -> list[Any] | None:
    """The data of a plain EVENT on namespace "/" without an ack id (``42[...]``, the bulk of what a server
    sends), or None for any other frame, which `decode_text_frame` then decodes. Same checks, no packet object.

    Args:
        payload: a text frame's payload bytes.
    """
    if payload[:3] != _ROOT_EVENT:
        return None
    if len(payload) > MAX_FRAME_BYTES:
        raise ProtocolError("frame_too_large", payload)
    try:
        data = _loads(memoryview(payload)[2:])
    except (ValueError, RecursionError, TypeError) as exc:
        raise ProtocolError("bad_json", payload[1:]) from exc
    if type(data) is not list or not data or type(data[0]) is not str:
        raise ProtocolError("bad_payload", payload[1:])
    return data


def decode_text_frame(payload: bytes) -> EioPacket | SioPacket:
    """Decode a WebSocket text frame still in UTF-8 bytes, in one step (the client's hot path).

    An Engine.IO MESSAGE yields the Socket.IO packet inside it; every other Engine.IO type yields its EioPacket.

    Args:
        payload: the frame's payload bytes.
    """
    if not payload:
        raise ProtocolError("empty", payload)
    if len(payload) > MAX_FRAME_BYTES:
        raise ProtocolError("frame_too_large", payload)
    kind = payload[0] - 48
    if kind == MESSAGE:
        return _decode_sio_at(payload, 1)
    if not 0 <= kind <= 6:
        raise ProtocolError("bad_eio_type", payload)
    try:
        text = payload[1:].decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ProtocolError("bad_utf8", payload) from exc
    return EioPacket(kind, text)


def _decode_sio_at(raw: bytes, start: int) -> SioPacket:
    end = len(raw)
    if start >= end:
        raise ProtocolError("empty", raw)
    if end - start > MAX_FRAME_BYTES:
        raise ProtocolError("frame_too_large", raw[start:])
    kind = raw[start] - 48
    if not 0 <= kind <= 6:
        raise ProtocolError("bad_sio_type", raw[start:])
    i = start + 1
    attachments = 0
    if kind in (BINARY_EVENT, BINARY_ACK):
        dash = raw.find(b"-", i, i + 4)
        digits = raw[i:dash]
        if dash < 0 or not digits.isdigit():
            raise ProtocolError("bad_attachments", raw[start:])
        attachments = int(digits)
        if attachments > MAX_ATTACHMENTS:
            raise ProtocolError("too_many_attachments", raw[start:])
        i = dash + 1
    namespace = "/"
    if i < end and raw[i] == 0x2F:  # "/"
        comma = raw.find(b",", i, i + MAX_NAMESPACE_CHARS + 1)
        if comma < 0:
            if end - i > MAX_NAMESPACE_CHARS:
                raise ProtocolError("namespace_too_long", raw[start:])
            comma = end
        try:
            namespace = raw[i:comma].decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ProtocolError("bad_utf8", raw[start:]) from exc
        i = comma + 1
    ack_id = None
    j = i
    while j < end and 48 <= raw[j] <= 57:
        j += 1
        if j - i > MAX_ACK_ID_DIGITS:
            raise ProtocolError("ack_id_too_long", raw[start:])
    if j > i:
        ack_id = int(raw[i:j])
        i = j
    data = None
    if i < end:
        try:
            data = _loads(memoryview(raw)[i:])
        except (ValueError, RecursionError, TypeError) as exc:
            raise ProtocolError("bad_json", raw[start:]) from exc
    _check_payload(kind, data, ack_id, raw, start)
    return SioPacket(kind, namespace, data, ack_id, attachments)


def _check_payload(kind: int, data: Any, ack_id: int | None, raw: bytes, start: int) -> None:
    if kind in (EVENT, BINARY_EVENT):
        ok = type(data) is list and len(data) > 0 and type(data[0]) is str
    elif kind in (ACK, BINARY_ACK):
        ok = type(data) is list and ack_id is not None
    elif kind == CONNECT:
        ok = data is None or type(data) is dict
    elif kind == DISCONNECT:
        ok = data is None
    else:  # CONNECT_ERROR
        ok = type(data) is dict or type(data) is str
    if not ok:
        raise ProtocolError("bad_payload", raw[start:])


def attach_binary(packet: SioPacket, buffers: list[bytes]) -> SioPacket:
    """Put binary attachments back in place of their placeholders.

    Args:
        packet: a BINARY_EVENT or BINARY_ACK decoded by `decode_sio`.
        buffers: the binary frames that followed it, in order (exactly `packet.attachments` of them).
    """
    if len(buffers) != packet.attachments:
        raise ProtocolError("attachment_count", f"{len(buffers)} != {packet.attachments}")
    try:
        data = _reconstruct(packet.data, buffers)
    except RecursionError as exc:
        raise ProtocolError("bad_placeholder", "too deep") from exc
    return SioPacket(packet.type, packet.namespace, data, packet.id, packet.attachments)


def _reconstruct(value: Any, buffers: list[bytes]) -> Any:
    if type(value) is list:
        return [_reconstruct(v, buffers) for v in value]
    if type(value) is dict:
        if value.get(_PLACEHOLDER) is True:
            num = value.get("num")
            if type(num) is not int or not 0 <= num < len(buffers):
                raise ProtocolError("bad_placeholder", str(num)[:40])
            return buffers[num]
        return {k: _reconstruct(v, buffers) for k, v in value.items()}
    return value


def _deconstruct(value: Any, buffers: list[bytes]) -> Any:
    if isinstance(value, bytes | bytearray | memoryview):
        buffers.append(bytes(value))
        return {_PLACEHOLDER: True, "num": len(buffers) - 1}
    if isinstance(value, list | tuple):
        return [_deconstruct(v, buffers) for v in value]
    if isinstance(value, dict):
        return {k: _deconstruct(v, buffers) for k, v in value.items()}
    return value


def _encode_utf8(packet: SioPacket) -> tuple[bytes, list[bytes]]:
    kind = packet.type
    data = packet.data
    buffers: list[bytes] = []
    body = b""
    if data is not None:
        try:
            body = _dumps(data)
        except TypeError:
            data = _deconstruct(data, buffers)
            if not buffers:
                raise
            body = _dumps(data)
    if buffers:
        if kind == EVENT:
            kind = BINARY_EVENT
        elif kind == ACK:
            kind = BINARY_ACK
        elif kind not in (BINARY_EVENT, BINARY_ACK):
            raise ValueError("only events and acks can carry binary data")
        head = f"{kind}{len(buffers)}-"
    elif kind in (BINARY_EVENT, BINARY_ACK):
        kind -= 3  # a binary type without binary data is sent as its plain type
        head = str(kind)
    else:
        head = str(kind)
    if packet.namespace != "/":
        head += packet.namespace + ","
    if packet.id is not None:
        head += str(packet.id)
    return head.encode("utf-8") + body, buffers


def encode_message_utf8(packet: SioPacket) -> tuple[bytes, list[bytes]]:
    """Encode a Socket.IO packet as WebSocket frame payloads (Engine.IO MESSAGE included), ready to send.

    Returns the text frame as UTF-8 bytes and the binary frames that follow it.

    Args:
        packet: the packet to encode.
    """
    text, buffers = _encode_utf8(packet)
    return b"4" + text, buffers


def connect_error_fields(data: Any) -> tuple[str, Any]:
    """The (message, data) of a CONNECT_ERROR payload (v5 object or v4 bare string).

    Args:
        data: the decoded CONNECT_ERROR data.
    """
    if isinstance(data, dict):
        message = data.get("message")
        return (message if isinstance(message, str) else str(message)), data.get("data")
    return str(data), None
