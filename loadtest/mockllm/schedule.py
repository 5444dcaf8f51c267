"""Which calls fail on purpose: a pure, seeded schedule over 1-based call numbers."""

from __future__ import annotations

import random
from dataclasses import dataclass

from loadtest.mockllm.settings import FaultPlan


@dataclass(frozen=True)
class Fault:
    """One injected failure: the HTTP status, its `Retry-After` (seconds or None) and the stats outcome."""

    status: int
    retry_after: float | None

    @property
    def outcome(self) -> str:
        return "rate_limited" if self.status == 429 else "error"

    def headers(self) -> dict[str, str]:
        if self.retry_after is None or self.status != 429:
            return {}
        value = self.retry_after
        return {"Retry-After": str(int(value)) if float(value).is_integer() else f"{value:g}"}

    def body(self) -> dict[str, object]:
        """An OpenAI-style error body."""
        if self.status == 429:
            kind, code, text = "rate_limit_exceeded", "rate_limit_exceeded", "Rate limit reached (mock LLM)."
        elif self.status >= 500:
            kind, code, text = "server_error", None, "The server had an error (mock LLM)."
        else:
            kind, code, text = "invalid_request_error", None, "Injected client error (mock LLM)."
        return {"error": {"message": text, "type": kind, "param": None, "code": code}}


class FaultSchedule:
    """Decides, call by call, whether to inject a failure.

    Only calls in the plan's scope count: with scope `agent`, tool-less calls never fail and do not advance
    the schedule. Every counted call draws one random number (seeded), so the outcome of the Nth counted
    call depends only on the plan and N.
    """

    def __init__(self, plan: FaultPlan) -> None:
        self.plan = plan
        self.counted = 0
        self._rng = random.Random(plan.seed)

    def decide(self, *, agent_call: bool) -> Fault | None:
        """The failure for the next call (`agent_call`: the request offers tools), or None to answer normally."""
        plan = self.plan
        if plan.scope == "agent" and not agent_call:
            return None
        self.counted += 1
        draw = self._rng.random()
        hit = (plan.every > 0 and self.counted % plan.every == 0) or draw < plan.share
        return Fault(plan.status, plan.retry_after) if hit else None
