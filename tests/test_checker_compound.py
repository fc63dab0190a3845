"""Compound growth over the span a claim states, "measure = figure" read as a labelled value, a
worked ratio's operands from the rows its definition names, and a rate row's period columns (the
offline checker on hand-built statements)."""

from __future__ import annotations

import pytest

from cai.core.contracts import SourcePage, Verdict
from rewards.arithmetic import COMPOUND_YEARS, compound_years, is_operand
from rewards.numbers import extract_quantities

EARNINGS = SourcePage(
    doc_id="initech-2022-10k",
    page=63,
    text=(
        "Initech Corporation\nConsolidated Statements of Earnings\n(in millions)\n"
        "Years Ended December 31,\n2022 2021 2020\n"
        "Net sales\n"
        "Products $ 55,466 $ 56,435 $ 54,928\n"
        "Services 10,518 10,609 10,470\n"
        "Total net sales 65,984 67,044 65,398\n"
        "Net earnings $ 5,732 $ 6,315 $ 6,833\n"
    ),
)
QUESTION = "What is Initech's 2 year total revenue CAGR from FY2020 to FY2022?"


def check(checker, answer, question=QUESTION):
    return checker.check(question, answer, [EARNINGS])


def test_the_span_of_a_compound_rate_comes_from_its_text():
    assert compound_years("the 2-year CAGR") == (2,)
    assert compound_years("CAGR from FY2020 to FY2022") == (2,)
    assert compound_years("3 year CAGR, FY2019 to FY2021") == (2, 3)  # years counted inclusively or not
    assert compound_years("a three-year compound growth rate") == (3,)
    assert compound_years("the CAGR", "What is the CAGR between 2018 and 2023?") == (5,)  # the claim says none
    assert compound_years("the compound annual growth rate") == tuple(COMPOUND_YEARS)
    assert compound_years("revenue grew 5% from 2020 to 2022") == ()  # no compounding spoken of


def test_a_cagr_compounds_over_the_years_it_names(checker):
    [v] = check(checker, "The 2 year total revenue CAGR from FY2020 to FY2022 is 0.4%.")
    assert v.verdict == Verdict.supported  # (65,984 / 65,398) ^ (1/2) - 1
    # the same pair compounded over 4 years: a rate of no span the claim states
    [v] = check(checker, "The 2 year total revenue CAGR from FY2020 to FY2022 is 0.2%.")
    assert v.verdict == Verdict.unsupported


def test_a_cagr_is_not_a_share_or_a_plain_ratio_of_two_figures(checker):
    # (6,833 - 5,732) / 6,833 = 16.1%: a decline's share, not a compound rate
    [v] = check(checker, "Net earnings CAGR from FY2020 to FY2022 was 16.1%.",
                question="What is Initech's net earnings CAGR from FY2020 to FY2022?")
    assert v.verdict == Verdict.unsupported
    [v] = check(checker, "Net earnings CAGR from FY2020 to FY2022 was -8.4%.",
                question="What is Initech's net earnings CAGR from FY2020 to FY2022?")
    assert v.verdict == Verdict.supported  # (5,732 / 6,833) ^ (1/2) - 1


@pytest.mark.parametrize(("text", "operand"), [
    ("Total revenue for FY2020 = $54,928 million", False),  # a label on the left: the figure is stated
    ("Revenue in Q2 2023 = $1,200 million", False),
    ("Average = (1,642 + 1,559) / 2", True),  # an expression follows
    ("Working capital = $7,453 - $5,175", True),
    ("CAGR = 1.009 ^ 0.5 - 1", True),
    ("Ratio: 7,453 / 5,175 = 1.44", True),  # the result of an expression
])
def test_a_figure_after_equals_is_an_operand_only_in_an_expression(text, operand):
    q = extract_quantities(text)[0 if "Ratio" not in text else -1]
    assert is_operand(q, text) is operand


def test_a_labelled_value_after_equals_must_be_a_figure_of_that_measure(checker):
    [v] = check(checker, "Total revenue for FY2020 = $54,928 million.")  # the products row
    assert v.verdict == Verdict.unsupported
    [v] = check(checker, "Total net sales for FY2020 = $65,398 million.")
    assert v.verdict == Verdict.supported


BALANCE = SourcePage(
    doc_id="initech-2022-10k",
    page=40,
    text=(
        "Initech Corporation\nConsolidated Balance Sheets\n(in thousands)\nDecember 31,\n2022 2021\n"
        "Total current assets $ 1,001,425 $ 705,563\n"
        "Total current liabilities 577,024 402,212\n"
    ),
)


def test_a_worked_ratio_takes_each_operand_from_the_row_its_definition_names(checker):
    question = "What is Initech's FY2022 working capital ratio (total current assets / total current liabilities)?"
    [v] = checker.check(question, "Working capital ratio: $1,001,425 / $577,024 = 1.74.", [BALANCE])
    assert v.verdict == Verdict.supported
    # the prior year's current assets as the denominator: the quotient computes, the ratio is not this one
    [v] = checker.check(question, "Working capital ratio: $1,001,425 / $705,563 = 1.42.", [BALANCE])
    assert v.verdict == Verdict.unsupported
    assert "not the denominator of the current ratio" in v.reason


