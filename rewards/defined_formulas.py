"""Figures a question defines, computed as it defines them (issue #17).

A question may state the formula of the metric it asks for: "DPO is defined as: 365 * (average
accounts payable between FY2019 and FY2020) / (FY2020 COGS + change in inventory between FY2019 and
FY2020)" (FinanceBench, Islam et al. 2023, writes its metric questions so; an analyst's request does
too, as firms define their metrics differently). Then the definition, not any combination of the
page's figures that happens to give the claimed value, says what the figure is: a claim stating the
DPO is checked against 365 × avg(AP) / (COGS + Δinventory) from the filing's rows, and
"(7,772 - 118) / 118" does not stand in for it.

Each line item of a definition is read from the rows of the filing's statements whose labels name
it (at the start of the label, as statements label line items; "COGS" is also "Cost of sales",
"capex" also "Purchases of property, plant and equipment"), at the periods the item names:

* "average X between FY2019 and FY2020": the mean of the two years' balances;
* "change in X between FY2019 and FY2020": the later year's value less the earlier's;
* "FY2020 X": that year's value; an item naming no year takes the question's year;
* a defined name ("DIO + DSO - DPO") is its own definition, a number a constant.

An outflow in parentheses ("Capital expenditures | (3,000)") is read as the amount the formula deducts;
another figure in parentheses both ways (a loss, or an expense the formula deducts).
Items read from several rows give several values; the claim must equal the formula of one choice.
When some item is on no page, the definition is not computed and the claim is left to the general
derivations. `defined_answer` writes the computed metric as a worked, cited claim (the grounded
teacher adds it where an answer lacks it). The formula's parser is written here: no maintained
library parses a formula whose operands are line-item phrases ("average accounts payable between
FY2019 and FY2020").
"""

from __future__ import annotations

import functools
import itertools
import operator
import re
from collections.abc import Sequence
from dataclasses import dataclass

from rewards.arithmetic import Derivation, Tolerances, format_operand
from rewards.named_ratios import COST_OF_SALES_ROW, NET_INCOME_ROW, REVENUE_ROW, declared_unit
from rewards.numbers import Quantity, extract_quantities
from rewards.periods import extract_periods
from rewards.premises import PreparedPage, acronyms, measure_tokens

MAX_VALUES = 6  # distinct values one line item may take (rows naming it, read several ways)
MAX_CHOICES = 512  # formula evaluations per definition (the product of its items' values)
_INLINE_REACH = 200  # chars before a figure searched for its own row caption (`_inline_label`)
MAX_DEPTH = 3  # definitions within definitions ("CCC = DIO + DSO - DPO")

_DEFINED_RE = re.compile(r"^(?P<name>.+?)\s+(?:here\s+)?(?:is|are)\s+(?:defined|calculated|computed|measured)\s+as"
                         r"\b\s*:?\s*(?P<formula>.+?)\s*\.?\s*$", re.IGNORECASE | re.DOTALL)
# "Define working capital ratio as total current assets divided by total current liabilities."
_DEFINE_RE = re.compile(r"^(?:please\s+)?define\s+(?P<name>.+?)\s+as:?\s+(?P<formula>.+?)\s*\.?\s*$",
                        re.IGNORECASE | re.DOTALL)
_SENTENCE_RE = re.compile(r"(?<=[.?!])\s+(?=[A-Z])")
# Operators written as words.
_WORD_OPERATORS = ((re.compile(r"\s+divided\s+by\s+", re.IGNORECASE), " / "),
                   (re.compile(r"\s+(?:multiplied\s+by|times)\s+", re.IGNORECASE), " * "),
                   (re.compile(r"\s+(?:less|minus)\s+", re.IGNORECASE), " - "),
                   (re.compile(r"\s+plus\s+", re.IGNORECASE), " + "))
_AGGREGATE_RE = re.compile(r"\b(?:average|mean|total|sum|combined|cumulative)\W+(?:[\w&'’-]+\W+){0,2}$",
                           re.IGNORECASE)
_OPERAND_RE = re.compile(r"\W{0,3}(?:[/*×÷+]|[-–−]\s|x\s)")
# Words after a metric's name that make it another metric ("EBITDA % margin", "DPO growth").
_ANOTHER_METRIC_RE = re.compile(r"%|\b(?:margins?|ratios?|growth|rates?|turnover|per\s+share|change|increase|"
                                r"decrease|percent(?:age)?|as\s+a\s+share|average)\b", re.IGNORECASE)
