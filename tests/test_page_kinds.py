"""Page kinds (rag/page_kinds.py): hand-written pages of each kind, the example corpus's real pages,
the kind filter of search, and the store's upgrade of a schema-1 index."""

from __future__ import annotations

import shutil
import sqlite3

import pytest

from cai.core.errors import UserError
from rag.page_kinds import (
    PAGE_KINDS,
    classify_pages,
    kinds_implied,
    kinds_named,
    kinds_wanted,
    parse_kinds,
    statement_kind,
)
from rag.retrieve import Retriever
from rag.store import DERIVED_VERSION, DocStore

H23, H24 = "halvorsen-tidewater-2023-10k", "halvorsen-tidewater-2024-10k"
QUARRY = "ostrander-quarry-2024-annual-report"
FIGURES = "\n".join(f"Line item {i} $ {100 + i:,} $ {90 + i:,}" for i in range(12))


def test_statement_titles_of_regulation_s_x():
    assert statement_kind(f"ACME CORP.\nCONSOLIDATED STATEMENTS OF OPERATIONS\n(in millions)\n{FIGURES}") \
        == "income_statement"
    assert statement_kind(f"Consolidated Statements of Earnings\n$ in millions\n{FIGURES}") == "income_statement"
    assert statement_kind(f"PART II\nItem 8\nINCOME STATEMENTS\n{FIGURES}") == "income_statement"
    assert statement_kind(f"Table of Contents\nACME CORP.\nCONSOLIDATED BALANCE SHEETS\n{FIGURES}") == "balance_sheet"
    assert statement_kind(f"The Acme Company and Subsidiaries\nConsolidated Statements of Financial Position\n"
                          f"{FIGURES}") == "balance_sheet"
    assert statement_kind(f"NIKE, Inc. Consolidated Statements of Cash Flows\n{FIGURES}") == "cash_flow"
    assert statement_kind(f"CASH FLOWS STATEMENTS\n{FIGURES}") == "cash_flow"
    assert statement_kind(f"Consolidated Statements of Changes in Stockholders’ Equity (unaudited)\n{FIGURES}") \
        == "equity_statement"
    # Split over lines, one word each (as some PDFs extract).
    assert statement_kind(f"SQUARE,\nINC.\nCONSOLIDATED\nBALANCE\nSHEETS\n{FIGURES}") == "balance_sheet"


def test_statement_titles_in_prose_or_an_index_are_not_statements():
    assert statement_kind("Liquidity\nAs shown in our consolidated statements of cash flows, cash rose.\n") is None
    assert statement_kind("Consolidated balance sheets analysis\nThe following is a discussion of changes.") is None
    assert statement_kind("Selected income statement data\nRevenue $ 100\n") is None
    index = ("INDEX TO CONSOLIDATED FINANCIAL STATEMENTS\nConsolidated Statements of Operations 37\n"
             "Consolidated Balance Sheets 39\nConsolidated Statements of Cash Flows 40\n"
             "Consolidated Statements of Stockholders' Equity 41\n")
    assert statement_kind(index) is None
    # A guarantor note's parent / issuer / guarantor columns (Rule 3-10): a note, not the statement.
    assert statement_kind(f"ACME CORP.\nCondensed Consolidating Statements of Income\nParent Issuer Guarantor "
                          f"Eliminations Consolidated\n{FIGURES}") is None
    assert statement_kind(f"ACME CORP.\nCONDENSED CONSOLIDATING BALANCE SHEETS\n{FIGURES}") is None
    # ASC 220: a second statement of comprehensive income starts from net income; it is not the P&L.
    comprehensive = ("ACME CORP.\nConsolidated Statements of Comprehensive Income\n(in millions)\n"
                     "Net income $ 500 $ 450\nForeign currency translation adjustments (20) 15\n"
                     "Comprehensive income $ 480 $ 465\n")
    assert statement_kind(comprehensive) is None
    assert statement_kind(f"ACME CORP.\nConsolidated Statements of Comprehensive Income\nRevenues $ 900 $ 800\n"
                          f"{FIGURES}") == "income_statement"  # one continuous statement
    assert classify_pages(["Item 8. Financial Statements and Supplementary Data\nACME CORP.\nCONSOLIDATED "
                           f"STATEMENTS OF OPERATIONS\nNet sales $ 900 $ 800\n{FIGURES}", comprehensive]) == [
        "income_statement", "note"]
    # A 10-Q's primary statements are condensed, and consolidated.
    assert statement_kind(f"ACME CORP.\nCondensed Consolidated Statements of Income\n{FIGURES}") == "income_statement"


