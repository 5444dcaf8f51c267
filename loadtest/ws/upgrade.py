"""The WebSocket opening handshake (RFC 6455 §4) done by hand, and `Retry-After` parsing.

We write the HTTP/1.1 upgrade request in one `sendall` and read the response in 4 KiB reads until the blank
line; whatever follows it already belongs to the first frames and is handed to the reader. This replaced
websocket-client's handshake, which read the response one byte per call and was the largest connect cost.
A refused upgrade (any status but 101) becomes `HandshakeRejected(status, retry_after, body)`.
"""

from __future__ import annotations

import base64
import email.utils
import hashlib
import os
import time
from collections.abc import Callable, Mapping

from loadtest.ws.deflate import DEFLATE_OFFER, accepted_extensions
from loadtest.ws.errors import HandshakeRejected, TransportError

__all__ = ["DEFLATE_OFFER", "Upgrade", "build_request", "parse_retry_after", "read_response"]

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
MAX_HEAD_BYTES = 16 * 1024
MAX_BODY_BYTES = 4096


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a `Retry-After` header (delta-seconds or HTTP date), or None.

    Args:
        value: the header value.
    """
    if value is None:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def build_request(
    host: str,
    port: int,
    tls: bool,
    target: str,
    headers: Mapping[str, str] | None,
    cookies: Mapping[str, str] | None,
    deflate: bool,
) -> tuple[bytes, bytes]:
    """The upgrade request and the `Sec-WebSocket-Key` it carries.

    Args:
        host, port, tls: the server (the Host header leaves out a default port).
        target: path and query, e.g. ``/sockets/events/abc?resend_mode=all``.
        headers: extra headers (a caller's Host, Origin or User-Agent replaces ours).
        cookies: sent as one `Cookie` header.
        deflate: offer permessage-deflate.
    """
    key = base64.b64encode(os.urandom(16))
    netloc = f"[{host}]" if ":" in host else host
    if port != (443 if tls else 80):
        netloc = f"{netloc}:{port}"
    fields: dict[str, str] = {"Host": netloc, "User-Agent": "loadtest"}
    for name, value in (headers or {}).items():
        if "\r" in name or "\n" in name or "\r" in str(value) or "\n" in str(value):
            raise ValueError(f"header {name!r} contains a line break")
        for known in list(fields):
            if known.lower() == name.lower():
                del fields[known]
        fields[name] = str(value)
    lines = [f"GET {target} HTTP/1.1"]
    lines.extend(f"{k}: {v}" for k, v in fields.items())
    lines.append("Upgrade: websocket")
    lines.append("Connection: Upgrade")
    lines.append(f"Sec-WebSocket-Key: {key.decode()}")
    lines.append("Sec-WebSocket-Version: 13")
    if deflate:
        lines.append(f"Sec-WebSocket-Extensions: {DEFLATE_OFFER}")
    if cookies:
        lines.append("Cookie: " + "; ".join(f"{k}={v}" for k, v in cookies.items()))
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"), key


class Upgrade:
    """The server's answer to a successful upgrade."""

    __slots__ = ("deflate", "leftover", "server_no_context")

    def __init__(self, leftover: bytes, deflate: bool, server_no_context: bool) -> None:
        self.leftover = leftover
        self.deflate = deflate
        self.server_no_context = server_no_context


def read_response(recv: Callable[[int], bytes], key: bytes, offered_deflate: bool) -> Upgrade:
    """Read and check the response to the upgrade request.

    Args:
        recv: the socket's recv (blocking, with the caller's timeout).
        key: the request's `Sec-WebSocket-Key`.
        offered_deflate: whether permessage-deflate was offered (accepting it unasked is an error).

    Raises:
        HandshakeRejected: any status other than 101 (with Retry-After and up to 4 KiB of the body).
        TransportError: ("handshake") a malformed response, a bad accept key or an unoffered extension.
        TimeoutError, OSError: from `recv`.
    """
    data = b""
    while True:
        end = data.find(b"\r\n\r\n")
        if end >= 0:
            break
        if len(data) > MAX_HEAD_BYTES:
            raise TransportError("handshake", "response head too long")
        chunk = recv(4096)
        if not chunk:
            raise TransportError("handshake", "connection closed during the upgrade")
        data += chunk
    head = data[:end].decode("latin-1")
    rest = data[end + 4 :]
    status_line, _, header_text = head.partition("\r\n")
    parts = status_line.split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
        raise TransportError("handshake", f"bad status line {status_line[:60]!r}")
    status = int(parts[1])
    headers: dict[str, str] = {}
    for line in header_text.split("\r\n"):
        name, sep, value = line.partition(":")
        if sep:
            lname = name.strip().lower()
            value = value.strip()
            headers[lname] = f"{headers[lname]}, {value}" if lname in headers else value
    if status != 101:
        body = _read_body(recv, rest, headers)
        raise HandshakeRejected(status, parse_retry_after(headers.get("retry-after")), body)
    expected = base64.b64encode(hashlib.sha1(key + _GUID).digest()).decode()
    if headers.get("sec-websocket-accept", "") != expected:
        raise TransportError("handshake", "bad Sec-WebSocket-Accept")
    if "websocket" not in headers.get("upgrade", "").lower():
        raise TransportError("handshake", "no Upgrade: websocket")
    deflate, no_context = accepted_extensions(headers.get("sec-websocket-extensions", ""), offered_deflate)
    return Upgrade(rest, deflate, no_context)


def _read_body(recv: Callable[[int], bytes], rest: bytes, headers: Mapping[str, str]) -> str:
    try:
        want = min(int(headers.get("content-length", "0")), MAX_BODY_BYTES)
    except ValueError:
        want = 0
    body = rest
    try:
        while len(body) < want:
            chunk = recv(4096)
            if not chunk:
                break
            body += chunk
    except OSError:  # a slow or reset body: keep what came, the status is what matters
        pass
    return body[:MAX_BODY_BYTES].decode("utf-8", "replace")
