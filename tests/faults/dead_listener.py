"""A dead server on loopback: it accepts every TCP connection and closes it at once, recording each accept.

Runs in a thread of the test process. Each accept is recorded as (monotonic time, client address), so a test
counts connection attempts per user (each user sends from its own 127.0.0.x) per 1 s window on the server
side, whatever the client believes it did.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterable
from types import TracebackType


class DeadListener:
    """Accept and close at once; `accepts` lists (time, client host) for every connection."""

    def __init__(self, port: int = 0) -> None:
        """Args:
        port: the port to take over (e.g. that of a server just killed); 0: any free one.
        """
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", port))
        self._sock.listen(1024)
        self._sock.settimeout(0.2)
        self.port: int = self._sock.getsockname()[1]
        self.accepts: list[tuple[float, str]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="dead-listener", daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                conn, addr = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.accepts.append((time.monotonic(), addr[0]))
            conn.close()

    def by_host(self) -> dict[str, list[float]]:
        out: dict[str, list[float]] = {}
        for t, host in list(self.accepts):
            out.setdefault(host, []).append(t)
        return out

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._sock.close()

    def __enter__(self) -> DeadListener:
        return self

    def __exit__(self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        self.close()


def most_in_window(times: Iterable[float], window: float = 1.0) -> int:
    """The largest number of `times` inside any window of `window` seconds (both ends included)."""
    ts = sorted(times)
    best = j = 0
    for i, t in enumerate(ts):
        while ts[j] < t - window:
            j += 1
        best = max(best, i - j + 1)
    return best
