"""Quote resolution: locator -> verbatim text, and quote -> the exact locator where it occurs.

A citation is valid only if its quote occurs at its locator in the document whose sha256 is
recorded (the `Citation` contract in cai/core/contracts.py). `verify` allows whitespace
differences between the quote and the page (PDF extraction turns line breaks into newlines, a
model quoting it writes spaces) but returns the page's own span, so `text_at(verify(...))` is the
page's exact text.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Callable, Sequence

from cai.core.contracts import Locator, PageText, SearchHit, SourcePage, Sources
from rag.store import DocStore

_SPACE_RE = re.compile(r"\s+")


def _collapse(text: str) -> tuple[str, list[int]]:
    """`text` with each whitespace run turned into one space, and each kept char's offset in `text`."""
    kept: list[str] = []
    offsets: list[int] = []
    for m in re.finditer(r"\s+|\S+", text):
        if m.group().isspace():
            kept.append(" ")
            offsets.append(m.start())
        else:
            kept.append(m.group())
            offsets.extend(range(m.start(), m.end()))
    return "".join(kept), offsets


def source_pages(hits: Sequence[SearchHit], page: Callable[[str, int], PageText | None]) -> list[SourcePage]:
    """The full pages of `hits` (each once, in hit order): what checkers align against, since
    locators index page text, not chunk text. `page` is a lookup such as `DocStore.page`."""
    out, seen = [], set()
    for h in hits:
        if (h.doc_id, h.page) in seen:
            continue
        seen.add((h.doc_id, h.page))
        if (found := page(h.doc_id, h.page)) is not None:
            out.append(SourcePage(doc_id=h.doc_id, page=h.page, text=found.text))
    return out


def gather_sources(hits: Sequence[SearchHit], page: Callable[[str, int], PageText | None]) -> Sources:
    """A question's `Sources`: its ranked hits and the full pages they come from."""
    return Sources(hits=list(hits), pages=source_pages(hits, page))


def sentence_at(page: PageText, char: int) -> int:
    """Index of the sentence containing `char` (else the last one starting before it; 0 if none)."""
    starts = [s.char_start for s in page.sentences]
    pos = bisect_right(starts, char) - 1
    return page.sentences[pos].sentence if pos >= 0 else 0


class QuoteResolver:
    """Resolves locators and verifies quotes against the document store's page texts."""

    def __init__(self, store: DocStore) -> None:
        self.store = store

    def page(self, doc_id: str, page: int) -> PageText | None:
        return self.store.page(doc_id, page)

    def text_at(self, locator: Locator) -> str:
        """The page text under `locator` (char_start:char_end); KeyError if the page is unknown."""
        page = self.store.page(locator.doc_id, locator.page)
        if page is None:
            raise KeyError(f"no page {locator.page} of document {locator.doc_id!r} in the index")
        if locator.char_end > len(page.text):
            raise KeyError(f"{locator} ends at {locator.char_end}, past the page's {len(page.text)} chars")
        return page.text[locator.char_start : locator.char_end]

    def sentence_locator(self, doc_id: str, page: int, sentence: int) -> Locator | None:
        """The locator spanning sentence `sentence` of a page, or None when there is none."""
        p = self.store.page(doc_id, page)
        if p is None:
            return None
        for s in p.sentences:
            if s.sentence == sentence:
                return Locator(doc_id=doc_id, page=page, char_start=s.char_start, char_end=s.char_end,
                               sentence=s.sentence)
        return None

    def verify(self, doc_id: str, page: int, quote: str) -> Locator | None:
        """The exact locator of `quote` on that page, or None if it does not occur there.

        The match is verbatim except for whitespace: any run of whitespace (spaces, newlines,
        tabs) in the quote matches any run in the page; leading/trailing whitespace is ignored. The
        returned span starts at the quote's first non-space char and ends after its last one, in the
        page's own text; `sentence` is the sentence holding the quote's first char. The first
        occurrence wins.
        """
        p = self.store.page(doc_id, page)
        needle = _SPACE_RE.sub(" ", quote).strip()
        if p is None or not needle:
            return None
        hay, offsets = _collapse(p.text)
        at = hay.find(needle)
        if at < 0:
            return None
        start, end = offsets[at], offsets[at + len(needle) - 1] + 1
        return Locator(doc_id=doc_id, page=page, char_start=start, char_end=end, sentence=sentence_at(p, start))

    def find(self, doc_id: str, quote: str) -> Locator | None:
        """`verify` on every page of a document, first page first (None if nowhere)."""
        doc = self.store.document(doc_id)
        if doc is None:
            return None
        for n in range(1, doc.n_pages + 1):
            loc = self.verify(doc_id, n, quote)
            if loc is not None:
                return loc
        return None
