"""Reply choice and OpenAI response shapes (pure functions, no server)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from loadtest.mockllm.replies import (
    BadRequest,
    choose_reply,
    completion,
    fill_arguments,
    first_call_of_turn,
    parse_request,
    split_tokens,
    sse,
    stream_chunks,
    usage_chunk,
)
from loadtest.mockllm.settings import MockSettings
from tests.mockllm.oh_request import (
    EXECUTE_BASH,
    FINISH,
    OLD_FINISH,
    SYSTEM,
    USER,
    after_bash,
    agent_body,
    title_body,
)

BASH = MockSettings(bash=True)


def test_parse_request_reads_tools_stream_and_usage_option() -> None:
    req = parse_request(agent_body(stream=True))
    assert set(req.tools) == {"execute_bash", "think", "finish"}
    assert req.tools["finish"]["required"] == ["message"]
    assert req.stream and req.include_usage and req.model == "mock-model"


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ([], "JSON object"),
        ({"model": "m"}, "messages"),
        ({"messages": []}, "messages"),
        ({"messages": ["hi"]}, "messages"),
    ],
)
def test_parse_request_rejects_non_chat_bodies(body: object, fragment: str) -> None:
    with pytest.raises(BadRequest, match=fragment):
        parse_request(body)


def test_first_call_of_turn_looks_after_the_last_user_message() -> None:
    assert first_call_of_turn((SYSTEM, USER))
    assert not first_call_of_turn(tuple(after_bash()))
    assert first_call_of_turn((*after_bash(), {"role": "user", "content": "next turn"}))


def test_fill_arguments_follows_the_schema() -> None:
    schema = EXECUTE_BASH["function"]["parameters"]
    args = fill_arguments(schema, {"command": "ls", "bogus": 1})
    assert args == {"command": "ls", "security_risk": "LOW"}  # required enum -> first member; unknown dropped
    old = fill_arguments(OLD_FINISH["function"]["parameters"], {"message": "m"})
    assert old == {"message": "m", "task_completed": "true"}
    assert fill_arguments({}, {"message": "m"}) == {"message": "m"}


def test_finish_for_the_1_6_0_schema_has_only_message() -> None:
    reply = choose_reply(parse_request(agent_body()), MockSettings(message="Done."), 7)
    assert reply.kind == "finish" and reply.content is None
    assert reply.tool_call is not None and reply.tool_call.call_id == "call_mock0000000000000007"
    assert json.loads(reply.tool_call.arguments) == {"message": "Done."}
    assert reply.finish_reason == "tool_calls"


def test_finish_for_an_older_schema_sets_task_completed() -> None:
    reply = choose_reply(parse_request(agent_body(tools=[OLD_FINISH])), MockSettings(), 1)
    assert reply.tool_call is not None
    assert json.loads(reply.tool_call.arguments)["task_completed"] == "true"


def test_bash_only_on_the_first_call_of_a_turn() -> None:
    first = choose_reply(parse_request(agent_body()), BASH, 1)
    assert first.kind == "execute_bash" and first.tool_call is not None
    args = json.loads(first.tool_call.arguments)
    assert args["command"] == "echo hello from the mock LLM" and args["security_risk"] == "LOW"
    second = choose_reply(parse_request(agent_body(messages=after_bash())), BASH, 2)
    assert second.kind == "finish"


def test_bash_needs_the_tool_offered_and_the_option_on() -> None:
    assert choose_reply(parse_request(agent_body(tools=[FINISH])), BASH, 1).kind == "finish"
    assert choose_reply(parse_request(agent_body()), MockSettings(), 1).kind == "finish"


def test_text_reply_without_tools_and_padding() -> None:
    reply = choose_reply(parse_request(title_body()), MockSettings(message="Title", pad_tokens=3), 1)
    assert reply.kind == "text" and reply.content == "Title lorem ipsum dolor"
    assert reply.finish_reason == "stop" and reply.tool_call is None


def test_completion_shape() -> None:
    reply = choose_reply(parse_request(agent_body()), MockSettings(), 3)
    body = completion(reply, model="mock-model", response_id="chatcmpl-x", created=1)
    choice = body["choices"][0]
    assert body["object"] == "chat.completion" and choice["finish_reason"] == "tool_calls"
    call = choice["message"]["tool_calls"][0]
    assert call["type"] == "function" and call["function"]["name"] == "finish"
    assert body["usage"]["total_tokens"] == body["usage"]["prompt_tokens"] + body["usage"]["completion_tokens"]


def _deltas(reply_kind_settings: MockSettings, body: dict[str, Any]) -> list[dict[str, Any]]:
    reply = choose_reply(parse_request(body), reply_kind_settings, 1)
    return [c for c, _ in stream_chunks(reply, model="m", response_id="r", created=1)]


def test_stream_tool_call_deltas_reassemble_like_openai() -> None:
    chunks = _deltas(BASH, agent_body(stream=True))
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    head = chunks[1]["choices"][0]["delta"]["tool_calls"][0]
    assert head["id"].startswith("call_") and head["function"] == {"name": "execute_bash", "arguments": ""}
    fragments = [c["choices"][0]["delta"]["tool_calls"][0] for c in chunks[2:-1]]
    assert all(set(f) == {"index", "function"} and f["index"] == 0 for f in fragments)
    args = json.loads("".join(f["function"]["arguments"] for f in fragments))
    assert args["command"] == "echo hello from the mock LLM"
    assert chunks[-1]["choices"][0] == {"index": 0, "delta": {}, "logprobs": None, "finish_reason": "tool_calls"}
    assert all(c["object"] == "chat.completion.chunk" and c["id"] == "r" for c in chunks)


def test_stream_text_deltas_and_usage_chunk() -> None:
    chunks = _deltas(MockSettings(message="Hello there, world"), title_body())
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks)
    assert text == "Hello there, world"
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    reply = choose_reply(parse_request(title_body()), MockSettings(), 1)
    assert usage_chunk(reply, model="m", response_id="r", created=1)["choices"] == []


def test_stream_token_counts_match_the_reply() -> None:
    reply = choose_reply(parse_request(agent_body()), MockSettings(pad_tokens=20), 1)
    carried = sum(n for _, n in stream_chunks(reply, model="m", response_id="r", created=1))
    assert carried == reply.completion_tokens


def test_split_tokens_and_sse() -> None:
    assert split_tokens("") == []
    assert split_tokens("abcdefghi") == ["abcd", "efgh", "i"]
    assert sse("[DONE]") == b"data: [DONE]\n\n"
    assert sse({"a": 1}) == b'data: {"a":1}\n\n'
