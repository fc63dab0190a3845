"""Claims read in the context of their question and their filing (`rewards.question_context`,
`rewards.periods.cell_periods`). Every page here is written for these tests: general reading
conventions of financial tables and reports, not rows of any data set."""

from __future__ import annotations

import pytest

from cai.core.contracts import SourcePage, Verdict
from rewards.numbers import extract_quantities
from rewards.periods import column_periods, extract_periods


def _columns(text: str) -> dict[str, str | None]:
    """Each figure of `text` (as written) -> the text of the period heading its column."""
    assigned = column_periods(text)
    return {q.text: (assigned[q.start].text if q.start in assigned else None) for q in extract_quantities(text)}


def test_cells_line_up_with_a_header_that_has_footnotes_and_percentages():
    text = (" | 2024 (1) | 2023 | 2022 (2)\n"
            "Widget revenue (3) | $410.5 | $388.1 | $351.0\n"
            "Effective tax rate | 14.0% | 19.5% | (12.5)%\n")
    found = _columns(text)
    assert found["$410.5"] == "2024" and found["$388.1"] == "2023" and found["$351.0"] == "2022"
    assert found["14.0%"] == "2024" and found["19.5%"] == "2023" and found["(12.5)%"] == "2022"


def test_a_spanning_period_heads_its_sub_columns_and_a_change_column_heads_none():
    text = (" | Fiscal Year 2024 |  | Fiscal Year 2023\n"
            " | Net Sales | % of Total | Net Sales | % of Total\n"
            "North | $512,044 | 41.0% | $300,120 | 37.5%\n"
            "Total | $ 1,248,800 |  | $ 800,320\n"
            "\n"
            "REVENUES | Q3 2024 | Q3 2023 | $ CHANGE | % CHANGE\n"
            "Devices | 1,710 | 1,642 | 68 | 4.1%\n")
    found = _columns(text)
    assert found["$512,044"] == found["41.0%"] == found["$ 1,248,800"] == "Fiscal Year 2024"
    assert found["$300,120"] == found["37.5%"] == found["$ 800,320"] == "Fiscal Year 2023"
    assert found["1,710"] == "Q3 2024" and found["1,642"] == "Q3 2023"
    assert found["68"] is None and found["4.1%"] is None


def test_a_short_row_keeps_its_leading_cells_and_a_label_footnote_is_not_a_value():
    text = (" | 2023 | 2024 | 2023 | 2024\n"
            "Legal reserve | $612,100 | $701,450\n"
            "Total debt(2) | $ 2,114.9 | $ 2,390.4\n"
            "Opening balance – IAS 39 |  | 41,220\n")
    found = _columns(text)
    assert found["$612,100"] == "2023" and found["$701,450"] == "2024"
    assert found["$ 2,114.9"] == "2023" and found["$ 2,390.4"] == "2024"
    assert found["41,220"] == "2024"


def test_a_renderer_that_drops_empty_cells_is_trusted_only_when_the_counts_agree():
    text = ("2024 | 2023\n"  # the empty corner cell was dropped, as `rag.html_text` writes rows
            "Net revenue | $ 9,120 | $ 8,455\n"
            "Other income | 12\n")  # one value under two columns: which one is unknown
    found = _columns(text)
    assert found["$ 9,120"] == "2024" and found["$ 8,455"] == "2023"
    assert found["12"] is None


def test_day_first_dates_are_periods():
    periods = extract_periods("as at 30 June 2024 and 31 December 2023")
    assert [(p.kind, p.year, p.month, p.day) for p in periods] == [("date", 2024, 6, 30), ("date", 2023, 12, 31)]


TABLE = SourcePage(doc_id="gizmo-2024-annual-report", page=12, text=(
    " |  | Years Ended December 31,\n"
    " | 2024 | 2023 | 2022\n"
    "Service revenue (1) | $8,204 | $7,331 | $6,912\n"
    "Effective income tax rate | 17.2% | 21.9% | 24.4%\n"
    "Share of revenue | 61.5% | 58.8% | 58.8%\n"
    "\n"
    "(1) Includes maintenance contracts.\n"
    "\n"
    "The effective income tax rate for 2024 was 17.2% compared to 21.9% for 2023."
))


