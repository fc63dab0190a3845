"""Which company's filings are evidence for an answer (issue #17: "no other company's page").

A shared index returns peers' pages for the same line item. A claim that does not name a company
takes its company from the question, else from the filers the answer names; a page of another
filer is not its evidence. A question about a company that no source mentions has no evidence in
the pages at all. Which words name a company is read from general English, nothing fitted: a
possessive, a corporate suffix, or the subject of a question's opening verb (`_company_slot`).
"""

from __future__ import annotations

import re

from rewards.entities import (
    CORPORATE_SUFFIXES,
    Entity,
    KnownNames,
    doc_filer,
    doc_filer_short,
    extract_entities,
    normalise,
    unknown_entities,
)
from rewards.premises import PreparedPage


def _filers(question: str, pages: list[PreparedPage]) -> tuple[dict[int, str], set[str]]:
    """Each page's filer by the name people use (its first word, "Ostrander" of ostrander-quarry, or
    the whole name when that word is short, "AMD"), and those of them the question names."""
    names = KnownNames(question)
    filers = {id(page): doc_filer_short(page.source.doc_id) or doc_filer(page.source.doc_id) for page in pages}
    return filers, {key for key in set(filers.values()) if len(key) >= 3 and names.mentions(key)}


def foreign_filings(question: str, pages: list[PreparedPage], answer: str = "") -> dict[int, str]:
    """Pages of other companies' filings: when the question names the filer of some pages (by their
    document ids), the pages whose filer it does not name belong to another company. A claim that
    does not name that company takes its company from the question, so such a page is not its
    evidence (a shared index returns peers' pages for the same line item). When the question names
    no filer of the pages, every filing is foreign if it names a company none of them mentions
    (`_names_absent`); else the answer's own subject stands in: the filers the answer names
    ("Best Buy reported lower revenue"), so "the company expects headwinds" is not read on a
    peer's page. Nothing is foreign when neither names one."""
    filers, asked = _filers(question, pages)
    if not asked and _names_absent(question, pages):
        return {page_id: key for page_id, key in filers.items() if key}
    if not asked and answer:
        asked = _filers(answer, pages)[1]
    return {page_id: key for page_id, key in filers.items() if key and key not in asked} if asked else {}


def _names_absent(question: str, pages: list[PreparedPage]) -> bool:
    """Whether the question names a company ("Does Paypal have positive working capital?") that no
    source page and no document id mentions: the sources are then other companies' filings that
    retrieval returned for the same line item, and none is evidence about what was asked."""
    if not pages or not any(_company_slot(question, *_named(e)) for e in extract_entities(question)):
        return False  # no company named where a question names one: the pages are not read
    filers = frozenset(doc_filer(page.source.doc_id) for page in pages)
    known = KnownNames(" ".join(f"{page.source.doc_id} {page.source.text}" for page in pages), filers=filers)
    for entity in unknown_entities(question, known):
        entity, name, asks = _named(entity)
        # A short form of a filer's name ("JPM" of JPMORGAN) is that filer.
        if not name.text or known.mentions(name.key) or any(f.startswith(name.key) for f in filers if name.key):
            continue
        if _company_slot(question, entity, name, asks):
            return True
    return False


def _named(entity: Entity) -> tuple[Entity, Entity, bool]:
    """(the entity, the name in it, whether the name run took the question's opening verb in: "Are
    JPM's gross margins ...")."""
    words = entity.text.split()
    asks = words[0].lower() in _AUXILIARIES
    return entity, Entity(" ".join(words[asks:]), entity.start, entity.end), asks


_AUXILIARIES = frozenset("does did do has have had is are was were can will would could should".split())
_AUXILIARY_BEFORE_RE = re.compile(rf"(?:^|[.?!]\s+)(?:{'|'.join(sorted(_AUXILIARIES))})\s+$", re.IGNORECASE)


def _company_slot(question: str, entity: Entity, name: Entity, asks: bool) -> bool:
    """Where a question names the company it asks about (general English, nothing fitted): its
    possessive ("Paypal's"), a name with a corporate suffix ("AES Corporation"), or the subject of
    the question's opening verb ("Does Paypal have"). A term the question merely mentions ("Looking
    at VaR") or a thing named after "the" ("the Recognition share plan") is none of these."""
    if not name.text or _THE_BEFORE_RE.search(question, 0, entity.start):
        return False
    words = name.text.split()
    after = question[entity.end:].split(maxsplit=1)
    return (asks or bool(_AUXILIARY_BEFORE_RE.search(question, 0, entity.start))
            or name.text.endswith(("'s", "’s"))
            or (len(words) > 1 and normalise(words[-1]) in CORPORATE_SUFFIXES)
            or bool(after and Entity(after[0], 0, 0).key in CORPORATE_SUFFIXES))  # "AES Corporation's"


_THE_BEFORE_RE = re.compile(r"\bthe\s+$", re.IGNORECASE)


def named_filings(question: str, pages: list[PreparedPage]) -> list[PreparedPage]:
    """The pages of filings whose filer the question names; none when it names no filer of the pages
    (a metric computed from rows must come from the asked company's statements, not a peer's that
    retrieval returned for a company whose filing is not indexed)."""
    filers, asked = _filers(question, pages)
    return [page for page in pages if filers[id(page)] in asked]
