"""loadtest: load and rate-limit testing for servers that speak the OpenHands WebSocket (Socket.IO) API."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
