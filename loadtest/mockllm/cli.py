"""Run an OpenAI-compatible mock LLM on loopback, for real OpenHands servers under load.

Answers `POST /v1/chat/completions` (streaming or not) with a `finish` tool call (optionally preceded by a
harmless `execute_bash` on the first call of a turn), with configurable latency, token pace and injected
429/5xx failures; counts calls at `GET /stats`. Prints one line
`loadtest mock-llm listening on http://127.0.0.1:<port>` once it accepts connections.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import socket
import sys

import uvicorn

from loadtest.mockllm.app import build_app
from loadtest.mockllm.settings import DEFAULT_BASH_COMMAND, DEFAULT_MESSAGE, DEFAULT_MODEL, FaultPlan, MockSettings

EPILOG = """\
examples:
  loadtest mock-llm --port 4010
  loadtest mock-llm --port 0 --latency-ms 300 --tokens-per-second 50 --bash
  loadtest mock-llm --port 4010 --fail-every 5 --fail-status 429 --retry-after 2
  curl -s http://127.0.0.1:4010/stats

point OpenHands at it with [llm] model = "openai/mock-model", base_url = "http://127.0.0.1:4010/v1"
"""

READY_TIMEOUT_S = 30.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="loopback address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=4010, help="port; 0 picks a free one (default 4010)")
    parser.add_argument("--model", default=DEFAULT_MODEL, help="model id served by /v1/models")
    parser.add_argument("--message", default=DEFAULT_MESSAGE, help="finish message / text reply")
    parser.add_argument("--pad-tokens", type=int, default=0, help="filler tokens appended to the reply")
    parser.add_argument(
        "--bash",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="ask for execute_bash on the first call of a turn (default off)",
    )
    parser.add_argument("--bash-command", default=DEFAULT_BASH_COMMAND, help="`ls` or `echo <plain words>`")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="delay before the first byte (agent steps)")
    parser.add_argument(
        "--text-latency-ms",
        type=float,
        default=None,
        help="the same for tool-less calls such as title generation (default: --latency-ms)",
    )
    parser.add_argument("--jitter-ms", type=float, default=0.0, help="extra random delay in [0, J) ms")
    parser.add_argument("--tokens-per-second", type=float, default=0.0, help="completion token pace (0: unpaced)")
    parser.add_argument("--fail-every", type=int, default=0, help="fail every Nth chat call (0: never)")
    parser.add_argument("--fail-share", type=float, default=0.0, help="fail this share of chat calls at random")
    parser.add_argument("--fail-status", type=int, default=429, help="status of injected failures (default 429)")
    parser.add_argument("--retry-after", type=float, default=1.0, help="Retry-After seconds on 429 (negative: none)")
    parser.add_argument(
        "--fail-scope",
        choices=["agent", "all"],
        default="agent",
        help="agent: only calls offering tools fail (default); all: title generation too (freezes OpenHands)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed for --fail-share and --jitter-ms")
    parser.add_argument("--log-level", default="warning", choices=["critical", "error", "warning", "info", "debug"])


def settings_from_args(args: argparse.Namespace) -> MockSettings:
    """Build validated settings; raises ValueError naming the bad option."""
    retry_after = None if args.retry_after < 0 else args.retry_after
    faults = FaultPlan(args.fail_every, args.fail_share, args.fail_status, retry_after, args.seed, args.fail_scope)
    return MockSettings(
        model=args.model,
        message=args.message,
        pad_tokens=args.pad_tokens,
        bash=args.bash,
        bash_command=args.bash_command,
        latency_ms=args.latency_ms,
        text_latency_ms=args.text_latency_ms,
        jitter_ms=args.jitter_ms,
        tokens_per_second=args.tokens_per_second,
        faults=faults,
    )


def check_loopback(host: str) -> None:
    """Raise ValueError unless `host` is a loopback address (this tool never listens beyond the machine)."""
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost"
    if not loopback:
        raise ValueError(f"--host must be a loopback address such as 127.0.0.1, got {host!r}")


def run(args: argparse.Namespace) -> int:
    try:
        check_loopback(args.host)
        settings = settings_from_args(args)
    except ValueError as exc:
        print(f"loadtest mock-llm: {exc}", file=sys.stderr)
        return 2
    family = socket.AF_INET6 if ":" in args.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((args.host, args.port))
    except OSError as exc:
        sock.close()
        print(f"loadtest mock-llm: cannot bind {args.host}:{args.port}: {exc.strerror}", file=sys.stderr)
        return 1
    port = sock.getsockname()[1]
    config = uvicorn.Config(build_app(settings), log_level=args.log_level, access_log=False, lifespan="off")
    server = uvicorn.Server(config)
    return asyncio.run(_serve(server, sock, args.host, port))


async def _serve(server: uvicorn.Server, sock: socket.socket, host: str, port: int) -> int:
    task = asyncio.create_task(server.serve(sockets=[sock]))
    loop = asyncio.get_running_loop()
    deadline = loop.time() + READY_TIMEOUT_S
    while not server.started and not task.done() and loop.time() < deadline:
        await asyncio.sleep(0.01)
    if not server.started:
        server.should_exit = True
        await asyncio.wait([task], timeout=5)
        print("loadtest mock-llm: server did not start", file=sys.stderr)
        return 1
    print(f"loadtest mock-llm listening on http://{host}:{port}", flush=True)
    await task
    return 0
