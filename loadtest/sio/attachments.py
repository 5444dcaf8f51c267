"""A binary Socket.IO packet waiting for its attachments (the binary frames that follow it). Pure, no I/O."""

from __future__ import annotations

from loadtest.sio import packets as P
from loadtest.sio.errors import ProtocolError

__all__ = ["Attachments"]


class Attachments:
    """Collects the attachments of one BINARY_EVENT / BINARY_ACK at a time; `size` counts the packet's bytes."""

    __slots__ = ("_packet", "_parts", "size")

    def __init__(self) -> None:
        self._packet: P.SioPacket | None = None
        self._parts: list[bytes] = []
        self.size = 0

    def begin(self, packet: P.SioPacket, size: int) -> P.SioPacket | None:
        """Start waiting for `packet`'s attachments; the whole packet at once if it has none.

        Raises:
            ProtocolError: ("attachment_count") another binary packet is still waiting.
        """
        if self._packet is not None:
            raise ProtocolError("attachment_count", "new binary packet before attachments")
        self._packet, self._parts, self.size = packet, [], size
        return self._complete() if packet.attachments == 0 else None

    def add(self, payload: bytes) -> P.SioPacket | None:
        """One binary frame; the whole packet once the last attachment is in, else None.

        Raises:
            ProtocolError: ("unexpected_binary") no binary packet waits; or what `attach_binary` raises.
        """
        packet = self._packet
        if packet is None:
            raise ProtocolError("unexpected_binary", payload)
        self._parts.append(payload)
        self.size += len(payload)
        return self._complete() if len(self._parts) >= packet.attachments else None

    def reset(self) -> None:
        """Forget what waits (the connection closed)."""
        self._packet, self._parts = None, []

    def _complete(self) -> P.SioPacket:
        packet, parts = self._packet, self._parts
        assert packet is not None
        self.reset()
        return P.attach_binary(packet, parts)
