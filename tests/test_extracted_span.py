"""Bare extracted answers (`rewards.extracted_span`): a name, date or short phrase is supported by the
source sentence that answers the question, never by the same words in a sentence about something
else. Hand-built report page."""

from __future__ import annotations

import pytest

from cai.core.contracts import SourcePage, Verdict
from rewards.offline import OfflineChecker

REPORT = SourcePage(doc_id="vandelay-2019-ar", page=7, text=(
    "Our common stock trades on the Nasdaq Global Select Market under the symbol VDLY. "
    "The Group operates defined benefit pension plans in Germany and Switzerland. "
    "Grant Thornton LLP has served as our independent auditor since 2011. "
    "The Company adopted the new lease standard on January 1, 2019. "
    "Our largest customer, Kramerica, accounted for 18% of revenue. "
    "Warehouse rent was $5 million in 2018 and $7 million in 2019. "
    "Germany remains our largest market for latex products."
))


@pytest.fixture(scope="module")
def checker() -> OfflineChecker:
    return OfflineChecker(use_embeddings=False)


def _verdict(checker: OfflineChecker, question: str, answer: str) -> Verdict:
    claims = checker.check(question, answer, [REPORT])
    if not claims:
        return Verdict.unverified
    return Verdict.supported if all(c.verdict == Verdict.supported for c in claims) else Verdict.unsupported


@pytest.mark.parametrize(("question", "answer"), [
    ("What is the symbol of the company's common stock on the Nasdaq Global Select Market?", "VDLY"),
    ("In which countries does the Group operate defined benefit pension plans?", "Germany and Switzerland"),
    ("Who has served as the independent auditor?", "Grant Thornton LLP"),
    ("When did the Company adopt the new lease standard?", "January 1, 2019"),
    ("Which is the largest customer of the company?", "Kramerica"),
])
def test_span_from_the_answering_sentence(checker: OfflineChecker, question: str, answer: str) -> None:
    claims = checker.check(question, answer, [REPORT])
    assert [c.verdict for c in claims] == [Verdict.supported]
    assert claims[0].evidence is not None and answer in claims[0].evidence.quote
    assert claims[0].evidence.quote in REPORT.text


@pytest.mark.parametrize(("question", "answer"), [
    # the sentence answers it, but names the span as the symbol, not the market
    ("Which market is the company's common stock traded on?", "VDLY"),
    # another question's answer from the same page
    ("In which countries does the Group operate defined benefit pension plans?", "Kramerica"),
    # one of the two countries is in another sentence only
    ("In which countries does the Group operate defined benefit pension plans?", "Germany and Austria"),
    # a year read off a sentence that states two years does not say which is larger
    ("In which year was warehouse rent larger?", "2018"),
    # a count or a figure is checked as one, never as a span
    ("How many countries does the Group operate defined benefit pension plans in?", "2"),
])
def test_span_elsewhere_is_not_the_answer(checker: OfflineChecker, question: str, answer: str) -> None:
    assert _verdict(checker, question, answer) != Verdict.supported


TABLE = SourcePage(doc_id="vandelay-2019-ar", page=9, text=(
    " |  | Estimated\n"
    " | Fair value | useful life (in years)\n"
    "Customer relationships | $15,300 | 8\n"
    "Goodwill | 93,776 | Indefinite\n"
    "Trade names | 2,100 | Indefinite\n"
    "\n"
    "The Company adopted the new revenue standard effective January 1, 2018 using the modified "
    "retrospective method."
))


@pytest.mark.parametrize(("question", "answer", "expected"), [
    # a table cell is named by its row label and its column's headings
    ("How long is the estimated useful life for the goodwill?", "Indefinite", Verdict.supported),
    ("How long is the estimated useful life for the customer relationships?", "Indefinite", Verdict.unverified),
    # "effective" introduces the date: it does not name it as something else
    ("When did the Company adopt the new revenue standard?", "January 1, 2018", Verdict.supported),
])
def test_span_in_a_table_cell_and_after_effective(checker: OfflineChecker, question: str, answer: str,
                                                  expected: Verdict) -> None:
    claims = checker.check(question, answer, [TABLE])
    assert ([c.verdict for c in claims] or [Verdict.unverified]) == [expected]
