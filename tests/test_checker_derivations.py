"""New rules of the offline checker, on hand-built filings text: worked formulas, restated results,
ratios within one period column, column-aware operand pairing, change columns, method statements,
metric definitions and conclusions that restate the question (real MiniLM where prose is judged)."""

from __future__ import annotations

import pytest

from cai.core.contracts import SourcePage, Verdict
from rewards.arithmetic import Tolerances, derive_pair, equalities
from rewards.checker import quote_at_locator
from rewards.claims import sentence_kind
from rewards.numbers import extract_quantities
from rewards.premises import restates

STATEMENT = SourcePage(
    doc_id="globex-2023-10k",
    page=12,
    text=(
        "GLOBEX INC.\nCONSOLIDATED STATEMENTS OF INCOME\n(in millions)\n"
        "Year Ended December 31,\n2023\n2022\n"
        "Net sales\n50,000\n40,000\n"
        "Cost of sales\n30,000\n25,000\n"
        "Net income\n2,500\n1,600\n"
        "Income before income taxes\n3,200\n2,000\n"
        "Provision for income taxes\n700\n400\n"
        "Total debt\n9,000\n10,000\n"
    ),
)
SEGMENTS = SourcePage(
    doc_id="globex-2023-10k",
    page=20,
    text=(
        "Segment results (in millions)\nYear Ended December 31,\n2023\n2022\n"
        "Widgets revenue\n693\n760\n"
        "Widgets expenses\n287\n299\n"
        "Provision for income taxes\n$ (411) $ (491) 12%\n"
        "Effective tax rate\n23% 20%\n"
    ),
)


def check(checker, answer, question="What was Globex's net profit margin in 2023?", sources=(STATEMENT,)):
    return checker.check(question, answer, list(sources))


# -- worked formulas ------------------------------------------------------------------------------


def test_worked_formula_that_computes_is_parsed_with_its_terms():
    [e] = equalities("(3.1% + 2.3% + 3.1%) / 3 = 2.8%")
    assert e.computes and e.result.text == "2.8%" and [t.text for t in e.terms][1:] == ["2.3%", "3.1%", "3"]


def test_worked_formula_that_does_not_compute_is_flagged():
    [e] = equalities("(11.4% + 4.5% + 7.5%) / 3 = 10.3%")
    assert not e.computes and round(e.value, 1) == 7.8


def test_worked_formula_ignores_term_labels_and_reads_ratios_as_percentages():
    [e] = equalities("Total debt: $2,749 million (current) + $47,032 million (long-term) = $49,781 million")
    assert e.computes
    [e] = equalities("Margin = ($9,912 / $46,298) * 100 ≈ 21.41%")
    assert e.computes
    [e] = equalities("23% (FY2023) - 20% (FY2022) = 3%")
    assert e.computes
    [e] = equalities("12% (FY2023) - 20% (FY2022) = 3%")
    assert not e.computes


def test_chained_formula_compares_steps_by_value():
    assert all(e.computes for e in equalities("(11.35% + 4.50% + 15.00%) / 3 = 30.85% / 3 = 10.28%"))
    assert not all(e.computes for e in equalities("(11.35% + 4.50% + 15.00%) / 3 = 40.85% / 3 = 10.28%"))


def test_prose_with_an_equals_sign_is_not_a_formula():
    assert equalities("Gross margin = gross profit / revenue") == []
    assert equalities("Revenue: $5,000 = the largest segment") == []


def test_formula_after_a_lead_in_is_read_but_a_chain_step_is_not_split_at_words():
    [e] = equalities("For 2020, it would be ($58,158 - $63,843) / $58,158 = -9.77%.")
    assert e.computes and e.result.text == "-9.77%" and len(e.terms) == 3
    worked = equalities("The COGS share for FY2016 is (17,405/32,376)*100 = 53.8% "
                        "For FY2017, it is (19,038/34,350)*100 = 55.4%")
    assert [e.result.text for e in worked] == ["53.8%", "55.4%"] and all(e.computes for e in worked)


def test_claim_whose_arithmetic_is_wrong_is_unsupported(checker):
    [v] = check(checker, "Net income + provision for income taxes = 2,500 + 700 = 3,900 million in 2023.")
    assert v.verdict == Verdict.unsupported and "does not compute" in v.reason


def test_product_with_a_percentage_of_the_question_is_supported(checker):
    question = "Is any cost above 20% of Globex's net sales in 2023?"
    answer = "20% of net sales of $50,000 million = 0.20 * 50,000 = $10,000 million."
    [v] = check(checker, answer, question=question)
    assert v.verdict == Verdict.supported and quote_at_locator(v, [STATEMENT])


# -- restated results and comparisons -----------------------------------------------------------


def test_result_restated_in_the_conclusion_is_supported(checker):
    answer = ("The net profit margin was 2,500 / 50,000 = 5.0% in 2023 and 1,600 / 40,000 = 4.0% in 2022. "
              "The average net profit margin is (5.0% + 4.0%) / 2 = 4.5%. "
              "So the average net profit margin for the two years is 4.5%.")
    assert all(v.verdict == Verdict.supported for v in check(checker, answer))


def test_restated_figure_of_another_measure_is_not_supported(checker):
    answer = "Net income was $2,500 million in 2023. Total debt was $2,500 million in 2023."
    first, second = check(checker, answer)
    assert first.verdict == Verdict.supported and second.verdict == Verdict.unsupported


