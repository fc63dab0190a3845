"""Checker benchmark on the FinanceBench development data (never copied into the repository).

Measures, for a checker (default `offline`):
* balanced accuracy of the answer verdict (supported vs not) on the human-labelled answers
  (`labeled_answers.jsonl`, rows in `cai score` input form with `label`);
* per perturbation slice (number, period, entity): balanced accuracy on the pairs (original answer,
  labelled supported; its perturbed copy, labelled unsupported), `perturbations.jsonl`;
* adversarial answers that must never be supported (all labelled unsupported, so the balanced
  accuracy is the share rejected), built from each question's first labelled row and its sources:
  a question word repeated ("Revenue revenue revenue."), a one-word sentence ("It rained."), an
  unrelated fluent sentence, two page figures with a made-up measure ("41.7 giraffes ate 10.0"),
  and a table header or unit row copied from the page;
* direction flips (all labelled unsupported): each supported answer with one direction word of a
  sentence with figures turned to its opposite ("increased" <-> "decreased", "rose" <-> "fell",
  "higher" <-> "lower"), so every figure is still in the sources and only the direction is wrong;
* the baseline "every number in the answer appears in the evidence" on the same sets;
* claims/s on CPU. Cold: the first pass over every row, with empty page and embedding caches
  (MiniLM is loaded before timing; its load time is reported apart as `model_load_s`). Warm: a
  second pass over the first 100 labelled rows, whose pages and embeddings are then cached (what a
  generate run sees on its revision rounds and judge calls, which re-check the same pages);
* confusion matrices; and that every supported claim's quote is verbatim in its source.

Writes bench/results/checker.json and prints a markdown table. With `--verdicts FILE` it also
writes every scored row's claim verdicts, one JSON line per row in the order the rows are scored
(`{"id", "claims": [ClaimVerdict, ...]}`), so a refactor can diff every verdict before and after.

    HF_HUB_OFFLINE=1 python bench/checker.py [--data DIR] [--checker offline] [--limit N] [--verdicts FILE]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import sys
import time
from collections import Counter
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cai.core.contracts import SourcePage  # noqa: E402
from rag.sentences import sentence_spans  # noqa: E402
from rewards.checker import get_checker, quote_at_locator  # noqa: E402
from rewards.claims import is_header_row  # noqa: E402
from rewards.numbers import checkable, extract_quantities  # noqa: E402
from rewards.premises import content_tokens  # noqa: E402
from rewards.score import answer_verdict  # noqa: E402

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "financebench-dev"
RESULTS = Path(__file__).resolve().parent / "results" / "checker.json"


def load_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def balanced_accuracy(gold: list[bool], predicted: list[bool]) -> float:
    """Mean of recall on supported and recall on not-supported (Brodersen et al. 2010)."""
    pos = [p for g, p in zip(gold, predicted, strict=True) if g]
    neg = [not p for g, p in zip(gold, predicted, strict=True) if not g]
    recalls = [sum(x) / len(x) for x in (pos, neg) if x]
    return sum(recalls) / len(recalls) if recalls else 0.0


def confusion(gold: list[bool], predicted: list[bool]) -> dict[str, int]:
    counts = Counter((g, p) for g, p in zip(gold, predicted, strict=True))
    return {"tp": counts[(True, True)], "fn": counts[(True, False)], "fp": counts[(False, True)],
            "tn": counts[(False, False)]}


def numbers_in_evidence_baseline(row: dict) -> bool:
    """Baseline: supported iff every number written in the answer occurs verbatim in the evidence."""
    evidence = " ".join(s["text"] for s in row["sources"])
    figures = [q.text.strip("$() ") for q in extract_quantities(row["answer"])]
    return all(f in evidence for f in figures)


class Run:
    """Scores rows once (cached by id) and keeps timing and quote-verification counts; with
    `verdicts_out` (a text file), also writes each row's claim verdicts as it is scored."""

    def __init__(self, checker, verdicts_out=None):
        self.checker = checker
        self.verdicts_out = verdicts_out
        self.predictions: dict[str, bool] = {}
        self.claims = 0
        self.seconds = 0.0
        self.supported_claims = 0
        self.quotes_verbatim = 0

    def predict(self, row: dict) -> bool:
        if row["id"] in self.predictions:
            return self.predictions[row["id"]]
        sources = [SourcePage(**s) for s in row["sources"]]
        start = time.perf_counter()
        verdicts = self.checker.check(row.get("question"), row["answer"], sources)
        self.seconds += time.perf_counter() - start
        if self.verdicts_out is not None:
            claims = [v.model_dump(mode="json") for v in verdicts]
            self.verdicts_out.write(json.dumps({"id": row["id"], "claims": claims}) + "\n")
        self.claims += len(verdicts)
        for v in verdicts:
            if v.verdict == "supported":
                self.supported_claims += 1
                self.quotes_verbatim += quote_at_locator(v, sources)
        supported = answer_verdict(verdicts)[0] == "supported"
        self.predictions[row["id"]] = supported
        return supported


