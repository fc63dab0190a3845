"""Metrics a question names by a standard formula without defining it (issue #17).

Financial questions name their metric in a fixed vocabulary (FinanceBench's "metrics-generated"
questions, Islam et al. 2023; an analyst's requests): "the FY2019 - FY2021 3 year average unadjusted
operating income % margin", "the 2 year total revenue CAGR from FY2020 to FY2022", "the FY2021 COGS %
margin", "the year-over-year change in revenue from FY2016 to FY2017", "the FY2022 dividend payout
ratio". Each has one textbook formula (CFA Institute, *Financial Reporting and Analysis*: a line
item's margin is the line over revenue; growth is (later - earlier) / earlier; a compound annual
growth rate is (later / earlier) ^ (1 / years) - 1; a payout ratio is dividends over net income, the
retention ratio one less it). `implied_definition` writes that formula over the question's line
items and years as a `rewards.defined_formulas.Definition`, so it is computed the same way from the
statement rows. The grounded teacher states a metric an answer lacks this way, when the rows give one
value; the checker takes it as one more derivation of a claim stating the metric (support only: the
conventions have variants, a margin on net sales or on total revenues, that its general derivations
also accept).
"""

from __future__ import annotations

import functools
import re

from rewards.arithmetic import Derivation, Tolerances, format_operand
from rewards.defined_formulas import (
    Definition,
    Value,
    asked_definition,
    defined_answer,
    definitions,
    evaluate,
    in_working,
    page_values,
    statement_rows,
)
from rewards.direction import DOWN, UP, denied_direction, stated_direction
from rewards.numbers import SCALE_NAMES, Quantity, extract_quantities
from rewards.premises import PreparedPage, measure_tokens

_YEAR = r"(?:fy\s*)?((?:19|20)\d{2})"
_SPAN = rf"{_YEAR}\s*(?:-|–|to|through)\s*{_YEAR}"
_N = r"(\d|two|three|four|five)"
_NUMBERS = {"two": 2, "three": 3, "four": 4, "five": 5}
_ITEM = r"([a-z&][\w&,'’ -]*?)"
# A margin: "% margin", "margin (as a %)", or a line "as a % of revenue".
_MARGIN = r"(?:\s+%)?\s+margin|\s+as\s+a\s+(?:%|percent(?:age)?)\s+of\s+(?:total\s+)?(?:net\s+)?(?:revenues?|sales)"
_FLAGS = re.IGNORECASE
_TEMPLATES: tuple[tuple[str, re.Pattern], ...] = (
    ("cagr", re.compile(rf"\b{_N}[\s-]+years?\s+{_ITEM}\s+cagr\s+from\s+{_YEAR}\s+to\s+{_YEAR}", _FLAGS)),
    ("average_margin", re.compile(rf"\b{_SPAN}\s+{_N}[\s-]+years?\s+average\s+(?:of\s+)?{_ITEM}(?:{_MARGIN})", _FLAGS)),
    ("average_margin_after", re.compile(
        rf"\b{_N}[\s-]+years?\s+average\s+(?:of\s+)?{_ITEM}(?:{_MARGIN})\s+from\s+{_YEAR}\s+to\s+{_YEAR}", _FLAGS)),
    ("margin_change", re.compile(rf"\b{_SPAN}\s+change\s+in\s+{_ITEM}(?:{_MARGIN})", _FLAGS)),
    ("growth", re.compile(rf"\b{_SPAN}\s+{_ITEM}\s+growth\s+rate", _FLAGS)),
    # a relative change only: "the change in revenue from 2018 to 2019" asks for the difference
    ("growth_from", re.compile(rf"\b(?:year[\s-]+over[\s-]+year\s+(?:change|growth)|growth|percent(?:age)?\s+change)"
                               rf"\s+in\s+{_ITEM}\s+from\s+{_YEAR}\s+to\s+{_YEAR}", _FLAGS)),
    ("margin", re.compile(rf"\b{_YEAR}\s+{_ITEM}(?:{_MARGIN})", _FLAGS)),
    ("payout", re.compile(rf"\b{_YEAR}\s+dividend\s+payout\s+ratio", _FLAGS)),
    # A line item's change between two years, asked as a question about it: "Has Microsoft increased its
    # debt on balance sheet between FY2023 and the FY2022 period?", "How does Acme's total debt in FY2022
    # compare to FY2021?", "Was there any drop in inventories between FY2022 and FY2023?", "How much has
    # the effective tax rate of Acme changed between FY2021 and FY2022?"
    ("change", re.compile(rf"\bhas\s+[^?]+?\s+(?:increased|decreased|reduced|raised|grown|cut)\s+(?:its|their|the)\s+"
                          rf"{_ITEM}(?:\s+on\s+(?:the\s+|its\s+)?balance\s+sheets?)?\s+between\s+(?:the\s+)?"
                          rf"{_YEAR}\s+and\s+(?:the\s+)?{_YEAR}", _FLAGS)),
    ("change", re.compile(rf"\bhow\s+(?:does|did)\s+[^?]+?['’]s?\s+{_ITEM}\s+in\s+{_YEAR}\s+compare\s+"
                          rf"(?:to|with)\s+(?:that\s+(?:of|in)\s+|the\s+)?{_YEAR}", _FLAGS)),
    ("change", re.compile(rf"\b(?:was|were)\s+there\s+(?:any\s+|an?\s+)?(?:drop|decline|decrease|increase|rise"
                          rf"|change)\s+in\s+{_ITEM}\s+between\s+(?:the\s+)?{_YEAR}\s+and\s+(?:the\s+)?{_YEAR}",
                          _FLAGS)),
    ("change", re.compile(rf"\bhow\s+much\s+(?:has|have|did)\s+(?:[\w&.-]+['’]s?\s+)?(?:the\s+)?{_ITEM}"
                          rf"(?:\s+of\s+[^?]+?)?\s+chang(?:e|ed)\s+(?:between|from)\s+(?:the\s+)?{_YEAR}\s+"
                          rf"(?:and|to)\s+(?:the\s+)?{_YEAR}", _FLAGS)),
    ("retention", re.compile(rf"\b{_YEAR}\s+retention\s+ratio", _FLAGS)),
)
# Words of the question around the item that name no line item.
_NOT_ITEM_RE = re.compile(r"\b(?:the|unadjusted|reported|gaap|total\s+amount\s+of|year[\s-]+end)\s+", _FLAGS)


