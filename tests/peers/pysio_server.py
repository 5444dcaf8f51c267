"""A plain python-socketio `AsyncServer` (ASGI, uvicorn) for loadtest's interop tests, plus two tiny fakes.

Usage::

    python tests/peers/pysio_server.py [--mode sio|reject|silent] [--ping-interval S] [--ping-timeout S]
        [--status 429] [--retry-after 7]

Prints ``listening <port>`` once it accepts connections on 127.0.0.1 (port 0 = a free port).

Modes:
- ``sio`` (default): python-socketio AsyncServer, websocket transport. Connect query ``pre=N`` emits N
  ``replay`` events ({"id": i}) to the new sid *before* the CONNECT ack (as OpenHands replays);
  ``refuse=<msg>`` refuses with ``ConnectionRefusedError(msg, {"code": 42})``; an auth payload is echoed as
  ``auth_seen`` (also before the ack). Events: ``echo`` (ack with the args), ``echo_event`` (emit ``echoed``),
  ``slow_ack`` (seconds → ack after that delay), ``ask`` (emit ``question`` asking for an ack, then
  ``answer`` with it), ``kick`` (server disconnect).
- ``reject``: answers every HTTP request (the WebSocket upgrade included) with ``--status`` and
  ``Retry-After: --retry-after`` and a small JSON body, then closes.
- ``silent``: a raw WebSocket server that sends the Engine.IO OPEN (short ping interval/timeout), acks the
  namespace CONNECT, and then never pings nor answers: the client must detect the ping timeout.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import sys
from typing import Any
from urllib.parse import parse_qs

import socketio
import uvicorn


def _listen_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(1024)
    sock.setblocking(False)
    return sock


def _ready(port: int) -> None:
    print(f"listening {port}", flush=True)


def build_sio(ping_interval: float, ping_timeout: float) -> socketio.AsyncServer:
    sio = socketio.AsyncServer(
        async_mode="asgi", ping_interval=ping_interval, ping_timeout=ping_timeout, transports=["websocket"]
    )

    @sio.event
    async def connect(sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        query = parse_qs(environ.get("QUERY_STRING", ""))
        if "refuse" in query:
            raise socketio.exceptions.ConnectionRefusedError(query["refuse"][0], {"code": 42})
        for i in range(int(query.get("pre", ["0"])[0])):
            await sio.emit("replay", {"id": i}, to=sid)
        if auth:
            await sio.emit("auth_seen", auth, to=sid)

    @sio.event
    async def echo(sid: str, *args: Any) -> Any:
        return args

    @sio.event
    async def echo_event(sid: str, *args: Any) -> None:
        await sio.emit("echoed", args if len(args) != 1 else args[0], to=sid)

    @sio.event
    async def slow_ack(sid: str, seconds: float) -> float:
        await sio.sleep(seconds)
        return seconds

    @sio.event
    async def ask(sid: str, value: Any) -> None:
        async def got(*answer: Any) -> None:
            await sio.emit("answer", list(answer), to=sid)

        await sio.emit("question", value, to=sid, callback=got)

    @sio.event
    async def kick(sid: str) -> None:
        await sio.disconnect(sid)

    return sio


async def serve_sio(args: argparse.Namespace) -> None:
    sio = build_sio(args.ping_interval, args.ping_timeout)
    app = socketio.ASGIApp(sio)
    sock = _listen_socket()
    config = uvicorn.Config(app, log_level="warning", lifespan="off", ws="websockets")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        if task.done():
            task.result()
            return
        await asyncio.sleep(0.01)
    _ready(sock.getsockname()[1])
    await task


async def serve_reject(args: argparse.Namespace) -> None:
    body = json.dumps({"message": "Too many requests"}).encode()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
            head = (
                f"HTTP/1.1 {args.status} Too Many Requests\r\nRetry-After: {args.retry_after}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
            )
            writer.write(head.encode() + body)
            await writer.drain()
        except (TimeoutError, asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, sock=_listen_socket())
    _ready(server.sockets[0].getsockname()[1])
    async with server:
        await server.serve_forever()


async def serve_silent(args: argparse.Namespace) -> None:
    from websockets.asyncio.server import ServerConnection, serve

    interval_ms = int(args.ping_interval * 1000)
    timeout_ms = int(args.ping_timeout * 1000)

    async def handle(ws: ServerConnection) -> None:
        opening = {"sid": "silent", "upgrades": [], "pingInterval": interval_ms, "pingTimeout": timeout_ms}
        await ws.send("0" + json.dumps(opening))
        async for message in ws:
            if isinstance(message, str) and message.startswith("40"):
                await ws.send('40{"sid":"silent-ns"}')
        # then nothing: no pings, no answers, until the client gives up

    async with serve(handle, sock=_listen_socket(), ping_interval=None) as server:
        _ready(next(iter(server.sockets)).getsockname()[1])
        await server.serve_forever()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=["sio", "reject", "silent"], default="sio")
    parser.add_argument("--ping-interval", type=float, default=25.0)
    parser.add_argument("--ping-timeout", type=float, default=20.0)
    parser.add_argument("--status", type=int, default=429)
    parser.add_argument("--retry-after", default="7")
    args = parser.parse_args(argv)
    runner = {"sio": serve_sio, "reject": serve_reject, "silent": serve_silent}[args.mode]
    try:
        asyncio.run(runner(args))
    except KeyboardInterrupt:
        sys.exit(0)


if __name__ == "__main__":
    main()
