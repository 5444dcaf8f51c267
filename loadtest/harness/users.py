"""Locust users that drive OpenHands conversations.

Three tiers, as in Locust's custom-client pattern: the Locust-free conversation of
:mod:`loadtest.openhands.contract` (V0 over Socket.IO or V1 over the agent server's WebSocket, picked once per
process from ``--api`` by `pick_api`; its one reader greenlet per connection is started by ``connect`` and ended
by ``close``); the abstract :class:`OpenHandsUser`, which owns one conversation for its whole life (created over
REST, or joined from ``--conversation-ids``) and reports through :mod:`loadtest.harness.metrics`;
and the profiles :class:`ChatUser`, :class:`PacedUser`, :class:`ReconnectUser` and
:class:`IdleUser`. Each setting is a typed class attribute; ``None`` means "take the command-line
option", so a locustfile can subclass a profile and pin any of them.
"""

from __future__ import annotations

import gevent
import gevent.event
import gevent.lock

from locust import User, constant, task
from locust.env import Environment
from locust.exception import StopUser

import itertools
import logging
import random
import time
from typing import Any, ClassVar

from loadtest.harness.metrics import OWN_DISCONNECTS, MetricsListener
from loadtest.harness.options import OptionError, Settings
from loadtest.harness.pacing import PaceSchedule
from loadtest.harness.runtime import install, runtime_for
from loadtest.openhands.contract import Api, ApiError, ClientSettings, Conversation, TurnLike, pick_api
from loadtest.openhands.pacing import STABLE_CONNECTION

__all__ = ["ChatUser", "IdleUser", "OpenHandsUser", "PacedUser", "ReconnectUser"]

logger = logging.getLogger("loadtest.harness")
RETRY_PAUSE_MAX = 8.0
SETTLE_TIMEOUT = 5.0  # seconds a stopping user waits for its hole audits (about a REST page each)

install()
_SOURCE_SEQ = itertools.count()  # users of this process, in start order, for --source-ips
_PICKED: dict[tuple[str, str], Api | ApiError] = {}  # (--api, host) → the protocol: `auto` probes once a process
_PICKING = gevent.lock.Semaphore()  # users starting together wait for the one probe


def api_for(api: str, host: str, session_api_key: str | None) -> Api:
    """The protocol of this process for ``--api`` `api` at `host` (probed once for ``auto``; logged once).

    Raises:
        ApiError: ``auto`` could not tell (every later user gets the same answer, without a new probe).
    """
    key = (api, host)
    with _PICKING:
        picked = _PICKED.get(key)
        if picked is None:
            try:
                picked = pick_api(api, host, session_api_key=session_api_key)
                logger.info("OpenHands API %s (%s)", picked.name, picked.found)
            except ApiError as exc:
                picked = exc
            _PICKED[key] = picked
    if isinstance(picked, ApiError):
        raise picked
    return picked


def pick_source_ip(ips: tuple[str, ...], seq: int, worker_index: int, workers: int) -> str | None:
    """The local address of this process's `seq`-th user: round robin over ``ips``, workers interleaved."""
    if not ips:
        return None
    return ips[(worker_index + seq * max(workers, 1)) % len(ips)]


