"""Parsers of the harness's option values (pure): text in, a typed value out, ``ValueError`` saying why.

``options.py`` names one of these for each option; the error it raises becomes an ``OptionError``
that adds the option's name and an example.
"""

from __future__ import annotations

import ipaddress
import json
import math
from collections.abc import Callable, Iterable
from pathlib import Path

from loadtest.errors import LoadtestError
from loadtest.harness.slo import Slo, SloError, parse_slos
from loadtest.harness.steps import parse_steps
from loadtest.units import parse_duration, parse_float, parse_list, parse_percent, parse_range

__all__ = [
    "MAX_SOURCE_IPS",
    "SloValueError",
    "choice",
    "duration",
    "number",
    "on_off",
    "parse_source_ips",
    "percent",
    "positive_duration",
    "positive_number",
    "read_ids",
    "read_message",
    "read_settings_json",
    "run_label",
    "shape_steps",
    "slos",
    "text",
    "text_list",
    "think_range",
    "whole_number",
]

MAX_SOURCE_IPS = 4096


def _at_least(fn: Callable[[str], float], *, allow_zero: bool) -> Callable[[object], float]:
    def check(value: object) -> float:
        out = float(fn(str(value)))
        if math.isnan(out) or out < 0 or (out == 0 and not allow_zero):
            raise ValueError("must be " + ("≥ 0" if allow_zero else "> 0"))
        return out

    return check


#: A duration ≥ 0 (``0`` means off), e.g. ``30s``.
duration = _at_least(parse_duration, allow_zero=True)
#: A duration > 0.
positive_duration = _at_least(parse_duration, allow_zero=False)


def number(value: object) -> float:
    """A number ≥ 0."""
    return _at_least(parse_float, allow_zero=True)(value)


def positive_number(value: object) -> float:
    """A number > 0."""
    return _at_least(parse_float, allow_zero=False)(value)


def whole_number(value: object) -> int:
    got = parse_float(str(value), what="a whole number")
    if not got.is_integer() or got < 0:
        raise ValueError("expected a whole number ≥ 0")
    return int(got)


def percent(value: object) -> float:
    return parse_percent(str(value))


def think_range(value: object) -> tuple[float, float]:
    return parse_range(str(value))


def text(value: object) -> str:
    return str(value or "")


def text_list(value: object) -> tuple[str, ...]:
    return tuple(parse_list(str(value or "")))


def choice(*choices: str) -> Callable[[object], str]:
    """One of ``choices``, as given."""
    said = ", ".join(choices[:-1]) + " or " + choices[-1] if len(choices) > 1 else choices[0]

    def check(value: object) -> str:
        got = str(value)
        if got not in choices:
            raise ValueError(f"choose {said}")
        return got

    return check


def on_off(value: object) -> bool:
    got = str(value).strip().lower()
    if got in ("on", "true", "yes", "1"):
        return True
    if got in ("off", "false", "no", "0"):
        return False
    raise ValueError("choose on or off")


def run_label(value: object) -> str:
    got = str(value or "").strip()
    if any(c in got for c in "/\\\0") or got.startswith("."):
        raise ValueError("a label is a plain name without slashes")
    return got


def shape_steps(value: object) -> str:
    """The ``--shape-steps`` text, once checked (the steps are read with ``--step-duration`` later)."""
    parse_steps(str(value), 1.0)
    return str(value)


def slos(value: object) -> tuple[Slo, ...]:
    """``--slo`` expressions (a list, or one comma-separated string from the web UI's form)."""
    if value is None or isinstance(value, str):
        exprs: Iterable[str] | str | None = value
    elif isinstance(value, Iterable):
        exprs = [str(e) for e in value]
    else:
        raise TypeError(f"expected SLO expressions, not {type(value).__name__}")
    try:
        return parse_slos(exprs)
    except SloError as exc:
        raise SloValueError(exc.expr, exc.why) from None


class SloValueError(LoadtestError, ValueError):
    """A bad ``--slo`` expression: the expression (not the whole list) is the bad value."""

    def __init__(self, expr: str, why: str) -> None:
        super().__init__(why)
        self.expr = expr
        self.why = why


def read_ids(value: object) -> tuple[str, ...]:
    path_text = str(value or "")
    if not path_text:
        return ()
    path = Path(path_text)
    if not path.is_file():
        raise ValueError(f"no such file {path_text!r}")
    ids = tuple(line.strip() for line in path.read_text().splitlines() if line.strip() and not line.startswith("#"))
    if not ids:
        raise ValueError(f"{path_text!r} holds no conversation ids (one per line)")
    return ids


def read_message(value: object) -> str:
    got = str(value)
    if got.startswith("@"):
        path = Path(got[1:])
        if not path.is_file():
            raise ValueError(f"no such file {got[1:]!r}")
        got = path.read_text().strip()
    if not got:
        raise ValueError("the message is empty")
    return got


def read_settings_json(value: object) -> dict[str, object] | None:
    """``--seed-settings``: a JSON object, or ``@FILE`` holding one; empty means none."""
    got = str(value or "").strip()
    if not got:
        return None
    where = "the value"
    if got.startswith("@"):
        path = Path(got[1:])
        if not path.is_file():
            raise ValueError(f"no such file {got[1:]!r}")
        where, got = f"file {got[1:]!r}", path.read_text()
    try:
        data = json.loads(got)
    except json.JSONDecodeError as exc:
        # never echo the text: it may hold an LLM key
        raise ValueError(f"{where} is not JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from None
    if not isinstance(data, dict) or not data:
        raise ValueError(f'{where} must be a non-empty JSON object such as {{"llm_model": ...}}')
    return data


def read_agent_settings(value: object) -> dict[str, object] | None:
    """``--agent-settings``: the V1 create body's agent part, JSON or ``@FILE``; empty means none.

    Read as ``--seed-settings`` is, then shaped by `loadtest.openhands.v1.wire.parse_agent_settings` (a partial
    create body with ``agent``, or the agent object itself with ``llm``). Errors never echo the text.
    """
    data = read_settings_json(value)
    # imported here: loadtest.openhands (and with it gevent) stays out of option parsing until it is needed
    from loadtest.openhands.v1.wire import parse_agent_settings

    return None if data is None else parse_agent_settings(json.dumps(data))


def parse_source_ips(value: object) -> tuple[str, ...]:
    """``127.0.0.2-127.0.0.9`` or ``127.0.0.2,127.0.0.5`` (entries may mix) → the addresses, in order.

    A range ``A-B`` holds every address from A to B (same IP version, A ≤ B). Duplicates are kept once.
    """
    out: dict[str, None] = {}
    for item in parse_list(str(value or "")):
        lo_text, sep, hi_text = item.partition("-")
        try:
            lo = ipaddress.ip_address(lo_text.strip())
            hi = ipaddress.ip_address(hi_text.strip()) if sep else lo
        except ValueError:
            raise ValueError(f"{item!r} is not an IP address or a range A-B of them") from None
        if lo.version != hi.version or int(hi) < int(lo):
            raise ValueError(f"{item!r}: a range goes from the lower to the higher address of one IP version")
        if int(hi) - int(lo) + 1 + len(out) > MAX_SOURCE_IPS:
            raise ValueError(f"more than {MAX_SOURCE_IPS} addresses")
        for k in range(int(hi) - int(lo) + 1):
            out[str(lo + k)] = None
    return tuple(out)
