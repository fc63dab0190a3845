"""Why each search hit ranked where it did: its route, its page kind, and the fused score's parts.

`cai search` prints this (and `--json` returns it under "why") so that a miss can be read
directly: was the question routed to the right filing, and by which name; what kind of page came
up (rag/page_kinds.py); and where the chunk stood in each candidate list before reciprocal rank
fusion (rag/retrieve.py: score = sum of weight / (60 + rank) over the lists holding it).

`SearchHit` (cai/core/contracts.py) is a closed contract with no metadata field, so the
explanation travels beside the hit in `ExplainedHit` rather than on it.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from cai.core.contracts import SearchHit
from rag.retrieve import RRF_K, Mode, Ranking, Retriever


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ListRank(_Model):
    """The hit's chunk in one fused candidate list."""

    list: Literal["dense", "bm25", "kind"] = Field(
        description="kind: pages of a kind the question names, or its measure is read from")
    scope: Literal["routed", "all"] = Field(description="the routed filings' chunks, or every chunk in scope")
    rank: int = Field(ge=1, description="1-based rank of the chunk in that list")
    weight: float
    rrf: float = Field(description="this list's share of the fused score: weight / (60 + rank)")


class RouteWhy(_Model):
    """What routing made of the question, seen from the hit's filing."""

    routed: bool = Field(description="the hit's filing is one the question was routed to")
    matched_name: str | None = Field(None, description="the filer's name the question used, e.g. \"ticker 'JPM'\"")
    confidence: str = Field(description="none | company | period")
    reason: str


class HitWhy(_Model):
    """Why one hit ranked: route, page kind, and the parts of its fused score."""

    route: RouteWhy
    page_kind: str = Field(description="rag/page_kinds.py")
    dense_rank: int | None = Field(None, description="best rank of the chunk in a dense list (None: not in one)")
    bm25_rank: int | None = Field(None, description="best rank of the chunk in a BM25 list (None: not in one)")
    rrf_score: float | None = Field(None, description="fused RRF score (None when one list kept its own scores)")
    components: list[ListRank] = Field(default_factory=list)
    reranker_score: float | None = Field(None, description="the re-ranker's score of the hit (None: no re-ranker)")


class ExplainedHit(_Model):
    hit: SearchHit
    why: HitWhy

    def as_json(self) -> dict:
        """The hit's own fields with the explanation under "why" (what `cai search --json` prints)."""
        return {**self.hit.model_dump(mode="json"), "why": self.why.model_dump(mode="json")}


def explain_hits(retriever: Retriever, ranking: Ranking, hits: list[SearchHit]) -> list[ExplainedHit]:
    """Explanations for `hits`, which `retriever` returned from `ranking`."""
    positions = [{vid: i for i, vid in enumerate(lst.ids, start=1)} for lst in ranking.lists]
    kinds = retriever.store.page_kinds((h.doc_id, h.page) for h in hits)
    vec_of = _vec_ids(retriever, hits)
    plan = ranking.plan
    out = []
    for hit in hits:
        vid = vec_of.get(hit.chunk_id or "")
        parts = [ListRank(list=lst.name, scope=lst.scope, rank=pos[vid], weight=lst.weight,
                          rrf=lst.weight / (RRF_K + pos[vid]))
                 for lst, pos in zip(ranking.lists, positions, strict=True) if vid in pos]
        name = plan.matched.get(hit.doc_id)
        route = RouteWhy(routed=hit.doc_id in plan.doc_ids, matched_name=name.describe() if name else None,
                         confidence=plan.confidence, reason=plan.reason)
        out.append(ExplainedHit(hit=hit, why=HitWhy(
            route=route, page_kind=kinds.get((hit.doc_id, hit.page), "other"),
            dense_rank=min((p.rank for p in parts if p.list == "dense"), default=None),
            bm25_rank=min((p.rank for p in parts if p.list == "bm25"), default=None),
            rrf_score=ranking.scores.get(vid) if ranking.fused and vid is not None else None,
            components=parts,
            reranker_score=hit.score if retriever.reranker is not None else None,
        )))
    return out


def _vec_ids(retriever: Retriever, hits: list[SearchHit]) -> dict[str, int]:
    """chunk_id -> vector id for the hits' chunks."""
    return retriever.store.vec_ids_of_chunks(h.chunk_id for h in hits if h.chunk_id)


def search_explained(retriever: Retriever, query: str, k: int = 5, *, mode: Mode = "hybrid",
                     filters: dict | None = None, route: bool = True, max_per_page: int | None = 1,
                     vector: np.ndarray | None = None) -> list[ExplainedHit]:
    """`retriever.search(...)` with an explanation per hit (same hits, same order)."""
    if not query.strip() or k <= 0:
        retriever.search(query, k, mode=mode, filters=filters, route=route)  # same errors as search
        return []
    ranking = retriever.rank(query, mode=mode, filters=filters, route=route, vector=vector)
    hits = retriever.hits_of(query, ranking, k, max_per_page)
    return explain_hits(retriever, ranking, hits)
