"""Every command-line option of the harness, and the frozen, validated :class:`Settings` read from them.

Options are registered on Locust's parser (:func:`add_options`), so they show in ``locust --help``,
in the web UI's start form (the session key masked), as ``LOCUST_*`` environment variables and in
``locust.conf`` / ``[tool.locust]``. Values are kept as strings until :meth:`Settings.from_options`
parses them, so the command line, the environment, config files and the web UI's form all go
through one validation, which names the option, the bad value and the fix.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from loadtest.harness.shapes import Step, parse_steps
from loadtest.harness.slo import Slo, SloError, parse_slos
from loadtest.units import parse_duration, parse_float, parse_list, parse_percent, parse_range

__all__ = ["OPTIONS", "Option", "OptionError", "Settings", "add_options"]

SECRET_FIELDS = ("session_api_key", "seed_settings")
SECRET_FLAGS = ("--session-api-key", "--seed-settings")
MAX_SOURCE_IPS = 4096
SHAPES = ("none", "step", "ramp", "spike", "capacity", "throttle")
REDACTED = "***"


@dataclass(frozen=True)
class Option:
    flag: str
    default: str | None
    help: str
    choices: tuple[str, ...] | None = None
    secret: bool = False
    repeatable: bool = False
    flag_only: bool = False  # store_true

    @property
    def dest(self) -> str:
        return self.flag.lstrip("-").replace("-", "_")

    @property
    def env_var(self) -> str:
        return "LOCUST_" + self.dest.upper()


OPTIONS: tuple[Option, ...] = (
    Option(
        "--session-api-key",
        "",
        "Session API key sent on connect and REST calls (never logged, not in the web UI).",
        secret=True,
    ),
    Option("--key-via", "query", "How the session key is sent on the socket.", choices=("query", "header", "cookie")),
    Option("--providers", "", "Comma-separated providers_set sent on connect (e.g. github,gitlab)."),
    Option("--conversation-ids", "", "FILE of conversation ids, one a line, to join instead of creating them."),
    Option("--message", "Say hello.", "Text of each user message, or @FILE to read it from a file."),
    Option("--think-time", "1s", "ChatUser pause after a turn ends: 2s, 500ms or a range 1s..3s."),
    Option("--action-pace", "1s", "PacedUser interval between one user's actions (e.g. 2s)."),
    Option("--action-rate", "0", "Total actions/s across all PacedUsers (overrides --action-pace; 0 = off)."),
    Option("--turn-timeout", "120s", "Give up waiting for a turn to end after this long."),
    Option("--connect-timeout", "30s", "Give up a socket connect (handshake + replay) after this long."),
    Option(
        "--wait-ready",
        "on",
        "Before joining a conversation, poll GET /api/conversations/{id} until RUNNING, as the OpenHands frontend"
        " does (metric `ready`).",
        choices=("on", "off"),
    ),
    Option(
        "--ws-deflate",
        "off",
        "Offer WebSocket permessage-deflate on connect (servers that require compression; costs client CPU).",
        choices=("on", "off"),
    ),
    Option("--ready-timeout", "120s", "Give up waiting for a conversation to be RUNNING after this long, then join."),
    Option("--ready-poll", "3s", "Longest pause between readiness polls (they start at 0.5s and double up to it)."),
    Option(
        "--seed-settings",
        "",
        "Settings JSON (or @FILE) posted to /api/settings if the server has none (never logged, not in the web UI).",
        secret=True,
    ),
    Option(
        "--source-ips",
        "",
        "Local addresses to spread users over, e.g. 127.0.0.2-127.0.0.9 or 127.0.0.2,127.0.0.3 (per-IP limiters).",
    ),
    Option("--reconnect-every", "30s", "ReconnectUser drops its socket this often (0 = only server drops)."),
    Option(
        "--drop-mode", "abrupt", "How ReconnectUser drops: abrupt TCP close or clean disconnect.", ("abrupt", "clean")
    ),
    Option("--reconnect-attempts", "10", "Attempts per reconnect before the user gives up the connection."),
    Option("--report-dir", "", "Run folder (default reports/<UTC timestamp>-<label>)."),
    Option("--run-label", "", "Label in the run folder's name and run.json (default: the profile)."),
    Option("--slo", None, "Objective checked at the end, repeatable: 'echo.p95<250ms', 'gaps==0'.", repeatable=True),
    Option("--slo-abort", "0", "Stop the run after the SLOs are breached this long without a break (0 = off)."),
    Option("--slo-window", "10s", "Window of the live SLO check used by --slo-abort."),
    Option(
        "--shape",
        "none",
        "Load shape: none (follow -u/-r/-t), step, ramp, spike, capacity or throttle.",
        choices=SHAPES,
    ),
    Option("--shape-steps", "10,20,40", "Shape steps N[@DURATION]: users, or total actions/s for ThrottleSearchShape."),
    Option("--step-duration", "30s", "Default duration of a shape step."),
    Option("--step-spawn-rate", "10", "Users started per second when a step changes the user count."),
    Option("--step-warmup", "5s", "Start of each search step left out of its verdict (at most half the step)."),
    Option("--throttle-users", "0", "Paced users held by ThrottleSearchShape (0 = the -u user count)."),
    Option(
        "--throttle-threshold", "1%", "ThrottleSearchShape stops when throttle signals exceed this share of actions."
    ),
    Option(
        "--locust-rows",
        "each",
        "How our measurements reach Locust's statistics: each (one events.request per measurement) or batched"
        " (added once per second: same table and CSVs, 13-18% less generator CPU; other request listeners see"
        " only failures).",
        choices=("each", "batched"),
    ),
    Option("--lag-warning", "100ms", "Warn when the generator's gevent loop lag exceeds this (client-bound results)."),
    Option(
        "--skip-report", None, "Do not build the report at the end (run.json and timeline.jsonl only).", flag_only=True
    ),
)


def add_options(parser: Any) -> None:
    """Register :data:`OPTIONS` on Locust's parser (an ``init_command_line_parser`` listener).

    They go on the parser itself, not an argument group: only Locust's own ``add_argument`` marks
    an option for the web UI's form (and masks the secret one).
    """
    for opt in OPTIONS:
        kwargs: dict[str, Any] = {"env_var": opt.env_var, "help": opt.help, "dest": opt.dest}
        if opt.flag_only:
            kwargs.update(action="store_true", default=False)
        elif opt.repeatable:
            kwargs.update(action="append", default=None, metavar="EXPR")
        else:
            kwargs.update(type=str, default=opt.default, choices=opt.choices)
        if opt.secret:
            # Locust embeds a secret option's value in the web UI page (masked only in the form), so the key
            # stays out of the UI: it comes from the command line, LOCUST_SESSION_API_KEY or locust.conf.
            kwargs["include_in_web_ui"] = False
        parser.add_argument(opt.flag, **kwargs)


class OptionError(ValueError):
    """A bad option value: names the option, the value and the fix."""

    def __init__(self, flag: str, value: object, fix: str) -> None:
        self.flag = flag
        self.value = value
        self.fix = fix
        if value is None or value == "":
            super().__init__(f"{flag} is missing: {fix}")
            return
        shown = REDACTED if flag in SECRET_FLAGS else repr(value)
        super().__init__(f"{flag}={shown} is not valid: {fix}")


def _field(opts: Mapping[str, Any], flag: str) -> Any:
    opt = next(o for o in OPTIONS if o.flag == flag)
    value = opts.get(opt.dest, opt.default)
    return opt.default if value is None and not opt.repeatable else value


def _parse(opts: Mapping[str, Any], flag: str, fn: Any, example: str) -> Any:
    value = _field(opts, flag)
    try:
        return fn(value)
    except (ValueError, TypeError) as exc:
        raise OptionError(flag, value, f"{exc}; e.g. {flag} {example}") from None


def _positive(fn: Any, *, allow_zero: bool = True) -> Any:
    def check(value: Any) -> float:
        out = float(fn(value))
        if math.isnan(out) or out < 0 or (out == 0 and not allow_zero):
            raise ValueError("must be " + ("≥ 0" if allow_zero else "> 0"))
        return out

    return check


def _int(value: Any) -> int:
    number = parse_float(value, what="a whole number")
    if not number.is_integer() or number < 0:
        raise ValueError("expected a whole number ≥ 0")
    return int(number)


def _read_ids(path_text: str) -> tuple[str, ...]:
    if not path_text:
        return ()
    path = Path(path_text)
    if not path.is_file():
        raise ValueError(f"no such file {path_text!r}")
    ids = tuple(line.strip() for line in path.read_text().splitlines() if line.strip() and not line.startswith("#"))
    if not ids:
        raise ValueError(f"{path_text!r} holds no conversation ids (one per line)")
    return ids


def _read_message(text: str) -> str:
    if text.startswith("@"):
        path = Path(text[1:])
        if not path.is_file():
            raise ValueError(f"no such file {text[1:]!r}")
        text = path.read_text().strip()
    if not text:
        raise ValueError("the message is empty")
    return text


def _read_settings_json(text: str) -> dict[str, Any] | None:
    """``--seed-settings``: a JSON object, or ``@FILE`` holding one; empty means none."""
    text = str(text or "").strip()
    if not text:
        return None
    where = "the value"
    if text.startswith("@"):
        path = Path(text[1:])
        if not path.is_file():
            raise ValueError(f"no such file {text[1:]!r}")
        where, text = f"file {text[1:]!r}", path.read_text()
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        # never echo the text: it may hold an LLM key
        raise ValueError(f"{where} is not JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from None
    if not isinstance(data, dict) or not data:
        raise ValueError(f'{where} must be a non-empty JSON object such as {{"llm_model": ...}}')
    return data


def parse_source_ips(text: str) -> tuple[str, ...]:
    """``127.0.0.2-127.0.0.9`` or ``127.0.0.2,127.0.0.5`` (entries may mix) → the addresses, in order.

    A range ``A-B`` holds every address from A to B (same IP version, A ≤ B). Duplicates are kept once.
    """
    out: dict[str, None] = {}
    for item in parse_list(str(text or "")):
        lo_text, sep, hi_text = item.partition("-")
        try:
            lo = ipaddress.ip_address(lo_text.strip())
            hi = ipaddress.ip_address(hi_text.strip()) if sep else lo
        except ValueError:
            raise ValueError(f"{item!r} is not an IP address or a range A-B of them") from None
        if lo.version != hi.version or int(hi) < int(lo):
            raise ValueError(f"{item!r}: a range goes from the lower to the higher address of one IP version")
        if int(hi) - int(lo) + 1 + len(out) > MAX_SOURCE_IPS:
            raise ValueError(f"more than {MAX_SOURCE_IPS} addresses")
        for k in range(int(hi) - int(lo) + 1):
            out[str(lo + k)] = None
    return tuple(out)


def _check_host(host: str | None) -> str:
    if not host:
        raise OptionError("--host", host, "pass the server's base URL, e.g. --host http://127.0.0.1:3000")
    parts = urlsplit(host)
    if parts.scheme not in ("http", "https", "ws", "wss") or not parts.hostname:
        raise OptionError("--host", host, "use http(s)://HOST:PORT (or ws(s)://), e.g. --host http://127.0.0.1:3000")
    return host.rstrip("/")


@dataclass(frozen=True)
class Settings:
    """The harness's settings for one run, parsed and validated once."""

    host: str | None
    session_api_key: str
    key_via: str
    providers: tuple[str, ...]
    conversation_ids_file: str
    conversation_ids: tuple[str, ...]
    message: str
    think_time: tuple[float, float]
    action_pace: float
    action_rate: float
    turn_timeout: float
    connect_timeout: float
    wait_ready: bool
    ready_timeout: float
    ready_poll: float
    seed_settings: dict[str, Any] | None
    source_ips: tuple[str, ...]
    reconnect_every: float
    drop_mode: str
    reconnect_attempts: int
    report_dir: str
    run_label: str
    slos: tuple[Slo, ...]
    slo_abort: float
    slo_window: float
    shape: str
    shape_steps_text: str
    step_duration: float
    step_spawn_rate: float
    step_warmup: float
    throttle_users: int
    throttle_threshold: float
    lag_warning_ms: float
    skip_report: bool
    ws_deflate: bool = False
    locust_rows: str = "each"

    @classmethod
    def from_options(
        cls, opts: Mapping[str, Any] | Any, host: str | None = None, *, need_host: bool = True
    ) -> Settings:
        """Parse Locust's ``parsed_options`` (a Namespace or a mapping); :class:`OptionError` on a bad value."""
        if not isinstance(opts, Mapping):
            opts = vars(opts)
        if need_host:
            host = _check_host(host)
        try:
            slos = parse_slos(_field(opts, "--slo"))
        except SloError as exc:
            raise OptionError("--slo", exc.expr, exc.why) from None
        step_duration = _parse(opts, "--step-duration", _positive(parse_duration, allow_zero=False), "30s")
        steps_text = str(_field(opts, "--shape-steps"))
        _parse(opts, "--shape-steps", lambda v: parse_steps(str(v), step_duration), "10,20@60s,40")
        key_via = str(_field(opts, "--key-via"))
        if key_via not in ("query", "header", "cookie"):
            raise OptionError("--key-via", key_via, "choose query, header or cookie")
        shape = str(_field(opts, "--shape"))
        if shape not in SHAPES:
            raise OptionError("--shape", shape, f"choose one of {', '.join(SHAPES)}")
        locust_rows = str(_field(opts, "--locust-rows") or "each")
        if locust_rows not in ("each", "batched"):
            raise OptionError("--locust-rows", locust_rows, "choose each or batched")
        drop_mode = str(_field(opts, "--drop-mode"))
        if drop_mode not in ("abrupt", "clean"):
            raise OptionError("--drop-mode", drop_mode, "choose abrupt or clean")
        return cls(
            host=host.rstrip("/") if host else None,
            session_api_key=str(_field(opts, "--session-api-key") or ""),
            key_via=key_via,
            providers=tuple(parse_list(str(_field(opts, "--providers") or ""))),
            conversation_ids_file=str(_field(opts, "--conversation-ids") or ""),
            conversation_ids=_parse(opts, "--conversation-ids", lambda v: _read_ids(str(v or "")), "ids.txt"),
            message=_parse(opts, "--message", lambda v: _read_message(str(v)), "'Say hello.' or @message.txt"),
            think_time=_parse(opts, "--think-time", parse_range, "2s or 1s..3s"),
            action_pace=_parse(opts, "--action-pace", _positive(parse_duration, allow_zero=False), "2s"),
            action_rate=_parse(opts, "--action-rate", _positive(parse_float), "20 (actions/s in total)"),
            turn_timeout=_parse(opts, "--turn-timeout", _positive(parse_duration, allow_zero=False), "120s"),
            connect_timeout=_parse(opts, "--connect-timeout", _positive(parse_duration, allow_zero=False), "30s"),
            wait_ready=_parse(opts, "--wait-ready", _on_off, "on"),
            ready_timeout=_parse(opts, "--ready-timeout", _positive(parse_duration, allow_zero=False), "120s"),
            ready_poll=_parse(opts, "--ready-poll", _positive(parse_duration, allow_zero=False), "3s"),
            seed_settings=_parse(
                opts, "--seed-settings", _read_settings_json, '\'{"llm_model": "openai/gpt-4o"}\' or @settings.json'
            ),
            source_ips=_parse(opts, "--source-ips", parse_source_ips, "127.0.0.2-127.0.0.9"),
            reconnect_every=_parse(opts, "--reconnect-every", _positive(parse_duration), "30s"),
            drop_mode=drop_mode,
            reconnect_attempts=_parse(opts, "--reconnect-attempts", _int, "10"),
            report_dir=str(_field(opts, "--report-dir") or ""),
            run_label=_parse(opts, "--run-label", _label, "nightly-chat"),
            slos=slos,
            slo_abort=_parse(opts, "--slo-abort", _positive(parse_duration), "15s"),
            slo_window=_parse(opts, "--slo-window", _positive(parse_duration, allow_zero=False), "10s"),
            shape=shape,
            shape_steps_text=steps_text,
            step_duration=step_duration,
            step_spawn_rate=_parse(opts, "--step-spawn-rate", _positive(parse_float, allow_zero=False), "10"),
            step_warmup=_parse(opts, "--step-warmup", _positive(parse_duration), "5s"),
            throttle_users=_parse(opts, "--throttle-users", _int, "10"),
            throttle_threshold=_parse(opts, "--throttle-threshold", parse_percent, "1%"),
            lag_warning_ms=_parse(opts, "--lag-warning", _positive(parse_duration, allow_zero=False), "100ms") * 1000,
            skip_report=bool(_field(opts, "--skip-report")),
            ws_deflate=_parse(opts, "--ws-deflate", _on_off, "on"),
            locust_rows=locust_rows,
        )

    def shape_steps(self) -> tuple[Step, ...]:
        return parse_steps(self.shape_steps_text, self.step_duration)

    def public_dict(self) -> dict[str, Any]:
        """The settings as JSON-safe data with secrets redacted (for run.json and logs)."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name in SECRET_FIELDS:
                value = REDACTED if value else ""
            elif f.name == "slos":
                out["slo"] = [s.expr for s in value]  # the option's name, as readers of run.json expect
                continue
            elif f.name == "conversation_ids":
                value = len(value)
            elif isinstance(value, tuple):
                value = list(value)
            out[f.name] = value
        return out

    def __repr__(self) -> str:  # never show the key, even in a traceback
        return f"Settings({self.public_dict()!r})"


def _on_off(value: Any) -> bool:
    text = str(value).strip().lower()
    if text in ("on", "true", "yes", "1"):
        return True
    if text in ("off", "false", "no", "0"):
        return False
    raise ValueError("choose on or off")


def _label(value: Any) -> str:
    text = str(value or "").strip()
    if any(c in text for c in "/\\\0") or text.startswith("."):
        raise ValueError("a label is a plain name without slashes")
    return text
