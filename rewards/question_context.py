"""A claim read in the context of its question and its source pages (issue #15).

An answer answers a question: a bare "$21,524 thousand" to "What was net income in 2019?" claims
2019's net income, not merely that the number is printed somewhere. Reading conventions applied
here, none of them fitted to a data set (a financial analyst reads a filing the same way):

1. **The question lends what a bare answer leaves out** (the answer-in-context reading of QA
   evaluation: Rajpurkar et al. 2016; Zhu et al. 2021, TAT-QA): a one-figure claim that names no
   period is the figure of the one period the question names (`single_period`), and a claim
   without measure words of its own measures what the question asks about, so a source figure
   whose row label names another measure does not support it.
2. **A figure is stated for a period by its table column** (`rewards.periods.column_periods`) or,
   in prose, by the period written next to it (`stated_period`: "13.0% for 2019 compared to 18.3%
   for 2018"). A figure found only in another period's column or sentence is a period mismatch.
3. **A table states a period's value once**: when a row whose label names the claim's measure holds
   the claimed value only in another period's column, a prose mention of the same value without a
   period is the same fact restated ("unrecognized tax benefits of $13.0 million"), not a second,
   undated one; and when that row also states the claimed period's own value, the claim is
   contradicted and no derivation may rescue it (`FigureMatch.contradicted`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from rewards import direction
from rewards.agreement import Known
from rewards.arithmetic import FORMULA_TOLERANCE, Derivation, Equality, Tolerances, is_operand
from rewards.attribution import period_for, placed_period, single_periods
from rewards.cell_tables import cell_heading
from rewards.claims import Claim, without_lead_in
from rewards.consolidating import names_entity_column
from rewards.entities import normalise
from rewards.numbers import Quantity, agreeing, checkable, extract_quantities
from rewards.periods import Period, extract_periods, period_compatible, with_relative
from rewards.premises import (
    CHANGE_RE,
    MODIFIERS,
    PreparedPage,
    asserted,
    change_column,
    content_tokens,
    label_names,
    measure_tokens,
    most_named,
    occurs,
    percent_source,
)


@dataclass
class AnswerContext:
    """What one answer's claims are checked against, plus the figures verified so far."""

    pages: list[PreparedPage]
    known: Known
    question_magnitudes: np.ndarray
    question: str = ""
    verified: list[float] = field(default_factory=list)
    # False while claims are read a second time: a later claim's figure may restate one, never be
    # an operand of it (a coincidental sum of the answer's figures is no evidence).
    derive_from_verified: bool = True
    # What each verified figure measures (the measure words of its claim, or of the question).
    verified_measures: list[frozenset[str]] = field(default_factory=list)
    # Values the answer established per measure and period: what a later "it improved" compares.
    levels: list[direction.Level] = field(default_factory=list)
    question_heads: list[str] = field(default_factory=list)  # what the question measures, for levels
    # The one period the question asks about, when it names exactly one: an answer is read as an
    # answer to its question, so a figure whose claim names no period is that period's figure.
    question_period: Period | None = None
    # The answer has no measure words at all ("$21,524 thousand", "5.3%"): it is read as measuring
    # what the question asks about. A figure in a longer answer ("2021: $14,082 million" under the
    # answer's own "Net sales:" heading) takes its measure from the answer, not the question.
    bare: bool = False
    # Pages of another company's filing than the one the question asks about: id(page) -> the filer
    # named by the page's document id (`rewards.asked_company.foreign_filings`).
    foreign: dict[int, str] = field(default_factory=dict)
    # The sign each verified figure has in its source: -1 for a cash outflow (`outflow_signs`), +1
    # for a positive figure, 0 where both were seen. A sum of the two is not a derivation.
    signs: dict[float, int] = field(default_factory=dict)
    # Figures verified from a component revenue line ("Net product sales") of a table that states
    # the total: no operands of a later claim about plain revenue (`rewards.stated_totals`).
    components: set[float] = field(default_factory=set)
    # Verified figures a source states as written (matched on a page, not derived).
    stated: set[float] = field(default_factory=set)

    @property
    def established(self) -> list[tuple[float, frozenset[str]]]:
        """(value, measure words) of each figure verified so far that a source states."""
        return [(v, m) for v, m in zip(self.verified, self.verified_measures, strict=True) if v in self.stated]