def _item(words: str) -> str:
    return " ".join(_NOT_ITEM_RE.sub(" ", f"{words} ").split())


def _margin(item: str, year: int, defined: bool = False) -> str:
    """A line's margin in `year`. EBITDA, where the question does not define it (`defined`), is what
    filings' statements give: operating income plus depreciation and amortization (the cash-flow
    statement's add-back), the "unadjusted" EBITDA of reported figures."""
    if not defined and re.fullmatch(r"ebitda", item, re.IGNORECASE):
        return f"(FY{year} operating income + FY{year} depreciation and amortization) / FY{year} revenue"
    return f"FY{year} {item} / FY{year} revenue"


@functools.lru_cache(maxsize=256)
def implied_definition(question: str) -> Definition | None:
    """The standard formula of the metric the question's asking sentence names (see the module
    docstring), as a definition; None when it names none of them, or defines its metric itself."""
    if asked_definition(question, definitions(question)) is not None:
        return None
    defined = bool(definitions(question))
    asking = next((s for s in re.split(r"(?<=[.?!])\s+", question) if "?" in s), question)
    asking = re.sub(r"\s*\([^()]*\)", "", asking)  # "depreciation and amortization (D&A from cash flow statement)"
    for kind, pattern in _TEMPLATES:
        m = pattern.search(asking)
        if m is None:
            continue
        groups = m.groups()
        if kind == "cagr":
            n, item, a, b = _NUMBERS.get(groups[0].lower(), groups[0]), _item(groups[1]), groups[2], groups[3]
            return Definition(f"{item} CAGR", (), f"((FY{b} {item} / FY{a} {item}) ^ (1 / {n}) - 1) * 100")
        if kind.startswith("average_margin"):
            a, b, n, words = (groups[0], groups[1], groups[2], groups[3]) if kind == "average_margin" else (
                groups[2], groups[3], groups[0], groups[1])
            years, item = range(int(a), int(b) + 1), _item(words)
            if len(years) != int(_NUMBERS.get(n.lower(), n)):
                return None  # "3 year average" over a span of another length
            terms = " + ".join(f"{_margin(item, y, defined)}" for y in years)
            return Definition(f"{len(years)} year average {item} margin", (), f"({terms}) / {len(years)} * 100")
        if kind == "margin_change":
            a, b, item = int(groups[0]), int(groups[1]), _item(groups[2])
            margins = f"{_margin(item, b, defined)} - {_margin(item, a, defined)}"
            return Definition(f"change in {item} margin", (), f"({margins}) * 100")
        if kind in ("growth", "growth_from"):
            a, b, item = (groups[0], groups[1], _item(groups[2])) if kind == "growth" else (
                groups[1], groups[2], _item(groups[0]))
            return Definition(f"{item} growth", (), f"(FY{b} {item} - FY{a} {item}) / FY{a} {item} * 100")
        if kind == "change":
            return _change(*groups)
        if kind == "margin":
            year, item = int(groups[0]), _item(groups[1])
            return Definition(f"{item} margin", (), f"{_margin(item, year, defined)} * 100")
        year = groups[0]
        income, paid = f"FY{year} net income attributable", f"FY{year} cash dividends paid"
        if kind == "payout":
            return Definition("dividend payout ratio", (), f"{paid} / {income}")
        return Definition("retention ratio", (), f"({income} - {paid}) / {income}")
    return _lookup(asking) if not defined else None


