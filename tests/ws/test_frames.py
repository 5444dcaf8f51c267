"""The pure frame layer: the parser on plain bytes (no sockets), masking, close payloads."""

from __future__ import annotations

import contextlib
import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loadtest.ws.deflate import Inflater
from loadtest.ws.errors import ProtocolError
from loadtest.ws.frames import OP_CLOSE, OP_PING, FrameParser, close_payload, mask_frame, mask_key, parse_close
from tests.ws.fake_ws import frame


class Sink:
    """Collects what a parser delivers; `feed` plays the reader's loop (keep the rest, wait for `need` bytes)."""

    def __init__(self, max_bytes: int = 1 << 20, inflater: Inflater | None = None) -> None:
        self.messages: list[tuple[bool, bytes, float]] = []
        self.controls: list[tuple[int, bytes]] = []
        self.parser = FrameParser(self._message, self._control, max_bytes, inflater)
        self._buf = b""

    def _message(self, text: bool, payload: bytes, at: float) -> None:
        self.messages.append((text, payload, at))

    def _control(self, opcode: int, payload: bytes) -> None:
        self.controls.append((opcode, payload))

    def feed(self, data: bytes, now: float = 0.0) -> None:
        self._buf += data
        pos, _need = self.parser.feed(self._buf, now)
        self._buf = self._buf[pos:]


_messages = st.lists(
    st.tuples(st.booleans(), st.binary(max_size=300), st.integers(min_value=1, max_value=3)),
    min_size=1,
    max_size=8,
)


def _stream(messages: list[tuple[bool, bytes, int]], big: bytes) -> tuple[bytes, list[tuple[bool, bytes]]]:
    """Server frames for the messages (some fragmented, a ping in between), and what the parser must deliver."""
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


@settings(max_examples=150, deadline=None)
@given(
    _messages, st.lists(st.integers(min_value=1, max_value=4000), min_size=1, max_size=20), st.binary(max_size=70_000)
)
def test_any_split_of_the_stream_gives_the_same_messages(
    messages: list[tuple[bool, bytes, int]], cuts: list[int], big: bytes
) -> None:
    stream, expected = _stream(messages, big)
    sink = Sink()
    pos = i = 0
    while pos < len(stream):
        n = cuts[i % len(cuts)]
        sink.feed(stream[pos : pos + n], now=float(i))
        pos += n
        i += 1
    assert [(t, p) for t, p, _ in sink.messages] == expected
    assert all(c == (OP_PING, b"p") for c in sink.controls)
    stamps = [at for _, _, at in sink.messages]
    assert stamps == sorted(stamps)  # each message carries the stamp of the read that completed it


def test_a_message_is_stamped_with_the_read_that_completed_it() -> None:
    sink = Sink()
    data = frame(0x1, "hello") + frame(0x1, "world")
    sink.feed(data[:9], now=1.0)  # the first frame whole, 2 bytes of the second
    sink.feed(data[9:], now=2.0)
    assert [(p, at) for _, p, at in sink.messages] == [(b"hello", 1.0), (b"world", 2.0)]


def test_a_close_frame_stops_the_parser_and_nothing_after_it_is_delivered() -> None:
    sink = Sink()
    sink.feed(frame(0x1, "a") + frame(0x8, close_payload(1013, "busy")) + frame(0x1, "late"))
    assert [p for _, p, _ in sink.messages] == [b"a"]
    assert sink.controls == [(OP_CLOSE, b"\x03\xf5busy")] and sink.parser.stopped


