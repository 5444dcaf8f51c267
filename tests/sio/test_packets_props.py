"""Property tests: arbitrary input decodes to a packet or a ProtocolError, never another exception; round trips."""

from __future__ import annotations

import contextlib
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from loadtest.sio import packets as P
from loadtest.sio.errors import ProtocolError
from tests.sio.encoders import encode_frames

_prefixes = st.sampled_from(["", "0", "1", "2", "3", "4", "40", "42", "43", "44", "45", "46", "451-", "2/a,", "4/x,1"])
_text = st.one_of(st.text(max_size=200), st.builds(lambda p, t: p + t, _prefixes, st.text(max_size=200)))
_bytes = st.one_of(st.binary(max_size=200), st.builds(lambda p, b: p.encode() + b, _prefixes, st.binary(max_size=200)))


def _packet_or_error(fn: Any, arg: Any) -> None:
    try:
        result = fn(arg)
    except ProtocolError:
        return
    assert result is not None


@settings(max_examples=600, deadline=None)
@given(_text)
def test_arbitrary_text_decodes_or_fails_cleanly(text: str) -> None:
    _packet_or_error(P.decode_sio, text)
    _packet_or_error(P.decode_eio, text)
    _packet_or_error(P.decode_open, text)
    _packet_or_error(P.decode_payload, text)


@settings(max_examples=600, deadline=None)
@given(_bytes)
def test_arbitrary_bytes_decode_or_fail_cleanly(data: bytes) -> None:
    _packet_or_error(P.decode_text_frame, data)
    _packet_or_error(P.decode_sio, data)
    _packet_or_error(P.decode_eio, data)


@settings(max_examples=300, deadline=None)
@given(_bytes, st.lists(st.binary(max_size=8), max_size=3))
def test_arbitrary_binary_packets_attach_or_fail_cleanly(data: bytes, buffers: list[bytes]) -> None:
    try:
        packet = P.decode_sio(data)
    except ProtocolError:
        return
    with contextlib.suppress(ProtocolError):
        P.attach_binary(packet, buffers)


_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53), max_value=2**53)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
    | st.binary(max_size=8),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)
_namespaces = st.sampled_from(["/", "/admin", "/a-b_c"])
_ids = st.none() | st.integers(min_value=0, max_value=10**12)


@settings(max_examples=300, deadline=None)
@given(st.text(min_size=1, max_size=10), st.lists(_json, max_size=4), _namespaces, _ids)
def test_event_round_trip(event: str, args: list[Any], namespace: str, ack_id: int | None) -> None:
    frames = encode_frames(P.SioPacket(P.EVENT, namespace, [event, *args], ack_id))
    packet = P.decode_text_frame(str(frames[0]).encode())
    assert isinstance(packet, P.SioPacket)
    if packet.attachments:
        packet = P.attach_binary(packet, [bytes(b) for b in frames[1:]])  # type: ignore[arg-type]
    assert (packet.namespace, packet.id, packet.data) == (namespace, ack_id, [event, *args])
    assert packet.type == (P.BINARY_EVENT if len(frames) > 1 else P.EVENT)
