"""The reviewer web app of `cai review`: server-side HTML over the standard library's HTTP server.

Why no web framework: the app is a handful of pages and form posts for a few reviewers on one
machine or a small team; `http.server.ThreadingHTTPServer` serves that with no dependency, no
front-end build step and nothing to load from the network. Every page is rendered on the server
and every form posts back and redirects (POST/redirect/GET), so a reload never resubmits.

Safety:
- Everything from the run (document text, questions, model text) and from people (reviewer names,
  comments) goes through `cai.stages.report_html.esc` (html.escape, quotes included) — shown as inert text.
- A strict Content-Security-Policy allows no script but the one inline keyboard-shortcut script
  carrying a fresh per-response nonce, and no external resource at all; so even an escaping bug
  could not run injected script. Forms may post only to this origin.
- CSRF: every form carries a per-server secret, checked on every POST.
- Loopback binds answer only requests whose Host header is a loopback name (DNS rebinding).
- With a token (`$CAI_REVIEW_TOKEN`), every request must carry it: `Authorization: Bearer …`,
  an `X-CAI-Review-Token` header, or the HttpOnly cookie set by opening any page with `?token=…`.
- Reviewer names are attribution, not authentication (the token is the gate): a reviewer types
  their name once; it is kept in a cookie and stored with every decision.
"""

from __future__ import annotations

import hmac
import secrets
import socket
import threading
import traceback
import unicodedata
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, quote, unquote, urlencode, urlsplit

from cai.core.contracts import Record
from cai.core.errors import UserError
from cai.stages.report_html import CSS as AUDIT_CSS
from cai.stages.report_html import (
    QuoteChecks,
    esc,
    quote_html,
    rounds_html,
    sources_html,
    valid_spans,
)
from cai.stages.review import NO_RULE, TOKEN_ENV, ReviewRun, agreement, ai_label, check_bind, export_run
from cai.stages.review_store import DECISIONS, ClaimDecision

MAX_BODY = 1 << 20
MAX_NAME = 60
MAX_COMMENT = 2000
REVIEWER_COOKIE = "cai_reviewer"
TOKEN_COOKIE = "cai_review_token"
LOOPBACK_NAMES = {"127.0.0.1", "localhost", "::1", "[::1]"}

CSS = AUDIT_CSS + """
nav{display:flex;gap:1em;align-items:center;border-bottom:1px solid #ddd;padding:.4em 0;margin-bottom:1em}
nav form{margin-left:auto}.banner{background:#e9f7ee;border:1px solid #8c8;padding:.4em .8em;border-radius:4px}
.error{background:#fdecec;border:1px solid #d88;padding:.4em .8em;border-radius:4px}
fieldset.claim-row{border:1px solid #ccc;border-radius:6px;margin:.8em 0;padding:.4em 1em}
fieldset.claim-row.current{outline:3px solid #4a7bd0}.choices label{margin-right:1.2em}
.suggest{font-size:12px;color:#555}.low{color:#a31b1b;font-weight:600}.status-submitted{color:#116b2f}
.status-discarded{color:#777}.status-pending{color:#8a5a00}kbd{border:1px solid #bbb;border-radius:3px;padding:0 .3em}
input[name^=comment]{width:70%}.filters label{margin-right:1em}td.qid{white-space:nowrap}
"""

# The only script: keyboard shortcuts on the record page (a/r/f decide, j/k move, s submit).
KEYS_JS = """(function(){
var rows=[].slice.call(document.querySelectorAll('fieldset.claim-row'));var cur=0;
function focus(i){if(!rows.length)return;cur=Math.max(0,Math.min(rows.length-1,i));
rows.forEach(function(r,j){r.classList.toggle('current',j===cur)});rows[cur].scrollIntoView({block:'nearest'});}
function pick(v){var el=rows[cur]&&rows[cur].querySelector('input[type=radio][value='+v+']');if(el)el.checked=true;}
rows.forEach(function(r,j){r.addEventListener('focusin',function(){focus(j)});});
document.addEventListener('keydown',function(e){var t=e.target;
if(e.ctrlKey||e.metaKey||e.altKey)return;
if(t&&(t.tagName==='TEXTAREA'||t.tagName==='SELECT'||(t.tagName==='INPUT'&&t.type!=='radio')))return;
var k=e.key;
if(k==='a')pick('accept');else if(k==='r')pick('reject');else if(k==='f')pick('flag');
else if(k==='j')focus(cur+1);else if(k==='k')focus(cur-1);
else if(k==='s'){var f=document.getElementById('review-form');if(f)f.requestSubmit(document.getElementById('submit-btn'));}
else return;e.preventDefault();});
focus(0);})();"""


