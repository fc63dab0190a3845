"""The RL reward checks a data run's answers against the index's pages: `cai generate` records the
sha256 of every indexed document in its manifest, and `cai train` refuses an index whose documents
changed since (the pages would no longer be the ones the run retrieved)."""

from __future__ import annotations

import json

import pytest

from cai.core.contracts import Record
from cai.core.errors import UserError
from cai.core.runs import read_jsonl, read_manifest
from rag.store import DocStore
from rewards.rl_prompts import check_record_corpus


def _first_record(run) -> Record:
    return next(Record.model_validate(obj) for _, obj in read_jsonl(run / "records.jsonl") if obj.get("sources"))


def test_generate_records_the_corpus_and_train_checks_it(grounded_run, example_index):
    corpus = read_manifest(grounded_run)["corpus"]
    store = DocStore.open(example_index)
    try:
        current = {d.doc_id: d.sha256 for d in store.documents()}
        assert corpus == current and len(corpus) >= 2
        record = _first_record(grounded_run)
        check_record_corpus(example_index, grounded_run, current, corpus, record)  # the same documents: accepted
        doc_id = record.sources[0].doc_id
        with pytest.raises(UserError, match=rf"document '{doc_id}' changed since"):
            check_record_corpus(example_index, grounded_run, current, {**corpus, doc_id: "0" * 64}, record)
        gone = record.model_copy(update={"sources": [h.model_copy(update={"doc_id": "no-such-filing"})
                                                     for h in record.sources]})
        with pytest.raises(UserError, match="has no document 'no-such-filing'"):
            check_record_corpus(example_index, grounded_run, current, corpus, gone)
    finally:
        store.close()


def test_a_run_without_a_corpus_record_is_not_refused(grounded_run, example_index, tmp_path):
    """Runs made before the corpus was recorded still train (nothing to compare against)."""
    store = DocStore.open(example_index)
    try:
        assert read_manifest(tmp_path) == {}
        check_record_corpus(example_index, tmp_path, {d.doc_id: d.sha256 for d in store.documents()},
                            read_manifest(tmp_path).get("corpus") or {}, _first_record(grounded_run))
    finally:
        store.close()
    assert json.loads((grounded_run / "manifest.json").read_text())["status"] == "finished"
