"""Socket.IO packets that carry already-serialized JSON, so each stored event is serialized once.

`RawJSON` wraps a JSON text; `RawAwarePacket` (given to python-socketio as `serializer=`) writes it verbatim
into the EVENT packet instead of running `json.dumps` on the payload again. Everything else is python-socketio's.
"""

from __future__ import annotations

import json

from socketio import packet


class RawJSON:
    """A JSON document that is already text."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return f"RawJSON({len(self.text)} chars)"


class RawAwarePacket(packet.Packet):  # type: ignore[misc,unused-ignore]
    """python-socketio's Packet, with a fast path for `[event_name, RawJSON]` EVENT data."""

    @classmethod
    def data_is_binary(cls, data: object) -> bool:
        if isinstance(data, list) and len(data) == 2 and isinstance(data[1], RawJSON):
            return False
        return bool(super().data_is_binary(data))

    def encode(self) -> str | list[str | bytes]:
        """The packet's text; a binary packet (python-socketio's path) is its text then its attachments."""
        data = self.data
        if (
            self.packet_type == packet.EVENT
            and isinstance(data, list)
            and len(data) == 2
            and isinstance(data[1], RawJSON)
        ):
            head = str(packet.EVENT)
            if self.namespace is not None and self.namespace != "/":
                head += self.namespace + ","
            if self.id is not None:
                head += str(self.id)
            return f"{head}[{json.dumps(data[0])},{data[1].text}]"
        encoded: str | list[str | bytes] = super().encode()
        return encoded
