"""A bare figure computed across two columns of one table row that its question names by heading.

A question may name the columns of a " | " table rather than its years: "the difference between
181-360 and >360 days past due for all countries", "the change in revenue between the quarters ended
July 27 and April 27", "the difference between the high and low price", "the sum of Q4 2019 and
Q4 2018". Its operation (`rewards.asked_arithmetic.asked_operations`) is then taken between the
cells of those columns in the row the rest of the question names, or, when it names none, the row
that sums the table ("Total" or left unlabelled, the layout of a statement's total line; "for all
countries"). Conventions applied, as for years:

* a change is the later minus the earlier: of dated headings ("July 27, 2019") by date, of ordinal
  ones ("Third", "Fourth") by rank, else the column named second minus the one named first ("from
  A to B"); a "difference" or a "decrease" may be stated as a magnitude;
* a percentage change is over the earlier; a ratio is the first named over the second;
* a total is their sum, an average their mean.

A column is named when its heading, without footnote markers and without the year the question also
names, is a phrase of the question (dashes and case aside), so a heading never counts as named by
one of its words alone. The headings are the table's lines above its first line of figures, their
cells lined up with the row's by position: where the counts differ (a renderer that drops empty
cells), nothing is read.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rewards.arithmetic import format_operand
from rewards.numbers import Quantity
from rewards.periods import extract_periods
from rewards.premises import PreparedPage, measure_tokens, occurs

_DASH_RE = re.compile(r"\s*[–—-]\s*")
_FOOTNOTE_RE = re.compile(r"\(\w{1,2}\)|\*")
_ORDINALS = ("first", "second", "third", "fourth")
MAX_ROWS = 4  # rows named alike beyond this are too ambiguous to name one line item
_ALL_RE = re.compile(r"\b(?:all|total|overall|combined)\b", re.IGNORECASE)


@dataclass(frozen=True)
class Column:
    """One value column of a " | " table: its heading (lower case) and the figure of each row under
    it, with the row's label (lower case; "" for an unlabelled total line)."""

    heading: str
    order: tuple[int, int] | None  # (year, day of year) or (0, rank) when the heading orders it; else None
    cells: tuple[tuple[str, Quantity | None], ...]  # per row of the table: its label and its figure here


def _normal(text: str) -> str:
    return re.sub(r"\s+", " ", _DASH_RE.sub("-", _FOOTNOTE_RE.sub(" ", text.lower()))).strip(" .,:")


def _order(heading: str) -> tuple[int, int] | None:
    periods = [p for p in extract_periods(heading) if p.year]
    if len(periods) == 1:
        p = periods[0]
        return p.year, (p.month or (p.quarter or 0) * 3) * 31 + (p.day or 0)
    words = heading.split()
    ranks = [_ORDINALS.index(w) + 1 for w in words if w in _ORDINALS]
    return (0, ranks[0]) if len(ranks) == 1 else None


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.split("|")]


def _figure_cells(page: PreparedPage, start: int, line: str) -> list[Quantity | None]:
    """Each cell of the line at `start`: the one figure written in it, else None."""
    out, position = [], start
    for part in line.split("|"):
        inside = page.figures_in(position, position + len(part))
        out.append(inside[0] if len(inside) == 1 else None)
        position += len(part) + 1
    return out


def tables(page: PreparedPage) -> list[list[Column]]:
    """The page's " | " tables whose heading lines line up with their rows, as columns."""
    text, out, position = page.source.text, [], 0
    for block in re.split(r"(\n\s*\n)", text):
        if " | " in block:
            columns = _block_columns(page, position, block)
            if columns:
                out.append(columns)
        position += len(block)
    return out


def _block_columns(page: PreparedPage, offset: int, block: str) -> list[Column]:
    headings: list[list[str]] = []
    rows: list[tuple[str, list[Quantity | None]]] = []
    position = offset
    for line in block.split("\n"):
        start, position = position, position + len(line) + 1
        if " | " not in line and not line.startswith("| "):
            continue
        cells = _cells(line)
        figures = _figure_cells(page, start, line)
        if rows or (any(figures[1:]) and not any(re.search(r"[A-Za-z]", c) for c in cells[1:])):
            rows.append((cells[0].lower(), figures))
        else:
            headings.append(cells)
    if not headings or not rows:
        return []
    width = max(len(figures) for _, figures in rows)
    lined = [cells for cells in headings if len(cells) == width]
    if not lined:
        return []
    columns = []
    for i in range(1, width):
        heading = " ".join(cells[i] for cells in lined if cells[i]).lower()
        under = tuple((label, figures[i] if len(figures) == width else None) for label, figures in rows)
        if heading and any(figure is not None for _, figure in under):
            columns.append(Column(heading, _order(heading), under))
    return columns


