"""Fiscal periods in claims and sources: FY2022, "fiscal 2022", Q2 FY2024, "second quarter of
fiscal 2024", "year ended December 31, 2022", "as of May 31, 2021", and bare years.

Each mention becomes a `Period` with the fiscal (or calendar) year it names and, when stated, the
quarter and the exact date. Two uses:

1. `years_in` / `period_years`: the set of years a text talks about, so a claim naming a year that
   neither the question nor any source mentions can be caught (a shifted period).
2. `column_periods`: the year of each figure in a flattened financial table. PDF extraction writes a
   statement as a header of years ("2015 2016 2017", or "January 28, 2017 January 30, 2016") and
   then rows of as many figures ("Total net sales 107,006 135,987 177,866"); the i-th figure of a
   row belongs to the i-th year of the header. This is what tells "revenue was $135,987 million in
   2017" (wrong column) from "in 2016" (right column) when both years appear on the page.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from rewards.numbers import Quantity, extract_quantities

_MONTH_NUMBERS = {
    "jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6, "jul": 7, "aug": 8, "sep": 9,
    "oct": 10, "nov": 11, "dec": 12,
}
_MONTH = (r"(?P<month>jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?"
          r"|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?")
_QUARTER_WORDS = {"first": 1, "second": 2, "third": 3, "fourth": 4, "1st": 1, "2nd": 2, "3rd": 3, "4th": 4}
_YEAR = r"(?:19|20)\d{2}"

_PATTERNS: list[tuple[str, re.Pattern]] = [
    ("date", re.compile(rf"\b{_MONTH}\s+(?P<day>\d{{1,2}}),?\s+(?P<year>{_YEAR})\b", re.IGNORECASE)),
    ("quarter", re.compile(rf"\bQ(?P<q>[1-4])\s*(?:of\s+)?(?:FY|fiscal\s+(?:year\s+)?)?\s*'?"
                           rf"(?P<year>{_YEAR}|\d{{2}})?\b", re.IGNORECASE)),
    ("quarter", re.compile(rf"\b(?P<qw>first|second|third|fourth|1st|2nd|3rd|4th)\s+(?:fiscal\s+)?quarter(?:\s+of)?"
                           rf"(?:\s+(?:fiscal\s+)?(?:year\s+)?(?:FY\s?)?(?P<year>{_YEAR}))?", re.IGNORECASE)),
    ("fy", re.compile(rf"\bFY\s?'?(?P<year>{_YEAR}|\d{{2}})\b", re.IGNORECASE)),
    ("fy", re.compile(rf"\bfiscal\s+(?:year\s+)?(?P<year>{_YEAR})\b", re.IGNORECASE)),
    # A bare year; "2015-2017" is two years, but "$2,019" and "2019.5" are figures.
    ("year", re.compile(rf"(?<![\w$.,])(?P<year>{_YEAR})(?![\w%]|,\d|\.\d)")),
]


@dataclass(frozen=True)
class Period:
    """One period mention. `year` is the fiscal/calendar year named; `quarter` 1-4 when stated;
    `month`/`day` for an exact date ("December 31, 2022")."""

    text: str
    start: int
    end: int
    kind: str
    year: int | None
    quarter: int | None = None
    month: int | None = None
    day: int | None = None
    relative: bool = False  # "the previous year": resolved from a stated period, not itself stated


def _year_of(raw: str | None) -> int | None:
    if not raw:
        return None
    value = int(raw)
    return 2000 + value if value < 100 else value


def _period_of(kind: str, m: re.Match) -> Period:
    groups = m.groupdict()
    quarter = int(groups["q"]) if groups.get("q") else _QUARTER_WORDS.get((groups.get("qw") or "").lower())
    month = _MONTH_NUMBERS[groups["month"][:3].lower()] if groups.get("month") else None
    day = int(groups["day"]) if groups.get("day") else None
    return Period(m.group(0), m.start(), m.end(), kind, _year_of(groups.get("year")), quarter, month, day)


def extract_periods(text: str) -> list[Period]:
    """Period mentions, most specific first where they overlap (a date wins over its bare year)."""
    taken: list[tuple[int, int]] = []
    found: list[Period] = []
    for kind, pattern in _PATTERNS:
        for m in pattern.finditer(text):
            if any(m.start() < end and start < m.end() for start, end in taken):
                continue
            taken.append((m.start(), m.end()))
            found.append(_period_of(kind, m))
    return sorted(found, key=lambda p: p.start)


# "the previous year", "prior fiscal year", "a year earlier", "prior-year": one year before the
# period they are said against. Not "prior years" or "year-over-year" (no single period).
_RELATIVE_RE = re.compile(
    r"\b(?:(?:the\s+)?(?:previous|prior|preceding|last)\s+(?:fiscal\s+)?year|(?:a\s+)?year\s+(?:earlier|ago|before)"
    r"|prior-year|the\s+year\s+before)\b(?!-)", re.IGNORECASE)


def with_relative(text: str, periods: list[Period]) -> list[Period]:
    """`periods` plus each relative mention of `text` resolved against its anchor: the nearest
    stated period before it (else the first after it), moved one year back. Without an anchor a
    mention names no period and is left out. Used for claims, where "21.4%, down from 22.5% in the
    previous year" states the second figure for the year before the first."""
    stated = [p for p in periods if p.year is not None]
    if not stated:
        return periods
    out = list(periods)
    for m in _RELATIVE_RE.finditer(text):
        if any(m.start() < p.end and p.start < m.end() for p in periods):
            continue
        before = [p for p in stated if p.end <= m.start()]
        anchor = before[-1] if before else next((p for p in stated if p.start >= m.end()), None)
        if anchor is not None:
            out.append(Period(m.group(0), m.start(), m.end(), anchor.kind, anchor.year - 1, anchor.quarter,
                              anchor.month, anchor.day, relative=True))
    return sorted(out, key=lambda p: p.start)