@pytest.mark.parametrize(("question", "answer", "expected"), [
    ("What was service revenue in 2024?", "$8,204 thousand", Verdict.supported),
    ("What was service revenue in 2024?", "$7,331 thousand", Verdict.unsupported),  # the 2023 column
    ("What was service revenue in 2022?", "$6,912 thousand", Verdict.supported),
    # A percentage row has columns too, and the prose restating it says which year each figure is.
    ("What was the effective tax rate in 2023?", "21.9%", Verdict.supported),
    ("What was the effective tax rate in 2024?", "21.9%", Verdict.unsupported),
    ("What was the effective tax rate in 2023?", "17.2%", Verdict.unsupported),
    # The row states 2024's share (61.5%): the 2023/2022 value is not derived into a 2024 figure.
    ("What was the share of revenue in 2024?", "58.8%", Verdict.unsupported),
])
def test_a_bare_answer_is_the_value_of_the_question_period_column(checker, question, answer, expected):
    verdicts = checker.check(question, answer, [TABLE])
    assert verdicts and all(v.verdict == expected for v in verdicts), [(v.text, v.verdict, v.reason) for v in verdicts]


def test_a_prose_comparative_in_parentheses_belongs_to_its_own_year(checker):
    page = SourcePage(doc_id="harbour-2024-annual-report", page=88, text=(
        "Guarantees\n\nThe parent entity has provided financial guarantees in respect of office leases "
        "amounting to US$412,730 (2023: US$398,115)."))
    question = "What is the amount of financial guarantees in respect of office leases in 2024?"
    assert checker.check(question, "US$412,730", [page])[0].verdict == Verdict.supported
    assert checker.check(question, "US$398,115", [page])[0].verdict == Verdict.unsupported


def test_a_calendar_year_takes_the_column_headed_by_that_year(checker):
    page = SourcePage(doc_id="acme-fy2024-10k", page=70, text=(
        "(in millions) | January 31, 2024 | January 31, 2023\n"
        "Goodwill, end of the year | $3,120.4 | $2,877.9\n"))
    question = "What was goodwill at the end of 2023?"
    assert checker.check(question, "$2,877.9 million", [page])[0].verdict == Verdict.supported
    # January 31, 2024 may end fiscal 2023, but the table has a column headed 2023 itself.
    assert checker.check(question, "$3,120.4 million", [page])[0].verdict == Verdict.unsupported
    # A fiscal reading is still allowed when no column carries the year itself.
    assert checker.check("What was goodwill at the end of 2024?", "$3,120.4 million", [page])[0].verdict \
        == Verdict.supported


def test_a_bare_answer_measures_what_the_question_asks(checker):
    page = SourcePage(doc_id="acme-2024-10k", page=33, text=(
        "(in thousands) | 2024\n"
        "Research and development | 4,410\n"
        "Marketing | 2,950\n"))
    question = "What were marketing expenses in 2024?"
    assert checker.check(question, "2,950 thousand", [page])[0].verdict == Verdict.supported
    # The right year and a number of the page, but the number of another row.
    assert checker.check(question, "4,410 thousand", [page])[0].verdict == Verdict.unsupported


def test_a_total_row_without_a_label_is_not_labelled_by_the_row_above(checker):
    page = SourcePage(doc_id="acme-2024-10k", page=34, text=(
        " | 2024 | 2023\n"
        "Severance costs | $5,120 | $6,004\n"
        "Other | 310 | 288\n"
        " | $5,430 | $6,292\n"
        "\n"
        "The following is a summary of the restructuring costs incurred (in thousands)."))
    assert checker.check("What were the total restructuring costs in 2024?", "$5,430 thousand",
                         [page])[0].verdict == Verdict.supported


@pytest.mark.parametrize("answer", [
    "Based on ZQX's financial statements, revenue was $8,204 thousand in 2024.",
    "ZQX Corporation reported service revenue of $8,204 thousand in 2024.",
    "ZQX generated service revenue of $8,204 thousand in 2024.",
])
def test_a_ticker_like_name_where_a_company_stands_must_be_the_filers(checker, answer):
    verdicts = checker.check("What was Gizmo's service revenue in 2024?", answer, [TABLE])
    assert verdicts[0].verdict == Verdict.unsupported and "entity" in verdicts[0].reason


def test_a_short_abbreviation_of_a_line_item_is_not_a_company(checker):
    page = SourcePage(doc_id="gizmo-2024-annual-report", page=40, text=(
        " | 2024 | 2023\nProperty, plant and equipment, net | 1,204 | 1,150\n"))
    verdicts = checker.check("What was Gizmo's PP&E in 2024?", "PP&E was $1,204 thousand in 2024.", [page])
    assert verdicts[0].verdict == Verdict.supported, verdicts[0].reason


