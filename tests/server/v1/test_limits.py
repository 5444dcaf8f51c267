"""The V1 run cap (10 running conversations) over the socket and REST, and streamed deltas at the set rate."""

from __future__ import annotations

import threading
from datetime import datetime

import requests

from tests.server.v1.support import HEADERS, Frame, Socket, create, is_end, message, metrics, serve

RUN_LIMIT_DETAIL = (
    "Message saved, but the conversation run limit was reached. "
    "Retry POST /api/conversations/{id}/run without resending the message."
)
BODY = {"role": "user", "content": [{"type": "text", "text": "go"}], "run": True}


def test_twelve_socket_sends_ten_run_two_get_the_run_limit_error() -> None:
    with serve("--event-delay-ms", "150", "--script", "run,finish") as srv:
        cids = [create(srv.url) for _ in range(12)]
        socks = [Socket.open(srv.url, "events", cid) for cid in cids]
        for sock in socks:
            sock.recv()
        threads = [threading.Thread(target=s.send, args=(message("go"),)) for s in socks]
        for t in threads:
            t.start()
        for t in threads:
            t.join(5)
        ran, refused = [], []
        for cid, sock in zip(cids, socks, strict=True):
            got = sock.until(lambda f: f["kind"] == "ServerErrorEvent" or f.get("value") == "running")
            assert any(f["kind"] == "MessageEvent" for f in got), cid  # stored either way
            if got[-1]["kind"] == "ServerErrorEvent":
                assert got[-1]["code"] == "ConversationRunLimitExceeded"
                assert got[-1]["detail"] == RUN_LIMIT_DETAIL.replace("{id}", cid)
                refused.append((cid, sock))
            else:
                ran.append(sock)
        assert (len(ran), len(refused)) == (10, 2)
        create_now = requests.post(
            f"{srv.url}/api/conversations",
            headers=HEADERS,
            timeout=5,
            json={"agent": {"llm": {"model": "m"}}, "workspace": {"working_dir": "/w"}},
        )
        assert create_now.status_code == 429
        assert create_now.json() == {"detail": "Conversation run limit reached. Retry the request later."}
        for _, sock in refused:  # never goes running by itself
            assert not any(f.get("value") == "running" for f in sock.quiet(0.2))
        for sock in ran:
            sock.until(is_end)
        for cid, sock in refused:  # retry POST …/run without resending: the stored message runs
            assert (
                requests.post(f"{srv.url}/api/conversations/{cid}/run", headers=HEADERS, timeout=5).status_code == 200
            )
            turn = sock.until(is_end)
            assert not any(f["kind"] == "MessageEvent" for f in turn)
        assert metrics(srv.url)['loadtest_throttles_total{kind="run_limit"}'] == 3
        for sock in socks:
            sock.close()


def test_rest_run_true_at_the_cap_is_429() -> None:
    with serve("--event-delay-ms", "150", "--script", "run,finish", "--max-runs", "3") as srv:
        cids = [create(srv.url) for _ in range(5)]
        answers: dict[str, requests.Response] = {}

        def send(cid: str) -> None:
            answers[cid] = requests.post(
                f"{srv.url}/api/conversations/{cid}/events", json=BODY, headers=HEADERS, timeout=5
            )

        threads = [threading.Thread(target=send, args=(cid,)) for cid in cids]
        for t in threads:
            t.start()
        for t in threads:
            t.join(5)
        codes = sorted(a.status_code for a in answers.values())
        assert codes == [200, 200, 200, 429, 429]
        for cid, answer in answers.items():
            if answer.status_code == 429:
                assert answer.json() == {"detail": RUN_LIMIT_DETAIL.replace("{id}", cid)}
                count = requests.get(f"{srv.url}/api/conversations/{cid}/events/count", headers=HEADERS, timeout=5)
                assert count.json() == 4  # system prompt, message, last_user_message_id, title stats: stored
                busy = requests.post(f"{srv.url}/api/conversations/{cid}/run", headers=HEADERS, timeout=5)
                assert busy.status_code == 429