@dataclass
class FigureMatch:
    """How one claim figure was matched: direct (page, quantity) or derived."""

    quantity: Quantity
    page: PreparedPage | None = None
    source_quantity: Quantity | None = None
    derivation: Derivation | None = None
    period_mismatch: bool = False
    # The row that holds the figure in another period's column also states the claimed period's
    # value: the sources contradict the claim, so it is not derived either.
    contradicted: bool = False

    @property
    def sourced(self) -> tuple[Quantity | None, Period | None]:
        """The source quantity and its table column, where the figure was matched directly."""
        if self.page is None or self.source_quantity is None:
            return None, None
        return self.source_quantity, self.page.columns.get(self.source_quantity.start)

    @property
    def value(self) -> float:
        """The figure's magnitude at the source's precision where it was matched directly: "$65.4
        billion" read as the page's 65,398 million when it rounds it, so what later claims compute
        from it is computed from what the filing states, not from a rounded restatement (a CAGR of
        0.447% is "0.4%", though 65.4 and 66.0 give 0.457%)."""
        q, source = self.quantity, self.source_quantity
        if self.page is None or source is None or self.derivation is not None or not source.magnitude:
            return q.magnitude
        precise = min((source.magnitude * scale for scale in (1.0, *self.page.scales)),
                      key=lambda v: abs(v - q.magnitude))
        # Only a rounding of the source figure: "$10,529 million" matched to 10,523 (within the
        # relative tolerance) is the answer's own figure, and its working is checked with it.
        return precise if abs(precise - q.magnitude) <= q.half_unit else q.magnitude

    def describe(self) -> str:
        if self.derivation is not None:
            return f"{self.quantity.text} = {self.derivation.expression}"
        return f"{self.quantity.text} = {self.source_quantity.text.strip()} in source"


def states_as_written(match: FigureMatch, pages: Sequence[PreparedPage]) -> bool:
    """Whether a direct match states a page figure as written (its own, or one the prose writes the
    same way: "the $29.3 million increase"), not only within the answer's rounding."""
    q, source = match.quantity, match.source_quantity
    return match.derivation is None and source is not None and (
        abs(q.value / q.scale - source.value / source.scale) <= 1e-9 * max(1.0, abs(source.value))
        or any(p.value == q.value and p.unit == q.unit for page in pages for p in page.quantities))


def evidence_pages(claim: Claim, context: AnswerContext) -> list[PreparedPage]:
    """The pages that may support `claim`: not another company's filing unless the claim names it."""
    if not context.foreign:
        return context.pages
    named = normalise(claim.plain)
    return [page for page in context.pages
            if id(page) not in context.foreign or context.foreign[id(page)] in named]


# SEC Regulation G / Item 10(e) of Regulation S-K (and ESMA's APM guidelines for IFRS reports): a
# non-GAAP measure ("adjusted EBITDA", "underlying EBITDA") is labelled as such and is not the GAAP
# figure of the same name.
# ("excluding the current portion" is a line item's scope, not a basis: only the labels themselves.)
_ADJUSTED_RE = re.compile(r"\bnon[-\s]?(?:gaap|ifrs)\b|\badjusted\b|\bunderlying\b", re.IGNORECASE)
_GAAP_RE = re.compile(r"(?<!non-)(?<!non )(?<!non)\bgaap\b|\bunadjusted\b|\bas reported\b|\bstatutory\b",
                      re.IGNORECASE)


