"""OpenHands semantics on top of our Socket.IO client: events, conversations, REST. No Locust here.

See docs/contracts.md for the public API; everything not listed in `__all__` is internal.
"""

from __future__ import annotations

from loadtest.openhands.config import ConnectResult, ConversationConfig, ReconnectResult
from loadtest.openhands.conversation import Conversation, ConversationError
from loadtest.openhands.events import END_STATES, Classified, EventKind, classify
from loadtest.openhands.integrity import Integrity
from loadtest.openhands.listener import SIGNALS, ConversationListener
from loadtest.openhands.rest import RestClient, RestResult
from loadtest.openhands.turns import Turn

__all__ = [
    "END_STATES",
    "SIGNALS",
    "Classified",
    "ConnectResult",
    "Conversation",
    "ConversationConfig",
    "ConversationError",
    "ConversationListener",
    "EventKind",
    "Integrity",
    "ReconnectResult",
    "RestClient",
    "RestResult",
    "Turn",
    "classify",
]
