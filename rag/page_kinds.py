"""Page kinds: what part of an SEC filing a page belongs to, read from the filing's own headings.

A question about inventories is answered on a balance sheet, one about lawsuits in legal
proceedings; knowing which part of a filing a page is lets search filter by it, lets `cai search`
say why a page ranked, and gives a later re-ranker a feature that carries over to filings it was
never tuned on. Only general conventions of SEC reporting are used, never a company's layout:

- Financial statements carry their Regulation S-X titles (Rules 3-01 to 3-04, Article 5) as a
  heading at the top of the page: balance sheet / statement of financial position or condition
  (5-02); statement of operations, income, earnings or comprehensive income (5-03); statement of
  cash flows (ASC 230); statement of (changes in) stockholders' / shareholders' equity (3-04).
  Some filers shorten them ("INCOME STATEMENTS", "CASH FLOWS STATEMENTS"). A page that lists
  three or more statement titles is an index to the statements, not a statement.
- Notes follow the statements ("Notes to Consolidated Financial Statements" as a running header,
  "Note 3 — Property and Equipment" headings); segment information is one of the notes (ASC 280).
- Form 10-K and 10-Q sections open with an "Item N." heading whose title is fixed by the form
  (Regulation S-K; Form 10-K Items 1A Risk Factors, 3 Legal Proceedings, 7 MD&A, 7A Market Risk,
  8 Financial Statements and Supplementary Data, 15 Exhibits, 16 Form 10-K Summary; Form 10-Q
  Part I Items 1-3 and Part II Items 1 Legal Proceedings, 1A Risk Factors, 6 Exhibits). Titles, not
  numbers, decide the kind, so 10-K and 10-Q numbering both work; a section runs over the following
  pages until the next heading. A bare running header ("PART II  Item 8" at the top of each page)
  is read through the number → title map of the filing's own headings and table of contents (the
  10-K numbering when the filing has none). A page of many "Item N. Title  page" lines is a table
  of contents.
- "SIGNATURES", an exhibit index, and exhibit pages ("Exhibit 31.1", the Sarbanes-Oxley Section
  302/906 certifications) close the filing: exhibits.
- Inside Item 8, pages before the first statement (index, auditor's report) are "other"; pages after
  it are notes. The report of the independent registered public accounting firm is "other".

A question that names a statement or section by its title ("based on the balance sheet", "the
statement of cash flows", "P&L", "MD&A", "risk factors") asks for a page of that kind
(`kinds_named`); the names are the Regulation S-X titles above, their common short forms ("P&L",
"profit and loss" for the income statement; "cash flow statement"), and the Form 10-K item titles.
A question that names none but asks for a standard measure needs the statements the measure's
definition draws on (`kinds_implied`: "working capital" -> balance sheet); one that asks what drove a
change needs MD&A; one about litigation the notes and Item 3 (loss contingencies, ASC 450).

A page holding parts of several sections takes the kind of the section with the most text on it.
Everything else (cover page, business, properties, market for equity, controls, governance,
8-K items) is "other". Kinds are a feature, never a gate: a wrong kind only mislabels.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from cai.core.errors import UserError

PageKind = Literal[
    "income_statement", "balance_sheet", "cash_flow", "equity_statement", "note", "mda",
    "risk_factors", "legal_proceedings", "exhibits", "other",
]
PAGE_KINDS: tuple[str, ...] = PageKind.__args__  # type: ignore[attr-defined]
STATEMENT_KINDS = ("income_statement", "balance_sheet", "cash_flow", "equity_statement")
HEAD_LINES = 8  # a statement's title stands in the first lines of its page (after running headers)

_S = r"statements?\s+of\s+(?:changes\s+in\s+)?(?:consolidated\s+)?"
_OWNERS = r"(?:stockholders|shareholders|shareowners|share\s+owners|owners|members|partners)['’]?\s*"
# Most specific first: "statement of changes in stockholders' equity" before "statement of ... income".
_STATEMENT_TITLES: tuple[tuple[str, re.Pattern[str]], ...] = tuple((kind, re.compile(p, re.I)) for kind, p in (
    ("equity_statement", _S + rf"(?:{_OWNERS})?(?:equity|deficit|investment)\b|{_S}retained\s+earnings\b"
                         rf"|\b{_OWNERS}(?:equity|deficit)\s+statements?\b"),
    ("cash_flow", _S + r"cash\s+flows?\b|\bcash\s+flows?\s+statements?\b"),
    ("balance_sheet", r"\bbalance\s+sheets?\b|" + _S + r"financial\s+(?:position|condition)\b"),
    ("income_statement", _S + r"(?:comprehensive\s+)?(?:income|earnings|operations|\(?loss\)?)\b"
                         r"|\bincome\s+statements?\b"),
))
# ASC 220-10-45-1: comprehensive income is shown in one continuous statement with the income statement
# or in a second statement that starts from net income. Only the first holds revenue and expenses: a
# "Statement of Comprehensive Income" page without a revenue or sales row is not the P&L a question
# names ("based on the income statement").
_COMPREHENSIVE_RE = re.compile(r"\bcomprehensive\s+(?:income|loss|\(loss\)|earnings)", re.I)
_REVENUE_ROW_RE = re.compile(r"(?im)^\W*(?:total\s+)?(?:net\s+)?(?:revenues?|sales)\b")
# "Condensed Consolidating Statements of Income": the parent, issuer and guarantor columns of a note
# (Regulation S-X Rule 3-10 guarantor information), not the primary statement.
_CONSOLIDATING_RE = re.compile(r"\bconsolidating\b", re.I)
_NOTES_RE = re.compile(r"\bnotes\s+to\s+(?:the\s+)?(?:condensed\s+)?(?:consolidated\s+)?financial\s+statements\b",
                       re.I)
_NOTE_HEADING_RE = re.compile(r"^[ \t]*note\s+\d{1,2}[ \t]*[—–\-:.][ \t]*\S", re.I | re.M)
_CORPORATE_RE = re.compile(
    r"\b(?:inc|incorporated|corp|corporation|company|companies|co|subsidiaries|ltd|llc|plc|n\.a|group|holdings)\b",
    re.I)
_AUDITOR_RE = re.compile(r"\breport\s+of\s+independent\s+(?:registered\s+)?(?:public\s+)?accounting\s+firm\b", re.I)
_SIGNATURES_RE = re.compile(r"^[ \t]*(?:signatures?|exhibit\s+index|index\s+to\s+exhibits|exhibits\s+index)[ \t]*$",
                            re.I | re.M)
_EXHIBIT_HEAD_RE = re.compile(r"^\s*(?:exhibit\s+\d{1,3}(?:\.\d{1,3})?\b|certifications?\s*$)", re.I)
_ITEM_RE = re.compile(
    r"^[ \t]*(?:part\s+[iv]{1,3}\s*[,.:\-–—]?\s*)?item\s*(\d{1,2}[a-c]?)(?![.\d]*\d)[ \t]*[.:\-–—]?[ \t]*",
    re.I | re.M,
)
# Regulation S-K item titles of Forms 10-K and 10-Q (prefixes, lower case) -> section.
_ITEM_TITLES: tuple[tuple[str, str], ...] = (
    ("risk factors", "risk_factors"),
    ("legal proceedings", "legal_proceedings"),
    ("management's discussion", "mda"), ("management’s discussion", "mda"),
    ("quantitative and qualitative disclosure", "mda"),
    ("financial statements", "financial"), ("consolidated financial statements", "financial"),
    ("exhibits", "exhibits"), ("exhibit", "exhibits"), ("form 10-k summary", "exhibits"),
    ("business", "other"), ("unresolved staff comments", "other"), ("cybersecurity", "other"),
    ("properties", "other"), ("mine safety", "other"), ("market for", "other"), ("selected", "other"),
    ("[reserved]", "other"), ("reserved", "other"), ("changes in and disagreements", "other"),
    ("controls and procedures", "other"), ("other information", "other"), ("disclosure regarding", "other"),
    ("directors", "other"), ("executive compensation", "other"), ("security ownership", "other"),
    ("certain relationships", "other"), ("principal account", "other"), ("unregistered sales", "other"),
    ("defaults upon", "other"), ("submission of matters", "other"), ("supplementary", "other"),
)
# Form 10-K numbering, for bare running headers in a filing whose own headings name no titles.
_TEN_K_ITEMS = {"1A": "risk_factors", "3": "legal_proceedings", "7": "mda", "7A": "mda", "8": "financial",
                "15": "exhibits", "16": "exhibits"}
_PAGE_REF_RE = re.compile(r"(?:\.{2,}|\s)\s*(?:F-)?\d{1,3}\s*$")


@dataclass
class _State:
    """What carries over from page to page: the open section and the filing's item numbering."""

    section: str = "other"  # other | risk_factors | legal_proceedings | mda | financial | note | exhibits
    statements_seen: bool = False  # inside Item 8: a statement came before (so later pages are notes)
    numbers: dict[str, str] = field(default_factory=dict)  # item number -> section, from the filing itself


