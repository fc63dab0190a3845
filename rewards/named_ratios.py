"""Financial ratios a claim names, computed the way the ratio is defined (issue #15, deliverable 2).

"Asset turnover was 0.14" is not supported by any two figures of the page whose quotient is 0.14
("6,706 / 47,528"): asset turnover is revenue over total assets. When a claim (or, for a bare answer,
its question) names a standard ratio, its figure is derived only from rows the definition names:
numerator and denominator of the same period (the same table column, or the same position in two
rows of one table), the denominator also as the average of two adjacent periods (the textbook form
of turnover and return ratios). When such rows are on the pages, no other combination of figures
stands in for the ratio (as `rewards.asked_arithmetic` does for the computations questions name);
when they are not, the claim is left to the general derivations. A worked ratio the claim names
("Working capital ratio: $1,001,425 / $705,563 = 1.43") must not take an operand from the row the
definition names for the other side (`misread_operand`: 705,563 is total current assets).

The definitions are the standard ones of financial statement analysis (CFA Institute, *Financial
Reporting and Analysis*, ratio analysis; SEC Financial Reporting Manual terms for the line items),
not fitted to any data set.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rewards.arithmetic import Derivation, Tolerances, format_operand, percent_like, ratio_of
from rewards.attribution import period_for
from rewards.numbers import Quantity
from rewards.periods import Period, period_compatible
from rewards.premises import MODIFIERS, REVENUE_LABEL_RE, PreparedPage, column_key, occurs

MAX_RATIO_ROWS = 4  # label-named figures in one column searched pairwise for a ratio (`column_ratio`)

REVENUE_ROW = r"(?:total\s+)?(?:net\s+)?(?:operating\s+)?(?:revenues?|sales|net\s+sales)\b"
COST_OF_SALES_ROW = r"(?:total\s+)?cost\s+of\s+(?:goods\s+sold|sales|revenues?|products?\s+sold)"
NET_INCOME_ROW = r"(?:consolidated\s+)?net\s+(?:income|earnings)(?!\s+per)\b"
_EQUITY = r"total\s+(?:stockholders|shareholders|shareowners)['’]?\s+equity"
_OF_REVENUE = r"\s+as\s+a\s+(?:%|percent(?:age)?)\s+of\s+(?:total\s+)?(?:net\s+)?(?:revenues?|sales)\b"


@dataclass(frozen=True)
class Ratio:
    """A standard ratio: how text names it, and the row labels of its numerator and denominator."""

    name: str
    named: re.Pattern
    numerator: re.Pattern
    denominator: re.Pattern
    factor: float = 1.0  # 365 for the days ratios (days of the period's flow)
    # Numerator and denominator may be read from two statements (a line item's margin: D&A from the
    # cash-flow statement over revenue from the income statement); a standard ratio is read from
    # one page, as its definitions' averages and conventions vary too much to pair pages blindly.
    across_statements: bool = False


def _ratio(name: str, named: str, numerator: str, denominator: str, factor: float = 1.0,
           across_statements: bool = False) -> Ratio:
    flags = re.IGNORECASE
    # PDF text often loses the spaces of a row label ("Totalcurrentassets"): labels match either way.
    numerator, denominator = (label.replace(r"\s+", r"\s*") for label in (numerator, denominator))
    return Ratio(name, re.compile(named, flags), re.compile(rf"^\W*{numerator}", flags),
                 re.compile(rf"^\W*{denominator}", flags), factor, across_statements)


RATIOS = (
    _ratio("fixed asset turnover", r"\bfixed[\s-]+asset\s+turnover\b", REVENUE_ROW,
           r"(?:total\s+)?property,?\s+(?:plant\s+)?and\s+equipment,?\s+net"),
    _ratio("asset turnover", r"(?<!fixed )\b(?:total\s+)?asset\s+turnover\b", REVENUE_ROW, r"total\s+assets\b"),
    _ratio("inventory turnover", r"\binventory\s+turnover\b", COST_OF_SALES_ROW, r"(?:total\s+)?inventor(?:y|ies)\b"),
    _ratio("receivables turnover", r"\breceivables?\s+turnover\b", REVENUE_ROW,
           r"(?:trade\s+)?(?:accounts\s+)?receivable"),
    # The working capital ratio is another name of the current ratio (CFA Institute, liquidity ratios).
    _ratio("current ratio", r"\b(?:current|working[\s-]+capital)\s+ratio\b", r"total\s+current\s+assets\b",
           r"total\s+current\s+liabilities\b"),
    # A margin is also named as its profit line "as a percentage of" revenue (`_OF_REVENUE`).
    _ratio("gross margin", r"\bgross\s+(?:profit\s+)?margin\b|\bgross\s+(?:profit|margin)" + _OF_REVENUE,
           r"gross\s+(?:profit|margin)\b", REVENUE_ROW),
    _ratio("operating margin", r"\boperating\s+(?:profit\s+|income\s+)?margin\b|\boperating\s+(?:income|profit)"
           + _OF_REVENUE, r"(?:total\s+)?operating\s+(?:income|profit)\b", REVENUE_ROW),
    _ratio("net margin", r"\bnet\s+(?:profit\s+|income\s+)?margin\b|\bprofit\s+margin\b"
           r"|\bnet\s+(?:income|earnings|profit)" + _OF_REVENUE, NET_INCOME_ROW, REVENUE_ROW),
    _ratio("return on assets", r"\breturn\s+on\s+(?:total\s+)?assets\b|\bROA\b", NET_INCOME_ROW, r"total\s+assets\b"),
    _ratio("return on equity", r"\breturn\s+on\s+(?:common\s+|shareholders['’]?\s+|stockholders['’]?\s+)?equity\b"
           r"|\bROE\b", NET_INCOME_ROW, _EQUITY),
    _ratio("interest coverage", r"\binterest\s+coverage\b|\btimes\s+interest\s+earned\b",
           r"(?:total\s+)?operating\s+income\b", r"interest\s+expense"),
    _ratio("effective tax rate", r"\beffective\s+(?:income\s+)?tax\s+rate\b",
           r"(?:provision\s+for|\(?benefit\)?\s+from)?\s*income\s+tax(?:es)?\b(?!\s+payable)",
           # pre-tax income as a loss-making filer captions it too: "Loss before income taxes", "(Loss)/earnings
           # before income taxes", "Income (loss) before provision for income taxes"
           r"\(?(?:income|earnings|loss)\)?(?:\s*(?:/|and|or)?\s*\(?(?:income|earnings|loss)\)?)?\s+before\s+"
           r"(?:(?:the\s+)?provision\s+for\s+)?income\s+taxes"),
    _ratio("days sales outstanding", r"\bdays?\s+sales\s+outstanding\b|\bDSO\b",
           r"(?:trade\s+)?(?:accounts\s+)?receivable", REVENUE_ROW, 365.0),
    _ratio("days payable outstanding", r"\bdays?\s+payables?\s+outstanding\b|\bDPO\b",
           r"(?:trade\s+)?accounts\s+payable", COST_OF_SALES_ROW, 365.0),
    _ratio("days inventory outstanding", r"\bdays?\s+(?:of\s+)?inventory\s+(?:outstanding|on\s+hand)\b|\bDIO\b",
           r"(?:total\s+)?inventor(?:y|ies)\b", COST_OF_SALES_ROW, 365.0),
)


# Standard abbreviations of income-statement and cash-flow line items, spelled out as filers label the rows.
_ABBREVIATED = {
    "d&a": ["depreciation", "and", "amortization"],
    "sg&a": ["selling", "general", "and", "administrative"],
    "r&d": ["research", "and", "development"],
    "cogs": ["cost", "of", "goods", "sold"],
}
_MARGIN_RE = re.compile(r"\bmargins?\b|\bas\s+a\s+(?:%|percent(?:age)?)\s+of\s+(?:total\s+)?(?:net\s+)?"
                        r"(?:revenues?|sales)\b", re.IGNORECASE)
# A margin of one of these is a standard ratio (`RATIOS`) or a measure no single line states.
_PROFIT_WORDS = frozenset("gross operating net profit income earnings ebit ebitda pretax pre-tax contribution adjusted "
                          "segment cash".split())
_ITEM_STOP = frozenset("the its a an of for in on and/or company firm".split())
MAX_ITEM_WORDS = 5


def _item_words(text: str) -> list[str]:
    """The line item named right before "margin" ("the FY2015 depreciation and amortization (D&A) %
    margin" -> depreciation, and, amortization); an abbreviation spelled out; [] when none."""
    tokens = re.findall(r"\([^()]*\)|[A-Za-z][A-Za-z&'’-]*|\S", text)
    words: list[str] = []
    for token in reversed(tokens):
        lowered = token.lower()
        if token.startswith("(") or token == "%":
            continue  # "(D&A)", "%"
        if not token[0].isalpha() or lowered.endswith(("'s", "’s")) or (lowered in _ITEM_STOP and lowered != "and") \
                or len(words) == MAX_ITEM_WORDS:
            break
        words.insert(0, lowered)
    while words and words[0] == "and":
        words.pop(0)
    if len(words) == 1 and words[0] in _ABBREVIATED:
        return _ABBREVIATED[words[0]]
    return words


def line_item_margin(text: str) -> Ratio | None:
    """A line item's margin ("D&A % margin", "R&D as a percentage of revenue"): that line over
    revenue, as every margin is a share of revenue. None for a profit margin (`RATIOS` has the
    standard ones), or when no line item is named right before it."""
    m = _MARGIN_RE.search(text)
    if m is None:
        return None
    words = _item_words(text[: m.start()])
    if not words or any(w in _PROFIT_WORDS for w in words):
        return None
    numerator = r"(?:total\s+)?" + r",?\s+".join("(?:and|&)" if w == "and" else re.escape(w) for w in words)
    return _ratio(f"{' '.join(words)} margin", re.escape(m.group(0)), numerator, REVENUE_ROW, across_statements=True)


def named_ratio(claim: str, question: str, bare: bool) -> Ratio | None:
    """The one standard ratio the claim names (or, for a bare answer, its question), or a line item's
    margin (`line_item_margin`); None when it names none or several (a sentence comparing two ratios
    is left to the general derivations)."""
    found = [r for r in RATIOS if r.named.search(claim)]
    if not found and bare:
        found = [r for r in RATIOS if r.named.search(question)]
    if not found:
        generic = line_item_margin(claim) or (line_item_margin(question) if bare else None)
        found = [generic] if generic is not None else []
    return found[0] if len(found) == 1 else None


_TRAILING_FIGURES_RE = re.compile(r"[\s\d$(),.%—–-]+$")


def _rows(page: PreparedPage, label: re.Pattern) -> list[list[tuple[int, Quantity]]]:
    """The page's rows whose label matches `label`: each the list of (figure index, figure) sharing
    one label, in page order (a row's periods in its table's column order)."""
    rows: dict[str, list[tuple[int, Quantity]]] = {}
    for index, (q, text) in enumerate(zip(page.quantities, page.labels, strict=True)):
        if q.unit != "%" and label.search(text):
            key = _TRAILING_FIGURES_RE.sub("", text.split("|")[0]).strip()  # the label without its values
            rows.setdefault(key, []).append((index, q))
    return list(rows.values())


def _pairs(page: PreparedPage, ratio: Ratio, period: Period | None) -> list[tuple[str, float]]:
    """(expression, value) for every same-period numerator/denominator pair of the page, and each
    numerator over the average of its period's and the next period's denominator; only of the
    column of `period` when the claim states one and the table heads its columns."""
    out = []
    for top in _rows(page, ratio.numerator):
        for bottom in _rows(page, ratio.denominator):
            for i, (_, t) in enumerate(top):
                column, heading = column_key(page, t), page.columns.get(t.start)
                if period is not None and heading is not None and not period_compatible(period, heading):
                    continue  # the ratio of another year
                for j, (_, b) in enumerate(bottom):
                    if not (column == column_key(page, b) if column is not None else i == j):
                        continue  # another period's figure
                    if b.magnitude:
                        out.append((f"{t.text.strip()} / {b.text.strip()}", t.magnitude / b.magnitude))
                    if j + 1 < len(bottom) and (avg := (b.magnitude + bottom[j + 1][1].magnitude) / 2):
                        out.append((f"{t.text.strip()} / avg({b.text.strip()}, {bottom[j + 1][1].text.strip()})",
                                    t.magnitude / avg))
    return out


def declared_unit(page: PreparedPage) -> float:
    """The one unit a page declares for its tables, else 1 (`rewards.numbers.declared_scales`)."""
    return page.scales[1] if len(page.scales) == 2 else 1.0


def _cross_pairs(pages: list[PreparedPage], ratio: Ratio, period: Period | None) -> list[tuple[str, float]]:
    """`_pairs` across two statements of one filing (D&A from the cash-flow statement over revenue
    from the income statement): numerator and denominator of the same column year."""
    out = []
    for top_page in pages:
        tops = [(t, top_page.columns.get(t.start)) for row in _rows(top_page, ratio.numerator) for _, t in row]
        for bottom_page in pages:
            if bottom_page is top_page or bottom_page.source.doc_id != top_page.source.doc_id:
                continue
            # Two statements in different units ("in thousands" against "in millions") compare at those units.
            factor = declared_unit(top_page) / declared_unit(bottom_page)
            bottoms = [(b, column) for row in _rows(bottom_page, ratio.denominator) for _, b in row
                       if (column := bottom_page.columns.get(b.start)) is not None and b.magnitude]
            for t, heading in tops:
                if heading is None or (period is not None and not period_compatible(period, heading)):
                    continue
                out += [(f"{t.text.strip()} / {b.text.strip()}", factor * t.magnitude / b.magnitude)
                        for b, column in bottoms if column.year == heading.year]
    return out


def ratio_derivation(q: Quantity, ratio: Ratio, pages: list[PreparedPage], tol: Tolerances,
                     period: Period | None = None) -> tuple[Derivation | None, bool]:
    """(the derivation of `q` as `ratio` from the rows its definition names, for the claimed
    `period` when given, or None; whether any such pair of rows was on the pages). A percentage is
    the ratio × 100; a days ratio × 365."""
    candidates = [c for page in pages for c in _pairs(page, ratio, period)]
    if not candidates and ratio.across_statements:
        candidates = _cross_pairs(pages, ratio, period)
    scale = 100.0 if q.unit == "%" else ratio.factor
    for expression, value in candidates:
        if abs(value * scale - q.magnitude) <= tol.multiplicative:
            shown = f"{expression} × {scale:g}" if scale != 1 else expression
            return Derivation(f"{ratio.name} = {shown}", (), value * scale), True
    return None, bool(candidates)


def column_ratio(q: Quantity, quantities: list[Quantity], periods: list[Period], plain: str, question: str,
                 pages: list[PreparedPage], measure: list[str], tol: Tolerances) -> Derivation | None:
    """A percentage or ratio stated for a period, computed from two figures of that period's
    table column (`rewards.periods.column_periods`): a part over a whole whose row labels name
    what the claim measures ("effective tax rate 20.2%" = provision for income taxes / income
    before income taxes), or, for a margin, a row the claim names over the revenue (sales) row
    of the same column (so too a line "as a percentage of revenue"). One column and label-named rows
    keep the search to a few candidates.
    `quantities`, `periods`, `plain`: the claim's (`rewards.claims.Claim`)."""
    claimed = period_for(q, quantities, periods, plain)
    if claimed is None or not percent_like(q):
        return None
    # A margin, or a line "as a percentage of revenue", is a share of the revenue row.
    margin = any(occurs("margin", text) or _MARGIN_RE.search(text) for text in (plain.lower(), question.lower()))
    for page in pages:
        heads = [t for t in measure if t not in MODIFIERS and t not in page.doc_compact and t != "margin"]
        rows: dict[int, tuple[list[float], list[float]]] = {}  # column -> (parts, wholes)
        for index, source_q in enumerate(page.quantities):
            column = page.columns.get(source_q.start)
            if column is None or source_q.unit == "%" or not period_compatible(claimed, column):
                continue
            parts, wholes = rows.setdefault(column.start, ([], []))
            label = page.labels[index]
            if any(occurs(t, label) for t in heads):
                parts.append(source_q.magnitude)
            if margin and REVENUE_LABEL_RE.match(label):
                wholes.append(source_q.magnitude)
        for parts, wholes in rows.values():
            found = ratio_of(q, parts, wholes if margin else parts if len(parts) <= MAX_RATIO_ROWS else [],
                             tol.multiplicative)
            if found is not None:
                text = f"{format_operand(found[0])} / {format_operand(found[1])} in the {claimed.text} column"
                return Derivation(text, (), found[0] / found[1])
    return None


_DIVIDES_RE = re.compile(r"^[\s$()\[\]]*[/÷][\s$()\[\]]*$")


def misread_operand(plain: str, question: str, worked, matches) -> str | None:
    """Why a worked ratio the claim names ("Working capital ratio: $1,001,425 / $705,563 = 1.43")
    takes an operand from the row its definition names for the other side (705,563 is total current
    assets, not liabilities), or None. Only operands matched directly on a page are read (their row
    is known); one the answer computed (an average) is left to its own claim. The definitions' row
    names are a list of common labels, not every filer's: a row they do not name is not a veto.
    `worked`: the claim's equalities (`rewards.arithmetic.equalities`); `matches`: each claim
    figure's `FigureMatch` or None, in `Claim.quantities` order."""
    by_start = {m.quantity.start: m for m in matches if m is not None}
    for equality in worked:
        if not equality.computes or len(equality.terms) != 2:
            continue
        top, bottom = equality.terms
        if not _DIVIDES_RE.match(plain[top.end:bottom.start]):
            continue
        ratio = named_ratio(plain[: top.start], question, False)
        if ratio is None:
            continue
        sides = ((top, ratio.numerator, ratio.denominator, "numerator"),
                 (bottom, ratio.denominator, ratio.numerator, "denominator"))
        for term, own, other, role in sides:
            m = by_start.get(term.start)
            if m is None or m.page is None or m.source_quantity is None or m.derivation is not None:
                continue
            label = m.page.labels[m.page.quantities.index(m.source_quantity)]
            if other.search(label) and not own.search(label):
                row = _TRAILING_FIGURES_RE.sub("", label.split("|")[0]).strip()
                return f"{term.text.strip()} is '{row[:60]}', not the {role} of the {ratio.name}"
    return None
