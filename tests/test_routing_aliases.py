"""Routing by the names people use for a filer (rag/names.py, rag/routing.py): tickers, initialisms,
short names, the name a filing defines for itself, the trading symbol; a wrong route only demotes;
and `cai search --json` saying why each hit ranked."""

from __future__ import annotations

import json

from click.testing import CliRunner

from cai.cli import cli
from cai.core.contracts import Document, DocumentMetadata
from rag.explain import search_explained
from rag.metadata import read_metadata
from rag.names import FilerName, initialism, text_names
from rag.retrieve import Retriever
from rag.routing import route_query

H23, H24 = "halvorsen-tidewater-2023-10k", "halvorsen-tidewater-2024-10k"
QUARRY = "ostrander-quarry-2024-annual-report"


def doc(doc_id, company, year=2022, ticker=None) -> Document:
    meta = DocumentMetadata(company=company, fiscal_year=year, form="10-K", ticker=ticker)
    return Document(doc_id=doc_id, path=f"/x/{doc_id}.pdf", sha256="0" * 64, n_pages=1, metadata=meta)


DOCS = [
    doc("amd", "ADVANCED MICRO DEVICES, INC."),
    doc("ba", "The Boeing Company"),
    doc("jpm", "JPMorgan Chase & Co.", ticker="JPM"),
    doc("amzn", "AMAZON.COM, INC."),
    doc("aww", "American Water Works Company, Inc."),
    doc("ko", "The Coca-Cola Company"),
]


def test_names_a_filing_gives_itself():
    pages = [
        "The Boeing Company, together with its subsidiaries (“Boeing” or the “Company”), designs airplanes.",
        "Unless otherwise indicated, references to “AMD,” “we,” “us,” “our” or the “Company” mean Advanced "
        "Micro Devices, Inc. and its subsidiaries.",
        "Our common stock is traded on the Nasdaq Global Select Market under the symbol “AMZN.”",
        "On May 1 we signed a merger agreement (the “Merger Agreement”) with Widget Holdings (“Widget”).",
    ]
    found = {(n.name, n.source) for n in text_names(pages)}
    assert ("Boeing", "defined name") in found and ("AMD", "defined name") in found
    assert ("AMZN", "trading symbol") in found
    assert not any(name in ("Merger Agreement", "Widget", "Company", "we") for name, _ in found)


def test_initialisms_need_three_words():
    assert initialism("Advanced Micro Devices, Inc.") == "AMD"
    assert initialism("American Water Works Company, Inc.") == "AWW"
    assert initialism("General Mills, Inc.") is None  # two words: "GM" would be ambiguous


def test_routes_by_ticker_initialism_defined_name_and_trading_symbol():
    names = {"ba": [FilerName("Boeing", "defined name")], "amzn": [FilerName("AMZN", "trading symbol")]}
    cases = {
        "Which of JPM's business segments had the lowest net revenue?": ("jpm", "ticker"),
        "Does AMD have a reasonably healthy liquidity profile in FY22?": ("amd", "initialism"),
        "Is Boeing's business subject to cyclicality?": ("ba", "company name"),
        "What was AMZN's operating cash flow in FY2022?": ("amzn", "trading symbol"),
        "What is Coca Cola's FY2022 dividend payout ratio?": ("ko", "company name"),
        "Did American Water Works pay more dividends in FY2022?": ("aww", "company name"),
    }
    for question, (doc_id, source) in cases.items():
        route = route_query(question, DOCS, names)
        assert route.doc_ids == [doc_id], question
        assert route.matched[doc_id].source == source, question
        assert source in route.reason
    # Only the defined name: a filing registered under a name the question does not use.
    renamed = [doc("sq", "Square, Inc."), doc("other", "Blockade Partners LLC")]
    route = route_query("What is Block's FY2020 revenue growth?", renamed, {"sq": [FilerName("Block", "defined name")]})
    assert route.doc_ids == ["sq"] and route.matched["sq"].source == "defined name"


