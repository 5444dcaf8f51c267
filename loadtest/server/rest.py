"""REST routes around the socket, as OpenHands V0 serves them (protocol doc §9), plus /metrics and /debug."""

from __future__ import annotations

import hmac
import json
import os
import resource
import time
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from loadtest.server.hub import Hub
from loadtest.server.inputs import check_action
from loadtest.server.limits import HandshakeLog
from loadtest.server.metrics import render

Handler = Callable[[Request], Awaitable[Response]]
#: Starlette's lifespan: given the app, a context that is entered at start-up and left at shutdown.
Lifespan = Callable[[object], AbstractAsyncContextManager[None]]
INIT_FIELDS = frozenset(
    {
        "repository", "git_provider", "selected_branch", "initial_user_msg", "image_urls", "replay_json",
        "suggested_task", "create_microagent", "conversation_instructions", "mcp_config",
    }
)  # fmt: skip


def _starting(conversation_id: str) -> Response:
    """OpenHands' ``ConversationResponse`` for a conversation whose agent loop is starting."""
    return JSONResponse(
        {"status": "ok", "conversation_id": conversation_id, "message": None, "conversation_status": "STARTING"}
    )


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"message": message}, status_code=status)


def _int_param(request: Request, name: str, default: int | None) -> int | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    return int(raw)


