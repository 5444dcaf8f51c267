"""Load the captured V1 vectors of tests/data/v1_client/ (see its README)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

DATA = Path(__file__).resolve().parents[2] / "data" / "v1_client"


def lines(name: str) -> list[dict[str, Any]]:
    """Every line of a ``.jsonl`` vector after the meta line."""
    with open(DATA / name, encoding="utf-8") as f:
        out = [json.loads(line) for line in f if line.strip()]
    assert "meta" in out[0]
    return out[1:]


def meta(name: str) -> dict[str, Any]:
    with open(DATA / name, encoding="utf-8") as f:
        first: dict[str, Any] = json.loads(f.readline())["meta"]
    return first


def server_frames(name: str) -> list[tuple[float, Any]]:
    """(t_ms, frame) of every server frame, in order; client lines dropped."""
    return [(ln["t_ms"], ln["server"]) for ln in lines(name) if "server" in ln]


def timeline(name: str) -> list[tuple[float, str, Any]]:
    """(t_ms, "server" | "client", frame) in order."""
    out: list[tuple[float, str, Any]] = []
    for ln in lines(name):
        for side in ("server", "client"):
            if side in ln:
                out.append((ln["t_ms"], side, ln[side]))
    return out


def interleaved(name: str) -> list[tuple[float, Any]]:
    """(t_ms, frame) of an interleaved vector, elided runs expanded into minimal stored frames.

    An elided run is plain replayed history in stored order: each of its ids becomes an ``ObservationEvent``
    stamped with the timestamp of the frame before the run (stored order keeps it between its neighbours)
    and received at that frame's time.
    """
    out: list[tuple[float, Any]] = []
    last_ts = ""
    last_t = 0.0
    for ln in lines(name):
        if "elided" in ln:
            for eid in ln["elided"]["ids"]:
                out.append(
                    (last_t, {"id": eid, "timestamp": last_ts, "source": "environment", "kind": "ObservationEvent"})
                )
            continue
        frame = ln["frame"]
        out.append((ln["t_ms"], frame))
        last_t = ln["t_ms"]
        if frame.get("key") != "full_state":
            last_ts = frame["timestamp"]
    return out
