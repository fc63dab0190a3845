"""Query routing: steer a question that names a company, form or fiscal period to the filings it is
about, using the metadata read from each filing itself (rag/metadata.py), never file names.

Routing is the main lever on retrieval quality: restricted to the right filing, hybrid search puts
the gold page in its top 5 far more often than over every filing (BENCHMARKS.md). Routing only
*narrows* when it is sure; the retriever fuses the routed lists with the unrouted ones (with a
weight set by the route's confidence), so a wrong route demotes rather than hides the right filing.

Rules (general finance conventions, nothing company-specific):
- company: the question uses one of the names the filer goes by (rag/names.py): its registered
  name minus legal suffixes as a phrase, its short name ("Costco" for "Costco Wholesale"), its
  initialism ("AMD"), its ticker or trading symbol in capitals, or the name the filing defines
  for itself ("(“Boeing” or the “Company”)"); the route records which name matched;
- fiscal period: the latest year the question names ("FY2015 - FY2017" -> 2017) picks the filing
  for that fiscal year; with no filing for it, the latest earlier one (a FY2022 10-K is where a
  FY2023 forecast lives);
- form: a question about a quarter ("Q2", "quarter", "10-Q") prefers quarterly reports, any other
  an annual report when both exist for the year;
- no period named: the latest annual report (the present, and the years before it) and the filings
  that are no periodic report (a current report, a presentation), unless the question is about a
  quarter; a filer with no dated annual report keeps all its filings.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from cai.core.contracts import Document
from rag.names import FilerName, company_key, matching_name, metadata_names

__all__ = ["Route", "company_key", "filer_names", "mentioned_years", "name_used", "names_company", "route_query"]

Confidence = Literal["none", "company", "period"]

_YEAR_RE = re.compile(
    r"\b(?:fy|fiscal(?:\s+year)?)\s*'?(?P<fy>(?:19|20)?\d{2})\b|\b(?P<year>(?:19|20)\d{2})\b",
    re.IGNORECASE,
)
_QUARTER_RE = re.compile(r"\bq[1-4]\b|\bquarter(?:ly)?\b|\b10-?q\b", re.IGNORECASE)
_ANNUAL_RE = re.compile(r"\b10-?k\b|\bannual report\b", re.IGNORECASE)
NamesByDoc = Mapping[str, Sequence[FilerName]]


_SPECIFIC_FIRST = ("company name", "defined name", "trading symbol", "ticker", "initialism", "short name")


def filer_names(doc: Document, text_names: NamesByDoc | None = None) -> list[FilerName]:
    """Every name `doc`'s filer goes by (rag/names.py), most specific first: the one a route reports."""
    names = metadata_names(doc.metadata) + list((text_names or {}).get(doc.doc_id, ()))
    return sorted(names, key=lambda n: _SPECIFIC_FIRST.index(n.source))


def name_used(query: str, doc: Document, text_names: NamesByDoc | None = None) -> FilerName | None:
    """The name of `doc`'s filer that the query uses, or None."""
    return matching_name(query, filer_names(doc, text_names))


def names_company(query: str, doc: Document, text_names: NamesByDoc | None = None) -> bool:
    """Whether the query names the filing's company (by any name in rag/names.py)."""
    return name_used(query, doc, text_names) is not None


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
    matched: dict[str, FilerName] = field(default_factory=dict)  # doc_id -> the name the query used


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


def _current(docs: list[Document]) -> list[Document]:
    """`docs` less the periodic reports the latest annual report supersedes (earlier annual reports,
    quarterly reports); empty when no annual report is dated. A question naming no period asks about
    the present ("Is Boeing's business cyclical?"): the latest annual report states it, with the years
    before it for a question about a history; a filing that is no periodic report (a current report,
    an investor presentation) is kept, as no annual report supersedes what it announces."""
    annual = [d for d in docs if _form_kind(d.metadata.form) == "annual" and d.metadata.fiscal_year is not None]
    latest = max((d.metadata.fiscal_year for d in annual), default=None)
    if latest is None:
        return []
    return [d for d in docs
            if (d in annual and d.metadata.fiscal_year == latest) or _form_kind(d.metadata.form) is None]


def route_query(query: str, documents: list[Document], text_names: NamesByDoc | None = None) -> Route:
    """Route `query` to the filings it names (see module docstring for the rules).

    text_names: doc_id -> names read from each filing's text (DocStore.names()); without them only
    the names in the metadata count.
    """
    used = {d.doc_id: n for d in documents if (n := name_used(query, d, text_names)) is not None}
    named = [d for d in documents if d.doc_id in used]
    if not named:
        return Route()
    by = "; ".join(sorted({f"{(d.metadata.company or d.doc_id)} by {used[d.doc_id].describe()}" for d in named}))
    years = mentioned_years(query)
    quarterly: bool | None = None
    if _QUARTER_RE.search(query):
        quarterly = True
    elif _ANNUAL_RE.search(query) or years:
        quarterly = False
    if not years:
        current = _current(named) if not quarterly else []
        if current:
            why = f"names {by}; no year named: its latest annual report and filings no periodic report supersedes"
            return Route([d.doc_id for d in current], "company", why, _used(used, current))
        docs = named
        if quarterly is not None:
            wanted = "quarterly" if quarterly else "annual"
            docs = [d for d in named if _form_kind(d.metadata.form) == wanted] or named
        return Route([d.doc_id for d in docs], "company", f"names {by}", _used(used, docs))
    chosen, exact = _pick_period(named, years[-1], quarterly)
    if not chosen:
        return Route([d.doc_id for d in named], "company", f"names {by}; no dated filing", _used(used, named))
    confidence: Confidence = "period" if exact else "company"
    why = f"names {by} and fiscal {years[-1]}" + ("" if exact else " (nearest earlier filing)")
    return Route([d.doc_id for d in chosen], confidence, why, _used(used, chosen))


def _used(used: dict[str, FilerName], docs: list[Document]) -> dict[str, FilerName]:
    return {d.doc_id: used[d.doc_id] for d in docs}