def _head(text: str) -> tuple[str, list[int]]:
    """The page's first HEAD_LINES non-empty lines joined by spaces, and where each line starts."""
    joined, starts = "", []
    for line in [" ".join(line.split()) for line in text.split("\n") if line.strip()][:HEAD_LINES]:
        starts.append(len(joined))
        joined += line + " "
    return joined, starts


def _title_at(pattern: re.Pattern[str], joined: str, starts: list[int]) -> int | None:
    """Offset of the first match of `pattern` in the head that stands as a title, else None.

    A title starts its line, after at most a short company name ("NIKE, Inc. Consolidated
    Statements of Income"), and its line ends there, or goes on with the company's name or a
    parenthetical ("(Unaudited)", "Corning Incorporated and Subsidiary Companies"). Prose ("appears
    in the accompanying Notes to the Consolidated Financial Statements", "Consolidated balance
    sheets analysis") has lower-case words before it or a plain word after it.
    """
    for m in pattern.finditer(joined):
        line_start = max(s for s in starts if s <= m.start())
        line_end = min([s for s in starts if s > m.start()] + [len(joined)])
        prefix = re.sub(r"(?i)\b(?:condensed|consolidated|combined|the)\b", "", joined[line_start : m.start()])
        suffix = joined[m.end() : line_end].strip()
        if len(prefix) > 60 or re.search(r"(?:^|\s)[a-z]", prefix) or _CONSOLIDATING_RE.search(prefix):
            continue
        if suffix and not suffix.startswith(("(", "—", "–", "-")) and not _CORPORATE_RE.search(suffix):
            continue
        return m.start()
    return None


