"""Hybrid retrieval: dense (faiss) + BM25 fused by reciprocal rank fusion, metadata filters,
automatic routing to the filings a question names, and an optional cross-encoder re-ranker.

Why not llama-index's retrievers here: `QueryFusionRetriever` reads `Settings.llm` even for plain
fusion and by default asks an LLM to rewrite the query 4 times; its BM25 retriever indexes metadata
into the text; its faiss stores reuse ids after a delete or cannot delete at all (llama-index-vector-stores-faiss 0.7).
Reciprocal rank fusion is ten lines, so it is done here directly over the two candidate lists.

RRF (Cormack, Clarke & Buettcher 2009, "Reciprocal Rank Fusion outperforms Condorcet and individual
rank learning methods"): score(d) = sum over lists l of w_l / (k + rank_l(d)), k = 60, rank 1-based.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np

from cai.core.contracts import Document, Locator, SearchHit
from cai.core.errors import ModelMismatchError, UserError
from cai.core.questions import DOCUMENT_FILTER_KEYS
from rag.embed import Embedder, EmbedderSpec
from rag.index import IndexConfig, VectorIndex
from rag.lexical import LexicalIndex, bm25_corpus, expand_query
from rag.page_kinds import kinds_wanted, parse_kinds
from rag.routing import Route, company_key, route_query
from rag.store import DocStore, StoredChunk

Mode = Literal["hybrid", "dense", "bm25"]
RRF_K = 60
FILTER_KEYS = (*DOCUMENT_FILTER_KEYS, "kind")  # "kind" is a page's (rag/page_kinds.py)
# Below this many allowed chunks a filtered dense search scores the subset exactly (vectors from
# the store) instead of asking faiss, whose HNSW search with an id filter is only best-effort.
EXACT_SUBSET_MAX = 50_000
# Weight of the unrouted lists against the routed ones, by route confidence (tuned on the
# FinanceBench dev split: bench/retrieval.py).
UNROUTED_WEIGHT = {"period": 0.2, "company": 0.5}
# Weight of the "kind" list: the candidates on pages of a kind the question names by title ("based on
# the balance sheet"), else of the kinds its measure is read from ("working capital": balance sheet;
# rag/page_kinds.py `kinds_wanted`), in fused order. 1.0 is RRF's unweighted
# default, the weight of every routed list; 0 turns it off. bench/retrieval.py --lco refits it on
# held-out company folds to check that choice.
KIND_WEIGHT = 1.0


@runtime_checkable
class Reranker(Protocol):
    """Re-scores (query, passage) pairs; higher is more relevant."""

    def score(self, query: str, passages: Sequence[str]) -> Sequence[float]: ...


class CrossEncoderReranker:
    """A sentence-transformers CrossEncoder (any local path or id the user provides)."""

    def __init__(self, model: str, *, batch_size: int = 16, device: str = "cpu") -> None:
        from sentence_transformers import CrossEncoder

        self.model = CrossEncoder(model, device=device)
        self.batch_size = batch_size

    def score(self, query: str, passages: Sequence[str]) -> list[float]:
        pairs = [(query, p) for p in passages]
        scores = self.model.predict(pairs, batch_size=self.batch_size, show_progress_bar=False)
        return [float(s) for s in np.asarray(scores).reshape(len(pairs), -1)[:, -1]]


def rrf_fuse(ranked_lists: Sequence[Sequence[int]], weights: Sequence[float], k: int = RRF_K) -> dict[int, float]:
    """Weighted reciprocal rank fusion of id lists (best first) -> {id: fused score}."""
    fused: dict[int, float] = {}
    for ids, w in zip(ranked_lists, weights, strict=True):
        for rank, vid in enumerate(ids, start=1):
            fused[int(vid)] = fused.get(int(vid), 0.0) + w / (k + rank)
    return fused


def _norm_form(form: str) -> str:
    return form.lower().replace("-", "").replace(" ", "")


def _as_list(value: Any) -> list:
    return list(value) if isinstance(value, (list, tuple, set)) else [value]


def documents_matching(documents: list[Document], filters: dict | None) -> list[str] | None:
    """doc_ids passing metadata `filters` (None = no filter). Values may be scalars or lists.

    doc_id: exact; company: same name once legal suffixes are dropped, or a word-phrase of it;
    fiscal_year: equal; form: equal ignoring case, hyphens and spaces ("10-K" == "10k"). "kind"
    filters pages, not documents: it is checked here and applied by the retriever.
    """
    if not filters:
        return None
    unknown = set(filters) - set(FILTER_KEYS)
    if unknown:
        raise UserError(f"unknown filter {sorted(unknown)}; use {', '.join(FILTER_KEYS)}")
    if "kind" in filters:
        parse_kinds(filters["kind"])
    if not set(filters) & set(DOCUMENT_FILTER_KEYS):
        return None
    keep = []
    for d in documents:
        m = d.metadata
        ok = True
        if "doc_id" in filters:
            ok &= d.doc_id in {str(v) for v in _as_list(filters["doc_id"])}
        if "fiscal_year" in filters:
            ok &= m.fiscal_year is not None and m.fiscal_year in {int(v) for v in _as_list(filters["fiscal_year"])}
        if "form" in filters:
            ok &= m.form is not None and _norm_form(m.form) in {_norm_form(str(v)) for v in _as_list(filters["form"])}
        if "company" in filters:
            have = " ".join(company_key(m.company)) if m.company else None
            wants = [" ".join(company_key(str(v))) for v in _as_list(filters["company"])]
            ok &= have is not None and any(w == have or f" {w} " in f" {have} " for w in wants)
        if ok:
            keep.append(d.doc_id)
    return keep


@dataclass
class RankedList:
    """One candidate list that went into the fusion: which retriever, over which documents."""

    name: Literal["dense", "bm25", "kind"]
    scope: Literal["routed", "all"]
    weight: float
    ids: list[int]


@dataclass
class Ranking:
    """A search's candidate order before the per-page cap and the re-ranker, and what made it."""

    order: list[int]
    scores: dict[int, float]
    lists: list[RankedList] = field(default_factory=list)
    plan: Route = field(default_factory=Route)
    fused: bool = True  # False: a single unrouted list keeps its own scores (dense cosine, BM25)


