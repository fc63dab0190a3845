"""A bare answer is read as an answer to its question: a figure whose claim names no period is the
figure of the one period the question asks about, so the same table row's value for another year
does not support it (a general reading convention; written for this test, not taken from a dataset)."""

from __future__ import annotations

import pytest

from cai.core.contracts import SourcePage, Verdict

PAGE = SourcePage(doc_id="acme-2019-10k", page=41, text=(
    "Consolidated Statements of Operations\n"
    "(in thousands) | 2019 | 2018\n"
    "Net revenue | 412,880 | 377,104\n"
    "Net income | 53,330 | 21,524\n"
    "\n"
    "Net income increased in 2019 mainly because of lower interest expense."
))


@pytest.mark.parametrize(("question", "answer", "expected"), [
    ("What was Acme's net income in 2019?", "$53,330 thousand", Verdict.supported),
    ("What was Acme's net income in 2019?", "$21,524 thousand", Verdict.unsupported),  # that is 2018
    ("What was Acme's net income in 2018?", "$21,524 thousand", Verdict.supported),
    ("What was Acme's net income in 2018?", "$53,330 thousand", Verdict.unsupported),  # that is 2019
    # Two years asked about: no single period to lend, both values stay readable.
    ("What was Acme's net income in 2019 and 2018?", "$53,330 thousand and $21,524 thousand", Verdict.supported),
    # A claim that names its own period keeps it.
    ("What was Acme's net income in 2019?", "Net income was $21,524 thousand in 2018.", Verdict.supported),
])
def test_a_bare_figure_takes_the_period_of_its_question(checker, question, answer, expected):
    verdicts = checker.check(question, answer, [PAGE])
    assert verdicts and all(v.verdict == expected for v in verdicts), [(v.text, v.verdict, v.reason) for v in verdicts]


def test_a_form_name_is_not_a_two_digit_year():
    from rewards.periods import extract_periods

    assert [(p.year, p.quarter) for p in extract_periods("its 2022 Q2 10-Q filing")] == [(2022, None), (None, 2)]
    assert [(p.year, p.quarter) for p in extract_periods("Q2 22 revenue, FY'19")] == [(2022, 2), (2019, None)]


def test_a_split_fiscal_year_is_one_year():
    from rewards.periods import extract_periods

    def years(text: str) -> list[tuple[str, int | None]]:
        return [(p.kind, p.year) for p in extract_periods(text)]

    # the later calendar year names it: 2018/2019 ends in 2019
    assert years("EBIT in 2018/2019 from 2017/18") == [("fy", 2019), ("fy", 2018)]
    assert years("FY18/19 revenue") == [("fy", 2019)]
    # two years that do not follow each other, and a date, are no fiscal year
    assert years("between 2018/2020") == [("year", 2018), ("year", 2020)]
    assert years("paid on 12/31/2019") == [("year", 2019)]