def evaluate(run: Run, rows: list[dict]) -> dict:
    gold = [r["label"] == "supported" for r in rows]
    predicted = [run.predict(r) for r in rows]
    baseline = [numbers_in_evidence_baseline(r) for r in rows]
    return {
        "n": len(rows),
        "balanced_accuracy": round(balanced_accuracy(gold, predicted), 4),
        "baseline_balanced_accuracy": round(balanced_accuracy(gold, baseline), 4),
        "confusion": confusion(gold, predicted),
    }


def slice_rows(labelled: dict[str, dict], perturbed: list[dict], name: str) -> list[dict]:
    """The originals (supported) of a slice's perturbations, followed by the perturbations."""
    chosen = [p for p in perturbed if p["slice"] == name]
    originals = {p["id"].rsplit(":", 1)[0] for p in chosen}
    return [labelled[i] for i in sorted(originals) if i in labelled] + chosen


UNRELATED = "The chief executive enjoys sailing with her family on most weekends."


def adversarial_rows(labelled: list[dict]) -> list[dict]:
    """Answers no checker may call supported, from each question's first labelled row."""
    rows, seen = [], set()
    for row in labelled:
        key = row.get("question_id", row["id"])
        if key in seen:
            continue
        seen.add(key)
        text = "\n".join(s["text"] for s in row["sources"])
        lowered, doc_ids = text.lower(), " ".join(s["doc_id"] for s in row["sources"]).lower()
        words = [w for w in content_tokens(row["question"]) if len(w) > 4 and w in lowered and w not in doc_ids]
        figures = [" ".join(q.text.split()) for q in extract_quantities(text) if checkable(q)]
        header = next((text[a:b].strip() for a, b in sentence_spans(text) if is_header_row(text[a:b])), None)
        word = (re.search(rf"\b{re.escape(words[0])}\w*", row["question"], re.IGNORECASE).group(0).lower()
                if words else "")
        answers = {"repeat": f"{word.capitalize()} {word} {word}." if word else None, "one-word": "It rained.",
                   "unrelated": UNRELATED,
                   "measure": f"{figures[0]} giraffes ate {figures[1]}." if len(figures) > 1 else None,
                   "header": header}
        rows += [{"id": f"{row['id']}:adv:{kind}", "question": row["question"], "answer": answer,
                  "sources": row["sources"], "label": "unsupported"} for kind, answer in answers.items() if answer]
    return rows


# Direction words and their opposites, for the direction-flip set (built independently of the
# checker's own word lists in rewards.direction).
_OPPOSITE = {"increased": "decreased", "increase": "decrease", "increases": "decreases",
             "increasing": "decreasing", "rose": "fell", "rise": "fall", "rises": "falls", "grew": "shrank",
             "higher": "lower", "up": "down",
             "declined": "increased", "decline": "increase", "declines": "increases", "dropped": "rose"}
_OPPOSITE.update({v: k for k, v in list(_OPPOSITE.items()) if v not in _OPPOSITE})
_OPPOSITE_RE = re.compile(r"\b(" + "|".join(sorted(_OPPOSITE, key=len, reverse=True)) + r")\b", re.IGNORECASE)
_NEGATED_RE = re.compile(r"\b(?:not|no|never|without)\b|n't", re.IGNORECASE)


