"""`cai audit`: one self-contained static HTML report of a generate run.

Per question: the retrieved sources, the draft, each round's critique (the rules applied, every
violation with its rule id, claim, evidence and fix) and revision, and the final answer with each
claim linked (in-page anchor) to the evidence that decided it: document, page, sentence, char span,
the verbatim quote, verdict and score. A run-level summary gives counts, draft vs final support
rates, the rules most violated and the questions that failed.

Safety: every piece of document, model, question and config text goes through `html.escape`
(attribute values too), and the file loads nothing: inline CSS, no script, no external URL. A
document holding `<script>`, HTML or instructions shows as inert text.

Quotes are checked against the run's index (config.yaml `index`), opened read-only, when it can be
opened: each evidence block says whether its quote is at its locator, elsewhere on that page, or
not found. The locator rides in `data-doc`/`data-page`/`data-start`/`data-end`/`data-sentence`
attributes of the quote element, so anyone can re-check the file.

Input: a run directory (records.jsonl, failed.jsonl, config.yaml, manifest.json), or a JSONL file
of records (one `Record` per line; config and index are taken from its folder when the file is that
folder's records.jsonl). Torn or invalid lines are skipped and counted in the report.
"""

from __future__ import annotations

import json
import sqlite3
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from cai.contracts import ClaimVerdict, Evidence, Locator, Record, RuleViolation, SearchHit, Verdict
from cai.errors import UserError
from cai.rundir import atomic_write_text

REPORT_NAME = "report.html"
SEVERITY_RANK = {"critical": 0, "major": 1, "minor": 2, "info": 3}


def _e(value: Any) -> str:
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
                record = Record.model_validate(json.loads(raw))
            except (json.JSONDecodeError, UnicodeDecodeError) as e:
                torn = "torn last line" if not raw.endswith(b"\n") else "invalid JSON"
                skipped.append(f"{where}: {torn}: {' '.join(str(e).split())}")
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

    cfg, man = folder / "config.yaml", folder / "manifest.json"
    if cfg.is_file():
        data.config_text = cfg.read_text(encoding="utf-8", errors="replace")
        try:
            loaded = yaml.safe_load(data.config_text)
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
    return data


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
            return "sha-mismatch", f"document changed since the citation (sha256 {sha[:12]} ≠ recorded {recorded_sha[:12]})"
        if page.text[loc.char_start : loc.char_end] == quote:
            return "verified", "quote is verbatim at its locator"
        found = QuoteResolver(self.store).verify(loc.doc_id, loc.page, quote)
        if found is not None and (found.char_start, found.char_end) == (loc.char_start, loc.char_end):
            return "verified", "quote is at its locator (whitespace differs)"
        if found is not None:
            return "elsewhere", f"quote is on the page at chars {found.char_start}–{found.char_end}, not at its locator"
        return "missing", f"quote not found on page {loc.page} of {loc.doc_id}"


# ------------------------------------------------------------------------------------------ summary
def support_rate(claims: list[ClaimVerdict]) -> float | None:
    """Share of claims that are supported (unverified counts as not); None when there are none."""
    return sum(c.verdict == Verdict.supported for c in claims) / len(claims) if claims else None


def summarize(records: list[Record], failed: list[Record]) -> dict:
    """Run-level numbers: counts, verdicts, support rates and violations per rule id."""
    final = [c for r in records for c in r.claims]
    draft = [c for r in records for c in r.draft_claims]
    per_rule: Counter[str] = Counter()
    rule_questions: dict[str, set[str]] = defaultdict(set)
    rule_severity: dict[str, Counter[str]] = defaultdict(Counter)
    for r in records:
        for rnd in r.rounds:
            for v in rnd.critique.violations:
                per_rule[v.rule_id] += 1
                rule_questions[v.rule_id].add(r.id)
                rule_severity[v.rule_id][v.severity] += 1
    rules = [{"rule_id": rule, "violations": n, "questions": len(rule_questions[rule]),
              "severity": rule_severity[rule].most_common(1)[0][0]} for rule, n in per_rule.most_common()]
    return {
        "records": len(records), "failed": len(failed),
        "rounds": sum(len(r.rounds) for r in records),
        "revised": sum(any(rnd.revision for rnd in r.rounds) for r in records),
        "draft_claims": len(draft), "final_claims": len(final),
        "draft_verdicts": Counter(c.verdict.value for c in draft),
        "final_verdicts": Counter(c.verdict.value for c in final),
        "draft_support_rate": support_rate(draft), "final_support_rate": support_rate(final),
        "fully_supported": sum(bool(r.claims) and all(c.verdict == Verdict.supported for c in r.claims) for r in records),
        "no_claims": sum(not r.claims for r in records),
        "rules": rules,
    }


def _rate(x: float | None) -> str:
    return "–" if x is None else f"{x:.1%}"


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