_OPERATORS = "+-*/×÷^"
_AFTER_OPERATOR_RE = re.compile(r"(?:[/*×÷+]|\s[-–−])\s*$")
# Standard names of the statements' line items (SEC Regulation S-X captions and their common
# variants), by the words a formula uses for them: the pattern of their row labels, and the other
# names an answer may give them. Other items are matched by their own words.
_ITEMS: tuple[tuple[re.Pattern, str, tuple[str, ...]], ...] = tuple(
    (re.compile(key, re.IGNORECASE), label, aliases) for key, label, aliases in (
        (r"^(?:cogs|cost\s+of\s+(?:goods\s+sold|sales|revenues?))$", COST_OF_SALES_ROW,
         ("cost of goods sold", "cost of sales", "cost of revenue", "cogs")),
        (r"^(?:total\s+)?(?:net\s+)?(?:revenues?|sales)$", REVENUE_ROW, ("revenue", "net sales", "sales")),
        # Net income from continuing operations is not net income (ASC 205-20: discontinued operations).
        (r"^net\s+(?:income|earnings|profit)$", rf"{NET_INCOME_ROW}(?!\s+from\s+continuing)",
         ("net income", "net earnings")),
        (r"^net\s+(?:income|earnings)\s+attributable(?:\s+to\s+(?:the\s+)?(?:company|parent|[\w\s]*"
         r"(?:share|stock)(?:holders|owners)))?$", r"net\s+(?:income|earnings)\s+attributable\s+to\s+"
         r"(?!.*\b(?:non-?controlling|minority|redeemable)\b)",
         ("net income attributable",)),
        (r"^(?:total\s+)?(?:cash\s+)?dividends(?:\s+paid)?$",
         r"(?:cash\s+)?dividends\s+paid|payments?\s+(?:of|for)\s+(?:cash\s+)?dividends"
         r"|(?:cash\s+)?dividends\s+to\s+(?:share|stock)(?:holders|owners)",
         ("dividends paid", "cash dividends")),
        (r"^(?:net\s+)?(?:pp&e|property,?\s+plant,?\s+and\s+equipment)(?:,?\s+net)?$",
         r"(?:total\s+)?(?:property,?\s+(?:plant\s+)?(?:and|&)\s+equipment"
         r"|land,?\s+buildings,?\s+(?:and|&)\s+equipment)",
         ("property plant equipment", "pp&e")),
        (r"^(?:capex|capital\s+expenditures?)$",
         # the caption names the assets bought: "property, plant and equipment", "land, buildings, and
         # equipment", "premises and equipment", "fixed assets" (Regulation S-X 5-02.13 lets filers title it)
         r"(?:capital\s+expenditures?|(?:purchases?|payments?\s+for|additions?\s+to|acquisitions?\s+of)\s+"
         r"(?:of\s+)?(?:property|land|buildings|premises|fixed\s+assets|plant|equipment))",
         ("capital expenditures", "capex", "purchases of property")),
        (r"^(?:cash\s+(?:flows?\s+)?from\s+operations|(?:net\s+)?cash(?:\s+flows?)?\s+from\s+operating\s+activities"
         r"|operating\s+cash\s+flows?)$",
         r"(?:net\s+)?cash\s+(?:provided\s+by|from|generated\s+(?:by|from))\s+(?:\(used\s+(?:in|for)\)\s+)?"
         r"operat(?:ing\s+activities|ions)", ("cash from operations", "operating cash flow", "operating activities")),
        (r"^(?:inventory|inventories)$", r"(?:total\s+)?(?:merchandise\s+)?inventor(?:y|ies)", ("inventory",)),
        (r"^(?:accounts\s+)?receivables?$", r"(?:trade\s+)?(?:accounts\s+)?receivables?",
         ("accounts receivable", "receivables")),
        (r"^accounts\s+payable$", r"(?:trade\s+)?accounts\s+payable", ("accounts payable",)),
    ))
# A statement of cash flows, by its title or the captions only it has.
_CASH_FLOWS_RE = re.compile(r"statements?\s+of\s+cash\s+flows|cash\s+flows?\s+(?:from|provided\s+by)\s+operating"
                            r"|net\s+cash\s+(?:provided\s+by|used\s+in)\s+(?:operating|investing)", re.IGNORECASE)
