"""Numbers derived from evidence figures by simple arithmetic.

A financial answer often states a computed figure: a year-over-year change, a margin, an average
of two balances, a sum of segments. Such a figure is supported when it equals a simple expression
of evidence figures (within the claim's stated rounding), even though it is written nowhere.

Operation families, chosen by the claim figure's unit:
* additive (a + b, |a - b|, (a + b) / 2; three-term sums and averages over the answer's own
  figures): for amounts, and for percentages only from percentage operands (percentage points);
* multiplicative (a / b, (a - b) / b, compound growth ((a / b) ^ (1/n) - 1) where the text speaks
  of compound growth, each ×100 for a percentage): only for percentages and unitless ratios, never
  for a dollar amount;
* one-step (a ± 1, a × or ÷ 100, a × or ÷ 365, a ^ (1/n)): the steps of a worked computation,
  applied to figures the answer has already established.

Why the search is kept narrow: with n operands there are ~10n² candidate values, and a claim figure
that is wrong by chance lands within rounding of one of them with a probability that grows with n².
So additive results must come from operands of comparable size (the smaller at least 1% of the
larger: "x + 100" is not a sum an answer means), additive results are matched at the claim's own
rounding only (sums of exact figures are exact), and the caller passes small operand sets: the
answer's figures, the figures of the evidence windows aligned with the claim, and pairs anchored on
a figure the claim already matched.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations

import numpy as np

from rewards.numbers import SOURCE_SCALES, Quantity

# Largest operand set for the three-term search (C(18, 3) = 816 combinations).
MAX_TRIPLE_OPERANDS = 18
# Additive operands must be of comparable size: the smaller at least this fraction of the larger.
MIN_ADDITIVE_RATIO = 0.01
COMPOUND_YEARS = range(2, 6)


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
    return claim.unit == "$" or claim.scaled_in_text or (claim.unit == "" and claim.decimals == 0 and claim.magnitude >= 1000)


def _additive(values: np.ndarray) -> list[tuple[str, np.ndarray]]:
    a, b = values[:, None], values[None, :]
    comparable = np.minimum(a, b) >= MIN_ADDITIVE_RATIO * np.maximum(a, b)
    return [
        ("{a} + {b}", np.where(comparable, a + b, np.nan)),
        ("{a} - {b}", np.where(comparable, np.abs(a - b), np.nan)),
        ("({a} + {b}) / 2", np.where(comparable, (a + b) / 2.0, np.nan)),
    ]


def _multiplicative(values: np.ndarray, percent: bool, compound: bool) -> list[tuple[str, np.ndarray]]:
    a, b = values[:, None], values[None, :]
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(b != 0, a / b, np.nan)
        growth = np.abs(ratio - 1.0)
        out = [("{a} / {b}", ratio), ("({a} - {b}) / {b}", growth)]
        out += [] if not compound else [(f"(({{a}} / {{b}}) ^ (1/{n}) - 1)", np.abs(np.power(ratio, 1.0 / n) - 1.0)) for n in COMPOUND_YEARS]
    if percent:
        out = [(f"{name} × 100", matrix * 100.0) for name, matrix in out]
    return out


def _multiplicative_for(claim: Quantity, values: np.ndarray, compound: bool) -> list[tuple[str, np.ndarray]]:
    """Ratios as a percentage for a '%' claim; as a plain ratio for a unitless one, and also as a
    percentage when it could be one written without the sign."""
    if claim.unit == "%":
        return _multiplicative(values, percent=True, compound=compound)
    plain = _multiplicative(values, percent=False, compound=compound)
    return plain + _multiplicative(values, percent=True, compound=compound) if percent_like(claim) else plain


def _first_hit(target: float, tol: float, matrix: np.ndarray, scales: tuple[float, ...]) -> np.ndarray | None:
    for scale in scales:
        hit = np.argwhere(np.abs(matrix * scale - target) <= tol)
        if hit.size:
            return hit[0]
    return None


def derive_pair(claim: Quantity, operands: list[float], tol: Tolerances, *, additive: bool = True,
                anchors: int | None = None, compound: bool = True) -> Derivation | None:
    """A pairwise expression of `operands` equal to the claim figure, or None.

    `compound=False` leaves out compound growth ((a / b) ^ (1/n) - 1): four exponents per pair
    quadruple the chance that a wrong percentage matches some pair, so the caller enables it only
    when the claim or question speaks of compound or annualised growth (CAGR).

    With `anchors=k`, only pairs that use at least one of the first k operands are searched (a
    figure the claim already matched, combined with any evidence figure): n·k candidates, not n²."""
    if len(operands) < 2:
        return None
    values = np.abs(np.asarray(operands, dtype=np.float64))
    n = len(values)
    allowed = ~np.eye(n, dtype=bool)
    if anchors is not None:
        anchored = np.arange(n) < anchors
        allowed &= anchored[:, None] | anchored[None, :]
    families: list[tuple[str, np.ndarray, float, tuple[float, ...]]] = []
    if additive:
        scales = (1.0,) if claim.unit == "%" else SOURCE_SCALES
        families += [(name, m, tol.additive, scales) for name, m in _additive(values)]
    if not is_amount(claim):
        families += [(name, m, tol.multiplicative, (1.0,)) for name, m in _multiplicative_for(claim, values, compound)]
    for name, matrix, tolerance, scales in families:
        masked = np.where(allowed, matrix, np.nan)
        hit = _first_hit(claim.magnitude, tolerance, masked, scales)
        if hit is not None:
            i, j = int(hit[0]), int(hit[1])
            return Derivation(name.format(a=_fmt(values[i]), b=_fmt(values[j])), (i, j), float(masked[i, j]))
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
            text = name.format(**{k: _fmt(values[i]) for k, i in zip("abc", idx, strict=True)})
            return Derivation(text, idx, float(result[int(hit[0])]))
    return None


def derive_step(claim: Quantity, operands: list[float], tol: Tolerances, *, compound: bool = True) -> Derivation | None:
    """One step of a worked computation applied to one operand: ± 1 (growth factor and rate),
    × or ÷ 100 (rate and percent), × or ÷ 365 (days), a root (compound growth)."""
    for i, a in enumerate(abs(v) for v in operands):
        # ± 1 turns a growth factor into a rate and back; only meaningful for small factors.
        steps = [(f"{_fmt(a)} - 1", abs(a - 1.0)), (f"{_fmt(a)} + 1", a + 1.0)] if a < 10 else []
        steps += [(f"{_fmt(a)} × {k}", a * k) for k in (100.0, 365.0)]
        steps += [(f"{_fmt(a)} / {k}", a / k) for k in (100.0, 365.0)]
        steps += [(f"{_fmt(a)} ^ (1/{n})", a ** (1.0 / n)) for n in COMPOUND_YEARS] if compound else []
        for text, value in steps:
            if abs(value - claim.magnitude) <= tol.multiplicative:
                return Derivation(text, (i,), value)
    return None


def _fmt(value: float) -> str:
    return f"{value:,.0f}" if value == int(value) and abs(value) >= 1000 else f"{value:g}"
