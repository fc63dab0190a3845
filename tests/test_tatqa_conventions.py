"""Question-answering conventions of the offline checker (issue #15), on hand-built report pages:
bare figures computed the way the question asks (change, percentage change, average, total,
ratio), years read off a row for a comparison question, declared table units, "respectively"
lists, footnote markers and answers that only repeat the question."""

from __future__ import annotations

import pytest

from cai.core.contracts import SourcePage, Verdict
from rewards.asked_arithmetic import asked_operations
from rewards.numbers import declared_scales
from rewards.offline import OfflineChecker

TABLE = SourcePage(
    doc_id="initech-2019-ar",
    page=1,
    text=(
        " | 2019 | 2018 | 2017\n"
        " | $'000 | $'000 | $'000\n"
        "Net revenue | 12,400 | 10,000 | 9,000\n"
        "Cost of revenue | 7,440 | 6,500 | 6,100\n"
        "Interest expense | (310) | (250) | (190)\n"
        "Current tax expense: \n"
        "Federal | 40 | 25 | 5\n"
        "State | 12 | 9 | 3\n"
        "Gross margin | 40.0% | 35.0% | 32.2%\n"
        "\n"
        "Revenue grew with new customer contracts in 2019."
    ),
)
PROSE = SourcePage(
    doc_id="initech-2019-ar",
    page=2,
    text=(
        "Depreciation expense was $4.1 million, $3.8 million and $3.2 million in fiscal 2019, 2018 and 2017, "
        "respectively.\n\n(1) Fiscal 2019 includes $1.7 million of legal expense relating to the patent case.\n\n"
        "Our common stock trades on the Nasdaq Global Market under the symbol INTC."
    ),
)


@pytest.fixture(scope="module")
def checker() -> OfflineChecker:
    return OfflineChecker(use_embeddings=False)


def _verdict(checker: OfflineChecker, question: str, answer: str, page: SourcePage = TABLE) -> Verdict:
    claims = checker.check(question, answer, [page])
    if not claims:
        return Verdict.unverified
    return Verdict.supported if all(c.verdict == Verdict.supported for c in claims) else Verdict.unsupported


@pytest.mark.parametrize(("question", "answer", "expected"), [
    # later minus earlier, in the table's declared unit ($'000)
    ("What was the change in net revenue from 2018 to 2019?", "2,400 thousand", Verdict.supported),
    ("What was the change in interest expense between 2018 and 2019?", "-60 thousand", Verdict.supported),
    ("What was the change in net revenue from 2018 to 2019?", "3,000 thousand", Verdict.unsupported),
    ("What was the change in net revenue from 2018 to 2019?", "2,400 million", Verdict.unsupported),  # wrong unit
    ("What was the percentage change in net revenue from 2018 to 2019?", "24%", Verdict.supported),
    ("What was the percentage change in net revenue from 2018 to 2019?", "30%", Verdict.unsupported),
    ("What is the average cost of revenue for 2018 and 2019?", "6,970 thousand", Verdict.supported),
    ("What is the average cost of revenue from 2017 to 2019?", "6,680 thousand", Verdict.supported),  # the span
    ("What is the average cost of revenue for 2018 and 2019?", "13,940 thousand", Verdict.unsupported),  # a sum
    ("What is the total net revenue in 2018 and 2019?", "22,400 thousand", Verdict.supported),
    ("What is the average gross margin for 2018 and 2019?", "37.5%", Verdict.supported),
    ("What is the cost of revenue as a percentage of net revenue in 2019?", "60%", Verdict.supported),
    ("What is the cost of revenue as a percentage of net revenue in 2019?", "62%", Verdict.unsupported),
])
def test_bare_figure_computed_as_the_question_asks(checker, question, answer, expected):
    assert _verdict(checker, question, answer) == expected


