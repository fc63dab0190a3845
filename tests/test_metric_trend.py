"""A direction stated for a metric no row states (`rewards.metric_trend`): the metric is computed for
each year from a fictional filer's statements, and a claim whose direction the values contradict is
unsupported, whether it states the opposite or denies the change that happened."""

from __future__ import annotations

import pytest

from cai.core.contracts import SourcePage, Verdict
from rewards.claims import split_claims
from rewards.metric_trend import contradiction, fluctuation_contradiction
from rewards.premises import prepare_page
from rewards.question_context import single_period

# A filer without a gross profit row or a cost-of-revenue total: gross margin is revenue less the
# "Cost of …" rows, over revenue. 2019: (9,000 - 7,200 - 900) / 9,000 = 10.0%; 2020: 8.2%; 2021: 11.6%.
OPERATIONS = SourcePage(doc_id="kessler-2021-10k", page=61, text=(
    "Kessler Aerostructures Corp.\nConsolidated Statements of Operations\n(Dollars in millions)\n"
    "Years ended December 31, 2021 2020 2019\nSales of products $ 8,800 $ 7,900 $ 8,000\n"
    "Sales of services 1,200 1,100 1,000\nTotal revenues 10,000 9,000 9,000\nCost of products (7,900) (7,300) (7,200)\n"
    "Cost of services (940) (960) (900)\nTotal costs and expenses (8,840) (8,260) (8,100)\n"
    "Income from operations 610 420 530\nNet earnings $ 400 $ 260 $ 350\n"))
BALANCES = SourcePage(doc_id="kessler-2021-10k", page=63, text=(
    "Kessler Aerostructures Corp.\nConsolidated Balance Sheets\n(Dollars in millions)\nDecember 31, 2021 2020\n"
    "Cash and cash equivalents 1,200 1,000\nAccounts receivable, net 2,100 2,000\nReceivables from affiliates 100 150\n"
    "Inventories 1,900 1,850\nTotal current assets 5,400 5,100\nTotal current liabilities 4,100 3,600\n"
    "Total assets 14,000 13,200\n"))
QUESTION = "Does Kessler have an improving gross margin profile as of FY2021?"


def _reason(text: str, question: str = QUESTION, sources=(OPERATIONS, BALANCES)) -> str | None:
    [claim] = [c for c in split_claims(text) if c.kind == "claim"]
    return contradiction(claim, single_period(question), [prepare_page(s) for s in sources])


@pytest.mark.parametrize("text", [
    "Kessler's gross margin does not appear to be improving as of FY2021.",
    "In 2021, the gross margin decreased, indicating a worsening profile.",
    "The company's gross margin deteriorated from 2020 to 2021.",
    "The gross profit margin fell in 2020 and was lower still in 2021.",
])
def test_a_direction_the_computed_margin_contradicts(text):
    reason = _reason(text)
    assert reason is not None and "8.22% (FY2020) → 11.60% (FY2021) is an increase" in reason or (
        "10.00% (FY2019) → 8.22% (FY2020)" in (reason or "")), reason


@pytest.mark.parametrize("text", [
    "Kessler's gross margin improved in 2021.",  # it did
    "The gross margin declined in 2020.",  # it did: 10.0% to 8.2%
    "The gross margin of the Aerostructures segment decreased in 2021.",  # a part of the filer
    "Gross margin did not improve significantly in 2021.",  # hedged
    "The gross margin decreased in the fourth quarter of 2021.",  # a quarter: the annual rows do not say
    "Gross margin fell while operating margin rose in 2021.",  # two metrics
    "Rivalco's gross margin decreased in 2021.",  # another company's metric
    "Kessler's gross margin decreased to 8.9% in 2021.",  # a figure: checked as a figure
])
def test_no_contradiction_where_the_claim_agrees_or_is_not_about_the_filers_metric(text):
    assert _reason(text) is None


