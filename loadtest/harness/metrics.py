"""The one place where what a `Conversation` saw becomes measurements.

Each measurement goes two ways:

- Locust's statistics through ``events.request`` (or, with ``--locust-rows batched``, added once per second:
  :mod:`loadtest.harness.locuststats`) — one row per connect, echo, first agent event, turn, worst
  inter-event gap of a turn, reconnect, resync, REST create and, when V1 streams tokens, ``ttft`` and worst
  ``token_gap`` of a turn (``request_type="socketio"``,
  ``name`` = the metric, milliseconds from the transport's receive stamps, ``response_length`` in
  bytes). Fire-and-forget sends fire nothing (no fake 0 ms rows). Throttle signals, refusals,
  timeouts, integrity faults and unexpected disconnects fire failures with stable reprs
  (:mod:`loadtest.harness.failures`).
- The per-second :class:`~loadtest.timeline.Second` (imported as ``Slice``) of this process: every sample in a
  mergeable histogram (every inter-event gap, and ``*_co`` latencies from intended send times), and
  the per-event counters (events, bytes), which never go through Locust.

:class:`Recorder` is per process; :class:`MetricsListener` is the contract's `Listener` each user hands to
its conversation, V0 or V1 alike (`loadtest.openhands.contract`). Everything here runs in greenlets of one
process: no locks needed.
"""

from __future__ import annotations

from locust.event import EventHook

import time
import weakref
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from loadtest.harness.failures import (
    ConnectFailed,
    ConnectionLost,
    IntegrityFailure,
    NotReady,
    ReconnectFailed,
    RestFailed,
    ServerSignal,
    Throttled,
    TurnFailed,
)
from loadtest.harness.health import BottleneckWarning, HealthProbe
from loadtest.harness.locuststats import BatchedRows
from loadtest.openhands import ConnectResult, EventKind, ReconnectResult, RestResult
from loadtest.openhands.contract import SIGNALS, Conversation, Listener
from loadtest.openhands.contract import TurnLike as TurnRecord
from loadtest.openhands.v1.events import V1Kind
from loadtest.timeline import Second as Slice

__all__ = [
    "GOOD_END_STATES",
    "REQUEST_TYPE",
    "THROTTLE_SIGNALS",
    "GaugeSource",
    "MetricsListener",
    "Recorder",
    "rest_error_key",
]

REQUEST_TYPE = "socketio"
_TurnT = TypeVar("_TurnT", bound=TurnRecord)  # a listener serves conversations of either protocol's turns
GOOD_END_STATES = frozenset({"awaiting_user_input", "finished", "paused", "idle"})  # V0's, and V1's idle
OWN_DISCONNECTS = frozenset({"client", "client_abort"})
#: Signals counted under ``throttled`` (and in ``throttled.ratio``); the others are server errors.
#: V1's refusals (auth 403/4001, unknown conversation 4004) are errors too: nothing a slower pace would mend.
SERVER_ERROR_SIGNALS = frozenset(
    {"error_event", "status_error", "auth_failed", "unknown_conversation", "handshake_403"}
)
THROTTLE_SIGNALS = frozenset(SIGNALS) - SERVER_ERROR_SIGNALS


_INTEGRITY_KEYS = {"gap": "gaps", "duplicate": "duplicates", "history_reset": "history_resets"}
#: Counted, never failed: what the generator could not judge, and V1's expected copies (``overlap``), events
#: older than an unaudited floor (``stale``), events REST filled in, and live frames amid a replay (``interleaved``:
#: the real agent server does it on every resume during a run; each copy is still deduplicated).
_NOT_FAILURES = frozenset({"unaudited", "history_reset", "overlap", "stale", "filled", "interleaved"})


def rest_error_key(call: str, status: int) -> str:
    """The per-second counter of a failed REST `call`, named by its status class (few, stable names):
    ``errors.rest_events_no_answer`` (refused, reset, timed out), ``errors.rest_events_429`` (the limiter),
    ``errors.rest_events_4xx``, ``errors.rest_events_5xx``. Never a bare ``status=0``."""
    if status <= 0:
        cls = "no_answer"
    elif status == 429:
        cls = "429"
    else:
        cls = f"{status // 100}xx"
    return f"errors.rest_{call}_{cls}"