def test_comparison_reference_to_an_established_figure_is_supported(checker):
    question = "Is any cost above 20% of Globex's net sales in 2023?"
    answer = ("20% of net sales of $50,000 million = 0.20 * 50,000 = $10,000 million. "
              "Cost of sales of $30,000 million is greater than $10,000 million.")
    assert all(v.verdict == Verdict.supported for v in check(checker, answer, question=question))


# -- ratios within one period column -------------------------------------------------------------


def test_margin_is_computed_from_the_revenue_row_of_the_period(checker):
    [v] = check(checker, "Net profit margin in 2023: 5.0%")
    assert v.verdict == Verdict.supported
    [wrong] = check(checker, "Net profit margin in 2023: 6.0%")
    assert wrong.verdict == Verdict.unsupported


def test_a_profit_line_as_a_percentage_of_sales_is_its_margin(checker):
    [v] = check(checker, "Net income as a percentage of net sales was 5.0% in 2023.")
    assert v.verdict == Verdict.supported, v.reason
    # (2,500 - 1,600) / 1,600 is net income's growth, not its share of sales, and 2024 is no column
    outlook = SourcePage(doc_id="globex-2023-10k", page=30, text="Our notes mature in 2024 and 2025.\n")
    question = "What is the change in Globex's net income % margin from FY2023 to FY2024?"
    for claim in ("Net income as a percentage of net sales was 56.3% in 2023.",
                  "FY2024: Net income as a percentage of net sales = 56.3%."):
        [wrong] = check(checker, claim, question, (STATEMENT, outlook))
        assert wrong.verdict == Verdict.unsupported, (claim, wrong.reason)


def test_a_difference_of_two_percentages_is_a_subtraction():
    from rewards.arithmetic import derive_figure

    tol = Tolerances(additive=0.05, multiplicative=0.06)
    text = "The difference between these two percentages is 0.1%."
    [q] = extract_quantities(text)
    aligned = [(34.0, None), (22_764.0, None)]  # 34 / 22,764 is 0.15%: a quotient, no difference of rates
    assert derive_figure(q, [], aligned, tol, claim_text=text) is None
    assert derive_figure(q, [], aligned, tol, claim_text="Interest was 0.1% of operating income.") is not None
    found = derive_figure(q, [4.3, 4.2], [], tol, claim_text=text)  # the answer's own two margins
    assert found is not None and "-" in found.expression


def test_the_difference_of_two_stated_margins_is_checked_as_one(checker):
    margins = "Net profit margin was 5.0% in 2023 and 4.0% in 2022."
    # "difference" is arithmetic, not a measure the sources must name
    assert [v.verdict for v in check(checker, f"{margins} The difference between these two percentages is 1.0%.")] \
        == [Verdict.supported, Verdict.supported]
    assert check(checker, f"{margins} The difference between these two percentages is 1.4%.")[1].verdict \
        == Verdict.unsupported


def test_rate_is_a_ratio_of_rows_that_name_it(checker):
    question = "What was Globex's effective tax rate in 2022?"
    [v] = check(checker, "The effective tax rate for 2022 was 20.0% of income before income taxes.", question=question)
    assert v.verdict == Verdict.supported  # 400 / 2,000
    [v] = check(checker, "The effective tax rate for 2022 was 24.0%.", question=question)
    assert v.verdict == Verdict.unsupported


def test_a_loss_makers_effective_tax_rate_is_its_rows_ratio_whatever_else_the_pages_hold(checker):
    statement = SourcePage(doc_id="initech-2022-10k", page=55, text=(
        "INITECH CORP.\nConsolidated Statements of Operations\n(Dollars in millions)\nYears ended December 31, "
        "2022 2021\nTotal revenues 66,608 62,286\nFinance interest expense (28) (32)\n"
        "Loss before income taxes (5,022) (5,033)\nIncome tax (expense)/benefit (31) 743\nNet loss (5,053) (4,290)\n"))
    note = SourcePage(doc_id="initech-2022-10k", page=79, text=(
        "Unrecognized tax benefits of $878, $790 and $734 would affect the effective tax rate if recognized.\n"))
    question = "How does Initech's effective tax rate in FY2022 compare to FY2021?"
    # 28 / 790 is 3.5%, but those rows are not income taxes over pre-tax income, which the page holds
    claim = "Initech's effective tax rate in FY2022 was 3.5% compared to 14.4% in FY2021."
    [v] = checker.check(question, claim, [statement, note])
    assert v.verdict == Verdict.unsupported, v.reason
    claim = "Initech's effective tax rate in FY2022 was 0.6% compared to 14.8% in FY2021."  # 31 / 5,022; 743 / 5,033
    [v] = checker.check(question, claim, [statement, note])
    assert v.verdict == Verdict.supported, v.reason


def test_a_figures_label_in_parentheses_names_its_row(checker):
    # 2,500 is net income on the page, not net sales
    [v] = check(checker, "Revenue = $2,500 million (Net sales) + $10 million (Other income) = $2,510 million in 2023.")
    assert v.verdict == Verdict.unsupported and "$2,500 million" in v.reason, v.reason
    # a remark on where the figure is from is no row caption
    [v] = check(checker, "Net sales were $50,000 million (from the income statement) in 2023.")
    assert v.verdict == Verdict.supported, v.reason


@pytest.mark.parametrize(("claim", "changes"), [
    ("The effective tax rate was 3.5% compared to 14.4% in 2021.", [False, False]),
    ("The rate increased by 2.7 percentage points to 21.0%.", [True, False]),
    ("Gross margin was 35.0%, up from 33.0%.", [False, False]),
    ("Margin fell 1.5% to 20.0%.", [True, False]),
    ("A 2.7 point increase took it to 21.0%.", [True, False]),
])
def test_a_figure_states_a_change_only_by_the_words_around_it(claim, changes):
    from rewards.arithmetic import states_change

    assert [states_change(q, claim) for q in extract_quantities(claim)] == changes


