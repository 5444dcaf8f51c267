"""The codec on hand-written frames: each packet type, binary attachments, and the caps on hostile input."""

from __future__ import annotations

import json

import pytest

from loadtest.sio import packets as P
from loadtest.sio.errors import ProtocolError
from tests.sio.encoders import encode_frames, encode_payload, encode_sio


def test_decode_eio_types_and_binary() -> None:
    assert P.decode_eio("2") == P.EioPacket(P.PING, "")
    assert P.decode_eio("3probe") == P.EioPacket(P.PONG, "probe")
    assert P.decode_eio("6") == P.EioPacket(P.NOOP, "")
    assert P.decode_eio(b"\x00\x01") == P.EioPacket(P.MESSAGE, b"\x00\x01")
    with pytest.raises(ProtocolError) as err:
        P.decode_eio("9oops")
    assert err.value.kind == "bad_eio_type" and "9oops" in str(err.value)
    with pytest.raises(ProtocolError):
        P.decode_eio("")


def test_encode_eio_round_trip() -> None:
    for packet in (P.EioPacket(P.PING), P.EioPacket(P.PONG, "probe"), P.EioPacket(P.MESSAGE, "2[]")):
        frame = P.encode_eio(packet)
        assert P.decode_eio(frame) == packet
    assert P.encode_eio(P.EioPacket(P.MESSAGE, b"\xff")) == b"\xff"
    with pytest.raises(ValueError):
        P.encode_eio(P.EioPacket(P.PING, b"\xff"))


def test_decode_open() -> None:
    info = P.decode_open('{"sid":"abc","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":4194304}')
    assert info == P.OpenInfo("abc", (), 25.0, 20.0, 4194304)
    for bad in (
        '{"sid":"abc"}',
        "[]",
        '{"sid":1,"pingInterval":1,"pingTimeout":1}',
        "nope",
        '{"sid":"a","pingInterval":1,"pingTimeout":0}',
        '{"sid":"a","pingInterval":true,"pingTimeout":1}',
    ):
        with pytest.raises(ProtocolError) as err:
            P.decode_open(bad)
        assert err.value.kind == "bad_open"


def test_decode_sio_fields() -> None:
    assert P.decode_sio("0") == P.SioPacket(P.CONNECT)
    assert P.decode_sio('0/admin,{"token":"x"}') == P.SioPacket(P.CONNECT, "/admin", {"token": "x"})
    assert P.decode_sio('2["oh_event",{"id":1}]') == P.SioPacket(P.EVENT, "/", ["oh_event", {"id": 1}])
    assert P.decode_sio('2/admin,7["x"]') == P.SioPacket(P.EVENT, "/admin", ["x"], 7)
    assert P.decode_sio("312[]") == P.SioPacket(P.ACK, "/", [], 12)
    assert P.decode_sio("1/admin") == P.SioPacket(P.DISCONNECT, "/admin")
    assert P.decode_sio(b'4{"message":"no"}') == P.SioPacket(P.CONNECT_ERROR, "/", {"message": "no"})
    packet = P.decode_sio('52-["up",{"_placeholder":true,"num":1},{"_placeholder":true,"num":0}]')
    assert packet.attachments == 2 and packet.type == P.BINARY_EVENT
    whole = P.attach_binary(packet, [b"a", b"b"])
    assert whole.data == ["up", b"b", b"a"]


def test_decode_text_frame_unwraps_message() -> None:
    assert P.decode_text_frame(b'42["x",1]') == P.SioPacket(P.EVENT, "/", ["x", 1])
    assert P.decode_text_frame(b"2") == P.EioPacket(P.PING, "")
    assert P.decode_text_frame(b'0{"sid":"s"}') == P.EioPacket(P.OPEN, '{"sid":"s"}')
    for bad, kind in ((b"", "empty"), (b"x", "bad_eio_type"), (b"2\xff", "bad_utf8"), (b"4", "empty")):
        with pytest.raises(ProtocolError) as err:
            P.decode_text_frame(bad)
        assert err.value.kind == kind


def test_encode_sio_plain_and_binary() -> None:
    assert encode_sio(P.SioPacket(P.CONNECT)) == ["0"]
    assert encode_sio(P.SioPacket(P.CONNECT, "/admin", {"t": 1})) == ['0/admin,{"t":1}']
    assert encode_sio(P.SioPacket(P.EVENT, "/", ["e", "é"], 3)) == ['23["e","é"]']
    assert encode_frames(P.SioPacket(P.ACK, "/", [], 4)) == ["434[]"]
    text, *bins = encode_sio(P.SioPacket(P.EVENT, "/", ["up", {"a": b"\x00", "b": [b"\x01"]}], 9))
    assert text == '51-9["up",{"a":{"_placeholder":true,"num":0},"b":[{"_placeholder":true,"num":1}]}]'.replace(
        "51-", "52-"
    )
    assert bins == [b"\x00", b"\x01"]
    frame, binaries = P.encode_message_utf8(P.SioPacket(P.ACK, "/", [b"z"], 1))
    assert frame == b'461-1[{"_placeholder":true,"num":0}]' and binaries == [b"z"]
    # a binary type without binary data goes out as the plain type
    assert encode_sio(P.SioPacket(P.BINARY_EVENT, "/", ["x"])) == ['2["x"]']
    with pytest.raises(TypeError):
        encode_sio(P.SioPacket(P.EVENT, "/", ["x", {1, 2}]))
    with pytest.raises(ValueError):
        encode_sio(P.SioPacket(P.CONNECT, "/", {"blob": b"x"}))