def statement_kind(text: str) -> str | None:
    """The Regulation S-X statement whose title heads this page, or None."""
    kind = _titled(text)
    return None if kind == "income_statement" and _comprehensive_only(text) else kind


def _comprehensive_only(text: str) -> bool:
    """Whether the page is the second of two statements: comprehensive income from net income on."""
    return bool(_COMPREHENSIVE_RE.search(_head(text)[0])) and not _REVENUE_ROW_RE.search(text)


def _titled(text: str) -> str | None:
    """The kind of statement whose title heads the page, or None (none, or an index of them)."""
    joined, starts = _head(text)
    found = [(at, kind) for kind, pattern in _STATEMENT_TITLES
             if (at := _title_at(pattern, joined, starts)) is not None]
    if not found:
        return None
    if len({kind for _, kind in found}) >= 3 or len(_all_titles(text)) >= 3:
        return None  # an index of the statements
    return min(found)[1]


def _notes_header(text: str) -> bool:
    """Whether "Notes to (Consolidated) Financial Statements" heads the page as a title."""
    return _title_at(_NOTES_RE, *_head(text)) is not None


def _all_titles(text: str) -> set[str]:
    """Statement kinds whose title starts some line of the page (an index lists three or more)."""
    kinds = set()
    for line in text.split("\n"):
        line = " ".join(line.split())
        for kind, pattern in _STATEMENT_TITLES:
            m = pattern.search(line)
            if m and m.start() <= 25 and _PAGE_REF_RE.search(line):
                kinds.add(kind)
    return kinds


def _item_section(title: str) -> str | None:
    """The section an item title names, or None when it is no Form 10-K/10-Q item title."""
    t = " ".join(title.lower().replace("’", "'").split()).strip(" .:-–—\"“”")
    for prefix, section in _ITEM_TITLES:
        if t.startswith(prefix.replace("’", "'")):
            return section
    return None


def _headings(text: str, state: _State) -> tuple[list[tuple[int, str]], bool]:
    """(offset, section) of each section heading on the page, and whether it is a table of contents."""
    found: list[tuple[int, str]] = []
    page_refs = 0
    for m in _ITEM_RE.finditer(text):
        number = m.group(1).upper()
        same_line = text[m.end() :].split("\n", 1)[0].strip()
        # The title may run on over the next lines ("ITEM 7.", or one word per line).
        title = " ".join(text[m.end() : m.end() + 160].split())
        section = _item_section(title)
        if section is not None:
            state.numbers.setdefault(number, section)
            page_refs += bool(_PAGE_REF_RE.search(same_line))
            found.append((m.start(), section))
            continue
        bare = not re.sub(r"[\d,.\s&]|\b[ABCabc]\b|\band\b", "", same_line)  # "Item 8", "Item 1B, 2, 3, 4"
        if bare and text.count("\n", 0, m.start()) <= 3:  # a running header at the top of the page
            found.append((m.start(), state.numbers.get(number, _TEN_K_ITEMS.get(number, "other"))))
    toc = page_refs >= 3 or len(found) >= 8
    for m in _SIGNATURES_RE.finditer(text):
        found.append((m.start(), "exhibits"))
    head_end = _head_end(text)
    for m in _NOTE_HEADING_RE.finditer(text, 0, head_end):
        if len(text[m.start() :].split("\n", 1)[0].strip()) <= 90:  # a heading, not a wrapped cross-reference
            found.append((m.start(), "note"))
    return sorted(found), toc


