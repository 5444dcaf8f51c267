"""Headless benchmark: reference server (or --target) + Locust + report, in one command.

Without ``--target`` it starts the reference server on a free loopback port in its own process
(pinned to a different core than the load generator where the machine has two or more), runs
Locust headless with the top-level ``locustfile.py`` and the chosen ``--profile``, shows a live
progress line read from the run's ``timeline.jsonl``, builds the report, prints the paths of
``report.html`` and ``summary.md`` last, and exits 0 (pass), 3 (SLO breach) or 1 (error).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from loadtest.benchprofiles import EMBEDDED, PROFILES, Profile
from loadtest.harness.options import OPTIONS, OptionError, Settings, add_bench_arguments, option
from loadtest.progress import ProgressLine, TimelineTail
from loadtest.verdict import EXIT_CODES

EPILOG = (
    """\
profiles:
"""
    + "\n".join(f"  {name:<10} {p.description}" for name, p in PROFILES.items())
    + """

examples:
  loadtest bench                                   # chat profile, 20 users, 30 s, embedded server
  loadtest bench --profile throttle --run-time 60s
  loadtest bench --profile capacity --slo 'turn.p95<2s'
  loadtest bench --target http://127.0.0.1:3000 --users 50 --run-time 2m
  loadtest bench --target http://127.0.0.1:3000 --session-api-key "$KEY" --message @prompt.txt
  loadtest bench --api v1                          # OpenHands V1: the embedded server speaks V1 too
  loadtest bench -- --loglevel DEBUG               # anything after -- goes to Locust unchanged

The harness options take the names they have in `locust -f locustfile.py` and override the
profile's; the secret ones (--session-api-key, --seed-settings, --agent-settings) reach Locust in its
environment (LOCUST_SESSION_API_KEY, LOCUST_SEED_SETTINGS, LOCUST_AGENT_SETTINGS), never on a command line.
With --api v1 and no --target, the embedded server speaks V1 and the conversations are created with its
scripted agent's settings unless --agent-settings is given.

exit codes: 0 pass, 1 error, 2 bad usage, 3 SLO breach
"""
)

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_SLO = 0, 1, 2, 3
ROOT = Path(__file__).resolve().parent.parent
# OpenHands' default of 3 running conversations would evict all but three users; a deployment under
# load test raises it (openhands-protocol.md §7), and so does the embedded server. --server-option overrides.
EMBEDDED_SERVER_DEFAULTS = ("--max-conversations", "100000")


class UsageError(ValueError):
    """A bad command-line value; the message names the option, the value and a good example."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--profile", default="chat", help=f"workload profile: {', '.join(PROFILES)} (default chat)")
    parser.add_argument("--target", help="URL of a server to test instead of the embedded reference server")
    parser.add_argument("--users", "-u", type=str, help="concurrent users (conversations); profile default if unset")
    parser.add_argument("--spawn-rate", "-r", type=str, help="users started per second (Locust --spawn-rate)")
    parser.add_argument("--run-time", "-t", type=str, help="run time, e.g. 30s, 2m (Locust --run-time)")
    parser.add_argument("--processes", type=str, help="Locust worker processes (Locust --processes); default 1")
    parser.add_argument(
        "--server-option",
        action="append",
        default=[],
        metavar="OPT",
        help="extra option for the embedded server, repeatable: --server-option=--event-delay-ms=20",
    )
    parser.add_argument("--no-pin", action="store_true", help="do not pin server and generator to different cores")
    parser.add_argument("--quiet", action="store_true", help="no live progress line")
    parser.add_argument("locust_args", nargs=argparse.REMAINDER, help="after --: options passed to Locust unchanged")
    add_bench_arguments(parser)  # every harness option, grouped (--slo, --report-dir, --run-label among them)
    parser.set_defaults(slo=[])


