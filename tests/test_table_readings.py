"""Table readings of bare computed answers (issue #17): "the total X" as the line that sums the rows
named X, a "Total" line named by the question, a total of percentages, the change of a rate in
percentage points, and operations between two columns the question names by heading
(`rewards.named_columns`). Hand-built report pages; each reading has a wrong answer beside it."""

from __future__ import annotations

import pytest

from cai.core.contracts import SourcePage, Verdict
from rewards.arithmetic import Tolerances, derive_pair
from rewards.asked_arithmetic import stated_direction
from rewards.named_columns import tables
from rewards.numbers import extract_quantities
from rewards.offline import OfflineChecker
from rewards.premises import prepare_page

SEGMENTS = SourcePage(doc_id="globex-2019-ar", page=3, text=(
    " | 2019 | 2018\n"
    " | $'000 | $'000\n"
    "Property, plant and equipment:\n"
    "North America | 500 | 400\n"
    "Europe | 300 | 250\n"
    "Asia | 200 | 150\n"
    " | 1,000 | 800\n"
    "\n"
    " | 2019 | 2018\n"
    "Dividends paid:\n"
    "Final dividend for 2018 | 130 | 120\n"
    "Interim dividend for 2019 | 150 | 110\n"
    " | 280 | 230\n"
    "\n"
    " | 2019 | 2018\n"
    "Audit fees | 900 | 850\n"
    "Tax advisory fees | — | —\n"
    "Other fees:\n"
    "Consulting fees | 100 | 250\n"
    "Total | 1,000 | 1,100\n"
    "\n"
    " | 2019 | 2018\n"
    "Weighted average cost of capital | 9.0% | 9.5%\n"
    "\n"
    " | Fiscal Year 2019 | Fiscal Year 2018\n"
    "Customer A | 30% | 28%\n"
    "Customer B | 12% | 10%\n"
    "\n"
    " | 2019 | 2018\n"
    " | % | %\n"
    "Discount rate | 2.9 | 3.8\n"
    "\n"
    "€ million | 2017/2018 | 2018/2019\n"
    "Earnings before interest and taxes | 713 | 828\n"
    "Return on capital employed (%) | 15.2 | 17.1\n"
    "\n"
    " | January 3, 2020 | December 28, 2018 | December 29, 2017\n"
    "Net cash used in financing activities | (709) | (707) | (429)\n"
    "\n"
    " | Receivables, gross | Allowance for losses | Receivables, net\n"
    "December 31, 2019\n"
    "Trade | $1,200 | $(50) | $1,150\n"
    "Total | $1,500 | $(60) | $1,440\n"
    "December 31, 2018\n"
    "Trade | $1,000 | $(40) | $960\n"
    "Total | $1,300 | $(45) | $1,255\n"
    "\n"
    " | Operating leases | Finance leases\n"
    "2021 | $138 | $6\n"
    "2022 | 135 | 6\n"
    "Thereafter | 577 | 35\n"
    "\n"
    " | 2019 $'000 | 2018 $'000 RESTATED3\n"
    "Continuing operations\n"
    "EBITDA | 7,202 | 10,878\n"
    "Results including discontinued operations\n"
    "EBITDA | 6,062 | (5,700)\n"
    "\n"
    "Operating revenues | Q4 2019 | Q4 2018 | $ change\n"
    "Media | 879 | 850 | 29\n"
))
COLUMNS = SourcePage(doc_id="globex-2019-ar", page=4, text=(
    "Quarters ended | June 29, 2019 | March 30, 2019 | December 29, 2018\n"
    "Revenue | $5,200 | $4,900 | $5,000\n"
    "Net income | $610 | $540 | $580\n"
    "\n"
    "Days past due | 1–30 | 31–90 | >90 | Total\n"
    "Region: North | 300 | 120 | 80 | 500\n"
    "Region: South | 200 | 90 | 60 | 350\n"
    "All regions | 500 | 210 | 140 | 850\n"
    "\n"
    " | First | Second | Third | Fourth\n"
    "Net sales | $1,100 | $1,250 | $1,200 | $1,400\n"
))


@pytest.fixture(scope="module")
def checker() -> OfflineChecker:
    return OfflineChecker(use_embeddings=False)


def _verdict(checker: OfflineChecker, question: str, answer: str, page: SourcePage) -> Verdict:
    claims = checker.check(question, answer, [page])
    if not claims:
        return Verdict.unverified
    return Verdict.supported if all(c.verdict == Verdict.supported for c in claims) else Verdict.unsupported


