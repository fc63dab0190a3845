"""A bare figure computed the way its question asks, from the table rows the question names.

Numerical QA over financial reports asks for a computed figure in a fixed vocabulary (TAT-QA, Zhu
et al. 2021; FinQA, Chen et al. 2021): "What was the change in X from 2018 to 2019?", "What is the
percentage change in X ...?", "What is the average X for 2018 and 2019?", "What is the total X in
2018 and 2019?", "What is the ratio of X to Y in 2019?". The answer is a bare figure ("-48,207
million", "12.5%"): the question says which operation, which line item (a table row whose label
names the question's measure words) and which periods (the columns headed by the years it names;
every dated column of the row when it names none). Conventions of financial reporting applied:

* a change from an earlier to a later period is later minus earlier (a decrease is negative, as in
  a variance column); "difference" and a "decrease"/"decline" asked for as such may be stated as a
  magnitude;
* a percentage change is (later - earlier) / |earlier| x 100 (the year-over-year growth rate); of a
  rate, it is also often said of its change in percentage points;
* an average over periods is their arithmetic mean, a total their sum;
* a ratio, share or "X as a percentage of Y" is X / Y within one period's column (x 100 for a
  percentage); a sum or difference of two line items is taken within one column too;
* a table may date blocks of rows by caption lines ("December 31, 2019" over its rows, then "December
  31, 2018" over the same line items): a line item under a column heading is then a row across the
  blocks (`captioned_rows`), and a table whose row labels are periods ("2021 | $138 | $6") makes each
  column heading a line item ("Operating leases");
* a column dated in January to March may head the fiscal year before ("January 3, 2020" ends a
  52/53-week fiscal 2019), read so only where the years asked head no column otherwise;
* one year asked for an average is that year's average balance, (opening + closing) / 2, and for a
  change the change over that year from the prior year's value;
* a column that a unit row (" | % | %") or its heading ("FY 2019 (%)") declares in per cent holds
  percentages, though its cells are written without the sign, and so does a row label ("ROFE (%)");
* amounts in parentheses on a row of deductions ("Less voyage expenses | (141,770)") are also read
  as the positive amounts they deduct;
* a line item indented under a caption ("Current income tax expense:" over "Federal | $5") is named
  by the caption too, and "the total" of what no row names is the "Total" or unlabelled sum line;
  so is "the total X" of several rows named X alike (each half year's dividend), and "total" before
  a line item prefers the "Total" line among rows named alike ("the change in total fees").

Table rows, their captions, unit rows and periods are read by `rewards.report_tables`; columns the
question names by heading rather than by year by `rewards.named_columns`.

Only the operation the question names is computed, from the rows it names, so the candidates are
a handful: a figure off by a few per cent (or at another scale: `PreparedPage.scales`) matches none
of them. The answer's own rounding (half a unit of its last digit) is the tolerance.
"""

from __future__ import annotations

import re
from dataclasses import replace

from rewards.arithmetic import Derivation, Tolerances, format_operand
from rewards.attribution import placed_period, single_periods
from rewards.named_columns import column_candidates
from rewards.numbers import Quantity
from rewards.periods import extract_periods, with_relative
from rewards.premises import MODIFIERS, PreparedPage, cell_index, measure_tokens, occurs
from rewards.report_tables import Row, captioned_rows, table_rows