def _quote_html(ev: Evidence, checks: QuoteChecks, recorded_sha: str | None = None) -> str:
    """The locator line, the verbatim quote (locator in data- attributes) and its check result."""
    loc = ev.locator
    status, note = checks.check(loc, ev.quote, recorded_sha)
    sha = checks.sha256(loc.doc_id) or recorded_sha
    attrs = (f'data-doc="{_e(loc.doc_id)}" data-page="{loc.page}" data-start="{loc.char_start}" '
             f'data-end="{loc.char_end}" data-sentence="{loc.sentence}" data-check="{_e(status)}"')
    return (f'<div class="loc">document <b>{_e(loc.doc_id)}</b> · page {loc.page} · sentence {loc.sentence} · '
            f'chars {loc.char_start}–{loc.char_end}' + (f' · sha256 {_e(sha[:16])}' if sha else "") + "</div>"
            f'<blockquote class="quote" {attrs}>{_e(ev.quote)}</blockquote>'
            f'<div class="check {_e(status)}">{_e(note)}</div>')


def _claim_html(anchor: str, n: int, c: ClaimVerdict, checks: QuoteChecks) -> str:
    """One claim's evidence block (the target of its link in the answer)."""
    head = (f'<b>#{n + 1}</b> <span class="verdict {_e(c.verdict.value)}">{_e(c.verdict.value)}</span> '
            f'score <span class="num">{c.score:.3f}</span>' + (f' · checker {_e(c.checker)}' if c.checker else ""))
    parts = [f'<div class="ev" id="{anchor}"><div>{head}</div><div>{_e(c.text)}</div>']
    if c.reason:
        parts.append(f'<div class="muted">why: {_e(c.reason)}</div>')
    if c.citations:
        parts.append(f'<div class="muted">cited: {_e(" ".join(c.citations))}</div>')
    parts.append(_quote_html(c.evidence, checks) if c.evidence else '<div class="check unchecked">no evidence recorded</div>')
    return "".join(parts) + "</div>"


def _valid_spans(text: str, claims: list[ClaimVerdict]) -> list[tuple[int, int, int]]:
    """(start, end, claim index) of claims with usable, non-overlapping spans, in text order."""
    spans = sorted((c.span[0], c.span[1], n) for n, c in enumerate(claims) if c.span)
    out, pos = [], 0
    for a, b, n in spans:
        if pos <= a < b <= len(text):
            out.append((a, b, n))
            pos = b
    return out


def _answer_html(text: str | None, claims: list[ClaimVerdict], prefix: str, checks: QuoteChecks) -> str:
    """The answer with each claim linked to its evidence block, then the evidence blocks."""
    if not text:
        return '<p class="muted">(none)</p>'
    out, pos, linked = [], 0, set()
    for a, b, n in _valid_spans(text, claims):
        v = claims[n].verdict.value
        out.append(_e(text[pos:a]))
        out.append(f'<a class="claim {_e(v)}" href="#{prefix}{n}" title="{_e(v)} {claims[n].score:.2f}">'
                   f'{_e(text[a:b])}<sup>{n + 1}</sup></a>')
        pos = b
        linked.add(n)
    out.append(_e(text[pos:]))
    html = f'<div class="answer">{"".join(out)}</div>'
    unlinked = [n for n in range(len(claims)) if n not in linked]
    if unlinked:
        links = " ".join(f'<a href="#{prefix}{n}">claim {n + 1}</a>' for n in unlinked)
        html += f'<p class="muted">claims without a span in the text: {links}</p>'
    if not claims:
        return html + '<p class="muted">no claims were checked</p>'
    blocks = "".join(_claim_html(f"{prefix}{n}", n, c, checks) for n, c in enumerate(claims))
    return html + f"<details open><summary>{_verdict_line(claims)}</summary>{blocks}</details>"


def _verdict_line(claims: list[ClaimVerdict]) -> str:
    counts = Counter(c.verdict.value for c in claims)
    parts = [f'<span class="{v}">{counts[v]} {v}</span>' for v in ("supported", "unsupported", "unverified") if counts[v]]
    return f"{len(claims)} claim(s): " + ", ".join(parts)


def _violation_html(v: RuleViolation, checks: QuoteChecks) -> str:
    parts = [f'<div class="viol"><span class="rule">{_e(v.rule_id)}</span> '
             f'<span class="sev-{_e(v.severity)}">{_e(v.severity)}</span>']
    if v.message:
        parts.append(f" — {_e(v.message)}")
    if v.claim:
        parts.append(f'<div><span class="muted">claim:</span> {_e(v.claim)}</div>')
    if v.fix:
        parts.append(f'<div><span class="muted">fix:</span> {_e(v.fix)}</div>')
    if v.evidence:
        parts.append(_quote_html(v.evidence, checks))
    return "".join(parts) + "</div>"


