"""BM25 over chunk texts (Robertson & Zaragoza 2009, "The Probabilistic Relevance Framework: BM25
and Beyond"), via `bm25s` directly.

Why bm25s directly and not llama-index's BM25Retriever (which wraps bm25s): the wrapper indexes
node text *with* metadata unless every node excludes it, persists the whole node corpus as JSON,
and exposes no per-query document mask, which metadata filters and routing need. bm25s gives a
sparse matrix, `get_scores(tokens, weight_mask=...)` over all chunks, and a compact npy save.

Only the chunk text is indexed: no file names, no metadata (they would match every query that
names the company and drown the page that answers it).

Each chunk is indexed with its page's title lines in front (`PAGE_TITLE_LINES`): a statement
page is titled once ("Consolidated Balance Sheets") but cut into several chunks, and a question
that names the statement should reach every chunk of it. The title is page text, not metadata.

Finance-aware tokenisation: lowercase; numbers kept whole with thousands separators removed
("79,268" -> "79268", "$1.5" -> "1.5"); form names kept as one token ("10-K" -> "10k"); "FY2022" ->
"fiscal", "2022"; stop words dropped; light Snowball stemming (PyStemmer) of alphabetic tokens only
(numbers are never stemmed). Queries are expanded with standard synonyms for financial statements
and line items (`FINANCE_QUERY_EXPANSIONS`): filers title the income statement "Consolidated
Statements of Operations" and questions say "income statement" or "P&L".
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import bm25s
import numpy as np
import Stemmer

LEXICAL_DIR = "bm25"

_STEMMER = Stemmer.Stemmer("english")
_TOKEN_RE = re.compile(
    r"(?P<form>\b10-?[kq]\b|\b8-?k\b)"
    r"|(?P<fy>\bfy\s?'?(?P<fy_year>(?:19|20)?\d{2})\b)"
    r"|(?P<num>\d[\d,]*(?:\.\d+)?)"
    r"|(?P<word>[a-z]+)"
)
_STOP_WORDS = frozenset(
    "a an and are as at be been being by can could did do does for from had has have how if in into "
    "is it its of on or our that the their them then there these they this those to was we were "
    "what when where which while who whom why will with would you your i me my than so such any "
    "all also about".split()
)

# Query-side expansions: phrase in the question -> wording filers use. Domain knowledge about 10-K
# vocabulary, the same for every company.
FINANCE_QUERY_EXPANSIONS: dict[str, str] = {
    "income statement": "statements of operations statements of income statements of earnings",
    "statement of income": "statements of operations statements of earnings",
    "p&l": "statements of operations statements of income",
    "balance sheet": "balance sheets statement of financial position",
    "statement of financial position": "balance sheets",
    "cash flow": "statements of cash flows operating activities investing activities financing activities",
    "cogs": "cost of sales cost of revenue cost of goods sold",
    "revenue": "net sales total revenues",
    "capex": "capital expenditures purchases of property and equipment",
    "capital expenditure": "purchases of property and equipment",
    "working capital": "total current assets total current liabilities",
    "inventory turnover": "inventories cost of sales",
    "days payable": "accounts payable cost of sales",
    "dpo": "accounts payable cost of sales",
    "net income": "net earnings net income attributable",
    "operating income": "operating profit income from operations",
    "gross margin": "gross profit cost of sales",
    "effective tax rate": "income tax provision effective tax rate",
    "debt": "long-term debt borrowings notes",
}


def tokenize(text: str) -> list[str]:
    """Finance-aware BM25 tokens of `text` (see module docstring)."""
    out: list[str] = []
    for m in _TOKEN_RE.finditer(text.lower()):
        if m.group("form"):
            out.append(m.group("form").replace("-", ""))
        elif m.group("fy"):
            year = m.group("fy_year")
            out += ["fiscal", year if len(year) == 4 else "20" + year]
        elif m.group("num"):
            out.append(m.group("num").replace(",", ""))
        else:
            word = m.group("word")
            if len(word) > 1 and word not in _STOP_WORDS:
                out.append(word)
    return [t if not t[0].isalpha() else _STEMMER.stemWord(t) for t in out]


def expand_query(query: str) -> str:
    """The query plus the filers' wording for each financial phrase it uses."""
    low = query.lower()
    extra = [v for k, v in FINANCE_QUERY_EXPANSIONS.items() if re.search(rf"\b{re.escape(k)}", low)]
    return " ".join([query, *extra])


PAGE_TITLE_LINES = 3
# Bump when tokenisation or the indexed text changes: a saved index with another recipe is rebuilt.
TOKENIZER_VERSION = 1


def recipe() -> str:
    return f"tok{TOKENIZER_VERSION}-title{PAGE_TITLE_LINES}"
