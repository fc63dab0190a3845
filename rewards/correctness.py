"""Correctness of an answer against gold: is the answer *right*, not merely stated in the sources?

Support (`rewards.checker`) asks whether the sources state each claim; an answer can be fully
supported and still wrong (the prior year's column, another company's filing, a segment's figure for
the company's). Correctness compares the answer with what the question's gold says is right. The
gold a question row carries in its `metadata` (`read_gold`):

* `gold_answer`: the right answer as text (FinanceBench's `answer`, TAT-QA's `answer`);
* `gold`: the evidence of a right answer, a list of `{doc, page, quote}` (the quickstart format);
* `tags` containing `unanswerable` (or `answerable: false`): the right answer is an abstention.

How an answer is judged (`judge`), in that order:

1. **Unanswerable** — right when the answer abstains (`abstains`: it says the sources do not give
   the answer, or asserts no claim at all); an abstention is wrong wherever the gold has an answer.
2. **Gold answer with figures** — right when the answer states every figure of the gold answer
   within a relative tolerance (1% by default, FinanceBench's usual tolerance for numeric answers;
   never tighter than the rounding of the figure as written: `rewards.numbers.agrees`), at any
   scale the gold leaves unwritten ("$1,577" against "$1,577 million") and a percentage equal to
   a ratio ("66%" against "0.66").
3. **Gold answer without figures** — right when the answer states what the gold states
   (`rewards.gold_text`): the gold's yes or no (and a name it gives beyond the question's), the
   value the question prescribes for an absent item, the gold's verdict on whether the asked metric
   is relevant, the option the gold chooses among those the question lists; otherwise the gold's
   first claim checked against the answer as the only source. The gold's one line does not state
   the answer's supporting detail, so that detail is not held against it.
4. **Gold evidence quotes** — right when the answer states the gold's answer (one of the quotes'
   figures; when they have none, a claim the gold pages alone support) and every claim is supported
   by the gold evidence pages together with the pages the answer was written from (the full gold
   pages when the caller has them, for the table headers and the filer; else the quotes). A true
   figure from a page the gold does not list is not wrong; a figure of another period, another
   company, or none at all is, as far as the checker reads it. A table-row quote lists every
   column, so the other periods' figures count as stated: only the checker's column reading tells
   them apart.

A building block: no stage imports (a benchmark reuses `judge` as `cai eval` does).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Literal, NamedTuple

from pydantic import Field

from cai.core.contracts import Contract, SourcePage, Verdict
from rewards.claims import split_claims
from rewards.numbers import Quantity, agrees, checkable, extract_quantities

DEFAULT_TOLERANCE = 0.01
UNANSWERABLE_TAG = "unanswerable"
GOLD_ANSWER_DOC = "gold-answer"  # the doc id the gold answer's text is checked under (method 3)
PageLookup = Callable[[str, int], SourcePage | None]


class GoldError(ValueError):
    """A malformed gold field; the message starts with the field's path (`metadata.gold[1].page`)."""


class GoldQuote(NamedTuple):
    doc: str
    page: int
    quote: str


@dataclass(frozen=True)
class Gold:
    """What a question's metadata says a right answer is."""

    answerable: bool = True
    quotes: tuple[GoldQuote, ...] = ()
    answer: str | None = None

    @property
    def judgeable(self) -> bool:
        """Whether there is anything to judge an answer against."""
        return not self.answerable or bool(self.quotes) or self.answer is not None


class Correctness(Contract):
    """Whether one answer is right against its gold, how that was judged, and why."""

    correct: bool | None = Field(description="None: the question carries no gold to judge against.")
    method: Literal["abstention", "figures", "gold_answer_text", "gold_quotes"] | None = None
    reason: str
    gold_figures: list[str] = Field(default_factory=list, description="The figures of the gold, as written.")
    stated: list[str] = Field(default_factory=list, description="Of those, the ones the answer states.")


# ------------------------------------------------------------------------------------------- gold
def is_answerable(metadata: dict) -> bool:
    """False when `metadata.tags` contains 'unanswerable' or `metadata.answerable` is false."""
    tags = metadata.get("tags")
    if isinstance(tags, list) and UNANSWERABLE_TAG in tags:
        return False
    return metadata.get("answerable", True) is not False


