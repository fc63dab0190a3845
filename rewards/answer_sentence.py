"""Which sentence answers the question: a bare answer read off prose (issue #15).

A bare answer ("$131 million", "42") to "What was the unrecognized compensation cost related to
non-vested RSUs?" claims the figure the question asks about, not merely a figure printed on the
page. Table cells are governed by their row labels and columns (`rewards.question_context`); a figure
found only in prose has no label, so this module reads it the way extractive QA picks the sentence
that answers (answer-sentence selection: Yang, Yih and Meek 2015, WikiQA; the sentence-then-span
reading of TAT-QA's hybrid answers, Zhu et al. 2021):

* the sentence around the answer's figure must name at least as many of the question's measure
  words as any other sentence around a figure of the same kind that the sources state for the
  question's period. When another one names more, that figure is the one asked about and the
  answer is someone else's figure ("tax benefits realized ... were $131 million" does not answer
  a question on unrecognized compensation cost that another sentence states);
* a bare answer that only repeats a figure the question itself states ("Of the 50 restaurants
  acquired, how many were sold?" -> "50") answers nothing.

Figures of one sentence are not ranked against each other: which figure a clause's words belong
to is a matter of syntax ("$60.3 million ... of which $46.4 million is related to RSUs"), not of
word counts. Questions that ask for a computation (a change, a difference, an average ...) are left to
`rewards.asked_arithmetic`: their figure need not be the one a sentence names.
"""

from __future__ import annotations

from rewards.asked_arithmetic import asked_operations
from rewards.numbers import Quantity, agreeing, extract_quantities
from rewards.periods import period_compatible
from rewards.premises import CHANGE_RE, PreparedPage, asserted, measure_tokens, occurs
from rewards.question_context import AnswerContext, FigureMatch, stated_period


def _year_like(q: Quantity) -> bool:
    return q.unit == "" and q.decimals == 0 and q.scale == 1 and 1900 <= q.magnitude <= 2100


def _in_table_row(page: PreparedPage, offset: int) -> bool:
    text = page.source.text
    start = text.rfind("\n", 0, offset) + 1
    end = text.find("\n", offset)
    return "|" in text[start: len(text) if end < 0 else end]


def _coverage(page: PreparedPage, index: int, measure: list[str]) -> int:
    """How many of the measure words the sentence of figure `index` names."""
    start, end = page.spans[page.sentence_of(page.quantities[index].start)]
    lowered = page.source.text[start:end].lower()
    return sum(occurs(t, lowered) for t in measure)


def repeats_question(q: Quantity, question: str) -> bool:
    """A bare answer's figure that is a figure of the question itself (same unit, not a year)."""
    tolerance = 1e-9 * max(1.0, q.magnitude)
    return any(f.unit == q.unit and not _year_like(f) and abs(f.magnitude - q.magnitude) <= tolerance
               for f in extract_quantities(question))


def outranked(match: FigureMatch, context: AnswerContext, rel_tolerance: float) -> str | None:
    """The figure another sentence gives for the question's measure, when that sentence names more of
    the question's measure words than every sentence that states the answer's figure `match`; None when
    the answer's figure is the best-named one, is read off a table, or the question asks to compute."""
    page, q = match.page, match.quantity
    question = context.question
    if page is None or match.derivation is not None or asked_operations(question) or CHANGE_RE.search(question):
        return None
    measure = measure_tokens(question)
    own = list(agreeing(q, page.magnitudes, rel_tolerance, page.scales, page.written_scales))
    if not measure or not own or any(_in_table_row(page, page.quantities[i].start) for i in own):
        return None
    own_sentences = {page.sentence_of(page.quantities[i].start) for i in own}
    best_own = max(_coverage(page, i, measure) for i in own)
    for index, other in enumerate(page.quantities):
        if (index in own or other.unit != q.unit or _year_like(other) or _in_table_row(page, other.start)
                or not asserted(page, other.start)):
            continue
        stated = stated_period(page, index) if context.question_period is not None else None
        if stated is not None and not period_compatible(context.question_period, stated):
            continue  # the same measure for another period is no rival to the question's figure
        if page.sentence_of(other.start) not in own_sentences and _coverage(page, index, measure) > best_own:
            return other.text.strip()
    return None
