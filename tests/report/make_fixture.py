"""Generate realistic run folders for the report tests (deterministic, seeded).

Until a real recorded run is committed, these folders stand in for one. The simulated run is a
60 s chat benchmark against a server that completes at most ``x_max`` turns per second, stepping
5 → 10 → 20 → 40 users with a short ramp into each step and 2 s think time, so throughput grows
linearly, then saturates (the knee) while turn latency climbs (closed loop: N = X·(W + Z)). On top:
an action limiter that answers ``rate_limited`` from 20 users, REST 429s at 40, a server-side drop of
12 sockets at t = 38 with reconnects, replay duplicates and a handshake 429 burst, a few ping
timeouts, and a stretch where the generator's CPU is saturated.

Variants:
- ``steps-throttle``: the full run, finished, with Locust CSVs and SLO results (one fails → exit 3);
- ``steps-crash``: the same run killed at t ≈ 47 s: last timeline line half-written, `run.json`
  without end time, exit code or SLO results, no Locust CSVs;
- ``steps-baseline``: a faster server (8 turns/s, no limiter) to compare against.

Run ``python tests/report/make_fixture.py`` to rewrite ``tests/data/runs/``; the tests check that
the committed folders are what this script generates.
"""

from __future__ import annotations

import csv
import json
import math
import random
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # run as a script
    sys.path.insert(0, str(ROOT))

from loadtest.histogram import Histogram  # noqa: E402

RUNS_DIR = ROOT / "tests" / "data" / "runs"
VARIANTS = ("steps-throttle", "steps-crash", "steps-baseline")
DURATION_S = 60
STEPS = ((0, 5), (15, 10), (30, 20), (45, 40))  # (start_t, users)
SPAWN_RATE = 5  # users per second
THINK_S = 2.0
START_TS = 1764118800.0  # 2025-11-26T01:00:00Z
SLOS = ("echo.p95<250ms", "turn.p95<8s", "throttled.ratio<1%")
CRASH_AT_T = 47


@dataclass
class Truth:
    """What the generator put in, for the tests to check the report against."""

    samples: dict[str, list[float]] = field(default_factory=dict)
    counters: dict[str, int] = field(default_factory=dict)
    throttled: dict[str, int] = field(default_factory=dict)
    disconnects: dict[str, int] = field(default_factory=dict)
    failures: dict[str, int] = field(default_factory=dict)
    seconds: int = 0


def _poisson(rng: random.Random, lam: float) -> int:
    if lam <= 0:
        return 0
    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def _users_at(t: int) -> tuple[int, int]:
    """(users, step index) at second ``t``, ramping at SPAWN_RATE into each step."""
    index = max(i for i, (start, _) in enumerate(STEPS) if start <= t)
    start, target = STEPS[index]
    previous = STEPS[index - 1][1] if index else 0
    return min(target, previous + SPAWN_RATE * (t - start + 1)), index


def _add(d: dict[str, int], key: str, n: int) -> None:
    if n:
        d[key] = d.get(key, 0) + n