class Retriever:
    """Search over an index directory built by `rag.ingest.ingest`."""

    def __init__(self, index_dir: Path, store: DocStore, spec: EmbedderSpec, vectors: VectorIndex,
                 lexical: LexicalIndex, *, reranker: Reranker | None = None) -> None:
        self.index_dir = Path(index_dir)
        self.store = store
        self.spec = spec
        self.vectors = vectors
        self.lexical = lexical
        self.reranker = reranker
        self.rerank_depth = 30
        self.candidate_depth = 100  # per list, before fusion
        # Append filers' wording for financial phrases (rag.lexical.FINANCE_QUERY_EXPANSIONS) to the
        # query, for BM25 and the embedder alike: it brings more gold pages into the top 5 on the
        # FinanceBench dev questions, dense and hybrid (bench/retrieval.py).
        self.expand_queries = True
        self.kind_weight = KIND_WEIGHT
        self.documents = store.documents()
        self.text_names = store.names()  # doc_id -> names each filing gives itself (rag/names.py)
        self._embedder: Embedder | None = None
        self._query_cache: dict[str, np.ndarray] = {}

    @classmethod
    def open(cls, index_dir: Path, *, embed_model: str | None = None, reranker: Reranker | None = None,
             rerank: bool = True) -> Retriever:
        """Open an index; rebuilds a stale faiss/BM25 cache from the store (crash recovery).

        reranker: re-score the top candidates with it. Else, with `rerank`, the re-ranker trained
        for this index (`cai retriever train`, recorded in its manifest; rag/rerank.py) when it has one.
        """
        index_dir = Path(index_dir)
        if not index_dir.is_dir():
            from cai.core.errors import IndexMissingError

            raise IndexMissingError(
                f"index directory {index_dir} does not exist; run `cai ingest PATH --index {index_dir}` first")
        store = DocStore.open(index_dir)
        spec = store.embedder_spec
        if spec is None:
            raise UserError(f"index {index_dir} is empty; run `cai ingest PATH --index {index_dir}`")
        vectors, lexical = load_or_rebuild_caches(index_dir, store, spec)
        if reranker is None and rerank:
            from rag.rerank import open_for_index

            reranker = open_for_index(index_dir)
        out = cls(index_dir, store, spec, vectors, lexical, reranker=reranker)
        if embed_model is not None:
            out._embedder = open_embedder_for(spec, embed_model)
        return out

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            self._embedder = open_embedder_for(self.spec, None)
        return self._embedder

    def _query_vector(self, query: str) -> np.ndarray:
        """(dim,) float32 query embedding, memoised: a routed hybrid search needs it twice."""
        cached = self._query_cache.get(query)
        if cached is None:
            cached = self.embedder.encode_query(query)
            if len(self._query_cache) >= 256:
                self._query_cache.pop(next(iter(self._query_cache)))
            self._query_cache[query] = cached
        return cached

    # -- candidate lists ------------------------------------------------------------------------
    def query_text(self, query: str) -> str:
        """What the embedder sees for `query` (with the filers' wording appended)."""
        return expand_query(query) if self.expand_queries else query

    def query_vectors(self, queries: list[str]) -> np.ndarray:
        """(len(queries), dim) float32 embeddings of `queries`, in one batch on one thread.

        Batched, MiniLM costs much less CPU per short query than one query at a time. A vector
        depends on its batch in the last bits (float rounding, against `search` alone), so a
        caller that must reproduce its results (`cai generate --resume`) batches the same queries
        together every time and passes each vector to `search(..., vector=)`.
        """
        return self.embedder.encode_one_thread([self.query_text(q) for q in queries])

    def _dense(self, query: str, depth: int, allowed: np.ndarray | None,
               vector: np.ndarray | None = None) -> list[tuple[int, float]]:
        """[(vec_id, cosine)] best first, over all chunks or the `allowed` vec ids."""
        q = vector if vector is not None else self._query_vector(self.query_text(query))
        if allowed is not None and len(allowed) <= EXACT_SUBSET_MAX:
            ids, vecs = self.store.vectors(allowed, self.spec.dim)
            if len(ids) == 0:
                return []
            sims = vecs @ q
            top = np.argsort(-sims, kind="stable")[:depth]
            return [(int(ids[i]), float(sims[i])) for i in top]
        scores, ids = self.vectors.search(q[None, :], depth, allowed_ids=allowed)
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]

    def _bm25(self, query: str, depth: int, allowed: np.ndarray | None) -> list[tuple[int, float]]:
        scores, ids = self.lexical.search(query, depth, allowed_ids=allowed, expand=self.expand_queries)
        return [(int(i), float(s)) for i, s in zip(ids, scores, strict=True)]

    def _lists(self, query: str, mode: Mode, allowed: np.ndarray | None,
               vector: np.ndarray | None = None) -> list[list[tuple[int, float]]]:
        depth = self.candidate_depth
        lists = []
        if mode in ("hybrid", "dense"):
            lists.append(self._dense(query, depth, allowed, vector))
        if mode in ("hybrid", "bm25"):
            lists.append(self._bm25(query, depth, allowed))
        return lists

    def _allowed(self, doc_ids: list[str] | None, kinds: list[str] | None = None) -> np.ndarray | None:
        if kinds is not None:
            return self.store.vec_ids_of_kinds(kinds, doc_ids)
        return None if doc_ids is None else self.store.vec_ids_of_documents(doc_ids)

    # -- public ---------------------------------------------------------------------------------
    def route(self, query: str, filters: dict | None = None) -> Route:
        """The route `search(route=True)` would take for `query` within `filters`."""
        scope = documents_matching(self.documents, filters)
        docs = self.documents if scope is None else [d for d in self.documents if d.doc_id in set(scope)]
        return route_query(query, docs, self.text_names)

    def search(self, query: str, k: int = 5, *, mode: Mode = "hybrid", filters: dict | None = None,
               route: bool = True, max_per_page: int | None = 1, vector: np.ndarray | None = None) -> list[SearchHit]:
        """Top-`k` chunks for `query`.

        mode: "hybrid" (dense + BM25, RRF), "dense" or "bm25". filters: {doc_id, company,
        fiscal_year, form, kind} -> scalar or list (documents_matching; kind: page kinds of
        rag/page_kinds.py, "balance_sheet,cash_flow" or a list). route: steer to the filings the
        query names (rag/routing.py), fusing routed and unrouted lists. max_per_page: keep at most
        this many chunks of one page (None = no limit), so k hits cover more pages. vector: the
        query's embedding when the caller computed it (`query_vectors`); else it is computed here.
        Scores: cosine for "dense", BM25 for "bm25", fused RRF (or the re-ranker's) for "hybrid".
        """
        if mode not in ("hybrid", "dense", "bm25"):
            raise UserError(f"unknown search mode {mode!r}; use hybrid, dense or bm25")
        if not query.strip() or k <= 0:
            return []
        return self.hits_of(query, self.rank(query, mode=mode, filters=filters, route=route, vector=vector), k,
                            max_per_page)

    def hits_of(self, query: str, ranking: Ranking, k: int, max_per_page: int | None = 1) -> list[SearchHit]:
        """The top-`k` hits of a `rank` result (per-page cap, then the optional re-ranker)."""
        return self._hits(query, ranking.order, ranking.scores, k, max_per_page)

    def rank(self, query: str, *, mode: Mode = "hybrid", filters: dict | None = None, route: bool = True,
             vector: np.ndarray | None = None) -> Ranking:
        """Every candidate chunk for `query` in fused order, with the lists and route behind it
        (`search` takes the top of it; rag/explain.py reports it hit by hit)."""
        if mode not in ("hybrid", "dense", "bm25"):
            raise UserError(f"unknown search mode {mode!r}; use hybrid, dense or bm25")
        if not query.strip():
            return Ranking([], {})
        scope = documents_matching(self.documents, filters)
        kinds = parse_kinds(filters["kind"]) if filters and "kind" in filters else None
        names = ["dense"] * (mode != "bm25") + ["bm25"] * (mode != "dense")
        scoped_lists = self._lists(query, mode, self._allowed(scope, kinds), vector)
        lists = [RankedList(n, "all", 1.0, [v for v, _ in lst]) for n, lst in zip(names, scoped_lists, strict=True)]
        plan = self.route(query, filters) if route else Route()
        if plan.doc_ids:
            routed = self._lists(query, mode, self._allowed(plan.doc_ids, kinds), vector)
            for lst in lists:
                lst.weight = UNROUTED_WEIGHT[plan.confidence]
            lists = [RankedList(n, "routed", 1.0, [v for v, _ in lst])
                     for n, lst in zip(names, routed, strict=True)] + lists
        fused = rrf_fuse([lst.ids for lst in lists], [lst.weight for lst in lists])
        single = mode != "hybrid" and not plan.doc_ids
        if single:
            fused = dict(scoped_lists[0])  # a single list keeps its own scores
        ranking = Ranking(sorted(fused, key=lambda v: -fused[v]), fused, lists, plan, fused=not single)
        wanted = kinds_wanted(query) if self.kind_weight > 0 else []
        if wanted:
            ranking = with_kind_list(ranking, self.store.kinds_of_chunks(ranking.order), wanted, self.kind_weight)
        return ranking

    def _hits(self, query: str, order: list[int], scores: dict[int, float], k: int,
              max_per_page: int | None) -> list[SearchHit]:
        """Materialise hits in `order`, applying the per-page cap and the optional re-ranker."""
        want = max(k, getattr(self.reranker, "depth", self.rerank_depth)) if self.reranker else k
        chunks = self.store.chunks(order[: max(want * 8, 200)])
        picked: list[StoredChunk] = []
        per_page: dict[tuple[str, int], int] = {}
        for vid in order:
            c = chunks.get(vid)
            if c is None:
                continue
            key = (c.locator.doc_id, c.locator.page)
            if max_per_page is not None and per_page.get(key, 0) >= max_per_page:
                continue
            per_page[key] = per_page.get(key, 0) + 1
            picked.append(c)
            if len(picked) >= want:
                break
        hit_scores = [scores[c.vec_id] for c in picked]
        if self.reranker is not None and picked:
            picked, hit_scores = self._reranked(query, picked)
        return [hit_from_chunk(c, s) for c, s in zip(picked[:k], hit_scores[:k], strict=True)]

    def _reranked(self, query: str, picked: list[StoredChunk]) -> tuple[list[StoredChunk], list[float]]:
        """`picked` (in fused order) re-ordered with the re-ranker, and its scores.

        A re-ranker with `page_context` reads each chunk with its page's kind and title
        (rag/rerank_synth.py `passage`); one with a `fused_weight` is fused with the fused order by
        RRF (rag/rerank.py), else its order alone decides."""
        texts = [c.text for c in picked]
        if getattr(self.reranker, "page_context", False):
            from rag.rerank_synth import passage

            keys = [(c.locator.doc_id, c.locator.page) for c in picked]
            kinds, heads = self.store.page_kinds(keys), self.store.page_heads(keys)
            texts = [passage(kinds.get(key, "other"), heads.get(key, ""), c.text)
                     for key, c in zip(keys, picked, strict=True)]
        rr = [float(s) for s in self.reranker.score(query, texts)]
        by_model = sorted(range(len(picked)), key=lambda i: -rr[i])
        final = rrf_fuse([by_model, list(range(len(picked)))], [1.0, getattr(self.reranker, "fused_weight", 0.0)])
        ranked = sorted(range(len(picked)), key=lambda i: -final[i])
        return [picked[i] for i in ranked], [rr[i] for i in ranked]

    def close(self) -> None:
        self.store.close()


