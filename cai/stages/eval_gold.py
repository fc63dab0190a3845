"""`cai eval`, part two: correctness against gold and relevance to the question, beside support.

Support says the sources state a claim; it does not say the answer is right. Where a question carries
gold (`metadata.gold` evidence quotes, `metadata.gold_answer`, or the `unanswerable` tag), each answer
is also judged **correct** or not by `rewards.correctness.judge` — the policy answer as written and the
delivered answer alike — and each claim of the policy answer is judged **relevant** or not by
`rewards.relevance` (does it address the question's measure, entity and period). Gold evidence is
checked on its full pages from the index, so the checker reads the table's columns and the filer.

Metrics, per target (rates are num/den; a question without gold counts in no correctness rate):

* **correct answer rate** = correct answers / answers whose question carries gold (`raw` and
  `delivered` sides);
* **claim relevance rate** = claims of the policy answers that address the question / all claims;
* **support vs correctness** — the answers on which the two disagree, by id: *supported but wrong*
  (every claim of the policy answer supported by the sources, and wrong against the gold), *correct
  but unsupported* (right against the gold, with a claim the sources do not support), and *delivered
  but wrong* (a delivered answer — supported by construction — that is wrong: what `cai answer` would
  serve). The first and the last are where a checker or a gold label deserves a look.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from cai.core.contracts import ClaimVerdict, SourcePage
from rewards.correctness import DEFAULT_TOLERANCE, Gold, gold_pages, judge
from rewards.relevance import claims_relevance

PageLookup = Callable[[str, int], SourcePage | None]


def judged(question: str, answer: str, gold: Gold | None, checker, *, sources: Sequence[SourcePage] = (),
           lookup: PageLookup | None = None, tolerance: float = DEFAULT_TOLERANCE) -> dict:
    """The correctness of one answer as a row's fields: `correct` (True, False, None without gold) and why.
    `sources`: the pages the answer was written from; `lookup`: the full gold pages (e.g. the index's)."""
    if gold is None or not gold.judgeable:
        return {"correct": None, "correct_method": None, "correct_why": "no gold"}
    known = {(p.doc_id, p.page): p for p in sources}

    def full_page(doc: str, page: int) -> SourcePage | None:  # a gold page among the sources, else from the index
        return known.get((doc, page)) or (lookup(doc, page) if lookup is not None else None)

    pages = gold_pages(gold, full_page) if gold.quotes else None
    c = judge(question, answer, gold, checker=checker, pages=pages, sources=sources, tolerance=tolerance)
    return {"correct": c.correct, "correct_method": c.method, "correct_why": c.reason}


def relevance_of(question: str, verdicts: Sequence[ClaimVerdict], pages: Sequence[SourcePage]) -> list[dict]:
    """Per claim of the policy answer: relevant or not, its score and why (`rewards.relevance`)."""
    return [{"relevant": r.relevant, "relevance": r.score, "relevance_why": r.reason}
            for r in (claims_relevance(question, verdicts, pages) if verdicts else [])]


# ---------------------------------------------------------------------------------------- metrics
def correct_counts(rows: Sequence[dict], side: str = "raw") -> tuple[int, int]:
    """(correct answers, answers judged against gold) on one side."""
    judged_rows = [r[side] for r in rows if r[side].get("correct") is not None]
    return sum(m["correct"] is True for m in judged_rows), len(judged_rows)


def relevance_counts(rows: Sequence[dict]) -> tuple[int, int]:
    """(claims that address the question, claims measured for relevance), pooled over answers."""
    measured = [r["raw"] for r in rows if r["raw"].get("relevant") is not None]
    return sum(m["relevant"] for m in measured), sum(m["claims"] for m in measured)


def disagreements(rows: Sequence[dict]) -> dict[str, list[str]]:
    """The ids of the answers on which support and correctness disagree (module docstring)."""
    out: dict[str, list[str]] = {"supported_but_wrong": [], "correct_but_unsupported": [], "delivered_but_wrong": []}
    for r in rows:
        raw, delivered = r["raw"], r["delivered"]
        supported = raw["claims"] > 0 and raw["supported"] == raw["claims"]
        if supported and raw.get("correct") is False:
            out["supported_but_wrong"].append(r["id"])
        if raw.get("correct") is True and raw["supported"] < raw["claims"]:
            out["correct_but_unsupported"].append(r["id"])
        if not delivered["abstained"] and delivered.get("correct") is False:
            out["delivered_but_wrong"].append(r["id"])
    return out


DISAGREEMENTS = [("supported but wrong", "supported_but_wrong"), ("correct but unsupported", "correct_but_unsupported"),
                 ("delivered but wrong", "delivered_but_wrong")]


def render_disagreements(metrics: dict) -> str:
    """Where support and correctness disagree, per target (markdown), or "" when no question has gold."""
    if not any(m["raw"].get("correct_rate", {}) and m["raw"]["correct_rate"]["den"]
               for m in metrics["targets"].values()):
        return ""
    head = ["target", *(title for title, _ in DISAGREEMENTS)]
    lines = ["Support vs correctness (answers as written; delivered: after verification):", "",
             "| " + " | ".join(head) + " |", "|" + "|".join(" --- " for _ in head) + "|"]
    for name, m in metrics["targets"].items():
        cells = [name]
        for _, key in DISAGREEMENTS:
            ids = m.get("disagreements", {}).get(key, [])
            cells.append(f"{len(ids)}" + (f": {', '.join(ids[:8])}{' …' if len(ids) > 8 else ''}" if ids else ""))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
