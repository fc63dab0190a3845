"""The pages of the reviewer web app (`cai.stages.review_web`): whole HTML documents rendered on
the server from the review run, the queue filters and the reviewer's form state.

Everything from the run (document text, questions, model text) and from people (reviewer names,
comments, corrected answers) goes through `cai.stages.report_html.esc` (html.escape, quotes
included) — shown as inert text. The only script is `KEYS_JS`, the record page's keyboard shortcuts, carrying the
per-response nonce that the handler's Content-Security-Policy allows.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

from cai.core.contracts import ClaimVerdict, Record
from cai.stages.report_html import CSS as AUDIT_CSS
from cai.stages.report_html import (
    QuoteChecks,
    esc,
    quote_html,
    rounds_html,
    sources_html,
    valid_spans,
)
from cai.stages.review import NO_RULE, ReviewRun, agreement, ai_label
from cai.stages.review_export import MAX_CORRECTION
from cai.stages.review_store import DECISIONS, StoredCorrection

MAX_NAME = 60
MAX_COMMENT = 2000

CSS = AUDIT_CSS + """
nav{display:flex;gap:1em;align-items:center;border-bottom:1px solid #ddd;padding:.4em 0;margin-bottom:1em}
nav form{margin-left:auto}.banner{background:#e9f7ee;border:1px solid #8c8;padding:.4em .8em;border-radius:4px}
.error{background:#fdecec;border:1px solid #d88;padding:.4em .8em;border-radius:4px}
fieldset.claim-row{border:1px solid #ccc;border-radius:6px;margin:.8em 0;padding:.4em 1em}
fieldset.claim-row.current{outline:3px solid #4a7bd0}.choices label{margin-right:1.2em}
.suggest{font-size:12px;color:#555}.low{color:#a31b1b;font-weight:600}.status-submitted{color:#116b2f}
.status-discarded{color:#777}.status-pending{color:#8a5a00}kbd{border:1px solid #bbb;border-radius:3px;padding:0 .3em}
input[name^=comment]{width:70%}.filters label{margin-right:1em}td.qid{white-space:nowrap}
fieldset.correction{border:1px solid #ccc;border-radius:6px;margin:.8em 0;padding:.4em 1em}
fieldset.correction textarea{width:100%;font:inherit}#correction-check li{margin:.2em 0}
"""

# The only script: keyboard shortcuts on the record page (a/r/f decide, j/k move, s submit).
# (A backslash at a line's end continues it: the script's text has no line break there.)
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
else if(k==='s'){var f=document.getElementById('review-form');\
if(f)f.requestSubmit(document.getElementById('submit-btn'));}
else return;e.preventDefault();});
focus(0);})();"""


def _rate(x: float | None) -> str:
    return "–" if x is None else f"{x:.0%}"


def _kappa(x: float | None) -> str:
    return "undefined" if x is None else f"{x:.2f}"


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
        return ((not self.rule or self.rule in run.rules[record.id][i])
                and (not self.verdict or c.verdict.value == self.verdict)
                and (self.min_score is None or c.score >= self.min_score)
                and (self.max_score is None or c.score <= self.max_score))

    def matches(self, run: ReviewRun, record: Record, status: str) -> bool:
        if self.status != "all" and status != self.status:
            return False
        if not (self.rule or self.verdict or self.min_score is not None or self.max_score is not None):
            return True
        return any(self.claim_ok(run, record, i) for i in range(len(record.claims)))


def record_href(record_id: str, f: Filters, **extra: str) -> str:
    return "/record?" + urlencode({"id": record_id, **f.params(), **extra})


# ------------------------------------------------------------------------------------------- pages
def layout(title: str, body: str, *, nonce: str, reviewer: str | None, csrf: str, here: str = "/", script: bool = False,
           bare: bool = False) -> str:
    """A whole page; `bare` (for requests not let in) has no navigation and no form secret."""
    who = (f'<form method="post" action="/reviewer"><input type="hidden" name="csrf" value="{esc(csrf)}">'
           f'<input type="hidden" name="next" value="{esc(here)}">'
           f'reviewer <input name="reviewer" value="{esc(reviewer or "")}" '
           f'maxlength="{esc(str(MAX_NAME))}" required placeholder="your name"> <button>set</button></form>')
    nav = ('<nav><b>cai review</b><a href="/">queue</a><a href="/agreement">agreement</a>'
           f'<a href="/exports">exports</a>{who}</nav>')
    nav = "<nav><b>cai review</b></nav>" if bare else nav
    js = f'<script nonce="{esc(nonce)}">{KEYS_JS}</script>' if script else ""
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{esc(title)}</title>'
            f"<style>{CSS}</style></head><body>{nav}{body}{js}</body></html>\n")


def _select(name: str, value: str, options: list[tuple[str, str]]) -> str:
    opts = "".join(f'<option value="{esc(v)}"{" selected" if v == value else ""}>{esc(label)}</option>'
                   for v, label in options)
    return f'<select name="{esc(name)}">{opts}</select>'


def _score_input(name: str, value: float | None) -> str:
    shown = "" if value is None else f"{value:g}"
    return f'<input name="{esc(name)}" size="4" value="{esc(shown)}" placeholder="0–1">'


def _filter_form(run: ReviewRun, f: Filters) -> str:
    rules = [("", "any rule")] + [(r, r) for r in run.all_rules()]
    verdicts = [("", "any verdict"), ("supported", "supported"), ("unsupported", "unsupported"),
                ("unverified", "unverified")]
    statuses = [("all", "all"), ("pending", "pending"), ("submitted", "submitted"), ("discarded", "discarded")]
    return ('<form method="get" action="/" class="filters">'
            f'<label>status {_select("status", f.status, statuses)}</label>'
            f'<label>rule {_select("rule", f.rule, rules)}</label>'
            f'<label>verdict {_select("verdict", f.verdict, verdicts)}</label>'
            f'<label>score from {_score_input("min_score", f.min_score)} '
            f'to {_score_input("max_score", f.max_score)}</label>'
            '<button>filter</button> <a href="/">clear</a></form>')


def queue_page(run: ReviewRun, reviewer: str | None, f: Filters) -> tuple[str, str]:
    mine = run.store.statuses(reviewer) if reviewer else {}
    everyone = Counter(rid for (rid, _), s in run.store.statuses().items() if s == "submitted")
    status = {r.id: mine.get((r.id, reviewer), "pending") for r in run.records}
    tally = Counter(status.values())
    rows = []
    for n, r in enumerate(run.records, 1):
        if not f.matches(run, r, status[r.id]):
            continue
        verdicts = Counter(c.verdict.value for c in r.claims)
        rules = sorted({x for per in run.rules[r.id] for x in per} - {NO_RULE})
        low = min((c.score for c in r.claims), default=None)
        shown = ", ".join(f"{k} {v}" for k, v in sorted(verdicts.items())) or "no claims"
        rows.append(f'<tr><td class="num">{n}</td>'
                    f'<td class="qid"><a href="{esc(record_href(r.id, f))}">{esc(r.id)}</a></td>'
                    f'<td>{esc(r.question)}</td><td>{esc(shown)}</td>'
                    f'<td class="num">{"–" if low is None else f"{low:.2f}"}</td>'
                    f'<td>{" ".join(f"<span class=rule>{esc(x)}</span>" for x in rules)}</td>'
                    f'<td class="status-{status[r.id]}">{status[r.id]}</td>'
                    f'<td class="num">{everyone.get(r.id, 0)}</td></tr>')
    counts = " · ".join(f"{k} {tally.get(k, 0)}" for k in ("pending", "submitted", "discarded"))
    hint = "" if reviewer else '<p class="error">Set your reviewer name (top right) before reviewing.</p>'
    skipped = (f'<p class="muted">{len(run.data.skipped)} unreadable line(s) in records.jsonl skipped.</p>'
               if run.data.skipped else "")
    body = (f'<h1>Queue — {esc(run.run_dir.name)}</h1>{hint}<p>{len(run.records)} record(s); yours: {counts}</p>'
            f'{skipped}' + _filter_form(run, f) + f'<p>{len(rows)} shown</p>'
            '<table><tr><th>#</th><th>id</th><th>question</th><th>AI verdicts</th><th>min score</th><th>rules</th>'
            '<th>your status</th><th>reviewers submitted</th></tr>' + "".join(rows) + "</table>")
    return "queue", body


def _answer(text: str | None, record: Record) -> str:
    if not text:
        return '<p class="muted">(no final answer)</p>'
    out, pos = [], 0
    for a, b, n in valid_spans(text, record.claims):
        v = record.claims[n].verdict.value
        out.append(esc(text[pos:a])
                   + f'<a class="claim {esc(v)}" href="#claim-{n}">{esc(text[a:b])}<sup>{n + 1}</sup></a>')
        pos = b
    return f'<div class="answer">{"".join(out)}{esc(text[pos:])}</div>'


def _claim_fieldset(run: ReviewRun, record: Record, i: int, mine: dict, checks: QuoteChecks) -> str:
    c = record.claims[i]
    suggestion = ai_label(c)
    chosen = mine[i].decision if i in mine and mine[i].claim_text == c.text else suggestion
    comment = mine[i].comment if i in mine and mine[i].claim_text == c.text else ""
    radios = "".join(f'<label><input type="radio" name="decision-{i}" value="{d}"{" checked" if d == chosen else ""}>'
                     f' {d}</label>' for d in DECISIONS)
    rules = " ".join(f'<span class="rule">{esc(r)}</span>' for r in run.rules[record.id][i])
    evidence = (quote_html(c.evidence, checks) if c.evidence
                else '<div class="check unchecked">no evidence recorded</div>')
    why = f'<div class="muted">why: {esc(c.reason)}</div>' if c.reason else ""
    prefilled = " (pre-filled)" if i not in mine else " · your last decision pre-filled"
    return (f'<fieldset class="claim-row" id="claim-{i}"><legend>claim {i + 1} — AI: '
            f'<span class="verdict {esc(c.verdict.value)}">{esc(c.verdict.value)}</span> '
            f'score <span class="num">{c.score:.3f}</span></legend><div class="claim-text">{esc(c.text)}</div>'
            f'{why}<div>rules: {rules}</div>{evidence}<div class="choices">{radios}'
            f'<span class="suggest">AI suggests <b>{suggestion}</b>{prefilled}</span></div>'
            f'<div>comment <input name="comment-{i}" maxlength="{MAX_COMMENT}" value="{esc(comment)}"></div>'
            '</fieldset>')


def _correction_fieldset(record: Record, mine: StoredCorrection | None) -> str:
    """The corrected-answer box, pre-filled with this reviewer's last correction of this answer, and
    the checker's verdicts on it (unsupported claims stay visible: the export lists them too)."""
    current = mine if mine is not None and mine.answer_text == (record.final_answer or "") else None
    check = ""
    if current is not None:
        claims = [ClaimVerdict.model_validate(v) for v in json.loads(current.claims_json or "[]")]
        items = "".join(f'<li><span class="verdict {esc(c.verdict.value)}">{esc(c.verdict.value)}</span> '
                        f'{esc(c.text)}{" — " + esc(c.reason) if c.reason else ""}</li>' for c in claims)
        check = (f'<p>checked by <code>{esc(current.checker)}</code> against this record\'s sources '
                 f'({esc(current.created_at)}):</p><ul id="correction-check">'
                 f'{items or "<li>no claim found in the text</li>"}</ul>')
    return ('<fieldset class="correction" id="correction"><legend>corrected answer (optional)</legend>'
            '<p class="muted">If the final answer is wrong or does not answer the question, type the answer it '
            'should give, citing pages as <code>[DOC p.N]</code>. It becomes the SFT target of this question and '
            'the chosen side of a pair against the final answer; the claim checker checks it against the '
            'sources when you submit. Leave it empty for none.</p>'
            f'<textarea name="correction" id="correction-text" rows="5" maxlength="{MAX_CORRECTION}">'
            f'{esc(current.text if current else "")}</textarea>{check}</fieldset>')


def _neighbours(run: ReviewRun, record: Record, reviewer: str, f: Filters) -> str:
    mine = run.store.statuses(reviewer)
    status = {r.id: mine.get((r.id, reviewer), "pending") for r in run.records}
    ids = [r.id for r in run.records if f.matches(run, r, status[r.id])]
    links = ['<a href="/?' + esc(urlencode(f.params())) + '">← queue</a>']
    if record.id in ids:
        k = ids.index(record.id)
        if k > 0:
            links.append(f'<a href="{esc(record_href(ids[k - 1], f))}">previous</a>')
        if k + 1 < len(ids):
            links.append(f'<a href="{esc(record_href(ids[k + 1], f))}">next</a>')
        pending = [x for x in ids[k + 1:] + ids[:k] if status[x] == "pending"]
    else:
        pending = [x for x in ids if status[x] == "pending"]
    if pending:
        links.append(f'<a id="next-pending" href="{esc(record_href(pending[0], f))}">next pending →</a>')
    return "<p>" + " · ".join(links) + "</p>"


def record_page(run: ReviewRun, record: Record, reviewer: str, f: Filters, saved: str, *,
                csrf: str) -> tuple[str, str]:
    store = run.store
    mine = store.mine(record.id, reviewer)
    status = store.status(record.id, reviewer)
    others = sum(1 for (rid, who), s in store.statuses().items()
                 if rid == record.id and who != reviewer and s == "submitted")
    banner = {"submit": '<p class="banner" id="saved">Submitted: your decisions (and correction) are stored.</p>',
              "discard": '<p class="banner" id="saved">Discarded: this record is out of your queue.</p>'}.get(saved, "")
    hidden = "".join(f'<input type="hidden" name="{esc(k)}" value="{esc(v)}">'
                     for k, v in {"csrf": csrf, "id": record.id, **f.params()}.items())
    checks = QuoteChecks(run.data.config.get("index"))
    try:
        claims = "".join(_claim_fieldset(run, record, i, mine, checks) for i in range(len(record.claims)))
        context = (f"<h2>Sources</h2>{sources_html(record.sources)}<h2>Draft</h2>"
                   f'<div class="answer">{esc(record.draft or "(none)")}</div>'
                   f"<h2>Critique rounds</h2>{rounds_html(record, checks)}")
    finally:
        checks.close()
    history = [h for h in store.history(record.id) if h["reviewer"] == reviewer]
    trail = "".join(f"<li>{esc(h['created_at'])}: {esc(h['action'])}</li>" for h in history)
    body = (f'{_neighbours(run, record, reviewer, f)}{banner}'
            f'<h1><span class="qid">{esc(record.id)}</span> {esc(record.question)}</h1>'
            f'<p>your status: <b class="status-{status}" id="my-status">{status}</b> · '
            f'other reviewers submitted: {others}</p>'
            f"<h2>Final answer</h2>{_answer(record.final_answer, record)}"
            '<p class="muted">keys: <kbd>a</kbd> accept · <kbd>r</kbd> reject · <kbd>f</kbd> flag · '
            '<kbd>j</kbd>/<kbd>k</kbd> next/previous claim · <kbd>s</kbd> submit</p>'
            f'<form method="post" action="/record" id="review-form">{hidden}'
            f'{claims or "<p class=muted>no claims to review</p>"}'
            f'{_correction_fieldset(record, store.my_correction(record.id, reviewer))}'
            '<button name="action" value="submit" id="submit-btn">submit</button> '
            '<button name="action" value="discard" id="discard-btn">discard record</button></form>'
            + (f"<h3>Your submissions</h3><ul>{trail}</ul>" if trail else "") + context)
    return record.id, body


def agreement_page(run: ReviewRun) -> tuple[str, str]:
    rows, stale = agreement(run)
    out = []
    for r in rows:
        pairs = "<br>".join(f"{esc(p.a)} × {esc(p.b)}: κ {_kappa(p.kappa)} (n={p.n}, agree {_rate(p.observed)})"
                            for p in r.pairs) or "–"
        low = " low" if r.ai_rate is not None and r.ai_rate < 0.7 else ""
        out.append(f'<tr><td><span class="rule">{esc(r.rule)}</span></td><td class="num">{r.claims}</td>'
                   f'<td class="num">{r.labelled}</td><td class="num">{r.labels}</td>'
                   f'<td class="num{low}">{_rate(r.ai_rate)}</td><td class="num">{_kappa(r.ai_kappa)}</td>'
                   f"<td>{pairs}</td></tr>")
    body = ("<h1>Agreement</h1><p>Per rule: claims of the final answers that a violation of the rule names (see "
            "<code>cai.stages.review</code>); claims no violation names are under (no rule). "
            "AI label: supported → accept, otherwise reject. κ is Cohen's kappa; undefined when both raters used "
            "one and the same label throughout, and 0 when only one of them did (e.g. the AI accepted every claim "
            "of the rule): read the agreement column there. Agreement with the AI below 70% is marked: there the "
            "AI labeler is not to be trusted without review.</p>"
            + (f'<p class="muted">{stale} stale decision(s) (their claim changed) left out.</p>' if stale else "")
            + '<table id="agreement"><tr><th>rule</th><th>claims</th><th>labelled</th><th>human labels</th>'
            "<th>human = AI</th><th>κ human vs AI</th><th>reviewer pairs</th></tr>" + "".join(out) + "</table>")
    return "agreement", body


def exports_page(exports: list[tuple[Path, dict]], *, csrf: str) -> tuple[str, str]:
    done = "".join(f'<li><code class="export-path">{esc(path)}</code>: {esc(c["labels"])} decision(s), '
                   f'{esc(c["human_pairs"])} human pair(s), sft {esc(c["sft"])}</li>' for path, c in exports)
    body = ("<h1>Export</h1><p>Writes a new generate run beside this one: the original files, sft.jsonl without "
            "answers reviewers rejected and with their corrections, preferences.jsonl with the AI pairs that chose "
            "a rejected claim removed and human pairs added, labels.jsonl, corrections.jsonl (with the checker's "
            "verdicts) and dropped_pairs.jsonl; its README lists each file and why pairs were dropped. Train on it "
            "with <code>cai train CONFIG.yaml data=THAT_DIR</code>. The reviewed run is never modified.</p>"
            f'<form method="post" action="/export"><input type="hidden" name="csrf" value="{esc(csrf)}">'
            '<button id="export-btn">export reviewed data</button></form>'
            + (f'<h2>Exported by this server</h2><ul id="exports">{done}</ul>' if done else ""))
    return "exports", body