# The operations a question may ask for; at one place the most specific first ("percentage change").
_WEIGHTED_RE = re.compile(r"\bweighted[\s-]+average\b", re.IGNORECASE)
_OPERATIONS: tuple[tuple[str, re.Pattern], ...] = (
    ("percent_change", re.compile(
        # "absolute percentage change" of a rate is its change in percentage points
        r"(?<!absolute )\b(?:percent(?:age)?|%)\s*"
        r"(?:change|increase|decrease|growth|decline|rise|drop|fall|reduction|movement)"
        r"|\brate\s+of\s+(?:change|increase|decrease|growth|decline)|\bgrowth\s+rate\b"
        r"|\b(?:change|increase|decrease|growth|decline)\s+in\s+percent(?:age)?\b(?!\s+(?:of|points?)\b)",
        re.IGNORECASE)),
    ("change", re.compile(r"\b(?:change[ds]?|difference|differ|increase[ds]?|decrease[ds]?|variance|movement|"
                          r"growth|grew|decline[ds]?|rise|drop|fall)\b", re.IGNORECASE)),
    ("average", re.compile(r"\b(?:average|mean)\b", re.IGNORECASE)),
    ("ratio", re.compile(r"\bratio\b|\bas\s+a\s+(?:percentage|proportion|share|fraction)\s+of\b|\bproportion\b"
                         r"|\bpercentage\s+of\b|\bwhat\s+percent|\bshare\s+of\b|\bportion\s+of\b", re.IGNORECASE)),
    # "Total change in X" asks for the change.
    ("total", re.compile(r"\b(?:total(?!\s+(?:change|difference|increase|decrease|average"
                         r"|percent(?:age)?\s+(?:change|increase|decrease)))|sum|combined|"
                         r"altogether|aggregate|together)\b", re.IGNORECASE)),
)
# A change asked for as a decrease, or as an unsigned difference, may be stated as a magnitude.
_UNSIGNED_RE = re.compile(r"\b(?:difference|differ|decrease[ds]?|decline[ds]?|drop|fall|reduction)\b", re.IGNORECASE)
# Words of the question that say what is computed or how it is asked, not which line item.
_ASKING = frozenset(measure_tokens(
    "how much many what difference increase decrease increased decreased growth decline variance movement nominal "
    "combined altogether aggregate together mean proportion portion percentage rate respectively "
    "value amount sum total"))
# "the net difference in sale of modules", "the net change in cash": "net" qualifies the operation, not the
# line item ("Modules", not "Net sales").
_NET_OPERATION_RE = re.compile(r"\bnet\s+(?=(?:difference|change|increase|decrease|movement|variance)\b)",
                               re.IGNORECASE)
MAX_ROWS = 4  # best-named rows searched (ties beyond this are too ambiguous to name one line item)


def asked_operations(question: str) -> list[str]:
    """The operations the question names (`_OPERATIONS`), most specific first."""
    text = _WEIGHTED_RE.sub(" ", question)
    # One operation, the one named first: the words after it name the line item ("the average total
    # current tax expense" averages the "Total current tax expense" row; "the change in the average
    # price" is a change of the "Average price" row).
    found = [(m.start(), rank, name) for rank, (name, pattern) in enumerate(_OPERATIONS)
             for m in [pattern.search(text)] if m is not None]
    return [min(found)[2]] if found else []


def stated_direction(q: Quantity, question: str, bare: bool) -> bool | None:
    """Whether the figure `q` states a rise (True) or a decline (False) where it says which, else None:
    "-12.5%" is a decline; a bare "12.5%" answering a question that asks the percentage change ("What is
    the percentage change in X from 2018 to 2019?") is a rise, unless the question asks it as a
    decrease or a difference, which may be stated as a magnitude."""
    if q.value < 0:
        return False
    asks_signed = asked_operations(question)[:1] == ["percent_change"] and not _UNSIGNED_RE.search(question)
    return True if bare and asks_signed else None


def _line_item_words(question: str) -> tuple[list[str], list[str]]:
    """The question's words that may name its line item, and those of them that are not mere
    qualifiers (a line item named only by a qualifier, "Other" or "Net", is named by it)."""
    words = [t for t in measure_tokens(_NET_OPERATION_RE.sub(" ", question)) if t not in _ASKING]
    return words, [t for t in words if t not in MODIFIERS] or words


# A currency is no measure ("$ in millions"), but it qualifies a line item: "USD denominated monetary assets"
# beside "Non-USD denominated".
_CURRENCY_WORDS = ("usd", "dollar")


