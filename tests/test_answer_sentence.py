"""A bare answer read off prose must be the figure of the sentence that answers the question
(`rewards.answer_sentence`). Pages written for these tests."""

from __future__ import annotations

from cai.core.contracts import SourcePage, Verdict

PAGE = SourcePage(doc_id="corvane-2024-10k", page=81, text=(
    "Stock-based compensation\n\n"
    "In connection with the vesting and release of RSUs, the tax benefits realized by the company "
    "for the year ended December 31, 2024 were $48 million. "
    "As of December 31, 2024, there was $612 million of unrecognized compensation cost related to "
    "non-vested RSUs, expected to be recognized over 2.9 years. "
    "In 2024 the company acquired 36 stores from its franchisees. "
    "Of the 36 stores acquired in 2024, the company closed five and sold 21 to new franchisees."
))


def _verdict(checker, question: str, answer: str) -> Verdict:
    verdicts = checker.check(question, answer, [PAGE])
    assert len(verdicts) == 1, [(v.text, v.verdict, v.reason) for v in verdicts]
    return verdicts[0].verdict


def test_the_sentence_naming_the_question_measure_gives_the_answer(checker):
    question = "As of December 31, 2024, what was the unrecognized compensation cost related to non-vested RSUs?"
    assert _verdict(checker, question, "$612 million") == Verdict.supported
    # Printed on the page, but as the tax benefits realized: another sentence names what is asked.
    verdicts = checker.check(question, "$48 million", [PAGE])
    assert verdicts[0].verdict == Verdict.unsupported
    assert "another figure of the sources answers the question: $612 million" in verdicts[0].reason
    # Asked the other way round, the roles swap.
    question = "What were the tax benefits realized for the year ended December 31, 2024?"
    assert _verdict(checker, question, "$48 million") == Verdict.supported
    assert _verdict(checker, question, "$612 million") == Verdict.unsupported


def test_a_bare_answer_that_repeats_the_question_figure_answers_nothing(checker):
    question = "Of the 36 stores acquired in 2024, how many were sold to new franchisees?"
    assert _verdict(checker, question, "21") == Verdict.supported
    verdicts = checker.check(question, "36", [PAGE])
    assert verdicts[0].verdict == Verdict.unsupported and "repeats a figure of the question" in verdicts[0].reason


def test_figures_of_one_sentence_and_computed_answers_are_not_ranked(checker):
    # "36" and "21" share a sentence: which figure its words belong to is syntax, not a word count.
    assert _verdict(checker, "How many stores were closed or sold of the 2024 acquisitions?", "21") \
        == Verdict.supported
    # A sentence answer names its own measure: it is checked as a claim, not ranked as a bare figure.
    assert _verdict(checker, "What was the unrecognized compensation cost?",
                    "The tax benefits realized in 2024 were $48 million.") == Verdict.supported
