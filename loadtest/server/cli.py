"""Run the OpenHands-compatible reference server (python-socketio + Starlette + uvicorn).

By default it behaves as OpenHands V0 does; the options below add a simulated agent's timing, limits that
deployments put in front of OpenHands, and faults, so a client's detectors can be proven against known truth.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import signal
import socket
import sys
from collections.abc import Callable, Generator
from typing import Any

import uvicorn

from loadtest.server.app import build_server
from loadtest.server.config import ConfigError, ServerConfig, load_profile, option_name, parse_script
from loadtest.server.logs import configure
from loadtest.server.netio import TransportRegistry, websocket_protocol_class

EPILOG = """examples:
  loadtest serve --port 3000
  loadtest serve --port 3000 --max-conversations 1000 --no-http-limit --event-delay-ms 20
  loadtest serve --port 0 --handshake-rate 5 --action-rate 2 --action-limit-mode error
  loadtest serve --port 3000 --drop-every 10 --drop-share 0.1 --drop-mode abrupt --replay-skip-every 5
  loadtest serve --profile loadtest/server/profiles/realistic.json
  loadtest serve --api v1 --port 18400 --session-api-key s3cret --event-delay-ms 20

routes:
  /socket.io/                     Engine.IO v4 (websocket, polling): oh_user_action / oh_action in, oh_event out
  /api/conversations[/{id}[/events|/message|/start|/stop]]   OpenHands V0 REST
  /alive /health /server_info     health, rate limited like OpenHands
  /metrics                        Prometheus text (never rate limited)
  /debug/handshakes               handshake attempts with monotonic times, per client IP
  /debug/conversations            per-conversation events, state, sockets, turns
  with --api v1 (or both: V1 conversation ids are UUIDs with dashes, V0's are 32 hex digits):
  /api/conversations[/{id}[/events|/run|/events/search|/events/count]]   OpenHands V1 agent-server REST
  /sockets/events/{id}            V1 events socket (resend_mode=all|since, after_timestamp)
  /sockets/session/{id}           V1 session socket (after_seq)
  /health /alive /ready /server_info   no key needed
"""

EXIT_OK, EXIT_USAGE = 0, 2


def _typed(kind: Callable[[str], Any], example: str, name: str) -> Callable[[str], Any]:
    def convert(text: str) -> Any:
        try:
            return kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"bad value {text!r}; for example {name} {example}") from None

    convert.__name__ = kind.__name__
    return convert


def add_arguments(root: argparse.ArgumentParser) -> None:
    parser: Any = root

    def opt(field: str, kind: Callable[[str], Any], example: str, help_text: str, metavar: str | None = None) -> None:
        name = option_name(field)
        default = getattr(ServerConfig, field, None)
        shown = ",".join(default) if isinstance(default, tuple) else default
        parser.add_argument(
            name,
            dest=field,
            type=_typed(kind, example, name),
            default=None,
            metavar=metavar or field.split("_")[-1].upper(),
            help=f"{help_text} (default: {shown})",
        )

    def flag(field: str, help_text: str) -> None:
        parser.add_argument(
            option_name(field),
            dest=field,
            action=argparse.BooleanOptionalAction,
            default=None,
            help=f"{help_text} (default: {'on' if getattr(ServerConfig, field) else 'off'})",
        )

    parser = root.add_argument_group("server")
    opt("host", str, "127.0.0.1", "address to bind")
    opt("port", int, "3000", "port to bind; 0 picks a free one (announced on stdout)")
    opt("log_level", str, "warning", "debug|info|warning|error")
    opt("session_api_key", str, "s3cret", "require this key (query session_api_key, header X-Session-API-Key)", "KEY")
    opt("ping_interval", float, "25", "Engine.IO ping interval, seconds", "S")
    opt("ping_timeout", float, "20", "Engine.IO ping timeout, seconds", "S")
    opt("max_payload", int, "4194304", "largest client frame in bytes (OpenHands: 4 MiB)", "BYTES")
    flag("ws_compression", "WebSocket permessage-deflate when the client offers it (uvicorn's default, as OpenHands)")
    parser.add_argument("--profile", metavar="FILE", default=None, help="JSON file of settings (keys: field names)")
    parser = root.add_argument_group("simulated agent")
    opt("seed", int, "42", "seed for conversation ids, content and jitter", "N")
    opt("script", parse_script, "run,edit,write,message", "agent steps per turn: run,edit,write,read,think,message,"
        "finish,error", "STEPS")  # fmt: skip
    opt("event_delay_ms", float, "100", "between consecutive live agent events of a turn (exact without jitter)", "MS")
    opt("echo_delay_ms", float, "0", "from receiving a message to its echo", "MS")
    opt("delay_jitter", float, "0.2", "spread each event delay uniformly by +-this fraction", "F")
    opt("startup_delay_ms", float, "0", "runtime start-up time of a new conversation", "MS")
    opt("finish_keyword", str, "finish", "a message containing this ends its turn with `finish` ('' = never)", "WORD")
    opt("close_delay", float, "300", "close an idle, unwatched, not running agent loop after S seconds (0 = never)",
        "S")  # fmt: skip
    opt("output_bytes", int, "600", "size of command and file-read output", "BYTES")
    flag("tool_metadata", "attach tool_call_metadata (large, as OpenHands) to agent tool events")
    flag("vision", "the model takes images (--no-vision refuses image_urls with an error payload, as OpenHands)")
    parser = root.add_argument_group("limits")
    flag("http_limit", "OpenHands' per-IP REST limiter (over --http-rate req/s: sleep; over twice: 429)")
    opt("http_rate", int, "10", "REST requests per IP per second before the limiter delays", "N")
    opt("http_sleep", float, "1", "seconds a delayed REST request sleeps", "S")
    opt("handshake_rate", float, "5", "new Engine.IO sessions per IP per second, over it HTTP 429 (0 = off)", "N")
    opt("handshake_retry_after", int, "2", "Retry-After of a refused handshake, whole seconds (0 = until a slot frees)",
        "S")  # fmt: skip
    opt("action_rate", float, "2", "actions per connection per second (0 = off)", "N")
    opt("action_limit_mode", str, "state", "answer to an action over the rate: state (rate_limited) | error", "MODE")
    opt("max_conversations", int, "100", "running agent loops before the oldest is evicted (0 = unlimited)", "N")
    parser = root.add_argument_group("faults (each counted in /metrics loadtest_faults_total)")
    opt("drop_every", float, "10", "every S seconds drop --drop-share of the connections", "S")
    opt("drop_share", float, "0.1", "share of connections dropped each time", "F")
    opt("drop_mode", str, "clean", "clean (Socket.IO DISCONNECT) | abrupt (TCP reset, no close frame)", "MODE")
    opt("stall_after", int, "20", "agent stalls before the N+1-th live event of a conversation's turns (0 = off)", "N")
    opt("stall_ms", float, "5000", "how long a stall lasts (0 = until the conversation is stopped)", "MS")
    opt("delay_every", int, "10", "delay every N-th live agent event of a conversation by --delay-ms (0 = off)", "N")
    opt("delay_ms", float, "500", "extra delay of a delayed event", "MS")
    opt("replay_skip_every", int, "5", "omit every N-th non-state event from each replay (0 = off)", "N")
    opt("replay_repeat_every", int, "7", "send every N-th non-state replay event twice (0 = off)", "N")
    parser = root.add_argument_group("OpenHands V1 (agent server: /api/…, /sockets/events, /sockets/session)")
    add_v1_arguments(parser, opt)


def add_v1_arguments(group: argparse._ArgumentGroup, opt: Callable[..., None]) -> None:
    """The OpenHands V1 options (`--api v1|both`; the others act on V1 only); `opt` adds to `group`."""
    group.add_argument(
        "--api",
        dest="api",
        choices=("v0", "v1", "both"),
        default=None,
        help="protocol(s) served: v0 (Socket.IO), v1 (agent server), both on one port (default: v0)",
    )
    opt("max_runs", int, "10", "V1 conversations running at once; more get ServerErrorEvent / 429 (0 = no cap)", "N")
    opt("socket_cap", int, "48", "V1 sockets per conversation; the next is closed 1013 (0 = no cap)", "N")
    opt("auth_timeout", float, "10", "V1 socket without a key: close 4001 after S seconds without an auth frame", "S")
    opt("stream_tokens", int, "6", "V1 streamed deltas per LLM reply (conversations created with llm.stream)", "N")
    opt("stream_rate", float, "400", "V1 streamed deltas per second", "N")
    opt("snapshot_drop_every", int, "5", "fault: omit the initial snapshot of every N-th V1 socket (0 = off)", "N")
    opt("replay_interleave_ms", float, "30", "fault: a resuming V1 events socket lets live frames through for MS "
        "(before its snapshot and mid-replay); they come again in the replay (0 = off)", "MS")  # fmt: skip


def config_from_args(args: argparse.Namespace) -> ServerConfig:
    """Defaults, then the profile file, then the options given on the command line."""
    values: dict[str, Any] = {}
    profile = getattr(args, "profile", None)
    if profile:
        try:
            values.update(load_profile(profile))
        except OSError as exc:
            raise ConfigError(
                "--profile", profile, "loadtest/server/profiles/realistic.json", exc.strerror or ""
            ) from exc
    for field in dataclasses.fields(ServerConfig):
        value = getattr(args, field.name, None)
        if value is not None:
            values[field.name] = value
    if values.get("session_api_key") == "":
        raise ConfigError("--session-api-key", "", "s3cret", "empty key")
    return ServerConfig(**values)


class _Server(uvicorn.Server):
    """uvicorn's server, but SIGINT/SIGTERM end `serve()` normally instead of being re-raised afterwards."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        def stop(sig: int, _frame: Any) -> None:
            if self.should_exit:
                self.force_exit = True
            self.should_exit = True

        previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto=IPPROTO_TCP makes asyncio set TCP_NODELAY on every accepted connection (it skips proto 0), and
    # the option set here is inherited on Linux: without it, Nagle + delayed ACK hold small frames ~40 ms.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


async def serve(cfg: ServerConfig, announce: Callable[[str], None] | None = None) -> int:
    sock = bind(cfg.host, cfg.port)
    port = sock.getsockname()[1]
    transports = TransportRegistry()
    parts = build_server(cfg, transports)
    uv_config = uvicorn.Config(
        parts.app,
        lifespan="on",
        log_level=cfg.log_level,
        access_log=False,
        log_config=None,  # keep logs.configure's redacting handler
        ws=websocket_protocol_class(transports),
        ws_max_size=max(16 * 1024 * 1024, cfg.max_payload * 2),
        ws_ping_interval=None,
        ws_per_message_deflate=cfg.ws_compression,
        timeout_graceful_shutdown=2,
    )
    server = _Server(uv_config)
    host = f"[{cfg.host}]" if ":" in cfg.host else cfg.host
    line = f"loadtest server listening on http://{host}:{port}"

    async def announce_when_started() -> None:
        for _ in range(600):  # at most 60 s
            if server.started:
                (announce or _print)(line)
                return
            if server.should_exit:
                return
            await asyncio.sleep(0.1 if _ > 10 else 0.01)

    announcer = asyncio.ensure_future(announce_when_started())
    try:
        await server.serve(sockets=[sock])
    finally:
        announcer.cancel()
        sock.close()
    return EXIT_OK


def _print(line: str) -> None:
    print(line, flush=True)


def run(args: argparse.Namespace) -> int:
    try:
        cfg = config_from_args(args)
    except ConfigError as exc:
        print(f"loadtest serve: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    configure(cfg.log_level)
    try:
        return asyncio.run(serve(cfg))
    except OSError as exc:
        print(f"loadtest serve: error: cannot listen on {cfg.host}:{cfg.port}: {exc.strerror}", file=sys.stderr)
        return 1
