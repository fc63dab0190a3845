"""How often `rewards.correctness.judge` (what `cai eval` and `bench/generate_correctness.py` call
correct) agrees with FinanceBench's human labels of the 818 dev answers.

Each labelled answer is judged against its question's `gold_answer` as `bench/generate_correctness.py`
judges a final answer (`judge_text`: its factual sentences, the offline checker for a gold without
figures); the human label (`supported` = the answer is right) is the reference. Reported apart for
golds with figures (method 2: figures within 1%) and without (method 3: `rewards.gold_text`), and by
company: the checker's development split and the 3 leave-company-out folds of `bench/checker.py`.
Nothing in the judge is fitted, so a fold's "unseen" and "tuned on" differ only by company; the text
conventions of `rewards.gold_text` were written after reading these answers' disagreements (say so
beside any number quoted from here).

    python bench/judge_agreement.py [--out bench/results/judge-agreement.json]
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


def judged_rows(data: Path) -> list[dict]:
    """One row per labelled answer: company, gold kind, the human label and the judge's verdict."""
    from generate_correctness import judge_text

    from rewards.checker import FailClosed, get_checker
    from rewards.correctness import Gold, figures

    checker = FailClosed(get_checker("offline"))
    questions = {q["id"]: q for q in map(json.loads, (data / "questions.jsonl").open())}
    rows = []
    for r in map(json.loads, (data / "labeled_answers.jsonl").open()):
        q = questions[r["question_id"]]
        verdict = judge_text(q["question"], r["answer"], Gold(answer=q["gold_answer"]), checker)
        rows.append({"id": r["id"], "company": r["company"], "kind": "figures" if figures(q["gold_answer"]) else "text",
                     "label": r["label"] == "supported", "correct": verdict["correct"], "reason": verdict["reason"]})
    return rows


def agreement(rows: list[dict]) -> dict:
    """Rates of the judge against the labels, all golds and by gold kind."""
    out = {"all": protocol.rates([r["label"] for r in rows], [r["correct"] for r in rows])}
    for kind in ("figures", "text"):
        chosen = [r for r in rows if r["kind"] == kind]
        out[kind] = protocol.rates([r["label"] for r in chosen], [r["correct"] for r in chosen])
    return out


def main() -> None:
    import cai

    cai.hide_bitsandbytes()
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--out", type=Path, default=HERE / "results" / "judge-agreement.json")
    args = ap.parse_args()
    rows = judged_rows(args.data)
    companies = sorted({r["company"] for r in rows})
    folds = protocol.company_folds(companies, 3, 0)
    developed = set(companies) & protocol.OFFLINE_DEVELOPED_ON
    pick = lambda names: [r for r in rows if r["company"] in names]  # noqa: E731
    result = {
        "answers": len(rows), "all": agreement(rows),
        "developed_on": agreement(pick(developed)), "added_later": agreement(pick(set(companies) - developed)),
        "folds": [{"fold": k, "held_out": held, "unseen": agreement(pick(set(held))),
                   "tuned_on": agreement(pick(set(companies) - set(held)))} for k, held in enumerate(folds)],
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print("| group | gold | n | sensitivity | specificity | balanced accuracy |\n|---|---|---:|---:|---:|---:|")
    groups = [("all", result["all"]), ("developed on", result["developed_on"]), ("added later", result["added_later"])]
    groups += [(f"fold {f['fold']} unseen", f["unseen"]) for f in result["folds"]]
    for name, g in groups:
        for kind in ("all", "figures", "text"):
            r = g[kind]
            rates = f"{r['sensitivity']} | {r['specificity']} | {r['balanced_accuracy']}"
            print(f"| {name} | {kind} | {r['n']} | {rates} |")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
