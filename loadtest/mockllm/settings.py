"""What the mock LLM answers and how slowly: one frozen, validated settings object."""

from __future__ import annotations

import re
from dataclasses import dataclass

#: Commands the mock may ask the agent to run. Agent commands run on the host with OpenHands' `cli`
#: runtime, so only `ls` and an `echo` of plain words are allowed: no redirection, no expansion.
SAFE_COMMAND = re.compile(r"(?:ls|echo(?: [A-Za-z0-9][A-Za-z0-9 .,:_-]{0,119})?)")

DEFAULT_BASH_COMMAND = "echo hello from the mock LLM"
DEFAULT_MESSAGE = "Hello from the mock LLM."
DEFAULT_MODEL = "mock-model"


def is_safe_command(command: str) -> bool:
    """True when `command` is `ls` or `echo` followed by plain words (letters, digits, ` .,:_-`)."""
    return SAFE_COMMAND.fullmatch(command) is not None


@dataclass(frozen=True)
class FaultPlan:
    """Which chat-completion calls fail on purpose, and how."""

    every: int = 0
    """Fail every Nth call (1-based call numbers N, 2N, ...); 0 disables."""
    share: float = 0.0
    """Fail this share of calls at random (seeded), in [0, 1]; 0 disables."""
    status: int = 429
    """HTTP status of an injected failure: 429 exercises OpenHands' `rate_limited` path."""
    retry_after: float | None = 1.0
    """`Retry-After` seconds sent with an injected 429 (None: no header)."""
    seed: int = 0
    """Seed of the random draw behind `share`."""
    scope: str = "agent"
    """Which calls may fail: `agent` (requests that offer tools: agent steps) or `all` (also tool-less calls,
    e.g. OpenHands' title generation, which runs on the server's event loop: failing it with retries
    freezes the whole server for minutes)."""

    def __post_init__(self) -> None:
        for name in ("every", "status", "seed"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool):
                raise ValueError(f"fault {name} must be an integer, got {value!r}")
        if not isinstance(self.share, int | float) or (
            self.retry_after is not None and not isinstance(self.retry_after, int | float)
        ):
            raise ValueError("fault share and retry_after must be numbers")
        if self.scope not in ("agent", "all"):
            raise ValueError(f"--fail-scope must be 'agent' or 'all', got {self.scope!r}")
        if self.every < 0:
            raise ValueError(f"--fail-every must be >= 0, got {self.every}")
        if not 0.0 <= self.share <= 1.0:
            raise ValueError(f"--fail-share must be within [0, 1], got {self.share}")
        if not 400 <= self.status <= 599:
            raise ValueError(f"--fail-status must be an HTTP error status (400-599), got {self.status}")
        if self.retry_after is not None and self.retry_after < 0:
            raise ValueError(f"--retry-after must be >= 0 seconds, got {self.retry_after}")

    @property
    def enabled(self) -> bool:
        return self.every > 0 or self.share > 0.0


@dataclass(frozen=True)
class MockSettings:
    """The mock LLM's behaviour. Invalid values raise ValueError naming the option."""

    model: str = DEFAULT_MODEL
    """Model id listed by `GET /v1/models` (requests may name any model; it is echoed back)."""
    message: str = DEFAULT_MESSAGE
    """The `finish` tool's `message`, or the text of a reply when no tool fits."""
    pad_tokens: int = 0
    """Filler tokens appended to `message`, to make replies longer (with `tokens_per_second`)."""
    bash: bool = False
    """Ask for `execute_bash` on the first call of a turn when the request offers that tool."""
    bash_command: str = DEFAULT_BASH_COMMAND
    """The command asked for; must be `ls` or a plain `echo` (see `is_safe_command`)."""
    latency_ms: float = 0.0
    """Delay before the first byte of an answer to an agent step (a request that offers tools)."""
    text_latency_ms: float | None = None
    """The same for tool-less requests (OpenHands' title generation, which blocks its event loop);
    None: `latency_ms`."""
    jitter_ms: float = 0.0
    """Extra uniform random delay in [0, jitter_ms) added to `latency_ms` (seeded)."""
    tokens_per_second: float = 0.0
    """Pace of the completion tokens (streamed chunk by chunk, or as one delay when not streaming); 0: no pacing."""
    faults: FaultPlan = FaultPlan()

    def __post_init__(self) -> None:
        if not is_safe_command(self.bash_command):
            raise ValueError(
                f"--bash-command must be `ls` or `echo` followed by plain words, got {self.bash_command!r}"
            )
        if self.latency_ms < 0 or self.jitter_ms < 0 or (self.text_latency_ms or 0.0) < 0:
            raise ValueError("--latency-ms, --text-latency-ms and --jitter-ms must be >= 0")
        if self.tokens_per_second < 0:
            raise ValueError(f"--tokens-per-second must be >= 0, got {self.tokens_per_second}")
        if self.pad_tokens < 0:
            raise ValueError(f"--pad-tokens must be >= 0, got {self.pad_tokens}")
        if not self.model:
            raise ValueError("--model must not be empty")
