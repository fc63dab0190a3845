"""Metrics no row states, computed from the statement rows: checked where a claim states them, stated
where a question asks about them (issue #17).

"In 2022, the gross margin decreased again" and "Boeing's gross margin does not appear to be improving
as of FY2022" say how a margin moved, but an income statement has no row labelled "gross margin", so
`rewards.direction` (a row's values, or values the answer established) finds nothing to compare and
alignment alone would judge them. The metric is computed for each year from one statement's rows by its
textbook definition (CFA Institute, *Financial Reporting and Analysis*, ratio analysis):

* gross margin: gross profit over revenue; without a gross profit row, revenue less the cost of revenue
  (its total row, else the sum of its "Cost of …" component rows, as filers without a total present
  it: "Cost of products", "Cost of services");
* operating margin: operating income over revenue; net margin: net income over revenue;
* working capital: total current assets less total current liabilities; the current ratio their
  quotient; the quick ratio cash, short-term investments and receivables over current liabilities (a
  balance sheet's second row may be on the next page of the same filing).

For the checker (`contradiction`): a claim whose direction the computed values contradict is
unsupported, one saying the metric rose (fell) when it fell (rose) or denying a rise (fall) that
happened ("not improving", `denied_direction`), as is a working capital sign the balance sheet
contradicts; an agreeing direction adds no support (it is no evidence for the reason the claim gives).
The years compared are the two the claim names; one year it names is compared with the year before
(the annual statements' comparison); a claim naming none takes the question's year. The claim must be
about the filer's metric: a scope word ("Commercial Airplanes' gross margin", "the segment's margin"),
a quarter, a hedge, or pages whose values move in different directions leave it to the other checks.
A figure stating the metric is one more derivation (`level_derivation`, support only and signed).
A bound stated on a margin's moves from year to year ("fluctuated more than 2% each year", "historically
consistent" where the question sets the bound) is held to the moves over one statement's years
(`fluctuation_contradiction`).

For the grounded teacher: the worked, cited values that replace a contradicted direction (`corrected`)
and those a question about the metric that asks for no figure is answered with (`stated_levels`), each
with its move from the year before (a margin's in percentage points: "margin contracted 110 basis
points", the convention for rates).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rewards.arithmetic import Derivation, Tolerances, format_operand
from rewards.asked_company import named_filings
from rewards.attribution import period_for
from rewards.claims import Claim
from rewards.defined_formulas import in_working, statement_rows
from rewards.direction import DOWN, LOCAL_BLUR, UP, denied_direction, stated_direction, trend_periods
from rewards.named_ratios import COST_OF_SALES_ROW, NET_INCOME_ROW, REVENUE_ROW, declared_unit
from rewards.numbers import SCALE_NAMES, Quantity
from rewards.periods import Period, extract_periods
from rewards.premises import NEGATION_RE, PreparedPage

CONTRADICTED = "the metric computed from the statement rows contradicts it"  # how its reasons begin
MIN_MOVE = 1e-3  # relative change below which two computed values are taken as equal (rounding)

_FLAGS = re.IGNORECASE
_GROSS_PROFIT_ROW = r"gross\s+(?:profit|margin)\b"
_OPERATING_ROW = (r"(?:total\s+)?(?:\(loss\)\s*/?\s*)?(?:operating\s+(?:income|profit|earnings)"
                  r"|(?:income|earnings|profit)(?:\s*/?\s*\(loss\))?\s+from\s+operations)\b")
_COMPONENT_COST_ROW = r"cost\s+of\s+(?!goods\s+sold|sales|revenues?|products?\s+sold)\w"
_CURRENT_ASSETS, _CURRENT_LIABILITIES = r"total\s+current\s+assets", r"total\s+current\s+liabilities"
# The quick assets: cash, short-term investments and receivables (CFA Institute, liquidity ratios).
_QUICK_ASSETS = "quick assets"
_CASH_ROW = r"cash\s+and\s+(?:cash\s+)?equivalents\b"
_INVESTMENTS_ROW = r"(?:short[\s-]+term\s+investments|marketable\s+securities)\b"
_RECEIVABLES_ROW = r"(?:trade\s+)?(?:accounts\s+)?receivables?\b"
MAX_YEARS = 3  # years of a statement stated for a metric the question asks about (`stated_levels`)


@dataclass(frozen=True)
class Metric:
    """A metric a claim names: how it is named and what it is computed from (row label patterns)."""

    name: str
    named: re.Pattern
    numerator: str  # a row label pattern, or "revenue - cost" for gross profit without its row
    denominator: str | None  # None for a difference (working capital)
    subtract: str | None = None  # the row taken from the numerator's (working capital's liabilities)
    percent: bool = True


def _named(words: str) -> re.Pattern:
    return re.compile(rf"\b(?:{words})\b", _FLAGS)


METRICS = (
    Metric("gross margin", _named(r"gross\s+(?:profit\s+)?margins?"), _GROSS_PROFIT_ROW, REVENUE_ROW),
    Metric("operating margin", _named(r"operating\s+(?:profit\s+|income\s+)?margins?"), _OPERATING_ROW, REVENUE_ROW),
    Metric("net margin", _named(r"net\s+(?:profit\s+|income\s+)?margins?|(?<!gross )(?<!operating )profit\s+margins?"),
           NET_INCOME_ROW, REVENUE_ROW),
    Metric("working capital", _named(r"working\s+capital(?!\s+ratio)"), _CURRENT_ASSETS, None, _CURRENT_LIABILITIES,
           percent=False),
    Metric("current ratio", _named(r"current\s+ratio|working\s+capital\s+ratio"), _CURRENT_ASSETS,
           _CURRENT_LIABILITIES, percent=False),
    Metric("quick ratio", _named(r"quick\s+ratio|acid[\s-]+test\s+ratio"), _QUICK_ASSETS, _CURRENT_LIABILITIES,
           percent=False),
)
# A part of the filer whose metric the claim may be about: its consolidated metric does not decide it.
_SCOPE_RE = re.compile(r"\b(?:segments?|divisions?|programs?|business(?:es)?|units?|products?|services?|regions?"
                       r"|categor(?:y|ies)|brands?|stores?|channels?|markets?|subsidiar(?:y|ies)|portfolio)\b", _FLAGS)
# Whose metric: "Boeing's gross margin", "Commercial Airplanes' gross margin" (the words before the metric).
_POSSESSOR_RE = re.compile(r"([\w&.-]+)['’]s?\s+(?:[\w-]+\s+)?$")


def _one(page: PreparedPage, label: str, year: int) -> float | None:
    """The value of the one row of `page` labelled `label` in `year`'s column; None for none or rows
    that disagree."""
    values = {row[year] for _, row in statement_rows([page], re.compile(rf"^\W*{label}", _FLAGS), False)
              if year in row}
    return values.pop() if len(values) == 1 else None


def _cost_of_revenue(page: PreparedPage, year: int) -> tuple[float, str] | None:
    """The cost of revenue and how it was read: its row, else the sum of the page's "Cost of …" rows
    (a cost in parentheses is the amount deducted)."""
    total = _one(page, COST_OF_SALES_ROW, year)
    if total is not None:
        return abs(total), format_operand(abs(total))
    rows = statement_rows([page], re.compile(rf"^\W*{_COMPONENT_COST_ROW}", _FLAGS), False)
    if not rows or any(year not in row for _, row in rows):
        return None
    return sum(abs(row[year]) for _, row in rows), " - ".join(format_operand(abs(row[year])) for _, row in rows)


@dataclass(frozen=True)
class Reading:
    """The metric in one year from a statement's rows, its working ("(66,608 - 53,969) / 66,608") and
    the pages the rows are on."""

    value: float
    working: str
    pages: tuple[PreparedPage, ...]


def _quick_assets(page: PreparedPage, year: int) -> tuple[float, str] | None:
    """Cash, short-term investments (where the balance sheet has them) and every receivables row."""
    cash, investments = _one(page, _CASH_ROW, year), _one(page, _INVESTMENTS_ROW, year)
    receivables = [row[year] for _, row in statement_rows([page], re.compile(rf"^\W*{_RECEIVABLES_ROW}", _FLAGS),
                                                          False) if year in row]
    if cash is None or not receivables:
        return None
    parts = [cash] + ([investments] if investments is not None else []) + receivables
    return sum(parts), "(" + " + ".join(format_operand(v) for v in parts) + ")"


def _other(label: str, page: PreparedPage, year: int, pages: list[PreparedPage]) -> tuple[float, PreparedPage] | None:
    """The second row of a metric: on `page`, else on another page of the same filing in the same unit
    (a balance sheet printed over two pages, its liabilities after its assets), where those pages
    agree on one value."""
    value = _one(page, label, year)
    if value is not None:
        return value, page
    found = [(v, other) for other in pages if other is not page and other.source.doc_id == page.source.doc_id
             and declared_unit(other) == declared_unit(page) and (v := _one(other, label, year)) is not None]
    return found[0] if found and len({v for v, _ in found}) == 1 else None


def _value(metric: Metric, page: PreparedPage, year: int, pages: list[PreparedPage] = ()) -> Reading | None:
    """The metric in `year` from the rows of `page` (the second row also from another page of its
    filing among `pages`: `_other`), or None."""
    if metric.numerator == _QUICK_ASSETS:
        top, shown = _quick_assets(page, year) or (None, "")
    else:
        top = _one(page, metric.numerator, year)
        shown = format_operand(top) if top is not None else ""
    second = metric.subtract or metric.denominator
    other = _other(second, page, year, list(pages)) if second and (top is not None or metric.subtract is None) else None
    if other is None:
        return None
    base, where = other
    cited = (page,) if where is page else (page, where)
    if metric.subtract is not None:
        return Reading(top - base, f"{shown} - {format_operand(base)}", cited)
    if not base:
        return None
    if top is None and metric.numerator == _GROSS_PROFIT_ROW and where is page:
        cost = _cost_of_revenue(page, year)
        if cost is not None:
            top, shown = base - cost[0], f"({format_operand(base)} - {cost[1]})"
    return None if top is None else Reading(top / base, f"{shown} / {format_operand(base)}", cited)


def _shown(metric: Metric, reading: Reading) -> str:
    """A value as the worked claims state it: a margin in percent, a ratio to two decimals, an amount
    as its rows give it."""
    if metric.percent:
        return f"{reading.value * 100:,.2f}%"
    if metric.denominator is not None:
        return f"{reading.value:,.2f}"
    unit = SCALE_NAMES.get(declared_unit(reading.pages[0]))  # "-1,561 million" of a table in millions
    return f"{format_operand(reading.value)} {unit}" if unit else format_operand(reading.value)


def _periods(claim: Claim, question_period: Period | None) -> list[Period]:
    """The periods the claim names, else the question's one: an answer is read as answering it."""
    return claim.periods or ([question_period] if question_period is not None else [])


