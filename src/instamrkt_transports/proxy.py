"""HTTP CONNECT proxies: which proxy a URL uses, and the CONNECT exchange as bytes.

``proxy_for`` follows the usual conventions: an explicit ``proxy`` option wins (``False``
disables proxies); otherwise ``https_proxy`` applies to ``wss://`` and ``http_proxy`` to
``ws://`` (both case-insensitive), unless ``no_proxy`` matches the host. The CONNECT
request and the parsing of its answer are pure functions, shared by the adapters.
"""

from __future__ import annotations

import base64
import urllib.request
from urllib.parse import unquote, urlsplit

import attrs

from instamrkt_proto import ConnectionClosed

__all__ = ("Proxy", "connect_request", "parse_connect_response", "proxy_for")


@attrs.frozen(slots=True)
class Proxy:
    host: str
    port: int
    auth: tuple[str, str] | None = attrs.field(default=None, repr=False)


def _parse(url: str) -> Proxy:
    if "://" not in url:
        url = f"http://{url}"
    parts = urlsplit(url)
    if parts.scheme not in ("http", ""):
        raise ValueError(f"only HTTP CONNECT proxies are supported, not {parts.scheme!r}")
    if not parts.hostname:
        raise ValueError("proxy URL has no host")
    auth = None
    if parts.username is not None:
        auth = (unquote(parts.username), unquote(parts.password or ""))
    return Proxy(parts.hostname, parts.port or 8080, auth)


def proxy_for(url: str, proxy: str | bool | None = None) -> Proxy | None:
    """The proxy to use for websocket ``url``, or None for a direct connection."""
    if proxy is False:
        return None
    if isinstance(proxy, str):
        return _parse(proxy)
    parts = urlsplit(url)
    env = urllib.request.getproxies_environment()
    chosen = env.get("https" if parts.scheme == "wss" else "http")
    if not chosen:
        return None
    host = parts.hostname or ""
    if urllib.request.proxy_bypass_environment(host, env):  # type: ignore[attr-defined]
        return None
    return _parse(chosen)


def connect_request(proxy: Proxy, host: str, port: int) -> bytes:
    target = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    lines = [f"CONNECT {target} HTTP/1.1", f"Host: {target}"]
    if proxy.auth is not None:
        token = base64.b64encode(f"{proxy.auth[0]}:{proxy.auth[1]}".encode()).decode()
        lines.append(f"Proxy-Authorization: Basic {token}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def parse_connect_response(head: bytes) -> None:
    """Raise ``ConnectionClosed`` unless ``head`` (up to the blank line) is a 2xx answer."""
    status_line = head.split(b"\r\n", 1)[0].decode("latin-1")
    parts = status_line.split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
        raise ConnectionClosed(f"proxy sent a malformed answer: {status_line[:80]!r}")
    if not 200 <= int(parts[1]) < 300:
        raise ConnectionClosed(f"proxy refused the tunnel: {status_line[:80]}")
