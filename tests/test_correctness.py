"""rewards.correctness: an answer judged right or wrong against gold (a gold answer's figures within a
tolerance, a gold answer's text, gold evidence quotes, the unanswerable tag), with the real offline
checker on a small hand-built filing. Supported is not correct: the fixture has answers the sources
support that do not answer the question, and a prior-year figure only the full gold page exposes."""

from __future__ import annotations

import pytest

from cai.core.contracts import SourcePage
from rewards.correctness import (
    DEFAULT_TOLERANCE,
    Gold,
    GoldError,
    gold_pages,
    is_answerable,
    judge,
    read_gold,
    same_figure,
)
from rewards.numbers import extract_quantities

D = "acme-2024-10k"
PROSE = SourcePage(doc_id=D, page=3, text=(
    "Acme Corp reported total revenue of $412.3 million in fiscal 2024. Net income was $35.1 million in "
    "fiscal 2024. The company had 1,200 employees at year end. Acme is headquartered in Tacoma, Washington."))
TABLE = SourcePage(doc_id=D, page=7, text=(
    "CONSOLIDATED STATEMENTS OF OPERATIONS\n(in millions)\nFiscal year 2024 2023\nRevenue $ 412.3 $ 380.0\n"
    "Operating income 58.4 51.0\nNet income $ 35.1 $ 30.2\n7"))
OPERATING = "What was Acme's operating income in fiscal 2024?"
OPERATING_GOLD = {"gold": [{"doc": D, "page": 7, "quote": "Operating income 58.4 51.0"}]}


def _q(text: str):
    [q] = extract_quantities(text)
    return q


def test_read_gold_parses_quotes_answers_and_the_unanswerable_tag():
    g = read_gold({"tags": ["numeric"], **OPERATING_GOLD})
    assert g.answerable and g.quotes[0].page == 7 and g.answer is None and g.judgeable
    assert read_gold({"gold_answer": "$58.4 million"}).answer == "$58.4 million"
    assert not read_gold({"tags": ["unanswerable"], "gold": []}).answerable
    assert not read_gold({"answerable": False}).answerable and not is_answerable({"answerable": False})
    assert not read_gold({"tags": ["numeric"]}).judgeable  # nothing to judge against


@pytest.mark.parametrize(("metadata", "field"), [
    ({"gold": "Operating income 58.4"}, "metadata.gold:"),
    ({"gold": [["acme", 7, "q"]]}, "metadata.gold[0]:"),
    ({"gold": [{"page": 7, "quote": "q"}]}, "metadata.gold[0].doc:"),
    ({"gold": [{"doc": D, "page": 0, "quote": "q"}]}, "metadata.gold[0].page:"),
    ({"gold": [{"doc": D, "page": "7", "quote": "q"}]}, "metadata.gold[0].page:"),
    ({"gold": [{"doc": D, "page": 7, "quote": " "}]}, "metadata.gold[0].quote:"),
    ({"gold_answer": 58.4}, "metadata.gold_answer:"),
])
def test_malformed_gold_names_its_field(metadata, field):
    with pytest.raises(GoldError) as e:
        read_gold(metadata)
    assert str(e.value).startswith(field)


def test_figures_agree_within_the_tolerance_at_any_unwritten_scale_and_as_ratio_or_percent():
    gold = _q("$1,577")  # FinanceBench style: the scale is left to the question
    assert same_figure(_q("$1,577 million"), gold) and same_figure(_q("$1.58 billion"), gold)  # 0.2% off
    assert not same_figure(_q("$1.62 billion"), gold)  # 2.7% off
    assert same_figure(_q("$1.62 billion"), gold, tolerance=0.05)
    assert same_figure(_q("66%"), _q("0.66")) and same_figure(_q("0.66"), _q("66.3%"))
    assert not same_figure(_q("70%"), _q("0.66"))
    assert not same_figure(_q("$1,577 million"), _q("$1,577 thousand"))  # both scales written: they differ
    # The gold's own rounding: "$1.8 billion" is any figure that rounds to it, "0.01" any ratio rounding to 0.01.
    assert same_figure(_q("$1,824 million"), _q("$1.8 billion")) and same_figure(_q("1.42%"), _q("0.01"))
    assert not same_figure(_q("$1,900 million"), _q("$1.8 billion"))
    assert DEFAULT_TOLERANCE == 0.01