@pytest.mark.parametrize(("question", "answer", "expected"), [
    # the unlabelled line that sums the rows under the caption the question names: (1,000 - 800) / 800
    ("What is the percentage change in the total property, plant and equipment from 2018 to 2019?", "25%",
     Verdict.supported),
    ("What is the percentage change in the total property, plant and equipment from 2018 to 2019?", "20%",
     Verdict.unsupported),  # North America's row, not the total
    # the line that sums the dividends named alike: 280 - 230
    ("What is the change in the total dividends paid from 2018 to 2019?", "50 thousand", Verdict.supported),
    ("What is the change in the total dividends paid from 2018 to 2019?", "40 thousand", Verdict.unsupported),
    # "total fees": the "Total" line under the fees, not the best-named fee row: 1,000 - 1,100
    ("What is the change in total fees from 2018 to 2019?", "-100 thousand", Verdict.supported),
    ("What is the change in total fees from 2018 to 2019?", "50 thousand", Verdict.unsupported),
    # a total of percentages: 30% + 12%
    ("What is the total percentage of revenue from Customer A and Customer B in 2019?", "42%", Verdict.supported),
    ("What is the total percentage of revenue from Customer A and Customer B in 2019?", "38%", Verdict.unsupported),
    # the percentage change of a rate, as its change in percentage points (or relative)
    ("What was the percentage change in the weighted average cost of capital between 2018 and 2019?", "-0.5%",
     Verdict.supported),
    ("What was the percentage change in the weighted average cost of capital between 2018 and 2019?", "-5.26%",
     Verdict.supported),
    ("What was the percentage change in the weighted average cost of capital between 2018 and 2019?", "-1.5%",
     Verdict.unsupported),
    # a column the unit row declares in per cent holds rates: (2.9 + 3.8) / 2
    ("What is the average discount rate for 2018 and 2019?", "3.35%", Verdict.supported),
    ("What is the average discount rate for 2018 and 2019?", "3.55%", Verdict.unsupported),
    # ... and a row label "(%)" its row's; a split fiscal year is one year: 17.1 - 15.2, 828 - 713
    ("What was the change in return on capital employed from 2017/2018 to 2018/2019?", "1.9%", Verdict.supported),
    ("What was the change in return on capital employed from 2017/2018 to 2018/2019?", "-1.9%", Verdict.unsupported),
    ("What was the change in earnings before interest and taxes in 2018/2019 from 2017/2018?", "115 million",
     Verdict.supported),
    ("What was the change in earnings before interest and taxes in 2018/2019 from 2017/2018?", "-115 million",
     Verdict.unsupported),
    # the 52/53-week fiscal 2019 ended on January 3, 2020: (709 + 707 + 429) / 3
    ("What was the average net cash used in financing activities in fiscal years 2017-2019?", "615",
     Verdict.supported),
    ("What was the average net cash used in financing activities in fiscal years 2017-2019?", "650",
     Verdict.unsupported),
    # periods as caption lines between blocks of rows: the total line's gross column, 1,500 - 1,300
    ("What was the change in the total gross receivables between 2018 and 2019?", "200", Verdict.supported),
    ("What was the change in the total gross receivables between 2018 and 2019?", "185", Verdict.unsupported),
    # periods as row labels: the column heading names the line item, 135 - 138
    ("What was the change in operating leases between 2021 and 2022?", "-3 million", Verdict.supported),
    ("What was the change in operating leases between 2021 and 2022?", "-5 million", Verdict.unsupported),
    # a heading's unit and footnote ("2018 $'000 RESTATED3") leave its year; "continuing" is not "discontinued"
    ("What is the change in the EBITDA from continuing operations from 2018 to 2019?", "-3,676 thousand",
     Verdict.supported),
    ("What is the change in the EBITDA from continuing operations from 2018 to 2019?", "11,762 thousand",
     Verdict.unsupported),
    # one quarter asked: its columns year by year, 879 + 850
    ("What is the sum of the operating revenues for Media in Q4 2019 and 2018?", "1,729 million", Verdict.supported),
    ("What is the sum of the operating revenues for Media in Q4 2019 and 2018?", "1,758 million", Verdict.unsupported),
])
def test_total_lines_and_rates(checker: OfflineChecker, question: str, answer: str, expected: Verdict) -> None:
    assert _verdict(checker, question, answer, SEGMENTS) == expected


