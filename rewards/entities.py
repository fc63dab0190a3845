"""Named entities (company names and their aliases) in claims, checked against the sources.

No company list is built in: an entity is a run of capitalised words that is not ordinary prose
vocabulary (sentence starters, finance terms, months). It is *known* when the sources, their doc ids
or the question mention it. Matching is alias-tolerant by normalising away case, spaces and
punctuation, so "Best Buy", "BEST BUY CO., INC.", "BestBuy" (PDF text that lost its spaces) and the
doc id "BESTBUY_2017_10K" all agree, and "Amazon" is known from "AMAZON.COM, INC.". A possessive
("Nike's") and corporate suffixes ("Inc.", "Corporation") are stripped before matching.

An unknown entity in a claim is the signature of a figure attributed to the wrong company. A
company's legal name extends the short name its documents are filed under ("JPMorgan Chase & Co."
in JPMORGAN_2021Q1_10Q): a name that starts with a filer's name (`doc_filer`) is that filer.

`KnownNames` matches at name boundaries: "Costco" is not known from "more cost competitive" (the
normalised text "morecostcompetitive" contains "costco"), while "Best Buy" is still known from
"attributabletoBestBuyCo." because a name that starts or ends at a lower-to-upper case change of
PDF text that lost its spaces is at a boundary. A single capitalised word that starts a sentence
("Microsoft had total assets of ...") is a candidate name when the answer, question and sources
never use it as a lower-case word (`extract_entities(..., ordinary=...)`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
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
    compound rate rates premium premiums unamortized hedge hedges international domestic
    """.split()
)
CORPORATE_SUFFIXES = ("incorporated", "corporation", "company", "inc", "corp", "co", "ltd", "llc", "plc", "holdings",
                      "group")

_CAPITALISED_RUN_RE = re.compile(
    r"(?<![\w&.])(?:[A-Z][\w&\-.]*[A-Za-z0-9]|[A-Z])(?:'s)?"
    r"(?:\s+(?:[A-Z][\w&\-.]*[A-Za-z0-9]|[A-Z]\.(?=\s+[A-Z])|&)(?:'s)?)*"  # "A." a middle initial, inside a name
)
_NORMALISE_RE = re.compile(r"[^a-z0-9]+")
_POSSESSIVE_RE = re.compile(r"['’]s\b")
# The plural of an initialism names the same thing: "SoCs" and "CPUs" are "SoC" and "CPU".
_PLURAL_INITIALISM_RE = re.compile(r"(?<=[A-Z])s$")


@dataclass(frozen=True)
class Entity:
    text: str
    start: int
    end: int

    @property
    def key(self) -> str:
        """Alias key: lower case, no possessive, no corporate suffix, no spaces or punctuation."""
        words = [_PLURAL_INITIALISM_RE.sub("", w) for w in re.split(r"\s+", _POSSESSIVE_RE.sub("", self.text)) if w]
        while len(words) > 1 and normalise(words[-1]) in CORPORATE_SUFFIXES:
            words.pop()
        return normalise(" ".join(words))


def normalise(text: str) -> str:
    """Alias-matching form: lower case with every non-alphanumeric character removed."""
    return _NORMALISE_RE.sub("", text.lower())


_DOC_FILER_RE = re.compile(r"^[A-Za-z][A-Za-z&.\- ]*?(?=[\W_]*\d|[\W_]*$)")


def doc_filer(doc_id: str) -> str:
    """The filer a document id names ("BOEING_2022_10K" -> "boeing", "acme-2019-10k" -> "acme"),
    normalised (`rewards.entities.normalise`); "" when it does not start with a name."""
    m = _DOC_FILER_RE.match(doc_id)
    return normalise(m.group(0)) if m else ""


def doc_filer_short(doc_id: str) -> str:
    """The first word of the filer a document id names ("ostrander-quarry-2024-annual-report" ->
    "ostrander"): what people call a company ("Ostrander's fiscal year"); "" when shorter than 4
    letters (an initialism such as "AMD" is its whole name, `doc_filer`)."""
    m = _DOC_FILER_RE.match(doc_id)
    words = re.split(r"[\W_]+", m.group(0)) if m else []
    short = normalise(words[0]) if words else ""
    return short if len(short) >= 4 else ""


