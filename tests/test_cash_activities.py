"""rewards.cash_activities: the classes of a statement of cash flows compared from their total rows, for the
grounded teacher's answer and the checker's superlative check, on an invented filer's statement."""

from __future__ import annotations

import pytest

from cai.core.contracts import SourcePage
from rewards.cash_activities import activities_answer, asked_activities, outranked_activity
from rewards.checker import get_checker
from rewards.premises import prepare_page

STATEMENT = SourcePage(doc_id="KESSLER_2023_10K", page=48, text=(
    "KESSLER HOLDINGS, INC.\nConsolidated Statements of Cash Flows\n(in millions)\n"
    "Fiscal Years Ended 2023 2022\nOperating activities\nNet earnings $ 1,419 $ 2,454\n"
    "Total cash provided by operating activities 1,824 3,252\nInvesting activities\n"
    "Additions to property and equipment (930) (737)\nTotal cash used in investing activities (962) (1,372)\n"
    "Financing activities\nRepurchase of common stock (1,014) (3,502)\n"
    "Total cash used in financing activities (1,806) (4,297)\n"))
QUESTION = ("Among operations, investing, and financing activities, which brought in the most (or lost the least) "
            "cash flow for Kessler in FY2023?")


def test_a_question_comparing_the_classes_is_read_with_its_ranking_and_year():
    assert asked_activities(QUESTION) == (True, 2023)
    assert asked_activities("Which of Kessler's financing activities used the least cash in FY2022?") is None
    assert asked_activities("What was Kessler's operating cash flow in FY2023?") is None
    least_used = "Which of operating or investing activities used the least cash in FY2022?"
    assert asked_activities(least_used) == (True, 2022)  # the least outflow: the largest total
    assert asked_activities("Which of operating or investing activities brought in the least cash in FY2022?") == (
        False, 2022)


def test_the_answer_states_the_class_with_the_largest_total_and_the_others_signed():
    answer = activities_answer(QUESTION, [prepare_page(STATEMENT)])
    assert answer == ("Operating activities brought in the most cash in FY2023: 1,824 million, against -962 million "
                      "from investing activities and -1,806 million from financing activities [KESSLER_2023_10K p.48].")
    checked = get_checker("offline").check(QUESTION, answer, [STATEMENT])
    assert checked and all(v.verdict == "supported" for v in checked), [v.reason for v in checked]
    assert activities_answer(QUESTION.replace("FY2023", "FY2021"), [prepare_page(STATEMENT)]) is None  # no column


@pytest.mark.parametrize(("claim", "wrong"), [
    ("Investing activities brought in the most cash flow for Kessler in FY2023.", True),
    ("Therefore, among operations, investing, and financing activities, investing activities brought in the "
     "most cash.", True),
    ("Operating activities brought in the most cash flow for Kessler in FY2023.", False),
    ("Financing activities used the most cash in FY2023.", False),  # the largest outflow
    ("Investing activities used the most cash in FY2023.", True),
    ("Since investing activities were an inflow, this category brought in the most cash or lost the least.", True),
    ("Operating income was the highest in the company's history.", False),  # no class of cash flows
])
def test_a_claim_naming_another_class_as_the_most_is_outranked(claim, wrong):
    reason = outranked_activity(claim, QUESTION, [prepare_page(STATEMENT)])
    assert (reason is not None) == wrong, reason


def test_the_grounded_teacher_replaces_a_wrong_class_with_the_statement_s_answer():
    import asyncio

    from cai.core.constitution import load_constitution
    from cai.core.contracts import Locator, PageText, SearchHit
    from cai.teachers.grounded import GroundedTeacher
    from rag.quotes import gather_sources

    page = PageText(doc_id=STATEMENT.doc_id, page=STATEMENT.page, text=STATEMENT.text, sentences=[])
    teacher = GroundedTeacher(lambda d, p: page if (d, p) == (page.doc_id, page.page) else None,
                              get_checker("offline"), load_constitution("finance-10k"))
    hit = SearchHit(doc_id=page.doc_id, page=page.page, score=1.0, text=page.text,
                    locator=Locator(doc_id=page.doc_id, page=page.page, char_start=0, char_end=len(page.text),
                                    sentence=0))
    sources, rules = gather_sources([hit], teacher.page), load_constitution("finance-10k").rules
    draft = "Investing activities brought in the most cash flow for Kessler in FY2023."
    critique = asyncio.run(teacher.critique(QUESTION, sources, draft, rules))
    final = asyncio.run(teacher.revise(QUESTION, sources, draft, critique, rules)).text
    assert "Operating activities brought in the most cash in FY2023: 1,824 million" in final, final
    assert "Investing activities brought in the most" not in final, final