def reporting_basis(text: str) -> str | None:
    """The basis a text states for its figures: "adjusted" (non-GAAP), "gaap", or None (not said)."""
    adjusted, gaap = bool(_ADJUSTED_RE.search(text)), bool(_GAAP_RE.search(text))
    if adjusted == gaap:
        return None  # neither, or both ("adjusted ... reconciled to GAAP"): nothing to hold it to
    return "adjusted" if adjusted else "gaap"


def basis_agrees(basis: str, label: str) -> bool:
    """Whether a source figure whose row label or sentence is `label` may be read on `basis`: an
    adjusted claim needs an adjusted source line; a GAAP claim any line not labelled adjusted."""
    source = reporting_basis(label)
    return source == "adjusted" if basis == "adjusted" else source != "adjusted"


_CLAUSE_RE = re.compile(r"[,;:]\s+")


def figure_basis(q: Quantity, claim: Claim) -> str | None:
    """The reporting basis a claim states for its figure `q`: the claim's own when it has one clause
    with figures; else that of `q`'s clause ("revenue of $3.0 billion, an adjusted EBITDA margin of
    16% (non-GAAP), and capex of $450 million": only the margin is adjusted)."""
    text = claim.plain
    cuts = [0] + [m.end() for m in _CLAUSE_RE.finditer(text)] + [len(text) + 1]
    clauses = list(zip(cuts, cuts[1:], strict=False))
    with_figures = {i for i, (a, b) in enumerate(clauses) for f in claim.quantities if a <= f.start < b}
    if len(with_figures) <= 1:
        return reporting_basis(text)
    a, b = next((a, b) for a, b in clauses if a <= q.start < b)
    # A clause without figures ("On a GAAP basis, ...") sets the basis of the whole sentence.
    framing = " ".join(text[a2:b2] for i, (a2, b2) in enumerate(clauses) if i not in with_figures)
    return reporting_basis(text[a:b]) or reporting_basis(framing)


def single_period(question: str) -> Period | None:
    """The period a question asks about when it names exactly one (by year), else None."""
    dated = [p for p in with_relative(question, extract_periods(question)) if p.year]
    return dated[0] if dated and len({p.year for p in dated}) == 1 else None


def claim_tokens(claim: Claim, context: AnswerContext) -> list[str]:
    # A claim without figures is aligned on what it asserts, not on where it says it comes from.
    tokens = content_tokens(claim.plain if claim.quantities else without_lead_in(claim.plain))
    if len(tokens) < 2 and claim.quantities:
        # "FY2015: 3.1%" says nothing to align on; the question says what it is about. A claim
        # without figures never borrows the question's words: "It rained." is not about revenue.
        tokens += [t for t in content_tokens(context.question) if t not in tokens]
    return tokens


def claimed_period(q: Quantity, claim: Claim, context: AnswerContext) -> Period | None:
    """The period the claim states `q` for; for a bare one-figure claim that names no period,
    the one period its question names (a bare "$21,524 thousand" answers the question's year)."""
    claimed = period_for(q, claim.quantities, claim.periods, claim.plain)
    if claimed is None and len(claim.quantities) == 1 and not any(p.year for p in claim.periods):
        return context.question_period
    return claimed


def figure_measure(q: Quantity, claim: Claim, measure: list[str], context: AnswerContext) -> list[str]:
    """The measure words a source figure equal to `q` must have (one of) in its row label or
    sentence: the claim's own; for a bare answer (`AnswerContext.bare`), the question's, since it
    answers the question; a label in parentheses after it, first. None for a formula operand, whose
    measure is the formula's result (`rewards.arithmetic.is_operand`), and for a figure of a longer
    answer that names no measure ("2021: $14,082 million": the answer's heading says what it is)."""
    # "$6,833 (Net sales) + $128 (Other income)": a figure's label in parentheses says what it is, named
    # by its head words ("sales", not "net")
    words = measure_tokens(label.group(1)) if (label := _ROW_CAPTION_RE.match(claim.plain[q.end:])) else []
    if labelled := [w for w in words if w not in MODIFIERS] or words:
        return labelled
    if is_operand(q, claim.plain):
        return []
    return measure or (measure_tokens(context.question) if context.bare else [])