def test_plain_ratio_never_pairs_two_columns():
    claim = extract_quantities("41%")[0]
    tol = Tolerances(additive=0.5, multiplicative=0.6)
    assert derive_pair(claim, [287.0, 693.0], tol) is not None
    assert derive_pair(claim, [287.0, 693.0], tol, groups=[("p", 1, 10), ("p", 1, 30)]) is None
    growth = extract_quantities("25%")[0]  # a growth rate spans two columns by construction
    assert derive_pair(growth, [50_000.0, 40_000.0], tol, groups=[("p", 1, 10), ("p", 1, 30)]) is not None


def test_growth_needs_change_words_and_a_complement_stays_in_one_column():
    tol = Tolerances(additive=0.05, multiplicative=0.06)
    share = extract_quantities("56.3%")[0]  # (2,500 - 1,600) / 1,600: growth, not a share
    assert derive_pair(share, [2_500.0, 1_600.0], tol, growth=False) is None
    assert derive_pair(share, [2_500.0, 1_600.0], tol).expression == "(2,500 - 1,600) / 1,600 × 100"
    margin = extract_quantities("40%")[0]  # (50,000 - 30,000) / 50,000: a share's complement
    same, other = [("p", 1, 10), ("p", 1, 10)], [("p", 1, 10), ("p", 1, 30)]
    assert derive_pair(margin, [30_000.0, 50_000.0], tol, growth=False, groups=same).expression == (
        "(50,000 - 30,000) / 50,000 × 100")
    assert derive_pair(margin, [30_000.0, 50_000.0], tol, growth=False, groups=other) is None


@pytest.mark.parametrize("answer, supported", [
    ("Net income grew 56.3% in 2023.", True),
    ("Net income was 56.3% of net sales in 2023.", False),  # 56.3% apart is not 56.3% of
    # An answer figure over any figure of the pages: 2,500 / 9,000 is 27.8%, by chance.
    ("Net income was $2,500 million in 2023. Its payout ratio was 27.8%.", False),
    ("Net income was $2,500 million and total debt $9,000 million in 2023. Net income was 27.8% of total debt.", True),
])
def test_a_percentage_is_derived_from_figures_that_measure_it(checker, answer, supported):
    *_, v = check(checker, answer, question="What do Globex's 2023 results show?")
    assert (v.verdict == Verdict.supported) is supported, v.reason


def test_a_rate_from_the_evidence_windows_uses_figures_whose_rows_name_it(checker):
    question = "What was Globex's effective tax rate?"
    [right] = check(checker, "The effective tax rate was 20% in 2022.", question=question)  # 400 / 2,000
    assert right.verdict == Verdict.supported
    # 400 / 1,600 is 25%, but 1,600 is net income: a row that does not name the tax rate.
    [wrong] = check(checker, "The effective tax rate was 25% in 2022.", question=question)
    assert wrong.verdict == Verdict.unsupported


def test_change_column_percentage_is_not_a_rate(checker):
    question = "What was Globex's effective tax rate in 2023?"
    [v] = check(checker, "The effective tax rate was 12% in 2023.", question=question, sources=(SEGMENTS,))
    assert v.verdict == Verdict.unsupported
    [v] = check(checker, "The provision for income taxes changed by 12% from 2022 to 2023.", question=question,
                sources=(SEGMENTS,))
    assert v.verdict == Verdict.supported


def test_amount_is_not_the_sum_of_two_rows_unless_the_claim_combines(checker):
    [v] = check(checker, "Globex's net income was $4,100 million in 2023.")  # 2,500 + 1,600
    assert v.verdict == Verdict.unsupported
    [v] = check(checker, "Net income for 2022 and 2023 combined was $4,100 million.")
    assert v.verdict == Verdict.supported


def test_figures_of_two_filings_are_never_combined(checker):
    initech = SourcePage(doc_id="initech-2023-10k", page=40, text=(
        "Liquidity and cash\nIn fiscal 2023 we recognized a non-cash tax benefit of $353 million as a result of a "
        "reorganization.\n"))
    globex = SourcePage(doc_id="globex-2023-10k", page=41, text=(
        "Cash flows\nInvesting activities resulted in a cash outflow of $747 million, compared to $510 million.\n"))
    claim = "Cash at the end of the quarter was $1.1 billion, compared to the end of last fiscal year."
    [v] = checker.check("Was there any drop in cash between FY2023 and Q2 of FY2024?", claim, [initech, globex])
    assert v.verdict == Verdict.unsupported, v.reason  # not 353 million + 747 million
    # the same two figures in one filing are still a sum when the claim combines them
    both = SourcePage(doc_id="initech-2023-10k", page=41, text=globex.text)
    [v] = checker.check("How much did Initech record in total?",
                        "The tax benefit and the investing cash outflow totalled $1.1 billion.", [initech, both])
    assert v.verdict == Verdict.supported, v.reason


# -- sentences that are not claims ---------------------------------------------------------------


