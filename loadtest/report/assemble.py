"""Put the analysis of one run together and derive `summary.json` (DESIGN §6) from it (pure).

:func:`analyze` turns a :class:`~loadtest.report.runfolder.RunData` (already read, plain data) into an
:class:`Analysis` that the plots and renderers share; :func:`summary_dict` is the machine-readable
contract for CI and ``loadtest compare``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from loadtest.report.analysis import (
    HealthWindow,
    MetricStats,
    Recovery,
    StepStats,
    Throughput,
    WindowStats,
    all_metric_stats,
    default_window_s,
    health_windows,
    recovery,
    step_stats,
    sum_counter,
    sum_map,
    throughput,
    windows,
)
from loadtest.report.capacity import Capacity, capacity
from loadtest.report.faults import FaultSummary, fault_summary
from loadtest.report.runfolder import RunData
from loadtest.report.slo import evaluate, parse_slo, split_exprs
from loadtest.report.steps import SETTLE_S, Step, find_steps
from loadtest.report.throttle import Onset, first_onset, throttle_onsets
from loadtest.slo import DEFAULT_SLOS, SloResult
from loadtest.timeline import TOP_COUNTERS, Second, window
from loadtest.verdict import decide, top_failure_row

__all__ = [
    "SECRET_WORDS",
    "Analysis",
    "SloResult",
    "analyze",
    "redact",
    "search_capacity",
    "search_onset",
    "summary_dict",
    "verdict_reason",
]

SECRET_WORDS = ("key", "token", "cookie", "secret", "password", "authorization")
_REDACTED = "***"
_URL_SECRET = re.compile(r"([?&][^=&#]*(?:key|token|cookie|secret|password|authorization)[^=&#]*=)[^&#]*", re.I)


def redact(value: Any, name: str = "") -> Any:
    """``value`` with every entry whose key names a secret replaced, recursively; URLs lose secret params."""
    if name and any(word in name.lower() for word in SECRET_WORDS):
        return _REDACTED if value not in (None, "", [], {}) else value
    if isinstance(value, Mapping):
        return {str(k): redact(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact(v) for v in value]
    if isinstance(value, str):
        return _URL_SECRET.sub(lambda m: m.group(1) + _REDACTED, value)
    return value


@dataclass(frozen=True, slots=True)
class Analysis:
    """Everything the plots and renderers need, computed once."""

    data: RunData
    run: dict[str, Any]  # run.json, secrets redacted
    seconds: list[Second]
    steps: list[Step]
    step_stats: list[StepStats]
    window_s: int
    windows: list[WindowStats]
    metrics: dict[str, MetricStats]
    totals: dict[str, int]
    throttled: dict[str, int]
    disconnects: dict[str, int]
    errors: dict[str, int]
    rates: Throughput
    onsets: list[Onset]
    onset: Onset | None
    capacity: Capacity | None
    recovery: Recovery
    health: list[HealthWindow]
    slo: list[SloResult]
    verdict: str
    verdict_reason: str | None = None  # None: an older run.json without one (the headline says why)
    notes: list[str] = field(default_factory=list)
    faults: FaultSummary = field(default_factory=FaultSummary)

    @property
    def duration_s(self) -> int:
        return len(self.seconds)

    @property
    def profile(self) -> str:
        p = self.run.get("profile")
        return ", ".join(str(x) for x in p) if isinstance(p, list) else str(p or "–")

    @property
    def label(self) -> str:
        return str(self.run.get("label") or self.data.path.name)


def _slo_exprs(run: Mapping[str, Any]) -> list[str]:
    declared = run.get("slo")
    if isinstance(declared, list) and declared:
        return [str(s["expr"]) for s in declared if isinstance(s, Mapping) and "expr" in s]
    settings = run.get("settings")
    raw = settings.get("slo") if isinstance(settings, Mapping) else None
    if isinstance(raw, str):
        raw = [raw]
    given = split_exprs(str(e) for e in raw) if isinstance(raw, list) else []
    if not given and run.get("slo_source") == "default":  # a run that crashed before judging its defaults
        return list(DEFAULT_SLOS)
    return [e for e in given if e.lower() != "none"]


def _slo_results(run: Mapping[str, Any], seconds: Sequence[Second]) -> list[SloResult]:
    declared = run.get("slo")
    if isinstance(declared, list) and declared:
        out = []
        for s in declared:
            if not isinstance(s, Mapping) or "expr" not in s:
                continue
            value = s.get("value")
            ok = s.get("ok")
            out.append(
                SloResult(
                    str(s["expr"]),
                    float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None,
                    ok if isinstance(ok, bool) else None,
                    source="run.json",
                )
            )
        return out
    results = []
    for expr in _slo_exprs(run):
        slo = parse_slo(expr)
        value, ok = evaluate(slo, seconds) if slo else (None, None)
        results.append(SloResult(expr, value, ok if slo else None, source="report"))
    return results


def _verdict(data: RunData, slo: Sequence[SloResult], seconds: Sequence[Second]) -> tuple[str, str | None]:
    """The run's verdict and reason: as the run recorded them, else decided here (a run that crashed)."""
    run = data.run
    recorded = str(run.get("verdict") or "").lower()
    reason = run.get("verdict_reason")
    if recorded in ("pass", "fail", "error") and isinstance(reason, str):
        return recorded, reason
    if recorded or not seconds:
        return _legacy_verdict(run, slo), None
    profile = run.get("profile")
    failures = data.locust.get("failures") or []
    top = top_failure_row(failures, lambda r: str(r.get("Name")), lambda r: int(r.get("Occurrences") or 0))
    v = decide(
        window(seconds),
        slo,
        profile=[str(p) for p in profile] if isinstance(profile, list) else [],
        target=str(run.get("target") or "the target"),
        top_failure=f"{top.get('Error')} on {top.get('Name')}" if top else None,
        slo_source=str(run.get("slo_source") or "given"),
    )
    return v.verdict, v.reason


