"""Registers the `real_openhands` marker (pytest runs with --strict-markers).

The lead is asked to move this to pyproject.toml's `markers`; until then it lives here.
"""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "real_openhands: starts a real OpenHands 1.6.0 server (installs it once; needs pyenv Python 3.12)"
    )
