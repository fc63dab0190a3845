"""Direction of change checked by the offline checker (`rewards.direction`), on hand-built filings
text: a claim's own two figures, a change between two named periods (source table rows and values
the answer established), a number the source states with the opposite word, and the cases left
alone (negation, ambiguous words, two negative values)."""

from __future__ import annotations

import pytest

from cai.core.contracts import SourcePage, Verdict
from rewards.checker import quote_at_locator
from rewards.claims import split_claims
from rewards.direction import DOWN, UP, earlier, movement, pair_change, stated_direction
from rewards.periods import extract_periods

STATEMENT = SourcePage(
    doc_id="globex-2023-10k",
    page=12,
    text=(
        "GLOBEX INC.\nCONSOLIDATED STATEMENTS OF INCOME\n(in millions)\n"
        "Year Ended December 31,\n2023\n2022\n2021\n"
        "Net sales\n50,000\n40,000\n42,000\n"
        "Cost of sales\n30,000\n25,000\n31,000\n"
        "Operating loss\n(500)\n(900)\n(300)\n"
    ),
)
OUTLOOK = SourcePage(
    doc_id="globex-2023-10k",
    page=30,
    text=("Outlook. The widget line is producing at low rates and we expect to gradually increase to 5 per month "
          "in 2024."),
)
QUESTION = "How did Globex's net sales change?"


def verdicts(checker, answer, sources=(STATEMENT,), question=QUESTION):
    return checker.check(question, answer, list(sources))


@pytest.mark.parametrize("claim, supported", [
    ("Net sales increased from $40,000 million in 2022 to $50,000 million in 2023.", True),
    ("Net sales decreased from $40,000 million in 2022 to $50,000 million in 2023.", False),
    ("Net sales were $50,000 million in 2023, up from $40,000 million in 2022.", True),
    ("Net sales were $50,000 million in 2023, down from $40,000 million in 2022.", False),
    ("Net sales rose to $50,000 million in 2023 from $40,000 million in 2022.", True),
    ("Net sales were $40,000 million in 2022 and fell to $50,000 million in 2023.", False),
    ("Net sales were $50,000 million in 2023 compared to $40,000 million in 2022, a decrease.", False),
    # A clause joined by "despite" or "while" still states its own direction.
    ("Despite a decrease in net sales from $40,000 million in 2022 to $50,000 million in 2023, margins held.", False),
    ("Cost of sales fell from $31,000 million in 2021 to $25,000 million in 2022, while net sales decreased from "
     "$40,000 million in 2022 to $50,000 million in 2023.", False),
    # A comparison of the two figures holds or not whatever periods they are of.
    ("Net sales were $50,000 million, which was higher than the $40,000 million of the prior year.", True),
    ("Net sales were $50,000 million, which was lower than the $40,000 million of the prior year.", False),
    ("Net sales of $50,000 million were significantly lower than the prior year's $40,000 million.", False),
    # a figure set off by a comma before the comparative is the difference
    ("Net sales were $50,000 million in 2023, $10,000 million higher than $40,000 million in 2022.", True),
])
def test_a_claims_own_two_figures_must_move_the_way_it_says(checker, claim, supported):
    [v] = verdicts(checker, claim)
    assert (v.verdict == Verdict.supported) is supported, v.reason
    if not supported:
        assert v.reason.startswith(
            "direction contradicts the figures: $40,000 million → $50,000 million is an increase")


@pytest.mark.parametrize("claim, supported", [
    ("Net sales increased 25% in 2023 compared to 2022.", True),
    ("Net sales decreased 25% in 2023 compared to 2022.", False),  # the right growth rate, sign dropped
    ("Net sales increased by $10,000 million in 2023 compared to 2022.", True),
    ("Net sales fell by $10,000 million in 2023 compared to 2022.", False),
])
def test_a_stated_change_between_two_periods_is_read_from_the_table_row(checker, claim, supported):
    [v] = verdicts(checker, claim)
    assert (v.verdict == Verdict.supported) is supported, v.reason


def test_a_figureless_trend_is_supported_by_the_row_and_quotes_it_verbatim(checker):
    [up] = verdicts(checker, "Net sales increased in 2023 compared to 2022.")
    assert up.verdict == Verdict.supported and up.reason == (
        "direction agrees with the figures: 40,000 (2022) → 50,000 (2023)")
    assert quote_at_locator(up, [STATEMENT]) and "50,000" in up.evidence.quote
    [down] = verdicts(checker, "Net sales were lower in 2023 than in 2022.")
    assert down.verdict == Verdict.unsupported and "is an increase; the claim says a decrease" in down.reason
    # 2021 -> 2022 fell: the same row read for the other pair of columns.
    [earlier_years] = verdicts(checker, "Net sales declined in 2022 compared to 2021.")
    assert earlier_years.verdict == Verdict.supported


def test_a_conclusion_is_checked_against_the_values_the_answer_established(checker):
    working = ("Gross margin was (50,000 - 30,000) / 50,000 = 40% in 2023. "
               "Gross margin was (42,000 - 31,000) / 42,000 = 26.2% in 2021. ")
    question = "Is Globex's gross margin improving?"
    *_, improved = verdicts(checker, working + "Therefore, Globex's gross margin improved from 2021 to 2023.",
                            question=question)
    assert improved.verdict == Verdict.supported and "26.2% (2021) → 40% (2023)" in improved.reason
    assert quote_at_locator(improved, [STATEMENT])
    *_, worse = verdicts(checker, working + "Therefore, Globex's gross margin declined from 2021 to 2023.",
                         question=question)
    assert worse.verdict == Verdict.unsupported and worse.reason.startswith("direction contradicts the figures")


