"""Generate the example corpus (fictional filings) into examples/corpus/.

    python examples/make_corpus.py            # rewrite examples/corpus/
    python examples/make_corpus.py --out DIR  # write elsewhere (the tests compare the bytes)

The text and figures live in corpus_figures.py, corpus_10k_2024.py, corpus_10k_2024_financials.py
and corpus_other_docs.py; this module only renders their blocks as PDF (reportlab), EDGAR-style
HTML, form-feed TXT and Markdown.
Run it as a script (its folder is then on sys.path, so the corpus_* modules import). Output is
deterministic: the PDF is written with reportlab's `invariant` mode (fixed dates and
document id), and nothing else depends on time, locale or dict order.
"""

from __future__ import annotations

import argparse
import html
import sys
import textwrap
from pathlib import Path
from xml.sax.saxutils import escape

import corpus_10k_2024
import corpus_other_docs
from corpus_figures import Table, check_ties
from reportlab.lib.enums import TA_CENTER, TA_JUSTIFY
from reportlab.lib.pagesizes import letter
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import inch
from reportlab.platypus import (
    BaseDocTemplate,
    Flowable,
    Frame,
    PageBreak,
    PageTemplate,
    Paragraph,
    Spacer,
    TableStyle,
)
from reportlab.platypus import Table as RLTable

HERE = Path(__file__).resolve().parent

PDF_NAME = "halvorsen-tidewater-2024-10k.pdf"
HTML_NAME = "halvorsen-tidewater-2023-10k.htm"
TXT_NAME = "ostrander-quarry-2024-annual-report.txt"
MD_NAME = "halvorsen-tidewater-2025-investor-day.md"
HTML_PAGE_BREAK = '<hr style="page-break-after:always"/>'

_BASE = dict(fontName="Times-Roman", fontSize=9.5, leading=12, spaceAfter=5)
PDF_STYLES = {
    "p": ParagraphStyle("p", alignment=TA_JUSTIFY, **_BASE),
    "bullet": ParagraphStyle("bullet", leftIndent=14, bulletIndent=4, **_BASE),
    "small": ParagraphStyle("small", **{**_BASE, "fontName": "Times-Italic", "fontSize": 8}),
    "center": ParagraphStyle("center", alignment=TA_CENTER, **{**_BASE, "spaceAfter": 2}),
    "title": ParagraphStyle("title", alignment=TA_CENTER, **{**_BASE, "fontName": "Times-Bold",
                                                              "fontSize": 15, "leading": 19}),
    "h1": ParagraphStyle("h1", **{**_BASE, "fontName": "Times-Bold", "fontSize": 10.5,
                                  "spaceBefore": 6}),
    "h2": ParagraphStyle("h2", **{**_BASE, "fontName": "Times-BoldItalic", "spaceBefore": 3,
                                  "spaceAfter": 3}),
    "cell": ParagraphStyle("cell", fontName="Times-Roman", fontSize=8.5, leading=10),
    "cell_bold": ParagraphStyle("cell_bold", fontName="Times-Bold", fontSize=8.5, leading=10),
}


# --- PDF -----------------------------------------------------------------------------------------
class _PageStart(Flowable):
    """Zero-size marker placed first on each planned page, to detect overflowing pages."""

    def __init__(self, number: int) -> None:
        super().__init__()
        self.number = number

    def wrap(self, avail_width, avail_height):
        return (0, 0)

    def draw(self) -> None:
        pass


class _TenKDocument(BaseDocTemplate):
    def __init__(self, path: str) -> None:
        super().__init__(
            path, pagesize=letter, leftMargin=0.85 * inch, rightMargin=0.85 * inch,
            topMargin=0.7 * inch, bottomMargin=0.8 * inch, invariant=1,
            title="Halvorsen Tidewater Logistics, Inc. - Form 10-K for fiscal year 2024",
            author="Halvorsen Tidewater Logistics, Inc. (fictional)",
            subject="Example corpus for cai (fictional)", creator="cai examples/make_corpus.py")
        frame = Frame(self.leftMargin, self.bottomMargin, self.width, self.height, id="body")
        self.addPageTemplates([PageTemplate(id="page", frames=[frame], onPageEnd=_draw_footer)])
        self.page_of_mark: dict[int, int] = {}

    def afterFlowable(self, flowable) -> None:
        if isinstance(flowable, _PageStart):
            self.page_of_mark[flowable.number] = self.page