def _is_name_word(word: str) -> bool:
    bare = _POSSESSIVE_RE.sub("", word).strip(".,;:*()\"")
    if len(bare) < 2 or any(ch.isdigit() for ch in bare):
        return False  # "FY2016", "10-K": periods and forms, not names
    if bare.lower() in COMMON_CAPITALISED:
        return False
    # Short all-caps tokens are mostly abbreviations the answer defines for line items or
    # segments (PP&E, BCA, MAX). The cost: a company known only by a short ticker-like name
    # is not checked.
    return not (bare.upper() == bare and len(bare.replace("&", "")) <= 5)


_LABEL_AFTER_RE = re.compile(r"\**\s*(?:=|:(?!\d))")
_SENTENCE_START_RE = re.compile(r"(?:^|[.!?:;]\s+|\n\s*|[-*•]\s+|\*\*|\(\s*|[\"“]\s*|\d[.)]\s+)$")


# A sentence-initial word followed by one of these verbs is the sentence's subject ("Microsoft had
# total current assets of ..."), which in a filing answer is a company or a line item.
_SUBJECT_VERB_AFTER_RE = re.compile(
    r"\s+(?:had|has|have|is|was|were|reported|records|recorded|reports|generated|made|earned|posted|"
    r"saw|achieved|spent|paid|acquired|expects|expected|ended|held|holds|operates|sells|sold)\b"
)


def _subject_name(word: str, text: str, end: int, ordinary: Callable[[str], bool] | None) -> bool:
    """A sentence-initial capitalised word is a name when it is the subject of the sentence and
    the texts at hand never use it as an ordinary lower-case word."""
    return ordinary is not None and not ordinary(word) and bool(_SUBJECT_VERB_AFTER_RE.match(text, end))


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


# A short all-caps word is a company (a ticker-like name: "AMD", "AES Corporation", "AT&T") where
# only a company stands: before a possessive, a corporate suffix, a rename ("formerly known as") or a
# business verb of which it is the subject. Elsewhere it is read as an abbreviation of a line item.
_SHORT_CAPS_COMPANY_RE = re.compile(
    r"(?<![\w&.\-])(?P<name>[A-Z][A-Z&]{1,4})(?![\w&\-])"
    r"(?='s\b|\s+(?:Corporation|Corp\b|Inc\b|Incorporated|Company|Co\.|Ltd\b|plc\b|Holdings)"
    r"|,?\s+\(?formerly\b"
    r"|\s+(?:reported|generated|paid|earned|spent|acquired|recorded|posted|achieved|sold|expects|operates)\b)")


def _short_caps_companies(text: str, found: list[Entity]) -> list[Entity]:
    out = []
    for m in _SHORT_CAPS_COMPANY_RE.finditer(text):
        name = m.group("name")
        if name.lower() in COMMON_CAPITALISED or any(e.start <= m.start() < e.end for e in found):
            continue
        out.append(Entity(name, m.start(), m.end()))
    return out


def extract_entities(text: str, ordinary: Callable[[str], bool] | None = None) -> list[Entity]:
    """Candidate names: capitalised runs with at least one word that is not common vocabulary.

    Leading common words are trimmed ("Based on Boeing's" -> "Boeing's"). A single capitalised
    word that only starts a sentence, a line or a bullet and is not possessive ("Rounded to two
    decimals", "Comparable sales declined") is read as an ordinary word, unless `ordinary` says the
    word is not one (the texts at hand never write it in lower case). A run right before "=" or a
    colon is a label being defined ("Growth Factor = ...", "**Leasing Companies**:"), not a name.
    A short all-caps word is a name only where a company stands (`_SHORT_CAPS_COMPANY_RE`)."""
    found: list[Entity] = []
    for m in _CAPITALISED_RUN_RE.finditer(text):
        for base, words in _split_run(text, m.start(), m.group(0)):
            while words and not _is_name_word(words[0].group(0)):
                words.pop(0)
            if not words:
                continue
            start, end = base + words[0].start(), base + words[-1].end()
            single = len(words) == 1 and not words[0].group(0).endswith("'s")
            if single and _starts_sentence(text, start) and not _subject_name(words[0].group(0), text, end, ordinary):
                continue
            if _LABEL_AFTER_RE.match(text, end):
                continue
            found.append(Entity(text[start:end], start, end))
    return sorted(found + _short_caps_companies(text, found), key=lambda e: e.start)


_LOWER_WORD_RE = re.compile(r"(?<![A-Za-z])[a-z]+(?![A-Za-z])")


def lower_case_words(text: str) -> set[str]:
    return set(_LOWER_WORD_RE.findall(text))


