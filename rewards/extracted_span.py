"""A bare extracted answer: a name, a date or a short phrase lifted from the sentence that answers
the question ("Deloitte", "Greece and Turkey", "January 1, 2018", "annually").

Such an answer makes no claim of its own for the checker to align: it is a span, and extractive
question answering judges a span by the passage it comes from (SQuAD, Rajpurkar et al. 2016; the
hybrid table-text QA of TAT-QA, Zhu et al. 2021, whose span answers are read off one sentence). The
answer is supported when every one of its parts ("Greece" and "Turkey") is written, as whole words,
in one source sentence that states what the question asks: most of the question's content words
besides the answer's own (at least two, or all when it has fewer), and no fewer than the sentences
that best match the question hold less one. The same span elsewhere on the page, in a sentence
about something else, is not the answer: another question's answer from the same report fails. A
table cell is read the same way, named by its row's label, the caption above it and its column's
headings ("Goodwill | 93,776 | Indefinite" under "Estimated useful life").
"""

from __future__ import annotations

import re

from cai.core.contracts import ClaimVerdict, Evidence, Locator, Verdict
from rewards.premises import PreparedPage, content_tokens, occurs

TOO_LITTLE = "too little content to check"  # the reason a claim too short to check is rejected with
MAX_WORDS = 8  # a longer answer is a sentence, and the claim checker reads it
MIN_SHARED = 2  # question words the answering sentence must state (all of them when fewer)
# "2018", "May 2014", "March 29, 1988"
_DATE_RE = re.compile(r"(?:(?:[A-Z][a-z]+\.?\s+)?(?:\d{1,2},?\s+)?)?(?:19|20)\d{2}")
_YEAR_RE = re.compile(r"(?<!\d)(?:19|20)\d{2}(?!\d)")
_DETERMINERS = frozenset("the a an our its their his her this that these those".split())
# Words that introduce a date or a term rather than name what follows ("effective January 1, 2018").
_INTRODUCING = frozenset("effective beginning commencing starting ending ended dated".split())
_PARTS_RE = re.compile(r",\s*(?:and\s+)?|\s+and\s+|;\s*", re.IGNORECASE)


def _parts(answer: str) -> list[str]:
    """The answer's spans: "Greece and Turkey" -> ["Greece", "Turkey"]; a date keeps its comma."""
    text = answer.strip().rstrip(".").strip()
    if re.search(r"\b[A-Z][a-z]+\s+\d{1,2},\s*\d{4}\b", text):
        return [text]
    return [part.strip() for part in _PARTS_RE.split(text) if part.strip()]


def _written(part: str, lowered: str) -> re.Match | None:
    """Where the part is written in the lower-cased text as whole words."""
    return re.search(rf"(?<![\w]){re.escape(part.lower())}(?![\w])", lowered)


def _named_otherwise(part: str, lowered: str, asked: set[str]) -> bool:
    """Whether the sentence names the span as something the question does not ask for: the word
    before it is a noun of its own ("under the symbol JACK" does not answer "which market")."""
    m = _written(part, lowered)
    before = re.findall(r"[a-z][a-z&\-]*", lowered[: m.start()]) if m else []
    while before and (before[-1] in _DETERMINERS or before[-1] in _INTRODUCING):
        before.pop()
    words = content_tokens(before[-1]) if before else []
    return bool(words) and not set(words) & asked


def _cell_contexts(text: str) -> list[tuple[str, str, int]]:
    """(cell, what names it, line start) for each value cell of the page's " | " tables: a cell is named
    by its row's label, the caption above the row and the headings of its column over the table's
    first rows (" |  | Estimated" over " | Fair value | Useful Life"), as a sentence names its span."""
    out: list[tuple[str, str, int]] = []
    headings: list[list[str]] = []
    caption, in_header, position = "", True, 0
    for line in text.split("\n"):
        start, position = position, position + len(line) + 1
        cells = [cell.strip() for cell in line.split("|")]
        if not line.strip():
            headings, caption, in_header = [], "", True  # a blank line ends the table
        elif len(cells) == 1:
            caption = line.strip()
        elif in_header and not any(re.search(r"\d", cell) for cell in cells[1:]):
            headings.append(cells)
        else:
            in_header = False
            for i, cell in enumerate(cells[1:], start=1):
                heading = " ".join(h[i] for h in headings if i < len(h))
                out.append((cell.lower(), f"{caption} {cells[0]} {heading}".lower(), start))
    return out


def extracted_span(question: str, answer: str, pages: list[PreparedPage]) -> ClaimVerdict | None:
    """A supported verdict for a short answer written in the source sentence that answers the
    question (see the module docstring); None when the answer is no short span or no such sentence
    holds it (the claim checker's verdict then stands)."""
    parts = _parts(answer)
    if not parts or len(answer.split()) > MAX_WORDS or not question:
        return None
    if re.search(r"\d", answer) and not _DATE_RE.fullmatch(answer.strip().rstrip(".")):
        return None  # a figure or a count is checked as one, never as a span
    own = set(content_tokens(answer))
    asked = [t for t in dict.fromkeys(content_tokens(question)) if t not in own]
    question_words = set(content_tokens(question))
    # A year or date answers only from a sentence of that year: "$5 in 2018 and $7 in 2019" says
    # nothing of which year is larger. Other answers take any sentence.
    years = set(_YEAR_RE.findall(answer)) or {y for page in pages for y in _YEAR_RE.findall(page.lowered)}
    need = min(MIN_SHARED, len(asked))
    if need == 0:
        return None
    scored = []
    for page in pages:
        text = page.source.text
        for index, (start, end) in enumerate(page.spans):
            lowered = text[start:end].lower()
            shared = sum(1 for t in asked if occurs(t, lowered))
            holds = (all(_written(part, lowered) is not None for part in parts)
                     and not _named_otherwise(parts[0], lowered, question_words)
                     and set(_YEAR_RE.findall(lowered)) <= years)
            scored.append((shared, page, index, holds))
        if len(parts) == 1:  # a table cell that is the answer, named by its row and column
            for cell, naming, start in _cell_contexts(text):
                shared = sum(1 for t in asked if occurs(t, naming))
                scored.append((shared, page, page.sentence_of(start), cell == parts[0].lower()))
    best = max((shared for shared, *_ in scored), default=0)
    holding = [item for item in scored if item[3] and item[0] >= max(need, best - 1, (len(asked) + 1) // 2)]
    if not holding:
        return None
    shared, page, index, _ = max(holding, key=lambda item: item[0])
    start, end = page.spans[index]
    locator = Locator(doc_id=page.source.doc_id, page=page.source.page, char_start=start, char_end=end,
                      sentence=index)
    lead = len(answer) - len(answer.lstrip())
    return ClaimVerdict(text=answer.strip(), verdict=Verdict.supported, score=0.75,
                        evidence=Evidence(locator=locator, quote=page.source.text[start:end]),
                        span=(lead, lead + len(answer.strip())), checker="offline",
                        reason=f"the answer is written in the sentence that answers the question "
                               f"({shared} of its {len(asked)} words)")


def span_or_claims(judged: list[ClaimVerdict], question: str | None, answer: str, pages: list[PreparedPage],
                   checker: str) -> list[ClaimVerdict]:
    """The claims' verdicts, or the span's where no claim could be checked (none, or each too short)."""
    if question and all(v.reason.startswith(TOO_LITTLE) for v in judged):
        if (span := extracted_span(question, answer, pages)) is not None:
            return [span.model_copy(update={"checker": checker})]
    return judged
