"""Client-side WebSocket framing (RFC 6455 §5): masked frames out, the server's frame stream in. Pure, no I/O.

`FrameParser` turns bytes read from the socket into messages: one call per read, however many frames (or
parts of one) the read holds; fragments are joined, control frames may sit between them, permessage-deflate
messages are inflated. It never touches a socket: the connection feeds it and answers its control frames, so
its properties are tested on plain bytes.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from loadtest.ws.deflate import Inflater
from loadtest.ws.errors import ProtocolError

__all__ = [
    "OP_BINARY",
    "OP_CLOSE",
    "OP_CONT",
    "OP_PING",
    "OP_PONG",
    "OP_TEXT",
    "FrameParser",
    "MaskKeys",
    "close_payload",
    "mask_frame",
    "mask_key",
    "parse_close",
]

OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
NO_STATUS = 1005  # RFC 6455 §7.1.5: the close frame carried no code

MessageHandler = Callable[[bool, bytes, float], None]
"""Called for each complete data message: (is_text, payload, received_at)."""
ControlHandler = Callable[[int, bytes], None]
"""Called for each PING or CLOSE frame: (opcode, payload). PONGs are dropped."""


class MaskKeys:
    """Masking keys from the OS's random source, 4 KiB at a time: one `getrandom` call per 1,024 frames, not one each.

    RFC 6455 wants each frame's key fresh and unpredictable; slices of `os.urandom` output are both.
    """

    __slots__ = ("_pool", "_pos")

    def __init__(self) -> None:
        self._pool = b""
        self._pos = 0

    def forget(self) -> None:
        """Drop what is left of the pool (a forked child must not reuse its parent's keys)."""
        self._pool, self._pos = b"", 0

    def __call__(self) -> bytes:
        pos = self._pos
        if pos >= len(self._pool):
            self._pool, pos = os.urandom(4096), 0
        self._pos = pos + 4
        return self._pool[pos : pos + 4]


mask_key = MaskKeys()
os.register_at_fork(after_in_child=mask_key.forget)  # Locust's --processes forks its workers


def mask_frame(opcode: int, payload: bytes) -> bytes:
    """One client frame (FIN set, masked with a fresh key) of `payload` with `opcode`."""
    n = len(payload)
    if n < 126:
        head = bytes((0x80 | opcode, 0x80 | n))
    elif n < 65536:
        head = bytes((0x80 | opcode, 0x80 | 126)) + n.to_bytes(2, "big")
    else:
        head = bytes((0x80 | opcode, 0x80 | 127)) + n.to_bytes(8, "big")
    key = mask_key()
    if not n:
        return head + key
    mask = key * (n >> 2) + key[: n & 3]
    masked = (int.from_bytes(payload, "little") ^ int.from_bytes(mask, "little")).to_bytes(n, "little")
    return head + key + masked


def close_payload(code: int, reason: str = "") -> bytes:
    """A close frame's payload: the code, then the reason in UTF-8 cut to fit 125 bytes.

    Raises:
        ValueError: a code outside 1000..4999 or one a client must not send (1004-1006, 1015).
    """
    if not 1000 <= code <= 4999 or code in (1004, 1005, 1006, 1015):
        raise ValueError(f"close code {code} cannot be sent; use 1000 (normal) or 3000-4999 (application)")
    data = reason.encode("utf-8")[:123]
    return code.to_bytes(2, "big") + data.decode("utf-8", "ignore").encode("utf-8")


def parse_close(payload: bytes) -> tuple[int, str]:
    """(code, reason) of a received close frame; (1005, "") when it carried none.

    Raises:
        ProtocolError: ("bad_ws_close") a one-byte payload.
    """
    if not payload:
        return NO_STATUS, ""
    if len(payload) < 2:
        raise ProtocolError("bad_ws_close", payload)
    return int.from_bytes(payload[:2], "big"), payload[2:].decode("utf-8", "replace")


class FrameParser:
    """The reader's frame decoder for one connection: fragments, control frames, limits, inflation.

    Args:
        on_message: called for each complete data message, in order.
        on_control: called for each PING and CLOSE; after a CLOSE the parser stops.
        max_bytes: the largest message accepted (after inflation).
        inflater: set when permessage-deflate was negotiated.
    """

    __slots__ = ("_frag", "_frag_text", "_frag_z", "_inflater", "_max", "on_control", "on_message", "stopped")

    def __init__(
        self, on_message: MessageHandler, on_control: ControlHandler, max_bytes: int, inflater: Inflater | None
    ) -> None:
        self.on_message = on_message
        self.on_control = on_control
        self._max = max_bytes
        self._inflater = inflater
        self._frag: list[bytes] | None = None
        self._frag_text = False
        self._frag_z = False
        self.stopped = False
        """Set by the owner when the connection ends; the parser delivers nothing more from the current read."""

    def feed(self, data: bytes, now: float) -> tuple[int, int]:
        """Deliver every complete frame in `data`; return (end of the last complete frame, bytes needed next).

        The caller keeps ``data[end:]`` and calls again once it has at least the bytes needed in all.

        Raises:
            ProtocolError: a masked or reserved-bit frame, an unknown opcode, a bad fragment sequence, a message
                over `max_bytes`, bad deflate data.
        """
        pos = 0
        n = len(data)
        on_message = self.on_message
        while True:
            left = n - pos
            if left < 2:
                return pos, 2
            b0 = data[pos]
            b1 = data[pos + 1]
            size = b1 & 0x7F
            head = 2
            if (b1 & 0x80 or b0 & 0x70) and (  # masked, or RSV bits other than a deflated first frame
                b1 & 0x80 or b0 & 0x30 or self._inflater is None or b0 & 0x0F not in (OP_TEXT, OP_BINARY)
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
            if opcode in (OP_TEXT, OP_BINARY):
                if self._frag is not None:
                    raise ProtocolError("bad_ws_fragment", payload)
                if b0 & 0x80:
                    if b0 & 0x40:
                        assert self._inflater is not None
                        payload = self._inflater.inflate(payload)
                    on_message(opcode == OP_TEXT, payload, now)
                else:
                    self._frag = [payload]
                    self._frag_text = opcode == OP_TEXT
                    self._frag_z = bool(b0 & 0x40)
            elif opcode == OP_CONT:
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
                    on_message(self._frag_text, whole, now)
            elif opcode == OP_PING:
                self.on_control(OP_PING, payload)
            elif opcode == OP_CLOSE:
                self.stopped = True
                self.on_control(OP_CLOSE, payload)
                return pos, 2
            elif opcode != OP_PONG:
                raise ProtocolError("bad_ws_opcode", data[pos - size - head : pos])
            if self.stopped:
                return pos, 2
