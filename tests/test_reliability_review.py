"""Issue #21 point 7: the reviewer server under hostile clients, over real sockets against the real
server — half-sent and slowly dripped requests are dropped and cannot hold more than
`max_connections` threads, `next=` cannot redirect to another site, and a malformed Content-Length
is a 400 (not a 500)."""

from __future__ import annotations

import json
import select
import socket
import threading
import time
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import pytest

from cai.core.contracts import ClaimVerdict, Record
from cai.stages.review_web import local_path
from tests.test_review import serving

TOKEN = "t0ken-for-tests-0123456789abcdef"


@pytest.fixture()
def run_dir(tmp_path) -> Path:
    """The smallest run `cai review` opens: a generate manifest and one record with one claim."""
    run = tmp_path / "run"
    run.mkdir()
    (run / "manifest.json").write_text(json.dumps({"stage": "generate", "status": "finished"}))
    record = Record(id="q1", question="What was revenue?", final_answer="Revenue was $5.0 million [d p.1].",
                    claims=[ClaimVerdict(text="Revenue was $5.0 million.", verdict="supported", score=0.9,
                                         span=(0, 25))])
    (run / "records.jsonl").write_text(record.model_dump_json() + "\n")
    return run


def connect(server) -> socket.socket:
    parts = urlsplit(server.url)
    sock = socket.create_connection((parts.hostname, parts.port), timeout=15)
    return sock


