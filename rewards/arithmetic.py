"""Numbers derived from evidence figures by simple arithmetic.

A financial answer often states a computed figure: a year-over-year change, a margin, an average
of two balances, a sum of segments. Such a figure is supported when it equals a simple expression
of evidence figures (within the claim's stated rounding), even though it is written nowhere.

Operation families, chosen by the claim figure's unit:
* additive (a + b, |a - b|, (a + b) / 2; three-term sums and averages over the answer's own
  figures): for amounts, and for percentages only from percentage operands (percentage points);
* multiplicative (a / b; (b - a) / b over the larger b, a share's complement or a decline; growth
  (a - b) / b over the smaller b only where the text speaks of change; compound growth ((a / b) ^
  (1/n) - 1) where it speaks of compound growth; each ×100 for a percentage): only for percentages
  and unitless ratios, never for a dollar amount;
* one-step (a ± 1, a × or ÷ 100, a × or ÷ 365, a ^ (1/n)): the steps of a worked computation,
  applied to figures the answer has already established.

Why the search is kept narrow: with n operands there are ~10n² candidate values, and a claim figure
that is wrong by chance lands within rounding of one of them with a probability that grows with n².
So additive results must come from operands of comparable size (the smaller at least 1% of the
larger: "x + 100" is not a sum an answer means), additive results are matched at the claim's own
rounding only (sums of exact figures are exact), and the caller passes small operand sets: the
answer's figures and the figures of the evidence windows aligned with the claim. (An answer figure
paired with every figure of the pages was tried and dropped: on FinanceBench dev it explained only
wrong answers, e.g. "12.7% = 65 / 509".)
"""

from __future__ import annotations

import ast
import math
import re
from dataclasses import dataclass
from itertools import combinations

import numpy as np

from rewards.numbers import SOURCE_SCALES, Quantity, extract_quantities
from rewards.premises import CHANGE_STEMS, REVENUE_LABEL_RE