# A row caption in parentheses ("(Net sales)"), not a remark on the figure ("(from the cash flow statement)",
# "(considered as marketable securities)", "(FY2022)").
_ROW_CAPTION_RE = re.compile(r"\s*(?:million|billion|thousand)?\s*\((?!(?:From|As|Per|See|Based|Including|Excluding|"
                            r"Or|In|For|Which|Considered|Approximately|About)\b)([A-Z][A-Za-z&'’ ,-]{2,40})\)")


def direct_match(q: Quantity, claim: Claim, context: AnswerContext, own_measure: list[str],
                 rel_tolerance: float) -> FigureMatch | None:
    """The best source figure equal to `q` whose row label or sentence names what the claim
    measures: one stated for the claim's period (its table column, or the period its sentence
    names) if any; else, when a figure stated for another period exists, that period mismatch
    (a table row states a period's value once; see the module docstring); else one stated for no
    period."""
    claimed = claimed_period(q, claim, context)
    measure = figure_measure(q, claim, own_measure, context)
    basis = figure_basis(q, claim) or (reporting_basis(context.question) if context.bare else None)
    spans_periods, operand = multi_period_average(claim), is_operand(q, claim.plain)
    undated: FigureMatch | None = None
    fiscal: FigureMatch | None = None  # compatible only through the fiscal-year reading
    mismatch: FigureMatch | None = None
    for page in evidence_pages(claim, context):
        for index in agreeing(q, page.magnitudes, rel_tolerance, page.scales, page.written_scales):
            source_q = page.quantities[index]
            if q.unit == "%" and not percent_source(source_q):
                continue
            if _more_precise(q, source_q, page.scales):
                continue  # "1,600.75" is no rounding of a page's "1,600.1": another (computed) figure
            if q.unit == "%" and change_column(page, index) and not CHANGE_RE.search(claim.plain):
                continue  # "Provision for income taxes $(411) $(491) 16%": the change, not a rate
            if measure and not label_names(page, index, measure) and not _in_named_group(page, index, own_measure,
                                                                                         context.question) \
                    and not (claim.heading and label_names(page, index, measure_tokens(claim.heading))):
                continue  # the same number, but of something else (a listed line's heading may name it: "Client:")
            if _in_other_group(page, index, own_measure) or _in_other_cell_column(page, index, own_measure):
                continue  # the same row, but another segment's column (or another column the claim names)
            if source_q.start in page.entity_columns and not names_entity_column(claim.plain):
                continue  # a legal entity's column of a consolidating schedule (Rule 3-10), not the company's
            if not asserted(page, source_q.start):
                continue  # stated only in a denial or an instruction: not evidence
            if other_line_item(claim.plain, page.labels[index]) or sign_dropped(q, source_q, claim.plain):
                continue  # "gross margin" is not the "Operating margins" row; 5.3% is not its (5.3)%
            if spans_periods and not operand and not AVERAGE_WORD_RE.search(page.labels[index]):
                continue  # a three-year average is no one year's figure
            if basis is not None and not basis_agrees(basis, page.labels[index]):
                continue  # an adjusted (non-GAAP) figure for a GAAP claim, or the reverse
            stated = page.columns.get(source_q.start) or (
                stated_period(page, index) if claimed is not None else None)
            if claimed is None or stated is None:
                undated = undated or FigureMatch(q, page, source_q)
                continue
            if period_compatible(claimed, stated) and not _exact_elsewhere(page, index, claimed, stated):
                if stated.year == claimed.year:
                    return FigureMatch(q, page, source_q)
                fiscal = fiscal or FigureMatch(q, page, source_q)
                continue
            if mismatch is None or not mismatch.contradicted:
                mismatch = FigureMatch(q, page, source_q, period_mismatch=True,
                                       contradicted=_row_states(page, index, claimed))
    # A value the sources state for another year outright is not rescued by a column or sentence
    # that could be the claimed year only under another company's fiscal-year naming.
    return mismatch or fiscal or undated


