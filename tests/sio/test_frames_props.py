"""Property test of the transport's frame reader: any split of a valid frame stream yields the same messages."""

from __future__ import annotations

# isort: split

import gevent
import gevent.socket

from hypothesis import given, settings
from hypothesis import strategies as st

from loadtest.sio.transport import WebSocketTransport
from tests.sio.fake_ws import frame

_messages = st.lists(
    st.tuples(st.booleans(), st.binary(max_size=300), st.integers(min_value=1, max_value=3)),
    min_size=1,
    max_size=8,
)


def _stream(messages: list[tuple[bool, bytes, int]], big: bytes) -> tuple[bytes, list[tuple[bool, bytes]]]:
    """Server frames for the messages (some fragmented, a ping in between), and what the reader must deliver."""
    out = b""
    expected = []
    for is_text, payload, parts in messages:
        data = payload.hex().encode() if is_text else payload
        step = max(1, len(data) // parts)
        pieces = [data[i : i + step] for i in range(0, len(data), step)] or [b""]
        for i, piece in enumerate(pieces):
            opcode = (0x1 if is_text else 0x2) if i == 0 else 0x0
            out += frame(opcode, piece, fin=i == len(pieces) - 1)
            if i == 0 and len(pieces) > 1:
                out += frame(0x9, b"p")  # control frames may sit between fragments
        expected.append((is_text, data))
    out += frame(0x2, big)
    expected.append((False, big))
    return out, expected


@settings(max_examples=60, deadline=None)
@given(
    _messages, st.lists(st.integers(min_value=1, max_value=4000), min_size=1, max_size=20), st.binary(max_size=70_000)
)
def test_any_split_of_the_stream_gives_the_same_messages(
    messages: list[tuple[bool, bytes, int]], cuts: list[int], big: bytes
) -> None:
    stream, expected = _stream(messages, big)
    server, client = gevent.socket.socketpair()
    got: list[tuple[bool, bytes]] = []
    closed: list[str] = []
    transport = WebSocketTransport(client, 1 << 20)
    transport.start(lambda text, payload, at: got.append((text, payload)), lambda reason, err: closed.append(reason))
    pos = 0
    i = 0
    while pos < len(stream):
        n = cuts[i % len(cuts)]
        server.sendall(stream[pos : pos + n])
        pos += n
        i += 1
        gevent.sleep(0)
    with gevent.Timeout(10):
        while len(got) < len(expected):
            gevent.sleep(0.001)
    assert got == expected and closed == []
    server.close()
    with gevent.Timeout(10):
        while not closed:
            gevent.sleep(0.001)
    assert closed == ["transport_close"]