def test_no_expression_pairs_figures_of_another_row_and_another_column():
    from rewards.arithmetic import Tolerances, derive_pair

    growth = extract_quantities("25.2%")[0]
    tol = Tolerances(additive=0.05, multiplicative=0.06)
    # (79,268 - 59,293) / 79,268: product sales of 2015 against service sales of 2017
    skew = [("p", 38, 10, "net product sales"), ("p", 38, 30, "net service sales")]
    assert derive_pair(growth, [79_268.0, 59_293.0], tol) is not None
    assert derive_pair(growth, [79_268.0, 59_293.0], tol, groups=skew) is None
    # one row over two periods is a growth; two rows of one period a share
    same_row = [("p", 38, 10, "net product sales"), ("p", 38, 30, "net product sales")]
    assert derive_pair(growth, [79_268.0, 59_293.0], tol, groups=same_row) is not None
    share = extract_quantities("74.8%")[0]  # 59,293 / 79,268 within one column
    same_column = [("p", 38, 30, "net service sales"), ("p", 38, 30, "net product sales")]
    assert derive_pair(share, [59_293.0, 79_268.0], tol, groups=same_column) is not None


def test_a_one_cell_per_line_row_is_one_row_for_growth(checker):
    page = SourcePage(doc_id="acme-2022-10k", page=47, text=(
        "Net revenue by segment\nYear Ended\nDecember 31,\n2022\nDecember 25,\n2021\n(In millions)\n"
        "Data Center\n$\n6,043 \n$\n3,694 \nGaming\n6,805 \n5,607 \nEmbedded\n4,552 \n246 \n"))
    [v] = checker.check("How did Acme's segments grow in 2022?", "Gaming revenue grew 21% in 2022.", [page])
    assert v.verdict == Verdict.supported  # 6,805 / 5,607 - 1, values on separate lines of one row


def test_a_rate_read_from_another_years_column_is_unsupported(checker):
    page = SourcePage(doc_id="initech-2022-10k", page=77, text=(
        "Reconciliation of the effective tax rate:\nYear ended December 31,\n2022 2021 2020\n"
        "Statutory U.S. federal income tax rate 21.0% 21.0% 21.0%\nEffective tax rate 22.9% 20.2% 17.5%\n"))
    question = "How much has the effective tax rate of Initech changed between FY2021 and FY2022?"
    [v] = checker.check(question, "The effective tax rate rose from 20.2% in FY2021 to 22.9% in FY2022.", [page])
    assert v.verdict == Verdict.supported
    [v] = checker.check(question, "The effective tax rate fell from 20.2% in FY2021 to 17.5% in FY2022.", [page])
    assert v.verdict == Verdict.unsupported and "another period" in v.reason


def test_a_worked_total_must_be_the_total_row_of_the_year(checker):
    page = SourcePage(doc_id="initech-2022-10k", page=82, text=(
        "Consolidated Balance Sheets\n(In millions)\nDecember 31,\n2022 2021\n"
        "Short-term debt 1,175 584\nCurrent portion of long-term debt 281 57\nAccounts payable 254 235\n"
        "Accrued liabilities 706 701\nAccrued taxes 49 176\nAccrued interest 91 88\nOther 255 228\n"
        "Total current liabilities 2,811 2,069\n"))
    question = "Does Initech have positive working capital based on FY2022 data?"
    partial = "Current liabilities total: $1,175 + $281 + $254 + $706 + $49 + $91 = $2,556 million."
    [v] = checker.check(question, partial, [page])
    assert v.verdict == Verdict.unsupported and "2,811" in v.reason  # the answer left a line out
    whole = "Current liabilities total: $1,175 + $281 + $254 + $706 + $49 + $91 + $255 = $2,811 million."
    [v] = checker.check(question, whole, [page])
    assert v.verdict == Verdict.supported
    # lines summed under the measure's name alone are its total as well; a sum the claim says is partial is not
    adding = "Adding up the current liabilities: $1,175 + $281 + $254 + $706 + $49 + $91 = $2,556 million."
    [v] = checker.check(question, adding, [page])
    assert v.verdict == Verdict.unsupported and "2,811" in v.reason
    # a sum on its own line takes its label from the heading it is listed under
    listed = "Adding up the current liabilities:\n$1,175 + $281 + $254 + $706 + $49 + $91 = $2,556 million"
    assert checker.check(question, listed, [page])[-1].verdict == Verdict.unsupported
    excluding = "Current liabilities excluding other: $1,175 + $281 + $254 + $706 + $49 + $91 = $2,556 million."
    [v] = checker.check(question, excluding, [page])
    assert v.verdict == Verdict.supported


def test_percentage_points_are_a_difference_of_rates_never_a_ratio_of_amounts():
    from rewards.arithmetic import Tolerances, derive_pair

    tol = Tolerances(additive=0.05, multiplicative=0.06)
    points = extract_quantities("an increase of 0.8 percentage points")[0]
    assert derive_pair(points, [30.0, 3_600.0], tol) is None  # 30 / 3,600 × 100 = 0.83
    assert derive_pair(points, [22.9, 22.1], tol) is not None  # 22.9% - 22.1%
    share = extract_quantities("0.8%")[0]
    assert derive_pair(share, [30.0, 3_600.0], tol) is not None  # a share may be a ratio
