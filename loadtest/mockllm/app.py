"""The mock LLM's HTTP surface (Starlette): chat completions, models, stats and health.

Routes: `POST /v1/chat/completions` (also `/chat/completions`), `GET /v1/models`, `GET /stats`, `GET /health`,
and `GET|POST /faults` to read or replace the fault plan while running (JSON fields of `FaultPlan`).
The `Authorization` header is accepted and ignored; it is never logged or stored.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import asdict

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from loadtest.mockllm.replies import (
    BadRequest,
    ChatRequest,
    Reply,
    choose_reply,
    completion,
    echo_model,
    parse_request,
    sse,
    stream_chunks,
    usage_chunk,
)
from loadtest.mockllm.schedule import FaultSchedule
from loadtest.mockllm.settings import FaultPlan, MockSettings


class Stats:
    """Call counters served at `GET /stats`."""

    def __init__(self) -> None:
        self.started_at = time.time()
        self.calls = 0
        self.outcomes: Counter[str] = Counter()
        self.replies: Counter[str] = Counter()
        self.streamed = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self.models_calls = 0

    def to_dict(self) -> dict[str, object]:
        return {
            "calls": self.calls,
            "outcomes": dict(sorted(self.outcomes.items())),
            "replies": dict(sorted(self.replies.items())),
            "streamed": self.streamed,
            "in_flight": self.in_flight,
            "max_in_flight": self.max_in_flight,
            "models_calls": self.models_calls,
            "uptime_s": round(time.time() - self.started_at, 3),
        }


class MockLLM:
    """Request handlers sharing one settings object, one fault schedule and one set of counters."""

    def __init__(self, settings: MockSettings) -> None:
        self.settings = settings
        self.schedule = FaultSchedule(settings.faults)
        self.stats = Stats()
        self._jitter = random.Random(settings.faults.seed + 1)

    def _first_byte_delay(self, agent_call: bool) -> float:
        s = self.settings
        base = s.latency_ms if agent_call or s.text_latency_ms is None else s.text_latency_ms
        jitter = self._jitter.random() * s.jitter_ms if s.jitter_ms else 0.0
        return (base + jitter) / 1000.0

    async def chat(self, request: Request) -> Response:
        try:
            body = json.loads(await request.body())
            chat = parse_request(body)
        except (ValueError, UnicodeDecodeError) as exc:
            self.stats.calls += 1
            self.stats.outcomes["bad_request"] += 1
            message = str(exc) if isinstance(exc, BadRequest) else "body is not valid JSON"
            error = {"message": message, "type": "invalid_request_error", "param": None, "code": None}
            return JSONResponse({"error": error}, status_code=400)
        self.stats.calls += 1
        number = self.stats.calls
        agent_call = bool(chat.tools)
        fault = self.schedule.decide(agent_call=agent_call)
        delay = self._first_byte_delay(agent_call)
        if fault is not None:
            self.stats.outcomes[fault.outcome] += 1
            if delay:
                await asyncio.sleep(delay)
            return JSONResponse(fault.body(), status_code=fault.status, headers=fault.headers())
        reply = choose_reply(chat, self.settings, number)
        self.stats.outcomes["ok"] += 1
        self.stats.replies[reply.kind] += 1
        model = echo_model(chat.model, self.settings.model)
        response_id, created = f"chatcmpl-mock{number:08d}", int(time.time())
        if chat.stream:
            self.stats.streamed += 1
            stream = self._stream(chat, reply, model, response_id, created, delay)
            return StreamingResponse(stream, media_type="text/event-stream", headers={"Cache-Control": "no-cache"})
        self._enter()
        try:
            tps = self.settings.tokens_per_second
            await asyncio.sleep(delay + (reply.completion_tokens / tps if tps else 0.0))
        finally:
            self._leave()
        return JSONResponse(completion(reply, model=model, response_id=response_id, created=created))

    async def _stream(
        self, chat: ChatRequest, reply: Reply, model: str, response_id: str, created: int, delay: float
    ) -> AsyncIterator[bytes]:
        self._enter()
        try:
            if delay:
                await asyncio.sleep(delay)
            tps = self.settings.tokens_per_second
            start, sent_tokens = time.monotonic(), 0
            for data, tokens in stream_chunks(reply, model=model, response_id=response_id, created=created):
                sent_tokens += tokens
                if tps and tokens:
                    wait = start + sent_tokens / tps - time.monotonic()
                    if wait > 0:
                        await asyncio.sleep(wait)
                yield sse(data)
            if chat.include_usage:
                yield sse(usage_chunk(reply, model=model, response_id=response_id, created=created))
            yield sse("[DONE]")
        finally:
            self._leave()

    def _enter(self) -> None:
        self.stats.in_flight += 1
        self.stats.max_in_flight = max(self.stats.max_in_flight, self.stats.in_flight)

    def _leave(self) -> None:
        self.stats.in_flight -= 1

    async def models(self, request: Request) -> Response:
        self.stats.models_calls += 1
        model = {"id": self.settings.model, "object": "model", "created": 0, "owned_by": "loadtest"}
        return JSONResponse({"object": "list", "data": [model]})

    async def stats_view(self, request: Request) -> Response:
        return JSONResponse(self.stats.to_dict())

    async def faults(self, request: Request) -> Response:
        """`GET` shows the fault plan; `POST` replaces it (fields of FaultPlan; omitted ones take defaults)."""
        if request.method == "POST":
            try:
                body = json.loads(await request.body() or b"{}")
                if not isinstance(body, dict):
                    raise ValueError("body must be a JSON object")
                plan = FaultPlan(**{k: v for k, v in body.items() if k in FaultPlan.__dataclass_fields__})
            except (TypeError, ValueError) as exc:
                return JSONResponse({"error": str(exc)}, status_code=400)
            self.schedule = FaultSchedule(plan)
        return JSONResponse(asdict(self.schedule.plan))

    async def health(self, request: Request) -> Response:
        return JSONResponse({"status": "ok"})


def build_app(settings: MockSettings) -> Starlette:
    """The ASGI app; `app.state.mock` is the MockLLM behind it."""
    mock = MockLLM(settings)
    app = Starlette(
        routes=[
            Route("/v1/chat/completions", mock.chat, methods=["POST"]),
            Route("/chat/completions", mock.chat, methods=["POST"]),
            Route("/v1/models", mock.models, methods=["GET"]),
            Route("/models", mock.models, methods=["GET"]),
            Route("/stats", mock.stats_view, methods=["GET"]),
            Route("/faults", mock.faults, methods=["GET", "POST"]),
            Route("/health", mock.health, methods=["GET"]),
        ]
    )
    app.state.mock = mock
    return app
