"""Bare counts of a table's line items (issue #17, `rewards.asked_count`): the group under a caption
or above its sum line, with and without a threshold. Hand-built report page; each count has a wrong
count beside it."""

from __future__ import annotations

import pytest

from cai.core.contracts import SourcePage, Verdict
from rewards.asked_count import asked_count
from rewards.premises import prepare_page

PAGE = SourcePage(doc_id="globex-2019-ar", page=7, text=(
    " | 2019 | 2018\n"
    "Deferred tax assets:\n"
    "Net operating loss carryforwards | $61,200 | $58,100\n"
    "Accrued expenses | 12,400 | 11,900\n"
    "Inventories | 55,300 | 49,800\n"
    "Gross deferred tax assets | 128,900 | 119,800\n"
    "Less valuation allowance | (20,000) | (18,000)\n"
    "\n"
    " | 2019 | 2018\n"
    "Cost of revenues | 2,193 | 2,315\n"
    "Sales and marketing | 6,812 | 6,596\n"
    "Research and development | 4,804 | 6,137\n"
    "Total stock-based compensation expense | 13,809 | 15,048\n"
))


@pytest.mark.parametrize(("question", "answer", "expected"), [
    # the items under the caption, up to the line that sums them ("Gross deferred tax assets")
    ("How many components are there under deferred tax assets?", "3", Verdict.supported),
    ("How many components are there under deferred tax assets?", "4", Verdict.unsupported),
    # the items above a total line the question names
    ("How many categories are there under total stock-based compensation expense?", "3", Verdict.supported),
    ("How many categories are there under total stock-based compensation expense?", "5", Verdict.unsupported),
    # with a threshold in the asked year's column, read at the table's unit
    ("How many components of deferred tax assets exceeded $50,000 thousand in 2019?", "2", Verdict.supported),
    ("How many components of deferred tax assets exceeded $50,000 thousand in 2018?", "1", Verdict.supported),
    ("How many components of deferred tax assets exceeded $50,000 thousand in 2018?", "2", Verdict.unsupported),
])
def test_counts_of_line_items(question: str, answer: str, expected: Verdict) -> None:
    verdict = asked_count(question, answer, [prepare_page(PAGE)])
    assert verdict is not None and verdict.verdict == expected, verdict


def test_what_it_cannot_read_is_left_to_the_claim_checks() -> None:
    pages = [prepare_page(PAGE)]
    assert asked_count("How many employees did the company have?", "3", pages) is None  # no group named
    assert asked_count("How many years did accrued expenses exceed 12,000?", "1", pages) is None  # asked_lookup's
    assert asked_count("How many components are there under deferred tax assets?", "$3", pages) is None


def test_the_checker_reads_a_count_off_its_group() -> None:
    from rewards.offline import OfflineChecker

    checker = OfflineChecker(use_embeddings=False)
    question = "How many components are there under deferred tax assets?"
    assert [v.verdict for v in checker.check(question, "3", [PAGE])] == [Verdict.supported]
    assert [v.verdict for v in checker.check(question, "6", [PAGE])] == [Verdict.unsupported]