def _head_end(text: str) -> int:
    """Offset just after the page's first HEAD_LINES non-empty lines."""
    seen, pos = 0, 0
    for line in text.split("\n"):
        pos += len(line) + 1
        seen += bool(line.strip())
        if seen >= HEAD_LINES:
            break
    return min(pos, len(text))


def _section_kind(section: str, state: _State) -> str:
    if section == "financial":
        return "note" if state.statements_seen else "other"
    return section


def _classify(text: str, state: _State) -> str:
    """One page's kind; updates `state` for the pages after it."""
    headings, toc = _headings(text, state)
    if toc:
        return "other"
    head = "\n".join(text.strip().split("\n")[:HEAD_LINES])
    stmt = _titled(text)
    if stmt is not None:
        if state.section in ("financial", "note"):
            state.statements_seen = True  # later pages of Item 8 are notes
        # the second statement of comprehensive income is Item 8's all the same, read with its notes
        return "note" if stmt == "income_statement" and _comprehensive_only(text) else stmt
    if _EXHIBIT_HEAD_RE.match(text.strip()):
        state.section = "exhibits"
        return "exhibits"
    if _AUDITOR_RE.search(head):
        state.section, state.statements_seen = "financial", False
        return "other"
    if _notes_header(text) and not headings:
        state.section = "note"
        return "note"
    # Sections on this page: the one carried in up to the first heading, then each heading's.
    spans: dict[str, int] = {}
    bounds = [(0, state.section), *headings]
    for i, (offset, section) in enumerate(bounds):
        if i and section == "financial" and state.section in ("financial", "note"):
            section = state.section  # Item 8's running header on a page of its statements or notes
        elif i and section == "financial":
            state.statements_seen = False  # a new Item 8: its statements are still to come
        state.section = section
        end = bounds[i + 1][0] if i + 1 < len(bounds) else len(text)
        kind = _section_kind(section, state)
        spans[kind] = spans.get(kind, 0) + len(text[offset:end].strip())
    if state.section == "financial" and _notes_header(text):
        state.section, state.statements_seen = "note", True
    return max(spans, key=lambda k: (spans[k], k != "other"))


def classify_pages(pages: Sequence[str]) -> list[str]:
    """The kind of every page of one filing, in order (sections carry over pages)."""
    state = _State()
    for text in pages:  # a first pass learns the filing's item numbering (its table of contents)
        _headings(text, state)
    numbers = dict(state.numbers)
    state = _State(numbers=numbers)
    return [_classify(text, state) for text in pages]


_NAMED_KINDS: tuple[tuple[str, re.Pattern[str]], ...] = tuple((kind, re.compile(p, re.I)) for kind, p in (
    ("income_statement", r"\bincome\s+statements?\b|\bp\s*&\s*l\b|\bprofit\s+(?:and|&)\s+loss\b"
                         r"|\bstatements?\s+of\s+(?:consolidated\s+)?(?:comprehensive\s+)?"
                         r"(?:income|operations|earnings)\b"),
    ("balance_sheet", r"\bbalance\s+sheets?\b|\bstatements?\s+of\s+financial\s+(?:position|condition)\b"),
    ("cash_flow", r"\bcash\s+flows?\s+statements?\b|\bstatements?\s+of\s+cash\s+flows?\b"),
    ("equity_statement", r"\bstatements?\s+of\s+(?:changes\s+in\s+)?(?:" + _OWNERS + r")?equity\b"),
    ("mda", r"\bmd\s*&\s*a\b|\bmanagement['’]?s\s+discussion\b"),
    ("risk_factors", r"\brisk\s+factors\b"),
    ("legal_proceedings", r"\blegal\s+proceedings\b"),
))
# The titles of the primary financial statements, as one pattern ("where a figure is read" for
# `rewards.relevance`).
STATEMENT_TITLES = "|".join(p.pattern for kind, p in _NAMED_KINDS if kind in STATEMENT_KINDS)