@pytest.mark.parametrize("text", [
    "We will then sum up the percentages for each year and divide by 3 to get the average.",
    "From the margin, we can derive the cost share by subtracting the margin from 100%.",
    "Since the question asks for millions, we convert this figure by dividing by 1,000.",
    "- Number of Years: 2",
    "However, these calculations may not accurately reflect the margin.",
    "The margin should be considered alongside other metrics.",
    "Gross margin is a relevant metric for a retailer because it shows what is left of sales.",
    "Gross margin reflects the company's ability to manage its costs.",
    "It's a key indicator of a company's financial health.",
    "Therefore, to express the amount in millions, you simply divide by 1,000.",
    "3. Convert the result to a percentage.",
    "This information is presented in USD millions.",
])
def test_method_hedge_and_metric_meaning_are_framing(text):
    assert sentence_kind(text) == "framing"


@pytest.mark.parametrize("text", ["Therefore, the answer is no.", "The short answer is \"yes\"."])
def test_the_answer_is_yes_or_no_says_no_more_than_a_bare_yes_or_no(text):
    assert sentence_kind(text) == "filler" == sentence_kind("No.")


def test_undetermined_from_the_sources_is_an_abstention():
    assert sentence_kind("The trend cannot be determined based solely on the provided information.") == "abstention"


@pytest.mark.parametrize("text", [
    "We divide 9,912 by 46,298 to get 21.4%.",
    "Gross margin was 21.4% in 2023.",
    "The chief executive enjoys sailing on most weekends.",
    "Convert Holdings reported revenue of $5 million.",
    "The answer is yes, revenue grew 5%.",
])
def test_facts_stay_claims(text):
    assert sentence_kind(text) == "claim"


# -- conclusions ----------------------------------------------------------------------------------


def test_restates_needs_established_words_names_from_the_question_and_no_negation():
    question = "does globex have an improving net profit margin?"
    established = ("the net profit margin improved from 4.0% in 2022 to 5.0% in 2023; "
                   "debt decreased from 10,000 to 9,000.")
    assert restates("Based on these calculations, Globex has an improving net profit margin.", question, established)
    assert restates("Instead, it has decreased its debt.", question, established)
    assert not restates("Globex does not have an improving net profit margin.", question, established)
    assert not restates("Globex plans to acquire a shipping line.", question, established)
    # The question's predicate restated as the answer is the claim to check, not framing.
    assert not restates("Globex has an improving net profit margin.", question,
                        "net profit margin was 5.0% in 2023 and 4.0% in 2022")


def test_conclusion_after_verified_figures_is_not_judged_but_names_still_are(checker):
    question = "What was Globex's net profit margin in 2023 and 2022?"
    answer = ("Net profit margin in 2023: 5.0%. Net profit margin in 2022: 4.0%. "
              "Therefore, Globex's net profit margin in 2023 was 5.0%.")
    verdicts = check(checker, answer, question=question)
    assert verdicts and all(v.verdict == Verdict.supported for v in verdicts)
    wrong_name = answer.replace("Therefore, Globex", "Therefore, Initech")
    assert any(v.verdict == Verdict.unsupported and "Initech" in v.reason
               for v in check(checker, wrong_name, question=question))


def test_a_yes_no_conclusion_in_the_questions_words_is_still_checked(checker):
    """Right figures, wrong conclusion: the margin rose, the answer says it is declining."""
    question = "Does Globex have a declining net profit margin?"
    answer = ("Net profit margin in 2023: 5.0%. Net profit margin in 2022: 4.0%. "
              "Therefore, Globex has a declining net profit margin.")
    verdicts = check(checker, answer, question=question)
    # It is judged (not skipped as framing). Whether "declining" contradicts 5.0% > 4.0% is beyond
    # lexical + MiniLM alignment: the `nli` and `teacher` checkers are for that (BENCHMARKS.md).
    assert any("declining" in v.text for v in verdicts)


def test_conclusion_without_verified_figures_is_judged(checker):
    question = "Does Globex have an improving margin profile?"
    [v] = check(checker, "Globex has an improving margin profile.", question=question)
    assert v.verdict != Verdict.supported


def test_a_derived_figure_is_explained_by_the_evidence_rows_not_the_answers_own_numbers(checker):
    """4.0% is also 5.0 − 1 among the answer's figures; the reason an auditor reads must be the
    source rows it comes from."""
    answer = "Net profit margin in 2023: 5.0%. Net profit margin in 2022: 4.0%."
    first, second = check(checker, answer, question="What was Globex's net profit margin in 2023 and 2022?")
    assert first.verdict == second.verdict == Verdict.supported
    assert "1,600 / 40,000" in second.reason


# -- relative periods -----------------------------------------------------------------------------


def test_relative_period_resolves_one_year_before_its_anchor():
    from rewards.periods import extract_periods, with_relative

    text = ("In fiscal 2023 net sales were $50,000 million, up from $40,000 million in the prior year; "
            "year-over-year growth in prior years was lower.")
    periods = with_relative(text, extract_periods(text))
    assert [(p.text, p.year, p.relative) for p in periods] == [("fiscal 2023", 2023, False),
                                                               ("the prior year", 2022, True)]
    assert with_relative("Sales rose from the previous year.", []) == []  # no anchor: no period


def test_figure_stated_for_the_previous_year_is_read_from_that_column(checker):
    question = "What were Globex's net sales in 2023?"
    [right] = check(checker, "In 2023 net sales were $50,000 million, up from $40,000 million in the previous year.",
                    question)
    assert right.verdict == Verdict.supported, right.reason
    [swapped] = check(checker, "In 2023 net sales were $40,000 million, up from $50,000 million in the previous year.",
                      question)
    assert swapped.verdict == Verdict.unsupported
    # "the prior year" is not a stated year: it is not flagged as a period the sources lack.
    [alone] = check(checker, "Net income was $1,600 million in the prior year, against $2,500 million in 2023.",
                    question)
    assert alone.verdict == Verdict.supported, alone.reason