def csp(nonce: str) -> str:
    return (f"default-src 'none'; style-src 'unsafe-inline'; script-src 'nonce-{nonce}'; form-action 'self'; "
            "base-uri 'none'; frame-ancestors 'none'")


def _rate(x: float | None) -> str:
    return "–" if x is None else f"{x:.0%}"


def _kappa(x: float | None) -> str:
    return "undefined" if x is None else f"{x:.2f}"


def valid_name(raw: str) -> str | None:
    name = " ".join(raw.split())
    if not name or len(name) > MAX_NAME or any(unicodedata.category(ch).startswith("C") for ch in name):
        return None
    return name


# ------------------------------------------------------------------------------------------ filters
@dataclass
class Filters:
    """Queue filters: reviewer status, and claim-level rule / verdict / score range."""

    status: str = "all"
    rule: str = ""
    verdict: str = ""
    min_score: float | None = None
    max_score: float | None = None

    @classmethod
    def parse(cls, get: Callable[[str], str]) -> Filters:
        def score(key: str) -> float | None:
            try:
                value = float(get(key))
            except ValueError:
                return None
            return value if 0.0 <= value <= 1.0 else None

        status = get("status")
        verdict = get("verdict")
        return cls(status=status if status in ("pending", "submitted", "discarded") else "all", rule=get("rule"),
                   verdict=verdict if verdict in ("supported", "unsupported", "unverified") else "",
                   min_score=score("min_score"), max_score=score("max_score"))

    def params(self) -> dict[str, str]:
        out = {"status": self.status if self.status != "all" else "", "rule": self.rule, "verdict": self.verdict,
               "min_score": "" if self.min_score is None else f"{self.min_score:g}",
               "max_score": "" if self.max_score is None else f"{self.max_score:g}"}
        return {k: v for k, v in out.items() if v}

    def claim_ok(self, run: ReviewRun, record: Record, i: int) -> bool:
        c = record.claims[i]
        return ((not self.rule or self.rule in run.rules[record.id][i]) and (not self.verdict or c.verdict.value == self.verdict)
                and (self.min_score is None or c.score >= self.min_score) and (self.max_score is None or c.score <= self.max_score))

    def matches(self, run: ReviewRun, record: Record, status: str) -> bool:
        if self.status != "all" and status != self.status:
            return False
        if not (self.rule or self.verdict or self.min_score is not None or self.max_score is not None):
            return True
        return any(self.claim_ok(run, record, i) for i in range(len(record.claims)))


# ---------------------------------------------------------------------------------------- the app
class ReviewApp:
    """State shared by request threads: the run, the secrets, the exports made."""

    def __init__(self, run: ReviewRun, *, token: str | None = None, loopback: bool = True, log: Callable[[str], None] | None = None):
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


class ReviewServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, app: ReviewApp, host: str, port: int) -> None:
        self.address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.app = app
        super().__init__((host, port), Handler)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{'[' + host + ']' if ':' in host else host}:{port}/"


