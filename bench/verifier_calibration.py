"""Reliability of the learned verifier's score (`rewards.learned_support`): is P(supported) a probability?

A reliability diagram (Guo et al. 2017, "On Calibration of Modern Neural Networks"): scores are
put into equal-width bins; per bin, the mean predicted score against the observed rate of
supported items, with counts, and the expected calibration error
ECE = sum over bins of (n_bin / N) * |observed rate - mean score|. Three populations:

* **answers the threshold decides** (FinanceBench labelled answers and TAT-QA dev, read from a
  `bench/checker.py --verifier DIR --verdicts FILE` run): answers whose claims the rules support
  except for prose claims they reject for lack of lexical evidence; the predicted score is the
  lowest verifier score of those claims (the answer is supported only if every one is), the
  observed label the answer's human (or constructed) label;
* **answers a veto decides** (with `--verifier-veto` in that run): answers the rules support in
  full that hold prose claims; the lowest score of those against the label;
* **held-out synthetic pairs** (with `--verifier DIR --index DIR`): the pairs of the documents the
  verifier held out in training (`rewards.verifier.split_by_document`), re-synthesized from the
  index with the settings `verifier.json` records: claim-level labels, but synthetic claims.

Writes bench/results/verifier_calibration.json, prints markdown, and with `--png FILE` draws the
diagrams (when matplotlib is installed).

    HF_HUB_OFFLINE=1 python bench/verifier_calibration.py --verdicts FILE [--data DIR] [--tatqa PATH|none]
        [--verifier DIR --index DIR] [--bins 10] [--png FILE] [--out FILE] [--threads N]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cai.core.contracts import ClaimVerdict  # noqa: E402
from rewards.learned_support import verifier_score  # noqa: E402

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
RESULTS = Path(__file__).resolve().parent / "results" / "verifier_calibration.json"


def reliability(scores: list[float], observed: list[bool], bins: int = 10) -> dict:
    """Equal-width bins of `scores` with count, mean score and observed rate; ECE (Guo et al. 2017)."""
    rows = []
    for b in range(bins):
        lo, hi = b / bins, (b + 1) / bins
        inside = [(s, o) for s, o in zip(scores, observed, strict=True) if lo <= s < hi or (b == bins - 1 and s == 1)]
        n = len(inside)
        rows.append({"bin": [round(lo, 3), round(hi, 3)], "n": n,
                     "mean_score": round(sum(s for s, _ in inside) / n, 4) if n else None,
                     "observed_rate": round(sum(o for _, o in inside) / n, 4) if n else None})
    total = len(scores)
    ece = sum(r["n"] / total * abs(r["observed_rate"] - r["mean_score"]) for r in rows if r["n"]) if total else None
    return {"n": total, "positives": sum(observed), "ece": round(ece, 4) if ece is not None else None, "bins": rows}


def answer_scores(claims: list[ClaimVerdict]) -> tuple[float | None, float | None]:
    """(decide, veto): the lowest verifier score of the prose claims the rules reject, when the
    rules support every other claim; the lowest of the prose claims the rules support, when the
    rules support every claim. None where the verifier cannot decide the answer."""
    rejected, accepted, blocked = [], [], False
    for c in claims:
        found = verifier_score(c)
        if found is None:
            blocked |= c.verdict != "supported"
        elif found[0]:
            accepted.append(found[1])
        else:
            rejected.append(found[1])
    if blocked:
        return None, None
    return (min(rejected) if rejected else None), (min(accepted) if accepted and not rejected else None)


def answer_populations(verdicts_file: Path, labels: dict[str, bool]) -> dict[str, dict[str, tuple[list, list]]]:
    """Per data set (FinanceBench, TAT-QA) and population (decide, veto): (scores, labels)."""
    out: dict[str, dict[str, tuple[list, list]]] = {}
    for line in verdicts_file.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        if "fold" in row or row["id"] not in labels:
            continue
        claims = [ClaimVerdict.model_validate(c) for c in row["claims"]]
        data = "tatqa" if row["id"].startswith("tatqa") else "financebench"
        for name, score in zip(("decide", "veto"), answer_scores(claims), strict=True):
            if score is not None:
                scores, gold = out.setdefault(data, {}).setdefault(name, ([], []))
                scores.append(score)
                gold.append(labels[row["id"]])
    return out


def synthetic_population(verifier_dir: Path, index_dir: Path) -> tuple[list, list]:
    """The held-out documents' synthetic pairs, scored: (scores, labels)."""
    from cai.stages import checker_train
    from rewards.verifier import METADATA_FILE, Verifier, split_by_document

    meta = json.loads((verifier_dir / METADATA_FILE).read_text(encoding="utf-8"))
    params = meta["params"]
    s = checker_train.setup(index_dir, verifier_dir, max_pairs=meta["counts"]["pairs"], seed=params["seed"])
    pairs = checker_train.synthesize_pairs(s)
    _, held = split_by_document(pairs, params["eval_fraction"], params["seed"])
    if sorted({p.doc_id for p in held}) != meta["counts"]["eval_documents"]:
        raise SystemExit(f"{index_dir}: the re-synthesized held-out documents differ from {verifier_dir}'s")
    scores = Verifier.load(verifier_dir).score([p.claim for p in held], [p.premise for p in held])
    return scores, [bool(p.label) for p in held]


