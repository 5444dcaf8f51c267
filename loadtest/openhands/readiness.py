"""Wait until a conversation runs before joining it, as the OpenHands frontend does (`Conversation.wait_ready`).

The frontend polls ``GET /api/conversations/{id}`` and opens the socket once ``status`` is ``RUNNING`` with a
``runtime_status`` set and not ``STATUS$STOPPED``. `poll_ready` is that loop with the REST call, the report of
each poll, the clock and the sleep passed in, so its decisions are tested on plain data.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from loadtest.openhands.config import ReadyResult
from loadtest.openhands.rest import RestResult

__all__ = ["STATUS_STOPPED", "poll_ready"]

STATUS_STOPPED = "STATUS$STOPPED"
_STARTING = frozenset({"STARTING", "RUNNING"})  # statuses worth polling on (RUNNING without a runtime status yet)
_NOT_FOUND_POLLS = 3  # a `null` ConversationInfo this many times: the server does not know the id


def poll_ready(
    get: Callable[[], RestResult],
    report: Callable[[RestResult], None],
    timeout: float,
    longest_pause: float,
    *,
    clock: Callable[[], float] = time.perf_counter,
    sleep: Callable[[float], object] = time.sleep,
) -> ReadyResult:
    """Poll with `get` until the conversation runs or `timeout` seconds pass.

    Polls start ``min(0.5, longest_pause)`` s apart and double up to `longest_pause`; a 429 waits its
    ``Retry-After``; failed polls (5xx, no answer) are retried. Every answer goes to `report` first.
    Never raises for what the server answers.
    """
    start = clock()
    end = start + timeout
    pause = min(0.5, longest_pause)
    polls = not_found = 0
    status: str | None = None
    runtime: str | None = None
    while True:
        polls += 1
        res = get()
        report(res)
        now = clock()
        body = res.body
        if res.ok and isinstance(body, dict):
            raw_status, raw_runtime = body.get("status"), body.get("runtime_status")
            if not isinstance(raw_status, str):
                return ReadyResult(False, None, polls, None, None, "unsupported")
            status = raw_status
            runtime = raw_runtime if isinstance(raw_runtime, str) else None
            if status == "RUNNING" and runtime and runtime != STATUS_STOPPED:
                return ReadyResult(True, (now - start) * 1000.0, polls, status, runtime, "ready")
            if status not in _STARTING:
                return ReadyResult(False, None, polls, status, runtime, "not_starting")
        elif res.status in (404, 405) or (res.ok and body is not None):
            return ReadyResult(False, None, polls, None, None, "unsupported")
        elif res.ok:  # `null`: not known (yet)
            not_found += 1
            if not_found >= _NOT_FOUND_POLLS:
                return ReadyResult(False, None, polls, None, None, "not_starting")
        wait = pause if res.retry_after is None else max(pause, res.retry_after)
        if now + wait > end:
            return ReadyResult(False, None, polls, status, runtime, "timeout")
        sleep(wait)
        pause = min(pause * 2.0, longest_pause)
