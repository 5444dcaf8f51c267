"""`loadtest bench` warns on its own output when summary.json says the generator was saturated."""

from __future__ import annotations

import json
from pathlib import Path

from loadtest.bench import saturation_warning


def test_warning_only_when_the_generator_was_saturated(tmp_path: Path) -> None:
    path = tmp_path / "summary.json"
    path.write_text(json.dumps({"run": {"generator_saturated_s": 7}}))
    note = saturation_warning(path)
    assert note is not None and "saturated for 7 s" in note and "Generator health" in note
    path.write_text(json.dumps({"run": {"generator_saturated_s": 0}}))
    assert saturation_warning(path) is None
    assert saturation_warning(tmp_path / "missing.json") is None