def with_kind_list(ranking: Ranking, kind_of: dict[int, str], wanted: Sequence[str], weight: float) -> Ranking:
    """`ranking` with one more fused list: its candidates on pages of the `wanted` kinds, in fused
    order, at `weight` (0: unchanged). kind_of: vec id -> its page's kind."""
    if weight <= 0 or not wanted:
        return ranking
    kind_ids = [v for v in ranking.order if kind_of.get(v) in wanted]
    lists = [*ranking.lists, RankedList("kind", "all", weight, kind_ids)]
    fused = rrf_fuse([lst.ids for lst in lists], [lst.weight for lst in lists])
    return Ranking(sorted(fused, key=lambda v: -fused[v]), fused, lists, ranking.plan)


def hit_from_chunk(chunk: StoredChunk, score: float) -> SearchHit:
    """A SearchHit whose locator spans exactly the chunk's text on its page."""
    loc = chunk.locator
    return SearchHit(doc_id=loc.doc_id, page=loc.page, score=float(score), text=chunk.text,
                     locator=Locator.model_validate(loc.model_dump()), chunk_id=chunk.chunk_id)


def open_embedder_for(spec: EmbedderSpec, embed_model: str | None) -> Embedder:
    """The embedder an index was built with; a different model is a user error, not a silent mix."""
    embedder = Embedder.shared(embed_model if embed_model is not None else spec.model_name, precision=spec.precision)
    check_same_embedder(spec, embedder.spec)
    return embedder