@pytest.mark.parametrize(("question", "answer", "expected"), [
    # dated headings: the later quarter minus the earlier, whichever the question names first
    ("What was the change in revenue between the quarters ended June 29 and March 30 in 2019?", "$300",
     Verdict.supported),
    ("What was the change in revenue between the quarters ended June 29 and March 30 in 2019?", "-$300",
     Verdict.unsupported),
    ("What was the change in net income between the quarters ended March 30, 2019 and December 29, 2018?",
     "-$40", Verdict.supported),
    # ordinal headings: the fourth quarter minus the third
    ("What was the change in the net sales between the third and fourth quarter?", "$200", Verdict.supported),
    ("What was the change in the net sales between the third and fourth quarter?", "$150", Verdict.unsupported),
    # range headings, in the line that sums the table "for all regions"; a difference as a magnitude
    ("What is the difference between 31-90 and >90 days past due for all regions?", "70", Verdict.supported),
    ("What is the difference between 31-90 and >90 days past due for all regions?", "75", Verdict.unsupported),
    # range headings in the row the question names
    ("What is the sum of 1-30 and 31-90 days past due in the South region?", "290", Verdict.supported),
    ("What is the sum of 1-30 and 31-90 days past due in the South region?", "420", Verdict.unsupported),
])
def test_named_columns(checker: OfflineChecker, question: str, answer: str, expected: Verdict) -> None:
    assert _verdict(checker, question, answer, COLUMNS) == expected


def test_columns_need_headings_that_line_up() -> None:
    """A heading line with another count of cells than the rows (empty cells dropped) is not read."""
    page = prepare_page(SourcePage(doc_id="d", page=1, text="High | Low\nQ1 | $5 | $3\nQ2 | $6 | $4\n"))
    assert tables(page) == []
    page = prepare_page(SourcePage(doc_id="d", page=1, text=" | High | Low\nQ1 | $5 | $3\nQ2 | $6 | $4\n"))
    (columns,) = tables(page)
    assert [c.heading for c in columns] == ["high", "low"]
    assert [(label, q.value) for label, q in columns[0].cells] == [("q1", 5.0), ("q2", 6.0)]


RATES = SourcePage(doc_id="globex-2019-ar", page=5, text=(
    " | 2019 | 2018\n"
    "Free cash flow | 4,044 | 3,100\n"
    "Interest income | 1,310 | 510\n"
    "\n"
    "Interest income rose $0.8 million in 2019, on higher balances."
))


@pytest.mark.parametrize(("question", "answer", "expected"), [
    # the question prescribes an average: a cell the answer only rounds is no evidence of it
    ("What is the average free cash flow for 2018 and 2019?", "3,572 million", Verdict.supported),
    ("What is the average free cash flow for 2018 and 2019?", "4,040 million", Verdict.unsupported),
    # a figure the prose states as written stands, though the table's cells round to it
    ("What was the increase in interest income in 2019?", "$0.8 million", Verdict.supported),
])
def test_rounded_cell_is_not_the_computed_answer(checker: OfflineChecker, question: str, answer: str,
                                                 expected: Verdict) -> None:
    assert _verdict(checker, question, answer, RATES) == expected


PROSE = SourcePage(doc_id="globex-2019-ar", page=6, text=(
    "Property, plant and equipment is stated at cost. Depreciation expense on property, plant and equipment "
    "totaled $290.2 million in 2019, $239.6 million in 2018 and $190.4 million in 2017. Repairs are expensed. "
    "Diluted net income per common share was $3.28 and $4.38 for fiscal 2018 and 2017, respectively."
))


@pytest.mark.parametrize(("question", "answer", "expected"), [
    # no table names the line item: the sentence that states it for each year, at its own scale words
    ("What is the total depreciation expense incurred by the company between 2017 to 2019?", "720.2 million",
     Verdict.supported),
    ("What is the total depreciation expense incurred by the company between 2017 to 2019?", "720.2 billion",
     Verdict.unsupported),
    ("What was the change in depreciation expense from 2018 to 2019?", "$50.6 million", Verdict.supported),
    ("What was the change in depreciation expense from 2018 to 2019?", "$55 million", Verdict.unsupported),
    # a sentence naming one or two of a long question's words is not its line item: (3.28 + 4.38) / 2
    ("What is the average days payable outstanding per common share for 2018 and 2017, from accounts payable, "
     "cost of sales and inventory?", "3.83", Verdict.unsupported),
])
def test_prose_rows(checker: OfflineChecker, question: str, answer: str, expected: Verdict) -> None:
    assert _verdict(checker, question, answer, PROSE) == expected


def test_a_sentence_naming_more_than_the_best_row(checker: OfflineChecker) -> None:
    """A table row that names part of the line item ("Accumulated depreciation") does not hide the
    sentence that names all of it ("Depreciation expense ... totaled")."""
    page = SourcePage(doc_id="globex-2019-ar", page=5, text=(
        "(dollars in millions) | 2019 | 2018\nLand | $117.2 | $117.2\n"
        "Accumulated depreciation | (2,964.6) | (2,755.1)\n\n" + PROSE.text))
    question = "What is the total depreciation expense incurred by the company between 2017 to 2019?"
    assert _verdict(checker, question, "720.2 million", page) == Verdict.supported
    assert _verdict(checker, question, "576.2 million", page) == Verdict.unsupported