def read_gold(metadata: dict) -> Gold:
    """The gold of a question row's `metadata` (see the module docstring); `GoldError` names the field."""
    answer = metadata.get("gold_answer")
    if answer is not None and (not isinstance(answer, str) or not answer.strip()):
        raise GoldError("metadata.gold_answer: must be a non-empty string (the right answer as text)")
    raw = metadata.get("gold", [])
    if not isinstance(raw, list):
        raise GoldError("metadata.gold: must be a list of {doc, page, quote} (the evidence of a right answer)")
    quotes = []
    for n, item in enumerate(raw):
        where = f"metadata.gold[{n}]"
        if not isinstance(item, dict):
            raise GoldError(f"{where}: must be an object {{doc, page, quote}}")
        doc, page, quote = item.get("doc"), item.get("page"), item.get("quote")
        if not isinstance(doc, str) or not doc:
            raise GoldError(f"{where}.doc: must be a document id (a string)")
        if not isinstance(page, int) or isinstance(page, bool) or page < 1:
            raise GoldError(f"{where}.page: must be a 1-based page number (an integer >= 1)")
        if not isinstance(quote, str) or not quote.strip():
            raise GoldError(f"{where}.quote: must be the quoted evidence (a non-empty string)")
        quotes.append(GoldQuote(doc, page, quote))
    return Gold(is_answerable(metadata), tuple(quotes), answer)


def gold_pages(gold: Gold, lookup: PageLookup | None = None) -> list[SourcePage]:
    """The gold evidence pages: each full page from `lookup` (e.g. an index's page store), else the
    page's gold quotes joined as its text."""
    quotes_of: dict[tuple[str, int], list[str]] = {}
    for q in gold.quotes:
        quotes_of.setdefault((q.doc, q.page), []).append(q.quote)
    pages = []
    for (doc, page), quotes in quotes_of.items():
        found = lookup(doc, page) if lookup is not None else None
        pages.append(found or SourcePage(doc_id=doc, page=page, text="\n".join(quotes)))
    return pages


# ---------------------------------------------------------------------------------------- figures
def abstains(text: str) -> bool:
    """True when `text` says the sources do not give the answer, or asserts no claim at all."""
    kinds = [s.kind for s in split_claims(text, keep_non_claims=True)]
    return "abstention" in kinds or "claim" not in kinds


def asserts_nothing(text: str) -> bool:
    """True when `text` has no claim: an answer with claims beside an abstention ("X is not stated;
    revenue was $5 million") is judged on its claims when the gold has an answer."""
    return "claim" not in {s.kind for s in split_claims(text, keep_non_claims=True)}


def figures(text: str) -> list[Quantity]:
    """The checkable figures `text` states (inline citations and years left out)."""
    return [q for s in split_claims(text) for q in extract_quantities(s.plain) if checkable(q)]


def same_figure(stated: Quantity, gold: Quantity, tolerance: float = DEFAULT_TOLERANCE) -> bool:
    """Whether `stated` is the gold figure within `tolerance` (relative): at any scale the gold does not
    write, and a percentage against a ratio ("66%" for "0.66")."""
    if (stated.unit == "%") != (gold.unit == "%"):
        pct, ratio = (stated, gold) if stated.unit == "%" else (gold, stated)
        return abs(pct.magnitude / 100 - ratio.magnitude) <= max(tolerance * ratio.magnitude, pct.half_unit / 100,
                                                                 ratio.half_unit)
    if agrees(stated, gold.magnitude, tolerance, scaled=not gold.scaled_in_text):
        return True
    # The gold's own rounding: "$1,824 million" is "$1.8 billion" as the gold writes it.
    return gold.scaled_in_text and abs(stated.magnitude - gold.magnitude) <= gold.half_unit


def _stated(answer_figures: Sequence[Quantity], gold_figures: Sequence[Quantity], tolerance: float) -> list[str]:
    """The gold figures (as written, each once) that some answer figure equals."""
    return _figure_list(g.text for g in gold_figures if any(same_figure(a, g, tolerance) for a in answer_figures))


