"""The OpenHands-compatible reference server (`loadtest serve`): an independent implementation.

Imports nothing from `loadtest.sio`, `loadtest.openhands` or `loadtest.harness`, and no gevent.
"""

from __future__ import annotations

from loadtest.server.app import build_app, build_server
from loadtest.server.config import ConfigError, ServerConfig

__all__ = ["ConfigError", "ServerConfig", "build_app", "build_server"]
