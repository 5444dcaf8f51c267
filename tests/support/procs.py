"""Start real peer processes on loopback port 0 and stop them by pid.

Every helper here starts a subprocess that prints one "ready" line naming its port, waits for that line
(with a deadline), and stops the process it started, and only it, on exit.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Self

ROOT = Path(__file__).resolve().parents[2]
NODE_DIR = ROOT / "tests" / "node"
_READY = re.compile(r"listening (?:on )?(?:https?://[\d.]+:)?(\d+)")


class PeerProcess:
    """A subprocess that announces its port on stdout; a context manager that stops it by pid."""

    def __init__(
        self,
        argv: Sequence[str],
        *,
        cwd: Path | None = None,
        env: dict[str, str] | None = None,
        ready_timeout: float = 30.0,
    ) -> None:
        self.argv = list(argv)
        full_env = dict(os.environ)
        full_env.update(env or {})
        full_env.setdefault("PYTHONUNBUFFERED", "1")
        self.proc = subprocess.Popen(
            self.argv,
            cwd=str(cwd or ROOT),
            env=full_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
            start_new_session=True,
        )
        self.lines: list[str] = []
        self.port = self._wait_ready(ready_timeout)
        self._drain = threading.Thread(target=self._pump, args=(self.proc.stdout,), daemon=True)
        self._drain.start()

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _wait_ready(self, timeout: float) -> int:
        assert self.proc.stdout is not None
        deadline = time.monotonic() + timeout
        result: list[int] = []

        def reader() -> None:
            assert self.proc.stdout is not None
            for line in self.proc.stdout:
                self.lines.append(line.rstrip("\n"))
                m = _READY.search(line)
                if m:
                    result.append(int(m.group(1)))
                    return

        t = threading.Thread(target=reader, daemon=True)
        t.start()
        while time.monotonic() < deadline and t.is_alive():
            t.join(0.05)
        if not result:
            self.stop()
            raise RuntimeError(f"{self.argv[:4]} did not become ready in {timeout}s; output:\n" + "\n".join(self.lines))
        return result[0]

    def _pump(self, stream: IO[str] | None) -> None:
        if stream is None:
            return
        for line in stream:
            self.lines.append(line.rstrip("\n"))

    def output(self) -> str:
        return "\n".join(self.lines)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def signal(self, sig: int) -> None:
        if self.alive():
            os.kill(self.proc.pid, sig)

    def stop(self, timeout: float = 10.0) -> int | None:
        """Stop the process we started (SIGTERM, then SIGKILL), by pid only."""
        if self.proc.poll() is None:
            try:
                os.kill(self.proc.pid, signal.SIGTERM)
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout)
            except ProcessLookupError:
                pass
        return self.proc.returncode

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class ReferenceServer(PeerProcess):
    """`loadtest serve` on 127.0.0.1 port 0 with the given extra options."""

    def __init__(self, *options: str, env: dict[str, str] | None = None, port: int = 0) -> None:
        argv = [sys.executable, "-m", "loadtest", "serve", "--host", "127.0.0.1", "--port", str(port), *options]
        super().__init__(argv, env=env)

    def metrics(self) -> dict[str, float]:
        """`/metrics` parsed into {'name{labels}': value}."""
        with urllib.request.urlopen(f"{self.url}/metrics", timeout=10) as resp:
            text = resp.read().decode()
        return parse_prometheus(text)


def parse_prometheus(text: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        name, _, value = line.rpartition(" ")
        out[name] = float(value)
    return out


def node_script(name: str, *args: str) -> PeerProcess:
    """Run `tests/node/<name>` with Node (the `node_modules` fixture must have run)."""
    return PeerProcess(["node", str(NODE_DIR / name), *args], cwd=NODE_DIR)