def _rounds_html(record: Record, checks: QuoteChecks) -> str:
    if not record.rounds:
        return '<p class="muted">no critique rounds</p>'
    out = []
    for rnd in record.rounds:
        c = rnd.critique
        rules = " ".join(f'<span class="rule">{_e(r)}</span>' for r in c.rule_ids)
        out.append(f"<h4>Round {c.round}: critique — {len(c.violations)} violation(s)</h4>"
                   f"<details><summary>{len(c.rule_ids)} rule(s) applied</summary>{rules}</details>")
        out.extend(_violation_html(v, checks) for v in c.violations)
        if c.text:
            out.append(f"<details><summary>critique text</summary><pre>{_e(c.text)}</pre></details>")
        if rnd.revision is None:
            out.append('<p class="muted">no revision (nothing to fix)</p>')
            continue
        out.append(f'<h4>Round {rnd.revision.round}: revision</h4><div class="answer">{_e(rnd.revision.text)}</div>')
        for cit in rnd.revision.citations:
            out.append(f'<div class="ev">{_quote_html(Evidence(locator=cit.locator, quote=cit.quote), checks, cit.doc_sha256)}</div>')
    return "".join(out)


def _sources_html(sources: list[SearchHit]) -> str:
    if not sources:
        return '<p class="muted">no sources retrieved</p>'
    out = [f"<details><summary>{len(sources)} source(s): "
           + ", ".join(_e(h.locator) for h in sources) + "</summary>"]
    for rank, h in enumerate(sources, 1):
        loc = h.locator
        attrs = (f'data-doc="{_e(loc.doc_id)}" data-page="{loc.page}" data-start="{loc.char_start}" '
                 f'data-end="{loc.char_end}" data-sentence="{loc.sentence}"')
        out.append(f'<div class="loc">{rank}. {_e(loc)} · chars {loc.char_start}–{loc.char_end} · score {h.score:.4f}</div>'
                   f'<div class="source-text" {attrs}>{_e(h.text)}</div>')
    return "".join(out) + "</details>"


def _question_html(i: int, r: Record, checks: QuoteChecks) -> str:
    meta = json.dumps(r.metadata, ensure_ascii=False, indent=1, default=str) if r.metadata else ""
    parts = [f'<section class="q" id="q{i}"><h3><span class="qid">{_e(r.id)}</span> {_e(r.question)}</h3>']
    if meta:
        parts.append(f"<details><summary>metadata</summary><pre>{_e(meta)}</pre></details>")
    parts.append("<h4>Sources</h4>" + _sources_html(r.sources))
    parts.append(f"<h4>Draft <span class=\"muted\">({_e(r.draft_source or 'unknown origin')})</span></h4>")
    parts.append(_answer_html(r.draft, r.draft_claims, f"q{i}-d", checks))
    parts.append(_rounds_html(r, checks))
    parts.append("<h4>Final answer</h4>" + _answer_html(r.final_answer, r.claims, f"q{i}-c", checks))
    if r.teacher_call_ids:
        parts.append(f'<p class="muted">teacher calls: {_e(", ".join(r.teacher_call_ids))}</p>')
    return "".join(parts) + '<p><a href="#top">↑ summary</a></p></section>'


# ----------------------------------------------------------------------------------------- sections
def _header_html(data: RunData, checks: QuoteChecks) -> str:
    m, cfg = data.manifest, data.config
    rows = [("source", str(data.source)), ("stage / status", f"{m.get('stage', '–')} / {m.get('status', '–')}"),
            ("created", m.get("created_at")), ("git sha", m.get("git_sha")),
            ("teacher", (cfg.get("teacher") or {}).get("backend") if isinstance(cfg.get("teacher"), dict) else None),
            ("index", cfg.get("index")), ("quote checks", checks.note)]
    const = m.get("constitution") if isinstance(m.get("constitution"), dict) else None
    if const:
        rows.insert(4, ("constitution", f"{const.get('name')} v{const.get('version')} (sha256 {str(const.get('sha256'))[:16]})"))
    elif cfg.get("constitution"):
        rows.insert(4, ("constitution", cfg.get("constitution")))
    body = "".join(f"<tr><th>{_e(k)}</th><td>{_e(v if v is not None else '–')}</td></tr>" for k, v in rows)
    out = f'<h1 id="top">cai audit report</h1><table>{body}</table>'
    if data.config_text:
        out += f"<details><summary>config.yaml</summary><pre>{_e(data.config_text)}</pre></details>"
    return out


