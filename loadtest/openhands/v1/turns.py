"""V1 turns: what one user message caused, timed from the transport's receive stamps (pure, no I/O).

The rules (``../shared/openhands-v1.md`` §4, §7, §8):

- ``echo_at``: the user ``MessageEvent`` with the turn's text comes back (matched to the oldest turn waiting
  for that text, so other clients' messages in the conversation are not taken for ours).
- A turn *joins the run* when ``execution_status=running`` arrives after its echo (the message is stored
  before the run starts), or its echo arrives while the conversation runs (a message sent mid-run joins that
  run). Without its echo a turn joins no run: another client's run cannot end it before its message is stored
  (a lost echo leaves the turn to time out, and the integrity audit counts the lost event).
- ``first_agent_at``: the first agent event after it joined the run or echoed: an ``ActionEvent``,
  ``ObservationEvent``, agent ``MessageEvent`` or ``ConversationErrorEvent`` (state updates, the system prompt
  and streamed deltas are not agent events: with and without streaming the figure means the same).
- ``end_at``/``end_state``: the first ``full_state`` whose ``execution_status`` is not ``running``, once the
  turn joined the run; it ends *every* turn in that run. A ``finished`` state update alone ends nothing
  (``finished`` then ``running`` in one millisecond when a message joined the run). The end state is the
  snapshot's status (``finished``, ``idle``, ``error``, ``stuck``, ``paused``, ``waiting_for_confirmation``;
  ``unknown`` for a status outside the enum); ``error_code`` is the ``ConversationErrorEvent`` code seen.
- A ``ServerErrorEvent`` ``ConversationRunLimitExceeded`` (the server stored the message but did not run it)
  marks the oldest turn not in a run as ``needs_run``: not ended; the caller retries ``POST …/run`` (never
  resending the message) and calls `TurnBook.run_retried`. Any run of the conversation that starts after the
  message was stored takes it in (the retry's, or one another client's message started): it clears
  ``needs_run`` and the turn joins that run. Any other ``ServerErrorEvent`` (``ValidationError``,
  ``JSONDecodeError``: our frame was refused) ends the oldest turn without an echo as ``rejected``.
- ``first_token_at`` (``ttft``): the first streamed delta after it joined the run; ``token_gaps_ms``: between
  consecutive deltas of one streamed reply (a stored event between them, or another ``item_id``, starts a new
  reply: the wait for a tool is not a token gap).
- ``gaps_ms``, ``events``, ``bytes``: every non-delta event received while it was the oldest turn in flight
  (as in V0); ``deltas``: deltas received while it was the oldest.

Not acting on a ``full_state`` that arrives mid-replay is the caller's job (`integrity.ReplayWatch`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from loadtest.openhands.turns import TIMEOUT, InflightTurns, TurnTimes, span_ms
from loadtest.openhands.v1.events import EXECUTION_STATUSES, RUN_LIMIT, Classified, V1Kind

__all__ = ["END_STATES", "REJECTED", "TIMEOUT", "Turn", "TurnBook", "end_state_of"]

REJECTED = "rejected"
#: Every ``end_state`` a V1 turn can have (bounded: counters use them as labels).
END_STATES: frozenset[str] = frozenset((EXECUTION_STATUSES - {"running"}) | {"unknown", TIMEOUT, REJECTED})

_AGENT_WORK = frozenset({V1Kind.ACTION, V1Kind.OBSERVATION, V1Kind.AGENT_MESSAGE, V1Kind.CONVERSATION_ERROR})


def end_state_of(status: str | None) -> str:
    """The end state for a snapshot's status: itself when in the enum, else ``unknown``."""
    return status if status in EXECUTION_STATUSES and status != "running" else "unknown"


