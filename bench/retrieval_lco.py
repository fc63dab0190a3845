"""Leave-company-out retrieval evaluation (issue #16): how well retrieval finds the gold evidence
page in filings of companies it was never tuned on, against companies it was.

    HF_HUB_OFFLINE=1 python bench/retrieval.py --lco                 # K=3 folds, seed 0
    HF_HUB_OFFLINE=1 python bench/retrieval.py --lco --folds 5 --seed 1

Protocol:
- Questions: FinanceBench dev rows whose gold filing is in the index (all dev filings in one index).
  Evidence pages are 0-based physical page indices there; locators are 1-based, so gold = page + 1.
- Folds: the distinct `company` values, shuffled with a fixed seed and dealt round-robin into K
  folds, so every question of a company lands in the same fold.
- For each fold: every ranker is fitted on the questions of the other folds only, then scored on
  its own fold ("unseen") and on the folds it was fitted on ("tuned on"). "unseen" pools the K
  held-out folds (each question once); "tuned on" pools every (fold, training question) pair, so
  each question counts K-1 times, each time ranked with the parameters fitted with it.
- Metrics over distinct pages in rank order (what `search(max_per_page=1)` returns): recall@1/5/20
  (a gold page among the first k) and MRR (1 / rank of the first gold page; 0 when none is among
  the candidates). `route_has_gold`: share of questions whose route includes the gold filing.

Rankers implement `fit(train) -> params` and `pages(example) -> ranked pages`. `Shipped` (the
retriever as it ships) and `WithoutKindList` (the same before page kinds) fit nothing, so tuned on
= unseen by construction. `RouteWeights` refits the unrouted-list weights of rag/retrieve.py
(UNROUTED_WEIGHT, the one setting the retriever ships with that was tuned on dev questions) and
`KindWeight` the weight of the "kind" list (KIND_WEIGHT), each on the training folds by grid search.
A learned re-ranker plugs in the same way: fit on `train` (each Example carries the question, its
gold pages, the fused candidate lists with their route, and each candidate's page and page kind;
page text comes from the retriever's store), then re-order `pages(example)` for held-out questions.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from rag.page_kinds import kinds_named, kinds_wanted
from rag.retrieve import KIND_WEIGHT, UNROUTED_WEIGHT, RankedList, Ranking, Retriever, rrf_fuse, with_kind_list

Page = tuple[str, int]
DEPTHS = (1, 5, 20)


@dataclass
class Example:
    """One dev question with everything a ranker may use, computed once."""

    id: str
    company: str
    question: str
    gold: set[Page]
    ranking: Ranking
    page_of: dict[int, Page] = field(repr=False)
    kind_of: dict[int, str] = field(repr=False)  # vec id -> page kind (rag/page_kinds.py)

    @property
    def route_has_gold(self) -> bool:
        return any(doc in self.ranking.plan.doc_ids for doc, _ in self.gold)


class Ranker(Protocol):
    name: str

    def fit(self, train: Sequence[Example]) -> dict: ...

    def pages(self, example: Example) -> list[Page]: ...


def distinct_pages(order: Sequence[int], page_of: dict[int, Page]) -> list[Page]:
    """Pages of the chunks in `order`, first occurrence only (the per-page cap of search)."""
    seen: dict[Page, None] = {}
    for vid in order:
        page = page_of.get(vid)
        if page is not None and page not in seen:
            seen[page] = None
    return list(seen)


def load_examples(retriever: Retriever, questions_file: Path) -> tuple[list[Example], int]:
    """Examples for the rows whose gold filing is indexed, and how many rows were left out.

    Each example's ranking is hybrid + routing without the "kind" list; rankers add it.
    """
    rows = [json.loads(x) for x in questions_file.read_text().splitlines() if x.strip()]
    indexed = {d.doc_id for d in retriever.documents}
    examples = []
    kind_weight, retriever.kind_weight = retriever.kind_weight, 0.0
    try:
        for row in rows:
            gold = {(e["doc_name"], int(e["page"]) + 1) for e in row["evidence"] if e["doc_name"] in indexed}
            if not gold:
                continue
            ranking = retriever.rank(row["question"], mode="hybrid", route=True)
            ids = {vid for lst in ranking.lists for vid in lst.ids}
            page_of = {vid: (c.locator.doc_id, c.locator.page) for vid, c in retriever.store.chunks(ids).items()}
            examples.append(Example(row["id"], row["company"], row["question"], gold, ranking, page_of,
                                    retriever.store.kinds_of_chunks(ids)))
    finally:
        retriever.kind_weight = kind_weight
    return examples, len(rows) - len(examples)


def _with_kinds(example: Example, ranking: Ranking, weight: float, wanted=kinds_wanted) -> list[Page]:
    ranking = with_kind_list(ranking, example.kind_of, wanted(example.question), weight)
    return distinct_pages(ranking.order, example.page_of)


class Shipped:
    """The retriever as shipped: hybrid + routing + the "kind" list at KIND_WEIGHT; nothing is fitted."""

    name = "shipped: hybrid+routing+kind list"

    def fit(self, train: Sequence[Example]) -> dict:
        return {}

    def pages(self, example: Example) -> list[Page]:
        return _with_kinds(example, example.ranking, KIND_WEIGHT)


class WithoutKindList(Shipped):
    """Ablation: hybrid + routing as before page kinds (no "kind" list); nothing is fitted."""

    name = "hybrid+routing, no kind list"

    def pages(self, example: Example) -> list[Page]:
        return distinct_pages(example.ranking.order, example.page_of)


class NamedKindsOnly(Shipped):
    """Ablation: the "kind" list holds only the kinds a question names by title, not those its measure
    implies (rag/page_kinds.py `kinds_implied`); nothing is fitted."""

    name = "shipped, named kinds only (no implied kinds)"

    def pages(self, example: Example) -> list[Page]:
        return _with_kinds(example, example.ranking, KIND_WEIGHT, kinds_named)


class RouteWeights:
    """Shipped, with the unrouted lists' weights (per route confidence) fitted by grid search on the
    training folds' MRR (the shipped weights stay unless another pair does strictly better)."""

    name = "shipped, route weights refit per fold"
    grid = (0.1, 0.2, 0.35, 0.5, 0.75, 1.0)

    def __init__(self) -> None:
        self.weights = dict(UNROUTED_WEIGHT)

    def fit(self, train: Sequence[Example]) -> dict:
        def mrr(weights: dict) -> float:
            self.weights = weights
            return metrics([self.pages(e) for e in train], [e.gold for e in train])["mrr"]

        best_weights, best = dict(UNROUTED_WEIGHT), mrr(dict(UNROUTED_WEIGHT))
        for period, company in itertools.product(self.grid, self.grid):
            score = mrr({"period": period, "company": company})
            if score > best + 1e-12:
                best_weights, best = dict(self.weights), score
        self.weights = best_weights
        return dict(best_weights)

    def pages(self, example: Example) -> list[Page]:
        r = example.ranking
        lists = [RankedList(lst.name, lst.scope, lst.weight if lst.scope == "routed" or not r.plan.doc_ids
                            else self.weights[r.plan.confidence], lst.ids) for lst in r.lists]
        fused = rrf_fuse([lst.ids for lst in lists], [lst.weight for lst in lists])
        return _with_kinds(example, Ranking(sorted(fused, key=lambda v: -fused[v]), fused, lists, r.plan),
                           KIND_WEIGHT)


