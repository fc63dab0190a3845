"""A bare count answering "How many ...?" over the line items of a report table.

Numerical QA over financial reports asks for counts of a table's line items (TAT-QA's "count"
answers, Zhu et al. 2021): "How many components are there under deferred tax assets?", "How many
categories are there under total stock-based compensation expense?", "How many components of
deferred tax assets exceeded $50,000 thousand in 2019?". A statement groups line items under a
caption line ("Deferred tax assets:") or above the line that sums them ("Total stock-based
compensation expense", "Gross deferred tax assets"), so the answer is read off the group whose
caption or sum line best names the question's words:
* without a condition, the count of the group's line items (its sum line and the lines after it,
  "Less valuation allowance", are not items of it);
* with a threshold ("exceeded $50,000 thousand in 2019", "below $100 million"), the count of its
  items whose value in the asked year's column meets it (`rewards.asked_lookup.condition`).
The answer is supported when it is one of these counts, unsupported when the group is found and
none is; a question this cannot read (no group named, no year column for a threshold) is left to
the claim checks. Counts of years are `rewards.asked_lookup`'s.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from cai.core.contracts import ClaimVerdict, Verdict
from rewards.asked_lookup import COUNT_ANSWER_RE, HOW_MANY_YEARS_RE, answer_verdict, condition, thresholds
from rewards.periods import extract_periods
from rewards.premises import PreparedPage, measure_tokens, occurs, row_evidence
from rewards.report_tables import Row, table_rows

_HOW_MANY_RE = re.compile(r"\bhow\s+many\s+(?:\w+\s+)?(?:of\s+)?", re.IGNORECASE)
# Words that ask for the count or say what is counted, not which group.
_COUNTING = frozenset(measure_tokens(
    "how many component components category categories type types item items segment segments kind kinds "
    "line lines element elements part parts major main different there table listed shown under within"))
# A label that opens with these sums the lines above it (as does one naming its caption: "Gross deferred tax assets").
_SUM_RE = re.compile(r"^(?:total|subtotal)\b")


@dataclass(frozen=True)
class _Group:
    """Line items grouped under a caption or above the line that sums them."""

    name: str  # the caption and the sum line's label
    items: tuple[Row, ...]


def _groups(page: PreparedPage) -> list[_Group]:
    """The page's groups of line items: a run of rows under one caption, or since the previous sum
    line, ended by a sum line (a "Total" label, or one naming the caption's words)."""
    out: list[_Group] = []
    run: list[Row] = []
    caption = None
    for row in table_rows(page):
        own_caption, own = row.caption, row.own
        if own_caption != caption:
            if run:
                out.append(_Group(caption or "", tuple(run)))
            run, caption = [], own_caption
        words = measure_tokens(caption or "")
        if _SUM_RE.match(own) or (words and all(occurs(t, own) for t in words)):
            if run:
                out.append(_Group(f"{caption} {own}".strip(), tuple(run)))
            run, caption = [], None  # what follows a sum line ("Less valuation allowance") is no item of it
            continue
        run.append(row)
    if run:
        out.append(_Group(caption or "", tuple(run)))
    return out


def _value(row: Row, year: int | None, percent: bool) -> float | None:
    """The row's value in the year's column (its one dated column when no year is asked)."""
    cells = [(q, p) for q, p in row.cells if (q.unit == "%") == percent and p is not None and p.year is not None]
    if year is None:
        return cells[0][0].value if len({p.year for _, p in cells}) == 1 else None
    return next((q.value for q, p in cells if p.year == year), None)


def _counts(question: str, group: _Group) -> set[int]:
    """The counts the question may ask of the group: all its items, or those meeting its threshold."""
    kind, compare, figure = condition(question)
    if kind != "threshold" or figure is None:
        return {len(group.items)} if kind == "all" else set()
    years = {p.year for p in extract_periods(question) if p.year}
    if len(years) > 1:
        return set()
    year = next(iter(years), None)
    values = [_value(row, year, figure.unit == "%") for row in group.items]
    if any(v is None for v in values):
        return set()
    return {sum(1 for v in values if compare(v, t)) for t in thresholds(figure, group.items[0].page)}


def asked_count(question: str, answer: str, pages: list[PreparedPage]) -> ClaimVerdict | None:
    """The verdict on a bare count answering "How many <items> ...?" (see the module docstring), or
    None when the answer or the question is not of that kind or names no group of line items."""
    count = COUNT_ANSWER_RE.match(answer)
    if count is None or not _HOW_MANY_RE.search(question) or HOW_MANY_YEARS_RE.search(question):
        return None
    _, _, figure = condition(question)
    rest = question if figure is None else question.replace(figure.text, " ")
    words = [t for t in measure_tokens(rest) if t not in _COUNTING and not t.isdigit()]
    scored = [(sum(1 for t in words if occurs(t, group.name.lower())), group)
              for page in pages for group in _groups(page)]
    best = max((score for score, _ in scored), default=0)
    if best == 0 or 2 * best < len(words):
        return None
    named = [group for score, group in scored if score == best]
    counts = set().union(*(_counts(question, group) for group in named))
    if not counts:
        return None
    first = named[0].items[0]
    evidence = row_evidence(first.page, first.cells[0][0])
    if int(count.group(1)) in counts:
        return answer_verdict(answer, Verdict.supported, evidence,
                              f"the line items of '{named[0].name}' that the question counts: {sorted(counts)}")
    return answer_verdict(answer, Verdict.unsupported, evidence,
                          f"the line items of '{named[0].name}' number {sorted(counts)}, not {count.group(1)}")
