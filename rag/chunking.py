"""Pack whole sentences of one page into chunks that fit the embedder's window.

Sizes are counted with the embedder's OWN tokenizer, special tokens included: chunks sized in
tiktoken tokens mostly overflowed MiniLM's 256-wordpiece window and were silently truncated. Each
page is tokenized once, with offsets; a sentence's size is the number of page tokens that start
inside it. Then:

1. Any sentence longer than the window (long table lines, text without punctuation) is split at
   the last line break, else `"; "`, else space before the token limit, else at the limit token
   itself, into several sentence spans. Nothing is truncated: the pieces cover the sentence.
2. Consecutive sentences are packed greedily; every chunk's exact token count is then checked in
   one batch (a BPE tokenizer can merge across a sentence boundary, so the per-sentence sum is an
   estimate) and a chunk over the window is re-packed sentence by sentence.

Overlap: by default each chunk repeats the last sentence of the previous chunk when that sentence
uses at most a quarter of the budget. Filings put the context of a fact in the line before it (a
table's column-header row, "The following table shows…"); repeating one short sentence keeps such
pairs retrievable together at the cost of a few more chunks, and so a little more embedding time,
the dominant ingest cost (compare with `bench/check_pages.py --overlap 0 1`; BENCHMARKS.md).
`overlap_sentences=0` turns it off.

The tokenizer is used through the Rust `tokenizers.Tokenizer` (a Hugging Face fast tokenizer's
`backend_tokenizer`, copied with truncation and padding switched off: MiniLM's `tokenizer.json`
ships with both set to 128, which would make every count wrong).
"""

from __future__ import annotations

import json
from bisect import bisect_left
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import tokenizers

from cai.core.assets import minilm_path
from cai.core.contracts import Chunk, Locator, SentenceSpan

_PREFERRED_CUTS = ("\n", "; ", " ")


