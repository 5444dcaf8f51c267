"""The REST side of V1 integrity: paged ``events/search`` reads, paced, and the gap count from them.

`read_pages` follows ``next_page_id`` for at most ``max_pages`` pages, spacing its calls with the process-wide
V0 `Pacer` of the same rate, so audits of many conversations do not become the load. `audit_gaps` turns the
listing into gaps (`UuidIntegrity.missing` → `count_gaps`) and moves the floor up to what it reconciled.
"""

from __future__ import annotations

# isort: split

import gevent

import time
from collections.abc import Callable
from typing import Any

from loadtest.openhands.audit import pacer
from loadtest.openhands.rest import RestResult
from loadtest.openhands.v1.events import classify
from loadtest.openhands.v1.integrity import UuidIntegrity
from loadtest.openhands.v1.resume import REST_PAGE_MAX

__all__ = ["Listing", "audit_gaps", "audit_query", "read_pages"]

Search = Callable[[dict[str, str]], RestResult]


class Listing:
    """Stored events read over REST: `items` in timestamp order; `complete` when the last page was reached."""

    __slots__ = ("complete", "items")

    def __init__(self, items: list[Any], complete: bool) -> None:
        self.items = items
        self.complete = complete


def audit_query(floor: str | None) -> dict[str, str]:
    """The first page of an audit: oldest first, from the floor (everything below was audited)."""
    q = {"sort_order": "TIMESTAMP", "limit": str(REST_PAGE_MAX)}
    if floor is not None:
        q["timestamp__gte"] = floor
    return q


def read_pages(search: Search, first: dict[str, str], max_pages: int, rate: float, timeout: float) -> Listing | None:
    """Read pages from `first` on, paced; None when a page failed (the audit is then skipped, not guessed)."""
    pace = pacer(rate)
    end = time.perf_counter() + timeout
    items: list[Any] = []
    query = dict(first)
    for _ in range(max_pages):
        delay = pace.delay(time.perf_counter())
        if time.perf_counter() + delay > end:
            return Listing(items, False) if items else None
        if delay > 0:
            gevent.sleep(delay)
        res = search(query)
        body = res.body
        if not res.ok or not isinstance(body, dict) or not isinstance(body.get("items"), list):
            return None
        items.extend(body["items"])
        page_id = body.get("next_page_id")
        if not isinstance(page_id, str) or not page_id:
            return Listing(items, True)
        query = {**first, "page_id": page_id}
    return Listing(items, False)


def audit_gaps(ids: UuidIntegrity, listing: Listing | None, final: bool) -> int:
    """Count the stored events of `listing` the socket never delivered; returns the gaps added.

    Not final: only events up to the newest one delivered count (later ones may be on their way). A listing cut
    short by the page bound counts only up to its last item. The floor then moves up to what was reconciled.
    """
    if listing is None:
        return 0
    through = None if final else ids.newest_ts
    if not listing.complete:
        last = next((classify(i).timestamp for i in reversed(listing.items) if classify(i).timestamp), None)
        if last is not None and (through is None or last < through):
            through = last
    if not final and through is None:
        return 0
    n = ids.count_gaps(ids.missing(listing.items, through))
    floor = through if through is not None else ids.newest_ts
    if floor is not None:
        ids.prune(floor)
    return n