class OpenHandsUser(User):
    """One conversation per user: connect at start, reconnect on loss, close at stop."""

    abstract = True
    wait_time = constant(0)  # profiles pace themselves (think time, pacing) inside their task

    message: str | None = None
    """Text of each user message (None: ``--message``)."""
    conversation_id: str | None = None
    """Join this conversation (None: the next of ``--conversation-ids``, else create one over REST)."""
    paced: ClassVar[bool] = False
    """True for users whose offered rate is set by ``--action-rate`` or ``ThrottleSearchShape``."""

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        self.runtime = runtime_for(environment)
        self.settings: Settings | None = None
        self.api: Api | None = None
        self.conv: Conversation[Any] | None = None
        self.lost = gevent.event.Event()
        self.reconnecting = False
        self.ever_connected = False
        self._retry_pause = 0.5
        self.connected_at = -1e9
        self.own_loss = False
        self.source_ip: str | None = None
        self.ready_checked = False

    # -- life cycle --------------------------------------------------------------------------------

    def on_start(self) -> None:
        rt = self.runtime
        try:
            self.settings = rt.settings or rt.read_settings()
        except OptionError as exc:
            logger.error("%s", exc)
            raise StopUser() from None
        s = self.settings
        host = self.host or self.environment.host
        if not host:
            logger.error("No target: pass the server's base URL with --host, e.g. --host http://127.0.0.1:3000")
            raise StopUser()
        self.source_ip = pick_source_ip(s.source_ips, next(_SOURCE_SEQ), rt.recorder.worker_index, rt.workers)
        client = ClientSettings(
            base_url=str(host).rstrip("/"),
            session_api_key=s.session_api_key or None,
            key_via=s.key_via,
            providers=s.providers,
            connect_timeout=s.connect_timeout,
            turn_timeout=s.turn_timeout,
            reconnect_max_attempts=max(1, s.reconnect_attempts),
            source_address=self.source_ip,
            ready_timeout=s.ready_timeout,
            ready_poll=s.ready_poll,
            deflate=s.ws_deflate,
            seed_settings=s.seed_settings,
            agent_settings=s.agent_settings,
            v1_socket=s.v1_socket,
            send_via=s.send_via,
        )
        cid = self.conversation_id or rt.next_conversation_id()
        try:
            self.api = api_for(s.api, client.base_url, client.session_api_key)
            self.conv = self.api.build(client, cid, MetricsListener(rt.recorder, self._on_lost))
        except ApiError as exc:
            logger.error("%s", exc)
            raise StopUser() from None
        rt.recorder.sources.add(self)
        self._connect()

    def on_stop(self) -> None:
        # A stopping user's socket counts in the gauges until it is closed: leaving them first made the seconds of
        # a stop look like an outage (users running, no socket) whenever a refused connect ended in them.
        conv = self.conv
        try:
            if conv is not None:
                if conv.connected:
                    conv.settle(timeout=SETTLE_TIMEOUT)  # finish hole audits so the last gaps are counted
                conv.close()
        finally:
            self.runtime.recorder.sources.discard(self)

    def gauges(self) -> tuple[int, int, int, int, float]:
        conv = self.conv
        if conv is None:
            return 0, 0, 0, 0, 0.0
        has = 1 if conv.conversation_id is not None else 0
        return has, int(conv.connected), conv.turns_in_flight, int(self.reconnecting), self.offered_rate()

    def offered_rate(self) -> float:
        return 0.0

    # -- connection --------------------------------------------------------------------------------

    def _on_lost(self, reason: str) -> None:
        self.own_loss = reason in OWN_DISCONNECTS
        if not self.own_loss:
            self.lost.set()

    def _connect(self) -> bool:
        conv, api = self.conv, self.api
        assert conv is not None and api is not None and self.settings is not None
        try:
            if conv.conversation_id is None:
                conv.create()
        except api.create_errors:
            return False  # the REST create failed: reported by the listener as rest_create
        if self.settings.wait_ready and not self.ready_checked:
            # As the OpenHands frontend: join only once REST says the conversation runs (metric `ready`).
            ready = conv.wait_ready()
            self.ready_checked = True
            self.runtime.recorder.ready(ready.ready_ms, ready.outcome)
        started = time.perf_counter()
        try:
            cr = conv.connect()
        except api.create_errors:
            return False  # the REST create failed: reported by the listener as rest_create
        except api.connect_errors as exc:
            self.runtime.recorder.connect_failed(exc, started, conv.last_cause)  # names the cause, not the repr
            return False
        self.runtime.recorder.connected(cr)
        self._note_connected()
        self.ever_connected = True
        self.lost.clear()
        return True

    def ensure_connected(self) -> bool:
        """Connected, or reconnected now (with ``latest_event_id`` = the max id seen); False if that failed."""
        conv = self.conv
        if conv is None:
            return False
        if conv.connected:
            return True
        if not self.own_loss and time.perf_counter() - self.connected_at < STABLE_CONNECTION:
            self._back_off()  # lost right after connecting (eviction, refusal loop): never a hot loop
        if not self.ever_connected:
            ok = self._connect()
        else:
            self.reconnecting = True
            try:
                rr = conv.reconnect()
            finally:
                self.reconnecting = False
            self.runtime.recorder.reconnected(rr)
            ok = rr.ok
            if ok:
                self._note_connected()
                self.lost.clear()
        if ok:
            return True
        self._back_off()  # never a hot loop against a refusing server
        return False

    def _back_off(self) -> None:
        pause, self._retry_pause = self._retry_pause, min(self._retry_pause * 2, RETRY_PAUSE_MAX)
        gevent.sleep(random.uniform(pause / 2, pause))

    def _note_connected(self) -> None:
        now = time.perf_counter()
        if now - self.connected_at >= STABLE_CONNECTION * 5:
            self._retry_pause = 0.5  # the previous connection was healthy: start the backoff afresh
        self.connected_at = now

    # -- turns -------------------------------------------------------------------------------------

    def text(self) -> str:
        assert self.settings is not None
        return self.message or self.settings.message

    def send(self, intended_at: float | None = None) -> TurnLike | None:
        """Emit one message (fire and forget); None if the socket is gone."""
        conv, api = self.conv, self.api
        assert conv is not None and api is not None
        try:
            turn = conv.send_message(self.text(), intended_at=intended_at, wait=False)
        except api.send_errors:
            self.lost.set()
            return None
        self.runtime.recorder.action_sent()
        return turn

    def finish_turn(self, turn: TurnLike) -> None:
        """Wait for ``turn`` to end, reconnecting (and waiting again) if the socket drops meanwhile."""
        conv = self.conv
        assert conv is not None and self.settings is not None
        deadline = turn.sent_at + self.settings.turn_timeout
        while turn.end_state is None and time.perf_counter() < deadline:
            conv.wait(turn)
            if turn.end_state is None and not self.ensure_connected():
                return  # the turn stays in flight; the conversation expires it later

    def pause(self, seconds: float) -> None:
        """Sleep, but wake to reconnect at once if the connection is lost meanwhile."""
        end = time.perf_counter() + seconds
        while (left := end - time.perf_counter()) > 0:
            if self.lost.wait(left):
                self.ensure_connected()
                if self.lost.is_set():
                    return


