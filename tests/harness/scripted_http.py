"""A tiny loopback HTTP server in a thread of the test process, for harness runs against a server that is not
OpenHands (404 to everything) or whose readiness polls must be retried (429, then 503, then ``RUNNING``).

Every route it does not know answers 404, the Socket.IO upgrade included, so a user that gets past REST fails
its WebSocket connect with a cause.
"""

from __future__ import annotations

import http.server
import json
import threading
from types import TracebackType


class _Handler(http.server.BaseHTTPRequestHandler):
    server: ScriptedServer._Http

    def _answer(self, status: int, body: object = None, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode() if body is not None else b""
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        owner = self.server.owner
        if owner.flaky_ready and self.path.split("?")[0] == "/api/conversations":
            with owner.lock:
                owner.created += 1
                cid = f"c{owner.created:04d}"
            self._answer(200, {"status": "ok", "conversation_id": cid})
            return
        self._answer(404, {"detail": "Not Found"})

    def do_GET(self) -> None:
        owner = self.server.owner
        path = self.path.split("?")[0]
        if owner.flaky_ready and path.startswith("/api/conversations/"):
            cid = path.rsplit("/", 1)[-1]
            with owner.lock:
                n = owner.polls[cid] = owner.polls.get(cid, 0) + 1
            if n == 1:
                self._answer(429, {"detail": "Too Many Requests"}, {"Retry-After": "1"})
            elif n == 2:
                self._answer(503, {"detail": "starting"})
            else:
                self._answer(200, {"conversation_id": cid, "status": "RUNNING", "runtime_status": "STATUS$READY"})
            return
        self._answer(404, {"detail": "Not Found"})

    def log_message(self, *args: object) -> None:
        pass


class ScriptedServer:
    """``flaky_ready=False``: 404 to everything. True: creates work, each conversation's first readiness poll
    gets 429 (``Retry-After: 1``), its second 503, the next ones ``RUNNING``; the socket upgrade gets 404."""

    class _Http(http.server.ThreadingHTTPServer):
        daemon_threads = True
        owner: ScriptedServer

    def __init__(self, flaky_ready: bool = False) -> None:
        self.flaky_ready = flaky_ready
        self.lock = threading.Lock()
        self.created = 0
        self.polls: dict[str, int] = {}
        self._srv = self._Http(("127.0.0.1", 0), _Handler)
        self._srv.owner = self
        self._thread = threading.Thread(target=self._srv.serve_forever, name="scripted-http", daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._srv.server_address[1]}"

    def close(self) -> None:
        self._srv.shutdown()
        self._srv.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> ScriptedServer:
        return self

    def __exit__(self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        self.close()