def _named(heading: str, question: str, years: set[int]) -> int:
    """Where the question (`_normal`-ised) names the heading as a phrase (-1 when it does not)."""
    for p in extract_periods(heading):
        if p.year in years and p.day:  # "July 27, 2019" named as "July 27 ... in 2019"
            heading = re.sub(rf",?\s*\b{p.year}\b", " ", heading)
    phrase = _normal(heading)
    if not re.search(r"[a-z0-9]", phrase):
        return -1
    m = re.search(rf"(?<![\w>.<-]){re.escape(phrase)}(?![\w.-])", question)
    return m.start() if m else -1


def column_candidates(operation: str, question: str, pages: list[PreparedPage], rows: list[str], q: Quantity,
                      unsigned: bool) -> list[tuple[str, float, bool, PreparedPage]]:
    """Candidates (expression, value, amount, page) of the asked operation between the two columns
    the question names by heading, in the row labelled one of `rows` (labels the question names,
    lower case), else in the table's total line."""
    years = {p.year for p in extract_periods(question) if p.year}
    asked = _normal(question)
    out = []
    for page in pages:
        for columns in tables(page):
            named = sorted(((at, c) for c in columns if (at := _named(c.heading, asked, years)) >= 0),
                           key=lambda found: found[0])
            if len(named) != 2 or named[0][0] == named[1][0]:
                continue  # two columns, named apart
            (_, first), (_, second) = named
            for a, b in _row_cells(first, second, rows, question, _year_only(first) and _year_only(second)):
                out += [(*c, page) for c in _between(operation, first, second, a, b, q, unsigned)]
    return out


def _year_only(column: Column) -> bool:
    """A heading that is one year ("2019", "Fiscal 2019"): named by the question's years, not by what
    it asks of the table."""
    periods = [p for p in extract_periods(column.heading) if p.year]
    return len(periods) == 1 and not periods[0].day and not periods[0].quarter


def _row_cells(first: Column, second: Column, rows: list[str], question: str,
               years: bool) -> list[tuple[Quantity, Quantity]]:
    """The two columns' figures in the rows named (by label), else in the one row both fill, else,
    for "all" or "total", in the table's last total line. Columns of two years are named by any
    question of those years: there, only a named row is read."""
    shared = [(label, a, b) for (label, a), (_, b) in zip(first.cells, second.cells, strict=True)
              if a is not None and b is not None]
    named = [(a, b) for label, a, b in shared if label in rows] or _best_named(shared, question, (first, second))
    if named or years:
        return named
    if len(shared) == 1:
        return [(a, b) for _, a, b in shared]
    totals = [(a, b) for label, a, b in shared if label in ("", "total") or label.startswith("total ")]
    return totals[-1:] if _ALL_RE.search(question) else []


def _best_named(shared: list[tuple[str, Quantity, Quantity]], question: str,
                columns: tuple[Column, Column]) -> list[tuple[Quantity, Quantity]]:
    """The rows whose labels hold the most of the question's measure words (not the headings')."""
    headings = set(measure_tokens(" ".join(c.heading for c in columns)))
    words = [t for t in measure_tokens(question) if t not in headings]
    scored = [(sum(1 for t in words if occurs(t, label)), a, b) for label, a, b in shared]
    best = max((score for score, _, _ in scored), default=0)
    rows = [(a, b) for score, a, b in scored if best and score == best]
    return rows if len(rows) <= MAX_ROWS else []


def _between(operation: str, first: Column, second: Column, a: Quantity, b: Quantity, q: Quantity,
             unsigned: bool) -> list[tuple[str, float, bool]]:
    """The operation between cells a (of the column named first) and b."""
    amount = a.unit != "%"
    if (q.unit == "%") != (not amount) and operation != "percent_change" and operation != "ratio":
        return []
    old, new = (a, b)
    if first.order and second.order and first.order > second.order:
        old, new = b, a  # dated or ordinal headings: the later minus the earlier
    x, y = format_operand(old.value), format_operand(new.value)
    if operation == "change":
        out = [(f"{y} - {x}", new.value - old.value, amount)]
        return out + ([(f"{x} - {y}", old.value - new.value, amount)] if unsigned else [])
    if operation == "percent_change" and old.value and q.unit == "%":
        return [(f"({y} - {x}) / {format_operand(abs(old.value))} × 100",
                 (new.value - old.value) / abs(old.value) * 100.0, False)]
    if operation == "total":
        return [(f"{format_operand(a.value)} + {format_operand(b.value)}", a.value + b.value, amount)]
    if operation == "average":
        return [(f"({format_operand(a.value)} + {format_operand(b.value)}) / 2", (a.value + b.value) / 2, amount)]
    if operation == "ratio" and b.value:
        scale = 100.0 if q.unit == "%" else 1.0
        return [(f"{format_operand(a.value)} / {format_operand(b.value)}", a.value / b.value * scale, False)]
    return []
