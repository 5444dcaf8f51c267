"""The simulated agent: `plan_turn` (pure: which events a turn produces) and `AgentLoop` (asyncio: when).

Timing contract: the echo of a user message is stored and emitted `--echo-delay-ms` after the action arrives;
then every *live-visible* event of the turn follows the previous visible one by exactly `--event-delay-ms`
(on an absolute schedule, so there is no drift), unless `--delay-jitter` spreads it. Events OpenHands does not
send live (NullObservation, environment-sourced actions) are stored without taking a delay slot.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from dataclasses import dataclass
from typing import TYPE_CHECKING

from loadtest.server import events as ev
from loadtest.server.config import ServerConfig
from loadtest.server.faults import event_fault, jittered
from loadtest.server.store import Conversation

if TYPE_CHECKING:
    from loadtest.server.hub import Hub

log = logging.getLogger("loadtest.server.agent")


@dataclass(frozen=True, slots=True)
class TurnPlan:
    drafts: list[ev.Draft]
    llm_calls: int  # the conversation's LLM call count after this turn
    end_state: str


def wants_finish(content: str, keyword: str) -> bool:
    return bool(keyword) and keyword.lower() in content.lower()


def turn_steps(script: tuple[str, ...], content: str, keyword: str) -> list[str]:
    """The script's steps for one message: a message naming `keyword` ends with `finish` (V0 and V1 share this)."""
    steps = list(script)
    if wants_finish(content, keyword):
        if steps[-1] == "message":
            steps[-1] = "finish"
        elif "finish" not in steps:
            steps.append("finish")
    return steps


def plan_turn(cfg: ServerConfig, content: str, first_turn: bool, llm_calls: int, rng: random.Random) -> TurnPlan:
    """The events a user message starts, in order, after its echo. `Draft.cause` indexes this list (-1 = echo)."""
    drafts: list[ev.Draft] = [ev.recall_action(content, first_turn), ev.agent_state("running")]
    drafts.append(ev.recall_observation(0) if first_turn else ev.null_observation(0))
    steps = turn_steps(cfg.script, content, cfg.finish_keyword)
    end_state, reason = "awaiting_user_input", ""
    calls = llm_calls
    meta = cfg.tool_metadata
    for step in steps:
        calls += 1
        at = len(drafts)
        if step == "run":
            drafts.extend(ev.run_pair(rng, calls, at, cfg.output_bytes, meta))
        elif step == "edit":
            drafts.extend(ev.edit_pair(rng, calls, at, meta))
        elif step == "write":
            drafts.extend(ev.write_pair(rng, calls, at, meta))
        elif step == "read":
            drafts.extend(ev.read_pair(rng, calls, at, cfg.output_bytes, meta))
        elif step == "think":
            drafts.extend(ev.think_pair(calls, at, meta))
        elif step == "message":
            drafts.append(ev.agent_message(f"I made the change you asked for ({content[:40]}). Anything else?", calls))
        elif step == "finish":
            drafts.append(ev.finish(calls, meta))
            end_state = "finished"
            break
        elif step == "error":
            drafts.append(ev.error_observation("RuntimeError: simulated agent failure", "AGENT_ERROR$SIMULATED"))
            end_state, reason = "error", "RuntimeError: simulated agent failure"
            break
    drafts.append(ev.agent_state(end_state, reason))
    return TurnPlan(drafts, calls, end_state)


@dataclass(frozen=True, slots=True)
class Inbound:
    content: str
    echo_id: int
    echo_at: float  # loop.time() at which the echo was emitted


