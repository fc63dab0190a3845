"""Claims of an answer: the sentences to check, with their spans and inline citations.

An answer is split with the same sentence splitter as the sources (`rag.sentences`: lines and
blocks first, then Punkt), so a bulleted or table-like answer splits per line and prose per
sentence. A citation written after the sentence's full stop ("... $412.3 million. [acme p.4]") is
attached to the sentence before it, as the inline-citation convention intends.

Not every sentence is a claim (FActScore, Min et al. 2023, checks atomic facts, not filler). Each
sentence gets a `kind`:

* `claim` - asserts something the sources must support; everything not listed below.
* `abstention` - says the sources are silent ("The sources do not state ...", "The provided
  documents do not say ...", "I cannot find ...", "No acquisitions are mentioned in the provided
  text"): the grounded teacher writes these on purpose, and an abstention is never judged as an
  unsupported claim.
* `filler` - a question back to the user, a courtesy line, a fragment of fewer than two words, a
  yes or no said as a sentence ("Therefore, the answer is no.", no more than a bare "No."), or
  a table header or unit row ("(in millions, except per share amounts) 2024 2023 2022", "Year
  Ended December 31,", a running head "Acme Corp. | Fiscal 2024 | Page 2"): it says how a table or
  page is laid out, not anything the sources state about the company, so it is never a claim (the
  offline checker still requires the years and names it shows to agree with the sources).
* `framing` - states no figure and frames the answer rather than asserting about the sources: a
  heading or lead-in that ends with a colon, a meta sentence ("Here is a summary of ..."), a method
  statement or formula ("To calculate the margin, we divide ...", "EBITDA = Operating income +
  D&A"), a numbered step ("3. Divide the sum by 3"), the definition of a formula's variable
  ("- n is the number of years"), or a hedge ("It is important to note ...", "Gross margin may not
  be the most useful metric"). A framing sentence is not judged for support, but it often restates
  the question, so the offline checker still requires its company names and years to agree with
  the sources and the question (a restatement naming the wrong company is an error of the answer).

A sentence with a checkable figure is always a claim, except an abstention. A row label alone on
its line followed by a line holding only its figure ("Total revenue" / "85,320", a table pasted
into an answer the way PDF text writes it) is one claim: the label says what the figure measures.

`degenerate` flags a sentence that only repeats itself ("Revenue revenue revenue.", a small
model's "destination destination destination ..."): it is still a claim (so it counts against an
answer), and the offline checker never marks it supported, whatever words of the sources it repeats.

Normalisation of what a claim states lives beside this module: figures in `rewards.numbers`,
fiscal periods in `rewards.periods`, company names in `rewards.entities`; `Claim` exposes them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property

from cai.core.contracts import CITATION_RE
from rag.sentences import sentence_spans
from rewards.entities import Entity, extract_entities
from rewards.numbers import ARITHMETIC_CONSTANTS, Quantity, checkable, extract_quantities
from rewards.periods import Period, extract_periods, with_relative

_LEADING_CITATIONS_RE = re.compile(rf"(?:\s*(?:{CITATION_RE.pattern})[;,.]*)+")
_CITATION_GROUP_RE = re.compile(r"\[[^\[\]]*\bp\.\d+[^\[\]]*\]")
_WORD_RE = re.compile(r"[A-Za-z]{2,}")
_COURTESY_RE = re.compile(
    r"^(?:let me know|i hope this helps|hope this helps|feel free|please let me know|if you have any)",
    re.IGNORECASE,
)
# "Therefore, the answer is no.": the yes or no alone, which says no more than a bare "No." does.
_YES_NO_RE = re.compile(
    r"^(?:(?:so|therefore|thus|hence|in short|in summary),?\s+)?(?:the\s+)?(?:short\s+|final\s+)?answer\s+"
    r"(?:to\s+(?:the|this|your)\s+question\s+)?is\s+[\"'“]?(?:yes|no)\b[\"'”]?\s*[.!]?$",
    re.IGNORECASE,
)
_ABSTENTION_RE = re.compile(
    r"^(?:however,?\s+|unfortunately,?\s+)?(?:(?:the|these|those)\s+)?(?:provided\s+|given\s+)?"
    r"(?:sources?|documents?|filings?|context|text|excerpts?|pages?|information|data)\s+"
    r"(?:provided\s+)?(?:do|does|did)\s*(?:not|n't)\s+(?:explicitly\s+|directly\s+)?"
    r"(?:state|say|mention|provide|contain|include|disclose|specify|give|report|show)\b"
    r"|^(?:however,?\s+)?i\s+(?:do not|don't|cannot|can't|could not|couldn't|am unable to|was unable to)\s+"
    r"(?:have access|find|determine|locate|see|provide|answer)\b",
    re.IGNORECASE,
)
# "The margin profile cannot be determined based solely on the provided information".
_UNDETERMINED_RE = re.compile(
    r"\b(?:cannot|can't|could not|can not)\s+be\s+(?:determined|calculated|assessed|verified|confirmed)\b[^.;]*"
    r"\b(?:provided|given|available)\s+(?:information|data|text|sources?|documents?|excerpts?|context)\b",
    re.IGNORECASE,
)
# "There were no acquisitions mentioned for FY2021 in the provided text": the sources are silent.
_SILENT_SOURCES_RE = re.compile(
    r"\b(?:no|not|none)\b[^.;]*\b(?:mentioned|stated|disclosed|specified|provided|found|given|listed|included)\s+"
    r"(?:[^.;]*\s)?(?:in|by)\s+the\s+(?:provided\s+|given\s+|available\s+)?"
    r"(?:text|sources?|documents?|excerpts?|context|information|evidence)\b",
    re.IGNORECASE,
)
_META_RE = re.compile(
    r"^(?:here (?:is|are)|below (?:is|are)|the following (?:is|are)|this (?:is|answer)|i (?:will|'ll)"
    r"|the question (?:asks|is asking|wants|requires)|(?:we|i) (?:are|am|'re|'m) (?:looking|asked) (?:at|for|to))\b",
    re.IGNORECASE,
)
# Enumeration and bullet markers a line may start with ("3. ", "2) ", "- ", "**").
_MARKER_RE = re.compile(r"^(?:\s*(?:[*#>•\-–]+|\d{1,2}[.)](?=\s)|\(?[a-z][.)](?=\s)))+\s*", re.IGNORECASE)
# "- n is the number of years", "Beginning Value is the total revenue for FY2020": a formula
# variable being defined.
_DEFINITION_RE = re.compile(
    r"^(?:[A-Za-z]|(?:[A-Z][\w&]*\s+){0,3}(?i:value|factor|rate|number|period|n|t))"
    r"\s+(?:is|=|represents|denotes)\s+(?:the\s+)?",
)
_HEDGE_RE = re.compile(
    r"^(?:however,?\s+|but\s+|additionally,?\s+|also,?\s+|therefore,?\s+)?"
    r"(?:it(?:'s| is) (?:also )?(?:important|worth|crucial|essential|useful|helpful) "
    r"(?:to (?:note|consider|mention|remember|keep in mind)|noting)"
    r"|(?:please )?note that|keep in mind|bear in mind)"
    r"|\b(?:may|might|could)\s+(?:not\s+)?"
    r"(?:always\s+|also\s+|fully\s+|necessarily\s+|accurately\s+|completely\s+|entirely\s+)?"
    r"(?:be|reflect|capture|provide|indicate|vary|affect|differ)\b"
    r"|\b(?:should|must|needs?\s+to)\s+be\s+(?:considered|viewed|interpreted|evaluated|assessed|read|weighed)\b",
    re.IGNORECASE,
)


# Method statements: how the answer will compute something, not what the sources say.
_PROCEDURE_RE = re.compile(
    r"^(?:(?:to|in order to)\s+(?:calculate|compute|determine|find|get|answer|arrive|express|convert)\b|"
    r"(?:first|next|then|finally|now)\b,?\s+"
    r"(?:we|you|let's|i|calculate|compute|determine|find|divide|multiply|add|subtract|take)\b|"
    r"(?:calculate|compute|determine|divide|multiply|add|subtract|sum|take|find|look|open|round|use|plug|apply|go"
    r"|convert|express)\b)"
    r"|\b(?:we|you|i)\s+(?:need|will need|would need|have|can|could|will|would|must|should)\s+to\b"
    r"|\b(?:we|you|i)\s+(?:can|could|will|would|must|should)\s+(?:then\s+|first\s+|now\s+|next\s+|also\s+)?"
    r"(?:divide|multiply|add|subtract|calculate|compute|use|take|sum|derive|convert|average)\b"
    r"|\b(?:we|you|i)\s+(?:then\s+|first\s+|now\s+|next\s+|simply\s+|just\s+)?"
    r"(?:divide|multiply|subtract|convert|sum up)\b"
    # what unit the answer's figures are in: "This information is presented in USD millions."
    r"|^(?:this|the|all|these)\s+(?:\w+\s+){0,2}(?:is|are)\s+(?:presented|expressed|stated|shown|given)\s+in\s+"
    r"(?:usd\s+|us\s+dollars\s+|dollars\s+)?(?:thousands|millions|billions)\b"
    r"|\blet(?:'s| us)\b|\bis (?:calculated|computed|defined|derived) (?:as|by)\b"
    r"|\b(?:can be|is|are) (?:found|located|listed|reported) (?:in|under|on) the\b",
    re.IGNORECASE,
)
_FORMULA_RE = re.compile(r"[=]|\s[/×*÷]\s")
# A statement of what a metric means rather than of what the company reported: "Gross margin is a
# relevant metric for ...", "Gross margin reflects the company's ability to ...", "It's a key
# indicator of ...". Names and years in it are still checked (it is framing, not filler).
_METRIC_NOUN = r"(?:margins?|ratios?|metrics?|measures?|rates?|returns?|turnover|multiples?)"
_METRIC_MEANING_RE = re.compile(
    rf"^(?:a\s+|the\s+)?(?:[\w&-]+\s+){{0,3}}{_METRIC_NOUN}\s+(?:is|are)\s+(?:a|an)\s+(?:[\w-]+\s+){{0,2}}"
    r"(?:metrics?|measures?|indicators?|gauges?)\b"
    rf"|^(?:a\s+|the\s+)?(?:[\w&-]+\s+){{0,3}}{_METRIC_NOUN}\s+"
    r"(?:reflects?|indicates?|measures?|represents?|shows?|suggests?|tells?)\s+(?:that\s+|how\s+|the\s+|a\s+|an\s+)"
    r"|^(?:it|this|they)(?:'s|’s|\s+is|\s+are)\s+(?:a|an)\s+(?:[\w-]+\s+){0,2}"
    r"(?:metrics?|measures?|indicators?|gauges?)\s+of\b",
    re.IGNORECASE,
)
# A formula variable set to a small count ("Number of Years: 2", "n = 3"): the working, not a fact.
_COUNT_VARIABLE_RE = re.compile(
    r"^(?:number\s+of\s+(?:years|periods|quarters|months)|n|t)\s*[:=]\s*\d{1,2}\s*\.?$", re.IGNORECASE)

# Words a table header or unit row is made of: units and scale, "except per share amounts", the
# period vocabulary of column headings ("Year Ended December 31,", "Three Months Ended").
_HEADER_WORDS = frozenset(
    "in of and as at for the a an except per share shares amount amounts data unaudited audited "
    "dollars dollar usd us thousands thousand millions million billions billion percent percentage "
    "fiscal year years ended ending end months month weeks week three six nine twelve quarter "
    "quarters period periods restated note notes unless otherwise indicated stated to from "
    "jan january feb february mar march apr april may jun june jul july aug august sep sept "
    "september oct october nov november dec december".split()
)
_HEADER_MARK_RE = re.compile(
    r"(?<!\d)(?:19|20)\d{2}(?!\d)|\bin\s+(?:thousands|millions|billions)\b|\bexcept\s+per\s+share\b"
    r"|\b(?:year|years|months|weeks|quarter)\s+ended\b",
    re.IGNORECASE,
)
_UNIT_PHRASE_RE = re.compile(r"\(\s*in\s+(?:thousands|millions|billions)\b", re.IGNORECASE)
_YEAR_RE = re.compile(r"(?<!\d)(?:19|20)\d{2}(?!\d)")
# A page's running head or foot: "Acme Corp. | Fiscal 2024 | Page 2", "Page 7 of 90".
_RUNNING_HEAD_RE = re.compile(r"(?:^|\|)\s*page\s+\d+(?:\s+of\s+\d+)?\s*(?:\||$)", re.IGNORECASE)
_LOOP_TOKEN_RE = re.compile(r"[a-z0-9][a-z0-9,.%]*[a-z0-9%]|[a-z0-9]")
MIN_HEADING_LETTERS = 7  # capitals this many letters long are a heading ("PART II"), fewer an acronym ("EBITDA")
LOOP_REPEATS = 3  # a phrase said this many times in a row is a loop, not a sentence
MIN_PROSE_DIVERSITY = 0.5  # distinct / all words of a figure-less sentence of 4+ words must exceed this
# "Based on the evidence provided, …", "According to Boeing's 10-K for the year ended December 31, 2022, …",
# "The filing indicates that …": an attribution to the sources, not part of what the claim asserts.
LEAD_IN_RE = re.compile(r"^(?:(?:based\s+on|according\s+to|as\s+per|per)\b[^,.;]{0,100}(?:,\s*(?:19|20)\d{2})?,\s*"
                        r"|(?:the\s+)?(?:evidence|filing|information|data|sources?|report)\s+"
                        r"(?:suggests?|indicates?|shows?|states?)\s+that\s+)+", re.IGNORECASE)


def without_lead_in(plain: str) -> str:
    """What a claim asserts: its text without an attribution lead-in (the whole text when nothing
    follows the lead-in). Aligning a claim on the words of where it comes from ("Boeing's financial
    statements for the fiscal year ended …") finds the statement's header, not what it says."""
    return LEAD_IN_RE.sub("", plain) or plain


@dataclass
class Claim:
    """One claim sentence: its text as written, its span in the answer and its citations."""

    text: str
    start: int
    end: int
    citations: list[str] = field(default_factory=list)
    kind: str = "claim"
    # What the answer says the claim is about: the heading line it is listed under ("Client:", without
    # its colon) and, for a claim that speaks through a pronoun, the name stated before it.
    heading: str = ""

    @cached_property
    def plain(self) -> str:
        """The claim without its inline citations (what is compared with the evidence)."""
        return re.sub(r"\s+", " ", _CITATION_GROUP_RE.sub(" ", self.text)).strip()

    @cached_property
    def quantities(self) -> list[Quantity]:
        return [q for q in extract_quantities(self.plain) if checkable(q)]

    @cached_property
    def periods(self) -> list[Period]:
        """Stated periods and relative ones ("the prior year") resolved against them."""
        return with_relative(self.plain, extract_periods(self.plain))

    @cached_property
    def entities(self) -> list[Entity]:
        return extract_entities(self.plain)

    @cached_property
    def degenerate(self) -> bool:
        return degenerate(self.plain)

    def cited_pages(self) -> list[tuple[str, int]]:
        """(doc_id, page) of each inline citation, in order, without repeats."""
        seen: list[tuple[str, int]] = []
        for citation in self.citations:
            for m in CITATION_RE.finditer(citation):
                key = (m.group("doc"), int(m.group("page")))
                if key not in seen:
                    seen.append(key)
        return seen


def _citations_in(text: str) -> list[str]:
    return [m.group(0) for m in CITATION_RE.finditer(text)]


def is_header_row(text: str) -> bool:
    """True for a table header or unit row, or a page's running head: no checkable figure, and
    either only header words (units, scale, period headings) around at least one year or unit
    phrase, or a "Page N" cell."""
    plain = _CITATION_GROUP_RE.sub(" ", text).strip().strip("*#-•> ")
    if any(checkable(q) for q in extract_quantities(plain)):
        return False
    if _RUNNING_HEAD_RE.search(plain):
        return True
    words = [w.lower() for w in _WORD_RE.findall(plain)]
    if _UNIT_PHRASE_RE.search(plain) and len(_YEAR_RE.findall(plain)) >= 2:
        return True  # "(in millions) Dec. 31, 2023 Impairment Dec. 31, 2024": column titles under a unit
    return bool(_HEADER_MARK_RE.search(plain)) and all(w in _HEADER_WORDS for w in words)


def degenerate(text: str) -> bool:
    """True for a sentence that loops: a word or phrase of up to four tokens said three times in
    a row ("revenue revenue revenue", "net income net income net income"), or, without figures,
    so few distinct words that it says nothing ("Revenue net income revenue net income.")."""
    plain = _CITATION_GROUP_RE.sub(" ", text)
    tokens = _LOOP_TOKEN_RE.findall(plain.lower())
    n = len(tokens)
    for size in range(1, 5):
        for i in range(n - LOOP_REPEATS * size + 1):
            gram = tokens[i : i + size]
            if all(tokens[i + k * size : i + (k + 1) * size] == gram for k in range(1, LOOP_REPEATS)):
                return True
    has_figure = any(checkable(q) for q in extract_quantities(plain))
    return not has_figure and n >= 4 and len(set(tokens)) / n <= MIN_PROSE_DIVERSITY


# A small whole number standing alone ("14 [doc p.35]." of a pasted filing: a page number) says nothing a
# source could support, unless it is the whole (bare) answer. A worked step ("= 1,380.5") or a labelled
# row ("2016: 53.8%") is no lone number.
_LONE_NUMBER_RE = re.compile(r"[\s.\"'”]*\d{1,3}[\s.\"'”]*")


def lone_number(plain: str, bare: bool) -> str | None:
    """Why a claim is a lone number (the verdict's reason), or None; never for a `bare` answer."""
    if bare or not _LONE_NUMBER_RE.fullmatch(plain):
        return None
    return "a number alone, without what it measures (filing layout: a page number)"


def sentence_kind(text: str) -> str:
    """`claim`, `abstention`, `filler` or `framing` (see the module docstring)."""
    stripped = text.strip().strip("*#-•> ").strip()
    plain = _CITATION_GROUP_RE.sub(" ", stripped).strip()
    body = _MARKER_RE.sub("", plain).strip("* ")
    if _ABSTENTION_RE.match(body) or ((_SILENT_SOURCES_RE.search(body) or _UNDETERMINED_RE.search(body))
                                      and not any(checkable(q) for q in extract_quantities(body))):
        return "abstention"
    if len(_WORD_RE.findall(plain)) < 2 and not extract_quantities(plain):
        return "filler"
    if plain.endswith("?") or _COURTESY_RE.match(body) or _YES_NO_RE.match(body) or _layout(body):
        return "filler"
    figures = [q for q in extract_quantities(body) if checkable(q)]
    if figures and not (_PROCEDURE_RE.search(body) and all(_working_constant(q) for q in figures)):
        return "claim"
    if figures or _COUNT_VARIABLE_RE.match(body):
        return "framing"  # "we subtract the margin from 100%": only the working's constants
    if plain.endswith(":") or body != plain and _PROCEDURE_RE.match(body):
        return "framing"  # a lead-in, or a numbered step ("3. Divide the sum by 3")
    if is_header_row(body):
        return "filler"  # "(in millions, except per share amounts) 2024 2023 2022": layout, not a fact
    framing = (_PROCEDURE_RE.search(body) or _FORMULA_RE.search(body) or _META_RE.match(body)
               or _DEFINITION_RE.match(body) or _HEDGE_RE.search(body) or _METRIC_MEANING_RE.match(body))
    return "framing" if framing else "claim"


def shouting(text: str, min_letters: int = 1) -> bool:
    """Written in capitals: more than 60% of its letters, of at least `min_letters` letters."""
    letters = [ch for ch in text if ch.isalpha()]
    return len(letters) >= min_letters and sum(ch.isupper() for ch in letters) > 0.6 * len(letters)


def _layout(body: str) -> bool:
    """Filing layout pasted into an answer, not a statement, however verbatim the sources hold it: a
    heading in capitals ("SECURITIES AND EXCHANGE COMMISSION"), a bracketed or parenthesised line
    ("[END OF FILING]", "(Name of each exchange on which registered)"), or the running head "Table of
    Contents". A line with a figure ("TOTAL ASSETS $59,268") is a quoted row and stays a claim."""
    text = body.strip().rstrip(".").strip()
    if not text or any(checkable(q) for q in extract_quantities(text)):
        return False
    wrapped = text[0] in "[(" and text[-1] in "])"
    return shouting(text, MIN_HEADING_LETTERS) or wrapped or text.lower() == "table of contents"


def _working_constant(q: Quantity) -> bool:
    """An arithmetic constant of a method statement, percent sign or not ("from 100%")."""
    return not q.scaled_in_text and q.unit != "$" and q.magnitude in ARITHMETIC_CONSTANTS


def is_claim(text: str) -> bool:
    """True for a sentence that asserts something the sources must support."""
    return sentence_kind(text) == "claim"


def split_sentences(answer: str) -> list[Claim]:
    """Every sentence of `answer` in order, with its span, inline citations and `kind`."""
    claims: list[Claim] = []
    for start, end in sentence_spans(answer):
        leading = _LEADING_CITATIONS_RE.match(answer, start, end)
        if leading and claims:
            # A citation after the full stop belongs to the sentence before it.
            previous = claims[-1]
            previous.end = leading.end()
            previous.text = answer[previous.start : previous.end]
            previous.citations += _citations_in(leading.group(0))
            start = leading.end()
            while start < end and answer[start].isspace():
                start += 1
            if start >= end:
                continue
        claims.append(Claim(answer[start:end], start, end, _citations_in(answer[start:end])))
    claims = _join_table_rows(answer, claims)
    for claim in claims:
        claim.kind = sentence_kind(claim.text)
    _assign_headings(answer, claims)
    return claims


_HEADING_MAX_WORDS = 25  # a heading line ("Client:") or a lead-in ("The votes for his election were as follows:")
_SHORT_HEADING_WORDS = 6  # a heading whose words say what the listed lines are about
_BLANK_LINE_RE = re.compile(r"\n[ \t]*\n")
# A pronoun that refers back to a name stated before ("He received 16,105,005 votes against").
_PRONOUN_RE = re.compile(r"\b(?:he|she|his|her|him|its|it|they|their|them)\b", re.IGNORECASE)


def _heading(answer: str, sentence: Claim) -> str | None:
    """The text of a heading line ("Client:", "**Data Center segment:**", a lead-in ending with a
    colon): a line of words and no figure, ending with a colon and the line; None for anything else."""
    if ":" not in sentence.text:
        return None
    plain = _CITATION_GROUP_RE.sub(" ", sentence.text).strip().strip("*#-•> ").rstrip("*").strip()
    line_end = answer.find("\n", sentence.end)
    rest = answer[sentence.end: len(answer) if line_end < 0 else line_end]
    if not plain.endswith(":") or "\n" in plain or rest.strip(" *"):
        return None
    words = _WORD_RE.findall(plain)
    if not 1 <= len(words) <= _HEADING_MAX_WORDS or any(checkable(q) for q in extract_quantities(plain)):
        return None
    return plain[:-1].strip()


def _assign_headings(answer: str, claims: list[Claim]) -> None:
    """Give each claim the words around it that say what it is about (`Claim.heading`): the heading
    line it is listed under (what "FY21 Revenue: $6,887 million" under "Client:" is), and, when the
    claim or its heading speaks through a pronoun ("He received ..."), the last name stated before
    it. A heading covers the lines after it up to the next heading or the first blank line after
    its first listed line."""
    names: dict[int, list[Entity]] = {}  # a sentence's names, read only where a pronoun needs them

    def subject(before: int) -> str:
        """The first name of the last sentence before `before` that names one."""
        for m in range(before - 1, -1, -1):
            if m not in names:
                names[m] = extract_entities(claims[m].plain)
            if names[m]:
                return names[m][0].text
        return ""

    heading, listed = "", False
    for n, claim in enumerate(claims):
        found = _heading(answer, claim)
        if found is not None:  # a lead-in's pronoun ("the votes for his election") is resolved here
            # A short heading names what the lines under it are about ("Client"); of a long lead-in
            # only the name its pronoun stands for is kept: its other words ("the income statement
            # figures") would let a listed line match any row they name.
            own = found if len(_WORD_RE.findall(found)) <= _SHORT_HEADING_WORDS else ""
            name = subject(n) if _PRONOUN_RE.search(found) else ""
            heading, listed = " ".join(filter(None, [own, name])), False
            continue
        if heading and n and listed and _BLANK_LINE_RE.search(answer[claims[n - 1].end: claim.start]):
            heading = ""
        listed = listed or bool(heading)
        refers = _PRONOUN_RE.search(claim.plain) and not names.setdefault(n, extract_entities(claim.plain))
        claim.heading = " ".join(filter(None, [heading, subject(n) if refers else ""]))


_ROW_LABEL_MAX_WORDS = 6
_FIGURE_ONLY_RE = re.compile(
    r"^[\s\"'“”$(),.%\-−–\d]*$"
    r"|^[\s\"'“”$(),.%\-−–\d]*\d[\s\"'“”$(),.%\-−–\d]*(?:thousands?|millions?|billions?)?[\s\"'“”.]*$",
    re.IGNORECASE)


def _join_table_rows(answer: str, claims: list[Claim]) -> list[Claim]:
    """A row label on its own line and the figure-only line under it ("Total revenue" / "85,320",
    a table copied into the answer the way PDF text writes it) are one claim: the label says what
    the figure measures, and neither line states anything alone."""
    joined: list[Claim] = []
    for claim in claims:
        previous = joined[-1] if joined else None
        if (previous is not None and _is_row_label(previous.text) and _FIGURE_ONLY_RE.match(claim.text)
                and any(checkable(q) for q in extract_quantities(claim.text))
                and not answer[previous.end : claim.start].strip()):
            joined[-1] = Claim(answer[previous.start : claim.end], previous.start, claim.end,
                               previous.citations + claim.citations)
            continue
        joined.append(claim)
    return joined


def _is_row_label(text: str) -> bool:
    plain = _CITATION_GROUP_RE.sub(" ", text).strip().strip("\"'“”*-• ")
    return (bool(plain) and "\n" not in plain and not plain.endswith((".", "!", "?", ":"))
            and not extract_quantities(plain) and 1 <= len(_WORD_RE.findall(plain)) <= _ROW_LABEL_MAX_WORDS)


def split_claims(answer: str, *, keep_non_claims: bool = False) -> list[Claim]:
    """Claims of `answer` in order, each with its (start, end) span and inline citations;
    with `keep_non_claims`, every sentence (see `Claim.kind`)."""
    sentences = split_sentences(answer)
    return sentences if keep_non_claims else [c for c in sentences if c.kind == "claim"]
