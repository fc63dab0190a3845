"""Readers: turn a PDF, HTML, TXT or Markdown file into a list of normalised page texts.

Page numbering (the `Locator` contract in cai/core/contracts.py): PDF pages are the file's
physical pages in order (page 1 is the first page a PDF viewer shows). HTML/TXT/MD files are one
page per form feed (`\\f`) or one page per file; HTML also breaks pages at CSS forced page breaks
(`page-break-before/after: always`, `break-before/after: page`), which is how SEC EDGAR filings
mark their printed pages.

Every page text goes through `normalise_page_text` exactly once, here, before anything computes an
offset into it: sentence spans, chunk locators and quotes all index the same string.

Problems fall into two kinds: `UnreadableFile` (nothing can be ingested; the caller records a
"skipped" issue and moves on) and degraded reasons (`ExtractedPages.degraded`: some text was
recovered, some was not).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

import pypdfium2 as pdfium

from rag.html_text import html_to_text

PDF_SUFFIXES = frozenset({".pdf"})
HTML_SUFFIXES = frozenset({".htm", ".html", ".xhtml"})
TEXT_SUFFIXES = frozenset({".txt", ".text", ".md", ".markdown"})
SUPPORTED_SUFFIXES = PDF_SUFFIXES | HTML_SUFFIXES | TEXT_SUFFIXES

PAGE_BREAK = "\f"


class UnreadableFile(Exception):
    """The file cannot be ingested at all; `reason` says why in words a user can act on."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class ExtractLimits:
    """Caps that keep one hostile or huge file from exhausting memory or time.

    A file over `max_file_bytes` is skipped; text/HTML files are read only up to `max_text_bytes`
    (degraded); pages past `max_pages` and page text past `max_page_chars` are dropped (degraded).
    """

    max_file_bytes: int = 2 * 1024**3
    max_text_bytes: int = 64 * 1024**2
    max_pages: int = 20_000
    max_page_chars: int = 1_000_000


@dataclass
class ExtractedPages:
    """Normalised page texts of one file (index i is page i+1) and why extraction was degraded."""

    pages: list[str]
    degraded: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------- normalisation

# Zero-width and soft-hyphen characters carry no visible text; pdfium also emits U+FFFE/U+FFFF
# and \x02 as internal markers (hyphenation / unknown glyphs).
_INVISIBLE_RE = re.compile("[\u00ad\u200b\u200c\u200d\u2060\ufeff\ufffe\uffff]")
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_SPACE_RUN_RE = re.compile(r"[^\S\n]+")
_EDGE_SPACE_RE = re.compile(r" *\n *")
_BLANK_LINES_RE = re.compile(r"\n{3,}")


def normalise_page_text(text: str) -> str:
    """Canonical page text: NFKC (ligatures, no-break spaces), `\\n` line ends, single spaces.

    NFKC folds compatibility characters that PDF extractors leave behind (`ﬁ` → `fi`, U+00A0 →
    space, full-width digits) so that quotes typed by people or models match the stored text.
    Runs of spaces/tabs collapse to one space, lines lose edge spaces, and more than one blank
    line collapses to one; the result is stripped.
    """
    text = unicodedata.normalize("NFKC", text)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = text.replace("\u2028", "\n").replace("\u2029", "\n").replace("\x0b", "\n")
    text = text.replace("\x0c", "\n")
    text = _INVISIBLE_RE.sub("", text)
    text = text.replace("\x02", "-")  # pdfium's marker for a hyphen at a line end
    text = _CONTROL_RE.sub(" ", text)
    text = _SPACE_RUN_RE.sub(" ", text)
    text = _EDGE_SPACE_RE.sub("\n", text)
    text = _BLANK_LINES_RE.sub("\n\n", text)
    return text.strip()


def _cap_pages(raw_pages: list[str], limits: ExtractLimits) -> ExtractedPages:
    """Normalise each page and apply the page-count and page-size caps, noting what was cut."""
    degraded: list[str] = []
    if len(raw_pages) > limits.max_pages:
        degraded.append(
            f"{len(raw_pages)} pages; only the first {limits.max_pages} were read (max_pages)"
        )
        raw_pages = raw_pages[: limits.max_pages]
    pages: list[str] = []
    cut_pages: list[int] = []
    for number, raw in enumerate(raw_pages, start=1):
        text = normalise_page_text(raw)
        if len(text) > limits.max_page_chars:
            text = text[: limits.max_page_chars]
            cut_pages.append(number)
        pages.append(text)
    if cut_pages:
        degraded.append(
            f"page text over {limits.max_page_chars} chars was cut on pages {_page_list(cut_pages)}"
        )
    return ExtractedPages(pages=pages, degraded=degraded)


def _page_list(numbers: list[int], shown: int = 12) -> str:
    """'1, 2, 5' or '1, 2, … (+40 more)' for issue messages."""
    head = ", ".join(str(n) for n in numbers[:shown])
    return head if len(numbers) <= shown else f"{head}, … (+{len(numbers) - shown} more)"


