"""What went wrong during a run, read from its timeline (pure): outages, lost workers, unaudited holes, resets.

A load test is used exactly when servers misbehave, so the report says plainly what happened:

- an *outage* (:func:`loadtest.timeline.outages`, also the ``outage_s`` SLO): consecutive seconds in
  which users were running but no socket was connected while
  conversations were reconnecting or connects failed (the server was down or unreachable);
- *lost workers*: Locust workers that stopped reporting (``health.lost_workers``);
- *unaudited holes*: event-id holes the conversation layer could not check with the server (its REST
  audit stayed throttled or failing): neither gaps nor expected, reported apart;
- *history resets*: a conversation whose server-side id history restarted below what the client had
  seen (a restarted server that recreated the conversation); counting restarts from there.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from loadtest.timeline import Outage, Second, outages

__all__ = ["FaultSummary", "Outage", "fault_summary"]


@dataclass(frozen=True, slots=True)
class FaultSummary:
    outages: list[Outage] = field(default_factory=list)
    lost_workers: int = 0
    lost_workers_at: int | None = None
    unaudited: int = 0
    history_resets: int = 0
    protocol_errors: dict[str, int] = field(default_factory=dict)

    def notes(self) -> list[str]:
        out: list[str] = []
        for o in self.outages:
            out.append(
                f"Outage: no socket connected from t = {o.start_t} s to t = {o.end_t} s ({o.duration_s} s) while "
                f"users were running; {o.failed_connects} connect attempt(s) failed meanwhile."
            )
        if self.lost_workers:
            out.append(
                f"{self.lost_workers} Locust worker(s) lost from t = {self.lost_workers_at} s: their seconds after "
                "that are missing; the totals are those of the surviving workers."
            )
        if self.history_resets:
            out.append(
                f"{self.history_resets} conversation(s) found the server's event history restarted (a restarted "
                "server recreated them): counting resumed from the new history, not as duplicates."
            )
        if self.unaudited:
            out.append(
                f"{self.unaudited} event-id hole(s) could not be checked with the server (its REST audit stayed "
                "throttled or failing); they are not counted as gaps."
            )
        if self.protocol_errors:
            kinds = ", ".join(f"{k} {v}" for k, v in sorted(self.protocol_errors.items()))
            out.append(f"Protocol errors from the server, by kind: {kinds}.")
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "outages": [
                {"start_t": o.start_t, "end_t": o.end_t, "failed_connects": o.failed_connects} for o in self.outages
            ],
            "lost_workers": self.lost_workers,
            "unaudited_holes": self.unaudited,
            "history_resets": self.history_resets,
            "protocol_errors": dict(sorted(self.protocol_errors.items())),
        }


def fault_summary(seconds: Sequence[Second]) -> FaultSummary:
    lost = 0
    lost_at: int | None = None
    protocol: dict[str, int] = {}
    for s in seconds:
        n = int(s.health_of("lost_workers"))
        if n > lost:
            lost, lost_at = n, s.t if lost_at is None else lost_at
        for key, v in s.errors.items():
            if key.startswith("protocol_"):
                protocol[key.removeprefix("protocol_")] = protocol.get(key.removeprefix("protocol_"), 0) + v
    return FaultSummary(
        outages=outages(seconds),
        lost_workers=lost,
        lost_workers_at=lost_at,
        unaudited=sum(s.extra.get("unaudited", 0) for s in seconds),
        history_resets=sum(s.extra.get("history_resets", 0) for s in seconds),
        protocol_errors=protocol,
    )