def test_a_change_figure_keeps_its_direction() -> None:
    """A percentage change is over the earlier figure: "-25%" is a decline from 5 to 4 over 5 (-20%), never
    (5 - 4) / 4, which is a 25% rise; a bare "20%" answering "the percentage change" is a rise."""
    tol = Tolerances(additive=0.005, multiplicative=0.002)
    decline, rise = extract_quantities("-25%")[0], extract_quantities("20%")[0]
    assert derive_pair(decline, [5.0, 4.0], tol) is not None  # the magnitude alone matches the rise
    assert derive_pair(decline, [5.0, 4.0], tol, rising=False) is None
    assert derive_pair(extract_quantities("-20%")[0], [5.0, 4.0], tol, rising=False) is not None
    assert derive_pair(rise, [5.0, 4.0], tol, rising=True) is None  # (5 - 4) / 5 is a 20% decline
    assert derive_pair(rise, [5.0, 4.0], tol, rising=False) is not None
    question = "What was the percentage change in deferred revenue from 2018 to 2019?"
    assert stated_direction(decline, question, bare=True) is False
    assert stated_direction(rise, question, bare=True) is True
    assert stated_direction(rise, question, bare=False) is None  # "fell 20%" states its direction in words
    assert stated_direction(rise, "What was the percentage decrease in deferred revenue?", bare=True) is None


LAYOUTS = SourcePage(doc_id="initech-2019-ar", page=7, text=(
    " | 52 weeks ended 30 Mar 2019 £m | 52 weeks ended 31 Mar 2018 £m\n"
    "Profit before taxation | 42.7 | 20.9\n"
    "Non-deductible items | (0.9) | (0.1)\n"
    "\n"
    " | USD denominated RMB'Million | Non-USD denominated RMB'Million\n"
    "As at 31 December 2019\n"
    "Monetary assets, current | 27,728 | 2,899\n"
    "Monetary assets, non-current | 373 | –\n"
    "Monetary liabilities, current | (4,273) | (14,732)\n"
    " | 23,828 | (11,833)\n"
    "As at 31 December 2018\n"
    "Monetary assets, current | 18,041 | 1,994\n"
    "Monetary assets, non-current | 2,642 | –\n"
    "Monetary liabilities, current | (3,434) | (4,587)\n"
    " | 17,249 | (2,593)\n"
))


@pytest.mark.parametrize(("question", "answer", "expected"), [
    # a heading that gives the period's length ("52 weeks ended 30 Mar 2019") still dates its column
    ("What is the average non-deductible items for 2018 and 2019?", "-0.5 million", Verdict.supported),
    ("What is the average non-deductible items for 2018 and 2019?", "-0.4 million", Verdict.unsupported),
    # the currency qualifies the line item ("USD" is not in "Non-USD"), and the unlabelled line that nets
    # the liabilities against the assets is no total of the assets: 18,041 + 2,642
    ("What was the total USD denominated monetary assets as at 31 December 2018?", "20,683 million",
     Verdict.supported),
    ("What was the total USD denominated monetary assets as at 31 December 2018?", "4,636 million",
     Verdict.unsupported),
])
def test_period_lengths_currencies_and_netting_lines(checker: OfflineChecker, question: str, answer: str,
                                                      expected: Verdict) -> None:
    assert _verdict(checker, question, answer, LAYOUTS) == expected


PRICES = SourcePage(doc_id="initech-2019-ar", page=9, text=(
    " | High | Low\n"
    "2019:\n"
    "Fourth Quarter | $11.44 | $9.47\n"
    "Third Quarter | $14.96 | $10.26\n"
    "Second Quarter | $20.91 | $12.61\n"
    "First Quarter | $18.19 | $8.87\n"
    "2018:\n"
    "Fourth Quarter | $12.16 | $7.43\n"
    "Third Quarter | $20.60 | $10.95\n"
    "Second Quarter | $18.30 | $6.70\n"
    "First Quarter | $7.35 | $6.00\n"
    "\n"
    "(In millions) | As of August 1, 2019 | Adjustments | As of December 31, 2019\n"
    "Assets:\n"
    "Inventories, net | 40.7 | (0.7) | 40.0\n"
    "Goodwill | 261.3 | (7.4) | 253.9\n"
    "Other non-current assets | 24.7 | 1.3 | 26.0\n"
    "Total assets | $ 326.7 | $ (6.8) | $ 319.9\n"
    "Liabilities:\n"
    "Accounts payable | 12.0 | — | 12.0\n"
    "Other current liabilities | 56.2 | (1.1) | 55.1\n"
    "Other non-current liabilities | 19.8 | 1.6 | 21.4\n"
    "Total liabilities | $ 88.0 | $ 0.5 | $ 88.5\n"
))


