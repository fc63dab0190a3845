"""Issue #17 on TAT-QA dev: does the grounded teacher turn a flawed draft into the right answer or an
explicit abstention, and keep a right draft right, on annual reports it was never developed on?

TAT-QA's contexts (Zhu et al. 2021; `../shared/data/tatqa-dev/checker.jsonl`, its README) are real
annual-report tables with their paragraphs; its checker rows give each question the gold answer and
flawed copies of it: a figure scaled (number), another year's column (column), another scale word
(scale), another question's answer (text). Each context is written as a text filing and ingested
(`cai ingest`); each row becomes a question whose draft is its answer, scoped to its own context by
`metadata.filters` (TAT-QA asks a question of one given context, which need not name its company), and
`cai generate` runs on them with the grounded teacher and the offline checker. Each final answer is
judged against the question's gold answer (`rewards.correctness.judge`: figures within 1%, else the
gold text): right, an abstention, or wrong, by slice. Nothing is fitted to TAT-QA; the teacher's
conventions were written on FinanceBench, so every company here is unseen.

    python bench/tatqa_revise.py [--questions 2000] [--show] [--out bench/results/tatqa-revise.json]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DATA = ROOT.parent / "shared" / "data" / "tatqa-dev"  # beside the repo, never copied in
WORK = Path("/tmp/cai-bench/tatqa-revise")


def sample(rows: list[dict], n: int, seed: int) -> dict[str, list[dict]]:
    """Question uid → its rows (original first), for `n` questions drawn with `seed`."""
    by_question: dict[str, list[dict]] = defaultdict(list)
    for r in rows:
        by_question[r["id"].split(":")[1]].append(r)
    uids = sorted(u for u, rs in by_question.items() if any(r["slice"] == "original" for r in rs))
    random.Random(seed).shuffle(uids)
    return {u: sorted(by_question[u], key=lambda r: r["slice"] != "original") for u in uids[:n]}


def prepare(chosen: dict[str, list[dict]], work: Path) -> tuple[Path, Path]:
    """The corpus of contexts (one text filing each) and the generate questions file."""
    corpus, questions = work / "corpus", work / "questions.jsonl"
    corpus.mkdir(parents=True, exist_ok=True)
    lines = []
    for rows in chosen.values():
        source, gold = rows[0]["sources"][0], rows[0]["answer"]
        (corpus / f"{source['doc_id']}.txt").write_text(source["text"])
        for r in rows:
            lines.append(json.dumps({"id": r["id"], "question": r["question"], "answer": r["answer"],
                                     "metadata": {"slice": r["slice"], "gold_answer": gold,
                                                  "filters": {"doc_id": source["doc_id"]}}}))
    questions.write_text("\n".join(lines) + "\n")
    return corpus, questions


def judged(run_dir: Path) -> tuple[Counter, list[str]]:
    """(slice, outcome) counts of a finished run, and the wrong finals."""
    from rewards.checker import get_checker
    from rewards.correctness import Gold, abstains, judge

    checker, counts, wrong = get_checker("offline"), Counter(), []
    for line in (run_dir / "records.jsonl").read_text().splitlines():
        r = json.loads(line)
        final, meta = r["final_answer"] or "", r["metadata"]
        result = judge(r["question"], final, Gold(answer=meta["gold_answer"]), checker=checker)
        outcome = "right" if result.correct else "abstained" if abstains(final) else "wrong"
        counts[(meta["slice"], outcome)] += 1
        if outcome == "wrong" or (meta["slice"] == "original" and outcome != "right"):
            wrong.append(f"{r['id']} [{outcome}] gold {meta['gold_answer']!r}: {result.reason} | {final[:160]}")
    return counts, wrong


def main() -> None:
    from cai import hide_bitsandbytes

    hide_bitsandbytes()
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--questions", type=int, default=2000, help="TAT-QA questions drawn (all their rows run)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--show", action="store_true", help="print each wrong final (and each right draft not kept)")
    ap.add_argument("--work", type=Path, default=WORK)
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "tatqa-revise.json")
    args = ap.parse_args()
    from cai.core.configs import GenerateConfig
    from cai.stages.generate import run
    from rag.ingest import ingest

    rows = [json.loads(line) for line in (DATA / "checker.jsonl").read_text().splitlines()]
    chosen = sample(rows, args.questions, args.seed)
    corpus, questions = prepare(chosen, args.work)
    index = args.work / "index"
    if not (index / "manifest.json").exists():
        ingest([corpus], index, progress=False)
    config = GenerateConfig.model_validate({"questions": str(questions), "index": str(index),
                                            "constitution": "finance-10k", "runs_dir": str(args.work / "runs"),
                                            "teacher": {"backend": "grounded"}})
    run_dir = run(config, show_progress=False)
    counts, wrong = judged(run_dir)
    by_slice = {s: {o: counts[(s, o)] for o in ("right", "abstained", "wrong")}
                for s in sorted({s for s, _ in counts})}
    # ids only: the dataset's text stays beside the repository, never in it
    result = {"questions": len(chosen), "rows": sum(counts.values()), "seed": args.seed, "run_dir": str(run_dir),
              "by_slice": by_slice, "not_right_ids": [line.split(" ", 1)[0] for line in wrong]}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print("| draft | right | abstained | wrong |\n|---|---:|---:|---:|")
    for s, c in by_slice.items():
        print(f"| {s} | {c['right']} | {c['abstained']} | {c['wrong']} |")
    if args.show:
        print("\n".join(wrong))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
