"""The activities of a statement of cash flows compared: "Among operations, investing, and financing
activities, which brought in the most (or lost the least) cash flow for Acme in FY2023?"

A statement of cash flows classifies every cash flow as operating, investing or financing (ASC
230-10-45-10; IAS 7.10) and totals each class on its own row ("Net cash provided by operating
activities", "Total cash used in investing activities", "Cash provided (used) by financing
activities"). A question comparing the classes is answered from those rows at the asked year: the
signed totals (an outflow in parentheses is negative), the largest for "the most" (or "lost the
least"), the smallest for "the least". `activities_answer` writes that answer, cited, for the
grounded teacher; `outranked_activity` tells the checker when a claim names another class as the
one with the most (least) ("investing activities brought in the most cash" where operations brought
in 5,841 million and investing 564 million).

A convention of the statement's structure, not fitted to any data set.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from rewards.arithmetic import format_operand
from rewards.periods import extract_periods
from rewards.premises import PreparedPage

# stem of the class as questions and claims name it -> its name in an answer
_CLASSES = {"operat": "operating", "invest": "investing", "financ": "financing"}
_CLASS_RE = re.compile(r"\b(operat|invest|financ)\w*", re.IGNORECASE)
_MOST_RE = re.compile(r"\b(?:most|highest|largest|greatest|biggest)\b", re.IGNORECASE)
_LEAST_RE = re.compile(r"\b(?:least|lowest|smallest)\b", re.IGNORECASE)
# "used the most cash", "lost the least": a ranking of outflows, the other way round
_OUTFLOW_RE = re.compile(r"\b(?:used|uses|lost|loses|spent|spends|consumed|outflows?|burn(?:ed|t|s)?)\b", re.IGNORECASE)
_AMONG_RE = re.compile(r"\bamong\s+(?:the\s+)?[^.;]*?\bactivities\b,?", re.IGNORECASE)
# "brought in the most (or lost the least)": the alternative says the same ranking in other words
_ALTERNATIVE_RE = re.compile(r"\(\s*or\s+[^()]*\)|\bor\s+(?:lost|used|spent)\s+the\s+(?:least|most)\b", re.IGNORECASE)


def asked_activities(question: str) -> tuple[bool, int] | None:
    """(whether the largest total is asked, year) of a question comparing at least two classes of cash
    flows in one year; None for any other question."""
    asking = _ALTERNATIVE_RE.sub(" ", question)
    if "cash" not in asking.lower() or len({m.group(1).lower() for m in _CLASS_RE.finditer(asking)}) < 2:
        return None
    most, least = bool(_MOST_RE.search(asking)), bool(_LEAST_RE.search(asking))
    years = {p.year for p in extract_periods(question) if p.year}
    if most == least or len(years) != 1:
        return None
    return most != bool(_OUTFLOW_RE.search(asking)), years.pop()  # "used the least cash": the largest total


def _label(stem: str) -> re.Pattern:
    # "Net cash provided by (used in) operating activities", "Total cash used in investing activities",
    # "Cash provided (used) by operations": the class's total row, not a line within it
    return re.compile(rf"^\W*(?:(?:net|total)\s+)*cash\b[^0-9]{{0,40}}?\b{stem}", re.IGNORECASE)


def class_totals(year: int, pages: Sequence[PreparedPage]) -> tuple[dict[str, float], PreparedPage] | None:
    """(class -> signed total at `year`, the statement page) from the one page that totals all three
    classes; None when no page does."""
    from rewards.defined_formulas import statement_rows

    for page in pages:
        totals: dict[str, float] = {}
        for stem, name in _CLASSES.items():
            values = {row[year] for p, row in statement_rows([page], _label(stem), flow=True) if year in row}
            if len(values) == 1:
                totals[name] = values.pop()
        if len(totals) == len(_CLASSES):
            return totals, page
    return None


def activities_answer(question: str, pages: Sequence[PreparedPage]) -> str | None:
    """The class the question asks for, with the three totals, from the statement's rows: "Operating
    activities brought in the most cash in FY2023: 1,824 million, against -962 million from investing
    activities and -1,806 million from financing activities [BESTBUY_2023_10K p.42]."; None when the
    question compares no classes or no page totals all three."""
    from rewards.defined_formulas import declared_unit
    from rewards.implied_formulas import written_amount

    asked = asked_activities(question)
    found = class_totals(asked[1], pages) if asked else None
    if asked is None or found is None:
        return None
    (most, year), (totals, page) = asked, found
    best = (max if most else min)(totals, key=totals.get)
    unit = declared_unit(page)
    amount = lambda v: written_amount(v, unit)  # noqa: E731
    others = " and ".join(f"{amount(v)} from {name} activities" for name, v in totals.items() if name != best)
    verb = "brought in the most" if most else "brought in the least"
    return (f"{best.capitalize()} activities {verb} cash in FY{year}: {amount(totals[best])}, against {others} "
            f"[{page.source.doc_id} p.{page.source.page}].")


def outranked_activity(claim: str, question: str, pages: Sequence[PreparedPage]) -> str | None:
    """Why a claim that one class of cash flows brought in the most (least) is false, when the question
    compares the classes and a statement page totals them; None otherwise."""
    asked = asked_activities(question)
    claim = _ALTERNATIVE_RE.sub(" ", _AMONG_RE.sub(" ", claim))  # "among operations, investing, and financing …"
    named = {m.group(1).lower() for m in _CLASS_RE.finditer(claim)}
    stated_most, stated_least = bool(_MOST_RE.search(claim)), bool(_LEAST_RE.search(claim))
    if (asked is None or len(named) != 1 or stated_most == stated_least
            or not re.search(r"\b(?:cash|activit)", claim, re.IGNORECASE)):
        return None
    if _OUTFLOW_RE.search(claim):  # "financing used the most cash": the largest outflow, the smallest total
        stated_most, stated_least = stated_least, stated_most
    found = class_totals(asked[1], pages)
    if found is None:
        return None
    totals, _page = found
    best = (max if stated_most else min)(totals, key=totals.get)
    said = _CLASSES[named.pop()]
    if said == best:
        return None
    word = "largest" if stated_most else "smallest"
    return f"not the {word} total: {said} {format_operand(totals[said])} against {best} {format_operand(totals[best])}"
