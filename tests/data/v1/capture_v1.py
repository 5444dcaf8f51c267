"""Capture the V1 test vectors of this folder from a running OpenHands agent server (or any V1 server).

    python tests/data/v1/capture_v1.py --url http://127.0.0.1:18400 --key-env OH_KEY \
        --llm-base-url http://127.0.0.1:18410/v1 --workspace /tmp/run/workspace/project --out /tmp/vectors

The session key is read from the environment variable named by `--key-env` (never from the command line) and
written as `<session-key>`. The LLM should be a mock that always ends a turn with `finish` (and calls
`terminal` first when the conversation has that tool), answering at once. Conventions of the output (see
README.md): line 1 of a `.jsonl` is `{"meta":…}`, then `{"t_ms":…,"server"|"client":frame}`; strings over 240
characters are cut to 120 + "…"; the key, the workspace path and the LLM key are replaced. The interleaved
files keep only the fields README.md lists (no folding of long replays here). Only loopback targets.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlparse

import requests
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect

LLM_KEY = "sk-mock"
KEEP = ("id", "timestamp", "source", "kind", "key", "tool_name")


class Capture:
    def __init__(self, url: str, key: str, llm_base_url: str, workspace: str, model: str) -> None:
        host = urlparse(url).hostname or ""
        if not (host.startswith("127.") or host in ("localhost", "::1")):
            raise SystemExit(f"capture_v1: {url} is not a loopback address; only local servers are captured")
        self.url, self.key, self.workspace = url.rstrip("/"), key, workspace
        self.llm: dict[str, Any] = {"model": model, "base_url": llm_base_url, "api_key": LLM_KEY}
        self.headers = {"X-Session-API-Key": key}

    # --- sanitizing -----------------------------------------------------------------------------------

    def clean(self, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: self.clean(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.clean(v) for v in value]
        if isinstance(value, str):
            text = value.replace(self.key, "<session-key>").replace(self.workspace, "<workspace>")
            return text[:120] + "…" if len(text) > 240 else text
        return value

    # --- REST -----------------------------------------------------------------------------------------

    def create(self, tools: list[str] | None = None, stream: bool = False) -> dict[str, Any]:
        llm: dict[str, Any] = {**self.llm, "stream": True} if stream else dict(self.llm)
        body: dict[str, Any] = {
            "agent": {"llm": llm, "tools": [{"name": t} for t in tools or []]},
            "workspace": {"working_dir": self.workspace},
        }
        resp = requests.post(f"{self.url}/api/conversations", json=body, headers=self.headers, timeout=60)
        resp.raise_for_status()
        return {"request": body, "status": resp.status_code, "body": resp.json()}

    def stored(self, cid: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        page: str | None = None
        while True:
            params: dict[str, Any] = {"limit": 100, **({"page_id": page} if page else {})}
            got = requests.get(
                f"{self.url}/api/conversations/{cid}/events/search", params=params, headers=self.headers, timeout=30
            ).json()
            items.extend(got["items"])
            page = got["next_page_id"]
            if not page:
                return items

    # --- sockets --------------------------------------------------------------------------------------

    def open(self, kind: str, cid: str, via: str = "frame", **query: str) -> ClientConnection:
        headers = {"X-Session-API-Key": self.key} if via == "header" else {}
        if via == "query":
            query = {"session_api_key": self.key, **query}
        url = self.url.replace("http", "ws", 1) + f"/sockets/{kind}/{cid}" + ("?" + urlencode(query) if query else "")
        conn = connect(url, additional_headers=headers, max_size=None, open_timeout=30, legacy=True)
        if via == "frame":
            conn.send(json.dumps({"type": "auth", "session_api_key": self.key}))
        return conn

    def record(
        self, conn: ClientConnection, until: Any, quiet: float = 2.0, limit: float = 60.0, start: float | None = None
    ) -> list[dict[str, Any]]:
        """(t_ms since `start`, frame) rows until `until(frames)` holds or nothing arrives for `quiet` seconds."""
        rows: list[dict[str, Any]] = []
        start = time.perf_counter() if start is None else start
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            try:
                frame = json.loads(conn.recv(quiet))
            except (TimeoutError, ConnectionClosed):
                break
            rows.append({"t_ms": round((time.perf_counter() - start) * 1000, 1), "server": frame})
            if until([r["server"] for r in rows]):
                break
        return rows

    def write(self, out: Path, name: str, meta: dict[str, Any], rows: list[dict[str, Any]]) -> None:
        lines = [json.dumps({"meta": meta}, ensure_ascii=False)]
        lines += [json.dumps(self.clean(r), ensure_ascii=False) for r in rows]
        (out / name).write_text("\n".join(lines) + "\n", encoding="utf-8")

    def meta(self, kind: str, cid: str, **extra: Any) -> dict[str, Any]:
        info = requests.get(f"{self.url}/server_info", timeout=10).json()
        return {
            "server": f"{info.get('version')} (sdk {info.get('sdk_version')})",
            "socket": kind,
            "url": f"{self.url.replace('http', 'ws', 1)}/sockets/{kind}/{cid}",
            **extra,
        }


def ended(frames: list[dict[str, Any]]) -> bool:
    """A turn ended: the last frame is a `full_state` whose status is not running (after a MessageEvent)."""
    last: dict[str, Any] = frames[-1].get("event", frames[-1]) if frames else {}
    seen_message = any(f.get("event", f).get("kind") == "MessageEvent" for f in frames)
    value = last.get("value")
    value = value if isinstance(value, dict) else {}
    return seen_message and last.get("key") == "full_state" and value.get("execution_status") != "running"


def user(text: str) -> str:
    return json.dumps({"role": "user", "content": [{"type": "text", "text": text}]})


def reduce(frame: dict[str, Any]) -> dict[str, Any]:
    out = {k: frame[k] for k in KEEP if k in frame}
    if frame.get("key") in ("execution_status", "last_user_message_id"):
        out["value"] = frame["value"]
    elif frame.get("key") == "full_state":
        out["value"] = {"execution_status": frame["value"].get("execution_status")}
    return out


def basic_turn(cap: Capture, out: Path) -> str:
    cid = cap.create()["body"]["id"]
    conn = cap.open("events", cid)
    start = time.perf_counter()
    rows = cap.record(conn, lambda f: len(f) == 1, start=start)
    for text in ("hello over the socket", "second message over the socket"):
        rows.append({"t_ms": round((time.perf_counter() - start) * 1000, 1), "client": json.loads(user(text))})
        conn.send(user(text))
        rows.extend(cap.record(conn, ended, start=start))
    conn.close()
    cap.write(out, "events-basic-turn.jsonl", cap.meta("events", cid, auth="first client frame (not shown)"), rows)
    return cid


def resume_since(cap: Capture, out: Path, cid: str) -> None:
    conn = cap.open("events", cid)
    conn.recv(30)
    for n in range(3):
        conn.send(user(f"more {n}"))
        cap.record(conn, ended)
    conn.close()
    stored = cap.stored(cid)
    stamp = stored[len(stored) // 2]["timestamp"]
    conn = cap.open("events", cid, resend_mode="since", after_timestamp=stamp)
    rows = cap.record(conn, lambda f: False, quiet=1.0)
    conn.close()
    cap.write(
        out,
        "events-resume-since.jsonl",
        cap.meta("events", cid, after_timestamp=stamp, stored_events=len(stored)),
        rows,
    )
    last = len(stored) - 1
    conn = cap.open("session", cid, after_seq=str(last - 2))
    rows = cap.record(conn, lambda f: f[-1].get("type") == "transient", quiet=1.0)
    conn.close()
    cap.write(out, "session-resume-after-seq.jsonl", cap.meta("session", cid, after_seq=last - 2), rows)


def interleaved(cap: Capture, out: Path, cid: str, wait_ms: float, name: str) -> None:
    sender = cap.open("events", cid)
    sender.recv(30)
    sender.send(user("interleave"))
    time.sleep(wait_ms / 1000.0)
    conn = cap.open("events", cid, resend_mode="all")
    rows = cap.record(conn, lambda f: False, quiet=1.5)
    conn.close()
    sender.close()
    reduced = [{"t_ms": r["t_ms"], "server": reduce(r["server"])} for r in rows]
    cap.write(out, name, cap.meta("events", cid, resend_mode="all", opened_after_send_ms=wait_ms), reduced)


def session_run(cap: Capture, out: Path) -> None:
    cid = cap.create(tools=["terminal"])["body"]["id"]
    conn = cap.open("session", cid)
    sender = cap.open("events", cid)
    sender.recv(30)
    sender.send(user("please list files"))
    rows = cap.record(conn, ended)
    conn.close()
    sender.close()
    cap.write(out, "session-socket-run.jsonl", cap.meta("session", cid, tools=["terminal"]), rows)


def stream_turn(cap: Capture, out: Path) -> None:
    cid = cap.create(tools=["terminal"], stream=True)["body"]["id"]
    events, session = cap.open("events", cid), cap.open("session", cid)
    got: dict[str, list[dict[str, Any]]] = {}
    readers = [
        threading.Thread(target=lambda k=k, c=c: got.__setitem__(k, cap.record(c, ended)))
        for k, c in (("events", events), ("session", session))
    ]
    for reader in readers:
        reader.start()
    time.sleep(0.5)
    events.send(user("please list files"))
    for reader in readers:
        reader.join(90)
    for kind, conn in (("events", events), ("session", session)):
        conn.close()
        cap.write(out, f"stream-turn-{kind}.jsonl", cap.meta(kind, cid, create="llm.stream=true"), got.get(kind, []))


def auth_case(cap: Capture, kind: str, cid: str, case: str, silent_wait: float) -> dict[str, Any]:
    wrong = {"session_api_key": "wrong"}
    plans: dict[str, tuple[dict[str, str], dict[str, str], str | None]] = {
        "query_right": ({"session_api_key": cap.key}, {}, None),
        "header_right": ({}, {"X-Session-API-Key": cap.key}, None),
        "frame_right": ({}, {}, json.dumps({"type": "auth", "session_api_key": cap.key})),
        "query_wrong": (wrong, {}, None),
        "header_wrong": ({}, {"X-Session-API-Key": "wrong"}, None),
        "query_empty": ({"session_api_key": ""}, {}, None),
        "query_wrong_header_right": (wrong, {"X-Session-API-Key": cap.key}, None),
        "frame_wrong": ({}, {}, json.dumps({"type": "auth", "session_api_key": "wrong"})),
        "frame_auth_missing_key": ({}, {}, json.dumps({"type": "auth"})),
        "frame_not_json": ({}, {}, "hello"),
        "no_key_silent": ({}, {}, None),
    }
    query, headers, first = plans[case]
    url = cap.url.replace("http", "ws", 1) + f"/sockets/{kind}/{cid}" + ("?" + urlencode(query) if query else "")
    row: dict[str, Any] = {
        "case": case,
        "socket": kind,
        "handshake": None,
        "first_frame": None,
        "close_code": None,
        "close_reason": None,
        "closed_after_ms": None,
    }
    start = time.perf_counter()
    try:
        conn = connect(url, additional_headers=headers, open_timeout=30, legacy=True)
    except InvalidStatus as exc:
        row["handshake"] = f"HTTP {exc.response.status_code}"
        return row
    row["handshake"] = "accepted (101)"
    if first is not None:
        conn.send(first)
    try:
        frame = json.loads(conn.recv(silent_wait if case == "no_key_silent" else 4.0))
        row["first_frame"] = f"{frame.get('kind', frame.get('type'))} key={frame.get('key')}"
    except TimeoutError:
        pass
    except ConnectionClosed as exc:
        if exc.rcvd is not None:
            row["close_code"], row["close_reason"] = exc.rcvd.code, exc.rcvd.reason
        row["closed_after_ms"] = round((time.perf_counter() - start) * 1000)
    conn.close()
    return row


def auth_and_rest(cap: Capture, out: Path, cid: str, silent_wait: float) -> None:
    cases = [
        "query_right",
        "header_right",
        "frame_right",
        "query_wrong",
        "header_wrong",
        "query_empty",
        "query_wrong_header_right",
        "frame_wrong",
        "frame_auth_missing_key",
        "frame_not_json",
        "no_key_silent",
    ]
    rows = [auth_case(cap, kind, cid, case, silent_wait) for kind in ("events", "session") for case in cases]
    rest = []
    for path, headers in (
        (f"/api/conversations/{cid}", {}),
        (f"/api/conversations/{cid}", cap.headers),
        ("/health", {}),
        ("/alive", {}),
        ("/ready", {}),
        ("/server_info", {}),
    ):
        resp = requests.get(cap.url + path, headers=headers, timeout=10)
        rest.append({"path": path, "key": bool(headers), "status": resp.status_code})
    doc = {"meta": cap.meta("-", cid), "websocket": rows, "rest": rest}
    (out / "auth-table.json").write_text(json.dumps(cap.clean(doc), indent=1, ensure_ascii=False) + "\n")
    created = cap.create()
    body = created["request"]
    again = requests.post(
        f"{cap.url}/api/conversations",
        json={**body, "conversation_id": created["body"]["id"]},
        headers=cap.headers,
        timeout=30,
    )
    outcomes: list[dict[str, Any]] = [
        {"case": "same body with an existing conversation_id", "status": again.status_code}
    ]
    for bad in (
        {"agent": body["agent"]},
        {"workspace": body["workspace"]},
        {"agent": {"llm": {"base_url": cap.llm["base_url"]}}, "workspace": body["workspace"]},
    ):
        resp = requests.post(f"{cap.url}/api/conversations", json=bad, headers=cap.headers, timeout=30)
        outcomes.append({"case": "invalid body", "body_sent": bad, "status": resp.status_code, "response": resp.json()})
    doc = {
        "meta": cap.meta("-", created["body"]["id"]),
        "request": body,
        "response": {"status": created["status"], "body": created["body"]},
        "other_outcomes": outcomes,
    }
    (out / "rest-create.json").write_text(json.dumps(cap.clean(doc), indent=1, ensure_ascii=False) + "\n")
    base = f"{cap.url}/api/conversations/{cid}/events"
    first = requests.get(f"{base}/search", params={"limit": 3}, headers=cap.headers, timeout=30)
    count = requests.get(f"{base}/count", headers=cap.headers, timeout=30)
    too_many = requests.get(f"{base}/search", params={"limit": 101}, headers=cap.headers, timeout=30)
    doc = {
        "meta": cap.meta("-", cid),
        "response": {"status": first.status_code, "body": first.json()},
        "count": {"status": count.status_code, "body": count.json()},
        "limit_101": {"status": too_many.status_code, "body": too_many.json()},
    }
    (out / "rest-events-search.json").write_text(json.dumps(cap.clean(doc), indent=1, ensure_ascii=False) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", required=True, help="the agent server, e.g. http://127.0.0.1:18400")
    parser.add_argument("--key-env", default="OH_SESSION_API_KEY", help="environment variable holding the key")
    parser.add_argument("--llm-base-url", required=True, help="the mock LLM's OpenAI-compatible base URL")
    parser.add_argument("--model", default="openai/mock-model")
    parser.add_argument("--workspace", required=True, help="working_dir for the conversations")
    parser.add_argument("--out", required=True, type=Path, help="folder for the vectors")
    parser.add_argument("--silent-wait", type=float, default=12.0, help="seconds to wait on the no-key socket")
    args = parser.parse_args(argv)
    key = os.environ.get(args.key_env, "")
    if not key:
        print(f"capture_v1: set the session key in ${args.key_env}", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    cap = Capture(args.url, key, args.llm_base_url, args.workspace, args.model)
    cid = basic_turn(cap, args.out)
    resume_since(cap, args.out, cid)
    interleaved(cap, args.out, cid, 0.0, "events-resume-all-interleaved-a.jsonl")
    interleaved(cap, args.out, cid, 30.0, "events-resume-all-interleaved-b.jsonl")
    session_run(cap, args.out)
    stream_turn(cap, args.out)
    auth_and_rest(cap, args.out, cid, args.silent_wait)
    print(f"capture_v1: wrote {len(list(args.out.iterdir()))} files to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
