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
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

from cai.core.contracts import Record, Verdict
from cai.core.errors import UserError
from cai.core.runs import atomic_write_text
from cai.stages.report_html import (
    CSS,
    QuoteChecks,
    RunData,
    answer_html,
    esc,
    load_run,
    rounds_html,
    sources_html,
)
from rewards.score import support_rate

REPORT_NAME = "report.html"


# ------------------------------------------------------------------------------------------ summary
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
        "fully_supported": sum(bool(r.claims) and all(c.verdict == Verdict.supported for c in r.claims)
                               for r in records),
        "no_claims": sum(not r.claims for r in records),
        "rules": rules,
    }


def _rate(x: float | None) -> str:
    return "–" if x is None else f"{x:.1%}"


def _question_html(i: int, r: Record, checks: QuoteChecks) -> str:
    meta = json.dumps(r.metadata, ensure_ascii=False, indent=1, default=str) if r.metadata else ""
    parts = [f'<section class="q" id="q{i}"><h3><span class="qid">{esc(r.id)}</span> {esc(r.question)}</h3>']
    if meta:
        parts.append(f"<details><summary>metadata</summary><pre>{esc(meta)}</pre></details>")
    parts.append("<h4>Sources</h4>" + sources_html(r.sources))
    parts.append(f"<h4>Draft <span class=\"muted\">({esc(r.draft_source or 'unknown origin')})</span></h4>")
    parts.append(answer_html(r.draft, r.draft_claims, f"q{i}-d", checks))
    parts.append(rounds_html(r, checks))
    parts.append("<h4>Final answer</h4>" + answer_html(r.final_answer, r.claims, f"q{i}-c", checks))
    if r.teacher_call_ids:
        parts.append(f'<p class="muted">teacher calls: {esc(", ".join(r.teacher_call_ids))}</p>')
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
        rows.insert(4, ("constitution", f"{const.get('name')} v{const.get('version')} "
                                        f"(sha256 {str(const.get('sha256'))[:16]})"))
    elif cfg.get("constitution"):
        rows.insert(4, ("constitution", cfg.get("constitution")))
    body = "".join(f"<tr><th>{esc(k)}</th><td>{esc(v if v is not None else '–')}</td></tr>" for k, v in rows)
    out = f'<h1 id="top">cai audit report</h1><table>{body}</table>'
    if data.config_text:
        out += f"<details><summary>config.yaml</summary><pre>{esc(data.config_text)}</pre></details>"
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
            ("answers with every claim supported",
             f"{s['fully_supported']} of {s['records']} ({s['no_claims']} with no claim)"),
            ("quotes", ", ".join(f"{n} {k}" for k, n in sorted(checks.counts.items())) or "none")]
    out = ["<h2>Summary</h2><table>"
           + "".join(f"<tr><th>{esc(k)}</th><td class=\"num\">{esc(v)}</td></tr>" for k, v in rows) + "</table>"]
    out.append("<h3>Rules most violated</h3>")
    if s["rules"]:
        out.append("<table><tr><th>rule</th><th>violations (all rounds)</th><th>questions</th><th>severity</th></tr>"
                   + "".join(f'<tr><td><span class="rule">{esc(r["rule_id"])}</span></td>'
                             f'<td class="num">{r["violations"]}</td><td class="num">{r["questions"]}</td>'
                             f'<td class="sev-{esc(r["severity"])}">{esc(r["severity"])}</td></tr>'
                             for r in s["rules"]) + "</table>")
    else:
        out.append('<p class="muted">no violations</p>')
    if data.failed:
        out.append("<h3>Failed questions</h3><table><tr><th>id</th><th>question</th><th>error</th></tr>"
                   + "".join(f'<tr><td class="qid">{esc(r.id)}</td><td>{esc(r.question)}</td>'
                             f'<td>{esc(r.error)}</td></tr>' for r in data.failed) + "</table>")
    if data.skipped:
        out.append("<h3>Skipped lines</h3><ul>" + "".join(f"<li>{esc(x)}</li>" for x in data.skipped) + "</ul>")
    return "".join(out)


def _index_html(records: list[Record]) -> str:
    if not records:
        return '<h2>Questions</h2><p class="muted">no records</p>'
    rows = []
    for i, r in enumerate(records):
        viol = sum(len(rnd.critique.violations) for rnd in r.rounds)
        rows.append(f'<tr><td class="qid"><a href="#q{i}">{esc(r.id)}</a></td><td>{esc(r.question)}</td>'
                    f'<td class="num">{_rate(support_rate(r.draft_claims))}</td>'
                    f'<td class="num">{_rate(support_rate(r.claims))}</td>'
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
            f"<title>{esc(title)}</title><style>{CSS}</style></head><body>"
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