def _years(claim: Claim, question_period: Period | None) -> tuple[int, int] | None:
    """The two fiscal years compared, oldest first (see the module docstring)."""
    periods = _periods(claim, question_period)
    if any(p.quarter is not None for p in periods) or not periods:
        return None
    pair = trend_periods(claim)
    if pair is not None:
        return pair[0].year, pair[1].year
    years = {p.year for p in periods if p.year is not None}
    if len(years) != 1:
        return None
    year = years.pop()
    return year - 1, year


def _claimed(claim: Claim, metric: Metric) -> tuple[int, bool] | None:
    """(the direction the claim states for the metric, whether it denies it), or None."""
    measure = metric.name.split()
    stated = stated_direction(claim.plain, measure)
    if stated in (UP, DOWN):
        return stated, False
    denied = denied_direction(claim.plain, measure)
    return (denied, True) if denied is not None else None


def _about_filer(claim: Claim, metric: Metric, pages: list[PreparedPage]) -> bool:
    """Whether the claim names the metric once, of the filer as a whole (see the module docstring)."""
    named = list(metric.named.finditer(claim.plain))
    if len(named) != 1 or _SCOPE_RE.search(claim.plain):
        return False
    if any(m is not metric and m.named.search(claim.plain) for m in METRICS):
        return False
    possessor = _POSSESSOR_RE.search(claim.plain[max(0, named[0].start() - 40): named[0].start()])
    whose = possessor.group(1).lower() if possessor else "company"
    return whose in ("company", "its", "their", "firm") or any(whose in page.doc_compact for page in pages)


