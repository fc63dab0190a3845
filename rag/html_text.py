"""HTML → readable plain text with table rows and page breaks (for SEC EDGAR filings).

Built on the standard library's `html.parser` (tolerant of the unclosed `<p>`/`<td>`/`<tr>` tags
that EDGAR filings are full of) because the layout rules below are the point: no installed HTML
library renders tables as rows or honours CSS page breaks. The output:

- visible text only: `<script>`, `<style>`, `<head>`, and anything `display:none` or `hidden`
  (inline XBRL puts its `<ix:header>` facts in such a block) are dropped;
- block elements end lines; runs of whitespace inside text collapse to one space (HTML rules),
  except inside `<pre>`;
- each table row is one line, its non-empty cells joined with `" | "`; a cell holding only `$`
  is glued to the next cell and a cell holding only `)` or `%` to the previous one, since EDGAR
  splits `$ 1,234` and `(12 )%` across cells;
- a CSS forced page break (`page-break-before/after: always`, `break-before/after: page`) and a
  literal form feed become `\\f`, which the reader turns into a page boundary.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

PAGE_BREAK = "\f"

_SKIPPED_TAGS = frozenset({"script", "style", "head", "title", "noscript", "template", "ix:header"})
_VOID_TAGS = frozenset(
    {
        "area",
        "base",
        "br",
        "col",
        "embed",
        "hr",
        "img",
        "input",
        "link",
        "meta",
        "param",
        "source",
        "track",
        "wbr",
    }
)
_BLOCK_TAGS = frozenset(
    {
        "address",
        "article",
        "aside",
        "blockquote",
        "body",
        "br",
        "caption",
        "center",
        "dd",
        "div",
        "dl",
        "dt",
        "figcaption",
        "figure",
        "footer",
        "form",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "header",
        "hr",
        "html",
        "li",
        "main",
        "nav",
        "ol",
        "p",
        "pre",
        "section",
        "table",
        "ul",
    }
)
_CELL_TAGS = frozenset({"td", "th"})
_SPACE_RE = re.compile(r"[^\S\f]+")
_CELL_GLUE_FORWARD = frozenset({"$", "•", "●", "·", "▪", "-"})
_CELL_GLUE_BACKWARD = frozenset({")", "%", ")%", "%)"})


@dataclass
class _OpenElement:
    tag: str
    hides: bool = False
    breaks_after: bool = False


@dataclass
class _TableState:
    """Rows are written to the sink as they close; the open row's cells are buffered here."""

    cells: list[str] = field(default_factory=list)
    cell: list[str] | None = None
    in_row: bool = False
    rows: int = 0  # rows written so far


def _style_of(attrs: list[tuple[str, str | None]]) -> str:
    style = next((value or "" for name, value in attrs if name == "style"), "")
    return style.lower().replace(" ", "")


def _breaks(style: str, side: str) -> bool:
    return f"page-break-{side}:always" in style or f"break-{side}:page" in style


def _row_line(cells: list[str]) -> str:
    """One table row as text: cleaned non-empty cells joined with ' | ' (see module docstring)."""
    cleaned = [_SPACE_RE.sub(" ", cell.replace(PAGE_BREAK, " ")).strip() for cell in cells]
    merged: list[str] = []
    pending_prefix = ""
    for cell in cleaned:
        if not cell:
            continue
        if cell in _CELL_GLUE_FORWARD:
            pending_prefix += cell if cell == "$" else cell + " "
            continue
        if cell in _CELL_GLUE_BACKWARD and merged:
            merged[-1] += cell
            continue
        merged.append(pending_prefix + cell)
        pending_prefix = ""
    if pending_prefix.strip():
        merged.append(pending_prefix.strip())
    return " | ".join(merged)


