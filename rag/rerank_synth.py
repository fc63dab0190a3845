"""Training data for the page re-ranker (`rag.rerank`), synthesized from any ingested corpus
without labels: questions written from a filing's own pages, each paired with the chunk it came
from and with hard negatives, other pages of the same filing that lexical search confuses with it.

The recipe follows the label-free re-ranker training of InPars (Bonifacio et al. 2022) and
Promptagator (Dai et al. 2022) — synthesize a query from a passage, keep the passage as its
positive, mine negatives with BM25 — with the queries written by templates instead of an LLM, so
a new corpus needs no model and no labels. Three kinds of query, as analysts ask them of filings:

* `row`: a line item of a financial table and the filing's fiscal year, "What was Acme's total
  net sales in FY2017?". A row is a label line (words, no figures) followed by figures, on the
  same line (HTML tables, "a | b" cells) or the next (PDF text puts each cell on its own line).
  On a financial statement page some questions name the statement, as users do ("... Answer
  using the balance sheet.") — the titles of `rag.page_kinds`.
* `heading`: a section heading followed by prose, "What does Acme disclose about Legal
  Proceedings in FY2017?" (risk factors, MD&A topics, notes).
* `sentence`: a long prose sentence reduced to its first content words, a keyword query.

The anchor of a query (row label, heading, sentence) must not appear on a negative's page: a page
that repeats the line item (MD&A restating revenue) may answer the question too, and is dropped
rather than taught as wrong. Pages and queries are read in (doc_id, page) order with a generator
seeded by (seed, doc_id, page), so the output depends only on the corpus and the seed.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from dataclasses import dataclass

from cai.core.contracts import Document
from rag.lexical import page_title
from rag.page_kinds import kinds_named
from rag.sentences import sentence_spans

# How questions name a statement (rag/page_kinds.py `kinds_named` reads these back).
STATEMENT_PHRASES = {
    "income_statement": ("income statement", "statement of operations", "P&L statement"),
    "balance_sheet": ("balance sheet", "statement of financial position"),
    "cash_flow": ("cash flow statement", "statement of cash flows"),
    "equity_statement": ("statement of shareholders' equity",),
}
KIND_PHRASE = {
    "income_statement": "income statement", "balance_sheet": "balance sheet", "cash_flow": "cash flow statement",
    "equity_statement": "equity statement", "note": "notes to financial statements", "mda": "MD&A",
    "risk_factors": "risk factors", "legal_proceedings": "legal proceedings", "exhibits": "exhibits",
    "other": "filing",
}
_ROW_TEMPLATES = (
    "What was {co}'s {label} in FY{year}?",
    "What is the FY{year} {label} for {co}?",
    "How much {label} did {co} report for fiscal {year}?",
    "{co} {label} {year}",
    "According to {co}'s FY{year} filing, what is its {label}?",
)
_HEADING_TEMPLATES = (
    "What does {co} disclose about {heading} in FY{year}?",
    "Describe {co}'s {heading} as of FY{year}.",
    "{heading} {co} {year}",
)
_SENTENCE_TEMPLATES = ("What did {co} say about {words} in FY{year}?", "{co} {words}")
_STOPWORDS = frozenset(
    "a an the of and or to in on for by with as at from that this these those is are was were be been its our "
    "we us it which who their there than such also other any all each per not no into over under".split())
_LABEL_RE = re.compile(r"^[A-Za-z][A-Za-z ,'’&()/\-]{2,80}$")
_CELL_RE = re.compile(r"^(?:[$€£]?\(?-?\d[\d,]*(?:\.\d+)?\)?%?|[$€£]|[—–-]+)$")
_NOT_LABELS = re.compile(r"^(?:total|years?|(?:fiscal )?years? ended\b.*|fiscal|note|page"
                         r"|in (?:millions|thousands|billions)"
                         r"|(?:january|february|march|april|may|june|july|august|september|october|november"
                         r"|december)\b.*)$", re.IGNORECASE)
_SUFFIX_RE = re.compile(r",?\s+(?:Inc|Incorporated|Corp|Corporation|Company|Co|Ltd|plc|LLC|N\.V|S\.A)\.?$",
                        re.IGNORECASE)
_LEADING_THE_RE = re.compile(r"^the\s+(?=\S)", re.IGNORECASE)
_NOT_A_TITLE = frozenset({"table of contents", "index", "not applicable"})
_MAX_QUERY_WORDS = 8


@dataclass(frozen=True)
class SynthQuery:
    """One synthesized question, the page it was written from, and the text that answers it there."""

    doc_id: str
    page: int
    text: str
    kind: str  # "row" | "heading" | "sentence"
    anchor: str  # row label, heading or sentence: a negative's page must not contain it


def _repeats(words: list[str]) -> bool:
    """A header row of repeated column titles ("Shares Amount Shares Amount"), not a line item."""
    lower = [w.lower() for w in words]
    half = len(lower) // 2
    return len(lower) >= 2 and len(lower) % 2 == 0 and lower[:half] == lower[half:]


def _label(line: str) -> str | None:
    label = " ".join(line.strip().rstrip(":").split())
    words = label.split()
    if (not _LABEL_RE.match(label) or _NOT_LABELS.match(label) or not 1 <= len(words) <= 10
            or (len(words) == 1 and len(label) < 5)
            or not label[0].isupper() or words[-1].lower() in _STOPWORDS or label.count("(") != label.count(")")
            or _repeats(words) or label.lower() in _NOT_A_TITLE):
        return None
    return label


def _split_row(line: str) -> tuple[str, bool]:
    """(the line without its trailing cells, whether a trailing cell is a figure): cells are the
    whitespace- or "|"-separated figures, dashes and currency signs that end a table row."""
    tokens = line.replace("|", " ").split()
    end, figures = len(tokens), False
    while end and _CELL_RE.match(tokens[end - 1]):
        figures |= any(ch.isdigit() for ch in tokens[end - 1])
        end -= 1
    return " ".join(tokens[:end]), figures


def row_labels(text: str) -> list[str]:
    """Line-item labels of the tables on a page: words followed by figures on the same line (HTML
    cells, PDF rows) or, for a line of words alone, on the next line (PDF text that puts each cell
    on its own line)."""
    lines = [x.strip() for x in text.splitlines()]
    out: list[str] = []
    for i, line in enumerate(lines):
        head, figures = _split_row(line)
        if not figures and head == " ".join(line.replace("|", " ").split()):
            nxt = next((x for x in lines[i + 1 : i + 3] if x and x != "$"), "")
            figures = bool(nxt) and not _split_row(nxt)[0] and _split_row(nxt)[1]
        label = _label(head) if figures else None
        if label and label not in out:
            out.append(label)
    return out


def headings(text: str) -> list[str]:
    """Section headings of a page: a short line of words (2-8, capitalised, no figures, no final
    period) whose next non-empty line is prose (12 words or more)."""
    lines = [x.strip() for x in text.splitlines() if x.strip()]
    out = []
    for line, nxt in zip(lines, lines[1:], strict=False):
        words = line.split()
        if (len(words) <= 8 and not line.endswith(".") and _label(line) and len(nxt.split()) >= 12
                and line not in out):
            out.append(line)
    return out


def _content_words(sentence: str) -> list[str]:
    words = [w.strip(".,;:()\"'’") for w in sentence.split()]
    return [w for w in words if w and w.lower() not in _STOPWORDS and not re.search(r"\d", w)]


def _sentences(text: str) -> list[str]:
    out = []
    for start, end in sentence_spans(text):
        sentence = " ".join(text[start:end].split())
        if len(sentence.split()) >= 14 and len(_content_words(sentence)) >= 6 and "|" not in sentence:
            out.append(sentence)
    return out


def _company(document: Document) -> str:
    """The filer's name as a question writes it: no legal suffix, capitalised words not all caps."""
    name = document.metadata.company or document.metadata.ticker or ""
    name = _LEADING_THE_RE.sub("", name.strip())  # "THE BOEING COMPANY" -> "Boeing"
    while _SUFFIX_RE.search(name):  # "BEST BUY CO., INC.": two suffixes
        name = _SUFFIX_RE.sub("", name)
    if name.isupper() and len(name) > 5:
        name = " ".join(w.capitalize() if len(w) > 3 else w for w in name.split())
    return name or "the company"