@dataclass(frozen=True)
class BenchPlan:
    profile: Profile
    users: int
    spawn_rate: float
    run_time_s: float
    processes: int
    run_dir: Path
    label: str
    #: Harness options given to bench, as Locust arguments (``--flag=value``; files made absolute).
    harness_args: tuple[str, ...] = ()
    #: Secret harness options, as Locust's ``LOCUST_*`` environment variables (kept out of every command line).
    harness_env: Mapping[str, str] = field(default_factory=dict, repr=False)
    #: Options of the embedded reference server for ``--api`` (`loadtest.benchprofiles.EMBEDDED`).
    server_api_options: tuple[str, ...] = ()


def parse_duration(text: str, option: str) -> float:
    units = {"h": 3600.0, "m": 60.0, "s": 1.0}
    total, number = 0.0, ""
    for ch in text.strip():
        if ch.isdigit() or ch == ".":
            number += ch
        elif ch in units and number:
            total += float(number) * units[ch]
            number = ""
        else:
            raise UsageError(f"{option}: bad duration {text!r}; use e.g. 30s, 2m or 1h30m")
    if number:
        total += float(number)
    if total <= 0:
        raise UsageError(f"{option}: bad duration {text!r}; use e.g. 30s, 2m or 1h30m")
    return total


def _positive(text: str | None, option: str, default: float, example: str, *, integer: bool) -> float:
    if text is None:
        return default
    try:
        value = int(text) if integer else float(text)
    except ValueError:
        raise UsageError(f"{option}: bad value {text!r}; use a positive number, e.g. {option} {example}") from None
    if value <= 0:
        raise UsageError(f"{option}: bad value {text!r}; use a positive number, e.g. {option} {example}")
    return value


def make_plan(args: argparse.Namespace, now: datetime | None = None) -> BenchPlan:
    if args.profile not in PROFILES:
        raise UsageError(f"--profile: unknown profile {args.profile!r}; choose one of {', '.join(PROFILES)}")
    profile = PROFILES[args.profile]
    users = int(_positive(args.users, "--users", profile.users, "20", integer=True))
    spawn_rate = _positive(args.spawn_rate, "--spawn-rate", profile.spawn_rate, "10", integer=False)
    run_time = parse_duration(args.run_time, "--run-time") if args.run_time else profile.run_time_s
    processes = int(_positive(args.processes, "--processes", 1, "2", integer=True))
    if args.target is not None and not args.target.startswith(("http://", "https://")):
        raise UsageError(f"--target: bad URL {args.target!r}; use e.g. --target http://127.0.0.1:3000")
    harness_args, harness_env = harness_options(args)
    embedded = EMBEDDED[getattr(args, "api", None) or str(option("--api").default)]
    if args.target is None:
        harness_env = {**embedded.harness_env, **harness_env}  # what the user gave wins
    label = args.run_label or profile.name
    if not label.replace("-", "").replace("_", "").isalnum():
        raise UsageError(f"--run-label: bad label {label!r}; use letters, digits, - and _, e.g. --run-label nightly")
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    run_dir = Path(args.report_dir).resolve() if args.report_dir else (Path.cwd() / "reports" / f"{stamp}-{label}")
    return BenchPlan(
        profile, users, spawn_rate, run_time, processes, run_dir, label, harness_args, harness_env,
        embedded.server_options,
    )  # fmt: skip


#: Harness options bench handles itself: it passes --slo, --report-dir and --run-label as it computes them.
OWN_OPTIONS = ("slo", "report_dir", "run_label")


def _absolute(value: str, kind: str) -> str:
    """A file name given to bench, made absolute: Locust runs in the project folder, not the caller's."""
    if kind == "path" and value:
        return str(Path(value).resolve())
    if kind == "@path" and value.startswith("@"):
        return "@" + str(Path(value[1:]).resolve())
    return value