def test_payload_round_trip_and_cap() -> None:
    packets = [P.EioPacket(P.MESSAGE, "a"), P.EioPacket(P.PING), P.EioPacket(P.MESSAGE, b"\x01\x02")]
    payload = encode_payload(packets)
    assert payload == "4a\x1e2\x1ebAQI="
    assert P.decode_payload(payload) == packets
    with pytest.raises(ProtocolError) as err:
        P.decode_payload("\x1e".join(["2"] * (P.MAX_PAYLOAD_PACKETS + 1)))
    assert err.value.kind == "too_many_packets"
    assert len(P.decode_payload("\x1e".join(["2"] * P.MAX_PAYLOAD_PACKETS))) == P.MAX_PAYLOAD_PACKETS
    with pytest.raises(ProtocolError) as err:
        P.decode_payload("b!!!")
    assert err.value.kind == "bad_base64"


@pytest.mark.parametrize(
    ("frame", "kind"),
    [
        ("5" + str(P.MAX_ATTACHMENTS + 1) + '-["x"]', "too_many_attachments"),
        ('51234-["x"]', "bad_attachments"),
        ("2" + "1" * (P.MAX_ACK_ID_DIGITS + 1) + '["x"]', "ack_id_too_long"),
        ("2/" + "n" * (P.MAX_NAMESPACE_CHARS + 1), "namespace_too_long"),
        ('2["x"', "bad_json"),
        ('2["x",NaN]', "bad_json"),
        ("2[" + "[" * 100_000, "bad_json"),
        ("2{}", "bad_payload"),
        ("2[1]", "bad_payload"),
        ("3[]", "bad_payload"),
        ("0[]", "bad_payload"),
        ("1{}", "bad_payload"),
        ("9", "bad_sio_type"),
    ],
)
def test_hostile_input_is_capped(frame: str, kind: str) -> None:
    with pytest.raises(ProtocolError) as err:
        P.decode_sio(frame)
    assert err.value.kind == kind
    assert repr(err.value) == f"ProtocolError({kind!r})"
    assert len(err.value.prefix) <= 40


def test_huge_integers_cost_linear_time_in_both_json_backends() -> None:
    def frame(digits: int) -> str:
        return "2" + json.dumps(["x"])[:-1] + "," + "9" * digits + "]"

    with pytest.raises(ProtocolError):  # both backends: refused
        P.decode_sio(frame(5000))
    if P.JSON_BACKEND == "orjson":  # beyond 64 bits orjson reads a float (no quadratic int parsing)
        assert isinstance(P.decode_sio(frame(P.MAX_INT_DIGITS + 1)).data[1], float)
    else:
        with pytest.raises(ProtocolError):
            P.decode_sio(frame(P.MAX_INT_DIGITS + 1))
    with pytest.raises(ValueError):
        P._std_loads(b"[" + b"9" * (P.MAX_INT_DIGITS + 1) + b"]")
    assert P._std_loads(b"[" + b"9" * P.MAX_INT_DIGITS + b"]") == [int("9" * P.MAX_INT_DIGITS)]
    with pytest.raises(ValueError):
        P._std_loads(b"[NaN]")
    assert P._std_dumps({"é": [1, None]}) == '{"é":[1,null]}'.encode()


def test_frame_size_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(P, "MAX_FRAME_BYTES", 64)
    with pytest.raises(ProtocolError) as err:
        P.decode_text_frame(b'42["x","' + b"a" * 100 + b'"]')
    assert err.value.kind == "frame_too_large"
    with pytest.raises(ProtocolError):
        P.decode_eio(b"\x00" * 65)


def test_attach_binary_faults() -> None:
    packet = P.decode_sio('51-["up",{"_placeholder":true,"num":3}]')
    with pytest.raises(ProtocolError) as err:
        P.attach_binary(packet, [b"a"])
    assert err.value.kind == "bad_placeholder"
    with pytest.raises(ProtocolError) as err:
        P.attach_binary(packet, [])
    assert err.value.kind == "attachment_count"


def test_connect_error_fields() -> None:
    assert P.connect_error_fields({"message": "no", "data": {"c": 1}}) == ("no", {"c": 1})
    assert P.connect_error_fields({"message": "no"}) == ("no", None)
    assert P.connect_error_fields("legacy") == ("legacy", None)


def test_values_are_frozen() -> None:
    packet = P.SioPacket(P.EVENT, "/", ["x"])
    with pytest.raises(AttributeError):
        packet.type = P.ACK  # type: ignore[misc]
