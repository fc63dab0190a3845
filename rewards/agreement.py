"""Whether what a sentence names agrees with what the sources and the question name.

Checked before any figure (`rewards.offline`), for claims and for framing sentences alike
(`rewards.claims`: a restated question naming the wrong company or year is an error of the answer
even though it asserts no fact):

* company and other names (`rewards.entities.KnownNames`, boundary-aware);
* years: every year a claim names occurs in the sources, doc ids or question. A framing sentence
  restates the question, so when the question names years its years must be those (ranges such as
  "FY2015 - FY2017" include the years between) or the year of a source document ("Boeing's 2018
  10-K" for BOEING_2018_10K);
* dates: a claimed "May 31, 2021" is known when the sources state that date, or state that month
  and day ("YEAR ENDED MAY 31," above a header of years) and the year;
* designations that are not figures but must be copied exactly: product models ("737 MAX") and
  filing forms ("10-Q"). A "368 MAX" or a "5-Q" the sources never write is not an approximation.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import NamedTuple

from cai.core.contracts import SourcePage
from rewards.claims import Claim
from rewards.entities import KnownNames, doc_filer, lower_case_words, normalise, unknown_entities
from rewards.numbers import designations
from rewards.periods import Period, extract_periods, period_years

_MONTH_DAY_RE = re.compile(
    r"\b(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?\s*(\d{1,2})(?!\d)", re.IGNORECASE
)
_DEFINES_RE = re.compile(r"=\s*[\[(]*\s*[A-Za-z]")  # "Quick Ratio = (Cash + ...": a formula of names
_MONTHS = {m: i for i, m in enumerate("jan feb mar apr may jun jul aug sep oct nov dec".split(), start=1)}
_RANGE_WORDS_RE = re.compile(r"\b(?:from|between|to|through)\b|\d\s*[-–]\s*(?:FY)?\s*\d", re.IGNORECASE)


def doc_id_years(sources: Sequence[SourcePage]) -> set[int]:
    return {int(y) for s in sources for y in re.findall(r"(?<!\d)((?:19|20)\d{2})(?!\d)", s.doc_id)}


def question_years(question: str) -> set[int]:
    """Years the question asks about; a range "FY2015 - FY2017" includes the years between."""
    years = sorted({p.year for p in extract_periods(question) if p.year})
    if len(years) >= 2 and _RANGE_WORDS_RE.search(question):
        return set(range(years[0], years[-1] + 1))
    return set(years)


# A year as a passage writes it ("fiscal 2017", "FY2016", "In 2022, …"), not a figure ("2,017", "$2017",
# "2019.5") nor a document id's ("[AMD_2015_10K p.60]").
_PASSAGE_YEAR_RE = re.compile(r"(?<![\d,.$_])(?:19|20)\d{2}(?!\d|[,.]\d|_)")


def claim_names_a_year(plain: str) -> bool:
    return _PASSAGE_YEAR_RE.search(plain) is not None


def of_asked_period(plain: str, asked_years: set[int], ranked: list) -> list:
    """The ranked (score, page, window) items a claim `plain` without figures may align to: none whose
    window names only other years than those asked, when the claim names no year of its own."""
    if not asked_years or claim_names_a_year(plain):
        return ranked
    return [r for r in ranked if not of_another_period(r[2].lowered, asked_years)]


def of_another_period(passage: str, asked_years: set[int]) -> bool:
    """Whether a source passage speaks of other years than those asked: it names years, none within a
    year of one the question asks about (a fiscal label and a calendar year may differ by one). A claim
    that names no period is about the asked one, so "Revenue declined due to lower demand", answering a
    question about FY2023, is not what "Revenue declined in fiscal 2017 due to lower demand" says."""
    years = _passage_years(passage)
    return bool(years and asked_years) and all(min(abs(y - a) for a in asked_years) > 1 for y in years)


@lru_cache(maxsize=8192)
def _passage_years(passage: str) -> frozenset[int]:
    """The years a passage names, read once per window text (every prose claim of an answer asks)."""
    return frozenset(int(y) for y in _PASSAGE_YEAR_RE.findall(passage))


class _PartFacts(NamedTuple):
    years: frozenset[int]
    dates: frozenset[tuple[int | None, int | None, int | None]]
    month_days: frozenset[tuple[int, int]]
    normalised: str
    lower_words: frozenset[str]


@lru_cache(maxsize=1024)
def _part_facts(part: str) -> _PartFacts:
    """What one source page (or the question) names, cached: the same pages come back for the
    draft and the revision of a question and across questions, and reading a page's periods and
    names is a noticeable share of a check's time."""
    periods = extract_periods(part)
    return _PartFacts(
        years=frozenset(period_years(periods)),
        dates=frozenset((p.year, p.month, p.day) for p in periods if p.kind == "date"),
        month_days=frozenset((_MONTHS[m.group(1).lower()[:3]], int(m.group(2))) for m in _MONTH_DAY_RE.finditer(part)),
        normalised=normalise(part),
        lower_words=frozenset(lower_case_words(part)),
    )


