"""Reading conventions of filings that are not company-specific: a one-cell-per-line table (PDF
text) labels each figure by the row label above it; a company's legal name extends the short name
its documents are filed under. Pages here are written for these tests."""

from __future__ import annotations

import re

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


def test_html_table_rows_are_consecutive_lines_so_columns_keep_their_header():
    from rag.html_text import html_to_text

    text = html_to_text("<p>Statements of operations</p><table>\n<tr><td>(in millions)</td><td>2024</td><td>2023</td>"
                        "</tr>\n <tr><td>Net income</td><td>$150.2</td><td>$121.3</td></tr>\n"
                        "<tr><td>Diluted earnings per share</td><td>$2.42</td><td>$1.96</td></tr></table><p>Next</p>")
    assert "(in millions) | 2024 | 2023\nNet income | $150.2 | $121.3\nDiluted earnings" in text
    assert re.search(r"Statements of operations\n[ \t]*\n[ \t]*\n?\(in millions\)", text)  # still its own block


def test_a_level_after_a_change_is_read_off_the_sources_not_computed(checker):
    page = SourcePage(doc_id="meridian-2024-10k", page=8, text=(
        "Port Services: revenue increased 10.1% to $336.5 million. Segment operating income decreased to "
        "$38.2 million from $47.9 million.\n\nWarehousing: segment operating income was $96.5 million."))
    question = "How did Meridian's Port Services segment perform in 2024?"
    # 58.3 = 96.5 - 38.2, but "increased to" names a level, not the difference of two segments.
    verdicts = checker.check(question, "Segment operating income increased to $58.3 million.", [page])
    assert verdicts[0].verdict == Verdict.unsupported
    assert checker.check(question, "Segment operating income decreased to $38.2 million.", [page])[0].verdict \
        == Verdict.supported


def test_a_month_and_day_must_be_the_asked_companys():
    ostrander = SourcePage(doc_id="ostrander-quarry-2024-annual-report", page=1,
                           text="Our fiscal year ends on September 30; net income was $84.9 million.")
    peer = SourcePage(doc_id="halvorsen-tidewater-2024-10k", page=10,
                      text="For the fiscal year ended December 31, 2024, revenue was $2,387.5 million.")
    from rewards.checker import get_checker

    checker = get_checker("offline")
    question = "When does Ostrander's fiscal year end?"
    wrong = checker.check(question, "Ostrander's fiscal year ends on December 31.", [ostrander, peer])
    assert wrong[0].verdict == Verdict.unsupported and "December 31" in wrong[0].reason
    right = checker.check(question, "Ostrander's fiscal year ends on September 30.", [ostrander, peer])
    assert "date not in sources" not in (right[0].reason or "")


def test_a_basis_applies_to_the_clause_that_states_it(checker):
    page = SourcePage(doc_id="meridian-2025-investor-day", page=1, text=(
        "2027 targets:\n- Revenue of $3.0 billion to $3.2 billion in 2027.\n"
        "- Adjusted EBITDA margin of 16% to 17% in 2027 (non-GAAP).\n"
        "- Capital expenditures of approximately $450 million from 2025 through 2027."))
    question = "What 2027 targets did Meridian present?"
    answer = ("Meridian presented 2027 targets: revenue of $3.0 billion to $3.2 billion, an adjusted EBITDA margin "
              "of 16% to 17% (non-GAAP), and capital expenditures of approximately $450 million.")
    verdicts = checker.check(question, answer, [page])
    assert all(v.verdict == Verdict.supported for v in verdicts), [(v.text, v.reason) for v in verdicts]
    # A GAAP figure still may not stand for an adjusted one in its own clause.
    page2 = SourcePage(doc_id="meridian-2024-10k", page=9, text="Operating margin was 12.0%. Adjusted operating "
                       "margin was 14.5%.")
    verdicts = checker.check("What was Meridian's margin?", "Revenue grew 4%, and adjusted operating margin was 12.0%.",
                             [page2])
    assert any(v.verdict == Verdict.unsupported for v in verdicts)


