"""Which period a claim figure is stated for.

A claim may name several periods ("$1,874 million on January 28, 2023, and $1,093 million by July
29, 2023") or show a worked formula over several lines. The offline checker compares a figure with
the source table column of the period it is stated for (`rewards.periods.column_periods`), so the
attribution must be conservative: a wrong attribution turns a correct figure into a "wrong period"
error, a missing one only skips the column check.

Rules, in order (`period_for`):

1. An operand of a sum, difference or average ("($2,667 million + $2,721 million) / 2") spans
   periods by construction: it takes only a period written right after it ("$2,667 million in
   FY2018").
2. A claim that names one period (same year, quarter and date) states every figure for it.
3. With several: figures and periods paired in order when the claim says "respectively"; else a
   period right after the figure ("$5,247 million in FY2023", "$509 (2020)", "by July 29, 2023");
   else the nearest period before it within PERIOD_REACH characters on the same line, with no other
   figure and no "=" in between (a formula's left-hand side names the periods of its terms, not of
   the figures on the right), and not already owned by the figure just before it. When two
   periods stand in apposition ("July 30, 2022 (FY 2023)") the more specific one is used.
"""

from __future__ import annotations

import re

from rewards.numbers import Quantity
from rewards.periods import Period

# A figure attributed to a period must sit this close (chars) to the period's mention in the claim.
PERIOD_REACH = 60
# (the counted noun may stand between, on the same line: "907 stores at the end of Q2 FY2024")
_AFTER_PREPOSITION = r"(?:in|for|of|as of|at|on|by|through|until|during|at the end of|ended|ending)"
_AFTER_GAP_RE = re.compile(
    rf"^(?:[\s,)]*(?:\(|{_AFTER_PREPOSITION})?"
    rf"|[ ]+(?!(?:and|or|but|while|whereas|compared|versus|vs|than|that|which)\b)[A-Za-z]+[ ]+{_AFTER_PREPOSITION})"
    r"\s*(?:the\s+)?(?:fiscal\s+(?:year\s+)?)?$",
    re.IGNORECASE,
)
_RANGE_GAP_RE = re.compile(r"^\s*(?:and|to|through|-|–|vs\.?|versus)\s*$", re.IGNORECASE)
_APPOSITION_GAP_RE = re.compile(r"^[\s,(]*$")
_ADDITIVE_BEFORE_RE = re.compile(r"[+\-–−]\s*\(?\s*$")
_ADDITIVE_AFTER_RE = re.compile(r"^\s*\)?\s*[+\-–−]\s*\(?\s*\$?\s*\d")
_SPECIFICITY = {"date": 3, "quarter": 2, "fy": 1, "year": 0}


def period_key(p: Period) -> tuple:
    return (p.year, p.quarter, p.month, p.day)


def single_periods(periods: list[Period], text: str) -> list[Period]:
    """Periods with a year, without the ends of ranges ("between FY2018 and FY2019", "from 2020 to
    2022"): a range names no single period for a figure. In a sentence that pairs figures and
    periods "respectively", "2018 and 2017" is the end of the list, not a range."""
    dated = [p for p in periods if p.year]
    if "respectively" in text.lower():
        return dated  # "in 2019, 2018 and 2017, respectively" lists one period per figure: no range
    in_range: set[int] = set()
    for i, (a, b) in enumerate(zip(dated, dated[1:], strict=False)):
        if _RANGE_GAP_RE.match(text[a.end : b.start]):
            in_range |= {i, i + 1}
    return [p for i, p in enumerate(dated) if i not in in_range]


def is_additive_operand(q: Quantity, text: str) -> bool:
    """A figure written as a term of a sum or difference of figures ("$2,667 + $2,721")."""
    before = text[max(0, q.start - 4) : q.start]
    after = text[q.end : q.end + 8]
    # "- 3.1%" at the start of a bullet is a marker, not a minus: require a term before it.
    minus_term = _ADDITIVE_BEFORE_RE.search(before) and re.search(
        r"[\d)%]\s*[+\-–−]\s*\(?\s*$", text[max(0, q.start - 12) : q.start])
    return bool(minus_term or _ADDITIVE_AFTER_RE.match(after))


def _right_after(q: Quantity, periods: list[Period], text: str) -> Period | None:
    for p in periods:
        if p.start >= q.end and p.start - q.end <= PERIOD_REACH and _AFTER_GAP_RE.match(text[q.end : p.start]):
            # "US$261,518 (2018: US$283,752)": a period followed by a colon labels the figure after
            # it (the comparative-year convention of IFRS reports), not the one before it.
            return None if text[p.end : p.end + 2].lstrip().startswith(":") else p
    return None


def _most_specific(candidates: list[Period], text: str) -> Period:
    """The last candidate, or a more specific period in apposition with it."""
    best = candidates[-1]
    for p in reversed(candidates[:-1]):
        if not _APPOSITION_GAP_RE.match(text[p.end : best.start].replace(")", "")):
            break
        if _SPECIFICITY[p.kind] > _SPECIFICITY[best.kind]:
            best = p
    return best


def period_for(q: Quantity, figures: list[Quantity], periods: list[Period], text: str) -> Period | None:
    """The period the claim states figure `q` for (see the module docstring), or None."""
    dated = [p for p in periods if p.year]
    if not dated:
        return None
    singles = single_periods(dated, text)
    if is_additive_operand(q, text):
        return _right_after(q, singles, text)
    if len({period_key(p) for p in dated}) <= 1:
        return dated[0]
    return placed_period(q, figures, singles, text)


def placed_period(q: Quantity, figures: list[Quantity], singles: list[Period], text: str) -> Period | None:
    """Rule 3 alone: the period `q` is stated for by its place in `text` among several periods
    (`singles`, from `single_periods`). Used as well for a figure in a source sentence, where rule 2
    does not hold ("Revenue rose to $10.2 million in 2019 from $9.5 million" names one year for
    two figures)."""
    if "respectively" in text.lower():
        return singles[figures.index(q)] if len(figures) == len(singles) and q in figures else None
    after = _right_after(q, singles, text)
    if after is not None:
        return after
    owned = {id(p) for f in figures if f is not q for p in [_right_after(f, singles, text)] if p is not None}
    line_start = text.rfind("\n", 0, q.start) + 1
    between_figures = [f.start for f in figures if f is not q]
    before = [
        p for p in singles
        if line_start <= p.start and p.end <= q.start and q.start - p.end <= PERIOD_REACH
        and "=" not in text[p.end : q.start] and id(p) not in owned
        and not any(p.end <= s < q.start for s in between_figures)
    ]
    return _most_specific(before, text) if before else None