# ------------------------------------------------------------------------------------------- pages
def layout(title: str, body: str, *, nonce: str, reviewer: str | None, csrf: str, here: str = "/", script: bool = False,
           bare: bool = False) -> str:
    """A whole page; `bare` (for requests not let in) has no navigation and no form secret."""
    who = (f'<form method="post" action="/reviewer"><input type="hidden" name="csrf" value="{esc(csrf)}">'
           f'<input type="hidden" name="next" value="{esc(here)}">reviewer <input name="reviewer" value="{esc(reviewer or "")}" '
           f'maxlength="{esc(str(MAX_NAME))}" required placeholder="your name"> <button>set</button></form>')
    nav = f'<nav><b>cai review</b><a href="/">queue</a><a href="/agreement">agreement</a><a href="/exports">exports</a>{who}</nav>'
    nav = "<nav><b>cai review</b></nav>" if bare else nav
    js = f'<script nonce="{esc(nonce)}">{KEYS_JS}</script>' if script else ""
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{esc(title)}</title>'
            f"<style>{CSS}</style></head><body>{nav}{body}{js}</body></html>\n")


def _select(name: str, value: str, options: list[tuple[str, str]]) -> str:
    opts = "".join(f'<option value="{esc(v)}"{" selected" if v == value else ""}>{esc(label)}</option>' for v, label in options)
    return f'<select name="{esc(name)}">{opts}</select>'


def _score_input(name: str, value: float | None) -> str:
    shown = "" if value is None else f"{value:g}"
    return f'<input name="{esc(name)}" size="4" value="{esc(shown)}" placeholder="0–1">'


def _filter_form(run: ReviewRun, f: Filters) -> str:
    rules = [("", "any rule")] + [(r, r) for r in run.all_rules()]
    verdicts = [("", "any verdict"), ("supported", "supported"), ("unsupported", "unsupported"), ("unverified", "unverified")]
    statuses = [("all", "all"), ("pending", "pending"), ("submitted", "submitted"), ("discarded", "discarded")]
    return ('<form method="get" action="/" class="filters">'
            f'<label>status {_select("status", f.status, statuses)}</label><label>rule {_select("rule", f.rule, rules)}</label>'
            f'<label>verdict {_select("verdict", f.verdict, verdicts)}</label>'
            f'<label>score from {_score_input("min_score", f.min_score)} to {_score_input("max_score", f.max_score)}</label>'
            '<button>filter</button> <a href="/">clear</a></form>')


def _record_href(record_id: str, f: Filters, **extra: str) -> str:
    return "/record?" + urlencode({"id": record_id, **f.params(), **extra})


def queue_page(app: ReviewApp, reviewer: str | None, f: Filters) -> tuple[str, str]:
    run = app.run
    mine = app.run.store.statuses(reviewer) if reviewer else {}
    everyone = Counter(rid for (rid, _), s in app.run.store.statuses().items() if s == "submitted")
    status = {r.id: mine.get((r.id, reviewer), "pending") for r in run.records}
    tally = Counter(status.values())
    rows = []
    for n, r in enumerate(run.records, 1):
        if not f.matches(run, r, status[r.id]):
            continue
        verdicts = Counter(c.verdict.value for c in r.claims)
        rules = sorted({x for per in run.rules[r.id] for x in per} - {NO_RULE})
        low = min((c.score for c in r.claims), default=None)
        rows.append(f'<tr><td class="num">{n}</td><td class="qid"><a href="{esc(_record_href(r.id, f))}">{esc(r.id)}</a></td>'
                    f'<td>{esc(r.question)}</td><td>{esc(", ".join(f"{k} {v}" for k, v in sorted(verdicts.items())) or "no claims")}</td>'
                    f'<td class="num">{"–" if low is None else f"{low:.2f}"}</td><td>{" ".join(f"<span class=rule>{esc(x)}</span>" for x in rules)}</td>'
                    f'<td class="status-{status[r.id]}">{status[r.id]}</td><td class="num">{everyone.get(r.id, 0)}</td></tr>')
    counts = " · ".join(f"{k} {tally.get(k, 0)}" for k in ("pending", "submitted", "discarded"))
    hint = "" if reviewer else '<p class="error">Set your reviewer name (top right) before reviewing.</p>'
    skipped = f'<p class="muted">{len(run.data.skipped)} unreadable line(s) in records.jsonl skipped.</p>' if run.data.skipped else ""
    body = (f'<h1>Queue — {esc(run.run_dir.name)}</h1>{hint}<p>{len(run.records)} record(s); yours: {counts}</p>{skipped}'
            + _filter_form(run, f) + f'<p>{len(rows)} shown</p><table><tr><th>#</th><th>id</th><th>question</th><th>AI verdicts</th>'
            '<th>min score</th><th>rules</th><th>your status</th><th>reviewers submitted</th></tr>' + "".join(rows) + "</table>")
    return "queue", body