def test_other_metrics_and_denials_of_a_decrease():
    # operating margin: 5.89% (2019) → 4.67% (2020) → 6.10% (2021); net margin 3.89% → 2.89% → 4.00%
    assert "operating margin" in _reason("The operating margin fell in 2021.")
    assert _reason("The net profit margin has not decreased in 2020.") is not None
    assert _reason("The net profit margin has not increased in 2020.") is None
    # working capital: 1,500 (2020) → 1,300 (2021), a decrease; the current ratio 1.42 → 1.32
    assert "working capital" in _reason("Kessler's working capital increased in 2021.")
    assert "current ratio" in _reason("The current ratio improved in 2021.")
    assert _reason("Working capital declined in 2021.") is None


def test_pages_that_disagree_decide_nothing():
    restated = SourcePage(doc_id="kessler-2021-10k", page=90, text=(
        "Kessler Aerostructures Corp.\nSelected Financial Data (restated)\n(Dollars in millions)\n"
        "Years ended December 31, 2021 2020\nTotal revenues 10,000 9,000\nGross profit 900 1,050\n"))
    assert _reason("In 2021, the gross margin decreased.", sources=(OPERATIONS, restated)) is None
    assert _reason("In 2021, the gross margin decreased.", sources=(restated,)) is None  # it did there


def test_the_checker_rejects_the_contradicted_claim_and_keeps_the_rest(checker):
    answer = ("Kessler's gross margin does not appear to be improving as of FY2021 [kessler-2021-10k p.61]. "
              "Total revenues were $10,000 million in 2021 [kessler-2021-10k p.61].")
    first, second = checker.check(QUESTION, answer, [OPERATIONS, BALANCES])
    assert first.verdict == Verdict.unsupported and "computed from the statement rows" in first.reason
    assert second.verdict == Verdict.supported


def test_the_teacher_replaces_a_contradicted_direction_with_the_worked_metric(checker):
    from test_defined_formulas import _revised

    answer = ("Kessler's gross margin does not appear to be improving as of FY2021 [kessler-2021-10k p.61]. "
              "In 2021, the gross margin decreased, indicating a worsening profile [kessler-2021-10k p.61].")
    out = _revised(QUESTION, answer, [OPERATIONS, BALANCES])
    assert out == ("Gross margin = (9,000 - 7,300 - 960) / 9,000 = 8.22% in FY2020 [kessler-2021-10k p.61]. "
                   "Gross margin = (10,000 - 7,900 - 940) / 10,000 = 11.60% in FY2021, up 3.38 percentage points "
                   "from 8.22% in FY2020 "
                   "[kessler-2021-10k p.61]."), out  # once, though two claims were corrected
    assert all(v.verdict == Verdict.supported for v in checker.check(QUESTION, out, [OPERATIONS, BALANCES]))


@pytest.mark.parametrize(("text", "contradicted"), [
    ("Kessler does not have positive working capital.", True),  # 5,400 - 4,100 = 1,300
    ("Kessler has a working capital deficit.", True),
    ("Working capital was negative in 2020.", True),
    ("Kessler has positive working capital.", False),
    ("The International segment has negative working capital.", False),  # a part of the filer
])
def test_the_sign_stated_for_working_capital(text, contradicted):
    question = "Does Kessler have positive working capital based on FY2021 data?"
    assert (_reason(text, question) is not None) == contradicted


