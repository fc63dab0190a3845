"""faiss index id stability, persistence, the SQLite store, and BM25 (rag.index/store/lexical)."""

from __future__ import annotations

import numpy as np
import pytest

from rag.index import IndexConfig, VectorIndex
from rag.lexical import LexicalIndex, expand_query, tokenize
from rag.store import DocStore
from tests.test_quotes import parsed_document

KINDS = ["flat", "hnsw", "ivf"]


def unit_vectors(n: int, dim: int = 32, seed: int = 0) -> np.ndarray:
    x = np.random.default_rng(seed).normal(size=(n, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


@pytest.mark.parametrize("kind", KINDS)
def test_ids_are_not_reused_after_delete(kind, tmp_path):
    """The llama-index faiss id-reuse bug: add n0,n1,n2; delete n0; add n3 -> a query with n2's vector must give n2.

    Ids come from the store, which never hands out an id twice.
    """
    store = DocStore.open(tmp_path, create=True)
    vecs = unit_vectors(4)
    index = VectorIndex(32, IndexConfig(kind=kind))
    with store.transaction():
        first = store._take_vec_ids(3)  # n0, n1, n2
    index.add(first, vecs[:3])
    assert index.remove(first[:1]) == 1  # delete n0
    with store.transaction():
        (n3,) = store._take_vec_ids(1)
    index.add(np.array([n3]), vecs[3:4])
    assert n3 not in set(first.tolist())
    _, ids = index.search(vecs[2:3], 1)
    assert ids[0, 0] == first[2]
    _, ids = index.search(vecs[3:4], 1)
    assert ids[0, 0] == n3
    _, ids = index.search(vecs[0:1], 3)
    assert first[0] not in ids[0].tolist()
    store.close()


@pytest.mark.parametrize("kind", KINDS)
def test_index_round_trip_and_stale_stamp(kind, tmp_path):
    vecs = unit_vectors(300, seed=1)
    ids = np.arange(1000, 1300, dtype=np.int64)
    index = VectorIndex.build(ids, vecs, 32, IndexConfig(kind=kind))
    index.save(tmp_path, generation=7)
    loaded = VectorIndex.load(tmp_path, generation=7)
    assert loaded is not None and loaded.ntotal == 300 and loaded.config.kind == kind
    _, got = loaded.search(vecs[:20], 1)
    assert (got[:, 0] == ids[:20]).mean() >= 0.95
    assert VectorIndex.load(tmp_path, generation=8) is None  # the store moved on: rebuild


def test_flat_search_with_allowed_ids_is_exact():
    vecs = unit_vectors(200, seed=2)
    index = VectorIndex.build(np.arange(200), vecs, 32, IndexConfig())
    allowed = np.array([5, 17, 150])
    scores, ids = index.search(vecs[0:1], 5, allowed_ids=allowed)
    got = [i for i in ids[0] if i >= 0]
    assert sorted(got) == sorted(allowed.tolist())
    expected = allowed[np.argsort(-(vecs[allowed] @ vecs[0]))]
    assert got == expected.tolist()


def test_store_round_trip_and_monotonic_ids(tmp_path):
    store = DocStore.open(tmp_path, create=True)
    a = parsed_document("a", ["Alpha one. Alpha two.", "Alpha page two."])
    b = parsed_document("b", ["Beta one."])
    with store.transaction():
        ids_a = store.add_document(a, unit_vectors(2, 4))
        store.link_path("/x/a.txt", "a")
    with store.transaction():
        assert sorted(store.unlink_path("/x/a.txt")) == sorted(ids_a.tolist())
    with store.transaction():
        ids_b = store.add_document(b, unit_vectors(1, 4))
    assert ids_b.min() > ids_a.max()
    gen = store.generation
    store.close()
    again = DocStore.open(tmp_path)
    assert again.generation == gen
    assert again.document("a") is None and again.page("a", 1) is None
    assert again.page("b", 1).text == "Beta one."
    chunk = again.chunks(ids_b)[int(ids_b[0])]
    assert chunk.text == "Beta one." and chunk.locator.doc_id == "b"
    found, vecs = again.vectors(ids_b, 4)
    assert found.tolist() == ids_b.tolist() and vecs.shape == (1, 4)
    again.close()


def test_failed_transaction_leaves_no_trace(tmp_path):
    store = DocStore.open(tmp_path, create=True)
    gen = store.generation
    with pytest.raises(ValueError), store.transaction():
        store.add_document(parsed_document("c", ["Gamma."]), unit_vectors(1, 4))
        raise ValueError("crash after the insert")
    assert store.document("c") is None and store.count_chunks() == 0 and store.generation == gen
    store.close()


def test_tokenize_keeps_numbers_forms_and_years():
    toks = tokenize("Net sales of $79,268 million (FY2017), per the 10-K; margins 33.5%.")
    assert "79268" in toks and "33.5" in toks and "10k" in toks
    assert "2017" in toks and "fiscal" in toks
    assert "the" not in toks and "net" in toks and "sale" in toks  # stop word out, stemmed


def test_expand_query_adds_filer_wording():
    expanded = expand_query("What is FY2019 net income per the income statement?")
    assert "statements of operations" in expanded and "net earnings" in expanded
    assert expand_query("nothing financial here") == "nothing financial here"


def test_bm25_ranks_and_round_trips(tmp_path):
    texts = ["Total revenues were 912.3 million.", "Safety incidents fell.", "Revenue recognition policy."]
    lex = LexicalIndex.build(np.array([10, 11, 12]), texts)
    scores, ids = lex.search("total revenues 912.3", 3, expand=False)
    assert ids[0] == 10 and scores[0] > 0
    scores, ids = lex.search("total revenues", 3, allowed_ids=np.array([11, 12]), expand=False)
    assert 10 not in ids.tolist()
    lex.save(tmp_path, generation=3)
    loaded = LexicalIndex.load(tmp_path, generation=3)
    np.testing.assert_allclose(loaded.scores("revenues"), lex.scores("revenues"))
    assert LexicalIndex.load(tmp_path, generation=4) is None


def test_page_title_skips_running_links_and_reaches_every_chunk(tmp_path):
    from rag.lexical import bm25_corpus, page_title

    head = "Table of Contents\nConsolidated Balance Sheets\n$ in millions\nAssets\nCash 5"
    assert page_title(head, 3) == "Consolidated Balance Sheets $ in millions Assets"
    store = DocStore.open(tmp_path, create=True)
    parsed = parsed_document("bs", ["Consolidated Balance Sheets\nCash 5. Inventories 7."])
    with store.transaction():
        store.add_document(parsed, unit_vectors(1, 4))
    _, texts = bm25_corpus(store)
    assert texts[0].startswith("Consolidated Balance Sheets")
    store.close()