def _answer(text: str | None, record: Record) -> str:
    if not text:
        return '<p class="muted">(no final answer)</p>'
    out, pos = [], 0
    for a, b, n in valid_spans(text, record.claims):
        v = record.claims[n].verdict.value
        out.append(esc(text[pos:a]) + f'<a class="claim {esc(v)}" href="#claim-{n}">{esc(text[a:b])}<sup>{n + 1}</sup></a>')
        pos = b
    return f'<div class="answer">{"".join(out)}{esc(text[pos:])}</div>'


def _claim_fieldset(app: ReviewApp, record: Record, i: int, mine: dict, checks: QuoteChecks) -> str:
    c = record.claims[i]
    suggestion = ai_label(c)
    chosen = mine[i].decision if i in mine and mine[i].claim_text == c.text else suggestion
    comment = mine[i].comment if i in mine and mine[i].claim_text == c.text else ""
    radios = "".join(f'<label><input type="radio" name="decision-{i}" value="{d}"{" checked" if d == chosen else ""}> {d}</label>'
                     for d in DECISIONS)
    rules = " ".join(f'<span class="rule">{esc(r)}</span>' for r in app.run.rules[record.id][i])
    evidence = quote_html(c.evidence, checks) if c.evidence else '<div class="check unchecked">no evidence recorded</div>'
    why = f'<div class="muted">why: {esc(c.reason)}</div>' if c.reason else ""
    return (f'<fieldset class="claim-row" id="claim-{i}"><legend>claim {i + 1} — AI: <span class="verdict {esc(c.verdict.value)}">'
            f'{esc(c.verdict.value)}</span> score <span class="num">{c.score:.3f}</span></legend><div class="claim-text">{esc(c.text)}</div>'
            f'{why}<div>rules: {rules}</div>{evidence}<div class="choices">{radios}'
            f'<span class="suggest">AI suggests <b>{suggestion}</b>{" (pre-filled)" if i not in mine else " · your last decision pre-filled"}</span></div>'
            f'<div>comment <input name="comment-{i}" maxlength="{MAX_COMMENT}" value="{esc(comment)}"></div></fieldset>')


def _neighbours(app: ReviewApp, record: Record, reviewer: str, f: Filters) -> str:
    mine = app.run.store.statuses(reviewer)
    status = {r.id: mine.get((r.id, reviewer), "pending") for r in app.run.records}
    ids = [r.id for r in app.run.records if f.matches(app.run, r, status[r.id])]
    links = ['<a href="/?' + esc(urlencode(f.params())) + '">← queue</a>']
    if record.id in ids:
        k = ids.index(record.id)
        if k > 0:
            links.append(f'<a href="{esc(_record_href(ids[k - 1], f))}">previous</a>')
        if k + 1 < len(ids):
            links.append(f'<a href="{esc(_record_href(ids[k + 1], f))}">next</a>')
        pending = [x for x in ids[k + 1:] + ids[:k] if status[x] == "pending"]
    else:
        pending = [x for x in ids if status[x] == "pending"]
    if pending:
        links.append(f'<a id="next-pending" href="{esc(_record_href(pending[0], f))}">next pending →</a>')
    return "<p>" + " · ".join(links) + "</p>"