def _filing() -> list[str]:
    """A small 10-K: cover, table of contents, each section, statements, notes, signatures, exhibit."""
    return [
        "UNITED STATES SECURITIES AND EXCHANGE COMMISSION\nFORM 10-K\nACME CORP.\n",
        ("TABLE OF CONTENTS\nItem 1. Business 3\nItem 1A. Risk Factors 4\nItem 3. Legal Proceedings 6\n"
         "Item 7. Management's Discussion and Analysis of Financial Condition and Results of Operations 7\n"
         "Item 8. Financial Statements and Supplementary Data 9\nItem 15. Exhibits 14\n"),
        "PART I\nItem 1. Business\nAcme makes anvils.\n" + "We sell anvils worldwide. " * 20,
        "Item 1A. Risk Factors\nDemand for anvils is cyclical.\n" + "Our results may vary. " * 30,
        "Competition could reduce our margins.\n" + "Rivals may cut prices. " * 30,  # risk factors go on
        "Item 3. Legal Proceedings\nWe are party to claims arising in the ordinary course. " * 5,
        "Item 7. Management’s Discussion and Analysis of Financial Condition and Results of Operations\n"
        + "Revenue rose 4%. " * 30,
        "Liquidity and Capital Resources\n" + "Cash provided by operations was $5 million. " * 20,
        "Item 8. Financial Statements and Supplementary Data\nReport of Independent Registered Public Accounting "
        "Firm\nWe have audited the balance sheets.\n",
        f"ACME CORP.\nCONSOLIDATED STATEMENTS OF OPERATIONS\n{FIGURES}",
        f"ACME CORP.\nCONSOLIDATED BALANCE SHEETS\n{FIGURES}",
        f"ACME CORP.\nCONSOLIDATED STATEMENTS OF CASH FLOWS\n{FIGURES}",
        "ACME CORP.\nNOTES TO CONSOLIDATED FINANCIAL STATEMENTS\nNote 1 — Summary of Significant Accounting "
        "Policies\n" + "Revenue is recognised when control passes. " * 20,
        "Note 12 — Segment Information\nWe report two segments. " * 10,
        "The anvil segment earned $3 million. " * 20,  # a note page with no header: the notes go on
        "SIGNATURES\nPursuant to the requirements of the Securities Exchange Act of 1934 ...\n",
        "Exhibit 31.1\nCERTIFICATION\nI, Jane Doe, certify that ...\n",
    ]


def test_every_kind_on_a_small_filing():
    kinds = classify_pages(_filing())
    assert kinds == [
        "other", "other", "other", "risk_factors", "risk_factors", "legal_proceedings", "mda", "mda", "other",
        "income_statement", "balance_sheet", "cash_flow", "note", "note", "note", "exhibits", "exhibits",
    ]
    assert set(kinds) <= set(PAGE_KINDS)


def test_ten_q_titles_decide_not_item_numbers_and_running_headers_use_the_filings_numbers():
    ten_q = [
        "TABLE OF CONTENTS\nPart I\nItem 1. Financial Statements 3\nItem 2. Management's Discussion and Analysis 9\n"
        "Part II\nItem 1. Legal Proceedings 20\nItem 1A. Risk Factors 20\nItem 6. Exhibits 21\n",
        f"Item 1. Financial Statements\nACME CORP.\nCONDENSED CONSOLIDATED BALANCE SHEETS\n{FIGURES}",
        "Item 2. Management's Discussion and Analysis of Financial Condition and Results of Operations\n"
        + "Sales fell. " * 40,
        "PART II\nItem 1. Legal Proceedings\n" + "See Note 9. " * 40,
        "Item 1A. Risk Factors\n" + "There were no material changes. " * 30,
    ]
    assert classify_pages(ten_q) == ["other", "balance_sheet", "mda", "legal_proceedings", "risk_factors"]
    # A bare running header ("PART I / Item 1A") on every page of a section, as some filers print it.
    running = [
        "INDEX\nItem 1. Business 3\nItem 1A. Risk Factors 5\nItem 7. Management's Discussion and Analysis 9\n",
        "PART I\nItem 1A\nIf we fail to innovate, our revenue may fall. " + "More risk. " * 30,
        "PART II\nItem 7\nRevenue increased 12%. " + "More discussion. " * 30,
    ]
    assert classify_pages(running) == ["other", "risk_factors", "mda"]


