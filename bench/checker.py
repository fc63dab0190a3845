"""Checker benchmark on the FinanceBench development data and TAT-QA dev (never copied into the repository).

Measures, for a checker (default `offline`):
* balanced accuracy of the answer verdict (supported vs not) on the human-labelled answers
  (`labeled_answers.jsonl`, rows in `cai score` input form with `label` and `company`);
* per perturbation slice (number, period, entity; `perturbations.jsonl`): balanced accuracy on the
  pairs (original answer, labelled supported; its perturbed copy, labelled unsupported); and apart,
  sensitivity on the originals (judged supported) and specificity on the perturbed copies whose
  original the checker supports (judged not supported), with counts (`bench/checker_protocol.py`);
* adversarial answers that must never be supported (all labelled unsupported, so the balanced
  accuracy is the share rejected), built from each question's first labelled row and its sources:
  a question word repeated ("Revenue revenue revenue."), a one-word sentence ("It rained."), an
  unrelated fluent sentence, two page figures with a made-up measure ("41.7 giraffes ate 10.0"),
  and a table header or unit row copied from the page;
* direction flips (all labelled unsupported): each supported answer with one direction word of a
  sentence with figures turned to its opposite ("increased" <-> "decreased", "rose" <-> "fell",
  "higher" <-> "lower"), so every figure is still in the sources and only the direction is wrong;
* the baseline "every number in the answer appears in the evidence" on the same sets;
* leave-company-out (issue #15): companies dealt into `--folds` K folds (`--seed`); per fold the
  checker from `fit_fold` on the training folds' rows only, with labelled balanced accuracy,
  sensitivity and specificity and per-slice rates on the training companies ("tuned on") and the
  held ones ("unseen"), and "unseen" pooled over the folds; and the fixed split between the
  companies the offline checker was developed on and those added later;
* TAT-QA dev (`--tatqa`): sensitivity on the originals, balanced accuracy of the originals against
  all negatives and against each slice's (number, column, scale, text) with its specificity, as the
  data's own `score_rows.py` computes them (`--tatqa-scored FILE` writes the rows in `cai score`
  output form, so that script can check them);
* claims/s on CPU. Cold: the first pass over every FinanceBench row, with empty page and embedding
  caches (MiniLM is loaded before timing; its load time is reported apart as `model_load_s`); the
  TAT-QA pass after it is timed apart. Warm: a second pass over the first 100 labelled rows, whose
  pages and embeddings are then cached (what a generate run sees on its revision rounds and judge
  calls, which re-check the same pages); the 1-minute load average at the start and at the end;
* confusion matrices; and that every supported claim's quote is verbatim in its source;
* with `--verifier DIR` (`rewards.learned_support`): the offline checker with a learned verifier on
  its prose claims, each fold's support threshold (and with `--verifier-veto` its veto threshold)
  fitted on the training folds' labelled answers only (`checker_protocol.fit_threshold`); every
  row is scored by the verifier once and re-decided per fold at that fold's thresholds;
* with `--verifier-labelled` as well: each fold's verifier is DIR fine-tuned on the pairs of the
  training folds' labelled answers (`rewards.labelled_pairs`, what `cai checker train --labelled`
  adds), so the "unseen" columns measure what labelled answers of other companies teach it.

A row is scored once per checker object (`Run` caches by id): with today's `fit_fold`, which
returns the same checker for every fold, the folds reuse the first pass's verdicts. For a fitted
checker the top-level FinanceBench sets are scored with the one fitted on every company (in-sample);
the leave-company-out "unseen" columns and TAT-QA (never given to `fit_fold`) are the held-out numbers.

Writes bench/results/checker.json and prints markdown tables. With `--verdicts FILE` it also
writes every scored row's claim verdicts, one JSON line per row in the order the rows are scored
(`{"id", "claims": [ClaimVerdict, ...]}`, plus `"fold"` for rows scored by a fold's own checker),
so a refactor can diff every verdict before and after.

    HF_HUB_OFFLINE=1 python bench/checker.py [--data DIR] [--checker offline] [--limit N] [--verdicts FILE]
        [--tatqa PATH|none] [--tatqa-scored FILE] [--folds K] [--seed S] [--threads N]
        [--verifier DIR [--verifier-veto] [--verifier-labelled]]
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import os
import sys
import time
from collections import Counter
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from cai import hide_bitsandbytes  # noqa: E402

hide_bitsandbytes()  # as the CLI does: no QLoRA here, so no hub-kernel warning on every run

import checker_protocol as protocol  # noqa: E402
from checker_sets import (  # noqa: E402, F401 - re-exported for callers of bench/checker.py
    adversarial_rows,
    direction_flip_rows,
    load_jsonl,
    numbers_in_evidence_baseline,
    slice_rows,
)

from cai.core.contracts import SourcePage  # noqa: E402
from rewards.checker import get_checker, quote_at_locator  # noqa: E402
from rewards.learned_support import rethreshold  # noqa: E402
from rewards.score import answer_verdict  # noqa: E402

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
DEFAULT_DATA = SHARED / "financebench-dev"
DEFAULT_TATQA = SHARED / "tatqa-dev" / "checker.jsonl"
RESULTS = Path(__file__).resolve().parent / "results" / "checker.json"


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


class Run:
    """Scores rows with one checker once (cached by id) and keeps timing and quote-verification
    counts; with `verdicts_out` (a text file), also writes each row's claim verdicts as it is scored
    (tagged with `fold` when given); with `keep`, keeps each row's `cai score` output row."""

    def __init__(self, checker, verdicts_out=None, fold: int | None = None, keep: bool = False):
        self.checker = checker
        self.verdicts_out = verdicts_out
        self.fold = fold
        self.keep = keep
        self.predictions: dict[str, bool] = {}
        self.outputs: dict[str, dict] = {}
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
            line = {"id": row["id"], "claims": [v.model_dump(mode="json") for v in verdicts]}
            if self.fold is not None:
                line["fold"] = self.fold
            self.verdicts_out.write(json.dumps(line) + "\n")
        self.claims += len(verdicts)
        for v in verdicts:
            if v.verdict == "supported":
                self.supported_claims += 1
                self.quotes_verbatim += quote_at_locator(v, sources)
        verdict, score = answer_verdict(verdicts)
        if self.keep:
            self.outputs[row["id"]] = {"id": row["id"], "verdict": verdict.value, "score": round(score, 4),
                                       "claims": [v.model_dump(mode="json", exclude_none=True) for v in verdicts]}
        supported = verdict == "supported"
        self.predictions[row["id"]] = supported
        return supported

    def counts(self) -> dict:
        return {"claims": self.claims, "seconds": self.seconds, "supported_claims": self.supported_claims,
                "verbatim": self.quotes_verbatim}


