"""Quote resolution against a real SQLite document store (rag.quotes)."""

from __future__ import annotations

import re

import numpy as np
import pytest

from cai.core.contracts import Chunk, Document, Locator, PageText, ParsedDocument, SentenceSpan
from rag.quotes import QuoteResolver
from rag.store import DocStore

PAGE_1 = (
    "ACME WIDGETS, INC.\nCONSOLIDATED STATEMENTS OF OPERATIONS\n"
    "Net sales were $4,512 million in fiscal 2023.  Cost of sales\nwas $3,001 million. "
    "Gross margin improved to 33.5%."
)
PAGE_2 = "Liquidity remained strong. We held $812 million of cash at year end. Net sales were flat."


def sentence_spans_of(text: str) -> list[SentenceSpan]:
    """Sentences end at '.' before whitespace or the end, or at a newline (enough for fixtures)."""
    pattern = re.compile(r"\S[^\n]*?(?:\.(?=\s)|\.$|(?=\n)|$)")
    return [SentenceSpan(sentence=n, char_start=m.start(), char_end=m.end())
            for n, m in enumerate(pattern.finditer(text))]


def parsed_document(doc_id: str, pages: list[str]) -> ParsedDocument:
    page_texts, chunks = [], []
    for n, text in enumerate(pages, start=1):
        spans = sentence_spans_of(text)
        page_texts.append(PageText(doc_id=doc_id, page=n, text=text, sentences=spans))
        loc = Locator(doc_id=doc_id, page=n, char_start=spans[0].char_start,
                      char_end=spans[-1].char_end, sentence=0)
        chunks.append(Chunk(chunk_id=f"{doc_id}:p{n}:c0", locator=loc,
                            text=text[loc.char_start:loc.char_end], sentences=spans))
    doc = Document(doc_id=doc_id, path=f"/x/{doc_id}.txt", sha256=doc_id * 4, n_pages=len(pages))
    return ParsedDocument(document=doc, pages=page_texts, chunks=chunks)


@pytest.fixture()
def resolver(tmp_path):
    store = DocStore.open(tmp_path, create=True)
    parsed = parsed_document("acme-2023", [PAGE_1, PAGE_2])
    with store.transaction():
        store.add_document(parsed, np.zeros((len(parsed.chunks), 4), np.float32))
    yield QuoteResolver(store)
    store.close()


def test_text_at_returns_the_exact_span(resolver):
    start = PAGE_1.index("Net sales")
    loc = Locator(doc_id="acme-2023", page=1, char_start=start, char_end=start + 9, sentence=2)
    assert resolver.text_at(loc) == "Net sales"


def test_text_at_unknown_page_raises(resolver):
    with pytest.raises(KeyError):
        resolver.text_at(Locator(doc_id="acme-2023", page=9, char_start=0, char_end=1, sentence=0))
    with pytest.raises(KeyError):
        resolver.text_at(Locator(doc_id="acme-2023", page=2, char_start=0, char_end=10_000, sentence=0))


def test_verify_verbatim_quote(resolver):
    quote = "Gross margin improved to 33.5%."
    loc = resolver.verify("acme-2023", 1, quote)
    assert loc is not None and resolver.text_at(loc) == quote
    page = resolver.page("acme-2023", 1)
    sentence = next(s for s in page.sentences if s.sentence == loc.sentence)
    assert sentence.char_start <= loc.char_start < sentence.char_end
    assert PAGE_1[sentence.char_start:sentence.char_end] == quote


def test_verify_is_whitespace_insensitive_but_returns_the_pages_own_span(resolver):
    # The page has two spaces and a newline where the quote has single spaces.
    quote = "fiscal 2023. Cost of sales was $3,001 million."
    loc = resolver.verify("acme-2023", 1, "  " + quote + "\n")
    assert loc is not None
    exact = resolver.text_at(loc)
    assert exact == "fiscal 2023.  Cost of sales\nwas $3,001 million."
    assert exact != quote
    first_sentence = next(s for s in resolver.page("acme-2023", 1).sentences if s.sentence == loc.sentence)
    assert "fiscal 2023" in PAGE_1[first_sentence.char_start:first_sentence.char_end]


def test_verify_rejects_changed_words_numbers_and_wrong_page(resolver):
    assert resolver.verify("acme-2023", 1, "Net sales were $4,513 million") is None
    assert resolver.verify("acme-2023", 1, "Netsales were $4,512 million") is None  # spaces matter
    assert resolver.verify("acme-2023", 2, "Gross margin improved to 33.5%.") is None
    assert resolver.verify("nope", 1, "Net sales") is None
    assert resolver.verify("acme-2023", 1, "   ") is None


def test_find_searches_every_page(resolver):
    loc = resolver.find("acme-2023", "We held $812 million of cash")
    assert loc is not None and loc.page == 2 and loc.sentence == 1
    assert resolver.find("acme-2023", "not in the filing") is None


def test_sentence_locator(resolver):
    loc = resolver.sentence_locator("acme-2023", 2, 0)
    assert resolver.text_at(loc) == "Liquidity remained strong."
    assert resolver.sentence_locator("acme-2023", 2, 99) is None
