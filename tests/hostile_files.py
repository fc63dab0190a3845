"""Generators for test documents, good and hostile, written into a test's tmp directory.

PDFs are drawn with reportlab and then encrypted, truncated or corrupted with pypdf / plain bytes,
so every test file is made by the test run itself (nothing binary is checked in).
"""

from __future__ import annotations

from pathlib import Path

from pypdf import PdfReader, PdfWriter
from reportlab.lib.pagesizes import letter
from reportlab.pdfgen import canvas


def text_pdf(path: Path, pages: list[list[str] | None]) -> Path:
    """A PDF with one page per item: its lines of text, or None for a page with only a rectangle
    (no text layer, like a scanned page)."""
    pdf = canvas.Canvas(str(path), pagesize=letter)
    for lines in pages:
        if lines is None:
            pdf.rect(72, 300, 300, 200, fill=1)
        else:
            y = 720
            for line in lines:
                pdf.drawString(72, y, line)
                y -= 14
        pdf.showPage()
    pdf.save()
    return path


def encrypted_pdf(source: Path, path: Path, *, user_password: str) -> Path:
    """`source` re-written with AES-256 encryption; an empty user password opens without asking."""
    writer = PdfWriter(clone_from=PdfReader(source))
    writer.encrypt(user_password=user_password, owner_password="owner-secret", algorithm="AES-256")
    with path.open("wb") as handle:
        writer.write(handle)
    return path


def labelled_pdf(source: Path, path: Path) -> Path:
    """`source` with printed page labels i, ii, then 1, 2, … (physical pages must not follow them)."""
    writer = PdfWriter(clone_from=PdfReader(source))
    writer.set_page_label(0, 1, style="/r")
    writer.set_page_label(2, len(writer.pages) - 1, style="/D", start=1)
    with path.open("wb") as handle:
        writer.write(handle)
    return path


def truncated_copy(source: Path, path: Path, keep_fraction: float) -> Path:
    """The first `keep_fraction` of `source`'s bytes (a download cut short)."""
    data = source.read_bytes()
    path.write_bytes(data[: int(len(data) * keep_fraction)])
    return path


def corrupt_pdf(path: Path) -> Path:
    """A PDF header and end marker around bytes that are no PDF structure at all."""
    garbage = bytes((i * 37 + 11) % 256 for i in range(4096))
    path.write_bytes(b"%PDF-1.7\n" + garbage + b"\n%%EOF\n")
    return path


def binary_blob(path: Path) -> Path:
    """Non-text bytes (as from an executable or image renamed to .pdf/.txt)."""
    path.write_bytes(b"\x7fELF\x02\x01\x01\x00" + bytes(range(256)) * 16)
    return path


def cp1252_text(path: Path) -> Path:
    """Text that is not valid UTF-8 (Windows-1252 curly quotes, euro sign, en dash)."""
    text = "Revenue rose to \u20ac5 million \u2013 a \u201crecord\u201d year for Caf\u00e9 Corp.\n"
    path.write_bytes(text.encode("cp1252"))
    return path


EDGAR_HTML = """<html><head><title>10-K</title><style>p {margin:0}</style></head><body>
<div style="display:none"><ix:header><ix:hidden>dei:HiddenFact 999</ix:hidden></ix:header></div>
<p style="text-align:center">UNITED STATES SECURITIES AND EXCHANGE COMMISSION</p>
<p>FORM 10-K</p>
<p>For the fiscal year ended January&nbsp;28, 2017</p>
<p>BEST BUY CO., INC.</p>
<p>(Exact name of registrant as specified in its charter)</p>
<hr style="page-break-after: always">
<p>Our fiscal year ended January 28, 2017 (&#8220;fiscal 2017&#8221;).</p>
<table>
<tr><td></td><td>Fiscal 2017</td><td></td><td>Fiscal 2016</td></tr>
<tr><td><p>Revenue</p></td><td>$</td><td>39,403</td><td>$</td><td>39,528</td></tr>
<tr><td>Change</td><td>(0.3</td><td>)%</td></tr>
</table>
<div style="page-break-before:always"><p>Risk factors follow.<script>var x = "not text";</script></p></div>
</body></html>
"""
