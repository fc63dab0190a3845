"""What the project's HTTP servers share (`cai review`'s web app, `cai reward serve`), all on the
standard library's `ThreadingHTTPServer`:

- The bind rule: a loopback address needs nothing; any other address needs an access token read
  from an environment variable (never from the command line, where `ps` shows it), at least
  `MIN_TOKEN_CHARS` characters long.
- Loopback binds answer only requests whose Host header is a loopback name, so a web page that
  rebinds its own DNS name to 127.0.0.1 cannot reach the server (DNS rebinding).
- Slow or half-sent requests cannot pin the server: a client has `request_timeout` seconds in all
  to send its whole request (`DeadlineReader`), and at most `max_connections` connections are
  served at once; the others get an immediate 503 from the accept loop, without a thread.
- A Content-Length that is not one plain decimal number is a 400, never a guess; one over the
  server's limit is a 413 before any byte of the body is read.
"""

from __future__ import annotations

import hmac
import io
import os
import re
import socket
import sys
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from cai.core.errors import UserError

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")  # bind addresses that need no token
LOOPBACK_NAMES = {"127.0.0.1", "localhost", "::1", "[::1]"}  # Host header names a loopback bind answers
MIN_TOKEN_CHARS = 16
_DECIMAL = re.compile(r"[0-9]+")


def read_token(env_name: str) -> str | None:
    """The access token from `$env_name` (None when unset or blank)."""
    value = os.environ.get(env_name, "").strip()
    return value or None


def check_bind(host: str, token: str | None, token_env: str, what: str) -> None:
    """Loopback binds need nothing; any other host needs a token (UserError → exit 2). `what`
    names the service in the message ("the review UI")."""
    if token is not None and len(token) < MIN_TOKEN_CHARS:
        make = "python -c 'import secrets; print(secrets.token_urlsafe(24))'"
        raise UserError(f"${token_env} is too short ({len(token)} chars): "
                        f"use at least {MIN_TOKEN_CHARS} random characters, e.g. `export {token_env}=$({make})`")
    if host not in LOOPBACK_HOSTS and token is None:
        raise UserError(f"--host {host}: refusing to serve {what} beyond this machine without a token; "
                        f"set ${token_env} (every request must then carry it) or use --host 127.0.0.1")


def same_token(given: str, token: str) -> bool:
    """Constant-time comparison; an empty `given` never matches."""
    return bool(given) and hmac.compare_digest(given.encode("utf-8", "replace"), token.encode("utf-8"))


def bearer(handler: BaseHTTPRequestHandler) -> str:
    """The token of an `Authorization: Bearer …` header ("" when there is none)."""
    auth = handler.headers.get("Authorization") or ""
    return auth[7:].strip() if auth.lower().startswith("bearer ") else ""


def host_is_loopback(handler: BaseHTTPRequestHandler) -> bool:
    """Whether the request's Host header names a loopback host (port ignored)."""
    host = (handler.headers.get("Host") or "").strip().lower()
    name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    return name in LOOPBACK_NAMES


class RequestError(Exception):
    """A request refused before it is routed (bad framing, too large, wrong type): status + message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def content_length(handler: BaseHTTPRequestHandler, max_body: int) -> int:
    """The body's length: 0 when absent; one plain decimal number, else RequestError 400 (a negative
    length would read until the client closes; two headers, or int()'s `+5`/`1_0`, invite
    smuggling); over `max_body`, RequestError 413."""
    values = handler.headers.get_all("Content-Length") or []
    if not values:
        return 0
    if len(values) > 1 or not _DECIMAL.fullmatch(values[0].strip()):
        raise RequestError(400, "malformed Content-Length header: expected one non-negative decimal number")
    digits = values[0].strip().lstrip("0") or "0"
    if len(digits) > len(str(max_body)) or int(digits) > max_body:
        raise RequestError(413, f"request too large: over the limit of {max_body} bytes")
    return int(digits)


def read_body(handler: BaseHTTPRequestHandler, max_body: int) -> bytes:
    """The request body, all of it (see `content_length`); 408 when it does not arrive in time."""
    length = content_length(handler, max_body)
    try:
        body = handler.rfile.read(length)
    except TimeoutError:
        raise RequestError(408, "the request body did not arrive in time") from None
    if len(body) < length:
        raise RequestError(400, "the request body is shorter than its Content-Length")
    return body


class DeadlineReader(io.RawIOBase):
    """The socket's read side under one deadline for the whole request.

    A per-read timeout alone lets a client that sends a byte every few seconds hold a thread for
    ever; here every read may wait only for the time left, and the socket gets the full
    `io_timeout` back for writing the response.
    """

    def __init__(self, sock: socket.socket, deadline: float, io_timeout: float) -> None:
        super().__init__()
        self.sock, self.deadline, self.io_timeout = sock, deadline, io_timeout

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("the client did not send its request in time")
        self.sock.settimeout(left)
        try:
            return self.sock.recv_into(buffer)
        finally:
            self.sock.settimeout(self.io_timeout)


def arm_deadline(handler: BaseHTTPRequestHandler, timeout: float) -> None:
    """From a handler's `setup()`: its request must arrive whole within `timeout` seconds."""
    handler.connection.settimeout(timeout)
    handler.rfile.close()  # the stock reader holds a reference that would keep the socket open after close
    handler.rfile = io.BufferedReader(DeadlineReader(handler.connection, time.monotonic() + timeout, timeout))


