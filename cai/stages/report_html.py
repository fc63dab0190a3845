"""What the audit report and the reviewer UI share: a run's records read from disk (`load_run`),
quotes re-checked against the index (`QuoteChecks`), the stylesheet and the escaped HTML pieces of
one record (answer with linked claims, evidence, critique rounds, sources).

Safety: every piece of document, model, question and config text goes through `esc`
(`html.escape`, attribute values too), so a document holding `<script>`, HTML or instructions shows
as inert text.
"""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from cai.core.contracts import (
    ClaimVerdict,
    Evidence,
    Locator,
    Record,
    RuleViolation,
    SearchHit,
)
from cai.core.errors import UserError
from cai.core.jsonrows import RowRejected, parse_row
from cai.core.redact import config_secrets, redact


def esc(value: Any) -> str:
    """Escaped text (and attribute-safe: quotes are escaped too)."""
    return escape("" if value is None else str(value), quote=True)


# ------------------------------------------------------------------------------------------ loading
@dataclass
class RunData:
    """What the report shows: records, failures, skipped lines and the run's own files."""

    source: Path
    records: list[Record]
    failed: list[Record]
    skipped: list[str] = field(default_factory=list)
    config: dict = field(default_factory=dict)
    config_text: str | None = None
    manifest: dict = field(default_factory=dict)


def _read_records(path: Path, skipped: list[str]) -> list[Record]:
    """Records of a JSONL file, last write of an id winning; bad lines skipped into `skipped`."""
    out: dict[str, Record] = {}
    with open(path, "rb") as f:
        for n, raw in enumerate(f, start=1):
            if not raw.strip():
                continue
            where = f"{path.name}:{n}"
            try:
                record = Record.model_validate(parse_row(raw.decode("utf-8"), max_depth=None, max_chars=None))
            except (json.JSONDecodeError, UnicodeDecodeError) as e:
                torn = "torn last line" if not raw.endswith(b"\n") else "invalid JSON"
                skipped.append(f"{where}: {torn}: {' '.join(str(e).split())}")
                continue
            except RowRejected as e:  # nested too deep for the decoder, a lone surrogate: hostile, not ours
                skipped.append(f"{where}: row rejected: {e}")
                continue
            except ValidationError as e:
                first = e.errors()[0]
                loc = ".".join(map(str, first["loc"])) or "row"
                skipped.append(f"{where}: not a record: {loc}: {first['msg']}")
                continue
            out[record.id] = record  # a resumed run may write an id again: the last one wins
    return list(out.values())


def _read_side_files(folder: Path, data: RunData) -> None:
    """config.yaml and manifest.json of a run folder, when present and readable."""
    import yaml

    from cai.core.yamlfile import BoundedLoader

    cfg, man = folder / "config.yaml", folder / "manifest.json"
    if cfg.is_file():
        data.config_text = cfg.read_text(encoding="utf-8", errors="replace")
        try:  # bounded: a hostile run folder's alias bomb or deep nesting is refused, not expanded
            loaded = yaml.load(data.config_text, Loader=BoundedLoader)  # noqa: S506 — a SafeLoader
            data.config = loaded if isinstance(loaded, dict) else {}
        except yaml.YAMLError as e:
            data.skipped.append(f"config.yaml: not valid YAML: {' '.join(str(e).split())}")
    if man.is_file():
        try:
            loaded = json.loads(man.read_text(encoding="utf-8", errors="replace"))
            data.manifest = loaded if isinstance(loaded, dict) else {}
        except json.JSONDecodeError as e:
            data.skipped.append(f"manifest.json: not valid JSON: {e}")


def load_run(path: Path) -> RunData:
    """A run directory, or a JSONL file of records. UserError when there is nothing to report."""
    path = Path(path)
    if not path.exists():
        raise UserError(f"{path}: not found; give the run directory `cai generate` printed")
    if path.is_dir():
        records_path, folder = path / "records.jsonl", path
        if not records_path.is_file():
            raise UserError(f"{path}: no records.jsonl; give the run directory `cai generate` printed")
    else:
        records_path = path
        folder = path.parent if path.name == "records.jsonl" else None
    data = RunData(source=path, records=[], failed=[])
    rows = _read_records(records_path, data.skipped)
    data.records = [r for r in rows if r.status == "ok"]
    data.failed = [r for r in rows if r.status != "ok"]
    if folder is not None:
        if (folder / "failed.jsonl").is_file():
            done = {r.id for r in data.records}
            data.failed += [r for r in _read_records(folder / "failed.jsonl", data.skipped) if r.id not in done]
        _read_side_files(folder, data)
    _redact_secrets(data)
    return data


