"""A conversation's side of the hole audit: hand the holes open at a quiet point to its `HoleAuditor`.

`settle` runs at quiet points (a connect's end, a disconnect, a turn's end with enough new ids, a full batch
of open holes): ids past the tracker's window count as gaps at once; the holes go to the audit (one
background greenlet per conversation, created at the first hole), or count as gaps, unaudited, when the
audit is off. The audit's pages are REST calls of the conversation (its pacer's window applies); a page
that will be asked again is reported as retried (its throttle signal only), never as a failed call.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from loadtest.openhands.audit import HoleAuditor, HoleBatch, pacer
from loadtest.openhands.integrity import PHASE_REPLAY
from loadtest.openhands.rest import RestResult

if TYPE_CHECKING:
    from loadtest.openhands.conversation import Conversation

__all__ = ["settle"]


def settle(conv: Conversation, phase: str) -> None:
    """Take the holes open now: to the audit (or counted as gaps, unaudited, when the audit is off)."""
    integ = conv.integrity
    conv._settled_to = integ.max_id
    if integ.overflow:
        _gaps(conv, integ.take_overflow())
    holes = integ.take_holes()
    if not holes:
        return
    if conv.cfg.audit_holes and conv.conversation_id is not None:
        state_seen = conv._replay_state_seen if phase == PHASE_REPLAY else True
        auditor = conv._auditor
        if auditor is None:
            cfg = conv.cfg
            auditor = conv._auditor = HoleAuditor(
                integ,
                lambda start_id, limit: conv.rest.events(str(conv.conversation_id), start_id=start_id, limit=limit),
                lambda n: _gaps(conv, n),
                on_unaudited=lambda n: conv.listener.on_integrity(conv, "unaudited", n),
                on_result=lambda res, retried: _report(conv, res, retried),
                max_pages=cfg.audit_max_pages,
                pace=pacer(cfg.audit_rate),
            )
        auditor.submit(HoleBatch(holes, phase, state_seen))
    else:
        n, _ = integ.resolve((), holes)
        integ.unaudited += n
        _gaps(conv, n)


def _gaps(conv: Conversation, n: int) -> None:
    if n:
        conv.listener.on_integrity(conv, "gap", n)


def _report(conv: Conversation, res: RestResult, retried: bool) -> None:
    if retried:
        conv._rest_retried("events", res)
    else:
        conv._rest_done("events", res)
