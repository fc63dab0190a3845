"""Rows of report tables as the asked computations read them (`rewards.asked_arithmetic`).

A " | " table row (`rag.html_text` writes table cells so) is its label cell and its figures, each with the
period heading its column (`rewards.periods.column_periods`). Reporting conventions read here:
* a line item indented under a caption ("Current income tax expense:" over "Federal | $5") is named by
  the caption too, until a blank line, a column header or the total line ends the section;
* a column that a unit row (" | % | %") or its heading ("FY 2019 (%)") declares in per cent holds
  percentages, though its cells are written without the sign, and so does a row label ("ROFE (%)");
  so does a common-size column, signed "%" on its first and last lines only, as a statement signs "$";
* a table may date blocks of rows by caption lines ("December 31, 2019" over its rows, then "December
  31, 2018" over the same line items), or label its rows by period ("2021 | $138 | $6" under
  "Operating leases | Finance leases"): `captioned_rows` reads each line item across those periods.
Rows are read once per page text and cached: a question's line item, the items it joins and its totals
each read the same tables.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from rewards.numbers import Quantity
from rewards.periods import Period, extract_periods
from rewards.premises import PreparedPage, cell_index, in_row_label

# A column heading that declares its cells percentages: a unit cell "%" or "(%)", or "... (%)".
_PERCENT_HEADING_RE = re.compile(r"^\s*\(?%\)?\s*$|\((?:in\s+)?%\)\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class Row:
    """A " | " table row: its label cell and its figures with the period heading each one's column."""

    page: PreparedPage
    label: str
    cells: tuple[tuple[Quantity, Period | None], ...]
    start: int = 0  # offset of its line in the page text

    @property
    def own(self) -> str:
        """Its own label cell, without the caption it is listed under ("federal" of "current tax: federal")."""
        return self.label.rpartition(": ")[2]

    @property
    def caption(self) -> str:
        return self.label.rpartition(": ")[0]


# Table rows by page text: a question's line item, joined items and totals each read the same tables.
_TABLE_ROWS: dict[tuple[str, bool], list[tuple[str, tuple[tuple[Quantity, Period | None], ...], int]]] = {}
_TABLE_ROWS_PAGES = 512


def table_rows(page: PreparedPage, unlabelled: bool = False) -> list[Row]:
    """The page's " | " table rows that hold figures, each with its label cell, preceded by the
    caption line above it ("Current income tax expense:" over "Federal | $5 | $4"): a statement
    indents line items under the heading they belong to, until a blank line ends the table."""
    key = (page.source.text, unlabelled)
    if key not in _TABLE_ROWS:
        if len(_TABLE_ROWS) >= _TABLE_ROWS_PAGES:
            _TABLE_ROWS.pop(next(iter(_TABLE_ROWS)))
        _TABLE_ROWS[key] = [(row.label, row.cells, row.start) for row in _read_table_rows(page, unlabelled)]
    return [Row(page, label, cells, start) for label, cells, start in _TABLE_ROWS[key]]


def _read_table_rows(page: PreparedPage, unlabelled: bool) -> list[Row]:
    text = page.source.text
    rows: dict[int, list[Quantity]] = {}
    for q in page.quantities:
        line_start = text.rfind("\n", 0, q.start) + 1
        if " | " in text[line_start : q.start + 1] and not in_row_label(page, q):
            rows.setdefault(line_start, []).append(q)
    out, caption, position, percent_columns = [], "", 0, set()
    section, sections = 0, []  # which block of lines each row of `out` is in (blank lines, headers split them)
    for line_start, figures in rows.items():
        # Captions: lines with words and no figures since the previous row.
        between = text[position : max(position, line_start - 1)] if line_start else ""
        for line in between.split("\n") if between else []:
            cells = line.split("|")
            new_section = not line.strip() or any(re.search(r"[A-Za-z]", c) for c in cells[1:])
            # A unit row or heading declares a column's percentages: " | % | %", "FY 2019 (%)".
            percent_columns = (set() if new_section else percent_columns) | {
                i for i, cell in enumerate(cells) if _PERCENT_HEADING_RE.search(cell)}
            if new_section:
                caption = ""  # a blank line ends a section, a column header starts a table
                section += 1
            elif len(cells) > 1:
                continue  # a line item without figures ("Tax fees | — | —")
            elif re.search(r"[A-Za-z]{2}", line) and not re.search(r"\d", line):
                caption = line.strip(" |:").lower()
        position = text.find("\n", line_start) % (len(text) + 1) + 1
        label = text[line_start : text.find(" | ", line_start)].strip().lower()
        if re.search(r"[a-z]{2}", label) or (unlabelled and not label and out):
            # ... and a row label its row's: "ROFE (%) | 15.2 | 17.1".
            whole_row = bool(_PERCENT_HEADING_RE.search(label))
            percents = [replace(q, unit="%") if q.unit != "%" and (whole_row or cell_index(text, q.start)
                                                                    in percent_columns) else q for q in figures]
            out.append(Row(page, f"{caption}: {label}" if caption else label,
                           tuple((q, page.columns.get(q.start)) for q in percents), line_start))
            sections.append(section)
            if label.startswith("total"):
                caption = ""  # a total closes the section it sums
    return _common_size(out, sections)


