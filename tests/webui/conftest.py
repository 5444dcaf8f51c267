"""Browser set-up for the web UI tests: Debian's Chromium and Playwright for Python, installed when missing.

Chromium comes from Debian's ``chromium`` package (``apt-get install -y chromium``, which needs root);
Playwright from PyPI (the ``[test]`` extra; installed here with pip when it is missing). Playwright is
never asked to download a browser of its own. A test is skipped, naming the command that installs Chromium,
only when it cannot be installed here (no apt-get, or not root); an install that is tried and fails fails the
test, so CI never skips the browser tests silently.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
APT_TIMEOUT = 900
CHROMIUM_INSTALL = "sudo apt-get install -y chromium"


def _tail(proc: subprocess.CompletedProcess[str]) -> str:
    return (proc.stdout + proc.stderr).strip()[-300:]


def _cannot_install_chromium() -> str | None:
    """Why Chromium cannot be installed here (the skip reason, with the command), or None when it can."""
    if shutil.which("apt-get") is None:
        return f"Chromium is missing and there is no apt-get here; on Debian or Ubuntu: {CHROMIUM_INSTALL}"
    if os.geteuid() != 0:
        return f"Chromium is missing and the tests do not run as root: {CHROMIUM_INSTALL}"
    return None


def _apt_install_chromium() -> str | None:
    """Install Debian's chromium (as root, apt-get present); returns why it failed, or None."""
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    cmd = ["apt-get", "install", "-y", "-q", "--no-install-recommends", "chromium"]
    try:
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=APT_TIMEOUT)
        if proc.returncode != 0:  # a stale package list: update once, then try again
            subprocess.run(["apt-get", "update", "-q"], env=env, capture_output=True, text=True, timeout=APT_TIMEOUT)
            proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=APT_TIMEOUT)
    except subprocess.TimeoutExpired:
        return f"apt-get install chromium did not finish within {APT_TIMEOUT}s"
    if proc.returncode != 0 or not CHROMIUM.exists():
        return f"apt-get install chromium failed ({proc.returncode}): {_tail(proc)}"
    return None


def _pip_install_playwright() -> str | None:
    if importlib.util.find_spec("playwright") is not None:
        return None
    cmd = [sys.executable, "-m", "pip", "install", "-q", "playwright"]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=APT_TIMEOUT)
    except subprocess.TimeoutExpired:
        return "pip install playwright timed out"
    importlib.invalidate_caches()
    if proc.returncode != 0 or importlib.util.find_spec("playwright") is None:
        return f"pip install playwright failed ({proc.returncode}): {_tail(proc)}"
    return None


@pytest.fixture(scope="session")
def chromium() -> Path:
    """Debian's Chromium plus Playwright for Python, ready for ``tests/webui/browser.py``."""
    if not CHROMIUM.exists():
        cannot = _cannot_install_chromium()
        if cannot:
            pytest.skip(cannot)
        failed = _apt_install_chromium()
        if failed:
            pytest.fail(failed)
    failed = _pip_install_playwright()
    if failed:
        pytest.fail(failed)
    return CHROMIUM