def test_one_operation_the_first_named():
    assert asked_operations("What is the average total current tax expense for 2018 and 2019?") == ["average"]
    assert asked_operations("What was the change in the average price between 2018 and 2019?") == ["change"]
    assert asked_operations("What was the percentage change in revenue?") == ["percent_change"]
    assert asked_operations("What is the weighted average exercise price in 2019?") == []


@pytest.mark.parametrize(("question", "answer", "expected"), [
    ("In which year was net revenue less than 10,000 thousand?", "2017", Verdict.supported),
    ("In which year was net revenue less than 10,000 thousand?", "2018", Verdict.unsupported),
    ("In which years was net revenue greater than 9,500 thousand?", "2019 and 2018", Verdict.supported),
    ("In which year was the cost of revenue the highest?", "2019", Verdict.supported),
    ("In which year was the cost of revenue the highest?", "2017", Verdict.unsupported),
    ("Which years does the table provide information for net revenue?", "2019, 2018 and 2017", Verdict.supported),
    # the caption "Current tax expense:" names the rows under it
    ("How many years did the current tax expense for Federal exceed $10 thousand?", "2", Verdict.supported),
    ("How many years did the current tax expense for Federal exceed $10 thousand?", "3", Verdict.unsupported),
])
def test_years_read_off_the_named_row(checker, question, answer, expected):
    assert _verdict(checker, question, answer) == expected


def test_declared_units_of_report_tables():
    assert declared_scales(" | 2019 | 2018\n | €m | €m") == (1.0, 1e6)
    assert declared_scales(" | RMB’Million | RMB’Million") == (1.0, 1e6)
    assert declared_scales("Expressed in US $000's except share amounts") == (1.0, 1e3)
    assert declared_scales("Year Ended December 31, 2019 (in 000’s)") == (1.0, 1e3)
    # a figure with its own scale word declares no unit for the page
    assert len(declared_scales("the €10.3 billion of spectrum payments")) == 4


def test_a_prose_figure_keeps_its_own_scale(checker):
    text = "(in thousands)\nWe had $3.0 million of accrued interest and penalties at December 31, 2019."
    page = SourcePage(doc_id="initech-2019-ar", page=3, text=text)
    question = "What was the accrued interest and penalties in 2019?"
    assert _verdict(checker, question, "$3.0 million", page) == Verdict.supported
    assert _verdict(checker, question, "$3.0 billion", page) == Verdict.unsupported


def test_respectively_lists_and_footnote_markers(checker):
    assert _verdict(checker, "What was the depreciation expense in 2018?", "$3.8 million", PROSE) == Verdict.supported
    assert _verdict(checker, "What was the depreciation expense in 2018?", "$4.1 million", PROSE) == Verdict.unsupported
    question = "How much was the legal expense relating to the patent case in fiscal 2017?"
    assert _verdict(checker, question, "$1.7 million", PROSE) == Verdict.unsupported


def test_an_answer_that_repeats_the_question_answers_nothing(checker):
    question = "What is the symbol of the common stock trading on the Nasdaq Global Market?"
    assert _verdict(checker, question, "Nasdaq Global Market", PROSE) == Verdict.unsupported


def test_two_line_items_and_fiscal_abbreviations(checker):
    question = "What is the sum of net revenue and cost of revenue in 2019?"
    assert _verdict(checker, question, "19,840 thousand") == Verdict.supported
    page = SourcePage(doc_id="initech-2019-ar", page=4,
                      text=" | F19 | F18\n | $m | $m\nSales | 1,700 | 1,583\nEBITDA | 310 | 299")
    question = "What is the average sales for F19 and F18?"
    assert _verdict(checker, question, "1,641.5 million", page) == Verdict.supported
    assert _verdict(checker, question, "1,641.5 billion", page) == Verdict.unsupported


def test_the_asked_periods_decide_a_change(checker):
    # 1,000 is the change from 2017 to 2018: the question asks for 2018 to 2019.
    question = "What was the change in net revenue from 2018 to 2019?"
    assert _verdict(checker, question, "1,000 thousand") == Verdict.unsupported


