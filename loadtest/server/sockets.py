"""Socket.IO side: the `connect` handler (OpenHands' `listen_socket.py` order), replay, actions, bad input."""

from __future__ import annotations

import hmac
import json
import logging
import time
from typing import Any
from urllib.parse import parse_qs

import socketio
from socketio.exceptions import ConnectionRefusedError as Refused

from loadtest.server import events as ev
from loadtest.server.faults import faulty_replay
from loadtest.server.hub import Hub
from loadtest.server.inputs import check_action, providers_error
from loadtest.server.limits import WindowLimiter
from loadtest.server.metrics import Metrics
from loadtest.server.store import parse_latest_event_id, select_replay
from loadtest.server.wire import RawJSON

log = logging.getLogger("loadtest.server.sockets")

NO_CONVERSATION_ID = "No conversation_id in query params"
INVALID_KEY = "invalid_session_api_key"
AUTH_PAYLOAD = (
    "auth payload not supported: send a bare CONNECT; OpenHands V0 reads conversation_id and "
    "session_api_key from the query string"
)
IMAGE_REFUSED = "Model does not support image upload, change to a different model or try without an image."


class OhSocketServer(socketio.AsyncServer):  # type: ignore[misc,unused-ignore]
    """python-socketio's AsyncServer; undecodable client packets are counted and logged at debug, not raised."""

    metrics: Metrics | None = None

    async def _handle_eio_message(self, eio_sid: str, data: Any) -> None:
        try:
            await super()._handle_eio_message(eio_sid, data)
        except ValueError as exc:
            if isinstance(data, bytes | bytearray):
                kind = "binary"
            elif isinstance(exc, json.JSONDecodeError):
                kind = "malformed_json"
            else:
                kind = "malformed_packet"
            if self.metrics is not None:
                self.metrics.bad_input[kind] += 1
            log.debug("undecodable packet (%s, %d bytes): %s", kind, len(data), type(exc).__name__)


def register(sio: OhSocketServer, hub: Hub) -> None:
    cfg, metrics = hub.cfg, hub.metrics
    action_limiter = WindowLimiter(cfg.action_rate)

    def refuse(kind: str, message: str) -> Refused:
        metrics.connect_refused_total += 1
        metrics.refusals[kind] += 1  # a fixed label: messages may quote client input
        return Refused(message)

    async def connect(sid: str, environ: dict[str, Any], auth: Any = None) -> bool:
        query = parse_qs(environ.get("QUERY_STRING", ""))
        latest_event_id = parse_latest_event_id(query.get("latest_event_id", []))
        conversation_id = (query.get("conversation_id") or [None])[0]
        bad_providers = providers_error(query.get("providers_set", []))
        if bad_providers:
            raise refuse("invalid_providers_set", bad_providers)
        if not conversation_id:
            raise refuse("no_conversation_id", NO_CONVERSATION_ID)
        if cfg.session_api_key is not None:
            given = (query.get("session_api_key") or [""])[0]
            if not hmac.compare_digest(given.encode(), cfg.session_api_key.encode()):
                raise refuse("invalid_session_api_key", INVALID_KEY)
        if auth is not None:
            raise refuse("auth_payload", AUTH_PAYLOAD)
        conv = hub.store.get(conversation_id)
        created = conv is None
        if conv is None:  # OSS: an unknown id gets new conversation metadata
            conv = hub.create_conversation(conversation_id)
        replay = faulty_replay(
            select_replay(conv.log.events, latest_event_id), cfg.replay_skip_every, cfg.replay_repeat_every
        )
        for stored in replay.events:
            await sio.emit("oh_event", RawJSON(stored.stored_json), to=sid)
        metrics.events_replayed_total += len(replay.events)
        metrics.faults["replay_skip"] += replay.skipped
        metrics.faults["replay_repeat"] += replay.repeated
        await sio.enter_room(sid, conv.room)
        scope = environ.get("asgi.scope") or {}
        client = scope.get("client")
        hub.join(sid, conv, (str(client[0]), int(client[1])) if client else None)
        metrics.connections_total += 1
        await hub.ensure_running(conv, defer=True)
        log.debug("connected to %s (created=%s, replayed=%d)", conversation_id, created, len(replay.events))
        return True

    async def disconnect(sid: str, reason: Any = None) -> None:
        hub.leave(sid)
        action_limiter.forget(sid)
        metrics.disconnects_total += 1

    async def user_action(sid: str, data: Any = None, *_: Any) -> None:
        metrics.actions_received_total += 1
        conv = hub.conversation_of(sid)
        if conv is None:
            metrics.bad_input["no_session"] += 1
            return
        problem = check_action(data)
        if problem is not None:
            metrics.bad_input[problem] += 1
            log.debug("rejected action from a client: %s", problem)
            return
        assert isinstance(data, dict)
        args: dict[str, Any] = data.get("args") or {}
        if not conv.running:
            metrics.bad_input["no_conversation"] += 1
            return
        allowed, _wait = action_limiter.attempt(sid, time.monotonic())
        if not allowed:
            metrics.throttles["action_rate"] += 1
            if cfg.action_limit_mode == "state":
                await hub.store_and_emit(conv, ev.agent_state("rate_limited"))
            else:
                text = f"Too many actions: at most {cfg.action_rate:g} per second per connection"
                await hub.store_and_emit(conv, ev.error_observation(text, "AGENT_ERROR$ACTION_RATE_LIMITED"))
            return
        if data["action"] == "message":
            if args.get("image_urls") and not cfg.vision:
                metrics.bad_input["image_upload"] += 1
                await hub.emit_payload(conv, ev.error_payload(IMAGE_REFUSED))
                return
            await hub.user_message(conv, args)
        else:
            await hub.user_action(conv, data["action"], args)

    async def catch_all(event: str, sid: str, *_: Any) -> None:
        metrics.bad_input["unknown_event"] += 1
        log.debug("ignored unknown event %r", event[:40] if isinstance(event, str) else event)

    sio.on("connect", connect)
    sio.on("disconnect", disconnect)
    sio.on("oh_user_action", user_action)
    sio.on("oh_action", user_action)
    sio.on("*", catch_all)