class _HtmlTextParser(HTMLParser):
    """Streams HTML events into text; see the module docstring for the rules."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self._stack: list[_OpenElement] = []
        self._hidden_depth = 0
        self._pre_depth = 0
        self._tables: list[_TableState] = []

    def _sink(self) -> list[str]:
        """Where text goes: the innermost open table cell (nested tables included), else out."""
        for table in reversed(self._tables):
            if table.cell is not None:
                return table.cell
        return self.out

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        style = _style_of(attrs)
        if _breaks(style, "before") and not self._hidden_depth:
            self.out.append(PAGE_BREAK)
        hides = (
            tag in _SKIPPED_TAGS
            or "display:none" in style
            or any(name == "hidden" for name, _ in attrs)
        )
        if tag in _VOID_TAGS:
            if tag in _BLOCK_TAGS and not self._hidden_depth:
                self._sink().append("\n")
            if _breaks(style, "after") and not self._hidden_depth:
                self.out.append(PAGE_BREAK)
            return
        self._open_structure(tag)
        self._stack.append(_OpenElement(tag, hides=hides, breaks_after=_breaks(style, "after")))
        self._hidden_depth += hides
        self._pre_depth += tag == "pre"

    def _open_structure(self, tag: str) -> None:
        """Table bookkeeping and line breaks at the start of an element."""
        if tag == "table":
            self._sink().append("\n")
            self._tables.append(_TableState())
        elif tag == "tr" and self._tables:
            self._close_row(self._tables[-1])
            self._tables[-1].in_row = True
        elif tag in _CELL_TAGS and self._tables:
            table = self._tables[-1]
            self._close_cell(table)
            table.in_row = True
            table.cell = []
        elif tag in _BLOCK_TAGS:
            self._sink().append("\n")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in _VOID_TAGS:
            self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        if not any(element.tag == tag for element in self._stack):
            return  # a stray end tag: browsers ignore it, so do we
        while self._stack:
            element = self._stack.pop()
            self._close_element(element)
            if element.tag == tag:
                break

    def _close_element(self, element: _OpenElement) -> None:
        self._hidden_depth -= element.hides
        self._pre_depth -= element.tag == "pre"
        if element.tag == "table" and self._tables:
            table = self._tables.pop()
            self._close_row(table)
            self._sink().append("\n")
        elif element.tag == "tr" and self._tables:
            self._close_row(self._tables[-1])
        elif element.tag in _CELL_TAGS and self._tables:
            self._close_cell(self._tables[-1])
        elif element.tag in _BLOCK_TAGS:
            self._sink().append("\n")
        if element.breaks_after and not self._hidden_depth:
            self.out.append(PAGE_BREAK)

    def _close_cell(self, table: _TableState) -> None:
        if table.cell is not None:
            table.cells.append("".join(table.cell))
            table.cell = None

    def _close_row(self, table: _TableState) -> None:
        self._close_cell(table)
        if table.in_row:
            line = _row_line(table.cells)
            if line:
                # Consecutive rows are consecutive lines: a blank line between them would read as the
                # end of the table (rewards.periods.cell_periods lines cells up with the header above
                # in the same block of lines).
                sink = self._sink()
                if table.rows:
                    while sink and sink[-1] and not sink[-1].strip(" \t"):
                        sink.pop()  # the collapsed whitespace between two rows' tags
                sink.append(f"{line}\n" if table.rows and sink and sink[-1].endswith("\n") else f"\n{line}\n")
                table.rows += 1
        table.cells = []
        table.in_row = False

    def handle_data(self, data: str) -> None:
        if self._hidden_depth:
            return
        if not self._pre_depth:
            data = _SPACE_RE.sub(" ", data)
        self._sink().append(data)

    def close(self) -> None:
        super().close()
        while self._stack:
            self._close_element(self._stack.pop())


def html_to_text(markup: str) -> str:
    """Visible text of an HTML document; `\\f` marks page breaks (not yet normalised)."""
    parser = _HtmlTextParser()
    parser.feed(markup)
    parser.close()
    return "".join(parser.out)
