"""Direction of change ("increased", "fell", "down from") checked against the values it compares.

Figure matching verifies *what* a claim quotes, not which way it says things moved: "total revenues
decreased from $62,286 million in 2021 to $66,608 million in 2022" quotes two right figures, and
"decreased 6.9%" is the growth rate of the right rows with its sign dropped. A faithfulness reward
blind to the sign pays a policy for getting it wrong, so a claim that states a direction has it
checked against the two values it compares, wherever they can be found:

1. `pair_change`: its own two figures, ordered by the words that tie them to the direction
   ("decreased from X to Y", "rose to Y from X", "Y, down from X", "X ... and decreased to Y", "Y, which
   was lower than X": a comparison must hold whatever the periods), or
   by the periods they are stated for when nothing but period words stands between them.
2. `period_change`: for a change stated between two periods ("increased by 2.7 percentage points
   from FY2021 to FY2022", "revenue declined in 2022 compared to 2021"), the measure's values for
   those periods: figures the answer established earlier for that measure and period (`Level`),
   else a source table row whose label names the measure, in the two periods' columns.

A direction the values contradict makes the claim unsupported. One that cannot be checked (a
negation, an ambiguous word such as "narrowed", figures of different units, two negative values,
periods whose order is unclear, no values or more than one candidate) leaves the verdict to the
other checks. The only support this module adds is for a claim without figures whose direction
the values confirm ("Boeing's gross margin improved from 2020 to 2022" after the answer computed
both margins); its evidence is the newer value's row or claim evidence.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from cai.core.contracts import Evidence
from rewards.arithmetic import is_operand, is_result
from rewards.attribution import period_for, period_key
from rewards.claims import Claim, without_lead_in
from rewards.numbers import Quantity, agreeing, extract_quantities
from rewards.periods import Period, period_compatible, table_rows
from rewards.premises import (
    INFERENCE_WORDS,
    MODIFIERS,
    NEGATION_RE,
    PreparedPage,
    content_tokens,
    measure_tokens,
    occurs,
    row_evidence,
)

UP, DOWN, SAME = 1, -1, 0

# "up"/"down" only where they state a change ("down 7.2%", "up from", "up by 5%"), not "made up of",
# "set up by the board".
_UP = (r"increas(?:e|ed|es|ing)|grew|grow(?:s|n|ing|th)?|rose|(?<!give )(?<!gave )ris(?:e|es|en|ing)|higher"
       r"|climb(?:ed|s)?|up(?=\s+(?:from|(?:by|to)\s+[$(]?[\d⟦]|\$?\d|⟦))")
_DOWN = (r"decreas(?:e|ed|es|ing)|declin(?:e|ed|es|ing)|fell|fall(?:s|en|ing)?|drop(?:ped|s)?|lower"
         r"|reduc(?:ed|es|ing|tion)|shr[au]nk|down(?=\s+(?:from|(?:by|to)\s+[$(]?[\d⟦]|\$?\d|⟦))")
# Better or worse depends on the measure: an improving margin rose, an improving loss fell.
_BETTER = r"improv(?:e|ed|es|ing|ement)"
_WORSE = r"worsen(?:ed|s|ing)?|deteriorat(?:e|ed|es|ing|ion)"
_DIRECTION_RE = re.compile(rf"\b(?:(?P<up>{_UP})|(?P<down>{_DOWN})|(?P<better>{_BETTER})|(?P<worse>{_WORSE}))\b",
                           re.IGNORECASE)
_DIR = rf"\b(?:{_UP}|{_DOWN}|{_BETTER}|{_WORSE})\b"  # the same words, unnamed, for the templates below
# Words that blur a direction ("the loss narrowed", "margins were stable") or set two against each
# other ("revenue rose while costs fell").
_AMBIGUOUS_RE = re.compile(
    r"\b(?:narrow|widen|flat|unchanged|stable|steady|fluctuat|volatil|mixed|offset|partially|despite|while|whereas)",
    re.IGNORECASE)
# "No change", "unchanged", "remained the same": the two values are equal. Hedged ("no significant
# change", "remained relatively stable") a difference is allowed, and the claim is not checked.
_SAME_RE = re.compile(
    r"\b(?:no|not|without)\b[^.;,]{0,30}?\bchange[sd]?\b|n't\b[^.;,]{0,30}?\bchange[sd]?\b|\bunchanged\b"
    r"|\b(?:remain(?:ed|s)?|stay(?:ed|s)?|held|was|were)\s+(?:the\s+same|flat|constant|steady|stable)\b",
    re.IGNORECASE)
# Negations and blurring words within a direction clause (LOCAL_BLUR chars before its direction word).
_BLURRED_RE = re.compile(
    NEGATION_RE.pattern + r"|\b(?:narrow|widen|flat|unchanged|stable|steady|fluctuat|volatil|mixed)", re.IGNORECASE)
LOCAL_BLUR = 30
_HEDGE_RE = re.compile(r"\b(?:roughly|relatively|largely|approximately|about|nearly|virtually|essentially|broadly"
                       r"|fairly|mostly|little|slight(?:ly)?|significant(?:ly)?|material(?:ly)?|much|major)\b",
                       re.IGNORECASE)
_LOWER_IS_BETTER = ("loss", "expens", "cost", "debt", "liabilit", "deficit", "leverage", "borrow", "impairment",
                    "churn")
# Words of a change claim that do not say what it measures: direction, comparison and filler words.
_NOT_HEADS = frozenset(content_tokens(
    "increase increased increasing grew grow grows growth rose rise rising higher decrease decreased declined decline "
    "declining fell fall falling dropped drop lower reduced reduction improved improving improvement worsened "
    "deteriorated compared versus from change changed unchanged remained remain stayed same flat constant steady "
    "stable appear"
)) | frozenset(content_tokens("there represents represent means meant result resulted resulting period periods"))
# "the number of stores" measures stores: a count word names no measure of its own; nor do a negation
# ("there does not appear to be any change") or the filing a claim reports from ("the filing states").
_NOT_HEADS |= frozenset(content_tokens("number count not any filing states stated shows showed"))

_BY = r"(?:\s+(?:by|of)\s+⟦\d+⟧(?:\s+percentage\s+points?|\s+basis\s+points)?)?"
# Templates over the claim with its figures replaced by ⟦i⟧: which figure is old, which new.
_PAIR_RES = [
    re.compile(rf"(?P<dir>{_DIR}){_BY}[^⟦.;]{{0,40}}?\bfrom\s+⟦(?P<old>\d+)⟧[^⟦;]{{0,60}}?\bto\s+⟦(?P<new>\d+)⟧",
               re.IGNORECASE),
    re.compile(rf"(?P<dir>{_DIR}){_BY}[^⟦.;]{{0,40}}?\bto\s+⟦(?P<new>\d+)⟧[^⟦;]{{0,60}}?\bfrom\s+⟦(?P<old>\d+)⟧",
               re.IGNORECASE),
    re.compile(rf"⟦(?P<new>\d+)⟧[^⟦;]{{0,60}}?[,(]\s*(?:an?\s+)?(?P<dir>{_DIR})(?:\s+(?:of\s+)?⟦\d+⟧)?"
               rf"\s+(?:from|compared\s+(?:to|with)|versus|vs\.?)\s+(?:the\s+)?⟦(?P<old>\d+)⟧", re.IGNORECASE),
    re.compile(rf"⟦(?P<old>\d+)⟧[^⟦;]{{0,80}}?\band\s+(?:\w+\s+){{0,2}}?(?P<dir>{_DIR})\s+to\s+⟦(?P<new>\d+)⟧",
               re.IGNORECASE),
    # A comparison of the claim's two figures: "$47 million, which was lower than the $54 million of …"
    # (only a copula or "which" between the first figure and the comparative; a figure set off by a comma,
    # "25% in 2023, 5 points higher than 20%", is the difference, not a compared value).
    re.compile(r"(?<!,)(?<!,\s)⟦(?P<new>\d+)⟧\s*,?\s*(?:(?:which|that)\s+)?"
               r"(?:(?:was|were|is|are|remains?|remained)\s+)?"
               r"(?:\w+ly\s+)?(?P<dir>higher|lower)\s+than\s+[^⟦;.]{0,50}?⟦(?P<old>\d+)⟧", re.IGNORECASE),
]
_FISCAL_KINDS = ("fy", "year", "quarter")


@dataclass(frozen=True)
class Level:
    """A value the answer established for a measure in a period ("gross margin 5.26% in 2022")."""

    measure: frozenset[str]
    period: Period
    value: float
    text: str  # as written
    percent: bool
    evidence: Evidence | None


@dataclass(frozen=True)
class Change:
    """The two values a direction claim compares, and whether they agree with it."""

    claimed: int
    old: float
    new: float
    old_label: str
    new_label: str
    evidence: Evidence | None = None

    @property
    def moved(self) -> int | None:
        return movement(self.old, self.new)

    @property
    def agrees(self) -> bool:
        return self.moved == self.claimed

    def describe(self) -> str:
        words = {UP: "an increase", DOWN: "a decrease", SAME: "no change"}
        moved, said = words[self.moved], words[self.claimed]
        return f"{self.old_label} → {self.new_label} is {moved}; the claim says {said}"


def claim_levels(claim: Claim, sourced: Sequence[tuple[Quantity | None, Period | None]], heads: list[str],
                 evidence: Evidence | None) -> list[Level]:
    """The values a supported claim states for its measure (`heads`), each with its period: the
    claim's, else the table column its figure was matched in (`sourced`, one per figure). A term
    of a formula is not a value of the measure; the formula's result is."""
    if not heads:
        return []
    levels = []
    for q, (_, column) in zip(claim.quantities, sourced, strict=True):
        if is_operand(q, claim.plain) and not is_result(q, claim.plain):
            continue
        period = period_for(q, claim.quantities, claim.periods, claim.plain) or column
        if period is not None:
            levels.append(Level(frozenset(heads), period, q.value, q.text.strip(), q.unit == "%", evidence))
    return levels