@dataclass(eq=False, slots=True)
class Turn(TurnTimes):
    """One user message and what it caused. Times are `time.perf_counter()` seconds.

    The V0 `loadtest.openhands.turns.Turn` fields and properties, plus the token figures.

    Attributes:
        sent_at: when the message was sent (socket frame or REST call).
        intended_at: when it should have been sent (paced users), else None.
        action_bytes: bytes of the sent frame or body.
        echo_at, first_agent_at, end_at: receive stamps, None until seen.
        end_state: see `END_STATES`; None while in flight (also after a disconnect).
        error_code: the ``ConversationErrorEvent`` (or refusing ``ServerErrorEvent``) code, else None.
        gaps_ms: gaps between consecutive events received while it was the oldest turn.
        events, bytes: events and frame bytes received while it was the oldest turn.
        first_token_at: the first streamed delta of its run; None without streaming.
        token_gaps_ms: gaps between consecutive deltas of one streamed reply.
        deltas: deltas received while it was the oldest turn.
        needs_run: the server stored the message but refused to run it (run limit): retry ``POST …/run``.
        run_limited: how many times that happened to this turn.
    """

    sent_at: float
    intended_at: float | None = None
    action_bytes: int = 0
    echo_at: float | None = None
    first_agent_at: float | None = None
    end_at: float | None = None
    end_state: str | None = None
    error_code: str | None = None
    gaps_ms: list[float] = field(default_factory=list)
    events: int = 0
    bytes: int = 0
    first_token_at: float | None = None
    token_gaps_ms: list[float] = field(default_factory=list)
    deltas: int = 0
    needs_run: bool = False
    run_limited: int = 0
    text: str = field(default="", repr=False)
    started: bool = field(default=False, repr=False)
    echo_ts: str | None = field(default=None, repr=False)
    last_at: float | None = field(default=None, repr=False)
    waiter: Any = field(default=None, repr=False)

    @property
    def ttft_ms(self) -> float | None:
        return span_ms(self.sent_at, self.first_token_at)

    @property
    def ttft_co_ms(self) -> float | None:
        return span_ms(self.intended_at, self.first_token_at)


_NONE: tuple[Turn, ...] = ()