class KindWeight:
    """Shipped, with the "kind" list's weight fitted by grid search on the training folds' MRR
    (0 = off; ties keep the smaller weight)."""

    name = "shipped, kind weight refit per fold"
    grid = (0.0, 0.25, 0.5, 1.0, 2.0, 4.0)

    def __init__(self) -> None:
        self.weight = KIND_WEIGHT

    def fit(self, train: Sequence[Example]) -> dict:
        scores = {}
        for w in self.grid:
            self.weight = w
            scores[w] = metrics([self.pages(e) for e in train], [e.gold for e in train])["mrr"]
        self.weight = max(self.grid, key=lambda w: (scores[w], -w))
        return {"kind_weight": self.weight}

    def pages(self, example: Example) -> list[Page]:
        return _with_kinds(example, example.ranking, self.weight)


def metrics(ranked: Sequence[list[Page]], golds: Sequence[set[Page]]) -> dict:
    """recall@1/5/20 and MRR of ranked page lists against gold page sets."""
    out: dict = {"n": len(ranked)}
    if not ranked:
        return out
    first = [next((i for i, p in enumerate(pages, 1) if p in gold), None) for pages, gold in zip(ranked, golds,
                                                                                             strict=True)]
    for k in DEPTHS:
        out[f"recall@{k}"] = round(float(np.mean([f is not None and f <= k for f in first])), 3)
    out["mrr"] = round(float(np.mean([1.0 / f if f else 0.0 for f in first])), 3)
    return out


def company_folds(companies: Sequence[str], k: int, seed: int) -> list[list[str]]:
    """Distinct companies shuffled with `seed` and dealt round-robin into `k` folds."""
    names = sorted(set(companies))
    if k < 2 or k > len(names):
        raise ValueError(f"need 2 <= folds <= {len(names)} companies, got {k}")
    order = [names[i] for i in np.random.default_rng(seed).permutation(len(names))]
    return [sorted(order[i::k]) for i in range(k)]


