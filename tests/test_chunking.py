"""Chunking with the real MiniLM tokenizer: window limits, whole sentences, long-line splits,
overlap, deterministic ids, and exact locators through `parse_file`."""

from __future__ import annotations

from pathlib import Path

import pytest

from cai.core.assets import minilm_path
from rag.chunking import Chunker
from rag.parse import parse_file
from rag.sentences import sentence_spans


@pytest.fixture(scope="module")
def minilm() -> Chunker:
    return Chunker.for_model()


def small_chunker(minilm: Chunker, max_tokens: int = 40, **options) -> Chunker:
    """The MiniLM tokenizer with a tiny window, so short test pages need several chunks."""
    return Chunker(minilm.backend, max_tokens, **options)


PAGE = " ".join(
    f"In fiscal {2000 + n} the segment sold {n}.{n} million units in the U.S. and abroad."
    for n in range(1, 13)
)


def test_for_model_reads_the_embedder_window_and_counts_special_tokens(minilm: Chunker):
    assert minilm.max_tokens == 256  # sentence_bert_config.json of the shipped MiniLM
    assert minilm.budget == 254  # [CLS] and [SEP]
    assert minilm.window_tokens("net sales") == minilm.count_tokens(["net sales"])[0] + 2
    assert Chunker.for_model(str(minilm_path())).max_tokens == 256


def test_counts_ignore_the_truncation_shipped_in_tokenizer_json(minilm: Chunker):
    # MiniLM's tokenizer.json pads and truncates to 128; a count must see every token.
    assert minilm.count_tokens(["word " * 300]) == [300]


def test_chunks_hold_whole_sentences_of_one_page_within_the_window(minilm: Chunker):
    chunker = small_chunker(minilm, 40, overlap_sentences=0)
    spans = sentence_spans(PAGE)
    sentences, chunks = chunker.split_page("doc", 7, PAGE, spans)
    assert [(s.char_start, s.char_end) for s in sentences] == spans  # all fit: none split
    assert len(chunks) > 3
    assert [c.chunk_id for c in chunks] == [f"doc:p7:c{n}" for n in range(len(chunks))]
    for chunk in chunks:
        assert chunker.window_tokens(chunk.text) <= 40
        assert chunk.text == PAGE[chunk.locator.char_start : chunk.locator.char_end]
        assert chunk.locator.page == 7 and chunk.locator.sentence == chunk.sentences[0].sentence
        assert chunk.text.startswith("In fiscal") and chunk.text.endswith("abroad.")
    covered = [s.sentence for chunk in chunks for s in chunk.sentences]
    assert covered == list(range(len(sentences)))  # no overlap: each sentence exactly once


def test_overlap_repeats_one_short_sentence(minilm: Chunker):
    chunker = small_chunker(minilm, 100, overlap_sentences=1)  # cap 24 tokens > 20 per sentence
    _, chunks = chunker.split_page("doc", 1, PAGE, sentence_spans(PAGE))
    for previous, following in zip(chunks, chunks[1:], strict=False):
        assert following.sentences[0] == previous.sentences[-1]
        assert chunker.window_tokens(following.text) <= 100
    assert chunks[-1].sentences[-1].sentence == len(sentence_spans(PAGE)) - 1


def test_overlap_is_skipped_when_the_sentence_is_too_long_for_the_cap(minilm: Chunker):
    # max_overlap_fraction=0.1 of a 38-token budget allows 3 tokens: no sentence is that short.
    chunker = small_chunker(minilm, 40, overlap_sentences=1, max_overlap_fraction=0.1)
    _, chunks = chunker.split_page("doc", 1, PAGE, sentence_spans(PAGE))
    covered = [s.sentence for chunk in chunks for s in chunk.sentences]
    assert covered == sorted(set(covered))


def test_long_table_line_is_split_at_line_breaks_then_semicolons_then_words(minilm: Chunker):
    row = "Revenue 1,234 5,678 9,012 3,456 7,890 1,357 2,468"
    chunker = small_chunker(minilm, minilm.count_tokens([row])[0] + 2, overlap_sentences=0)
    text = f"{row}\n{row}\n{row}"  # one "sentence" of three table lines
    pieces = chunker.fit_sentences(text, [(0, len(text))])
    assert [text[a:b] for a, b in pieces] == [row, row, row]

    clause = "segment sales rose sharply in every region"
    chunker = small_chunker(minilm, minilm.count_tokens([clause + ";"])[0] + 3, overlap_sentences=0)
    text = f"{clause}; {clause}; {clause}"
    pieces = chunker.fit_sentences(text, [(0, len(text))])
    assert [text[a:b] for a, b in pieces] == [f"{clause};", f"{clause};", clause]

    chunker = small_chunker(minilm, 24, overlap_sentences=0)
    words = " ".join(f"item{n}" for n in range(60))
    pieces = chunker.fit_sentences(words, [(0, len(words))])
    assert len(pieces) > 2
    assert " ".join(words[a:b] for a, b in pieces) == words  # nothing dropped, cut at spaces
    assert all(chunker.count_tokens([words[a:b]])[0] <= chunker.budget for a, b in pieces)


def test_text_without_spaces_is_cut_at_token_boundaries(minilm: Chunker):
    chunker = small_chunker(minilm, 16, overlap_sentences=0)
    text = ",".join(str(n) for n in range(200))  # no whitespace at all
    pieces = chunker.fit_sentences(text, [(0, len(text))])
    assert "".join(text[a:b] for a, b in pieces) == text
    assert all(chunker.window_tokens(text[a:b]) <= 16 for a, b in pieces)


def test_parse_file_splits_long_lines_into_sentence_spans(tmp_path: Path, minilm: Chunker):
    row = " ".join(f"{n},{n:03d}" for n in range(400))  # a table line far over 256 tokens
    path = tmp_path / "wide.txt"
    path.write_text(f"Wide table follows.\n{row}\nEnd of table.\n", encoding="utf-8")
    parsed = parse_file(path, doc_id="wide", chunker=minilm)
    page = parsed.pages[0]
    texts = [page.text[s.char_start : s.char_end] for s in page.sentences]
    assert texts[0] == "Wide table follows." and texts[-1] == "End of table."
    assert " ".join(texts[1:-1]) == row  # the row, split into several spans, nothing lost
    assert len(texts) > 4
    for chunk in parsed.chunks:
        assert minilm.window_tokens(chunk.text) <= 256
        assert chunk.text == page.text[chunk.locator.char_start : chunk.locator.char_end]


def test_chunk_ids_are_deterministic_across_runs(tmp_path: Path, minilm: Chunker):
    path = tmp_path / "report.txt"
    path.write_text(f"{PAGE}\f{PAGE}", encoding="utf-8")
    first = parse_file(path, doc_id="report", chunker=minilm)
    second = parse_file(path, doc_id="report", chunker=minilm)
    assert [c.model_dump() for c in first.chunks] == [c.model_dump() for c in second.chunks]
    assert {c.chunk_id for c in first.chunks} == {"report:p1:c0", "report:p2:c0"}


def test_rejects_a_window_too_small_for_special_tokens(minilm: Chunker):
    with pytest.raises(ValueError, match="leaves no room"):
        Chunker(minilm.backend, 5)
    with pytest.raises(ValueError, match="fast"):
        Chunker(object(), 256)