def build_rest(hub: Hub, handshakes: HandshakeLog, lifespan: Lifespan | None = None) -> Starlette:
    cfg, metrics = hub.cfg, hub.metrics

    def guarded(handler: Handler) -> Handler:
        """`X-Session-API-Key` check on /api/* when the server has a key (constant-time)."""
        if cfg.session_api_key is None:
            return handler
        expected = cfg.session_api_key.encode()

        async def check(request: Request) -> Response:
            given = request.headers.get("x-session-api-key", "").encode()
            if not hmac.compare_digest(given, expected):
                return JSONResponse({"detail": "Invalid session API key"}, status_code=401)
            return await handler(request)

        return check

    async def _json_body(request: Request) -> Any:
        """The request's JSON body (``{}`` when empty), or the 422 answer to a malformed one (counted)."""
        raw = await request.body()
        if not raw:
            return {}
        try:
            return json.loads(raw)
        except ValueError:
            metrics.bad_input["rest_malformed_json"] += 1
            return JSONResponse({"detail": "malformed JSON body"}, status_code=422)

    async def create(request: Request) -> Response:
        body = await _json_body(request)
        if isinstance(body, Response):
            return body
        if not isinstance(body, dict) or set(body) - INIT_FIELDS:
            extra = sorted(set(body) - INIT_FIELDS) if isinstance(body, dict) else []
            return JSONResponse({"detail": [{"type": "extra_forbidden", "loc": ["body", *extra]}]}, status_code=422)
        conv = hub.create_conversation()
        initial = body.get("initial_user_msg")
        await hub.ensure_running(conv, initial_message=initial if isinstance(initial, str) and initial else None)
        return _starting(conv.conversation_id)

    async def list_conversations(request: Request) -> Response:
        try:
            limit = _int_param(request, "limit", 20) or 20
            offset = int(request.query_params.get("page_id") or 0)
        except ValueError:
            return _error(400, "limit and page_id must be integers")
        convs = list(hub.store.conversations.values())
        page = convs[offset : offset + limit]
        next_page = str(offset + limit) if offset + limit < len(convs) else None
        return JSONResponse({"results": [c.info() for c in page], "next_page_id": next_page})

    async def get_conversation(request: Request) -> Response:
        conv = hub.store.get(request.path_params["cid"])
        return JSONResponse(conv.info() if conv else None)

    async def delete_conversation(request: Request) -> Response:
        return JSONResponse(await hub.delete_conversation(request.path_params["cid"]))

    async def get_events(request: Request) -> Response:
        conv = hub.store.get(request.path_params["cid"])
        if conv is None:
            return _error(404, "Conversation not found")
        try:
            start_id = _int_param(request, "start_id", 0) or 0
            end_id = _int_param(request, "end_id", None)
            limit = _int_param(request, "limit", 20)
        except ValueError:
            return _error(400, "start_id, end_id and limit must be integers")
        if limit is None or not 1 <= limit <= 100:
            return _error(400, "limit must be between 1 and 100")
        reverse = request.query_params.get("reverse", "false").lower() == "true"
        chosen, has_more = conv.log.page(start_id, end_id, reverse, limit)
        body = '{"events":[' + ",".join(s.stored_json for s in chosen) + '],"has_more":' + json.dumps(has_more) + "}"
        return Response(body, media_type="application/json")

    async def post_message(request: Request) -> Response:
        conv = hub.store.get(request.path_params["cid"])
        if conv is None or not conv.running:
            return _error(404, "Conversation not running")
        body = await _json_body(request)
        if isinstance(body, Response):
            return body
        if not isinstance(body, dict) or not isinstance(body.get("message"), str):
            return JSONResponse({"detail": 'body must be {"message": "..."}'}, status_code=422)
        metrics.actions_received_total += 1
        await hub.user_message(conv, {"content": body["message"]})
        return JSONResponse({"success": True})

    async def post_event(request: Request) -> Response:
        conv = hub.store.get(request.path_params["cid"])
        if conv is None or not conv.running:
            return _error(404, "Conversation not running")
        body = await _json_body(request)
        if isinstance(body, Response):
            return body
        problem = check_action(body)
        if problem is not None:
            metrics.bad_input[problem] += 1
            return _error(400, problem)
        metrics.actions_received_total += 1
        if body["action"] == "message":
            await hub.user_message(conv, body.get("args") or {})
        else:
            await hub.user_action(conv, body["action"], body.get("args") or {})
        return JSONResponse({"success": True})

    async def start(request: Request) -> Response:
        conv = hub.store.get(request.path_params["cid"])
        if conv is None:
            return _error(404, "Conversation not found")
        await hub.ensure_running(conv)
        return _starting(conv.conversation_id)

    async def stop(request: Request) -> Response:
        conv = hub.store.get(request.path_params["cid"])
        if conv is None:
            return _error(404, "Conversation not found")
        was_running = conv.running
        await hub.stop_loop(conv, announce=True)
        message = "Conversation stopped successfully" if was_running else "Conversation was not running"
        return JSONResponse({"status": "ok", "message": message, "conversation_id": conv.conversation_id})

    async def alive(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def health(request: Request) -> Response:
        return JSONResponse("OK")

    async def server_info(request: Request) -> Response:
        now = time.monotonic()
        usage = resource.getrusage(resource.RUSAGE_SELF)
        load1, load5, load15 = os.getloadavg()
        resources = {
            "cpu_percent": None,
            "cpu_seconds": usage.ru_utime + usage.ru_stime,
            "memory": {"max_rss_kb": usage.ru_maxrss},
            "load_average": [load1, load5, load15],
        }
        return JSONResponse({"uptime": now - hub.started, "idle_time": now - hub.last_activity, "resources": resources})

    async def metrics_route(request: Request) -> Response:
        gauges = {
            "connections": float(len(hub.sid_conversation)),
            "conversations": float(len(hub.store.conversations)),
            "conversations_running": float(len(hub.store.running())),
            "websocket_transports": float(len(hub.transports)),
        }
        return PlainTextResponse(render(metrics, gauges), media_type="text/plain; version=0.0.4")

    async def debug_handshakes(request: Request) -> Response:
        return JSONResponse(handshakes.as_json(time.monotonic()))

    async def debug_conversations(request: Request) -> Response:
        rows: dict[str, Any] = {
            c.conversation_id: {
                "events": len(c.log),
                "agent_state": c.agent_state,
                "running": c.running,
                "sockets": len(c.sids),
                "turns": c.turns_started,
            }
            for c in hub.store.conversations.values()
        }
        return JSONResponse(rows)

    base = "/api/conversations"
    routes = [
        Route(base, guarded(create), methods=["POST"]),
        Route(base, guarded(list_conversations), methods=["GET"]),
        Route(base + "/{cid}", guarded(get_conversation), methods=["GET"]),
        Route(base + "/{cid}", guarded(delete_conversation), methods=["DELETE"]),
        Route(base + "/{cid}/events", guarded(get_events), methods=["GET"]),
        Route(base + "/{cid}/events", guarded(post_event), methods=["POST"]),
        Route(base + "/{cid}/message", guarded(post_message), methods=["POST"]),
        Route(base + "/{cid}/start", guarded(start), methods=["POST"]),
        Route(base + "/{cid}/stop", guarded(stop), methods=["POST"]),
        Route("/alive", alive),
        Route("/health", health),
        Route("/server_info", server_info),
        Route("/metrics", metrics_route),
        Route("/debug/handshakes", debug_handshakes),
        Route("/debug/conversations", debug_conversations),
    ]
    return Starlette(routes=routes, lifespan=lifespan)
