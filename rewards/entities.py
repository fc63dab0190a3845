"""Named entities (company names and their aliases) in claims, checked against the sources.

No company list is built in: an entity is a run of capitalised words that is not ordinary prose
vocabulary (sentence starters, finance terms, months). It is *known* when the sources, their doc ids
or the question mention it. Matching is alias-tolerant by normalising away case, spaces and
punctuation, so "Best Buy", "BEST BUY CO., INC.", "BestBuy" (PDF text that lost its spaces) and the
doc id "BESTBUY_2017_10K" all agree, and "Amazon" is known from "AMAZON.COM, INC.". A possessive
("Nike's") and corporate suffixes ("Inc.", "Corporation") are stripped before matching.

An unknown entity in a claim is the signature of a figure attributed to the wrong company.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Capitalised words that are prose or finance vocabulary, not names. Lower-cased.
COMMON_CAPITALISED = frozenset(
    """
    a an the this that these those there here it its they their we our you your i he she his her
    in on at for from to of by with as into onto over under about after before during since until
    and or but so yet if then thus therefore hence however although though because while when where
    whereas which what who whom whose why how yes no not none all any each every both either neither
    based according using given looking calculating calculate compute computing let note notes please
    first second third fourth fifth finally next now also additionally furthermore moreover overall
    specifically similarly conversely meanwhile instead rather still unfortunately fortunately
    summary conclusion answer question step steps result results total net gross operating income
    revenue revenues sales cost costs expense expenses assets asset liabilities liability equity cash
    flow flows capital working current noncurrent long short term debt interest tax taxes earnings
    profit loss losses margin margins ratio ratios average change changes growth increase decrease
    dividend dividends share shares stock stockholders shareholders per diluted basic depreciation
    amortization inventory inventories receivable receivables payable payables accounts property
    plant equipment goodwill intangible other consolidated statement statements balance sheet sheets
    financial fiscal year years quarter quarters annual quarterly report reports filing form item part
    management discussion analysis md&a gaap non-gaap ebitda ebit eps roa roe capex cogs sg&a dpo dso
    dio fcf cagr yoy usd us u.s united states america american dollars dollar million millions billion
    billions thousand thousands percent percentage company companies corporation corp inc incorporated
    co ltd llc plc group holdings segment segments business businesses operations operation
    january february march april may june july august september october november december
    jan feb mar apr jun jul aug sep sept oct nov dec q1 q2 q3 q4 fy h1 h2 sec
    value values old new beginning ending number sum sold goods rounded rounding adding subtracting
    dividing multiplying less plus minus comparable historically examples example look find open
    see refer formula definition defined method approach
    """.split()
)
CORPORATE_SUFFIXES = ("incorporated", "corporation", "company", "inc", "corp", "co", "ltd", "llc", "plc", "holdings", "group")

_CAPITALISED_RUN_RE = re.compile(
    r"(?<![\w&.])(?:[A-Z][\w&\-.]*[A-Za-z0-9]|[A-Z])(?:'s)?(?:\s+(?:[A-Z][\w&\-.]*[A-Za-z0-9]|&)(?:'s)?)*"
)
_NORMALISE_RE = re.compile(r"[^a-z0-9]+")


@dataclass(frozen=True)
class Entity:
    text: str
    start: int
    end: int

    @property
    def key(self) -> str:
        """Alias key: lower case, no possessive, no corporate suffix, no spaces or punctuation."""
        words = [w for w in re.split(r"\s+", self.text.replace("'s", "")) if w]
        while len(words) > 1 and normalise(words[-1]) in CORPORATE_SUFFIXES:
            words.pop()
        return normalise(" ".join(words))


def normalise(text: str) -> str:
    """Alias-matching form: lower case with every non-alphanumeric character removed."""
    return _NORMALISE_RE.sub("", text.lower())


def _is_name_word(word: str) -> bool:
    bare = word.replace("'s", "").strip(".,;:*()\"")
    if len(bare) < 2 or any(ch.isdigit() for ch in bare):
        return False  # "FY2016", "10-K": periods and forms, not names
    if bare.lower() in COMMON_CAPITALISED:
        return False
    # Short all-caps tokens are mostly abbreviations the answer defines for line items or
    # segments (PP&E, BCA, MAX). The cost: a company known only by a short ticker-like name
    # is not checked.
    return not (bare.upper() == bare and len(bare.replace("&", "")) <= 5)


_SENTENCE_START_RE = re.compile(r"(?:^|[.!?:;]\s+|\n\s*|[-*•]\s+|\*\*|\(\s*|[\"“]\s*|\d[.)]\s+)$")


def _starts_sentence(text: str, offset: int) -> bool:
    return bool(_SENTENCE_START_RE.search(text[max(0, offset - 6) : offset]))


def _split_run(text: str, start: int, run: str) -> list[tuple[int, list[re.Match]]]:
    """Split a capitalised run after each possessive word and around words with digits, so
    "Netflix's Commercial Airplanes" gives "Netflix's" and "Commercial Airplanes"."""
    pieces: list[list[re.Match]] = [[]]
    for word in re.finditer(r"\S+", run):
        token = word.group(0)
        if any(ch.isdigit() for ch in token):
            pieces.append([])
            continue
        pieces[-1].append(word)
        if token.endswith("'s"):
            pieces.append([])
    return [(start, p) for p in pieces if p]


def extract_entities(text: str) -> list[Entity]:
    """Candidate names: capitalised runs with at least one word that is not common vocabulary.

    Leading common words are trimmed ("Based on Boeing's" -> "Boeing's"). A single capitalised
    word that only starts a sentence, a line or a bullet and is not possessive ("Rounded to two
    decimals", "Comparable sales declined") is read as an ordinary word."""
    found: list[Entity] = []
    for m in _CAPITALISED_RUN_RE.finditer(text):
        for base, words in _split_run(text, m.start(), m.group(0)):
            while words and not _is_name_word(words[0].group(0)):
                words.pop(0)
            if not words:
                continue
            start, end = base + words[0].start(), base + words[-1].end()
            single = len(words) == 1 and not words[0].group(0).endswith("'s")
            if single and _starts_sentence(text, start):
                continue
            found.append(Entity(text[start:end], start, end))
    return found


def unknown_entities(claim_text: str, known_text: str) -> list[Entity]:
    """Entities of the claim that the known text (sources + doc ids + question, normalised with
    `normalise`) does not mention. A multi-word name is known when its whole key is, or when each
    of its name words is (PDF text often splits or merges a name across lines)."""
    unknown = []
    for entity in extract_entities(claim_text):
        if entity.key and entity.key in known_text:
            continue
        words = [normalise(w.replace("'s", "")) for w in entity.text.split() if _is_name_word(w)]
        if words and all(w in known_text for w in words):
            continue
        unknown.append(entity)
    return unknown