def page_queries(document: Document, page: int, text: str, kind: str, rng: random.Random,
                 per_page: int) -> list[SynthQuery]:
    """Up to `per_page` queries written from one page (rows first on statement pages)."""
    co, year = _company(document), document.metadata.fiscal_year
    year_text = str(year) if year else ""
    candidates: list[SynthQuery] = []
    for label in row_labels(text):
        template = rng.choice(_ROW_TEMPLATES)
        query = template.format(co=co, label=label.lower() if not label.isupper() else label, year=year_text)
        if kind in STATEMENT_PHRASES and rng.random() < 0.35:
            query += f" Answer using the {rng.choice(STATEMENT_PHRASES[kind])}."
        candidates.append(SynthQuery(document.doc_id, page, _tidy(query), "row", label))
    for heading in headings(text):
        query = rng.choice(_HEADING_TEMPLATES).format(co=co, heading=heading, year=year_text)
        candidates.append(SynthQuery(document.doc_id, page, _tidy(query), "heading", heading))
    for sentence in _sentences(text):
        words = " ".join(_content_words(sentence)[:_MAX_QUERY_WORDS]).lower()
        query = rng.choice(_SENTENCE_TEMPLATES).format(co=co, words=words, year=year_text)
        candidates.append(SynthQuery(document.doc_id, page, _tidy(query), "sentence", sentence))
    rng.shuffle(candidates)
    # Prefer rows and headings: figures and sections are what questions about filings ask for.
    candidates.sort(key=lambda q: q.kind == "sentence")
    return candidates[:per_page]


