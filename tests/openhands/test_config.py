"""ConversationConfig validation and redaction; the backoff schedule; audit paging."""

from __future__ import annotations

import random

import pytest

from loadtest.openhands.audit import pages
from loadtest.openhands.config import ConversationConfig, backoff_delay
from loadtest.openhands.rest import RestClient, parse_retry_after


def test_key_never_in_repr() -> None:
    cfg = ConversationConfig("http://127.0.0.1:1", session_api_key="s3cret-key")
    assert "s3cret" not in repr(cfg) and "<redacted>" in repr(cfg)
    rest = RestClient("http://127.0.0.1:1", session_api_key="s3cret-key")
    assert "s3cret" not in repr(rest)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"key_via": "body"},
        {"session_api_key": ""},
        {"connect_timeout": 0},
        {"turn_timeout": float("nan")},
        {"providers": "github"},
        {"reconnect_max_attempts": 0},
        {"audit_batch": True},
    ],
)
def test_bad_values_name_the_field(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        ConversationConfig("http://127.0.0.1:1", **kwargs)  # type: ignore[arg-type]


def test_bad_url() -> None:
    with pytest.raises(ValueError, match="base_url"):
        ConversationConfig("127.0.0.1:3000")


def test_backoff_grows_from_half_a_second_to_the_cap() -> None:
    rng = random.Random(1)
    for attempt in range(1, 12):
        ceiling = max(0.5, min(8.0, 0.5 * 2 ** (attempt - 1)))
        samples = [backoff_delay(attempt, 0.5, 8.0, None, rng) for _ in range(200)]
        assert all(max(0.5, ceiling / 2) <= s <= ceiling for s in samples)
        if ceiling > 0.5:
            assert max(samples) > ceiling * 0.9 and min(samples) < ceiling * 0.6  # randomized over the window


def test_backoff_never_before_retry_after() -> None:
    rng = random.Random(2)
    assert all(backoff_delay(1, 0.5, 8.0, 3.0, rng) >= 3.0 for _ in range(100))
    assert all(backoff_delay(9, 0.5, 8.0, 0.1, rng) >= 0.1 for _ in range(100))


def test_parse_retry_after() -> None:
    assert parse_retry_after("1") == 1.0
    assert parse_retry_after(" 2.5 ") == 2.5
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0


def test_pages_cover_holes_in_windows_of_100() -> None:
    windows, left = pages([0, 3, 5, 6], 20)
    assert windows == [(0, 7, [0, 3, 5, 6])] and left == []
    ids = [1, 50, 100, 101, 250, 999]
    windows, left = pages(ids, 20)
    assert [(s, n) for s, n, _ in windows] == [(1, 100), (101, 1), (250, 1), (999, 1)]
    assert all(n <= 100 for _, n, _ in windows)
    assert sorted(i for _, _, w in windows for i in w) == ids
    windows, left = pages(ids, 2)
    assert len(windows) == 2 and left == [250, 999]
