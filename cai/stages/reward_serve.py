"""`cai reward serve CONFIG.yaml`: the hybrid reward of a train config over HTTP, for trainers that
roll out elsewhere — OpenRLHF's remote reward model (`--reward.remote_url`), verl and TRL through
`rewards.engines` with `$CAI_REWARD_URL`.

Routes:
  POST /get_reward   OpenRLHF's remote-reward request → its answer (the wire format and the
                     OpenRLHF version it matches: `rewards.engines`); POST / is the same
  GET  /health       {"status": "ok", the queue, the limits, counts}: liveness and load

The reward is loaded once (`rewards.service.open_service`): the same `HybridReward` the PPO,
GRPO and RLOO stages of `cai train` build from this config — checker, preference model (with
--preference), constitution, weights — and the index the labels point into.

Batching and back-pressure: a handler thread reads and checks its request and queues it as a
job; one scoring thread takes the oldest job and the jobs waiting behind it, up to `max_batch`
rows, scores them in one call (the preference model batches them; the running normalisation
advances once) and wakes each handler with its rows' results. The queue holds at most
`queue_size` jobs: a request that finds it full is answered 503 with Retry-After at once, so
memory and latency stay bounded under any load (OpenRLHF's client retries 5 times a second apart;
`rewards.engines`' client backs off up to 10 s). One scoring thread, because the reward keeps
state and its checker is Python under the GIL: to use more cores run one server per core and
give OpenRLHF all their URLs (it spreads its requests over them); each server then keeps its own
normalisation statistics.

Request limits, each answered 4xx with one JSON line {"error": …}: a body over `max_body` bytes
(413, refused from its Content-Length before it is read), not UTF-8 or not JSON or nested over
16 levels or holding a lone surrogate (400), a Content-Type other than JSON (415: a web page may
POST plain text to a local port without asking, but never JSON), not an object with the lists
(400), over `max_rows` rows (413). A row that cannot be scored (its label, its query) gets its
reason in `errors` and a null reward while the others are scored; a request none of whose rows
can be scored is a 422 naming the first reason. Anything else is a 500 that says only that; the
traceback goes to the server's log, never to the client.

Safety, as `cai review` (`cai.core.serving`): 127.0.0.1 by default; any other address needs a
token in `$CAI_REWARD_TOKEN`, which every request must carry as `Authorization: Bearer …` or — for
clients that cannot set headers, such as OpenRLHF, which posts to a bare URL — as `?token=…` in
the URL (the request log never shows query strings). Loopback binds answer only loopback Host
headers; a client has `request_timeout` seconds to send its whole request; at most
`max_connections` connections are served at once, the others get an immediate 503.
"""

from __future__ import annotations

import json
import queue
import socket
import threading
import time
import traceback
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from cai.core.errors import UserError
from cai.core.jsonrows import RowRejected, parse_row
from cai.core.serving import (
    LOOPBACK_HOSTS,
    BoundedHTTPServer,
    DeadlineHandler,
    RequestError,
    bearer,
    busy_response,
    check_bind,
    host_is_loopback,
    log_to_stderr,
    read_body,
    same_token,
    serve_until_interrupted,
)
from rewards.engines import BadRequest, parse_request, response_body
from rewards.service import RewardService, Row, Scored, open_service

TOKEN_ENV = "CAI_REWARD_TOKEN"
ROUTES = ("/get_reward", "/")
MAX_DEPTH = 16  # the request is lists of strings and labels two levels deep: far below
SCORE_TIMEOUT = 900.0  # seconds a request may wait for its result before it is answered 504
DRAIN_BYTES, DRAIN_SECONDS = 64 << 20, 2.0  # what is read of a refused body so the client sees the answer


@dataclass(frozen=True)
class Limits:
    """The server's bounds (see the module docstring); the CLI's flags set them."""

    max_body: int = 8 << 20
    max_rows: int = 256
    max_batch: int = 64
    queue_size: int = 256
    request_timeout: float = 30.0
    max_connections: int = 320


class Job:
    """One request's rows, waiting for the scoring thread; `done` is set when `results` (or
    `failed`) is."""

    def __init__(self, rows: list[Row]) -> None:
        self.rows = rows
        self.results: list[Scored] | None = None
        self.failed = False
        self.abandoned = False  # its handler gave up waiting: not scored
        self.done = threading.Event()