def test_another_companys_filing_does_not_support_a_bare_answer(checker):
    own = SourcePage(doc_id="GIZMO_2024_10K", page=50, text=" | 2024\nService revenue | $8,204\n")
    peer = SourcePage(doc_id="WIDGETCO_2024_10K", page=61, text=" | 2024\nService revenue | $9,115\n")
    question = "What was Gizmo's service revenue in 2024?"
    assert checker.check(question, "$8,204 thousand", [own, peer])[0].verdict == Verdict.supported
    assert checker.check(question, "$9,115 thousand", [own, peer])[0].verdict == Verdict.unsupported
    # A question about the peer makes the peer's filing the evidence.
    assert checker.check("What was WidgetCo's service revenue in 2024?", "$9,115 thousand",
                         [own, peer])[0].verdict == Verdict.supported


def test_a_company_no_source_mentions_has_no_evidence_in_peers_filings(checker):
    peer = SourcePage(doc_id="WIDGETCO_2024_10K", page=61, text=(
        " | 2024\nAccounts receivable, net | $1,020\nAccounts payable | $140\n"))
    question = "Does Quillfeather have positive working capital based on FY2024 data?"
    answers = ["Quillfeather's accounts receivable, net were $1,020 million in 2024 [WIDGETCO_2024_10K p.61].",
               "Accounts receivable, net: $1,020 million [WIDGETCO_2024_10K p.61]."]
    for answer in answers:
        verdicts = checker.check(question, answer, [peer])
        assert verdicts and all(v.verdict == Verdict.unsupported for v in verdicts), answer
    # A claim that names the peer is about the peer, and its filing is the evidence.
    verdicts = checker.check(question, "WidgetCo's accounts receivable, net were $1,020 million in 2024.", [peer])
    assert verdicts[0].verdict == Verdict.supported, verdicts[0].reason
    # A company with a corporate suffix, or the possessive, is asked about too.
    for other in ("Roughly how many times has QFX Corporation sold its inventory in FY2024?",
                  "What were Quillfeather's accounts receivable in FY2024?"):
        assert checker.check(other, answers[1], [peer])[0].verdict == Verdict.unsupported, other
    # A term the question mentions but a page does not ("Looking at VaR"), a short form of the filer's
    # name (Widget of WIDGETCO) and a row label keep every page as evidence.
    for other in ("Looking at VaR, what were accounts receivable, net in 2024?",
                  "Are Widget's accounts receivable, net above $1 billion in 2024?",
                  "What was Accounts receivable, net in 2024?"):
        assert checker.check(other, answers[1], [peer])[0].verdict == Verdict.supported, other


def test_a_question_naming_no_company_takes_it_from_the_answer(checker):
    own = SourcePage(doc_id="GIZMO_2024_10K", page=50, text=" | 2024\nService revenue | $8,204\n")
    peer = SourcePage(doc_id="WIDGETCO_2024_10K", page=61, text=(
        "For the remainder of fiscal 2025, the company expects macroeconomic headwinds to continue.\n"))
    question = "Was there any drop in service revenue in 2024?"
    claim = "For the remainder of fiscal 2025, the company expects macroeconomic headwinds to continue."
    # Read alone, the outlook is on a page the question does not rule out.
    assert checker.check(question, claim, [own, peer])[0].verdict == Verdict.supported
    # An answer about Gizmo: WidgetCo's outlook is not Gizmo's.
    verdicts = checker.check(question, f"Gizmo's service revenue was $8,204 thousand in 2024. {claim}", [own, peer])
    assert [v.verdict for v in verdicts] == [Verdict.supported, Verdict.unsupported]


def test_numbers_in_a_row_label_are_not_operands(checker):
    page = SourcePage(doc_id="acme-2024-annual-report", page=90, text=(
        " | 2024 | 2023\n"
        "Member aged 45 (life expectancy at age 65) | 88.5 | 90.7\n"))
    # (65 - 45) / 45 is arithmetic on the row's name, not on its values.
    verdicts = checker.check("What was the percentage change in life expectancy of a member aged 45?", "44.44%",
                             [page])
    assert verdicts[0].verdict == Verdict.unsupported, verdicts[0].reason


