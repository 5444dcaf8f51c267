"""Where a WebSocket goes and the TCP connection to it: URL with query, numeric fast path, source address."""

from __future__ import annotations

# isort: split

import gevent.socket

import errno
import ipaddress
import socket
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlencode, urlsplit

__all__ = ["Query", "Target", "errno_kind", "target_of", "tcp_connect"]

Query = Mapping[str, Any] | Sequence[tuple[str, Any]]
"""Query parameters: a mapping (a list value repeats the key) or (name, value) pairs in order."""


class Target:
    """Where to connect: host, port, TLS, and the request target (path and query) of the upgrade."""

    __slots__ = ("host", "path", "port", "tls", "url")

    def __init__(self, url: str, host: str, port: int, tls: bool, path: str) -> None:
        self.url = url
        self.host = host
        self.port = port
        self.tls = tls
        self.path = path


def target_of(url: str, query: Query | None = None) -> Target:
    """Parse a ws(s) (or http(s)) URL and append `query` to the query it already has.

    Args:
        url: e.g. ``ws://127.0.0.1:3000/sockets/events/abc?resend_mode=all``; an empty path is ``/``.
        query: more parameters, URL-encoded after the URL's own (a `+` in a value goes as ``%2B``).

    Raises:
        ValueError: another scheme, or no host.
    """
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https", "ws", "wss"):
        raise ValueError(f"unsupported URL scheme {scheme!r}; use ws, wss, http or https")
    tls = scheme in ("https", "wss")
    host = parts.hostname or ""
    if not host:
        raise ValueError(f"no host in URL {url!r}")
    port = parts.port or (443 if tls else 80)
    path = parts.path or "/"
    qs = parts.query
    if query:
        extra = urlencode(list(query.items() if isinstance(query, Mapping) else query), doseq=True)
        qs = f"{qs}&{extra}" if qs else extra
    if qs:
        path = f"{path}?{qs}"
    netloc = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    return Target(f"{'wss' if tls else 'ws'}://{netloc}{path}", host, port, tls, path)


def tcp_connect(host: str, port: int, timeout: float, source_address: str | None = None) -> gevent.socket.socket:
    """A TCP connection; numeric addresses skip the resolver (gevent's runs getaddrinfo in a thread pool).

    With `source_address` the socket is bound to that local address (port chosen by the kernel) first.
    """
    try:
        family = socket.AF_INET6 if ipaddress.ip_address(host).version == 6 else socket.AF_INET
    except ValueError:
        source = (source_address, 0) if source_address else None
        return gevent.socket.create_connection((host, port), timeout=timeout, source_address=source)
    sock = gevent.socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.settimeout(timeout)
        if source_address:
            sock.bind((source_address, 0))
        sock.connect((host, port))
    except BaseException:
        sock.close()
        raise
    return sock


def errno_kind(exc: OSError) -> str:
    """A stable short name for an OSError (``econnrefused``, ``eaddrnotavail``, ...)."""
    if exc.errno is not None and exc.errno in errno.errorcode:
        return errno.errorcode[exc.errno].lower()
    return type(exc).__name__.lower()
