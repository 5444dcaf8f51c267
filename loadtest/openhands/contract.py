"""The one conversation contract the harness sees, whichever protocol is underneath, and the one place that
picks the protocol.

- `Conversation`: create (or join by id), ``wait_ready``, ``connect``, ``send_message`` → a turn with the common
  fields (`TurnLike`), ``wait``, ``drop``, ``reconnect``, ``settle`` (the gap audit), ``integrity``, ``close``.
  V0's `loadtest.openhands.Conversation` (Socket.IO) and V1's `V1Conversation` (plain WebSocket) both satisfy it;
  the ``_fits_*`` functions at the end make mypy prove it.
- `Listener`: the callbacks both protocols make (a no-op base class; the harness subclasses it). It is a
  `ConversationListener` and a `V1Listener` at once, so either protocol takes it. Names mean the same on both
  where the meaning is the same: integrity kinds `INTEGRITY` (``gap``, ``duplicate``, ``out_of_order``,
  ``history_reset`` on both; V1 adds ``overlap``, ``interleaved`` and the others, counted apart) and signals
  `SIGNALS` (V1 adds ``socket_cap`` and ``run_limit`` among others).
- `pick_api`: ``v0`` | ``v1`` | ``auto`` → an `Api` (how to build a conversation, which errors mean what).
  ``auto`` probes the target once (``GET /server_info``, then ``GET /socket.io/?EIO=4&transport=polling``) and
  says what it found in `Api.found`. No other code asks which API it runs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeVar

from loadtest.errors import LoadtestError
from loadtest.openhands.config import ConnectResult, ConversationConfig, ReadyResult, ReconnectResult
from loadtest.openhands.conversation import Conversation as V0Conversation
from loadtest.openhands.errors import ConversationError
from loadtest.openhands.listener import SIGNALS as V0_SIGNALS
from loadtest.openhands.listener import ConversationListener
from loadtest.openhands.rest import RestClient, RestResult
from loadtest.openhands.v1.config import V1Config
from loadtest.openhands.v1.conversation import V1Conversation, V1CreateError, V1NotConnected
from loadtest.openhands.v1.listener import V1_INTEGRITY, V1_SIGNALS, V1Listener
from loadtest.openhands.v1.wire import AgentSettingsError
from loadtest.sio.errors import SioError
from loadtest.ws import WsError

if TYPE_CHECKING:
    from loadtest.openhands.events import EventKind
    from loadtest.openhands.turns import Turn as V0Turn
    from loadtest.openhands.v1.events import V1Kind
    from loadtest.openhands.v1.turns import Turn as V1Turn

__all__ = [
    "APIS",
    "INTEGRITY",
    "SIGNALS",
    "Api",
    "ApiChoice",
    "ApiError",
    "ClientSettings",
    "Conversation",
    "IntegrityCounts",
    "Listener",
    "TurnLike",
    "pick_api",
]

ApiChoice = Literal["v0", "v1", "auto"]
APIS: tuple[str, ...] = ("v0", "v1", "auto")

#: Integrity kinds either protocol reports (V0's first; the V1-only ones after, each counted under its own name).
INTEGRITY: tuple[str, ...] = tuple(
    dict.fromkeys(("gap", "duplicate", "out_of_order", "unaudited", "history_reset", *V1_INTEGRITY))
)
#: Signals either protocol sends (V0's first, then V1's own: ``socket_cap``, ``run_limit``...).
SIGNALS: tuple[str, ...] = tuple(dict.fromkeys((*V0_SIGNALS, *V1_SIGNALS)))


class ApiError(LoadtestError, ValueError):
    """The API could not be chosen or a conversation not built; the message names the cause and the fix."""

    def __repr__(self) -> str:
        return "ApiError()"


# -- the contract ---------------------------------------------------------------------------------------


class TurnLike(Protocol):
    """The fields every protocol's turn has (perf_counter seconds, ms properties; None when not seen)."""

    @property
    def sent_at(self) -> float: ...
    @property
    def intended_at(self) -> float | None: ...
    @property
    def action_bytes(self) -> int: ...
    @property
    def echo_at(self) -> float | None: ...
    @property
    def first_agent_at(self) -> float | None: ...
    @property
    def end_at(self) -> float | None: ...
    @property
    def end_state(self) -> str | None: ...
    @property
    def gaps_ms(self) -> Sequence[float]: ...
    @property
    def events(self) -> int: ...
    @property
    def bytes(self) -> int: ...
    @property
    def token_gaps_ms(self) -> Sequence[float]: ...
    @property
    def done(self) -> bool: ...
    @property
    def echo_ms(self) -> float | None: ...
    @property
    def first_event_ms(self) -> float | None: ...
    @property
    def turn_ms(self) -> float | None: ...
    @property
    def ttft_ms(self) -> float | None: ...
    @property
    def echo_co_ms(self) -> float | None: ...
    @property
    def first_event_co_ms(self) -> float | None: ...
    @property
    def turn_co_ms(self) -> float | None: ...
    @property
    def ttft_co_ms(self) -> float | None: ...