def test_cross_references_are_not_headings():
    pages = [
        "Item 7. Management's Discussion and Analysis\n" + "Sales grew. " * 20,
        "Item 8 of Part II, “Financial Statements and Supplementary Data — Note 4” describes it.\n"
        "Note 6—Acquisitions and Divestitures in the Notes to Consolidated Financial Statements describes "
        "the sale of our New York subsidiary and the purchase of two water systems in Pennsylvania.\n"
        + "Margins rose. " * 20,
    ]
    assert classify_pages(pages) == ["mda", "mda"]


def test_kinds_a_question_names_by_title():
    assert kinds_named("Using the line items in the balance sheet and the P&L statement, what is DPO?") == [
        "income_statement", "balance_sheet"]
    assert kinds_named("Based on the statement of financial position and the statement of income") == [
        "income_statement", "balance_sheet"]
    assert kinds_named("According to the statement of cash flows, what was capex?") == ["cash_flow"]
    assert kinds_named("What does the MD&A say about margins? Any new risk factors?") == ["mda", "risk_factors"]
    assert kinds_named("What was the company's revenue in 2022?") == []


def test_kinds_a_measure_implies_when_no_statement_is_named():
    assert kinds_implied("Does the company have positive working capital at year end?") == ["balance_sheet"]
    assert kinds_implied("Is its quick ratio healthy?") == ["balance_sheet"]
    assert kinds_implied("How did the gross margin move over three years?") == ["income_statement"]
    assert kinds_implied("What was the FY2022 inventory turnover?") == ["income_statement", "balance_sheet"]
    assert kinds_implied("What is the EBITDA margin?") == ["income_statement", "cash_flow"]
    assert kinds_implied("Which of operating, investing and financing activities used the most cash?") == [
        "cash_flow"]
    assert kinds_implied("What drove the change in operating margin?") == ["mda"]
    assert kinds_implied("Has it reported any material ongoing legal battles?") == ["note", "legal_proceedings"]
    assert kinds_implied("Who are the company's primary customers?") == []
    assert kinds_implied("What was the company's revenue in 2022?") == []  # revenue is also split by segment
    # a statement named by title wins over the kinds a measure implies
    assert kinds_wanted("From the cash flow statement, what was free cash flow?") == ["cash_flow"]
    assert kinds_wanted("Using the balance sheet, what is inventory turnover?") == ["balance_sheet"]
    assert kinds_wanted("What is the current ratio?") == ["balance_sheet"]


def test_parse_kinds():
    assert parse_kinds("balance_sheet, cash_flow") == ["balance_sheet", "cash_flow"]
    assert parse_kinds(["note"]) == ["note"]
    with pytest.raises(UserError, match="page kind"):
        parse_kinds("balance")


# -- the example corpus (real pages) --------------------------------------------------------------
EXPECTED_EXAMPLE_KINDS = {
    (H24, 1): "other",  # cover page
    (H24, 2): "other",  # table of contents
    (H24, 4): "risk_factors",
    (H24, 6): "mda", (H24, 7): "mda", (H24, 8): "mda", (H24, 9): "mda",
    (H24, 10): "income_statement", (H24, 11): "balance_sheet", (H24, 12): "cash_flow",
    (H24, 13): "note", (H24, 14): "note",
    (H23, 3): "mda", (H23, 4): "income_statement", (H23, 5): "balance_sheet",
    (QUARRY, 1): "other",
}


def test_kinds_of_the_example_corpus_pages(example_index):
    store = DocStore.open(example_index)
    try:
        assert store.page_kinds(EXPECTED_EXAMPLE_KINDS) == EXPECTED_EXAMPLE_KINDS
    finally:
        store.close()


