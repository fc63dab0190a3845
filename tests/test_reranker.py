"""The learned page re-ranker (issue #16): questions synthesized from the example filings, negatives
mined from the same filing, a tiny re-ranker trained here, stored with the index and refused when
it does not match the one the index recorded."""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from cai.cli import cli
from cai.core.errors import ModelMismatchError, UserError
from rag import cross_encoder
from rag.ingest import ingest
from rag.rerank import METADATA_FILE, PageReranker, mine_pairs, open_for_index
from rag.rerank_synth import headings, page_queries, passage, rerank_query, row_labels, synthesize_queries
from rag.retrieve import Retriever
from rag.store import DocStore

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "examples" / "corpus"


@pytest.fixture(scope="module")
def trained_index(tmp_path_factory) -> Path:
    """The example corpus ingested, and a re-ranker trained for it by `cai retriever train`."""
    index = tmp_path_factory.mktemp("rerank") / "index"
    ingest([CORPUS], index, progress=False)
    result = CliRunner().invoke(cli, ["retriever", "train", "--index", str(index), "--epochs", "4",
                                      "--max-queries", "80"])
    assert result.exit_code == 0, result.output
    assert "re-ranker trained on" in result.output and result.output.strip().endswith("reranker")
    return index


def _pages(index: Path) -> tuple[list, list[tuple[str, int, str, str]]]:
    store = DocStore.open(index)
    try:
        docs = store.documents()
        pages = []
        for d in docs:
            kinds = store.page_kinds((d.doc_id, p) for p in range(1, d.n_pages + 1))
            pages += [(d.doc_id, p, store.page(d.doc_id, p).text, kinds[(d.doc_id, p)])
                      for p in range(1, d.n_pages + 1)]
        return docs, pages
    finally:
        store.close()


def test_rows_and_headings_of_real_pdf_and_html_statements(trained_index):
    docs, pages = _pages(trained_index)
    text = {(d, p): t for d, p, t, _ in pages}
    kind = {(d, p): k for d, p, _, k in pages}
    # PDF: label and figures on one line, separated by spaces; HTML: "label | cell | cell" rows.
    pdf = [(d, p) for (d, p), k in kind.items() if d == "halvorsen-tidewater-2024-10k" and k == "income_statement"]
    html = [(d, p) for (d, p), k in kind.items() if d == "halvorsen-tidewater-2023-10k" and k == "income_statement"]
    assert pdf and html
    for key in (pdf[0], html[0]):
        labels = row_labels(text[key])
        assert {"Revenue", "Operating income", "Net income"} <= set(labels), labels
        assert not any(label.lower().startswith("year ended") for label in labels)  # a header, not a line item
    assert "Segment Results" in {h for (d, p), t in text.items() for h in headings(t)}


def test_synthesized_questions_name_the_filer_and_year_and_are_seeded(trained_index):
    docs, pages = _pages(trained_index)
    queries = synthesize_queries(docs, pages, seed=3)
    assert queries == synthesize_queries(docs, pages, seed=3)
    assert queries != synthesize_queries(docs, pages, seed=4)
    assert {"row", "heading", "sentence"} <= {q.kind for q in queries}
    rows = [q for q in queries if q.kind == "row" and q.doc_id == "halvorsen-tidewater-2024-10k"]
    assert rows and all("2024" in q.text and "Halvorsen" in q.text and "INC" not in q.text for q in rows)
    assert all(q.anchor.lower() in " ".join(text.split()).lower()
               for q in queries for d, p, text, _ in pages if (d, p) == (q.doc_id, q.page))
    # On a statement page some questions name the statement, as users do.
    doc = next(d for d in docs if d.doc_id == "halvorsen-tidewater-2024-10k")
    statement = next((p, t) for d, p, t, k in pages if d == doc.doc_id and k == "balance_sheet")
    named = [q.text for seed in range(20)
             for q in page_queries(doc, statement[0], statement[1], "balance_sheet", random.Random(seed), 8)]
    assert any(("balance sheet" in q or "financial position" in q) for q in named)


def test_negatives_never_hold_the_anchor(trained_index):
    docs, pages = _pages(trained_index)
    queries = [q for q in synthesize_queries(docs, pages) if q.kind == "row"][:12]
    retriever = Retriever.open(trained_index, rerank=False)
    try:
        pairs = mine_pairs(retriever, queries)
    finally:
        retriever.close()
    groups: dict[int, list] = {}
    for p in pairs:
        groups.setdefault(p.group, []).append(p)
    assert groups
    for members in groups.values():
        q = queries[members[0].group]
        assert [m.label for m in members][0] == 1 and sum(m.label for m in members) == 1
        assert all(m.doc_id == q.doc_id for m in members)  # grouped by the filing the question came from
        assert q.anchor.lower() in members[0].passage.lower()
        assert all(q.anchor.lower() not in m.passage.lower() for m in members[1:])