@dataclass(frozen=True)
class Trend:
    """A claim's direction for a metric and the metric computed for the two years it compares."""

    metric: Metric
    years: tuple[int, int]
    old: Reading
    new: Reading
    claimed: int  # UP or DOWN
    denied: bool  # the claim denies the `claimed` change ("not improving")

    @property
    def moved(self) -> int:
        return UP if self.new.value > self.old.value else DOWN

    @property
    def contradicted(self) -> bool:
        return self.moved == self.claimed if self.denied else self.moved == -self.claimed


def trend(claim: Claim, question_period: Period | None, pages: list[PreparedPage]) -> Trend | None:
    """The direction the claim states for a metric and the metric computed from the pages' rows
    (see the module docstring), or None. `pages`: the asked filer's."""
    metric = next((m for m in METRICS if m.named.search(claim.plain)), None)
    if metric is None or claim.quantities or not _about_filer(claim, metric, pages):
        return None
    claimed, years = _claimed(claim, metric), _years(claim, question_period)
    if claimed is None or years is None:
        return None
    found: list[Trend] = []
    for page in pages:
        old, new = (_value(metric, page, year, pages) for year in years)
        if old is None or new is None:
            continue
        if abs(new.value - old.value) <= MIN_MOVE * max(abs(old.value), abs(new.value)):
            return None  # equal at the statements' rounding: no direction to hold the claim to
        found.append(Trend(metric, years, old, new, *claimed))
    return found[0] if found and len({t.moved for t in found}) == 1 else None


