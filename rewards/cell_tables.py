"""Column headings of tables that PDF text writes one cell per line.

A PDF table extracted as text often loses its layout: every cell on its own line, the column
headings first, then each row as its label and its values ("Name / Votes For / Votes Against /
Abstentions / Broker Non-Votes / Alan D. Feldman / 54,760,830 / 5,184,437 / …"). Read line by line,
the first row's label then seems to be the last few heading lines ("abstentions broker non-votes
alan d. feldman"), and no value is tied to the column that says what it measures.

`cell_heading` reads such a table back when its shape says how: every row a one-line label and the
same number V ≥ 3 of value lines (blank lines between cells are ignored), and above the first row
exactly V heading lines, or V + 1 with the label column's own heading first ("Name"). Then a value's
label is its row's label and the heading of its column. Any other shape (headings wrapped over
several lines, labels wrapped, rows of unequal length) is left to the line reading of
`rewards.premises`: a heading is only given where the count of cells makes it certain.
"""

from __future__ import annotations

import re
from functools import lru_cache

_WORD_RE = re.compile(r"[A-Za-z]{3,}")
_VALUE_RE = re.compile(r"^[\s$€£(]*[-–—]?\(?[\d.,]+\)?%?[\s)]*$|^\s*[-–—]\s*$")
_YEAR_RE = re.compile(r"^\s*(?:FY\s?)?(?:19[89]\d|20[0-4]\d)\s*$")
MIN_COLUMNS = 3
MAX_HEADING_WORDS = 6


def _kind(line: str) -> str:
    """'value' for a figure cell (or a dash for nothing), 'words' for a label or heading without
    digits, 'blank', or 'other' (a dated header, a sentence with figures: not a cell table)."""
    if not line.strip():
        return "blank"
    if _YEAR_RE.match(line):
        return "other"  # a column's year ("2019"): the table's dated header, not a row's value
    if _VALUE_RE.match(line):
        return "value"
    if _WORD_RE.search(line) and not re.search(r"\d", line):
        return "words"
    return "other"


@lru_cache(maxsize=64)
def _cells(text: str) -> tuple[list[str], dict[int, int], dict[int, int], list[int], list[str]]:
    """The page's lines; line index by start offset; cell index by line index; the line index and
    kind of each non-blank line. Parsed once per page text (every value of a page asks)."""
    lines = text.split("\n")
    line_of, position = {}, 0
    for i, line in enumerate(lines):
        line_of[position] = i
        position += len(line) + 1
    order = [i for i, line in enumerate(lines) if _kind(line) != "blank"]
    kinds = [_kind(lines[i]) for i in order]
    return lines, line_of, {i: n for n, i in enumerate(order)}, order, kinds


def _heading_like(line: str) -> bool:
    """A column heading is a few words, not a sentence or its lead-in ("… as set forth below:")."""
    stripped = line.strip()
    return len(stripped.split()) <= MAX_HEADING_WORDS and not stripped.endswith((":", ".", ";"))


def cell_heading(text: str, line_start: int) -> tuple[str, str, list[str]] | None:
    """(row label, column heading, every column heading of its table) of the value on the line
    starting at `line_start`, or None when the lines around it are not a one-cell-per-line table of
    a certain shape."""
    lines, line_of, cell_of, order, _ = _cells(text)
    at = cell_of.get(line_of.get(line_start, -1))
    found = _table_at(text, at) if at is not None else None
    if found is None:
        return None
    _, label_at, headings = found
    return lines[order[label_at]].strip(), headings[at - label_at - 1], headings


def cell_tables(text: str) -> list[tuple[list[str], list[tuple[str, list[str]]]]]:
    """Every one-cell-per-line table of a certain shape in `text`: (column headings, rows of (label,
    value cells)), the rows in page order."""
    lines, _, _, order, kinds = _cells(text)
    tables, seen = [], set()
    for at, kind in enumerate(kinds):
        found = _table_at(text, at + 1) if kind == "words" and at + 1 < len(kinds) else None
        if found is None or found[0] in seen:
            continue
        first, _, headings = found
        seen.add(first)
        width, rows, row = len(headings), [], first
        while _is_row(kinds, row, width):
            rows.append((lines[order[row]].strip(), [lines[order[c]].strip() for c in range(row + 1, row + width + 1)]))
            row += width + 1
        tables.append((headings, rows))
    return tables


def _is_row(kinds: list[str], label_at: int, width: int) -> bool:
    """Whether cell `label_at` starts a row: a label and `width` values."""
    return 0 <= label_at and label_at + width < len(kinds) and kinds[label_at] == "words" \
        and kinds[label_at + 1: label_at + width + 1] == ["value"] * width


def _table_at(text: str, at: int) -> tuple[int, int, list[str]] | None:
    """(cell index of the table's first row label, of this value's row label, the column headings)
    for the value cell `at`, or None."""
    lines, _, _, order, kinds = _cells(text)
    if kinds[at] != "value":
        return None
    # The row: back to its label over the values before this one.
    label_at = at
    while label_at >= 0 and kinds[label_at] == "value":
        label_at -= 1
    if label_at < 0 or kinds[label_at] != "words":
        return None
    end = label_at + 1
    while end < len(kinds) and kinds[end] == "value":
        end += 1
    width = end - label_at - 1
    if width < MIN_COLUMNS:
        return None
    # Up over the rows above, each a one-line label and `width` values, to the first row.
    first = label_at
    while _is_row(kinds, first - width - 1, width):
        first -= width + 1
    headings = []
    j = first - 1
    while j >= 0 and kinds[j] == "words" and _heading_like(lines[order[j]]) and len(headings) < width + 2:
        headings.insert(0, lines[order[j]].strip())
        j -= 1
    if j >= 0 and kinds[j] == "words" and _heading_like(lines[order[j]]):
        return None  # more heading lines than columns: wrapped headings, not certain
    if len(headings) == width + 1:
        headings = headings[1:]  # the label column's own heading ("Name")
    if len(headings) != width:
        return None
    return first, label_at, headings