# A question about a change ("What drove the operating margin change as of FY22?") compares the year
# it names with the one before: a framing sentence may name that year too.
_CHANGE_QUESTION_RE = re.compile(r"\b(?:chang|increas|decreas|grow|grew|growth|declin|drove|driv|compar|versus|vs\b|"
                                 r"year[\s-]+over[\s-]+year|yoy\b)", re.IGNORECASE)


def compared_years(question: str) -> set[int]:
    """The years before those a change question names (FY22 -> 2021), else none."""
    if not _CHANGE_QUESTION_RE.search(question):
        return set()
    return {year - 1 for year in question_years(question)}


@dataclass
class Known:
    """What the question and the sources of one answer name."""

    names: KnownNames
    years: set[int]
    dates: set[tuple[int | None, int | None, int | None]]
    month_days: set[tuple[int, int]]
    asked_years: set[int]
    text: str = ""
    document_years: set[int] = field(default_factory=set)

    @classmethod
    def build(cls, question: str | None, answer: str, sources: Sequence[SourcePage]) -> Known:
        parts = [question or ""] + [f"{s.doc_id} {s.text}" for s in sources]
        facts = [_part_facts(part) for part in parts]
        text = " ".join(parts)
        names = KnownNames(text, normalised="".join(f.normalised for f in facts),
                           lower_words=set().union(*(f.lower_words for f in facts)),
                           filers=frozenset(doc_filer(s.doc_id) for s in sources))
        names.add_ordinary(answer)
        return cls(
            names=names,
            years=set().union(*(f.years for f in facts)) | doc_id_years(sources),
            dates=set().union(*(f.dates for f in facts)),
            month_days=set().union(*(f.month_days for f in facts)),
            asked_years=question_years(question or "") | compared_years(question or ""),
            text=text,
            document_years=doc_id_years(sources),
        )

    def date_known(self, date: Period) -> bool:
        if (date.year, date.month, date.day) in self.dates:
            return True
        return (date.month, date.day) in self.month_days and date.year in self.years

    def designation_known(self, designation: str) -> bool:
        digits, _, suffix = designation.partition(" ")
        pattern = rf"(?<![\d,.]){re.escape(digits)}(?!\d)" + (rf"\s*-?\s*{re.escape(suffix)}" if suffix else "")
        return re.search(pattern, self.text, re.IGNORECASE) is not None


def disagreement(claim: Claim, known: Known, *, framing: bool = False, names_only: bool = False) -> str | None:
    """Why the names, years, dates or designations of `claim` disagree with the sources and the
    question, or None when they agree. `names_only` (what an abstention says the sources lack: "no
    2024 outlook" may name a year they do not) checks the names alone."""
    # The names in a formula's definition are its variables ("Growth Rate = (Revenue in Current Year
    # - Revenue in Previous Year) / ..."), not companies the sources must know.
    unknown = [] if framing and _DEFINES_RE.search(claim.plain) else unknown_entities(claim.plain, known.names)
    if unknown:
        return f"entity not in sources or question: {', '.join(sorted({e.text for e in unknown}))}"
    if names_only:
        return None
    years = {p.year for p in claim.periods if p.year and not p.relative}  # "the prior year" is not a stated year
    stray = sorted(years - known.years)
    if framing and known.asked_years:
        stray = sorted(years - known.asked_years - known.document_years)
    if stray:
        where = "the question" if framing and known.asked_years else "sources or question"
        return f"period not in {where}: {stray}"
    stray_dates = [p.text for p in claim.periods if p.kind == "date" and not p.relative and not known.date_known(p)]
    if stray_dates:
        return f"date not in sources or question: {', '.join(stray_dates)}"
    # A month and day without a year ("the fiscal year ends on December 31") must be one the sources
    # or the question state too (a lower-case "may 5" is a verb, not a month); a lead-in ("Net sales
    # for the years ended December 31:") restates layout, not a fact.
    stray_days = [m.group(0) for m in _MONTH_DAY_RE.finditer(claim.plain) if not framing and m.group(1)[0].isupper()
                  and 1 <= int(m.group(2)) <= 31 and (_MONTHS[m.group(1).lower()[:3]], int(m.group(2)))
                  not in known.month_days]
    if stray_days:
        return f"date not in sources or question: {', '.join(stray_days)}"
    stray_designations = [d for d in designations(claim.plain) if not known.designation_known(d)]
    if stray_designations:
        return f"model or form not in sources or question: {', '.join(stray_designations)}"
    return None