# --------------------------------------------------------------------------- PDF

_PDF_MAGIC = b"%PDF-"


def read_pdf(path: Path, limits: ExtractLimits) -> ExtractedPages:
    """Physical pages of a PDF via pypdfium2 (PDFium: Apache-2.0/BSD; PyMuPDF is AGPL).

    PDFium opens files encrypted with an empty user password without being asked; a file that
    needs a real password is unreadable. PDFium repairs a broken cross-reference table but not a
    file cut short (measured: a 10-K truncated to 90% does not open, nor does pypdf recover it),
    so a truncated file is unreadable with a reason that says so. Pages that fail to load come
    back empty and are reported as degraded, as are pages without a text layer (scans).
    """
    with path.open("rb") as handle:
        head = handle.read(1024)
    if _PDF_MAGIC not in head:
        raise UnreadableFile(
            f"not a PDF: no '%PDF-' header in the first 1024 bytes ({_kind_of(head)})"
        )
    try:
        document = pdfium.PdfDocument(str(path))
    except pdfium.PdfiumError as error:
        raise UnreadableFile(
            _pdfium_open_reason(error, truncated=not _tail_has_eof_marker(path))
        ) from error
    try:
        raw_pages, failed = _pdf_page_texts(document, limits.max_pages)
        n_pages = len(document)
    finally:
        document.close()
    extracted = _cap_pages(raw_pages, limits)
    if n_pages > limits.max_pages:
        extracted.degraded.insert(
            0, f"{n_pages} pages; only the first {limits.max_pages} were read (max_pages)"
        )
    if failed:
        extracted.degraded.append(f"PDFium could not load pages {_page_list(failed)}")
    return extracted


def _pdf_page_texts(document: pdfium.PdfDocument, max_pages: int) -> tuple[list[str], list[int]]:
    """Raw text of each page (up to `max_pages`) and the 1-based numbers of pages that failed."""
    texts: list[str] = []
    failed: list[int] = []
    for index in range(min(len(document), max_pages)):
        try:
            page = document[index]
            text_page = page.get_textpage()
            texts.append(text_page.get_text_bounded())
            text_page.close()
            page.close()
        except pdfium.PdfiumError:
            texts.append("")
            failed.append(index + 1)
    return texts, failed


def _pdfium_open_reason(error: pdfium.PdfiumError, *, truncated: bool) -> str:
    """A user-facing reason for a PDF that PDFium refused to open."""
    message = str(error)
    if "password" in message.lower():
        return "encrypted PDF that needs a password (only an empty user password can be opened)"
    if truncated:
        return f"truncated PDF (no %%EOF marker at the end) that PDFium cannot repair: {message}"
    return f"corrupt or unsupported PDF: {message}"


def _tail_has_eof_marker(path: Path) -> bool:
    """True if '%%EOF' occurs in the last 2 KiB (writers append it; truncation removes it)."""
    with path.open("rb") as handle:
        handle.seek(0, 2)
        size = handle.tell()
        handle.seek(max(0, size - 2048))
        return b"%%EOF" in handle.read()


def _kind_of(head: bytes) -> str:
    """Best guess at what a non-PDF file is, for the skip reason."""
    if not head:
        return "the file is empty"
    if b"\x00" in head:
        return "binary content"
    return "text content"


# --------------------------------------------------------------------------- text and HTML


def read_text_bytes(path: Path, limits: ExtractLimits) -> tuple[bytes, list[str]]:
    """The file's bytes, at most `max_text_bytes` of them (streamed, never the whole file)."""
    with path.open("rb") as handle:
        data = handle.read(limits.max_text_bytes + 1)
    if len(data) <= limits.max_text_bytes:
        return data, []
    size = path.stat().st_size
    note = f"file is {size:,} bytes; only the first {limits.max_text_bytes:,} were read (max_text_bytes)"
    return data[: limits.max_text_bytes], [note]


def decode_text(data: bytes, declared: str | None = None) -> tuple[str, list[str]]:
    """Decode text bytes: BOM, then UTF-8, then a declared charset, then cp1252 (degraded).

    The fallback chain is hand-written because it is four lines of stdlib; cp1252 is the usual
    encoding of non-UTF-8 English filings, and Latin-1 (which decodes any byte) is the last resort.
    A UTF-8 sequence cut by the `max_text_bytes` cap is not an encoding error, so up to three
    trailing bytes are retried without.
    """
    for bom, encoding in (
        (b"\xef\xbb\xbf", "utf-8-sig"),
        (b"\xff\xfe", "utf-16"),
        (b"\xfe\xff", "utf-16"),
    ):
        if data.startswith(bom):
            text = data.decode(encoding, errors="replace")
            broken = "\ufffd" in text
            return text, [f"invalid {encoding} bytes replaced with U+FFFD"] if broken else []
    for cut in range(4):
        try:
            return data[: len(data) - cut].decode("utf-8"), []
        except UnicodeDecodeError:
            continue
    for encoding in (declared, "cp1252"):
        if not encoding:
            continue
        try:
            text = data.decode(encoding)
        except (UnicodeDecodeError, LookupError):
            continue
        return text, [f"not valid UTF-8; decoded as {encoding}"]
    return data.decode("latin-1"), ["not valid UTF-8 or cp1252; decoded as latin-1"]


