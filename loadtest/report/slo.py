"""SLO expressions, read and evaluated over timeline seconds (pure).

Same grammar and semantics as the harness's ``--slo`` (``loadtest/harness/slo.py``), re-read here
because the report may not import the harness layer::

    METRIC.STAT OP VALUE     echo.p95<250ms   turn.p99<=5s   connect.max<2s   echo.count>=100
                             connect.failures<5   turn.fail_ratio<1%
    COUNTER OP VALUE         gaps==0   duplicates==0   throttled<10   disconnects.server==0
    GROUP.ratio OP VALUE     throttled.ratio<1%      (group total ÷ operations)

Latency values take ``us``/``ms``/``s``/``m``/``h`` (bare numbers are ms); ratios take ``%`` or a bare
ratio. Operations are actions + connect attempts + REST calls. A latency objective without samples
is a breach. The report uses this to evaluate objectives per load step (capacity) and for runs whose
``run.json`` holds no results (a crash before the harness evaluated them).
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from loadtest.histogram import Histogram
from loadtest.report.timeline import Second

__all__ = ["Slo", "evaluate", "operations", "parse_slo", "split_exprs"]

METRICS = ("connect", "echo", "first_event", "turn", "event_gap", "reconnect", "resync", "rest_create", "ready")
TOP_COUNTERS = ("actions", "events", "bytes", "gaps", "duplicates", "out_of_order", "turns")
GROUPS = ("throttled", "disconnects", "errors", "failures")
EXTRA_COUNTERS = ("connects", "reconnects", "rest_calls", "dropped_actions", "operations")
_OPS: dict[str, Callable[[float, float], bool]] = {
    "<=": operator.le,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    ">": operator.gt,
}
_EXPR = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_.]*?)\s*(<=|>=|==|!=|<|>)\s*(\S.*?)\s*$")
_PCT = re.compile(r"^p(\d+(?:\.\d+)?)$")
_MS = {"us": 1e-3, "µs": 1e-3, "ms": 1.0, "s": 1e3, "m": 6e4, "min": 6e4, "h": 3.6e6}
_DURATION = re.compile(r"^([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*(us|µs|ms|s|min|m|h)?$")
_COMPOUND = re.compile(r"^(?:\d+h)?(?:\d+m)?(?:\d+s)?$")


@dataclass(frozen=True, slots=True)
class Slo:
    """One objective; ``threshold`` is ms for latencies, a fraction for ratios, a number otherwise."""

    expr: str
    kind: str  # "latency" | "count" | "ratio"
    subject: str  # metric, counter, group or "group.entry"
    stat: str  # "p95", "max", "count", "failures", "fail_ratio", "ratio" or "value"
    op: str
    threshold: float

    @property
    def is_latency(self) -> bool:
        return self.kind == "latency"


def _ms(raw: str) -> float:
    text = raw.strip()
    m = _DURATION.match(text)
    if m:
        return float(m.group(1)) * _MS[m.group(2) or "ms"]
    if text and _COMPOUND.match(text):
        return sum(int(n) * _MS[u] for n, u in re.findall(r"(\d+)([hms])", text))
    raise ValueError(raw)


def _ratio(raw: str) -> float:
    text = raw.strip()
    return float(text[:-1]) / 100.0 if text.endswith("%") else float(text)


def _is_metric(name: str) -> bool:
    return name in METRICS or (name.endswith("_co") and name[:-3] in METRICS)


def parse_slo(expr: str) -> Slo | None:
    """Parse one expression; ``None`` when it is not in the grammar (the report then skips it)."""
    m = _EXPR.match(expr)
    if not m:
        return None
    target, op, raw = m.groups()
    head, _, stat = target.partition(".")
    text = expr.strip()
    try:
        if _is_metric(head):
            if _PCT.match(stat) or stat in ("min", "max", "mean", "avg"):
                return Slo(text, "latency", head, stat, op, _ms(raw))
            if stat in ("count", "failures"):
                return Slo(text, "count", head, stat, op, float(raw))
            if stat == "fail_ratio":
                return Slo(text, "ratio", head, stat, op, _ratio(raw))
            return None
        if head in GROUPS or head in TOP_COUNTERS or head in EXTRA_COUNTERS:
            if stat == "ratio":
                return Slo(text, "ratio", head, "ratio", op, _ratio(raw))
            if stat and head not in GROUPS:
                return None
            return Slo(text, "count", target, "value", op, float(raw))
    except ValueError:
        return None
    return None


def split_exprs(values: Iterable[str]) -> list[str]:
    """``--slo`` values may hold several expressions joined by ``,`` or ``;``."""
    return [item.strip() for v in values for item in re.split(r"[,;]", str(v)) if item.strip()]


def operations(seconds: Sequence[Second]) -> int:
    """Actions + connect attempts + REST calls: the denominator of ``*.ratio`` and of throttle shares."""
    return sum(s.operations for s in seconds)


def _counter(seconds: Sequence[Second], name: str) -> int:
    head, _, entry = name.partition(".")
    if head in GROUPS:
        maps = [getattr(s, head) for s in seconds]
        return sum(m.get(entry, 0) for m in maps) if entry else sum(sum(m.values()) for m in maps)
    if head in TOP_COUNTERS:
        return sum(int(getattr(s, head)) for s in seconds)
    if head == "operations":
        return operations(seconds)
    if head == "connects":
        return sum(s.connects for s in seconds)
    if head == "rest_calls":
        return sum(s.rest_calls for s in seconds)
    return sum(s.extra.get(head, 0) for s in seconds)


def _measure(slo: Slo, seconds: Sequence[Second]) -> float | None:
    if slo.kind == "latency" or slo.stat in ("count", "fail_ratio"):
        h = Histogram.merged(s.metrics[slo.subject] for s in seconds if slo.subject in s.metrics)
        if slo.stat == "count":
            return float(h.count)
        if slo.stat == "fail_ratio":
            failed = sum(s.failures.get(slo.subject, 0) for s in seconds)
            return failed / (h.count + failed) if h.count + failed else 0.0
        if not h.count:
            return None
        if slo.stat in ("mean", "avg"):
            return h.mean
        if slo.stat == "min":
            return h.min
        if slo.stat == "max":
            return h.max
        return h.percentile(float(slo.stat[1:]))
    if slo.stat == "failures":
        return float(sum(s.failures.get(slo.subject, 0) for s in seconds))
    if slo.stat == "ratio":
        return _counter(seconds, slo.subject) / max(operations(seconds), 1)
    return float(_counter(seconds, slo.subject))


def evaluate(slo: Slo, seconds: Sequence[Second]) -> tuple[float | None, bool]:
    """``(value, ok)`` over ``seconds``; a latency objective without samples is ``(None, False)``."""
    value = _measure(slo, seconds)
    return value, value is not None and _OPS[slo.op](value, slo.threshold)