def test_kind_filter_and_unknown_kind(example_index):
    retriever = Retriever.open(example_index)
    try:
        hits = retriever.search("total assets and liabilities", k=5, filters={"kind": "balance_sheet"})
        assert hits and {(h.doc_id, h.page) for h in hits} <= {(H24, 11), (H23, 5)}
        both = retriever.search("revenue", k=10, filters={"kind": ["income_statement", "cash_flow"],
                                                          "doc_id": H24})
        assert {(h.doc_id, h.page) for h in both} == {(H24, 10), (H24, 12)}
        with pytest.raises(UserError, match="page kind"):
            retriever.search("revenue", filters={"kind": "balance"})
    finally:
        retriever.close()


def test_the_kind_list_lifts_pages_of_the_kind_a_question_names(example_index):
    """A page of the kind the question names by title moves up, and the explanation says so."""
    from rag.explain import search_explained

    retriever = Retriever.open(example_index)
    try:
        q = "Halvorsen Tidewater goodwill impairment in 2024 as described in the MD&A"
        retriever.kind_weight = 0.0
        plain = search_explained(retriever, q, k=5)
        assert all(c.list != "kind" for h in plain for c in h.why.components)
        assert plain[0].why.page_kind != "mda"  # the note on the impairment comes first on its own
        retriever.kind_weight = 1.0
        lifted = search_explained(retriever, q, k=5)
        assert lifted[0].why.page_kind == "mda" and lifted[0].hit.doc_id == H24
        assert any(c.list == "kind" and c.rank == 1 for c in lifted[0].why.components)
    finally:
        retriever.close()


def test_the_kind_list_lifts_the_statement_a_measure_is_read_from(example_index):
    """A question that names no statement but a measure of one lifts that statement's pages."""
    from rag.explain import search_explained

    retriever = Retriever.open(example_index)
    cases = {"Is Halvorsen Tidewater's quick ratio healthy in 2024?": "balance_sheet",
             "How did Halvorsen Tidewater's gross margin move in 2024?": "income_statement",
             "What drove Halvorsen Tidewater's revenue change in 2024?": "mda"}
    try:
        for q, kind in cases.items():
            retriever.kind_weight = 0.0
            assert search_explained(retriever, q, k=5)[0].why.page_kind != kind  # first on words alone
            retriever.kind_weight = 1.0
            hits = search_explained(retriever, q, k=5)
            assert hits[0].why.page_kind == kind, q
            assert any(c.list == "kind" for c in hits[0].why.components)
    finally:
        retriever.close()


def test_a_schema_1_store_is_upgraded_in_place(example_index, tmp_path):
    """An index built before page kinds gets them, filer names and re-read metadata on first open,
    nothing re-embedded."""
    index = tmp_path / "old"
    shutil.copytree(example_index, index)
    conn = sqlite3.connect(index / "store.sqlite")
    conn.execute("ALTER TABLE pages DROP COLUMN kind")
    conn.execute("DROP TABLE names")
    conn.execute("UPDATE meta SET value = '1' WHERE key = 'schema_version'")
    conn.execute("DELETE FROM meta WHERE key = 'derived_version'")
    conn.execute("UPDATE documents SET metadata = '{}'")  # metadata read by older rules: re-read from the pages
    conn.commit()
    generation = conn.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()[0]
    conn.close()
    store = DocStore.open(index)
    try:
        assert store.get_meta("schema_version") == "2"
        assert store.get_meta("generation") == generation  # the faiss / BM25 caches stay valid
        assert store.page_kinds(EXPECTED_EXAMPLE_KINDS) == EXPECTED_EXAMPLE_KINDS
        assert any(n.name == "HTWL" for n in store.names()[H24])
        assert store.document(H24).metadata.company == "HALVORSEN TIDEWATER LOGISTICS, INC."
        assert store.get_meta("derived_version") == str(DERIVED_VERSION)
    finally:
        store.close()
    conn = sqlite3.connect(index / "store.sqlite")
    conn.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    conn.commit()
    conn.close()
    with pytest.raises(UserError, match="newer"):
        DocStore.open(index)