def _draw_footer(canvas, doc) -> None:
    """The printed page number equals the physical page number (the cover is page 1)."""
    canvas.saveState()
    canvas.setFont("Times-Roman", 9)
    canvas.drawCentredString(letter[0] / 2, 0.45 * inch, str(doc.page))
    canvas.restoreState()


def _dollar(cell: str, style: str) -> str:
    """The '$' that precedes an amount on a '$' row (never before a percentage)."""
    return "$" if "$" in style and not cell.endswith("%") and cell != "n/m" else ""


def _pdf_table(table: Table, width: float) -> list:
    n = len(table.columns) - 1
    grid, commands = [], [("FONT", (0, 0), (-1, -1), "Times-Roman", 8.5),
                          ("VALIGN", (0, 0), (-1, -1), "BOTTOM"),
                          ("ALIGN", (1, 0), (-1, -1), "RIGHT"),
                          ("TOPPADDING", (0, 0), (-1, -1), 1.2),
                          ("BOTTOMPADDING", (0, 0), (-1, -1), 1.2)]
    if table.super_header:
        grid.append([""] + [table.super_header] + [""] * (2 * n - 1))
        commands += [("SPAN", (1, 0), (-1, 0)), ("ALIGN", (1, 0), (-1, 0), "CENTER"),
                     ("FONT", (1, 0), (-1, 0), "Times-Bold", 8.5)]
    head = len(grid)
    grid.append([Paragraph(escape(table.columns[0]), PDF_STYLES["cell"])]
                + [c for col in table.columns[1:] for c in (col, "")])
    commands += [("FONT", (1, head), (-1, head), "Times-Bold", 8.5),
                 ("ALIGN", (1, head), (-1, head), "RIGHT"),
                 ("LINEBELOW", (1, head), (-1, head), 0.6, "black")]
    commands += [("SPAN", (1 + 2 * j, head), (2 + 2 * j, head)) for j in range(n)]
    for label, cells, style in table.rows:
        r = len(grid)
        bold = "t" in style or "h" in style
        para = ParagraphStyle("lbl", parent=PDF_STYLES["cell_bold" if bold else "cell"],
                              leftIndent=10 if "i" in style else 0)
        values = [c for cell in cells for c in (_dollar(cell, style), cell)]
        grid.append([Paragraph(escape(label), para)] + (values or [""] * (2 * n)))
        if "t" in style:
            commands += [("LINEABOVE", (1, r), (-1, r), 0.6, "black"),
                         ("FONT", (1, r), (-1, r), "Times-Bold", 8.5)]
        commands += [("ALIGN", (1 + 2 * j, r), (1 + 2 * j, r), "LEFT") for j in range(n)]
    value_width = 0.78 * inch if n > 1 else 0.6 * inch
    widths = [width - n * (value_width + 0.14 * inch)] + [0.14 * inch, value_width] * n
    rl_table = RLTable(grid, colWidths=widths, hAlign="LEFT")
    rl_table.setStyle(TableStyle(commands))
    caption = [Paragraph(escape(table.caption), PDF_STYLES["h2"])] if table.caption else []
    return caption + [rl_table, Spacer(1, 7)]


def _pdf_flowables(block, width: float) -> list:
    kind, value = block
    if kind == "table":
        return _pdf_table(value, width)
    if kind == "spacer":
        return [Spacer(1, value)]
    if kind == "bullet":
        return [Paragraph(escape(value), PDF_STYLES["bullet"], bulletText="\u2022")]
    return [Paragraph(escape(value), PDF_STYLES[kind])]


