"""Fuzz the Socket.IO codec (`loadtest.sio.packets`) and the event classifier (`loadtest.openhands.events`).

The contract under test: any input either decodes (codec) or raises `ProtocolError` — never another
exception — and `classify` returns a `Classified` for any JSON value, never raises. Three engines:

- ``mutate`` (default, no dependency): seeded byte-level mutations (flips, inserts, deletes, splices,
  truncations, digit runs, interesting values) of a corpus of real frames (the captured vectors in
  ``tests/data``) plus JSON-shaped payload generation for the classifier. Deterministic for a seed.
- ``atheris``: coverage-guided libFuzzer over the same targets (``pip install atheris``; Python 3.11 wheels).
- ``hypothesis``: property-based generation of frames and payloads.

Usage::

    python benchmarks/fuzz.py                      # 1,000,000 inputs, mutate engine, prints count and time
    python benchmarks/fuzz.py --inputs 200000 --seed 7
    python benchmarks/fuzz.py --engine atheris --inputs 1000000
    python benchmarks/fuzz.py --engine hypothesis --inputs 20000

Exit status 0 when no input broke the contract, 1 otherwise (the first failing input is printed).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from loadtest.openhands.events import Classified, classify  # noqa: E402
from loadtest.sio import packets as P  # noqa: E402
from loadtest.sio.errors import ProtocolError  # noqa: E402

__all__ = ["FuzzFailure", "check_classify", "check_frame", "corpus", "mutate_inputs", "run_mutate"]

_DECODERS_TEXT: tuple[Callable[[Any], Any], ...] = (P.decode_eio, P.decode_sio, P.decode_open, P.decode_payload)
_DECODERS_BYTES: tuple[Callable[[Any], Any], ...] = (P.decode_text_frame, P.decode_eio, P.decode_sio)
_INTERESTING = [
    b"", b"0", b"4", b"42", b"451-", b"-1", b"99999999999999999999999", b"1" * 120, b"\x00", b"\xff\xfe",
    b'["oh_event",', b'{"id":', b"null", b"[]", b"{}", b"/", b",", b'"', b"\\u0000", b"1e999", b"NaN",
    b'{"_placeholder":true,"num":0}', b"\xed\xa0\x80", b"\x1e",
]  # fmt: skip
_JSON_LEAVES: list[Any] = [None, True, False, 0, -1, 1, 2**63, 1.5, float("inf"), "", "x", "message", "run",
                           "agent_state_changed", "user", "agent", "environment", "error", [], {}]  # fmt: skip
_JSON_KEYS = ["id", "action", "observation", "source", "extras", "agent_state", "args", "status_update", "type",
              "error", "conversation_title", "message", "content", "cause", "_placeholder", "num"]  # fmt: skip


class FuzzFailure(AssertionError):
    """An input broke the contract: carries the target's name and the input."""

    def __init__(self, target: str, data: Any, exc: BaseException) -> None:
        self.target = target
        self.data = data
        super().__init__(f"{target}({data!r:.200}) raised {type(exc).__name__}: {exc}")


def check_frame(data: bytes) -> None:
    """Every decoder on `data` (as bytes, and as text when it is UTF-8): a value or `ProtocolError`."""
    for fn in _DECODERS_BYTES:
        try:
            fn(data)
        except ProtocolError:
            pass
        except Exception as exc:
            raise FuzzFailure(fn.__name__, data, exc) from exc
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return
    for fn in _DECODERS_TEXT:
        try:
            fn(text)
        except ProtocolError:
            pass
        except Exception as exc:
            raise FuzzFailure(fn.__name__, text, exc) from exc


def check_classify(payload: Any) -> None:
    try:
        result = classify(payload)
    except Exception as exc:
        raise FuzzFailure("classify", payload, exc) from exc
    if not isinstance(result, Classified):
        raise FuzzFailure("classify", payload, TypeError(f"returned {type(result).__name__}"))


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


def corpus() -> list[bytes]:
    """Real frames: every string of the captured vectors (python-socketio, Node socket.io) plus a few built ones."""
    seeds: set[bytes] = set()
    for name in ("vectors_pysio.json", "vectors_node.json", "cases.json"):
        path = ROOT / "tests" / "data" / name
        if path.exists():
            for s in _strings(json.loads(path.read_text())):
                if 0 < len(s) <= 4096:
                    seeds.add(s.encode("utf-8", "surrogatepass"))
    seeds.update(
        [
            b'0{"sid":"abc","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}',
            b"40", b'40{"sid":"x"}', b'44{"message":"invalid_session_api_key"}', b"2", b"3", b"41",
            b'42["oh_event",{"id":3,"source":"agent","observation":"agent_state_changed",'
            b'"extras":{"agent_state":"awaiting_user_input"}}]',
            b'42["oh_event",{"id":1,"source":"user","action":"message","args":{"content":"hi"}}]',
            b'451-["oh_event",{"_placeholder":true,"num":0}]', b"4312[1]", b"2probe", b"6",
        ]
    )  # fmt: skip
    return sorted(seeds)


