"""V1 conversation settings (pure, frozen, validated; secrets never in the repr) and the refusal signals.

`signal_for_close` and `signal_for_rest` name what a close code or a refused REST call means for the harness
counters (``../shared/openhands-v1.md`` §6–7 and issue 14): ``socket_cap`` (1013), ``auth_failed`` (4001),
``unknown_conversation`` (4004), ``run_limit`` (the concurrent-run cap), ``concurrency_limit`` (an app
server's ``CONCURRENCY_LIMIT_REACHED`` 429), ``http_429`` (any other 429).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

from loadtest.openhands.v1.resume import Strategy

__all__ = ["KEY_VIA", "V1Config", "signal_for_close", "signal_for_rest"]

KeyVia = Literal["first-frame", "header", "query"]
KEY_VIA: tuple[str, ...] = ("first-frame", "header", "query")

_CLOSE_SIGNALS: dict[int, str] = {1013: "socket_cap", 4001: "auth_failed", 4004: "unknown_conversation"}


def signal_for_close(code: int | None) -> str:
    """The signal for a server's close code: ``socket_cap``, ``auth_failed``, ``unknown_conversation`` or
    ``server_disconnect`` (any other code, or none)."""
    return _CLOSE_SIGNALS.get(code, "server_disconnect") if code is not None else "server_disconnect"


def signal_for_rest(status: int, body: Any) -> str | None:
    """The signal for a refused REST answer, or None: a 429 is ``run_limit`` when its detail names the run
    limit, ``concurrency_limit`` for ``CONCURRENCY_LIMIT_REACHED``, else ``http_429``."""
    if status != 429:
        return None
    text = body if isinstance(body, str) else str(body) if body is not None else ""
    if "CONCURRENCY_LIMIT_REACHED" in text:
        return "concurrency_limit"
    if "run limit" in text.lower() or "ConversationRunLimitExceeded" in text:
        return "run_limit"
    return "http_429"


def _positive(name: str, value: float) -> None:
    if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value) or value <= 0:
        raise ValueError(f"V1Config.{name} must be a number > 0, got {value!r}")


@dataclass(frozen=True)
class V1Config:
    """How a `V1Conversation` talks to an OpenHands agent server.

    Attributes:
        base_url: ``http://host:port`` of the agent server (REST).
        socket_url: ``ws://host:port`` of its sockets when they are served elsewhere; None: `base_url`.
        session_api_key: the session key (secret: never in reprs); REST always sends it as a header.
        key_via: how the socket carries it: ``first-frame`` (an auth frame), ``header`` or ``query``.
        socket: ``events`` (``/sockets/events``, resume by timestamp) or ``session`` (``/sockets/session``, seq).
        send_via: ``socket`` (a Message frame) or ``rest`` (``POST …/events`` with ``run``).
        strategy: how to resume after a drop (`Strategy`; module doc of `loadtest.openhands.v1.resume`).
        first_resend: what the first connect replays: ``all`` (the history, as a join does) or ``none``.
        agent_settings: the create body's agent part (`wire.parse_agent_settings`; secret values inside).
        working_dir: the workspace directory for creates.
        stream: set ``llm.stream`` on create (None: as the settings say).
        connect_timeout: seconds from the upgrade to the first snapshot (``sync`` on the session socket).
        turn_timeout: seconds a turn may take.
        replay_quiet: seconds without a replayed frame after which an events-socket replay is over.
        run_retry_initial, run_retry_max: the ``POST …/run`` retry backoff after the run limit, seconds.
        backoff_initial, backoff_max, reconnect_max_attempts, reconnect_deadline: as V0's reconnect.
        audit: audit gaps over REST (``events/search``) after reconnects and at `V1Conversation.settle`.
        audit_rate: REST pages per second that all audits of the process read together.
        audit_max_pages: pages one audit reads at most.
        source_address: local IP to bind (socket and REST); None: the default.
        deflate: offer permessage-deflate.
    """

    base_url: str
    socket_url: str | None = None
    session_api_key: str | None = field(default=None, repr=False)
    key_via: KeyVia = "first-frame"
    socket: Literal["events", "session"] = "events"
    send_via: Literal["socket", "rest"] = "socket"
    strategy: Strategy = Strategy.SOCKET
    first_resend: Literal["all", "none"] = "all"
    agent_settings: dict[str, Any] | None = field(default=None, repr=False)
    working_dir: str = "."
    stream: bool | None = None
    connect_timeout: float = 30.0
    turn_timeout: float = 120.0
    replay_quiet: float = 0.05
    run_retry_initial: float = 0.5
    run_retry_max: float = 8.0
    backoff_initial: float = 0.5
    backoff_max: float = 8.0
    reconnect_max_attempts: int = 10
    reconnect_deadline: float = 60.0
    audit: bool = True
    audit_rate: float = 4.0
    audit_max_pages: int = 20
    source_address: str | None = None
    deflate: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.base_url, str) or not self.base_url.startswith(("http://", "https://")):
            raise ValueError(f"V1Config.base_url must be an http(s) URL, got {self.base_url!r}")
        if self.key_via not in KEY_VIA:
            raise ValueError(f"V1Config.key_via must be one of {', '.join(KEY_VIA)}, got {self.key_via!r}")
        if self.socket not in ("events", "session"):
            raise ValueError(f"V1Config.socket must be events or session, got {self.socket!r}")
        if self.send_via not in ("socket", "rest"):
            raise ValueError(f"V1Config.send_via must be socket or rest, got {self.send_via!r}")
        if self.first_resend not in ("all", "none"):
            raise ValueError(f"V1Config.first_resend must be all or none, got {self.first_resend!r}")
        if self.session_api_key == "":
            raise ValueError("V1Config.session_api_key must be None or a non-empty string")
        for name in (
            "connect_timeout",
            "turn_timeout",
            "replay_quiet",
            "run_retry_initial",
            "run_retry_max",
            "backoff_initial",
            "backoff_max",
            "reconnect_deadline",
            "audit_rate",
        ):
            _positive(name, getattr(self, name))
        for name in ("reconnect_max_attempts", "audit_max_pages"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"V1Config.{name} must be an integer >= 1, got {value!r}")

    def __repr__(self) -> str:
        key = "<redacted>" if self.session_api_key is not None else "None"
        return (
            f"V1Config(base_url={self.base_url!r}, session_api_key={key}, key_via={self.key_via!r}, "
            f"socket={self.socket!r}, send_via={self.send_via!r}, strategy={self.strategy.value!r})"
        )

    @property
    def ws_base(self) -> str:
        """Where the sockets are: `socket_url`, else `base_url`."""
        return (self.socket_url or self.base_url).rstrip("/")