# A line item named by its level in the income statement: "gross margin", "operating income", "net profit
# margin", "pre-tax income". Two levels of one measure are two line items (Regulation S-X Rule 5-03).
_LEVEL_RE = re.compile(
    r"\b(gross|operating|net|pre-?tax)\s+(?:profit\s+|income\s+)?(margin|profit|income|earnings)s?\b", re.IGNORECASE)
# Words that state a rate as negative or falling: "a negative margin of 5.3%", "declined 6.4%", "a 5.3% loss".
_NEGATIVE_RE = re.compile(r"\b(?:negative|minus|loss(?:es)?|deficit|declin\w*|decreas\w*|fell|fall\w*|drop\w*|down"
                          r"|lower|reduc\w*|contract\w*|shr[au]nk|below)\b", re.IGNORECASE)
SIGN_REACH = 60  # chars around a rate searched for a word that makes it negative


AVERAGE_WORD_RE = re.compile(r"\b(?:average|mean)\b", re.IGNORECASE)
_YEAR = r"(?:fy\s*'?)?(?:19|20)?\d{2}"
# "3-year average", "the FY2015 - FY2017 … average", "average … from 2019 to 2021".
_YEARS_AVERAGE_RE = re.compile(
    rf"\b(?:\d|two|three|four|five|ten)[\s-]+years?\s+average\b"
    rf"|\b{_YEAR}\s*(?:-|–|to|through)\s*{_YEAR}\b[^.;]{{0,40}}\baverage\b"
    rf"|\baverage\b[^.;]{{0,60}}\b(?:from\s+|between\s+)?{_YEAR}\s*(?:-|–|to|through|and)\s*{_YEAR}\b",
    re.IGNORECASE)


def multi_period_average(claim: Claim) -> bool:
    """Whether the claim states an average over a span of years ("the FY2015 - FY2017 3-year average
    net profit margin is 2.6%"): its result is no single year's figure, so a source row states it
    only when the row says it is an average (its operands are single years' figures)."""
    return bool(_YEARS_AVERAGE_RE.search(claim.plain))


def other_line_item(claim: str, label: str) -> bool:
    """Whether a row label names another level of the claim's measure: the claim's "gross margin"
    against an "Operating margins" row, "net income" against "Operating income"."""
    claimed = {(m.group(1).lower().replace("-", ""), m.group(2).lower()) for m in _LEVEL_RE.finditer(claim)}
    labelled = {(m.group(1).lower().replace("-", ""), m.group(2).lower()) for m in _LEVEL_RE.finditer(label)}
    return bool(claimed and labelled) and not claimed & labelled and bool(
        {head for _, head in claimed} & {head for _, head in labelled})


def sign_dropped(q: Quantity, source_q: Quantity, claim: str) -> bool:
    """Whether a positive rate is matched to a negative one ("Operating margins (5.3) %") that the
    claim does not state as negative or falling. Amounts are exempt: statements present costs and
    outflows in parentheses, which text states as positive amounts."""
    if q.unit != "%" or q.value < 0 or source_q.value >= 0:
        return False
    return not _NEGATIVE_RE.search(claim, max(0, q.start - SIGN_REACH), q.end + SIGN_REACH)


def _more_precise(q: Quantity, source_q: Quantity, scales: tuple[float, ...]) -> bool:
    """Whether the claim's figure is written more precisely than the source figure and differs from
    it by more than the source's rounding: rounding removes digits, it never adds them, so the claim's
    figure is not that one (the relative tolerance is for figures that round or restate)."""
    if not source_q.magnitude:
        return False
    scale = 1.0 if source_q.scaled_in_text else min(
        (1.0, *scales), key=lambda s: abs(source_q.magnitude * s - q.magnitude))
    rounding = source_q.half_unit * scale
    return q.half_unit < rounding and abs(source_q.magnitude * scale - q.magnitude) > rounding + q.half_unit


