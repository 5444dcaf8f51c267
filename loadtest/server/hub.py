"""The server's core: conversations, their agent loops and rooms, live fan-out, eviction and connection drops.

Socket.IO handlers (sockets.py) and REST routes (rest.py) both call in here; this is the only place that
stores events and emits them live.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Coroutine, Mapping

import socketio
from engineio import packet as eio_packet
from socketio import packet as sio_packet

from loadtest.server import events as ev
from loadtest.server.agent import AgentLoop
from loadtest.server.config import ServerConfig
from loadtest.server.faults import pick_drops
from loadtest.server.metrics import Metrics
from loadtest.server.netio import TransportRegistry
from loadtest.server.store import Conversation, ConversationStore, StoredEvent
from loadtest.server.wire import RawJSON

log = logging.getLogger("loadtest.server")


class Hub:
    def __init__(self, cfg: ServerConfig, metrics: Metrics, sio: socketio.AsyncServer, transports: TransportRegistry):
        self.cfg = cfg
        self.metrics = metrics
        self.sio = sio
        self.transports = transports
        self.store = ConversationStore(cfg.seed)
        self.loops: dict[str, AgentLoop] = {}
        self.sid_conversation: dict[str, str] = {}
        self.sid_peer: dict[str, tuple[str, int] | None] = {}
        self.started = time.monotonic()
        self.last_activity = time.monotonic()
        self._fault_rng = random.Random(f"faults:{cfg.seed}")
        self._background: set[asyncio.Task[object]] = set()

    # --- storing and emitting ---------------------------------------------------------------------------

    async def store_and_emit(self, conv: Conversation, draft: ev.Draft, cause_id: int | None = None) -> StoredEvent:
        stored = conv.log.append(draft, cause_id)
        self.metrics.events_stored_total += 1
        conv.last_updated = time.monotonic()
        if stored.is_state:
            conv.agent_state = ev.agent_state_of(stored.payload)
        if stored.live_json is not None and conv.sids:
            await self._fan_out(conv, RawJSON(stored.live_json))
        return stored

    async def emit_payload(self, conv: Conversation, payload: ev.JsonObject) -> None:
        """An id-less payload (status update, session error) to the room; never stored."""
        if conv.sids:
            await self._fan_out(conv, payload)

    async def _fan_out(self, conv: Conversation, data: RawJSON | ev.JsonObject) -> None:
        """`sio.emit("oh_event", data, room=conv.room)`, leaner: the packet is encoded once (by python-socketio's
        packet class) and queued on each member's Engine.IO socket directly, without a task per recipient."""
        encoded = self.sio.packet_class(sio_packet.EVENT, namespace="/", data=["oh_event", data]).encode()
        message = eio_packet.Packet(eio_packet.MESSAGE, encoded)
        eio_sid_of = self.sio.manager.eio_sid_from_sid
        for sid in tuple(conv.sids):
            eio_sid = eio_sid_of(sid, "/")
            if eio_sid is not None:
                await self.sio.eio.send_packet(eio_sid, message)
        self.metrics.events_emitted_total += 1
        self.metrics.event_deliveries_total += len(conv.sids)

    # --- conversations ----------------------------------------------------------------------------------

    def create_conversation(self, conversation_id: str | None = None) -> Conversation:
        conv = self.store.create(conversation_id)
        self.metrics.conversations_created_total += 1
        return conv

    def loop_rng(self, conv: Conversation) -> random.Random:
        return random.Random(f"agent:{self.cfg.seed}:{conv.conversation_id}")

    async def ensure_running(self, conv: Conversation, initial_message: str | None = None, defer: bool = False) -> None:
        """Start the conversation's agent loop if it is not running (OpenHands' `maybe_start_agent_loop`)."""
        if conv.running:
            return
        conv.running = True  # claimed before any await, so concurrent joins start one loop
        conv.status = "STARTING"
        restart = len(conv.log) > 0
        await self._make_room_for(conv)
        loop = AgentLoop(self, conv, self.loop_rng(conv))
        self.loops[conv.conversation_id] = loop
        loop.start(restart, initial_message, defer)

    async def _make_room_for(self, conv: Conversation) -> None:
        limit = self.cfg.max_conversations
        if limit <= 0:
            return
        running = sorted(
            (c for c in self.store.running() if c is not conv), key=lambda c: (c.last_updated, c.conversation_id)
        )
        while len(running) >= limit:
            victim = running.pop(0)
            self.metrics.throttles["too_many_conversations"] += 1
            log.info("evicting conversation %s (too many conversations)", victim.conversation_id)
            await self.emit_payload(
                victim, ev.status_update("AGENT_ERROR$TOO_MANY_CONVERSATIONS", ev.TOO_MANY_CONVERSATIONS, "error")
            )
            for sid in list(victim.sids):
                await self.sio.disconnect(sid)
            await self.stop_loop(victim)

    async def stop_loop(self, conv: Conversation, announce: bool = False) -> None:
        """Close the agent loop: store the `stopped` state; with `announce`, also the id-less copy to the room."""
        loop = self.loops.pop(conv.conversation_id, None)
        if loop is not None:
            await loop.stop()
        if conv.running:
            conv.running = False
            conv.status = "STOPPED"
            conv.runtime_status = "STATUS$STOPPED"
            await self.store_and_emit(conv, ev.agent_state("stopped"))
            if announce:
                await self.emit_payload(conv, ev.stopped_broadcast())

    async def delete_conversation(self, conversation_id: str) -> bool:
        conv = self.store.get(conversation_id)
        if conv is None:
            return False
        await self.stop_loop(conv, announce=True)
        for sid in list(conv.sids):
            await self.sio.disconnect(sid)
        self.store.delete(conversation_id)
        return True

    async def echo_and_submit(self, conv: Conversation, draft: ev.Draft, content: str) -> None:
        """Store the user's message, echo it to the room, and queue the turn on the agent loop."""
        stored = await self.store_and_emit(conv, draft)
        loop = self.loops.get(conv.conversation_id)
        if loop is not None:
            loop.submit(content, stored.id, asyncio.get_running_loop().time())

    async def user_message(self, conv: Conversation, args: Mapping[str, object]) -> None:
        if self.cfg.echo_delay_ms > 0:
            await asyncio.sleep(self.cfg.echo_delay_ms / 1000.0)
        content = str(args.get("content", ""))
        draft = ev.user_message(content, args.get("image_urls"), args.get("file_urls"))
        await self.echo_and_submit(conv, draft, content)

    async def user_action(self, conv: Conversation, action: str, args: Mapping[str, object]) -> None:
        """Any non-message action: stored (and echoed); `run` gets its output, state changes are applied."""
        stored = await self.store_and_emit(conv, ev.user_action(action, args))
        if action == "run":
            command = str(args.get("command", ""))
            extras = {"command": command, "metadata": {"exit_code": 0, "working_dir": "/workspace"}, "hidden": False}
            body = {"observation": "run", "content": "", "extras": extras, "success": True}
            draft = ev.Draft(ev.USER, f"Command `{command}` executed with exit code 0.", body)
            await self.store_and_emit(conv, draft, stored.id)
        elif action == "change_agent_state":
            state = str(args.get("agent_state", ""))
            if state in ("stopped", "paused"):
                loop = self.loops.get(conv.conversation_id)
                if loop is not None:
                    await loop.abandon_turn()
            if state in ev.AGENT_STATES and state != conv.agent_state:
                await self.store_and_emit(conv, ev.agent_state(state))

    # --- connections ------------------------------------------------------------------------------------

    def join(self, sid: str, conv: Conversation, peer: tuple[str, int] | None) -> None:
        self.sid_conversation[sid] = conv.conversation_id
        self.sid_peer[sid] = peer
        conv.sids.add(sid)

    def leave(self, sid: str) -> None:
        cid = self.sid_conversation.pop(sid, None)
        self.sid_peer.pop(sid, None)
        conv = self.store.get(cid) if cid else None
        if conv is not None:
            conv.sids.discard(sid)

    def conversation_of(self, sid: str) -> Conversation | None:
        cid = self.sid_conversation.get(sid)
        return self.store.get(cid) if cid else None

    async def drop_some(self) -> int:
        """One tick of `--drop-every`: drop `--drop-share` of the connected sockets, cleanly or abruptly."""
        victims = pick_drops(sorted(self.sid_conversation), self.cfg.drop_share, self._fault_rng)
        for sid in victims:
            peer = self.sid_peer.get(sid)
            if self.cfg.drop_mode == "abrupt" and self.transports.abort(peer):
                self.metrics.faults["drop_abrupt"] += 1
            else:
                self.metrics.faults["drop_clean"] += 1
                await self.sio.disconnect(sid)
        return len(victims)

    async def drop_forever(self) -> None:
        while True:
            await asyncio.sleep(self.cfg.drop_every)
            try:
                await self.drop_some()
            except Exception:
                log.exception("connection drop tick failed")

    async def close_idle(self, now: float) -> int:
        """OpenHands' idle cleanup: close loops with no socket, not running, untouched for `--close-delay`."""
        idle = [
            c
            for c in self.store.running()
            if not c.sids and c.agent_state != "running" and now - c.last_updated > self.cfg.close_delay
        ]
        for conv in idle:
            await self.stop_loop(conv, announce=True)
        return len(idle)

    async def close_idle_forever(self) -> None:
        period = min(15.0, max(self.cfg.close_delay / 2, 0.05))
        while True:
            await asyncio.sleep(period)
            try:
                await self.close_idle(time.monotonic())
            except Exception:
                log.exception("idle cleanup failed")

    def spawn(self, coro: Coroutine[object, object, object]) -> None:
        task = asyncio.ensure_future(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def shutdown(self) -> None:
        for task in list(self._background):
            task.cancel()
        for loop in list(self.loops.values()):
            await loop.stop()
        self.loops.clear()
