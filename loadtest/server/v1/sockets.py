"""The V1 WebSockets: `/sockets/events/{id}` and `/sockets/session/{id}` (openhands-v1.md §4–§6).

Order on connect, as the real server: key from the query (wins) or the `X-Session-API-Key` header, a wrong
one refused with HTTP 403 before the upgrade (as are a malformed UUID and bad resume parameters); accept;
without a key, the first frame must be `{"type":"auth",…}` (else close 4001 "Authentication failed", also
after `--auth-timeout` of silence); unknown conversation: close 4004; the socket cap: close 1013. Then the
socket is subscribed *before* its replay is read (so live frames may interleave, as on the real server).
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import time

from starlette.routing import BaseRoute, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from loadtest.server.faults import faulty_replay
from loadtest.server.limits import WindowLimiter
from loadtest.server.v1 import envelope
from loadtest.server.v1.events import RUN_LIMIT_SOCKET
from loadtest.server.v1.hub import RUN_LIMIT, V1Hub
from loadtest.server.v1.inputs import (
    AuthFrame,
    BadFrame,
    MessageFrame,
    Resend,
    parse_after_seq,
    parse_frame,
    parse_resend,
    parse_uuid,
)
from loadtest.server.v1.peer import EVENTS, SESSION, Peer
from loadtest.server.v1.store import Conversation, StoredEvent

log = logging.getLogger("loadtest.server.v1.sockets")
AUTH_FAILED, NOT_FOUND, TOO_MANY = (
    "Authentication failed",
    "Conversation not found",
    ("Too many connections for this conversation"),
)
RUN_LIMIT_CODE = "ConversationRunLimitExceeded"
ACTION_RATE_CODE = "ActionRateLimited"  # not the real server's: a limit deployments put in front (--action-rate)


def build_socket_routes(hub: V1Hub) -> list[BaseRoute]:
    cfg, metrics = hub.cfg, hub.metrics
    action_limiter = WindowLimiter(cfg.action_rate)  # V0's --action-rate, per socket
    expected = cfg.session_api_key.encode() if cfg.session_api_key is not None else None

    def key_ok(given: str) -> bool:
        return expected is not None and hmac.compare_digest(given.encode(), expected)

    async def refuse_403(ws: WebSocket, kind: str) -> None:
        metrics.refusals[kind] += 1
        await ws.close(code=1008)  # before accept: uvicorn answers the upgrade with HTTP 403

    async def close_after_accept(ws: WebSocket, code: int, reason: str, kind: str) -> None:
        metrics.refusals[kind] += 1
        with contextlib.suppress(Exception):
            await ws.close(code, reason)

    async def admit(ws: WebSocket) -> tuple[str, bool] | None:
        """Pre-upgrade checks: the conversation id and whether a first-frame auth is needed; None when refused."""
        cid = parse_uuid(ws.path_params.get("cid", ""))
        query_key = ws.query_params.get("session_api_key")
        header_key = ws.headers.get("x-session-api-key")
        given = query_key if query_key is not None else header_key
        if expected is not None and given is not None and not key_ok(given):
            await refuse_403(ws, "v1_wrong_key")
            return None
        if cid is None:
            await refuse_403(ws, "v1_malformed_id")
            return None
        return cid, expected is not None and given is None

    async def authenticate(ws: WebSocket) -> bool:
        try:
            text = await asyncio.wait_for(ws.receive_text(), cfg.auth_timeout)
        except (TimeoutError, KeyError, RuntimeError):
            text = ""
        except WebSocketDisconnect:
            return False
        frame = parse_frame(text) if text else None
        if isinstance(frame, AuthFrame) and frame.key is not None and key_ok(frame.key):
            return True
        await close_after_accept(ws, 4001, AUTH_FAILED, "v1_auth_failed")
        return False

    async def attach(ws: WebSocket, cid: str, first_frame_auth: bool, kind: str) -> tuple[Conversation, Peer] | None:
        await ws.accept()
        if first_frame_auth and not await authenticate(ws):
            return None
        conv = hub.conversations.get(cid)
        if conv is None:
            await close_after_accept(ws, 4004, NOT_FOUND, "v1_conversation_not_found")
            return None
        client = ws.client
        peer = Peer(kind, cid, (str(client.host), int(client.port)) if client else None)
        if not hub.attach(peer):
            with contextlib.suppress(Exception):
                await ws.close(1013, TOO_MANY)
            return None
        return conv, peer

    def snapshot_dropped() -> bool:
        hub.connects += 1
        every = cfg.snapshot_drop_every
        if every > 0 and hub.connects % every == 0:
            metrics.faults["snapshot_drop"] += 1
            return True
        return False

    def faulty(events: list[StoredEvent]) -> list[StoredEvent]:
        plan = faulty_replay(events, cfg.replay_skip_every, cfg.replay_repeat_every)
        metrics.faults["replay_skip"] += plan.skipped
        metrics.faults["replay_repeat"] += plan.repeated
        metrics.events_replayed_total += len(plan.events)
        return plan.events

    async def events_replay(conv: Conversation, peer: Peer, resend: Resend) -> None:
        """Snapshot and replay. With `--replay-interleave-ms`, live frames flow to the (already subscribed) socket
        for half the time before the snapshot, and for the other half after the first half of the replay, whose
        rest is then read again from the log (so events stored meanwhile come twice), as on the real server."""
        pause = cfg.replay_interleave_ms / 2000.0 if resend.mode != "none" else 0.0
        peer.replaying = pause > 0
        if pause:
            await asyncio.sleep(pause)
        if not snapshot_dropped():
            peer.send(hub.snapshot(conv))
        events = replay_of(conv, resend)
        if not pause:
            for stored in faulty(events):
                peer.send(stored.json)
            return
        head = events[: len(events) // 2]
        sent = faulty_replay(head, cfg.replay_skip_every, cfg.replay_repeat_every).events
        for stored in sent:
            peer.send(stored.json)
        await asyncio.sleep(pause)
        peer.replaying = False
        last = head[-1].seq if head else -1
        whole = head + [e for e in replay_of(conv, resend) if e.seq > last]
        for stored in faulty(whole)[len(sent) :]:
            peer.send(stored.json)

    async def serve(ws: WebSocket, conv: Conversation, peer: Peer) -> None:
        writer = asyncio.ensure_future(peer.pump(ws))
        try:
            while True:
                text = await ws.receive_text()
                await on_frame(conv, peer, text)
        except (WebSocketDisconnect, RuntimeError, KeyError):
            pass
        finally:
            action_limiter.forget(str(peer.serial))
            hub.detach(peer)
            peer.close(1000, "")
            with contextlib.suppress(asyncio.TimeoutError, Exception):
                await asyncio.wait_for(writer, 1.0)
            writer.cancel()

    async def on_frame(conv: Conversation, peer: Peer, text: str) -> None:
        frame = parse_frame(text)
        if isinstance(frame, AuthFrame):
            return  # a second auth frame after authentication is ignored
        if isinstance(frame, BadFrame):
            metrics.bad_input[f"v1_{frame.code}"] += 1
            metrics.v1["server_errors"] += 1
            hub.error_to(peer, frame.code, frame.detail)
            return
        assert isinstance(frame, MessageFrame)
        allowed, _wait = action_limiter.attempt(str(peer.serial), time.monotonic())
        if not allowed:  # not stored: the client may send it again
            metrics.throttles["action_rate"] += 1
            metrics.v1["server_errors"] += 1
            detail = f"Too many messages: at most {cfg.action_rate:g} per second per connection"
            hub.error_to(peer, ACTION_RATE_CODE, detail)
            return
        outcome = await hub.message(conv, frame.text, run=True)
        if outcome == RUN_LIMIT:
            metrics.v1["server_errors"] += 1
            hub.error_to(peer, RUN_LIMIT_CODE, RUN_LIMIT_SOCKET.replace("{id}", conv.id))

    async def events_socket(ws: WebSocket) -> None:
        resend = parse_resend(
            ws.query_params.get("resend_mode"),
            ws.query_params.get("after_timestamp"),
            ws.query_params.get("resend_all"),
        )
        admitted = await admit(ws)
        if admitted is None:
            return
        if resend is None:
            await refuse_403(ws, "v1_bad_resend")
            return
        attached = await attach(ws, admitted[0], admitted[1], EVENTS)
        if attached is None:
            return
        conv, peer = attached
        await events_replay(conv, peer, resend)
        await serve(ws, conv, peer)

    async def session_socket(ws: WebSocket) -> None:
        admitted = await admit(ws)
        if admitted is None:
            return
        try:
            from_seq = parse_after_seq(ws.query_params.get("after_seq"))
        except ValueError:
            await refuse_403(ws, "v1_bad_after_seq")
            return
        attached = await attach(ws, admitted[0], admitted[1], SESSION)
        if attached is None:
            return
        conv, peer = attached
        through = len(conv.log) - 1 if len(conv.log) else None
        peer.send(envelope.sync(from_seq, through))
        if from_seq is not None:
            for stored in faulty(conv.log.after_seq(from_seq)):
                peer.send(stored.durable)
        if not snapshot_dropped():
            peer.send(envelope.transient(hub.snapshot(conv)))
        await serve(ws, conv, peer)

    return [
        WebSocketRoute("/sockets/events/{cid}", events_socket),
        WebSocketRoute("/sockets/session/{cid}", session_socket),
    ]


def replay_of(conv: Conversation, resend: Resend) -> list[StoredEvent]:
    if resend.mode == "all":
        return list(conv.log.events)
    if resend.mode == "since" and resend.since is not None:
        return conv.log.since(resend.since)
    return []
