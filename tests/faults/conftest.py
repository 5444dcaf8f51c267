"""Fault tests (issue 8): each module proves one family of faults is survived, counted and reported.

Every test here is marked ``faults`` (registered in pyproject.toml) and ``slow``;
``pytest -m faults`` runs them alone. Every wait is bounded; every process is started and stopped by pid.
"""

from __future__ import annotations

import pytest


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/faults/" in str(item.fspath).replace("\\", "/"):
            item.add_marker(pytest.mark.faults)