def test_average_balance_deductions_and_total_rows(checker):
    page = SourcePage(doc_id="initech-2019-ar", page=5, text=(
        " | 2019 | 2018 | 2017\n | (in thousands)\nTotal assets | 5,600 | 5,200 | 4,900\n"
        "Less voyage expenses | (1,400) | (1,600) | (1,500)\nOther | 44.1 | 56.7 | 70.8\n"
        "Severance | 700 | 800 | 100\nRelocation | 100 | 300 | 200\n | 800 | 1,100 | 300"))
    # one year asked for an average: the mean of its opening and closing balances
    assert _verdict(checker, "What is the 2019 average total assets?", "5,400 thousand", page) == Verdict.supported
    # amounts in parentheses deduct: their average is the positive amount deducted
    question = "What is the average voyage expenses in 2018 and 2019?"
    assert _verdict(checker, question, "1,500 thousand", page) == Verdict.supported
    # a line item named only by a qualifier
    assert _verdict(checker, "What is the change in Other in 2019 from 2018?", "-12.6 thousand",
                    page) == Verdict.supported
    # "the total" of what no row names: the unlabelled total line
    question = "What is the difference in total restructuring costs between 2018 and 2019?"
    assert _verdict(checker, question, "-300 thousand", page) == Verdict.supported


def test_net_qualifies_the_operation_not_the_line_item(checker):
    # "the net difference in sales of modules": the Modules row, not "Net sales" (which shares "net" and "sales")
    page = SourcePage(doc_id="initech-2019-ar", page=3, text=(
        " | 2019 | 2018 | 2017\nModules | 1,460 | 502 | 806\nSystems | 1,603 | 1,742 | 2,135\n"
        "Net sales | 3,063 | 2,244 | 2,941\n"))
    question = "What is the net difference in sales of modules between 2017 and 2019?"
    assert _verdict(checker, question, "654", page) == Verdict.supported  # 1,460 - 806
    assert _verdict(checker, question, "700", page) == Verdict.unsupported  # no such difference


def test_the_average_of_two_named_line_items_in_one_year(checker):
    page = SourcePage(doc_id="initech-2019-ar", page=4, text=(
        "Customers | 2019 | 2018 | 2017\nApex Ltd | 32% | 36% | 34%\nBorealis Inc | 13% | 8% | 11%\n"))
    question = "What is the average percentage of revenue from Apex and Borealis in 2017?"
    assert _verdict(checker, question, "22.5%", page) == Verdict.supported  # (34% + 11%) / 2
    assert _verdict(checker, question, "45.0%", page) == Verdict.unsupported  # their sum is no average


def test_a_dash_is_nil_in_a_which_year_comparison(checker):
    page = SourcePage(doc_id="initech-2019-ar", page=6, text=(
        " | 2019 | 2018\n"
        " | $'000 | $'000\n"
        "Lease obligation | 2,047 | —\n"
        "Accrued compensation | 1,441 | 2,504\n"
    ))
    question = "In which year was the lease obligation less than 500 thousand?"
    assert [v.verdict for v in checker.check(question, "2018", [page])] == [Verdict.supported]
    assert [v.verdict for v in checker.check(question, "2019", [page])] == [Verdict.unsupported]


def test_did_names_no_line_item(checker: OfflineChecker) -> None:
    """"Did" asks; it names no row, so "Other" (a mere qualifier) still names its own."""
    page = SourcePage(doc_id="initech-2019-ar", page=3, text=(
        "(In millions) | 2019 | 2018\nTrade receivables | $875.8 | $557.8\nOther | 6.8 | 4.1\nTotal | 882.6 | 561.9\n"))
    question = "Which years did the amount for Other exceed $5 million?"
    assert [c.verdict for c in checker.check(question, "2019", [page])] == [Verdict.supported]
    assert [c.verdict for c in checker.check(question, "2019 and 2018", [page])] == [Verdict.unsupported]