class KnownNames:
    """The names a text (sources + doc ids + question) mentions, matched at name boundaries."""

    def __init__(self, text: str, *, normalised: str | None = None, lower_words: set[str] | None = None,
                 filers: frozenset[str] = frozenset()):
        """`normalised` / `lower_words`: precomputed for `text` (e.g. joined from cached parts);
        `filers`: the companies whose filings these are (`doc_filer` of each document id)."""
        self.text = text
        self.normalised = normalise(text) if normalised is None else normalised
        self._lower_words = lower_case_words(text) if lower_words is None else set(lower_words)
        self.filers = frozenset(f for f in filers if len(f) >= 4)

    def add_ordinary(self, text: str) -> None:
        """Count the lower-case words of `text` (e.g. the answer itself) as ordinary words too."""
        self._lower_words |= lower_case_words(text)

    def ordinary(self, word: str) -> bool:
        """Whether `word` is used as an ordinary lower-case word in the text."""
        return _POSSESSIVE_RE.sub("", word.lower()).strip(".,;:*()\"") in self._lower_words

    def filer_name(self, entity: Entity) -> bool:
        """A longer form of a filer's name ("JPMorgan Chase & Co." in JPMORGAN_2021Q1_10Q): a
        company's legal name extends the short name its documents are filed under."""
        return any(entity.key.startswith(filer) for filer in self.filers)

    def mentions(self, key: str) -> bool:
        """Whether the normalised name `key` occurs in the text at name boundaries."""
        if not key or key not in self.normalised:
            return False
        pattern = re.compile(r"[\W_]*".join(re.escape(ch) for ch in key), re.IGNORECASE)
        text = self.text
        for m in pattern.finditer(text):
            before = text[m.start() - 1] if m.start() else " "
            after = text[m.end()] if m.end() < len(text) else " "
            starts = not before.isalnum() or (before.islower() and text[m.start()].isupper())
            # A possessive that lost its apostrophe ("McDonalds Corporation") ends at the name too.
            lost_apostrophe = after == "s" and not text[m.end() + 1 : m.end() + 2].isalnum()
            ends = (not after.isalnum() or (after.isupper() and not text[m.end() - 1].isupper()) or after.isdigit()
                    or lost_apostrophe)
            if starts and ends:
                return True
        return False


def unknown_entities(claim_text: str, known: str | KnownNames) -> list[Entity]:
    """Entities of the claim that the known text (sources + doc ids + question) does not mention.
    A multi-word name is known when its whole key is, or when each of its name words is (PDF text
    often splits or merges a name across lines). `known` is a `KnownNames` (boundary-aware) or,
    for callers that only have it, the text normalised with `normalise` (substring match)."""
    if isinstance(known, str):
        contains, ordinary = (lambda key: key in known), None
    else:
        contains, ordinary = known.mentions, known.ordinary
    unknown = []
    for entity in extract_entities(claim_text, ordinary):
        if entity.key and contains(entity.key):
            continue
        words = [normalise(_PLURAL_INITIALISM_RE.sub("", _POSSESSIVE_RE.sub("", w))) for w in entity.text.split()
                 if _is_name_word(w)]
        if words and all(contains(w) for w in words):
            continue
        if isinstance(known, KnownNames) and known.filer_name(entity):
            continue
        if _spelled_out(claim_text, entity, contains):
            continue
        unknown.append(entity)
    return unknown


_ABBREVIATION_AFTER_RE = re.compile(r"[^(.;]{0,80}?\((?P<abbr>[A-Z][A-Za-z&]{1,9})\)")
_LONG_FORM_WORD_RE = re.compile(r"[A-Za-z][A-Za-z']*")


def _spelled_out(text: str, entity: Entity, contains) -> bool:
    """Whether the entity is part of the long form of an abbreviation the sources use, defined right
    after it: "Value-at-Risk (VaR)", "Boeing's Defense, Space & Security (BDS)" — the abbreviation's
    letters are, in order, the initials of the words before the parenthesis (Schwartz & Hearst
    2003's long-form match, simplified: initials only, within a few words)."""
    m = _ABBREVIATION_AFTER_RE.match(text, entity.end)
    if m is None or not contains(normalise(m.group("abbr"))):
        return False
    letters = [c.lower() for c in m.group("abbr") if c.isalpha()]
    paren = m.start("abbr") - 1
    words = list(_LONG_FORM_WORD_RE.finditer(text, max(0, paren - 120), paren))[-(len(letters) + 3):]
    start = None
    for word in reversed(words):
        if letters and word.group(0)[0].lower() == letters[-1]:
            letters.pop()
            start = word.start()
    return not letters and start is not None and start <= entity.start
