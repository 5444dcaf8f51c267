"""Error hierarchy, stable reprs without secrets, and the package's explicit public surface."""

from __future__ import annotations

import loadtest.sio
from loadtest.sio import errors as E


def test_hierarchy() -> None:
    for cls in (E.ProtocolError, E.TransportError, E.ConnectRefused, E.ConnectTimeout, E.AckTimeout, E.Disconnected):
        assert issubclass(cls, E.SioError)
    assert issubclass(E.HandshakeRejected, E.TransportError)
    assert issubclass(E.ProtocolError, ValueError)
    assert issubclass(E.ConnectTimeout, TimeoutError) and issubclass(E.AckTimeout, TimeoutError)


def test_reprs_are_stable_and_carry_no_secrets() -> None:
    secret = "sk-SECRET-123"
    cases = {
        E.HandshakeRejected(429, 1.0, f'{{"token": "{secret}"}}'): "HandshakeRejected(status=429)",
        E.ConnectRefused("invalid_session_api_key", {"key": secret}): "ConnectRefused('invalid_session_api_key')",
        E.AckTimeout("oh_user_action", 5.0): "AckTimeout()",
        E.Disconnected("ping_timeout"): "Disconnected('ping_timeout')",
        E.ConnectTimeout("namespace"): "ConnectTimeout('namespace')",
        E.ProtocolError("bad_json", f'42["x","{secret}"'): "ProtocolError('bad_json')",
        E.TransportError("econnreset", f"detail {secret}"): "TransportError('econnreset')",
    }
    for error, expected in cases.items():
        assert repr(error) == expected
        assert secret not in repr(error)


def test_details_live_in_attributes() -> None:
    rejected = E.HandshakeRejected(503, None, "b" * 2000)
    assert rejected.status == 503 and rejected.retry_after is None and len(rejected.body) == 512
    assert "503" in str(rejected)
    error = E.ProtocolError("bad_eio_type", b"\xff" * 100)
    assert error.kind == "bad_eio_type" and len(error.prefix) <= 40 and "bad_eio_type" in str(error)


def test_exported_members() -> None:
    public = sorted(name for name in vars(loadtest.sio) if not name.startswith("_") and name[0].isupper())
    assert sorted(loadtest.sio.__all__) == public
    assert sorted(E.__all__) == sorted(n for n in vars(E) if not n.startswith("_") and n[0].isupper() and n != "Any")
