"""Condensed consolidating schedules: only their Consolidated column is the company's figure.

SEC Regulation S-X Rule 3-10 lets a parent whose subsidiaries guarantee its debt file condensed
consolidating financial information: one table per statement with a column per legal entity
(Parent, Subsidiary Issuer, Guarantor and Non-Guarantor Subsidiaries), an Eliminations column and,
last, the Consolidated column. The entity columns are subsets of the company: "Kraft Heinz's
inventory" is the Consolidated 2,667, not the Issuer's 1,783, and no sum or difference of entity
columns stands for a company figure either. A claim that names an entity column ("the guarantor
subsidiaries' revenue") may read it.

Only tables written one row per line are read (PDF text of such a schedule usually is): there the
Consolidated figure ends its line and every figure followed by another cell on the line sits in an
entity or Eliminations column. A table written one cell per line is left alone (no veto).
"""

from __future__ import annotations

import re

from rewards.numbers import Quantity

_SCHEDULE_RE = re.compile(r"\bconsolidating\b", re.IGNORECASE)
# The column heading line(s): "Parent Guarantor Subsidiary Issuer Non-Guarantor Subsidiaries Eliminations Consolidated"
_HEADER_RE = re.compile(r"\beliminations?\b[^\n]*\bconsolidated\b|\bconsolidated\s+totals?\b", re.IGNORECASE)
_ENTITY_COLUMNS_RE = re.compile(
    r"\b(?:guarantors?|non-?guarantors?|issuers?|parent|eliminations?|subsidiar(?:y|ies))\b", re.IGNORECASE)
# The legal-entity columns that make a schedule consolidating (a segment table has Eliminations too).
_LEGAL_ENTITIES_RE = re.compile(r"\b(?:guarantors?|non-?guarantors?|issuers?|parent)\b", re.IGNORECASE)
_CELL_AFTER_RE = re.compile(r"[ \t]*(?:\$[ \t]*)?(?:\(?[\d,.]+\)?|[—–-])(?=[ \t]|$)")


def entity_column_figures(text: str, quantities: list[Quantity]) -> frozenset[int]:
    """Starts of the figures of `text` (its `quantities`) that sit in an entity or Eliminations column
    of a condensed consolidating schedule (below its column heading line): a figure followed on its
    line by another cell, a figure or a dash. Empty for a page that holds no such schedule."""
    if not _SCHEDULE_RE.search(text):
        return frozenset()
    header = _HEADER_RE.search(text)
    if header is None or not _LEGAL_ENTITIES_RE.search(text, max(0, header.start() - 200), header.end()):
        return frozenset()
    out = set()
    for q in quantities:
        if q.start < header.end():
            continue
        line_end = text.find("\n", q.end)
        rest = text[q.end: len(text) if line_end < 0 else line_end]
        if rest.strip() and _CELL_AFTER_RE.match(rest):
            out.add(q.start)
    return frozenset(out)


def names_entity_column(text: str) -> bool:
    """Whether a claim names an entity column of such a schedule (the parent, an issuer, the
    guarantor or non-guarantor subsidiaries, the eliminations): then it may read that column."""
    return bool(_ENTITY_COLUMNS_RE.search(text))
