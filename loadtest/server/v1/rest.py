"""The V1 agent server's REST (openhands-v1.md §3): `/api/conversations…` behind `X-Session-API-Key`, and the
key-less `/health`, `/alive`, `/ready`, `/server_info`."""

from __future__ import annotations

import hmac
import json
import time
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from loadtest.server.v1 import events as ev
from loadtest.server.v1.hub import JOINED, RUN_LIMIT, STARTED, V1Hub
from loadtest.server.v1.inputs import CreateRequest, normalize_timestamp, parse_create, parse_send, parse_uuid
from loadtest.server.v1.store import Conversation, page

Handler = Callable[[Request], Awaitable[Response]]
VERSION = "loadtest-reference-v1"
SORT_ORDERS = ("TIMESTAMP", "TIMESTAMP_DESC")


def _detail(status: int, detail: object) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status)


def _query_error(name: str, kind: str, msg: str, given: str, ctx: dict[str, object] | None = None) -> JSONResponse:
    item: dict[str, object] = {"type": kind, "loc": ["query", name], "msg": msg, "input": given}
    if ctx:
        item["ctx"] = ctx
    return _detail(422, [item])


def _raw_json(body: str, status: int = 200) -> Response:
    return Response(body, status_code=status, media_type="application/json")


def build_rest_routes(hub: V1Hub) -> list[BaseRoute]:
    cfg = hub.cfg
    started = time.monotonic()
    expected = cfg.session_api_key.encode() if cfg.session_api_key is not None else None

    def guarded(handler: Handler) -> Handler:
        """Only the `X-Session-API-Key` header counts (a query key or a Bearer token does not): else 401."""
        if expected is None:
            return handler

        async def check(request: Request) -> Response:
            given = request.headers.get("x-session-api-key", "").encode()
            if not hmac.compare_digest(given, expected):
                return _detail(401, "Unauthorized")
            return await handler(request)

        return check

    def conversation(request: Request) -> Conversation | Response:
        raw = request.path_params["cid"]
        cid = parse_uuid(raw)
        if cid is None:
            return _detail(422, [{"type": "uuid_parsing", "loc": ["path", "conversation_id"],
                                  "msg": "Input should be a valid UUID", "input": raw}])  # fmt: skip
        conv = hub.conversations.get(cid)
        return conv if conv is not None else _detail(404, f"Conversation not found: {cid}")

    async def body_json(request: Request) -> object:
        raw = await request.body()
        try:
            return json.loads(raw) if raw else None
        except ValueError:
            hub.metrics.bad_input["v1_rest_malformed_json"] += 1
            return _detail(422, [{"type": "json_invalid", "loc": ["body", 0], "msg": "JSON decode error"}])

    async def create(request: Request) -> Response:
        body = await body_json(request)
        if isinstance(body, Response):
            return body
        parsed = parse_create(body)
        if not isinstance(parsed, CreateRequest):
            return _detail(422, parsed)
        existing = hub.conversations.get(parsed.conversation_id) if parsed.conversation_id else None
        if existing is not None:
            return JSONResponse(existing.info(), status_code=200)
        if hub.run_cap_full():
            hub.metrics.throttles["run_limit"] += 1
            return _detail(429, ev.RUN_LIMIT_CREATE)
        conv = hub.create(parsed)
        if parsed.initial_message is not None:
            await hub.message(conv, parsed.initial_message, run=True)
        return JSONResponse(conv.info(), status_code=201)

    async def get_conversation(request: Request) -> Response:
        found = conversation(request)
        return found if isinstance(found, Response) else JSONResponse(found.info())

    async def delete_conversation(request: Request) -> Response:
        found = conversation(request)
        if isinstance(found, Response):
            return found
        await hub.delete(found)
        return JSONResponse({"success": True})

    async def search_conversations(request: Request) -> Response:
        items = [c.info() for c in hub.conversations.values()]
        try:
            limit = int(request.query_params.get("limit", "100"))
        except ValueError:
            return _query_error(
                "limit", "int_parsing", "Input should be a valid integer", request.query_params["limit"]
            )
        return JSONResponse({"items": items[: max(limit, 1)], "next_page_id": None})

    async def count_conversations(request: Request) -> Response:
        return JSONResponse(len(hub.conversations))

    async def send(request: Request) -> Response:
        found = conversation(request)
        if isinstance(found, Response):
            return found
        body = await body_json(request)
        if isinstance(body, Response):
            return body
        parsed = parse_send(body)
        if isinstance(parsed, list):
            return _detail(422, parsed)
        text, run = parsed
        outcome = await hub.message(found, text, run)
        if outcome == RUN_LIMIT:
            return _detail(429, ev.RUN_LIMIT_SOCKET.replace("{id}", found.id))
        return JSONResponse({"success": True})

    async def run(request: Request) -> Response:
        found = conversation(request)
        if isinstance(found, Response):
            return found
        if found.id in hub.running:
            return _detail(409, ev.ALREADY_RUNNING)
        outcome = hub.run(found)
        if outcome == RUN_LIMIT:
            return _detail(429, ev.RUN_LIMIT_CREATE)
        assert outcome in (STARTED, JOINED)
        return JSONResponse({"success": True})

    def filters(request: Request) -> dict[str, str | None] | Response:
        q = request.query_params
        kind = q.get("kind")
        if kind is not None and kind not in ev.STORED_KINDS:
            return _query_error("kind", "literal_error", "Input should be a known event kind", kind)
        out: dict[str, str | None] = {"kind": kind, "source": q.get("source"), "gte": None, "lt": None}
        for name, key in (("timestamp__gte", "gte"), ("timestamp__lt", "lt")):
            raw = q.get(name)
            if raw is not None:
                stamp = normalize_timestamp(raw)
                if stamp is None:
                    return _query_error(name, "datetime_from_date_parsing", "Input should be a valid datetime", raw)
                out[key] = stamp
        return out

    async def search_events(request: Request) -> Response:
        found = conversation(request)
        if isinstance(found, Response):
            return found
        q = request.query_params
        raw_limit = q.get("limit", "100")
        try:
            limit = int(raw_limit)
        except ValueError:
            return _query_error("limit", "int_parsing", "Input should be a valid integer", raw_limit)
        if limit > 100:
            return _query_error("limit", "less_than_equal", "Input should be less than or equal to 100", raw_limit,
                                {"le": 100})  # fmt: skip
        if limit < 1:
            return _query_error("limit", "greater_than", "Input should be greater than 0", raw_limit, {"gt": 0})
        order = q.get("sort_order", "TIMESTAMP")
        if order not in SORT_ORDERS:
            return _query_error("sort_order", "enum", "Input should be 'TIMESTAMP' or 'TIMESTAMP_DESC'", order)
        chosen = filters(request)
        if isinstance(chosen, Response):
            return chosen
        items = found.log.search(chosen["kind"], chosen["source"], chosen["gte"], chosen["lt"], order == SORT_ORDERS[1])
        shown, next_id = page(items, q.get("page_id"), limit)
        body = '{"items":[' + ",".join(e.json for e in shown) + '],"next_page_id":' + json.dumps(next_id) + "}"
        return _raw_json(body)

    async def count_events(request: Request) -> Response:
        found = conversation(request)
        if isinstance(found, Response):
            return found
        chosen = filters(request)
        if isinstance(chosen, Response):
            return chosen
        return JSONResponse(len(found.log.search(chosen["kind"], chosen["source"], chosen["gte"], chosen["lt"])))

    async def health(request: Request) -> Response:
        return JSONResponse("OK")

    async def alive(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def server_info(request: Request) -> Response:
        now = time.monotonic()
        return JSONResponse({"version": VERSION, "sdk_version": VERSION, "uptime": now - started,
                             "idle_time": 0.0, "usable_tools": ["terminal", "file_editor", "finish", "think"],
                             "capabilities": {"api": "v1", "sockets": ["events", "session"]}})  # fmt: skip

    base = "/api/conversations"
    return [
        Route(base, guarded(create), methods=["POST"]),
        Route(base + "/search", guarded(search_conversations), methods=["GET"]),
        Route(base + "/count", guarded(count_conversations), methods=["GET"]),
        Route(base + "/{cid}", guarded(get_conversation), methods=["GET"]),
        Route(base + "/{cid}", guarded(delete_conversation), methods=["DELETE"]),
        Route(base + "/{cid}/events", guarded(send), methods=["POST"]),
        Route(base + "/{cid}/run", guarded(run), methods=["POST"]),
        Route(base + "/{cid}/events/search", guarded(search_events), methods=["GET"]),
        Route(base + "/{cid}/events/count", guarded(count_events), methods=["GET"]),
        Route("/health", health),
        Route("/alive", alive),
        Route("/ready", health),
        Route("/server_info", server_info),
    ]