class RewardApp:
    """The service, the bounded queue and the scoring thread."""

    def __init__(self, service: RewardService, limits: Limits, *, token: str | None = None, loopback: bool = True,
                 log: Callable[[str], None] | None = None) -> None:
        self.service, self.limits, self.token, self.loopback, self.log = service, limits, token, loopback, log
        self.jobs: queue.Queue[Job] = queue.Queue(maxsize=limits.queue_size)
        self.counts: Counter[str] = Counter()
        self.started = time.monotonic()
        self.scoring = False
        self._stop = threading.Event()
        self._worker = threading.Thread(target=self._work, name="cai-reward-scorer", daemon=True)
        self._worker.start()

    def stop(self) -> None:
        self._stop.set()
        self._worker.join(timeout=30)

    def submit(self, rows: list[Row]) -> Job:
        job = Job(rows)
        try:
            self.jobs.put_nowait(job)
        except queue.Full:
            self.counts["busy"] += 1
            raise RequestError(503, f"the reward queue is full ({self.limits.queue_size} requests waiting); "
                                    "retry in a second") from None
        self.counts["requests"] += 1
        return job

    def _work(self) -> None:
        while not self._stop.is_set():
            try:
                batch = [self.jobs.get(timeout=0.2)]
            except queue.Empty:
                continue
            rows = len(batch[0].rows)
            while rows < self.limits.max_batch:
                try:
                    batch.append(self.jobs.get_nowait())
                except queue.Empty:
                    break
                rows += len(batch[-1].rows)
            self._score([job for job in batch if not job.abandoned])

    def _score(self, batch: list[Job]) -> None:
        self.scoring = True
        try:
            results = self.service.score([row for job in batch for row in job.rows])
            at = 0
            for job in batch:
                job.results, at = results[at:at + len(job.rows)], at + len(job.rows)
        except Exception:  # noqa: BLE001 — the scoring thread must outlive any batch
            if self.log:
                self.log(f"scoring a batch failed:\n{traceback.format_exc()}")
            for job in batch:
                job.failed = True
        finally:
            self.scoring = False
            for job in batch:
                job.done.set()

    def health(self) -> dict:
        reward = self.service.reward
        return {"status": "ok", "queue": self.jobs.qsize(), "scoring": self.scoring,
                "uptime_s": round(time.monotonic() - self.started, 1), "rows_scored": self.service.rows_scored,
                **{k: self.counts[k] for k in ("requests", "busy", "row_errors")}, "parts": self.service.parts,
                "constitution": reward.constitution.name, "normalise": reward.normalise, "limits": asdict(self.limits)}


class RewardServer(BoundedHTTPServer):
    """The bounded threading server (cai.core.serving) carrying the app; closing it stops the app."""

    def __init__(self, app: RewardApp, host: str, port: int) -> None:
        self.app = app
        busy = busy_response(json.dumps({"error": "too many connections at once; retry in a few seconds"}) + "\n")
        super().__init__(host, port, Handler, request_timeout=app.limits.request_timeout,
                         max_connections=app.limits.max_connections, busy=busy, log=app.log)

    def server_close(self) -> None:
        super().server_close()
        self.app.stop()
        self.app.service.close()