_FLOW_RE = re.compile(r"\bcash\b|\bcapex\b|\bcapital\s+expenditures?\b|\bdividends?\b|\bpurchases?\b"
                      r"|\brepurchases?\b|\bdepreciation\b|\bamortization\b|d&a", re.IGNORECASE)
# Items that are outflows by their name: a figure in parentheses is the amount paid, never a negative one.
_OUTFLOW_RE = re.compile(r"\bcapex\b|\bcapital\s+expenditures?\b|\bdividends?\b|\b(?:re)?purchases?\b",
                         re.IGNORECASE)
_AVERAGE_RE = re.compile(r"^(?:the\s+)?average\s+", re.IGNORECASE)
_CHANGE_RE = re.compile(r"^(?:the\s+)?(?:change|increase|decrease)\s+in\s+", re.IGNORECASE)
_TOTAL_RE = re.compile(r"\W*total\b", re.IGNORECASE)
_STATEMENT_RE = re.compile(r"\s+(?:from|in|on|per|of)\s+(?:the\s+)?(?:[\w&']+\s+){0,3}statements?\b.*$",
                           re.IGNORECASE)
_UNADJUSTED_RE = re.compile(r"\b(?:unadjusted|reported|gaap)\s+", re.IGNORECASE)
# Words left around an item once its periods are taken out ("accounts payable between  and ").
_SPAN_WORDS_RE = re.compile(r"^(?:\W*\b(?:the|fiscal|year)\b)+|(?:\W*\b(?:between|from|and|to|in|for|of|at|the|"
                            r"year|fiscal|end|ended|ending)\b)+\W*$", re.IGNORECASE)


@dataclass(frozen=True)
class Definition:
    """A metric the question defines: the names a claim may call it by and its formula's text."""

    name: str
    names: tuple[str, ...]
    formula: str


def definitions(question: str) -> list[Definition]:
    """The metrics `question` defines ("DPO is defined as: …"), in its order; a name the question also
    spells out ("days payable outstanding (DPO)") is known by both."""
    return list(_definitions(question))


@functools.lru_cache(maxsize=256)
def _definitions(question: str) -> tuple[Definition, ...]:
    """`definitions`, cached: the checker asks once per figure it cannot match, of every claim of
    every answer to the question."""
    spelled = acronyms(question)
    out = []
    for sentence in _SENTENCE_RE.split(" ".join(question.split())):
        m = _DEFINED_RE.match(sentence) or _DEFINE_RE.match(sentence)
        if m is None:
            continue
        name = m.group("name").strip(" :")
        names = {name} | {phrase for short, phrase in spelled if short == name}
        names |= {short for short, phrase in spelled if phrase.lower() == name.lower()}
        # "Inventory turnover ratio" is also "inventory turnover" (not "working capital ratio" "working capital").
        names |= {re.sub(r"\s+ratio$", "", n, flags=re.IGNORECASE) for n in names
                  if re.search(r"\b(?:turnover|coverage)\s+ratio$", n, re.IGNORECASE)}
        out.append(Definition(name, tuple(sorted(names, key=len, reverse=True)), m.group("formula")))
    return tuple(out)


def _named_at(text: str, name: str) -> list[int]:
    """End offsets of `name` in `text`: an abbreviation as written, a phrase in any case; not where
    an aggregate of it is named ("the average unadjusted EBITDA")."""
    flags = 0 if name.isupper() else re.IGNORECASE
    return [m.end() for m in re.finditer(rf"(?<![\w-]){re.escape(name)}(?![\w-])", text, flags)
            if not _AGGREGATE_RE.search(text[: m.start()])]


def _name_term(claim: str, start: int, end: int, names: list[str]) -> bool:
    """Whether the name at claim[start:end] is a term of a formula of the question's names: after an
    operator, or before one and another name ("DIO + DSO - DPO")."""
    if _AFTER_OPERATOR_RE.search(claim[:start]):
        return True
    m = _OPERAND_RE.match(claim[end:])
    following = claim[end + m.end():].lstrip(" (").lower() if m else ""
    return m is not None and any(following.startswith(n.lower()) for n in names)