def _redact_secrets(data: RunData) -> None:
    """Error texts and the config as shown, with API keys redacted (runs written before errors
    were redacted at the source, or a key pasted into `api_key_env`, must not leak on display)."""
    secrets = config_secrets(data.config)
    for r in [*data.records, *data.failed]:
        if r.error:
            r.error = redact(r.error, secrets)
    data.config_text = redact(data.config_text, secrets)
    data.skipped = [redact(x, secrets) or x for x in data.skipped]


# ------------------------------------------------------------------------------------- quote checks
class QuoteChecks:
    """Checks quotes against the index's page texts (read-only); counts the outcomes."""

    def __init__(self, index: str | Path | None) -> None:
        self.store = None
        self.counts: Counter[str] = Counter()
        self._pages: dict[tuple[str, int], Any] = {}
        self._docs: dict[str, Any] = {}
        if not index:
            self.note = "no index named in the run's config.yaml: quotes not checked"
            return
        from rag.store import STORE_FILE, DocStore

        db = Path(index) / STORE_FILE
        try:
            if not db.is_file():
                raise FileNotFoundError(f"no {STORE_FILE}")
            conn = sqlite3.connect(db.resolve().as_uri() + "?mode=ro", uri=True, check_same_thread=False)
            self.store = DocStore(conn, db)
            self.store.document("")  # fails here, not mid-report, if it is not a cai index
            self.note = f"quotes checked against the index at {index}"
        except (OSError, sqlite3.Error) as e:
            self.store = None
            self.note = f"index {index} could not be read ({e}): quotes not checked"

    def close(self) -> None:
        if self.store is not None:
            self.store.close()

    def page(self, doc_id: str, page: int):
        key = (doc_id, page)
        if key not in self._pages:
            self._pages[key] = self.store.page(doc_id, page) if self.store else None
        return self._pages[key]

    def sha256(self, doc_id: str) -> str | None:
        if self.store is None:
            return None
        if doc_id not in self._docs:
            self._docs[doc_id] = self.store.document(doc_id)
        doc = self._docs[doc_id]
        return doc.sha256 if doc else None

    def check(self, loc: Locator, quote: str, recorded_sha: str | None = None) -> tuple[str, str]:
        """(status, note): verified | elsewhere | missing | no-page | sha-mismatch | unchecked."""
        status, note = self._check(loc, quote, recorded_sha)
        self.counts[status] += 1
        return status, note

    def _check(self, loc: Locator, quote: str, recorded_sha: str | None) -> tuple[str, str]:
        from rag.quotes import QuoteResolver

        if self.store is None:
            return "unchecked", "not checked (no readable index)"
        page = self.page(loc.doc_id, loc.page)
        if page is None:
            return "no-page", f"page {loc.page} of {loc.doc_id} is not in the index"
        sha = self.sha256(loc.doc_id)
        if recorded_sha and sha and recorded_sha != sha:
            return "sha-mismatch", ("document changed since the citation "
                                    f"(sha256 {sha[:12]} ≠ recorded {recorded_sha[:12]})")
        if page.text[loc.char_start : loc.char_end] == quote:
            return "verified", "quote is verbatim at its locator"
        found = QuoteResolver(self.store).verify(loc.doc_id, loc.page, quote)
        if found is not None and (found.char_start, found.char_end) == (loc.char_start, loc.char_end):
            return "verified", "quote is at its locator (whitespace differs)"
        if found is not None:
            return "elsewhere", f"quote is on the page at chars {found.char_start}–{found.char_end}, not at its locator"
        return "missing", f"quote not found on page {loc.page} of {loc.doc_id}"


