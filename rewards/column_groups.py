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
_WRAPPED_RE = re.compile(r"(?:&|\band)$")  # a heading line that continues on the next
WRAPPED_WORDS = 3  # the most words of a wrapped heading's continuation line


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
        if headings and _WRAPPED_RE.search(line) and len(headings[-1].split()) <= WRAPPED_WORDS:
            headings[-1] = f"{line} {headings[-1]}"  # "Consumer &" wrapped over "Community Banking"
            continue
        headings.append(line)
        if len(headings) > MAX_GROUPS:
            return []
    # A heading cut after "&" whose rest runs into the next name ("Investment Bank Commercial
    # Banking") cannot be split into names: the groups are then known by position only.
    return [] if any(_WRAPPED_RE.search(h) for h in headings) else headings[::-1]


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
        if i and _SAME_HEADER_RE.match(text[runs[i - 1][0] : periods[0].start]):
            continue  # the rest of the header found before
        years, last = [p.year for p in periods], periods[-1].end
        for _next_end, more in runs[i + 1 :]:
            if not _SAME_HEADER_RE.match(text[last : more[0].start]):
                break
            years, last = years + [p.year for p in more], more[-1].end
        # Each group repeats the same periods ("2021 2020 | 2021 2020 | 2021 2020"); lines above a
        # header whose years do not repeat so are a caption (company name, statement title).
        per = len(years) // len(headings) if len(headings) >= 2 else 0
        if per and len(years) % len(headings) == 0 and len(set(years[:per])) == per \
                and all(year == years[i % per] for i, year in enumerate(years)):
            out.append((periods[0].start, years[:per], headings))
        elif (unnamed := _unnamed_groups(text, periods[0].start, years)) is not None:
            out.append((periods[0].start, *unnamed))
    return out


# A caption of spans side by side ("Three months ended … Six months ended …"): groups of periods, not segments.
SPAN_RE = re.compile(r"\b(?:three|six|nine|twelve)\s+months\b|\byears?\s+ended\b|\byear[\s-]+to[\s-]+date\b",
                      re.IGNORECASE)
_TOTAL_LAST_RE = re.compile(r"\b(?:total|firmwide|consolidated)\s*$", re.IGNORECASE)
# "… Corporate Reconciling Items(a) Total": the column before the total reconciles, it is no peer.
_RECONCILING_LAST_RE = re.compile(r"\b(?:reconciling\s+items|eliminations?|adjustments)\W*(?:\([a-z]\))?\s*"
                                  r"(?:total|firmwide|consolidated)\s*$", re.IGNORECASE)
CAPTION_LINES = 6  # lines above a header read as its caption


def _unnamed_groups(text: str, offset: int, years: list[int | None]) -> tuple[list, list[str]] | None:
    """(one group's years, placeholder headings) of a header whose period runs repeat k >= 2 times
    ("2021 2020 Change" three times) while its heading lines cannot be split into k names (all on
    one line after the caption, or wrapped over more lines than groups): the groups are known by
    position only. "#1", "#2" … name nothing a claim can name; a last heading line ending in "Total"
    makes the last group the total (and "Reconciling items" or "Eliminations" before it the one
    before). None when the years do not repeat so, or the caption above names two spans (three and
    six months: groups of periods, not of segments)."""
    per = next((n for n in range(2, len(years) // 2 + 1)
                if len(years) % n == 0 and len(set(years[:n])) == n
                and all(year == years[i % n] for i, year in enumerate(years))), None)
    if per is None:
        return None
    line_start = text.rfind("\n", 0, offset) + 1
    caption = text[line_start:offset]
    above = text[:line_start].split("\n")[-CAPTION_LINES - 1:-1]
    for line in reversed(above):
        if line.rstrip().endswith(".") or "$" in line or "%" in line:
            break  # prose or the rows of a table above
        caption = f"{line}\n{caption}"
    if len(SPAN_RE.findall(caption)) > 1:
        return None
    k = len(years) // per
    last_heading = next((line for line in reversed(above)
                         if line.strip() and not _NOTE_LINE_RE.match(line.strip())), "")
    headings = [f"#{n + 1}" for n in range(k)]
    if _TOTAL_LAST_RE.search(last_heading):
        headings[-1] = "Total"
        if k > 2 and _RECONCILING_LAST_RE.search(last_heading):
            headings[-2] = "Reconciling items"
    return years[:per], headings


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
