"""The project's fast JSON codec (public): orjson when installed (several times faster), else the stdlib with caps.

Used by `loadtest.sio`'s packet codec and by the V1 client. Both refuse NaN/Infinity and read integers in
linear time: the stdlib path refuses integers over `MAX_INT_DIGITS` digits (as python-engineio does); orjson
reads integers beyond 64 bits as floats and refuses numbers beyond double range. `dumps` writes compact UTF-8
JSON (no ASCII escaping, like JSON.stringify).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

__all__ = ["BACKEND", "MAX_INT_DIGITS", "dumps", "loads", "std_dumps", "std_loads"]

MAX_INT_DIGITS = 100


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"non-standard JSON constant {name}")


def _capped_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise ValueError("integer too long")
    return int(text)


_STD_DECODER = json.JSONDecoder(parse_int=_capped_int, parse_constant=_refuse_constant)


def std_loads(data: bytes | memoryview) -> Any:
    """Parse UTF-8 JSON with the stdlib, refusing long integers and NaN/Infinity."""
    return _STD_DECODER.decode(bytes(data).decode("utf-8"))


def std_dumps(obj: Any) -> bytes:
    """Compact UTF-8 JSON with the stdlib."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode("utf-8")


loads: Callable[[bytes | memoryview], Any]
dumps: Callable[[Any], bytes]
try:
    import orjson

    _ORJSON_OPTS = orjson.OPT_NON_STR_KEYS

    def _orjson_dumps(obj: Any) -> bytes:
        return orjson.dumps(obj, option=_ORJSON_OPTS)

    loads = orjson.loads
    dumps = _orjson_dumps
    BACKEND = "orjson"
except ImportError:  # pragma: no cover - exercised when orjson is absent
    loads = std_loads
    dumps = std_dumps
    BACKEND = "json"
