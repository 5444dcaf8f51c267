"""Anchor users for the generator benchmarks: what a Locust user would write without loadtest.

    locust -f benchmarks/anchors_locustfile.py --host http://127.0.0.1:PORT --headless ... PySioUser
    locust -f benchmarks/anchors_locustfile.py ... ContribUser

Both create a conversation over REST, connect with `conversation_id`, then (BENCH_MODE=turns, the default) loop:
emit `oh_user_action`, wait for the `awaiting_user_input` state event, fire one `turn` request with the latency,
think BENCH_THINK_S seconds. With BENCH_MODE=idle they only hold the connection (events pushed by the server are
counted by the handler). `PySioUser` is python-socketio's `Client` with an `oh_event` handler and a gevent Event;
`ContribUser` is Locust's contrib `SocketIOUser` as documented (its catch-all fires a `WSR` row per event).
"""

from __future__ import annotations

import gevent
import gevent.event

from locust import User, constant, events, task
from locust.contrib.socketio import SocketIOUser

import os
import time
from collections.abc import Callable
from typing import Any

import requests
import socketio

MODE = os.environ.get("BENCH_MODE", "turns")
THINK_S = float(os.environ.get("BENCH_THINK_S", "0"))
TURN_TIMEOUT_S = 30.0


def _create(host: str) -> str:
    resp = requests.post(f"{host}/api/conversations", json={}, timeout=30)
    resp.raise_for_status()
    return str(resp.json()["conversation_id"])


def _message(text: str) -> dict[str, Any]:
    return {"action": "message", "args": {"content": text, "image_urls": [], "file_urls": []}}


def _turn(emit: Callable[..., Any], done: gevent.event.Event) -> None:
    """One turn as both anchors run it: emit, wait for the end state, one `turn` row; idle mode only sleeps."""
    if MODE == "idle":
        gevent.sleep(1.0)
        return
    done.clear()
    started = time.perf_counter()
    emit("oh_user_action", _message("hello"))
    ok = done.wait(TURN_TIMEOUT_S)
    events.request.fire(
        request_type="socketio", name="turn", response_time=(time.perf_counter() - started) * 1000,
        response_length=0, exception=None if ok else TimeoutError("turn"), context={},
    )  # fmt: skip
    if THINK_S:
        gevent.sleep(THINK_S)


def _ends_turn(event: Any) -> bool:
    return isinstance(event, dict) and event.get("extras", {}).get("agent_state") == "awaiting_user_input"


class PySioUser(User):
    """python-socketio `Client` (websocket transport) in a Locust user."""

    wait_time = constant(0)

    def on_start(self) -> None:
        host = str(self.host).rstrip("/")
        self.done = gevent.event.Event()
        self.events = 0
        self.client = socketio.Client(reconnection=False)
        self.client.on("oh_event", self._on_event)
        cid = _create(host)
        started = time.perf_counter()
        self.client.connect(f"{host}?conversation_id={cid}&latest_event_id=-1", transports=["websocket"])
        events.request.fire(
            request_type="socketio", name="connect", response_time=(time.perf_counter() - started) * 1000,
            response_length=0, exception=None, context={},
        )  # fmt: skip

    def _on_event(self, event: Any) -> None:
        self.events += 1
        if _ends_turn(event):
            self.done.set()

    @task
    def turn(self) -> None:
        _turn(self.client.emit, self.done)

    def on_stop(self) -> None:
        self.client.disconnect()


class ContribUser(SocketIOUser):
    """Locust's contrib `SocketIOUser`: WS connect row, WSE per emit, WSR per received event."""

    wait_time = constant(0)
    options = {"reconnection": False}

    def on_start(self) -> None:
        host = str(self.host).rstrip("/")
        self.done = gevent.event.Event()
        self.sio.on("oh_event", self._on_event)
        cid = _create(host)
        self.sio.connect(f"{host}?conversation_id={cid}&latest_event_id=-1", transports=["websocket"])
        self.sio_greenlet = gevent.spawn(self.sio.wait)  # as in Locust's example: the first one exits at once

    def _on_event(self, event: Any) -> None:
        self.sio.on_message("oh_event", event)  # a dedicated handler hides events from the catch-all
        if _ends_turn(event):
            self.done.set()

    @task
    def turn(self) -> None:
        _turn(self.sio.emit, self.done)

    def on_stop(self) -> None:
        self.sio.disconnect()
