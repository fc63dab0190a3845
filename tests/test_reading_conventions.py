"""Reading conventions of filings that are not company-specific: a one-cell-per-line table (PDF
text) labels each figure by the row label above it; a company's legal name extends the short name
its documents are filed under. Pages here are written for these tests."""

from __future__ import annotations

from cai.core.contracts import SourcePage, Verdict
from rewards.agreement import Known
from rewards.entities import unknown_entities
from rewards.premises import prepare_page

# A cash-flow statement as PDF text extraction writes it: the label, then one value per line.
CASH_FLOW = SourcePage(doc_id="MERIDIAN_2024_10K", page=61, text=(
    "Consolidated Statements of Cash Flows\n(in millions)\n2024\n2023\n2022\n"
    "Purchases of available-for-sale investments\n(65) \n(209) \n(135)\n"
    "Capital expenditures\n(116) \n(131) \n(155)\n"
    "Other investing activities\n6\n \n(6) \n3\n"
    "NET INCOME ATTRIBUTABLE TO SHAREOWNERS OF\n THE MERIDIAN COMPANY\n$\n1,248\n $\n6,527\n"
))


def _label(page: SourcePage, figure: str) -> str:
    prepared = prepare_page(page)
    labels = zip(prepared.quantities, prepared.labels, strict=True)
    return next(label for q, label in labels if q.text.split()[-1] == figure)


def test_a_figure_alone_on_its_line_is_labelled_by_the_row_label_above():
    assert _label(CASH_FLOW, "(155)").startswith("capital expenditures")
    assert "other investing" not in _label(CASH_FLOW, "(155)")  # the next row's label is not its own
    # A label wrapped over two lines is read whole; a dated header line above it is not part of it.
    assert _label(CASH_FLOW, "1,248").startswith("net income attributable to shareowners of")
    assert "2022" not in _label(CASH_FLOW, "(65)")


def test_a_pdf_table_figure_supports_a_claim_that_names_its_row(checker):
    question = "What were Meridian's capital expenditures in 2022?"
    verdicts = checker.check(question, "Capital expenditures were $155 million in 2022.", [CASH_FLOW])
    assert verdicts[0].verdict == Verdict.supported, verdicts[0].reason
    # The same number is not "other investing activities".
    verdicts = checker.check(question, "Other investing activities were $155 million in 2022.", [CASH_FLOW])
    assert verdicts[0].verdict == Verdict.unsupported


def _unknown(claim: str, question: str, page: SourcePage) -> list[str]:
    return [e.text for e in unknown_entities(claim, Known.build(question, claim, [page]).names)]


def test_a_legal_name_that_extends_the_filer_name_is_the_filer():
    page = SourcePage(doc_id="JPMORGAN_2024Q2_10Q", page=18, text="Total net revenue by segment ... 4,077")
    question = "Which of JPM's segments had the highest net revenue?"
    assert _unknown("JPMorgan Chase & Co. reported the highest revenue in CIB.", question, page) == []
    # Another company is still unknown, however its name is written.
    assert _unknown("Goldman Sachs reported the highest revenue.", question, page) == ["Goldman Sachs"]
