"""One attached V1 socket: an outgoing queue drained by one writer task, so fan-out never waits on a client."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from dataclasses import dataclass

from starlette.websockets import WebSocket

EVENTS, SESSION = "events", "session"
_serial = itertools.count(1)


@dataclass(frozen=True, slots=True)
class Close:
    code: int
    reason: str


class Peer:
    """A socket of kind `events` (event JSON frames) or `session` (envelopes), attached to one conversation."""

    def __init__(self, kind: str, conversation_id: str, address: tuple[str, int] | None) -> None:
        self.kind = kind
        self.conversation_id = conversation_id
        self.address = address
        self.serial = next(_serial)
        self.replaying = False  # True while a replay is being assembled (live frames then interleave)
        self.closed = False
        self._queue: asyncio.Queue[str | Close] = asyncio.Queue()

    def send(self, text: str) -> None:
        if not self.closed:
            self._queue.put_nowait(text)

    def close(self, code: int, reason: str) -> None:
        """Close after the frames already queued (idempotent)."""
        if not self.closed:
            self.closed = True
            self._queue.put_nowait(Close(code, reason))

    async def pump(self, ws: WebSocket) -> None:
        """Write queued frames until a `Close` (sent as a close frame) or a send error."""
        while True:
            item = await self._queue.get()
            if isinstance(item, Close):
                with contextlib.suppress(Exception):
                    await ws.close(item.code, item.reason)
                return
            try:
                await ws.send_text(item)
            except Exception:  # the client went away; the reader sees the disconnect
                self.closed = True
                return