def _common_size(rows: list[Row], sections: list[int]) -> list[Row]:
    """A column of percentages that writes its sign on its first and last lines only, as a statement
    writes "$" (a common-size table: "Sales | 100.0 % | 100.0 %" ... "Net income | 7.2 % | 20.5 %"):
    its unsigned figures between them are percentages too. Figures with a unit of their own are not."""
    by_section: dict[int, list[int]] = {}
    for i, section in enumerate(sections):
        by_section.setdefault(section, []).append(i)
    out = list(rows)
    for members in by_section.values():
        if len(members) < 3:
            continue
        text = rows[members[0]].page.source.text
        first, last = ({cell_index(text, q.start): q.unit for q, _ in rows[i].cells} for i in (members[0], members[-1]))
        columns = {c for c, unit in first.items() if unit == "%" and last.get(c) == "%"}
        for i in members[1:-1] if columns else []:
            out[i] = replace(rows[i], cells=tuple(
                (replace(q, unit="%") if not q.unit and not q.scaled_in_text and cell_index(text, q.start) in columns
                 else q, p) for q, p in rows[i].cells))
    return out


# A line that only dates the rows below it: "December 31, 2019", "2019:", "Year ended 30 June 2019".
_PERIOD_CAPTION_WORDS = frozenset("year years ended ending as of at for the fiscal balance balances period".split())


def _lone_period(cell: str) -> Period | None:
    """The one period a cell or line names when it only dates ("December 31, 2019", "2019:", "Year ended
    30 June 2019"), else None."""
    periods = [p for p in extract_periods(cell) if p.year is not None]
    if len(periods) != 1:
        return None
    rest = (cell[: periods[0].start] + " " + cell[periods[0].end :]).lower()
    return periods[0] if set(re.findall(r"[a-z]+", rest)) <= _PERIOD_CAPTION_WORDS else None


def _caption_period(line: str) -> Period | None:
    """The period of a line that only dates the rows below it, else None."""
    cells = line.split("|")
    return None if any(cell.strip() for cell in cells[1:]) else _lone_period(cells[0])


# The captioned rows (label, cells) of the last page texts read: each question reads its pages' rows
# several times, and pages of one text (a draft's and its revision's) have the same rows.
_CAPTIONED: dict[str, list[tuple[str, tuple[tuple[Quantity, Period], ...]]]] = {}
_CAPTIONED_PAGES = 256


# A header line's cell that only gives the unit: "(Dollars in millions)", "£m", "US$'000", "%".
_UNIT_NOTE_RE = re.compile(r"\(?\s*(?:(?:u\.?s\.?\s*)?(?:dollars?|amounts?|[$£€])\s*)?(?:in\s+)?"
                           r"(?:thousands?|millions?|billions?|m|bn|['’]000|%)?\s*\)?$", re.IGNORECASE)


def captioned_rows(page: PreparedPage) -> list[Row]:
    """Rows of a table whose periods are not column headings, one per line item and column heading:
    - periods as caption lines between blocks of rows ("December 31, 2019" over "Total | $19,731 | $(238)",
      then "December 31, 2018" over "Total | $15,568 | ..."): "total accounts receivable, gross" has the
      total line's figure under that heading in each dated block;
    - periods as row labels ("2021 | $138 | $6", "2022 | 135 | 6" under "Operating Leases | Finance
      Leases"): the column "operating leases" is the line item, each row its period.
    Only tables with two dated blocks or dated rows or more."""
    text, heading, period = page.source.text, [], None
    if text in _CAPTIONED:
        return [Row(page, label, cells, 0) for label, cells in _CAPTIONED[text]]
    merged: dict[tuple[int, str, str], list[tuple[Quantity, Period]]] = {}
    table, periods_seen, position = 0, {}, 0
    for line in text.split("\n"):
        start, position = position, position + len(line) + 1
        cells = line.split("|")
        figures = [q for q in page.figures_in(start, start + len(line)) if not in_row_label(page, q)]
        if not line.strip():
            table, heading, period = table + 1, [], None  # a blank line ends the table
            continue
        if (dated := _caption_period(line)) is not None:
            period = dated
            periods_seen.setdefault(table, set()).add(dated.year)
            continue
        if not figures and any(re.search(r"[A-Za-z]", c) for c in cells[1:]):
            if not all(_UNIT_NOTE_RE.match(c.strip()) for c in cells[1:]):  # " | (Dollars in millions)" is no heading
                heading = [c.strip().lower() for c in cells]  # column headings
            continue
        # A row dated by its label is the column heading's line item; a labelled row in a dated block, its own.
        row_period = _lone_period(cells[0]) if figures and len(cells) > 1 else None
        label = cells[0].strip().lower()
        if row_period is not None:
            periods_seen.setdefault(table, set()).add(row_period.year)
            label = ""
        elif period is None or not re.search(r"[a-z]{2}", label):
            continue
        for q in figures:
            column = cell_index(text, q.start)
            if column < len(heading) and heading[column]:
                merged.setdefault((table, label, heading[column]), []).append((q, row_period or period))
    if len(_CAPTIONED) >= _CAPTIONED_PAGES:
        _CAPTIONED.pop(next(iter(_CAPTIONED)))
    _CAPTIONED[text] = [(f"{label} {name}".strip(), tuple(cells)) for (table, label, name), cells in merged.items()
                        if len(periods_seen.get(table, ())) >= 2 and len(cells) >= 2]
    return [Row(page, label, cells, 0) for label, cells in _CAPTIONED[text]]