def _legacy_verdict(run: Mapping[str, Any], slo: Sequence[SloResult]) -> str:
    if any(s.ok is False for s in slo):
        return "fail"
    code = run.get("exit_code")
    if isinstance(code, int) and not isinstance(code, bool) and code != 0:
        return "fail"
    return "fail" if str(run.get("verdict", "")).lower() == "fail" else "pass"


def verdict_reason(a: Analysis) -> str:
    """The verdict's one-line reason: the run's own, else (an older run.json) said from the SLOs."""
    if a.verdict_reason:
        return a.verdict_reason
    failed = [s.expr for s in a.slo if s.ok is False]
    code = a.run.get("exit_code")
    if failed:
        return "SLO breached: " + ", ".join(failed)
    if a.verdict == "fail":
        return f"run exited with code {code}" if code not in (None, 0) else "run.json verdict is fail"
    return f"all {len(a.slo)} SLO(s) met" if a.slo else "no SLO declared"


def analyze(data: RunData) -> Analysis:
    """The whole analysis of one run folder's data."""
    seconds = data.seconds
    run = redact(data.run)
    steps = find_steps(seconds, data.run.get("steps"))
    health = health_windows(seconds)
    flagged = [t for w in health for t in range(w.start_t, w.end_t + 1)]
    settings = data.run.get("settings")
    settings = settings if isinstance(settings, Mapping) else {}
    warmup = settings.get("step_warmup")
    settle = (
        int(warmup) if isinstance(warmup, int | float) and not isinstance(warmup, bool) and warmup >= 0 else SETTLE_S
    )
    stats = step_stats(steps, seconds, flagged, settle)
    threshold = settings.get("throttle_threshold")
    if isinstance(threshold, int | float) and not isinstance(threshold, bool) and threshold > 0:
        onsets = throttle_onsets(stats, min_ratio=float(threshold))
    else:
        onsets = throttle_onsets(stats)
    slo = _slo_results(data.run, seconds)
    verdict, verdict_reason = _verdict(data, slo, seconds)
    cap = capacity(stats, seconds, _slo_exprs(data.run))
    notes = list(data.notes)
    recorded = data.run.get("notes")
    if isinstance(recorded, list):
        notes.extend(f"run: {redact(str(n))}" for n in recorded if n)
    if health:
        total = sum(w.duration_s for w in health)
        notes.append(
            f"The load generator looked saturated for {total} s ({len(health)} window(s)); see Generator health."
        )
    if slow := sum(s.extra.get("slow_generator", 0) for s in seconds):  # REST answers the generator's lag explains
        notes.append(
            f"{slow} slow REST answer(s) were the load generator's own loop lag, not throttling (slow_generator)."
        )
    if cap:
        notes.extend(cap.notes)
    faults = fault_summary(seconds)
    notes.extend(faults.notes())
    duration = seconds[-1].t - seconds[0].t + 1 if seconds else 0
    return Analysis(
        data=data,
        run=run,
        seconds=seconds,
        steps=steps,
        step_stats=stats,
        window_s=default_window_s(duration),
        windows=windows(seconds, default_window_s(duration)),
        metrics=all_metric_stats(seconds),
        totals={k: sum_counter(seconds, k) for k in TOP_COUNTERS},
        throttled=sum_map(seconds, "throttled"),
        disconnects=sum_map(seconds, "disconnects"),
        errors=sum_map(seconds, "errors"),
        rates=throughput(seconds),
        onsets=onsets,
        onset=first_onset(onsets),
        capacity=cap,
        recovery=recovery(seconds),
        health=health,
        slo=slo,
        verdict=verdict,
        verdict_reason=verdict_reason,
        notes=notes,
        faults=faults,
    )


