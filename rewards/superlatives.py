"""A superlative must hold among the peers the sources list: "CIB had the highest net income".

A claim that one segment had the highest (or lowest) value of a measure compares that segment with
every other one the table reports, which no single figure match checks: "Consumer & Community
Banking had the highest net income, $3.1 billion" quotes a true figure and still names the wrong
segment when Corporate & Investment Bank's is $3.7 billion. In a side-by-side segment table
(`rewards.column_groups`, ASC 280 segment disclosures) the peers are the other column groups: the
claim names one group, the row is the one whose label names the claim's measure (the question's when
the claim names none of its own), the column is the asked period's (the latest when neither the
claim nor the question names one year), and the named group's value must be the row's largest
(smallest) among the groups. A "Total" or "Firmwide" column is the sum of the others, not a peer.
Where the headings cannot be split into names, a claim that states the winner's figure is read by
that figure's place in the table (`outranked_value`).

A reading convention of comparisons, not fitted to any data set.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from rewards.cell_tables import cell_tables
from rewards.column_groups import SPAN_RE
from rewards.numbers import extract_quantities
from rewards.periods import extract_periods
from rewards.premises import CHANGE_RE, MODIFIERS, PreparedPage, label_names, measure_tokens, most_named, occurs

_MOST_RE = re.compile(r"\b(?:highest|largest|greatest|biggest|most|best|strongest)\b", re.IGNORECASE)
_LEAST_RE = re.compile(r"\b(?:lowest|smallest|least|weakest|worst|fewest)\b", re.IGNORECASE)
# "higher than the votes against any other nominee": a comparison with every other row is a superlative.
# "… than the other nominees" compares with them all as well ("than the other one" does not).
_ALL_OTHERS = r"(?:(?:any|all|every|each)\s+(?:of\s+the\s+)?other|the\s+other\s+\w+s\b|the\s+others\b)"
# "Compared to the other nominees, his votes against were higher" says the same as "higher than".
_VERSUS = r"(?:than|compared\s+(?:to|with)|in\s+comparison\s+(?:to|with))"


_WITHIN = r"(?:[^.;]|\.(?=\s*[A-Z]))*?"  # within the clause; the period of an initial ("Alan D. Feldman") too


def _against_all(words: str) -> re.Pattern:
    return re.compile(rf"\b(?:{words})\b{_WITHIN}\b{_VERSUS}\b{_WITHIN}\b{_ALL_OTHERS}"
                      rf"|\b(?:compared|in\s+comparison)\s+(?:to|with)\s+{_ALL_OTHERS}{_WITHIN}\b(?:{words})\b",
                      re.IGNORECASE)


_ABOVE_ALL_RE = _against_all("higher|more|greater|larger|bigger")
_BELOW_ALL_RE = _against_all("lower|fewer|less|smaller")
_COMPARATIVE_RE = re.compile(r"\b(?:higher|lower)\b[^.;]*?\bthan\b"
                             r"|\b(?:higher|lower)\b(?=[^.;]*?\bcompared\s+(?:to|with)\b)|\bcompared\s+(?:to|with)\b",
                             re.IGNORECASE)
_NOT_PEER_RE = re.compile(r"^(?:total|firmwide|firm|consolidated|eliminations?|reconciling)\b", re.IGNORECASE)
_FIGURES_RE = re.compile(r"[$()\d.,%\s-]+(?=\s|$)")
_SUPERLATIVE_WORDS = frozenset({"highest", "largest", "greatest", "biggest", "most", "best", "strongest",
                                "lowest", "smallest", "least", "weakest", "worst", "fewest", "segment", "business"})


def _named(heading: str, lowered: str) -> bool:
    """Whether the text names the group: every word of its heading ("Corporate" is named inside
    "Corporate & Investment Bank" too; the caller keeps the longest name)."""
    words = [t for t in measure_tokens(heading) if t not in MODIFIERS]
    return bool(words) and all(occurs(t, lowered) for t in words)


def _asked_year(claim: str, question: str) -> int | None:
    for text in (claim, question):
        years = {p.year for p in extract_periods(text) if p.year}
        if len(years) == 1:
            return years.pop()
    return None


def _rows(page: PreparedPage, cells: dict, measure: list[str]) -> list[tuple[str, dict[str, dict[int, float]]]]:
    """(row label, group heading -> year -> value) of the grouped rows whose label names `measure`
    best (most of its words, modifiers included: "net income", not "pre-provision profit"). A table
    split over two header blocks (three segments, then two more and "Total") is one table: a row
    continues the last row of the same label until a group repeats (the next table: six months)."""
    by_row: dict[int, list[int]] = {}
    index_of = {q.start: i for i, q in enumerate(page.quantities)}
    for start, (_heading, _year, row) in cells.items():
        if start in index_of:
            by_row.setdefault(row, []).append(index_of[start])
    merged: list[tuple[str, dict[str, dict[int, float]]]] = []
    for row in sorted(by_row):
        first = index_of.get(row)
        if first is None or page.quantities[first].unit == "%" or not label_names(page, first, measure):
            continue
        label = _FIGURES_RE.sub(" ", page.labels[first]).strip().lower()
        groups: dict[str, dict[int, float]] = {}
        for i in by_row[row]:
            heading, year, _ = cells[page.quantities[i].start]
            if year is not None:
                groups.setdefault(heading, {})[year] = page.quantities[i].value
        same = [m for m in merged if m[0] == label]
        if same and not set(same[-1][1]) & set(groups):
            same[-1][1].update(groups)
        else:
            merged.append((label, groups))
    score = {label: sum(occurs(t, label) for t in measure) for label, _ in merged}
    top = max(score.values(), default=0)
    return [(label, groups) for label, groups in merged if score[label] == top]


def _number(cell: str) -> float | None:
    found = [q for q in extract_quantities(cell) if q.unit != "%" or "%" in cell]
    return found[0].value if len(found) == 1 else None


def _only(texts: list[str], lowered: str) -> str | None:
    """The one of `texts` the claim names with the most words (`most_named`), or None (none, or a tie)."""
    named = most_named(texts, lambda t: occurs(t, lowered))
    return named[0] if len(named) == 1 else None


def outranked_row(claim: str, about: str, pages: Sequence[PreparedPage]) -> str | None:
    """Why a claim that one row of a one-cell-per-line table (`rewards.cell_tables`) is the highest
    or lowest in a column, or higher or lower than every other row, is false; `about` is what the
    answer says the claim is about (`Claim.heading`: "He" is the nominee named before). None when the
    claim names no single row and column of such a table, or the table bears it out."""
    most = _MOST_RE.search(claim) or _ABOVE_ALL_RE.search(claim)
    least = _LEAST_RE.search(claim) or _BELOW_ALL_RE.search(claim)
    # A change compared ("grew the most", "increased more than any other") is not a level's rank;
    # the comparative's own "higher" / "lower" is no change word here.
    if bool(most) == bool(least) or CHANGE_RE.search(_COMPARATIVE_RE.sub(" ", claim)):
        return None
    lowered = f"{about} {claim}".lower()
    for page in pages:
        for headings, rows in cell_tables(page.source.text):
            column, row = _only(headings, lowered), _only([label for label, _ in rows], lowered)
            if column is None or row is None:
                continue
            at = headings.index(column)
            values = {label: v for label, cells in rows if (v := _number(cells[at])) is not None}
            if row not in values or len(values) < 2:
                continue
            best = (max if most else min)(values, key=values.get)
            if values[best] != values[row]:
                word = "highest" if most else "lowest"
                return f"not the {word}: {row} {values[row]:,.0f} against {best} {values[best]:,.0f} ({column})"
    return None


def outranked_group(claim: str, question: str, pages: Sequence[PreparedPage]) -> str | None:
    """Why the claim's superlative is false of every segment table it may be about; None when the
    claim states none, names no single group, the sources hold no such row (nothing to compare), or
    one table bears it out."""
    most, least = _MOST_RE.search(claim), _LEAST_RE.search(claim)
    if bool(most) == bool(least) or CHANGE_RE.search(claim):
        return None  # "grew the most", "the largest decline": a superlative of changes, not of levels
    lowered, year = claim.lower(), _asked_year(claim, question)
    conflict = None
    for page in pages:
        cells = page.cells
        headings = {heading for heading, _, _ in cells.values() if not _NOT_PEER_RE.match(heading)}
        named = [h for h in headings if _named(h, lowered)]
        named = [h for h in named if not any(_named(h, o.lower()) and not _named(o, h.lower()) for o in named)]
        if len(named) != 1 or len(headings) < 2:
            continue
        group_words = set(measure_tokens(" ".join(headings)))
        own = [t for t in measure_tokens(claim) if t not in group_words and t not in _SUPERLATIVE_WORDS]
        measure = own or [t for t in measure_tokens(question) if t not in group_words and t not in _SUPERLATIVE_WORDS]
        if not measure:
            continue
        for label, groups in _rows(page, cells, measure):
            columns = sorted({y for by_year in groups.values() for y in by_year}, reverse=True)
            wanted = year if year in columns else (columns[0] if columns else None)
            values = {h: by_year[wanted] for h, by_year in groups.items() if h in headings and wanted in by_year}
            if named[0] not in values or len(values) < 2:
                continue
            best = (max if most else min)(values, key=values.get)
            if values[best] == values[named[0]]:
                return None  # one table the claim may be about bears it out (three months, not six)
            word = (most or least).group(0).lower()
            conflict = conflict or (f"not the {word}: {named[0]} {values[named[0]]:,.0f} against {best} "
                                    f"{values[best]:,.0f} ({' '.join(label.split())[:60]}, {wanted})")
    return conflict


_LOSS_RE = re.compile(r"\b(?:loss(?:es)?|deficits?)\b", re.IGNORECASE)
_SEGMENTS_RE = re.compile(r"\b(?:segments?|business(?:es)?|divisions?|lines?\s+of\s+business|LOBs?|reportable)\b",
                          re.IGNORECASE)


def _span_before(text: str, offset: int) -> str | None:
    """The last span a caption names before `offset` ("three months"), lower-cased: a row of the six
    months' table is no peer of the three months' row of the same label."""
    spans = SPAN_RE.findall(text, 0, offset)
    return " ".join(spans[-1].lower().split()) if spans else None


def _peer_values(page: PreparedPage, start: int) -> dict[tuple[int, str], float]:
    """(header block, group) -> value of the figure at `start`'s row and year in every column group
    of its table, the row continued under the page's other header blocks by the same label (a
    segment table split in two: three segments, then two more and "Total")."""
    cells, text = page.cells, page.source.text
    _heading, year, row = cells[start]
    index_of = {q.start: i for i, q in enumerate(page.quantities)}

    def label(r: int) -> str:
        return _FIGURES_RE.sub(" ", page.labels[index_of[r]]).strip()

    own = (label(row), _span_before(text, row))
    rows = {r for r in {r for _h, _y, r in cells.values()}
            if r in index_of and (label(r), _span_before(text, r)) == own}
    return {(r, heading): page.quantities[index_of[s]].value for s, (heading, y, r) in cells.items()
            if r in rows and y == year and s in index_of and not _NOT_PEER_RE.match(heading)}


def outranked_value(claim: str, question: str, matches: Sequence) -> str | None:
    """Why a segment superlative that states its figure ("the segment with the lowest net revenue was
    Commercial Banking, $2,393 million") is false: the figure, found in a side-by-side segment table
    (`rewards.column_groups`), is not the highest (lowest) of its row and column among the table's
    segments. Needs no segment names, only the figure's place: it holds where the table's headings
    cannot be split into names. One figure only (a claim quoting a rival's figure compares), and
    only of a claim or question about segments (business lines)."""
    most, least = _MOST_RE.search(claim), _LEAST_RE.search(claim)
    found = [m for m in matches if m is not None and m.page is not None and m.source_quantity is not None]
    if bool(most) == bool(least) or CHANGE_RE.search(claim) or len(found) != 1 or len(matches) != 1:
        return None
    if not (_SEGMENTS_RE.search(claim) or _SEGMENTS_RE.search(question)) or _LOSS_RE.search(claim):
        return None  # "the highest loss" ranks by magnitude of a negative figure: not read here
    page, source = found[0].page, found[0].source_quantity
    cell = page.cells.get(source.start)
    if cell is None or cell[1] is None or _NOT_PEER_RE.match(cell[0]):
        return None
    values = _peer_values(page, source.start)
    if len(values) < 2:
        return None
    best = (max if most else min)(values.values())
    if best == source.value:
        return None
    word = (most or least).group(0).lower()
    return f"not the {word}: {source.text.strip()} against {best:,.0f} in another segment's column ({cell[1]})"


def outranked_peer(claim: str, about: str, question: str, pages: Sequence[PreparedPage]) -> str | None:
    """Why the claim's superlative is false among the peers the sources list: the classes of a statement
    of cash flows (`rewards.cash_activities`), the column groups of a segment table (`outranked_group`)
    or the rows of a one-cell-per-line table (`outranked_row`)."""
    from rewards.cash_activities import outranked_activity

    return (outranked_activity(claim, question, pages) or outranked_group(claim, question, pages)
            or outranked_row(claim, about, pages))