def test_a_stopped_parser_delivers_nothing_more_from_the_same_read() -> None:
    sink = Sink()

    def stop_after_one(text: bool, payload: bytes, at: float) -> None:  # as a handler that closes the connection
        sink.messages.append((text, payload, at))
        sink.parser.stopped = True

    sink.parser.on_message = stop_after_one
    sink.feed(frame(0x1, "a") + frame(0x1, "b"))
    assert [p for _, p, _ in sink.messages] == [b"a"]


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (frame(0x1, "x", masked=True), "bad_ws_frame"),  # a server must not mask
        (bytes([0x80 | 0x40 | 0x1, 1]) + b"x", "bad_ws_frame"),  # RSV1 without negotiated deflate
        (bytes([0x80 | 0x20 | 0x1, 1]) + b"x", "bad_ws_frame"),  # RSV2
        (frame(0x3, b""), "bad_ws_opcode"),
        (frame(0x0, "orphan"), "bad_ws_fragment"),
        (frame(0x1, "a", fin=False) + frame(0x1, "b"), "bad_ws_fragment"),
        (frame(0x1, "z" * 101), "frame_too_large"),
        (frame(0x1, "z" * 60, fin=False) + frame(0x0, "z" * 60), "frame_too_large"),
        (frame(0x8, b"\x03"), "bad_ws_close"),
    ],
)
def test_protocol_errors_name_the_fault(data: bytes, kind: str) -> None:
    sink = Sink(max_bytes=100)

    def control(opcode: int, payload: bytes) -> None:  # as the connection does: a close frame is parsed
        if opcode == OP_CLOSE:
            parse_close(payload)

    sink.parser.on_control = control
    with pytest.raises(ProtocolError) as err:
        sink.feed(data)
    assert err.value.kind == kind and repr(err.value) == f"ProtocolError({kind!r})"


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300), st.booleans())
def test_arbitrary_bytes_parse_or_fail_cleanly(data: bytes, deflate: bool) -> None:
    sink = Sink(max_bytes=100, inflater=Inflater(100) if deflate else None)

    def control(opcode: int, payload: bytes) -> None:
        if opcode == OP_CLOSE:
            parse_close(payload)

    sink.parser.on_control = control
    with contextlib.suppress(ProtocolError):  # anything else escaping is a bug
        sink.feed(data)
    assert all(len(p) <= 100 for _, p, _ in sink.messages)


def test_deflated_messages_are_inflated_and_bounded() -> None:
    import zlib

    def deflated(text: str) -> bytes:
        z = zlib.compressobj(6, zlib.DEFLATED, -15)
        return (z.compress(text.encode()) + z.flush(zlib.Z_SYNC_FLUSH))[:-4]

    sink = Sink(max_bytes=1000, inflater=Inflater(1000))
    sink.feed(bytes([0xC1, len(deflated("hi" * 50))]) + deflated("hi" * 50) + frame(0x1, "plain"))
    assert [p for _, p, _ in sink.messages] == [b"hi" * 50, b"plain"]
    with pytest.raises(ProtocolError) as err:
        Sink(max_bytes=1000, inflater=Inflater(1000)).feed(bytes([0xC1, 7]) + deflated("y" * 5000)[:7])
    assert err.value.kind in ("frame_too_large", "bad_deflate")


def test_close_payloads_both_ways() -> None:
    assert close_payload(1000) == b"\x03\xe8"
    assert close_payload(4001, "Authentication failed") == b"\x0f\xa1Authentication failed"
    assert len(close_payload(3000, "é" * 100)) <= 125  # cut to fit, never inside a character
    close_payload(3000, "é" * 100)[2:].decode("utf-8")
    for bad in (999, 1005, 1006, 5000):
        with pytest.raises(ValueError):
            close_payload(bad)
    assert parse_close(b"") == (1005, "")
    assert parse_close(b"\x03\xf5Too many connections") == (1013, "Too many connections")


def test_masking_keys_are_fresh_for_every_frame() -> None:
    keys = [mask_key() for _ in range(3000)]  # crosses two refills of the pool
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # a forked child (Locust's --processes) draws keys of its own, not the rest of the parent's pool
        os.write(write, mask_key())
        os._exit(0)
    os.waitpid(pid, 0)
    child_key, own_key = os.read(read, 4), mask_key()
    os.close(read)
    os.close(write)
    assert child_key != own_key
    assert all(len(k) == 4 for k in keys) and len(set(keys)) > 2990
    frame_bytes = mask_frame(0x1, b"hello world")
    key, masked = frame_bytes[2:6], frame_bytes[6:]
    assert bytes(b ^ key[i % 4] for i, b in enumerate(masked)) == b"hello world"