def source_levels(claim: Claim, sourced: Sequence[tuple[Quantity | None, Period | None]],
                  heads: list[str]) -> list[Level]:
    """The source values behind the claim's own figures that were matched in a table column,
    formula terms included ("debt decreased by $2,544 million ($49,781 million - $47,237 million)
    from FY2022 to FY2023": the two terms are the FY2022 and FY2023 columns)."""
    return [Level(frozenset(heads), column, source_q.value, source_q.text.strip(), q.unit == "%", None)
            for q, (source_q, column) in zip(claim.quantities, sourced, strict=True)
            if source_q is not None and column is not None]


def movement(old: float, new: float) -> int | None:
    """UP, DOWN or 0 from `old` to `new`; None for two negative values (a loss written "(4,290)"
    to "(5,053)" grew or fell depending on how the writer reads the sign)."""
    if old < 0 and new < 0:
        return None
    return 0 if new == old else UP if new > old else DOWN


def _word_direction(match: re.Match, measure: Sequence[str]) -> int:
    kind = match.lastgroup
    if kind in ("up", "down"):
        return UP if kind == "up" else DOWN
    inverted = any(t.startswith(_LOWER_IS_BETTER) for t in measure)
    better = (kind == "better") != inverted
    return UP if better else DOWN


def stated_direction(plain: str, measure: Sequence[str]) -> int | None:
    """UP or DOWN when every direction word of the claim says the same and nothing negates or
    blurs it; SAME for an unhedged "no change" without direction words; else None."""
    if _SAME_RE.search(plain) and not _HEDGE_RE.search(plain) and not _DIRECTION_RE.search(plain):
        return SAME
    if NEGATION_RE.search(plain) or _AMBIGUOUS_RE.search(plain):
        return None
    found = {_word_direction(m, measure) for m in _DIRECTION_RE.finditer(plain)}
    return found.pop() if len(found) == 1 else None


