"""The session socket's envelopes (`/sockets/session/{id}`, openhands-v1.md §5), as JSON text. Pure.

`durable` envelopes are built by `store.StoredEvent.durable` (once per stored event); the rest are here.
"""

from __future__ import annotations

from loadtest.server.store import dumps


def sync(from_seq: int | None, through_seq: int | None) -> str:
    """First frame: `from_seq` echoes `after_seq`; `through_seq` is the last stored seq (absent when none)."""
    frame: dict[str, object] = {"type": "sync"}
    if from_seq is not None:
        frame["from_seq"] = from_seq
    if through_seq is not None:
        frame["through_seq"] = through_seq
    return dumps(frame)


def transient(event_json: str) -> str:
    """An unstored event (the snapshot, the end-of-run `full_state`)."""
    return f'{{"type":"transient","event":{event_json}}}'


def item_started(item_id: str, anchor_seq: int, attempt: int = 1) -> str:
    return dumps({"type": "item_started", "item_id": item_id, "attempt": attempt, "anchor_seq": anchor_seq})


def delta(item_id: str, order: int, content: str, chunk_id: str, attempt: int = 1) -> str:
    return dumps({"type": "delta", "item_id": item_id, "attempt": attempt, "order": order, "kind": "text",
                  "content": content, "chunk_id": chunk_id, "choice_index": 0})  # fmt: skip


def error(code: str, detail: str) -> str:
    """A socket problem; never stored."""
    return dumps({"type": "error", "code": code, "detail": detail})