_NOT_A_TITLE = frozenset({"table of contents", "index"})


def page_title(page_head: str, lines: int = PAGE_TITLE_LINES) -> str:
    """The first `lines` non-empty lines of a page, skipping running 'Table of Contents' links."""
    kept = [x.strip() for x in page_head.splitlines() if x.strip() and x.strip().lower() not in _NOT_A_TITLE]
    return " ".join(kept[:lines])


def bm25_corpus(store) -> tuple[np.ndarray, list[str]]:
    """((n,) int64 vec ids, BM25 texts): each chunk's text after its page's title lines."""
    ids, texts, heads = store.chunk_texts_with_page_heads()
    if PAGE_TITLE_LINES <= 0:
        return ids, texts
    return ids, [f"{page_title(h)}\n{t}" for t, h in zip(texts, heads, strict=True)]


class LexicalIndex:
    """BM25 over chunks; row i of the bm25s matrix is the chunk with vector id `vec_ids[i]`."""

    def __init__(self, vec_ids: np.ndarray, bm25: bm25s.BM25 | None) -> None:
        self.vec_ids = np.asarray(vec_ids, dtype=np.int64)  # (n,) ascending
        self.bm25 = bm25

    @classmethod
    def build(cls, vec_ids: np.ndarray, texts: list[str]) -> LexicalIndex:
        """Index (n,) int64 vec ids with their n chunk texts (BM25 'lucene' variant, k1=1.2, b=0.75)."""
        if len(texts) == 0:
            return cls(np.zeros(0, np.int64), None)
        bm25 = bm25s.BM25(k1=1.2, b=0.75, method="lucene")
        # An empty token list would make bm25s drop the row; a sentinel keeps rows aligned with ids.
        bm25.index([tokenize(t) or ["\u2205"] for t in texts], show_progress=False)
        return cls(vec_ids, bm25)

    def scores(self, query: str, *, expand: bool = True) -> np.ndarray:
        """(n,) float32 BM25 score of every chunk for `query` (row order = `vec_ids`)."""
        if self.bm25 is None:
            return np.zeros(0, np.float32)
        tokens = tokenize(expand_query(query) if expand else query)
        if not tokens:
            return np.zeros(len(self.vec_ids), np.float32)
        return np.asarray(self.bm25.get_scores(tokens), dtype=np.float32)

    def search(
        self, query: str, k: int, *, allowed_ids: np.ndarray | None = None, expand: bool = True
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-k ((k',) float32 scores, (k',) int64 vec ids), best first, zero scores dropped."""
        scores = self.scores(query, expand=expand)
        if scores.size == 0:
            return np.zeros(0, np.float32), np.zeros(0, np.int64)
        if allowed_ids is not None:
            scores = np.where(np.isin(self.vec_ids, allowed_ids), scores, 0.0)
        k = min(k, int((scores > 0).sum()))
        if k == 0:
            return np.zeros(0, np.float32), np.zeros(0, np.int64)
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        return scores[top], self.vec_ids[top]

    # -- persistence ----------------------------------------------------------------------------
    def save(self, index_dir: Path, generation: int) -> None:
        """Write to `bm25/` atomically: build in `bm25.tmp/`, then swap directories."""
        final = Path(index_dir) / LEXICAL_DIR
        tmp = Path(index_dir) / (LEXICAL_DIR + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        if self.bm25 is not None:
            self.bm25.save(str(tmp), show_progress=False)
        np.save(tmp / "vec_ids.npy", self.vec_ids)
        (tmp / "stamp.json").write_text(
            json.dumps({"generation": generation, "n": len(self.vec_ids), "recipe": recipe()}))
        old = Path(index_dir) / (LEXICAL_DIR + ".old")
        shutil.rmtree(old, ignore_errors=True)
        if final.exists():
            os.replace(final, old)
        os.replace(tmp, final)
        shutil.rmtree(old, ignore_errors=True)

    @classmethod
    def load(cls, index_dir: Path, *, generation: int) -> LexicalIndex | None:
        """The saved index if its stamp matches `generation` (else None: rebuild from the store)."""
        root = Path(index_dir) / LEXICAL_DIR
        try:
            stamp = json.loads((root / "stamp.json").read_text())
            if stamp["generation"] != generation or stamp.get("recipe") != recipe():
                return None
            vec_ids = np.load(root / "vec_ids.npy")
            if len(vec_ids) == 0:
                return cls(vec_ids, None)
            bm25 = bm25s.BM25.load(str(root), show_progress=False, verbosity=0)
        except (OSError, ValueError, KeyError):
            return None
        return cls(vec_ids, bm25)
