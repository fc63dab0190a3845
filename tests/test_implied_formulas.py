"""Metrics a question names by their standard formula (`rewards.implied_formulas`): the formula is
written over the question's line items and years, computed from the statement rows of a fictional
filer, and stated by the grounded teacher where an answer lacks it."""

from __future__ import annotations

import pytest

from cai.core.contracts import SourcePage, Verdict
from rewards.implied_formulas import computed_answer, implied_definition
from rewards.premises import prepare_page

INCOME = SourcePage(doc_id="vandelay-2020-10k", page=50, text=(
    "Vandelay Industries, Inc.\nConsolidated Statements of Income\n(in millions)\nYear Ended December 31, "
    "2020 2019 2018\nNet sales $ 11,000 $ 10,400 $ 9,800\nCost of sales 8,000 7,700 7,300\n"
    "Operating income 1,320 1,150 1,020\nNet income $ 620 $ 580 $ 540\n"))


@pytest.mark.parametrize(("question", "formula"), [
    ("What is the FY2018 - FY2020 3 year average unadjusted operating income % margin for Vandelay?",
     "(FY2018 operating income / FY2018 revenue + FY2019 operating income / FY2019 revenue + FY2020 operating "
     "income / FY2020 revenue) / 3 * 100"),
    ("What is Vandelay's 2 year total revenue CAGR from FY2018 to FY2020 (in units of percents)?",
     "((FY2020 total revenue / FY2018 total revenue) ^ (1 / 2) - 1) * 100"),
    ("What is Vandelay's year-over-year change in revenue from FY2019 to FY2020?",
     "(FY2020 revenue - FY2019 revenue) / FY2019 revenue * 100"),
    ("What is Vandelay's FY2020 COGS % margin?", "FY2020 COGS / FY2020 revenue * 100"),
    ("What is the FY2019 - FY2020 change in unadjusted operating income % margin for Vandelay?",
     "(FY2020 operating income / FY2020 revenue - FY2019 operating income / FY2019 revenue) * 100"),
    ("What is Vandelay's FY2020 retention ratio (using total cash dividends paid and net income attributable "
     "to shareholders)?", "(FY2020 net income attributable - FY2020 cash dividends paid) / FY2020 net income "
     "attributable"),
])
def test_the_standard_formula_of_the_metric_asked(question, formula):
    assert implied_definition(question).formula == formula


def test_no_formula_where_none_is_named_or_the_question_gives_its_own():
    assert implied_definition("What was Vandelay's FY2020 cost of sales?").formula == "FY2020 cost of sales"  # a lookup
    assert implied_definition("What is the FY2017 - FY2020 3 year average operating income % margin?") is None
    own = ("What is Vandelay's FY2020 COGS % margin? Define COGS % margin as cost of sales divided by net sales.")
    assert implied_definition(own) is None


def test_computed_from_the_rows_and_rounded_as_asked():
    pages = [prepare_page(INCOME)]
    question = ("What is the FY2018 - FY2020 3 year average unadjusted operating income % margin for Vandelay? "
                "Answer in units of percents and round to one decimal place.")
    margin = (1_020 / 9_800 + 1_150 / 10_400 + 1_320 / 11_000) / 3 * 100
    sentence = computed_answer(question, pages)
    assert sentence.startswith("3 year average operating income margin = ((1,020 / 9,800) + ") or sentence
    assert sentence.endswith(f"= {margin:.1f}% [vandelay-2020-10k p.50]."), sentence
    growth = computed_answer("What is the FY2019 - FY2020 total revenue growth rate for Vandelay?", pages)
    assert growth.endswith(f"= {(11_000 - 10_400) / 10_400 * 100:.2f}% [vandelay-2020-10k p.50].")
    # a year the rows do not hold: nothing is computed
    assert computed_answer("What is Vandelay's FY2016 COGS % margin?", pages) is None