_MOVES = {UP: "an increase", DOWN: "a decrease"}


# A sign stated for working capital: "positive working capital", "a working capital deficit",
# "working capital was negative".
_SIGN_RE = re.compile(r"\b(?:(?P<pos>positive)|(?P<neg>negative))\s+(?:net\s+)?working\s+capital\b"
                      r"|\bworking\s+capital\s+(?:(?P<deficit>deficit|shortfall)\b|(?:is|was|remains|remained|"
                      r"of)\s+(?:(?P<pos2>positive)|(?P<neg2>negative))\b)", _FLAGS)


def _sign_contradiction(claim: Claim, question_period: Period | None, pages: list[PreparedPage]) -> str | None:
    """Why the sign the claim states for the filer's working capital ("Corning does not have positive
    working capital") is contradicted by its value computed from the balance sheet, or None."""
    signs = set()
    for m in _SIGN_RE.finditer(claim.plain):
        sign = 1 if m.group("pos") or m.group("pos2") else -1
        denied = NEGATION_RE.search(claim.plain, max(0, m.start() - LOCAL_BLUR), m.start())
        signs.add(-sign if denied else sign)
    metric = next(m for m in METRICS if m.name == "working capital")
    years = {p.year for p in _periods(claim, question_period) if p.year is not None and p.quarter is None}
    if len(signs) != 1 or claim.quantities or len(years) != 1 or not _about_filer(claim, metric, pages):
        return None
    year, said = years.pop(), signs.pop()
    values = {r.value for page in pages if (r := _value(metric, page, year, pages)) is not None}
    if not values or {v > 0 for v in values} != {said < 0} or 0 in values:
        return None
    shown = ", ".join(format_operand(v) for v in sorted(values))
    return (f"{CONTRADICTED}: working capital {shown} (FY{year}) is "
            f"{'negative' if said > 0 else 'positive'}; the claim says {'positive' if said > 0 else 'negative'}")


