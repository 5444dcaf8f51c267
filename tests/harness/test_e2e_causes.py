"""Failures in Locust's table, on the console and in the run folder name their cause (issue 12, item 4).

Real `locust -f locustfile.py --headless` runs on loopback: against a closed port every create reads
``RestFailed('connect refused (127.0.0.1:<port>)')``; against a server that answers 404 it reads
``HTTP 404 on POST /api/conversations (is --target an OpenHands server?)``; readiness polls answered 429 and
503 are retried, counted as calls (and the 429 as a throttle), never as failures. ``status=0`` never shows.
"""

from __future__ import annotations

import csv
import socket
from pathlib import Path

from loadtest.report.build import build_report
from tests.harness.locustrun import LocustRun, run_locust
from tests.harness.scripted_http import ScriptedServer

NOT_OPENHANDS = "HTTP 404 on POST /api/conversations (is --target an OpenHands server?)"
UPGRADE_404 = "HTTP 404 on the WebSocket upgrade (is --target an OpenHands server?)"


def _closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port: int = s.getsockname()[1]
    s.close()  # nothing listens there now: the kernel refuses
    return port


def _run(host: str, tmp_path: Path, *args: str) -> tuple[LocustRun, list[dict[str, str]]]:
    r = run_locust(host, tmp_path / "run", "--csv", str(tmp_path / "locust"), *args, users=2, run_time="4s")
    with (tmp_path / "locust_failures.csv").open() as f:
        return r, list(csv.DictReader(f))


def _no_status_zero(r: LocustRun, tmp_path: Path) -> None:
    texts = [r.output] + [p.read_text(errors="replace") for p in tmp_path.rglob("*") if p.suffix in _TEXT]
    assert texts and not [t for t in texts if "status=0" in t]


_TEXT = {".csv", ".json", ".jsonl", ".md", ".html", ".txt"}


def test_closed_port_reads_connect_refused_with_the_servers_port(tmp_path: Path) -> None:
    port = _closed_port()
    r, rows = _run(f"http://127.0.0.1:{port}", tmp_path, "ChatUser")
    cause = f"connect refused (127.0.0.1:{port})"
    assert {(x["Name"], x["Error"]) for x in rows} == {("rest_create", f"RestFailed({cause!r})")}, rows
    assert int(rows[0]["Occurrences"]) >= 2  # one row for every user's attempts: no client port in the repr
    assert f"rest_create: RestFailed({cause!r})" in r.output  # Locust's error report on the console
    assert r.counter("failures.rest_create") == int(rows[0]["Occurrences"])
    build_report(r.folder)  # summary.md, summary.json, report.html
    _no_status_zero(r, tmp_path)


def test_a_server_that_answers_404_is_named_as_not_openhands(tmp_path: Path) -> None:
    with ScriptedServer() as srv:
        r, rows = _run(srv.url, tmp_path, "ChatUser")
    assert {(x["Name"], x["Error"]) for x in rows} == {("rest_create", f"RestFailed({NOT_OPENHANDS!r})")}, rows
    assert NOT_OPENHANDS in r.output
    _no_status_zero(r, tmp_path)


def test_retried_readiness_polls_are_calls_and_throttles_not_failures(tmp_path: Path) -> None:
    """Each conversation's readiness poll gets 429 then 503 then RUNNING: the two retried answers count as REST
    calls (``rest_retries``), the 429 as throttle ``http_429``; no REST failure. The socket upgrade gets 404:
    the connect failure names it."""
    with ScriptedServer(flaky_ready=True) as srv:
        r, rows = _run(srv.url, tmp_path, "ChatUser", "--ready-poll", "500ms")
        created = srv.created
    assert created == 2, r.output[-3000:]
    errors = {(x["Name"], x["Error"]) for x in rows}
    assert ("connect", f"ConnectFailed({UPGRADE_404!r})") in errors, rows
    assert not [x for x in rows if x["Name"].startswith("rest_")], rows
    assert errors <= {("connect", f"ConnectFailed({UPGRADE_404!r})"), ("signal", "Throttled('http_429')")}, rows
    total = r.total()
    assert total.counter("rest_retries") == 2 * created  # the 429 and the 503 of each conversation
    assert total.counter("throttled.http_429") == created
    assert total.counter("rest_calls") == 4 * created  # create, 429, 503, RUNNING
    assert not [k for k in total.counters if k.startswith(("errors.rest_", "failures.rest_"))], total.counters
    _no_status_zero(r, tmp_path)