def test_the_teacher_states_a_metric_by_its_standard_formula(checker):
    from test_defined_formulas import _revised

    question = ("What is the FY2018 - FY2020 3 year average unadjusted operating income % margin for Vandelay? "
                "Answer in units of percents and round to one decimal place.")
    margin = (1_020 / 9_800 + 1_150 / 10_400 + 1_320 / 11_000) / 3 * 100
    out = _revised(question, "Vandelay's operating income was $1,320 million in 2020.", [INCOME])
    assert out.endswith(f"= {margin:.1f}% [vandelay-2020-10k p.50]."), out
    assert all(v.verdict == Verdict.supported for v in checker.check(question, out, [INCOME]))
    # an answer that states it already is left as it is: the checker supports it by the same formula
    stated = f"The 3 year average operating margin was {margin:.1f}% [vandelay-2020-10k p.50]."
    [v] = checker.check(question, stated, [INCOME])
    assert v.verdict == Verdict.supported and "3 year average operating income margin =" in v.reason
    assert _revised(question, stated, [INCOME]) == stated
    # a figure no convention gives is not
    assert checker.check(question, "The 3 year average operating margin was 12.9%.", [INCOME])[0].verdict == (
        Verdict.unsupported)


def test_a_line_item_is_its_total_line_and_net_income_is_not_from_continuing_operations():
    page = SourcePage(doc_id="vandelay-2020-10k", page=51, text=(
        "Vandelay Industries, Inc.\nConsolidated Statements of Earnings\n(in millions)\nYears Ended December 31,\n"
        "2020 2019 2018\nNet sales\nProducts $ 9,000 $ 8,500 $ 8,100\nServices 2,000 1,900 1,700\n"
        "Total net sales 11,000 10,400 9,800\nNet earnings from continuing operations 700 650 600\n"
        "Net earnings 620 580 540\n"))
    pages = [prepare_page(page)]
    growth = computed_answer("What is the FY2019 - FY2020 total revenue growth rate for Vandelay?", pages)
    # the products line is a component of net sales, not the line item (9,000 / 8,500 would be 5.88%)
    assert growth.startswith("total revenue growth = (11,000 - 10,400) / 10,400 * 100 = 5.77%"), growth
    margin = computed_answer("What is Vandelay's FY2020 net profit % margin?", pages)
    assert margin.startswith("net profit margin = 620 / 11,000 * 100 = 5.64%"), margin


def test_ebitda_not_defined_is_operating_income_plus_the_cash_flow_add_back():
    flows = SourcePage(doc_id="vandelay-2020-10k", page=54, text=(
        "Vandelay Industries, Inc.\nConsolidated Statements of Cash Flows\n(in millions)\nYear Ended December 31, "
        "2020 2019 2018\nNet income $ 620 $ 580 $ 540\nDepreciation and amortization 410 395 380\n"
        "Net cash provided by operating activities 1,150 1,020 990\n"))
    pages = [prepare_page(INCOME), prepare_page(flows)]
    question = ("What is the FY2020 unadjusted EBITDA % margin for Vandelay? Calculate unadjusted EBITDA using "
                "unadjusted operating income and D&A (from cash flow statement).")
    sentence = computed_answer(question, pages)
    assert sentence.startswith(f"EBITDA margin = (1,320 + 410) / 11,000 * 100 = {(1_320 + 410) / 110:.2f}%"), sentence
    # a parenthetical remark of the question is no part of the line item's name
    question = "What is the FY2020 depreciation and amortization (D&A from cash flow statement) % margin for Vandelay?"
    assert computed_answer(question, pages).startswith("depreciation and amortization margin = 410 / 11,000 * 100")


def test_a_change_asked_without_growth_words_is_no_growth_rate():
    # "the change in revenue" asks for a difference, which `rewards.asked_arithmetic` reads; no rate
    assert implied_definition("What was the change in revenue from 2019 to 2020?") is None
    assert implied_definition("What was the percentage change in revenue from 2019 to 2020?").formula == (
        "(FY2020 revenue - FY2019 revenue) / FY2019 revenue * 100")


@pytest.mark.parametrize(("question", "expected"), [
    ("What was Vandelay's FY2020 cost of sales?", "Cost of sales in FY2020: 8,000 million [vandelay-2020-10k p.50]."),
    ("What is the year end FY2019 total amount of net income for Vandelay? Answer in USD millions.",
     "Net income in FY2019: 580 million [vandelay-2020-10k p.50]."),
    ("Using only the income statement, how much operating income did Vandelay have in FY2018?",
     "Operating income in FY2018: 1,020 million [vandelay-2020-10k p.50]."),
    ("What is Vandelay's FY2016 cost of sales?", None),  # a year the rows do not hold
    ("What is the FY2020 fixed asset turnover ratio for Vandelay?", None),  # a ratio, not a line item
    ("What was the FY2020 net sales for Vandelay's Latex segment?", None),  # a segment's, not the statement's
])
def test_a_line_item_asked_for_is_read_from_its_row(question, expected):
    from rewards.implied_formulas import lookup_answer

    assert lookup_answer(question, [prepare_page(INCOME)]) == expected