def record_page(app: ReviewApp, record: Record, reviewer: str, f: Filters, saved: str) -> tuple[str, str]:
    store = app.run.store
    mine = store.mine(record.id, reviewer)
    status = store.status(record.id, reviewer)
    others = sum(1 for (rid, who), s in store.statuses().items() if rid == record.id and who != reviewer and s == "submitted")
    banner = {"submit": '<p class="banner" id="saved">Submitted: your decisions are stored.</p>',
              "discard": '<p class="banner" id="saved">Discarded: this record is out of your queue.</p>'}.get(saved, "")
    hidden = "".join(f'<input type="hidden" name="{esc(k)}" value="{esc(v)}">' for k, v in {"csrf": app.csrf, "id": record.id, **f.params()}.items())
    checks = QuoteChecks(app.run.data.config.get("index"))
    try:
        claims = "".join(_claim_fieldset(app, record, i, mine, checks) for i in range(len(record.claims)))
        context = (f"<h2>Sources</h2>{sources_html(record.sources)}<h2>Draft</h2>"
                   f'<div class="answer">{esc(record.draft or "(none)")}</div><h2>Critique rounds</h2>{rounds_html(record, checks)}')
    finally:
        checks.close()
    history = [h for h in store.history(record.id) if h["reviewer"] == reviewer]
    trail = "".join(f"<li>{esc(h['created_at'])}: {esc(h['action'])}</li>" for h in history)
    body = (f'{_neighbours(app, record, reviewer, f)}{banner}<h1><span class="qid">{esc(record.id)}</span> {esc(record.question)}</h1>'
            f'<p>your status: <b class="status-{status}" id="my-status">{status}</b> · other reviewers submitted: {others}</p>'
            f"<h2>Final answer</h2>{_answer(record.final_answer, record)}"
            '<p class="muted">keys: <kbd>a</kbd> accept · <kbd>r</kbd> reject · <kbd>f</kbd> flag · <kbd>j</kbd>/<kbd>k</kbd> next/previous claim · '
            '<kbd>s</kbd> submit</p>'
            f'<form method="post" action="/record" id="review-form">{hidden}{claims or "<p class=muted>no claims to review</p>"}'
            '<button name="action" value="submit" id="submit-btn">submit</button> '
            '<button name="action" value="discard" id="discard-btn">discard record</button></form>'
            + (f"<h3>Your submissions</h3><ul>{trail}</ul>" if trail else "") + context)
    return record.id, body


def agreement_page(app: ReviewApp) -> tuple[str, str]:
    rows, stale = agreement(app.run)
    out = []
    for r in rows:
        pairs = "<br>".join(f"{esc(p.a)} × {esc(p.b)}: κ {_kappa(p.kappa)} (n={p.n}, agree {_rate(p.observed)})" for p in r.pairs) or "–"
        low = " low" if r.ai_rate is not None and r.ai_rate < 0.7 else ""
        out.append(f'<tr><td><span class="rule">{esc(r.rule)}</span></td><td class="num">{r.claims}</td><td class="num">{r.labelled}</td>'
                   f'<td class="num">{r.labels}</td><td class="num{low}">{_rate(r.ai_rate)}</td><td class="num">{_kappa(r.ai_kappa)}</td>'
                   f"<td>{pairs}</td></tr>")
    body = ("<h1>Agreement</h1><p>Per rule: claims of the final answers that a violation of the rule names (see "
            "<code>cai.stages.review</code>); claims no violation names are under (no rule). AI label: supported → accept, otherwise "
            "reject. κ is Cohen's kappa; undefined when both raters used one and the same label throughout, and 0 when only "
            "one of them did (e.g. the AI accepted every claim of the rule): read the agreement column there. "
            "Agreement with the AI below 70% is marked: there the AI labeler is not to be trusted without review.</p>"
            + (f'<p class="muted">{stale} stale decision(s) (their claim changed) left out.</p>' if stale else "")
            + '<table id="agreement"><tr><th>rule</th><th>claims</th><th>labelled</th><th>human labels</th>'
            "<th>human = AI</th><th>κ human vs AI</th><th>reviewer pairs</th></tr>" + "".join(out) + "</table>")
    return "agreement", body