# -------------------------------------------------------------------------------------- HTML pieces
CSS = """
body{font:14px/1.45 system-ui,sans-serif;color:#1d1d1f;margin:0 auto;max-width:1150px;padding:1em 2em 4em}
h1{font-size:1.5em;margin-bottom:.2em}h2{border-bottom:2px solid #ddd;padding-bottom:.2em;margin-top:2em}
h3{margin:.2em 0}h4{margin:1em 0 .3em}table{border-collapse:collapse;margin:.5em 0}
td,th{border:1px solid #ddd;padding:.25em .6em;text-align:left;vertical-align:top}th{background:#f4f4f6}
.muted{color:#777}.num{font-variant-numeric:tabular-nums}
section.q{border:1px solid #ccc;border-radius:6px;padding:.6em 1.2em 1em;margin:1.4em 0}
.qid{font-family:ui-monospace,monospace;color:#555}
.answer{background:#f8f8fa;border-left:4px solid #99a;padding:.5em .8em;white-space:pre-wrap}
pre,.quote,.source-text{white-space:pre-wrap;word-break:break-word;font-family:ui-monospace,monospace;font-size:12.5px}
.quote{background:#fffbe6;border-left:4px solid #e0b800;margin:.3em 0;padding:.3em .6em}
.source-text{background:#f6f6f6;padding:.4em .6em;margin:.2em 0 .8em;max-height:22em;overflow:auto}
a.claim{text-decoration:none;border-bottom:2px solid;color:inherit}a.claim sup{font-size:.7em;margin-left:1px}
.supported{color:#116b2f;border-color:#2e9e50}.unsupported{color:#a31b1b;border-color:#d33}
.unverified{color:#8a5a00;border-color:#d49a00}
.verdict{font-weight:600;text-transform:uppercase;font-size:.8em}
.ev,.viol{border:1px solid #e3e3e3;border-radius:4px;padding:.4em .7em;margin:.5em 0}
.ev:target{outline:3px solid #4a7bd0}.loc{font-family:ui-monospace,monospace;font-size:12px;color:#444}
.check{font-size:12px}.check.verified{color:#116b2f}.check.unchecked{color:#777}
.check.elsewhere,.check.missing,.check.no-page,.check.sha-mismatch{color:#a31b1b;font-weight:600}
.rule{font-family:ui-monospace,monospace;background:#eef;padding:0 .3em;border-radius:3px}
.sev-critical,.sev-major{color:#a31b1b}.sev-minor{color:#8a5a00}.sev-info{color:#555}
details>summary{cursor:pointer;color:#345}
"""


def quote_html(ev: Evidence, checks: QuoteChecks, recorded_sha: str | None = None) -> str:
    """The locator line, the verbatim quote (locator in data- attributes) and its check result."""
    loc = ev.locator
    status, note = checks.check(loc, ev.quote, recorded_sha)
    sha = checks.sha256(loc.doc_id) or recorded_sha
    attrs = (f'data-doc="{esc(loc.doc_id)}" data-page="{loc.page}" data-start="{loc.char_start}" '
             f'data-end="{loc.char_end}" data-sentence="{loc.sentence}" data-check="{esc(status)}"')
    return (f'<div class="loc">document <b>{esc(loc.doc_id)}</b> · page {loc.page} · sentence {loc.sentence} · '
            f'chars {loc.char_start}–{loc.char_end}' + (f' · sha256 {esc(sha[:16])}' if sha else "") + "</div>"
            f'<blockquote class="quote" {attrs}>{esc(ev.quote)}</blockquote>'
            f'<div class="check {esc(status)}">{esc(note)}</div>')


def claim_html(anchor: str, n: int, c: ClaimVerdict, checks: QuoteChecks) -> str:
    """One claim's evidence block (the target of its link in the answer)."""
    head = (f'<b>#{n + 1}</b> <span class="verdict {esc(c.verdict.value)}">{esc(c.verdict.value)}</span> '
            f'score <span class="num">{c.score:.3f}</span>' + (f' · checker {esc(c.checker)}' if c.checker else ""))
    parts = [f'<div class="ev" id="{anchor}"><div>{head}</div><div>{esc(c.text)}</div>']
    if c.reason:
        parts.append(f'<div class="muted">why: {esc(c.reason)}</div>')
    if c.citations:
        parts.append(f'<div class="muted">cited: {esc(" ".join(c.citations))}</div>')
    parts.append(quote_html(c.evidence, checks) if c.evidence
                 else '<div class="check unchecked">no evidence recorded</div>')
    return "".join(parts) + "</div>"


def valid_spans(text: str, claims: list[ClaimVerdict]) -> list[tuple[int, int, int]]:
    """(start, end, claim index) of claims with usable, non-overlapping spans, in text order."""
    spans = sorted((c.span[0], c.span[1], n) for n, c in enumerate(claims) if c.span)
    out, pos = [], 0
    for a, b, n in spans:
        if pos <= a < b <= len(text):
            out.append((a, b, n))
            pos = b
    return out


