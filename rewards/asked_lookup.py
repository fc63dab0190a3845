"""A bare answer of years (or a count of years) to a question that compares a table row's periods.

Numerical QA over financial reports asks which period a line item meets a condition in (TAT-QA,
Zhu et al. 2021): "In which year was X less than 1,000 thousand?", "Which year was X higher?",
"In which year was X negative?", "How many years did X exceed $15,000 thousand?", "Which years
does the table provide information for?". The answer ("2018", "2019 and 2018", "2") is not a
claim a sentence of the sources states: it is read off the row whose label names the question's
line item (`rewards.asked_arithmetic.named_rows`), one value per year column. The answer is
supported when it is exactly the set (or the number) of years whose values meet the condition:
* a threshold ("less than", "below", "greater than", "more than", "exceed", "at least", "at
  most") compares each value with the question's figure, read at the table's declared unit when
  the figure carries a scale word ("1,000 thousands" against a table in thousands);
* "negative" / "positive" compare with zero;
* a dash cell ("Lease obligation | 2,047 | —") is nil, a zero, for a threshold, a sign or a comparison;
* a comparative or superlative ("higher", "the lowest") picks the one year of the largest or
  smallest value, among the years the question names when it names two or more;
* with no condition, the years the row (or, when no row is named, the page's tables) gives.
A question this cannot read (no row named, no year columns) is left to the claim checks.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from cai.core.contracts import ClaimVerdict, Evidence, Verdict
from rewards.asked_arithmetic import named_rows
from rewards.claims import split_claims
from rewards.numbers import SOURCE_SCALES, Quantity, extract_quantities
from rewards.periods import extract_periods, with_relative
from rewards.premises import PreparedPage, cell_index, content_tokens, occurs, row_evidence
from rewards.report_tables import Row

_YEAR = r"(?:FY\s?|fiscal\s+)?(?:19|20)\d{2}"
_YEARS_ANSWER_RE = re.compile(rf"^\s*{_YEAR}(?:\s*(?:,\s*and|,|and|&)\s*{_YEAR})*\s*\.?\s*$", re.IGNORECASE)
COUNT_ANSWER_RE = re.compile(r"^\s*(\d{1,2})\s*\.?\s*$")
_WHICH_YEAR_RE = re.compile(r"\b(?:which|what)\s+(?:\w+\s+){0,2}?(?:fiscal\s+)?(?:years?|periods?|FY)\b"
                            r"|\bwhich\s+(?:\w+\s+)?years?'", re.IGNORECASE)
HOW_MANY_YEARS_RE = re.compile(r"\bhow\s+many\s+(?:of\s+the\s+)?(?:fiscal\s+)?years\b", re.IGNORECASE)
_THRESHOLD_RE = re.compile(
    r"\b(?P<op>(?:less|lower|smaller|fewer|greater|more|higher|larger|bigger)\s+than|below|under|above|over"
    r"|exceed(?:s|ed|ing)?|at\s+least|at\s+most)\b\s*(?:that\s+of\s+|the\s+amount\s+of\s+)?", re.IGNORECASE)
_BELOW = ("less", "lower", "smaller", "fewer", "below", "under", "at most")
_SIGN_RE = re.compile(r"\b(?P<sign>negative|positive)\b", re.IGNORECASE)
_MOST_RE = re.compile(r"\b(?:higher|highest|larger|largest|greater|greatest|bigger|biggest|more|most|maximum|peak)\b",
                      re.IGNORECASE)
_LEAST_RE = re.compile(r"\b(?:lower|lowest|smaller|smallest|less|least|fewer|fewest|minimum)\b", re.IGNORECASE)
# Words of the question that say how it compares, not which line item (left out of row naming).
_COMPARING_RE = re.compile(
    r"\b(?:in\s+)?(?:which|what)\b|\byears?\b|\bperiods?\b|\bFY\b|\bhow\s+many\b|\bhigh\w*|\blow\w*|\blarg\w*"
    r"|\bgreat\w*|\bsmall\w*|\bless\b|\bleast\b|\bmore\b|\bmost\b|\bexceed\w*|\bnegative\b|\bpositive\b|\bmaximum\b"
    r"|\bminimum\b|\btable\b|\bprovide\w*|\binformation\b|\bshow\w*|\brecord\w*|\bpresent\w*|\bcalculat\w*",
    re.IGNORECASE)


def _answer_years(answer: str) -> set[int] | None:
    if not _YEARS_ANSWER_RE.match(answer):
        return None
    return {p.year for p in extract_periods(answer) if p.year}


def condition(question: str) -> tuple[str, Callable[[float, float], bool] | None, Quantity | None]:
    """("threshold" | "sign" | "most" | "least" | "all", comparison, threshold figure)."""
    m = _THRESHOLD_RE.search(question)
    if m is not None:
        figure = next((q for q in extract_quantities(question) if 0 <= q.start - m.end() <= 2), None)
        if figure is not None:
            below = m.group("op").lower().startswith(_BELOW)
            inclusive = m.group("op").lower().startswith("at")
            if below:
                return "threshold", (lambda v, t: v <= t) if inclusive else (lambda v, t: v < t), figure
            return "threshold", (lambda v, t: v >= t) if inclusive else (lambda v, t: v > t), figure
    sign = _SIGN_RE.search(question)
    if sign is not None:
        negative = sign.group("sign").lower() == "negative"
        return "sign", (lambda v, t: v < t) if negative else (lambda v, t: v > t), None
    if _MOST_RE.search(question):
        return "most", None, None
    if _LEAST_RE.search(question):
        return "least", None, None
    return "all", None, None


def _row_years(row: Row, percent: bool | None) -> dict[int, Quantity]:
    """The row's value per year column (not quarters): percentages or amounts as asked, else the
    amounts when the row has any."""
    dated = [(q, p) for q, p in row.cells if p is not None and p.year is not None and p.quarter is None]
    if percent is None:
        percent = not any(q.unit != "%" for q, _ in dated)
    values: dict[int, Quantity] = {}
    for q, p in dated:
        if (q.unit == "%") == percent:
            values.setdefault(p.year, q)
    return values


_NIL_RE = re.compile(r"^\s*[—–-]\s*$")


def _nil_years(row: Row) -> dict[int, Quantity]:
    """The years whose cell in the row is a dash ("Lease obligation | 2,047 | —"): nil, a zero in a
    financial table. A dash cell's year is that of the figures in its column in the same table."""
    text = row.page.source.text
    line_end = text.find("\n", row.start) % (len(text) + 1)
    dashes = {i for i, cell in enumerate(text[row.start : line_end].split("|")) if i and _NIL_RE.match(cell)}
    if not dashes or not row.start:
        return {}
    table_start, table_end = text.rfind("\n\n", 0, row.start) + 1, text.find("\n\n", row.start) % (len(text) + 1)
    nil: dict[int, Quantity] = {}
    for q in row.page.figures_in(table_start, table_end):
        period = row.page.columns.get(q.start)
        if period is not None and period.year and period.quarter is None:
            if cell_index(text, q.start) in dashes:
                nil.setdefault(period.year, Quantity("—", row.start, row.start, 0.0, "", 1.0, 0, False))
    return nil


