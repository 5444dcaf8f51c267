"""The upgrade request, `Retry-After` and the URL a WebSocket dials: pure functions."""

from __future__ import annotations

import email.utils
import time

import pytest

from loadtest.ws.deflate import DEFLATE_OFFER
from loadtest.ws.dial import target_of
from loadtest.ws.upgrade import build_request, parse_retry_after


def test_request_is_one_write_with_host_key_and_no_offer_by_default() -> None:
    request, key = build_request("127.0.0.1", 80, False, "/socket.io/?EIO=4", {"Origin": "http://x"}, None, False)
    lines = request.decode().split("\r\n")
    assert lines[0] == "GET /socket.io/?EIO=4 HTTP/1.1" and "Host: 127.0.0.1" in lines and "Origin: http://x" in lines
    assert f"Sec-WebSocket-Key: {key.decode()}" in lines and request.endswith(b"\r\n\r\n")
    assert b"Sec-WebSocket-Extensions" not in request
    request, _ = build_request("::1", 3000, False, "/", {"host": "h:1"}, {"a": "1"}, True)
    text_ = request.decode()
    assert "host: h:1\r\n" in text_ and "Host: [::1]" not in text_ and "Cookie: a=1\r\n" in text_
    assert f"Sec-WebSocket-Extensions: {DEFLATE_OFFER}\r\n" in text_
    with pytest.raises(ValueError):
        build_request("h", 80, False, "/", {"X": "a\r\nInjected: 1"}, None, False)


def test_parse_retry_after() -> None:
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after(" 1.5 ") == 1.5
    assert parse_retry_after(None) is None and parse_retry_after("soon") is None
    later = email.utils.formatdate(time.time() + 60, usegmt=True)
    delay = parse_retry_after(later)
    assert delay is not None and 50 < delay <= 61


def test_target_keeps_path_and_query_and_appends_ours() -> None:
    t = target_of("ws://127.0.0.1:18400/sockets/events/abc?resend_mode=since", {"after_timestamp": "T1+00:00"})
    assert (t.host, t.port, t.tls) == ("127.0.0.1", 18400, False)
    assert t.path == "/sockets/events/abc?resend_mode=since&after_timestamp=T1%2B00%3A00"  # `+` never raw
    assert target_of("https://example.test", [("k", "a"), ("k", "b")]).url == "wss://example.test:443/?k=a&k=b"
    assert target_of("ws://[::1]:81/x").url == "ws://[::1]:81/x"
    for bad in ("ftp://x/", "ws:///nohost"):
        with pytest.raises(ValueError):
            target_of(bad)