def test_gold_answer_figures_decide_right_and_wrong():
    gold = Gold(answer="$58.4 million")
    assert judge(OPERATING, "Operating income was $58.4 million in fiscal 2024.", gold).correct
    wrong = judge(OPERATING, "Operating income was $51.0 million in fiscal 2024.", gold)
    assert wrong.correct is False and wrong.method == "figures" and "58.4" in wrong.reason
    two = Gold(answer="Revenue was $412.3 million and operating income $58.4 million.")
    partial = judge("What were revenue and operating income?", "Revenue was $412.3 million.", two)
    assert partial.correct is False and partial.stated == ["$412.3 million"]


def test_gold_answer_without_figures_must_be_stated_by_the_answer(checker):
    gold = Gold(answer="Acme is headquartered in Tacoma, Washington.")
    question = "Where is Acme headquartered?"
    assert judge(question, "Acme is headquartered in Tacoma, Washington.", gold, checker=checker).correct
    # the answer's detail beyond the gold's one line is not held against it
    detailed = ("Acme is headquartered in Tacoma, Washington, where it moved in 2011. It leases its offices "
                "under a ten-year lease.")
    assert judge(question, detailed, gold, checker=checker).correct
    wrong = judge(question, "Acme is headquartered in Boise, Idaho.", gold, checker=checker)
    assert wrong.correct is False and wrong.method == "gold_answer_text" and "Tacoma" in wrong.reason
    # what the answer denies it does not state
    denied = judge(question, "Acme leases its offices under a ten-year lease. The sources do not state that Acme is "
                   "headquartered in Tacoma, Washington.", gold, checker=checker)
    assert denied.correct is False and denied.method == "gold_answer_text"


def test_a_bare_gold_is_matched_as_written(checker):
    question = "In which year was the amount of restructuring costs larger?"
    assert judge(question, "2019 [acme-2024-10k p.7].", Gold(answer="2019"), checker=checker).correct
    assert judge(question, "2018 [acme-2024-10k p.7].", Gold(answer="2019"), checker=checker).correct is False
    assert judge("How many segments does Acme report?", "3", Gold(answer="3"), checker=checker).correct


def test_gold_text_conventions_decide_choices_fallbacks_and_irrelevant_metrics(checker):
    cash = ("Among operations, investing, and financing activities, which brought in the most (or lost the "
            "least) cash flow for Kessler in FY2023?")
    gold = Gold(answer="Among the three, cash flow from operations was the highest for Kessler in FY2023.")
    right = ("Financing activities used the most cash, an outflow of $7.4 billion. Operating activities brought "
             "in the most cash flow for Kessler in FY2023, $5.8 billion.")
    assert judge(cash, right, gold, checker=checker).correct  # "used the most" answers another question
    wrong = judge(cash, "Investing activities brought in the most cash flow for Kessler in FY2023.", gold,
                  checker=checker)
    assert wrong.correct is False and "the gold chooses 'opera" in wrong.reason
    segment = "In which Vandelay segment did sales increase the most from FY21 to FY22?"
    assert judge(segment, "The Data Center segment had the largest increase, up 64%.", Gold(answer="Data Center"),
                 checker=checker).correct
    assert judge(segment, "Vandelay's segments are Data Center and Gaming. Gaming grew the most, up 21%.",
                 Gold(answer="Data Center"), checker=checker).correct is False
    restructuring = ("What is the quantity of restructuring costs in Globex's income statement for FY2022? If "
                     "restructuring costs are not explicitly outlined then state 0.")
    assert judge(restructuring, "The income statement does not outline any restructuring costs.", Gold(answer="0"),
                 checker=checker).correct
    assert judge(restructuring, "Restructuring costs were $12 million.", Gold(answer="0"), checker=checker).correct \
        is False
    margin = ("Are Acme Bank's gross margins historically consistent? If gross margins are not a relevant metric "
              "for a company like this, then please state that and explain why.")
    bank = Gold(answer="Since Acme Bank is a financial institution, gross margin is not a relevant metric.")
    assert judge(margin, "Gross margin is not typically a relevant metric for a bank like Acme Bank.", bank,
                 checker=checker).correct
    assert judge(margin, "Acme Bank's gross margin fluctuated between 63% and 68%.", bank, checker=checker).correct \
        is False


