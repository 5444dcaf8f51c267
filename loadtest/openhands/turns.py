"""Turns: what one user message caused, timed from the transport's receive stamps (pure, no I/O).

A `Turn` starts when ``oh_user_action`` is emitted and records:

- ``echo_at``: the user message coming back as an ``oh_event`` with source ``user`` and the same content;
- ``first_agent_at``: the first *agent* event of the turn after the echo (or after ``running``): an event with
  an id and source ``agent``/``environment`` that is not bookkeeping (``agent_state_changed`` and ``recall``
  actions/observations are not agent work);
- ``end_at``/``end_state``: the ``agent_state_changed`` that ends it (`END_STATES`). ``awaiting_user_input``,
  ``finished`` and ``paused`` count only once the turn has started (echo or ``running`` seen), so a state left
  over from start-up cannot end a turn early; ``error``, ``stopped`` and ``rejected`` end the current turn
  at any time. A *refusal* — ``rate_limited``, an error observation or a ``{"error": true}`` payload — ends
  the oldest turn that has not started (a refused action gets no echo; end state ``rate_limited`` or
  ``error``); with none, ``rate_limited`` ends the current turn (an LLM limit) and an error event ends nothing;
- every inter-event gap, and the events and bytes received while it was the current turn.

`TurnBook` keeps the turns in flight, oldest first; events belong to the oldest (turns of one conversation
run one after the other on the server). An echo is matched by content to the oldest turn still waiting for
one, so echoes of other clients' messages in the same conversation are not taken for ours.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from loadtest.openhands.events import END_STATES, Classified, EventKind

__all__ = ["TIMEOUT", "InflightTurns", "Turn", "TurnBook", "TurnTimes", "span_ms"]

TIMEOUT = "timeout"

_EARLY_END = frozenset({"error", "rate_limited", "stopped", "rejected"})
_NOT_AGENT_WORK = frozenset(
    {
        EventKind.AGENT_STATE,
        EventKind.RECALL,
        EventKind.RECALL_OUTPUT,
        EventKind.USER_MESSAGE,
        EventKind.NULL,
    }
)


def span_ms(start: float | None, end: float | None) -> float | None:
    """Milliseconds from `start` to `end` (perf_counter seconds); None when either is unknown."""
    if start is None or end is None:
        return None
    return (end - start) * 1000.0


class TurnTimes:
    """The figures every protocol's turn derives from its stamps alike (V0's `Turn`, V1's `v1.turns.Turn`).

    A mixin without fields (``__slots__ = ()``): the dataclass that uses it declares the stamps.
    ``*_ms`` count from ``sent_at``; ``*_co_ms`` from ``intended_at`` (paced users: coordinated omission
    corrected), None when not paced or not seen.
    """

    __slots__ = ()

    sent_at: float
    intended_at: float | None
    echo_at: float | None
    first_agent_at: float | None
    end_at: float | None
    end_state: str | None

    @property
    def done(self) -> bool:
        return self.end_state is not None

    @property
    def echo_ms(self) -> float | None:
        return span_ms(self.sent_at, self.echo_at)

    @property
    def first_event_ms(self) -> float | None:
        return span_ms(self.sent_at, self.first_agent_at)

    @property
    def turn_ms(self) -> float | None:
        return span_ms(self.sent_at, self.end_at)

    @property
    def echo_co_ms(self) -> float | None:
        return span_ms(self.intended_at, self.echo_at)

    @property
    def first_event_co_ms(self) -> float | None:
        return span_ms(self.intended_at, self.first_agent_at)

    @property
    def turn_co_ms(self) -> float | None:
        return span_ms(self.intended_at, self.end_at)


TurnT = TypeVar("TurnT", bound=TurnTimes)


class InflightTurns(Generic[TurnT]):
    """The turns in flight of one conversation, oldest first: what both protocols' turn books share."""

    __slots__ = ("inflight",)

    def __init__(self) -> None:
        self.inflight: list[TurnT] = []  # a handful at most; a list is 10x smaller than a deque

    def __len__(self) -> int:
        return len(self.inflight)

    def start(self, turn: TurnT) -> None:
        self.inflight.append(turn)

    def abandon(self, turn: TurnT) -> bool:
        """End `turn` as ``timeout`` if it is still in flight."""
        try:
            self.inflight.remove(turn)
        except ValueError:
            return False
        turn.end_state = TIMEOUT
        return True