class ChatUser(OpenHandsUser):
    """Send a message, wait for the agent's turn to end, think, repeat."""

    think_time: tuple[float, float] | None = None
    """Pause after each turn, uniform in [low, high] seconds (None: ``--think-time``)."""

    @task
    def chat(self) -> None:
        if not self.ensure_connected():
            return
        turn = self.send()
        if turn is not None:
            self.finish_turn(turn)
        assert self.settings is not None
        low, high = self.think_time or self.settings.think_time
        self.pause(random.uniform(low, high))


class PacedUser(OpenHandsUser):
    """Send on a fixed pace whatever the agent does; latencies also from the intended send time.

    Phases are spread over the interval (no phase lock, see :mod:`loadtest.harness.pacing`); the
    interval is ``--action-pace``, or users ÷ ``--action-rate`` (or the rate of a
    ``ThrottleSearchShape`` step) when a total rate is set.
    """

    paced = True
    action_pace: float | None = None
    """Seconds between this user's actions (None: ``--action-pace``)."""

    schedule: PaceSchedule | None = None

    def _interval(self) -> float:
        assert self.settings is not None
        return self.runtime.user_interval(self.action_pace or self.settings.action_pace)

    def offered_rate(self) -> float:
        return 1.0 / self.schedule.interval if self.schedule is not None else 0.0

    def on_start(self) -> None:
        super().on_start()
        rt = self.runtime
        self.schedule = PaceSchedule(rt.pace_epoch, rt.phases.next_phase(), self._interval())

    @task
    def paced_send(self) -> None:
        schedule = self.schedule
        assert schedule is not None
        now = time.perf_counter()
        schedule.retime(self._interval(), now)
        slot = schedule.next_slot(now)
        if slot.dropped:
            self.runtime.recorder.dropped(slot.dropped)
        delay = slot.intended_at - time.perf_counter()
        if delay > 0:
            gevent.sleep(delay)
        if not self.ensure_connected():
            self.runtime.recorder.dropped(1)
            return
        self.send(intended_at=slot.intended_at)


class ReconnectUser(ChatUser):
    """Chat, and drop the socket every ``--reconnect-every`` seconds, resuming from the max event id.

    A timer greenlet (started in ``on_start``, killed in ``on_stop``) drops the connection on
    schedule, mid-turn or mid-think; the user's own greenlet notices at once and reconnects, so
    each scheduled drop gives one ``reconnect`` (and ``resync``) measurement. Drops by the server
    are reconnected the same way.
    """

    reconnect_every: float | None = None
    """Seconds between scheduled drops (None: ``--reconnect-every``; 0: only server drops)."""
    drop_mode: str | None = None
    """``abrupt`` (TCP close) or ``clean`` (Socket.IO disconnect); None: ``--drop-mode``."""

    drops = 0
    _dropper: gevent.Greenlet | None = None

    def on_start(self) -> None:
        super().on_start()
        assert self.settings is not None
        every = self.reconnect_every if self.reconnect_every is not None else self.settings.reconnect_every
        if every > 0:
            self._dropper = gevent.spawn(self._drop_on_schedule, every)

    def on_stop(self) -> None:
        if self._dropper is not None:
            self._dropper.kill(block=False)
            self._dropper = None
        super().on_stop()

    def _drop_on_schedule(self, every: float) -> None:
        assert self.settings is not None
        abrupt = (self.drop_mode or self.settings.drop_mode) == "abrupt"
        phase = self.runtime.phases.next_phase()
        next_drop = time.perf_counter() + every * (0.5 + phase)  # spread users' drops over the period
        while True:
            gevent.sleep(max(0.0, next_drop - time.perf_counter()))
            next_drop += every
            conv = self.conv
            if conv is None or not conv.connected or self.reconnecting:
                continue  # not connected now: this slot is skipped, not queued
            conv.drop(abrupt=abrupt)
            self.drops += 1
            self.lost.set()


class IdleUser(OpenHandsUser):
    """Hold a conversation open without sending (connection capacity); reconnect when dropped."""

    @task
    def hold(self) -> None:
        if not self.ensure_connected():
            return
        self.lost.wait(5.0)