def direction_flip_rows(labelled: list[dict]) -> list[dict]:
    """Each supported answer with the first direction word of its first sentence that has a figure
    and no negation replaced by its opposite ("decreased from $1,874 million to $1,093 million" ->
    "increased ..."): a wrong answer with every figure still in the sources."""
    rows = []
    for row in labelled:
        if row["label"] != "supported":
            continue
        answer = row["answer"]
        for start, end in sentence_spans(answer):
            sentence = answer[start:end]
            if _NEGATED_RE.search(sentence) or not any(checkable(q) for q in extract_quantities(sentence)):
                continue
            m = next((m for m in _OPPOSITE_RE.finditer(sentence) if m.group(1).lower() not in ("up", "down")
                      or re.match(r"\s+(?:from|by|\$?\d)", sentence[m.end():])), None)
            if m is None:
                continue
            word = _OPPOSITE[m.group(1).lower()]
            word = word.capitalize() if m.group(1)[0].isupper() else word
            flipped = answer[: start + m.start()] + word + answer[start + m.end() :]
            rows.append({"id": f"{row['id']}:flip", "question": row["question"], "answer": flipped,
                         "sources": row["sources"], "label": "unsupported"})
            break
    return rows


def warm_throughput(checker, rows: list[dict]) -> float:
    start, claims = time.perf_counter(), 0
    for row in rows:
        claims += len(checker.check(row.get("question"), row["answer"], [SourcePage(**s) for s in row["sources"]]))
    return claims / (time.perf_counter() - start)


def markdown(results: dict) -> str:
    lines = ["| set | n | balanced accuracy | baseline | tp | fn | fp | tn |", "|---|---|---|---|---|---|---|---|"]
    for name, r in results["sets"].items():
        c = r["confusion"]
        lines.append(f"| {name} | {r['n']} | {r['balanced_accuracy']:.3f} | {r['baseline_balanced_accuracy']:.3f} | "
                     f"{c['tp']} | {c['fn']} | {c['fp']} | {c['tn']} |")
    t = results["throughput"]
    lines.append("")
    lines.append(f"claims/s (CPU, {t['threads']} threads, load {t['load_average_1m']}): "
                 f"cold {t['cold_claims_per_s']:.0f}, "
                 f"warm {t['warm_claims_per_s']:.0f} (model load {t['model_load_s']} s, excluded); "
                 f"supported claims with verbatim quote: "
                 f"{results['quotes']['verbatim']}/{results['quotes']['supported_claims']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--checker", default="offline")
    parser.add_argument("--limit", type=int, default=None, help="Use only the first N rows of each file.")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--verdicts", type=Path, default=None, metavar="FILE",
                        help="Also write every scored row's claim verdicts here (JSON lines, in scoring order).")
    args = parser.parse_args(argv)
    import torch

    labelled_rows = load_jsonl(args.data / "labeled_answers.jsonl")[: args.limit]
    perturbed = load_jsonl(args.data / "perturbations.jsonl")[: args.limit]
    labelled = {r["id"]: r for r in load_jsonl(args.data / "labeled_answers.jsonl")}
    checker = get_checker(args.checker)
    load_start = time.perf_counter()
    if args.checker == "offline":
        from rewards.embeddings import minilm

        minilm()
    model_load_s = time.perf_counter() - load_start
    with contextlib.ExitStack() as stack:
        verdicts_out = None
        if args.verdicts is not None:
            args.verdicts.parent.mkdir(parents=True, exist_ok=True)
            verdicts_out = stack.enter_context(args.verdicts.open("w", encoding="utf-8"))
        run = Run(checker, verdicts_out)
        sets = {"labelled": evaluate(run, labelled_rows)}
        for name in ("number", "period", "entity"):
            sets[f"perturbation:{name}"] = evaluate(run, slice_rows(labelled, perturbed, name))
        sets["adversarial"] = evaluate(run, adversarial_rows(labelled_rows))
        sets["direction flips"] = evaluate(run, direction_flip_rows(labelled_rows))
    results = {
        "checker": args.checker,
        "data": str(args.data),
        "sets": sets,
        "throughput": {
            "threads": torch.get_num_threads(),
            "cold_claims_per_s": round(run.claims / run.seconds, 1) if run.seconds else 0.0,
            "warm_claims_per_s": round(warm_throughput(checker, labelled_rows[:100]), 1),
            "claims": run.claims,
            "model_load_s": round(model_load_s, 1),
            "load_average_1m": round(os.getloadavg()[0], 1),
        },
        "quotes": {"supported_claims": run.supported_claims, "verbatim": run.quotes_verbatim},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(markdown(results))
    return results


if __name__ == "__main__":
    main()