# Largest operand set for the three-term search (C(18, 3) = 816 combinations).
MAX_TRIPLE_OPERANDS = 18
# Additive operands must be of comparable size: the smaller at least this fraction of the larger.
MIN_ADDITIVE_RATIO = 0.01
COMPOUND_YEARS = range(2, 6)
_SPAN_WORDS = {"two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10}
_SPAN_RE = re.compile(r"\b(\d{1,2}|" + "|".join(_SPAN_WORDS) + r")[-\s]years?\b", re.I)
_YEAR_RE = re.compile(r"(?<!\d)(?:FY\s?'?)?((?:19|20)\d{2})(?!\d)", re.I)


# A claim that names a compound rate states the result of compounding, not a ratio or a share.
COMPOUND_RATE_RE = re.compile(r"\bcagr\b|\bcompound(?:ed)?\s+(?:annual\s+)?growth|\bannuali[sz]ed\b", re.I)


# Compound growth is searched only when the claim or the question speaks of it.
_COMPOUND_RE = re.compile(r"\bcagr\b|compound|annuali[sz]ed|\broot\b|\^|per year|annual (?:growth )?rate",
                          re.IGNORECASE)


def compound_years(*texts: str) -> tuple[int, ...]:
    """The exponents a compound growth rate may take by the span its texts (claim, question) state:
    none when neither speaks of compounding; an "N-year" CAGR compounds over N years, one "from 2020
    to 2022" over the 2 years between its end points (both kept when a text counts its years
    inclusively: "3-year CAGR, FY2019 to FY2021"). The first text that states a span decides;
    COMPOUND_YEARS when none does. Why: with four exponents per pair a wrong rate matches some pair
    of figures four times as often ("2-year CAGR 4.5%" = (6,833 / 5,732) ^ (1/4) - 1)."""
    if not any(_COMPOUND_RE.search(text) for text in texts):
        return ()
    for text in texts:
        spans = {_SPAN_WORDS.get(m.group(1).lower()) or int(m.group(1)) for m in _SPAN_RE.finditer(text)}
        years = sorted({int(y) for y in _YEAR_RE.findall(text)})
        if len(years) >= 2:
            spans.add(years[-1] - years[0])
        spans = {n for n in spans if 1 < n <= 30}
        if spans:
            return tuple(sorted(spans))
    return tuple(COMPOUND_YEARS)


def _exponents(compound: bool | tuple[int, ...]) -> tuple[int, ...]:
    """`compound`: True = every span of COMPOUND_YEARS, False = no compounding, else the spans."""
    if isinstance(compound, bool):
        return tuple(COMPOUND_YEARS) if compound else ()
    return tuple(compound)


@dataclass(frozen=True)
class Derivation:
    """How a claim figure was derived: the expression and the operand indices it used."""

    expression: str
    operands: tuple[int, ...]
    value: float


@dataclass(frozen=True)
class Tolerances:
    """Absolute tolerances for additive results (the claim's rounding) and multiplicative ones
    (the claim's rounding plus the propagated rounding of rounded inputs)."""

    additive: float
    multiplicative: float


def percent_like(claim: Quantity) -> bool:
    """A percentage, or a bare decimal in the percent range written without '%' inside a worked
    formula ("(53.8 + 55.4 + 56.2) / 3")."""
    if claim.unit == "%":
        return True
    return claim.unit == "" and not claim.scaled_in_text and claim.decimals >= 1 and claim.magnitude < 200


def is_amount(claim: Quantity) -> bool:
    """A currency amount or a scaled figure ("$5.4 billion", "12,645 million")."""
    return claim.unit == "$" or claim.scaled_in_text or (
        claim.unit == "" and claim.decimals == 0 and claim.magnitude >= 1000)


def _additive(values: np.ndarray) -> list[tuple[str, np.ndarray]]:
    a, b = values[:, None], values[None, :]
    comparable = np.minimum(a, b) >= MIN_ADDITIVE_RATIO * np.maximum(a, b)
    return [
        ("{a} + {b}", np.where(comparable, a + b, np.nan)),
        ("{a} - {b}", np.where(comparable, np.abs(a - b), np.nan)),
        ("({a} + {b}) / 2", np.where(comparable, (a + b) / 2.0, np.nan)),
    ]


def _multiplicative(values: np.ndarray, percent: bool, compound: bool | tuple[int, ...],
                    growth: bool = True) -> list[tuple[str, np.ndarray]]:
    a, b = values[:, None], values[None, :]
    with np.errstate(divide="ignore", invalid="ignore"):
        # A ratio to or of 1 is the other figure itself ("907 = 908 / 1"): no derivation, and with
        # a ratio's wider tolerance it would pass off a near figure (or another period's) as computed.
        ratio = np.where((b != 0) & (a != 1.0) & (b != 1.0), a / b, np.nan)
        # b - a over the larger b is a share's complement ("gross margin = (revenue - COGS) /
        # revenue") or a decline; a - b over the smaller b is growth only, searched when the claim
        # or question speaks of change (`growth`): else "41% of revenues" would be any two figures
        # 41% apart.
        out = [("{a} / {b}", ratio), ("({b} - {a}) / {b}", np.where(ratio < 1.0, 1.0 - ratio, np.nan))]
        out += [("({a} - {b}) / {b}", np.where(ratio > 1.0, ratio - 1.0, np.nan))] if growth else []
        out += [(f"(({{a}} / {{b}}) ^ (1/{n}) - 1)", np.abs(np.power(ratio, 1.0 / n) - 1.0))
                for n in _exponents(compound)]
    if percent:
        out = [(f"{name} × 100", matrix * 100.0) for name, matrix in out]
    return out


def _multiplicative_for(claim: Quantity, values: np.ndarray, compound: bool | tuple[int, ...],
                        growth: bool = True) -> list[tuple[str, np.ndarray]]:
    """Ratios as a percentage for a '%' claim; as a plain ratio for a unitless one, and also as a
    percentage when it could be one written without the sign."""
    if claim.unit == "%":
        return _multiplicative(values, percent=True, compound=compound, growth=growth)
    plain = _multiplicative(values, percent=False, compound=compound, growth=growth)
    return (plain + _multiplicative(values, percent=True, compound=compound, growth=growth) if percent_like(claim)
            else plain)


def _first_hit(target: float, tol: float, matrix: np.ndarray, scales: tuple[float, ...]) -> np.ndarray | None:
    for scale in scales:
        hit = np.argwhere(np.abs(matrix * scale - target) <= tol)
        if hit.size:
            return hit[0]
    return None


# "0.8 percentage points", "1.2 pp": a change of a rate, never a ratio of two amounts.
_POINTS_RE = re.compile(r"\bpoints?\b|\bpp\b|\bbps\b", re.IGNORECASE)
RATE_DIFFERENCE_RE = re.compile(r"\bdifference\s+between\s+(?:the\s+|these\s+|those\s+)?(?:two\s+)?"
                                 r"(?:percentages|rates|margins|ratios)\b", re.IGNORECASE)


def _codes(keys: list) -> np.ndarray:
    """(n,) int codes, equal for equal keys; -1 for None (unknown)."""
    table: dict = {}
    return np.array([-1 if k is None else table.setdefault(k, len(table)) for k in keys], dtype=np.int64)


def _differ(codes: np.ndarray) -> np.ndarray:
    """(n, n) bool: both codes known and different."""
    known = codes >= 0
    return known[:, None] & known[None, :] & (codes[:, None] != codes[None, :])


def _pair_masks(n: int, groups: list | None, docs: list | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(n, n) bool masks of `derive_pair`'s operand pairs: allowed at all (two figures, one filing),
    across two known columns, and across both another row and another column."""
    allowed = ~np.eye(n, dtype=bool)
    cross = np.zeros((n, n), dtype=bool)
    skew = np.zeros((n, n), dtype=bool)
    if groups is not None:
        column = _codes([g[:3] if g is not None else None for g in groups])
        row = _codes([(g[0], g[1], g[3]) if g is not None and len(g) > 3 else None for g in groups])
        cross = _differ(column)
        # Figures of another row and another column are related by nothing a table states: a
        # growth is one row over periods, a share or a sum is rows of one period.
        skew = cross & _differ(row)
    if docs is not None:
        allowed &= ~_differ(_codes(docs))
    return allowed, cross, skew


def derive_pair(claim: Quantity, operands: list[float], tol: Tolerances, *, additive: bool = True,
                compound: bool | tuple[int, ...] = True, groups: list | None = None, growth: bool = True,
                averages: bool = True, signs: list[int] | None = None,
                compound_only: bool = False, docs: list[str | None] | None = None,
                change_only: bool = False, over: list[bool] | None = None,
                rising: bool | None = None, points: bool = False) -> Derivation | None:
    """A pairwise expression of `operands` equal to the claim figure, or None. `compound_only`: only
    compound growth (the claim names a compound rate, `COMPOUND_RATE_RE`).

    `compound=False` leaves out compound growth ((a / b) ^ (1/n) - 1): four exponents per pair
    quadruple the chance that a wrong percentage matches some pair, so the caller enables it only
    when the claim or question speaks of compound or annualised growth (CAGR), and passes the
    spans it states (`compound_years`) as a tuple of exponents.

    `change_only`: the claim figure states a change ("up 43%", "down 47%"): a growth or a decline,
    never the plain ratio of two figures (one figure 43% of another is no 43% rise). `points`: a
    difference of two rates ("the difference between these two percentages"): a subtraction only.

    `over` (one flag per operand): the figures a share may be taken over ("39% of total revenues" is a
    figure over a revenue row, not over any figure of the page).

    `growth=False` (the claim and question do not speak of change) leaves out growth over the
    smaller figure, (a - b) / b: "41% of revenues" is not two figures 41% apart. `averages=False`
    leaves out the mean of two figures (the claim says no "average" of its own: "lower than" is a
    comparison, not an instruction to average).

    With `groups` (one key or None per operand: the table column it is in, `rewards.premises.
    column_key`, and its row, `cell_key`), a plain ratio a / b, and without `growth` a share's
    complement (b - a) / b, is never taken across two different known columns: a share is of the
    same period's total, while a growth rate or an average spans periods by construction. No
    expression pairs two figures of different rows and different columns.

    With `docs` (the document of each operand, or None), two figures of different filings are never
    combined: a tax benefit in one company's 10-K plus a cash outflow in another's is no figure of either.

    With `signs` (-1, +1 or 0 per operand: the sign it has in its source), two figures of opposite
    sign are never added: the sum of a cash outflow's magnitude and a positive amount reverses the
    outflow (their signed sum is the difference, which stays a candidate).

    `rising`: the direction of the change the claim figure states, where it says one (None: it does
    not). A percentage change is (later - earlier) / earlier, so a rise is the growth form over the
    smaller figure and a decline ("-25%") the difference over the larger one: "-25%" is never
    (5 - 4) / 4, which is a 25% rise."""
    if len(operands) < 2:
        return None
    values = np.abs(np.asarray(operands, dtype=np.float64))
    n = len(values)
    allowed, cross, skew = _pair_masks(n, groups, docs)
    families: list[tuple[str, np.ndarray, float, tuple[float, ...]]] = []
    if additive:
        scales = (1.0,) if claim.unit == "%" else SOURCE_SCALES
        families += [(name, m, tol.additive, scales) for name, m in _additive(values)
                     if averages or not name.endswith("/ 2")]
    if not is_amount(claim) and not points and not _POINTS_RE.search(claim.text):  # points: a difference of rates
        families += [(name, m, tol.multiplicative, (1.0,))
                     for name, m in _multiplicative_for(claim, values, compound, growth)]
    if signs is not None:
        signed = np.asarray(signs, dtype=np.float64)
        opposite = signed[:, None] * signed[None, :] < 0
        families = [(name, np.where(opposite, np.nan, m) if "+" in name else m, tolerance, scales)
                    for name, m, tolerance, scales in families]
    if compound_only:
        families = [family for family in families if "^" in family[0]]
    # A change is no plain ratio; a rise is no decline over the larger figure, a decline no growth over the smaller.
    dropped = ("{a} / {b}",) * change_only + (() if rising is None else ("({b} - {a}) / {b}",) if rising
                                              else ("({a} - {b}) / {b}",))
    families = [family for family in families if not family[0].startswith(dropped)]
    wholes = np.ones((n, n), dtype=bool) if over is None else np.asarray(over, dtype=bool)[None, :]
    for name, matrix, tolerance, scales in families:
        # Without change words a difference over a figure is a share's complement, within one column.
        within_column = name.startswith("{a} / {b}") or (not growth and name.startswith("({b} - {a}) / {b}"))
        share = name.startswith(("{a} / {b}", "({b} - {a}) / {b}"))
        masked = np.where((allowed & ~cross if within_column else allowed & ~skew) & (wholes if share else True),
                          matrix, np.nan)
        hit = _first_hit(claim.magnitude, tolerance, masked, scales)
        if hit is not None:
            i, j = int(hit[0]), int(hit[1])
            return Derivation(name.format(a=format_operand(values[i]), b=format_operand(values[j])), (i, j),
                              float(masked[i, j]))
    return None


def derive_triple(claim: Quantity, operands: list[float], tol: Tolerances) -> Derivation | None:
    """A sum or average of three of `operands` equal to the claim figure, or None."""
    values = [abs(v) for v in operands[:MAX_TRIPLE_OPERANDS]]
    if len(values) < 3:
        return None
    triples = np.array(list(combinations(range(len(values)), 3)))
    picked = np.asarray(values)[triples]
    comparable = picked.min(axis=1) >= MIN_ADDITIVE_RATIO * picked.max(axis=1)
    sums = np.where(comparable, picked.sum(axis=1), np.nan)
    scales = (1.0,) if claim.unit == "%" else SOURCE_SCALES
    for name, result in (("{a} + {b} + {c}", sums), ("({a} + {b} + {c}) / 3", sums / 3.0)):
        hit = _first_hit(claim.magnitude, tol.additive, result[:, None], scales)
        if hit is not None:
            idx = tuple(int(k) for k in triples[int(hit[0])])
            text = name.format(**{k: format_operand(values[i]) for k, i in zip("abc", idx, strict=True)})
            return Derivation(text, idx, float(result[int(hit[0])]))
    return None


def derive_step(claim: Quantity, operands: list[float], tol: Tolerances, *,
                compound: bool | tuple[int, ...] = True) -> Derivation | None:
    """One step of a worked computation applied to one operand: ± 1 (growth factor and rate),
    × or ÷ 100 (rate and percent), × or ÷ 365 (days), a root (compound growth)."""
    for i, a in enumerate(abs(v) for v in operands):
        # ± 1 turns a growth factor into a rate and back; only meaningful for small factors.
        steps = [(f"{format_operand(a)} - 1", abs(a - 1.0)), (f"{format_operand(a)} + 1", a + 1.0)] if a < 10 else []
        steps += [(f"{format_operand(a)} × {k}", a * k) for k in (100.0, 365.0)]
        steps += [(f"{format_operand(a)} / {k}", a / k) for k in (100.0, 365.0)]
        steps += [(f"{format_operand(a)} ^ (1/{n})", a ** (1.0 / n)) for n in _exponents(compound)]
        for text, value in steps:
            if abs(value - claim.magnitude) <= tol.multiplicative:
                return Derivation(text, (i,), value)
    return None


# A share a figure states of revenue: "39% of total revenues", "46% of Boeing's revenue", "1% of net sales".
_OF_REVENUE_RE = re.compile(r"\s*of\s+(?:(?:the|its|their|total|net|consolidated|overall|[\w&.-]+['’]s)\s+){0,3}"
                            r"(?:revenues?|net\s+sales|sales)\b", re.IGNORECASE)


def derive_figure(q: Quantity, answer_operands: list[float], aligned: list[tuple],
                  tol: Tolerances, *, compound: bool | tuple[int, ...] = True, combines: bool = True,
                  growth: bool = True, averages: bool = True, signs: dict[float, int] | None = None,
                  claim_text: str = "", rising: bool | None = None) -> Derivation | None:
    """A derivation of `q`: from the figures of the evidence windows aligned with the claim
    (`aligned`: (value, cell key[, document]) tuples, never two documents' figures together; sums,
    differences and averages only when the claim says it combines figures: "net PP&E is $6,322
    million" is not the sum of two unrelated rows), or from the answer's own figures (pairs, triples,
    one step). Never from an arbitrary figure of the pages: one answer figure over any of a page's
    hundreds of figures matches a one-decimal percentage by chance.
    Growth over the smaller figure only with `growth`; `signs`: each answer figure's sign in its source;
    `rising`: the direction of the change the figure states, where known (`derive_pair`)."""
    answer = [v for v in answer_operands if v]
    # A rate the claim names as compound (CAGR 4.5%) is compounded, nothing else; its working's factors are not.
    rate = bool(compound) and q.unit == "%" and bool(COMPOUND_RATE_RE.search(claim_text))
    # Two figures of different columns of a table (another period) are not a ratio or a sum.
    columns = {}
    for value, key, *doc in aligned:
        if value:
            columns.setdefault(value, (key, doc[0] if doc else None))
    window, groups, docs = list(columns), [key for key, _ in columns.values()], [doc for _, doc in columns.values()]
    over = [key is not None and len(key) > 3 and bool(REVENUE_LABEL_RE.match(key[3])) for key in groups]
    amounts_only = q.unit == "%"  # percentage points come from percentages, not from amounts
    change = q.unit == "%" and states_change(q, claim_text)  # "up 43%": a growth, not a ratio
    points = q.unit == "%" and bool(RATE_DIFFERENCE_RE.search(claim_text))
    # "39% of total revenues": a share over a revenue row of the evidence, not over any of its figures
    of_revenue = q.unit == "%" and bool(_OF_REVENUE_RE.match(claim_text[q.end:]))
    # Evidence first: a figure derivable from the aligned source rows is explained by them (the
    # reason an auditor reads), not by a coincidence among the answer's own numbers.
    return (
        derive_pair(q, window, tol, additive=combines and not amounts_only, compound=compound, groups=groups,
                    growth=growth, averages=averages, compound_only=rate, docs=docs, change_only=change,
                    over=over if of_revenue else None, rising=rising, points=points)
        or derive_pair(q, answer, tol, compound=compound, growth=growth,
                       signs=[(signs or {}).get(v, 0) for v in answer], compound_only=rate, change_only=change,
                       rising=rising, points=points)
        or (None if rate else derive_triple(q, answer, tol))
        or derive_step(q, answer, tol, compound=compound)
    )


def format_operand(value: float) -> str:
    return f"{value:,.0f}" if value == int(value) and abs(value) >= 1000 else f"{value:g}"


# -- worked formulas ---------------------------------------------------------------------------
#
# An answer often shows its arithmetic: "(3.1% + 2.3% + 3.1%) / 3 = 2.8%", "0.20 * 66,608 =
# $13,321.6 million". Such an equality can be evaluated: when it does not compute, the claim states
# an arithmetic error (whatever figures of the sources it quotes), and when it does and its terms
# are established, its result needs no other derivation.

_EQUALS_RE = re.compile(r"\s*(?:=|≈|~=)\s*")
# Words in parentheses that label a term ("$2,749 million (current)", "23% (FY2022)").
_TERM_LABEL_RE = re.compile(r"\((?:[^()\d]|(?:FY\s?'?)?(?:19|20)\d{2}\b)*\)", re.IGNORECASE)
_OPERATORS_ONLY_RE = re.compile(r"^[\s()\[\]+\-−–*/×÷^x]*$")
FORMULA_TOLERANCE = 0.01  # relative slack for intermediate rounding in a shown computation
_BINARY = {ast.Add: lambda a, b: a + b, ast.Sub: lambda a, b: a - b, ast.Mult: lambda a, b: a * b,
           ast.Div: lambda a, b: a / b, ast.Pow: lambda a, b: a ** b}


@dataclass(frozen=True)
class Equality:
    """`terms` (figures of the left side, in order) evaluate to `value`; `result` is the figure
    written on the right side. `computes` says whether the two agree."""

    terms: tuple[Quantity, ...]
    result: Quantity
    value: float
    computes: bool


_COPULA_RE = re.compile(r"\b(?:is|was|were|are|be|equals)\s", re.IGNORECASE)


def _pure_expression(plain: str, start: int, end: int, *, lead_in: bool = False) -> tuple[str, list[Quantity]] | None:
    """The segment plain[start:end] (after its last colon, and with `lead_in` after its last
    copula: "For 2020, it would be (a - b) / c") as a Python arithmetic expression over its
    figures (named q0, q1, ...; their offsets are in `plain`), or None when it holds words: only
    figures, operators and parentheses make a formula."""
    copulas = [m.end() for m in _COPULA_RE.finditer(plain, start, end)] if lead_in else []
    start = max(start, plain.rfind(":", start, end) + 1, *copulas)
    # Blank out term labels keeping offsets.
    text = " " * start + _TERM_LABEL_RE.sub(lambda m: " " * len(m.group(0)), plain[start:end])
    figures = extract_quantities(text)
    if not figures:
        return None
    parts, last = [], 0
    for i, q in enumerate(figures):
        gap = text[last : q.start] if i else text[start : q.start]
        if not _OPERATORS_ONLY_RE.match(gap):
            return None
        # A figure's text may hold the formula's own brackets ("(3.1%", "(1.00896)"): brackets
        # are grouping here, not the accounting negative.
        opened = "(" * q.text.count("(")
        closed = ")" * q.text.count(")")
        sign = "-" if q.text.lstrip("(")[:1] in "-−–" else ""
        parts += [gap, f"{opened}{sign}q{i}{closed}"]
        last = q.end
    if not _OPERATORS_ONLY_RE.match(text[last:].rstrip(".;, ")):
        return None
    expression = "".join(parts) + text[last:].rstrip(".;, ")
    expression = re.sub(r"(?<=[\s)\d])x(?=[\s(q])", "*", expression)
    for old, new in (("×", "*"), ("÷", "/"), ("^", "**"), ("−", "-"), ("–", "-"), ("[", "("), ("]", ")")):
        expression = expression.replace(old, new)
    return expression, figures


def _evaluate(expression: str, values: list[float]) -> float | None:
    """Evaluate an arithmetic expression of named figures (+ - * / ** and parentheses only)."""
    try:
        tree = ast.parse(expression.strip(), mode="eval")
    except SyntaxError:
        return None

    def walk(node):
        if isinstance(node, ast.Expression):
            return walk(node.body)
        if isinstance(node, ast.Name) and re.fullmatch(r"q\d+", node.id):
            return values[int(node.id[1:])]
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            inner = walk(node.operand)
            return -inner if isinstance(node.op, ast.USub) else inner
        if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Pow)):
            left, right = walk(node.left), walk(node.right)
            if isinstance(node.op, ast.Pow) and (abs(right) > 10 or left < 0):
                raise ValueError("not a compounding step")
            return _BINARY[type(node.op)](left, right)
        raise ValueError("not arithmetic")

    try:
        value = walk(tree)
    except (ValueError, ZeroDivisionError, OverflowError, IndexError):
        return None
    return float(value) if isinstance(value, (int, float)) and math.isfinite(value) else None


def _agrees_with_result(value: float, result: Quantity) -> bool:
    """Whether an evaluated expression equals the written result: figures as written (a percentage
    as its number, scale words ignored) or in base units, and a ratio written as a percentage."""
    written = abs(result.value) / result.scale
    tol = max(2 * 0.5 * 10.0 ** (-result.decimals), FORMULA_TOLERANCE * written)
    for candidate in (value, value * 100.0, value / 100.0):
        if abs(abs(candidate) - written) <= tol:
            return True
    return False


def _chain_step(left: tuple[str, list[Quantity]], right: tuple[str, list[Quantity]]) -> list[Equality]:
    """Two formulas of a chain, equal when they evaluate alike (figures as written); no result
    figure (the chain's last figure is the result of the next step)."""
    values = [_evaluate(expression, [abs(q.value) / q.scale for q in figures]) for expression, figures in (left, right)]
    if None in values:
        return []
    computes = abs(abs(values[0]) - abs(values[1])) <= FORMULA_TOLERANCE * max(abs(values[1]), 1e-9) + 0.01
    return [] if computes else [Equality(tuple(left[1]), right[1][0], values[0], False)]


def equalities(plain: str) -> list[Equality]:
    """The worked equalities of a claim whose left side is a pure formula of figures and whose
    right side starts with a figure: "(a + b) / 2 = c", chains "x = a * b = c" pairwise."""
    bounds = [0] + [x for m in _EQUALS_RE.finditer(plain) for x in m.span()] + [len(plain)]
    spans = list(zip(bounds[::2], bounds[1::2], strict=True))
    found = []
    for (left_start, left_end), (right_start, right_end) in zip(spans, spans[1:], strict=False):
        parsed = _pure_expression(plain, left_start, left_end, lead_in=True)
        right = " " * right_start + plain[right_start:right_end]
        chained = _pure_expression(plain, right_start, right_end)
        if parsed is not None and chained is not None and len(chained[1]) > 1:
            # "(a + b + c) / 3 = 30.85% / 3 = 10.28%": a step of a chain, compared by value.
            found += _chain_step(parsed, chained)
            continue
        results = extract_quantities(right)
        if parsed is None or not results or right[right_start : results[0].start].strip(" $(") != "":
            continue
        expression, figures = parsed
        if len(figures) < 2 and not re.search(r"[*/^×÷]", expression):
            continue  # "Revenue: $5 = $5" restates, it does not compute
        result = results[0]
        written = _evaluate(expression, [abs(q.value) / q.scale for q in figures])
        base = _evaluate(expression, [abs(q.value) for q in figures])
        computes = (written is not None and _agrees_with_result(written, result)) or (
            base is not None
            and abs(abs(base) - result.magnitude) <= max(2 * result.half_unit, FORMULA_TOLERANCE * result.magnitude))
        value = written if written is not None else base
        if value is None:
            continue
        found.append(Equality(tuple(figures), result, value, computes))
    return found


def ratio_of(q: Quantity, parts: list[float], wholes: list[float], tol: float) -> tuple[float, float] | None:
    """A part over a whole (as a percentage for a percentage claim) equal to `q`."""
    scale = 100.0 if q.unit == "%" or q.magnitude >= 1 else 1.0
    for part in parts:
        for whole in wholes:
            if 0 < part < whole and abs(part / whole * scale - q.magnitude) <= tol:
                return part, whole
    return None


# A worked computation: "=", "≈", "^", or an operator between figures.
WORKED_RE = re.compile(r"[=≈^]|\s[/×*÷+]\s|[\d)]\s*[-−–]\s*[$(\d]")
_OPERATOR_BEFORE_RE = re.compile(r"(?:[+*/×÷=≈]|[\d)]\s*[-−–]|\bx)\s*[$(\[]*\s*$")
_OPERATOR_AFTER_RE = re.compile(r"^\s*[)\]]*\s*(?:[+*/×÷=≈^\-−–]|x\s)")
_BINARY_MINUS_RE = re.compile(r"[\w)]\s*$")
_RESULT_BEFORE_RE = re.compile(r"[=≈]\s*[$(\[]*\s*$")


def is_operand(q: Quantity, plain: str) -> bool:
    """A figure next to an arithmetic operator: a term of a worked formula ("($2,667 + $2,721) / 2",
    "$19,815 million - $13,997 million", where the minus is read into the figure's sign). A figure
    after "=" whose left side is only words is not one: "Total revenue for FY2020 = $54,928 million"
    states what the figure is, as "was" would."""
    before, after = plain[: q.start], plain[q.end :]
    if q.text[:1] in "-−–" and _BINARY_MINUS_RE.search(before):
        return True
    if _OPERATOR_AFTER_RE.match(after):
        return True
    operator = _OPERATOR_BEFORE_RE.search(before)
    return bool(operator) and not _assigned(before[: operator.start() + 1])


_CLAUSE_RE = re.compile(r"[=≈:;]|\.\s")


def _assigned(before: str) -> bool:
    """Whether `before` ends in "=" (or "≈") whose left side, back to the previous "=", ":", ";" or
    sentence end, has no figure or operator: a label, not an expression."""
    if not before or before[-1] not in "=≈":
        return False
    left = _PERIOD_WORD_RE.sub(" ", _CLAUSE_RE.split(before[:-1])[-1])  # "FY2020", "Q2 2023" label a period
    return bool(re.search(r"[A-Za-z]{2,}", left)) and not re.search(r"[\d+*/×÷^]", left)


_PERIOD_WORD_RE = re.compile(r"\b(?:FY\s?'?)?(?:19|20)\d{2}\b|\bQ[1-4]\b", re.I)


def is_result(q: Quantity, plain: str) -> bool:
    """The result of a worked formula ("... / $66,608 = 5.26%"): right after "=" or "≈" with no
    operator after it (not an intermediate step "= $3,530 million / $66,608 million")."""
    return bool(_RESULT_BEFORE_RE.search(plain[: q.start])) and not _OPERATOR_AFTER_RE.match(plain[q.end :])


# "increased to $58.3 million", "fell from $47.9 million to $38.2 million": the figure after "to" or
# "from" of a change is a level (the new or the old value), not the amount of a change.
_LEVEL_BEFORE_RE = re.compile(
    r"\b(?:increas|decreas|rose|risen|fell|fallen|grew|grown|declin|dropp?|climb|jump|improv|expand|contract|"
    r"reduc|went|moved|changed)\w*\s+(?:\S+\s+){0,4}?(?:to|from)\s+(?:a\s+|an\s+|the\s+)?[$(\[]*\s*$",
    re.IGNORECASE)


def is_level(q: Quantity, plain: str) -> bool:
    """A figure a change names as its new or old value ("increased to $58.3 million"): a level read
    off the sources, never a sum or difference of two other figures of the page."""
    return bool(_LEVEL_BEFORE_RE.search(plain[max(0, q.start - 80): q.start]))



# A change word right before a figure ("increased by 2.7 points", "a decrease of 3%") or after it ("a
# 2.7 percentage point increase"); "compared to 14.4%", "versus 20%" or "from 20%" name a level, and
# "make up 46%" a share.
_CHANGE_BEFORE_RE = re.compile(rf"(?<!make )(?<!makes )(?<!made )(?<!making )\b(?:{CHANGE_STEMS})"
                               r"\w*\s+(?:by\s+|of\s+)?(?:about\s+|approximately\s+|nearly\s+)?[$(]*\s*$",
                               re.IGNORECASE)
_CHANGE_AFTER_RE = re.compile(r"\s*(?:percentage\s+points?\s+|points?\s+|pp\s+)?(?:increase|decrease|rise|drop|decline"
                              r"|change|higher|lower|up|down)\b", re.IGNORECASE)


def states_change(q: Quantity, plain: str) -> bool:
    """Whether `q` states how much something changed rather than a level of it: "Boeing's effective tax
    rate was (3.5%) compared to 14.4%" states two levels though the claim compares them."""
    before, after = plain[max(0, q.start - 40): q.start], plain[q.end: q.end + 30]
    return not is_level(q, plain) and bool(_CHANGE_BEFORE_RE.search(before) or _CHANGE_AFTER_RE.match(after))