def _names_group(heading: str, own_measure: list[str]) -> bool:
    names = [t for t in measure_tokens(heading) if t not in MODIFIERS]
    return bool(names) and all(t in own_measure for t in names)


def _in_named_group(page: PreparedPage, index: int, own_measure: list[str], question: str) -> bool:
    """The figure sits in the column group (`rewards.column_groups`: a segment of a side-by-side
    segment table) the claim names in full, and its row names the rest of the claim's measure, or,
    when the claim names only the group ("Commercial Banking: $2,393 million"), the question's."""
    heading = page.groups.get(page.quantities[index].start)
    if heading is None or not _names_group(heading, own_measure):
        return False
    rest = [t for t in own_measure if not occurs(t, heading.lower())]
    return label_names(page, index, rest or measure_tokens(question))


def _in_other_group(page: PreparedPage, index: int, own_measure: list[str]) -> bool:
    """The claim names another column group of the table than the figure's (its row is right, its
    segment is not)."""
    heading = page.groups.get(page.quantities[index].start)
    if heading is None or _names_group(heading, own_measure):
        return False
    return any(_names_group(other, own_measure) for other in set(page.groups.values()) - {heading})


def _in_other_cell_column(page: PreparedPage, index: int, own_measure: list[str]) -> bool:
    """In a table written one cell per line (`rewards.cell_tables`), the column the claim names (the
    heading it names with the most words) is not the figure's: "77,685 votes against" where 77,685
    is in the Abstentions column of the nominee's row."""
    q = page.quantities[index]
    found = cell_heading(page.source.text, page.source.text.rfind("\n", 0, q.start) + 1)
    if found is None:
        return False
    _, own, headings = found
    named = most_named(headings, own_measure.__contains__)
    return bool(named) and own not in named


def _exact_elsewhere(page: PreparedPage, index: int, claimed: Period, column: Period) -> bool:
    """A calendar year ("in 2018") matched to a column of another year only through the fiscal
    reading (`rewards.periods.period_compatible`: "January 31, 2019" may be fiscal 2018), while the
    same row has a column headed by that very year ("January 31, 2018"): the table names its
    periods by their header years, so the year's figure is the one in its own column."""
    if claimed.kind not in ("year", "date") or column.year == claimed.year:
        return False
    return _row_states(page, index, claimed, exact_year=True)


def stated_period(page: PreparedPage, index: int) -> Period | None:
    """The period the sentence of the page's prose figure `index` states it for, by its place
    (`rewards.attribution.placed_period`: "18.3% for 2018", "compared to 21,417 for the prior
    year"), or None."""
    if page.quantities[index].is_plain_integer and page.quantities[index].magnitude < 1000:
        return None  # a count or a model number ("the 737 program"), not a period's amount
    start, end = page.spans[page.sentence_of(page.quantities[index].start)]
    sentence = page.source.text[start:end]
    periods = with_relative(sentence, extract_periods(sentence))
    if not any(p.year for p in periods):
        return None
    # A footnote marker opening the sentence ("(1) Fiscal 2019 includes $3.5 million") is no figure.
    figures = [f for f in extract_quantities(sentence) if not _FOOTNOTE_RE.match(sentence[: f.end])]
    offset = page.quantities[index].start - start
    q = next((f for f in figures if f.start == offset), None)
    return None if q is None else placed_period(q, figures, single_periods(periods, sentence), sentence)


_FOOTNOTE_RE = re.compile(r"^\s*\(\d{1,2}\)$")


def _row_states(page: PreparedPage, index: int, claimed: Period, *, exact_year: bool = False) -> bool:
    """Whether the table row of the page's figure `index` has a figure in a column of the
    `claimed` period (so the row states that period's value itself); with `exact_year`, in a
    column headed by the claimed year itself."""
    text = page.source.text
    line_start = text.rfind("\n", 0, page.quantities[index].start) + 1
    line_end = text.find("\n", page.quantities[index].start)
    line_end = len(text) if line_end < 0 else line_end
    for other in page.quantities:
        if other is page.quantities[index] or not line_start <= other.start < line_end:
            continue
        column = page.columns.get(other.start)
        if column is not None and (column.year == claimed.year if exact_year else period_compatible(claimed, column)):
            return True
    return False


