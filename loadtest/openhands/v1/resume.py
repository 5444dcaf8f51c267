"""V1 resume queries and the resume strategies (pure: what to ask, not the asking).

**Events socket** (``../shared/openhands-v1.md`` §4): ``resend_mode=since&after_timestamp=T`` replays the stored
events stamped at or after T (inclusive: the event at T comes again, counted as ``overlap``); T is the server's
own timestamp string of the newest stored event the socket delivered (`UuidIntegrity.newest_ts`), never a time
of ours (server timestamps are zone-less local time). ``resend_mode=all`` replays everything. The query goes
to `loadtest.ws.WebSocket.open(query=...)`, which URL-encodes it (``+`` as ``%2B``: a raw ``+`` decodes as a
space and the server refuses the upgrade with HTTP 403).

**Session socket** (§5): ``after_seq=N`` replays the durables after N (-1: all); omitted: live only.

**Strategies** after a drop (`Strategy`):

- `Strategy.SOCKET` (default): reconnect with ``since`` the newest timestamp seen. The socket's own replay is
  what is measured: a stored event it should have replayed and did not is a gap (the REST audit finds it),
  even though REST could fill it in.
- `Strategy.FRONTEND`: as OpenHands' web frontend: read the newest events over REST first
  (`frontend_rest_query`), then connect ``since`` the newest of them (`frontend_resume_point`). Detects:
  duplicates and overlap at the new boundary, gaps *after* that boundary, live/replay interleaving. Cannot
  detect: events between the drop and the REST page that the socket would have lost (REST delivered them,
  counted ``filled``), nor events older than the REST page that neither delivered (the end audit counts those
  as gaps only if it runs).
- `Strategy.SDK`: as the SDK's client: reconnect with no resend (live only), then read over REST what was stored
  since the newest timestamp seen (`sdk_rest_query`) and record it as ``filled``. Detects: duplicates among live
  frames, events neither the socket nor REST delivered (after the audit). Cannot detect: any replay fault (the
  socket replays nothing), and a live event stored during the REST read may come twice (socket and REST): it
  counts as a duplicate only if the socket repeats it.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlencode

from loadtest.openhands.v1.events import classify

__all__ = [
    "REST_PAGE_MAX",
    "Strategy",
    "encode_query",
    "events_query",
    "frontend_rest_query",
    "frontend_resume_point",
    "sdk_rest_query",
    "session_query",
]

#: The server's ``events/search`` page limit (101 is a 422).
REST_PAGE_MAX = 100


class Strategy(enum.Enum):
    """How to resume after a drop (see the module doc for what each can and cannot detect)."""

    SOCKET = "socket"
    FRONTEND = "frontend"
    SDK = "sdk"


def events_query(mode: str, after_timestamp: str | None = None) -> dict[str, str]:
    """The events socket's resume query.

    Args:
        mode: ``since`` (from `after_timestamp`), ``all`` or ``none`` (live only).
        after_timestamp: the server's own timestamp string of the newest stored event delivered. ``since``
            without one (nothing seen yet) asks for ``all``: ``since`` without a timestamp replays nothing.

    Raises:
        ValueError: an unknown mode.
    """
    if mode == "since":
        if after_timestamp is None:
            return {"resend_mode": "all"}
        return {"resend_mode": "since", "after_timestamp": after_timestamp}
    if mode == "all":
        return {"resend_mode": "all"}
    if mode == "none":
        return {}
    raise ValueError(f"unknown resend mode {mode!r}: use since, all or none")


def session_query(after_seq: int | None) -> dict[str, str]:
    """The session socket's query: ``after_seq`` (-1 replays everything; None: live only)."""
    if after_seq is None:
        return {}
    return {"after_seq": str(max(-1, after_seq))}


def encode_query(query: dict[str, str]) -> str:
    """The query as it goes on the wire (the same encoding as `loadtest.ws`: ``+`` → ``%2B``, ``:`` → ``%3A``)."""
    return urlencode(list(query.items()))


def frontend_rest_query(limit: int = 20) -> dict[str, str]:
    """The frontend strategy's first step: the newest `limit` events (``events/search``, newest first)."""
    return {"sort_order": "TIMESTAMP_DESC", "limit": str(min(max(1, limit), REST_PAGE_MAX))}


def frontend_resume_point(items: Iterable[Any], seen_newest: str | None) -> str | None:
    """The frontend strategy's second step: resume ``since`` the newest timestamp among the REST items and
    the newest already seen (None: nothing anywhere, ask for ``all``)."""
    newest = seen_newest
    for item in items:
        c = classify(item)
        ts = c.timestamp
        if ts is not None and c.stored and (newest is None or ts > newest):
            newest = ts
    return newest


def sdk_rest_query(after_timestamp: str | None, page_id: str | None = None) -> dict[str, str]:
    """The SDK strategy's reconciliation read: stored events at or after `after_timestamp`, oldest first,
    one page (`page_id` = the previous answer's ``next_page_id``)."""
    q = {"sort_order": "TIMESTAMP", "limit": str(REST_PAGE_MAX)}
    if after_timestamp is not None:
        q["timestamp__gte"] = after_timestamp
    if page_id is not None:
        q["page_id"] = page_id
    return q
