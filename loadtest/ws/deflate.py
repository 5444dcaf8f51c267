"""permessage-deflate (RFC 7692) for reading: the offer, the server's answer, and the inflater. Pure, no I/O.

permessage-deflate is offered only when asked. When the server accepts it, compressed messages (RSV1 set on the
first frame) are inflated with one lazily created raw-deflate decompressor per connection (reused across
messages: correct with and without ``server_no_context_takeover``). Our own messages always go uncompressed,
which RFC 7692 §6 allows; they are small and compressing them would cost a compressor's memory on every
connection.
"""

from __future__ import annotations

import zlib
from typing import Any

from loadtest.ws.errors import ProtocolError, TransportError

__all__ = ["DEFLATE_OFFER", "Inflater", "accepted_extensions"]

DEFLATE_OFFER = "permessage-deflate; client_max_window_bits"
_TAIL = b"\x00\x00\xff\xff"


def accepted_extensions(value: str, offered: bool) -> tuple[bool, bool]:
    """(deflate negotiated, server_no_context_takeover) from the server's `Sec-WebSocket-Extensions`.

    Raises:
        TransportError: ("handshake") an extension we did not offer.
    """
    if not value.strip():
        return False, False
    names = [p.strip() for p in value.split(";")]
    if names[0].lower() != "permessage-deflate" or not offered or "," in value:
        raise TransportError("handshake", f"unexpected extension {value[:60]!r}")
    params = {p.split("=", 1)[0].strip().lower() for p in names[1:] if p}
    return True, "server_no_context_takeover" in params


class Inflater:
    """Inflates permessage-deflate messages, bounded by `max_bytes` per message."""

    __slots__ = ("_max", "_z")

    def __init__(self, max_bytes: int) -> None:
        self._max = max_bytes
        self._z: Any = None

    def inflate(self, payload: bytes) -> bytes:
        z = self._z
        if z is None:
            z = self._z = zlib.decompressobj(-zlib.MAX_WBITS)
        try:
            out: bytes = z.decompress(payload + _TAIL, self._max + 1)
        except zlib.error as exc:
            raise ProtocolError("bad_deflate", payload[:16]) from exc
        if len(out) > self._max or z.unconsumed_tail:
            raise ProtocolError("frame_too_large", payload[:16])
        return out