def harness_options(args: argparse.Namespace) -> tuple[tuple[str, ...], dict[str, str]]:
    """The harness options given to bench, checked as the harness checks them (:class:`UsageError` if not).

    Returns the Locust arguments and the environment variables (the secrets) that carry them.
    """
    given: dict[str, object] = {}
    argv: list[str] = []
    env: dict[str, str] = {}
    for opt in OPTIONS:
        value = getattr(args, opt.dest, None)
        if not opt.bench or value is None:
            continue
        if opt.dest in OWN_OPTIONS:
            given[opt.dest] = value
            continue
        if opt.flag_only:
            given[opt.dest] = True
            argv.append(opt.flag)
            continue
        text = _absolute(str(value), opt.file)
        given[opt.dest] = text
        if opt.secret:
            env[opt.env_var] = text
        else:
            argv.append(f"{opt.flag}={text}")
    try:  # the harness's own validation, before a server or Locust is started
        Settings.from_options(given, None, need_host=False)
    except OptionError as exc:
        raise UsageError(str(exc)) from None
    return tuple(argv), env


def _cpus() -> list[int]:
    try:
        return sorted(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return []


def _pin(cpu: int | None) -> None:
    if cpu is not None:
        os.sched_setaffinity(0, {cpu})


def start_reference_server(options: Sequence[str], cpu: int | None) -> tuple[subprocess.Popen[str], str]:
    """Start `loadtest serve` on a free loopback port; return the process and its URL."""
    argv = [sys.executable, "-m", "loadtest", "serve", "--host", "127.0.0.1", "--port", "0", *options]
    proc = subprocess.Popen(
        argv,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        bufsize=1,
        start_new_session=True,
        preexec_fn=(lambda: _pin(cpu)) if cpu is not None else None,
    )
    assert proc.stdout is not None
    deadline = time.monotonic() + 30
    seen: list[str] = []
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        seen.append(line.rstrip())
        if "listening on " in line:
            return proc, line.rsplit("listening on ", 1)[1].strip()
    stop_process(proc)
    raise RuntimeError("the reference server did not start:\n" + "\n".join(seen[-20:]))


def stop_process(proc: subprocess.Popen[str], timeout: float = 10.0) -> None:
    """Stop a process we started, by its pid: SIGTERM, then SIGKILL."""
    if proc.poll() is not None:
        return
    try:
        os.kill(proc.pid, signal.SIGTERM)
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout)
    except ProcessLookupError:
        pass


def locust_command(plan: BenchPlan, host: str, slos: Sequence[str], extra: Sequence[str]) -> list[str]:
    locustfile = ROOT / "locustfile.py"
    argv = [
        sys.executable,
        "-m",
        "locust",
        "-f",
        str(locustfile),
        "--headless",
        "--host",
        host,
        "--users",
        str(plan.users),
        "--spawn-rate",
        str(plan.spawn_rate),
        "--run-time",
        f"{plan.run_time_s:g}s",
        "--csv",
        str(plan.run_dir / "locust"),
        "--html",
        str(plan.run_dir / "locust.html"),
        "--report-dir",
        str(plan.run_dir),
        "--run-label",
        plan.label,
        "--only-summary",
        "--stop-timeout",
        "5",
        # bench builds the report itself; throttle signals are Locust failures, but the SLOs decide the verdict
        "--skip-report",
        "--exit-code-on-error",
        "0",
        "--logfile",
        str(plan.run_dir / "locust.log"),
    ]
    if plan.processes > 1:
        argv += ["--processes", str(plan.processes)]
    for slo in slos:
        argv += ["--slo", slo]
    # the profile's options first, so the harness options given to bench override them
    argv += [*plan.profile.locust_options, *plan.harness_args, plan.profile.user_class]
    return argv + list(extra)


