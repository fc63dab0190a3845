"""A small OpenAI-compatible chat server for tests and benchmarks, with fault injection.

Real HTTP on 127.0.0.1 (an ephemeral port), so the `openai` client, its HTTP stack, timeouts and
error mapping are exercised for real. Faults are drawn from a seeded RNG so runs repeat.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

FAULTS = ("429", "500", "garbage", "timeout", "drop")


def echo_reply(messages: list[dict], body: dict) -> str:
    """Default content: a JSON object when a schema is asked for, else the last user message."""
    if body.get("response_format"):
        return json.dumps({"answer": "ok", "n_messages": len(messages)})
    return "echo: " + messages[-1]["content"][:200]


class FakeOpenAIServer:
    """`with FakeOpenAIServer(latency_s=0.2, fault_rate=0.2) as srv: srv.base_url`

    `echo_auth_status=401` (or 400, 500, ...) answers every chat request with that status and an
    error body that echoes the request's Authorization header, as some servers and proxies do: the
    hostile case for keeping API keys out of stored errors."""

    def __init__(self, *, latency_s: float = 0.0, fault_rate: float = 0.0, faults: tuple[str, ...] = FAULTS,
                 reply: Callable[[list[dict], dict], str] = echo_reply, json_schema: bool = True,
                 timeout_sleep_s: float = 5.0, seed: int = 0, port: int = 0, echo_auth_status: int | None = None):
        self.echo_auth_status = echo_auth_status
        self.latency_s = latency_s
        self.fault_rate = fault_rate
        self.faults = faults
        self.reply = reply
        self.json_schema = json_schema
        self.timeout_sleep_s = timeout_sleep_s
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.stats: Counter[str] = Counter()
        self.max_in_flight = 0
        self._in_flight = 0
        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), self._handler())
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def __enter__(self) -> FakeOpenAIServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def _draw_fault(self) -> str | None:
        with self.lock:
            if self.fault_rate and self.rng.random() < self.fault_rate:
                return self.rng.choice(self.faults)
        return None

    def _handler(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in two writes; with Nagle on, the body waits for the
            # client's delayed ACK on every keep-alive request, far more than the CPU of a call.
            disable_nagle_algorithm = True

            def log_message(self, *args):  # keep test output clean
                pass

            def _send(self, code: int, payload: dict | str) -> None:
                data = payload.encode() if isinstance(payload, str) else json.dumps(payload).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self):  # noqa: N802 (http.server API)
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                with server.lock:
                    server._in_flight += 1
                    server.max_in_flight = max(server.max_in_flight, server._in_flight)
                    server.stats["requests"] += 1
                try:
                    self._serve(body)
                finally:
                    with server.lock:
                        server._in_flight -= 1

            def _serve(self, body: dict) -> None:
                if not self.path.endswith("/chat/completions"):
                    return self._send(404, {"error": {"message": f"no route {self.path}"}})
                time.sleep(server.latency_s)
                if server.echo_auth_status is not None:
                    server.stats["echo_auth"] += 1
                    auth = self.headers.get("Authorization", "")
                    return self._send(server.echo_auth_status, {"error": {
                        "message": f"invalid request; you sent Authorization: {auth}",
                        "request_headers": {"authorization": auth}}})
                fault = server._draw_fault()
                if fault:
                    server.stats[fault] += 1
                if fault == "429":
                    return self._send(429, {"error": {"message": "rate limited", "type": "rate_limit"}})
                if fault == "500":
                    return self._send(500, {"error": {"message": "boom"}})
                if fault == "timeout":
                    time.sleep(server.timeout_sleep_s)
                if fault == "drop":
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return None
                if body.get("response_format") and not server.json_schema:
                    return self._send(400, {"error": {"message": "response_format is not supported"}})
                content = "Sure! {not json" if fault == "garbage" else server.reply(body["messages"], body)
                server.stats["ok"] += 1
                return self._send(200, {
                    "id": f"chatcmpl-{server.stats['requests']}", "object": "chat.completion",
                    "created": int(time.time()), "model": body.get("model", "fake"),
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                                 "finish_reason": "stop"}],
                    "usage": {"prompt_tokens": sum(len(m["content"].split()) for m in body["messages"]),
                              "completion_tokens": len(content.split()), "total_tokens": 0},
                })

        return Handler
