"""A small OpenAI-compatible chat server for tests and benchmarks, with fault injection.

Real HTTP on 127.0.0.1 (an ephemeral port), so the `openai` client, its HTTP stack, timeouts and
error mapping are exercised for real. Faults are drawn from a seeded RNG so runs repeat.

`family=` makes it answer structured-output requests like one server family (`FAMILIES`): the
request shapes it takes, and the status and message it returns for any other. The shapes are read
from the request body here, independently of the client's own table (cai.llm.structured), so a
client that sends the wrong shape for a family is refused as that server would refuse it.
"""

from __future__ import annotations

import hashlib
import json
import random
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

FAULTS = ("429", "500", "garbage", "timeout", "drop")


@dataclass(frozen=True)
class Family:
    """How one server family treats structured output: the request shapes it takes (`shape` names)
    and its answer to any other shape; `{got}` in the message is the shape it was sent."""

    accepts: frozenset[str]
    status: int
    message: str


def _is_schema(value: object) -> bool:
    return isinstance(value, dict) and value.get("type") == "object" and isinstance(value.get("properties"), dict)


def shape(body: dict) -> list[str]:
    """The structured-output shapes a chat request carries (`malformed` for a field it cannot read)."""
    out = []
    rf = body.get("response_format")
    if rf is not None:
        kind = rf.get("type") if isinstance(rf, dict) else None
        if kind == "json_schema" and _is_schema((rf.get("json_schema") or {}).get("schema")) \
                and rf["json_schema"].get("name"):
            out.append("json_schema")
        elif kind == "json_object" and "schema" in rf:
            out.append("json_object_schema" if _is_schema(rf["schema"]) else "malformed")
        elif kind in ("json", "json_object") and "value" in rf:
            out.append("tgi_grammar" if _is_schema(rf["value"]) else "malformed")
        elif kind == "json_object":
            out.append("json_object")
        else:
            out.append("malformed" if kind != "text" else "text")
    if "guided_json" in body:
        out.append("guided_json" if _is_schema(body["guided_json"]) else "malformed")
    if "format" in body:
        out.append("ollama_format" if _is_schema(body["format"]) else "malformed")
    return out


# Modelled on what each server answers (status, and the gist of its message) for a format it lacks.
FAMILIES = {
    "openai": Family(frozenset({"json_schema", "json_object"}), 400,
                     "Invalid value for 'response_format': {got} is not supported; supported values are "
                     "'json_object', 'json_schema' and 'text'."),
    "vllm": Family(frozenset({"json_schema", "json_object", "guided_json"}), 400,
                   "1 validation error for ChatCompletionRequest: response_format: Input should be 'text', "
                   "'json_object' or 'json_schema' (got {got})"),
    "sglang": Family(frozenset({"json_schema", "json_object"}), 400,
                     "response_format {got} is not supported: use json_schema"),
    "tgi": Family(frozenset({"tgi_grammar"}), 422,
                  "Failed to deserialize the JSON body into the target type: response_format: unknown variant "
                  "`{got}`, expected `json` or `regex`"),
    "llama_cpp": Family(frozenset({"json_object_schema", "json_object"}), 500,
                        "[{{'type': 'literal_error', 'loc': ('body', 'response_format', 'type'), "
                        "'msg': \"Input should be 'text' or 'json_object'\", 'input': '{got}'}}]"),
    "ollama": Family(frozenset({"ollama_format"}), 400, "invalid format: {got} (give format: a JSON schema)"),
    # `transformers serve` takes response_format and does not enforce it: nothing is refused.
    "transformers_serve": Family(frozenset({"json_schema", "json_object_schema", "tgi_grammar", "guided_json",
                                            "ollama_format", "json_object", "malformed", "text"}), 400, ""),
}


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:
        """A client closing its kept-alive connection is not worth a traceback on stderr."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


def echo_reply(messages: list[dict], body: dict) -> str:
    """Default content: a JSON object when a schema is asked for, else the last user message."""
    if body.get("response_format") or "guided_json" in body or "format" in body:
        return json.dumps({"answer": "ok", "n_messages": len(messages)})
    return "echo: " + messages[-1]["content"][:200]


class FakeOpenAIServer:
    """`with FakeOpenAIServer(latency_s=0.2, fault_rate=0.2) as srv: srv.base_url`

    `echo_auth_status=401` (or 400, 500, ...) answers every chat request with that status and an
    error body that echoes the request's Authorization header, as some servers and proxies do: the
    hostile case for keeping API keys out of stored errors.

    `family="tgi"` (a key of FAMILIES) refuses structured-output shapes that family lacks, as it
    would; every request's shapes are counted in `stats` (`shape:NAME`, `refused:NAME`). `models`:
    the ids GET /v1/models lists (None: no such route, 404)."""

    def __init__(self, *, latency_s: float = 0.0, fault_rate: float = 0.0, faults: tuple[str, ...] = FAULTS,
                 reply: Callable[[list[dict], dict], str] = echo_reply, json_schema: bool = True,
                 timeout_sleep_s: float = 5.0, seed: int = 0, port: int = 0, echo_auth_status: int | None = None,
                 family: str | None = None, models: tuple[str, ...] | None = None):
        self.family = FAMILIES[family] if family is not None else None
        self.models = models
        self.bodies: list[dict] = []  # every chat request body, in arrival order
        self.echo_auth_status = echo_auth_status
        self.latency_s = latency_s
        self.fault_rate = fault_rate
        self.faults = faults
        self.reply = reply
        self.json_schema = json_schema
        self.timeout_sleep_s = timeout_sleep_s
        self.seed = seed
        self._seen: Counter[str] = Counter()  # request messages -> times seen (`_draw_fault`)
        self.lock = threading.Lock()
        self.stats: Counter[str] = Counter()
        self.max_in_flight = 0
        self._in_flight = 0
        self.httpd = _Server(("127.0.0.1", port), self._handler())
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

    def _draw_fault(self, body: dict) -> str | None:
        """A fault drawn from the seed, the request's messages and how often they came before: a
        request meets the same faults in any arrival order, so concurrent clients do not make a
        seeded test pass or fail by timing."""
        if not self.fault_rate:
            return None
        key = hashlib.sha256(json.dumps(body.get("messages"), sort_keys=True).encode()).hexdigest()
        with self.lock:
            self._seen[key] += 1
            rng = random.Random(f"{self.seed}:{key}:{self._seen[key]}")
        return rng.choice(self.faults) if rng.random() < self.fault_rate else None

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

            def do_GET(self):  # noqa: N802 (http.server API)
                if self.path.rstrip("/").endswith("/models") and server.models is not None:
                    return self._send(200, {"object": "list", "data": [{"id": m, "object": "model"}
                                                                       for m in server.models]})
                return self._send(404, {"error": {"message": f"no route {self.path}"}})

            def do_POST(self):  # noqa: N802 (http.server API)
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                with server.lock:
                    server.bodies.append(body)
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
                fault = server._draw_fault(body)
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
                if self._refused(body):
                    return None
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

            def _refused(self, body: dict) -> bool:
                """Send the family's refusal of the first shape it does not take; False: serve the request."""
                shapes = shape(body)
                with server.lock:
                    server.stats.update(f"shape:{s}" for s in shapes)
                family = server.family
                if family is None:
                    return False
                for got in shapes:
                    if got not in family.accepts:
                        with server.lock:
                            server.stats[f"refused:{got}"] += 1
                        message = family.message.format(got=got)
                        error = message if family.status == 422 else {"message": message}  # TGI: a plain string
                        self._send(family.status, {"error": error})
                        return True
                return False

        return Handler