def answer_html(text: str | None, claims: list[ClaimVerdict], prefix: str, checks: QuoteChecks) -> str:
    """The answer with each claim linked to its evidence block, then the evidence blocks."""
    if not text:
        return '<p class="muted">(none)</p>'
    out, pos, linked = [], 0, set()
    for a, b, n in valid_spans(text, claims):
        v = claims[n].verdict.value
        out.append(esc(text[pos:a]))
        out.append(f'<a class="claim {esc(v)}" href="#{prefix}{n}" title="{esc(v)} {claims[n].score:.2f}">'
                   f'{esc(text[a:b])}<sup>{n + 1}</sup></a>')
        pos = b
        linked.add(n)
    out.append(esc(text[pos:]))
    html = f'<div class="answer">{"".join(out)}</div>'
    unlinked = [n for n in range(len(claims)) if n not in linked]
    if unlinked:
        links = " ".join(f'<a href="#{prefix}{n}">claim {n + 1}</a>' for n in unlinked)
        html += f'<p class="muted">claims without a span in the text: {links}</p>'
    if not claims:
        return html + '<p class="muted">no claims were checked</p>'
    blocks = "".join(claim_html(f"{prefix}{n}", n, c, checks) for n, c in enumerate(claims))
    return html + f"<details open><summary>{verdict_line(claims)}</summary>{blocks}</details>"


def verdict_line(claims: list[ClaimVerdict]) -> str:
    counts = Counter(c.verdict.value for c in claims)
    parts = [f'<span class="{v}">{counts[v]} {v}</span>'
             for v in ("supported", "unsupported", "unverified") if counts[v]]
    return f"{len(claims)} claim(s): " + ", ".join(parts)


def violation_html(v: RuleViolation, checks: QuoteChecks) -> str:
    parts = [f'<div class="viol"><span class="rule">{esc(v.rule_id)}</span> '
             f'<span class="sev-{esc(v.severity)}">{esc(v.severity)}</span>']
    if v.message:
        parts.append(f" — {esc(v.message)}")
    if v.claim:
        parts.append(f'<div><span class="muted">claim:</span> {esc(v.claim)}</div>')
    if v.fix:
        parts.append(f'<div><span class="muted">fix:</span> {esc(v.fix)}</div>')
    if v.evidence:
        parts.append(quote_html(v.evidence, checks))
    return "".join(parts) + "</div>"


def rounds_html(record: Record, checks: QuoteChecks) -> str:
    if not record.rounds:
        return '<p class="muted">no critique rounds</p>'
    out = []
    for rnd in record.rounds:
        c = rnd.critique
        rules = " ".join(f'<span class="rule">{esc(r)}</span>' for r in c.rule_ids)
        out.append(f"<h4>Round {c.round}: critique — {len(c.violations)} violation(s)</h4>"
                   f"<details><summary>{len(c.rule_ids)} rule(s) applied</summary>{rules}</details>")
        out.extend(violation_html(v, checks) for v in c.violations)
        if c.text:
            out.append(f"<details><summary>critique text</summary><pre>{esc(c.text)}</pre></details>")
        if rnd.revision is None:
            out.append('<p class="muted">no revision (nothing to fix)</p>')
            continue
        out.append(f'<h4>Round {rnd.revision.round}: revision</h4><div class="answer">{esc(rnd.revision.text)}</div>')
        for cit in rnd.revision.citations:
            evidence = Evidence(locator=cit.locator, quote=cit.quote)
            out.append(f'<div class="ev">{quote_html(evidence, checks, cit.doc_sha256)}</div>')
    return "".join(out)


def sources_html(sources: list[SearchHit]) -> str:
    if not sources:
        return '<p class="muted">no sources retrieved</p>'
    out = [f"<details><summary>{len(sources)} source(s): "
           + ", ".join(esc(h.locator) for h in sources) + "</summary>"]
    for rank, h in enumerate(sources, 1):
        loc = h.locator
        attrs = (f'data-doc="{esc(loc.doc_id)}" data-page="{loc.page}" data-start="{loc.char_start}" '
                 f'data-end="{loc.char_end}" data-sentence="{loc.sentence}"')
        out.append(f'<div class="loc">{rank}. {esc(loc)} · chars {loc.char_start}–{loc.char_end} '
                   f'· score {h.score:.4f}</div>'
                   f'<div class="source-text" {attrs}>{esc(h.text)}</div>')
    return "".join(out) + "</details>"
