"""The as-run load step: what the harness writes to ``run.json`` ``steps`` and the report reads back (pure).

A *planned* step is an item of ``--shape-steps`` (:class:`loadtest.harness.steps.PlannedStep`: a value
held for a duration). A :class:`StepRecord` is a step the run actually went through: its index, the run
second it began, the second it ended (``None`` while it runs), and the users / total offered action rate a
shape asked for (``None`` when the shape did not say). The harness keeps them in a :class:`StepLog`; the
report resolves them against the timeline (:mod:`loadtest.report.steps`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

__all__ = ["StepLog", "StepRecord", "StepRow"]

#: One ``run.json`` ``steps`` entry (``docs/contracts.md``).
StepRow = dict[str, int | float | None]


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


@dataclass(frozen=True, slots=True)
class StepRecord:
    """One step of a run as ``run.json`` lists it."""

    index: int
    start_t: int
    end_t: int | None = None
    users: int | None = None
    offered_rate: float | None = None

    def to_dict(self) -> StepRow:
        return {
            "index": self.index,
            "start_t": self.start_t,
            "end_t": self.end_t,
            "users": self.users,
            "offered_rate": self.offered_rate,
        }

    @classmethod
    def from_dict(cls, row: object, position: int = 0) -> StepRecord | None:
        """A ``run.json`` entry read back; None when it has no ``start_t`` (``position`` stands in for a
        missing index). Numbers of the wrong kind read as absent."""
        if not isinstance(row, Mapping):
            return None
        start = _number(row.get("start_t"))
        if start is None:
            return None
        index, end, users, rate = (_number(row.get(k)) for k in ("index", "end_t", "users", "offered_rate"))
        return cls(
            index=int(index) if index is not None else position,
            start_t=int(start),
            end_t=int(end) if end is not None else None,
            users=int(users) if users is not None else None,
            offered_rate=rate,
        )


class StepLog:
    """The steps of one run, in order; the harness changes them only through these methods."""

    def __init__(self, records: Iterable[StepRecord] = ()) -> None:
        self._records: list[StepRecord] = list(records)

    @property
    def records(self) -> tuple[StepRecord, ...]:
        return tuple(self._records)

    def __len__(self) -> int:
        return len(self._records)

    def begin(self, index: int, t: int, users: int | None, offered_rate: float | None) -> None:
        """Step ``index`` is in force at run second ``t``: a new step closes the previous one at ``t``; the
        same step again only updates the users / offered rate it was given (None keeps the old value)."""
        if self._records and self._records[-1].index == index:
            last = self._records[-1]
            self._records[-1] = replace(
                last,
                users=users if users is not None else last.users,
                offered_rate=offered_rate if offered_rate is not None else last.offered_rate,
            )
            return
        if self._records:
            self._records[-1] = replace(self._records[-1], end_t=t)
        self._records.append(StepRecord(index, t, None, users, offered_rate))

    def close(self, end_t: int) -> None:
        """The run is over: the last step ends at ``end_t`` unless it already ended."""
        if self._records and self._records[-1].end_t is None:
            self._records[-1] = replace(self._records[-1], end_t=end_t)

    def at(self, t: int) -> int:
        """The index of the step in force at run second ``t`` (0 before the first)."""
        current = 0
        for step in self._records:
            if step.start_t <= t:
                current = step.index
        return current

    def start_of(self, index: int) -> int | None:
        """The run second step ``index`` began, or None if it never did."""
        return next((s.start_t for s in self._records if s.index == index), None)

    def to_dicts(self) -> list[StepRow]:
        return [s.to_dict() for s in self._records]
