"""The V1 core: conversations, the run cap, the scripted agent's runs on schedule, and fan-out to sockets.

REST routes (rest.py) and socket endpoints (sockets.py) call in here; this is the only place that stores V1
events and sends them live. Timing (see docs/contracts.md): a message's echo (MessageEvent and
`last_user_message_id`) goes out `--echo-delay-ms` after it arrives; then `execution_status=running`, each
ActionEvent, ObservationEvent and agent MessageEvent, and the final `execution_status` each follow the
previous one by `--event-delay-ms` (absolute schedule, `--delay-jitter`, `--stall-after`, `--delay-every`
as in V0); a `stats` update rides just before each LLM reply and the end-of-run `full_state` right after the
final status. A streamed reply's first delta takes the reply's slot, then one delta per 1/`--stream-rate` s,
and the event it builds follows 1/rate after the last delta.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable, Coroutine
from datetime import datetime

from loadtest.server.config import ServerConfig
from loadtest.server.faults import event_fault, jittered, pick_drops
from loadtest.server.metrics import Metrics
from loadtest.server.netio import TransportRegistry
from loadtest.server.store import dumps
from loadtest.server.v1 import envelope
from loadtest.server.v1 import events as ev
from loadtest.server.v1.inputs import CreateRequest
from loadtest.server.v1.peer import EVENTS, Peer
from loadtest.server.v1.plan import ERROR_CODE, Step, chunks, plan_steps
from loadtest.server.v1.store import Conversation, Pending, StoredEvent

log = logging.getLogger("loadtest.server.v1")
STARTED, JOINED, STORED, RUN_LIMIT = "started", "joined", "stored", "run_limit"


class V1Hub:
    def __init__(self, cfg: ServerConfig, metrics: Metrics, transports: TransportRegistry) -> None:
        self.cfg = cfg
        self.metrics = metrics
        self.transports = transports
        self.conversations: dict[str, Conversation] = {}
        self.peers: dict[str, set[Peer]] = {}
        self.running: set[str] = set()
        self.tasks: dict[str, asyncio.Task[None]] = {}
        self.connects = 0  # socket connects past auth (for --snapshot-drop-every)
        self._ids = random.Random(f"v1-ids:{cfg.seed}")
        self._rngs: dict[str, random.Random] = {}
        self._fault_rng = random.Random(f"v1-faults:{cfg.seed}")
        self._background: set[asyncio.Task[None]] = set()

    # --- ids and clock ---------------------------------------------------------------------------------

    def new_id(self) -> str:
        return ev.new_uuid(self._ids)

    @staticmethod
    def now() -> str:
        return ev.timestamp(datetime.now())

    # --- conversations ---------------------------------------------------------------------------------

    def run_cap_full(self) -> bool:
        return self.cfg.max_runs > 0 and len(self.running) >= self.cfg.max_runs

    def create(self, request: CreateRequest) -> Conversation:
        cid = request.conversation_id or self.new_id()
        conv = Conversation(cid, ev.created_timestamp(datetime.now()), request)
        self.conversations[cid] = conv
        self.peers[cid] = set()
        self._rngs[cid] = random.Random(f"v1-agent:{self.cfg.seed}:{cid}")
        self.metrics.conversations_created_total += 1
        return conv

    async def delete(self, conv: Conversation) -> None:
        task = self.tasks.pop(conv.id, None)
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self.running.discard(conv.id)
        for peer in self.peers.pop(conv.id, set()):
            peer.close(1000, "Conversation deleted")
        self.conversations.pop(conv.id, None)
        self._rngs.pop(conv.id, None)

    # --- fan-out ---------------------------------------------------------------------------------------

    def attach(self, peer: Peer) -> bool:
        """Subscribe a socket; False (and nothing attached) when the conversation's socket cap is full."""
        members = self.peers.setdefault(peer.conversation_id, set())
        if self.cfg.socket_cap > 0 and len(members) >= self.cfg.socket_cap:
            self.metrics.throttles["socket_cap"] += 1
            return False
        members.add(peer)
        self.metrics.connections_total += 1
        return True

    def detach(self, peer: Peer) -> None:
        members = self.peers.get(peer.conversation_id)
        if members is not None and peer in members:
            members.discard(peer)
            self.metrics.disconnects_total += 1

    def _deliver(self, conv: Conversation, events_text: str, session_text: Callable[[], str]) -> None:
        """One frame to every socket of the conversation; the session envelope is built only when needed."""
        members = self.peers.get(conv.id, ())
        envelope_text: str | None = None
        for peer in members:
            if peer.replaying:
                self.metrics.faults["replay_interleave"] += 1
            if peer.kind == EVENTS:
                peer.send(events_text)
            else:
                envelope_text = session_text() if envelope_text is None else envelope_text
                peer.send(envelope_text)
        self.metrics.events_emitted_total += 1
        self.metrics.event_deliveries_total += len(members)

    def store(self, conv: Conversation, event: ev.Event) -> StoredEvent:
        stored = conv.log.append(event)
        self.metrics.events_stored_total += 1
        conv.updated_at = ev.created_timestamp(datetime.now())
        if stored.kind != ev.STATE_KIND:
            conv.leaf_event_id = stored.id
        if self.peers.get(conv.id):
            self._deliver(conv, stored.json, lambda: stored.durable)
        return stored

    def transient(self, conv: Conversation, event: ev.Event) -> None:
        """A socket-only event to every socket (never stored)."""
        if self.peers.get(conv.id):
            text = dumps(event)
            self._deliver(conv, text, lambda: envelope.transient(text))

    def status(self, conv: Conversation, value: str) -> None:
        conv.execution_status = value
        self.store(conv, ev.state_update(self.new_id(), self.now(), "execution_status", value, conv.leaf_event_id))

    def snapshot(self, conv: Conversation) -> str:
        """A `full_state` event's JSON: a new id each time, never stored."""
        return dumps(ev.state_update(self.new_id(), self.now(), "full_state", conv.full_state(), None))

    def error_to(self, peer: Peer, code: str, detail: str) -> None:
        """A socket-only error for one socket: `ServerErrorEvent` (events) or an `error` envelope (session)."""
        if peer.kind == EVENTS:
            peer.send(dumps(ev.server_error_event(self.new_id(), self.now(), code, detail)))
        else:
            peer.send(envelope.error(code, detail))

    # --- messages and runs -----------------------------------------------------------------------------

    async def message(self, conv: Conversation, text: str, run: bool) -> str:
        """Store a user message (and echo it); with `run`, start or join a run. Returns what happened."""
        if self.cfg.echo_delay_ms > 0:
            await asyncio.sleep(self.cfg.echo_delay_ms / 1000.0)
        if conv.id not in self.conversations:
            return STORED
        self.metrics.actions_received_total += 1
        if conv.execution_status == "finished":
            self.status(conv, "idle")
        if not conv.system_prompt_sent:
            conv.system_prompt_sent = True
            self.store(conv, ev.system_prompt_event(self.new_id(), self.now()))
        msg = self.store(conv, ev.message_event(self.new_id(), self.now(), conv.leaf_event_id, text))
        conv.last_user_message_id = msg.id
        self.store(conv, ev.state_update(self.new_id(), self.now(), "last_user_message_id", msg.id, msg.id))
        if conv.turns == 0 and conv.request.autotitle and conv.title is None:
            conv.llm_calls += 1  # the title call of a first turn
            self.store(
                conv, ev.state_update(self.new_id(), self.now(), "stats", ev.stats_value(conv.llm_calls), msg.id)
            )
            conv.title = (text.strip().splitlines() or ["Untitled"])[0][:30] or "Untitled"
        conv.turns += 1
        conv.pending.append(Pending(text, msg.id))
        return self.run(conv) if run else STORED

    def run(self, conv: Conversation) -> str:
        """`POST …/run` and `run:true`: join the conversation's run, refuse at the run cap, or start one."""
        if conv.id in self.running:
            return JOINED
        if self.run_cap_full():
            self.metrics.throttles["run_limit"] += 1
            return RUN_LIMIT
        if not conv.pending:  # nothing stored to run: the agent answers the last message again
            conv.pending.append(Pending("", conv.last_user_message_id or ""))
        self.running.add(conv.id)
        self.tasks[conv.id] = asyncio.create_task(self._run(conv, asyncio.get_running_loop().time()))
        return STARTED

    async def _slot(self, conv: Conversation, due: float) -> float:
        """Wait for the next live event's slot; applies jitter and the stall/delay faults. Returns the slot."""
        cfg, loop = self.cfg, asyncio.get_running_loop()
        rng = self._rngs[conv.id]
        delay = jittered(cfg.event_delay_ms / 1000.0, cfg.delay_jitter, rng)
        due += delay
        conv.live_events += 1
        fault = event_fault(conv.live_events, cfg.delay_every, cfg.delay_ms, cfg.stall_after, conv.stalled)
        if fault.stall:
            conv.stalled = True
            self.metrics.faults["stall"] += 1
            if cfg.stall_ms > 0:
                await asyncio.sleep(cfg.stall_ms / 1000.0)
            else:
                await asyncio.Event().wait()
            due = loop.time() + delay
        if fault.extra_delay_s > 0:
            self.metrics.faults["delay"] += 1
            due += fault.extra_delay_s
        await _sleep_until(due)
        return due

    async def _run(self, conv: Conversation, start: float) -> None:
        """Play the pending messages from `start` (when the run was asked for) to the end-of-run `full_state`."""
        try:
            due = await self._slot(conv, start)
            self.status(conv, "running")
            while conv.pending:
                due, failed = await self._play(conv, conv.pending.pop(0), due)
                if failed:
                    break
                due = await self._slot(conv, due)
                self.status(conv, "finished")
                if conv.pending:
                    self.status(conv, "running")  # a message sent during the run joins it
            self.transient(conv, ev.state_update(self.new_id(), self.now(), "full_state", conv.full_state(), None))
        except asyncio.CancelledError:
            raise
        except Exception:  # a bug here must not take the server down
            log.exception("a V1 run of the simulated agent failed")
        finally:
            self.running.discard(conv.id)
            if self.tasks.get(conv.id) is asyncio.current_task():
                del self.tasks[conv.id]

    async def _play(self, conv: Conversation, item: Pending, due: float) -> tuple[float, bool]:
        """Play one message's steps from slot `due`; (the last slot, whether the run failed)."""
        for step in plan_steps(self.cfg, item.text, self._rngs[conv.id]):
            conv.llm_calls += 1
            if step.kind == "error":
                due = await self._slot(conv, due)
                self.status(conv, "error")
                detail = step.text
                self.store(conv, ev.conversation_error_event(self.new_id(), self.now(), conv.leaf_event_id,
                                                             ERROR_CODE, detail))  # fmt: skip
                conv.pending.clear()
                return due, True
            event_id = self.new_id()
            if conv.request.stream and self.cfg.stream_tokens > 0:
                due = await self._stream(conv, step, event_id, due)
            else:
                due = await self._slot(conv, due)
            stats = ev.stats_value(conv.llm_calls)
            self.store(conv, ev.state_update(self.new_id(), self.now(), "stats", stats, conv.leaf_event_id))
            if step.kind == "message":
                self.store(conv, ev.message_event(event_id, self.now(), conv.leaf_event_id, step.text, ev.AGENT))
                continue
            assert step.action is not None and step.observation is not None
            parent = conv.leaf_event_id or item.event_id
            self.store(conv, ev.action_event(event_id, self.now(), parent, step.tool, conv.llm_calls, step.action))
            due = await self._slot(conv, due)
            self.store(conv, ev.observation_event(self.new_id(), self.now(), event_id, step.tool, conv.llm_calls,
                                                  step.observation))  # fmt: skip
        return due, False

    async def _stream(self, conv: Conversation, step: Step, item_id: str, due: float) -> float:
        """Stream the reply's text as deltas (never stored), the first in the reply's slot; returns the event's time."""
        gap = 1.0 / self.cfg.stream_rate
        anchor = len(conv.log) - 1
        pieces = chunks(step.text, self.cfg.stream_tokens)
        due = await self._slot(conv, due)
        if self.peers.get(conv.id):
            self._send_session(conv, envelope.item_started(item_id, anchor))
        for order, piece in enumerate(pieces):
            if order:
                due += gap
                await _sleep_until(due)
            self._delta(conv, item_id, order, piece)
        due += gap
        await _sleep_until(due)
        return due

    def _delta(self, conv: Conversation, item_id: str, order: int, piece: str) -> None:
        members = self.peers.get(conv.id, ())
        self.metrics.v1["stream_deltas"] += 1
        if not members:
            return
        events_text = dumps(ev.streaming_delta_event(self.new_id(), self.now(), piece))
        session_text = envelope.delta(item_id, order, piece, ev.response_id(conv.llm_calls))
        for peer in members:
            peer.send(events_text if peer.kind == EVENTS else session_text)

    def _send_session(self, conv: Conversation, text: str) -> None:
        for peer in self.peers.get(conv.id, ()):
            if peer.kind != EVENTS:
                peer.send(text)

    # --- faults and lifecycle --------------------------------------------------------------------------

    def drop_some(self) -> int:
        """One `--drop-every` tick over V1 sockets: clean (close 1001) or abrupt (TCP reset)."""
        everyone = sorted(
            (p for members in self.peers.values() for p in members if not p.closed), key=lambda p: p.serial
        )
        victims = pick_drops(everyone, self.cfg.drop_share, self._fault_rng)
        for peer in victims:
            if self.cfg.drop_mode == "abrupt" and self.transports.abort(peer.address):
                peer.closed = True
                self.metrics.faults["drop_abrupt"] += 1
            else:
                self.metrics.faults["drop_clean"] += 1
                peer.close(1001, "Dropped by the server (loadtest fault)")
        return len(victims)

    async def drop_forever(self) -> None:
        while True:
            await asyncio.sleep(self.cfg.drop_every)
            self.drop_some()

    def spawn(self, coro: Coroutine[object, object, None]) -> None:
        task = asyncio.ensure_future(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def shutdown(self) -> None:
        for task in [*self._background, *self.tasks.values()]:
            task.cancel()
        for members in self.peers.values():
            for peer in members:
                peer.close(1001, "Server shutting down")


async def _sleep_until(due: float) -> None:
    wait = due - asyncio.get_running_loop().time()
    if wait > 0:
        await asyncio.sleep(wait)