# -- a result stated before its working ----------------------------------------------------------

BALANCE = SourcePage(
    doc_id="square-2016-10k", page=67,
    text=("SQUARE,INC.\nCONSOLIDATEDBALANCESHEETS\n(In thousands)\nDecember31,\n2016\n2015\n"
          "Totalcurrentassets\n1,001,425\n705,563\nTotalcurrentliabilities\n577,464\n442,111\n"),
)


def test_working_capital_ratio_is_the_current_ratio_even_on_labels_without_spaces(checker):
    question = "What is Square's FY2016 working capital ratio?"
    [v] = check(checker, "The working capital ratio for FY2016 is 1.73.", question=question, sources=(BALANCE,))
    assert v.verdict == Verdict.supported and "current ratio" in v.reason
    [wrong] = check(checker, "The working capital ratio for FY2016 is 1.60.", question=question, sources=(BALANCE,))
    assert wrong.verdict == Verdict.unsupported


CASH_FLOWS = SourcePage(
    doc_id="globex-2023-10k", page=14,
    text=("CONSOLIDATED STATEMENTS OF CASH FLOWS\n(in millions)\nYear Ended December 31,\n2023\n2022\n"
          "Net cash provided by operating activities\n3,000\n2,800\n"
          "Purchases of property and equipment\n(400)\n(300)\n"),
)


def test_a_result_stated_before_the_working_that_computes_it_is_supported(checker):
    question = "What was Globex's 2023 free cash flow (operating cash flow less capital expenditures)?"
    answer = ("Globex's free cash flow for 2023 was $2,600 million. Net cash provided by operating activities "
              "was $3,000 million and purchases of property and equipment were $400 million, "
              "so $3,000 million - $400 million = $2,600 million.")
    sources = (CASH_FLOWS, STATEMENT)
    assert all(v.verdict == Verdict.supported for v in check(checker, answer, question=question, sources=sources))
    # Read again, a figure of a later claim restates an earlier one's; it is never an operand of it.
    coincidence = ("Globex's free cash flow for 2023 was $6,000 million. Net cash provided by operating activities "
                   "was $3,000 million in 2023, and total debt was $9,000 million in 2023.")
    verdicts = check(checker, coincidence, question=question, sources=sources)
    assert [v.verdict for v in verdicts] == [Verdict.unsupported, Verdict.supported]


def test_a_restated_result_does_not_stand_in_for_the_computation_the_question_defines(checker):
    question = ("What is Square's FY2016 working capital ratio? Define working capital ratio as total current "
                "assets divided by total current liabilities.")
    answer = "1,001,425 / 577,464 = 0.73. So Square's working capital ratio for FY2016 was 0.73."
    assert check(checker, answer, question=question, sources=(BALANCE,))[-1].verdict == Verdict.unsupported


# -- column groups (side-by-side segment tables) -------------------------------------------------

SEGMENT_RESULTS = SourcePage(
    doc_id="globex-2023q1-10q", page=18,
    text=("Segment results\nThree months ended March 31,\nWidgets\nGadgets\nServices\n(in millions)\n"
          "2023\n2022\nChange\n2023\n2022\nChange\n2023\n2022\nChange\n"
          "Total net revenue\n$ 12,517 \n$ 13,287 \n (6) %\n$ 14,605 \n$ 10,003 \n 46 %\n"
          "$ \n2,393 \n$ \n2,165 \n 11 %\n"
          "Total noninterest expense\n7,202 \n7,269 \n (1) \n7,104 \n5,955 \n 19 \n969 \n986 \n (2) \n"),
)


def test_a_segment_column_group_states_the_figure_of_its_own_columns(checker):
    from rewards.column_groups import figure_groups

    groups = figure_groups(SEGMENT_RESULTS.text)
    assert groups[SEGMENT_RESULTS.text.index("$ 14,605")] == "Gadgets"
    assert groups[SEGMENT_RESULTS.text.index("986")] == "Services"
    question = "Which of Globex's segments had the lowest net revenue in the first quarter of 2023?"
    verdict = {answer: check(checker, answer, question=question, sources=(SEGMENT_RESULTS,))[0].verdict
               for answer in ("Widgets: $12,517 million", "Services: $2,393 million", "Widgets: $14,605 million",
                              "Gadgets had total noninterest expense of $7,104 million.",
                              "Gadgets had total noninterest expense of $7,202 million.")}
    assert list(verdict.values()) == [Verdict.supported, Verdict.supported, Verdict.unsupported,
                                      Verdict.supported, Verdict.unsupported]


def test_a_caption_above_a_header_is_not_a_column_group():
    from rewards.column_groups import figure_groups

    assert figure_groups(STATEMENT.text) == {}
    caption = "Globex Inc.\nConsolidated Balance Sheets\n2023\n2022\nTotal assets\n9,000\n8,000\n"
    assert figure_groups(caption) == {}


def test_a_footnote_marker_between_cells_does_not_split_a_segment_row(checker):
    # SEC tables put footnote markers after a figure ("5,645 (a)"); the row's cells stay one row.
    from rewards.column_groups import figure_groups

    page = SourcePage(doc_id="globex-2023q1-10q", page=20, text=SEGMENT_RESULTS.text + (
        "Net income/(loss)\n3,100 \n5,645 \n(a)\n (45) \n3,725 \n5,020 \n(a)\n (26) \n994 \n1,422 \n(a)\n (30) \n"))
    groups = figure_groups(page.text)
    assert groups[page.text.index("3,725")] == "Gadgets" and groups[page.text.index("994")] == "Services"
    question = "In the first quarter of 2023, which of Globex's segments had the highest net income?"
    verdict = {answer: check(checker, answer, question=question, sources=(page,))[0].verdict
               for answer in ("- Gadgets: $3.725 billion", "- Services: $0.994 billion", "- Services: $3.725 billion")}
    assert list(verdict.values()) == [Verdict.supported, Verdict.supported, Verdict.unsupported]