# What may stand between a negation and the direction word it denies: "does not appear to be improving",
# "has not increased", "is not on an improving trend".
_DENIAL_GAP_RE = re.compile(r"(?:\s+(?:appears?|seems?|to|be|been|being|is|are|was|were|has|have|had|shown?|showing"
                            r"|on|an?|yet|really|currently))*\s+", re.IGNORECASE)


def denied_direction(plain: str, measure: Sequence[str]) -> int | None:
    """UP or DOWN for a claim that denies exactly that change and states no other ("gross margin does
    not appear to be improving": UP for a margin; "debt has not increased": UP); None otherwise, and
    for a hedged denial ("not significantly improved" allows a slight improvement)."""
    words = list(_DIRECTION_RE.finditer(plain))
    if len(words) != 1 or _HEDGE_RE.search(plain) or _AMBIGUOUS_RE.search(plain) or _SAME_RE.search(plain):
        return None
    negations = list(NEGATION_RE.finditer(plain, 0, words[0].start()))
    if not negations or not _DENIAL_GAP_RE.fullmatch(plain, negations[-1].end(), words[0].start()):
        return None
    return _word_direction(words[0], measure)


def earlier(a: Period, b: Period) -> bool | None:
    """Whether period `a` ends before `b`; None when the order is unclear. A fiscal label and a
    calendar date are ordered only two or more years apart: a fiscal year may end in either
    calendar year."""
    if a.year is None or b.year is None:
        return None
    if a.kind == "date" and b.kind == "date":
        first, second = (a.year, a.month, a.day), (b.year, b.month, b.day)
        return None if first == second else first < second
    if a.kind in _FISCAL_KINDS and b.kind in _FISCAL_KINDS:
        if a.year != b.year:
            return a.year < b.year
        if a.quarter and b.quarter and a.quarter != b.quarter:
            return a.quarter < b.quarter
        return None
    return a.year < b.year if abs(a.year - b.year) >= 2 else None


