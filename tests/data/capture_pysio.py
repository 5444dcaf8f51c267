"""Capture codec vectors from python-socketio / python-engineio (the libraries OpenHands' server runs on).

Usage::

    .venv/bin/python tests/data/capture_pysio.py > tests/data/vectors_pysio.json

For every spec in cases.json it records the frames the library encodes (text frames with the Engine.IO
MESSAGE prefix "4", binary attachments as base64 under "binary") and what the library decodes from those
frames; for every hostile string whether the library's decoder rejects it (raises).
"""

from __future__ import annotations

import base64
import json
import sys
from importlib.metadata import version
from pathlib import Path
from typing import Any

from engineio import packet as eio_packet
from engineio import payload as eio_payload
from socketio import packet as sio_packet

HERE = Path(__file__).resolve().parent
EIO_TYPES = {name: i for i, name in enumerate(["open", "close", "ping", "pong", "message", "upgrade", "noop"])}


def revive(value: Any) -> Any:
    if isinstance(value, list):
        return [revive(v) for v in value]
    if isinstance(value, dict):
        if list(value) == ["$bytes"]:
            return base64.b64decode(value["$bytes"])
        return {k: revive(v) for k, v in value.items()}
    return value


def plain(value: Any) -> Any:
    if isinstance(value, bytes | bytearray):
        return {"$bytes": base64.b64encode(value).decode()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    return value


def frame(item: str | bytes) -> dict[str, str]:
    if isinstance(item, str):
        return {"text": item}
    return {"binary": base64.b64encode(item).decode()}


def decode_sio(frames: list[dict[str, str]]) -> dict[str, Any]:
    pkt = sio_packet.Packet(encoded_packet=frames[0]["text"][1:])
    for f in frames[1:]:
        pkt.add_attachment(base64.b64decode(f["binary"]))
    out: dict[str, Any] = {"type": pkt.packet_type, "nsp": pkt.namespace or "/"}
    if pkt.data is not None:
        out["data"] = plain(pkt.data)
    if pkt.id is not None:
        out["id"] = pkt.id
    return out


def capture_sio(spec: dict[str, Any]) -> dict[str, Any]:
    nsp = spec["nsp"]
    pkt = sio_packet.Packet(
        packet_type=spec["type"],
        data=revive(spec["data"]) if "data" in spec else None,
        namespace=nsp,
        id=spec.get("id"),
    )
    encoded = pkt.encode()
    items = encoded if isinstance(encoded, list) else [encoded]
    frames = [frame("4" + items[0]), *(frame(b) for b in items[1:])]
    return {"name": spec["name"], "frames": frames, "decoded": decode_sio(frames)}


def capture_eio(spec: dict[str, Any]) -> dict[str, Any]:
    data = spec.get("data")
    if spec["type"] != "open":
        data = revive(data)
    pkt = eio_packet.Packet(EIO_TYPES[spec["type"]], data)
    encoded = pkt.encode()
    back = eio_packet.Packet(encoded_packet=encoded)
    back_data = back.data
    return {
        "name": spec["name"],
        "frames": [frame(encoded)],
        "decoded": {"type": list(EIO_TYPES)[back.packet_type], "data": plain(back_data)},
    }


def capture_payload(spec: dict[str, Any]) -> dict[str, Any]:
    packets = [eio_packet.Packet(EIO_TYPES[p["type"]], revive(p.get("data"))) for p in spec["packets"]]
    encoded = eio_payload.Payload(packets=packets).encode()
    back = eio_payload.Payload(encoded_payload=encoded).packets
    return {
        "name": spec["name"],
        "payload": encoded,
        "decoded": [{"type": list(EIO_TYPES)[p.packet_type], "data": plain(p.data)} for p in back],
    }


def rejects(text: str) -> bool:
    try:
        sio_packet.Packet(encoded_packet=text)
    except Exception:
        return True
    return False


def main() -> None:
    cases = json.loads((HERE / "cases.json").read_text())
    out = {
        "captured_by": "tests/data/capture_pysio.py",
        "how": ".venv/bin/python tests/data/capture_pysio.py > tests/data/vectors_pysio.json",
        "python": sys.version.split()[0],
        "versions": {name: version(name) for name in ("python-socketio", "python-engineio")},
        "sio": [capture_sio(spec) for spec in cases["sio"]],
        "eio": [capture_eio(spec) for spec in cases["eio"]],
        "payloads": [capture_payload(spec) for spec in cases["payloads"]],
        "hostile": [{"text": t, "rejected": rejects(t)} for t in cases["hostile_sio"]],
    }
    json.dump(out, sys.stdout, indent=1, ensure_ascii=False)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
