"""A plain WebSocket server (the `websockets` package, asyncio) for the tests of `loadtest.ws` used directly.

Usage::

    python tests/peers/ws_server.py

Prints ``listening <port>`` once it accepts connections on 127.0.0.1 (port 0 = a free port). What it does
depends on the request path:

- ``/echo`` (any query): first a text frame with what reached it, ``{"path", "query", "headers", "peer"}``
  (headers lower-cased; ``peer`` is the client's address), then each message comes back as it came (text as
  text, binary as binary), except the text commands ``burst N`` (N text frames ``{"i": 0..N-1}`` in one go)
  and ``close CODE REASON`` (the server closes with that code and reason). When the client closes, it prints
  ``client closed CODE REASON`` on stdout.
- ``/close/CODE?reason=R``: accept, then close at once with CODE and R (1013, 4001, 4004, ...).
- ``/reject/STATUS?retry_after=S``: refuse the upgrade with HTTP STATUS, ``Retry-After: S`` when given, and a
  small JSON body.
"""

from __future__ import annotations

import asyncio
import json
import socket
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response


def _listen_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    sock.setblocking(False)
    return sock


def _refuse(connection: ServerConnection, request: Request) -> Response | None:
    parts = urlsplit(request.path)
    if not parts.path.startswith("/reject/"):
        return None
    status = int(parts.path.rsplit("/", 1)[1])
    body = json.dumps({"detail": f"refused with {status}"})
    response = connection.respond(HTTPStatus(status), body)
    response.headers["Content-Type"] = "application/json"
    retry_after = parse_qs(parts.query).get("retry_after")
    if retry_after:
        response.headers["Retry-After"] = retry_after[0]
    return response


async def _handle(ws: ServerConnection) -> None:
    assert ws.request is not None
    parts = urlsplit(ws.request.path)
    query = parse_qs(parts.query)
    if parts.path.startswith("/close/"):
        await ws.close(int(parts.path.rsplit("/", 1)[1]), query.get("reason", [""])[0])
        return
    seen: dict[str, Any] = {
        "path": parts.path,
        "query": query,
        "headers": {k.lower(): v for k, v in ws.request.headers.raw_items()},
        "peer": ws.remote_address[0],
    }
    await ws.send(json.dumps(seen))
    try:
        async for message in ws:
            if isinstance(message, str) and message.startswith("burst "):
                for i in range(int(message.split()[1])):
                    await ws.send(json.dumps({"i": i}))
            elif isinstance(message, str) and message.startswith("close "):
                _, code, reason = message.split(" ", 2)
                await ws.close(int(code), reason)
                return
            else:
                await ws.send(message)
    except ConnectionClosed:
        pass
    if ws.close_code is not None:
        print(f"client closed {ws.close_code} {ws.close_reason}", flush=True)


async def main() -> None:
    sock = _listen_socket()
    async with serve(_handle, sock=sock, process_request=_refuse, compression=None, ping_interval=None):
        print(f"listening {sock.getsockname()[1]}", flush=True)
        await asyncio.Future()


if __name__ == "__main__":
    asyncio.run(main())