def _simulate(variant: str) -> tuple[list[dict[str, object]], Truth]:
    rng = random.Random(5)
    baseline = variant == "steps-baseline"
    x_max = 8.0 if baseline else 5.0
    truth = Truth()
    lines: list[dict[str, object]] = []
    prev_users = 0
    for t in range(DURATION_S):
        users, step = _users_at(t)
        base_turn_s = 0.5
        x = min(users / (base_turn_s + THINK_S), x_max)
        turn_s = max(base_turn_s, users / x - THINK_S)
        load = users / 10.0
        samples: dict[str, list[float]] = {}
        throttled: dict[str, int] = {}
        disconnects: dict[str, int] = {}
        failures: dict[str, int] = {}
        actions = _poisson(rng, x)
        turns = actions
        samples["echo"] = [rng.lognormvariate(math.log(18 * (1 + 0.3 * load)), 0.35) for _ in range(actions)]
        samples["first_event"] = [rng.lognormvariate(math.log(120 + 40 * turn_s), 0.3) for _ in range(actions)]
        samples["turn"] = [rng.lognormvariate(math.log(turn_s * 1000), 0.3) for _ in range(turns)]
        gaps = [rng.lognormvariate(math.log(25 + 10 * load), 0.5) for _ in range(turns * 5)]
        samples["event_gap"] = gaps
        samples["connect"] = [rng.lognormvariate(math.log(35), 0.25) for _ in range(max(0, users - prev_users))]
        sockets, reconnecting = users, 0
        if not baseline:
            if users >= 20:
                _add(throttled, "rate_limited_state", _poisson(rng, 1.0 if users < 40 else 2.0))
            if users >= 40:
                _add(throttled, "http_429", _poisson(rng, 1.5))
        duplicates = 0
        if t == 38:  # the server drops 12 sockets
            disconnects["server"] = 12
            failures["echo"] = 2
            sockets, reconnecting = users - 12, 12
        elif t in (39, 40):
            sockets, reconnecting = users - (8 if t == 39 else 3), 8 if t == 39 else 3
            n = 4 if t == 39 else 5
            samples["reconnect"] = [rng.uniform(1100, 2400) for _ in range(n)]
            samples["resync"] = [v + rng.uniform(150, 600) for v in samples["reconnect"]]
            if t == 39:
                _add(throttled, "handshake_429", 0 if baseline else 3)
                duplicates = 2
        elif t == 41:
            samples["reconnect"] = [rng.uniform(2500, 3200) for _ in range(3)]
            samples["resync"] = [v + rng.uniform(150, 600) for v in samples["reconnect"]]
        elif t == 52:
            disconnects["ping_timeout"] = 2
            samples["reconnect"] = [rng.uniform(400, 900) for _ in range(2)]
            samples["resync"] = [v + rng.uniform(50, 200) for v in samples["reconnect"]]
        elif t == 55:
            disconnects["transport_close"] = 1
            failures["reconnect"] = 1
        if t == DURATION_S - 1:
            disconnects["client"] = users  # the run stops its users
        events = turns * 6 + sum(len(samples.get(k, [])) for k in ("reconnect",)) * 3
        cpu = rng.uniform(20, 55) + users * 0.5
        lag = rng.uniform(0.5, 3.0)
        if 50 <= t <= 52 and not baseline:
            cpu, lag = rng.uniform(93, 99), rng.uniform(60, 120)
        metrics: dict[str, object] = {}
        for name, values in samples.items():
            if values:
                h = Histogram()
                for v in values:
                    h.record(v)
                metrics[name] = h.to_dict()
                truth.samples.setdefault(name, []).extend(values)
        counters: dict[str, object] = {
            "actions": actions,
            "events": events,
            "bytes": events * 700 + rng.randrange(0, 500) if events else 0,
            "turns": turns,
        }
        if duplicates:
            counters["duplicates"] = duplicates
        for key, d in (("throttled", throttled), ("disconnects", disconnects), ("failures", failures)):
            if d:
                counters[key] = d
                for k, v in d.items():
                    _add(getattr(truth, key), k, v)
        for key in ("actions", "events", "bytes", "turns"):
            _add(truth.counters, key, int(counters[key]))  # type: ignore[call-overload]
        _add(truth.counters, "duplicates", duplicates)
        lines.append(
            {
                "t": t,
                "ts": START_TS + t,
                "users": users,
                "step": step,
                "offered_rate": 0.0,
                "gauges": {
                    "conversations": users,
                    "sockets": sockets,
                    "turns_in_flight": round(x * turn_s, 1),
                    "reconnecting": reconnecting,
                },
                "counters": counters,
                "metrics": metrics,
                "health": {"loop_lag_ms": round(lag, 2), "cpu_percent": round(cpu, 1), "workers": 1, "lost_workers": 0},
            }
        )
        prev_users = users
    truth.seconds = DURATION_S
    return lines, truth


def _exact(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(1, math.ceil(q / 100 * len(ordered))) - 1]