# Where a measure is read when the question names no statement: the primary statement(s) its
# standard definition draws on (ASC 220/210/230 line items; ratio definitions as in financial
# statement analysis texts, e.g. CFA Institute, "Financial Reporting and Analysis", ch. on ratios).
# Ratios mixing a flow and a balance need both statements; EBITDA and payout ratios take D&A and
# dividends paid from the cash-flow statement. A question asking why a measure moved ("what drove",
# "reasons for") is answered in MD&A (S-K Item 303(b): the results discussion explains changes).
_FLOW_BALANCE = r"turnover|days\s+(?:sales|inventory|payables?)|dso|dio|dpo|cash\s+conversion\s+cycle" \
    r"|return\s+on\s+(?:average\s+)?(?:assets|equity|invested\s+capital)|roa|roe|roic"
_IMPLIED_KINDS: tuple[tuple[tuple[str, ...], re.Pattern[str]], ...] = tuple(
    (kinds, re.compile(rf"\b(?:{p})\b", re.I)) for kinds, p in (
        (("income_statement", "balance_sheet"), _FLOW_BALANCE),
        (("income_statement", "cash_flow"), r"ebitda|(?:dividend\s+)?payout\s+ratio|d\s*&\s*a\s+(?:%\s+)?margin"),
        (("income_statement",), r"gross\s+(?:profit|margins?)|operating\s+(?:income|margins?|profit)"
                                r"|net\s+(?:profit\s+)?margins?|cogs|cost\s+of\s+(?:goods\s+sold|sales|revenues?)"
                                r"|earnings\s+per\s+share|eps|effective\s+tax\s+rate|ebit"),
        (("balance_sheet",), r"(?:net\s+)?working\s+capital|current\s+ratio|quick\s+ratio|acid[-\s]test"
                             r"|debt[-\s]to[-\s](?:equity|assets|capital)|book\s+value|total\s+(?:current\s+)?assets"
                             r"|total\s+(?:current\s+)?liabilities|cash\s+(?:and|&)\s+cash\s+equivalents"),
        # Loss contingencies are disclosed in the notes (ASC 450) and summarised in Item 3.
        (("note", "legal_proceedings"), r"litigation|lawsuits?|legal\s+(?:battles?|matters?|actions?|disputes?|claims?)"
                                        r"|loss\s+contingenc(?:y|ies)"),
        (("cash_flow",), r"free\s+cash\s+flows?|fcf|capex|capital\s+expenditures?|cash\s+dividends"
                         r"|dividends\s+paid|(?:operating|investing|financing)\s+activities"
                         r"|cash\s+(?:from|provided\s+by|used\s+in)\s+operations"),
    ))
_WHY = re.compile(r"\bwhat\s+(?:drove|drives|caused|explains)\b|\b(?:drivers?|reasons?)\s+(?:of|for|behind)\b"
                  r"|\bwhy\s+did\b", re.I)


def kinds_implied(query: str) -> list[str]:
    """Page kinds a question needs by the measure it asks about when it names no statement
    ("Does Corning have positive working capital?" -> balance sheet), in PAGE_KINDS order; a
    question asking why a measure moved -> MD&A. Empty when no standard measure is named."""
    if _WHY.search(query):
        return ["mda"]
    implied = {k for kinds, pattern in _IMPLIED_KINDS if pattern.search(query) for k in kinds}
    return [k for k in PAGE_KINDS if k in implied]


def kinds_wanted(query: str) -> list[str]:
    """The kinds a question names by title, else those its measure implies (`kinds_implied`)."""
    return kinds_named(query) or kinds_implied(query)


def kinds_named(query: str) -> list[str]:
    """Page kinds a question names by title ("using the balance sheet and the P&L" -> balance sheet,
    income statement), in PAGE_KINDS order; empty when it names none."""
    named = {kind for kind, pattern in _NAMED_KINDS if pattern.search(query)}
    return [k for k in PAGE_KINDS if k in named]


def parse_kinds(value: str | Sequence[str]) -> list[str]:
    """Kinds from a filter value ("balance_sheet,cash_flow" or a list); unknown kinds are an error."""
    items = value.split(",") if isinstance(value, str) else [str(v) for v in value]
    kinds = [k.strip() for item in items for k in item.split(",") if k.strip()]
    unknown = [k for k in kinds if k not in PAGE_KINDS]
    if unknown or not kinds:
        raise UserError(f"unknown page kind {unknown or value!r}; use {', '.join(PAGE_KINDS)}")
    return kinds