def run(args: argparse.Namespace) -> int:
    extra = [a for a in args.locust_args if a != "--"]
    try:
        plan = make_plan(args)
    except UsageError as exc:
        print(f"loadtest bench: {exc}", file=sys.stderr)
        return EXIT_USAGE
    plan.run_dir.mkdir(parents=True, exist_ok=True)
    cpus = _cpus()
    pin = not args.no_pin and len(cpus) >= 2
    server_cpu, generator_cpu = (cpus[-1], cpus[0]) if pin else (None, None)
    server: subprocess.Popen[str] | None = None
    host = args.target
    try:
        if host is None:
            server_options = [
                *EMBEDDED_SERVER_DEFAULTS, *plan.server_api_options, *plan.profile.server_options, *args.server_option
            ]  # fmt: skip
            server, host = start_reference_server(server_options, server_cpu)
            print(f"reference server {host} (pid {server.pid}" + (f", cpu {server_cpu})" if pin else ")"))
        code = _run_locust(plan, host, args.slo, extra, generator_cpu, quiet=args.quiet)
    finally:
        if server is not None:
            stop_process(server)
    return _finish(plan, code)


def _run_locust(
    plan: BenchPlan, host: str, slos: Sequence[str], extra: Sequence[str], cpu: int | None, *, quiet: bool
) -> int:
    argv = locust_command(plan, host, slos, extra)
    console = open(plan.run_dir / "console.log", "w")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        argv,
        stdout=console,
        stderr=subprocess.STDOUT,
        cwd=str(ROOT),
        env={**os.environ, **plan.harness_env},
        preexec_fn=(lambda: _pin(cpu)) if cpu is not None else None,
    )
    tail = TimelineTail(plan.run_dir / "timeline.jsonl")
    progress = ProgressLine(total_s=plan.run_time_s, stream=sys.stdout, enabled=not quiet)
    interrupted = 0

    def forward(signum: int, _frame: object) -> None:
        nonlocal interrupted
        interrupted += 1
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGINT if interrupted == 1 else signal.SIGTERM)

    old_int = signal.signal(signal.SIGINT, forward)
    old_term = signal.signal(signal.SIGTERM, forward)
    try:
        deadline = time.monotonic() + plan.run_time_s + 180
        while proc.poll() is None:
            progress.update(tail.read_new())
            if time.monotonic() > deadline:
                proc.send_signal(signal.SIGTERM)
            time.sleep(0.5)
        progress.update(tail.read_new())
        progress.close()
    finally:
        signal.signal(signal.SIGINT, old_int)
        signal.signal(signal.SIGTERM, old_term)
        console.close()
    if interrupted:
        print("interrupted: the run folder holds everything recorded up to the stop")
    return proc.returncode if proc.returncode is not None else EXIT_ERROR


def saturation_warning(summary_json: Path) -> str | None:
    """The warning `bench` prints when the load generator itself was saturated (from summary.json), or None."""
    try:
        run = json.loads(summary_json.read_text()).get("run", {})
        seconds = float(run.get("generator_saturated_s") or 0)
    except (OSError, ValueError, AttributeError):
        return None
    if seconds <= 0:
        return None
    return (
        f"warning: the load generator itself was saturated for {seconds:.0f} s (gevent loop lag or CPU); latencies "
        "in those seconds include the client's own delay, so they measure the generator, not the server (see "
        "'Generator health' in the report). Use fewer users per process or more workers."
    )


def _finish(plan: BenchPlan, locust_code: int) -> int:
    from loadtest.report import build_report

    try:
        result = build_report(plan.run_dir)
    except Exception as exc:  # the run's data stays on disk; say what failed
        print(f"loadtest bench: the report could not be built: {exc}", file=sys.stderr)
        print(f"run folder: {plan.run_dir}")
        return EXIT_ERROR
    if locust_code not in (EXIT_OK, EXIT_SLO):
        print(f"locust exited with code {locust_code}; see {plan.run_dir / 'locust.log'}", file=sys.stderr)
    verdict_code = EXIT_CODES.get(result.verdict, EXIT_ERROR)
    if result.verdict == "error":
        code = EXIT_ERROR
    else:
        code = locust_code if locust_code not in (EXIT_OK, EXIT_SLO) else max(verdict_code, locust_code)
    note = saturation_warning(result.summary_json)
    if note:
        print(note, file=sys.stderr)
    print(f"verdict: {result.verdict}: {result.verdict_reason}")
    print(f"report:  {result.report_html}")
    print(f"summary: {result.summary_md}")
    return code