def exports_page(app: ReviewApp) -> tuple[str, str]:
    done = "".join(f'<li><code class="export-path">{esc(path)}</code>: {esc(c["labels"])} decision(s), {esc(c["human_pairs"])} human pair(s), '
                   f'sft {esc(c["sft"])}</li>' for path, c in app.exports)
    body = ("<h1>Export</h1><p>Writes a new generate run beside this one: the original files, sft.jsonl without answers "
            "reviewers rejected, preferences.jsonl with human pairs added, and labels.jsonl. Train on it with "
            "<code>cai train CONFIG.yaml data=THAT_DIR</code>. The reviewed run is never modified.</p>"
            f'<form method="post" action="/export"><input type="hidden" name="csrf" value="{esc(app.csrf)}">'
            '<button id="export-btn">export reviewed data</button></form>'
            + (f'<h2>Exported by this server</h2><ul id="exports">{done}</ul>' if done else ""))
    return "exports", body


# ----------------------------------------------------------------------------------------- handler
class Handler(BaseHTTPRequestHandler):
    server: ReviewServer
    server_version = "cai-review"
    sys_version = ""

    def do_GET(self) -> None:  # noqa: N802 — http.server's naming
        self._handle("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._handle("POST")

    def log_message(self, format: str, *args) -> None:  # noqa: A002 — no query strings (tokens) in logs
        if self.server.app.log:
            self.server.app.log(f"{self.command} {urlsplit(self.path).path} {args[1] if len(args) > 1 else ''}")

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
                           ("Content-Security-Policy", csp(nonce or secrets.token_urlsafe(16))), ("X-Content-Type-Options", "nosniff"),
                           ("X-Frame-Options", "DENY"), ("Referrer-Policy", "no-referrer"), ("Cache-Control", "no-store"), *headers]:
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _page(self, title_body: tuple[str, str], *, script: bool = False, status: int = 200, bare: bool = False) -> None:
        nonce = secrets.token_urlsafe(16)
        title, body = title_body
        self._send(status, layout(f"{title} — cai review", body, nonce=nonce, reviewer=self._reviewer(), csrf=self.app.csrf,
                                  here=self.path if self.command == "GET" else "/", script=script, bare=bare), nonce=nonce)

    def _error(self, status: int, message: str, *, bare: bool = False) -> None:
        self._page(("error", f'<h1>{status}</h1><p class="error" id="error">{esc(message)}</p><p><a href="/">queue</a></p>'),
                   status=status, bare=bare)

    def _redirect(self, location: str, cookies: list[str] = ()) -> None:
        self._send(303, "", [("Location", location), *[("Set-Cookie", c) for c in cookies]])

    def _form(self) -> dict[str, str] | None:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            return None
        raw = self.rfile.read(length).decode("utf-8", errors="replace")
        return {k: v[0] for k, v in parse_qs(raw, keep_blank_values=True).items()}

    def _host_ok(self) -> bool:
        host = (self.headers.get("Host") or "").strip().lower()
        name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
        return name in LOOPBACK_NAMES

    def _authorized(self) -> bool:
        auth = self.headers.get("Authorization") or ""
        given = [auth[7:].strip() if auth.lower().startswith("bearer ") else "", self.headers.get("X-CAI-Review-Token") or "",
                 self._cookies().get(TOKEN_COOKIE, "")]
        return any(g and hmac.compare_digest(g.encode(), self.app.token.encode()) for g in given)

    # ---------------------------------------------------------------------------------- routes
    def _handle(self, method: str) -> None:
        try:
            url = urlsplit(self.path)
            query = {k: v[0] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
            if self.app.loopback and not self._host_ok():
                return self._error(403, "this server answers only on 127.0.0.1 / localhost", bare=True)
            if self.app.token is not None:
                if method == "GET" and "token" in query:
                    return self._login(url.path, query)
                if not self._authorized():
                    return self._error(401, "this review server needs its access token: open any page with ?token=… "
                                            "(the value of the server's token variable) or send Authorization: Bearer …", bare=True)
            if method == "GET":
                return self._get(url.path, query)
            form = self._form()
            if form is None:
                return self._error(413, "request too large")
            if not hmac.compare_digest(form.get("csrf", "").encode(), self.app.csrf.encode()):
                return self._error(403, "stale or forged form (the server may have restarted): reload the page and submit again")
            return self._post(url.path, form)
        except Exception:  # noqa: BLE001 — one request fails, the server stays up
            if self.app.log:
                self.app.log(traceback.format_exc())
            return self._error(500, "internal error (see the server's log)")

    def _login(self, path: str, query: dict[str, str]) -> None:
        if not hmac.compare_digest(query["token"].encode(), self.app.token.encode()):
            return self._error(401, "wrong token", bare=True)
        rest = urlencode({k: v for k, v in query.items() if k != "token"})
        cookie = f"{TOKEN_COOKIE}={quote(self.app.token, safe='')}; Path=/; HttpOnly; SameSite=Strict"
        return self._redirect(path + ("?" + rest if rest else ""), [cookie])

    def _get(self, path: str, query: dict[str, str]) -> None:
        f = Filters.parse(lambda k: query.get(k, ""))
        reviewer = self._reviewer()
        if path == "/":
            return self._page(queue_page(self.app, reviewer, f))
        if path == "/record":
            record = self.app.run.by_id.get(query.get("id", ""))
            if record is None:
                return self._error(404, f"no record with id {query.get('id', '')!r} in this run")
            if reviewer is None:
                return self._error(400, "set your reviewer name (top right) first")
            return self._page(record_page(self.app, record, reviewer, f, query.get("saved", "")), script=True)
        if path == "/agreement":
            return self._page(agreement_page(self.app))
        if path == "/exports":
            return self._page(exports_page(self.app))
        return self._error(404, f"no page {path}")

    def _post(self, path: str, form: dict[str, str]) -> None:
        if path == "/reviewer":
            name = valid_name(form.get("reviewer", ""))
            if name is None:
                return self._error(400, f"a reviewer name is 1 to {MAX_NAME} printable characters")
            nxt = form.get("next", "/")
            nxt = nxt if nxt.startswith("/") and not nxt.startswith("//") else "/"
            return self._redirect(nxt, [f"{REVIEWER_COOKIE}={quote(name, safe='')}; Path=/; HttpOnly; SameSite=Strict"])
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
                decisions.append(ClaimDecision(i, claim.text, decision, form.get(f"comment-{i}", "")[:MAX_COMMENT], claim.verdict.value))
            self.app.run.store.submit(record.id, reviewer, decisions)
        else:
            return self._error(400, f"unknown action {action!r}")
        f = Filters.parse(lambda k: form.get(k, ""))
        return self._redirect(_record_href(record.id, f, saved=action))


def make_server(run_dir: Path, host: str = "127.0.0.1", port: int = 0, *, token: str | None = None,
                log: Callable[[str], None] | None = None) -> ReviewServer:
    """A bound (not yet serving) review server; call `serve_forever()` on it."""
    from cai.stages.review import LOOPBACK_HOSTS

    check_bind(host, token)
    app = ReviewApp(ReviewRun.open(run_dir), token=token, loopback=host in LOOPBACK_HOSTS, log=log)
    return ReviewServer(app, host, port)


def serve(run_dir: Path, *, host: str = "127.0.0.1", port: int = 8765, token: str | None = None,
          token_env: str = TOKEN_ENV, echo=print) -> None:
    """`cai review RUN_DIR`: serve the reviewer UI until Ctrl-C (or SIGTERM)."""
    import sys

    check_bind(host, token, token_env)
    try:
        server = make_server(run_dir, host, port, token=token, log=lambda line: print(line, file=sys.stderr, flush=True))
    except OSError as e:
        raise UserError(f"--host {host} --port {port}: cannot listen there ({e.strerror or e})") from None
    run = server.app.run
    echo(f"cai review: {len(run.records)} record(s) of {run.run_dir}; decisions stored in {run.store.path}")
    login = f" — open {server.url}?token=<value of ${token_env}>" if token else ""
    echo(f"serving on {server.url}{login} (Ctrl-C to stop)")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        echo("stopped")
    finally:
        server.server_close()