@pytest.mark.parametrize(("question", "answer", "expected"), [
    # a mean down one column of the rows dated by a caption line: (9.47 + 10.26 + 12.61 + 8.87) / 4
    ("What is the average quarterly low price for 2019?", "10.3", Verdict.supported),
    ("What is the average quarterly low price for 2019?", "7.77", Verdict.unsupported),  # 2018's quarters
    # two rows the question names in one period's column: 11.44 - 9.47
    ("What is the difference in the high and low prices of the common stock in the fourth quarter of 2019?",
     "$1.97", Verdict.supported),
    ("What is the difference in the high and low prices of the common stock in the fourth quarter of 2019?",
     "$2.41", Verdict.unsupported),
    # a class named alone is its total line: 88.5 / 319.9
    ("What is the liability to asset ratio as of December 31, 2019?", "27.67%", Verdict.supported),
    ("What is the liability to asset ratio as of December 31, 2019?", "31.4%", Verdict.unsupported),
])
def test_rows_down_a_column_and_classes_named_alone(checker: OfflineChecker, question: str, answer: str,
                                                    expected: Verdict) -> None:
    assert _verdict(checker, question, answer, PRICES) == expected


COMMON_SIZE = SourcePage(doc_id="initech-2019-ar", page=11, text=(
    " | Year Ended December 31,\n"
    " | 2019 | 2018\n"
    "Sales | 100.0 % | 100.0 %\n"
    "Gross profit | 40.0 | 50.9\n"
    "Operating expenses | 33.1 | 27.0\n"
    "Net income | 7.2 % | 20.5 %\n"
    "\n"
    " | 2019 | 2018 | 2017\n"
    "Risk-free interest rate | 2.8% | 2.3% | 1.9%\n"
    "Expected term (years) | 3.9 | 3.4 | 7.0\n"
    "Target price | $53.87 | $98.99 | $67.39\n"
))


@pytest.mark.parametrize(("question", "answer", "expected"), [
    # the sign on a common-size table's first and last lines makes the column's figures percentages
    ("What was the change in percentage of sales represented by gross profit between 2018 and 2019?", "-10.9%",
     Verdict.supported),
    ("What was the change in percentage of sales represented by gross profit between 2018 and 2019?", "-21.4%",
     Verdict.unsupported),  # a relative change
    # ... but not a table of assumptions whose first line alone is in per cent: the term is in years
    ("What was the average expected term (years) for 2017-2019?", "4.77", Verdict.supported),
    ("What was the average expected term (years) for 2017-2019?", "4.77%", Verdict.unsupported),
])
def test_common_size_columns(checker: OfflineChecker, question: str, answer: str, expected: Verdict) -> None:
    assert _verdict(checker, question, answer, COMMON_SIZE) == expected


def test_a_unit_line_under_the_headings_keeps_them(checker: OfflineChecker) -> None:
    """" | (Dollars in millions)" under "Operating Leases | Finance Leases" is no heading of its own."""
    page = SourcePage(doc_id="initech-2019-ar", page=13, text=(
        " | Operating Leases | Finance Leases\n | (Dollars in millions)\n"
        "2020 | $460 | 47\n2021 | 361 | 28\n2022 | 308 | 22\nThereafter | 686 | 170\n"))
    question = "What is the sum of finance leases from 2020 to 2022?"
    assert _verdict(checker, question, "97 million", page) == Verdict.supported
    assert _verdict(checker, question, "1,129 million", page) == Verdict.unsupported


def test_a_compound_written_with_a_dash(checker: OfflineChecker) -> None:
    """"domestic-state" is the label "Domestic–state" a filing writes with an en dash."""
    page = SourcePage(doc_id="initech-2019-ar", page=14, text=(
        "(dollars in thousands) | Last Fiscal Year of Expiration | Amount\n"
        "Income tax net operating loss carryforwards:\n"
        "Domestic–state | 2039 | $57,299\nForeign | 2039 or indefinite | $565,609\n"))
    question = "What was the amount of domestic-state income tax net operating loss carryforwards?"
    assert _verdict(checker, question, "$57,299 thousand", page) == Verdict.supported
    assert _verdict(checker, question, "$565,609 thousand", page) == Verdict.unsupported
