"""Socket.IO encoders only the tests need (the client sends with `packets.encode_message_utf8` alone)."""

from __future__ import annotations

import base64

from loadtest.sio import packets as P


def encode_sio(packet: P.SioPacket) -> list[str | bytes]:
    """A Socket.IO packet as its text part (no Engine.IO type digit) and one bytes item per attachment."""
    text, buffers = P.encode_message_utf8(packet)
    return [text[1:].decode("utf-8"), *buffers]


def encode_frames(packet: P.SioPacket) -> list[str | bytes]:
    """A Socket.IO packet as WebSocket frames: the Engine.IO MESSAGE text frame, then binary frames."""
    text, buffers = P.encode_message_utf8(packet)
    return [text.decode("utf-8"), *buffers]


def encode_payload(packets: list[P.EioPacket]) -> str:
    """Engine.IO packets joined into one HTTP long-polling payload (binary MESSAGEs as "b" + base64)."""
    parts = []
    for packet in packets:
        if isinstance(packet.data, bytes | bytearray):
            parts.append("b" + base64.b64encode(packet.data).decode("ascii"))
        else:
            parts.append(f"{packet.type}{packet.data}")
    return "\x1e".join(parts)