def test_the_value_a_question_prescribes_for_an_absent_item(checker):
    # "If restructuring costs are not explicitly outlined then state 0.": stating 0 is supported when no
    # source names the item, and checked like any figure when one does.
    question = ("What is the quantity of restructuring costs outlined in Globex's income statement for FY2023? "
                "If restructuring costs are not explicitly outlined then state 0.")
    statement = SourcePage(doc_id="globex-2023-10k", page=50, text=(
        "Consolidated Statements of Operations\n(in millions)\n2023\n2022\nNet revenue\n9,000\n8,000\n"
        "Cost of revenue\n5,000\n4,500\nNet income\n1,200\n1,100\n"))
    charged = SourcePage(doc_id="globex-2023-10k", page=51, text=statement.text + "Restructuring costs\n45\n30\n")
    assert check(checker, "Therefore, the restructuring costs for FY2023 are 0.", question=question,
                 sources=(statement,))[0].verdict == Verdict.supported
    assert check(checker, "Therefore, the restructuring costs for FY2023 are 0.", question=question,
                 sources=(charged,))[0].verdict == Verdict.unsupported
    assert check(checker, "Therefore, the restructuring costs for FY2023 are 5.", question=question,
                 sources=(statement,))[0].verdict == Verdict.unsupported
    # What the sources are said to lack must be the asked company's.
    named = check(checker, "The filing does not outline restructuring costs for Initech. Therefore, the answer is 0.",
                  question=question, sources=(statement,))
    assert [v.verdict for v in named] == [Verdict.unsupported, Verdict.supported] and "Initech" in named[0].reason
    # Said without the figure, the item's absence is the same answer, checked the same way.
    absent = ("Based on Globex's 2023 10-K filing, it does not appear that restructuring costs are explicitly "
              "outlined in the income statement.")
    assert check(checker, absent, question=question, sources=(statement,))[0].verdict == Verdict.supported
    assert check(checker, absent, question=question, sources=(charged,))[0].verdict == Verdict.unsupported
    other_year = absent.replace("2023 10-K", "2021 10-K")
    assert check(checker, other_year, question=question, sources=(statement,))[0].verdict == Verdict.unsupported


def test_a_claim_is_not_aligned_on_the_words_of_its_attribution(checker):
    # "Based on Globex's consolidated statements of income for the year ended December 31, 2023, …" names
    # the statement's header; what the claim asserts after it is what must be in the sources.
    claim = ("Based on Globex's consolidated statements of income for the year ended December 31, 2023, the "
             "company's gross margin does not appear to be improving compared to prior years.")
    verdict = check(checker, claim, question="Is Globex's gross margin improving?", sources=(STATEMENT,))[0]
    assert verdict.verdict == Verdict.unsupported


def test_a_formula_names_variables_not_companies(checker):
    question = "What is Globex's FY2023 net revenue growth rate? Round to one decimal place."
    statement = SourcePage(doc_id="globex-2023-10k", page=50, text=(
        "Consolidated Statements of Operations\n(in millions)\n2023\n2022\nNet revenue\n9,000\n8,000\n"))
    answer = ("Growth Rate = [(Revenue in Current Year - Revenue in Previous Year) / Revenue in Previous Year] * 100\n"
              "Growth Rate = (($9,000 million - $8,000 million) / $8,000 million) * 100 = 12.5%")
    assert [v.verdict for v in check(checker, answer, question=question, sources=(statement,))] == [
        Verdict.supported]


def test_a_superlative_must_hold_among_the_segments_of_the_table(checker):
    from rewards.premises import prepare_page
    from rewards.superlatives import outranked_group

    question = "Which of Globex's segments had the highest net revenue in the first quarter of 2023?"
    pages = [prepare_page(SEGMENT_RESULTS)]
    assert outranked_group("Gadgets had the highest total net revenue in 2023.", question, pages) is None
    assert outranked_group("Services had the lowest total net revenue.", question, pages) is None
    wrong = outranked_group("Widgets had the highest total net revenue, $12,517 million.", question, pages)
    assert wrong is not None and "Gadgets 14,605" in wrong
    # the 2022 column: Widgets' 13,287 was the highest then
    assert outranked_group("Widgets had the highest total net revenue in 2022.", question, pages) is None
    # a superlative of changes is not read against the levels (this one is the direction checks' to judge)
    assert outranked_group("Services' total net revenue grew the most.", question, pages) is None
    verdict = check(checker, "Widgets had the highest net revenue, $12,517 million.", question=question,
                    sources=(SEGMENT_RESULTS,))[0]
    assert verdict.verdict == Verdict.unsupported and "not the highest" in verdict.reason


def test_capital_expenditures_are_read_under_their_cash_flow_line_names(checker):
    page = SourcePage(doc_id="globex-2023-10k", page=52, text=(
        "Consolidated Statements of Cash Flows\n(in millions)\n2023\n2022\n"
        "Net cash provided by operating activities\n3,676.2\n2,807.0\n"
        "Purchases of land, buildings, and equipment\n(460.8)\n(537.6)\n"))
    question = "What is Globex's FY2023 free cash flow (cash from operations - capex)?"
    verdict = {answer: check(checker, answer, question=question, sources=(page,))[0].verdict
               for answer in ("Capital expenditures in FY2023 were $460.8 million.",
                              "Capex in FY2023 was $460.8 million.",
                              "Capital expenditures in FY2023 were $537.6 million.")}
    assert list(verdict.values()) == [Verdict.supported, Verdict.supported, Verdict.unsupported]


