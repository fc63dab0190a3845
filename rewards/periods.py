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

import bisect
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

from rewards.numbers import Quantity, extract_quantities

_MONTH_NUMBERS = {
    "jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6, "jul": 7, "aug": 8, "sep": 9,
    "oct": 10, "nov": 11, "dec": 12,
}
_MONTH = (r"(?P<month>jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?"
          r"|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?")
_QUARTER_WORDS = {"first": 1, "second": 2, "third": 3, "fourth": 4, "1st": 1, "2nd": 2, "3rd": 3, "4th": 4}
_YEAR = r"(?:19|20)\d{2}"
# A two-digit year ("Q2 22", "FY'19"), but not the "10" of a form name ("its Q2 10-Q filing").
_YY = r"\d{2}(?!-[KQ]\b)"

_PATTERNS: list[tuple[str, re.Pattern]] = [
    ("date", re.compile(rf"\b{_MONTH}\s+(?P<day>\d{{1,2}}),?\s+(?P<year>{_YEAR})\b", re.IGNORECASE)),
    # Day first ("30 June 2019", "31 December 2018"): the form of IFRS and UK/Australian reports.
    ("date", re.compile(rf"\b(?P<day>\d{{1,2}})\s+{_MONTH}\s+(?P<year>{_YEAR})\b", re.IGNORECASE)),
    ("quarter", re.compile(rf"\bQ(?P<q>[1-4])\s*(?:of\s+)?(?:FY|fiscal\s+(?:year\s+)?)?\s*'?"
                           rf"(?P<year>{_YEAR}|{_YY})?\b", re.IGNORECASE)),
    ("quarter", re.compile(rf"\b(?P<qw>first|second|third|fourth|1st|2nd|3rd|4th)\s+(?:fiscal\s+)?quarter(?:\s+of)?"
                           rf"(?:\s+(?:fiscal\s+)?(?:year\s+)?(?:FY\s?)?(?P<year>{_YEAR}))?", re.IGNORECASE)),
    # A split fiscal year ("2018/2019", "2018/19", "FY18/19") is one year, named by the later calendar year it
    # ends in (UK, European and Australian reports); two years that do not follow each other are no fiscal year.
    ("fy", re.compile(rf"\b(?:FY\s?'?)?(?P<first>{_YEAR})\s?/\s?(?P<year>{_YEAR}|\d{{2}})\b", re.IGNORECASE)),
    ("fy", re.compile(r"\bFY\s?'?(?P<first>\d{2})\s?/\s?(?P<year>\d{2})\b", re.IGNORECASE)),
    ("fy", re.compile(rf"\bFY\s?'?(?P<year>{_YEAR}|{_YY})\b", re.IGNORECASE)),
    # "F19", "F18": the fiscal-year abbreviation of Australian reports (Woolworths' "F19 | F18").
    ("fy", re.compile(r"\bF(?P<year>[12]\d)\b")),
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


def _split_year(m: re.Match) -> bool | None:
    """For a split fiscal year match ("2018/19"): whether its two years follow each other; None for other matches."""
    first = m.groupdict().get("first")
    return None if first is None else (int(first) + 1) % 100 == int(m.group("year")) % 100


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
            if any(m.start() < end and start < m.end() for start, end in taken) or _split_year(m) is False:
                continue
            taken.append((m.start(), m.end()))
            found.append(_period_of(kind, m))
    return _elliptical_quarters(text, sorted(found, key=lambda p: p.start))


# Between a quarter and a bare year it shares ("Q2 of FY2024 and FY2023", "the second quarter of 2023
# and 2022"): the year is that quarter of the year, the quarter left out as understood (ellipsis).
_JOINED_RE = re.compile(r"\s*(?:,|and|or|to|vs\.?|versus|compared\s+(?:to|with))\s*", re.IGNORECASE)


def _elliptical_quarters(text: str, periods: list[Period]) -> list[Period]:
    out = list(periods)
    for i in range(1, len(out)):
        before, year = out[i - 1], out[i]
        if (before.kind == "quarter" and before.year is not None and year.kind in ("fy", "year")
                and _JOINED_RE.fullmatch(text, before.end, year.start)):
            out[i] = replace(year, kind="quarter", quarter=before.quarter)
    return out


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
    to fiscal year Y or Y+1 (Best Buy's quarter ended July 29, 2023 is Q2 of fiscal 2024). Two
    named quarters must be the same quarter.
    """
    if claimed.year is None or column.year is None:
        return True
    if claimed.quarter is not None and column.quarter is not None and claimed.quarter != column.quarter:
        return False  # Q3's figure is not Q4's, whatever the year
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
# Between two cells of one row: layout, and footnote markers ("3,100 5,645 (a) (45)", "1,234*"),
# which SEC tables put after a figure and which are not a row label.
_ROW_GAP_RE = re.compile(r"^(?:[\s|$—–\-*]|\([a-z]\))*$")


def header_runs(text: str) -> list[tuple[int, list[Period]]]:
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
    """Start offset of each table figure -> the period heading its column: for rows that have
    exactly as many figures as the nearest header above them has periods, and, in tables whose
    cells are joined with " | " (`rag.html_text`), by cell position (`cell_periods`), which then
    decides alone for the figures of those rows."""
    quantities = extract_quantities(text)
    headers = header_runs(text)
    assigned: dict[int, Period] = {}
    for row in [*table_rows(text, quantities), *_rate_rows(text, quantities)] if headers else []:
        header = _header_above(headers, row[0].start)
        if header is None or len(row) != len(header):
            continue
        for q, period in zip(row, header, strict=True):
            assigned[q.start] = period
    by_cell, covered = cell_periods(text, quantities)
    for start in covered:
        assigned.pop(start, None)
    assigned.update(by_cell)
    return assigned


def table_rows(text: str, quantities: Sequence[Quantity]) -> list[list[Quantity]]:
    """The figures (not percentages) of `text` grouped into table rows: consecutive figures with
    only layout between them ("Total net sales 107,006 135,987 177,866")."""
    return _runs(text, [q for q in quantities if q.unit != "%"])


def _rate_rows(text: str, quantities: Sequence[Quantity]) -> list[list[Quantity]]:
    """Rows of percentages alone ("Effective tax rate 22.9% 20.2% 17.5%"): a rate's own row, one
    value per period column. A percentage on a line with amounts is a change or share column beside
    them ("$ 12,517 $ 13,287 (6) %"), not a period's value, and is left out."""
    with_amounts = {text.rfind("\n", 0, q.start) for q in quantities if q.unit != "%"}
    return _runs(text, [q for q in quantities if q.unit == "%" and text.rfind("\n", 0, q.start) not in with_amounts])


def _runs(text: str, figures: Sequence[Quantity]) -> list[list[Quantity]]:
    """`figures` (in text order) grouped into runs with only layout between neighbours."""
    rows: list[list[Quantity]] = []
    for q in figures:
        if rows and _ROW_GAP_RE.match(text[rows[-1][-1].end : q.start]):
            rows[-1].append(q)
        else:
            rows.append([q])
    return rows


def _header_above(headers: list[tuple[int, list[Period]]], offset: int) -> list[Period] | None:
    above = [periods for end, periods in headers if end <= offset]
    return above[-1] if above else None


# A footnote marker, note reference, unit or layout left in a header cell once its period is removed:
# "2019 (1)", "2018*", "Years Ended September 30,", "Restated See note 2", "2019 $'000", "2018 RESTATED3",
# and the length of a reporting period ("52 weeks ended 30 Mar 2019", "12 months ended").
_HEADER_LEFTOVER_RE = re.compile(rf"\(\w{{1,2}}\)|\*|{_MONTH}\s+\d{{1,2}}\b|\bnotes?\s+\d+"
                                 r"|\b\d{1,2}[\s-]+(?:weeks?|months?)\b|[$£€]?\s?['’]000\b|(?<=[a-z])\d\b",
                                 re.IGNORECASE)


@dataclass
class _Cell:
    start: int
    end: int
    text: str
    text_start: int  # page offset of the stripped text: a period found in it is keyed by its page offset


def _cells(text: str, start: int, end: int) -> list[_Cell]:
    """The " | "-separated cells of the line text[start:end], with their offsets."""
    cells, position = [], start
    for part in text[start:end].split("|"):
        lead = len(part) - len(part.lstrip())
        cells.append(_Cell(position, position + len(part), part.strip(), position + lead))
        position += len(part) + 1
    return cells


def _cell_period(cell: _Cell) -> Period | None | bool:
    """The one period a header cell names ("2019 (1)", "Fiscal Year 2018", "Dec 28, 2019", "Q4 2019");
    None for a cell without a year and without figures ("Acquisitions", "% of Total", ""); False for a
    cell with figures (a data cell). A cell naming two periods ("2019 vs 2018") heads a comparison
    column, which is no one period's: None."""
    periods = [replace(p, start=p.start + cell.text_start, end=p.end + cell.text_start)
               for p in extract_periods(cell.text) if p.year]
    rest = cell.text
    for period in sorted(periods, key=lambda p: -p.start):
        rest = rest[: period.start - cell.text_start] + " " + rest[period.end - cell.text_start :]
    if re.search(r"\d", _HEADER_LEFTOVER_RE.sub(" ", rest)):
        return False
    if not periods:
        return None
    return periods[0] if len({(p.year, p.quarter) for p in periods}) == 1 else None


def _header_periods(cells: list[_Cell]) -> list[Period | None] | None:
    """The periods heading the value columns of a " | " header line (None where a column is not a
    period); None when the line is not a period header.
    The first cell is the corner (a caption or nothing) unless it names a period itself (a renderer
    that drops empty cells drops the corner too). An empty cell right of a period is that period's
    column spanning two cells ("Fiscal Year 2018 |  | Fiscal Year 2017" over "Net Sales | % of Total")."""
    found = [_cell_period(cell) for cell in cells]
    if any(p is False for p in found[1:]) or not any(isinstance(p, Period) for p in found):
        return None
    values = found if isinstance(found[0], Period) else found[1:]
    filled: list[Period | None] = []
    for period, cell in zip(values, cells[len(cells) - len(values):], strict=True):
        filled.append(period if period is not None or cell.text or not filled else filled[-1])
    return filled


def cell_periods(text: str, quantities: Sequence[Quantity]) -> tuple[dict[int, Period], set[int]]:
    """Figures of " | " table rows -> the period heading their cell's column, by position: a row's
    value cells (all but its label) line up with the value cells of the nearest period header
    above it in the same block of lines (no blank line between). Positions are trusted when the
    counts agree, or when the table keeps its empty cells (then a short row's trailing cells were
    dropped, and a long row continues the last spanning column). Returns the assignments and the
    start of every figure in a row under such a header (a figure there without an assignment is in
    a column that no period heads: "$ CHANGE")."""
    assigned: dict[int, Period] = {}
    covered: set[int] = set()
    header: list[Period | None] | None = None
    keeps_empty = False
    by_line: dict[int, list[Quantity]] = {}
    line_starts = [0] + [m.end() for m in re.finditer(r"\n", text)]
    for q in quantities:
        by_line.setdefault(bisect.bisect_right(line_starts, q.start) - 1, []).append(q)
    for number, start in enumerate(line_starts):
        end = line_starts[number + 1] - 1 if number + 1 < len(line_starts) else len(text)
        line = text[start:end]
        if not line.strip():
            header, keeps_empty = None, False  # a blank line ends the table
            continue
        if " | " not in line and not line.startswith("| ") and not line.endswith(" |"):
            continue
        cells = _cells(text, start, end)
        # A renderer that keeps empty cells anywhere in the table keeps them in every row.
        keeps_empty = keeps_empty or any(not cell.text for cell in cells)
        periods = _header_periods(cells)
        if periods is not None:
            header = periods
            continue
        if header is None or number not in by_line:
            continue
        _assign_row(cells, by_line[number], header, keeps_empty, assigned, covered)
    return assigned, covered


def _assign_row(cells: list[_Cell], figures: list[Quantity], periods: list[Period | None], keeps_empty: bool,
                assigned: dict[int, Period], covered: set[int]) -> None:
    # The first cell is the row's label, footnote markers and all ("Total debt(2)", "IAS 39"), unless
    # it holds a figure and no words (a renderer that drops empty cells drops an empty label too).
    label = bool(re.search(r"[A-Za-z]{2}", cells[0].text))
    values = cells if not label and any(cells[0].start <= q.start < cells[0].end for q in figures) else cells[1:]
    if len(values) != len(periods) and not keeps_empty:
        return  # empty cells were dropped: positions do not line up
    spans = len(periods) >= 2 and periods[-1] is not None and any(
        a is not None and a is b for a, b in zip(periods, periods[1:], strict=False))
    for i, cell in enumerate(values):
        period = periods[i] if i < len(periods) else periods[-1] if spans else None
        for q in figures:
            if cell.start <= q.start < cell.end:
                covered.add(q.start)
                if period is not None:
                    assigned[q.start] = period