def read_all(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection."""
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def raw(server, data: bytes) -> tuple[int, dict[str, str], str]:
    """Send `data` as it is; return the status, headers and body of the server's answer."""
    with connect(server) as sock:
        sock.sendall(data)
        head, _, body = read_all(sock).partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return int(lines[0].split()[1]), headers, body.decode("utf-8")


def get(server, path: str = "/", headers: str = "") -> tuple[int, dict[str, str], str]:
    return raw(server, f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{headers}Connection: close\r\n\r\n".encode())


def post(server, path: str, form: dict, headers: str = "") -> tuple[int, dict[str, str], str]:
    body = urlencode(form).encode()
    return raw(server, (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded"
                        f"\r\nContent-Length: {len(body)}\r\n{headers}Connection: close\r\n\r\n").encode() + body)


def csrf_of(server) -> str:
    return server.app.csrf


def closed_by_server(sock: socket.socket, wait: float) -> bool:
    """True when the server has closed `sock` (EOF or reset) within `wait` seconds."""
    readable, _, _ = select.select([sock], [], [], wait)
    if not readable:
        return False
    try:
        return read_all(sock) is not None
    except ConnectionResetError:
        return True


def wait_for(condition, limit: float = 15.0) -> bool:
    end = time.monotonic() + limit
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


# ------------------------------------------------------------------------------------- slow clients
def test_half_sent_requests_cannot_hold_more_than_max_connections_threads(run_dir):
    with serving(run_dir, request_timeout=60, max_connections=4) as server:
        baseline = threading.active_count()
        holders = [connect(server) for _ in range(4)]
        for sock in holders:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # never finished
        assert wait_for(lambda: threading.active_count() >= baseline + 4)

        for _ in range(30):  # no token needed to try: each is answered 503 at once, without a thread
            with connect(server) as extra:  # (sends nothing: closing on unread bytes could reset the answer)
                answer = read_all(extra)
            assert answer.startswith(b"HTTP/1.0 503 ") and b"too many connections" in answer
            assert threading.active_count() <= baseline + 4

        for sock in holders:
            sock.close()
        assert wait_for(lambda: threading.active_count() <= baseline)
        assert get(server)[0] == 200  # the slots came back


def test_a_request_not_sent_in_time_is_dropped_even_when_dripped(run_dir):
    with serving(run_dir, request_timeout=0.5, max_connections=2) as server:
        with connect(server) as silent:
            silent.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            assert closed_by_server(silent, wait=15)

        with connect(server) as drip:  # one header byte at a time, never a full request
            closed = False
            for _ in range(300):
                try:
                    drip.sendall(b"X")
                except (BrokenPipeError, ConnectionResetError):
                    closed = True
                    break
                if closed_by_server(drip, wait=0.05):
                    closed = True
                    break
            assert closed, "a client dripping bytes held its connection for 300 rounds"

        with connect(server) as half_body:
            half_body.sendall(b"POST /reviewer HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n\r\nreviewer=a")
            answer = read_all(half_body)
        assert answer.startswith(b"HTTP/1.0 408 ")

        assert wait_for(lambda: get(server)[0] == 200)  # neither the silent nor the slow client kept a slot


# ------------------------------------------------------------------------------------ open redirect
EVIL_TARGETS = ["//evil.example.com", "/\\evil.example.com", "/\\/evil.example.com", "https://evil.example.com/",
                "javascript:alert(1)", "/\t/evil.example.com", "/\n/evil.example.com", "evil.example.com",
                "/ok\\..\\evil", ""]


@pytest.mark.parametrize("target", EVIL_TARGETS, ids=repr)
def test_next_never_redirects_off_site(run_dir, target):
    assert local_path(target) == "/"
    with serving(run_dir) as server:
        status, headers, _ = post(server, "/reviewer", {"csrf": csrf_of(server), "reviewer": "alice", "next": target})
    assert status == 303 and headers["location"] == "/"


def test_next_keeps_same_origin_paths(run_dir):
    here = "/record?id=q1&status=pending&rule=claims-supported"
    with serving(run_dir) as server:
        status, headers, _ = post(server, "/reviewer", {"csrf": csrf_of(server), "reviewer": "alice", "next": here})
    assert status == 303 and headers["location"] == here


def test_token_login_redirect_stays_on_site(run_dir):
    with serving(run_dir, token=TOKEN) as server:
        status, headers, _ = get(server, f"/\\evil.example.com?token={TOKEN}")
        assert status == 303 and headers["location"] == "/"
        status, headers, _ = get(server, f"//evil.example.com?token={TOKEN}")  # http.server makes it /evil…
        location = headers["location"]
        assert status == 303 and location.startswith("/") and location[1:2] not in ("/", "\\")
        status, headers, _ = get(server, f"/agreement?token={TOKEN}")
        assert status == 303 and headers["location"] == "/agreement"


# --------------------------------------------------------------------------------- Content-Length
MALFORMED = ["abc", "-1", "+5", "1_0", "0x10", "5, 5", "", "1e3", "\u0663"]


@pytest.mark.parametrize("value", MALFORMED, ids=repr)
def test_malformed_content_length_is_a_400(run_dir, value):
    body = urlencode({"reviewer": "alice", "next": "/"}).encode()
    with serving(run_dir) as server:
        form = urlencode({"csrf": csrf_of(server), "reviewer": "alice", "next": "/"}).encode()
        request = (b"POST /reviewer HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: " + value.encode("utf-8")
                   + b"\r\nConnection: close\r\n\r\n" + form + body)
        status, _, text = raw(server, request)
        assert status == 400 and "Content-Length" in text
        assert get(server)[0] == 200


def test_two_content_lengths_are_a_400_and_a_huge_one_a_413(run_dir):
    with serving(run_dir) as server:
        form = urlencode({"csrf": csrf_of(server), "reviewer": "alice", "next": "/"}).encode()
        head = b"POST /reviewer HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        twice = head + b"Content-Length: %d\r\nContent-Length: 3\r\n\r\n" % len(form) + form
        assert raw(server, twice)[0] == 400
        huge = head + b"Content-Length: " + b"9" * 5000 + b"\r\n\r\n" + form
        assert raw(server, huge)[0] == 413
        leading_zeros = head + b"Content-Length: 000%d\r\nConnection: close\r\n\r\n" % len(form) + form
        assert raw(server, leading_zeros)[0] == 303  # plain decimal with leading zeros is still valid