def _read_json(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def _local_window(model_dir: Path) -> int | None:
    """The input window of a local sentence-transformers folder: `max_seq_length`, capped by the
    tokenizer's `model_max_length` when that is smaller."""
    window = _read_json(model_dir / "sentence_bert_config.json").get("max_seq_length")
    tokenizer_max = _read_json(model_dir / "tokenizer_config.json").get("model_max_length")
    limits = [int(v) for v in (window, tokenizer_max) if isinstance(v, int | float) and v < 10**7]
    return min(limits) if limits else None


def _plain_backend(tokenizer: Any) -> tokenizers.Tokenizer:
    """A private copy of the Rust tokenizer behind `tokenizer`, without truncation or padding."""
    backend = tokenizer if isinstance(tokenizer, tokenizers.Tokenizer) else None
    backend = backend or getattr(tokenizer, "backend_tokenizer", None)
    if backend is None:
        raise ValueError("Chunker needs a fast (Rust) tokenizer: it reads offset mappings")
    plain = tokenizers.Tokenizer.from_str(backend.to_str())
    plain.no_truncation()
    plain.no_padding()
    return plain


class Chunker:
    """Sentence-preserving chunker sized by `tokenizer`; no chunk exceeds `max_tokens` tokens.

    `tokenizer` is a Hugging Face fast tokenizer or a `tokenizers.Tokenizer`; `max_tokens`
    counts special tokens, i.e. it is the model's input window (`max_seq_length`).
    """

    def __init__(
        self,
        tokenizer: Any,
        max_tokens: int,
        *,
        overlap_sentences: int = 1,
        max_overlap_fraction: float = 0.25,
    ) -> None:
        self.backend = _plain_backend(tokenizer)
        special = len(self.backend.encode("", add_special_tokens=True).ids)
        if max_tokens - special < 8:
            raise ValueError(
                f"max_tokens={max_tokens} leaves no room after {special} special tokens"
            )
        if overlap_sentences < 0 or not 0.0 <= max_overlap_fraction < 1.0:
            raise ValueError("overlap_sentences must be >= 0 and max_overlap_fraction in [0, 1)")
        self.max_tokens = max_tokens
        self.budget = max_tokens - special
        self.overlap_sentences = overlap_sentences
        self.max_overlap_tokens = int(max_overlap_fraction * self.budget)

    @classmethod
    def for_model(cls, model_name_or_path: str | Path | None = None, **options: Any) -> Chunker:
        """A chunker for a sentence-transformers model: its tokenizer and `max_seq_length`.

        A local folder with `tokenizer.json` is read directly (no weights, no `transformers`
        import); anything else is loaded through sentence-transformers. Default: offline MiniLM.
        """
        name = str(model_name_or_path or minilm_path())
        local = Path(name)
        window = _local_window(local) if local.is_dir() else None
        if window and (local / "tokenizer.json").is_file():
            return cls(
                tokenizers.Tokenizer.from_file(str(local / "tokenizer.json")), window, **options
            )
        from sentence_transformers import SentenceTransformer

        model = SentenceTransformer(name, device="cpu")
        return cls(model.tokenizer, model.max_seq_length, **options)

    # ------------------------------------------------------------------ counting

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Token counts without special tokens, one per text."""
        encodings = self.backend.encode_batch_fast(list(texts), add_special_tokens=False)
        return [len(encoding.ids) for encoding in encodings]

    def window_tokens(self, text: str) -> int:
        """Tokens the embedder sees for `text`, special tokens included."""
        return len(self.backend.encode(text, add_special_tokens=True).ids)

    # ------------------------------------------------------------------ long sentences

    def fit_sentences(self, text: str, spans: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
        """`spans` with every span longer than the budget split into pieces that fit."""
        return self._fit(_PageTokens(self.backend, text), spans)

    def _fit(self, page: _PageTokens, spans: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
        """Split by page-level counts, then confirm pieces near the limit in isolation.

        For a WordPiece tokenizer the page-level count of a span is exact; a BPE tokenizer may
        tokenize a span's edges differently on its own, so pieces within `_NEAR_LIMIT` tokens of
        the budget are re-counted alone and, if over, re-split with a smaller budget.
        """
        fitted: list[tuple[int, int]] = []
        for start, end in spans:
            pieces = page.split(start, end, self.budget)
            for piece_start, piece_end in pieces:
                if page.count(piece_start, piece_end) <= self.budget - _NEAR_LIMIT:
                    fitted.append((piece_start, piece_end))
                else:
                    fitted.extend(self._fit_alone(page.text, piece_start, piece_end, self.budget))
        return fitted

    def _fit_alone(self, text: str, start: int, end: int, budget: int) -> list[tuple[int, int]]:
        """Pieces of text[start:end] whose own tokenization fits `self.budget`."""
        if self.count_tokens([text[start:end]])[0] <= self.budget:
            return [(start, end)]
        if budget <= _NEAR_LIMIT:
            raise RuntimeError(f"cannot fit text[{start}:{end}] into {self.budget} tokens")
        alone = _PageTokens(self.backend, text, start, end)
        pieces = alone.split(start, end, budget - _NEAR_LIMIT)
        return [
            fitted
            for piece_start, piece_end in pieces
            for fitted in self._fit_alone(text, piece_start, piece_end, budget - _NEAR_LIMIT)
        ]

    # ------------------------------------------------------------------ packing

    def split_page(
        self, doc_id: str, page: int, text: str, spans: Sequence[tuple[int, int]]
    ) -> tuple[list[SentenceSpan], list[Chunk]]:
        """Fit the sentence spans of one page and pack them: (sentence spans, chunks)."""
        tokens = _PageTokens(self.backend, text)
        sentences = [
            SentenceSpan(sentence=index, char_start=start, char_end=end)
            for index, (start, end) in enumerate(self._fit(tokens, spans))
        ]
        return sentences, self._chunks(doc_id, page, text, sentences, tokens)

    def chunk_page(
        self, doc_id: str, page: int, text: str, sentences: Sequence[SentenceSpan]
    ) -> list[Chunk]:
        """Chunks of whole sentences of one page; ids `<doc_id>:p<page>:c<n>` with n from 0.

        `sentences` must already fit the window (see `fit_sentences` / `split_page`).
        """
        return self._chunks(doc_id, page, text, list(sentences), _PageTokens(self.backend, text))

    def _chunks(
        self,
        doc_id: str,
        page: int,
        text: str,
        sentences: list[SentenceSpan],
        tokens: _PageTokens,
    ) -> list[Chunk]:
        counts = [tokens.count(s.char_start, s.char_end) for s in sentences]
        groups = self._verified(text, self._pack(sentences, counts))
        return [_chunk(doc_id, page, text, group, n) for n, group in enumerate(groups)]

    def _pack(self, sentences: list[SentenceSpan], counts: list[int]) -> list[list[SentenceSpan]]:
        """Greedy packing by per-sentence counts, with the overlap described in the docstring."""
        groups: list[list[SentenceSpan]] = []
        index = 0
        while index < len(sentences):
            start = self._overlap_start(len(groups[-1]), index, counts) if groups else index
            total = sum(counts[start:index])
            end = index
            while end < len(sentences) and (end == index or total + counts[end] <= self.budget):
                total += counts[end]
                end += 1
            if total > self.budget:  # overlap plus one new sentence is too big: drop the overlap
                start = index
            groups.append(sentences[start:end])
            index = end
        return groups

    def _overlap_start(self, previous_size: int, index: int, counts: list[int]) -> int:
        """First sentence of the next group: up to `overlap_sentences` repeated, within the cap.

        Never the whole previous group (that one already stands as a chunk of its own).
        """
        start = index
        used = 0
        while (
            index - start < min(self.overlap_sentences, previous_size - 1)
            and used + counts[start - 1] <= self.max_overlap_tokens
        ):
            start -= 1
            used += counts[start]
        return start

    def _verified(self, text: str, groups: list[list[SentenceSpan]]) -> list[list[SentenceSpan]]:
        """Groups whose exact window count fits; any other is re-packed one sentence at a time."""
        texts = [text[g[0].char_start : g[-1].char_end] for g in groups]
        sizes = [len(e.ids) for e in self.backend.encode_batch_fast(texts, add_special_tokens=True)]
        verified: list[list[SentenceSpan]] = []
        for group, size in zip(groups, sizes, strict=True):
            if size <= self.max_tokens:
                verified.append(group)
                continue
            current: list[SentenceSpan] = []
            for sentence in group:
                candidate = text[(current or [sentence])[0].char_start : sentence.char_end]
                if current and self.window_tokens(candidate) > self.max_tokens:
                    verified.append(current)
                    current = []
                current.append(sentence)
            verified.append(current)
        return verified


_NEAR_LIMIT = 8


class _PageTokens:
    """One tokenization of text[start:end] with offsets; span counts by bisection.

    A span's count is the number of tokens that start inside it. Sentence boundaries sit on
    whitespace, where WordPiece and BPE pre-tokenizers split too, so counts add up per sentence.
    """

    def __init__(
        self, backend: tokenizers.Tokenizer, text: str, start: int = 0, end: int | None = None
    ):
        self.text = text
        end = len(text) if end is None else end
        offsets = backend.encode(text[start:end], add_special_tokens=False).offsets
        pairs = sorted((start + a, start + b) for a, b in offsets)
        self.starts = [a for a, _ in pairs]
        self.ends = [b for _, b in pairs]

    def count(self, start: int, end: int) -> int:
        return bisect_left(self.starts, end) - bisect_left(self.starts, start)

    def split(self, start: int, end: int, budget: int) -> list[tuple[int, int]]:
        """text[start:end] cut into pieces of at most `budget` tokens (see module docstring)."""
        pieces: list[tuple[int, int]] = []
        while self.count(start, end) > budget:
            limit = self.ends[bisect_left(self.starts, start) + budget - 1]
            cut = self._cut(start, limit)
            head_end = cut
            while head_end > start and self.text[head_end - 1].isspace():
                head_end -= 1
            pieces.append((start, head_end))
            start = cut
            while start < end and self.text[start].isspace():
                start += 1
        if start < end:
            pieces.append((start, end))
        return pieces

    def _cut(self, start: int, limit: int) -> int:
        """The last line break, else '; ', else space in (start, limit]; else `limit` itself."""
        for separator in _PREFERRED_CUTS:
            position = self.text.rfind(separator, start + 1, limit + len(separator))
            if position > start:
                return position + len(separator)
        return max(limit, start + 1)


def _chunk(doc_id: str, page: int, text: str, group: list[SentenceSpan], n: int) -> Chunk:
    first, last = group[0], group[-1]
    locator = Locator(
        doc_id=doc_id,
        page=page,
        char_start=first.char_start,
        char_end=last.char_end,
        sentence=first.sentence,
    )
    return Chunk(
        chunk_id=f"{doc_id}:p{page}:c{n}",
        locator=locator,
        text=text[first.char_start : last.char_end],
        sentences=list(group),
    )
