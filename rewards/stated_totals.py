"""A total the answer sums itself must be the total the filing states.

"Current liabilities total: $1,175 + $281 + $254 + $706 + $49 + $91 = $2,556 million" adds up, and
each term is a line of the balance sheet, yet the balance sheet's "Total current liabilities" for
that year is 2,811: the answer left lines out. When a claim labels a worked sum as a total of a
measure and a source row "Total <measure>" states that total for the year the claim (or its
question) names, the sum must agree with it. A reading convention of financial statements (a
"Total" line is the filer's own sum of the lines above it), not fitted to any data set.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from rewards.arithmetic import Equality
from rewards.named_ratios import misread_operand
from rewards.numbers import agreeing
from rewards.periods import extract_periods
from rewards.premises import MODIFIERS, PreparedPage, measure_tokens, occurs

_TOTAL_RE = re.compile(r"\btotal\b", re.IGNORECASE)
_PARENTHESES_RE = re.compile(r"\([^()]*\)")  # "(short-term debt)": a term's label, not an operator


def _year(*texts: str) -> int | None:
    """The one year the first text that names years names, else None."""
    for text in texts:
        years = {p.year for p in extract_periods(text) if p.year}
        if years:
            return years.pop() if len(years) == 1 else None
    return None


def _is_sum(plain: str, equality: Equality) -> bool:
    terms = equality.terms
    gaps = [_PARENTHESES_RE.sub(" ", plain[a.end:b.start]) for a, b in zip(terms, terms[1:], strict=False)]
    return len(terms) >= 2 and all("+" in gap and not re.search(r"[-−–*/×÷]", gap) for gap in gaps)


def contradicted_total(plain: str, question: str, worked: Sequence[Equality], pages: Sequence[PreparedPage],
                       rel_tolerance: float) -> str | None:
    """Why a worked sum the claim calls a total disagrees with the total row the sources state for
    the claimed year, or None (no such sum, no such row, no single year, or they agree)."""
    for equality in worked:
        if not equality.computes or not _is_sum(plain, equality):
            continue
        start = max(plain.rfind(". ", 0, equality.terms[0].start), plain.rfind(";", 0, equality.terms[0].start)) + 1
        label = plain[start:equality.terms[0].start]
        measure = measure_tokens(label)
        year = _year(label, question)
        if not _TOTAL_RE.search(label) or year is None or not [t for t in measure if t not in MODIFIERS]:
            continue
        for page in pages:
            rows = [i for i, (q, text) in enumerate(zip(page.quantities, page.labels, strict=True))
                    if q.unit != "%" and text.lstrip().startswith("total") and all(occurs(t, text) for t in measure)
                    and (column := page.columns.get(q.start)) is not None and column.year == year]
            if rows and not agreeing(equality.result, page.magnitudes[rows], rel_tolerance, page.scales,
                                     page.written_scales[rows]):
                row = page.quantities[rows[0]]
                return f"{equality.result.text.strip()} is not the {year} total the source states ({row.text.strip()})"
    return None


def worked_contradiction(plain: str, question: str, worked: Sequence[Equality], matches: Sequence,
                         pages: Sequence[PreparedPage], rel_tolerance: float = 0.001) -> str | None:
    """Why the claim's worked formula contradicts the sources although it computes: a named ratio
    over an operand of the wrong row (`rewards.named_ratios.misread_operand`), or a total that is not
    the filing's (`contradicted_total`); None when neither."""
    return (misread_operand(plain, question, worked, matches)
            or contradicted_total(plain, question, worked, pages, rel_tolerance))