def _met(kind: str, compare, figure: Quantity | None, values: dict[int, Quantity],
         page: PreparedPage) -> list[set[int]]:
    """The sets of years meeting the condition, one per reading of the threshold's unit."""
    if kind == "all":
        return [set(values)]
    if kind in ("most", "least"):
        if len(values) < 2:
            return []
        pick = max if kind == "most" else min
        best = pick(values, key=lambda y: values[y].value)
        return [{best}]
    if figure is None:
        return [{y for y, q in values.items() if compare(q.value, 0.0)}]
    return [{y for y, q in values.items() if compare(q.value, t)} for t in thresholds(figure, page)]


def thresholds(figure: Quantity, page: PreparedPage) -> list[float]:
    """The question's threshold figure read at the page's units: at the table's declared unit when the
    figure carries a scale word ("1,000 thousands" against a table in thousands)."""
    if figure.unit == "%" or not figure.scaled_in_text:
        return [figure.value]
    declared = [s for s in page.scales if s > 1.0] if page.scales != SOURCE_SCALES else list(SOURCE_SCALES)
    return [figure.value / s for s in declared or [1.0]]


def asked_lookup(question: str, answer: str, pages: list[PreparedPage]) -> ClaimVerdict | None:
    """The verdict on a bare years (or count of years) answer to a question that compares a row's
    periods (see the module docstring), or None when the answer or question is not of that kind."""
    years = _answer_years(answer)
    count = COUNT_ANSWER_RE.match(answer) if years is None else None
    if years is None and (count is None or not HOW_MANY_YEARS_RE.search(question)):
        return None
    if years is not None and not _WHICH_YEAR_RE.search(question):
        return None
    kind, compare, figure = condition(question)
    if count is not None and kind not in ("threshold", "sign"):
        return None
    asked = sorted({p.year for p in with_relative(question, extract_periods(question)) if p.year})
    rest = _COMPARING_RE.sub(" ", question if figure is None else question.replace(figure.text, " "))
    rows = named_rows(rest, pages)
    if not rows and kind == "all":
        return _table_years(answer, years, pages)
    percent = None if figure is None else figure.unit == "%"
    for row in rows:
        values = _row_years(row, percent)
        if kind != "all":
            values |= {year: nil for year, nil in _nil_years(row).items() if year not in values}
        if len(asked) >= 2 and kind in ("most", "least"):
            values = {y: q for y, q in values.items() if y in asked}
        for met in _met(kind, compare, figure, values, row.page):
            if (years is not None and met == years) or (count is not None and len(met) == int(count.group(1))):
                evidence = row_evidence(row.page, next(iter(values.values())))
                return answer_verdict(answer, Verdict.supported, evidence,
                                f"the years of '{row.label}' that meet the question: {sorted(met)}")
    if not rows or not any(_row_years(row, percent) for row in rows):
        return None
    evidence = row_evidence(rows[0].page, rows[0].cells[0][0])
    return answer_verdict(answer, Verdict.unsupported, evidence,
                    f"the years of '{rows[0].label}' that meet the question are not the answer's")