TurnT = TypeVar("TurnT", bound=TurnLike)


class IntegrityCounts(Protocol):
    """A conversation's event and id counters (read-only)."""

    @property
    def events(self) -> int: ...
    @property
    def bytes(self) -> int: ...
    @property
    def gaps(self) -> int: ...
    @property
    def duplicates(self) -> int: ...
    @property
    def out_of_order(self) -> int: ...


class Conversation(Protocol[TurnT]):
    """What the harness needs of one conversation; each protocol's class implements it.

    A turn from `send_message` goes back to the same conversation's `wait` (hence the type parameter).
    """

    conversation_id: str | None
    last_cause: str | None  # why the latest create or connect failed, in a user's words (None after a success)

    @property
    def connected(self) -> bool: ...
    @property
    def turns_in_flight(self) -> int: ...
    @property
    def integrity(self) -> IntegrityCounts: ...
    @property
    def protocol_errors(self) -> dict[str, int]: ...
    def create(self) -> RestResult: ...
    def wait_ready(self, timeout: float | None = None) -> ReadyResult: ...
    def connect(self) -> ConnectResult: ...
    def send_message(
        self, text: str, intended_at: float | None = None, wait: bool = True, timeout: float | None = None
    ) -> TurnT: ...
    def wait(self, turn: TurnT, timeout: float | None = None) -> TurnT: ...
    def drop(self, abrupt: bool = True) -> None: ...
    def reconnect(self, max_attempts: int | None = None, deadline: float | None = None) -> ReconnectResult: ...
    def settle(self, *, timeout: float = 30.0) -> object: ...
    def close(self) -> None: ...


class Listener(ConversationListener, V1Listener):
    """The callbacks of either protocol (no-op here; override what you need). See `ConversationListener` for
    the greenlet each runs in. ``kind`` of `on_integrity` is one of `INTEGRITY`, ``signal`` one of `SIGNALS`."""

    def on_event(self, conv: Conversation[Any], kind: EventKind | V1Kind, size: int, received_at: float) -> None:
        """Every event received (replayed and duplicated ones included; V1's streamed deltas too)."""

    def on_integrity(self, conv: Conversation[Any], kind: str, count: int) -> None:
        """An integrity finding (kinds in `INTEGRITY`)."""

    def on_signal(self, conv: Conversation[Any], signal: str) -> None:
        """A throttle, refusal or error signal (names in `SIGNALS`)."""

    def on_disconnect(self, conv: Conversation[Any], reason: str) -> None:
        """Every connection loss, with the client's reason (``client``, ``client_abort`` for our own drops)."""

    def on_turn(self, conv: Conversation[Any], turn: TurnLike) -> None:
        """A turn ended (end state seen or timed out)."""

    def on_rest(self, conv: Conversation[Any], call: str, result: RestResult) -> None:
        """A REST call the conversation made, and its result (secrets redacted)."""

    def on_rest_retried(self, conv: Conversation[Any], call: str, result: RestResult) -> None:
        """A REST answer worth retrying that will be asked again (not a failure)."""


# -- building a conversation --------------------------------------------------------------------------


@dataclass(frozen=True)
class ClientSettings:
    """What the harness knows about the target, for either protocol (secrets never in the repr).

    ``seed_settings`` is V0's (``POST /api/settings`` when the server has none); ``agent_settings``,
    ``v1_socket`` and ``send_via`` are V1's (`V1Config`). ``key_via`` is ``query``, ``header`` (both APIs),
    ``cookie`` (V0) or ``first-frame`` (V1).
    """

    base_url: str
    session_api_key: str | None = field(default=None, repr=False)
    key_via: str = "query"
    providers: tuple[str, ...] = ()
    connect_timeout: float = 30.0
    turn_timeout: float = 120.0
    reconnect_max_attempts: int = 10
    source_address: str | None = None
    ready_timeout: float = 120.0
    ready_poll: float = 3.0
    deflate: bool = False
    seed_settings: dict[str, Any] | None = field(default=None, repr=False)
    agent_settings: dict[str, Any] | None = field(default=None, repr=False)
    v1_socket: Literal["events", "session"] = "events"
    send_via: Literal["socket", "rest"] = "socket"


Builder = Callable[[ClientSettings, "str | None", Listener], Conversation[Any]]


@dataclass(frozen=True)
class Api:
    """One protocol as the harness uses it.

    Attributes:
        name: ``v0`` or ``v1``.
        build: ``build(settings, conversation_id or None, listener)`` → a `Conversation` (not yet connected).
        create_errors: what ``create`` (or ``connect``, when it creates) raises when the REST create failed.
        connect_errors: what ``connect`` raises when the server refused or was not reached.
        send_errors: what ``send_message`` raises when the socket is gone (nothing was sent).
        found: how it was chosen (``--api v1``, or what ``auto``'s probe saw), for the run's log.
    """

    name: str
    build: Builder
    create_errors: tuple[type[BaseException], ...]
    connect_errors: tuple[type[BaseException], ...]
    send_errors: tuple[type[BaseException], ...]
    found: str = ""