def test_passage_and_query_layout():
    assert passage("balance_sheet", "Table of Contents\nACME CORP\nCONSOLIDATED BALANCE SHEETS\nmore",
                   "Total assets 10 9").startswith("balance sheet: ACME CORP CONSOLIDATED BALANCE SHEETS more | Total")
    long = "What is the ratio? " + "word " * 100 + "Use the cash flow statement."
    query = rerank_query(long)
    assert query.startswith("cash flow statement: What is the ratio?") and len(query.split()) < 50


def test_search_with_the_trained_reranker_puts_the_page_a_question_asks_for_first(trained_index):
    """Questions the test writes, each answered on one page of the example filings: search with the
    tiny re-ranker in place (its order fused with the first stage's) puts that page first. A model
    trained for a minute on 80 questions is a test of the mechanism, not of ranking quality
    (BENCHMARKS.md measures that on the dev filings)."""
    questions = {
        "How much did Halvorsen spend on selling, general and administrative costs in 2024 according to "
        "the statement of operations?": ("halvorsen-tidewater-2024-10k", "income_statement"),
        "What were Halvorsen's total assets at the end of 2024 on the balance sheet?":
            ("halvorsen-tidewater-2024-10k", "balance_sheet"),
        "What was Ostrander Quarry's gross profit in fiscal 2024?": ("ostrander-quarry-2024-annual-report", None),
    }
    retriever = Retriever.open(trained_index)
    try:
        assert isinstance(retriever.reranker, PageReranker)
        for question, (doc_id, kind) in questions.items():
            hits = retriever.search(question, k=5)
            top = hits[0]
            assert top.doc_id == doc_id, (question, [(h.doc_id, h.page) for h in hits])
            if kind:
                assert retriever.store.page_kinds([(top.doc_id, top.page)])[(top.doc_id, top.page)] == kind
    finally:
        retriever.close()


def test_search_reports_the_reranker_score_and_can_skip_it(trained_index):
    runner = CliRunner()
    out = runner.invoke(cli, ["search", "--index", str(trained_index), "--json", "-k", "3",
                              "What was Halvorsen's revenue in 2024?"])
    assert out.exit_code == 0, out.output
    hits = json.loads(out.output)
    assert all(0.0 <= h["why"]["reranker_score"] <= 1.0 for h in hits)
    plain = runner.invoke(cli, ["search", "--index", str(trained_index), "--json", "-k", "3", "--no-rerank",
                                "What was Halvorsen's revenue in 2024?"])
    assert plain.exit_code == 0 and all(h["why"]["reranker_score"] is None for h in json.loads(plain.output))


def _other_reranker(trained_index: Path, tmp_path: Path) -> Path:
    """A copy of the index's re-ranker with a changed head: a valid re-ranker, but not the index's."""
    other = tmp_path / "other-reranker"
    shutil.copytree(trained_index / "reranker", other)
    model = PageReranker.load(other).model
    model.model.classifier.bias.data += 0.5
    model.save_pretrained(str(other), create_model_card=False)
    meta = json.loads((other / METADATA_FILE).read_text())
    meta["model_sha256"] = cross_encoder.model_files_sha256(other, METADATA_FILE)
    (other / METADATA_FILE).write_text(json.dumps(meta))
    return other


def test_an_index_refuses_a_reranker_it_was_not_trained_with(trained_index, tmp_path):
    other = _other_reranker(trained_index, tmp_path)
    assert PageReranker.load(other).metadata["model_sha256"] != json.loads(
        (trained_index / "manifest.json").read_text())["reranker"]["sha256"]
    with pytest.raises(ModelMismatchError, match="not the one index .* was trained with"):
        open_for_index(trained_index, other)
    assert open_for_index(trained_index).path == trained_index / "reranker"


def test_damaged_or_missing_reranker_is_a_clear_error(trained_index, tmp_path):
    index = tmp_path / "copy"
    shutil.copytree(trained_index, index)
    weights = next((index / "reranker").glob("*.safetensors"))
    weights.write_bytes(weights.read_bytes()[:-16])
    with pytest.raises(UserError, match="sha256 mismatch"):
        Retriever.open(index)
    shutil.rmtree(index / "reranker")
    result = CliRunner().invoke(cli, ["search", "--index", str(index), "revenue"])
    assert result.exit_code == 2 and "records a re-ranker" in result.output and "retriever train" in result.output
    assert Retriever.open(index, rerank=False).reranker is None  # still searchable without it


def test_the_filer_is_named_as_questions_name_it():
    from types import SimpleNamespace

    from rag.rerank_synth import _company

    named = {c: _company(SimpleNamespace(metadata=SimpleNamespace(company=c, ticker=None)))
             for c in ("THE BOEING COMPANY", "The Coca-Cola Company", "BEST BUY CO., INC.", "AMD")}
    assert named["THE BOEING COMPANY"] == "Boeing" and named["The Coca-Cola Company"] == "Coca-Cola"
    assert named["BEST BUY CO., INC."].lower() == "best buy" and named["AMD"] == "AMD"  # both suffixes go