def _table_years(answer: str, years: set[int] | None, pages: list[PreparedPage]) -> ClaimVerdict | None:
    """'Which years does the table show?': the years heading the page's table columns."""
    for page in pages:
        dated = [(start, p.year) for start, p in page.columns.items() if p.year and p.quarter is None]
        if dated and years == {year for _, year in dated}:
            q = next(q for q in page.quantities if q.start == dated[0][0])
            return answer_verdict(answer, Verdict.supported, row_evidence(page, q), "the years of the table's columns")
    return None


def answer_verdict(answer: str, verdict: Verdict, evidence: Evidence | None, reason: str) -> ClaimVerdict:
    start = len(answer) - len(answer.lstrip())
    return ClaimVerdict(text=answer.strip(), verdict=verdict, score=0.75 if verdict == Verdict.supported else 0.1,
                        evidence=evidence, span=(start, start + len(answer.strip())), checker="offline",
                        reason=reason)


_ALTERNATIVES_RE = re.compile(r"\bor\b", re.IGNORECASE)


def restates_question(question: str, answer: str) -> ClaimVerdict | None:
    """An unsupported verdict for a short answer without figures whose every content word is the
    question's own ("What is the symbol of the stock on the NASDAQ Global Select Market?" ->
    "NASDAQ Global Select Market"): an answer names what the question asks for, so one that only
    repeats the question answers nothing, however verbatim it is in the sources. Not for a question
    that offers alternatives ("Which was higher, A or B?"), whose answer is one of its own words."""
    words = content_tokens(answer)
    if (not words or len(answer.split()) > 8 or re.search(r"\d", answer) or _ALTERNATIVES_RE.search(question)
            or not all(occurs(t, question.lower()) for t in words)
            or any(claim.degenerate for claim in split_claims(answer))):  # judged as such by the checker
        return None
    return answer_verdict(answer, Verdict.unsupported, None, "the answer only repeats the question's words")
