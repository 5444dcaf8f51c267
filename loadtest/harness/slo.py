"""Service-level objectives over merged timeline data: the live check, the gate at quit, ``--slo-abort``.

The grammar (``echo.p95<250ms``, ``gaps==0``, ``throttled.ratio<1%``) lives in :mod:`loadtest.slo`,
shared with the report; this module measures a parsed :class:`~loadtest.slo.Slo` over a
:class:`~loadtest.harness.timeline.Slice`. Pure: no Locust, no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from loadtest.harness.timeline import Slice
from loadtest.slo import EXAMPLE, METRICS, Slo, SloError, parse_slo
from loadtest.units import parse_list

__all__ = [
    "EXAMPLE",
    "METRICS",
    "BreachTracker",
    "Slo",
    "SloError",
    "SloResult",
    "evaluate",
    "measure",
    "parse_slo",
    "parse_slos",
]


def measure(slo: Slo, data: Slice) -> float | None:
    """The measured value over ``data`` (ms, ratio or count); ``None`` when there are no samples."""
    if slo.kind == "latency":
        return slo.latency_of(data.hists.get(slo.subject))
    if slo.stat == "count":
        h = data.hists.get(slo.subject)
        return float(h.count if h else 0)
    if slo.stat == "failures":
        return float(data.counter(f"failures.{slo.subject}"))
    if slo.stat == "fail_ratio":
        h = data.hists.get(slo.subject)
        failed = data.counter(f"failures.{slo.subject}")
        total = (h.count if h else 0) + failed
        return failed / total if total else 0.0
    if slo.stat == "ratio":
        return data.counter(slo.subject) / max(operations(data), 1)
    if slo.subject == "operations":
        return float(operations(data))
    return float(data.counter(slo.subject))


def check(slo: Slo, data: Slice) -> SloResult:
    value = measure(slo, data)
    return SloResult(slo, value, slo.holds(value))


@dataclass(frozen=True)
class SloResult:
    slo: Slo
    value: float | None
    ok: bool

    def to_dict(self) -> dict[str, Any]:
        unit = {"latency": "ms", "ratio": "ratio"}.get(self.slo.kind, "count")
        out: dict[str, Any] = {
            "expr": self.slo.expr,
            "value": None if self.value is None else round(self.value, 6),
            "threshold": self.slo.threshold,
            "unit": unit,
            "ok": self.ok,
        }
        if self.value is None:
            out["detail"] = "no samples"
        return out

    def describe(self) -> str:
        if self.value is None:
            return f"{self.slo.expr}: no samples"
        shown = f"{self.value:.2f} ms" if self.slo.kind == "latency" else f"{self.value:g}"
        if self.slo.kind == "ratio":
            shown = f"{self.value * 100:.3g}%"
        return f"{self.slo.expr}: measured {shown} → {'ok' if self.ok else 'BREACH'}"


def operations(data: Slice) -> int:
    """Denominator of ``*.ratio``: actions + connect attempts + REST calls."""
    return data.counter("actions") + data.counter("connects") + data.counter("rest_calls")


def parse_slos(exprs: Iterable[str] | str | None) -> tuple[Slo, ...]:
    """Parse ``--slo`` values (each may hold several expressions joined by ``,`` or ``;``)."""
    items = parse_list(exprs if exprs is None or isinstance(exprs, str) else list(exprs))
    return tuple(parse_slo(e) for e in items)


def evaluate(slos: Sequence[Slo], data: Slice) -> list[SloResult]:
    return [check(slo, data) for slo in slos]


class BreachTracker:
    """Says when objectives have been breached continuously for ``hold`` seconds (``--slo-abort``)."""

    def __init__(self, hold: float) -> None:
        self.hold = hold
        self.since: float | None = None

    def update(self, now: float, results: Sequence[SloResult]) -> bool:
        """Feed the latest live results; True once the breach has lasted ``hold`` seconds."""
        breached = any(not r.ok and r.value is not None for r in results)
        if not breached:
            self.since = None
            return False
        if self.since is None:
            self.since = now
        return now - self.since >= self.hold