# A future outcome stated as certain ("will reach $3.0 billion") and the source's forward-looking
# language for the same figures ("2027 targets", "we expect"): SEC Regulation S-K Item 10(b) and the
# PSLRA safe harbour set projections apart as expectations, so a claim may not turn one into a fact.
_CERTAIN_FUTURE_RE = re.compile(r"\b(?:will|is\s+going\s+to|are\s+going\s+to)\s+(?!likely\b|probably\b)\w+",
                                re.IGNORECASE)
_HEDGED_RE = re.compile(r"\b(?:expect\w*|target\w*|aim\w*|plan\w*|goal\w*|guid\w*|outlook|project\w*|forecast\w*|"
                        r"anticipat\w*|intend\w*|may|might|could|should|likely|estimat\w*|forward-looking)\b",
                        re.IGNORECASE)


def overstated(claim: Claim, matches: list[FigureMatch | None]) -> str | None:
    """Why a claim that states a future outcome as certain overstates sources that give its figures
    as targets or expectations (the figure's sentence or the two before it, a heading included), or
    None."""
    if not _CERTAIN_FUTURE_RE.search(claim.plain) or _HEDGED_RE.search(claim.plain):
        return None
    for m in matches:
        if m is None or m.page is None or m.source_quantity is None:
            continue
        at = m.page.sentence_of(m.source_quantity.start)
        start, end = m.page.spans[max(0, at - 2)][0], m.page.spans[at][1]
        if _HEDGED_RE.search(m.page.source.text[start:end]):
            return (f"states as certain what the sources give as a target or expectation: "
                    f"{m.quantity.text.strip()}")
    return None


# "a + b" between two figures of a claim: nothing but a plus sign (and a currency sign) between them.
_PLUS_GAP_RE = re.compile(r"^\s*\+\s*\$?\s*$")
# A figure multiplied or divided: a divisor ("… / 7,017") or a numerator ("131 / …").
_FACTOR_BEFORE_RE = re.compile(r"[/*×÷]\s*\$?\s*$")
_FACTOR_AFTER_RE = re.compile(r"^\s*(?:million|billion)?\s*[/*×÷]")
# Cash outflow lines of a statement of cash flows (ASC 230-10-45: investing and financing outflows are
# reported gross, as negatives): "Purchases of property", "Payments of dividends", "Cash used in ...".
_OUTFLOW_LINE_RE = re.compile(
    r"\b(?:purchases?|payments?|repayments?|paid|acquisitions?|additions?\s+to|capital\s+expenditures?"
    r"|used\s+(?:in|by|for)|outflows?|investments?\s+in|redemptions?|repurchases?)\b")


def _label(match: FigureMatch) -> str:
    index = next((i for i, q in enumerate(match.page.quantities) if q.start == match.source_quantity.start), None)
    return match.page.labels[index] if index is not None else ""


def _source_sign(m: FigureMatch | None) -> int:
    """+1 for a figure matched directly to a positive source figure, -1 to a cash outflow line's
    negative one; 0 otherwise (not matched on a page, or a negative that is not an outflow: an
    expense added back says nothing about the sign an answer should give it)."""
    if m is None or m.page is None or m.source_quantity is None:
        return 0
    if m.source_quantity.value >= 0:
        return 1
    return -1 if _OUTFLOW_LINE_RE.search(_label(m)) else 0


def outflow_signs(matches: list[FigureMatch | None], into: dict[float, int] | None = None) -> dict[float, int]:
    """`into` (or a new map) updated with each directly matched figure's source sign (`_source_sign`),
    by magnitude; 0 once both signs are seen."""
    signs = {} if into is None else into
    for m in matches:
        sign = _source_sign(m)
        if sign and m.value:
            signs[m.value] = sign if signs.get(m.value, sign) == sign else 0
    return signs