class AgentLoop:
    """One conversation's agent: consumes user messages in order and plays each turn's plan on schedule."""

    def __init__(self, hub: Hub, conv: Conversation, rng: random.Random) -> None:
        self.hub = hub
        self.conv = conv
        self.cfg = hub.cfg
        self.rng = rng
        self.inbox: asyncio.Queue[Inbound] = asyncio.Queue()
        self.task: asyncio.Task[None] | None = None
        self.last_at = 0.0
        self.stalled = False

    def start(self, restart: bool, initial_message: str | None = None, defer: bool = False) -> None:
        self.task = asyncio.create_task(self._main(restart, initial_message, defer))

    async def stop(self) -> None:
        task, self.task = self.task, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def submit(self, content: str, echo_id: int, echo_at: float) -> None:
        self.inbox.put_nowait(Inbound(content, echo_id, echo_at))

    async def _main(self, restart: bool, initial_message: str | None, defer: bool) -> None:
        try:
            if defer:
                await asyncio.sleep(0.001)  # let the CONNECT ack of the socket that started us go out first
            await self._startup(restart, waiting=bool(initial_message))
            if initial_message:
                await self.hub.echo_and_submit(self.conv, ev.user_message(initial_message), initial_message)
        except asyncio.CancelledError:
            raise
        except Exception:  # a bug here must not take the server or other conversations down
            log.exception("agent loop of a conversation failed to start")
            return
        await self._serve()

    async def abandon_turn(self) -> None:
        """Drop the turn in progress (user `stopped`/`paused`); later messages are served as before."""
        await self.stop()
        self.task = asyncio.create_task(self._serve())

    async def _serve(self) -> None:
        while True:
            item = await self.inbox.get()
            try:
                await self._turn(item)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("a turn of the simulated agent failed")

    async def _startup(self, restart: bool, waiting: bool) -> None:
        """`loading`, runtime status, system prompt; then `awaiting_user_input` unless a message is waiting
        (an initial message, or one sent during start-up), which goes straight to `running` as in OpenHands."""
        hub, conv = self.hub, self.conv
        await hub.store_and_emit(conv, ev.agent_state("loading"))
        await hub.emit_payload(conv, ev.status_update("STATUS$STARTING_RUNTIME", "Starting runtime..."))
        if self.cfg.startup_delay_ms > 0:
            await asyncio.sleep(self.cfg.startup_delay_ms / 1000.0)
        conv.status, conv.runtime_status = "RUNNING", "STATUS$READY"
        await hub.emit_payload(conv, ev.status_update("STATUS$READY", "Ready"))
        if not restart:
            await hub.store_and_emit(conv, ev.system_message())
        if not waiting and self.inbox.empty():
            await hub.store_and_emit(conv, ev.change_agent_state("awaiting_user_input"))
            await hub.store_and_emit(conv, ev.agent_state("awaiting_user_input"))
        self.last_at = asyncio.get_running_loop().time()

    async def _turn(self, item: Inbound) -> None:
        loop = asyncio.get_running_loop()
        conv, cfg = self.conv, self.cfg
        plan = plan_turn(cfg, item.content, conv.turns_started == 0, conv.llm_calls, self.rng)
        conv.turns_started += 1
        conv.llm_calls = plan.llm_calls
        ids: list[int] = []
        due = max(item.echo_at, self.last_at)
        delay = cfg.event_delay_ms / 1000.0
        for draft in plan.drafts:
            cause = None if draft.cause is None else (item.echo_id if draft.cause < 0 else ids[draft.cause])
            if not draft.hidden_live:
                due += jittered(delay, cfg.delay_jitter, self.rng)
                conv.live_events += 1
                fault = event_fault(conv.live_events, cfg.delay_every, cfg.delay_ms, cfg.stall_after, self.stalled)
                if fault.stall:
                    self.stalled = True
                    self.hub.metrics.faults["stall"] += 1
                    await self._stall()
                    due = loop.time() + jittered(delay, cfg.delay_jitter, self.rng)
                if fault.extra_delay_s > 0:
                    self.hub.metrics.faults["delay"] += 1
                    due += fault.extra_delay_s
                wait = due - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
            stored = await self.hub.store_and_emit(conv, draft, cause)
            ids.append(stored.id)
            if stored.is_state and not conv.title:  # OpenHands names a conversation after its first message
                conv.title = item.content.strip().splitlines()[0][:30] if item.content.strip() else "Untitled"
                await self.hub.emit_payload(conv, ev.title_update(conv.conversation_id, conv.title))
        self.last_at = due

    async def _stall(self) -> None:
        if self.cfg.stall_ms > 0:
            await asyncio.sleep(self.cfg.stall_ms / 1000.0)
        else:
            await asyncio.Event().wait()  # until the conversation is stopped or the server shuts down