def busy_response(text: str) -> bytes:
    """The raw 503 the accept loop sends when every connection slot is taken."""
    body = text.encode("utf-8")
    return (b"HTTP/1.0 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\nRetry-After: 5\r\n"
            b"Connection: close\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))


class BoundedHTTPServer(ThreadingHTTPServer):
    """The threading HTTP server with a bound on threads: one per connection, `max_connections` at
    most; the connections over it get `busy` (a raw response, see `busy_response`) at once. `log`:
    where `DeadlineHandler` writes its request lines (None: nowhere)."""

    daemon_threads = True
    # socketserver's listen backlog is 5: a burst of clients (a trainer's 64 rollout workers) overflows it and
    # the kernel drops their SYNs, which they resend after 1 s, then 3 s — seconds of latency for nothing.
    request_queue_size = 1024

    def __init__(self, host: str, port: int, handler: type[BaseHTTPRequestHandler], *, request_timeout: float,
                 max_connections: int, busy: bytes, log: Callable[[str], None] | None = None) -> None:
        self.address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.request_timeout = request_timeout
        self.slots = threading.BoundedSemaphore(max_connections)
        self.busy = busy
        self.log = log
        super().__init__((host, port), handler)

    def process_request(self, request, client_address) -> None:
        if not self.slots.acquire(blocking=False):
            return self._refuse(request)
        try:
            super().process_request(request, client_address)  # starts the thread that releases the slot
        except BaseException:
            self.slots.release()
            raise

    def process_request_thread(self, request, client_address) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.slots.release()

    def _refuse(self, request: socket.socket) -> None:
        """Answer 503 from the accept loop itself (no thread), never waiting on the client for long."""
        try:
            request.settimeout(1.0)
            request.sendall(self.busy)
            request.setblocking(False)
            request.recv(1 << 16)  # what already arrived: closing on unread bytes resets the connection
        except OSError:  # BlockingIOError (nothing sent yet) included
            pass
        finally:
            self.shutdown_request(request)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{'[' + host + ']' if ':' in host else host}:{port}/"


class DeadlineHandler(BaseHTTPRequestHandler):
    """The handler side of `BoundedHTTPServer`: its request must arrive whole within the server's
    `request_timeout`; GET and POST go to the subclass's `_handle(method)`; request lines go to the
    server's `log` with the path only, never the query string (tokens may travel there)."""

    server: BoundedHTTPServer
    sys_version = ""

    def setup(self) -> None:
        super().setup()
        arm_deadline(self, self.server.request_timeout)

    def do_GET(self) -> None:  # noqa: N802 — http.server's naming
        self._handle("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._handle("POST")

    def _handle(self, method: str) -> None:
        raise NotImplementedError

    def log_message(self, format: str, *args) -> None:  # noqa: A002 — http.server's signature
        if self.server.log:  # a request that timed out before its first line has no command or path
            path = urlsplit(getattr(self, "path", "") or "").path
            self.server.log(f"{getattr(self, 'command', None) or '-'} {path} {args[1] if len(args) > 1 else ''}")


def log_to_stderr(line: str) -> None:
    """A server's `log`: one line (or a traceback) on stderr, flushed at once."""
    print(line, file=sys.stderr, flush=True)


def serve_until_interrupted(server: BoundedHTTPServer, echo: Callable[[str], None]) -> None:
    """`server.serve_forever()` until Ctrl-C; the server is closed either way."""
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        echo("stopped")
    finally:
        server.server_close()
