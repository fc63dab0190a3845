"""Which financial statement a source page is, and which statements a question names, for the grounded
teacher's choice of pages to read a metric from (a question "using the income statement" reads the
statement of operations, not a note that repeats its rows).

The headings are those of Regulation S-X (Article 3: balance sheets, statements of comprehensive income,
cash flows and changes in stockholders' equity) as filers title them.
"""

from __future__ import annotations

import re

# Financial statements by the headings filers give them and the names questions use for them.
_STATEMENT_HEADINGS = {
    "income": re.compile(
        r"statements? of (?:consolidated )?(?:operations|income|earnings)\b|income statements?\b", re.I),
    "comprehensive": re.compile(r"statements? of comprehensive (?:income|loss)", re.I),
    "balance": re.compile(r"balance sheets?\b|statements? of financial (?:position|condition)", re.I),
    "cash": re.compile(r"statements? of cash flows?", re.I),
    "equity": re.compile(r"statements? of (?:changes in )?(?:share|stock)holders.? (?:equity|deficit)", re.I),
}
_STATEMENT_NAMES = {
    "income": re.compile(
        r"income statement|statements? of (?:operations|income|earnings)|\bp&l\b|profit and loss", re.I),
    "comprehensive": re.compile(r"comprehensive income", re.I),
    "balance": re.compile(r"balance sheet|statements? of financial (?:position|condition)", re.I),
    "cash": re.compile(r"cash flows?\b", re.I),
    "equity": re.compile(r"statements? of (?:changes in )?(?:share|stock)holders.? equity", re.I),
}
HEADING_LINES = 5  # a statement's title sits in the first lines of its page, under running heads


def statement_kind(page_text: str) -> str | None:
    """Which financial statement a page is, from its heading ("CONSOLIDATED STATEMENTS OF
    OPERATIONS" → "income"); None for notes, discussion and every other page."""
    lines = [ln for ln in page_text.splitlines() if ln.strip()][:HEADING_LINES]
    heading = " ".join(ln for ln in lines if len(ln.split()) <= 10)  # a title, not the prose under it
    if re.search(r"\bnotes? to\b", heading, re.I):
        return None  # "Notes to Consolidated Financial Statements" names no statement of its own
    for kind in ("comprehensive", "income", "balance", "cash", "equity"):  # "comprehensive income" first
        if _STATEMENT_HEADINGS[kind].search(heading):
            return kind
    return None


def statements_named(text: str) -> set[str]:
    """The financial statements `text` names ("based on the income statement" → {"income"})."""
    named = {kind for kind, pattern in _STATEMENT_NAMES.items() if pattern.search(text)}
    income = r"(?<!comprehensive )income statement|statements? of (?:operations|earnings)"
    if "comprehensive" in named and not re.search(income, text, re.I):
        named.discard("income")  # "statement of comprehensive income" is not the income statement
    return named