# A line item asked for by its caption, for one year: "What is the year end FY2019 total amount of
# inventories for Best Buy?", "how much total assets did Costco have at the end of FY2021?", "how much
# did Block generate in cash flow from operating activities in FY2020?", "What is the FY2016 COGS for
# Microsoft?". Groups: (year, item) for the first, (item, year) for the others.
_LOOKUPS = (
    re.compile(rf"\bwhat\s+(?:is|was|were)\s+(?:the\s+)?(?:[\w&.'’ -]+?['’]s?\s+)?(?:year[\s-]+end\s+)?{_YEAR}\s+"
               rf"{_ITEM}(?:\s+(?:for|at)\s+[^?]*)?\?", _FLAGS),
    re.compile(rf"\bhow\s+much\s+{_ITEM}\s+did\s+[^?]+?\s+have\s+(?:at\s+the\s+end\s+of|in|for)\s+(?:the\s+)?"
               rf"{_YEAR}", _FLAGS),
    re.compile(rf"\bhow\s+much\s+did\s+[^?]+?\s+(?:generate|spend|pay|report|record|earn)\s+(?:in|on)\s+{_ITEM}"
               rf"\s+in\s+{_YEAR}", _FLAGS),
)
# Words of a metric, not a line item: those are the templates' (or no standard formula's) business.
_METRIC_WORDS_RE = re.compile(r"%|\b(?:margins?|ratios?|growth|rates?|turnover|per\s+share|change|cagr|average"
                              r"|days|percent(?:age)?|yield|return|multiple|ebitda)\b", _FLAGS)
MAX_ITEM_WORDS = 6  # a line item's caption ("net property, plant, and equipment"), not a clause


# A part of the filer: its line item is a segment note's, not the statements' ("revenue for Nike's
# Converse segment").
_PART_RE = re.compile(r"\b(?:segments?|divisions?|business(?:es)?|units?|regions?|geograph\w*|categor(?:y|ies)"
                      r"|brands?|subsidiar(?:y|ies)|products?|services?|stores?|channels?)\b", _FLAGS)


def _lookup(asking: str) -> Definition | None:
    """The line item the asking sentence asks for in one year (`_LOOKUPS`), as a one-item definition;
    None for a part of the filer's."""
    if _PART_RE.search(asking):
        return None
    for i, pattern in enumerate(_LOOKUPS):
        m = pattern.search(asking)
        if m is None:
            continue
        year, words = m.groups() if i == 0 else m.groups()[::-1]
        item = _item(words).strip(" ,")
        if item and len(item.split()) <= MAX_ITEM_WORDS and not _METRIC_WORDS_RE.search(item):
            return Definition(item, (), f"FY{year} {item}")
    return None


# A rate a filing states in a row of its own ("Effective tax rate 23% 20%"): its change is read from
# that row, in percentage points, never computed.
_RATE_ITEM_RE = re.compile(r"\s+rates?$", _FLAGS)


def _change(words: str, *years: str) -> Definition | None:
    """A line item's change from the earlier year to the later (the difference); None for a metric
    other than a rate, or a part of the filer (`_lookup`'s rules)."""
    item = _item(words).strip(" ,")
    if (not item or len(item.split()) > MAX_ITEM_WORDS or _METRIC_WORDS_RE.search(_RATE_ITEM_RE.sub("", item))
            or _PART_RE.search(item) or years[0] == years[1]):
        return None
    a, b = sorted(years)
    return Definition(f"change in {item}", (), f"FY{b} {item} - FY{a} {item}")


def _is_lookup(metric: Definition) -> bool:
    return not re.search(r"[-+*/^()]", metric.formula)


def _read(metric: Definition, question: str, pages: list[PreparedPage]) -> Value | None:
    """The one value the pages' rows give a one-item definition, or None (none, or several)."""
    values = evaluate(metric, question, lambda item: page_values(item, pages))
    return values[0] if values and len({v.value for v in values}) == 1 else None