def test_the_teacher_answers_a_line_item_question_from_the_row(checker):
    from test_defined_formulas import _revised

    question = "What was Vandelay's FY2020 cost of sales? Answer in USD millions."
    out = _revised(question, "The sources do not state the answer.", [INCOME])
    assert out == "Cost of sales in FY2020: 8,000 million [vandelay-2020-10k p.50].", out
    assert all(v.verdict == Verdict.supported for v in checker.check(question, out, [INCOME]))


@pytest.mark.parametrize(("question", "expected"), [
    ("Has Vandelay increased its cost of sales between FY2020 and the FY2019 period?",
     "Cost of sales: 7,700 million in FY2019 and 8,000 million in FY2020, up 300 million [vandelay-2020-10k p.50]."),
    ("How does Vandelay's operating income in FY2019 compare to FY2018?",
     "Operating income: 1,020 million in FY2018 and 1,150 million in FY2019, up 130 million "
     "[vandelay-2020-10k p.50]."),
    ("Was there any drop in net income between FY2019 and FY2020?",
     "Net income: 580 million in FY2019 and 620 million in FY2020, up 40 million [vandelay-2020-10k p.50]."),
    ("How does Vandelay's net sales in FY2019 compare to FY2016?", None),  # a year the rows do not hold
    ("Has Vandelay raised its gross margin between FY2019 and FY2020?", None),  # a metric, not a line item
    ("Was there any drop in Latex segment net sales between FY2019 and FY2020?", None),  # a segment's
    ("Was there any drop in net income between FY2019 and Q2 of FY2020?", None),  # a quarter: no year column
])
def test_a_line_items_change_asked_about_is_read_from_its_row_for_both_years(question, expected):
    from rewards.implied_formulas import change_answer

    assert change_answer(question, [prepare_page(INCOME)]) == expected


def test_the_teacher_answers_a_change_question_from_the_rows(checker):
    from test_defined_formulas import _revised

    question = "Has Vandelay reduced its cost of sales between FY2019 and FY2020?"
    out = _revised(question, "No.", [INCOME])
    assert out.endswith("Cost of sales: 7,700 million in FY2019 and 8,000 million in FY2020, up 300 million "
                        "[vandelay-2020-10k p.50]."), out
    assert all(v.verdict == Verdict.supported for v in checker.check(question, out, [INCOME]))


@pytest.mark.parametrize(("claim", "contradicted"), [
    ("Vandelay's cost of sales decreased between FY2019 and FY2020.", True),
    ("No, Vandelay has not increased its cost of sales between FY2019 and FY2020.", True),  # it did: 7,700 → 8,000
    ("Yes, Vandelay has increased its cost of sales.", False),
    ("No, Vandelay has not decreased its cost of sales.", False),
    ("Vandelay's net sales decreased.", False),  # another line item: not this question's
    ("Cost of sales fell to $7,000 million.", False),  # figures are checked as figures
])
def test_a_direction_for_the_asked_line_items_change_is_checked_against_its_rows(claim, contradicted):
    from rewards.implied_formulas import change_contradiction

    question = "Has Vandelay increased its cost of sales between FY2019 and FY2020?"
    reason = change_contradiction(claim, question, [prepare_page(INCOME)])
    assert (reason is not None) == contradicted, reason
    if contradicted:
        assert "7,700 million (FY2019) → 8,000 million (FY2020) is an increase" in reason


def test_the_checker_rejects_a_direction_the_rows_contradict(checker):
    question = "Has Vandelay increased its cost of sales between FY2019 and FY2020?"
    [v] = checker.check(question, "No, Vandelay has not increased its cost of sales between FY2019 and FY2020.",
                        [INCOME])
    assert v.verdict == Verdict.unsupported and "contradict" in v.reason, v.reason


