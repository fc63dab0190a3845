"""Correctness of the grounded teacher's final answers on the FinanceBench dev drafts (issue #17's
acceptance), used by `bench/generate.py financebench`.

One final answer per labelled draft (818 drafts of 73 questions' 42 labelled ones, 21 companies): each
is an SFT target the run would ship, so each counts; per question (every draft of a question weighted
1 / its drafts) beside it. Per final answer (`judge_record`):

* **abstained**: no factual claim, only "The sources do not state …" sentences (or nothing). Not
  correct, and not a wrong claim either: counted apart.
* **correct**: `rewards.correctness.judge` against the question's `gold_answer` (figures within 1%,
  scale-aware, on the answer's factual sentences: its "does not state …" sentences left out, as
  `judge` counts an answer holding any abstention sentence as an abstention, which would hide the
  figures it does state; a gold answer without figures: whether the whole answer states the gold's
  claim, `rewards.gold_text`, where "The sources do not state that Boeing has reported …" before
  the lawsuits is a denial of the gold's yes).
* **supported**: every factual claim of the final answer judged `supported` by the run's checker
  (the record's own verdicts: the `offline` checker inside `cai generate`).
* **supported but wrong** (the target is 0): supported, judged on figures, not correct, and a claim
  that addresses the question (`rewards.relevance`: its measure, period, entity) states a figure that
  is none of the gold's, of the gold's kind (an amount for an amount, a rate or count for a rate or
  count) and not one the question itself states — the answer gives a figure for what was asked, and
  it is not the gold one. An automatic reading: BENCHMARKS.md lists what each case really is.
* **correct at the gold's rounding**, beside: `judge` honours the rounding of the answer's figure, not
  the gold's, so "$1,824 million" is wrong against a gold "$1.8 bn" and "1.42%" against "0.01"
  (`within_gold_rounding` accepts them).
  Supported and wrong otherwise is counted apart: *incomplete* (states some gold figures, no other
  figure for what was asked), *does not answer* (no figure for what was asked: other true facts),
  *wrong against the gold text* (a gold answer without figures).

Grouped by the offline checker's development split (`bench.checker_protocol.OFFLINE_DEVELOPED_ON`:
the rules were written on 10 companies; the 11 added later were never looked at while tuning, the
honest "unseen") and by leave-company-out fold (3 folds, seed 0, the companies of `bench/checker.py`):
nothing in the grounded teacher or the offline checker is fitted per fold, so a fold's "unseen" and
"tuned on" differ only by company. Drafts whose gold filing is not in the index are reported apart:
the teacher cannot find their answer, and the right outcome is an abstention.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Sequence
from pathlib import Path

import checker_protocol as protocol  # bench/ is on sys.path when run as bench/generate.py

TOLERANCE = 0.01


def load_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def index_docs(index: Path) -> set[str]:
    return {d["doc_id"] for d in json.loads((index / "manifest.json").read_text())["documents"]}


def factual_text(answer: str) -> tuple[str, int]:
    """The answer's sentences other than abstentions, joined; and how many abstention sentences it had."""
    from rewards.claims import split_claims

    sentences = split_claims(answer or "", keep_non_claims=True)
    kept = [s.text for s in sentences if s.kind != "abstention"]
    return " ".join(kept), sum(s.kind == "abstention" for s in sentences)


def relevant_figures(question: str, rec: dict) -> list[str]:
    """The figures stated by the final answer's claims that address the question (`rewards.relevance`)."""
    from cai.core.contracts import ClaimVerdict, SourcePage
    from rewards.claims import sentence_kind
    from rewards.correctness import figures
    from rewards.relevance import claims_relevance

    claims = [ClaimVerdict.model_validate(c) for c in rec["claims"] if sentence_kind(c["text"]) != "abstention"]
    pages = [SourcePage(doc_id=h["doc_id"], page=h["page"], text=h.get("text") or " ") for h in rec["sources"]]
    out = []
    for claim, rel in zip(claims, claims_relevance(question, claims, pages) if claims else [], strict=True):
        if rel.relevant:
            out += figures(claim.text)
    return out


def judge_text(question: str, answer: str, gold, checker) -> dict:
    """`judge` on the factual sentences of `answer`; abstained when there are none."""
    from rewards.correctness import abstains, figures, judge

    text, n_abstentions = factual_text(answer)
    if not text.strip() or abstains(text):
        return {"abstained": True, "correct": False, "method": "abstention", "reason": "abstains",
                "abstention_sentences": n_abstentions}
    # A gold without figures is judged on the whole answer: "The sources do not state that Boeing has
    # reported ongoing legal battles" before the lawsuits it lists is a denial of the gold's yes.
    c = judge(question, text if figures(gold.answer or "") else answer, gold, checker=checker, tolerance=TOLERANCE)
    return {"abstained": False, "correct": bool(c.correct), "method": c.method, "reason": c.reason,
            "stated": c.stated, "abstention_sentences": n_abstentions,
            "judge_raw_says_abstention": n_abstentions > 0}