def named_rows(question: str, pages: list[PreparedPage]) -> list[Row]:
    """The rows whose labels best name the question's line item: most of its measure words, at
    least one of them not a mere modifier ("net", "total"); none when more than MAX_ROWS tie."""
    words, heads = _line_item_words(question)
    currencies = [t for t in _CURRENCY_WORDS if occurs(t, question.lower())]
    qualified_total = bool(_TOTAL_RE.search(question)) and asked_operations(question)[:1] != ["total"]
    scored = []
    for page in pages:
        for row in table_rows(page) + captioned_rows(page):
            if any(occurs(t, row.label) for t in heads):
                # Words of the row's own label cell break ties between rows under one caption.
                own = row.own
                # "Total" names a line item ("the change in total fees": the "Total" line under "Fees")
                # unless it is the operation.
                total = qualified_total and own.startswith("total")
                score = (sum(1 for t in words if occurs(t, row.label)), total, sum(1 for t in words if occurs(t, own)),
                         sum(1 for t in currencies if occurs(t, row.label)))
                scored.append((score, row))
    if not scored:
        return _total_rows(question, pages)
    best = max(score for score, _ in scored)
    rows = [row for score, row in scored if score == best]
    if _TOTAL_RE.search(question) and len(rows) > 1 and (totals := _total_lines(rows, heads)):
        return totals
    # "The liability to asset ratio": a class named alone, where no line item is named so, is its total line.
    named = [row for row in rows if _names_item(row, words)]
    if len(rows) > 1 and len(named) == 1 and named[0].own.startswith("total "):
        return named
    return rows if len(rows) <= MAX_ROWS else []


def _names_item(row: Row, words: list[str]) -> bool:
    """Whether the row's own label is the question's line item words ("Total" aside), nothing else."""
    own = row.own
    return sorted(t for t in measure_tokens(own) if t != "total") == sorted(words)


