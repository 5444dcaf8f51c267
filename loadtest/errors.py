"""The root of every error loadtest raises on purpose.

Each layer keeps its own small hierarchy (``SioError`` in ``sio/``, ``ConversationError`` in
``openhands/``, ``RunFolderError`` in ``report/``, ...) and hangs it from :class:`LoadtestError`, so a
caller that wants "anything loadtest refused or could not do" catches one class. Reprs stay each
class's own (Locust groups failures by repr). Pure: imports nothing.
"""

from __future__ import annotations

__all__ = ["LoadtestError"]


class LoadtestError(Exception):
    """Base class of loadtest's own errors; never raised itself."""
