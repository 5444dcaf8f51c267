"""No secret anywhere: a bench run against a server with a known session key, logged at DEBUG, then every
file of the run folder (text and binary), the logs and the console output are scanned for the key, for
cookies and for Authorization / X-Session-API-Key headers."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.procs import ROOT

pytestmark = pytest.mark.slow

KEY = "sk-fault-test-7f3a9c1e5b2d4086"
HEADERS = re.compile(rb"(?i)(authorization|cookie|x-session-api-key)\s*[:=]\s*[^\s*]")


def test_session_key_never_written_or_printed(tmp_path: Path) -> None:
    folder = tmp_path / "bench"
    argv = [
        sys.executable, "-m", "loadtest", "bench", "--report-dir", str(folder), "--users", "2", "--run-time", "4s",
        "--quiet", "--no-pin", f"--server-option=--session-api-key={KEY}", "--profile", "reconnect",
        "--", "--session-api-key", KEY, "--loglevel", "DEBUG",
    ]  # fmt: skip
    proc = subprocess.run(argv, cwd=ROOT, capture_output=True, timeout=120, check=False)
    console = proc.stdout + proc.stderr
    assert proc.returncode in (0, 3), console[-3000:].decode(errors="replace")
    run_json = (folder / "run.json").read_text()
    assert '"session_api_key": "***"' in run_json  # it was used (and redacted), not absent
    assert b"turn" in (folder / "summary.json").read_bytes()
    files = [p for p in folder.rglob("*") if p.is_file()]
    assert len(files) >= 8, files
    blobs = {str(p.relative_to(folder)): p.read_bytes() for p in files}
    blobs["<console>"] = console
    leaks = [name for name, data in blobs.items() if KEY.encode() in data]
    assert not leaks, leaks
    headers = [(name, m.group(0)[:40]) for name, data in blobs.items() for m in HEADERS.finditer(data)]
    assert not headers, headers
