"""The reviewer web app of `cai review`: server-side HTML over the standard library's HTTP server.

Why no web framework: the app is a handful of pages and form posts for a few reviewers on one
machine or a small team; `http.server.ThreadingHTTPServer` serves that with no dependency, no
front-end build step and nothing to load from the network. Every page is rendered on the server
and every form posts back and redirects (POST/redirect/GET), so a reload never resubmits.

The pages themselves (layout, queue, record, agreement, exports, the queue filters) are rendered
in `cai.stages.review_pages`; this module is the HTTP side: the handler, its checks, the server.

Safety:
- Everything from the run (document text, questions, model text) and from people (reviewer names,
  comments, corrected answers) goes through `cai.stages.report_html.esc` (html.escape, quotes
  included) — shown as inert text. A corrected answer is at most `MAX_CORRECTION` characters with
  no control characters but line breaks and tabs (else 400, nothing stored).
- A strict Content-Security-Policy allows no script but the one inline keyboard-shortcut script
  carrying a fresh per-response nonce, and no external resource at all; so even an escaping bug
  could not run injected script. Forms may post only to this origin.
- CSRF: every form carries a per-server secret, checked on every POST.
- Loopback binds answer only requests whose Host header is a loopback name (DNS rebinding).
- With a token (`$CAI_REVIEW_TOKEN`), every request must carry it: `Authorization: Bearer …`,
  an `X-CAI-Review-Token` header, or the HttpOnly cookie set by opening any page with `?token=…`.
- Reviewer names are attribution, not authentication (the token is the gate): a reviewer types
  their name once; it is kept in a cookie and stored with every decision.
- Slow or half-sent requests cannot pin the server (no token is needed to open a connection): a
  client has `request_timeout` seconds in all to send a whole request, and at most
  `max_connections` connections are served at once; the others get an immediate 503.
- Redirect targets taken from a form (`next`) must be paths on this server: anything a browser
  could read as another origin (`//host`, `/\\host`, a scheme, control characters) becomes `/`.
- A Content-Length that is not one plain decimal number is a 400, never a guess.
"""

from __future__ import annotations

import hmac
import json
import secrets
import threading
import traceback
import unicodedata
from collections.abc import Callable
from pathlib import Path
from urllib.parse import parse_qs, quote, unquote, urlencode, urlsplit

from cai.core.errors import UserError
from cai.core.serving import (
    BoundedHTTPServer,
    DeadlineHandler,
    RequestError,
    bearer,
    busy_response,
    host_is_loopback,
    log_to_stderr,
    read_body,
    same_token,
    serve_until_interrupted,
)
from cai.stages.report_html import esc
from cai.stages.review import TOKEN_ENV, ReviewRun, check_bind, export_run
from cai.stages.review_export import MAX_CORRECTION, clean_correction
from cai.stages.review_pages import (
    MAX_COMMENT,
    MAX_NAME,
    Filters,
    agreement_page,
    exports_page,
    layout,
    queue_page,
    record_href,
    record_page,
)
from cai.stages.review_store import DECISIONS, ClaimDecision, Correction

MAX_BODY = 1 << 20
REQUEST_TIMEOUT = 20.0  # seconds a client has to send one whole request (line, headers and body)
MAX_CONNECTIONS = 32  # connections served at once; more are answered 503 without a thread
_BUSY = busy_response("cai review: too many connections at once; retry in a few seconds\n")
REVIEWER_COOKIE = "cai_reviewer"
TOKEN_COOKIE = "cai_review_token"


def csp(nonce: str) -> str:
    return (f"default-src 'none'; style-src 'unsafe-inline'; script-src 'nonce-{nonce}'; form-action 'self'; "
            "base-uri 'none'; frame-ancestors 'none'")


def local_path(target: str) -> str:
    """`target` when it is a path on this server, else "/": a redirect must not leave the origin.

    Browsers read `//host`, `/\\host` (a backslash counts as a slash) and `/<tab>/host` (tabs and
    newlines are dropped) as another host, so any backslash, control character or space refuses it.
    """
    if (not target.startswith("/") or target.startswith("//") or "\\" in target
            or any(ch.isspace() or unicodedata.category(ch).startswith("C") for ch in target)):
        return "/"
    parts = urlsplit(target)
    return target if not parts.scheme and not parts.netloc else "/"


def valid_name(raw: str) -> str | None:
    name = " ".join(raw.split())
    if not name or len(name) > MAX_NAME or any(unicodedata.category(ch).startswith("C") for ch in name):
        return None
    return name


# ---------------------------------------------------------------------------------------- the app
class ReviewApp:
    """State shared by request threads: the run, the secrets, the exports made."""

    def __init__(self, run: ReviewRun, *, token: str | None = None, loopback: bool = True,
                 log: Callable[[str], None] | None = None):
        self.run = run
        self.token = token
        self.loopback = loopback
        self.log = log
        self.csrf = secrets.token_urlsafe(32)
        self.exports: list[tuple[Path, dict]] = []
        self.export_lock = threading.Lock()

    def export(self) -> Path:
        from cai.core.runs import new_run_dir

        with self.export_lock:
            out = new_run_dir(self.run.run_dir.parent, f"{self.run.run_dir.name}-reviewed")
            counts = export_run(self.run, out)
            self.exports.append((out, counts))
            return out


