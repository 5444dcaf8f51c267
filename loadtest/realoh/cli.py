"""Bring a real OpenHands 1.6.0 server (cli runtime) and a mock LLM up or down, on 127.0.0.1 only.

`up` installs openhands-ai==1.6.0 into its own Python 3.12 venv when missing (Python 3.12 is found with
pyenv), writes config.toml, starts the mock LLM and OpenHands with a bounded lifetime, waits for /health,
seeds the settings and prints `loadtest openhands listening on http://127.0.0.1:<port>`.
`down` stops exactly the processes `up` recorded in the pid file. `status` shows them.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from loadtest.realoh.install import InstallError
from loadtest.realoh.launcher import LaunchError, UpOptions, down, status, up
from loadtest.realoh.python312 import PythonNotFound

DEFAULT_STATE_DIR = Path("~/.cache/loadtest/openhands-1.6.0")

EPILOG = """\
examples:
  loadtest openhands up                       # install if needed, start, print the URL (~35 s; ~70 s first time)
  loadtest openhands up --port 3000 --lifetime 600 --mock-llm-args='--bash --latency-ms 200'
  loadtest openhands status
  loadtest openhands down

agent commands run on this machine (cli runtime): the mock LLM only ever asks for `ls` or a plain `echo`.
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=["up", "down", "status"], help="what to do")
    parser.add_argument(
        "--state-dir",
        type=Path,
        default=DEFAULT_STATE_DIR,
        help=f"holds the OpenHands venv, reused across runs (default {DEFAULT_STATE_DIR})",
    )
    parser.add_argument(
        "--run-dir", type=Path, default=None, help="config, store, workspace, logs, pid file (default STATE_DIR/run)"
    )
    parser.add_argument("--port", type=int, default=0, help="OpenHands port on 127.0.0.1 (default: a free one)")
    parser.add_argument("--llm-port", type=int, default=0, help="mock LLM port (default: a free one)")
    parser.add_argument("--lifetime", type=float, default=1800.0, help="seconds until a watchdog stops both")
    parser.add_argument("--python", type=Path, default=None, help="a Python 3.12 to build the venv (default: pyenv's)")
    parser.add_argument(
        "--mock-llm-args",
        default="",
        help="extra `loadtest mock-llm` options as one string, in the = form: --mock-llm-args='--bash'",
    )
    parser.add_argument("--max-conversations", type=int, default=200, help="max_concurrent_conversations (default 200)")
    parser.add_argument("--close-delay", type=int, default=60, help="[sandbox] close_delay seconds (default 60)")
    parser.add_argument("--llm-retries", type=int, default=0, help="[llm] num_retries (default 0)")
    parser.add_argument(
        "--max-iterations",
        type=int,
        default=500,
        help="agent steps per conversation over all its turns (default 500; 1.6.0 never resets the count)",
    )
    parser.add_argument("--health-timeout", type=float, default=120.0, help="seconds to wait for /health")


def run(args: argparse.Namespace) -> int:
    state_dir = args.state_dir.expanduser().resolve()
    run_dir = (args.run_dir.expanduser() if args.run_dir else state_dir / "run").resolve()

    def say(line: str) -> None:
        print(f"loadtest openhands: {line}", file=sys.stderr, flush=True)

    if args.action == "down":
        down(run_dir, say=say)
        return 0
    if args.action == "status":
        return 0 if status(run_dir, say=lambda line: print(line, flush=True)) else 1
    if args.lifetime <= 0:
        say("--lifetime must be > 0 seconds")
        return 2
    if args.max_iterations < 1:
        say("--max-iterations must be >= 1")
        return 2
    opts = UpOptions(
        state_dir=state_dir,
        run_dir=run_dir,
        port=args.port,
        llm_port=args.llm_port,
        lifetime_s=args.lifetime,
        python=args.python,
        mock_args=tuple(shlex.split(args.mock_llm_args)),
        max_concurrent_conversations=args.max_conversations,
        close_delay_s=args.close_delay,
        llm_num_retries=args.llm_retries,
        max_iterations=args.max_iterations,
        health_timeout_s=args.health_timeout,
    )
    try:
        pf = up(opts, say=say)
    except PythonNotFound as exc:
        say(str(exc))
        return 1
    except (InstallError, LaunchError, ValueError) as exc:
        say(f"up failed: {exc}")
        return 1
    print(f"mock LLM: {pf.llm_url}/v1", flush=True)
    print(f"loadtest openhands listening on {pf.url}", flush=True)
    return 0