def within_gold_rounding(stated, gold) -> bool:
    """`stated` rounds to the gold figure as the gold writes it ("$1,824 million" for "$1.8 bn", "1.42%" for
    "0.01"): within the gold's half unit or 1% of it, at a scale the gold leaves unwritten, % against a ratio.
    `rewards.correctness.same_figure` honours only the stated figure's rounding; this is reported beside it."""
    value = stated.magnitude
    if (stated.unit == "%") != (gold.unit == "%"):
        value = value / 100 if stated.unit == "%" else value * 100
    values = [value] + ([value / s for s in (1e3, 1e6, 1e9)] if not gold.scaled_in_text else [])
    return any(abs(v - gold.magnitude) <= max(TOLERANCE * gold.magnitude, gold.half_unit) * (1 + 1e-9)
               for v in values)


def judge_record(rec: dict, q: dict, company: str, indexed: bool, checker) -> dict:
    """One final answer: correct, abstained, supported, and which kind of supported-but-wrong."""
    from rewards.claims import sentence_kind
    from rewards.correctness import figures, read_gold, same_figure
    from rewards.numbers import checkable, extract_quantities

    gold = read_gold({"gold_answer": q["gold_answer"]})
    final = judge_text(rec["question"], rec["final_answer"] or "", gold, checker)
    draft = judge_text(rec["question"], rec["draft"] or "", gold, checker)
    factual = [c for c in rec["claims"] if sentence_kind(c["text"]) != "abstention"]
    supported = bool(factual) and all(c["verdict"] == "supported" for c in factual)
    wanted = figures(q["gold_answer"])
    relevant = relevant_figures(rec["question"], rec) if not final["abstained"] else []
    said = figures(factual_text(rec["final_answer"] or "")[0]) if not final["abstained"] else []
    rounded = bool(wanted) and final["method"] == "figures" and all(
        any(same_figure(f, g, TOLERANCE) or within_gold_rounding(f, g) for f in said) for g in wanted)
    asked = [f for f in extract_quantities(rec["question"]) if checkable(f)]  # "not … more than roughly 2%"
    other = [f.text for f in relevant if not any(same_figure(f, g, TOLERANCE) for g in wanted)
             and not any(same_figure(f, a, TOLERANCE) for a in asked)
             and any((f.unit == "$") == (g.unit == "$") for g in wanted)]  # an amount for an amount, a rate for a rate
    if final["abstained"]:
        kind = "abstained"
    elif final["correct"]:
        kind = "correct"
    elif not supported:
        kind = "wrong, checker did not support it"
    elif final["method"] != "figures":
        kind = "supported, wrong against the gold text"
    elif other:
        kind = "supported but wrong (states another figure for what was asked)"
    elif final.get("stated"):
        kind = "supported, incomplete (some gold figures, no other)"
    else:
        kind = "supported, does not answer (no figure for what was asked)"
    return {"id": rec["id"], "question_id": q["id"], "company": company, "doc_name": q["doc_name"],
            "filing_indexed": indexed, "draft_label": rec["metadata"].get("label"), "kind": kind,
            "supported": supported, "final": final, "correct_at_gold_rounding": final["correct"] or rounded,
            "draft_correct": draft["correct"],
            "draft_abstained": draft["abstained"], "relevant_other_figures": other,
            "gold_answer": q["gold_answer"], "final_answer": rec["final_answer"]}


SBW = "supported but wrong (states another figure for what was asked)"


def summary(rows: Sequence[dict]) -> dict:
    """Counts and shares of one group of judged final answers."""
    n = len(rows)
    kinds = Counter(r["kind"] for r in rows)
    by_q: dict[str, list[bool]] = defaultdict(list)
    for r in rows:
        by_q[r["question_id"]].append(r["final"]["correct"])
    share = lambda k: round(k / n, 4) if n else None  # noqa: E731
    return {
        "final_answers": n, "questions": len(by_q), "companies": len({r["company"] for r in rows}),
        "correct": kinds["correct"], "correct_share": share(kinds["correct"]),
        "correct_share_per_question": round(sum(sum(v) / len(v) for v in by_q.values()) / len(by_q), 4)
        if by_q else None,
        "questions_with_a_correct_final": sum(any(v) for v in by_q.values()),
        "abstained": kinds["abstained"], "abstained_share": share(kinds["abstained"]),
        "answered_correct_share": round(kinds["correct"] / (n - kinds["abstained"]), 4)
        if n > kinds["abstained"] else None,
        "supported_but_wrong": kinds[SBW],
        "supported_but_wrong_ids": sorted(r["id"] for r in rows if r["kind"] == SBW),
        "supported_but_wrong_questions": len({r["question_id"] for r in rows if r["kind"] == SBW}),
        "correct_at_gold_rounding": sum(r["correct_at_gold_rounding"] for r in rows),
        "supported_but_wrong_at_gold_rounding": sum(r["kind"] == SBW and not r["correct_at_gold_rounding"]
                                                    for r in rows),
        "supported_and_not_correct": sum(r["supported"] and r["kind"] not in ("correct", "abstained") for r in rows),
        "kinds": dict(kinds.most_common()),
        "drafts_correct": sum(r["draft_correct"] for r in rows),
        "draft_correct_final_not": sum(r["draft_correct"] and not r["final"]["correct"] for r in rows),
        "draft_wrong_final_correct": sum(not r["draft_correct"] and r["final"]["correct"] for r in rows),
        "judge_would_call_abstention": sum(bool(r["final"].get("judge_raw_says_abstention")) for r in rows),
    }