def test_registrant_names_from_covers_as_pdfs_extract_them():
    """The company name routing starts from: after horizontal rules, one word per line, or (cover name
    an image) from the signature block's "(Registrant)"."""
    ruled = ("FORM 10-K\n☐ TRANSITION REPORT PURSUANT TO SECTION 13 OR 15(d)\nFor the transition period from __ to __\n"
             "Commission File Number 001-37622 ______________________ SQUARE, INC.\n"
             "(Exact name of registrant as specified in its charter) ______ Delaware 80-0429876\n")
    assert read_metadata([ruled], "x").company == "SQUARE, INC."
    one_word = "FORM\n10-K\nCommission\nFile\nNumber\n001-37622\nSQUARE,\nINC.\n(Exact\nname\nof\nregistrant\nas\n"
    assert read_metadata([one_word], "x").company == "SQUARE, INC."
    image = ("FORM 10-K\nFor the transition period from to\nCommission File Number 001-02217\n"
             "(Exact name of Registrant as specified in its charter)\nDelaware\n")
    signatures = ("SIGNATURES\nPursuant to the requirements of Section 13 or 15(d) of the Securities Exchange Act of "
                  "1934, the Registrant has duly caused this report to be signed.\n"
                  "THE COCA-COLA COMPANY\n(Registrant)\nBy: /s/ JANE DOE\n")
    assert read_metadata([image, "Business.", signatures], "COCACOLA_2017_10K").company == "THE COCA-COLA COMPANY"
    names = [doc("ko", "THE COCA-COLA COMPANY", 2017), doc("x", "Commission File Number 001-02217", 2017)]
    assert route_query("What is the FY2017 return on assets (ROA) for Coca Cola?", names).doc_ids == ["ko"]


def test_names_in_capitals_are_not_matched_in_lower_case():
    assert route_query("Which amd drivers are in the jpm report?", DOCS).doc_ids == []
    # A defined single-word name counts as a proper noun only.
    names = {"ba": [FilerName("Boeing", "defined name")]}
    assert route_query("How many boeing-like jets? the best answer", DOCS[:1], names).doc_ids == []


def test_a_wrong_route_only_demotes(example_index):
    """Named by another filer's ticker, the question is routed away from the filing that answers it;
    that filing still comes up, below the routed one."""
    retriever = Retriever.open(example_index)
    try:
        q = "OQAG freight forwarding warehouses and marine terminals in Tacoma"
        plan = retriever.route(q)
        assert plan.doc_ids == [QUARRY] and plan.matched[QUARRY].describe() == "ticker 'OQAG'"
        hits = search_explained(retriever, q, k=10)
        assert hits[0].hit.doc_id == QUARRY and hits[0].why.route.routed
        others = [h for h in hits if h.hit.doc_id in (H23, H24)]
        assert others and all(not h.why.route.routed for h in others)
        assert all(not c.scope == "routed" for h in others for c in h.why.components)
    finally:
        retriever.close()


def test_search_json_says_why_each_hit_ranked(example_index):
    result = CliRunner().invoke(cli, ["search", "--index", str(example_index), "-k", "3", "--json",
                                      "What was HTWL's total revenue in fiscal 2023?"])
    assert result.exit_code == 0, result.output
    hits = json.loads(result.output)
    top = hits[0]
    assert top["doc_id"] == H23 and top["page"] in (3, 4)  # MD&A or the statement of operations
    why = top["why"]
    assert why["route"] == {"routed": True, "matched_name": "ticker 'HTWL'", "confidence": "period",
                            "reason": why["route"]["reason"]}
    assert why["page_kind"] == {3: "mda", 4: "income_statement"}[top["page"]]
    assert why["dense_rank"] >= 1 and why["bm25_rank"] >= 1
    parts = why["components"]
    assert {(c["list"], c["scope"]) for c in parts} <= {("dense", "routed"), ("bm25", "routed"), ("dense", "all"),
                                                          ("bm25", "all")}
    assert abs(sum(c["rrf"] for c in parts) - why["rrf_score"]) < 1e-9
    assert abs(top["score"] - why["rrf_score"]) < 1e-9
    assert all(c["rrf"] == c["weight"] / (60 + c["rank"]) for c in parts)
    # The text output carries the same explanation.
    text = CliRunner().invoke(cli, ["search", "--index", str(example_index), "-k", "1",
                                    "--filter", "kind=balance_sheet", "HTWL total assets 2024"])
    assert text.exit_code == 0, text.output
    # The FY2024 10-K's cover has no trading-symbol table; Item 5 gives it ("under the symbol HTWL").
    assert "why: routed (trading symbol 'HTWL'); balance_sheet; dense@route #" in text.output
