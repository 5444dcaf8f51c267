"""A real OpenHands 1.6.0 server on loopback (`loadtest openhands up|down|status`), driven by our mock LLM."""

from __future__ import annotations
