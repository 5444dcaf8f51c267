"""Server-side counters and their Prometheus text rendering (pure)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

THROTTLE_KINDS: tuple[str, ...] = ("http_429", "http_delayed", "handshake_429", "action_rate", "too_many_conversations")
FAULT_KINDS: tuple[str, ...] = ("drop_clean", "drop_abrupt", "stall", "replay_skip", "replay_repeat", "delay")
#: V1-only fault kinds, listed (at 0) in /metrics when the server speaks V1.
V1_FAULT_KINDS: tuple[str, ...] = ("snapshot_drop", "replay_interleave")


@dataclass
class Metrics:
    connections_total: int = 0
    disconnects_total: int = 0
    connect_refused_total: int = 0
    conversations_created_total: int = 0
    events_stored_total: int = 0
    events_emitted_total: int = 0  # live emits to a room (one per event)
    event_deliveries_total: int = 0  # live emits times sockets in the room
    events_replayed_total: int = 0
    actions_received_total: int = 0
    http_requests_total: int = 0
    throttles: Counter[str] = field(default_factory=Counter)
    faults: Counter[str] = field(default_factory=Counter)
    bad_input: Counter[str] = field(default_factory=Counter)
    refusals: Counter[str] = field(default_factory=Counter)
    v1: Counter[str] = field(default_factory=Counter)  # V1 socket-only traffic (stream deltas, server errors)
    gauges: dict[str, Callable[[], float]] = field(default_factory=dict)  # extra gauges read at render time


def _line(out: list[str], name: str, kind: str, help_text: str) -> None:
    out.append(f"# HELP {name} {help_text}")
    out.append(f"# TYPE {name} {kind}")


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def render(m: Metrics, gauges: dict[str, float]) -> str:
    """Prometheus text exposition format 0.0.4. `gauges`: name (without prefix) -> value."""
    out: list[str] = []
    gauges = {**gauges, **{name: read() for name, read in m.gauges.items()}}
    for name, value in sorted(gauges.items()):
        _line(out, f"loadtest_{name}", "gauge", name.replace("_", " "))
        out.append(f"loadtest_{name} {value:g}")
    counters = {
        "connections_total": (m.connections_total, "Socket.IO connections accepted"),
        "disconnects_total": (m.disconnects_total, "Socket.IO disconnections"),
        "connect_refused_total": (m.connect_refused_total, "namespace CONNECT refusals"),
        "conversations_created_total": (m.conversations_created_total, "conversations created"),
        "events_stored_total": (m.events_stored_total, "events stored"),
        "events_emitted_total": (m.events_emitted_total, "events emitted live (once per room)"),
        "event_deliveries_total": (m.event_deliveries_total, "live event deliveries (per socket)"),
        "events_replayed_total": (m.events_replayed_total, "events sent by replays"),
        "actions_received_total": (m.actions_received_total, "oh_user_action/oh_action frames received"),
        "http_requests_total": (m.http_requests_total, "REST requests"),
    }
    for name, (value, help_text) in counters.items():
        _line(out, f"loadtest_{name}", "counter", help_text)
        out.append(f"loadtest_{name} {value}")
    labelled: list[tuple[str, Counter[str], tuple[str, ...], str]] = [
        ("throttles_total", m.throttles, THROTTLE_KINDS, "throttles applied, by kind"),
        ("faults_total", m.faults, FAULT_KINDS, "faults injected, by kind"),
        ("bad_input_total", m.bad_input, (), "bad client input, by kind"),
        ("refusals_total", m.refusals, (), "namespace CONNECT refusals, by kind"),
    ]
    if m.v1:  # only when V1 is served (its kinds are listed at 0 then), so V0's page is unchanged
        labelled.append(("v1_total", m.v1, (), "V1 socket-only frames sent, by kind"))
    for name, counter, always, help_text in labelled:
        _line(out, f"loadtest_{name}", "counter", help_text)
        for kind in sorted(set(always) | set(counter)):
            out.append(f'loadtest_{name}{{kind="{_escape(kind)}"}} {counter.get(kind, 0)}')
    return "\n".join(out) + "\n"