def defined_for(q: Quantity, claim: str, question: str, bare: bool) -> Definition | None:
    """The definition whose metric `q` states: the one the claim names last before `q`, or for a
    bare answer the one the question asks (named before its definitions). None when `q` is an
    operand of the claim's working ("365 * 1,380.5 / 7,890") rather than its result."""
    defined = definitions(question)
    if not defined or in_working(q, claim):
        return None
    # A name next to an operator is a term of a formula of names ("CCC = DIO + DSO - DPO = … = -3.70"
    # states the CCC): the metric stated is named before it.
    names = [n for d in defined for n in d.names]
    named = [(end, d) for d in defined for n in d.names for end in _named_at(claim, n)
             if end <= q.start and not _name_term(claim, end - len(n), end, names)]
    if named:
        end, definition = max(named, key=lambda pair: pair[0])
        between = claim[end : q.start]
        # "(Unadjusted EBITDA / Net Sales) x 100%": the metric is an operand of another formula
        return None if _ANOTHER_METRIC_RE.search(between) or _OPERAND_RE.match(between) else definition
    return asked_definition(question, defined) if bare else None


def asked_definition(question: str, defined: list[Definition]) -> Definition | None:
    """The definition of what the question asks: the metric it names before its definitions."""
    starts = [i for i in (question.lower().find(" defined as"), question.lower().find("define ")) if i >= 0]
    asking = question[: min(starts, default=len(question))]
    for d in defined:
        ends = [end for n in d.names for end in _named_at(asking, n)]
        # "the 3 year average unadjusted EBITDA % margin" asks for a margin, not the EBITDA defined
        if any(not _ANOTHER_METRIC_RE.match(asking[end:].lstrip(" )")) for end in ends):
            return d
    return None


_UNIT_WORDS = r"days?|times|million|billion|thousand"
_UNIT_WORDS_RE = re.compile(rf"(?:\s*\b(?:{_UNIT_WORDS})\b|%)+$", re.IGNORECASE)


def in_working(q: Quantity, claim: str) -> bool:
    """Whether an arithmetic operator adjoins `q` ("365 * 1,380.5"; "/ 7,890"): an operand, not a result."""
    before = _UNIT_WORDS_RE.sub("", claim[: q.start].rstrip(" $()[]")).rstrip(" $()[]")
    if q.text.lstrip(" ($").startswith(("-", "–", "−")) and before[-1:].isdigit():
        return True  # "89.99 - 92.67": the minus sign read with the figure subtracts it
    after = re.sub(rf"^\s*(?:{_UNIT_WORDS}|%)?[\s)\]]*", "", claim[q.end:])
    # A hyphen after a figure is a minus sign only when spaced ("89.99 - 92.67"; not "52-week").
    return bool(re.search(r"[+*/×÷-]$|\sx$", before)) or bool(re.match(r"[+*/×÷]|[-–−]\s|x\s", after))


# -- the formula ------------------------------------------------------------------------------


def _tokens(formula: str) -> list[str]:
    """Operators, parentheses and the phrases between them. A hyphen is a minus sign only with a
    space or a parenthesis on either side ("cash from operations - capex"; not "year-end")."""
    for pattern, symbol in _WORD_OPERATORS:
        formula = pattern.sub(symbol, formula)
    out, phrase = [], ""
    for i, char in enumerate(formula):
        spaced = (i == 0 or formula[i - 1] in " (") and (i + 1 == len(formula) or formula[i + 1] in " (")
        minus = char in "-–−" and spaced
        if char in "()+*/×÷^" or minus:
            out += [phrase.strip()] if phrase.strip() else []
            out.append("-" if minus else {"×": "*", "÷": "/"}.get(char, char))
            phrase = ""
        else:
            phrase += char
    return out + ([phrase.strip()] if phrase.strip() else [])


@dataclass(frozen=True)
class Value:
    """One reading of a formula or an item: its value, how it was read, and the page unit it is in."""

    value: float
    shown: str
    unit: float  # the declared unit of its page (1 for a constant or an undeclared unit)
    pages: frozenset[tuple[str, int]] = frozenset()  # (doc_id, page) of the rows it was read from


