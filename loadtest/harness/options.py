"""Every command-line option of the harness, declared once, and the frozen, validated :class:`Settings`.

:data:`OPTIONS` is the one declaration of each option: flag, default, help, group, value parser,
example, secret or not. Two parsers are built from it: Locust's (:func:`add_options`, so the options
show in ``locust --help``, in the web UI's start form with the secrets left out, as ``LOCUST_*``
environment variables and in ``locust.conf`` / ``[tool.locust]``) and ``loadtest bench``'s
(:func:`add_bench_arguments`, the same names, grouped). Values are kept as strings until
:meth:`Settings.from_options` parses them with the option's parser, so the command line, the
environment, config files, the web UI's form and ``bench`` all go through one validation, which names
the option, the bad value and the fix. Pure: imports neither Locust nor gevent.
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, cast, get_args
from urllib.parse import urlsplit

from loadtest.errors import LoadtestError
from loadtest.harness import values as v
from loadtest.harness.slo import Slo
from loadtest.harness.steps import PlannedStep, parse_steps
from loadtest.harness.values import parse_source_ips

__all__ = [
    "GROUPS",
    "OPTIONS",
    "Option",
    "OptionError",
    "Settings",
    "add_bench_arguments",
    "add_options",
    "option",
    "parse_source_ips",
]

KeyVia = Literal["query", "header", "cookie", "first-frame"]  # V0's KeyVia, and V1's first-frame (a test checks)
ShapeName = Literal["none", "step", "ramp", "spike", "capacity", "throttle"]
DropMode = Literal["abrupt", "clean"]
LocustRows = Literal["each", "batched"]
ApiName = Literal["v0", "v1", "auto"]  # as loadtest.openhands.contract.ApiChoice (a test keeps them equal)
V1Socket = Literal["events", "session"]
SendVia = Literal["socket", "rest"]
SHAPES: tuple[str, ...] = get_args(ShapeName)
REDACTED = "***"

#: Option groups, in the order ``loadtest bench --help`` lists them.
GROUPS = {
    "connection": "harness options: connection",
    "workload": "harness options: what each user does",
    "reconnect": "harness options: ReconnectUser",
    "objectives": "harness options: SLOs",
    "shape": "harness options: load shapes and searches",
    "run": "harness options: run folder and generator",
}


@dataclass(frozen=True)
class Option:
    """One harness option. ``parse`` turns its text into the value (``ValueError`` says why)."""

    flag: str
    default: str | None
    help: str
    group: str
    parse: Callable[[object], object] = v.text
    example: str = ""
    choices: tuple[str, ...] | None = None
    secret: bool = False  # never logged, never in the web UI; bench passes it in the environment
    repeatable: bool = False
    flag_only: bool = False  # store_true
    file: Literal["", "path", "@path"] = ""  # the value names a file (``@path``: when it starts with @)
    bench: bool = True  # also an option of `loadtest bench`

    @property
    def dest(self) -> str:
        return self.flag.lstrip("-").replace("-", "_")

    @property
    def env_var(self) -> str:
        return "LOCUST_" + self.dest.upper()

    @property
    def metavar(self) -> str:
        if self.choices:
            return "{" + ",".join(self.choices) + "}"
        return _METAVARS.get(self.parse) or self.dest.split("_")[-1].upper()


_METAVARS: dict[Callable[[object], object], str] = {
    v.duration: "DURATION",
    v.positive_duration: "DURATION",
    v.number: "N",
    v.positive_number: "N",
    v.whole_number: "N",
    v.percent: "SHARE",
    v.think_range: "DURATION[..DURATION]",
    v.read_ids: "FILE",
    v.text_list: "A,B",
}


def _choices(kind: object) -> tuple[str, ...]:
    return cast("tuple[str, ...]", get_args(kind))


OPTIONS: tuple[Option, ...] = (
    # -- connection
    Option(
        "--api", "v0",
        "OpenHands API of the target: v0 (Socket.IO, OpenHands up to 1.6), v1 (the agent server's WebSocket, 1.7"
        " on) or auto (probe the target once, log what was found). Default v0 for now.",
        "connection", v.choice(*_choices(ApiName)), "v1", _choices(ApiName),
    ),
    Option(
        "--agent-settings", "",
        "V1: agent and LLM settings JSON (or @FILE) of each conversation created (never logged, not in the web UI).",
        "connection", v.read_agent_settings, '\'{"agent": {"llm": {"model": "openai/gpt-4o"}}}\' or @agent.json',
        secret=True, file="@path",
    ),
    Option(
        "--v1-socket", "events",
        "V1: events (/sockets/events, resume by timestamp, as the OpenHands frontend) or session (numbered frames).",
        "connection", v.choice(*_choices(V1Socket)), "session", _choices(V1Socket),
    ),
    Option(
        "--send-via", "socket", "V1: send each message as a socket frame or over REST (POST .../events, run).",
        "connection", v.choice(*_choices(SendVia)), "rest", _choices(SendVia),
    ),
    Option(
        "--session-api-key", "", "Session API key sent on connect and REST calls (never logged, not in the web UI).",
        "connection", example="$KEY", secret=True,
    ),
    Option(
        "--key-via", "query", "How the socket sends the session key (cookie: V0 only, first-frame: V1).", "connection",
        v.choice(*_choices(KeyVia)), "header", _choices(KeyVia),
    ),
    Option(
        "--providers", "", "Comma-separated providers_set sent on connect (e.g. github,gitlab).", "connection",
        v.text_list, "github,gitlab",
    ),
    Option(
        "--connect-timeout", "30s", "Give up a socket connect (handshake + replay) after this long.", "connection",
        v.positive_duration, "30s",
    ),
    Option(
        "--wait-ready", "on",
        "Before joining a conversation, poll GET /api/conversations/{id} until RUNNING, as the OpenHands frontend"
        " does (metric `ready`).",
        "connection", v.on_off, "on", ("on", "off"),
    ),
    Option(
        "--ws-deflate", "off",
        "Offer WebSocket permessage-deflate on connect (servers that require compression; costs client CPU).",
        "connection", v.on_off, "on", ("on", "off"),
    ),
    Option(
        "--ready-timeout", "120s", "Give up waiting for a conversation to be RUNNING after this long, then join.",
        "connection", v.positive_duration, "120s",
    ),
    Option(
        "--ready-poll", "3s", "Longest pause between readiness polls (they start at 0.5s and double up to it).",
        "connection", v.positive_duration, "3s",
    ),
    Option(
        "--seed-settings", "",
        "Settings JSON (or @FILE) posted to /api/settings if the server has none (never logged, not in the web UI).",
        "connection", v.read_settings_json, '\'{"llm_model": "openai/gpt-4o"}\' or @settings.json',
        secret=True, file="@path",
    ),
    Option(
        "--source-ips", "",
        "Local addresses to spread users over, e.g. 127.0.0.2-127.0.0.9 or 127.0.0.2,127.0.0.3 (per-IP limiters).",
        "connection", parse_source_ips, "127.0.0.2-127.0.0.9",
    ),
    # -- workload
    Option(
        "--conversation-ids", "", "FILE of conversation ids, one a line, to join instead of creating them.",
        "workload", v.read_ids, "ids.txt", file="path",
    ),
    Option(
        "--message", "Say hello.", "Text of each user message, or @FILE to read it from a file.", "workload",
        v.read_message, "'Say hello.' or @message.txt", file="@path",
    ),
    Option(
        "--think-time", "1s", "ChatUser pause after a turn ends: 2s, 500ms or a range 1s..3s.", "workload",
        v.think_range, "2s or 1s..3s",
    ),
    Option(
        "--action-pace", "1s", "PacedUser interval between one user's actions (e.g. 2s).", "workload",
        v.positive_duration, "2s",
    ),
    Option(
        "--action-rate", "0", "Total actions/s across all PacedUsers (overrides --action-pace; 0 = off).",
        "workload", v.number, "20 (actions/s in total)",
    ),
    Option(
        "--turn-timeout", "120s", "Give up waiting for a turn to end after this long.", "workload",
        v.positive_duration, "120s",
    ),
    # -- reconnect
    Option(
        "--reconnect-every", "30s", "ReconnectUser drops its socket this often (0 = only server drops).",
        "reconnect", v.duration, "30s",
    ),
    Option(
        "--drop-mode", "abrupt", "How ReconnectUser drops: abrupt TCP close or clean disconnect.", "reconnect",
        v.choice(*_choices(DropMode)), "clean", _choices(DropMode),
    ),
    Option(
        "--reconnect-attempts", "10", "Attempts per reconnect before the user gives up the connection.",
        "reconnect", v.whole_number, "10",
    ),
    # -- objectives
    Option(
        "--slo", None, "Objective checked at the end, repeatable: 'echo.p95<250ms', 'gaps==0'.", "objectives",
        v.slos, "'echo.p95<250ms'", repeatable=True,
    ),
    Option(
        "--slo-abort", "0", "Stop the run after the SLOs are breached this long without a break (0 = off).",
        "objectives", v.duration, "15s",
    ),
    Option(
        "--slo-window", "10s", "Window of the live SLO check used by --slo-abort.", "objectives",
        v.positive_duration, "10s",
    ),
    # -- shape
    Option(
        "--shape", "none", "Load shape: none (follow -u/-r/-t), step, ramp, spike, capacity or throttle.", "shape",
        v.choice(*SHAPES), "step", SHAPES,
    ),
    Option(
        "--shape-steps", "10,20,40", "Shape steps N[@DURATION]: users, or total actions/s for ThrottleSearchShape.",
        "shape", v.shape_steps, "10,20@60s,40",
    ),
    Option(
        "--step-duration", "30s", "Default duration of a shape step.", "shape", v.positive_duration, "30s"
    ),
    Option(
        "--step-spawn-rate", "10", "Users started per second when a step changes the user count.", "shape",
        v.positive_number, "10",
    ),
    Option(
        "--step-warmup", "5s", "Start of each search step left out of its verdict (at most half the step).",
        "shape", v.duration, "5s",
    ),
    Option(
        "--throttle-users", "0", "Paced users held by ThrottleSearchShape (0 = the -u user count).", "shape",
        v.whole_number, "10",
    ),
    Option(
        "--throttle-threshold", "1%", "ThrottleSearchShape stops when throttle signals exceed this share of actions.",
        "shape", v.percent, "1%",
    ),
    # -- run
    Option(
        "--report-dir", "", "Run folder (default reports/<UTC timestamp>-<label>).", "run", example="reports/nightly",
        file="path",
    ),
    Option(
        "--run-label", "", "Label in the run folder's name and run.json (default: the profile).", "run",
        v.run_label, "nightly-chat",
    ),
    Option(
        "--locust-rows", "each",
        "How our measurements reach Locust's statistics: each (one events.request per measurement) or batched"
        " (added once per second: same table and CSVs, 13-18% less generator CPU; other request listeners see"
        " only failures).",
        "run", v.choice(*_choices(LocustRows)), "batched", _choices(LocustRows),
    ),
    Option(
        "--lag-warning", "100ms", "Warn when the generator's gevent loop lag exceeds this (client-bound results).",
        "run", v.positive_duration, "100ms",
    ),
    Option(
        "--skip-report", None, "Do not build the report at the end (run.json and timeline.jsonl only).", "run",
        flag_only=True, bench=False,  # bench builds the report itself, once the run is over
    ),
)  # fmt: skip

SECRET_FIELDS = tuple(o.dest for o in OPTIONS if o.secret)
SECRET_FLAGS = tuple(o.flag for o in OPTIONS if o.secret)
_BY_FLAG = {o.flag: o for o in OPTIONS}


def option(flag: str) -> Option:
    """The declaration of ``flag`` (``KeyError`` for an option the harness does not have)."""
    return _BY_FLAG[flag]


def add_options(parser: argparse.ArgumentParser) -> None:
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


def add_bench_arguments(parser: argparse.ArgumentParser) -> None:
    """Register the harness options on ``loadtest bench``'s parser, one argument group per :data:`GROUPS` entry.

    Every default is None, so bench passes on only what was given; the values are checked by
    :meth:`Settings.from_options` before anything starts (bench's own error, exit 2).
    """
    for key, title in GROUPS.items():
        group = parser.add_argument_group(title)
        for opt in OPTIONS:
            if opt.group != key or not opt.bench:
                continue
            shown = "" if opt.default in (None, "") else f" (default {opt.default})"
            help_text = (opt.help + shown).replace("%", "%%")  # argparse formats help with %
            if opt.repeatable:
                group.add_argument(opt.flag, action="append", default=None, metavar="EXPR", help=help_text)
            elif opt.flag_only:
                group.add_argument(opt.flag, action="store_true", default=None, help=help_text)
            else:
                group.add_argument(opt.flag, default=None, metavar=opt.metavar, help=help_text)


class OptionError(LoadtestError, ValueError):
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


def _raw(opts: Mapping[str, object], opt: Option) -> object:
    value = opts.get(opt.dest, opt.default)
    if value == "" and opt.choices:  # an empty choice in the web UI's form
        return opt.default
    return opt.default if value is None and not opt.repeatable else value


def _value(opts: Mapping[str, object], flag: str) -> Any:  # Any: the option's parser gives its Settings field's type
    """The parsed value of ``flag`` in ``opts``; :class:`OptionError` naming it, the value and an example."""
    opt = _BY_FLAG[flag]
    raw = _raw(opts, opt)
    try:
        return opt.parse(raw)
    except v.SloValueError as exc:
        raise OptionError(flag, exc.expr, exc.why) from None
    except (ValueError, TypeError) as exc:
        raise OptionError(flag, raw, f"{exc}; e.g. {flag} {opt.example}") from None


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
    key_via: KeyVia
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
    seed_settings: dict[str, object] | None
    source_ips: tuple[str, ...]
    reconnect_every: float
    drop_mode: DropMode
    reconnect_attempts: int
    report_dir: str
    run_label: str
    slos: tuple[Slo, ...]
    slo_abort: float
    slo_window: float
    shape: ShapeName
    shape_steps_text: str
    step_duration: float
    step_spawn_rate: float
    step_warmup: float
    throttle_users: int
    throttle_threshold: float
    lag_warning_ms: float
    skip_report: bool
    ws_deflate: bool = False
    locust_rows: LocustRows = "each"
    api: ApiName = "v0"
    agent_settings: dict[str, object] | None = None
    v1_socket: V1Socket = "events"
    send_via: SendVia = "socket"

    @classmethod
    def from_options(
        cls, opts: Mapping[str, object] | argparse.Namespace, host: str | None = None, *, need_host: bool = True
    ) -> Settings:
        """Parse Locust's ``parsed_options`` (a Namespace or a mapping); :class:`OptionError` on a bad value."""
        if not isinstance(opts, Mapping):
            opts = vars(opts)
        if need_host:
            host = _check_host(host)
        slos = _value(opts, "--slo")
        step_duration = _value(opts, "--step-duration")
        return cls(
            host=host.rstrip("/") if host else None,
            session_api_key=_value(opts, "--session-api-key"),
            key_via=_value(opts, "--key-via"),
            providers=_value(opts, "--providers"),
            conversation_ids_file=str(_raw(opts, option("--conversation-ids")) or ""),
            conversation_ids=_value(opts, "--conversation-ids"),
            message=_value(opts, "--message"),
            think_time=_value(opts, "--think-time"),
            action_pace=_value(opts, "--action-pace"),
            action_rate=_value(opts, "--action-rate"),
            turn_timeout=_value(opts, "--turn-timeout"),
            connect_timeout=_value(opts, "--connect-timeout"),
            wait_ready=_value(opts, "--wait-ready"),
            ready_timeout=_value(opts, "--ready-timeout"),
            ready_poll=_value(opts, "--ready-poll"),
            seed_settings=_value(opts, "--seed-settings"),
            source_ips=_value(opts, "--source-ips"),
            reconnect_every=_value(opts, "--reconnect-every"),
            drop_mode=_value(opts, "--drop-mode"),
            reconnect_attempts=_value(opts, "--reconnect-attempts"),
            report_dir=_value(opts, "--report-dir"),
            run_label=_value(opts, "--run-label"),
            slos=slos,
            slo_abort=_value(opts, "--slo-abort"),
            slo_window=_value(opts, "--slo-window"),
            shape=_value(opts, "--shape"),
            shape_steps_text=_value(opts, "--shape-steps"),
            step_duration=step_duration,
            step_spawn_rate=_value(opts, "--step-spawn-rate"),
            step_warmup=_value(opts, "--step-warmup"),
            throttle_users=_value(opts, "--throttle-users"),
            throttle_threshold=_value(opts, "--throttle-threshold"),
            lag_warning_ms=_value(opts, "--lag-warning") * 1000,
            skip_report=bool(_raw(opts, option("--skip-report"))),
            ws_deflate=_value(opts, "--ws-deflate"),
            locust_rows=_value(opts, "--locust-rows"),
            api=_value(opts, "--api"),
            agent_settings=_value(opts, "--agent-settings"),
            v1_socket=_value(opts, "--v1-socket"),
            send_via=_value(opts, "--send-via"),
        )

    def shape_steps(self) -> tuple[PlannedStep, ...]:
        return parse_steps(self.shape_steps_text, self.step_duration)

    def public_dict(self) -> dict[str, object]:
        """The settings as JSON-safe data with secrets redacted (for run.json and logs)."""
        out: dict[str, object] = {}
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