def deltas(frames: list[Frame]) -> list[int]:
    return [i for i, f in enumerate(frames) if f.get("kind") == "StreamingDeltaEvent"]


def test_streamed_deltas_come_at_the_set_rate_before_the_event_they_build() -> None:
    rate, tokens = 50.0, 5
    with serve(
        "--event-delay-ms", "20", "--script", "run,finish", "--stream-rate", str(rate), "--stream-tokens", str(tokens)
    ) as srv:
        cid = create(srv.url, stream=True)
        events = Socket.open(srv.url, "events", cid)
        session = Socket.open(srv.url, "session", cid)
        events.recv()
        session.recv()
        session.recv()
        events.send(message("stream please"))
        events.until(is_end)
        session.until(is_end)
        got = events.frames
        at = deltas(got)
        assert len(at) == 2 * tokens  # two LLM replies (terminal, finish)
        for start in (at[0], at[tokens]):
            run = list(range(start, start + tokens))
            assert at[at.index(start) : at.index(start) + tokens] == run
            # the server's own stamps (µs): delta k at k/rate after the first, on an absolute schedule
            times = [datetime.fromisoformat(str(got[i]["timestamp"])) for i in run]
            offsets = [(t - times[0]).total_seconds() * 1000 for t in times]
            assert all(abs(off - k * 1000 / rate) <= 8 for k, off in enumerate(offsets)), offsets  # shared 2 vCPUs
            span = (events.stamps[run[-1]] - events.stamps[run[0]]) * 1000  # and as received here
            assert (tokens - 1) * 1000 / rate - 5 <= span <= (tokens - 1) * 1000 / rate + 30, span
            nxt = next(f for f in got[run[-1] + 1 :] if f.get("key") != "stats")
            assert nxt["kind"] == "ActionEvent"
        assert len({got[i]["id"] for i in at}) == len(at)
        stored = requests.get(f"{srv.url}/api/conversations/{cid}/events/search", headers=HEADERS, timeout=5).json()
        assert not any(e["kind"] == "StreamingDeltaEvent" for e in stored["items"])
        items = [f for f in session.frames if f["type"] in ("item_started", "delta")]
        started = [f for f in items if f["type"] == "item_started"]
        assert len(started) == 2 and len(items) == 2 + 2 * tokens
        for item in started:
            pieces = [f for f in items if f["type"] == "delta" and f["item_id"] == item["item_id"]]
            assert [p["order"] for p in pieces] == list(range(tokens))
            durable = next(f for f in session.frames if f["type"] == "durable" and f["event"]["id"] == item["item_id"])  # type: ignore[index]
            assert durable["event"]["kind"] == "ActionEvent" and durable["seq"] == item["anchor_seq"] + 2  # type: ignore[index,operator]
        assert metrics(srv.url)['loadtest_v1_total{kind="stream_deltas"}'] == 2 * tokens
        events.close()
        session.close()


def test_action_rate_per_socket_refuses_with_a_server_error() -> None:
    with serve("--event-delay-ms", "1", "--script", "finish", "--action-rate", "2") as srv:
        cid = create(srv.url)
        sock = Socket.open(srv.url, "events", cid)
        sock.recv()
        for n in range(3):
            sock.send(message(f"m{n}"))
        got = sock.until(lambda f: f["kind"] == "ServerErrorEvent")
        assert got[-1]["code"] == "ActionRateLimited"
        sock.quiet(0.3)
        count = requests.get(
            f"{srv.url}/api/conversations/{cid}/events/search",
            params={"kind": "MessageEvent"},
            headers=HEADERS,
            timeout=5,
        ).json()["items"]
        assert len(count) == 2  # the refused message was not stored
        assert metrics(srv.url)['loadtest_throttles_total{kind="action_rate"}'] == 1
        sock.close()
