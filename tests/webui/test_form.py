"""The start form: why the session key is not a field, and that our options are (with their help text).

Locust builds the form's fields from ``argument_parser.ui_extra_args_dict()``; ``web.py`` puts the result
into ``template_args["extra_options"]``, which ``index.html`` embeds in the page as JSON. These tests pin
the fact our design rests on, against the installed Locust: an ``is_secret`` option's *value* is in that
data (the UI only masks the input box), so a secret field would publish the key in the page source.
"""

from __future__ import annotations

from locust import argument_parser, events

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from loadtest.harness.options import OPTIONS, add_options


@pytest.fixture
def parser_listener() -> Iterator[Callable[[Callable[..., None]], None]]:
    added: list[Callable[..., None]] = []

    def add(fn: Callable[..., None]) -> None:
        events.init_command_line_parser.add_listener(fn)
        added.append(fn)

    yield add
    for fn in added:
        events.init_command_line_parser.remove_listener(fn)


def test_locust_puts_a_secret_options_value_into_the_page_data(parser_listener: Any) -> None:
    def demo(parser: Any, **_: Any) -> None:
        parser.add_argument("--demo-secret", type=str, default="", help="demo", is_secret=True)

    parser_listener(demo)
    extra = argument_parser.ui_extra_args_dict(["--demo-secret", "hunter2-demo"])
    assert extra["demo_secret"]["is_secret"] is True
    assert extra["demo_secret"]["default_value"] == "hunter2-demo"  # hence: not a form field


def test_our_options_are_in_the_form_with_help_and_the_key_is_not(parser_listener: Any) -> None:
    if not any(getattr(fn, "__name__", "") == "add_options" for fn in events.init_command_line_parser._handlers):
        parser_listener(add_options)
    extra = argument_parser.ui_extra_args_dict(["--session-api-key", "hunter2-form", "--think-time", "250ms"])
    assert "session_api_key" not in extra
    assert "hunter2-form" not in repr(extra)
    for opt in OPTIONS:
        if opt.secret:
            continue
        assert extra[opt.dest]["help_text"] == opt.help, opt.flag
    assert extra["think_time"]["default_value"] == "250ms"
    assert list(extra["shape"]["choices"]) == ["none", "step", "ramp", "spike", "capacity", "throttle"]
