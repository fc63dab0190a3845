"""A direction stated for a metric no row states, checked against the metric computed from the rows (issue #17).

"In 2022, the gross margin decreased again" and "Boeing's gross margin does not appear to be improving
as of FY2022" say how a margin moved, but an income statement has no row labelled "gross margin", so
`rewards.direction` (a row's values, or values the answer established) finds nothing to compare and
alignment alone would judge them. The metric is computed for each year from the rows of one statement,
by its textbook definition (CFA Institute, *Financial Reporting and Analysis*, ratio analysis):

* gross margin: gross profit over revenue; without a gross profit row, revenue less the cost of revenue
  (its total row, else the sum of its "Cost of …" component rows, as filers without a total present
  it: "Cost of products", "Cost of services");
* operating margin: operating income over revenue; net margin: net income over revenue;
* working capital: total current assets less total current liabilities; the current ratio their quotient.

A claim whose direction the computed values contradict is unsupported: one saying the metric rose (fell)
when it fell (rose), or denying a rise (fall) that happened ("not improving", `denied_direction`). An
agreeing direction adds no support: it is no evidence for the rest of the claim (the reason it gives).
The years compared are the two the claim names; one year it names is compared with the year before
(the annual statements' comparison); a claim naming none takes the question's year. The claim must be
about the filer's metric: a scope word ("Commercial Airplanes' gross margin", "the segment's margin"),
a quarter, a hedge, or pages whose values move in different directions leave it to the other checks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rewards.arithmetic import format_operand
from rewards.claims import Claim
from rewards.defined_formulas import statement_rows
from rewards.direction import DOWN, UP, denied_direction, stated_direction, trend_periods
from rewards.named_ratios import COST_OF_SALES_ROW, NET_INCOME_ROW, REVENUE_ROW
from rewards.periods import Period
from rewards.premises import PreparedPage

CONTRADICTED = "direction contradicts the metric computed from the statement rows"  # its reasons' start
MIN_MOVE = 1e-3  # relative change below which two computed values are taken as equal (rounding)

_FLAGS = re.IGNORECASE
_GROSS_PROFIT_ROW = r"gross\s+(?:profit|margin)\b"
_OPERATING_ROW = (r"(?:total\s+)?(?:\(loss\)\s*/?\s*)?(?:operating\s+(?:income|profit|earnings)"
                  r"|(?:income|earnings|profit)(?:\s*/?\s*\(loss\))?\s+from\s+operations)\b")
_COMPONENT_COST_ROW = r"cost\s+of\s+(?!goods\s+sold|sales|revenues?|products?\s+sold)\w"


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
    Metric("working capital", _named(r"working\s+capital(?!\s+ratio)"), r"total\s+current\s+assets", None,
           r"total\s+current\s+liabilities", percent=False),
    Metric("current ratio", _named(r"current\s+ratio|working\s+capital\s+ratio"), r"total\s+current\s+assets",
           r"total\s+current\s+liabilities", percent=False),
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
    """The metric in one year from one page's rows, and its working ("(66,608 - 53,969) / 66,608")."""

    value: float
    working: str


def _value(metric: Metric, page: PreparedPage, year: int) -> Reading | None:
    """The metric in `year` from the rows of one page, or None."""
    top = _one(page, metric.numerator, year)
    if metric.subtract is not None:
        bottom = _one(page, metric.subtract, year)
        if top is None or bottom is None:
            return None
        return Reading(top - bottom, f"{format_operand(top)} - {format_operand(bottom)}")
    revenue = _one(page, metric.denominator, year) if metric.denominator else None
    if not revenue:
        return None
    shown = format_operand(top) if top is not None else ""
    if top is None and metric.numerator == _GROSS_PROFIT_ROW:
        cost = _cost_of_revenue(page, year)
        if cost is not None:
            top, shown = revenue - cost[0], f"({format_operand(revenue)} - {cost[1]})"
    return None if top is None else Reading(top / revenue, f"{shown} / {format_operand(revenue)}")


def _years(claim: Claim, question_period: Period | None) -> tuple[int, int] | None:
    """The two fiscal years compared, oldest first (see the module docstring)."""
    periods = claim.periods or ([question_period] if question_period is not None else [])
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
    page: PreparedPage  # the first page whose rows computed both
    claimed: int  # UP or DOWN
    denied: bool  # the claim denies the `claimed` change ("not improving")

    @property
    def moved(self) -> int:
        return UP if self.new.value > self.old.value else DOWN

    @property
    def contradicted(self) -> bool:
        return self.moved == self.claimed if self.denied else self.moved == -self.claimed

    def shown(self, reading: Reading) -> str:
        return f"{reading.value * 100:,.2f}%" if self.metric.percent else f"{reading.value:,.2f}"


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
        old, new = (_value(metric, page, year) for year in years)
        if old is None or new is None:
            continue
        if abs(new.value - old.value) <= MIN_MOVE * max(abs(old.value), abs(new.value)):
            return None  # equal at the statements' rounding: no direction to hold the claim to
        found.append(Trend(metric, years, old, new, page, *claimed))
    return found[0] if found and len({t.moved for t in found}) == 1 else None


_MOVES = {UP: "an increase", DOWN: "a decrease"}


def contradiction(claim: Claim, question_period: Period | None, pages: list[PreparedPage]) -> str | None:
    """Why the direction the claim states for a metric is contradicted by the metric computed from
    the pages' statements (the verdict's reason), or None. `pages`: the asked filer's."""
    found = trend(claim, question_period, pages)
    if found is None or not found.contradicted:
        return None
    said = f"no {_MOVES[found.claimed].split()[1]}" if found.denied else _MOVES[found.claimed]
    (a, b), shown = found.years, found.shown
    return (f"{CONTRADICTED}: {found.metric.name} {shown(found.old)} (FY{a}) → {shown(found.new)} (FY{b}) is "
            f"{_MOVES[found.moved]}; the claim says {said}")


def corrected(found: Trend) -> str:
    """What replaces a contradicted claim: the metric in each year, worked from the cited rows, and the
    way it moved ("Gross margin = (62,286 - 49,954 - 9,283) / 62,286 = 4.90% in FY2021 [BOEING_2022_10K
    p.55]. Gross margin = … = 5.30% in FY2022, up from 4.90% in FY2021 [BOEING_2022_10K p.55].")."""
    (a, b), page, name = found.years, found.page.source, found.metric.name.capitalize()
    cite, old, new = f"[{page.doc_id} p.{page.page}]", found.shown(found.old), found.shown(found.new)
    way = "up" if found.moved == UP else "down"
    return (f"{name} = {found.old.working} = {old} in FY{a} {cite}. "
            f"{name} = {found.new.working} = {new} in FY{b}, {way} from {old} in FY{a} {cite}.")