def written_amount(number: float, unit: float) -> str:
    """A row's figure with its page's unit: "5,409 million"."""
    return f"{format_operand(number)}{f' {SCALE_NAMES[unit]}' if unit in SCALE_NAMES else ''}"


def _cites(*values: Value) -> str:
    return " ".join(f"[{doc} p.{page}]" for doc, page in sorted(set().union(*(v.pages for v in values))))


def lookup_answer(question: str, pages: list[PreparedPage]) -> str | None:
    """The line item the question asks for (`_lookup`) read from the pages' rows, written with its
    page's unit and citation ("Inventories in FY2019: 5,409 million [BESTBUY_2019_10K p.52]."); None
    when the question asks for none or the rows give no value or several."""
    metric = implied_definition(question)
    if metric is None or not _is_lookup(metric):
        return None
    value = _read(metric, question, pages)
    if value is None:
        return None
    year = metric.formula.split()[0]
    amount = written_amount(value.value, value.unit)
    return f"{metric.name[:1].upper()}{metric.name[1:]} in {year}: {amount} {_cites(value)}."


def _asked_change(question: str) -> tuple[str, str, str] | None:
    """(item, earlier term, later term) of the line item's change the question asks about (`_change`:
    "FY2022 debt", "FY2023 debt"), or None."""
    metric = implied_definition(question)
    if metric is None or not metric.name.startswith("change in ") or _is_lookup(metric):
        return None
    later, earlier = (term.strip() for term in metric.formula.split(" - "))
    return metric.name.removeprefix("change in "), earlier, later


def _decimals(value: float) -> int:
    return len(f"{value:g}".partition(".")[2])


def _rate(item: str, year: int, pages: list[PreparedPage]) -> Value | None:
    """The value of the rows of percentages labelled `item` in `year`'s column ("Effective tax rate
    23% 20%"), as a fraction with its page cited: the most precise of rows that agree at the coarsest
    one's rounding (an MD&A's 23% and the tax note's 22.9%); None for none or rows that disagree."""
    label = re.compile(r"^\W*" + r"\W*".join(re.escape(w) for w in item.split()), _FLAGS)
    found = sorted({(_decimals(row[year]), row[year], page.source.doc_id, page.source.page)
                    for page, row in statement_rows(pages, label, False, True) if year in row})
    if not found:
        return None
    coarsest, anchor = found[0][:2]  # every row must round to the coarsest one (and so to each other)
    if any(abs(v - anchor) > 0.5 * 10 ** -coarsest + 1e-9 for _, v, _, _ in found):
        return None
    _, value, doc, page = found[-1]
    return Value(value / 100, f"{format_operand(value)}%", 1.0, frozenset({(doc, page)}))


def _read_change(question: str, asked: tuple[str, str, str], pages: list[PreparedPage]) -> tuple[Value, Value] | None:
    """The asked item's (earlier, later) values from the pages' rows, one each, or None: a rate's from
    its rows of percentages (`_rate`)."""
    item, earlier, later = asked
    if _RATE_ITEM_RE.search(item):
        old, new = (_rate(item, int(term.split()[0].removeprefix("FY")), pages) for term in (earlier, later))
    else:
        old, new = (_read(Definition(item, (), term), question, pages) for term in (earlier, later))
    return None if old is None or new is None else (old, new)


def _level(value: Value) -> str:
    """A value read for a change: a rate as its row shows it, an amount with its page's unit."""
    return value.shown if value.shown.endswith("%") else written_amount(value.value, value.unit)


def _move(old: Value, new: Value) -> str:
    """The difference of two readings: a rate's in percentage points."""
    if old.shown.endswith("%"):
        return f"{format_operand(round(abs(new.value - old.value) * 100, 6))} percentage points"
    return written_amount(abs(new.value - old.value), new.unit)


def change_answer(question: str, pages: list[PreparedPage]) -> str | None:
    """A line item's change the question asks about (`_change`), read from its rows for both years
    ("Inventories: 2,300 million in FY2019 and 2,400 million in FY2020, up 100 million [...]."); None
    when the question asks about none or the rows do not give one value for each year."""
    asked = _asked_change(question)
    values = _read_change(question, asked, pages) if asked is not None else None
    if values is None or values[0].unit != values[1].unit:
        return None
    (item, earlier, later), (old, new) = asked, values
    moved = "up" if new.value > old.value else "down" if new.value < old.value else "unchanged"
    by = "" if moved == "unchanged" else f" {_move(old, new)}"
    return (f"{item[:1].upper()}{item[1:]}: {_level(old)} in {earlier.split()[0]} and "
            f"{_level(new)} in {later.split()[0]}, {moved}{by} {_cites(old, new)}.")


