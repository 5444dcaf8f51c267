"""The reference server's settings: one frozen, validated `ServerConfig` (pure, no I/O beyond reading a profile).

Every field has a command-line option of the same name with dashes (see `cli.py`); a JSON profile file
(`--profile FILE`) may set any of them with the field name as key, and options given on the command line win.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass
from pathlib import Path

from loadtest.errors import LoadtestError

#: Agent steps a `--script` may name, each one or two events (see `agent.plan_turn`).
SCRIPT_STEPS: tuple[str, ...] = ("run", "edit", "write", "read", "think", "message", "finish", "error")
DEFAULT_SCRIPT: tuple[str, ...] = ("run", "edit", "write", "message")
ACTION_LIMIT_MODES: tuple[str, ...] = ("state", "error")
DROP_MODES: tuple[str, ...] = ("clean", "abrupt")
APIS: tuple[str, ...] = ("v0", "v1", "both")
MAX_PAYLOAD = 4 * 1024 * 1024  # OpenHands' max_http_buffer_size (PR #9504)


class ConfigError(LoadtestError, ValueError):
    """A bad setting: names the option, the value and an example of a good one."""

    def __init__(self, option: str, value: object, example: str, why: str = "") -> None:
        self.option = option
        self.value = value
        self.example = example
        detail = f" ({why})" if why else ""
        super().__init__(f"{option}: bad value {value!r}{detail}; for example {option} {example}")


@dataclass(frozen=True)
class ServerConfig:
    """Everything the reference server can be told. Defaults behave as OpenHands V0 does."""

    host: str = "127.0.0.1"
    port: int = 3000
    log_level: str = "warning"
    session_api_key: str | None = None
    ping_interval: float = 25.0
    ping_timeout: float = 20.0
    max_payload: int = MAX_PAYLOAD
    ws_compression: bool = True
    # simulated agent
    seed: int = 0
    script: tuple[str, ...] = DEFAULT_SCRIPT
    event_delay_ms: float = 100.0
    echo_delay_ms: float = 0.0
    delay_jitter: float = 0.0
    startup_delay_ms: float = 0.0
    finish_keyword: str = "finish"
    close_delay: float = 3600.0
    output_bytes: int = 600
    tool_metadata: bool = True
    vision: bool = True
    # limits
    http_limit: bool = True
    http_rate: int = 10
    http_sleep: float = 1.0
    handshake_rate: float = 0.0
    handshake_retry_after: int = 0
    action_rate: float = 0.0
    action_limit_mode: str = "state"
    max_conversations: int = 3
    # faults
    drop_every: float = 0.0
    drop_share: float = 0.0
    drop_mode: str = "clean"
    stall_after: int = 0
    stall_ms: float = 0.0
    delay_every: int = 0
    delay_ms: float = 0.0
    replay_skip_every: int = 0
    replay_repeat_every: int = 0
    handshake_log_size: int = 10000
    # OpenHands V1 (agent server): `api` picks the protocol(s); the rest apply to V1 only
    api: str = "v0"
    max_runs: int = 10
    socket_cap: int = 48
    auth_timeout: float = 10.0
    stream_tokens: int = 6
    stream_rate: float = 400.0
    snapshot_drop_every: int = 0
    replay_interleave_ms: float = 0.0

    def __post_init__(self) -> None:
        validate(self)


def option_name(field_name: str) -> str:
    return "--" + field_name.replace("_", "-")


def _check(ok: bool, name: str, value: object, example: str, why: str) -> None:
    if not ok:
        raise ConfigError(option_name(name), value, example, why)


def _finite(value: float) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def validate(cfg: ServerConfig) -> None:
    """Raise `ConfigError` for the first bad field."""
    _check(isinstance(cfg.port, int) and 0 <= cfg.port <= 65535, "port", cfg.port, "3000", "0..65535")
    _check(bool(cfg.host), "host", cfg.host, "127.0.0.1", "empty")
    _check(
        cfg.log_level in ("debug", "info", "warning", "error"),
        "log_level",
        cfg.log_level,
        "warning",
        "debug|info|warning|error",
    )
    _check(cfg.session_api_key is None or cfg.session_api_key != "", "session_api_key", "", "s3cret", "empty key")
    non_negative = {
        "event_delay_ms": "100",
        "echo_delay_ms": "0",
        "startup_delay_ms": "0",
        "http_sleep": "1",
        "close_delay": "3600",
        "handshake_rate": "5",
        "handshake_retry_after": "2",
        "action_rate": "2",
        "drop_every": "10",
        "stall_ms": "5000",
        "delay_ms": "500",
    }
    for name, example in non_negative.items():
        value = getattr(cfg, name)
        _check(_finite(value) and value >= 0, name, value, example, "a number >= 0")
    for name, example in (("ping_interval", "25"), ("ping_timeout", "20")):
        value = getattr(cfg, name)
        _check(_finite(value) and value > 0, name, value, example, "seconds > 0")
    _check(
        _finite(cfg.delay_jitter) and 0 <= cfg.delay_jitter <= 1,
        "delay_jitter",
        cfg.delay_jitter,
        "0.2",
        "a fraction 0..1",
    )
    _check(_finite(cfg.drop_share) and 0 <= cfg.drop_share <= 1, "drop_share", cfg.drop_share, "0.1", "a fraction 0..1")
    counts = {
        "seed": "42",
        "output_bytes": "600",
        "http_rate": "10",
        "max_conversations": "100",
        "stall_after": "20",
        "delay_every": "10",
        "replay_skip_every": "5",
        "replay_repeat_every": "7",
    }
    for name, example in counts.items():
        value = getattr(cfg, name)
        ok = isinstance(value, int) and not isinstance(value, bool) and value >= 0
        _check(ok, name, value, example, "an integer >= 0")
    _check(cfg.http_rate >= 1, "http_rate", cfg.http_rate, "10", "at least 1")
    _check(cfg.output_bytes <= 1_000_000, "output_bytes", cfg.output_bytes, "600", "at most 1000000")
    _check(
        isinstance(cfg.max_payload, int) and 1024 <= cfg.max_payload <= 64 * 1024 * 1024,
        "max_payload",
        cfg.max_payload,
        str(MAX_PAYLOAD),
        "1024..67108864 bytes",
    )
    _check(
        isinstance(cfg.handshake_log_size, int) and 1 <= cfg.handshake_log_size <= 1_000_000,
        "handshake_log_size",
        cfg.handshake_log_size,
        "10000",
        "1..1000000",
    )
    _check(
        cfg.action_limit_mode in ACTION_LIMIT_MODES,
        "action_limit_mode",
        cfg.action_limit_mode,
        "state",
        "|".join(ACTION_LIMIT_MODES),
    )
    _check(cfg.drop_mode in DROP_MODES, "drop_mode", cfg.drop_mode, "clean", "|".join(DROP_MODES))
    _check(
        (cfg.drop_every > 0) == (cfg.drop_share > 0),
        "drop_share" if cfg.drop_every > 0 else "drop_every",
        cfg.drop_share if cfg.drop_every > 0 else cfg.drop_every,
        "0.1" if cfg.drop_every > 0 else "10",
        "--drop-every and --drop-share go together",
    )
    _validate_v1(cfg)
    script = cfg.script
    _check(
        isinstance(script, tuple) and len(script) >= 1 and all(s in SCRIPT_STEPS for s in script),
        "script",
        ",".join(script) if isinstance(script, tuple) else script,
        ",".join(DEFAULT_SCRIPT),
        "steps from " + ",".join(SCRIPT_STEPS),
    )


def _validate_v1(cfg: ServerConfig) -> None:
    _check(cfg.api in APIS, "api", cfg.api, "v1", "|".join(APIS))
    for name, example in (("max_runs", "10"), ("socket_cap", "48"), ("stream_tokens", "6"),
                          ("snapshot_drop_every", "5")):  # fmt: skip
        value = getattr(cfg, name)
        ok = isinstance(value, int) and not isinstance(value, bool) and value >= 0
        _check(ok, name, value, example, "an integer >= 0 (0 = off)")
    _check(_finite(cfg.auth_timeout) and cfg.auth_timeout > 0, "auth_timeout", cfg.auth_timeout, "10", "seconds > 0")
    _check(_finite(cfg.stream_rate) and cfg.stream_rate > 0, "stream_rate", cfg.stream_rate, "400", "tokens/s > 0")
    ok = _finite(cfg.replay_interleave_ms) and cfg.replay_interleave_ms >= 0
    _check(ok, "replay_interleave_ms", cfg.replay_interleave_ms, "30", "a number >= 0")


def parse_script(text: str) -> tuple[str, ...]:
    """`"run, edit,message"` -> `("run", "edit", "message")`; validation happens in `ServerConfig`."""
    return tuple(part.strip() for part in text.split(",") if part.strip())


def load_profile(path: str | Path) -> dict[str, object]:
    """Read a JSON profile: an object whose keys are `ServerConfig` field names ("//" keys are comments)."""
    text = Path(path).read_text(encoding="utf-8")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError("--profile", str(path), "loadtest/server/profiles/chat.json", f"invalid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError("--profile", str(path), "loadtest/server/profiles/chat.json", "not a JSON object")
    names = {f.name for f in dataclasses.fields(ServerConfig)}
    out: dict[str, object] = {}
    for key, value in data.items():
        if key.startswith("//"):
            continue
        if key not in names:
            raise ConfigError("--profile", str(path), "loadtest/server/profiles/chat.json", f"unknown key {key!r}")
        out[key] = parse_script(value) if key == "script" and isinstance(value, str) else value
        if key == "script" and isinstance(value, list):
            out[key] = tuple(value)
    return out
