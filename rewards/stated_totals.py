"""A total the answer sums itself must be the total the filing states; revenue is the total line.

"Current liabilities total: $1,175 + $281 + $254 + $706 + $49 + $91 = $2,556 million" adds up, and
each term is a line of the balance sheet, yet the balance sheet's "Total current liabilities" for
that year is 2,811: the answer left lines out. When a claim labels a worked sum as a total of a
measure (or labels a sum of three or more lines with the measure alone: "Adding up the current
liabilities: …") and a source row "Total <measure>" states that total for the year the claim (or its
question) names, the sum must agree with it. A reading convention of financial statements (a
"Total" line is the filer's own sum of the lines above it), not fitted to any data set.

By the same convention an unqualified "revenue" ("net sales", "sales") is the statement's total
revenue line: "the change in revenue = (118,573 − 94,665) / 94,665" computed from the "Net product
sales" row is the growth of one component when the table also states "Total net sales"
(`component_operand`). A claim that qualifies the revenue ("product revenue", "AWS sales") is about
that component; a sum of the components is how the total is built and is left to the rule above.
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
_PART_RE = re.compile(r"\b(?:excluding|except|other\s+than|without|less|net\s+of|portion|part|some|subtotal)\b",
                      re.IGNORECASE)
_SUMMING_WORDS = frozenset({"adding", "summing", "combining", "calculating", "computing", "totaling", "totalling"})
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


def _label(plain: str, equality: Equality) -> str:
    """The words of the claim's sentence or clause before a worked formula's first term: what it computes."""
    first = equality.terms[0].start
    return plain[max(plain.rfind(". ", 0, first), plain.rfind(";", 0, first)) + 1 : first]


def contradicted_total(plain: str, question: str, worked: Sequence[Equality], pages: Sequence[PreparedPage],
                       rel_tolerance: float, heading: str = "") -> str | None:
    """Why a worked sum the claim calls a total disagrees with the total row the sources state for
    the claimed year, or None (no such sum, no such row, no single year, or they agree). A sum on its
    own line takes its label from the heading it is listed under (`Claim.heading`)."""
    for equality in worked:
        if not equality.computes or not _is_sum(plain, equality):
            continue
        label = _label(plain, equality)
        if not measure_tokens(label):
            label = heading
        measure = [t for t in measure_tokens(label) if t not in _SUMMING_WORDS]
        year = _year(label, question)
        # "Current liabilities total: …" or "Adding up the current liabilities: a + b + c = …": a sum of
        # three or more lines labelled only with the measure is its total too (unless it excludes some).
        total = _TOTAL_RE.search(label) or (len(equality.terms) >= 3 and not _PART_RE.search(label))
        if not total or year is None or not [t for t in measure if t not in MODIFIERS]:
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


_REVENUE_WORD_RE = re.compile(r"\b(?:revenues?|sales)\b", re.IGNORECASE)
_TOTAL_REVENUE_ROW_RE = re.compile(r"^\W*total\s*(?:net\s*)?(?:operating\s*)?(?:revenues?|sales)\b", re.IGNORECASE)
_TRAILING_FIGURES_RE = re.compile(r"[\s\d$(),.%—–-]+$")
# Words before "revenue" that do not make it a component: totals, articles, prepositions, periods.
_PLAIN_BEFORE = frozenset("""
total net operating consolidated company the its in of for and to from on at annual annualized quarterly
reported gaap overall group change growth increase decrease year yoy fy over by so thus therefore hence then
was were is are be been with whose which that this these those their our a an as than both all such what how
when where while if but or not no has have had
""".split())


def _qualifier(text: str) -> str | None:
    """The word that qualifies the first "revenue"/"sales" of `text` ("product" in "net product sales",
    "AWS" in "AWS sales"), or None for plain revenue ("total net sales", "change in revenue",
    "Amazon's revenue"); a possessive or a figure is not a qualifier."""
    m = _REVENUE_WORD_RE.search(text)
    if m is None:
        return None
    for word in reversed(re.findall(r"[\w&'’-]+", text[: m.start()])[-3:]):
        lowered = word.lower().strip("'’-")
        if lowered in _PLAIN_BEFORE or "-" in lowered and lowered.split("-")[-1] in _PLAIN_BEFORE \
                or any(c.isdigit() for c in lowered):
            continue  # "year-over-year", "FY2017", "Q2": the period, not a kind of revenue
        if lowered.endswith(("'s", "’s")):
            return None
        return word
    return None


def plain_revenue(text: str) -> bool:
    """Whether `text` speaks of revenue (sales) without naming a component of it."""
    return bool(_REVENUE_WORD_RE.search(text)) and _qualifier(text) is None


def component_row(m) -> str | None:
    """The row of a figure matched directly (`FigureMatch`) when it is a component revenue line
    ("Net product sales") of a table that also states total revenue, else None."""
    if m is None or m.page is None or m.source_quantity is None or m.derivation is not None:
        return None
    row = _TRAILING_FIGURES_RE.sub("", m.page.labels[m.page.quantities.index(m.source_quantity)].split("|")[0])
    if _qualifier(row) is None or not any(_TOTAL_REVENUE_ROW_RE.match(label) for label in m.page.labels):
        return None  # not a revenue row, the total (plain) one, or no total to prefer
    return row.strip()


def component_rows(pages: Sequence[PreparedPage]) -> set[tuple]:
    """(doc id, page, row) of every component revenue line on a page that states total revenue: the
    row part of `rewards.premises.cell_key`, to keep such figures out of plain revenue's operands."""
    out = set()
    for page in pages:
        if any(_TOTAL_REVENUE_ROW_RE.match(label) for label in page.labels):
            out.update((page.source.doc_id, page.source.page, row) for row in set(page.rows)
                       if _qualifier(row) is not None)  # `rows` are labels without their figures
    return out


def component_operand(plain: str, question: str, worked: Sequence[Equality], matches: Sequence) -> str | None:
    """Why a worked formula the claim labels as plain revenue (or, when its label names no measure,
    its question asks for: a formula on its own line) takes an operand from a component revenue row
    ("Net product sales") of a table that states the total ("Total net sales"), or None."""
    by_start = {m.quantity.start: m for m in matches if m is not None}
    for equality in worked:
        if not equality.computes or _is_sum(plain, equality):
            continue
        label = _label(plain, equality)
        if not plain_revenue(label if measure_tokens(label) else question):
            continue
        for term in equality.terms:
            if (row := component_row(by_start.get(term.start))) is not None:
                return f"{term.text.strip()} is '{row[:60]}', a part of revenue; the source states the total"
    return None


def worked_contradiction(plain: str, question: str, worked: Sequence[Equality], matches: Sequence,
                         pages: Sequence[PreparedPage], rel_tolerance: float = 0.001, heading: str = "") -> str | None:
    """Why the claim's worked formula contradicts the sources although it computes: a named ratio
    over an operand of the wrong row (`rewards.named_ratios.misread_operand`), a total that is not
    the filing's (`contradicted_total`), or plain revenue computed from a component line
    (`component_operand`); None when none of these."""
    return (misread_operand(plain, question, worked, matches)
            or contradicted_total(plain, question, worked, pages, rel_tolerance, heading)
            or component_operand(plain, question, worked, matches))
