"""Issue #17 on the example corpus: does every flawed draft end right or as an explicit abstention, and
does every right draft stay right?

Judges each final answer of a `cai generate` run on the quickstart questions against the gold the
question rows carry (`rewards.correctness.judge`: gold quotes, with the full gold pages read from the
index's page store), beside the draft's label in the fixtures (`metadata.draft_label`).

    cai ingest examples/corpus --index runs/example-index
    cai generate examples/quickstart/generate.yaml
    python bench/quickstart_acceptance.py runs/generate-… --index runs/example-index
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
QUESTIONS = ROOT / "examples" / "quickstart" / "questions.jsonl"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run_dir", type=Path, help="a `cai generate` run of examples/quickstart/generate.yaml")
    ap.add_argument("--index", type=Path, default=ROOT / "runs" / "example-index", help="the example index")
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT))
    from cai.core.contracts import SourcePage
    from rewards.checker import get_checker
    from rewards.correctness import abstains, gold_pages, judge, read_gold

    store = sqlite3.connect(args.index / "store.sqlite")

    def lookup(doc: str, page: int) -> SourcePage | None:
        row = store.execute("select text from pages where doc_id=? and page=?", (doc, page)).fetchone()
        return SourcePage(doc_id=doc, page=page, text=row[0]) if row else None

    rows = {r["id"]: r for r in map(json.loads, QUESTIONS.read_text().splitlines())}
    checker, counts, wrong = get_checker("offline"), Counter(), []
    for line in (args.run_dir / "records.jsonl").read_text().splitlines():
        record = json.loads(line)
        row = rows[record["id"]]
        gold = read_gold(row["metadata"])
        sources = [p for s in record["sources"] if (p := lookup(s["doc_id"], s["page"])) is not None]
        result = judge(row["question"], record["final_answer"], gold, checker=checker, sources=sources,
                       pages=gold_pages(gold, lookup))
        draft_right = row["metadata"].get("draft_label") == "correct"
        outcome = "right" if result.correct else "abstained" if abstains(record["final_answer"]) else "wrong"
        counts[("right draft" if draft_right else "flawed draft", outcome)] += 1
        if outcome == "wrong" or (draft_right and outcome != "right"):
            wrong.append(f"{record['id']}: {result.reason} | {record['final_answer'][:160]}")
    for (draft, outcome), n in sorted(counts.items()):
        print(f"{draft:13s} -> {outcome:9s} {n}")
    print("\n".join(wrong) or "every flawed draft ends right or abstains; every right draft stays right")
    return 1 if wrong else 0


if __name__ == "__main__":
    raise SystemExit(main())