def _tidy(query: str) -> str:
    return " ".join(query.replace("FY ", "").replace("fiscal ?", "?").split())


def synthesize_queries(documents: Sequence[Document], pages: Sequence[tuple[str, int, str, str]], *,
                       seed: int = 0, per_page: int = 2) -> list[SynthQuery]:
    """Queries for every page: `pages` are (doc_id, page, text, kind) of the `documents`."""
    by_id = {d.doc_id: d for d in documents}
    out: list[SynthQuery] = []
    for doc_id, page, text, kind in sorted(pages, key=lambda p: (p[0], p[1])):
        if doc_id not in by_id or not text.strip():
            continue
        rng = random.Random(f"{seed}:{doc_id}:{page}")
        # Exhibits (certifications, plan documents) are rarely what a question is about.
        out += page_queries(by_id[doc_id], page, text, kind, rng, 1 if kind == "exhibits" else per_page)
    return out


def passage(kind: str, page_head: str, text: str) -> str:
    """What the re-ranker reads of a candidate: its page's kind and title lines, then the chunk.

    Training and search both build passages here, so the model sees the same layout in both."""
    title = page_title(page_head)
    body = " ".join(text.split())
    head = f"{KIND_PHRASE.get(kind, 'filing')}: {title}" if title and not body.startswith(title[:40]) \
        else KIND_PHRASE.get(kind, "filing")
    return f"{head} | {body}"


def rerank_query(question: str, max_words: int = 40) -> str:
    """The question as the re-ranker reads it: the statements or sections it names by title
    (`rag.page_kinds.kinds_named`: often in a closing instruction), then its first `max_words` words,
    so that a long question (definitions, instructions) leaves the passage most of the window."""
    named = ", ".join(KIND_PHRASE[k] for k in kinds_named(question))
    words = " ".join(question.split()[:max_words])
    return f"{named}: {words}" if named else words


__all__ = ["KIND_PHRASE", "SynthQuery", "headings", "page_queries", "passage", "rerank_query", "row_labels",
           "synthesize_queries"]