def fb_correctness(run_dir: Path, data: Path, index: Path, checker=None) -> dict:
    """Judge every final answer of a finished FinanceBench run, grouped (module docstring)."""
    from rewards.checker import get_checker

    checker = checker or get_checker("offline")
    questions = {q["id"]: q for q in load_jsonl(data / "questions.jsonl")}
    labelled = load_jsonl(data / "labeled_answers.jsonl")
    by_id = {r["id"]: r for r in labelled}
    perturbed = load_jsonl(data / "perturbations.jsonl")
    docs = index_docs(index)
    records = load_jsonl(run_dir / "records.jsonl")
    rows = []
    for rec in records:
        q = questions[rec["metadata"]["question_id"]]
        rows.append(judge_record(rec, q, by_id[rec["id"]]["company"], q["doc_name"] in docs, checker))
    companies = protocol.all_companies(labelled, perturbed, by_id)
    folds = protocol.company_folds(companies, 3, 0)
    developed = companies & protocol.OFFLINE_DEVELOPED_ON

    def groups(chosen: Sequence[dict]) -> dict:
        pick = lambda names: [r for r in chosen if r["company"] in names]  # noqa: E731
        return {"all": summary(chosen),
                "developed_on": summary(pick(developed)), "added_later": summary(pick(companies - developed)),
                "folds": [{"fold": k, "held_out": held, "unseen": summary(pick(set(held))),
                           "tuned_on": summary(pick(companies - set(held)))} for k, held in enumerate(folds)]}

    indexed = [r for r in rows if r["filing_indexed"]]
    with (run_dir / "correctness.jsonl").open("w") as out:  # with the texts: beside the run, never in the repo
        out.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    ids_by_kind: dict[str, list[str]] = defaultdict(list)
    for r in rows:
        if r["kind"] != "correct":
            ids_by_kind[r["kind"]].append(r["id"])
    return {"tolerance": TOLERANCE, "run_dir": str(run_dir), "index": str(index),
            "filings_missing_from_index": sorted({r["doc_name"] for r in rows if not r["filing_indexed"]}),
            "developed_on_companies": sorted(developed), "added_later_companies": sorted(companies - developed),
            "folds": folds, "filing_indexed": groups(indexed), "all_drafts": groups(rows),
            "filing_not_indexed": summary([r for r in rows if not r["filing_indexed"]]),
            "rows_file": str(run_dir / "correctness.jsonl"), "ids_by_kind": dict(ids_by_kind)}


def markdown(c: dict) -> str:
    """The acceptance table: one line per group, filing-indexed drafts and all drafts."""
    head = ("| group | final answers (questions) | correct | correct, per question | at the gold's rounding | "
            "abstained | supported but wrong (questions) | at the gold's rounding | supported, not correct (all) |")
    lines = [head, "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]

    def line(name: str, s: dict) -> str:
        return (f"| {name} | {s['final_answers']} ({s['questions']}) | {s['correct']} = {s['correct_share']} | "
                f"{s['correct_share_per_question']} | {s['correct_at_gold_rounding']} | {s['abstained']} | "
                f"**{s['supported_but_wrong']}** ({s['supported_but_wrong_questions']}) | "
                f"{s['supported_but_wrong_at_gold_rounding']} | {s['supported_and_not_correct']} |")

    for scope in ("filing_indexed", "all_drafts"):
        g = c[scope]
        lines.append(line(f"{scope}: all", g["all"]))
        lines.append(line(f"{scope}: developed on", g["developed_on"]))
        lines.append(line(f"{scope}: added later", g["added_later"]))
        for f in g["folds"]:
            lines.append(line(f"{scope}: fold {f['fold']} unseen", f["unseen"]))
            lines.append(line(f"{scope}: fold {f['fold']} tuned on", f["tuned_on"]))
    lines.append(line("filing not in index", c["filing_not_indexed"]))
    return "\n".join(lines)