def test_a_number_the_source_states_with_the_opposite_word_is_unsupported(checker):
    sources = (STATEMENT, OUTLOOK)
    question = "What production rate does Globex expect for widgets?"
    [ok] = verdicts(checker, "Globex expects to gradually increase widget production to 5 per month in 2024.",
                    sources, question)
    assert ok.verdict == Verdict.supported, ok.reason
    [flipped] = verdicts(checker, "Globex expects to gradually decrease widget production to 5 per month in 2024.",
                         sources, question)
    assert flipped.verdict == Verdict.unsupported
    assert flipped.reason == "direction contradicts the source: it says an increase for 5"


@pytest.mark.parametrize("claim", [
    "Net sales did not decrease from $40,000 million in 2022 to $50,000 million in 2023.",  # negated
    "Despite what was said, net sales did not decrease from $40,000 million in 2022 to $50,000 million in 2023.",
    "The operating loss narrowed from $900 million in 2022 to $500 million in 2023.",  # ambiguous word
    "The operating loss decreased from $(900) million in 2022 to $(500) million in 2023.",  # two negatives
])
def test_directions_that_cannot_be_read_are_left_to_the_other_checks(claim):
    [c] = split_claims(claim)
    change = pair_change(c)
    assert change is None or change.moved is None


def test_direction_words_and_their_measure():
    assert stated_direction("Revenue rose to $5 million", ["revenue"]) == UP
    assert stated_direction("Gross margin improved", ["gross", "margin"]) == UP
    assert stated_direction("The net loss improved", ["net", "loss"]) == DOWN  # a smaller loss
    assert stated_direction("Revenue rose while costs fell", ["revenue", "cost"]) is None
    assert stated_direction("The plan was set up by the board", ["plan"]) is None  # "up" without a change


def test_movement_and_period_order():
    assert movement(40.0, 50.0) == UP and movement(-9.8, 5.3) == UP and movement(5.0, 5.0) == 0
    assert movement(-900.0, -500.0) is None
    fy22, fy23, q2_24 = (extract_periods(t)[0] for t in ("FY2022", "FY2023", "Q2 FY2024"))
    jan23, jul23 = (extract_periods(t)[0] for t in ("January 28, 2023", "July 29, 2023"))
    assert earlier(fy22, fy23) is True and earlier(fy23, q2_24) is True and earlier(jan23, jul23) is True
    # A fiscal label and a date one year apart: the fiscal year may end in either calendar year.
    assert earlier(fy22, jul23) is None and earlier(fy22, fy22) is None


def test_a_direction_noun_after_the_figure_is_read_too(checker):
    page = SourcePage(doc_id="meridian-2024-10k", page=31, text=(
        "Data Center segment revenue was $6.0 billion, a 64% increase compared to the prior year, driven by "
        "higher sales of server processors."))
    question = "What drove Meridian's Data Center revenue in 2024?"
    assert checker.check(question, "Data Center revenue saw a 64% increase.", [page])[0].verdict == Verdict.supported
    flipped = checker.check(question, "Data Center revenue saw a 64% decrease.", [page])[0]
    assert flipped.verdict == Verdict.unsupported and "direction contradicts" in flipped.reason


def test_no_change_is_checked_against_the_values_the_answer_established_later(checker):
    from rewards.direction import SAME

    assert stated_direction("The number of stores did not change from 2022 to 2023", []) == SAME
    assert stated_direction("Net sales remained relatively flat", []) is None  # hedged: a difference allowed
    assert stated_direction("There was no significant change in net sales", []) is None
    # The conclusion first, then the working: the values it compares come after it.
    flat = ("Globex's net sales were unchanged from 2022 to 2023. "
            "Net sales were $40,000 million in 2022 and $50,000 million in 2023.")
    said, *_ = verdicts(checker, flat)
    assert said.verdict == Verdict.unsupported and "is an increase; the claim says no change" in said.reason
    [ok] = verdicts(checker, "Globex's net sales increased from 2022 to 2023.")
    assert ok.verdict == Verdict.supported


def test_no_change_between_a_quarter_and_a_year_it_shares_reads_that_quarter_of_both(checker):
    page = SourcePage(doc_id="meridian-2024q2-10q", page=17, text=(
        "Stores open at the end of the second quarters of fiscal 2024 and fiscal 2023 were as follows:\n"
        "Meridian 908 - (1) 907 931 1 (2) 930\n"))
    question = "Was there any change in the number of Meridian stores between Q2 of FY2024 and FY2023?"
    # "Q2 of FY2024 and FY2023" is Q2 of both years; "the number of stores" measures stores, and a
    # negation or a lead-in names no measure. The figures come after the conclusion.
    answer = ("Based on the filing, there does not appear to be any change in the number of Meridian stores "
              "between Q2 of FY2024 and FY2023. Meridian had 907 stores at the end of Q2 FY2024 compared to "
              "930 stores at the end of Q2 FY2023.")
    said, figures = checker.check(question, answer, [page])
    assert figures.verdict == Verdict.supported, figures.reason
    assert said.verdict == Verdict.unsupported and "the claim says no change" in said.reason, said.reason
    quarters = [[(p.year, p.quarter) for p in extract_periods(text)]
                for text in ("the second quarter of 2023 and 2022", "Q2 2023 revenue and 2022 revenue")]
    assert quarters == [[(2023, 2), (2022, 2)], [(2023, 2), (2022, None)]]
