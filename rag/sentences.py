"""Sentence spans of a page: (char_start, char_end) offsets into the normalised page text.

Two layers, because filings mix prose with layout:

1. **Lines → blocks.** A line that is a table row, a heading, a list item start or a short label
   is its own block; wrapped prose lines (long lines, or a next line that starts in lower case)
   join the following line. This is the part no library does: prose splitters treat a
   statement-of-operations row such as `Cost of sales 71,651 88,265 111,934` as running text and
   glue whole tables into one "sentence".
2. **Blocks → sentences** with NLTK's Punkt model (the English `punkt_tab` parameters that
   llama-index-core ships offline), which already knows `U.S.`, `Inc.`, `Dec.`, `Corp.`, decimals
   and `$1.5 billion`. `span_tokenize` gives exact character offsets, which llama-index's
   `SentenceSplitter` does not. A few abbreviations frequent in filings are added (`No. 3`).

A sentence that is only a list marker (`1.`, `(a)`) is merged into the sentence after it.
"""

from __future__ import annotations

import importlib.util
import re
from functools import lru_cache
from pathlib import Path

import nltk.data
from nltk.tabdata import PunktDecoder
from nltk.tokenize.punkt import PunktParameters, PunktSentenceTokenizer

# Abbreviations (lower case, without the final period) that filings use before numbers or names.
FILING_ABBREVIATIONS = frozenset(
    {
        "no",
        "nos",
        "approx",
        "e.g",
        "i.e",
        "incl",
        "est",
        "fig",
        "vol",
        "ex",
        "sec",
        "art",
        "para",
        "dept",
        "intl",
        "natl",
        "hldgs",
        "l.l.c",
        "n.a",
        "u.s",
        "s.a",
        "n.v",
        "ltd",
        "corp",
        "inc",
    }
)

_NUMERIC_TOKEN_RE = re.compile(r"^[\$\(]*[+\-−–—]?[\$]?\d[\d,.]*%?\)?%?$|^[\$—–\-]+$")
_LIST_START_RE = re.compile(
    r"^(?:[•●·▪\-\*]\s|#{1,6}\s|\(?(?:\d{1,3}|[a-zA-Z]|[ivxlc]{1,5})[.)]\s)"
)
_LIST_MARKER_ONLY_RE = re.compile(r"^(?:\(?(?:\d{1,3}|[a-zA-Z]|[ivxlc]{1,5})[.)]|[•●·▪])$")
_LINE_RE = re.compile(r"[^\n]+")
_MIN_WRAP_WIDTH = 40


@lru_cache(maxsize=1)
def _punkt() -> PunktSentenceTokenizer:
    """Punkt with the English parameters, found offline (NLTK data path, then llama-index's copy)."""
    params = PunktParameters()
    decoder = PunktDecoder()
    directory = _punkt_english_dir()
    with (directory / "collocations.tab").open(encoding="utf-8") as handle:
        params.collocations = set(decoder.tab2tups(handle))
    with (directory / "sent_starters.txt").open(encoding="utf-8") as handle:
        params.sent_starters = decoder.txt2set(handle)
    with (directory / "abbrev_types.txt").open(encoding="utf-8") as handle:
        params.abbrev_types = decoder.txt2set(handle) | set(FILING_ABBREVIATIONS)
    with (directory / "ortho_context.tab").open(encoding="utf-8") as handle:
        params.ortho_context = decoder.tab2intdict(handle)
    return PunktSentenceTokenizer(params)


def _punkt_english_dir() -> Path:
    """Directory of the `punkt_tab/english` parameter files.

    The files are read directly (not through `nltk.data.load`) because NLTK's path sandbox refuses
    directories outside `nltk.data.path`, and llama-index-core's bundled copy lives in site-packages.
    """
    roots = [Path(p) for p in nltk.data.path]
    spec = importlib.util.find_spec("llama_index.core")
    if spec and spec.submodule_search_locations:
        roots.append(Path(next(iter(spec.submodule_search_locations))) / "_static" / "nltk_cache")
    for root in roots:
        candidate = root / "tokenizers" / "punkt_tab" / "english"
        if (candidate / "abbrev_types.txt").is_file():
            return candidate
    raise RuntimeError(
        "NLTK punkt_tab/english parameters not found (install llama-index-core, or "
        "run nltk.download('punkt_tab') once)"
    )


