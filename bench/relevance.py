"""How well `rewards.relevance` tells an answer to its question from an answer to another question.

`cai answer` delivers only the supported claims that address the question (`rewards.relevance.deliver`:
none left → the explicit abstention), and `cai eval` reports relevance beside support. A reading too
strict withholds right answers; one too loose lets another question's answer through. Both are measured
on FinanceBench's 818 human-labelled dev answers, with no checker in the way (every claim counts as
supported, its evidence in the question's own filing):

* **answered** — of the answers labelled right (`supported`), the share with at least one claim that
  addresses their own question (a right answer answers it: higher is better);
* **crossed** — the same answers put under another question of the same company, the next one by id that
  asks about something else (no content word of the two asking sentences shared beyond the company's
  name): the share read as answering it (lower is better).

By leave-company-out fold (3 folds, seed 0, the companies of `bench/checker.py`). Nothing is fitted, so
the folds differ only by company; the reading's conventions are general ones of English questions, but
say which folds' answers were read while writing them beside any number quoted from here.

    python bench/relevance.py [--out bench/results/relevance.json] [--show FOLD]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

import checker_protocol as protocol  # noqa: E402

DATA = HERE.parent.parent / "shared" / "data" / "financebench-dev"


def answers_question(question: str, answer: str, doc_id: str) -> tuple[bool, list[str]]:
    """Whether one claim of `answer` addresses `question`, and each claim's reason (in order)."""
    from cai.core.contracts import Evidence, Locator
    from rewards.claims import split_claims
    from rewards.relevance import claim_relevance, read_question

    asked = read_question(question, [doc_id])
    evidence = Evidence(locator=Locator(doc_id=doc_id, page=1, char_start=0, char_end=0, sentence=0), quote="")
    previous, reasons, relevant = None, [], False
    for claim in split_claims(answer):
        previous = claim_relevance(asked, claim.text, evidence=evidence, previous=previous)
        reasons.append(previous.reason)
        relevant = relevant or previous.relevant
    return relevant, reasons


def _asking_words(question: str, company: str) -> set[str]:
    from rewards.premises import content_tokens

    return set(content_tokens(question.split("?")[0])) - set(content_tokens(company))


def crossed_question(row: dict, questions: list[dict]) -> dict | None:
    """The next question by id of the same company that shares no asking word with the row's own."""
    own = next(q for q in questions if q["id"] == row["question_id"])
    words = _asking_words(own["question"], own["company"])
    others = [q for q in questions if q["company"] == own["company"] and q["id"] != own["id"]
              and not words & _asking_words(q["question"], q["company"])]
    later = [q for q in others if q["id"] > own["id"]]
    return (later or others or [None])[0]


def rows(data: Path) -> list[dict]:
    questions = sorted(map(json.loads, (data / "questions.jsonl").open()), key=lambda q: q["id"])
    by_id = {q["id"]: q for q in questions}
    out = []
    for row in map(json.loads, (data / "labeled_answers.jsonl").open()):
        if row["label"] != "supported":
            continue
        own = by_id[row["question_id"]]
        answered, reasons = answers_question(own["question"], row["answer"], own["doc_name"])
        other = crossed_question(row, questions)
        crossed = answers_question(other["question"], row["answer"], other["doc_name"])[0] if other else None
        out.append({"id": row["id"], "company": own["company"], "question": own["question"],
                    "answered": answered, "reasons": reasons, "crossed": crossed,
                    "crossed_question": other["question"] if other else None})
    return out


def summary(part: list[dict]) -> dict:
    crossed = [r["crossed"] for r in part if r["crossed"] is not None]
    return {"answers": len(part), "answered": protocol.ratio(sum(r["answered"] for r in part), len(part)),
            "crossed_pairs": len(crossed), "crossed": protocol.ratio(sum(crossed), len(crossed))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--out", type=Path, default=HERE / "results" / "relevance.json")
    parser.add_argument("--show", type=int, default=None, help="print the unanswered right answers of this fold")
    args = parser.parse_args()
    judged = rows(args.data)
    companies = sorted({r["company"] for r in judged})
    folds = protocol.company_folds(companies, 3, 0)
    result = {"all": summary(judged), "folds": [
        {"fold": k, "held_out": held, "unseen": summary([r for r in judged if r["company"] in held]),
         "tuned_on": summary([r for r in judged if r["company"] not in held])} for k, held in enumerate(folds)]}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))
    if args.show is not None:
        for r in judged:
            if r["company"] in folds[args.show] and not r["answered"]:
                print("---", r["id"], r["question"][:200])
                for reason in r["reasons"][:4]:
                    print("     ", reason[:160])


if __name__ == "__main__":
    main()
