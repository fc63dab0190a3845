"""The rows of `cai review --export`: human preference pairs, reviewer corrections, the AI pairs a
rejection removes, and the export's README. `cai.stages.review.export_run` decides what each
record's reviewers concluded (consensus, corrections) and writes the files; this module turns those
conclusions into training rows, so each rule below is testable on a hand-made record.

Why these rules (issue #17): a rejected claim used to become a pair whose chosen side was the bare
abstention "The sources do not state the answer" even when the sources answered the question, which
teaches a policy to refuse answerable questions; and the AI pairs that chose the rejected claim
stayed, teaching the opposite of what the reviewer said. Now:

- A reviewer's corrected answer is the SFT target for its question and the chosen side of a pair
  against the AI's final answer. It is the reviewer's judgment, so it is used even where the claim
  checker does not support it; the checker's verdicts go to corrections.jsonl beside it, so
  unsupported claims in a correction stay visible.
- A claim of the final answer that reviewers reject (consensus) removes every AI pair of that
  question whose chosen side states it.
- The human pair of a rejection: chosen = the correction when there is one; else the final answer
  without the rejected claims when something with content remains; else the bare abstention only
  when the question is not answerable from its sources (tagged `unanswerable`, or no claim of the
  final answer or the draft other than the rejected ones is supported); else no pair.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path

from cai.core.contracts import ClaimVerdict, Message, PairReason, PreferencePair, Record, SFTExample, Verdict
from cai.core.prompts import ABSTAIN, policy_messages
from cai.stages.report_html import QuoteChecks, valid_spans
from rewards.claim_diff import SAME_CLAIM, figures, plain, same_substance, similarity
from rewards.claims import split_claims
from rewards.injection import instruction_like

MAX_CORRECTION = 4000  # characters of a corrected answer
REVIEWER_CORRECTED = "reviewer-corrected"  # chosen: a reviewer's corrected answer
REVIEWER_REJECTED = "reviewer-rejected-claim"  # chosen: the answer without the claims reviewers rejected
REASON_MEANING = {
    REVIEWER_CORRECTED: "chosen is a reviewer's corrected answer, rejected is the AI's final answer",
    REVIEWER_REJECTED: "chosen is the final answer without the claims reviewers rejected (or the abstention, "
                       "only for a question its sources do not answer)",
}


# ------------------------------------------------------------------------------------ corrections
def clean_correction(raw: str) -> str | None:
    """A typed correction as stored: line ends unified, outer space stripped; None when it holds a
    control character other than a line break or tab (not text a reviewer types)."""
    text = raw.replace("\r\n", "\n").replace("\r", "\n").strip()
    if any(ord(ch) < 32 and ch not in "\n\t" or ord(ch) == 127 for ch in text):
        return None
    return text


def check_correction(checker, index: str | None, record: Record, text: str) -> list[ClaimVerdict]:
    """The claim checker's verdicts on a correction, against the full pages of the record's sources
    (read from the run's index, read-only), in the context of the record's question. Without the
    index every claim is unverified (fail-closed), with the reason."""
    from rag.quotes import source_pages
    from rewards.checker import unverified_claims

    checks = QuoteChecks(index)
    try:
        pages = source_pages(record.sources, checks.page) if checks.store is not None else []
    finally:
        checks.close()
    if not pages:
        return unverified_claims(text, f"the record's source pages could not be read ({checks.note})", checker.name)
    return checker.check(record.question, text, pages)


def correction_row(record: Record, c, claims: list[ClaimVerdict], used: bool) -> dict:
    """One line of corrections.jsonl: the correction, who wrote it, and every claim's verdict, its
    unsupported claims listed apart so a reader sees them without reading verdicts."""
    verdicts = Counter(v.verdict.value for v in claims)
    return {"record_id": record.id, "reviewer": c.reviewer, "decided_at": c.created_at,
            "submission_id": c.submission_id, "used": used, "correction": c.text,
            "final_answer": record.final_answer, "checker": c.checker,
            "supported": verdicts.get("supported", 0), "unsupported": verdicts.get("unsupported", 0),
            "unverified": verdicts.get("unverified", 0),
            "unsupported_claims": [v.text for v in claims if v.verdict != Verdict.supported],
            "instruction_like": instruction_like(c.text),
            "claims": [v.model_dump(mode="json") for v in claims]}


def corrected_sft(record: Record, text: str) -> SFTExample:
    msgs = [Message.model_validate(m) for m in policy_messages(record.question, record.sources)]
    return SFTExample(id=record.id, messages=[*msgs, Message(role="assistant", content=text)])


# ---------------------------------------------------------------------------------- claims in text
def states(text: str, claim: str) -> bool:
    """Whether `text` states `claim`: its content occurs in the text (citations aside), or a
    sentence of the text is the claim reworded at most slightly with the same figures ("$147.4
    million" is not "$174.4 million", however alike the sentences read)."""
    want = plain(claim)
    if not want:
        return False
    if want in plain(text):
        return True
    return any(similarity(s.text, claim) >= SAME_CLAIM and figures(s.text) == figures(claim)
               for s in split_claims(text))


def has_content(text: str | None) -> bool:
    """Whether `text` states anything: a claim that is neither an abstention nor an instruction."""
    return bool(text) and any(not instruction_like(c.text) for c in split_claims(text))


def answerable(record: Record, rejected: list[str]) -> bool:
    """Whether the record's sources answer its question, as far as the record shows: not tagged
    `unanswerable`, and either a gold quote of the question (`metadata.gold`) lies on a page of the
    record's sources, or some supported claim of the final answer or the draft is not one of the
    claims reviewers rejected."""
    if "unanswerable" in (record.metadata.get("tags") or []):
        return False
    pages = {(h.doc_id, h.page) for h in record.sources}
    gold = record.metadata.get("gold") or []
    if any(isinstance(g, dict) and (g.get("doc"), g.get("page")) in pages for g in gold):
        return True
    return any(c.verdict == Verdict.supported and not instruction_like(c.text)
               and not any(states(c.text, r) or states(r, c.text) for r in rejected)
               for c in [*record.claims, *record.draft_claims])


def without_claims(text: str, claims: list[ClaimVerdict], drop: set[int]) -> str | None:
    """`text` with the claims in `drop` cut out; None when a dropped claim cannot be located."""
    spans = {n: (a, b) for a, b, n in valid_spans(text, claims)}
    cuts = []
    for n in drop:
        if n in spans:
            cuts.append(spans[n])
            continue
        at = text.find(claims[n].text)
        if at < 0:
            return None
        cuts.append((at, at + len(claims[n].text)))
    out, pos = [], 0
    for a, b in sorted(cuts):
        if a < pos:
            continue
        out.append(text[pos:a])
        pos = b
    out.append(text[pos:])
    return " ".join("".join(out).split())


# ------------------------------------------------------------------------------------------ pairs
def _side(side) -> str:
    return side if isinstance(side, str) else " ".join(m["content"] if isinstance(m, dict) else m.content
                                                       for m in side)


def split_ai_pairs(rows: list[dict], rejected: dict[str, list[str]]) -> tuple[list[dict], list[dict]]:
    """(kept, dropped) AI pairs: a pair of a question (id `RECORD:…`) whose chosen side states a claim
    reviewers rejected in that record's final answer is dropped; each dropped row says which."""
    kept, dropped = [], []
    for row in rows:
        rid = next((r for r in rejected if str(row.get("id", "")).startswith(f"{r}:")), None)
        chosen = _side(row.get("chosen", ""))
        hit = [c for c in rejected.get(rid, []) if states(chosen, c)] if rid is not None else []
        if hit:
            dropped.append({"id": row["id"], "record_id": rid, "source": row.get("source"), "rejected_claims": hit,
                            "why": "its chosen side states a claim reviewers rejected"})
        else:
            kept.append(row)
    return kept, dropped


def human_pair(record: Record, rules: list[list[str]], claim_labels: dict[int, list[str]], drop: set[int],
               correction: str | None, no_rule: str) -> tuple[PreferencePair | None, str]:
    """The human pair of a reviewed record and what became of it: (pair, "") or (None, why not).

    Chosen: the correction when there is one (confidence 1: a reviewer wrote it); else, when claims
    were rejected, the final answer without them (confidence = the smallest share of reviewers
    rejecting a cut claim), or the abstention only when the question is not answerable. Rejected:
    the final answer as delivered.
    """
    if not record.final_answer:
        return None, "no final answer"
    rejected_claims = [record.claims[i].text for i in sorted(drop)]
    rule_ids = sorted({r for i in drop for r in rules[i]} - {no_rule})
    if correction is not None:
        if same_substance(correction, record.final_answer):
            return None, "the correction says what the final answer says"
        chosen, reasons, confidence = correction, [REVIEWER_CORRECTED], 1.0
    elif drop:
        confidence = min(Counter(claim_labels[i])["reject"] / len(claim_labels[i]) for i in drop)
        remainder = without_claims(record.final_answer, record.claims, drop)
        if remainder is None:
            return None, "a rejected claim could not be located in the final answer"
        if has_content(remainder):
            chosen = remainder
        elif answerable(record, rejected_claims):
            return None, "answerable question, no correction: an abstention must not be the chosen side"
        else:
            chosen = ABSTAIN
        reasons = [REVIEWER_REJECTED]
    else:
        return None, ""
    return PreferencePair(
        id=f"{record.id}:human",
        prompt=[Message.model_validate(m) for m in policy_messages(record.question, record.sources)],
        chosen=[Message(role="assistant", content=chosen)],
        rejected=[Message(role="assistant", content=record.final_answer)],
        source="human", confidence=round(confidence, 4), rule_ids=rule_ids,
        reason=PairReason(reasons=reasons, rule_ids=rule_ids, claims_fixed=rejected_claims)), ""


# ----------------------------------------------------------------------------------------- README
FILE_MEANING = {
    "config.yaml": "the original run's config, copied",
    "records.jsonl": "the original run's records, copied (full traces: sources, draft, rounds, claim verdicts)",
    "sft.jsonl": "SFT rows (`id`, `messages`): the original rows, less answers with a rejected claim, plus answers "
                 "whose every unsupported claim reviewers accepted; a reviewer's correction replaces the answer",
    "preferences.jsonl": "preference pairs (TRL format; `reason` says why chosen wins): the AI pairs reviewers "
                         "left standing, then the human pairs (`source: human`)",
    "labels.jsonl": "one row per reviewer decision: record, claim, locator, quote, AI verdict, decision, comment, "
                    "reviewer, time",
    "corrections.jsonl": "one row per reviewer correction: text, reviewer, time, whether it was used, and the claim "
                         "checker's verdicts (`unsupported_claims` lists what the checker did not support)",
    "dropped_pairs.jsonl": "the AI pairs removed: id, record, the rejected claims their chosen side states",
}


def export_card(run_dir: Path, out_dir: Path, written: dict[str, int | None], counts: dict) -> str:
    """The export's README: every file written (path relative to the export), its rows, what it is;
    why AI pairs were dropped and human pairs not made; and how to train on it, with real paths."""
    source = os.path.relpath(run_dir.resolve(), out_dir.resolve())
    files = "".join(f"| `{name}` | {'–' if rows is None else rows} | {FILE_MEANING.get(name, '')} |\n"
                    for name, rows in written.items())
    reasons = "".join(f"| `{k}` | {n} | {REASON_MEANING.get(k, '')} |\n"
                      for k, n in counts.get("human_pair_reasons", {}).items())
    skipped = "".join(f"- {n} record(s): {why}\n" for why, n in counts.get("human_pairs_skipped", {}).items())
    skipped = skipped or "- none\n"
    return f"""# cai review export

Derived from the generate run `{source}` (relative to this directory) and its reviewers' decisions
(`{source}/review.sqlite`). The reviewed run is not modified. Train on it with
`cai train CONFIG.yaml data={out_dir}`.

| file | rows | what |
| --- | --- | --- |
{files}| `manifest.json` | – | run status, counts, and what it was derived from |

{counts['reviewers']} reviewer(s), {counts['reviewed_records']} record(s) reviewed, {counts['stale_decisions']} stale
decision(s) and {counts['stale_corrections']} stale correction(s) (their answer changed since) left out.

## Preference pairs

- AI pairs: {counts['ai_pairs']} kept of {counts['ai_pairs'] + counts['ai_pairs_dropped']};
  {counts['ai_pairs_dropped']} dropped because their chosen side states a claim reviewers rejected
  (listed in `dropped_pairs.jsonl`).
- Human pairs: {counts['human_pairs']}, by why chosen wins:

| reason | count | meaning |
| --- | --- | --- |
{reasons}
Reviewed records without a human pair, and why:
{skipped}
## Corrections

{counts['corrections']} correction(s) used as SFT targets and chosen sides; {counts['corrections_unsupported']} of
them hold a claim the checker did not support (kept: the reviewer's judgment; see `unsupported_claims` in
`corrections.jsonl`).
"""


def dumps(rows: list) -> str:
    return "".join(json.dumps(r.model_dump(mode="json") if hasattr(r, "model_dump") else r, ensure_ascii=False) + "\n"
                   for r in rows)