STATEMENTS = SourcePage(doc_id="meridian-2024-10k", page=50, text=(
    "(in millions) | 2024 | 2023\n"
    "Net sales | $65,398 | $59,812\n"
    "Net earnings | $6,833 | $6,230\n"
    "Total assets | $50,710 | $47,528\n"))


def test_a_named_ratio_is_computed_as_defined_not_from_any_two_figures(checker):
    question = "What was Meridian's asset turnover in 2024?"
    # 65,398 / average(50,710, 47,528) = 1.33: revenue over average total assets.
    assert checker.check(question, "Asset turnover in 2024 was 1.33.", [STATEMENTS])[0].verdict == Verdict.supported
    # 6,833 / 47,528 = 0.14: two figures of the page, but net earnings are not the ratio's numerator.
    verdicts = checker.check(question, "Asset turnover in 2024 was 0.14.", [STATEMENTS])
    assert verdicts[0].verdict == Verdict.unsupported, verdicts[0].reason
    # A bare answer takes the ratio its question names.
    assert checker.check(question, "1.33", [STATEMENTS])[0].verdict == Verdict.supported
    assert checker.check(question, "0.14", [STATEMENTS])[0].verdict == Verdict.unsupported


def test_a_named_ratio_whose_rows_are_not_on_the_pages_is_derived_only_from_the_answers_working(checker):
    question = "What was Meridian's asset turnover in 2024?"
    balance_sheet = SourcePage(doc_id="meridian-2024-10k", page=52, text=(
        "(in millions) | 2024 | 2023\n"
        "Other non-operating income (expense), net | (828) | 714\n"
        "Earnings before income taxes | 5,838 | 5,614\n"
        "Total assets | $50,710 | $47,528\n"))
    # 828 / 5,838 = 0.14, two figures of rows the claim's words name, but no revenue row is on the
    # page: the quotient of two page figures is not the ratio.
    claim = ("From the statement of earnings, revenue is net sales plus other income, and asset turnover "
             "= revenue / average total assets = 0.14.")
    verdicts = checker.check(question, claim, [balance_sheet])
    assert verdicts[0].verdict == Verdict.unsupported, verdicts[0].reason
    # The answer's own working still derives it: net sales (read from prose, not a row) over average assets.
    release = SourcePage(doc_id="meridian-2024-10k", page=30, text="Net sales were $65,398 million in 2024.")
    worked = ("Net sales were $65,398 million in 2024. Average total assets were $49,119 million. "
              "Asset turnover in 2024 was 1.33.")
    verdicts = checker.check(question, worked, [balance_sheet, release])
    assert [v.verdict for v in verdicts] == [Verdict.supported] * 3, [v.reason for v in verdicts]


def test_a_leading_basis_applies_to_every_clause_and_a_target_is_not_a_certainty(checker):
    page = SourcePage(doc_id="meridian-2025-investor-day", page=1, text=(
        "Adjusted EBITDA, a non-GAAP measure, was $349.0 million in 2024, or 14.6% of revenue.\n\n"
        "2027 targets\n\n- Revenue of $3.0 billion to $3.2 billion in 2027."))
    gaap = "On a GAAP basis, Meridian earned $349.0 million in 2024, a 14.6% margin."
    assert checker.check("How profitable was Meridian in 2024 on a GAAP basis?", gaap, [page])[0].verdict \
        == Verdict.unsupported  # an adjusted figure is not the GAAP one, whichever clause it sits in
    question = "Will Meridian reach $3 billion in revenue?"
    certain = checker.check(question, "Meridian will reach $3.0 billion to $3.2 billion of revenue in 2027.", [page])
    assert certain[0].verdict == Verdict.unsupported and "target or expectation" in certain[0].reason
    hedged = checker.check(question, "Meridian targets revenue of $3.0 billion to $3.2 billion in 2027.", [page])
    assert hedged[0].verdict == Verdict.supported, hedged[0].reason