def contradiction(claim: Claim, question_period: Period | None, pages: list[PreparedPage]) -> str | None:
    """Why the direction (or working capital's sign) the claim states for a metric is contradicted by
    the metric computed from the pages' statements (the verdict's reason), or None. `pages`: the asked
    filer's."""
    found = trend(claim, question_period, pages)
    if found is None or not found.contradicted:
        return _sign_contradiction(claim, question_period, pages)
    said = f"no {_MOVES[found.claimed].split()[1]}" if found.denied else _MOVES[found.claimed]
    (a, b), old, new = found.years, _shown(found.metric, found.old), _shown(found.metric, found.new)
    return (f"{CONTRADICTED}: {found.metric.name} {old} (FY{a}) → {new} (FY{b}) is "
            f"{_MOVES[found.moved]}; the claim says {said}")


# A bound on a metric's moves from year to year: "fluctuated more than 2%", "within a 2% range", "not
# fluctuating more than roughly 2% each year". Over: the moves exceed it; under: they stay within it.
_BOUND = (r"(?:the\s+|an?\s+)?(?:(?:roughly|about|approximately|around|only|just)\s+)?(\d+(?:\.\d+)?)\s*"
          r"(?:%|percent(?:age)?(?:\s+points?)?|points?)")
_OVER_RE = re.compile(rf"\b(?:more\s+than|beyond|over|exceed(?:s|ed|ing)?|greater\s+than|in\s+excess\s+of|above)\s+"
                      rf"{_BOUND}", _FLAGS)
_UNDER_RE = re.compile(rf"\b(?:within|less\s+than|under|below|no\s+more\s+than|at\s+most|up\s+to)\s+{_BOUND}", _FLAGS)
_MOVES_RE = re.compile(r"\b(?:fluctuat\w*|var(?:y|ied|ies|iation|ying)\w*|swings?|range|band|consisten\w*|stable"
                       r"|stability|volatil\w*)\b", _FLAGS)
_STEADY_RE = re.compile(r"\b(?:(?P<no>in)?consistent(?:ly)?|(?P<un>un)?stable|(?P<vol>volatile))\b", _FLAGS)
OVER, UNDER = 1, -1


def asked_bound(question: str) -> float | None:
    """The bound a question sets on a metric's yearly moves ("not fluctuating more than roughly 2% each
    year"), in percentage points, or None."""
    m = _OVER_RE.search(question) or _UNDER_RE.search(question)
    return float(m.group(1)) if m and _MOVES_RE.search(question) else None


def _stance(claim: str, question: str) -> tuple[int, float, int] | None:
    """(OVER or UNDER, the bound, its decimals) a claim states for the moves: its own figure bound,
    else "consistent" / "not consistent" against the bound the question sets; None for neither."""
    for pattern, side in ((_OVER_RE, OVER), (_UNDER_RE, UNDER)):
        m = pattern.search(claim)
        if m is not None:
            denied = NEGATION_RE.search(claim, max(0, m.start() - LOCAL_BLUR), m.start())
            return (-side if denied else side), float(m.group(1)), len(m.group(1).partition(".")[2])
    steady, bound = _STEADY_RE.search(claim), asked_bound(question)
    if steady is None or bound is None:
        return None
    shaky = bool(steady.group("no") or steady.group("un") or steady.group("vol"))
    denied = NEGATION_RE.search(claim, max(0, steady.start() - LOCAL_BLUR), steady.start())
    return (UNDER if shaky == bool(denied) else OVER), bound, 0