def pair_change(claim: Claim) -> Change | None:
    """The claim's own two figures its direction word compares (see the module docstring)."""
    figures = claim.quantities
    if len(figures) < 2:
        return None
    plain = claim.plain
    pieces, last = [], 0
    for i, q in enumerate(figures):  # in text order; one pass, however many figures
        pieces += [plain[last : q.start], f"⟦{i}⟧"]
        last = q.end
    template = "".join(pieces) + plain[last:]
    measure = measure_tokens(plain)
    changes = []
    for pattern in _PAIR_RES:
        for m in pattern.finditer(template):
            # A template ties one direction word to its two figures, so only a negation or a blurring
            # word within that clause stops it: "Despite a decrease in revenue from X to Y, …" still says
            # revenue decreased; "did not decrease from X to Y" does not.
            if _BLURRED_RE.search(template, max(0, m.start() - LOCAL_BLUR), m.end()):
                return None
            old, new = figures[int(m.group("old"))], figures[int(m.group("new"))]
            word = _DIRECTION_RE.match(template, m.start("dir"))
            change = _figure_change(_word_direction(word, measure), old, new) if word else None
            if change is not None:
                changes.append(change)
        if changes:  # the first template that reads the claim; a clause it contradicts decides
            return next((c for c in changes if c.moved is not None and not c.agrees), changes[0])
    if NEGATION_RE.search(plain) or _AMBIGUOUS_RE.search(plain):
        return None
    return _dated_pair(claim, measure)


def _dated_pair(claim: Claim, measure: list[str]) -> Change | None:
    """Two figures stated for two ordered periods with nothing but period and comparison words
    between them ("$66,608 million in 2022 compared to $62,286 million in 2021")."""
    claimed = stated_direction(claim.plain, measure)
    if claimed is None:
        return None
    dated = [(q, p) for q in claim.quantities
             for p in [period_for(q, claim.quantities, claim.periods, claim.plain)] if p is not None]
    if len(dated) != 2:
        return None
    (first, p1), (second, p2) = dated
    between = claim.plain[first.end : second.start]
    for p in claim.periods:
        between = between.replace(p.text, " ")
    if [t for t in measure_tokens(between) if t not in _NOT_HEADS]:
        return None  # another measure stands between them
    order = earlier(p1, p2)
    if order is None:
        return None
    old, new = (first, second) if order else (second, first)
    return _figure_change(claimed, old, new)