def period_years(periods: list[Period]) -> set[int]:
    return {p.year for p in periods if p.year is not None}


def years_in(text: str) -> set[int]:
    """Every year a text mentions, in any period form."""
    return period_years(extract_periods(text))


def period_compatible(claimed: Period, column: Period) -> bool:
    """Whether a figure stated for `claimed` may come from a table column headed `column`.

    A claimed date must match the column's year and month. A claimed fiscal year or quarter may be
    named after the calendar year its fiscal year ends in or starts in: a column dated in
    January-March belongs to fiscal year Y or Y-1 ("fiscal 2017 ended January 28, 2017" at one
    retailer is "fiscal 2016" at another), and a quarter column dated later in the year may belong
    to fiscal year Y or Y+1 (Best Buy's quarter ended July 29, 2023 is Q2 of fiscal 2024).
    """
    if claimed.year is None or column.year is None:
        return True
    if claimed.kind == "date" and column.kind == "date":
        return (claimed.year, claimed.month) == (column.year, column.month)
    if column.month is None:
        return claimed.year == column.year
    if column.month <= 3:
        return claimed.year in (column.year, column.year - 1)
    if claimed.kind == "quarter":
        return claimed.year in (column.year, column.year + 1)
    return claimed.year == column.year


_HEADER_GAP_RE = re.compile(rf"^(?:[\s,|$]|{_MONTH}|\d{{1,2}}(?=,)|and|to)*$", re.IGNORECASE)
_ROW_GAP_RE = re.compile(r"^[\s|$—–\-]*$")


def _header_runs(text: str) -> list[tuple[int, list[Period]]]:
    """Runs of >= 2 year mentions separated only by layout (spaces, commas, month names): table
    column headers. Returns (end offset of the run, its periods)."""
    periods = [p for p in extract_periods(text) if p.kind in ("year", "date", "fy") and p.year]
    runs: list[tuple[int, list[Period]]] = []
    current: list[Period] = []
    for period in periods:
        if current and _HEADER_GAP_RE.match(text[current[-1].end : period.start]):
            current.append(period)
            continue
        if len(current) >= 2 and len({p.year for p in current}) >= 2:
            runs.append((current[-1].end, current))
        current = [period]
    if len(current) >= 2 and len({p.year for p in current}) >= 2:
        runs.append((current[-1].end, current))
    return runs


def column_periods(text: str) -> dict[int, Period]:
    """Start offset of each table figure -> the period heading its column, for rows that have
    exactly as many figures as the nearest header above them has periods."""
    headers = _header_runs(text)
    if not headers:
        return {}
    assigned: dict[int, Period] = {}
    for row in table_rows(text, extract_quantities(text)):
        header = _header_above(headers, row[0].start)
        if header is None or len(row) != len(header):
            continue
        for q, period in zip(row, header, strict=True):
            assigned[q.start] = period
    return assigned


def table_rows(text: str, quantities: Sequence[Quantity]) -> list[list[Quantity]]:
    """The figures (not percentages) of `text` grouped into table rows: consecutive figures with
    only layout between them ("Total net sales 107,006 135,987 177,866")."""
    rows: list[list[Quantity]] = []
    for q in quantities:
        if q.unit == "%":
            continue
        if rows and _ROW_GAP_RE.match(text[rows[-1][-1].end : q.start]):
            rows[-1].append(q)
        else:
            rows.append([q])
    return rows


def _header_above(headers: list[tuple[int, list[Period]]], offset: int) -> list[Period] | None:
    above = [periods for end, periods in headers if end <= offset]
    return above[-1] if above else None
