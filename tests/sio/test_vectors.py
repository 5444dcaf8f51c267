"""The codec against frames captured from python-socketio and Node's socket.io parsers (tests/data/README.md)."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from loadtest.sio import packets as P
from loadtest.sio.errors import ProtocolError
from tests.sio.encoders import encode_frames, encode_payload

DATA = Path(__file__).resolve().parents[1] / "data"
SOURCES = ("vectors_pysio.json", "vectors_node.json")
EIO_TYPES = ["open", "close", "ping", "pong", "message", "upgrade", "noop"]
CASES = json.loads((DATA / "cases.json").read_text())


def _load(name: str) -> dict[str, Any]:
    return json.loads((DATA / name).read_text())


def _revive(value: Any) -> Any:
    if isinstance(value, list):
        return [_revive(v) for v in value]
    if isinstance(value, dict):
        if list(value) == ["$bytes"]:
            return base64.b64decode(value["$bytes"])
        return {k: _revive(v) for k, v in value.items()}
    return value


def _frames(vector: dict[str, Any]) -> list[str | bytes]:
    return [f["text"] if "text" in f else base64.b64decode(f["binary"]) for f in vector["frames"]]


def _decode_frames(frames: list[str | bytes]) -> P.SioPacket:
    first = P.decode_text_frame(str(frames[0]).encode())
    assert isinstance(first, P.SioPacket)
    if first.attachments:
        first = P.attach_binary(first, [bytes(f) for f in frames[1:]])  # type: ignore[arg-type]
    return first


def _params(section: str) -> list[Any]:
    return [
        pytest.param(src, v, id=f"{src.split('_')[1][:-5]}-{v['name']}") for src in SOURCES for v in _load(src)[section]
    ]


def test_vectors_cover_every_case() -> None:
    for src in SOURCES:
        data = _load(src)
        assert [v["name"] for v in data["sio"]] == [c["name"] for c in CASES["sio"]]
        assert data["captured_by"].startswith("tests/data/capture_")


@pytest.mark.parametrize(("source", "vector"), _params("sio"))
def test_sio_vector_decodes_like_the_library(source: str, vector: dict[str, Any]) -> None:
    packet = _decode_frames(_frames(vector))
    expected = vector["decoded"]
    assert packet.type in (expected["type"], expected["type"] + 3)  # Node reports binary packets as plain
    assert packet.namespace == expected["nsp"]
    assert packet.id == expected.get("id")
    assert packet.data == _revive(expected.get("data"))


@pytest.mark.parametrize(("source", "vector"), _params("sio"))
def test_sio_vector_encodes_like_the_library(source: str, vector: dict[str, Any]) -> None:
    spec = next(c for c in CASES["sio"] if c["name"] == vector["name"])
    ours = encode_frames(P.SioPacket(spec["type"], spec["nsp"], _revive(spec.get("data")), spec.get("id")))
    theirs = _frames(vector)
    assert [type(f) for f in ours] == [type(f) for f in theirs]
    assert ours[1:] == theirs[1:]
    if source == "vectors_node.json" or str(ours[0]).isascii():
        assert ours[0] == theirs[0]  # byte for byte (python-socketio escapes non-ASCII, Node does not)
    else:
        assert _decode_frames(ours).data == _decode_frames(theirs).data


@pytest.mark.parametrize(("source", "vector"), _params("eio"))
def test_eio_vector_round_trips(source: str, vector: dict[str, Any]) -> None:
    (frame,) = _frames(vector)
    packet = P.decode_eio(frame)
    assert EIO_TYPES[packet.type] == vector["decoded"]["type"]
    if packet.type == P.OPEN:
        info = P.decode_open(packet.data)
        assert (info.ping_interval, info.ping_timeout) == (25.0, 20.0)
    elif isinstance(packet.data, bytes):
        assert packet.data == _revive(vector["decoded"]["data"])
    else:
        assert packet.data == (vector["decoded"]["data"] or "")
    assert P.encode_eio(packet) == frame


@pytest.mark.parametrize(("source", "vector"), _params("payloads"))
def test_payload_vector_round_trips(source: str, vector: dict[str, Any]) -> None:
    packets = P.decode_payload(vector["payload"])
    assert [EIO_TYPES[p.type] for p in packets] == [d["type"] for d in vector["decoded"]]
    assert [p.data or None for p in packets] == [_revive(d["data"]) or None for d in vector["decoded"]]
    assert encode_payload(packets) == vector["payload"]


@pytest.mark.parametrize("source", SOURCES)
def test_we_reject_every_hostile_frame_the_libraries_reject(source: str) -> None:
    for item in _load(source)["hostile"]:
        with pytest.raises(ProtocolError):
            P.decode_sio(item["text"])
