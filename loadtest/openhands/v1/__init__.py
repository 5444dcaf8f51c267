"""OpenHands V1 (agent server, plain WebSocket): the client protocol's pure core.

`events` classifies events and session envelopes, `turns` times turns, `integrity` tracks ids (UUIDs on the
events socket, seqs on the session socket), `resume` builds resume queries, `wire` builds frames and bodies
and redacts secrets. Protocol notes: ``../shared/openhands-v1.md``. Nothing here does I/O.
"""

from __future__ import annotations
