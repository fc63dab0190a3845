"""Column groups of a table: headings (segments, most often) that each span an equal run of period
columns.

Segment results are reported side by side (ASC 280 segment disclosures; a 10-Q's "Segment results"
table), and PDF text puts each heading on its own line above the period header:

    Consumer & Community Banking
    Corporate & Investment Bank
    Commercial Banking
    (in millions, except ratios)
    2021 2020 Change 2021 2020 Change 2021 2020 Change
    Total net revenue $ 12,517 $ 13,287 (6) % $ 14,605 $ 10,003 46 % $ 2,393 $ 2,165 11 %

Each group has as many figure columns as the row has figures divided by the number of headings, so
a figure's group is its position in its row divided by that. A claim that names a group ("Consumer &
Community Banking: $12,517 million") states the figure of that group's columns, for the measure the
row names (`rewards.question_context.direct_match` takes it from the question when the claim names
only the group). A reading convention of financial tables, not fitted to any data set.
"""

from __future__ import annotations

import re

from rewards.numbers import extract_quantities
from rewards.periods import header_runs, table_rows

MAX_GROUPS = 8  # more heading lines than this above a header are prose, not column headings
# A line that is a unit or layout note, not a heading: "(in millions, except ratios)", "$".
_NOTE_LINE_RE = re.compile(r"^\(?\s*(?:in\s+(?:thousands|millions|billions)|dollars|amounts)\b.*\)?$|^[$%()\s]*$",
                           re.IGNORECASE)
# A heading is a short name: letters, "&", commas and hyphens, no figure, no sentence punctuation.
_HEADING_RE = re.compile(r"^[A-Z][A-Za-z&,'’/\- ]{1,60}$")


def _headings_above(text: str, offset: int) -> list[str]:
    """The heading lines directly above the header that starts at `offset`, top to bottom (unit
    notes skipped); [] when the lines there are not all short names."""
    lines = text[:offset].split("\n")[:-1]  # the header's own line (before its first year) is left out
    headings: list[str] = []
    for line in reversed(lines):
        line = line.strip()
        if not line or _NOTE_LINE_RE.match(line):
            if headings:
                break
            continue
        if not _HEADING_RE.match(line) or line.endswith(","):
            break  # "Three months ended March 31,": the caption above the groups
        headings.append(line)
        if len(headings) > MAX_GROUPS:
            return []
    return headings[::-1]


# Between the cells of one row, or between the period runs of one header: only figures, percentages
# (a change column), "NM" and layout; no label.
_SAME_ROW_RE = re.compile(r"^[\s$()%\d.,\-–—*]*(?:NM[\s$()%\d.,\-–—*]*)*$")
_SAME_HEADER_RE = re.compile(r"^(?:\s|change|%|\(?in\s+\w+\)?|,)*$", re.IGNORECASE)


def _group_headers(text: str) -> list[tuple[int, list[int], list[str]]]:
    """(first period offset, one group's years, headings) of each grouped header: k >= 2 heading
    lines above a header whose period runs (a change column may split it) are k repeats of the
    same periods."""
    runs = header_runs(text)
    out = []
    for i, (_end, periods) in enumerate(runs):
        headings = _headings_above(text, periods[0].start)
        if len(headings) < 2 or (i and _SAME_HEADER_RE.match(text[runs[i - 1][0] : periods[0].start])):
            continue
        years, last = [p.year for p in periods], periods[-1].end
        for _next_end, more in runs[i + 1 :]:
            if not _SAME_HEADER_RE.match(text[last : more[0].start]):
                break
            years, last = years + [p.year for p in more], more[-1].end
        # Each group repeats the same periods ("2021 2020 | 2021 2020 | 2021 2020"); lines above a
        # header whose years do not repeat so are a caption (company name, statement title).
        per = len(years) // len(headings)
        if len(years) % len(headings) == 0 and all(year == years[i % per] for i, year in enumerate(years)):
            out.append((periods[0].start, years[:per], headings))
    return out


def figure_cells(text: str) -> dict[int, tuple[str, int | None, int]]:
    """Start offset of each table figure -> (the heading of its column group, its column's year or
    None for a group's change column, the start offset of its row's first figure), for rows below a
    grouped header (`_group_headers`) with as many figures as the header has periods (or one more
    per group: its change column)."""
    headers = _group_headers(text)
    if not headers:
        return {}
    rows: list[list] = []
    for fragment in table_rows(text, extract_quantities(text)):
        if rows and _SAME_ROW_RE.match(text[rows[-1][-1].end : fragment[0].start]):
            rows[-1].extend(fragment)  # a change column split the row
        else:
            rows.append(list(fragment))
    out: dict[int, tuple[str, int | None, int]] = {}
    for row in rows:
        above = [h for h in headers if h[0] < row[0].start]
        if not above:
            continue
        _, years, headings = above[-1]
        # Each group's change column holds a figure too when written without a % sign ("(1)").
        if len(row) not in (len(years) * len(headings), (len(years) + 1) * len(headings)):
            continue
        per_group = len(row) // len(headings)
        for position, q in enumerate(row):
            column = position % per_group
            out[q.start] = (headings[position // per_group], years[column] if column < len(years) else None,
                            row[0].start)
    return out


def figure_groups(text: str) -> dict[int, str]:
    """Start offset of each table figure -> the heading of its column group (`figure_cells`)."""
    return {start: heading for start, (heading, _year, _row) in figure_cells(text).items()}