@pytest.mark.parametrize(("question", "expected"), [
    ("Does Kessler have positive working capital based on FY2021 data? If working capital is not a useful metric, "
     "explain why.", "Working capital = 5,100 - 3,600 = 1,500 million in FY2020 [kessler-2021-10k p.63]. Working "
     "capital = 5,400 - 4,100 = 1,300 million in FY2021, down from 1,500 million in FY2020 [kessler-2021-10k p.63]."),
    # two years named: the later one is asked, with the years before it on the statement
    ("How did Kessler's gross margin change from FY2020 to FY2021?",
     "Gross margin = (9,000 - 7,200 - 900) / 9,000 = 10.00% in FY2019 [kessler-2021-10k p.61]. Gross margin = "
     "(9,000 - 7,300 - 960) / 9,000 = 8.22% in FY2020, down 1.78 percentage points from 10.00% in FY2019 "
     "[kessler-2021-10k p.61]. Gross margin = (10,000 - 7,900 - 940) / 10,000 = 11.60% in FY2021, up 3.38 "
     "percentage points from 8.22% in FY2020 [kessler-2021-10k p.61]."),
    # quick assets: cash, short-term investments where the balance sheet has them, every receivables row
    ("Does Kessler have a reasonably healthy liquidity profile based on its quick ratio for FY21?",
     "Quick ratio = (1,000 + 2,000 + 150) / 3,600 = 0.88 in FY2020 [kessler-2021-10k p.63]. Quick ratio = "
     "(1,200 + 2,100 + 100) / 4,100 = 0.83 in FY2021, down from 0.88 in FY2020 [kessler-2021-10k p.63]."),
])
def test_the_teacher_states_the_metric_a_yes_no_question_asks_about(checker, question, expected):
    from test_defined_formulas import _revised

    out = _revised(question, "The sources do not state the answer.", [OPERATIONS, BALANCES])
    assert out == expected, out
    assert all(v.verdict == Verdict.supported for v in checker.check(question, out, [OPERATIONS, BALANCES]))
    # an answer that states the asked year's value already is left to stand on it
    stated = f"Kessler's {expected.split(' = ')[0].lower()} was {expected.split(' = ')[-1].split(' in ')[0]} in FY2021."
    stated = stated.replace("was 1,300 million", "was $1,300 million")
    assert expected not in _revised(question, stated, [OPERATIONS, BALANCES])


def test_a_question_naming_no_year_asks_about_the_latest_the_tables_show():
    from rewards.metric_trend import stated_levels

    question = "Are Kessler's gross margins historically consistent?"
    levels = stated_levels(question, [prepare_page(OPERATIONS)])
    assert "= 10.00% in FY2019" in levels.text and levels.latest == "11.60%"
    # An older statement beside a later filing's page answers another period: nothing is stated.
    later = SourcePage(doc_id="kessler-2023-10k", page=30, text=(
        "Kessler Aerostructures Corp.\nResults of Operations\n(Dollars in millions)\nYears ended December 31, "
        "2023 2022\nBacklog 41,000 39,500\n"))
    assert stated_levels(question, [prepare_page(OPERATIONS), prepare_page(later)]) is None


@pytest.mark.parametrize(("text", "supported"), [
    ("Kessler's working capital was $1,300 million in FY2021 [kessler-2021-10k p.63].", True),
    ("Kessler's gross margin was 11.6% in 2021 [kessler-2021-10k p.61].", True),  # (10,000 - 7,900 - 940) / 10,000
    ("Kessler's quick ratio was 0.83 in FY2021 [kessler-2021-10k p.63].", True),
    ("Kessler's quick ratio was 0.88 in FY2021 [kessler-2021-10k p.63].", False),  # the FY2020 value
    ("Kessler's gross margin was 8.2% in 2021 [kessler-2021-10k p.61].", False),
])
def test_a_metric_stated_by_its_textbook_definition(checker, text, supported):
    question = "What was Kessler's financial position in FY2021?"
    [verdict] = checker.check(question, text, [OPERATIONS, BALANCES])
    assert (verdict.verdict == Verdict.supported) == supported, verdict.reason


def test_a_balance_sheet_over_two_pages_and_a_peer_filing():
    from rewards.metric_trend import stated_levels

    assets = SourcePage(doc_id="kessler-2021-10k", page=70, text=(
        "Kessler Aerostructures Corp.\nConsolidated Balance Sheets\n(Dollars in millions)\nDecember 31, 2021 2020\n"
        "Cash and cash equivalents 900 800\nTotal current assets 2,250 2,400\nTotal assets 9,000 8,800\n"))
    liabilities = SourcePage(doc_id="kessler-2021-10k", page=71, text=(
        "Kessler Aerostructures Corp.\nConsolidated Balance Sheets (continued)\n(Dollars in millions)\n"
        "December 31, 2021 2020\nAccounts payable 1,400 1,300\nTotal current liabilities 2,500 2,350\n"))
    question = "Does Kessler have positive working capital based on FY2021 data?"
    levels = stated_levels(question, [prepare_page(assets), prepare_page(liabilities)])
    assert levels.text.endswith("Working capital = 2,250 - 2,500 = -250 million in FY2021, down from 50 million in "
                                "FY2020 [kessler-2021-10k p.70] [kessler-2021-10k p.71]."), levels.text
    assert levels.latest == "-250 million"
    # A question about another company: the teacher computes nothing from Kessler's rows
    from test_defined_formulas import _revised

    peer = "Does Rivalco have positive working capital based on FY2021 data?"
    assert "Working capital =" not in _revised(peer, "The sources do not state the answer.", [assets, liabilities])


