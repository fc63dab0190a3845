"""Query routing: steer a question that names a company, form or fiscal period to the filings it is
about, using the metadata read from each filing itself (rag/metadata.py), never file names.

Routing is the main lever on retrieval quality: restricted to the right filing, hybrid search puts
the gold page in its top 5 far more often than over every filing (BENCHMARKS.md). Routing only
*narrows* when it is sure; the retriever fuses the routed lists with the unrouted ones (with a
weight set by the route's confidence), so a wrong route demotes rather than hides the right filing.

Rules (general finance conventions, nothing company-specific):
- company: the filing's company name, minus legal suffixes ("Inc.", "Corporation", ".com", ...),
  appears in the question as a phrase; or its first word appears capitalised mid-question
  ("Costco" for "Costco Wholesale"), or its ticker appears in upper case;
- fiscal period: the latest year the question names ("FY2015 - FY2017" -> 2017) picks the filing
  for that fiscal year; with no filing for it, the latest earlier one (a FY2022 10-K is where a
  FY2023 forecast lives);
- form: a question about a quarter ("Q2", "quarter", "10-Q") prefers quarterly reports, any other
  an annual report when both exist for the year.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from cai.core.contracts import Document

Confidence = Literal["none", "company", "period"]

_LEGAL_SUFFIXES = frozenset(
    "inc incorporated corp corporation co company companies ltd limited plc llc lp holdings "
    "group the com sa nv ag se".split()
)
_WORD_RE = re.compile(r"[A-Za-z0-9&]+")
_YEAR_RE = re.compile(
    r"\b(?:fy|fiscal(?:\s+year)?)\s*'?(?P<fy>(?:19|20)?\d{2})\b|\b(?P<year>(?:19|20)\d{2})\b",
    re.IGNORECASE,
)
_QUARTER_RE = re.compile(r"\bq[1-4]\b|\bquarter(?:ly)?\b|\b10-?q\b", re.IGNORECASE)
_ANNUAL_RE = re.compile(r"\b10-?k\b|\bannual report\b", re.IGNORECASE)


def company_key(name: str) -> tuple[str, ...]:
    """Lowercase words of a company name without legal suffixes: 'AMAZON.COM, INC.' -> ('amazon',)."""
    words = [w.lower() for w in _WORD_RE.findall(name)]
    key = tuple(w for w in words if w not in _LEGAL_SUFFIXES)
    return key or tuple(words)


def _query_words(query: str) -> list[str]:
    """Words of the query, possessive "'s" removed ("Amazon's" -> "Amazon"), case kept."""
    return _WORD_RE.findall(re.sub(r"['\u2019]s\b", "", query))


def _contains_phrase(words: list[str], phrase: tuple[str, ...]) -> bool:
    n = len(phrase)
    return n > 0 and any(tuple(words[i : i + n]) == phrase for i in range(len(words) - n + 1))


def names_company(query: str, doc: Document) -> bool:
    """Whether the query names the filing's company (phrase, capitalised first word, or ticker)."""
    meta = doc.metadata
    words = _query_words(query)
    lower = [w.lower() for w in words]
    if meta.ticker and meta.ticker.upper() in words:
        return True
    if not meta.company:
        return False
    key = company_key(meta.company)
    if _contains_phrase(lower, key):
        return True
    # A single distinctive first word ("Costco" of "Costco Wholesale"): only when capitalised and
    # not the question's first word, so "best" in "performed the best" is not Best Buy.
    first = key[0]
    return len(key) > 1 and len(first) >= 4 and any(
        w.lower() == first and w[0].isupper() for w in words[1:]
    )


def mentioned_years(query: str) -> list[int]:
    """Fiscal years the query names ("FY2017", "fiscal 2016", "FY 23", "2019"), ascending."""
    years = set()
    for m in _YEAR_RE.finditer(query):
        raw = m.group("fy") or m.group("year")
        years.add(int(raw) if len(raw) == 4 else 2000 + int(raw))
    return sorted(years)


def _form_kind(form: str | None) -> str | None:
    """'quarterly' | 'annual' | None for a filing's form label."""
    if not form:
        return None
    f = form.lower().replace(" ", "")
    if "10-q" in f or "10q" in f or "quarter" in f:
        return "quarterly"
    if "10-k" in f or "10k" in f or "annual" in f or "20-f" in f:
        return "annual"
    return None


@dataclass
class Route:
    """Which documents a query is about, and how sure the router is."""

    doc_ids: list[str] = field(default_factory=list)
    confidence: Confidence = "none"
    reason: str = "no company named"


def _pick_period(docs: list[Document], target: int, quarterly: bool | None) -> tuple[list[Document], bool]:
    """Docs for fiscal year `target` (or the latest earlier one); True when the year matched exactly."""
    dated = [d for d in docs if d.metadata.fiscal_year is not None]
    exact = [d for d in dated if d.metadata.fiscal_year == target]
    chosen = exact
    if not exact:
        earlier = [d.metadata.fiscal_year for d in dated if d.metadata.fiscal_year < target]
        chosen = [d for d in dated if earlier and d.metadata.fiscal_year == max(earlier)]
    if quarterly is not None and len(chosen) > 1:
        wanted = "quarterly" if quarterly else "annual"
        preferred = [d for d in chosen if _form_kind(d.metadata.form) == wanted]
        chosen = preferred or chosen
    return chosen, bool(exact)


def route_query(query: str, documents: list[Document]) -> Route:
    """Route `query` to the filings it names (see module docstring for the rules)."""
    named = [d for d in documents if names_company(query, d)]
    if not named:
        return Route()
    companies = sorted({d.metadata.company or "" for d in named})
    years = mentioned_years(query)
    quarterly: bool | None = None
    if _QUARTER_RE.search(query):
        quarterly = True
    elif _ANNUAL_RE.search(query) or years:
        quarterly = False
    if not years:
        docs = named
        if quarterly is not None:
            wanted = "quarterly" if quarterly else "annual"
            docs = [d for d in named if _form_kind(d.metadata.form) == wanted] or named
        return Route([d.doc_id for d in docs], "company", f"names {', '.join(companies)}")
    chosen, exact = _pick_period(named, years[-1], quarterly)
    if not chosen:
        return Route([d.doc_id for d in named], "company", f"names {', '.join(companies)}; no dated filing")
    confidence: Confidence = "period" if exact else "company"
    why = f"names {', '.join(companies)} and fiscal {years[-1]}" + ("" if exact else " (nearest earlier filing)")
    return Route([d.doc_id for d in chosen], confidence, why)