# A rate the filing states in rows of its own: the MD&A's table rounds it, the tax note does not.
RATES = SourcePage(doc_id="vandelay-2020-10k", page=31, text=(
    "Vandelay Industries, Inc.\nResults of Operations\n(in millions)\nYear Ended December 31, 2020 2019\n"
    "Income before income taxes $ 1,300 $ 1,120\nProvision for income taxes $ (299) $ (218)\n"
    "Effective tax rate 23% 19%\n"))
TAX_NOTE = SourcePage(doc_id="vandelay-2020-10k", page=77, text=(
    "Vandelay Industries, Inc.\nNote 7. Income Taxes\nYear Ended December 31, 2020 2019 2018\n"
    "Statutory U.S. federal income tax rate 21.0% 21.0% 21.0%\nState income tax, net of federal effect 1.4 1.1 0.9\n"
    "Effective tax rate 23.0% 19.4% 18.2%\n"))


@pytest.mark.parametrize(("question", "pages", "expected"), [
    ("How much has the effective tax rate of Vandelay changed between FY2019 and FY2020?", (RATES,),
     "Effective tax rate: 19% in FY2019 and 23% in FY2020, up 4 percentage points [vandelay-2020-10k p.31]."),
    # the note's precise rate, where it agrees with the table's at the table's rounding
    ("How much has Vandelay's effective tax rate changed between FY2019 and FY2020?", (RATES, TAX_NOTE),
     "Effective tax rate: 19.4% in FY2019 and 23% in FY2020, up 3.6 percentage points [vandelay-2020-10k p.77]."),
    ("How does Vandelay's effective tax rate in FY2020 compare to FY2019?", (TAX_NOTE,),
     "Effective tax rate: 19.4% in FY2019 and 23% in FY2020, up 3.6 percentage points [vandelay-2020-10k p.77]."),
    ("How much has the effective tax rate of Vandelay changed between FY2018 and FY2019?", (RATES,), None),
    ("How much has Vandelay's operating margin changed between FY2019 and FY2020?", (RATES,), None),  # a metric
])
def test_a_rates_change_is_read_from_its_rows_of_percentages(question, pages, expected):
    from rewards.implied_formulas import change_answer

    assert change_answer(question, [prepare_page(p) for p in pages]) == expected


def test_rows_of_a_rate_that_disagree_give_nothing_and_a_rates_direction_is_checked(checker):
    from rewards.implied_formulas import change_answer, change_contradiction

    restated = SourcePage(doc_id="vandelay-2020-10k", page=78, text=(
        "Vandelay Industries, Inc.\nYear Ended December 31, 2020 2019\nEffective tax rate 25.1% 19.5%\n"))
    question = "How much has the effective tax rate of Vandelay changed between FY2019 and FY2020?"
    assert change_answer(question, [prepare_page(RATES), prepare_page(restated)]) is None
    reason = change_contradiction("Vandelay's effective tax rate decreased.", question, [prepare_page(RATES)])
    assert reason is not None and "19% (FY2019) → 23% (FY2020) is an increase" in reason
    out = change_answer(question, [prepare_page(RATES), prepare_page(TAX_NOTE)])
    assert all(v.verdict == Verdict.supported for v in checker.check(question, out, [RATES, TAX_NOTE]))


def test_a_lead_in_of_dropped_claims_does_not_introduce_the_computed_metric(checker):
    from test_defined_formulas import _revised

    question = "What is Vandelay's FY2020 COGS % margin?"
    answer = "Securities registered pursuant to Section 12(b) of the Act:\n- Vandelay employs 9,000 drivers."
    out = _revised(question, answer, [INCOME])
    assert out.startswith("FY2020 COGS") or out.startswith("COGS"), out
    assert "Section 12(b)" not in out and "72.73%" in out, out


@pytest.mark.parametrize(("claim", "supported"), [
    ("The effective tax rate of Vandelay has increased by 4% between FY2019 and FY2020.", True),  # 19% → 23%
    ("Vandelay's effective tax rate rose 4 percentage points.", True),
    ("The effective tax rate of Vandelay has decreased by 4% between FY2019 and FY2020.", False),
    ("The effective tax rate of Vandelay has increased by 7% between FY2019 and FY2020.", False),
])
def test_a_rates_change_is_checked_in_points_against_its_rows(checker, claim, supported):
    question = "How much has the effective tax rate of Vandelay changed between FY2019 and FY2020?"
    [v] = checker.check(question, claim, [RATES])
    assert (v.verdict == Verdict.supported) == supported, v.reason