def added_deduction(claim: Claim, matches: list[FigureMatch | None]) -> str | None:
    """Why a claim that adds a cash outflow to a positive source figure reverses the outflow, or None.

    A statement of cash flows prints outflows in parentheses ("Purchases of land, buildings and
    equipment (460.8)"): the amount is negative. "3,676.2 + 460.8" of a positive line and such an
    outflow's magnitude is 3,676.2 − (−460.8): free cash flow as cash from operations *plus* capital
    expenditures. Only outflow lines count (an expense added back to income, as in EBITDA, is an
    adjustment, not a sign error), and a term the claim writes as negative ("+ (460.8)") keeps the
    source's sign and is left alone. A figure of a product or quotient ("155 / 7,017 + 131 / 7,500", a
    sum of ratios) is no addend."""
    for i in range(1, len(claim.quantities)):
        left, right = claim.quantities[i - 1], claim.quantities[i]
        if left.value < 0 or right.value < 0 or not _PLUS_GAP_RE.match(claim.plain[left.end:right.start]):
            continue  # not "a + b", or the claim writes the sign itself
        if _FACTOR_BEFORE_RE.search(claim.plain[:left.start]) or _FACTOR_AFTER_RE.match(claim.plain[right.end:]):
            continue  # "x / a + b / y": the terms added are ratios
        if _source_sign(matches[i - 1]) * _source_sign(matches[i]) < 0:
            outflow = matches[i - 1] if _source_sign(matches[i - 1]) < 0 else matches[i]
            return f"adds a cash outflow the source shows as negative: {outflow.quantity.text.strip()}"
    return None


WORKED_FORMULA = "the worked formula"  # a result matched by the claim's own arithmetic, not by a source


def own_results(claim: Claim, matches: list[FigureMatch | None]) -> list[Quantity]:
    """The claim's figures left unmatched or matched only as the result of its own working: the
    figures a prescribed computation (a metric the question defines) still has to agree with. The
    working may compute from true operands by another formula ("working capital / current
    liabilities" for a ratio the question defines as current assets / current liabilities)."""
    return [q for q, m in zip(claim.quantities, matches, strict=True)
            if m is None or (m.derivation is not None and m.derivation.expression == WORKED_FORMULA)]


def worked_tolerances(matches: list[FigureMatch | None],
                      tolerances: Callable[[Quantity], Tolerances]) -> Callable[[Quantity], Tolerances]:
    """`tolerances`, with the slack a shown computation is allowed (`FORMULA_TOLERANCE`: rounded
    intermediate values) for a result the claim's own working computes: held to a definition, it
    may be off by no more than its working is."""
    worked = {m.quantity.start for m in matches
              if m is not None and m.derivation is not None and m.derivation.expression == WORKED_FORMULA}

    def widened(q: Quantity) -> Tolerances:
        tol = tolerances(q)
        if q.start not in worked:
            return tol
        return Tolerances(tol.additive, max(tol.multiplicative, FORMULA_TOLERANCE * q.magnitude))
    return widened


def formula_results(claim: Claim, matches: list[FigureMatch | None], worked: list[Equality]) -> None:
    """Match the result of each worked equality that computes (`rewards.arithmetic.equalities`)
    when every term of it is itself established (matched, derived, or an arithmetic constant of
    the working such as "/ 3" or "x 100"). Chains are followed left to right."""
    by_start = {q.start: i for i, q in enumerate(claim.quantities)}
    for equality in worked:
        index = by_start.get(equality.result.start)
        if not equality.computes or index is None or matches[index] is not None:
            continue
        terms = [(by_start.get(t.start), t) for t in equality.terms]
        if all((i is None and not checkable(t))
               or (i is not None and matches[i] is not None and not matches[i].period_mismatch)
               for i, t in terms):
            q = claim.quantities[index]
            matches[index] = FigureMatch(q, derivation=Derivation(WORKED_FORMULA, (), equality.value))
