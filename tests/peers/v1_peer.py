"""A minimal scripted OpenHands V1 agent server for the tests of `loadtest.openhands.v1` (asyncio, `websockets`).

Independent of our reference server (`loadtest/server/`): written from ``../shared/openhands-v1.md``, enough for
the client's tests. Usage::

    python tests/peers/v1_peer.py --key KEY [--event-delay-ms MS] [--socket-cap N] [--refuse-runs N]
        [--replay-skip-every N] [--replay-repeat-every N] [--no-snapshot] [--stream-deltas N] [--token-ms MS]

Prints ``rest <port>`` (REST on a plain asyncio HTTP server: `websockets` reads no request bodies) and then
``listening <port>`` (the sockets). A turn is: ``running``, ``stats``, [deltas], ActionEvent, ObservationEvent,
``finished``, then the transient ``full_state``; ``--event-delay-ms`` is slept before each agent event.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
import json
import socket
import uuid
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

ARGS = argparse.Namespace()
RUN_LIMIT_DETAIL = "Message saved, but the conversation run limit was reached. Retry POST /api/conversations/{}/run"


class Conv:
    def __init__(self, cid: str) -> None:
        self.id = cid
        self.events: list[dict[str, Any]] = []  # stored, in order: seq = index
        self.status = "idle"
        self.subs: dict[ServerConnection, str] = {}  # socket -> "events" | "session"
        self.pending_run = False


CONVS: dict[str, Conv] = {}
STATE = {"refused": 0, "last_ts": datetime.datetime(2000, 1, 1)}


def _now() -> str:
    ts = max(datetime.datetime.now(), STATE["last_ts"] + datetime.timedelta(microseconds=1))
    STATE["last_ts"] = ts
    return ts.isoformat()


def _event(kind: str, source: str, **fields: Any) -> dict[str, Any]:
    return {"id": str(uuid.uuid4()), "timestamp": _now(), "source": source, **fields, "kind": kind}


def _full_state(conv: Conv) -> dict[str, Any]:
    value = {"id": conv.id, "execution_status": conv.status}
    return _event("ConversationStateUpdateEvent", "environment", key="full_state", value=value)


async def _send(ws: ServerConnection, frame: dict[str, Any]) -> None:
    with contextlib.suppress(ConnectionClosed):
        await ws.send(json.dumps(frame))


async def _publish(conv: Conv, event: dict[str, Any], stored: bool = True) -> None:
    if stored:
        conv.events.append(event)
    seq = len(conv.events) - 1
    for ws, kind in list(conv.subs.items()):
        if kind == "events":
            await _send(ws, event)
        else:
            await _send(
                ws, {"type": "durable", "seq": seq, "event": event} if stored else {"type": "transient", "event": event}
            )


async def _state(conv: Conv, key: str, value: Any) -> None:
    await _publish(conv, _event("ConversationStateUpdateEvent", "environment", key=key, value=value))


async def _delay() -> None:
    if ARGS.event_delay_ms:
        await asyncio.sleep(ARGS.event_delay_ms / 1000.0)


async def _run(conv: Conv) -> None:
    conv.status = "running"
    await _state(conv, "execution_status", "running")
    await _delay()
    await _state(conv, "stats", {"usage_to_metrics": {}})
    action_id = str(uuid.uuid4())
    if ARGS.stream_deltas:
        for ws, kind in list(conv.subs.items()):
            if kind == "session":
                await _send(
                    ws, {"type": "item_started", "item_id": action_id, "attempt": 1, "anchor_seq": len(conv.events) - 1}
                )
        for i in range(ARGS.stream_deltas):
            await asyncio.sleep(ARGS.token_ms / 1000.0)
            for ws, kind in list(conv.subs.items()):
                if kind == "events":
                    await _send(ws, _event("StreamingDeltaEvent", "agent", content="tok "))
                else:
                    await _send(
                        ws,
                        {
                            "type": "delta",
                            "item_id": action_id,
                            "attempt": 1,
                            "order": i,
                            "kind": "text",
                            "content": "tok ",
                        },
                    )
    await _delay()
    action = _event("ActionEvent", "agent", tool_name="finish", action={"kind": "FinishAction", "message": "done"})
    action["id"] = action_id
    await _publish(conv, action)
    await _delay()
    await _publish(conv, _event("ObservationEvent", "environment", tool_name="finish", action_id=action_id))
    while conv.pending_run:  # a message that arrived mid-run joins this run
        conv.pending_run = False
        await _delay()
        await _publish(conv, _event("ActionEvent", "agent", tool_name="finish", action={"kind": "FinishAction"}))
    conv.status = "finished"
    await _state(conv, "execution_status", "finished")
    await _publish(conv, _full_state(conv), stored=False)


def _start_run(conv: Conv) -> str:
    """'ok', 'running' or 'refused'."""
    if conv.status == "running":
        conv.pending_run = True
        return "running"
    if STATE["refused"] < ARGS.refuse_runs:
        STATE["refused"] += 1
        return "refused"
    conv.status = "running"
    asyncio.get_running_loop().create_task(_run(conv))
    return "ok"


async def _user_message(conv: Conv, msg: dict[str, Any], run: bool) -> str:
    if conv.status == "finished":
        conv.status = "idle"
        await _state(conv, "execution_status", "idle")
    event = _event("MessageEvent", "user", llm_message={"role": "user", "content": msg.get("content", [])})
    await _publish(conv, event)
    await _state(conv, "last_user_message_id", event["id"])
    return _start_run(conv) if run else "stored"


# -- REST ------------------------------------------------------------------------------------------


def _json_response(status: int, body: Any) -> bytes:
    data = json.dumps(body).encode()
    head = f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\nContent-Type: application/json\r\n"
    return (head + f"Content-Length: {len(data)}\r\n\r\n").encode() + data


def _search(conv: Conv, query: dict[str, list[str]]) -> dict[str, Any]:
    items = list(conv.events)
    if query.get("sort_order", ["TIMESTAMP"])[0] == "TIMESTAMP_DESC":
        items.reverse()
    gte = query.get("timestamp__gte")
    if gte:
        items = [e for e in items if e["timestamp"] >= gte[0]]
    page = query.get("page_id")
    if page:
        ids = [e["id"] for e in items]
        items = items[ids.index(page[0]) :] if page[0] in ids else []
    limit = int(query.get("limit", ["100"])[0])
    nxt = items[limit]["id"] if len(items) > limit else None
    return {"items": items[:limit], "next_page_id": nxt}


async def _rest(method: str, path: str, query: dict[str, list[str]], headers: dict[str, str], body: Any) -> bytes:
    if headers.get("x-session-api-key") != ARGS.key:
        return _json_response(401, {"detail": "Unauthorized"})
    parts = path.strip("/").split("/")  # api conversations [id [events [search]] | run]
    if method == "POST" and parts == ["api", "conversations"]:
        conv = Conv(str(uuid.uuid4()))
        CONVS[conv.id] = conv
        return _json_response(201, {"id": conv.id, "execution_status": "idle", "agent": body.get("agent")})
    conv = CONVS.get(parts[2]) if len(parts) > 2 else None
    if conv is None:
        return _json_response(404, {"detail": f"Conversation not found: {path}"})
    tail = parts[3:]
    if method == "POST" and tail == ["events"]:
        outcome = await _user_message(conv, body, bool(body.get("run")))
        if outcome == "refused":
            return _json_response(429, {"detail": RUN_LIMIT_DETAIL.format(conv.id)})
        return _json_response(200, {"success": True})
    if method == "POST" and tail == ["run"]:
        outcome = _start_run(conv)
        if outcome == "running":
            conv.pending_run = False
            return _json_response(409, {"detail": "Conversation already running."})
        if outcome == "refused":
            return _json_response(429, {"detail": RUN_LIMIT_DETAIL.format(conv.id)})
        return _json_response(200, {"success": True})
    if method == "GET" and tail == ["events", "search"]:
        return _json_response(200, _search(conv, query))
    return _json_response(404, {"detail": "Not Found"})


async def _http(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    _nodelay(writer.transport)
    try:
        while True:
            line = await reader.readline()
            if not line:
                break
            method, target, _ = line.decode().split(" ", 2)
            headers: dict[str, str] = {}
            while (h := await reader.readline()) not in (b"\r\n", b"\n", b""):
                k, v = h.decode().split(":", 1)
                headers[k.strip().lower()] = v.strip()
            n = int(headers.get("content-length", "0"))
            raw = await reader.readexactly(n) if n else b""
            body = json.loads(raw) if raw else {}
            parts = urlsplit(target)
            writer.write(await _rest(method, parts.path, parse_qs(parts.query), headers, body))
            await writer.drain()
    except (ConnectionError, asyncio.IncompleteReadError, ValueError):
        pass
    finally:
        writer.close()


# -- sockets ---------------------------------------------------------------------------------------


def _refuse(connection: ServerConnection, request: Request) -> Response | None:
    parts = urlsplit(request.path)
    query = parse_qs(parts.query)
    key = query.get("session_api_key", [None])[0] or request.headers.get("X-Session-API-Key")
    bits = parts.path.strip("/").split("/")
    bad = len(bits) != 3 or bits[0] != "sockets" or bits[1] not in ("events", "session")
    bad = bad or (key is not None and key != ARGS.key)
    mode = query.get("resend_mode", [None])[0]
    bad = bad or mode not in (None, "all", "since")
    ts = query.get("after_timestamp", [None])[0]
    if ts is not None:
        try:
            datetime.datetime.fromisoformat(ts)
        except ValueError:
            bad = True
    if bad:
        return connection.respond(HTTPStatus.FORBIDDEN, "Forbidden\n")
    return None


async def _replay_events(ws: ServerConnection, conv: Conv, query: dict[str, list[str]]) -> None:
    mode = query.get("resend_mode", [None])[0]
    if mode is None:
        return
    since = query.get("after_timestamp", [None])[0]
    if mode == "since" and since is None:
        return
    n = 0
    for event in list(conv.events):
        if since is not None and event["timestamp"] < since:
            continue
        n += 1
        if ARGS.replay_skip_every and n % ARGS.replay_skip_every == 0:
            continue
        await _send(ws, event)
        if ARGS.replay_repeat_every and n % ARGS.replay_repeat_every == 0:
            await _send(ws, event)


def _nodelay(transport: Any) -> None:
    sock = transport.get_extra_info("socket")
    if sock is not None:  # no Nagle: a frame must not wait for the ACK of the one before
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


async def _handle(ws: ServerConnection) -> None:
    assert ws.request is not None
    _nodelay(ws.transport)
    parts = urlsplit(ws.request.path)
    query = parse_qs(parts.query)
    _, kind, cid = parts.path.strip("/").split("/")
    key = query.get("session_api_key", [None])[0] or ws.request.headers.get("X-Session-API-Key")
    if key is None:
        try:
            first = json.loads(await asyncio.wait_for(ws.recv(), 10.0))
        except (TimeoutError, ValueError, ConnectionClosed):
            first = None
        if not isinstance(first, dict) or first.get("type") != "auth" or first.get("session_api_key") != ARGS.key:
            await ws.close(4001, "Authentication failed")
            return
    conv = CONVS.get(cid)
    if conv is None:
        await ws.close(4004, "Conversation not found")
        return
    if len(conv.subs) >= ARGS.socket_cap:
        await ws.close(1013, "Too many connections for this conversation")
        return
    conv.subs[ws] = kind
    if kind == "events":
        if not ARGS.no_snapshot:
            await _send(ws, _full_state(conv))
        await _replay_events(ws, conv, query)
    else:
        after = query.get("after_seq", [None])[0]
        sync: dict[str, Any] = {"type": "sync"}
        if after is not None:
            sync["from_seq"] = int(after)
        if conv.events:
            sync["through_seq"] = len(conv.events) - 1
        await _send(ws, sync)
        if after is not None:
            for seq in range(int(after) + 1, len(conv.events)):
                if ARGS.replay_skip_every and (seq + 1) % ARGS.replay_skip_every == 0:
                    continue
                await _send(ws, {"type": "durable", "seq": seq, "event": conv.events[seq]})
        await _send(ws, {"type": "transient", "event": _full_state(conv)})
    try:
        async for message in ws:
            try:
                msg = json.loads(message)
            except ValueError:
                msg = None
            if isinstance(msg, dict) and msg.get("role") == "user" and isinstance(msg.get("content"), list):
                if await _user_message(conv, msg, True) == "refused":
                    detail = RUN_LIMIT_DETAIL.format(conv.id)
                    await _send(
                        ws,
                        _event("ServerErrorEvent", "environment", code="ConversationRunLimitExceeded", detail=detail),
                    )
            else:
                await _send(
                    ws, _event("ServerErrorEvent", "environment", code="ValidationError", detail="role Field required")
                )
    except ConnectionClosed:
        pass
    finally:
        conv.subs.pop(ws, None)


def _listen() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(256)
    sock.setblocking(False)
    return sock


async def main() -> None:
    rest_sock, ws_sock = _listen(), _listen()
    server = await asyncio.start_server(_http, sock=rest_sock)
    async with server, serve(_handle, sock=ws_sock, process_request=_refuse, compression=None, ping_interval=None):
        print(f"rest {rest_sock.getsockname()[1]}", flush=True)
        print(f"listening {ws_sock.getsockname()[1]}", flush=True)
        await asyncio.Future()


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--key", required=True)
    p.add_argument("--event-delay-ms", type=float, default=0.0)
    p.add_argument("--socket-cap", type=int, default=48)
    p.add_argument("--refuse-runs", type=int, default=0)
    p.add_argument("--replay-skip-every", type=int, default=0)
    p.add_argument("--replay-repeat-every", type=int, default=0)
    p.add_argument("--no-snapshot", action="store_true")
    p.add_argument("--stream-deltas", type=int, default=0)
    p.add_argument("--token-ms", type=float, default=5.0)
    ARGS = p.parse_args()
    asyncio.run(main())
