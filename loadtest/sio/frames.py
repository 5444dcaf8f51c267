"""Client-side WebSocket framing (RFC 6455 §5): opcodes, masking keys and masked frames. Pure, no I/O."""

from __future__ import annotations

import os

__all__ = ["OP_BINARY", "OP_CLOSE", "OP_CONT", "OP_PING", "OP_PONG", "OP_TEXT", "MaskKeys", "mask_frame", "mask_key"]

OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA


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
