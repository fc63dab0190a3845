"""Entry point of extraction: one file → `ParsedDocument` (pages, sentences, chunks, metadata).

    chunker = Chunker.for_model()            # the embedder's tokenizer and window
    doc_id = doc_id_for(path, taken)         # file stem, unique within the corpus
    parsed = parse_file(path, doc_id=doc_id, chunker=chunker)

`parse_file` raises `UnreadableFile` when nothing can be ingested (the caller records an
`IngestIssue` with status "skipped" and goes on) and lists partial failures as "degraded" issues
in `ParsedDocument.issues`. Folders are the caller's business.

Text found in a file is data: an "ignore previous instructions" line is stored and indexed like
any other sentence; nothing here interprets document text.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from pathlib import Path

from cai.core.contracts import Chunk, Document, IngestIssue, PageText, ParsedDocument
from rag.chunking import Chunker
from rag.extract import ExtractLimits, UnreadableFile, read_pages
from rag.metadata import read_metadata
from rag.sentences import sentence_spans

__all__ = ["ExtractLimits", "UnreadableFile", "doc_id_for", "file_sha256", "parse_file"]

# A doc_id must survive the inline citation form `[DOC_ID p.N]` (cai.core.contracts.CITATION_RE).
_DOC_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
_SLUG_INVALID_RE = re.compile(r"[^A-Za-z0-9_.\-]+")
_MAX_DOC_ID_LENGTH = 120


def doc_id_for(path: Path, taken: set[str]) -> str:
    """The file's stem, slugified only if it must be, made unique against `taken`.

    A stem that is not a valid id (spaces, accents, brackets…) becomes an ASCII slug; a stem
    already in `taken` gets '-' plus the first hex digits of sha256(absolute path), so the same
    file gets the same id on every run. `taken` is not modified.
    """
    path = Path(path)
    stem = path.stem
    if not _DOC_ID_RE.match(stem) or len(stem) > _MAX_DOC_ID_LENGTH:
        ascii_stem = unicodedata.normalize("NFKD", stem).encode("ascii", "ignore").decode("ascii")
        stem = _SLUG_INVALID_RE.sub("-", ascii_stem).strip("-_.")[:_MAX_DOC_ID_LENGTH] or "doc"
    if stem not in taken:
        return stem
    digest = hashlib.sha256(str(path.resolve()).encode("utf-8")).hexdigest()
    for length in range(6, len(digest) + 1, 2):
        candidate = f"{stem}-{digest[:length]}"
        if candidate not in taken:
            return candidate
    raise ValueError(f"cannot make a unique doc_id for {path}")  # 64 hex digits all taken


def file_sha256(path: Path, block_size: int = 1 << 20) -> str:
    """sha256 of the file bytes, streamed."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        while block := handle.read(block_size):
            digest.update(block)
    return digest.hexdigest()


def parse_file(
    path: Path,
    *,
    doc_id: str,
    chunker: Chunker,
    limits: ExtractLimits | None = None,
) -> ParsedDocument:
    """Pages → sentences → chunks of one PDF/HTML/TXT/MD file, with metadata and issues.

    Sentences longer than the chunker's window are split into several sentence spans first, so
    `PageText.sentences` and the chunks agree and no text is dropped.
    """
    path = Path(path)
    extracted = read_pages(path, limits)
    try:
        sha256 = file_sha256(path)
    except OSError as error:
        raise UnreadableFile(f"cannot read file: {error.strerror or error}") from error
    pages: list[PageText] = []
    chunks: list[Chunk] = []
    for number, text in enumerate(extracted.pages, start=1):
        sentences, page_chunks = chunker.split_page(doc_id, number, text, sentence_spans(text))
        pages.append(PageText(doc_id=doc_id, page=number, text=text, sentences=sentences))
        chunks.extend(page_chunks)
    document = Document(
        doc_id=doc_id,
        path=str(path),
        sha256=sha256,
        n_pages=len(pages),
        metadata=read_metadata(extracted.pages, path.stem),
    )
    issues = [
        IngestIssue(path=str(path), status="degraded", reason=reason)
        for reason in extracted.degraded
    ]
    return ParsedDocument(document=document, pages=pages, chunks=chunks, issues=issues)
