"""The Socket.IO tab's rows, from merged timeline data."""

from __future__ import annotations

import pytest

from loadtest.harness.webui import COLUMNS, table_rows
from loadtest.timeline import Second as Slice


def test_rows_per_metric_then_counters() -> None:
    total, recent = Slice(0), Slice(0)
    for v in (10.0, 20.0, 30.0):
        total.record("echo", v)
    recent.record("echo", 30.0)
    total.record("echo_co", 40.0)
    total.count("failures.echo", 2)
    total.count("throttled.http_429", 4)
    total.count("gaps", 1)
    rows = table_rows(total, recent)
    by_name = {r["name"]: r for r in rows}
    assert [r["name"] for r in rows[:2]] == ["echo", "echo_co"]
    echo = by_name["echo"]
    assert echo["count"] == 3 and echo["failures"] == 2 and echo["recent_p95"] == "30.0"
    assert float(echo["p50"]) == pytest.approx(20.0, rel=0.01)
    assert by_name["echo_co"]["failures"] == ""
    assert by_name["throttled.http_429"]["count"] == 4 and by_name["gaps"]["count"] == 1
    assert {k for k, _ in COLUMNS} >= {"name", "count", "p95"}


def test_the_report_tab_script_ships_as_package_data() -> None:
    """webui.js is a file of the package (pyproject's package-data puts it in the wheel), read as a resource."""
    import tomllib
    from importlib.resources import files
    from pathlib import Path

    from loadtest.harness.webui.routes import webui_script

    script = webui_script()
    assert script == files("loadtest.harness.webui").joinpath("webui.js").read_text(encoding="utf-8")
    code = [line for line in script.splitlines() if not line.lstrip().startswith("//")]
    assert 'var PANEL_ID = "loadtest-report";' in script and not any("innerHTML" in line for line in code)
    pyproject = tomllib.loads((Path(__file__).resolve().parents[2] / "pyproject.toml").read_text(encoding="utf-8"))
    assert "harness/webui/*.js" in pyproject["tool"]["setuptools"]["package-data"]["loadtest"]
