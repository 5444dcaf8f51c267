"""Logging set-up for `loadtest serve`: one stderr handler whose filter redacts secrets from every record.

Session keys travel in the WebSocket query string (`session_api_key=`) and REST headers; uvicorn and the
websockets library log request lines and headers at info/debug level, so redaction happens on the handler.
"""

from __future__ import annotations

import logging
import re

REDACTED = "<redacted>"
_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"(session_api_key=)[^&\s\"']+", re.IGNORECASE), r"\1" + REDACTED),
    (re.compile(r"((?:x-session-api-key|cookie|authorization)['\"]?\s*[:=,]\s*['\"]?)[^\r\n'\"]+", re.IGNORECASE),
     r"\1" + REDACTED),
)  # fmt: skip


def redact(text: str) -> str:
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


def configure(level: str) -> None:
    """Route every logger (ours, uvicorn's, websockets') to one redacting stderr handler."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactingFilter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "websockets"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