@dataclass(eq=False, slots=True)
class Turn(TurnTimes):
    """One user message and what it caused. Times are `time.perf_counter()` seconds.

    Attributes:
        sent_at: when the action was emitted.
        intended_at: when it should have been emitted (paced users), else None.
        action_bytes: bytes of the emitted frame.
        echo_at, first_agent_at, end_at: receive stamps, None until seen.
        end_state: the ending agent state, ``timeout``, or None while in flight (also after a disconnect:
            reconnect and `Conversation.wait` again; the replay may end it).
        gaps_ms: every gap between consecutive events received during the turn.
        events, bytes: events and frame bytes received during the turn.
    """

    sent_at: float
    intended_at: float | None = None
    action_bytes: int = 0
    echo_at: float | None = None
    first_agent_at: float | None = None
    end_at: float | None = None
    end_state: str | None = None
    gaps_ms: list[float] = field(default_factory=list)
    events: int = 0
    bytes: int = 0
    text: str = field(default="", repr=False)
    started: bool = field(default=False, repr=False)
    last_at: float | None = field(default=None, repr=False)
    waiter: Any = field(default=None, repr=False)

    @property
    def ttft_ms(self) -> float | None:
        """Always None: V0 does not stream tokens (the conversation contract asks every turn for it)."""
        return None

    @property
    def token_gaps_ms(self) -> tuple[float, ...]:
        """Always empty: V0 does not stream tokens."""
        return ()

    @property
    def ttft_co_ms(self) -> float | None:
        return None


class TurnBook(InflightTurns[Turn]):
    """The turns in flight of one conversation, oldest first."""

    __slots__ = ()

    def observe(self, c: Classified, payload: Any, size: int, received_at: float) -> Turn | None:
        """Attribute one received event; returns the turn it ended, if any."""
        inflight = self.inflight
        if not inflight:
            return None
        cur = inflight[0]
        cur.events += 1
        cur.bytes += size
        last = cur.last_at
        if last is not None:
            cur.gaps_ms.append((received_at - last) * 1000.0)
        cur.last_at = received_at
        kind = c.kind
        if kind is EventKind.USER_MESSAGE:
            self._echo(payload, received_at)
            return None
        if kind is EventKind.AGENT_STATE:
            state = c.state
            if state == "running":
                cur.started = True
                return None
            if state == "rate_limited":
                return self._refused(received_at, state, cur)
            if state in END_STATES and (cur.started or cur.echo_at is not None or state in _EARLY_END):
                return self._end(cur, received_at, state)
            return None
        if kind is EventKind.ERROR_OBSERVATION or kind is EventKind.SESSION_ERROR:
            return self._refused(received_at, "error", None)
        if (
            cur.first_agent_at is None
            and c.id is not None
            and kind not in _NOT_AGENT_WORK
            and (cur.started or cur.echo_at is not None)
            and c.source != "user"
        ):
            cur.first_agent_at = received_at
        return None

    def _end(self, turn: Turn, received_at: float, state: str) -> Turn:
        self.inflight.remove(turn)
        turn.end_at = received_at
        turn.end_state = state
        return turn

    def _refused(self, received_at: float, state: str, fallback: Turn | None) -> Turn | None:
        """A refusal (limiter state, error event) belongs to the oldest turn not yet started, if any:
        a refused action never gets an echo. Otherwise it ends `fallback` (the current turn), if given."""
        for turn in self.inflight:
            if turn.echo_at is None and not turn.started:
                return self._end(turn, received_at, state)
        if fallback is not None:
            return self._end(fallback, received_at, state)
        return None

    def _echo(self, payload: Any, received_at: float) -> None:
        args = payload.get("args")
        content = args.get("content") if type(args) is dict else None
        if content is None:
            content = payload.get("message")
        for turn in self.inflight:
            if turn.echo_at is None and turn.text == content:
                turn.echo_at = received_at
                return

    def expire(self, now: float, timeout: float) -> list[Turn]:
        """End turns older than `timeout` seconds as ``timeout``; returns them."""
        expired: list[Turn] = []
        inflight = self.inflight
        while inflight and now - inflight[0].sent_at >= timeout:
            turn = inflight.pop(0)
            turn.end_state = TIMEOUT
            if turn.waiter is not None:
                turn.waiter.set()
            expired.append(turn)
        return expired