def test_an_operand_row_must_name_what_the_question_measures(checker):
    page = SourcePage(doc_id="acme-2024-annual-report", page=91, text=(
        " | 2024 | 2023\n"
        "Total change in deferred items | 38,422 | 38,187\n"
        "Accounts payable | 12,500 | 10,000\n"))
    question = "What was the percentage change in accounts payable between 2023 and 2024?"
    assert checker.check(question, "25%", [page])[0].verdict == Verdict.supported
    # 0.6% = (38,422 - 38,187) / 38,422: a row the question does not name ("total" and "change" are
    # not what it measures).
    assert checker.check(question, "0.6%", [page])[0].verdict == Verdict.unsupported


BASIS = SourcePage(doc_id="gizmo-2024-annual-report", page=60, text=(
    " | 2024 | 2023\n"
    "Operating income (GAAP) | $200,849 | $112,852\n"
    "Stock-based compensation | 12,866 | 7,657\n"
    "Adjusted operating income (non-GAAP) | $237,235 | $142,105\n"))


@pytest.mark.parametrize(("question", "answer", "expected"), [
    # A claim that names its basis is held to it.
    ("What was Gizmo's operating income in 2024?", "Adjusted operating income was $237,235 thousand in 2024.",
     Verdict.supported),
    ("What was Gizmo's operating income in 2024?", "Adjusted operating income was $200,849 thousand in 2024.",
     Verdict.unsupported),
    ("What was Gizmo's operating income in 2024?", "GAAP operating income was $237,235 thousand in 2024.",
     Verdict.unsupported),
    # A bare answer takes its basis from the question.
    ("What was the adjusted operating income (non-GAAP) in 2024?", "$237,235 thousand", Verdict.supported),
    ("What was the adjusted operating income (non-GAAP) in 2024?", "$200,849 thousand", Verdict.unsupported),
    ("What was the operating income (GAAP) in 2024?", "$237,235 thousand", Verdict.unsupported),
    ("What was the operating income (GAAP) in 2024?", "$200,849 thousand", Verdict.supported),
])
def test_gaap_and_adjusted_figures_are_not_interchangeable(checker, question, answer, expected):
    verdicts = checker.check(question, answer, [BASIS])
    assert verdicts and all(v.verdict == expected for v in verdicts), [(v.text, v.verdict, v.reason) for v in verdicts]


def test_a_claim_naming_no_period_is_not_supported_by_a_passage_about_other_years(checker):
    # An answer is read as an answer to its question: "revenue declined due to lower demand", for a
    # question about FY2023, is not what a passage about fiscal 2017 says, however close the words.
    old = SourcePage(doc_id="initech-2017-10k", page=5, text=(
        "Revenue declined in fiscal 2017 due to lower demand for staplers in the Americas. Operating income "
        "increased in fiscal 2017 compared to fiscal 2016."))
    now = SourcePage(doc_id="initech-2023-10k", page=9, text=(
        "Cash and cash equivalents were $1.9 billion at the end of fiscal 2023. A recall in Europe hurt printer "
        "margins in fiscal 2023."))
    question = "Did Initech's cash drop between FY2023 and Q2 of FY2024?"
    claim = "Initech's revenue declined due to lower demand for staplers in the Americas [initech-2017-10k p.5]."
    [v] = checker.check(question, claim, [old, now])
    assert v.verdict == Verdict.unsupported, v.reason
    # the claim that names its year is checked as written (relevance, not support, says it is off the question)
    dated = "Initech's revenue declined in fiscal 2017 due to lower demand for staplers in the Americas."
    assert checker.check(question, dated, [old, now])[0].verdict == Verdict.supported
    # a passage of the asked years, or a year before (a fiscal label and a calendar year), still supports
    recall = "A recall in Europe hurt Initech's printer margins [initech-2023-10k p.9]."
    assert checker.check(question, recall, [old, now])[0].verdict == Verdict.supported
    # a question that names no year leaves every passage
    assert checker.check("What happened to Initech's revenue?", claim, [old, now])[0].verdict == Verdict.supported


def test_the_years_a_passage_names_are_its_years_not_its_figures_or_document_ids():
    from rewards.agreement import claim_names_a_year, of_another_period

    assert claim_names_a_year("In 2022, Initech earned the most from operations.")
    assert not claim_names_a_year("Operations brought in the most cash [initech_2015_10k p.60].")
    assert not claim_names_a_year("Revenue was $2,017 million.")
    assert of_another_period("revenue declined in fiscal 2017 compared to fy2016.", {2023, 2024})
    assert not of_another_period("revenue declined in fiscal 2022.", {2023})  # a fiscal label may differ by one
    assert not of_another_period("revenue declined [initech_2015_10k p.60].", {2023})