def _figure_change(claimed: int, old: Quantity, new: Quantity) -> Change | None:
    if (old.unit == "%") != (new.unit == "%"):
        return None  # "$9.6 billion, down 7.2% from": a level and a rate are not compared
    return Change(claimed, old.value, new.value, old.text.strip(), new.text.strip())


def trend_periods(claim: Claim) -> tuple[Period, Period] | None:
    """The two periods a change is stated between, oldest first, when the claim names exactly two
    distinct ones in a clear order."""
    distinct: list[Period] = []
    for p in claim.periods:
        if p.year is not None and not any(period_key(p) == period_key(d) for d in distinct):
            distinct.append(p)
    if len(distinct) != 2:
        return None
    order = earlier(*distinct)
    if order is None:
        return None
    return (distinct[0], distinct[1]) if order else (distinct[1], distinct[0])


def measure_heads(plain: str, pages: Sequence[PreparedPage]) -> list[str]:
    """What a change claim is about: its measure words less modifiers, direction and inference
    words and the filer's name ("Boeing's gross margin improved" -> ["margin"])."""
    return [t for t in measure_tokens(without_lead_in(plain))
            if t not in MODIFIERS and t not in _NOT_HEADS and t not in INFERENCE_WORDS
            and not any(t in page.doc_compact for page in pages)]


def period_change(claim: Claim, heads: list[str], level_sets: Sequence[Sequence[Level]],
                  pages: Sequence[PreparedPage]) -> Change | None:
    """The measure's values for the two periods the claim names: from the first of `level_sets`
    (values established by this claim's figures, then by earlier claims) that has one value for
    each period, else from one source table row (see the module docstring)."""
    claimed = stated_direction(claim.plain, measure_tokens(claim.plain))
    periods = trend_periods(claim)
    if claimed is None or periods is None or not heads:
        return None
    old_p, new_p = periods
    found = next((f for levels in level_sets for f in [_level_pair(heads, levels, old_p, new_p)] if f), None)
    found = found or _row_pair(heads, pages, old_p, new_p)
    if found is None:
        return None
    (old, old_label), (new, new_label), evidence = found
    return Change(claimed, old, new, f"{old_label} ({old_p.text})", f"{new_label} ({new_p.text})", evidence)


def _level_pair(heads: list[str], levels: Sequence[Level], old_p: Period, new_p: Period):
    def one(period: Period) -> Level | None:
        candidates = [lv for lv in levels if set(heads) <= lv.measure and _same_period(lv.period, period)]
        # "total debt" is the level stated as total debt, not "current portion of long-term debt".
        candidates = [lv for lv in candidates if lv.measure == set(heads)] or candidates
        values = {round(lv.value, 6) for lv in candidates}
        return candidates[-1] if len(values) == 1 else None

    old, new = one(old_p), one(new_p)
    if old is None or new is None or old.percent != new.percent:
        return None
    return (old.value, old.text), (new.value, new.text), new.evidence


def _same_period(a: Period, b: Period) -> bool:
    return (a.year, a.quarter) == (b.year, b.quarter) and (
        a.month is None or b.month is None or (a.month, a.day) == (b.month, b.day))


def _row_pair(heads: list[str], pages: Sequence[PreparedPage], old_p: Period, new_p: Period):
    """One table row whose label has every head word, with exactly one figure in a column of each
    period. Two such rows that disagree (or none) give nothing."""
    found = []
    for page in pages:
        for row in _table_rows(page):
            if not all(occurs(t, page.labels[row[0]]) for t in heads):
                continue
            olds = [i for i in row if period_compatible(old_p, page.columns[page.quantities[i].start])]
            news = [i for i in row if period_compatible(new_p, page.columns[page.quantities[i].start])]
            # "FY2023" fits both a January 2023 and a July 2023 column; "Q2 FY2024" only the latter.
            olds, news = ([i for i in olds if news != [i]], [i for i in news if olds != [i]])
            if len(olds) == 1 and len(news) == 1 and olds != news:
                old, new = page.quantities[olds[0]], page.quantities[news[0]]
                found.append(((old.value, old.text.strip()), (new.value, new.text.strip()), row_evidence(page, new)))
    if not found or len({movement(f[0][0], f[1][0]) for f in found}) != 1:
        return None
    return found[0]