class Handler(DeadlineHandler):
    server: RewardServer
    server_version = "cai-reward"

    refusal = ""  # the error of the answer being sent, for the log line

    def log_request(self, code="-", size="-") -> None:
        """Refusals and failures only, with their reason (a trainer sends thousands of requests)."""
        if isinstance(code, int) and code >= 400 and self.server.log:
            path = urlsplit(getattr(self, "path", "") or "").path  # never the query string: tokens travel there
            self.server.log(f"{getattr(self, 'command', None) or '-'} {path} {int(code)}: {self.refusal}")

    @property
    def app(self) -> RewardApp:
        return self.server.app

    def _json(self, status: int, obj: dict) -> None:
        data = (json.dumps(obj, ensure_ascii=False) + "\n").encode("utf-8")
        self.refusal = str(obj.get("error", ""))[:300]
        self.send_response(status)
        headers = [("Content-Type", "application/json; charset=utf-8"), ("Content-Length", str(len(data))),
                   ("Cache-Control", "no-store"), ("X-Content-Type-Options", "nosniff")]
        if status == 503:
            headers.append(("Retry-After", "1"))
        for key, value in headers:
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def _authorized(self) -> bool:
        given = parse_qs(urlsplit(self.path).query).get("token", [""])[0]
        return same_token(bearer(self), self.app.token) or same_token(given, self.app.token)

    def _handle(self, method: str) -> None:
        try:
            path = urlsplit(self.path).path
            if self.app.loopback and not host_is_loopback(self):
                raise RequestError(403, "this server answers only on 127.0.0.1 / localhost")
            if self.app.token is not None and not self._authorized():
                raise RequestError(401, "this reward server needs its access token: send Authorization: Bearer … "
                                        "or add ?token=… to the URL")
            if method == "GET" and path == "/health":
                return self._json(200, self.app.health())
            if path not in ROUTES:
                raise RequestError(404, f"no route {path}: POST /get_reward, GET /health")
            if method != "POST":
                raise RequestError(405, "POST the request to /get_reward")
            return self._answer(self.app.submit(self._rows()))
        except (RequestError, BadRequest) as e:
            self.close_connection = True
            self._json(e.status, {"error": str(e)})
            self._linger()
        except (BrokenPipeError, ConnectionResetError):  # the client left while it waited: nobody to answer
            self.close_connection = True
        except Exception:  # noqa: BLE001 — one request fails, the server stays up; no traceback to the client
            if self.app.log:
                self.app.log(traceback.format_exc())
            self.close_connection = True
            self._json(500, {"error": "internal error (see the reward server's log)"})

    def _rows(self) -> list[Row]:
        kind = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if kind != "application/json":
            raise RequestError(415, f"Content-Type {kind or '(none)'}: send the request as application/json")
        body = read_body(self, self.app.limits.max_body)
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as e:
            raise RequestError(400, f"the body is not UTF-8 text (byte {e.start} is not); send JSON in UTF-8") from None
        try:
            obj = parse_row(text, max_depth=MAX_DEPTH, max_chars=None)
        except json.JSONDecodeError as e:
            raise RequestError(400, f"the body is not JSON: {e.msg} at line {e.lineno} column {e.colno}") from None
        except RowRejected as e:
            raise RequestError(400, f"the body cannot be read: {e}") from None
        return parse_request(obj, self.app.limits.max_rows)

    def _answer(self, job: Job) -> None:
        if not job.done.wait(SCORE_TIMEOUT):
            job.abandoned = True
            raise RequestError(504, f"not scored within {SCORE_TIMEOUT:.0f} s; the server is overloaded")
        if job.failed or job.results is None:
            raise RuntimeError("the scoring thread failed on this request's batch (logged there)")
        body = response_body(job.results, self.app.service.parts)
        errors = [e for e in body["errors"] if e is not None]
        self.app.counts["row_errors"] += len(errors)
        if len(errors) == len(job.results):
            body["error"] = f"no row could be scored; the first: {errors[0]}"
            return self._json(422, body)
        return self._json(200, body)

    def _linger(self) -> None:
        """After a refusal, read (and drop) what the client is still sending, for a short while, then
        close: closing a socket with unread bytes resets the connection, and the client would see a
        reset instead of the answer."""
        try:
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_WR)
            deadline, left = time.monotonic() + DRAIN_SECONDS, DRAIN_BYTES
            while left > 0 and (wait := deadline - time.monotonic()) > 0:
                self.connection.settimeout(wait)
                chunk = self.connection.recv(min(left, 1 << 16))
                if not chunk:
                    break
                left -= len(chunk)
        except OSError:
            pass


def make_server(config, host: str = "127.0.0.1", port: int = 0, *, preference: Path | None = None,
                token: str | None = None, token_env: str = TOKEN_ENV, limits: Limits = Limits(),
                normalise: bool = True, log: Callable[[str], None] | None = None) -> RewardServer:
    """A bound (not yet serving) reward server for a train config (`TrainConfig`); call
    `serve_forever()` on it, and `server_close()` to stop it and its scoring thread."""
    check_bind(host, token, token_env, "the reward")
    service = open_service(config, preference, normalise=normalise, log=log)
    app = RewardApp(service, limits, token=token, loopback=host in LOOPBACK_HOSTS, log=log)
    try:
        return RewardServer(app, host, port)
    except OSError as e:
        app.stop()
        service.close()
        raise UserError(f"--host {host} --port {port}: cannot listen there ({e.strerror or e})") from None


def serve(config, *, host: str, port: int, preference: Path | None, token: str | None, token_env: str,
          limits: Limits, normalise: bool, echo=print) -> None:
    """`cai reward serve`: serve until Ctrl-C."""
    server = make_server(config, host, port, preference=preference, token=token, token_env=token_env, limits=limits,
                         normalise=normalise, log=log_to_stderr)
    service = server.app.service
    echo(f"cai reward: {len(service.shas)} document(s) in {service.index}; parts {', '.join(service.parts)}; "
         f"batches of up to {limits.max_batch} rows, {limits.queue_size} requests queued at most")
    login = f"?token=<value of ${token_env}>" if token else ""
    echo(f"serving on {server.url}get_reward{login} (health: {server.url}health; Ctrl-C to stop)")
    serve_until_interrupted(server, echo)