def _summary_html(data: RunData, s: dict, checks: QuoteChecks) -> str:
    dv, fv = s["draft_verdicts"], s["final_verdicts"]
    rows = [("questions reported", s["records"]), ("failed questions", s["failed"]),
            ("skipped lines", len(data.skipped)), ("critique rounds", s["rounds"]),
            ("questions revised", s["revised"]),
            ("claims: draft → final", f"{s['draft_claims']} → {s['final_claims']}"),
            ("support rate: draft → final", f"{_rate(s['draft_support_rate'])} → {_rate(s['final_support_rate'])}"),
            ("unsupported: draft → final", f"{dv['unsupported']} → {fv['unsupported']}"),
            ("unverified: draft → final", f"{dv['unverified']} → {fv['unverified']}"),
            ("answers with every claim supported", f"{s['fully_supported']} of {s['records']} ({s['no_claims']} with no claim)"),
            ("quotes", ", ".join(f"{n} {k}" for k, n in sorted(checks.counts.items())) or "none")]
    out = ["<h2>Summary</h2><table>" + "".join(f"<tr><th>{_e(k)}</th><td class=\"num\">{_e(v)}</td></tr>" for k, v in rows) + "</table>"]
    out.append("<h3>Rules most violated</h3>")
    if s["rules"]:
        out.append("<table><tr><th>rule</th><th>violations (all rounds)</th><th>questions</th><th>severity</th></tr>"
                   + "".join(f'<tr><td><span class="rule">{_e(r["rule_id"])}</span></td><td class="num">{r["violations"]}</td>'
                             f'<td class="num">{r["questions"]}</td><td class="sev-{_e(r["severity"])}">{_e(r["severity"])}</td></tr>'
                             for r in s["rules"]) + "</table>")
    else:
        out.append('<p class="muted">no violations</p>')
    if data.failed:
        out.append("<h3>Failed questions</h3><table><tr><th>id</th><th>question</th><th>error</th></tr>"
                   + "".join(f'<tr><td class="qid">{_e(r.id)}</td><td>{_e(r.question)}</td><td>{_e(r.error)}</td></tr>'
                             for r in data.failed) + "</table>")
    if data.skipped:
        out.append("<h3>Skipped lines</h3><ul>" + "".join(f"<li>{_e(x)}</li>" for x in data.skipped) + "</ul>")
    return "".join(out)


def _index_html(records: list[Record]) -> str:
    if not records:
        return '<h2>Questions</h2><p class="muted">no records</p>'
    rows = []
    for i, r in enumerate(records):
        viol = sum(len(rnd.critique.violations) for rnd in r.rounds)
        rows.append(f'<tr><td class="qid"><a href="#q{i}">{_e(r.id)}</a></td><td>{_e(r.question)}</td>'
                    f'<td class="num">{_rate(support_rate(r.draft_claims))}</td><td class="num">{_rate(support_rate(r.claims))}</td>'
                    f'<td class="num">{len(r.rounds)}</td><td class="num">{viol}</td></tr>')
    return ("<h2>Questions</h2><table><tr><th>id</th><th>question</th><th>draft support</th><th>final support</th>"
            "<th>rounds</th><th>violations</th></tr>" + "".join(rows) + "</table>")


def render(data: RunData, checks: QuoteChecks) -> str:
    """The whole report as one HTML string (questions first, so the summary counts their quotes)."""
    questions = "".join(_question_html(i, r, checks) for i, r in enumerate(data.records))
    summary = summarize(data.records, data.failed)
    title = f"cai audit — {data.source.name}"
    return ('<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{_e(title)}</title><style>{CSS}</style></head><body>"
            + _header_html(data, checks) + _summary_html(data, summary, checks) + _index_html(data.records)
            + "<h2>Per question</h2>" + questions + "</body></html>\n")


# -------------------------------------------------------------------------------------------- entry
@dataclass
class AuditResult:
    path: Path
    summary: dict
    skipped: int
    quotes: Counter

    def line(self) -> str:
        s = self.summary
        quotes = ", ".join(f"{n} {k}" for k, n in sorted(self.quotes.items())) or "none"
        return (f"audit: {s['records']} questions, {s['failed']} failed, {self.skipped} skipped line(s); "
                f"support {_rate(s['draft_support_rate'])} → {_rate(s['final_support_rate'])}; quotes: {quotes}")


def write_report(run: Path, out: Path | None = None, *, index: Path | None = None) -> AuditResult:
    """Write the report for `run` (a run directory or records JSONL) atomically; return where."""
    data = load_run(run)
    if out is None:
        out = Path(run) / REPORT_NAME if Path(run).is_dir() else Path(run).with_suffix(".html")
    out = Path(out)
    if out.is_dir():
        raise UserError(f"--out {out}: is a directory; give a file name such as {out / REPORT_NAME}")
    checks = QuoteChecks(index or data.config.get("index"))
    try:
        html = render(data, checks)
    finally:
        checks.close()
    atomic_write_text(out, html)
    return AuditResult(out, summarize(data.records, data.failed), len(data.skipped), checks.counts)
