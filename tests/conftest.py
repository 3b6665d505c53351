"""Shared fixtures: a test certificate authority for TLS over loopback."""

from __future__ import annotations

import ssl

import pytest
import trustme


@pytest.fixture(scope="session")
def test_ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="session")
def tls_contexts(test_ca: trustme.CA) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """(server context for 127.0.0.1, client context trusting only the test CA)."""
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    test_ca.issue_cert("127.0.0.1", "localhost").configure_cert(server)
    client = ssl.create_default_context()
    test_ca.configure_trust(client)
    return server, client
