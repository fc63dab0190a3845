"""Issue #15's measurement protocol for a claim checker, used by `bench/checker.py`.

Measures, from one `predict(row) -> bool` (answer judged `supported`; `unverified` counts as not):
* per perturbation slice (number, period, entity): sensitivity on the slice's originals (its
  labelled-supported answers judged supported) and specificity on the perturbed copies whose original
  the checker supports (copies judged not supported), with counts; the specificity over all copies
  too. A copy of an original the checker already rejects says nothing about the perturbation;
* leave-company-out: the companies of the labelled rows sorted, shuffled with `random.Random(seed)`
  and dealt round-robin into K folds; for each fold a checker fitted on the other folds' rows only,
  scored on the training folds' companies ("tuned on") and on the held fold's ("unseen"):
  balanced accuracy, sensitivity and specificity of the labelled answers and the per-slice rates
  above; "unseen" over all folds from pooled counts (every company is held out once), not a mean
  of ratios;
* a fixed company split: the companies the `offline` checker's rules were developed on against the
  ones added to the data afterwards;
* TAT-QA dev (`checker.jsonl`, rows with `label` and `slice`): what its `score_rows.py` computes:
  sensitivity on the originals, balanced accuracy of the originals against all negatives and against
  each slice's negatives (number, column, scale, text), with that slice's specificity.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Sequence

Predict = Callable[[dict], bool]
SLICES = ("number", "period", "entity")
TATQA_SLICES = ("number", "column", "scale", "text")

# The companies of the 418 labelled rows (and their 564 perturbations) that FinanceBench dev held
# while the offline checker's rules were written and tuned (sessions 1-5, BENCHMARKS.md); the other
# companies of labeled_answers.jsonl were added afterwards and were never looked at while tuning.
OFFLINE_DEVELOPED_ON = frozenset({"Amazon", "Best Buy", "Boeing", "Corning", "Costco", "Kraft Heinz",
                                  "Lockheed Martin", "Microsoft", "Netflix", "Nike"})


def ratio(k: int, n: int) -> float | None:
    return round(k / n, 4) if n else None


def _mean(values: Iterable[float | None]) -> float | None:
    defined = [v for v in values if v is not None]
    return round(sum(defined) / len(defined), 4) if defined else None


def with_rates(c: dict) -> dict:
    """Counts {tp, fn, fp, tn} with n, sensitivity, specificity and their mean (balanced accuracy;
    the one defined recall when a class is absent, as `balanced_accuracy` in bench/checker.py)."""
    sens, spec = ratio(c["tp"], c["tp"] + c["fn"]), ratio(c["tn"], c["tn"] + c["fp"])
    return {"n": c["tp"] + c["fn"] + c["fp"] + c["tn"], "tp": c["tp"], "fn": c["fn"], "fp": c["fp"], "tn": c["tn"],
            "sensitivity": sens, "specificity": spec, "balanced_accuracy": _mean((sens, spec))}


def rates(gold: Sequence[bool], predicted: Sequence[bool]) -> dict:
    pairs = list(zip(gold, predicted, strict=True))
    return with_rates({"tp": sum(g and p for g, p in pairs), "fn": sum(g and not p for g, p in pairs),
                       "fp": sum(p and not g for g, p in pairs), "tn": sum(not g and not p for g, p in pairs)})


def pool_rates(parts: Sequence[dict]) -> dict:
    return with_rates({key: sum(p[key] for p in parts) for key in ("tp", "fn", "fp", "tn")})


def original_id(perturbed_row: dict) -> str:
    return perturbed_row["id"].rsplit(":", 1)[0]


def company_of(row: dict, labelled_by_id: dict[str, dict]) -> str | None:
    """A labelled row's company, or a perturbed copy's (its original's)."""
    if "company" in row:
        return row["company"]
    original = labelled_by_id.get(original_id(row))
    return original.get("company") if original else None


def slice_counts(predict: Predict, labelled_by_id: dict[str, dict], perturbed: Sequence[dict], name: str,
                 companies: frozenset[str] | None = None) -> dict:
    """Counts of one perturbation slice (restricted to `companies` when given)."""
    chosen = [p for p in perturbed if p["slice"] == name
              and (companies is None or company_of(p, labelled_by_id) in companies)]
    ids = sorted({original_id(p) for p in chosen} & labelled_by_id.keys())
    judged = {i: predict(labelled_by_id[i]) for i in ids if labelled_by_id[i]["label"] == "supported"}
    kept = [p for p in chosen if judged.get(original_id(p))]
    return {"originals": len(judged), "originals_supported": sum(judged.values()),
            "copies": len(chosen), "copies_rejected": sum(not predict(p) for p in chosen),
            "copies_of_supported": len(kept), "copies_of_supported_rejected": sum(not predict(p) for p in kept)}


def slice_rates(counts: dict) -> dict:
    """`slice_counts` with sensitivity (originals), specificity (copies of supported originals) and
    specificity over all copies."""
    return {**counts, "sensitivity": ratio(counts["originals_supported"], counts["originals"]),
            "specificity": ratio(counts["copies_of_supported_rejected"], counts["copies_of_supported"]),
            "specificity_all_copies": ratio(counts["copies_rejected"], counts["copies"])}


def pool_slices(parts: Sequence[dict]) -> dict:
    keys = ("originals", "originals_supported", "copies", "copies_rejected", "copies_of_supported",
            "copies_of_supported_rejected")
    return slice_rates({key: sum(p[key] for p in parts) for key in keys})


def partition(predict: Predict, labelled_rows: Sequence[dict], perturbed: Sequence[dict],
              labelled_by_id: dict[str, dict], companies: Iterable[str]) -> dict:
    """Labelled-answer rates and per-slice rates on the rows of `companies`."""
    chosen = frozenset(companies)
    rows = [r for r in labelled_rows if r.get("company") in chosen]
    return {"companies": sorted(chosen),
            "labelled": rates([r["label"] == "supported" for r in rows], [predict(r) for r in rows]),
            "slices": {s: slice_rates(slice_counts(predict, labelled_by_id, perturbed, s, chosen)) for s in SLICES}}


def pool_partitions(parts: Sequence[dict]) -> dict:
    return {"labelled": pool_rates([p["labelled"] for p in parts]),
            "slices": {s: pool_slices([p["slices"][s] for p in parts]) for s in SLICES}}


def all_companies(labelled_rows: Sequence[dict], perturbed: Sequence[dict],
                  labelled_by_id: dict[str, dict]) -> frozenset[str]:
    """The companies of the labelled rows and of the perturbed copies' originals."""
    found = {r["company"] for r in labelled_rows if r.get("company")}
    return frozenset(found | {c for p in perturbed if (c := company_of(p, labelled_by_id))})


def company_folds(companies: Iterable[str], k: int, seed: int) -> list[list[str]]:
    """Companies sorted, shuffled with random.Random(seed), dealt round-robin into k folds."""
    order = sorted(set(companies))
    random.Random(seed).shuffle(order)
    return [sorted(order[i::k]) for i in range(k)]


def training_rows(labelled_rows: Sequence[dict], perturbed: Sequence[dict], labelled_by_id: dict[str, dict],
                  companies: frozenset[str]) -> list[dict]:
    """What a fold's checker may be fitted on: the labelled answers of `companies` and the perturbed
    copies of their answers (each copy with its original's `company`)."""
    rows = [r for r in labelled_rows if r.get("company") in companies]
    for p in perturbed:
        company = company_of(p, labelled_by_id)
        if company in companies:
            rows.append({**p, "company": company})
    return rows


def leave_company_out(fit: Callable[[list[dict], int], object], predictor: Callable[[object, int], Predict],
                      labelled_rows: Sequence[dict], perturbed: Sequence[dict], labelled_by_id: dict[str, dict],
                      k: int, seed: int) -> dict:
    """K folds by company: `fit(train_rows, fold)` sees only the training folds' rows; its checker
    (through `predictor(checker, fold)`) is scored on the training and the held companies."""
    companies = all_companies(labelled_rows, perturbed, labelled_by_id)
    folds = company_folds(companies, k, seed)
    results = []
    for fold, held in enumerate(folds):
        train = frozenset(companies) - frozenset(held)
        checker = fit(training_rows(labelled_rows, perturbed, labelled_by_id, train), fold)
        predict = predictor(checker, fold)
        results.append({"fold": fold, "held_out": held,
                        "tuned_on": partition(predict, labelled_rows, perturbed, labelled_by_id, train),
                        "unseen": partition(predict, labelled_rows, perturbed, labelled_by_id, held)})
    return {"folds_k": k, "seed": seed, "companies": len(companies), "folds": results,
            "pooled": {"tuned_on": pool_partitions([f["tuned_on"] for f in results]),
                       "unseen": pool_partitions([f["unseen"] for f in results])}}


def tatqa(predict: Predict, rows: Sequence[dict]) -> dict:
    """TAT-QA rates as score_rows.py computes them (every row is scored, so none is missing)."""
    pos = [r for r in rows if r["label"] == "supported"]
    supported = sum(predict(r) for r in pos)
    sens = supported / len(pos) if pos else None

    def negatives(negs: list[dict]) -> dict:
        rejected = sum(not predict(r) for r in negs)
        spec = rejected / len(negs) if negs else None
        both = None if sens is None or spec is None else round((sens + spec) / 2, 4)
        return {"n": len(negs), "rejected": rejected, "specificity": ratio(rejected, len(negs)),
                "balanced_accuracy": both}

    negs = [r for r in rows if r["label"] == "unsupported"]
    names = sorted({r.get("slice", "unsupported") for r in negs} | set(TATQA_SLICES))
    return {"n": len(rows), "n_supported": len(pos), "supported_judged_supported": supported,
            "sensitivity": round(sens, 4) if sens is not None else None, "all": negatives(negs),
            "slices": {s: negatives([r for r in negs if r.get("slice", "unsupported") == s]) for s in names}}


# ---- markdown ----------------------------------------------------------------------------------

def _f(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}"


def _fk(value: float | None, k: int, n: int) -> str:
    return f"{_f(value)} ({k}/{n})"


def _rates_cells(r: dict) -> str:
    return (f"{r['n']} | {_f(r['balanced_accuracy'])} | {_fk(r['sensitivity'], r['tp'], r['tp'] + r['fn'])} | "
            f"{_fk(r['specificity'], r['tn'], r['tn'] + r['fp'])}")


def _slice_cells(s: dict) -> str:
    return (f"{_fk(s['sensitivity'], s['originals_supported'], s['originals'])} | "
            f"{_fk(s['specificity'], s['copies_of_supported_rejected'], s['copies_of_supported'])}")


def slices_markdown(slices: dict, sets: dict) -> str:
    lines = ["| slice | sensitivity: originals judged supported | specificity: copies of supported originals "
             "rejected | specificity: all copies | balanced accuracy (old) |", "|---|---|---|---|---|"]
    for name, s in slices.items():
        old = sets.get(f"perturbation:{name}", {}).get("balanced_accuracy")
        every = _fk(s["specificity_all_copies"], s["copies_rejected"], s["copies"])
        lines.append(f"| {name} | {_slice_cells(s)} | {every} | {_f(old)} |")
    return "\n".join(lines)


def tatqa_markdown(t: dict) -> str:
    lines = [f"TAT-QA dev: {t['n']} rows; sensitivity on the originals "
             f"{_fk(t['sensitivity'], t['supported_judged_supported'], t['n_supported'])}", "",
             "| negatives | n | specificity | balanced accuracy |", "|---|---|---|---|"]
    for name, v in [("all", t["all"]), *t["slices"].items()]:
        lines.append(f"| {name} | {v['n']} | {_fk(v['specificity'], v['rejected'], v['n'])} | "
                     f"{_f(v['balanced_accuracy'])} |")
    return "\n".join(lines)


def split_markdown(rows: Sequence[tuple[str, dict, dict]], left: str, right: str) -> str:
    """One row per (label, left partition, right partition): labelled rates side by side."""
    head = f"| | {left}: n | BAcc | sensitivity | specificity | {right}: n | BAcc | sensitivity | specificity |"
    lines = [head, "|---|---|---|---|---|---|---|---|---|"]
    for label, a, b in rows:
        lines.append(f"| {label} | {_rates_cells(a['labelled'])} | {_rates_cells(b['labelled'])} |")
    return "\n".join(lines)


def split_slices_markdown(rows: Sequence[tuple[str, dict, dict]], left: str, right: str) -> str:
    head = (f"| | slice | {left}: sensitivity | {left}: specificity (supported originals) | "
            f"{right}: sensitivity | {right}: specificity (supported originals) |")
    lines = [head, "|---|---|---|---|---|---|"]
    for label, a, b in rows:
        for name in SLICES:
            cells = f"{_slice_cells(a['slices'][name])} | {_slice_cells(b['slices'][name])}"
            lines.append(f"| {label} | {name} | {cells} |")
    return "\n".join(lines)


def loco_markdown(loco: dict) -> str:
    rows = [(f"fold {f['fold']}", f["tuned_on"], f["unseen"]) for f in loco["folds"]]
    rows.append(("pooled", loco["pooled"]["tuned_on"], loco["pooled"]["unseen"]))
    held = "; ".join(f"fold {f['fold']}: {', '.join(f['held_out'])}" for f in loco["folds"])
    return "\n".join([f"Leave-company-out: {loco['companies']} companies, {loco['folds_k']} folds, seed {loco['seed']} "
                      f"(held out — {held})", "", split_markdown(rows, "tuned on", "unseen"), "",
                      split_slices_markdown(rows, "tuned on", "unseen")])


def development_markdown(split: dict) -> str:
    rows = [("companies", split["developed_on"], split["new"])]
    return "\n".join([f"Offline checker's development companies ({len(split['developed_on']['companies'])}) "
                      f"against those added later ({len(split['new']['companies'])}):", "",
                      split_markdown(rows, "developed on", "added later"), "",
                      split_slices_markdown(rows, "developed on", "added later")])


# ---- a learned verifier's thresholds, fitted on a fold's training rows -------------------------

THRESHOLD_GRID = tuple(round(0.05 * i, 2) for i in range(1, 20))


def fit_threshold(rows: Sequence[dict], predict_at: Callable[[dict, float | None, float | None], bool], *,
                  veto: bool = False, grid: Sequence[float] = THRESHOLD_GRID) -> dict:
    """The support threshold (None: the verifier never supports) and, with `veto`, the veto
    threshold (None: no veto) with the best balanced accuracy of `predict_at(row, threshold, veto)`
    on the labelled `rows` (a fold's training companies' answers, never its held ones). Ties go to
    None (rules alone), then to the higher threshold and the lower veto: the more conservative."""
    labelled = [r for r in rows if "slice" not in r]
    gold = [r["label"] == "supported" for r in labelled]
    thresholds = [None, *sorted(grid, reverse=True)]
    vetoes = [None, *sorted(grid)] if veto else [None]
    best = None
    for v in vetoes:
        for t in thresholds:
            r = rates(gold, [predict_at(row, t, v) for row in labelled])
            key = r["balanced_accuracy"] or 0.0
            if best is None or key > best["train"]["balanced_accuracy"] + 1e-12:
                best = {"threshold": t, "veto_threshold": v, "train": r}
    return {**best, "rows": len(labelled)}