def render_pdf(pages: list[list], path: Path) -> None:
    doc = _TenKDocument(str(path))
    story: list = []
    for number, blocks in enumerate(pages, start=1):
        if number > 1:
            story.append(PageBreak())
        story.append(_PageStart(number))
        for block in blocks:
            story.extend(_pdf_flowables(block, doc.width))
    doc.build(story)
    overflowed = {n: p for n, p in doc.page_of_mark.items() if n != p}
    if overflowed or doc.page != len(pages):
        raise RuntimeError(f"PDF page plan broken (planned page -> actual page): {overflowed}; "
                           f"{doc.page} pages for {len(pages)} planned: shorten the page text")


# --- EDGAR-style HTML -----------------------------------------------------------------------------
def _html_text(text: str) -> str:
    """Escape, then use the typographic entities EDGAR filings are full of."""
    out = html.escape(text, quote=False).replace("'", "&#8217;").replace("\u2014", "&#8212;")
    parts = out.split('"')
    return "".join(p + ("&#8220;" if i % 2 == 0 else "&#8221;") for i, p in
                   enumerate(parts[:-1])) + parts[-1]


_TD = '<td style="vertical-align:bottom;padding:0 1pt;{}">{}</td>'


def _html_amount_cells(cell: str, dollar: str, bold: bool) -> str:
    """EDGAR splits an amount over three cells: '$', '(31.5' and ')'."""
    weight = "font-weight:bold;" if bold else ""
    negative = cell.startswith("(") and cell.endswith(")")
    number = cell[:-1] if negative else cell
    return (_TD.format("text-align:left;" + weight, dollar or "&#160;")
            + _TD.format("text-align:right;" + weight, _html_text(number))
            + _TD.format("text-align:left;" + weight, ")" if negative else "&#160;"))


def _html_table(table: Table) -> str:
    n = len(table.columns) - 1
    lines = []
    if table.caption:
        lines.append(f'<p style="font-weight:bold;margin:6pt 0">{_html_text(table.caption)}</p>')
    lines.append('<table style="border-collapse:collapse;width:100%;font-size:9pt">')
    if table.super_header:
        lines.append("<tr>" + _TD.format("width:52%", "&#160;") + _TD.format(
            "text-align:center;font-weight:bold;border-bottom:1px solid #000",
            _html_text(table.super_header)).replace("<td ", f'<td colspan="{3 * n}" ') + "</tr>")
    header = "".join(_TD.format("text-align:center;font-weight:bold;border-bottom:1px solid #000",
                                _html_text(c)).replace("<td ", '<td colspan="3" ')
                     for c in table.columns[1:])
    lines.append("<tr>" + _TD.format("", _html_text(table.columns[0])) + header + "</tr>")
    for label, cells, style in table.rows:
        bold = "t" in style or "h" in style
        label_css = ("padding-left:12pt;" if "i" in style else "") + (
            "font-weight:bold;" if bold else "")
        amounts = "".join(_html_amount_cells(c, _dollar(c, style), "t" in style) for c in cells)
        amounts = amounts or _TD.format("", "&#160;").replace("<td ", f'<td colspan="{3 * n}" ')
        lines.append("<tr>" + _TD.format(label_css, f"<span>{_html_text(label)}</span>")
                     + amounts + "</tr>")
    lines.append("</table>")
    return "\n".join(lines)


_HTML_BLOCK = {
    "title": '<p style="text-align:center;font-weight:bold;font-size:14pt">{}</p>',
    "center": '<p style="text-align:center;margin:2pt 0">{}</p>',
    "h1": '<p style="font-weight:bold;margin-top:10pt">{}</p>',
    "h2": '<p style="font-weight:bold;font-style:italic">{}</p>',
    "p": '<p style="text-align:justify">{}</p>',
    "small": '<p style="font-style:italic;font-size:8pt">{}</p>',
    "bullet": '<p style="padding-left:18pt">&#8226;&#160;{}</p>',
}


