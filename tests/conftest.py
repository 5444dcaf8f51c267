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


NODE_INSTALL = "apt-get install -y nodejs npm"


@pytest.fixture(scope="session")
def node_modules() -> Path:
    """Install the Node peers (socket.io 4.x server and client) from the npm registry, once per session.

    Without the `node` or `npm` program the Node interop tests are skipped, naming the command that installs
    them; with both, the peers are installed here (`npm ci`), and a failed install fails the tests.
    """
    missing = [tool for tool in ("node", "npm") if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"the Node interop tests need {' and '.join(missing)}: {NODE_INSTALL}")
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
