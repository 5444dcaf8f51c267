"""Test set-up: gevent first (as in a Locust process), then the shared fixtures.

The test process is monkey-patched like a Locust worker, so our gevent-native client runs here as it does
under Locust. asyncio servers run in subprocesses (see tests/support/procs.py).
"""

from gevent import monkey

monkey.patch_all()

import shutil  # noqa: E402
import subprocess  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

from tests.support.procs import NODE_DIR, ReferenceServer  # noqa: E402

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"


@pytest.fixture(scope="session")
def node_modules() -> Path:
    """Install the Node peers (socket.io 4.x server and client) from the npm registry, once per session."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.fail("Node.js and npm are required for the interop tests (apt-get install nodejs npm)")
    target = NODE_DIR / "node_modules"
    if not (target / "socket.io" / "package.json").exists() or not (target / "socket.io-client").exists():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=NODE_DIR, check=True, timeout=300)
    return target


@pytest.fixture
def reference_server() -> Iterator[ReferenceServer]:
    """A default reference server on a free loopback port."""
    with ReferenceServer("--event-delay-ms", "5") as server:
        yield server


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