def _build_v0(s: ClientSettings, conversation_id: str | None, listener: Listener) -> V0Conversation:
    if s.key_via not in ("query", "header", "cookie"):
        raise ApiError(f"--key-via {s.key_via} is V1's: the V0 socket takes the key by query, header or cookie")
    cfg = ConversationConfig(
        base_url=s.base_url,
        session_api_key=s.session_api_key,
        key_via=s.key_via,  # type: ignore[arg-type]  # checked above
        providers=s.providers,
        connect_timeout=s.connect_timeout,
        turn_timeout=s.turn_timeout,
        reconnect_max_attempts=s.reconnect_max_attempts,
        source_address=s.source_address,
        ready_timeout=s.ready_timeout,
        ready_poll=s.ready_poll,
        deflate=s.deflate,
    )
    rest = RestClient(
        cfg.base_url,
        cfg.session_api_key,
        delayed_ms=cfg.http_delayed_ms,
        settings=s.seed_settings,
        source_address=cfg.source_address,
    )
    return V0Conversation(cfg, conversation_id, listener=listener, rest=rest)


def _build_v1(s: ClientSettings, conversation_id: str | None, listener: Listener) -> V1Conversation:
    if s.key_via not in ("query", "header", "first-frame"):
        raise ApiError(f"--key-via {s.key_via} is V0's: the V1 socket takes the key by first-frame, header or query")
    if conversation_id is None and s.agent_settings is None:
        raise ApiError(
            "creating a V1 conversation needs --agent-settings JSON|@FILE (the agent and its LLM), "
            "or join existing ones with --conversation-ids"
        )
    cfg = V1Config(
        base_url=s.base_url,
        session_api_key=s.session_api_key,
        key_via=s.key_via,  # type: ignore[arg-type]  # checked above
        socket=s.v1_socket,
        send_via=s.send_via,
        agent_settings=s.agent_settings,
        connect_timeout=s.connect_timeout,
        turn_timeout=s.turn_timeout,
        reconnect_max_attempts=s.reconnect_max_attempts,
        source_address=s.source_address,
        deflate=s.deflate,
    )
    return V1Conversation(cfg, conversation_id, listener=listener)


_V0 = Api("v0", _build_v0, (ConversationError,), (SioError,), (SioError,))
_V1 = Api("v1", _build_v1, (V1CreateError, AgentSettingsError), (WsError, OSError), (V1NotConnected,))  # OSError: bind
_BY_NAME = {"v0": _V0, "v1": _V1}


def pick_api(api: str, base_url: str, *, session_api_key: str | None = None, timeout: float = 5.0) -> Api:
    """The protocol for ``--api`` `api`: ``v0``, ``v1``, or ``auto`` (probe `base_url` once; see the module doc).

    Raises:
        ApiError: an unknown `api`, or ``auto`` could not tell (the message says what each probe answered).
    """
    chosen = _BY_NAME.get(api)
    if chosen is not None:
        return replace(chosen, found=f"--api {api}")
    if api != "auto":
        raise ApiError(f"--api {api!r} is not one of {', '.join(APIS)}: use --api v0, v1 or auto")
    name, found = probe(RestClient(base_url, session_api_key, timeout=timeout))
    return replace(_BY_NAME[name], found=found)


def probe(rest: RestClient) -> tuple[str, str]:
    """Ask the target which API it speaks: (``v0``|``v1``, what was seen). Two GETs at most, no key needed.

    An OpenHands agent server (V1) answers ``GET /server_info`` with its ``sdk_version``; a V0 server answers
    ``GET /socket.io/?EIO=4&transport=polling`` with an Engine.IO open packet (``0{...``).
    """
    info = rest.server_info()
    body = info.body
    if info.ok and isinstance(body, dict) and "sdk_version" in body:
        return "v1", f"--api auto: GET /server_info names sdk_version {body.get('sdk_version')!r}: OpenHands V1"
    sio = rest.request("GET", "/socket.io/", params={"EIO": "4", "transport": "polling"})
    if sio.ok and isinstance(sio.body, str) and sio.body.startswith("0{"):
        return "v0", "--api auto: GET /socket.io/?EIO=4&transport=polling opened an Engine.IO session: OpenHands V0"
    raise ApiError(
        f"--api auto could not tell the API of {rest.base_url}: GET /server_info answered "
        f"{_said(info)} without sdk_version and GET /socket.io/ answered {_said(sio)}; "
        "check --host, or pass --api v0 or --api v1"
    )


def _said(res: RestResult) -> str:
    return f"HTTP {res.status}" if res.status else f"nothing ({res.cause or res.body})"


# -- mypy proves both protocols fit the contract (never called) ---------------------------------------


def _fits_v0(conv: V0Conversation, listener: Listener) -> Conversation[V0Turn]:
    _listener: ConversationListener = listener
    return conv


def _fits_v1(conv: V1Conversation, listener: Listener) -> Conversation[V1Turn]:
    _listener: V1Listener = listener
    return conv