_MOVED = {UP: "an increase", DOWN: "a decrease"}


def change_contradiction(claim: str, question: str, pages: list[PreparedPage]) -> str | None:
    """Why a figure-less claim's direction for the line item whose change the question asks about
    (`_change`) is contradicted by the item's rows for both years (the verdict's reason), or None:
    "Yes, Microsoft has increased its debt" where the balance sheet's debt fell, or a denial ("has not
    decreased") of the change that happened. `pages`: the asked filer's."""
    asked = _asked_change(question)
    if asked is None or extract_quantities(claim):
        return None
    item, earlier, later = asked
    heads = measure_tokens(item)
    if not heads or not set(heads) <= set(measure_tokens(claim)):
        return None  # the claim is not about the item
    values = _read_change(question, asked, pages)
    if values is None or values[0].value == values[1].value:
        return None
    old, new = values
    moved = UP if new.value > old.value else DOWN
    said, denied = stated_direction(claim, heads), denied_direction(claim, heads)
    if said not in (UP, DOWN) or said == moved:
        if denied != moved:
            return None
    claimed = f"no {_MOVED[moved].split()[1]}" if denied == moved else _MOVED[said]
    return (f"the rows of both years contradict it: {item} {_level(old)} ({earlier.split()[0]}) → "
            f"{_level(new)} ({later.split()[0]}) is {_MOVED[moved]}; the claim says {claimed}")


def asked_metric(question: str) -> Definition | None:
    """The definition of the metric the question asks for: its own, else the standard formula of the
    metric it names (`implied_definition`); None when it asks for no such metric."""
    return asked_definition(question, definitions(question)) or implied_definition(question)


def computed_answer(question: str, pages: list[PreparedPage]) -> str | None:
    """The metric the question asks for (`asked_metric`) computed from the pages' rows: a worked,
    cited claim (`rewards.defined_formulas.defined_answer`), or None."""
    metric = asked_metric(question)
    if metric is None:
        return None
    return lookup_answer(question, pages) or change_answer(question, pages) or defined_answer(question, pages, metric)


def _implied_values(implied: Definition, question: str, pages: list[PreparedPage]) -> list[Value]:
    """The values the rows give the implied metric: a rate's change from its rows of percentages
    (`_rate`: a fraction, so "3%" of a claim is its points), any other from the rows of amounts."""
    asked = _asked_change(question)
    if asked is not None and _RATE_ITEM_RE.search(asked[0]):
        read = _read_change(question, asked, pages)
        return [] if read is None else [Value(read[1].value - read[0].value, f"{read[1].shown} - {read[0].shown}",
                                              1.0, read[0].pages | read[1].pages)]
    return evaluate(implied, question, lambda item: page_values(item, pages)) or []


def implied_derivation(q: Quantity, claim: str, question: str, pages: list[PreparedPage], tol: Tolerances,
                       bare: bool) -> Derivation | None:
    """The derivation of `q` as the metric the question names by a standard formula, from the rows
    (`implied_definition`), or None: support only, as the conventions vary (a margin on net sales or
    on total revenues) and a claim may state a variant the rows do not show. `q` must state the
    metric: a result, not an operand of the claim's working, in a claim on the metric's line item
    (or a bare answer)."""
    implied = implied_definition(question)
    if implied is None or in_working(q, claim) or _is_lookup(implied):
        return None  # a line item asked for is matched in its row like any figure, at the claim's period
    if not bare and not set(measure_tokens(implied.name)) & set(measure_tokens(claim)) - {"margin", "average"}:
        return None
    percent = implied.formula.endswith("* 100")
    # "a decrease of 0.2 percentage points" states the sign in words: the magnitude is the figure's
    changes = bool(re.search(r"\b(?:change|growth|cagr)\b", implied.name, re.IGNORECASE))
    moved = stated_direction(claim, measure_tokens(implied.name)) if changes else None
    for v in _implied_values(implied, question, pages):
        value = v.value * 100 if q.unit == "%" and not percent else v.value
        if moved in (UP, DOWN) and q.value > 0:
            value = value * moved  # an increase is a positive change; a stated decrease of a negative one
        if abs(value - q.value) <= tol.multiplicative:
            return Derivation(f"{implied.name} = {v.shown}", (), q.magnitude)
    return None