def test_a_result_is_computed_from_the_filings_figures_not_from_their_rounded_restatement(checker):
    page = SourcePage(doc_id="globex-2022-10k", page=63, text=(
        "Consolidated Statements of Earnings\n(in millions)\n2022\n2021\n2020\nNet sales\n65,984\n67,044\n65,398\n"))
    question = "What is Globex's 2 year total revenue CAGR from FY2020 to FY2022?"
    working = "Net sales were $65.4 billion in 2020 and $66.0 billion in 2022. "
    # (65,984 / 65,398) ** 0.5 - 1 = 0.447%; the rounded 66.0 / 65.4 would give 0.457%, "0.5%"
    assert check(checker, working + "The 2-year CAGR was 0.4%.", question=question,
                 sources=(page,))[-1].verdict == Verdict.supported
    assert check(checker, working + "The 2-year CAGR was 0.5%.", question=question,
                 sources=(page,))[-1].verdict == Verdict.unsupported


def test_averaging_needs_an_average_the_claim_says_not_a_row_it_names(checker):
    # "the average total VaR … of $49 million" quotes the row "Average total VaR", and "lower than" is
    # a comparison: 49 is not the mean of two other figures of the page, (50 + 48) / 2.
    page = SourcePage(doc_id="globex-2023q2-10q", page=80, text=(
        "Three months ended June 30,\n2023\n2022\nAverage total VaR\n$ 47\n$ 54\n"
        "Credit portfolio VaR\n50\n48\n"))
    question = "Did Globex's average total VaR decrease in Q2 2023 compared to Q2 2022?"
    claim = "The average total VaR was $47 million in 2023, lower than the average total VaR of {} million in 2022."
    verdict = {v: check(checker, claim.format(v), question=question, sources=(page,))[0].verdict
               for v in ("$54", "$49")}
    assert verdict == {"$54": Verdict.supported, "$49": Verdict.unsupported}
    # an average the claim computes is still read: the mean credit portfolio VaR of the two quarters
    mean = check(checker, "The average credit portfolio VaR over the two quarters was $49 million.",
                 question=question, sources=(page,))[0]
    assert mean.verdict == Verdict.supported, mean.reason


def test_a_figure_written_more_precisely_than_the_page_is_not_a_rounding_of_it(checker):
    # Rounding removes digits: "$1,600.75 million" is not the page's 1,600.1 (0.04% apart), while
    # "$1,600 million" and "$1.6 billion" round it.
    page = SourcePage(doc_id="globex-2019-10k", page=55, text=(
        "Consolidated Balance Sheets\n(in millions)\n2019\n2018\nInventories\n1,600.1\n1,642.2\n"))
    question = "What were Globex's inventories at the end of FY2019?"
    verdict = {v: check(checker, f"Inventories were {v} at the end of FY2019.", question=question,
                        sources=(page,))[0].verdict
               for v in ("$1,600.75 million", "$1,600 million", "$1.6 billion", "$1,600.1 million")}
    assert verdict == {"$1,600.75 million": Verdict.unsupported, "$1,600 million": Verdict.supported,
                       "$1.6 billion": Verdict.supported, "$1,600.1 million": Verdict.supported}


# -- signs of cash flows ----------------------------------------------------------------------------

OUTFLOWS = SourcePage(
    doc_id="globex-2023-10k",
    page=31,
    text=(
        "CONSOLIDATED STATEMENTS OF CASH FLOWS\n(in millions) | 2023 | 2022\n"
        "Net cash provided by operating activities | 3,676.2 | 2,807.0\n"
        "Depreciation and amortization | 594.7 | 620.1\n"
        "Purchases of land, buildings, and equipment | (460.8) | (537.6)\n"
        "Net cash used by investing activities | (1,260.0) | (800.0)\n"
    ),
)
INCOME = SourcePage(
    doc_id="globex-2023-10k",
    page=30,
    text=("CONSOLIDATED STATEMENTS OF OPERATIONS\n(in millions) | 2023 | 2022\n"
          "Operating income | 1,200.0 | 1,100.0\nDepreciation and amortization expense | (300.0) | (280.0)\n"),
)
FCF_QUESTION = "What is Globex's FY2023 free cash flow, defined as cash from operations - capex?"


def test_a_sum_of_opposite_signs_is_never_a_derivation():
    tol = Tolerances(additive=0.05, multiplicative=0.06)
    total = extract_quantities("4,137.0")[0]
    assert derive_pair(total, [3_676.2, 460.8], tol).expression == "3676.2 + 460.8"
    assert derive_pair(total, [3_676.2, 460.8], tol, signs=[1, -1]) is None
    assert derive_pair(total, [3_676.2, 460.8], tol, signs=[1, 0]) is not None  # a sign unknown: no rule
    difference = extract_quantities("3,215.4")[0]  # the signed sum: cash from operations less capex
    assert derive_pair(difference, [3_676.2, 460.8], tol, signs=[1, -1]) is not None