def render_html(pages: list[list], title: str) -> str:
    body = []
    for number, blocks in enumerate(pages, start=1):
        if number > 1:
            body.append(HTML_PAGE_BREAK)
        for kind, value in blocks:
            if kind == "table":
                body.append(_html_table(value))
            elif kind == "spacer":
                body.append('<p style="margin:0">&#160;</p>')
            else:
                body.append(_HTML_BLOCK[kind].format(_html_text(value)))
        body.append(f'<p style="text-align:center;font-size:9pt">{number}</p>')
    return ("<?xml version='1.0' encoding='ASCII'?>\n"
            '<html xmlns="http://www.w3.org/1999/xhtml">\n'
            f"<head><title>{_html_text(title)}</title></head>\n"
            '<body><div style="font-family:\'Times New Roman\',serif;font-size:10pt">\n'
            + "\n".join(body) + "\n</div></body></html>\n")


# --- plain text and Markdown ----------------------------------------------------------------------
def _text_table(table: Table) -> list[str]:
    n, label_w, col_w = len(table.columns) - 1, 44, 12
    width = label_w + n * col_w
    lines = [table.caption, ""] if table.caption else []
    if table.super_header:
        lines.append(" " * label_w + table.super_header.center(n * col_w).rstrip())
    lines.append(table.columns[0].ljust(label_w) + "".join(c.rjust(col_w)
                                                           for c in table.columns[1:]))
    lines.append("-" * width)
    for label, cells, style in table.rows:
        if "t" in style:
            lines.append(" " * label_w + ("  " + "-" * (col_w - 2)) * n)
        text = ("  " if "i" in style else "") + label
        values = "".join((_dollar(c, style) + c.rjust(col_w - 2)).rjust(col_w)
                         for c in cells)
        lines.append((text.ljust(label_w) + values).rstrip())
    return lines + [""]


def render_text(pages: list[list], footer: str) -> str:
    """Plain text, one form feed between pages; `footer` (with {page}) ends each page."""
    out = []
    for number, blocks in enumerate(pages, start=1):
        lines: list[str] = []
        for kind, value in blocks:
            if kind == "table":
                lines += _text_table(value)
            elif kind in ("title", "center"):
                lines += [value.center(78).rstrip(), ""]
            elif kind in ("h1", "h2"):
                lines += [value.upper() if kind == "h1" else value, ""]
            elif kind == "bullet":
                lines += textwrap.wrap(value, 78, initial_indent="  * ", subsequent_indent="    ")
            elif kind != "spacer":
                lines += textwrap.wrap(value, 78) + [""]
        lines += ["", footer.format(page=number).center(78).rstrip()]
        out.append("\n".join(lines).rstrip() + "\n")
    return "\f".join(out)


def render_markdown(blocks: list) -> str:
    prefix = {"title": "# ", "h1": "## ", "h2": "## ", "p": "", "center": "", "bullet": "- "}
    lines: list[str] = []
    for kind, value in blocks:
        if kind == "small":
            lines += [f"*{value}*", ""]
        elif kind == "bullet":
            lines.append(prefix[kind] + value)
        else:
            if lines and lines[-1].startswith("- "):
                lines.append("")
            lines += [prefix[kind] + value, ""]
    return "\n".join(lines).rstrip() + "\n"


# --- entry point ----------------------------------------------------------------------------------
def build(out_dir: Path) -> list[Path]:
    """Write the four corpus files into out_dir and return their paths."""
    check_ties()
    out_dir.mkdir(parents=True, exist_ok=True)
    pdf = out_dir / PDF_NAME
    render_pdf(corpus_10k_2024.pages(), pdf)
    files = {
        HTML_NAME: render_html(corpus_other_docs.html_2023_pages(),
                               "Halvorsen Tidewater Logistics, Inc. 10-K 2023"),
        TXT_NAME: render_text(corpus_other_docs.ostrander_pages(),
                              "Ostrander Quarry & Aggregates Corp. | Fiscal 2024 | Page {page}"),
        MD_NAME: render_markdown(corpus_other_docs.investor_day_blocks()),
    }
    for name, text in files.items():
        (out_dir / name).write_bytes(text.encode("ascii" if name == HTML_NAME else "utf-8"))
    return [pdf] + [out_dir / name for name in files]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE / "corpus", help="output folder")
    args = parser.parse_args(argv)
    for path in build(args.out):
        print(f"{path.stat().st_size:>8} bytes  {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