@functools.cache
def plain_checker(name: str):
    return get_checker(name)


class Scored:
    """The offline checker with a verifier, scored once per (question, answer, sources) and kept;
    counts the claims and seconds of those first checks (the cold throughput)."""

    def __init__(self, checker):
        self.checker = checker
        self.name = checker.name
        self.memo: dict[tuple, list] = {}
        self.claims = 0
        self.seconds = 0.0

    def verdicts(self, question, answer, sources) -> list:
        key = (question, answer, tuple((s.doc_id, s.page, len(s.text)) for s in sources))
        if key not in self.memo:
            start = time.perf_counter()
            self.memo[key] = self.checker.check(question, answer, sources)
            self.seconds += time.perf_counter() - start
            self.claims += len(self.memo[key])
        return self.memo[key]


class AtThreshold:
    """A fold's checker: the `Scored` verdicts re-decided at the thresholds fitted for the fold."""

    def __init__(self, scored: Scored, fit: dict):
        self.scored, self.fit, self.name = scored, fit, scored.name

    def check(self, question, answer, sources) -> list:
        return rethreshold(self.scored.verdicts(question, answer, sources), self.fit["threshold"],
                           self.fit["veto_threshold"])


@functools.cache
def scored_checker(path: str, veto: bool = False) -> Scored:
    """With `veto`, the prose claims the rules support are scored too (a near-zero veto threshold,
    re-decided per fold)."""
    return Scored(get_checker("offline", verifier=path, verifier_veto=0.001 if veto else None))


