"""Hybrid retrieval, filters, routing and the re-rank hook over the example corpus (rag.retrieve)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from cai.core.contracts import Document, DocumentMetadata
from cai.core.errors import UserError
from rag.ingest import ingest
from rag.quotes import QuoteResolver
from rag.retrieve import CrossEncoderReranker, Retriever, rrf_fuse
from rag.routing import company_key, mentioned_years, names_company, route_query

CORPUS = Path(__file__).resolve().parents[1] / "examples" / "corpus"
H23, H24 = "halvorsen-tidewater-2023-10k", "halvorsen-tidewater-2024-10k"
QUARRY = "ostrander-quarry-2024-annual-report"


@pytest.fixture(scope="module")
def retriever(tmp_path_factory):
    if not CORPUS.is_dir() or not any(CORPUS.iterdir()):
        pytest.fail(f"example corpus missing at {CORPUS}")
    root = tmp_path_factory.mktemp("corpus")
    docs = root / "docs"
    shutil.copytree(CORPUS, docs)
    report = ingest([docs], root / "index", progress=False)
    assert report.n_documents >= 4, report.summary()
    r = Retriever.open(root / "index")
    yield r
    r.close()


def doc(doc_id, company=None, year=None, form="10-K", ticker=None) -> Document:
    meta = DocumentMetadata(company=company, fiscal_year=year, form=form, ticker=ticker)
    return Document(doc_id=doc_id, path=f"/x/{doc_id}.pdf", sha256="0" * 64, n_pages=1, metadata=meta)


# -- fusion and routing rules (pure functions) ---------------------------------------------------
def test_rrf_fuse_weights_and_ranks():
    fused = rrf_fuse([[1, 2, 3], [3, 1]], [1.0, 0.5], k=60)
    assert fused[1] == pytest.approx(1 / 61 + 0.5 / 62)
    assert fused[3] == pytest.approx(1 / 63 + 0.5 / 61)
    assert sorted(fused, key=lambda i: -fused[i]) == [1, 3, 2]


def test_company_names_need_a_phrase_or_a_capitalised_distinctive_word():
    best_buy = doc("bb", "BEST BUY CO., INC.", 2023)
    costco = doc("co", "Costco Wholesale Corporation", 2021, ticker="COST")
    assert company_key("AMAZON.COM, INC.") == ("amazon",)
    assert names_company("What were Best Buy's inventories?", best_buy)
    assert not names_company("Which category performed the best in Q2?", best_buy)
    assert names_company("How much total assets did Costco have?", costco)
    assert names_company("Total assets of COST at year end?", costco)
    assert not names_company("What did the wholesale segment earn?", costco)


def test_years_and_periods():
    assert mentioned_years("FY2015 - FY2017 average, fiscal 2016 and FY 23") == [2015, 2016, 2017, 2023]
    docs = [doc("b18", "Boeing Co", 2018), doc("b22", "The Boeing Company", 2022)]
    # No FY2023 filing: the latest earlier one (the FY2022 10-K forecasts FY2023).
    r = route_query("What production rate changes is Boeing forecasting for FY2023?", docs)
    assert r.doc_ids == ["b22"] and r.confidence == "company"
    r = route_query("Boeing's FY2018 total assets?", docs)
    assert r.doc_ids == ["b18"] and r.confidence == "period"
    # No year named: the latest annual report (the present); the route stays at company confidence.
    r = route_query("Is Boeing's business cyclical?", docs)
    assert r.doc_ids == ["b22"] and r.confidence == "company" and "latest annual report" in r.reason
    quarterly = [*docs, doc("b23q", "The Boeing Company", 2023, "10-Q")]
    assert route_query("Are Boeing's gross margins historically consistent?", quarterly).doc_ids == ["b22"]
    assert route_query("Boeing's quarterly backlog?", quarterly).doc_ids == ["b23q"]
    undated = [doc("e1", "Boeing Co", None, "8-K"), doc("e2", "Boeing Co", None, "8-K")]
    assert sorted(route_query("Who is Boeing's new CEO?", undated).doc_ids) == ["e1", "e2"]
    # a presentation is no periodic report: the latest annual report does not supersede it
    deck = [*docs, doc("deck", "The Boeing Company", 2023, None)]
    assert sorted(route_query("Who leads Boeing?", deck).doc_ids) == ["b22", "deck"]
    assert route_query("What is the FY2018 revenue?", docs).confidence == "none"


def test_quarter_questions_prefer_quarterly_reports():
    docs = [doc("k", "Best Buy Co., Inc.", 2024, "10-K"), doc("q", "Best Buy Co., Inc.", 2024, "10-Q")]
    assert route_query("Best Buy stores in Q2 of FY2024?", docs).doc_ids == ["q"]
    assert route_query("Best Buy total revenue in FY2024?", docs).doc_ids == ["k"]


# -- search over a real index -------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["hybrid", "dense", "bm25"])
def test_modes_return_ranked_hits(retriever, mode):
    hits = retriever.search("aggregates shipments tons", k=4, mode=mode, route=False)
    assert 0 < len(hits) <= 4
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert len({(h.doc_id, h.page) for h in hits}) == len(hits)  # max_per_page=1 by default


def test_hybrid_is_the_rrf_fusion_of_dense_and_bm25(retriever, monkeypatch):
    monkeypatch.setattr(retriever, "kind_weight", 0.0)  # no "kind" list: the measure implies cash-flow pages
    q = "cash provided by operating activities"
    depth = retriever.candidate_depth
    lists = [[h.chunk_id for h in retriever.search(q, k=depth, mode=m, route=False, max_per_page=None)]
             for m in ("dense", "bm25")]
    assert lists[0] != lists[1]
    ids = {c: i for i, c in enumerate(sorted(set(lists[0]) | set(lists[1])))}
    fused = rrf_fuse([[ids[c] for c in lst] for lst in lists], [1.0, 1.0])
    best_scores = sorted(fused.values(), reverse=True)[:5]
    hybrid = retriever.search(q, k=5, mode="hybrid", route=False, max_per_page=None)
    # Each hit carries its own fused score, and the five are the five best (ties in any order).
    assert [h.score for h in hybrid] == pytest.approx([fused[ids[h.chunk_id]] for h in hybrid])
    assert [h.score for h in hybrid] == pytest.approx(best_scores)


def test_filters(retriever):
    q = "revenue and operating income"
    assert {h.doc_id for h in retriever.search(q, k=8, filters={"doc_id": H23})} == {H23}
    by_year = retriever.search(q, k=8, filters={"fiscal_year": 2023}, route=False)
    assert by_year and all(h.doc_id == H23 for h in by_year)
    by_form = retriever.search(q, k=8, filters={"form": "annual report"}, route=False)
    assert {h.doc_id for h in by_form} == {QUARRY}
    by_company = retriever.search(q, k=8, filters={"company": "Ostrander Quarry"}, route=False)
    assert {h.doc_id for h in by_company} == {QUARRY}
    assert retriever.search(q, filters={"fiscal_year": 1999}) == []
    with pytest.raises(UserError, match="unknown filter"):
        retriever.search(q, filters={"sector": "rail"})
    with pytest.raises(UserError, match="mode"):
        retriever.search(q, mode="sparse")


def test_routing_steers_to_the_named_filing_and_year(retriever):
    q = "What was Halvorsen Tidewater's total revenue in fiscal 2023?"
    plan = retriever.route(q)
    assert plan.doc_ids == [H23] and plan.confidence == "period"
    routed = retriever.search(q, k=3)
    assert [h.doc_id for h in routed] == [H23] * len(routed) and routed
    q24 = "What was Halvorsen Tidewater's total revenue in fiscal 2024?"
    assert retriever.search(q24, k=1)[0].doc_id != H23


def test_routing_does_not_hide_other_filings(retriever):
    """A confident route demotes, never removes: the unrouted lists are fused in with less weight."""
    q = "Ostrander Quarry aggregates shipments in fiscal 2024"
    hits = retriever.search(q, k=20, max_per_page=None)
    assert hits[0].doc_id == QUARRY
    assert any(h.doc_id != QUARRY for h in hits)


def test_every_hit_resolves_verbatim_over_many_queries(retriever):
    resolver = QuoteResolver(retriever.store)
    queries = [s for d in retriever.documents for s in _first_sentences(retriever, d.doc_id)]
    assert len(queries) >= 12
    for q in queries:
        for mode in ("hybrid", "dense", "bm25"):
            for hit in retriever.search(q, k=5, mode=mode, max_per_page=None):
                assert resolver.text_at(hit.locator) == hit.text
                quote = hit.text[: min(80, len(hit.text))]
                verified = resolver.verify(hit.doc_id, hit.page, quote)
                assert verified is not None and verified.char_start <= hit.locator.char_start + len(quote)


def _first_sentences(retriever, doc_id, n=2):
    out = []
    for page in range(1, 3):
        p = retriever.store.page(doc_id, page)
        if p is None:
            break
        out += [p.text[s.char_start:s.char_end][:120] for s in p.sentences[:n] if s.char_end > s.char_start]
    return out


# -- re-ranking hook ----------------------------------------------------------------------------
class KeywordReranker:
    """A real (if simple) Reranker: counts query words in the passage."""

    def score(self, query, passages):
        words = query.lower().split()
        return [float(sum(w in p.lower() for w in words)) for p in passages]


def test_reranker_hook_reorders_candidates(retriever):
    retriever.reranker = KeywordReranker()
    try:
        hits = retriever.search("employees headquartered Tacoma", k=5, route=False)
    finally:
        retriever.reranker = None
    scores = [h.score for h in hits]
    assert scores == sorted(scores, reverse=True) and scores[0] >= 1


def test_cross_encoder_reranker_loads_a_local_model(tmp_path):
    """A tiny BERT cross-encoder built from config (no download), through sentence-transformers."""
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    from cai.core.assets import minilm_path

    tokenizer = AutoTokenizer.from_pretrained(minilm_path())
    config = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=1,
                        num_attention_heads=2, intermediate_size=64, num_labels=1)
    BertForSequenceClassification(config).save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    reranker = CrossEncoderReranker(str(tmp_path))
    scores = reranker.score("revenue", ["revenue was $5 million", "the cat sat"])
    assert len(scores) == 2 and all(isinstance(s, float) for s in scores) and scores[0] != scores[1]


def test_batched_query_vectors_give_the_same_hits_and_are_used(retriever):
    questions = ["What was Halvorsen Tidewater's total revenue in 2024?",
                 "Who audits the company's financial statements?", "How much cash did operating activities provide?"]
    vectors = retriever.query_vectors(questions)
    assert vectors.shape == (3, retriever.spec.dim)
    alone = retriever.embedder.encode_query(retriever.query_text(questions[0]))
    assert np.abs(vectors[0] - alone).max() < 1e-5  # the batch changes only the last bits
    for q, v in zip(questions, vectors, strict=True):
        assert [h.locator for h in retriever.search(q, vector=v)] == [h.locator for h in retriever.search(q)]
    # The given vector is the one searched with: another question's vector finds its pages.
    swapped = retriever.search(questions[0], mode="dense", route=False, vector=vectors[1])
    expected = retriever.search(questions[1], mode="dense", route=False)
    assert [h.locator for h in swapped] == [h.locator for h in expected]