_APPLY = {"+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv, "^": operator.pow}


def _combine(op: str, left: list[Value], right: list[Value]) -> list[Value]:
    out = []
    for a, b in itertools.product(left, right):
        units = {u for u in (a.unit, b.unit) if u != 1.0}
        if len(units) > 1 or (op == "/" and not b.value) or (op == "^" and a.value <= 0):
            continue  # figures of pages in different units, a division by zero, a root of a negative ratio
        out.append(Value(_APPLY[op](a.value, b.value), f"{a.shown} {op} {b.shown}", max(units, default=1.0),
                         a.pages | b.pages))
        if len(out) >= MAX_CHOICES:
            break
    return out


def _grouped(values: list[Value] | None) -> list[Value] | None:
    """The values as one term of a larger formula: their working in parentheses."""
    return [Value(v.value, f"({v.shown})", v.unit, v.pages) for v in values] if values else None


class _Parser:
    """Recursive descent over `_tokens`: sum := product (± product)*; product := power (×÷ power)*;
    power := factor (^ factor)*; factor := ( sum ) | phrase. A phrase is resolved by `leaf`; None
    when it cannot be."""

    def __init__(self, tokens: list[str], leaf):
        self.tokens, self.at, self.leaf = tokens, 0, leaf

    def _peek(self) -> str | None:
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def _chain(self, ops: tuple[str, ...], operand) -> list[Value] | None:
        """operand (op operand)*, left to right, for the operators `ops` of one precedence."""
        values = operand()
        while values is not None and self._peek() in ops:
            op = self.tokens[self.at]
            self.at += 1
            right = operand()
            values = None if right is None else _combine(op, values, right)
        return values

    def sum(self) -> list[Value] | None:
        return self._chain(("+", "-"), self.product)

    def product(self) -> list[Value] | None:
        return self._chain(("*", "/"), self.power)

    def power(self) -> list[Value] | None:
        return self._chain(("^",), self.factor)  # left to right: "(a / b) ^ (1 / 2)" is all a formula needs

    def factor(self) -> list[Value] | None:
        token = self._peek()
        self.at += 1
        if token == "(":
            values = self.sum()
            if self._peek() != ")":
                return None
            self.at += 1
            return _grouped(values)
        if token is None or token in _OPERATORS or token == ")":
            return None
        return self.leaf(token)


# -- the line items ---------------------------------------------------------------------------


def _item_label(words: str) -> re.Pattern:
    """The label pattern of a line item: its standard captions (`_ITEMS`), else its own words."""
    label = next((label for key, label, _ in _ITEMS if key.match(words)), None)
    if label is None:
        label = r"(?:total\s+)?" + r"\W*".join(re.escape(w) for w in words.split())
    return re.compile(rf"^\W*{label}", re.IGNORECASE)


def _inline_label(page: PreparedPage, q: Quantity) -> str:
    """A figure's own row caption where PDF text runs several rows into one line ("… interests 2,735.0
    2,346.0 2,210.8 Net earnings attributable to General Mills $ 2,707.3 …"): the words between the
    figures before its row's and its own, lower-cased like the page's labels."""
    before = _row_key(page.source.text[max(0, q.start - _INLINE_REACH): q.start])
    # only after another row's figures on the same line ("2,210.8 Net earnings …"), not after a note's
    # heading ("Statement of operations (1): Net sales" of equity investees is no row of the filer's)
    m = re.search(r"\d\)?[ \t]+([^\d\n]+)$", before)
    return m.group(1).strip().lower() if m else ""


def _interim_years(page: PreparedPage) -> set[int]:
    """Years the page's columns date more than once ("Dec. 31, 2020 … Sep. 30, 2020 … Mar. 31, 2020"):
    a quarterly table, or an interim report's balance sheet beside the last year-end. Its columns
    hold quarters or a quarter-end, not the fiscal year's figure, whatever year they name."""
    months: dict[int, set[int]] = {}
    for column in page.columns.values():
        if column.kind == "date" and column.year is not None and column.month is not None:
            months.setdefault(column.year, set()).add(column.month)
    return {year for year, seen in months.items() if len(seen) > 1}


def statement_rows(pages: list[PreparedPage], label: re.Pattern, flow: bool,
                   rates: bool = False) -> list[tuple[PreparedPage, dict[int, float]]]:
    """Each row whose label names the item: its page and its values by column year; the rows of
    amounts, else (`rates`) those of percentages ("Effective tax rate 23% 20%"). Only a cash flow
    (`flow`) is read from a statement of cash flows, whose "Inventories" and "Accounts payable" rows
    are the year's changes in those balances (ASC 230-10-45-28), not the balances."""
    rows: dict[tuple[int, str], tuple[PreparedPage, dict[int, float]]] = {}
    for page in pages:
        if not flow and _CASH_FLOWS_RE.search(page.source.text):
            continue
        interim = _interim_years(page)
        for q, text in zip(page.quantities, page.labels, strict=True):
            column = page.columns.get(q.start)
            if ((q.unit == "%") != rates or column is None or column.year is None or column.quarter is not None
                    or column.year in interim):
                continue
            named = text if label.search(text) else inline if label.search(inline := _inline_label(page, q)) else None
            if named is not None:
                key = _row_key(named)
                rows.setdefault((id(page), key), (page, {}))[1].setdefault(column.year, q.value)
    # A statement lists a line item's components under its caption and then their total ("Net sales:
    # Products …, Services …, Total net sales"): where a page has the total, it is the line item.
    totals = {page for (page, key) in rows if _TOTAL_RE.match(key)}
    return [row for (page, key), row in rows.items() if page not in totals or _TOTAL_RE.match(key)]


@dataclass(frozen=True)
class Item:
    """A line item of a formula: its words without periods, how it is taken, and the years asked."""

    words: str
    average: bool
    change: bool
    years: tuple[int, ...]


def read_item(phrase: str, years: list[int]) -> Item | None:
    """The line item a formula phrase names ("average accounts payable between FY2019 and FY2020");
    one naming no year takes the question's (`years`). None for a phrase without words."""
    periods = [p for p in extract_periods(phrase) if p.year is not None]
    asked = sorted({p.year for p in periods})
    words = phrase
    for p in sorted(periods, key=lambda p: -p.start):
        words = words[: p.start] + " " + words[p.end:]
    average, change = bool(_AVERAGE_RE.search(words)), bool(_CHANGE_RE.search(words))
    words = (_AVERAGE_RE.sub("", words) if average else _CHANGE_RE.sub("", words)).strip()
    # "depreciation and amortization from the cash flow statement": the statement says where, not what;
    # "unadjusted operating income" is the operating income the statement reports.
    words = _STATEMENT_RE.sub("", _UNADJUSTED_RE.sub("", words))
    words = " ".join(_SPAN_WORDS_RE.sub(" ", words).split()).strip(" ,").lower()
    if not words:
        return None
    if not asked and len(set(years)) > 1:
        return None  # "the FY2018 - FY2020 average …" defined without a year: which year is not said
    if not asked and years:
        asked = [years[-1] - 1, years[-1]] if average or change else years[-1:]
    return Item(words, average, change, tuple(asked))


# Total debt where no row states it: the balance sheet's borrowings, current and noncurrent (short-term
# borrowings and commercial paper, the current portion of long-term debt, long-term debt), as analysts
# total it (CFA Institute, solvency ratios). Only on a page that has the long-term debt row.
_DEBT_ITEM_RE = re.compile(r"^(?:total\s+)?debt$", re.IGNORECASE)
_DEBT_PARTS_RE = re.compile(r"^\W*(?:short[-\s]term\s+(?:debt|borrowings)|commercial\s+paper|current\s+(?:portion|"
                            r"maturities)\s+of\s+long[-\s]term\s+debt|long[-\s]term\s+debt)", re.IGNORECASE)
_LONG_TERM_DEBT_RE = re.compile(r"^\W*long[-\s]term\s+debt", re.IGNORECASE)


def _debt_rows(pages: list[PreparedPage]) -> list[tuple[PreparedPage, dict[int, float]]]:
    """Per page with a long-term debt row: its debt rows summed for each year they all give; none for
    a page with a debt row whose figures were not read into year columns (the sum would miss it)."""
    parts: dict[int, tuple[PreparedPage, list[dict[int, float]]]] = {}
    for page, row in statement_rows(pages, _DEBT_PARTS_RE, False):
        parts.setdefault(id(page), (page, []))[1].append(row)
    out = []
    for page, rows in parts.values():
        keys = {_row_key(text) for text in page.labels if _DEBT_PARTS_RE.search(text)}  # read or not
        if len(rows) == len(keys) and any(_LONG_TERM_DEBT_RE.search(key) for key in keys):
            out.append((page, {year: sum(row[year] for row in rows) for year in set.intersection(*map(set, rows))}))
    return out


def _row_key(label: str) -> str:
    """A row's label without its figures: "long-term debt 2,800 3,000" → "long-term debt"."""
    return re.sub(r"[\s\d$(),.—–-]+$", "", label)


def page_values(item: Item, pages: list[PreparedPage]) -> list[Value]:
    """The item's values from the rows of the pages that name it (see the module docstring)."""
    out: dict[float, Value] = {}
    over_years = item.average or item.change
    rows = statement_rows(pages, _item_label(item.words), bool(_FLOW_RE.search(item.words)))
    for page, row in rows or (_debt_rows(pages) if _DEBT_ITEM_RE.match(item.words) else []):
        unit, cited = declared_unit(page), frozenset({(page.source.doc_id, page.source.page)})
        if over_years and len(item.years) == 2 and all(y in row for y in item.years):
            old, new = (format_operand(row[y]) for y in item.years)
            if item.average:
                value = (row[item.years[0]] + row[item.years[1]]) / 2
                out.setdefault(value, Value(value, f"({old} + {new}) / 2", unit, cited))
            else:
                value = row[item.years[1]] - row[item.years[0]]
                out.setdefault(value, Value(value, f"({new} - {old})", unit, cited))
        elif not over_years and len(item.years) == 1 and item.years[0] in row:
            value = row[item.years[0]]
            # An outflow of a statement of cash flows, or of an item that is one by its name (capex, dividends
            # paid) wherever a table shows it, is the amount the formula's sign adds or deducts; elsewhere a
            # figure in parentheses may be a loss as well as a deduction (an expense).
            outflow = _CASH_FLOWS_RE.search(page.source.text) or _OUTFLOW_RE.search(item.words)
            readings = (-value,) if outflow else (value, -value)
            for v in readings if value < 0 else (value,):
                out.setdefault(v, Value(v, format_operand(v), unit, cited))
    return list(out.values())[:MAX_VALUES]


def answer_values(item: Item, established: Sequence[tuple[float, frozenset[str]]], units: set[float]) -> list[Value]:
    """The values the answer established for a one-period item (figures a source states, of its
    supported claims whose measure words name it, latest first), in each page unit of `units`: a
    filing states net income on several lines, and the rows retrieved may hold another than the one
    the answer took. An average or a change is read from rows only: an answer's claims about them
    name the balances too; and a figure the answer computed is no line item of the filing."""
    if item.average or item.change or not units:
        return []
    names = [set(measure_tokens(item.words))] + [set(measure_tokens(alias)) for key, _, aliases in _ITEMS
                                                 if key.match(item.words) for alias in aliases]
    out: dict[tuple[float, float], Value] = {}
    for value, measure in reversed(established):
        if any(words and words <= measure for words in names):
            for unit in units:
                out.setdefault((value, unit), Value(value / unit, format_operand(value / unit), unit))
    return list(out.values())[: MAX_VALUES * len(units)]


def evaluate(definition: Definition, question: str, values_of, depth: int = 0,
             years: list[int] | None = None) -> list[Value] | None:
    """Every value of `definition` (one per choice of its items' values); None when some item has
    none or the formula does not parse. `values_of(item)`: an item's values (`page_values`);
    `years`: those an item naming none takes (the question's, or the year a formula gives a
    defined name: "FY2019 EBITDA")."""
    # by name as written, and without "unadjusted" (the reported figure: `_UNADJUSTED_RE`)
    defined = {key: d for d in definitions(question) for n in d.names
               for key in (n.lower(), _UNADJUSTED_RE.sub("", n).lower())}
    if years is None:
        years = sorted({p.year for p in extract_periods(question) if p.year is not None})

    def leaf(phrase: str) -> list[Value] | None:
        number = phrase.replace(",", "")
        if re.fullmatch(r"\d+(?:\.\d+)?", number):
            return [Value(float(number), phrase, 1.0)]
        periods = [p for p in extract_periods(phrase) if p.year is not None]
        bare = " ".join(re.sub("|".join(re.escape(p.text) for p in periods) or "$^", " ", phrase).split())
        inner = defined.get(bare.lower()) or defined.get(_UNADJUSTED_RE.sub("", bare).lower())
        if inner is not None and inner is not definition:
            named = [p.year for p in periods] or years
            return _grouped(evaluate(inner, question, values_of, depth + 1, named) if depth < MAX_DEPTH else None)
        item = read_item(phrase, years)
        return (values_of(item) or None) if item is not None else None

    parser = _Parser(_tokens(definition.formula), leaf)
    values = parser.sum()
    return values if values and parser.at == len(parser.tokens) else None


def not_as_defined(claim: str, unmatched: list[Quantity], question: str, bare: bool, pages: list[PreparedPage],
                   tolerances, established: Sequence[tuple[float, frozenset[str]]]) -> str | None:
    """Why a figure of `claim` left unmatched that states a metric the question defines is not what
    the definition gives from the rows (the verdict's reason), or None. `tolerances(q)`: the
    checker's `Tolerances` for a figure."""
    for q in unmatched:
        definition = defined_for(q, claim, question, bare)
        if definition is not None:
            found, computed, value = defined_derivation(q, definition, question, pages, tolerances(q), established)
            if computed and found is None:
                return f"{q.text.strip()} is not {value}"
    return None


def _stated(q: Quantity, values: list[Value], tol: Tolerances) -> Value | None:
    """The value `q` states, or None. A percentage is the value × 100; an amount may be stated at a
    scale of its page's unit ("$3,215.4 million" of a table in millions)."""
    for v in values:
        scales = (100.0,) if q.unit == "%" else (1.0, v.unit) if v.unit != 1.0 else (1.0, 1e3, 1e6, 1e9)
        if any(abs(v.value * scale - q.value) <= tol.multiplicative for scale in scales):
            return v
    return None


def defined_derivation(q: Quantity, definition: Definition, question: str, pages: list[PreparedPage],
                       tol: Tolerances, established: Sequence[tuple[float, frozenset[str]]] = (),
                       ) -> tuple[Derivation | None, bool, str]:
    """(the derivation of `q` as `definition` computes it, or None; whether the pages' rows could
    compute it; the value they give, for the verdict's reason). It is computed from the pages' rows,
    a one-period item also from the values the answer established for it (`answer_values`;
    `established`: (value, measure words) of the answer's supported figures)."""
    values = evaluate(definition, question, lambda item: page_values(item, pages))
    if values is None:
        return None, False, ""
    found = _stated(q, values, tol)
    if found is None and established:
        # The answer's values are in base units: they join rows only of pages that declare their unit.
        units = {declared_unit(page) for page in pages} - {1.0}
        both = evaluate(definition, question,
                        lambda item: page_values(item, pages) + answer_values(item, established, units))
        found = _stated(q, both or [], tol)
    if found is not None:
        return Derivation(f"{definition.name} as the question defines it = {found.shown}", (), q.magnitude), True, ""
    closest = min(values, key=lambda v: abs(abs(v.value) - q.magnitude))
    return None, True, f"the {definition.name} as the question defines it: {closest.shown} = {closest.value:,.4g}"


_DECIMALS_RE = re.compile(r"\b(?:to|with)\s+(one|two|three|four|\d)\s+decimal\s+places?\b", re.IGNORECASE)
_DECIMAL_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4}