class ReviewServer(BoundedHTTPServer):
    """The bounded threading server (cai.core.serving) carrying the app."""

    def __init__(self, app: ReviewApp, host: str, port: int, *, request_timeout: float = REQUEST_TIMEOUT,
                 max_connections: int = MAX_CONNECTIONS) -> None:
        self.app = app
        super().__init__(host, port, Handler, request_timeout=request_timeout, max_connections=max_connections,
                         busy=_BUSY, log=app.log)


# ----------------------------------------------------------------------------------------- handler
class Handler(DeadlineHandler):
    server: ReviewServer
    server_version = "cai-review"

    # ------------------------------------------------------------------------------- plumbing
    @property
    def app(self) -> ReviewApp:
        return self.server.app

    def _cookies(self) -> dict[str, str]:
        out = {}
        for part in (self.headers.get("Cookie") or "").split(";"):
            key, sep, value = part.strip().partition("=")
            if sep:
                out[key] = unquote(value)
        return out

    def _reviewer(self) -> str | None:
        return valid_name(self._cookies().get(REVIEWER_COOKIE, ""))

    def _send(self, status: int, body: str, headers: list[tuple[str, str]] = (), nonce: str = "") -> None:
        data = body.encode("utf-8")
        self.send_response(status)
        for key, value in [("Content-Type", "text/html; charset=utf-8"), ("Content-Length", str(len(data))),
                           ("Content-Security-Policy", csp(nonce or secrets.token_urlsafe(16))),
                           ("X-Content-Type-Options", "nosniff"), ("X-Frame-Options", "DENY"),
                           ("Referrer-Policy", "no-referrer"), ("Cache-Control", "no-store"), *headers]:
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _page(self, title_body: tuple[str, str], *, script: bool = False, status: int = 200,
              bare: bool = False) -> None:
        nonce = secrets.token_urlsafe(16)
        title, body = title_body
        self._send(status, layout(f"{title} — cai review", body, nonce=nonce, reviewer=self._reviewer(),
                                  csrf=self.app.csrf, here=self.path if self.command == "GET" else "/",
                                  script=script, bare=bare), nonce=nonce)

    def _error(self, status: int, message: str, *, bare: bool = False) -> None:
        self._page(("error", f'<h1>{status}</h1><p class="error" id="error">{esc(message)}</p>'
                             '<p><a href="/">queue</a></p>'), status=status, bare=bare)

    def _redirect(self, location: str, cookies: list[str] = ()) -> None:
        self._send(303, "", [("Location", location), *[("Set-Cookie", c) for c in cookies]])

    def _form(self) -> dict[str, str]:
        raw = read_body(self, MAX_BODY).decode("utf-8", errors="replace")
        return {k: v[0] for k, v in parse_qs(raw, keep_blank_values=True).items()}

    def _authorized(self) -> bool:
        given = [bearer(self), self.headers.get("X-CAI-Review-Token") or "", self._cookies().get(TOKEN_COOKIE, "")]
        return any(same_token(g, self.app.token) for g in given)

    # ---------------------------------------------------------------------------------- routes
    def _handle(self, method: str) -> None:
        try:
            url = urlsplit(self.path)
            query = {k: v[0] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
            if self.app.loopback and not host_is_loopback(self):
                return self._error(403, "this server answers only on 127.0.0.1 / localhost", bare=True)
            if self.app.token is not None:
                if method == "GET" and "token" in query:
                    return self._login(url.path, query)
                if not self._authorized():
                    return self._error(401, "this review server needs its access token: open any page with "
                                            "?token=… (the value of the server's token variable) or send "
                                            "Authorization: Bearer …", bare=True)
            if method == "GET":
                return self._get(url.path, query)
            form = self._form()
            if not hmac.compare_digest(form.get("csrf", "").encode(), self.app.csrf.encode()):
                return self._error(403, "stale or forged form (the server may have restarted): "
                                        "reload the page and submit again")
            return self._post(url.path, form)
        except RequestError as e:
            self.close_connection = True
            return self._error(e.status, str(e), bare=True)
        except Exception:  # noqa: BLE001 — one request fails, the server stays up
            if self.app.log:
                self.app.log(traceback.format_exc())
            return self._error(500, "internal error (see the server's log)")

    def _login(self, path: str, query: dict[str, str]) -> None:
        if not hmac.compare_digest(query["token"].encode(), self.app.token.encode()):
            return self._error(401, "wrong token", bare=True)
        rest = urlencode({k: v for k, v in query.items() if k != "token"})
        cookie = f"{TOKEN_COOKIE}={quote(self.app.token, safe='')}; Path=/; HttpOnly; SameSite=Strict"
        return self._redirect(local_path(path + ("?" + rest if rest else "")), [cookie])

    def _get(self, path: str, query: dict[str, str]) -> None:
        f = Filters.parse(lambda k: query.get(k, ""))
        reviewer = self._reviewer()
        if path == "/":
            return self._page(queue_page(self.app.run, reviewer, f))
        if path == "/record":
            record = self.app.run.by_id.get(query.get("id", ""))
            if record is None:
                return self._error(404, f"no record with id {query.get('id', '')!r} in this run")
            if reviewer is None:
                return self._error(400, "set your reviewer name (top right) first")
            return self._page(record_page(self.app.run, record, reviewer, f, query.get("saved", ""),
                                          csrf=self.app.csrf), script=True)
        if path == "/agreement":
            return self._page(agreement_page(self.app.run))
        if path == "/exports":
            return self._page(exports_page(self.app.exports, csrf=self.app.csrf))
        return self._error(404, f"no page {path}")

    def _post(self, path: str, form: dict[str, str]) -> None:
        if path == "/reviewer":
            name = valid_name(form.get("reviewer", ""))
            if name is None:
                return self._error(400, f"a reviewer name is 1 to {MAX_NAME} printable characters")
            cookie = f"{REVIEWER_COOKIE}={quote(name, safe='')}; Path=/; HttpOnly; SameSite=Strict"
            return self._redirect(local_path(form.get("next", "/")), [cookie])
        if path == "/record":
            return self._post_record(form)
        if path == "/export":
            self.app.export()
            return self._redirect("/exports")
        return self._error(404, f"no form handler at {path}")

    def _post_record(self, form: dict[str, str]) -> None:
        reviewer = self._reviewer()
        if reviewer is None:
            return self._error(400, "set your reviewer name (top right) first; nothing was stored")
        record = self.app.run.by_id.get(form.get("id", ""))
        if record is None:
            return self._error(404, "no such record in this run; nothing was stored")
        action = form.get("action", "submit")
        if action == "discard":
            self.app.run.store.discard(record.id, reviewer)
        elif action == "submit":
            decisions = []
            for i, claim in enumerate(record.claims):
                decision = form.get(f"decision-{i}", "")
                if decision not in DECISIONS:
                    return self._error(400, f"claim {i + 1}: choose accept, reject or flag; nothing was stored")
                comment = form.get(f"comment-{i}", "")[:MAX_COMMENT]
                decisions.append(ClaimDecision(i, claim.text, decision, comment, claim.verdict.value))
            text = clean_correction(form.get("correction", ""))
            if text is None:
                return self._error(400, "the corrected answer holds control characters; nothing was stored")
            if len(text) > MAX_CORRECTION:
                return self._error(400, f"the corrected answer is {len(text)} characters, over the limit of "
                                        f"{MAX_CORRECTION}; nothing was stored")
            self.app.run.store.submit(record.id, reviewer, decisions, correction=self._checked(record, text))
        else:
            return self._error(400, f"unknown action {action!r}")
        f = Filters.parse(lambda k: form.get(k, ""))
        return self._redirect(record_href(record.id, f, saved=action))

    def _checked(self, record, text: str) -> Correction | None:
        """The correction to store with its checker verdicts (checked before the submission's
        transaction, so the store is never locked while a model runs); None for an empty box."""
        if not text:
            return None
        checker, claims = self.app.run.check_correction(record, text)
        return Correction(text, record.final_answer or "", checker,
                          json.dumps([c.model_dump(mode="json") for c in claims], ensure_ascii=False))


def make_server(run_dir: Path, host: str = "127.0.0.1", port: int = 0, *, token: str | None = None,
                log: Callable[[str], None] | None = None, request_timeout: float = REQUEST_TIMEOUT,
                max_connections: int = MAX_CONNECTIONS) -> ReviewServer:
    """A bound (not yet serving) review server; call `serve_forever()` on it."""
    from cai.core.serving import LOOPBACK_HOSTS

    check_bind(host, token)
    app = ReviewApp(ReviewRun.open(run_dir), token=token, loopback=host in LOOPBACK_HOSTS, log=log)
    return ReviewServer(app, host, port, request_timeout=request_timeout, max_connections=max_connections)


def serve(run_dir: Path, *, host: str = "127.0.0.1", port: int = 8765, token: str | None = None,
          token_env: str = TOKEN_ENV, echo=print) -> None:
    """`cai review RUN_DIR`: serve the reviewer UI until Ctrl-C (or SIGTERM)."""
    check_bind(host, token, token_env)
    try:
        server = make_server(run_dir, host, port, token=token, log=log_to_stderr)
    except OSError as e:
        raise UserError(f"--host {host} --port {port}: cannot listen there ({e.strerror or e})") from None
    run = server.app.run
    echo(f"cai review: {len(run.records)} record(s) of {run.run_dir}; decisions stored in {run.store.path}")
    login = f" — open {server.url}?token=<value of ${token_env}>" if token else ""
    echo(f"serving on {server.url}{login} (Ctrl-C to stop)")
    serve_until_interrupted(server, echo)