@pytest.mark.parametrize(("answer", "supported"), [
    ("Free cash flow was $3,676.2 million - $460.8 million = $3,215.4 million.", True),
    ("Free cash flow was $3,676.2 million + $(460.8) million = $3,215.4 million.", True),
    ("Free cash flow was $3,676.2 million + $460.8 million = $4,137.0 million.", False),
    # both outflows: adding their magnitudes is a total of cash used, not a sign error
    ("Cash used for capex and investing was $460.8 million + $1,260.0 million = $1,720.8 million.", True),
])
def test_a_cash_outflow_is_not_added_to_an_inflow(checker, answer, supported):
    verdicts = check(checker, answer, question=FCF_QUESTION, sources=(OUTFLOWS,))
    assert all(v.verdict == Verdict.supported for v in verdicts) == supported, [v.reason for v in verdicts]


def test_a_sum_of_ratios_adds_no_outflow(checker):
    # 460.8 / 3,676.2 = 12.5%, 537.6 / 2,807.0 = 19.2%: the terms added are ratios, not the outflow
    question = "What is Globex's FY2022 - FY2023 2 year average of capex as a % of cash from operations?"
    answer = "The average is (460.8 / 3,676.2 + 537.6 / 2,807.0) / 2 * 100 = 15.8%."
    verdicts = check(checker, answer, question=question, sources=(OUTFLOWS,))
    assert all("adds a cash outflow" not in v.reason for v in verdicts), [v.reason for v in verdicts]


def test_a_result_from_earlier_figures_keeps_their_signs(checker):
    answer = ("Cash from operations was $3,676.2 million. Capital expenditures were $(460.8) million. "
              "So free cash flow was $4,137.0 million.")
    verdicts = check(checker, answer, question=FCF_QUESTION, sources=(OUTFLOWS,))
    assert [v.verdict for v in verdicts] == [Verdict.supported, Verdict.supported, Verdict.unsupported]
    right = answer.replace("$4,137.0", "$3,215.4")
    assert all(v.verdict == Verdict.supported for v in check(checker, right, question=FCF_QUESTION,
                                                            sources=(OUTFLOWS,)))


def test_an_expense_added_back_is_not_a_sign_error(checker):
    """EBITDA adds back depreciation an income statement shows in parentheses: an adjustment."""
    answer = "EBITDA was $1,200.0 million + $300.0 million = $1,500.0 million."
    [v] = check(checker, answer, question="What was Globex's FY2023 EBITDA?", sources=(INCOME,))
    assert v.verdict == Verdict.supported, v.reason


def test_a_ratio_to_one_is_not_a_derivation():
    """'907 = 908 / 1': dividing by (or into) 1 is the figure itself, at a ratio's wider tolerance."""
    tol = Tolerances(additive=0.59, multiplicative=2.31)
    stores = extract_quantities("907 stores")[0]
    assert derive_pair(stores, [908.0, 1.0], tol) is None
    half = extract_quantities("0.5")[0]
    assert derive_pair(half, [1.0, 2.0], Tolerances(additive=0.05, multiplicative=0.05)) is None


def test_a_stated_change_is_a_growth_or_a_decline_never_a_plain_ratio():
    from rewards.arithmetic import derive_figure

    tol = Tolerances(additive=0.5, multiplicative=0.5)  # "43%": half its last digit
    # 210 / 489 = 42.9%: one figure 43% of another is no 43% rise; 17,459 / 12,219 - 1 = 42.9% is one
    claim = "AWS segment sales were $17.5 billion, up 43%."
    up = next(q for q in extract_quantities(claim) if q.unit == "%")
    assert derive_figure(up, [], [(210.0, None), (489.0, None)], tol, claim_text=claim) is None
    found = derive_figure(up, [], [(17_459.0, None), (12_219.0, None)], tol, claim_text=claim)
    assert found is not None and found.expression.startswith("(17,459 - 12,219) / 12,219"), found
    share = "AWS sales were 43% of the segments' operating income."  # a level: the ratio stands
    level = next(q for q in extract_quantities(share) if q.unit == "%")
    assert derive_figure(level, [], [(210.0, None), (489.0, None)], tol, claim_text=share) is not None


def test_a_share_of_revenue_is_taken_over_a_revenue_row():
    from rewards.arithmetic import derive_figure

    tol = Tolerances(additive=0.5, multiplicative=0.5)
    claim = "These two categories together make up 46% of Boeing's revenue."
    q = next(q for q in extract_quantities(claim) if q.unit == "%")
    loose = [(32.0, None), (69.0, None)]  # 32 / 69 = 46.4%: two figures of a page, neither a revenue row
    assert derive_figure(q, [], loose, tol, claim_text=claim) is None
    rows = [(30_641.0, ("b", 62, 10, "commercial airplanes")), (66_608.0, ("b", 62, 10, "total revenues"))]
    assert derive_figure(q, [], rows, tol, claim_text=claim) is not None  # 30,641 / 66,608 = 46.0%
    level = "The two categories' margin was 46%."  # no share of revenue named: any ratio of the evidence
    assert derive_figure(extract_quantities(level)[0], [], loose, tol, claim_text=level) is not None


def test_a_figure_alone_in_a_longer_answer_is_layout(checker):
    # "14 [doc p.30]." of a pasted filing: a page number, supported by nothing it says
    answer = "Operating income was $1,200.0 million in 2023 [globex-2023-10k p.30].\n14 [globex-2023-10k p.30]."
    first, second = check(checker, answer, question="What was Globex's operating income in 2023?", sources=(INCOME,))
    assert first.verdict == Verdict.supported and second.verdict == Verdict.unsupported, second.reason
    [bare] = check(checker, "1,200.0", question="What was Globex's operating income in 2023?", sources=(INCOME,))
    assert bare.verdict == Verdict.supported, bare.reason  # a bare answer is the figure asked for