def defined_answer(question: str, pages: list[PreparedPage], definition: Definition | None = None) -> str | None:
    """The metric the question asks for, computed as it defines it from the pages' rows and written
    as a worked claim with its citations ("DPO = 365 * ((25,309 + 34,616) / 2) / (111,934 + (16,047
    - 11,461)) = 93.86 [AMAZON_2017_10K p.40] [AMAZON_2017_10K p.38]."), rounded as the question
    asks (else to two decimals); None when the question defines no metric it asks for, or the rows
    give no value or several. `definition`: the metric's, when the question implies it."""
    definition = definition or asked_definition(question, definitions(question))
    values = evaluate(definition, question, lambda item: page_values(item, pages)) if definition else None
    if not values:
        return None
    m = _DECIMALS_RE.search(question)
    decimals = int(_DECIMAL_WORDS.get(m.group(1).lower(), m.group(1))) if m else 2
    if len({round(v.value, decimals) for v in values}) != 1:
        return None  # rows of several lines name an item: which one the question means is not known
    value = values[0]
    cites = " ".join(f"[{doc} p.{page}]" for doc, page in sorted(value.pages))
    percent = "%" if re.search(r"\*\s*100\s*$", definition.formula) else ""
    return f"{definition.name} = {value.shown} = {value.value:,.{decimals}f}{percent} {cites}."


def states_metric(question: str, claim: str) -> bool:
    """Whether `claim` states the metric the question asks for and defines: it names it, then gives
    a figure that is no operand of its working."""
    definition = asked_definition(question, definitions(question))
    if definition is None:
        return False
    ends = [end for n in definition.names for end in _named_at(claim, n)]
    return any(q.start >= min(ends) and not in_working(q, claim) for q in extract_quantities(claim)) if ends else False