@pytest.mark.parametrize(("text", "supported"), [
    ("Kessler's working capital was -$1,500 million in FY2020 [kessler-2021-10k p.63].", False),  # its sign
    ("Kessler's working capital was $1,500 million in FY2020 [kessler-2021-10k p.63].", True),
    ("Kessler had a working capital deficit of $1,500 million in FY2020 [kessler-2021-10k p.63].", False),
])
def test_a_stated_metric_keeps_its_sign(checker, text, supported):
    [verdict] = checker.check("Does Kessler have positive working capital based on FY2021 data?", text,
                              [OPERATIONS, BALANCES])
    assert (verdict.verdict == Verdict.supported) == supported, verdict.reason


# Kessler's gross margin 10.00% → 8.22% → 11.60% moves at most 3.38 points a year; its operating margin
# 5.89% → 4.67% → 6.10% at most 1.43.
BOUNDED = ("Are Kessler's gross margins historically consistent (not fluctuating more than roughly 2% each year)? "
           "If gross margins are not a relevant metric, explain why.")


@pytest.mark.parametrize(("text", "contradicted"), [
    ("Kessler's gross margins have fluctuated more than 2% each year.", False),
    ("The gross margin stayed within a 2% range each year.", True),
    ("Kessler's gross margins do fluctuate, but not more than roughly 2% a year.", True),
    ("Kessler's gross margins have been historically consistent.", True),  # the question's bound: 2
    ("Kessler's gross margins have not been consistent.", False),
    ("The operating margin fluctuated by more than 2% each year.", True),  # 1.43 points at most
    ("The operating margin fluctuated by more than 1% each year.", False),  # "1%": 0.5 to 1.5 is undecided
    ("The operating margin has been consistent.", False),
    ("The gross margin of the Aerostructures segment stayed within a 2% range.", False),  # a part of the filer
    ("Gross margin was more than 2% in 2021.", False),  # no move stated
])
def test_a_bound_on_a_margins_yearly_moves(text, contradicted):
    [claim] = [c for c in split_claims(text) if c.kind == "claim"]
    reason = fluctuation_contradiction(claim, BOUNDED, [prepare_page(OPERATIONS), prepare_page(BALANCES)])
    assert (reason is not None) == contradicted, reason
    assert reason is None or "percentage points a year" in reason


def test_the_checker_and_teacher_on_a_question_bounding_the_moves(checker):
    from test_defined_formulas import _revised

    from rewards.metric_trend import stated_levels

    assert stated_levels(BOUNDED, [prepare_page(OPERATIONS)]).latest == "3.38 percentage points"
    answer = ("Kessler's gross margins have been consistent, moving within a 2% range each year "
              "[kessler-2021-10k p.61]. Gross margin was 11.6% in 2021 [kessler-2021-10k p.61].")
    first, second = checker.check(BOUNDED, answer, [OPERATIONS, BALANCES])
    assert first.verdict == Verdict.unsupported and "3.38 percentage points a year" in first.reason
    assert second.verdict == Verdict.supported
    out = _revised(BOUNDED, answer, [OPERATIONS, BALANCES])
    assert "within a 2% range" not in out and "up 3.38 percentage points from 8.22% in FY2020" in out, out
    assert all(v.verdict == Verdict.supported for v in checker.check(BOUNDED, out, [OPERATIONS, BALANCES]))