def _is_table_row(line: str) -> bool:
    """Cells joined with ' | ', or a line whose last tokens are mostly numbers (a data row)."""
    if " | " in line:
        return True
    tokens = line.split()
    if len(tokens) < 2:
        return False
    tail = tokens[-3:]
    numeric = sum(1 for token in tail if _NUMERIC_TOKEN_RE.match(token))
    return bool(_NUMERIC_TOKEN_RE.match(tokens[-1])) and numeric >= 2


def _line_spans(text: str) -> list[tuple[int, int]]:
    return [(m.start(), m.end()) for m in _LINE_RE.finditer(text)]


def _wrap_width(text: str, lines: list[tuple[int, int]]) -> int:
    """Length from which a line counts as a wrapped prose line: 70% of the page's long lines."""
    lengths = sorted(end - start for start, end in lines)
    if not lengths:
        return _MIN_WRAP_WIDTH
    long_line = lengths[int(0.9 * (len(lengths) - 1))]
    return max(_MIN_WRAP_WIDTH, int(0.7 * long_line))


def _continues(line: str, next_line: str, wrap_width: int) -> bool:
    """True if `line` is wrapped prose that runs on into `next_line` (same block)."""
    if _is_table_row(line) or _is_table_row(next_line) or _LIST_START_RE.match(next_line):
        return False
    if next_line[0].islower():
        return True
    return len(line) >= wrap_width and not line.endswith(":")


def block_spans(text: str) -> list[tuple[int, int]]:
    """Spans of blocks: runs of wrapped prose lines, or single structural lines (rows, headings)."""
    lines = _line_spans(text)
    if not lines:
        return []
    width = _wrap_width(text, lines)
    blocks: list[tuple[int, int]] = []
    block_start = lines[0][0]
    for (start, end), (next_start, next_end) in zip(lines, lines[1:], strict=False):
        separated_by_blank = "\n\n" in text[end:next_start]
        line, next_line = text[start:end], text[next_start:next_end]
        if separated_by_blank or not _continues(line, next_line, width):
            blocks.append((block_start, end))
            block_start = next_start
    blocks.append((block_start, lines[-1][1]))
    return blocks


def _merge_list_markers(text: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Join a span that is only a list marker ('1.', '(a)') with the span that follows it."""
    merged: list[tuple[int, int]] = []
    carry_start: int | None = None
    for start, end in spans:
        if carry_start is not None:
            start, carry_start = carry_start, None
        if _LIST_MARKER_ONLY_RE.match(text[start:end].strip()):
            carry_start = start
            continue
        merged.append((start, end))
    if carry_start is not None:
        merged.append((carry_start, spans[-1][1]))
    return merged


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """Sentence spans of a page text, in order, non-overlapping, without edge whitespace.

    Every non-space character of `text` lies in exactly one span.
    """
    tokenizer = _punkt()
    spans: list[tuple[int, int]] = []
    for block_start, block_end in block_spans(text):
        block = text[block_start:block_end]
        if "." in block or "?" in block or "!" in block:
            pieces = [(block_start + a, block_start + b) for a, b in tokenizer.span_tokenize(block)]
        else:
            pieces = [(block_start, block_end)]  # no sentence punctuation: Punkt would not split
        spans.extend(pieces)
    spans = _merge_list_markers(text, spans)  # also a marker alone on its line, e.g. "(1)"
    return [_strip_span(text, start, end) for start, end in spans if text[start:end].strip()]


def _strip_span(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end