def leave_company_out(examples: Sequence[Example], rankers: Sequence[Ranker], k: int = 3, seed: int = 0) -> dict:
    """Fit each ranker on K-1 company folds, score it on the held-out fold and on its own folds."""
    folds = company_folds([e.company for e in examples], k, seed)
    out: dict = {"folds": [], "k": k, "seed": seed, "n_questions": len(examples),
                 "n_companies": sum(len(f) for f in folds), "rankers": {}}
    for fold in folds:
        held = [e for e in examples if e.company in fold]
        out["folds"].append({"companies": fold, "n_questions": len(held),
                             "route_has_gold": round(float(np.mean([e.route_has_gold for e in held])), 3)})
    for ranker in rankers:
        unseen_ranked: dict[str, list[Page]] = {}
        tuned_ranked: list[list[Page]] = []
        tuned_gold: list[set[Page]] = []
        fitted = []
        for fold in folds:
            train = [e for e in examples if e.company not in fold]
            fitted.append(ranker.fit(train))
            tuned_ranked += [ranker.pages(e) for e in train]
            tuned_gold += [e.gold for e in train]
            for e in examples:
                if e.company in fold:
                    unseen_ranked[e.id] = ranker.pages(e)
        unseen = metrics([unseen_ranked[e.id] for e in examples], [e.gold for e in examples])
        tuned_mean = metrics(tuned_ranked, tuned_gold)
        out["rankers"][ranker.name] = {
            "tuned_on": tuned_mean, "unseen": unseen, "fitted": fitted,
            "unseen_misses_at_5": [e.id for e in examples if not any(
                p in e.gold for p in unseen_ranked[e.id][:5])],
        }
    out["route_has_gold"] = round(float(np.mean([e.route_has_gold for e in examples])), 3)
    return out


def markdown(result: dict) -> str:
    lines = [f"{result['n_questions']} questions, {result['n_companies']} companies, {result['k']} folds "
             f"(seed {result['seed']}); route includes the gold filing for {result['route_has_gold']}", "",
             "| ranker | split | recall@1 | recall@5 | recall@20 | MRR |", "|---|---|---:|---:|---:|---:|"]
    for name, r in result["rankers"].items():
        for split in ("tuned_on", "unseen"):
            m = r[split]
            lines.append(f"| {name} | {split.replace('_', ' ')} | {m['recall@1']} | {m['recall@5']} | "
                         f"{m['recall@20']} | {m['mrr']} |")
    for i, f in enumerate(result["folds"]):
        lines.append(f"\nfold {i}: {f['n_questions']} questions, route has gold {f['route_has_gold']}: "
                     f"{', '.join(f['companies'])}")
    if "reranker" in result:
        lat = result["reranker"]["latency"]
        lines.append(f"\nsearch(k=5) latency over {lat['with']['n']} questions: p50 {lat['without']['p50_ms']} ms "
                     f"(p95 {lat['without']['p95_ms']}) without the re-ranker, p50 {lat['with']['p50_ms']} ms "
                     f"(p95 {lat['with']['p95_ms']}) with it")
    return "\n".join(lines)


def run(index_dir: Path, questions_file: Path, k: int, seed: int, reranker_dir: Path | None = None) -> dict:
    """Open the index, build the examples once, run every ranker (see module docstring); with
    `reranker_dir`, also the learned re-ranker (bench/retrieval_rerank.py) and its latency."""
    retriever = Retriever.open(index_dir, rerank=False)
    examples, left_out = load_examples(retriever, questions_file)
    shipped = Shipped()
    for e in examples[:5]:  # the re-fusion reproduces search() exactly
        assert shipped.pages(e)[:5] == [(h.doc_id, h.page) for h in retriever.search(e.question, k=5)]
    rankers: list = [shipped, WithoutKindList(), NamedKindsOnly(), RouteWeights(), KindWeight()]
    reranker = None
    if reranker_dir is not None:
        from retrieval_rerank import Reranked, RerankedTuned

        from rag.rerank import PageReranker

        reranker = PageReranker.load(reranker_dir)
        rankers += [Reranked(retriever, reranker), RerankedTuned(retriever, reranker_dir)]
    result = leave_company_out(examples, rankers, k=k, seed=seed)
    if reranker is not None:
        from retrieval_rerank import latency

        result["reranker"] = {"path": str(reranker_dir), "metadata": reranker.metadata,
                              "latency": latency(retriever, reranker, [e.question for e in examples])}
    result["questions_without_indexed_gold"] = left_out
    result["documents"] = len(retriever.documents)
    return result
