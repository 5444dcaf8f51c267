"""The workload profiles of `loadtest bench`: which users, shape, options and server settings each runs; and
what the embedded reference server and the harness need for each ``--api``."""

from __future__ import annotations

import json
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Profile:
    name: str
    description: str
    user_class: str
    users: int
    spawn_rate: float
    run_time_s: float
    locust_options: tuple[str, ...] = ()
    server_options: tuple[str, ...] = field(default=())

    @property
    def locust_args(self) -> list[str]:
        """Locust arguments that select the profile's options and user class."""
        return [*self.locust_options, self.user_class]


PROFILES: dict[str, Profile] = {
    p.name: p
    for p in (
        Profile(
            "chat",
            "send a message, wait for the agent's turn to end, think, repeat",
            "ChatUser",
            users=20,
            spawn_rate=10,
            run_time_s=30,
            locust_options=("--think-time", "1s"),
            server_options=("--event-delay-ms", "50"),
        ),
        Profile(
            "paced",
            "send on a fixed pace whatever the agent does (coordinated-omission aware)",
            "PacedUser",
            users=20,
            spawn_rate=10,
            run_time_s=30,
            locust_options=("--action-pace", "2s"),
            server_options=("--event-delay-ms", "20"),
        ),
        Profile(
            "reconnect",
            "chat, dropping the socket on a schedule and resuming from the max event id",
            "ReconnectUser",
            users=20,
            spawn_rate=10,
            run_time_s=30,
            locust_options=("--reconnect-every", "5s"),
            server_options=("--event-delay-ms", "20"),
        ),
        Profile(
            "idle",
            "hold conversations open without sending (connection capacity)",
            "IdleUser",
            users=200,
            spawn_rate=50,
            run_time_s=30,
        ),
        Profile(
            "capacity",
            "add conversations step by step until an SLO breaks",
            "ChatUser",
            users=200,
            spawn_rate=20,
            run_time_s=120,
            locust_options=("--shape", "capacity", "--shape-steps", "10,20,40,80,160", "--step-duration", "20s"),
            server_options=("--event-delay-ms", "50"),
        ),
        Profile(
            "throttle",
            "raise the offered action rate until the server throttles",
            "PacedUser",
            users=20,
            spawn_rate=20,
            run_time_s=60,
            locust_options=("--shape", "throttle", "--shape-steps", "5,10,20,40,80", "--step-duration", "10s"),
            server_options=("--event-delay-ms", "10", "--action-rate", "2"),
        ),
    )
}


@dataclass(frozen=True)
class Embedded:
    """How `loadtest bench` runs the embedded reference server for one ``--api`` value.

    Attributes:
        server_options: options of `loadtest serve` (the API it speaks, its limits).
        harness_env: Locust environment variables bench adds when the user gave none of them (secrets travel
            there): a V1 conversation is created with agent settings, and the reference server's scripted
            agent needs only a model name.
    """

    server_options: tuple[str, ...]
    harness_env: dict[str, str] = field(default_factory=dict)


_REFERENCE_AGENT = {"LOCUST_AGENT_SETTINGS": json.dumps({"agent": {"llm": {"model": "loadtest/reference-agent"}}})}

#: ``--api`` → the embedded server. V1's run cap (10 running conversations on the real server) is lifted as
#: V0's conversation cap is (``EMBEDDED_SERVER_DEFAULTS`` in bench); ``--server-option`` sets them back.
#: ``auto`` runs both APIs on one port: the probe then finds V0 (its Engine.IO answers first).
EMBEDDED: dict[str, Embedded] = {
    "v0": Embedded(("--api", "v0")),
    "v1": Embedded(("--api", "v1", "--max-runs", "0"), _REFERENCE_AGENT),
    "auto": Embedded(("--api", "both", "--max-runs", "0"), _REFERENCE_AGENT),
}
