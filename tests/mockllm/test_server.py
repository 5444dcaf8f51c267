"""`loadtest mock-llm` in its own process, called over HTTP as litellm/openai would call it."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from tests.mockllm.oh_request import after_bash, agent_body, title_body
from tests.support.procs import PeerProcess

AUTH = {"Authorization": "Bearer sk-mock"}


def mock_llm(*options: str) -> PeerProcess:
    argv = [sys.executable, "-m", "loadtest", "mock-llm", "--host", "127.0.0.1", "--port", "0", *options]
    return PeerProcess(argv)


@pytest.fixture
def llm() -> Iterator[PeerProcess]:
    with mock_llm("--bash") as proc:
        yield proc


def post(base: str, body: dict[str, Any], **kwargs: Any) -> requests.Response:
    return requests.post(f"{base}/v1/chat/completions", json=body, headers=AUTH, timeout=10, **kwargs)


def stats(base: str) -> dict[str, Any]:
    return requests.get(f"{base}/stats", timeout=5).json()


def read_sse(resp: requests.Response) -> list[Any]:
    """The `data:` payloads of an SSE response, decoded (the final `[DONE]` kept as a string)."""
    out: list[Any] = []
    for raw in resp.iter_lines():
        line = raw.decode() if isinstance(raw, bytes) else raw
        if line.startswith("data: "):
            data = line[len("data: ") :]
            out.append(data if data == "[DONE]" else json.loads(data))
    return out


def test_ready_line_and_models(llm: PeerProcess) -> None:
    assert llm.lines[0] == f"loadtest mock-llm listening on http://127.0.0.1:{llm.port}"
    models = requests.get(f"{llm.url}/v1/models", timeout=5).json()
    assert models["object"] == "list" and models["data"][0]["id"] == "mock-model"
    assert requests.get(f"{llm.url}/health", timeout=5).json() == {"status": "ok"}


def test_a_turn_bash_then_finish_not_streaming(llm: PeerProcess) -> None:
    first = post(llm.url, agent_body())
    assert first.status_code == 200 and first.headers["content-type"] == "application/json"
    message = first.json()["choices"][0]["message"]
    call = message["tool_calls"][0]
    assert call["function"]["name"] == "execute_bash"
    assert json.loads(call["function"]["arguments"])["command"] == "echo hello from the mock LLM"
    second = post(llm.url, agent_body(messages=after_bash(call["id"]))).json()
    assert second["choices"][0]["message"]["tool_calls"][0]["function"]["name"] == "finish"
    assert second["choices"][0]["finish_reason"] == "tool_calls"
    title = post(llm.url, title_body()).json()
    assert title["choices"][0]["message"]["content"] == "Hello from the mock LLM."
    assert stats(llm.url)["replies"] == {"execute_bash": 1, "finish": 1, "text": 1}


def test_streaming_tool_call(llm: PeerProcess) -> None:
    with post(llm.url, agent_body(stream=True), stream=True) as resp:
        assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/event-stream")
        events = read_sse(resp)
    assert events[-1] == "[DONE]"
    chunks = events[:-1]
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["completion_tokens"] > 0
    calls = [d["tool_calls"][0] for c in chunks[:-1] if "tool_calls" in (d := c["choices"][0]["delta"])]
    assert calls[0]["function"]["name"] == "execute_bash" and calls[0]["id"].startswith("call_")
    args = json.loads("".join(c["function"]["arguments"] for c in calls))
    assert args == {"command": "echo hello from the mock LLM", "is_input": "false", "security_risk": "LOW"}
    assert chunks[-2]["choices"][0]["finish_reason"] == "tool_calls"
    assert stats(llm.url)["streamed"] == 1


def test_injected_429_with_retry_after_and_stats() -> None:
    with mock_llm("--fail-every", "2", "--retry-after", "3") as llm:
        codes = [post(llm.url, agent_body(messages=after_bash())) for _ in range(4)]
        assert [r.status_code for r in codes] == [200, 429, 200, 429]
        assert codes[1].headers["Retry-After"] == "3"
        assert codes[1].json()["error"]["code"] == "rate_limit_exceeded"
        assert post(llm.url, title_body()).status_code == 200  # default scope: agent calls only
        assert requests.post(f"{llm.url}/v1/chat/completions", data=b"{", timeout=5).status_code == 400
        got = stats(llm.url)
        assert got["calls"] == 6
        assert got["outcomes"] == {"bad_request": 1, "ok": 3, "rate_limited": 2}
        assert got["replies"] == {"finish": 2, "text": 1}


def test_faults_can_be_changed_while_running(llm: PeerProcess) -> None:
    plan = requests.post(f"{llm.url}/faults", json={"share": 1.0, "status": 503}, timeout=5).json()
    assert plan["share"] == 1.0 and plan["status"] == 503
    failed = post(llm.url, agent_body())
    assert failed.status_code == 503 and "Retry-After" not in failed.headers
    assert requests.post(f"{llm.url}/faults", json={"every": "x"}, timeout=5).status_code == 400
    requests.post(f"{llm.url}/faults", json={}, timeout=5)
    assert post(llm.url, agent_body()).status_code == 200
    assert stats(llm.url)["outcomes"] == {"error": 1, "ok": 1}


def test_latency_and_token_pace() -> None:
    # 40 pad words + the message: 62 tokens of 4 characters; at 100 tokens/s that is >= 0.6 s of pacing
    with mock_llm("--latency-ms", "300", "--tokens-per-second", "100", "--pad-tokens", "40") as llm:
        start = time.monotonic()
        arrivals: list[float] = []
        with post(llm.url, {**title_body(), "stream": True}, stream=True) as resp:
            for line in resp.iter_lines():
                if line:
                    arrivals.append(time.monotonic() - start)
        assert arrivals[0] >= 0.3
        assert arrivals[-1] - arrivals[0] >= 0.55
        assert len(arrivals) > 60  # one chunk per token
        start = time.monotonic()
        assert post(llm.url, title_body()).status_code == 200
        assert time.monotonic() - start >= 0.85


def test_refuses_unsafe_command_and_non_loopback_host() -> None:
    import subprocess

    base = [sys.executable, "-m", "loadtest", "mock-llm", "--port", "0"]
    bad = subprocess.run([*base, "--bash-command", "rm -rf /tmp/x"], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "--bash-command" in bad.stderr
    wide = subprocess.run([*base, "--host", "0.0.0.0"], capture_output=True, text=True, timeout=60)
    assert wide.returncode == 2 and "loopback" in wide.stderr