def fluctuation_contradiction(claim: Claim, question: str, pages: list[PreparedPage]) -> str | None:
    """Why the bound a claim states for a margin's moves from year to year ("Best Buy's gross margins
    have fluctuated more than 2% each year", "are historically consistent" where the question bounds
    the moves) is contradicted by the margin computed for each year of one statement (the question's
    year and those before it, `_statement_readings`), or None. A margin's move is in percentage points
    (the difference of the rates), the convention for margins; a bound holds to its own rounding ("2%":
    1.5 to 2.5 points is undecided). `pages`: the asked filer's."""
    metric = next((m for m in METRICS if m.named.search(claim.plain)), None)
    if (metric is None or not metric.percent or not _MOVES_RE.search(claim.plain)
            or not _about_filer(claim, metric, pages)):
        return None
    stance, asked = _stance(claim.plain, question), _asked_year(question, pages)
    readings = _statement_readings(metric, asked, pages) if stance is not None and asked is not None else []
    if len(readings) < 2:
        return None
    side, bound, decimals = stance
    moves = [abs(b.value - a.value) * 100 for (_, a), (_, b) in zip(readings, readings[1:], strict=False)]
    slack = 0.5 * 10 ** -decimals
    if (side == OVER and max(moves) >= bound - slack) or (side == UNDER and max(moves) <= bound + slack):
        return None
    shown = " → ".join(f"{_shown(metric, r)} (FY{y})" for y, r in readings)
    said = "more" if side == OVER else "no more"
    return (f"{CONTRADICTED}: {metric.name} {shown} moves at most {max(moves):,.2f} percentage points a year; "
            f"the claim says {said} than {bound:g}")


_NEGATIVE_WORD_RE = re.compile(r"\b(?:negative|deficit|shortfall)\b", _FLAGS)


def level_derivation(q: Quantity, claim: Claim, question: str, question_period: Period | None,
                     pages: list[PreparedPage], tol: Tolerances) -> Derivation | None:
    """The derivation of `q` as the metric the claim names ("working capital was $1,300 million in
    FY2021", "a quick ratio of 0.83") computed by its definition from one page's rows for the figure's
    year (the claim's one year, else the question's), or None: support only, as conventions vary. `q`
    must state the metric, not an operand of the claim's working; the rows are those of the filings
    whose filer the question names (`named_filings`)."""
    metric = next((m for m in METRICS if m.named.search(claim.plain)), None)
    if metric is None or in_working(q, claim.plain) or (q.unit == "%") != metric.percent:
        return None
    period = period_for(q, claim.quantities, claim.periods, claim.plain)
    named = [period] if period else _periods(claim, question_period)
    years = {p.year for p in named if p.year is not None and p.quarter is None}
    if len(years) != 1 or not _about_filer(claim, metric, pages):
        return None
    year = years.pop()
    named = named_filings(question, pages)
    for page in named:
        reading = _value(metric, page, year, named)
        if reading is None:
            continue
        scales = (100.0,) if metric.percent else (1.0,) if metric.denominator else (1.0, declared_unit(page))
        # signed: "-1,500" is not a working capital of 1,500; "a deficit of $1,561 million" is -1,561
        stated = -q.value if q.value > 0 and _NEGATIVE_WORD_RE.search(claim.plain) else q.value
        if any(abs(reading.value * scale - stated) <= tol.multiplicative for scale in scales):
            return Derivation(f"{metric.name} = {reading.working}", (), q.magnitude)
    return None


def _worked(metric: Metric, readings: list[tuple[int, Reading]]) -> str:
    """The metric in each year, oldest first, worked from its rows and cited: "Gross margin =
    (62,286 - 49,954 - 9,283) / 62,286 = 4.90% in FY2021 [BOEING_2022_10K p.55]. Gross margin = … =
    5.30% in FY2022, up from 4.90% in FY2021 [BOEING_2022_10K p.55]." """
    name, sentences, before = metric.name.capitalize(), [], None
    for year, reading in readings:
        shown, cite = _shown(metric, reading), " ".join(f"[{p.source.doc_id} p.{p.source.page}]" for p in reading.pages)
        # a margin's move is in percentage points (the difference of the two rates), not relative
        by = f" {_points(reading.value - before[1].value)}" if before is not None and metric.percent else ""
        moved = "" if before is None else (
            f", {'up' if reading.value > before[1].value else 'down'}{by} from {_shown(metric, before[1])} "
            f"in FY{before[0]}" if reading.value != before[1].value else f", as in FY{before[0]}")
        sentences.append(f"{name} = {reading.working} = {shown} in FY{year}{moved} {cite}.")
        before = (year, reading)
    return " ".join(sentences)