def markdown(results: dict) -> str:
    lines = []
    for name, r in results["diagrams"].items():
        lines += ["", f"{name}: n {r['n']} ({r['positives']} supported), ECE {r['ece']}", "",
                  "| score bin | n | mean score | observed supported rate |", "|---|---|---|---|"]
        for b in r["bins"]:
            cells = "— | —" if not b["n"] else f"{b['mean_score']:.3f} | {b['observed_rate']:.3f}"
            lines.append(f"| [{b['bin'][0]:.1f}, {b['bin'][1]:.1f}) | {b['n']} | {cells} |")
    return "\n".join(lines).strip()


def draw(results: dict, path: Path) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    names = list(results["diagrams"])
    fig, axes = plt.subplots(1, len(names), figsize=(4 * len(names), 4), squeeze=False)
    for ax, name in zip(axes[0], names, strict=True):
        r = results["diagrams"][name]
        used = [b for b in r["bins"] if b["n"]]
        ax.plot([0, 1], [0, 1], "k--", linewidth=0.8)
        ax.bar([b["bin"][0] for b in used], [b["observed_rate"] for b in used], width=1 / len(r["bins"]),
               align="edge", alpha=0.6, edgecolor="k")
        ax.plot([b["mean_score"] for b in used], [b["observed_rate"] for b in used], "o")
        ax.set(title=f"{name}\nn={r['n']}, ECE={r['ece']}", xlabel="verifier score", ylabel="observed supported",
               xlim=(0, 1), ylim=(0, 1))
        ax.title.set_fontsize(8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    return True


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--verdicts", type=Path, required=True, help="bench/checker.py --verifier ... --verdicts FILE")
    parser.add_argument("--data", type=Path, default=SHARED / "financebench-dev")
    parser.add_argument("--tatqa", default=str(SHARED / "tatqa-dev" / "checker.jsonl"))
    parser.add_argument("--verifier", type=Path, default=None)
    parser.add_argument("--index", type=Path, default=None)
    parser.add_argument("--bins", type=int, default=10)
    parser.add_argument("--png", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args(argv)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    labels = {}
    files = [args.data / "labeled_answers.jsonl"] + ([Path(args.tatqa)] if args.tatqa.lower() != "none" else [])
    for path in files:
        for line in path.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            labels[row["id"]] = row["label"] == "supported"
    diagrams = {}
    for data, populations in sorted(answer_populations(args.verdicts, labels).items()):
        for name, (scores, gold) in sorted(populations.items()):
            diagrams[f"{data} answers ({name})"] = reliability(scores, gold, args.bins)
    if args.verifier is not None and args.index is not None:
        diagrams["held-out synthetic pairs"] = reliability(*synthetic_population(args.verifier, args.index),
                                                           args.bins)
    results = {"verdicts": str(args.verdicts), "verifier": str(args.verifier) if args.verifier else None,
               "bins": args.bins, "diagrams": diagrams}
    if args.png is not None:
        results["png"] = str(args.png) if draw(results, args.png) else None
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(markdown(results))
    return results


if __name__ == "__main__":
    main()
