"""A row label answering "which ... the highest ...?" (`rewards.ranked_row`): the row must rank first
(or k-th) among its table's rows in the column the question means. Hand-built report pages."""

from __future__ import annotations

import pytest

from cai.core.contracts import SourcePage, Verdict
from rewards.offline import OfflineChecker
from rewards.premises import prepare_page
from rewards.ranked_row import ranked_row

PAGE = SourcePage(doc_id="initech-2019-ar", page=12, text=(
    " | Total | Fixed rate financial assets | Floating rate financial assets\n"
    "2019 | £m | £m | £m\n"
    "Sterling | 29.1 | 0.1 | 29.0\n"
    "Euro | 115.9 | 1.4 | 114.5\n"
    "US dollar | 98.4 | 8.0 | 90.4\n"
    "Group total | 243.4 | 9.5 | 233.9\n"
    "\n"
    "Currency | Weightage (%) | FY 2019 | FY 2018\n"
    "USD | 53.6 | 70.07 | 64.49\n"
    "GBP | 13.9 | 91.60 | 86.05\n"
    "EUR | 10.1 | 80.82 | 76.16\n"
    "\n"
    "(In Millions) | Dec 30, 2017 | Acquisitions | Dec 29, 2018\n"
    "Data Center Group | $5,421 | $3 | $5,424\n"
    "Mobileye | 10,290 | — | 10,290\n"
    "Client Computing Group | 4,356 | 47 | 4,403\n"
    "Total | $20,067 | $50 | $20,117\n"
))


@pytest.fixture(scope="module")
def checker() -> OfflineChecker:
    return OfflineChecker(use_embeddings=False)


@pytest.mark.parametrize(("question", "answer", "expected"), [
    # the column whose heading the question names in full ("Total"; not "Fixed rate financial assets",
    # whose words it only shares), and the sum line is no peer
    ("In which currency was the total amount of financial assets the smallest?", "Sterling", Verdict.supported),
    ("In which currency was the total amount of financial assets the smallest?", "US dollar", Verdict.unsupported),
    ("In which currency was the total amount of financial assets the largest?", "Euro", Verdict.supported),
    ("In which currency was the total amount of financial assets the largest?", "Group total", None),
    # no column named: the latest period's
    ("What is the most expensive currency?", "GBP", Verdict.supported),
    ("What is the most expensive currency?", "USD", Verdict.unsupported),
    ("What is the least expensive currency?", "USD", Verdict.supported),
    # the asked year's column, and a rank other than the first
    ("Which department has the second highest amount of goodwill in 2017?", "Data Center Group", Verdict.supported),
    ("Which department has the second highest amount of goodwill in 2017?", "Mobileye", Verdict.unsupported),
    ("Which department has the highest amount of goodwill in 2017?", "Mobileye", Verdict.supported),
])
def test_ranked_rows(question: str, answer: str, expected: Verdict | None) -> None:
    verdict = ranked_row(question, answer, [prepare_page(PAGE)])
    assert (verdict.verdict if verdict else None) == expected


def test_no_ranking_or_no_row_is_left_to_the_claim_checks() -> None:
    pages = [prepare_page(PAGE)]
    assert ranked_row("What was the total amount of financial assets in Euro?", "Euro", pages) is None
    assert ranked_row("Which currency was the most expensive?", "Swiss franc", pages) is None


def test_the_checker_reads_the_ranking(checker: OfflineChecker) -> None:
    [claim] = checker.check("What is the most expensive currency?", "EUR", [PAGE])
    assert claim.verdict == Verdict.unsupported and "not the highest" in claim.reason