def _run_json(variant: str, truth: Truth) -> dict[str, object]:
    steps = [
        {
            "index": i,
            "start_t": start,
            "end_t": STEPS[i + 1][0] if i + 1 < len(STEPS) else DURATION_S,
            "users": users,
            "offered_rate": 0.0,
        }
        for i, (start, users) in enumerate(STEPS)
    ]
    run: dict[str, object] = {
        "label": variant,
        "started_at": "2025-11-26T01:00:00Z",
        "ended_at": "2025-11-26T01:01:00Z",
        "target": "http://127.0.0.1:3000/?session_api_key=sk-fixture-secret",
        "profile": "chat",
        "shape": "step",
        "settings": {
            "users": 40,
            "spawn_rate": SPAWN_RATE,
            "think_time": THINK_S,
            "session_api_key": "sk-fixture-secret",
            "cookies": {"session": "fixture-cookie"},
            "slo": list(SLOS),
            "shape_steps": "5x15s,10x15s,20x15s,40x15s",
        },
        "versions": {"loadtest": "0.1.0", "locust": "2.40.0", "python": "3.11"},
        "steps": steps,
        "notes": ["generated by tests/report/make_fixture.py"],
    }
    if variant == "steps-crash":
        run["ended_at"] = None
        return run
    ops = truth.counters["actions"] + len(truth.samples["connect"])
    results = [
        ("echo.p95<250ms", _exact(truth.samples["echo"], 95), lambda v: v < 250),
        ("turn.p95<8s", _exact(truth.samples["turn"], 95), lambda v: v < 8000),
        ("throttled.ratio<1%", sum(truth.throttled.values()) / ops, lambda v: v < 0.01),
    ]
    run["slo"] = [{"expr": e, "value": round(v, 6), "ok": bool(check(v))} for e, v, check in results]
    failed = any(not s["ok"] for s in run["slo"])  # type: ignore[index]
    run["exit_code"] = 3 if failed else 0
    run["verdict"] = "fail" if failed else "pass"
    return run


def _locust_csvs(out: Path, truth: Truth) -> None:
    qs = (50, 66, 75, 80, 90, 95, 98, 99, 99.9, 99.99, 100)
    with (out / "locust_stats.csv").open("w", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(
            ["Type", "Name", "Request Count", "Failure Count", "Median Response Time", "Average Response Time"]
            + ["Min Response Time", "Max Response Time", "Average Content Size", "Requests/s", "Failures/s"]
            + [f"{q:g}%" for q in qs]
        )
        for name, values in sorted(truth.samples.items()):
            fails = truth.failures.get(name, 0)
            w.writerow(
                ["socketio", name, len(values), fails, round(_exact(values, 50)), round(sum(values) / len(values), 1)]
                + [
                    round(min(values)),
                    round(max(values)),
                    0,
                    round(len(values) / DURATION_S, 2),
                    round(fails / DURATION_S, 2),
                ]
                + [round(_exact(values, q)) for q in qs]
            )
    with (out / "locust_failures.csv").open("w", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["Method", "Name", "Error", "Occurrences"])
        w.writerow(["socketio", "echo", "Disconnected('server')", truth.failures.get("echo", 0)])
        w.writerow(["socketio", "reconnect", "HandshakeRejected(status=429)", truth.failures.get("reconnect", 0)])
    with (out / "locust_exceptions.csv").open("w", newline="") as fh:
        csv.writer(fh, lineterminator="\n").writerow(["Count", "Message", "Traceback", "Nodes"])


def generate(out: Path, variant: str) -> Truth:
    """Write the ``variant`` run folder at ``out`` (replacing it); return the generator's truth."""
    if variant not in VARIANTS:
        raise ValueError(f"unknown variant {variant!r}; choose one of {', '.join(VARIANTS)}")
    lines, truth = _simulate(variant)
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    text = [json.dumps(line, separators=(",", ":"), sort_keys=True) + "\n" for line in lines]
    if variant == "steps-crash":
        kept = text[: CRASH_AT_T + 1]
        kept[-1] = kept[-1][: len(kept[-1]) // 2]  # the line being written when the process died
        text = kept
    (out / "timeline.jsonl").write_text("".join(text), encoding="utf-8")
    (out / "run.json").write_text(
        json.dumps(_run_json(variant, truth), indent=2, sort_keys=True) + "\n", encoding="utf-8"
    )
    if variant != "steps-crash":
        _locust_csvs(out, truth)
    return truth


def main() -> int:
    for variant in VARIANTS:
        generate(RUNS_DIR / variant, variant)
        print(RUNS_DIR / variant)
    return 0


if __name__ == "__main__":
    sys.exit(main())