def fold_verifier(train_rows: list[dict], fold: int, args: argparse.Namespace) -> str:
    """`--verifier`, or with `--verifier-labelled` that verifier fine-tuned (2 epochs, the library's
    defaults otherwise) on the pairs of the training rows' labelled answers (not their perturbed copies)."""
    if not args.verifier_labelled:
        return str(args.verifier)
    import tempfile

    from cai.core.contracts import ScoreInput
    from rewards.labelled_pairs import LabelledAnswer, labelled_pairs
    from rewards.verifier import train_verifier

    answers = [LabelledAnswer(ScoreInput.model_validate(r), r["label"] == "supported")
               for r in train_rows if "slice" not in r]
    pairs = labelled_pairs(answers)
    out = Path(tempfile.mkdtemp(prefix=f"verifier-fold{fold}-")) / "verifier"
    train_verifier(pairs, out, base=args.verifier, epochs=2, eval_fraction=0, seed=args.seed)
    args.labelled_pairs[fold] = {"pairs": len(pairs), "supported": sum(p.label for p in pairs), "path": str(out)}
    return str(out)


def fit_verifier_fold(train_rows: list[dict], fold: int, args: argparse.Namespace) -> AtThreshold:
    """`fit_fold` with `--verifier`: thresholds fitted on the training rows' labelled answers."""
    scored = scored_checker(fold_verifier(train_rows, fold, args), args.verifier_veto)

    def predict_at(row: dict, threshold, veto) -> bool:
        verdicts = scored.verdicts(row.get("question"), row["answer"], [SourcePage(**s) for s in row["sources"]])
        return answer_verdict(rethreshold(verdicts, threshold, veto))[0] == "supported"

    fit = protocol.fit_threshold(train_rows, predict_at, veto=args.verifier_veto)
    args.fits[fold] = {k: fit[k] for k in ("threshold", "veto_threshold", "rows")} | {
        "train_balanced_accuracy": fit["train"]["balanced_accuracy"]}
    return AtThreshold(scored, fit)