def _mutate(rng: random.Random, data: bytes, seeds: list[bytes]) -> bytes:
    buf = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(8)
        pos = rng.randint(0, len(buf))
        if op == 0 and buf:
            buf[rng.randrange(len(buf))] ^= 1 << rng.randrange(8)
        elif op == 1:
            buf[pos:pos] = bytes([rng.randrange(256)])
        elif op == 2 and buf:
            del buf[pos : pos + rng.randint(1, 8)]
        elif op == 3:
            buf[pos:pos] = rng.choice(_INTERESTING)
        elif op == 4:
            other = rng.choice(seeds)
            cut = rng.randint(0, len(other))
            buf = buf[:pos] + other[cut:]
        elif op == 5:
            buf = buf[: rng.randint(0, len(buf))]
        elif op == 6:
            buf[pos:pos] = b"9" * rng.choice((15, 16, 20, 101, 400))
        elif buf:
            buf[rng.randrange(len(buf))] = rng.choice(b'0123456789[]{}",:-/')
    return bytes(buf)


def _json_value(rng: random.Random, depth: int = 0) -> Any:
    if depth > 3 or rng.random() < 0.35:
        return rng.choice(_JSON_LEAVES)
    if rng.random() < 0.7:
        return {rng.choice(_JSON_KEYS): _json_value(rng, depth + 1) for _ in range(rng.randint(0, 6))}
    return [_json_value(rng, depth + 1) for _ in range(rng.randint(0, 4))]


def mutate_inputs(n: int, seed: int = 0) -> Iterator[tuple[str, Any]]:
    """`n` inputs: ``("frame", bytes)`` three times in four, else ``("payload", json value)``."""
    rng = random.Random(seed)
    seeds = corpus()
    for _ in range(n):
        if rng.random() < 0.75:
            yield "frame", _mutate(rng, rng.choice(seeds), seeds)
        else:
            yield "payload", _json_value(rng)


def run_mutate(n: int, seed: int = 0) -> int:
    """Run `n` mutated inputs through the targets; returns how many ran (raises `FuzzFailure` on the first break)."""
    count = 0
    for kind, data in mutate_inputs(n, seed):
        if kind == "frame":
            check_frame(data)
        else:
            check_classify(data)
            check_frame(json.dumps(["oh_event", data], default=str).encode().join((b"42", b"")))
        count += 1
    return count


def _run_atheris(n: int) -> int:
    import atheris  # type: ignore[import-not-found]

    count = 0

    def one(data: bytes) -> None:
        nonlocal count
        count += 1
        check_frame(data)
        fdp = atheris.FuzzedDataProvider(data)
        try:
            value = json.loads(fdp.ConsumeUnicodeNoSurrogates(len(data)))
        except ValueError:
            return
        check_classify(value)

    corpus_dir = Path("/tmp/loadtest-fuzz-corpus")
    corpus_dir.mkdir(exist_ok=True)
    for i, s in enumerate(corpus()):
        (corpus_dir / f"seed{i}").write_bytes(s)
    atheris.instrument_all()  # coverage feedback from the codec and the classifier (already imported)
    atheris.Setup([sys.argv[0], f"-runs={n}", "-max_len=4096", str(corpus_dir)], one)
    with contextlib.suppress(SystemExit):  # libFuzzer prints "Done N runs in S second(s)" and ends the process
        atheris.Fuzz()
    return count


def _run_hypothesis(n: int) -> int:
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    count = 0
    json_values = st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20) | st.sampled_from(_JSON_KEYS),
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(_JSON_KEYS), inner, max_size=6),
        max_leaves=12,
    )

    @settings(max_examples=n, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(st.binary(max_size=300) | st.sampled_from(corpus()), json_values)
    def prop(frame: bytes, payload: Any) -> None:
        nonlocal count
        count += 1
        check_frame(frame)
        check_classify(payload)

    prop()
    return count


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--inputs", type=int, default=1_000_000, help="inputs to run (default 1,000,000)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the mutate engine")
    parser.add_argument("--engine", choices=("mutate", "atheris", "hypothesis"), default="mutate")
    args = parser.parse_args(argv)
    if args.inputs <= 0:
        parser.error(f"--inputs: bad value {args.inputs}; e.g. --inputs 1000000")
    started = time.perf_counter()
    try:
        if args.engine == "atheris":
            count = _run_atheris(args.inputs)
        elif args.engine == "hypothesis":
            count = _run_hypothesis(args.inputs)
        else:
            count = run_mutate(args.inputs, args.seed)
    except FuzzFailure as exc:
        print(f"FAIL after {time.perf_counter() - started:.1f} s: {exc}", file=sys.stderr)
        return 1
    elapsed = time.perf_counter() - started
    print(f"fuzz {args.engine}: {count:,} inputs in {elapsed:.1f} s ({count / elapsed:,.0f}/s), no contract broken")
    return 0


if __name__ == "__main__":
    sys.exit(main())
