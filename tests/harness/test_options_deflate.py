"""--ws-deflate: off by default, on/off from the command line and the environment."""

from __future__ import annotations

import pytest

from loadtest.harness.options import OptionError
from tests.harness.test_options import _settings


def test_ws_deflate_is_off_by_default_and_parses_on_off(monkeypatch: pytest.MonkeyPatch) -> None:
    assert _settings().ws_deflate is False
    assert _settings("--ws-deflate", "on").ws_deflate is True
    monkeypatch.setenv("LOCUST_WS_DEFLATE", "on")
    assert _settings().ws_deflate is True


def test_ws_deflate_bad_value_names_the_option() -> None:
    with pytest.raises((OptionError, SystemExit)) as err:
        _settings("--ws-deflate", "maybe")
    assert err.type is SystemExit or "--ws-deflate" in str(err.value)