def fit_fold(train_rows: list[dict], fold: int, args: argparse.Namespace):
    """The checker for leave-company-out fold `fold`, fitted on `train_rows` only: the labelled
    answers of the training folds' companies and the perturbed copies of their answers (each row
    with `label`, `company`, and `slice` for a copy). Fold -1 is every company: the checker the
    top-level FinanceBench sets, TAT-QA and the speed numbers use.

    Today it returns the plain checker named by `--checker`, the same object for every fold (the
    rule checker has nothing fitted), so no row is scored twice. The learned verifier plugs in here:
    train it on `train_rows` alone (never the held fold's rows, never TAT-QA) and return an object
    with the `Checker` protocol's `check(question, answer, sources)`, wrapped in
    `rewards.checker.FailClosed`.
    """
    if args.verifier is not None:
        return fit_verifier_fold(train_rows, fold, args)
    del train_rows, fold  # nothing to fit for a rule checker
    return plain_checker(args.checker)


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
    lines += ["", protocol.slices_markdown(results["slices"], results["sets"])]
    if results.get("tatqa"):
        lines += ["", protocol.tatqa_markdown(results["tatqa"])]
    lines += ["", protocol.loco_markdown(results["leave_company_out"]),
              "", protocol.development_markdown(results["development_split"])]
    if results.get("verifier"):
        fits = "; ".join(f"fold {k}: threshold {f['threshold']}, veto {f['veto_threshold']} "
                         f"(training BAcc {f['train_balanced_accuracy']:.3f} on {f['rows']} answers)"
                         for k, f in results["verifier"]["fits"].items())
        lines += ["", f"Verifier {results['verifier']['path']}, thresholds fitted per fold ({fits})"]
    t, q = results["throughput"], results["quotes"]
    tatqa = f", TAT-QA {t['tatqa_claims_per_s']:.0f}" if t.get("tatqa_claims_per_s") else ""
    lines.append("")
    lines.append(f"claims/s (CPU, {t['threads']} threads, load {t['load_average_1m_start']} at start, "
                 f"{t['load_average_1m']} at end): cold {t['cold_claims_per_s']:.0f}{tatqa}, "
                 f"warm {t['warm_claims_per_s']:.0f} (model load {t['model_load_s']} s, excluded); "
                 f"supported claims with verbatim quote: FinanceBench {q['verbatim']}/{q['supported_claims']}"
                 + (f", TAT-QA {q['tatqa_verbatim']}/{q['tatqa_supported_claims']}" if "tatqa_verbatim" in q else ""))
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--checker", default="offline")
    parser.add_argument("--limit", type=int, default=None, help="Use only the first N rows of each file.")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--verdicts", type=Path, default=None, metavar="FILE",
                        help="Also write every scored row's claim verdicts here (JSON lines, in scoring order).")
    parser.add_argument("--tatqa", default=str(DEFAULT_TATQA) if DEFAULT_TATQA.exists() else "none",
                        metavar="PATH", help="TAT-QA checker rows (label, slice); 'none' to skip. Default: %(default)s")
    parser.add_argument("--tatqa-scored", type=Path, default=None, metavar="FILE",
                        help="Also write the TAT-QA rows' verdicts in `cai score` output form (for score_rows.py).")
    parser.add_argument("--folds", type=int, default=3, help="Leave-company-out folds (K >= 3). Default: 3")
    parser.add_argument("--seed", type=int, default=0, help="Seed of the company shuffle. Default: 0")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch.set_num_threads for MiniLM (default: torch's own, one per core).")
    parser.add_argument("--verifier", type=Path, default=None, metavar="DIR",
                        help="A learned verifier (`cai checker train`) for the offline checker's prose claims.")
    parser.add_argument("--verifier-veto", action="store_true",
                        help="Also fit a veto threshold for the prose claims the rules support.")
    parser.add_argument("--verifier-labelled", action="store_true",
                        help="Fine-tune the verifier per fold on the training folds' labelled answers.")
    args = parser.parse_args(argv)
    args.fits, args.labelled_pairs = {}, {}
    if args.verifier_labelled and args.verifier is None:
        parser.error("--verifier-labelled goes with --verifier DIR")
    if args.verifier is not None and args.checker != "offline":
        parser.error("--verifier goes with --checker offline")
    if args.folds < 3:
        parser.error("--folds must be at least 3")
    args.tatqa = None if args.tatqa.lower() == "none" else Path(args.tatqa)
    if args.tatqa is not None and not args.tatqa.exists():
        parser.error(f"--tatqa {args.tatqa}: no such file")
    return args


def score_financebench(run: Run, labelled_rows: list[dict], perturbed: list[dict],
                       labelled: dict[str, dict]) -> tuple[dict, dict]:
    """The FinanceBench sets (balanced accuracy, baseline, confusion) and the per-slice rates."""
    sets = {"labelled": evaluate(run, labelled_rows)}
    for name in protocol.SLICES:
        sets[f"perturbation:{name}"] = evaluate(run, slice_rows(labelled, perturbed, name))
    sets["adversarial"] = evaluate(run, adversarial_rows(labelled_rows))
    sets["direction flips"] = evaluate(run, direction_flip_rows(labelled_rows))
    slices = {name: protocol.slice_rates(protocol.slice_counts(run.predict, labelled, perturbed, name))
              for name in protocol.SLICES}
    return sets, slices


def score_tatqa(run: Run, path: Path | None, limit: int | None, scored: Path | None) -> tuple[dict | None, dict]:
    """TAT-QA rates and the run's counts over the TAT-QA rows alone (empty when skipped)."""
    if path is None:
        return None, {}
    rows = load_jsonl(path)[:limit]
    before = run.counts()
    result = protocol.tatqa(run.predict, rows)
    counts = {key: value - before[key] for key, value in run.counts().items()}
    if scored is not None:
        scored.parent.mkdir(parents=True, exist_ok=True)
        scored.write_text("".join(json.dumps(run.outputs[r["id"]]) + "\n" for r in rows), encoding="utf-8")
    return result, counts


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    load_start_average = round(os.getloadavg()[0], 1)
    labelled_rows = load_jsonl(args.data / "labeled_answers.jsonl")[: args.limit]
    perturbed = load_jsonl(args.data / "perturbations.jsonl")[: args.limit]
    labelled = {r["id"]: r for r in load_jsonl(args.data / "labeled_answers.jsonl")}
    companies = protocol.all_companies(labelled_rows, perturbed, labelled)
    checker = fit_fold(protocol.training_rows(labelled_rows, perturbed, labelled, companies), -1, args)
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
        run = Run(checker, verdicts_out, keep=args.tatqa_scored is not None)
        runs = {id(checker): run}

        def predictor(fold_checker, fold: int):
            if id(fold_checker) not in runs:
                runs[id(fold_checker)] = Run(fold_checker, verdicts_out, fold=fold)
            return runs[id(fold_checker)].predict

        sets, slices = score_financebench(run, labelled_rows, perturbed, labelled)
        cold = run.counts()
        if args.verifier is not None:  # the first (and only) scoring of each row: in `Scored`
            scored = checker.scored  # fold -1's: the base verifier, or with --verifier-labelled its fine-tuned copy
            cold = {**cold, "claims": scored.claims, "seconds": scored.seconds}
        tatqa, tatqa_counts = score_tatqa(run, args.tatqa, args.limit, args.tatqa_scored)
        loco = protocol.leave_company_out(lambda rows, fold: fit_fold(rows, fold, args), predictor,
                                          labelled_rows, perturbed, labelled, args.folds, args.seed)
        developed = companies & protocol.OFFLINE_DEVELOPED_ON
        development = {"developed_on": protocol.partition(run.predict, labelled_rows, perturbed, labelled, developed),
                       "new": protocol.partition(run.predict, labelled_rows, perturbed, labelled,
                                                 companies - developed)}
    results = {
        "checker": args.checker,
        "data": str(args.data),
        "tatqa_data": str(args.tatqa) if args.tatqa else None,
        "sets": sets,
        "slices": slices,
        "tatqa": tatqa,
        "leave_company_out": loco,
        "development_split": development,
        "throughput": {
            "threads": torch.get_num_threads(),
            "cold_claims_per_s": round(cold["claims"] / cold["seconds"], 1) if cold["seconds"] else 0.0,
            "tatqa_claims_per_s": (round(tatqa_counts["claims"] / tatqa_counts["seconds"], 1)
                                   if tatqa_counts.get("seconds") else None),
            "warm_claims_per_s": round(warm_throughput(getattr(checker, "scored", None) and checker.scored.checker
                                                       or checker, labelled_rows[:100]), 1),
            "claims": cold["claims"],
            "tatqa_claims": tatqa_counts.get("claims"),
            "model_load_s": round(model_load_s, 1),
            "load_average_1m_start": load_start_average,
            "load_average_1m": round(os.getloadavg()[0], 1),
        },
        "quotes": {"supported_claims": cold["supported_claims"], "verbatim": cold["verbatim"]},
    }
    if args.verifier is not None:
        meta = json.loads((args.verifier / "verifier.json").read_text())  # the base verifier's, as trained
        results["verifier"] = {"path": str(args.verifier), "veto": args.verifier_veto,
                               "model_sha256": meta.get("model_sha256"), "held_out_pairs": meta.get("eval"),
                               "fits": {str(k): v for k, v in sorted(args.fits.items())},
                               "labelled_pairs": {str(k): v for k, v in sorted(args.labelled_pairs.items())} or None}
    if tatqa_counts:
        results["quotes"].update(tatqa_supported_claims=tatqa_counts["supported_claims"],
                                 tatqa_verbatim=tatqa_counts["verbatim"])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(markdown(results))
    return results


if __name__ == "__main__":
    main()
