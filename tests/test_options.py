"""Adapter options, proxy selection and the CONNECT exchange: the shared, pure pieces."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from instamrkt_proto import ClientConfig, ConnectionClosed, Credentials, RateLimit
from instamrkt_transports import Options, Overflow
from instamrkt_transports.anyio import connect as anyio_connect
from instamrkt_transports.cli.session import open_client
from instamrkt_transports.options import make_options
from instamrkt_transports.proxy import (
    Proxy,
    connect_request,
    parse_connect_response,
    proxy_for,
)


def test_options_go_to_the_core_or_the_transport() -> None:
    options = make_options({"timeout": 5.0, "rate_limit": (10, 1.0), "proxy": False,
                            "overflow": "drop_oldest", "max_message_size": None})
    assert options.config == ClientConfig(request_timeout=5.0, rate_limit=RateLimit(10, 1.0),
                                          max_message_size=None)
    assert options.proxy is False and options.overflow is Overflow.DROP_OLDEST
    assert make_options({}).config == ClientConfig()  # one set of defaults


def test_a_misspelt_option_is_named_in_the_error() -> None:
    with pytest.raises(TypeError, match="timout") as caught:
        make_options({"timout": 1})
    assert "timeout" in str(caught.value)  # and the valid spelling is listed
    with pytest.raises(ValueError, match=r"drop_newest"):
        make_options({"overflow": "drop_newest"})


def test_an_options_value_and_keywords_combine_keywords_winning() -> None:
    base = Options(config=ClientConfig(request_timeout=3.0, keepalive_interval=None),
                   queue_size=7)
    assert make_options({}, base) == base
    merged = make_options({"timeout": 9.0, "overflow": "fail"}, base)
    assert merged.config == ClientConfig(request_timeout=9.0, keepalive_interval=None)
    assert merged.queue_size == 7 and merged.overflow is Overflow.FAIL
    with pytest.raises(TypeError, match="Options"):
        make_options({}, ClientConfig())  # type: ignore[arg-type]


def test_refreshing_credentials_is_switched_on_by_a_provider() -> None:
    def provider() -> Credentials:
        return Credentials("1", "k")

    assert make_options({}).config.refresh_on_refusal is False
    options = make_options({"refresh_credentials": provider, "credentials_max_age": 3600.0})
    assert options.config.refresh_on_refusal is True and options.refresh_credentials is provider
    assert "provider" not in repr(options)
    with pytest.raises(TypeError, match="needs refresh_credentials"):
        make_options({"credentials_max_age": 3600.0})
    with pytest.raises(TypeError, match="callable"):
        make_options({"refresh_credentials": "not callable"})
    with pytest.raises(TypeError, match="unknown option"):  # the provider decides it
        make_options({"refresh_on_refusal": True})


@pytest.mark.parametrize("transport", ["blocking", "threaded", "anyio:asyncio", "anyio:trio"])
def test_every_adapter_accepts_an_options_value(instamrkt_server: Any, transport: str) -> None:
    srv = instamrkt_server
    options = Options(config=ClientConfig(request_timeout=4.0, keepalive_interval=None),
                      queue_size=5)
    with open_client(transport, srv.url, srv.credentials, options=options) as client:
        assert client.core.config.request_timeout == 4.0
        assert client.core.config.keepalive_interval is None
        assert client.ping().res == 1
    with open_client(transport, srv.url, srv.credentials, options=options,
                     timeout=2.0) as client:
        assert client.core.config.request_timeout == 2.0  # the keyword wins
        assert client.core.config.keepalive_interval is None  # the rest is kept


@pytest.mark.anyio
async def test_adapters_reject_unknown_options_before_connecting() -> None:
    with pytest.raises(TypeError, match="unknown option"):
        async with anyio_connect("ws://127.0.0.1:1/", None, bogus=1):  # type: ignore[arg-type]
            pass


@pytest.fixture
def no_env_proxies(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in ("http_proxy", "https_proxy", "no_proxy", "HTTP_PROXY", "HTTPS_PROXY",
                 "NO_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_proxy_selection_follows_the_usual_environment(no_env_proxies: pytest.MonkeyPatch
                                                        ) -> None:
    env = no_env_proxies
    assert proxy_for("wss://example.com:9999/") is None
    env.setenv("https_proxy", "http://user:p%40ss@proxy.local:3128")
    chosen = proxy_for("wss://example.com:9999/")
    assert chosen == Proxy("proxy.local", 3128, ("user", "p@ss"))
    assert "p@ss" not in repr(chosen)  # credentials stay out of reprs
    assert proxy_for("ws://example.com/") is None  # https_proxy is for wss:// only
    env.setenv("http_proxy", "proxy.local:8000")
    assert proxy_for("ws://example.com/") == Proxy("proxy.local", 8000)
    env.setenv("no_proxy", "example.com")
    assert proxy_for("wss://example.com:9999/") is None
    assert proxy_for("wss://example.com/", "http://explicit:1") == Proxy("explicit", 1)
    assert proxy_for("wss://other.org/", False) is None
    with pytest.raises(ValueError, match="HTTP CONNECT"):
        proxy_for("wss://x/", "socks5://proxy:1080")


def test_connect_request_bytes() -> None:
    assert connect_request(Proxy("p", 1), "example.com", 9999) == (
        b"CONNECT example.com:9999 HTTP/1.1\r\nHost: example.com:9999\r\n\r\n")
    with_auth = connect_request(Proxy("p", 1, ("u", "pw")), "::1", 443)
    assert with_auth.startswith(b"CONNECT [::1]:443 HTTP/1.1\r\n")
    assert b"Proxy-Authorization: Basic dTpwdw==\r\n" in with_auth


def test_connect_responses() -> None:
    parse_connect_response(b"HTTP/1.1 200 Connection established\r\n\r\n")
    with pytest.raises(ConnectionClosed, match="refused"):
        parse_connect_response(b"HTTP/1.1 407 Proxy Authentication Required\r\n\r\n")
    with pytest.raises(ConnectionClosed, match="malformed"):
        parse_connect_response(b"SSH-2.0-OpenSSH\r\n\r\n")


@given(st.binary(max_size=200))
def test_any_proxy_answer_is_accepted_or_a_typed_error(head: bytes) -> None:
    try:
        parse_connect_response(head)
    except ConnectionClosed:
        return
    status = head.split(b"\r\n", 1)[0].split(b" ")[1]
    assert head.startswith(b"HTTP/") and status.startswith(b"2")
