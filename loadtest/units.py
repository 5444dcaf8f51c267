"""Parsing of durations, rates, percentages and lists as written on the command line.

Pure: no Locust, no I/O. Every parser raises ``ValueError`` with a short phrase saying what was
expected; callers add the option's name.
"""

from __future__ import annotations

import re

__all__ = ["parse_duration", "parse_float", "parse_list", "parse_percent", "parse_range"]

_UNITS = {"us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0}
_DURATION = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*(us|µs|ms|s|min|m|h)?\s*$")
_COMPOUND = re.compile(r"^(?:\d+h)?(?:\d+m)?(?:\d+s)?$")


def parse_duration(text: str, *, default_unit: str = "s") -> float:
    """``'250ms'``, ``'2s'``, ``'1.5'`` (``default_unit``), ``'1m30s'`` → seconds (≥ 0)."""
    raw = str(text).strip()
    m = _DURATION.match(raw)
    if m:
        return float(m.group(1)) * _UNITS[m.group(2) or default_unit]
    if raw and _COMPOUND.match(raw):
        total = 0.0
        for amount, unit in re.findall(r"(\d+)([hms])", raw):
            total += int(amount) * _UNITS[unit]
        return total
    raise ValueError("expected a duration such as 500ms, 2s, 1m or 1m30s")


def parse_range(text: str) -> tuple[float, float]:
    """``'2s'`` → (2, 2); ``'1s..3s'`` or ``'1-3s'`` → (1, 3) seconds, low ≤ high."""
    raw = str(text).strip()
    if ".." in raw:
        lo_text, hi_text = raw.split("..", 1)
    elif re.match(r"^[0-9.]+\s*-\s*[0-9.]", raw):
        lo_text, hi_text = raw.split("-", 1)
    else:
        value = parse_duration(raw)
        return value, value
    hi_unit = re.sub(r"^[0-9.\s]+", "", hi_text.strip()) or "s"
    lo = parse_duration(lo_text, default_unit=hi_unit if hi_unit in _UNITS else "s")
    hi = parse_duration(hi_text)
    if lo > hi:
        raise ValueError("expected LOW..HIGH with LOW ≤ HIGH, such as 1s..3s")
    return lo, hi


def parse_percent(text: str) -> float:
    """``'1%'`` → 0.01; ``'0.01'`` → 0.01 (a bare number is a ratio)."""
    raw = str(text).strip()
    try:
        if raw.endswith("%"):
            return float(raw[:-1]) / 100.0
        return float(raw)
    except ValueError:
        raise ValueError("expected a percentage such as 1% or a ratio such as 0.01") from None


def parse_float(text: str, *, what: str = "a number") -> float:
    try:
        return float(str(text).strip())
    except ValueError:
        raise ValueError(f"expected {what}") from None


def parse_list(text: str | list[str] | tuple[str, ...] | None) -> list[str]:
    """Comma- or semicolon-separated items (or a list of such strings), stripped, empties dropped."""
    if text is None:
        return []
    parts = [text] if isinstance(text, str) else list(text)
    out: list[str] = []
    for part in parts:
        out.extend(item.strip() for item in re.split(r"[,;]", str(part)) if item.strip())
    return out
