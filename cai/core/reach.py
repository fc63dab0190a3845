"""Whether a server can be reached, said in words a user can act on.

Why: a teacher endpoint that refuses connections made every question fail and the run exit 0, and
the aiohttp transport reports a refused connection as a *timeout*; a Hub id that is not cached, on
a machine without network, cost a minute of retries before an internal error. A TCP connect takes
milliseconds and tells a refused connection from an unknown host or a silent one.
"""

from __future__ import annotations

import socket
import urllib.request
from urllib.parse import urlsplit


def probe(url: str, timeout_s: float = 5.0) -> str | None:
    """None when a TCP connection to `url`'s host and port (or to the proxy the environment sets
    for it) opens within `timeout_s`, else why not: 'connection refused', 'host not found', ..."""
    parts = urlsplit(url)
    if not parts.hostname:
        return "the URL has no host"
    proxy = _proxy_for(parts.scheme, parts.hostname)
    target = urlsplit(proxy) if proxy else parts
    try:
        port = target.port or (443 if target.scheme == "https" else 80)
    except ValueError:
        return "the URL's port is not a number"
    try:
        with socket.create_connection((target.hostname or "", port), timeout=timeout_s):
            return None
    except OSError as e:
        why = describe(e, timeout_s) or (e.strerror or type(e).__name__)
        return f"{why} (proxy {proxy})" if proxy else why


def _proxy_for(scheme: str, host: str) -> str | None:
    proxies = urllib.request.getproxies()
    if scheme not in proxies or urllib.request.proxy_bypass(host):
        return None
    return proxies[scheme]


def describe(error: BaseException, timeout_s: float | None = None) -> str | None:
    """What went wrong with a connection, read from `error` and the exceptions it was raised from
    (an HTTP client's timeout or connection error wraps the socket error that says it); None when
    no connection problem is found among them."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ConnectionRefusedError):
            return "connection refused (is the server running, on this host and port?)"
        if isinstance(current, socket.gaierror):
            return "host not found"
        if isinstance(current, ConnectionResetError):
            return "connection reset by the server"
        if isinstance(current, TimeoutError):
            return f"no answer within {timeout_s:g} s" if timeout_s else "timed out"
        current = current.__cause__ or current.__context__
    return None