class TurnBook(InflightTurns[Turn]):
    """The turns in flight of one conversation, oldest first, and the conversation's run status.

    Attributes:
        inflight: the turns not ended, oldest first.
        running: the latest execution status seen was ``running`` (from state updates and snapshots).
    """

    __slots__ = ("_item", "_last_delta_at", "running")

    def __init__(self) -> None:
        super().__init__()
        self.running = False
        self._last_delta_at: float | None = None
        self._item: str | None = None

    def needing_run(self) -> list[Turn]:
        """Turns whose message was stored but not run (run limit): retry ``POST …/run`` for them."""
        return [t for t in self.inflight if t.needs_run]

    def run_retried(self, turn: Turn) -> None:
        """``POST …/run`` was accepted for `turn`: it waits for its run again."""
        turn.needs_run = False

    def run_refused(self, turn: Turn | None = None) -> Turn | None:
        """The run limit refused a run (``ServerErrorEvent`` or a REST 429): mark `turn`, or the oldest turn
        not in a run, as needing ``POST …/run``; returns it (None if there is none)."""
        if turn is None:
            turn = next((t for t in self.inflight if not t.started), None)
        if turn is not None:
            turn.needs_run = True
            turn.run_limited += 1
            if turn.waiter is not None:
                turn.waiter.set()  # whoever waits for it retries the run
        return turn

    def observe(self, c: Classified, text: str | None, size: int, received_at: float) -> tuple[Turn, ...]:
        """Attribute one received event (not a delta: see `observe_delta`); returns the turns it ended.

        Args:
            c: the classified event.
            text: `events.message_text` of a user ``MessageEvent`` (for the echo), else None.
            size: frame bytes.
            received_at: the receive stamp.
        """
        kind = c.kind
        if kind is V1Kind.EXECUTION_STATUS or kind is V1Kind.FULL_STATE:
            was = self.running
            self.running = c.status == "running"
            if self.running and not was:
                for t in self.inflight:
                    if t.echo_at is not None:  # stored before this run started: the run takes it in
                        t.started = True
                        t.needs_run = False
        if kind is not V1Kind.UNKNOWN:
            self._last_delta_at = None  # a stored event ends a streamed reply
        inflight = self.inflight
        if not inflight:
            return _NONE
        cur = inflight[0]
        cur.events += 1
        cur.bytes += size
        if cur.last_at is not None:
            cur.gaps_ms.append((received_at - cur.last_at) * 1000.0)
        cur.last_at = received_at
        if kind is V1Kind.USER_MESSAGE:
            self._echo(text, received_at, c.timestamp)
        elif kind is V1Kind.FULL_STATE:
            if not self.running:
                return self._end_run(received_at, end_state_of(c.status))
        elif kind is V1Kind.SERVER_ERROR:
            if c.code == RUN_LIMIT:
                self.run_refused()
            else:
                return self._reject(received_at, c.code)
        elif kind in _AGENT_WORK:
            if kind is V1Kind.CONVERSATION_ERROR:
                for t in inflight:
                    if t.started:
                        t.error_code = c.code
            for t in inflight:
                if t.first_agent_at is None and (t.started or t.echo_at is not None):
                    t.first_agent_at = received_at
        return _NONE

    def observe_delta(self, received_at: float, item_id: str | None = None) -> None:
        """One streamed delta (``StreamingDeltaEvent`` or a session ``delta`` frame with its ``item_id``)."""
        same_reply = self._last_delta_at is not None and item_id == self._item
        last = self._last_delta_at
        self._last_delta_at = received_at
        self._item = item_id
        inflight = self.inflight
        if not inflight:
            return
        inflight[0].deltas += 1
        for t in inflight:
            if t.started or t.echo_at is not None:
                if t.first_token_at is None:
                    t.first_token_at = received_at
                elif same_reply and last is not None:
                    t.token_gaps_ms.append((received_at - last) * 1000.0)

    def _end_run(self, received_at: float, state: str) -> tuple[Turn, ...]:
        ended = tuple(t for t in self.inflight if t.started)
        if ended:
            self.inflight = [t for t in self.inflight if not t.started]
            for t in ended:
                t.end_at = received_at
                t.end_state = state
        return ended

    def _reject(self, received_at: float, code: str | None) -> tuple[Turn, ...]:
        for t in self.inflight:
            if t.echo_at is None and not t.started:
                self.inflight.remove(t)
                t.end_at = received_at
                t.end_state = REJECTED
                t.error_code = code
                return (t,)
        return _NONE

    def _echo(self, text: str | None, received_at: float, ts: str | None) -> None:
        for t in self.inflight:
            if t.echo_at is None and t.text == text:
                t.echo_at = received_at
                t.echo_ts = ts
                if self.running:
                    t.started = True  # sent mid-run: it joins the run
                return

    def settle(self, status: str | None, received_at: float, status_ts: str | None = None) -> tuple[Turn, ...]:
        """A replay went quiet: apply the newest status it left (``full_state`` or ``execution_status``, by
        server timestamp `status_ts`). Ends the turns of a run that ended meanwhile: those that joined it, and
        those echoed before that status was stamped (their run's status updates were replayed, not applied)."""
        if status is None:
            return _NONE
        self.running = status == "running"
        for t in self.inflight:
            if t.echo_at is not None and not t.started:
                stored_before = t.echo_ts is not None and status_ts is not None and t.echo_ts < status_ts
                if self.running or stored_before:
                    t.started = True
                    t.needs_run = False
        if self.running:
            return _NONE
        return self._end_run(received_at, end_state_of(status))

    def overdue(self, now: float, timeout: float) -> bool:
        """Whether a turn is older than `timeout` seconds (`expire` would end one)."""
        return any(now - t.sent_at >= timeout for t in self.inflight)

    def expire(self, now: float, timeout: float) -> list[Turn]:
        """End turns older than `timeout` seconds as ``timeout``; returns them."""
        expired = [t for t in self.inflight if now - t.sent_at >= timeout]
        for t in expired:
            self.inflight.remove(t)
            t.end_state = TIMEOUT
            if t.waiter is not None:
                t.waiter.set()
        return expired
