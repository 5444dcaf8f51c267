"""A run's verdict and its one-line reason, decided from the timeline data (pure).

``pass`` (exit 0): work was done and every objective held. ``fail`` (exit 3): an objective was
breached (or ``--slo-abort`` stopped the run). ``error`` (exit 1): the run measured nothing it was
asked to — the target was never reached, or no unit of work completed (a turn for chat, paced and
reconnect users; a connected conversation for idle users) — so no objective can vouch for it.

The harness (at quit), ``loadtest bench`` and the report call :func:`decide` with the same data.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from loadtest.slo import SloResult
from loadtest.timeline import Second

__all__ = ["ANSWERED", "COMPANIONS", "EXIT_CODES", "IDLE_PROFILES", "Verdict", "decide", "top_failure_row"]

EXIT_CODES = {"pass": 0, "error": 1, "fail": 3}
#: User classes whose unit of work is a connected conversation rather than a completed turn.
IDLE_PROFILES = frozenset({"IdleUser"})
#: How a failure cause that carries the server's answer begins (``HTTP 404 on POST /api/conversations ...``).
ANSWERED = "HTTP "
#: How a V1 refusal after the upgrade begins (``V1 socket closed by the server with 4001: ...``): answered too.
ANSWERED_V1 = "V1 socket closed by the server with "
#: Failure rows that accompany a cause rather than name it: a refused connect also fires its signal
#: (``handshake_403``, ``auth_failed``) and, after an accepted upgrade, a ``disconnect``; on a tie the row
#: of the work that failed (``connect``, ``rest_create``, ``turn``...) names the cause.
COMPANIONS = frozenset({"signal", "disconnect"})

RowT = TypeVar("RowT")


def top_failure_row(rows: Iterable[RowT], name: Callable[[RowT], str], count: Callable[[RowT], int]) -> RowT | None:
    """The most frequent failure row; among equally frequent ones, not a `COMPANIONS` row (stable otherwise)."""
    return max(rows, key=lambda r: (count(r), name(r) not in COMPANIONS), default=None)


@dataclass(frozen=True, slots=True)
class Verdict:
    verdict: str  # "pass", "fail" or "error"
    reason: str

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.verdict]


def _count(total: Second, metric: str) -> int:
    h = total.hists.get(metric)
    return h.count if h else 0


def _shown(r: SloResult) -> str:
    if r.value is None:
        return f"{r.expr} (no samples)"
    if r.expr.startswith("outage_s"):
        return f"{r.expr} (outage: {r.value:g} s with every socket down)"
    if r.unit == "ms":
        return f"{r.expr} (measured {r.value:.1f} ms)"
    if r.unit == "ratio":
        return f"{r.expr} (measured {r.value * 100:.3g}%)"
    return f"{r.expr} (measured {r.value:g})"


def decide(
    total: Second,
    results: Sequence[SloResult],
    *,
    profile: Sequence[str],
    target: str,
    top_failure: str | None = None,
    aborted: bool = False,
    slo_source: str = "given",
) -> Verdict:
    """The verdict of a run whose merged seconds are ``total`` and whose objectives gave ``results``.

    ``top_failure`` is the most frequent failure text (it names the cause of an ``error``);
    ``slo_source`` is ``"given"``, ``"default"`` or ``"none"`` (see :func:`loadtest.slo.slos_in_force`).
    """
    cause = f": {top_failure}" if top_failure else ""
    reached = _count(total, "connect") + _count(total, "rest_create") + total.events + _count(total, "turn")
    if not reached:
        if top_failure is not None and top_failure.startswith((ANSWERED, ANSWERED_V1)):
            # it answered, but refused everything (docs/contracts.md: failure causes read "HTTP <status> on ...")
            return Verdict("error", f"nothing measured: {target} answered but refused every attempt{cause}")
        attempts = total.counter("failures")
        tried = f" ({attempts} attempt(s) failed)" if attempts and not top_failure else ""
        return Verdict("error", f"the target {target} was never reached{cause}{tried}")
    idle_only = bool(profile) and all(p in IDLE_PROFILES for p in profile)
    if idle_only:
        if not _count(total, "connect"):
            failed = total.counters.get("failures.connect", 0) + total.counters.get("failures.rest_create", 0)
            return Verdict("error", f"nothing measured: no conversation connected at {target} ({failed} failed){cause}")
    elif not _count(total, "turn"):
        failed = total.counters.get("failures.turn", 0)
        creations = total.counters.get("failures.rest_create", 0)
        what = f"{failed} turn(s) failed" if failed else "no turn was sent"
        if creations:
            what += f", {creations} conversation creation(s) failed"
        return Verdict("error", f"nothing measured: no turn completed at {target} ({what}){cause}")
    breached = [r for r in results if r.ok is False]
    if breached:
        head = "SLO breached" + (" (default objectives)" if slo_source == "default" else "")
        return Verdict("fail", f"{head}: " + ", ".join(_shown(r) for r in breached))
    if aborted:
        return Verdict("fail", "stopped by --slo-abort: the objectives were breached for the hold time")
    if not results:
        return Verdict("pass", "no SLO set (--slo none); work was done and nothing was judged")
    which = "default SLO(s)" if slo_source == "default" else "SLO(s)"
    return Verdict("pass", f"all {len(results)} {which} met: " + ", ".join(r.expr for r in results))