def _reject_binary(data: bytes) -> None:
    """Raise UnreadableFile for content that is not text (NUL bytes, or mostly control bytes)."""
    sample = data[:8192]
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return  # UTF-16 text legitimately contains NUL bytes
    if b"\x00" in sample:
        raise UnreadableFile("binary content, not text (NUL bytes in the first 8 KiB)")
    controls = sum(1 for byte in sample if byte < 32 and byte not in (9, 10, 12, 13))
    if sample and controls / len(sample) > 0.05:
        raise UnreadableFile("binary content, not text (over 5% control bytes)")


def split_form_feed_pages(text: str, *, drop_empty_edges: bool) -> list[str]:
    """Split on form feeds: one page per `\\f`-separated part.

    A trailing empty part (a file ending in `\\f`) is never a page. With `drop_empty_edges`
    (HTML, where a forced break at the start or end prints no blank page) empty leading parts and
    runs of empty parts collapse too.
    """
    parts = text.split(PAGE_BREAK)
    if drop_empty_edges:
        parts = [part for part in parts if part.strip()]
    while len(parts) > 1 and not parts[-1].strip():
        parts.pop()
    return parts or [""]


def read_plain_text(path: Path, limits: ExtractLimits) -> ExtractedPages:
    """TXT/Markdown: decoded text, one page per form feed. Markdown is kept as written."""
    data, notes = read_text_bytes(path, limits)
    _reject_binary(data)
    text, decode_notes = decode_text(data)
    extracted = _cap_pages(split_form_feed_pages(text, drop_empty_edges=False), limits)
    extracted.degraded[:0] = notes + decode_notes
    return extracted


_META_CHARSET_RE = re.compile(rb"<meta[^>]+charset=[\"']?([A-Za-z0-9_\-]+)", re.IGNORECASE)


def read_html(path: Path, limits: ExtractLimits) -> ExtractedPages:
    """HTML (e.g. EDGAR filings): visible text, tables as ' | ' rows, pages at forced breaks."""
    data, notes = read_text_bytes(path, limits)
    _reject_binary(data)
    declared = _META_CHARSET_RE.search(data[:4096])
    markup, decode_notes = decode_text(
        data, declared.group(1).decode("ascii") if declared else None
    )
    text = html_to_text(markup)
    extracted = _cap_pages(split_form_feed_pages(text, drop_empty_edges=True), limits)
    extracted.degraded[:0] = notes + decode_notes
    return extracted


# --------------------------------------------------------------------------- dispatch


def read_pages(path: Path, limits: ExtractLimits | None = None) -> ExtractedPages:
    """Pages of any supported file, chosen by suffix; UnreadableFile when nothing can be read."""
    limits = limits or ExtractLimits()
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        supported = ", ".join(sorted(SUPPORTED_SUFFIXES))
        raise UnreadableFile(
            f"unsupported file type {suffix or '(no suffix)'!r}; supported: {supported}"
        )
    try:
        size = path.stat().st_size
    except OSError as error:
        raise UnreadableFile(f"cannot read file: {error.strerror or error}") from error
    if size == 0:
        raise UnreadableFile("empty file (0 bytes)")
    if size > limits.max_file_bytes:
        raise UnreadableFile(
            f"file is {size:,} bytes, over max_file_bytes={limits.max_file_bytes:,}"
        )
    try:
        if suffix in PDF_SUFFIXES:
            extracted = read_pdf(path, limits)
        elif suffix in HTML_SUFFIXES:
            extracted = read_html(path, limits)
        else:
            extracted = read_plain_text(path, limits)
    except OSError as error:
        raise UnreadableFile(f"cannot read file: {error.strerror or error}") from error
    _check_has_text(extracted)
    return extracted


def _check_has_text(extracted: ExtractedPages) -> None:
    """No text on any page → unreadable; some pages without text → degraded."""
    empty = [number for number, text in enumerate(extracted.pages, start=1) if not text]
    if len(empty) == len(extracted.pages):
        raise UnreadableFile(
            f"no extractable text on any of {len(extracted.pages)} page(s) "
            "(image-only/scanned or blank; OCR is not supported)"
        )
    if empty:
        extracted.degraded.append(
            f"{len(empty)} of {len(extracted.pages)} pages have no text layer "
            f"(image-only or blank): pages {_page_list(empty)}"
        )
