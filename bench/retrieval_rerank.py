"""The learned page re-ranker (rag/rerank.py) in the leave-company-out protocol, and its query latency.

    HF_HUB_OFFLINE=1 python bench/retrieval.py --lco --reranker DIR    # DIR: `cai retriever train --out DIR`

`Reranked` plugs into bench/retrieval_lco.py: the top `depth` pages of the shipped order, each
read as its best chunk (`passage(kind, title, chunk)`, what search feeds the model), scored once
per question; per fold the weight of the fused order in the final RRF (rag/rerank.py
`fused_weight`) is chosen on the training folds' MRR (ties: the shipped FUSED_WEIGHT), then the
held-out fold is ranked with it. The re-ranker itself was trained on questions synthesized from
the index's pages without any label, so no dev question reaches it.

`latency` times `Retriever.search(question, k=5)` end to end (route, embed, fuse, re-rank, store
reads) on the dev questions, with and without the re-ranker, in the same run.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Sequence

from retrieval_lco import Example, Page, Shipped, distinct_pages, metrics, with_kind_list

from rag.page_kinds import kinds_wanted
from rag.rerank import FUSED_WEIGHT, PageReranker
from rag.rerank_synth import passage
from rag.retrieve import KIND_WEIGHT, Retriever, rrf_fuse


class Reranked:
    """Shipped order, its top `depth` pages re-scored by the re-ranker and fused back by RRF."""

    grid = (0.0, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 1e6)  # 1e6: the re-ranker only breaks ties

    def __init__(self, retriever: Retriever, reranker: PageReranker, *, depth: int = 50, name: str = "") -> None:
        self.retriever = retriever
        self.reranker = reranker
        self.depth = depth
        self.name = name or f"shipped + re-ranker (top {depth} pages)"
        self.weight = FUSED_WEIGHT
        self._scores: dict[str, tuple[list[Page], list[float]]] = {}

    def _texts(self, example: Example) -> tuple[list[Page], list[str]]:
        """The top `depth` pages in shipped order and the passage the re-ranker reads for each."""
        ranking = with_kind_list(example.ranking, example.kind_of, kinds_wanted(example.question), KIND_WEIGHT)
        first: dict[Page, int] = {}
        for vid in ranking.order:
            page = example.page_of.get(vid)
            if page is not None and page not in first:
                first[page] = vid
            if len(first) >= self.depth:
                break
        store = self.retriever.store
        chunks = store.chunks(first.values())
        kinds, heads = store.page_kinds(first), store.page_heads(first)
        return list(first), [passage(kinds.get(p, "other"), heads.get(p, ""), chunks[v].text) for p, v in first.items()]

    def _candidates(self, example: Example) -> tuple[list[Page], list[float]]:
        """The top pages in shipped order and the re-ranker's score of each (cached per question)."""
        if example.id not in self._scores:
            pages, texts = self._texts(example)
            self._scores[example.id] = (pages, self.reranker.score(example.question, texts))
        return self._scores[example.id]

    def fit(self, train: Sequence[Example]) -> dict:
        scores = {}
        for w in self.grid:
            self.weight = w
            scores[w] = metrics([self.pages(e) for e in train], [e.gold for e in train])["mrr"]
        self.weight = max(self.grid, key=lambda w: (scores[w], w == FUSED_WEIGHT, -w))
        return {"fused_weight": self.weight}

    def pages(self, example: Example) -> list[Page]:
        pages, rr = self._candidates(example)
        by_model = sorted(range(len(pages)), key=lambda i: -rr[i])
        fused = rrf_fuse([by_model, list(range(len(pages)))], [1.0, self.weight])
        top = [pages[i] for i in sorted(fused, key=lambda i: -fused[i])]
        rest = Shipped().pages(example)
        return top + [p for p in rest if p not in set(top)]


class RerankedTuned(Reranked):
    """`Reranked`, with the re-ranker fine-tuned per fold on the training folds' dev questions
    (their gold pages among the top candidates as positives, the other top candidates as negatives)
    before the fused weight is chosen: what a user with a few labelled questions would do."""

    def __init__(self, retriever: Retriever, path, *, depth: int = 50, negatives: int = 7, epochs: float = 2,
                 lr: float = 2e-5) -> None:
        super().__init__(retriever, PageReranker.load(path), depth=depth,
                         name=f"shipped + re-ranker tuned on the training folds' questions (top {depth} pages)")
        self.path, self.negatives, self.epochs, self.lr = path, negatives, epochs, lr

    def fit(self, train: Sequence[Example]) -> dict:
        import tempfile
        from pathlib import Path

        from rag import cross_encoder
        from rag.rerank_synth import rerank_query

        pairs, labels = [], []
        for e in train:
            pages, texts = self._texts(e)
            gold = [i for i, p in enumerate(pages) if p in e.gold]
            other = [i for i, p in enumerate(pages) if p not in e.gold][: self.negatives]
            if gold:
                pairs += [(rerank_query(e.question), texts[i]) for i in gold + other]
                labels += [1] * len(gold) + [0] * len(other)
        model = PageReranker.load(self.path)
        with tempfile.TemporaryDirectory() as work:
            cross_encoder.fit(model.model, pairs, labels, Path(work), epochs=self.epochs, batch_size=16, lr=self.lr,
                              seed=0)
        model.model.eval()
        self.reranker, self._scores = model, {}
        return {**super().fit(train), "pairs": len(pairs)}


def latency(retriever: Retriever, reranker: PageReranker, questions: Sequence[str], repeats: int = 1) -> dict:
    """p50/p95 ms of `search(k=5)` over `questions`, without and with the re-ranker (same run)."""
    out = {}
    for label, model in (("without", None), ("with", reranker)):
        retriever.reranker = model
        retriever._query_cache.clear()  # every query embedded again: the examples cached theirs
        retriever.search(questions[0], k=5)  # warm: the embedder and the re-ranker are loaded
        times = []
        for _ in range(repeats):
            for q in questions:
                retriever._query_cache.clear()
                t0 = time.perf_counter()
                retriever.search(q, k=5)
                times.append((time.perf_counter() - t0) * 1000)
        times.sort()
        out[label] = {"p50_ms": round(statistics.median(times), 1),
                      "p95_ms": round(times[int(0.95 * (len(times) - 1))], 1), "n": len(times)}
    retriever.reranker = None
    return out


__all__ = ["Reranked", "RerankedTuned", "distinct_pages", "latency"]