class GaugeSource(Protocol):
    """A user that reports its live state once per second."""

    def gauges(self) -> tuple[int, int, int, int, float]:
        """(conversations, sockets, turns in flight, reconnecting, offered actions/s)."""
        ...


class Recorder:
    """Per-process measurements: Locust rows and the per-second timeline slices."""

    def __init__(
        self,
        request_event: EventHook,
        *,
        worker_index: int = 0,
        lag_warning_ms: float = 100.0,
        user_count: Callable[[], int] = lambda: 0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.request_event = request_event
        self.worker_index = worker_index
        self.user_count = user_count
        self.clock = clock
        self.current = Slice(int(clock()))
        self.closed: list[Slice] = []
        self.closed_through = self.current.second - 1
        self.sources: weakref.WeakSet[Any] = weakref.WeakSet()
        self.totals: dict[str, int] = {}
        """This process's counters summed over every closed second (logged at the end of a test)."""
        self.probe = HealthProbe()
        self.bottleneck = BottleneckWarning(lag_warning_ms)
        self.rows: BatchedRows | None = None
        """`--locust-rows batched`: successful rows go to Locust's stats once per second (see `locuststats`)."""

    # -- seconds -----------------------------------------------------------------------------------

    def reset(self) -> None:
        """Start afresh (a new test): nothing recorded before now is kept."""
        self.totals = {}
        self.current = Slice(int(self.clock()))
        self.closed = []
        self.closed_through = self.current.second - 1
        if self.rows is not None:
            self.rows.clear()

    def _slice(self) -> Slice:
        second = int(self.clock())
        if second != self.current.second:
            self.roll(second)
        return self.current

    def roll(self, second: int | None = None, *, final: bool = False) -> None:
        """Close every second before ``second`` (now by default); ``final`` closes the current one too."""
        now = int(self.clock()) if second is None else second
        if now > self.current.second or final:
            self._close(self.current)
            self.closed_through = self.current.second
            self.current = Slice(max(now, self.current.second + 1))

    def _close(self, s: Slice) -> None:
        conversations = sockets = inflight = reconnecting = 0
        offered = 0.0
        for source in list(self.sources):
            c, k, f, r, o = source.gauges()
            conversations += c
            sockets += k
            inflight += f
            reconnecting += r
            offered += o
        s.gauges.update(
            users=float(self.user_count()),
            conversations=float(conversations),
            sockets=float(sockets),
            turns_in_flight=float(inflight),
            reconnecting=float(reconnecting),
            offered_rate=offered,
        )
        lag, cpu = self.probe.take()
        s.health.append({"worker": float(self.worker_index), "loop_lag_ms": lag, "cpu_percent": cpu})
        self.bottleneck.update(float(s.second), lag, cpu, where=f"worker {self.worker_index}")
        for key, n in s.counters.items():
            self.totals[key] = self.totals.get(key, 0) + n
        if self.rows is not None:
            self.rows.flush(s.second)
        self.closed.append(s)

    def take_closed(self) -> tuple[list[Slice], int]:
        """The closed seconds not yet shipped, and the last second closed."""
        out, self.closed = self.closed, []
        return out, self.closed_through

    # -- Locust rows -------------------------------------------------------------------------------

    def _fire(self, name: str, ms: float | None, length: int = 0, exc: BaseException | None = None) -> None:
        if self.rows is not None and exc is None and ms is not None:
            self.rows.add(name, ms, length)
            return
        self.request_event.fire(
            request_type=REQUEST_TYPE,
            name=name,
            response_time=ms,
            response_length=length,
            exception=exc,
            context={},
        )

    def _ok(self, s: Slice, name: str, ms: float, length: int = 0) -> None:
        s.record(name, ms)
        self._fire(name, ms, length)

    def _failed(self, s: Slice, name: str, exc: BaseException, ms: float | None = None) -> None:
        s.count(f"failures.{name}")
        self._fire(name, ms, 0, exc)

    # -- measurements ------------------------------------------------------------------------------

    def connected(self, cr: ConnectResult) -> None:
        s = self._slice()
        s.count("connects")
        self._ok(s, "connect", cr.duration_ms, cr.replay_bytes)

    def connect_failed(self, exc: BaseException, started_at: float, cause: str | None = None) -> None:
        """A first connect failed: the failure names `cause` (``Conversation.last_cause``) when there is one."""
        s = self._slice()
        s.count("connects")
        self._failed(s, "connect", ConnectFailed.of(exc, cause), (time.perf_counter() - started_at) * 1000.0)

    def rest(self, call: str, result: RestResult) -> None:
        """A REST call's final answer: ``rest_create`` is a Locust row (a failure names its cause); the other
        calls' failures are counted per second as ``errors.rest_<call>_<status class>`` (`rest_error_key`)."""
        s = self._slice()
        s.count("rest_calls")
        if result.slow_generator:  # slow, but the generator's own loop lag explains it: not a throttle signal
            s.count("slow_generator")
        if call != "create":
            if not result.ok:
                s.count(rest_error_key(call, result.status))
            return
        if result.ok:
            s.record("rest_create", result.elapsed_ms)
            self._fire("rest_create", result.elapsed_ms, 0)
        else:
            self._failed(s, "rest_create", RestFailed(result), result.elapsed_ms)

    def rest_retried(self, result: RestResult) -> None:
        """A REST answer that will be asked again (no answer, 429, 5xx): a call made (``rest_calls``, and
        ``rest_retries``), never a failure; its throttle signal comes through `signal` on its own."""
        s = self._slice()
        s.count("rest_calls")
        s.count("rest_retries")
        if result.slow_generator:
            s.count("slow_generator")

    def ready(self, ms: float | None, outcome: str) -> None:
        """A conversation's wait for ``RUNNING`` before its socket joins (`Conversation.wait_ready`):
        row and histogram ``ready`` when it ran, a failure when it timed out, nothing when there was
        nothing to wait for (the server has no status, or the conversation was not starting)."""
        s = self._slice()
        if ms is not None:
            self._ok(s, "ready", ms)
        elif outcome == "timeout":
            self._failed(s, "ready", NotReady(outcome))

    def action_sent(self) -> None:
        self._slice().count("actions")

    def dropped(self, n: int) -> None:
        """Paced slots skipped because the user was too far behind (or not connected)."""
        self._slice().count("dropped_actions", n)

    def turn(self, t: TurnRecord) -> None:
        """A turn ended (its end state seen, or timed out)."""
        s = self._slice()
        s.count("turns")
        echo = t.echo_ms
        if echo is not None:
            self._ok(s, "echo", echo)
        elif t.end_state in GOOD_END_STATES:
            s.count("errors.echo_missing")
        first = t.first_event_ms
        if first is not None:
            self._ok(s, "first_event", first)
        if t.gaps_ms:
            rec = s.record
            for gap in t.gaps_ms:
                rec("event_gap", gap)
            self._fire("event_gap", max(t.gaps_ms), 0)  # one row per turn: its worst gap
        ttft = t.ttft_ms  # V1 with a streaming LLM; None otherwise
        if ttft is not None:
            self._ok(s, "ttft", ttft)
        if t.token_gaps_ms:
            for gap in t.token_gaps_ms:
                s.record("token_gap", gap)
            self._fire("token_gap", max(t.token_gaps_ms), 0)  # one row per turn: its worst
        if t.intended_at is not None:
            for name, value in (
                ("echo_co", t.echo_co_ms),
                ("first_event_co", t.first_event_co_ms),
                ("ttft_co", t.ttft_co_ms),
            ):
                if value is not None:
                    s.record(name, value)
        if t.end_state in GOOD_END_STATES and t.turn_ms is not None:
            self._ok(s, "turn", t.turn_ms, t.bytes)
            if t.turn_co_ms is not None:
                s.record("turn_co", t.turn_co_ms)
        else:
            elapsed = t.turn_ms
            if elapsed is None and t.end_state == "timeout":  # expired now: the failure took this long
                elapsed = (time.perf_counter() - t.sent_at) * 1000.0
            self._failed(s, "turn", TurnFailed(str(t.end_state)), elapsed)

    def reconnected(self, rr: ReconnectResult) -> None:
        s = self._slice()
        s.count("reconnects")
        s.count("connects", rr.attempts)
        if rr.attempts > 1:
            s.count("failures.connect", rr.attempts - 1 if rr.ok else rr.attempts)
        if not rr.ok:
            self._failed(s, "reconnect", ReconnectFailed.of(rr))
            return
        if rr.recovery_ms is not None:
            self._ok(s, "reconnect", rr.recovery_ms)
        if rr.resync_ms is not None:
            self._ok(s, "resync", rr.resync_ms)
        else:
            s.count("errors.resync_timeout")

    # -- per-event path (reader greenlets): counters only ------------------------------------------

    def event(self, size: int) -> None:
        c = self._slice().counters
        c["events"] = c.get("events", 0) + 1
        c["bytes"] = c.get("bytes", 0) + size

    def delta(self, size: int) -> None:
        """A streamed token chunk (V1): counted apart from events (never stored, replayed or a gap)."""
        c = self._slice().counters
        c["deltas"] = c.get("deltas", 0) + 1
        c["bytes"] = c.get("bytes", 0) + size

    def integrity(self, kind: str, count: int) -> None:
        """Gaps, duplicates and out-of-order ids are failures; ``unaudited`` holes (the audit could not ask the
        server) and ``history_reset`` (the server lost the conversation's history) are counted, not failed:
        they say what the generator could not judge, not what the server did wrong."""
        s = self._slice()
        key = _INTEGRITY_KEYS.get(kind, kind)
        s.count(key, count)
        if kind not in _NOT_FAILURES:
            self._fire("integrity", None, 0, IntegrityFailure(kind))

    def signal(self, kind: str) -> None:
        s = self._slice()
        if kind in THROTTLE_SIGNALS:
            s.count(f"throttled.{kind}")
            self._fire("signal", None, 0, Throttled(kind))
        else:
            s.count(f"errors.{kind}")
            self._fire("signal", None, 0, ServerSignal(kind))

    def protocol_error(self, kind: str, n: int = 1) -> None:
        """Frames that broke the protocol, by the client's kind (``bad_type``, ``bad_json``...)."""
        s = self._slice()
        s.count(f"errors.protocol_{kind}", n)
        self._fire("protocol", None, 0, ServerSignal(f"protocol_{kind}"))

    def disconnect(self, reason: str) -> None:
        s = self._slice()
        s.count(f"disconnects.{reason}")
        if reason not in OWN_DISCONNECTS:
            self._fire("disconnect", None, 0, ConnectionLost(reason))


class MetricsListener(Listener):
    """Forwards one conversation's callbacks to the process's :class:`Recorder`."""

    def __init__(self, recorder: Recorder, on_lost: Callable[[str], None] | None = None) -> None:
        self.recorder = recorder
        self.on_lost = on_lost

    def on_event(self, conv: Conversation[_TurnT], kind: EventKind | V1Kind, size: int, received_at: float) -> None:
        if kind is V1Kind.STREAMING_DELTA:
            self.recorder.delta(size)
        else:
            self.recorder.event(size)

    def on_integrity(self, conv: Conversation[_TurnT], kind: str, count: int) -> None:
        self.recorder.integrity(kind, count)

    def on_signal(self, conv: Conversation[_TurnT], signal: str) -> None:
        self.recorder.signal(signal)

    def on_disconnect(self, conv: Conversation[_TurnT], reason: str) -> None:
        self.recorder.disconnect(reason)
        if reason == "protocol_error":
            # A new client per connect, so these are this connection's faults.
            for kind, n in conv.protocol_errors.items():
                self.recorder.protocol_error(kind, n)
        if self.on_lost is not None:
            self.on_lost(reason)

    def on_turn(self, conv: Conversation[_TurnT], turn: TurnRecord) -> None:
        self.recorder.turn(turn)

    def on_rest(self, conv: Conversation[_TurnT], call: str, result: RestResult) -> None:
        self.recorder.rest(call, result)

    def on_rest_retried(self, conv: Conversation[_TurnT], call: str, result: RestResult) -> None:
        self.recorder.rest_retried(result)