def prose_rows(question: str, pages: list[PreparedPage], above: int = 0) -> list[Row]:
    """Where no table row names the line item (or names fewer of its words than `above`): the sentences
    that best name it and state it for two periods or more ("Depreciation expense totaled $290.2 million
    in 2019, $239.6 million in 2018 and $190.4 million in 2017"; "... of $10.0 billion in fiscal 2018,
    and $14.0 billion in fiscal 2017"), as rows whose figures carry the period each is stated for
    (`rewards.attribution.placed_period`: right after it, or "respectively")."""
    words, heads = _line_item_words(question)
    # A sentence is long: it must name most of the question's words, not one of them by chance.
    need = max(2, (len(words) + 1) // 2, above + 1)
    scored = []
    for page in pages:
        text = page.source.text
        for start, end in page.spans:
            sentence = text[start:end]
            lowered = sentence.lower()
            if "|" in sentence or not any(occurs(t, lowered) for t in heads):
                continue
            score = sum(1 for t in words if occurs(t, lowered))
            if score < need:
                continue
            found = page.figures_in(start, end)
            figures = [replace(q, start=q.start - start, end=q.end - start) for q in found]  # sentence offsets
            singles = single_periods(extract_periods(sentence), sentence)
            cells = [(q, placed_period(local, figures, singles, sentence)) for q, local in zip(found, figures,
                                                                                               strict=True)]
            if len({p.year for _, p in cells if p is not None and p.year}) >= 2:
                scored.append((score, Row(page, lowered, tuple(cells), start)))
    best = max((score for score, _ in scored), default=0)
    rows = [row for score, row in scored if score == best]
    return rows if len(rows) <= MAX_ROWS else []


def _total_lines(rows: list[Row], heads: list[str]) -> list[Row]:
    """For "the total X" where several line items are named X alike (the dividends of each half
    year, the long-lived assets of each country under their caption): the line that sums them, the
    first one labelled "Total" (or "Total" and what they are alike) or left unlabelled below the last
    of them in the same table (no blank line between), the layout of a statement's total line. None
    when one of them is a total itself."""
    if any(row.own.startswith("total") for row in rows):
        return []
    shared = [t for t in heads if all(occurs(t, row.label) for row in rows)]  # what the rows are alike
    out: list[Row] = []
    for page in {id(row.page): row.page for row in rows}.values():
        text, last = page.source.text, max(row.start for row in rows if row.page is page)
        for row in table_rows(page, unlabelled=True):
            if row.start <= last:
                continue
            if re.search(r"\n\s*\n", text[last : row.start]):
                break  # a blank line ends the table
            own = row.own
            if own in ("total", "") or (own.startswith("total ") and all(occurs(t, own) for t in shared)):
                if _may_sum(row, [r for r in rows if r.page is page]):
                    out.append(row)
                break
    return out if len(out) <= MAX_ROWS else []


def _may_sum(total: Row, rows: list[Row]) -> bool:
    """Whether `total` can be the line summing `rows`: in no column is it less than one of its
    items when they are all positive (under "Monetary liabilities" the unlabelled line nets them
    against the assets above; it is no total of the assets)."""
    text = total.page.source.text
    by_column: dict[int, list[float]] = {}
    for row in rows:
        for q, _ in row.cells:
            by_column.setdefault(cell_index(text, q.start), []).append(q.value)
    for q, _ in total.cells:
        items = by_column.get(cell_index(text, q.start), [])
        if items and min(items) >= 0 and q.value < max(items):
            return False
    return True


def _total_rows(question: str, pages: list[PreparedPage]) -> list[Row]:
    """For "the total ..." of what no row label names (the table's subject, named by its caption
    or the text around it): the rows labelled "Total" alone, or left unlabelled under the line
    items they sum (" | $8,455 | $10,647"), the layout of a statement's total line."""
    if not _TOTAL_RE.search(question):
        return []
    rows = [row for page in pages for row in table_rows(page, unlabelled=True)
            if row.own in ("total", "")]
    return rows if len(rows) <= MAX_ROWS else []


_TOTAL_RE = re.compile(r"\btotal\b", re.IGNORECASE)


def _by_year(row: Row, years: list[int], percent: bool) -> list[tuple[int, float]]:
    """The row's values at the asked years (every dated column when none is asked), one per year,
    oldest first; only percentages for a percentage, only amounts for an amount. Where an asked year
    heads no column, a column dated in January to March is read as the fiscal year before it, when
    that finds every asked year: a 52/53-week year that ends early in January ("January 3, 2020") is
    the fiscal year of the calendar year before (`rewards.periods.period_compatible`)."""
    dated = [(q, period) for q, period in row.cells if period is not None and period.year is not None
             and period.quarter is None and (q.unit == "%") == percent]

    def read(fiscal: bool) -> list[tuple[int, float]]:
        picked: dict[int, float] = {}
        for q, period in dated:
            year = period.year - 1 if fiscal and period.month is not None and period.month <= 3 else period.year
            if not years or year in years:
                picked.setdefault(year, q.value)
        return sorted(picked.items())

    direct = read(False)
    if years and len(direct) < len(set(years)) and len(shifted := read(True)) == len(set(years)):
        return shifted
    return direct


def _across_periods(operation: str, row: Row, years: list[int], q: Quantity,
                    unsigned: bool) -> list[tuple[str, float, bool]]:
    """Candidates (expression, value, amount) of one row across the asked periods. A row whose
    values are all in parentheses is a deduction ("Less voyage expenses | (141,770) | (165,012)"):
    its amounts are also read as the positive amounts they deduct."""
    percent_operands = q.unit == "%" and operation != "percent_change"
    values = _by_year(row, years, percent_operands)
    out = []
    if operation == "percent_change" and not values:
        values = _by_year(row, years, True)  # the relative change of a rate ("discount rate 3.2% | 3.0%")
        # or, as often said of a rate, its change in percentage points ("WACC 9.5% | 9.0%": -0.5%)
        out += _operated("change", values, q, unsigned, True)
    out += _operated(operation, values, q, unsigned, percent_operands)
    if values and all(v < 0 for _, v in values):
        out += _operated(operation, [(y, -v) for y, v in values], q, unsigned, percent_operands)
    return out


def _operated(operation: str, values: list[tuple[int, float]], q: Quantity, unsigned: bool,
              percent_operands: bool) -> list[tuple[str, float, bool]]:
    """The asked operation over (year, value) pairs, oldest first."""
    out: list[tuple[str, float, bool]] = []
    amount = not percent_operands
    if operation in ("change", "percent_change") and len(values) == 2:
        (_, old), (_, new) = values
        if operation == "change" and (q.unit == "%") == percent_operands:
            out.append((f"{format_operand(new)} - {format_operand(old)}", new - old, amount))
            if unsigned:
                out.append((f"{format_operand(old)} - {format_operand(new)}", old - new, amount))
        elif operation == "percent_change" and old and q.unit == "%":
            # Over a negative base the sign convention varies: over |old| (the direction of the
            # change) or over old as written.
            for base in dict.fromkeys((abs(old), old)):
                out.append((f"({format_operand(new)} - {format_operand(old)}) / {format_operand(base)} × 100",
                            (new - old) / base * 100.0, False))
    if operation in ("average", "total") and len(values) >= 2 and (q.unit == "%") == percent_operands:
        total = sum(v for _, v in values)
        joined = " + ".join(format_operand(v) for _, v in values)
        if operation == "average":
            out.append((f"({joined}) / {len(values)}", total / len(values), amount))
        else:
            out.append((joined, total, amount))
    return out


def _within_column(operation: str, pairs: list[tuple[Row, Row]], years: list[int],
                   q: Quantity) -> list[tuple[str, float, bool]]:
    """Candidates of two named rows (a, b) in one period's column: a ratio a / b (a share, "X as a
    percentage of Y"), a sum or difference of two line items, or their mean ("the average percentage
    of revenue from Apple and Huawei in 2017"); a sum or mean of percentages when the answer is one."""
    out: list[tuple[str, float, bool]] = []
    if len(years) > 1:
        return out
    percent = operation in ("average", "total") and q.unit == "%"

    def column(row: Row) -> dict:
        return {(p.year if p else None): c.value for c, p in row.cells
                if (c.unit == "%") == percent and (not years or (p is not None and p.year in years))}

    for first, second in pairs:
        a, b = column(first), column(second)
        for key in a.keys() & b.keys():
            x, y = a[key], b[key]
            if operation == "ratio" and y:
                scale = 100.0 if q.unit == "%" else 1.0
                out.append((f"{format_operand(x)} / {format_operand(y)}", x / y * scale, False))
            elif operation == "total":
                out.append((f"{format_operand(x)} + {format_operand(y)}", x + y, not percent))
            elif operation == "change" and q.unit != "%":
                out.append((f"{format_operand(x)} - {format_operand(y)}", x - y, True))
            elif operation == "average":
                out.append((f"({format_operand(x)} + {format_operand(y)}) / 2", (x + y) / 2, not percent))
    return out


# Where a question joins two line items: "the sum of A and B", "the ratio of A to B", "A as a
# percentage of B", "the proportion of A over B", "the percentage of A in B".
_JOIN_RE = re.compile(r"\s(?:and|to|over|versus|vs\.?|against|in|within"
                      r"|as\s+a\s+(?:percentage|proportion|share)\s+of)\s", re.IGNORECASE)


def named_pairs(question: str, pages: list[PreparedPage], rows: list[Row]) -> list[tuple[Row, Row]]:
    """Pairs of rows (a, b) the question names as two line items, in its order: the rows named
    by the words before and after a joining word; and the tied best rows of the whole question
    in either order (`named_rows`: "capital leases" and "total liabilities" both named)."""
    pairs = [(a, b) for a in rows for b in rows if a is not b]
    for m in _JOIN_RE.finditer(question):
        left, right = named_rows(question[: m.start()], pages), named_rows(question[m.end() :], pages)
        pairs += [(a, b) for a in left for b in right if a is not b and (a, b) not in pairs]
    return pairs


_SPAN_RE = re.compile(r"\b(?:from|between)\s+(?:\S+\s+){0,4}?(?:19|20)\d{2}\s+(?:to|through|-|–)\s+"
                      r"|(?:19|20)\d{2}\s?[-–]\s?(?:19|20)\d{2}", re.IGNORECASE)


def _year_readings(question: str, years: list[int], operation: str) -> list[list[int]]:
    """The years asked: as named, and for "from 2017 to 2019" also every year of the span. One
    year asked for an average ("the 2019 average total assets") is the average balance of that
    year, the mean of its closing and opening (the prior year's closing) balances; for a change
    ("the change in X in 2019"), the change over that year, from the prior year's value."""
    readings = [years]
    if len(years) == 1 and operation in ("average", "change", "percent_change"):
        readings.append([years[0] - 1, years[0]])
    if len(years) == 2 and years[1] - years[0] > 1 and _SPAN_RE.search(question):
        readings.append(list(range(years[0], years[1] + 1)))
    return readings


def _quarter_columns(row: Row, quarter: int) -> Row:
    """The row's cells in columns of the one asked quarter, each read as its year's value."""
    cells = tuple((q, replace(p, quarter=None)) for q, p in row.cells if p is not None and p.quarter == quarter)
    return replace(row, cells=cells)


def _row_candidates(operations: list[str], rows: list[Row], question: str, pages: list[PreparedPage], q: Quantity,
                    unsigned: bool) -> list[tuple[str, float, bool, PreparedPage]]:
    """(expression, value, amount, page) of the asked operations over the rows' periods."""
    periods = with_relative(question, extract_periods(question))
    years = sorted({p.year for p in periods if p.year})
    # One quarter asked ("in Q4 2019 and 2018"): that quarter's columns, year by year.
    quarter = quarters.pop() if len(quarters := {p.quarter for p in periods if p.quarter}) == 1 else None
    candidates = []
    for operation in operations:
        for row in rows if quarter is None else [_quarter_columns(row, quarter) for row in rows]:
            # Figures that write their own scale ("$10.0 billion") are read at it, not at the page's.
            written = all(c.scaled_in_text for c, _ in row.cells)
            for asked in _year_readings(question, years, operation):
                candidates += [(text, value, amount and not written, row.page)
                               for text, value, amount in _across_periods(operation, row, asked, q, unsigned)]
        if operation in ("ratio", "total", "change", "average") and (pairs := named_pairs(question, pages, rows)):
            candidates += [(*c, pairs[0][0].page) for c in _within_column(operation, pairs, years, q)]
        if len(rows) > 2 and operation in ("total", "average"):
            candidates += [(*c, rows[0].page) for c in _down_column(operation, rows, years, q)]
    return candidates


def _down_column(operation: str, rows: list[Row], years: list[int], q: Quantity) -> list[tuple[str, float, bool]]:
    """The sum or mean of every named row's value in the one asked year's column: "the average
    quarterly low price for 2019" over the four quarters' rows of the "Low" column under "2019"."""
    if len(years) != 1:
        return []
    values = []
    for row in rows:
        found = [c.value for c, p in row.cells if p is not None and p.year == years[0] and (c.unit == "%") == (
            q.unit == "%")]
        if len(found) != 1:
            return []
        values += found
    expression = " + ".join(format_operand(v) for v in values)
    if operation == "total":
        return [(expression, sum(values), q.unit != "%")]
    return [(f"({expression}) / {len(values)}", sum(values) / len(values), q.unit != "%")]


def asked_derivation(q: Quantity, question: str, pages: list[PreparedPage],
                     tol: Tolerances) -> tuple[Derivation | None, bool]:
    """(the derivation of the bare answer figure `q` by the operation its question names over the
    rows and periods it names, or None; whether that computation could be made at all). When it
    could, the question has said how the figure is computed, and no other derivation stands in
    for it (see the module docstring). Sentences that state the line item for several periods
    (`prose_rows`) are read where no table row names it, but they exclude nothing: a sentence is no
    table, and the figures it pairs with periods may not be the line item's."""
    operations = asked_operations(question)
    rows = named_rows(question, pages) if operations else []
    unsigned = bool(_UNSIGNED_RE.search(question))
    # Columns the question names by heading ("between 181-360 and >360"), in a named row or the total line.
    labels = [row.own for row in rows]
    candidates = [c for operation in operations
                  for c in column_candidates(operation, question, pages, labels, q, unsigned)]
    candidates += _row_candidates(operations, rows, question, pages, q, unsigned)
    # A sentence that names more of the line item's words than the best table row ("depreciation expense
    # totaled ..." against the row "Accumulated depreciation") is read as well.
    words = _line_item_words(question)[0]
    named = max((sum(1 for t in words if occurs(t, row.label)) for row in rows), default=0)
    prose = [] if (candidates and not rows) or not operations else prose_rows(question, pages, named)
    tolerance = tol.multiplicative
    for expression, value, amount, page in candidates + _row_candidates(operations, prose, question, pages, q,
                                                                        unsigned):
        scales = page.scales if amount and q.unit != "%" else (1.0,)
        for scale in scales:
            if abs(value * scale - q.value) <= tolerance:
                return Derivation(f"{expression} (as the question asks)", (), value * scale), True
    # A ratio or a percentage change may be asked of items or periods the rows do not show alone
    # ("as a percentage of the total contractual obligations", quarters): only a change, an average
    # or a total computed from the named rows excludes other derivations.
    return None, bool(candidates) and operations[0] in ("change", "average", "total")