def test_a_segment_figure_listed_under_the_segments_heading_is_that_segments(checker):
    segments = SourcePage(doc_id="AMD_2022_10K", page=47, text=(
        "Year Ended\nDecember 31,\n2022\nDecember 25,\n2021\n(In millions)\nNet revenue:\nData Center\n$\n6,043 \n$\n"
        "3,694 \nClient\n6,201 \n6,887 \nGaming\n6,805 \n5,607 \nTotal net revenue\n$\n23,601 \n$\n16,434 \n"))
    question = "From FY21 to FY22, in which AMD reporting segment did sales increase the most?"
    listed = "Client:\nFY21 Revenue: $6,887 million\nFY22 Revenue: $6,201 million"
    assert [v.verdict for v in checker.check(question, listed, [segments])] == [Verdict.supported] * 2
    # Without the heading the line does not say whose revenue it is: the Client row does not support it.
    assert checker.check(question, "FY21 Revenue: $6,887 million", [segments])[0].verdict == Verdict.unsupported
    # A heading names a row; it does not make another segment's figure this one's.
    assert checker.check(question, "Gaming:\nFY21 Revenue: $6,887 million", [segments])[0].verdict == (
        Verdict.unsupported)


def test_a_pronoun_claim_is_about_the_name_before_it(checker):
    votes = SourcePage(doc_id="FOOTLOCKER_2022_8K", page=1, text=(
        "Votes against each nominee:\nAlan D. Feldman\n \n54,760,830\n5,184,437\n"
        " \n10,721,716\n \n6,884,223\nRichard A. Johnson\n \n54,484,293\n16,105,005\n \n77,685\n \n6,884,223\n"
        "Dona D. Young\n \n53,876,257\n6,074,467\n \n10,716,259\n \n6,884,223\n"))
    question = "Were there any board member nominees who had substantially more votes against than the others?"
    # Alone, "he" names nobody, and the row of 16,105,005 is a person's.
    assert checker.check(question, "He received 16,105,005 votes against.", [votes])[0].verdict == Verdict.unsupported
    answer = "Richard A. Johnson had substantially more votes against. He received 16,105,005 votes against."
    assert [v.verdict for v in checker.check(question, answer, [votes])] == [Verdict.supported] * 2
    # The name a pronoun stands for is not every name's row: Young's figure is not Johnson's.
    wrong = "Richard A. Johnson had substantially more votes against. He received 6,074,467 votes against."
    assert checker.check(question, wrong, [votes])[-1].verdict == Verdict.unsupported


def test_a_non_prefixed_row_is_the_complement_of_the_claims_measure(checker):
    balance = SourcePage(doc_id="ACME_2024_10K", page=5, text=(
        "(in millions) | 2024 | 2023\nTotal current assets | 4,100 | 3,900\nNoncurrent assets | 9,800 | 9,200\n"
        "Non-current liabilities | 7,700 | 7,100\nTotal assets | 13,900 | 13,100\n"))
    question = "What were Acme's current assets in 2024?"
    check = lambda answer: checker.check(question, answer, [balance])[0].verdict  # noqa: E731
    assert check("Total current assets were $4,100 million in 2024.") == Verdict.supported
    assert check("Total current assets were $9,800 million in 2024.") == Verdict.unsupported
    assert check("Noncurrent assets were $9,800 million in 2024.") == Verdict.supported
    assert check("Current liabilities were $7,700 million in 2024.") == Verdict.unsupported


def test_a_lead_ins_words_do_not_name_the_lines_listed_under_it(checker):
    page = SourcePage(doc_id="ACME_2024_10K", page=40, text="Net income was $84.9 million in 2024.")
    answer = "Here are the figures from the consolidated income statement:\n- Revenue: $84.9 million"
    assert checker.check("What was Acme's revenue in 2024?", answer, [page])[-1].verdict == Verdict.unsupported