LOCAL_REACH = 60  # chars before a figure searched for the direction word that governs it
# A direction word governing the figure right after it: "increase to 5", "declined 7.2%", "a
# decrease of $781", "increase production to 5" (two words at most in between, not a preposition:
# in "an increase in 787 production rates" the number names a model, not the amount).
_GOVERNS_RE = re.compile(
    rf"{_DIR}(?:\s+(?!(?:in|of|for|on|at|to|by|from|the|a|an)\b)[A-Za-z-]+){{0,2}}?(?:\s+(?:to|by|of|at|from))?"
    r"\s+(?:approximately\s+|about\s+|nearly\s+)?[$(]*$", re.IGNORECASE)


# A direction noun right after a figure: "a 64% increase in revenue", "a 10 percent year-over-year decline".
_NOUN_AFTER_RE = re.compile(
    r"\s*(?:percent(?:age\s+points?)?\s+|points?\s+)?(?:(?:year[\s-]+over[\s-]+year|annual|sequential)\s+)?"
    rf"(?P<word>{_DIR})", re.IGNORECASE)


def local_direction(text: str, start: int, floor: int, measure: Sequence[str], end: int | None = None) -> int | None:
    """The direction of the word governing the figure at `start` (`_GOVERNS_RE`), looking back at
    most LOCAL_REACH chars and not before `floor` (the previous figure's end); else, given the
    figure's `end`, a direction noun right after it ("a 64% increase"); None if there is none or it
    is negated."""
    span = text[max(floor, start - LOCAL_REACH) : start]
    governing = _GOVERNS_RE.search(span)
    if NEGATION_RE.search(span):
        return None
    if governing is not None:
        return _word_direction(_DIRECTION_RE.match(span, governing.start()), measure)
    after = _NOUN_AFTER_RE.match(text, end) if end is not None else None
    return _word_direction(_DIRECTION_RE.match(text, after.start("word")), measure) if after else None


MIN_SHARED_WORDS = 2  # content words a source sentence must share with the claim to be about it


def reversed_number(claim: Claim, pages: Sequence[PreparedPage]) -> str | None:
    """A number the claim says moved one way ("expects to decrease to 5 per month") that the
    sources state with the opposite word ("expect to gradually increase to 5 per month"), in a
    sentence about the same thing (MIN_SHARED_WORDS of the claim's content words), and nowhere
    with the claim's. Any number counts, not only the checkable figures: "5 per month" is what
    the direction is about."""
    plain = claim.plain
    if _DIRECTION_RE.search(plain) is None:
        return None
    measure = measure_tokens(plain)
    words = [t for t in content_tokens(plain) if t not in _NOT_HEADS]
    figures = extract_quantities(plain)
    for i, q in enumerate(figures):
        said = local_direction(plain, q.start, figures[i - 1].end if i else 0, measure, q.end)
        if said is None:
            continue
        stated = set()
        for page in pages:
            for j in agreeing(q, page.magnitudes, 0.0, page.scales, page.written_scales):
                source_q = page.quantities[j]
                direction = local_direction(page.source.text, source_q.start,
                                            page.quantities[j - 1].end if j else 0, measure, source_q.end)
                first, last = page.spans[page.sentence_of(source_q.start)]
                sentence = page.lowered[first:last]
                if direction is not None and sum(1 for t in words if occurs(t, sentence)) >= MIN_SHARED_WORDS:
                    stated.add(direction)
        if stated == {-said}:
            return (f"direction contradicts the source: it says {'an increase' if -said == UP else 'a decrease'}"
                    f" for {q.text.strip()}")
    return None


def _table_rows(page: PreparedPage) -> list[list[int]]:
    """Indices of the page's figures grouped into table rows (`rewards.periods.table_rows`), for
    rows of two or more figures that all have a table column."""
    index = {q.start: i for i, q in enumerate(page.quantities)}
    return [[index[q.start] for q in row] for row in table_rows(page.source.text, page.quantities)
            if len(row) >= 2 and all(q.start in page.columns for q in row)]