def search_onset(run: Mapping[str, Any]) -> tuple[dict[str, Any] | None] | None:
    """``run.json`` ``throttle_onset`` written by the throttle-search shape, as a 1-tuple (its value may be null).

    ``None`` when the run had no such search.
    """
    if "throttle_onset" not in run:
        return None
    raw = run["throttle_onset"]
    if not isinstance(raw, Mapping):
        return (None,)
    rate = raw.get("offered_rate")
    at = raw.get("at_s")
    return (
        {
            "offered_rate": _r(float(rate)) if isinstance(rate, int | float) else None,
            "signal": str(raw.get("signal") or "throttled"),
            "at_s": at if isinstance(at, int | float) else None,
        },
    )


def search_capacity(run: Mapping[str, Any]) -> dict[str, Any] | None:
    """``run.json`` ``capacity`` written by the capacity-search shape (``None`` without one)."""
    raw = run.get("capacity")
    if not isinstance(raw, Mapping):
        return None
    n = raw.get("max_conversations_within_slo")
    slo = raw.get("slo")
    return {
        "max_conversations_within_slo": int(n) if isinstance(n, int | float) else None,
        "slo": " and ".join(str(x) for x in slo) if isinstance(slo, list) else str(slo or ""),
    }


def _r(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(value, digits)


def summary_dict(a: Analysis) -> dict[str, Any]:
    """`summary.json` exactly as DESIGN §6 lays it out (extra keys only inside ``run``)."""
    run_keys = ("label", "target", "profile", "shape", "started_at", "ended_at", "exit_code")
    run: dict[str, Any] = {k: a.run.get(k) for k in run_keys if k in a.run}
    run.setdefault("label", a.label)
    run.update(
        {
            "duration_s": a.duration_s,
            "timeline_seconds": len(a.seconds),
            "timeline_dropped_lines": a.data.dropped_lines,
            "complete": bool(a.data.has_run_json and a.run.get("ended_at") and not a.data.dropped_lines),
            "throughput": {
                "actions_per_s": _r(a.rates.actions_per_s),
                "events_per_s": _r(a.rates.events_per_s),
                "bytes_per_s": _r(a.rates.bytes_per_s),
                "turns_per_s": _r(a.rates.turns_per_s),
            },
            "generator_saturated_s": sum(w.duration_s for w in a.health),
            "faults": a.faults.to_dict(),
        }
    )
    metrics = {
        name: {
            "count": m.count,
            "failures": m.failures,
            "p50_ms": _r(m.p50_ms),
            "p90_ms": _r(m.p90_ms),
            "p95_ms": _r(m.p95_ms),
            "p99_ms": _r(m.p99_ms),
            "max_ms": _r(m.max_ms),
            "mean_ms": _r(m.mean_ms),
        }
        for name, m in a.metrics.items()
    }
    counters = {
        "actions": a.totals["actions"],
        "events": a.totals["events"],
        "gaps": a.totals["gaps"],
        "duplicates": a.totals["duplicates"],
        "out_of_order": a.totals["out_of_order"],
        "throttled": dict(a.throttled),
        "disconnects": dict(a.disconnects),
    }
    onset = (
        {"offered_rate": _r(a.onset.offered_rate), "signal": a.onset.signal, "at_s": a.onset.at_s} if a.onset else None
    )
    searched = search_onset(a.run)
    if searched is not None:  # the throttle-search shape judged the steps live: its answer stands
        onset = searched[0]
    cap = (
        {
            "max_conversations_within_slo": a.capacity.max_within_slo,
            "knee_conversations": a.capacity.knee,
            "slo": a.capacity.slo,
        }
        if a.capacity
        else None
    )
    found = search_capacity(a.run)
    if found is not None:  # likewise for the capacity-search shape; the knee is ours
        cap = {**found, "knee_conversations": a.capacity.knee if a.capacity else None}
        cap = {k: cap[k] for k in ("max_conversations_within_slo", "knee_conversations", "slo")}
    return {
        "run": run,
        "metrics": metrics,
        "counters": counters,
        "throttle_onset": onset,
        "capacity": cap,
        "slo": [{"expr": s.expr, "value": _r(s.value, 6), "ok": s.ok} for s in a.slo],
        "verdict": a.verdict,
        "verdict_reason": verdict_reason(a),
    }
