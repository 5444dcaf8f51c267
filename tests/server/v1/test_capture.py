"""`tests/data/v1/capture_v1.py` run against the reference server: the capture script works end to end, and what
it records from our server has the shapes of what was captured from the real agent server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.server.v1.support import DATA, KEY, describe, serve
from tests.support.procs import ROOT


def frames(path: Path) -> list[tuple[str, dict[str, object]]]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()[1:]]
    return [("server", r["server"]) if "server" in r else ("client", r["client"]) for r in rows]


def test_capture_script_against_the_reference_server(tmp_path: Path) -> None:
    with serve("--event-delay-ms", "2", "--script", "finish", "--auth-timeout", "1", "--stream-rate", "1000") as srv:
        done = subprocess.run(
            [
                sys.executable,
                str(DATA / "capture_v1.py"),
                "--url",
                srv.url,
                "--llm-base-url",
                "http://127.0.0.1:9/v1",
                "--workspace",
                "/tmp/capture-workspace",
                "--out",
                str(tmp_path),
                "--silent-wait",
                "3",
            ],
            cwd=ROOT,
            env={**os.environ, "OH_SESSION_API_KEY": KEY},
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert done.returncode == 0, done.stderr[-2000:]
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == sorted(p.name for p in DATA.iterdir() if p.suffix in (".json", ".jsonl"))
    for path in tmp_path.iterdir():
        assert KEY not in path.read_text(encoding="utf-8"), path.name
    ours = frames(tmp_path / "events-basic-turn.jsonl")
    theirs = frames(DATA / "events-basic-turn.jsonl")
    assert [(s, describe(f) if s == "server" else "") for s, f in ours] == [
        (s, describe(f) if s == "server" else "") for s, f in theirs
    ]
    resume = frames(tmp_path / "session-resume-after-seq.jsonl")
    sync = resume[0][1]
    assert sync["type"] == "sync" and sync["through_seq"] == sync["from_seq"] + 2  # type: ignore[operator]
    assert [f["type"] for _, f in resume] == ["sync", "durable", "durable", "transient"]
    table = json.loads((tmp_path / "auth-table.json").read_text(encoding="utf-8"))
    result = {(r["socket"], r["case"]): (r["handshake"], r["close_code"]) for r in table["websocket"]}
    for kind in ("events", "session"):
        assert result[(kind, "query_wrong")] == ("HTTP 403", None)
        assert result[(kind, "query_wrong_header_right")] == ("HTTP 403", None)
        assert result[(kind, "frame_wrong")] == ("accepted (101)", 4001)
        assert result[(kind, "no_key_silent")] == ("accepted (101)", 4001)
        assert result[(kind, "header_right")] == ("accepted (101)", None)
    assert [r["status"] for r in table["rest"]] == [401, 200, 200, 200, 200, 200]
    create = json.loads((tmp_path / "rest-create.json").read_text(encoding="utf-8"))
    real = json.loads((DATA / "rest-create.json").read_text(encoding="utf-8"))
    assert create["response"]["status"] == 201 and set(create["response"]["body"]) == set(real["response"]["body"])
    assert [o["status"] for o in create["other_outcomes"]] == [200, 422, 422, 422]
    stream = [f for s, f in frames(tmp_path / "stream-turn-events.jsonl") if f.get("kind") == "StreamingDeltaEvent"]
    assert len(stream) == 6