def check_same_embedder(indexed: EmbedderSpec, requested: EmbedderSpec) -> None:
    """Raise ModelMismatchError unless `requested` produces vectors comparable with `indexed`."""
    same = (indexed.model_name, indexed.dim, indexed.normalized, indexed.precision) == (
        requested.model_name, requested.dim, requested.normalized, requested.precision)
    if not same:
        raise ModelMismatchError(
            f"this index was built with {indexed.describe()}, not {requested.describe()}; "
            "use the index's model (omit --embed-model) or ingest into a new --index directory"
        )


def load_or_rebuild_caches(index_dir: Path, store: DocStore, spec: EmbedderSpec) -> tuple[VectorIndex, LexicalIndex]:
    """faiss and BM25 caches matching the store's generation, rebuilt (and re-saved) when stale."""
    gen = store.generation
    vectors = VectorIndex.load(index_dir, generation=gen)
    if vectors is None:
        config = IndexConfig.model_validate_json(store.get_meta("index_config") or "{}")
        ids, vecs = store.all_vectors(spec.dim)
        vectors = VectorIndex.build(ids, vecs, spec.dim, config)
        _save_quietly(lambda: vectors.save(index_dir, gen))
    lexical = LexicalIndex.load(index_dir, generation=gen)
    if lexical is None:
        lexical = LexicalIndex.build(*bm25_corpus(store))
        _save_quietly(lambda: lexical.save(index_dir, gen))
    return vectors, lexical


def _save_quietly(save) -> None:
    """Persist a rebuilt cache when the directory is writable; a read-only index still serves."""
    try:
        save()
    except (OSError, RuntimeError):  # faiss reports a failed write as RuntimeError
        pass


__all__ = ["CrossEncoderReranker", "Reranker", "Retriever", "documents_matching",
           "rrf_fuse"]