def test_a_yes_no_gold_is_matched_by_the_answers_own_yes_or_no(checker):
    question = "Did Acme's value at risk decrease in Q2 2023 compared with Q2 2022?"
    gold = Gold(answer="Yes. It decreased.")
    right = judge(question, "Yes, average total VaR decreased by $7 million, driven by lower credit exposure.", gold,
                  checker=checker)
    assert right.correct and "yes" in right.reason  # the detail the gold's one line lacks is not held against it
    wrong = judge(question, "No, the risk Acme faced increased.", gold, checker=checker)
    assert wrong.correct is False and "the gold answer says yes" in wrong.reason
    # an answer that restates the question as a statement answers it, negated or not
    restated = "Acme's value at risk decreased in Q2 2023 compared with Q2 2022: average VaR was $47 million."
    assert judge(question, restated, gold, checker=checker).correct
    denied = "Acme's value at risk did not decrease in Q2 2023 compared with Q2 2022."
    assert judge(question, denied, gold, checker=checker).correct is False
    doubted = ("The sources do not state that Acme's value at risk decreased in Q2 2023 compared with Q2 2022. "
               "Average VaR was $47 million.")
    assert judge(question, doubted, gold, checker=checker).correct is False
    named = Gold(answer="Yes, his name is Richard A. Johnson")
    question = "Were there any nominees with substantially more votes against than the others?"
    assert judge(question, "Yes, Richard A. Johnson had 16,105,005 votes against.", named, checker=checker).correct
    other = judge(question, "The answer is yes, Virginia C. Drosos had more votes against.", named, checker=checker)
    assert other.correct is False and "Richard A. Johnson" in other.reason
    # no yes or no in the answer: every claim is checked against the gold text, as before
    assert judge(question, "Virginia C. Drosos had more votes against.", named, checker=checker).correct is False


def test_gold_evidence_needs_the_gold_answer_stated_and_every_claim_supported(checker):
    gold = read_gold(OPERATING_GOLD)
    full = gold_pages(gold, lambda doc, page: TABLE if (doc, page) == (D, 7) else None)
    assert full == [TABLE]

    def verdict(answer: str, pages=full):
        return judge(OPERATING, answer, gold, checker=checker, pages=pages, sources=[PROSE, TABLE])

    assert verdict("Operating income was $58.4 million in fiscal 2024.").correct
    # supported by the sources, and wrong: it does not answer what was asked
    off = verdict("Net income was $35.1 million in fiscal 2024.")
    assert off.correct is False and "none of the gold" in off.reason
    assert checker.check(OPERATING, "Net income was $35.1 million in fiscal 2024.", [PROSE])[0].verdict == "supported"
    # the prior year's column: the full gold page's header shows it; the bare quote cannot
    prior = "Operating income was $51.0 million in fiscal 2024."
    assert verdict(prior).correct is False and "another period" in verdict(prior).reason
    assert verdict(prior, pages=None).correct is True
    # a right figure beside a made-up one is wrong; a true figure from a page the gold does not list is not
    assert verdict("Operating income was $58.4 million in fiscal 2024. Acme had 1,500 employees.").correct is False
    assert verdict("Operating income was $58.4 million in fiscal 2024. Acme had 1,200 employees.").correct


def test_abstention_is_right_only_where_the_gold_has_no_answer(checker):
    unanswerable = read_gold({"tags": ["unanswerable"], "gold": []})
    question = "What was Acme's employee turnover rate in 2024?"
    right = judge(question, "The sources do not state Acme's employee turnover rate.", unanswerable)
    assert right.correct and right.method == "abstention"
    assert judge(question, "Acme's employee turnover rate was 11.2% in 2024.", unanswerable).correct is False
    abstained = judge(OPERATING, "The sources do not state Acme's operating income.", read_gold(OPERATING_GOLD),
                      checker=checker)
    assert abstained.correct is False and "abstains" in abstained.reason
    none = judge(OPERATING, "Operating income was $58.4 million.", read_gold({}), checker=checker)
    assert none.correct is None and none.method is None