# ------------------------------------------------------------------------------------------ judge
def judge(question: str, answer: str, gold: Gold, *, checker=None, pages: Sequence[SourcePage] | None = None,
          sources: Sequence[SourcePage] = (), tolerance: float = DEFAULT_TOLERANCE) -> Correctness:
    """Whether `answer` is right against `gold` (methods 1–4 of the module docstring). `checker`: any
    `rewards.checker.Checker` (methods 3 and 4; wrapped fail-closed); `pages`: the gold evidence pages
    (`gold_pages`), default the quotes themselves; `sources`: the pages the answer was written from."""
    if not gold.judgeable:
        return Correctness(correct=None, reason="no gold: the question carries no gold answer or evidence")
    if not gold.answerable:
        said = abstains(answer)
        return Correctness(correct=said, method="abstention",
                           reason="abstains, as it should" if said else "answers a question the sources cannot answer")
    from rewards.gold_text import as_written

    if gold.answer is not None and not figures(gold.answer) and as_written(answer, gold.answer):
        return Correctness(correct=True, method="gold_answer_text", reason="states the gold answer as written")
    if asserts_nothing(answer):
        return Correctness(correct=False, method="abstention", reason="abstains, but the gold has an answer")
    if gold.answer is not None:
        wanted = figures(gold.answer)
        if wanted:
            return _by_figures(answer, wanted, tolerance)
        return _by_gold_text(question, answer, gold.answer, _fail_closed(checker))
    return _by_evidence(question, answer, list(pages) if pages is not None else gold_pages(gold), list(sources),
                        [q for quote in gold.quotes for q in figures(quote.quote)], _fail_closed(checker), tolerance)


def _fail_closed(checker):
    from rewards.checker import FailClosed

    if checker is None:
        raise ValueError("judging against gold text or evidence needs a checker")
    return checker if isinstance(checker, FailClosed) else FailClosed(checker)


def _figure_list(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _by_figures(answer: str, wanted: list[Quantity], tolerance: float) -> Correctness:
    stated = _stated(figures(answer), wanted, tolerance)
    missing = [g.text for g in wanted if g.text not in stated]
    reason = (f"states the gold figure(s) {', '.join(stated)} within {tolerance:.0%}" if not missing
              else f"does not state the gold figure(s) {', '.join(missing)} (within {tolerance:.0%})")
    return Correctness(correct=not missing, method="figures", reason=reason,
                       gold_figures=_figure_list(g.text for g in wanted), stated=stated)


def _unsupported(verdicts) -> str | None:
    wrong = next((v for v in verdicts if v.verdict != Verdict.supported), None)
    if wrong is None:
        return None
    return " ".join(wrong.text.split()) + (f" ({wrong.reason})" if wrong.reason else "")


def _by_gold_text(question: str, answer: str, gold_answer: str, checker) -> Correctness:
    from rewards.gold_text import judge_gold_text

    right, reason = judge_gold_text(question, answer, gold_answer, checker)
    return Correctness(correct=right, method="gold_answer_text", reason=reason)


def _by_evidence(question: str, answer: str, pages: list[SourcePage], sources: list[SourcePage],
                 wanted: list[Quantity], checker, tolerance: float) -> Correctness:
    """Method 4: every claim supported by the gold pages together with the answer's sources (a true
    figure from a page the gold does not list is not wrong), and the gold's answer stated: one of its
    figures, or, when it has none, a claim the gold pages alone support."""
    keys = {(p.doc_id, p.page) for p in pages}
    verdicts = checker.check(question, answer, pages + [p for p in sources if (p.doc_id, p.page) not in keys])
    wrong = _unsupported(verdicts)
    stated = _stated(figures(answer), wanted, tolerance)
    if wanted:
        answered = bool(stated)
    else:
        answered = any(v.verdict == Verdict.supported for v in checker.check(question, answer, pages))
    if wrong:
        reason = f"not supported by the gold evidence and sources: {wrong}"
    elif not verdicts:
        reason = "no claim to compare with the gold evidence"
    elif not answered:
        reason = (f"states none of the gold evidence's figures ({', '.join(q.text for q in wanted[:4])})" if wanted
                  else "no claim is supported by the gold evidence pages")
    else:
        reason = "supported; states the gold answer" + (f" ({', '.join(stated)})" if stated else "")
    return Correctness(correct=bool(verdicts) and wrong is None and answered, method="gold_quotes", reason=reason,
                       gold_figures=_figure_list(q.text for q in wanted), stated=stated)
