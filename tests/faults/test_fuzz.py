"""Fuzzing in the suite: the codec and the classifier never fail other than with `ProtocolError`.

A smaller count than ``benchmarks/fuzz.py`` (which runs ≥ 1,000,000 inputs): 30,000 seeded mutations of
captured frames and generated payloads, plus hypothesis-generated frames and JSON values. Found so far:
`classify` raised ``TypeError`` for a non-string ``action`` or ``observation`` (unhashable), which would have
made the reader count a handler error and lose the event; now such events are ``OTHER_*``.
"""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loadtest.openhands.events import EventKind, classify
from tests.support.procs import ROOT

pytestmark = pytest.mark.slow  # 30,000 mutations and 3,000 hypothesis examples: 25 s on a busy 2-core machine


def _fuzz() -> ModuleType:
    spec = importlib.util.spec_from_file_location("loadtest_bench_fuzz", ROOT / "benchmarks" / "fuzz.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


FUZZ = _fuzz()
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(FUZZ._JSON_KEYS), inner, max_size=6),
    max_leaves=12,
)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_mutated_frames_and_payloads(seed: int) -> None:
    assert FUZZ.run_mutate(10_000, seed) == 10_000


@settings(max_examples=1500, deadline=None, database=None)
@given(st.binary(max_size=300) | st.sampled_from(FUZZ.corpus()))
def test_hypothesis_frames(frame: bytes) -> None:
    FUZZ.check_frame(frame)


@settings(max_examples=1500, deadline=None, database=None)
@given(_JSON)
def test_hypothesis_payloads(payload: Any) -> None:
    FUZZ.check_classify(payload)


def test_unhashable_action_is_other_not_a_crash() -> None:
    assert classify({"id": 3, "action": ["run"]}).kind is EventKind.OTHER_ACTION
    assert classify({"id": 3, "observation": {"x": 1}}).kind is EventKind.OTHER_OBSERVATION