def _points(move: float) -> str:
    """A move of a rate (a fraction) in percentage points: "1.08 percentage points"."""
    return f"{abs(move) * 100:,.2f} percentage points"


def corrected(found: Trend) -> str:
    """What replaces a contradicted claim: the metric in each of the two years (`_worked`)."""
    return _worked(found.metric, list(zip(found.years, (found.old, found.new), strict=True)))


def named_metric(question: str) -> Metric | None:
    """The one metric of `METRICS` the question's asking sentence names, or None."""
    asking = next((s for s in re.split(r"(?<=[.?!])\s+", question) if "?" in s), question)
    named = [m for m in METRICS if m.named.search(asking)]
    return named[0] if len(named) == 1 else None


@dataclass(frozen=True)
class Levels:
    """The metric a question asks about in the years of one statement (`stated_levels`)."""

    text: str  # the worked, cited sentences
    latest: str  # the asked year's value as written ("-1,561 million", "5.30%"); its move where the
    # question bounds the moves ("1.08 percentage points")


def _latest_year(pages: list[PreparedPage]) -> int | None:
    """The latest fiscal year a table of the pages shows: a question that names no year asks about
    the present, so an older statement's years would answer another question."""
    return max((c.year for page in pages for c in page.columns.values() if c.year is not None and c.quarter is None),
               default=None)


def _asked_year(question: str, pages: list[PreparedPage]) -> int | None:
    """The latest fiscal year the question names, else the latest a table of the pages shows; None for
    a quarter or years further apart than one statement shows (`MAX_YEARS`)."""
    periods = [p for p in extract_periods(question) if p.year is not None]
    years = {p.year for p in periods}
    if any(p.quarter is not None for p in periods) or (years and max(years) - min(years) >= MAX_YEARS):
        return None
    # "Are the gross margins historically consistent?" names no year: the latest the statements show.
    return max(years) if years else _latest_year(pages)


def _statement_readings(metric: Metric, asked: int, pages: list[PreparedPage]) -> list[tuple[int, Reading]]:
    """The metric in the asked year and the years before it (up to `MAX_YEARS`) from the first page
    whose rows compute the asked year: one statement's years, never years mixed from two filings."""
    for page in pages:
        readings = [(y, r) for y in range(asked - MAX_YEARS + 1, asked + 1)
                    if (r := _value(metric, page, y, pages)) is not None]
        if readings and readings[-1][0] == asked:
            return readings
    return []


def stated_levels(question: str, pages: list[PreparedPage]) -> Levels | None:
    """The metric a question asks about without asking for a figure ("Does Corning have positive working
    capital based on FY2022 data?", "an improving gross margin profile as of FY2022", "how did the gross
    margin change from FY2021 to FY2022?") in the latest fiscal year the question names and the years
    before it on the same statement (up to `MAX_YEARS`), worked from the first page whose rows compute
    that year (the latest a table shows when it names no year); None when the question names no one
    metric of `METRICS`, a quarter, or years further apart. `pages`: the asked filer's."""
    metric = named_metric(question)
    asked = _asked_year(question, pages) if metric is not None else None
    readings = _statement_readings(metric, asked, pages) if asked is not None else []
    if not readings:
        return None
    latest = _shown(metric, readings[-1][1])
    if asked_bound(question) is not None and len(readings) > 1:
        latest = _points(readings[-1][1].value - readings[-2][1].value)  # how much it moved is the answer
    return Levels(_worked(metric, readings), latest)
