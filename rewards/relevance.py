"""Does a claim answer the question asked? Relevance of an answer's claims to its question.

A claim can be true of the sources and still not answer the question: "When does Ostrander's
fiscal year end?" answered with the company's business description, an employee headcount given
for an employee *turnover* question, another company's or another year's figure. Support
(`rewards.checker`) says whether the sources state a claim; relevance says whether the claim
addresses what the question asks about. The reading conventions, none fitted to a data set:

1. **What is asked** (`read_question`). The question is read clause by clause: coordinated parts
   ("revenue and net income", "…, and what was its operating income?") are asked separately, and a
   claim answering one of them is relevant. A clause's *topic words* are its content words
   (`rewards.premises.content_tokens`: stemmed, finance synonyms) less the words that frame the
   question rather than name a measure: interrogatives and auxiliaries, verbs that frame an amount or
   a document ("pay", "spend", "disclose", "present"), scale words, period expressions (handled by 3),
   direction and comparison words ("grew", "fastest": `rewards.premises.CHANGE_RE`) and the names of
   the entity asked about (handled by 4). A clause with a wh-phrase noun ("Which *segment* grew …",
   "What *cybersecurity incident* did …") asks for an instance of that category, which the answer
   names ("Contract Warehousing", "a phishing campaign") rather than repeats (expected answer types,
   Li & Roth 2002): no words can be required of it, only 3–5. Only the asking part says what is
   asked: where a sentence is a question ("…?"), the question's other sentences instruct (definitions,
   the answer's format or basis, "If … is not a useful metric, then state that and explain why."); an
   adjunct before the asking part ("Considering the data in the balance sheet, what is …", "…, answer
   the following question: how much …"), an aside in parentheses, and where a figure is read ("on the
   balance sheet", "in Acme's income statement") are not asked either; nor are manner adverbs
   ("historically", "materially"), evaluative, counting and number words ("major", "the number of",
   "three year average"), currencies, the end of a period, "year-over-year" and verbs that frame an
   amount ("generate"); a phrase that qualifies a measure an answer may name plainly ("net income
   attributable to shareholders", "capex as a % of revenue", a growth "rate") is the measure. A
   sentence is a boundary no clause crosses. A topic noun is stated by the adjective or verb it is formed
   from ("cyclicality" by "cyclical", "impairment" by "impaired").
2. **Measure** — a claim addresses a clause when it states a strict majority of the clause's head
   words, each at the start of a word ("rate" is not in "generated"; the finance synonyms of
   `rewards.premises.occurs` count: "revenue" answers "net sales"), so "employees" alone does not
   answer "employee turnover rate". A qualifier (`rewards.premises.MODIFIERS`: "net", "operating",
   "diluted") is not required, but a claim qualifying the head otherwise ("operating income" for
   "net income") measures something else. Organisational nouns ("segment", "division") name the
   kind of entity, not a measure. A table row quoted as a claim ("Other income (expense), net 3.3
   (2.4) 1.9") measures what its label names: a label with a word the question does not ask for, or
   another qualifier, is another line item. A claim that directly follows a relevant claim, names no
   company of its own and shares a topic word with the question or refers back ("It", "The segment")
   continues it ("Segment operating income decreased …" after the segment's revenue: the centering
   of a discourse on its previous utterance, Grosz, Joshi & Weinstein 1995). A yes/no clause ("Are
   Acme's gross margins consistent?") mixes the measure with the verdict asked for: half of its head
   words answer it.
3. **Period** — when the question names one period (`rewards.question_context.single_period`), a
   claim that names years, none of them the asked one, is about another period.
4. **Entity** — the entity asked about is a possessive name in the question ("Ostrander's") or a
   name matching the filer of a source document (`rewards.question_context.doc_filer` reads filers
   from document ids; "Best Buy" is BESTBUY_2023_10K's filer, and a capitalised short form that starts
   a filer's name, "JPM" of JPMORGAN_2022_10K, is that filer). A claim whose evidence lies in another
   filer's document, on a page that does not mention the asked entity, is about another company.
5. **Answer type** — a "when" clause is answered by a date (a month or a stated period), a "how
   much / how many" clause by a figure (`rewards.numbers.checkable`).

`deliver` applies relevance on top of `rewards.verify.verify_answer`: supported claims that do not
address the question are removed too, and the rest is verified again, so an answer whose supported
claims all miss the question ends as the explicit abstention ("The sources do not state …").
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from pydantic import Field

from cai.core.contracts import (
    AnswerClaim,
    ClaimVerdict,
    Contract,
    Evidence,
    OnUnsupported,
    SourcePage,
    Verdict,
    Verification,
)
from cai.core.prompts import question_sentences
from rag.page_kinds import STATEMENT_TITLES
from rewards.claims import split_claims, split_sentences
from rewards.entities import KnownNames, doc_filer, extract_entities, normalise
from rewards.numbers import checkable, extract_quantities
from rewards.periods import Period, extract_periods
from rewards.premises import CHANGE_RE, MODIFIERS, acronyms, content_tokens, occurs
from rewards.question_context import single_period

# Interrogatives, auxiliaries, and verbs that frame an amount or a document, not a measure.
_FRAMING = frozenset(content_tokens(
    "how much many did does doing done what which who whom whose why when where was were is are has have had "
    "can could would should will shall may might must tell give provide show describe explain list state say said "
    "pay paid pays spend spent spends earn earned earns perform performed record recorded disclose disclosed "
    "present presented relate related relates compare compared comparison versus there here any some more less "
    "document filing annual quarterly quarter month months calendar period periods ended ending "
    "thousand thousands million millions billion billions dollar dollars percent "
    "segment segments division divisions unit units subsidiary subsidiaries "
    # evaluative and counting words ("major acquisitions", "the number of stores"), reporting verbs,
    # currencies and prepositions of a comparison: none names a measure
    "major primary main key significant material important notable number quantity amount outline outlined "
    "usd eur gbp jpy between among "
    # the end of a period ("year end FY2019", "at the end of FY2019"), a change's rate ("year-over-year"),
    # number words ("three year average") and verbs that frame an amount ("generate", "bring in")
    "end year-over-year yoy one two three four five six seven eight nine ten generate generated generates bring "
    "brought"))
_MONTHS_RE = re.compile(r"\b(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
                        r"sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\b\.?", re.IGNORECASE)
_MONTH_WORDS = frozenset(content_tokens("january february march april may june july august september october november "
                                         "december jan feb mar apr jun jul aug sep sept oct nov dec"))
# A year said as the base of a comparison ("up from $2,104.7 million in 2023") is not the claim's own period.
_COMPARED_YEAR_RE = re.compile(r"\b(?:from|compared\s+(?:with|to)|versus|vs\.?|than|against)\b(?:[^.;]|\.(?=\d)){0,40}?"
                               r"(?<![\w$.,])(?P<year>(?:19|20)\d{2})(?!\w)", re.IGNORECASE)
_SUPERLATIVE_RE = re.compile(r"^(?:most|least|best|worst|better|worse|(?:fast|slow|larg|small|high|low|bigg|great|"
                             r"strong|weak|quick)(?:est|er))$")
# A sentence opening that refers back to the one before it (a pronoun or a bare category noun).
_BACK_REFERENCE_RE = re.compile(r"^\W*(?:it|its|this|that|these|those|they|their|such|the\s+(?:segment|division|unit|"
                                r"company|business)|segment|division)\b", re.IGNORECASE)
_INTERROGATIVE_RE = re.compile(r"\b(?:why|how|what|which|who|when|where)\b", re.IGNORECASE)
# Sentences of a question that ask nothing of the answer's content: a term's definition ("DPO is defined
# as: 365 * …", "Define net working capital as …"), the answer's format ("Round your answer to two
# decimal places.", "Answer in USD millions.") and the basis to work from ("Please base your judgments
# on the balance sheet."). Their words are the working's, not what is asked.
_NOT_ASKED_RE = re.compile(
    r"\bis\s+defined\s+(?:as|by)\b|^(?:please\s+)?define\b|^(?:please\s+)?round\b"
    r"|^(?:please\s+)?(?:state\s+(?:the\s+|your\s+)?)?answer\s+in\b"
    r"|^(?:please\s+)?bas(?:e|ing)\s+your\s+judge?ments?\b"
    r"|^(?:please\s+)?(?:address|respond\s+to|approach)\s+the\s+question\b"
    r"|^(?:please\s+)?(?:provide|give)\s+an?\s+(?:response|answer)\b", re.IGNORECASE)
# "for the fiscal year ended", "the quarter ending": the date that follows is the period (3).
_PERIOD_LEAD_RE = re.compile(r"\b(?:for\s+)?(?:the\s+)?(?:fiscal\s+)?(?:years?|quarters?|periods?|months?)\s+"
                             r"(?:ended|ending)\b", re.IGNORECASE)
_WORD_RE = re.compile(r"[A-Za-z][A-Za-z&'\-]*")
# An aside in parentheses ("(not fluctuating more than roughly 2% each year)", "(formerly known as Square)")
# elaborates what is asked; its words are not asked of the answer.
_PARENTHESIS_RE = re.compile(r"\([^()]*\)")
# Where a figure is read, not what it measures: "debt on the balance sheet", "in AES Corporation's income
# statements", "from the statement of cash flows", "per the 10-K".
_STATEMENT_SOURCE_RE = re.compile(
    r"\b(?i:on|in|from|within|using|per|according\s+to|based\s+on|shown\s+in)\s+(?i:the\s+|its\s+|their\s+)?"
    r"(?:(?:[A-Z][\w.&-]*\s+){0,3}[A-Z][\w.&-]*['\u2019]s\s+)?(?i:consolidated\s+)?"
    rf"(?i:{STATEMENT_TITLES}|(?:annual|quarterly)\s+reports?|10-[kq](?:\s+filings?)?|filings?)\b")
# Phrases that qualify a measure the answer may name plainly: "net income attributable to shareholders" is
# net income, "capex as a % of revenue" is a share of capex (also written "capex margin"), a "growth rate"
# the growth.
_QUALIFIER_PHRASE_RE = re.compile(
    r"\battributable\s+to\s+(?:the\s+)?(?:common\s+)?(?:share|stock)holders\b(?:\s+of\s+\w+)?"
    r"|\bas\s+an?\s+(?:%|percent(?:age)?)\s+of\s+(?:total\s+|net\s+)?(?:revenues?|sales)\b"
    r"|(?<=growth)\s+rates?\b", re.IGNORECASE)
# A manner or degree adverb ("historically", "directly", "materially", "explicitly") qualifies how the
# question asks, not what it measures.
_MANNER_ADVERB_RE = re.compile(r"\b[a-z]{2,}(?:al|ic|iv|ent|ant|ous|ct|it|ar|at|ful|ib|ab|ed|ing|e)ly\b", re.IGNORECASE)
# Noun-forming suffixes of a (lightly stemmed) topic word: what is left is the word its adjective or verb
# forms start with ("cyclicalit" -> "cyclical", "amortization" -> "amortiz", "impairment" -> "impair").
_BASE_FORM_RE = re.compile(r"(?<=al)it$|(?:ilit|ation|ition|ment|ness)$")
_AUXILIARIES = frozenset("did does do was were is are has have had will would can could should".split())
_CLAUSE_SPLIT_RE = re.compile(r"\s*(?:,|;|:|\band\b|\bor\b|\bas well as\b)\s*", re.IGNORECASE)
_WHEN_RE = re.compile(r"\bwhen\b", re.IGNORECASE)
_HOW_MUCH_RE = re.compile(r"\bhow\s+(?:much|many)\b", re.IGNORECASE)
# A table row quoted as a sentence: a label, then two or more figures and nothing else.
_ROW_RE = re.compile(r"^(?P<label>[A-Za-z][^$\d]*?)[\s:|]*(?:[$(\u2014\-]*\s*[\d.,]+\s*\)?%?\s*[|]?\s*){2,}[.]?$")
MAX_DELIVERY_PASSES = 8
MAX_ROW_LABEL_WORDS = 10


class Relevance(Contract):
    """Whether a claim answers its question, and why (`rewards.relevance`)."""

    relevant: bool
    score: float = Field(ge=0.0, le=1.0, description="Share of the asked clause's topic words the claim states.")
    asked: list[str] = Field(default_factory=list, description="Topic words of the question clause it answers best.")
    matched: list[str] = Field(default_factory=list, description="Of those, the words the claim states.")
    period: str | None = Field(None, description="The one period the question asks about, when it names one.")
    entities: list[str] = Field(default_factory=list, description="The entities the question asks about.")
    reason: str


@dataclass(frozen=True)
class Clause:
    """One part of a question: its topic words and the answer type it expects."""

    topic: tuple[str, ...]
    wants: str | None = None  # "date" | "figure" | None
    # A yes/no clause ("Are Acme's gross margins consistent?") mixes the measure asked about with the
    # verdict asked for; an answer about the measure states half of its words ("The gross margin fell …").
    polar: bool = False


@dataclass(frozen=True)
class Asked:
    """What a question asks: clauses, the one period, the entities (normalised keys and words)."""

    question: str
    clauses: tuple[Clause, ...]
    period: Period | None
    entities: tuple[str, ...] = ()  # as the question writes them
    entity_keys: tuple[str, ...] = ()  # `rewards.entities.normalise`d
    entity_words: frozenset[str] = field(default_factory=frozenset)
    modifiers: frozenset[str] = field(default_factory=frozenset)
    # Abbreviations the question spells out: "days payable outstanding (DPO)" -> ("DPO", "days payable
    # outstanding"); a claim that writes "DPO" states the phrase.
    acronyms: tuple[tuple[str, str], ...] = ()

    @property
    def topic(self) -> frozenset[str]:
        return frozenset(t for c in self.clauses for t in c.topic)


# ------------------------------------------------------------------------------------- question
def filer_words(doc_id: str) -> tuple[str, ...]:
    """The name words of the filer a document id names ("ostrander-quarry-2024-annual-report" →
    ("ostrander", "quarry")); () when the id does not start with a name (`doc_filer`)."""
    if not doc_filer(doc_id):
        return ()
    words = []
    for token in re.split(r"[\W_]+", doc_id.lower()):
        if not token or any(ch.isdigit() for ch in token):
            break
        words.append(token)
    return tuple(words)


def _names_filer(entity_words: set[str], filer: tuple[str, ...], key: str = "", initialism: bool = False) -> bool:
    """Whether a name (its words, its `normalise`d key) is the filer a document id names: a shared name
    word, the whole name run together ("Best Buy" of BESTBUY_2023_10K), or a capitalised short form
    that starts it ("JPM" of JPMORGAN_2022_10K, as `rewards.asked_company` reads one)."""
    joined = "".join(filer)
    return (any(len(w) >= 4 and w in entity_words for w in filer) or (len(key) >= 4 and key == joined)
            or (initialism and len(key) >= 2 and joined.startswith(key)))


def _asked_entities(question: str, doc_ids: Sequence[str]) -> list[tuple[str, str, set[str]]]:
    """(name, key, name words) of each entity asked about: possessive names, and names of a source filer."""
    filers = [f for f in map(filer_words, doc_ids) if f]
    out = []
    for e in extract_entities(question):
        words = e.text.split()
        if e.start == 0 and words[0].lower() in _AUXILIARIES:  # "Is Halvorsen Tidewater stock …?"
            words = words[1:]
        name = " ".join(words).removesuffix("'s").removesuffix("\u2019s").rstrip("'\u2019")
        keys = {normalise(w) for w in name.split()} - {""}
        possessive = e.text.endswith(("'s", "'", "\u2019s"))
        if name and (possessive or any(_names_filer(keys, f, normalise(name), name.isupper()) for f in filers)):
            out.append((name, normalise(name), keys))
    return out


def _wh_category(words: list[str]) -> set[str]:
    """The words between "which"/"what" and the next verb: the category the answer instantiates."""
    lowered = [w.lower() for w in words]
    for i, w in enumerate(lowered):
        if w not in ("which", "what"):
            continue
        for j in range(i + 1, min(i + 6, len(lowered))):
            if lowered[j] in _AUXILIARIES or _direction(lowered[j]):
                return set(content_tokens(" ".join(words[i + 1 : j])))
    return set()


def _direction(token: str) -> bool:
    """A direction or change word ("grew", "increases", "growth"), not a word merely starting so."""
    m = CHANGE_RE.match(token)
    return bool(m) and len(token) - m.end() <= 3


def _clause(text: str, excluded: frozenset[str]) -> Clause:
    """A clause's topic words and answer type. A "What N …" / "Which N …" clause asks for an instance of
    N, whose words cannot be known in advance: it requires no topic words (entity and period still apply)."""
    wh_category = _wh_category(_WORD_RE.findall(text))
    words = content_tokens(_MANNER_ADVERB_RE.sub(" ", text))
    topic = () if wh_category else tuple(
        t for t in words if t not in excluded and not _direction(t) and not _SUPERLATIVE_RE.match(t))
    wants = "date" if _WHEN_RE.search(text) else "figure" if _HOW_MUCH_RE.search(text) else None
    opening = text.split()[:1]
    return Clause(topic, wants, polar=bool(opening) and opening[0].lower() in _AUXILIARIES)


def _asking_sentences(question: str) -> list[str]:
    """The sentences that ask, without their periods. Where one of them is a question ("…?"), the others
    instruct (a definition, the format or basis of the answer, "If … is not a useful metric, then state
    that and explain why."): what they name is the working's, not what is asked. A sentence is a
    boundary no clause crosses."""
    sentences = question_sentences(question)
    sentences = ([t for t in sentences if "?" in t] or [t for t in sentences if not _NOT_ASKED_RE.search(t.strip())]
                 or [question])
    out = []
    for sentence in sentences:
        text = _PERIOD_LEAD_RE.sub(" ", _STATEMENT_SOURCE_RE.sub(" ", _PARENTHESIS_RE.sub(" ", sentence)))
        text = _QUALIFIER_PHRASE_RE.sub(" ", text)
        for p in sorted(extract_periods(text), key=lambda p: -p.start):
            text = text[: p.start] + " " + text[p.end :]
        out.append(text.rstrip("?. "))
    return out


def _asked_parts(sentence: str) -> list[str]:
    """A sentence's coordinated parts, less those before the part that asks: "Considering the data in the
    balance sheet, what is …" asks only the second part (the first is an adjunct saying how to answer)."""
    parts = [p for p in _CLAUSE_SPLIT_RE.split(sentence) if p.strip()]
    asking = next((i for i, p in enumerate(parts) if _INTERROGATIVE_RE.search(p)
                   or p.split()[0].lower() in _AUXILIARIES), 0)
    return parts[asking:]


def read_question(question: str, doc_ids: Sequence[str] = ()) -> Asked:
    """What `question` asks (see the module docstring); `doc_ids`: the source documents, whose
    filer names tell the entity asked about."""
    entities = _asked_entities(question, doc_ids)
    asked_names = {w for _, _, words in entities for w in words}
    names = asked_names | {w for d in doc_ids for w in filer_words(d)}
    excluded = _FRAMING | _MONTH_WORDS | frozenset(t for w in names for t in content_tokens(w))
    parts = [p for sentence in _asking_sentences(question) for p in _asked_parts(sentence)]
    clauses = [_clause(p, excluded) for p in parts]
    # a part that asks nothing of its own ("… in millions, and", a split name) is no clause; "and why?" is one
    merged = [c for c, p in zip(clauses, parts, strict=True) if c.topic or c.wants or _INTERROGATIVE_RE.search(p)]
    merged = merged or [Clause(())]
    topic = {t for c in merged for t in c.topic}
    return Asked(question, tuple(merged), single_period(question), tuple(n for n, _, _ in entities),
                 tuple(k for _, k, _ in entities), frozenset(asked_names), frozenset(topic & MODIFIERS),
                 acronyms(question))


# ---------------------------------------------------------------------------------------- claims
def _row_label(plain: str) -> str | None:
    """The label of a table row quoted as a claim: a short label and two or more figures (not a date)."""
    m = _ROW_RE.match(plain.strip())
    if not m or len(m.group("label").split()) > MAX_ROW_LABEL_WORDS:
        return None
    figures = [q for q in extract_quantities(plain.strip()[m.end("label"):]) if checkable(q)]
    return m.group("label").strip(" ,:|") if len(figures) >= 2 else None


def _other_line_item(asked: Asked, label: str) -> str | None:
    """Why a table row labelled `label` measures something else than asked, or None."""
    words = [t for t in content_tokens(label) if t not in _FRAMING and t not in asked.entity_words]
    extra = [w for w in words if w not in MODIFIERS and not any(occurs(t, w) or occurs(w, t) for t in asked.topic)]
    other_qualifier = asked.modifiers and [w for w in words if w in MODIFIERS and w not in asked.modifiers]
    return f"a table row of another line item ({label!r})" if extra or other_qualifier else None


def _answers_type(wants: str | None, plain: str) -> bool:
    if wants == "date":
        return bool(_MONTHS_RE.search(plain)) or any(p.kind != "year" for p in extract_periods(plain))
    if wants == "figure":
        return any(checkable(q) for q in extract_quantities(plain))
    return True


def _states(token: str, lowered: str) -> bool:
    """Whether the lower-cased text states the topic word `token`: at the start of a word, or through a
    synonym the checker reads for it ("sales" for "revenue"), but not inside another word."""
    if re.search(rf"(?<![a-z]){re.escape(token)}", lowered):
        return True
    base = _BASE_FORM_RE.sub("", token)  # "cyclicality" is stated by "cyclical", "amortization" by "amortized"
    if base != token and len(base) >= 5 and re.search(rf"(?<![a-z]){re.escape(base)}", lowered):
        return True
    return token not in lowered and occurs(token, lowered)


def _other_qualifier(clause: Clause, lowered: str) -> bool:
    """Whether the claim qualifies the clause's measure otherwise: the word before a head word of the
    clause is a qualifier the clause does not use ("operating income" for "net income")."""
    qualifiers = [t for t in clause.topic if t in MODIFIERS]
    heads = [t for t in clause.topic if t not in MODIFIERS]
    if not qualifiers or not heads:
        return False
    for head in heads:
        for m in re.finditer(rf"([a-z][a-z\-]*)\s+{re.escape(head)}", lowered):
            before = next(iter(content_tokens(m.group(1))), "")
            if before in MODIFIERS and before not in qualifiers:
                return True
    return False


def _measure(asked: Asked, plain: str) -> tuple[Clause, list[str], bool]:
    """The clause the claim answers best: (clause, its topic words the claim states, answered). A clause
    is answered by a strict majority of its head words (qualifiers such as "net" count when stated, and
    are not required: "revenue" answers "net sales"), no other qualifier, and the expected answer type."""
    lowered = plain.lower()
    lowered += "".join(f" {phrase.lower()}" for acronym, phrase in asked.acronyms
                       if re.search(rf"\b{acronym}\b", plain))
    best = None
    for clause in asked.clauses:
        matched = [t for t in clause.topic if _states(t, lowered)]
        heads = [t for t in clause.topic if t not in MODIFIERS] or list(clause.topic)
        stated = [t for t in heads if t in matched]
        answered = ((not heads or 2 * len(stated) > len(heads) - clause.polar) and not _other_qualifier(clause, lowered)
                    and _answers_type(clause.wants, plain))
        key = (answered, len(matched) / len(clause.topic) if clause.topic else 1.0)
        if best is None or key > best[0]:
            best = (key, clause, matched, answered)
    return best[1], best[2], best[3]


def _off_period(asked: Asked, plain: str) -> str | None:
    if asked.period is None:
        return None
    compared = {int(m.group("year")) for m in _COMPARED_YEAR_RE.finditer(plain)}
    years = {p.year for p in extract_periods(plain) if p.year}
    if years - compared and asked.period.year not in years:
        return f"about {', '.join(map(str, sorted(years)))}, the question asks about {asked.period.year}"
    return None


def _off_entity(asked: Asked, evidence: Evidence | None, pages: Sequence[SourcePage]) -> str | None:
    if not asked.entities or evidence is None:
        return None
    filer = filer_words(evidence.locator.doc_id)
    if filer and (_names_filer(set(asked.entity_words), filer)
                  or any(_names_filer(set(), filer, key, name.isupper())
                         for name, key in zip(asked.entities, asked.entity_keys, strict=True))):
        return None
    page = next((p for p in pages if (p.doc_id, p.page) == (evidence.locator.doc_id, evidence.locator.page)), None)
    if page is not None and any(KnownNames(page.text).mentions(key) for key in asked.entity_keys):
        return None
    if not filer and page is None:
        return None  # nothing tells whose document it is
    return f"its evidence is another company's document ({evidence.locator.doc_id})"


def claim_relevance(asked: Asked, text: str, *, evidence: Evidence | None = None,
                    pages: Sequence[SourcePage] = (), previous: Relevance | None = None) -> Relevance:
    """Whether the claim `text` addresses what `asked` asks (conventions 2–5 of the module docstring).
    `evidence`: where the checker found it (for the entity); `previous`: the relevance of the claim
    right before it in the same answer (for a continuation)."""
    plain = next(iter(split_sentences(text)), None)
    plain = plain.plain if plain else text.strip()
    clause, matched, answered = _measure(asked, plain)
    label = _row_label(plain)
    why_not = (_off_entity(asked, evidence, pages) or _off_period(asked, plain)
               or (_other_line_item(asked, label) if label else None))
    if why_not is None and not answered:
        named = [e for e in extract_entities(plain) if not {normalise(w) for w in e.text.split()} & asked.entity_words]
        refers_back = bool(matched) or bool(_BACK_REFERENCE_RE.match(plain))
        if previous is not None and previous.relevant and refers_back and not named \
                and _answers_type(clause.wants, plain):  # a continuation still answers what is asked
            answered = True
        else:
            why_not = _missing(clause, matched, plain)
    score = len(matched) / len(clause.topic) if clause.topic else 1.0
    reason = _because(clause, matched, asked) if why_not is None else f"not relevant: {why_not}"
    return Relevance(relevant=why_not is None, score=round(score, 4), asked=list(clause.topic), matched=matched,
                     period=str(asked.period.year) if asked.period else None, entities=list(asked.entities),
                     reason=reason)


_LEGAL_WORDS = frozenset(content_tokens("co inc incorporated corp corporation company ltd llc plc group holdings"))


def addresses(asked: Asked, claim: str) -> bool:
    """Whether a claim is about what was asked, strictly: relevant (`claim_relevance`) and stating one
    of the topic words of the clause it answers, or something of the entity asked about. A question
    whose asking clause names no measure ("… and why?") makes every sentence relevant; a line
    of pasted filing text ("UNITED STATES", "Timing of Deferral Elections") does not address it."""
    compact = re.sub(r"[^a-z0-9]+", "", claim.lower())
    relevance = claim_relevance(asked, claim)
    # Naming the entity addresses it only with something said of it ("Acme has a fleet of electric
    # trucks"), not as a bare name ("BEST BUY CO., INC.", a cover page's line).
    said = [t for t in content_tokens(claim) if t not in asked.entity_words and t not in _LEGAL_WORDS]
    named = any(key in compact for key in asked.entity_keys) and len(said) >= 2
    return relevance.relevant and (bool(relevance.matched) or named)


# Words of a yes/no question that a statement of its answer drops: "Has Acme reported any …" → "Acme has reported …"
QUANTIFIERS = frozenset({"any", "some", "there", "each", "every", "all"})


def verdict_on_question(question: str, claim: str) -> bool:
    """Whether a claim is the asking sentence restated as a statement, the answer's verdict on it
    ("Has Boeing reported any materially important ongoing legal battles?" → "Boeing has reported
    ongoing legal battles from FY2022"): at least two thirds of the asking sentence's content words,
    and at most one word the question does not use. Words compare by their first five letters."""
    asking = next((s for s in question_sentences(question) if s.rstrip().endswith("?")), question)
    asked = {t[:5] for t in content_tokens(asking) if t not in QUANTIFIERS}
    said = {t[:5] for t in content_tokens(re.sub(r"^\W*(?:yes|no)\b\W*", "", claim, flags=re.IGNORECASE))}
    return len(asked) >= 2 and len(said & asked) * 3 >= len(asked) * 2 and len(said - asked) <= 1


def _missing(clause: Clause, matched: list[str], plain: str) -> str:
    missing = [t for t in clause.topic if t not in matched]
    if missing:
        return f"the question asks about {' '.join(clause.topic)}; the claim does not state {', '.join(missing)}"
    if _other_qualifier(clause, plain.lower()):
        return f"the question asks about {' '.join(clause.topic)}; the claim qualifies it otherwise"
    return "the question asks when; the claim states no date" if clause.wants == "date" else \
        "the question asks how much; the claim states no figure"


def _because(clause: Clause, matched: list[str], asked: Asked) -> str:
    parts = [f"states {' '.join(matched)}" if matched else "the question names no measure"]
    if asked.period is not None:
        parts.append(f"period {asked.period.year}")
    if asked.entities:
        parts.append(f"entity {', '.join(asked.entities)}")
    return "relevant: " + "; ".join(parts)


def claims_relevance(question: str, claims: Sequence[ClaimVerdict], pages: Sequence[SourcePage]) -> list[Relevance]:
    """The relevance of each claim of one answer, in order (a claim may continue the one before)."""
    asked = read_question(question, list(dict.fromkeys(p.doc_id for p in pages)))
    out: list[Relevance] = []
    for c in claims:
        out.append(claim_relevance(asked, c.text, evidence=c.evidence, pages=pages, previous=out[-1] if out else None))
    return out


# -------------------------------------------------------------------------------------- delivery
@dataclass
class Delivered:
    """A verified answer whose delivered claims all address the question."""

    verification: Verification
    relevance: list[Relevance | None]  # per delivered claim; None for a marked (unsupported) one
    off_topic: list[tuple[AnswerClaim, Relevance]]  # supported claims removed as not relevant


def deliver(question: str, raw: str, pages: Sequence[SourcePage], *, checker,
            on_unsupported: OnUnsupported = "remove") -> Delivered:
    """`rewards.verify.verify_answer`, then the supported claims that do not address the question are
    removed from the answer and it is verified again, until every delivered claim is relevant
    (nothing relevant left → the explicit abstention). Off-topic claims are removed in either mode:
    they are supported, so an [UNSUPPORTED] marker would misstate them."""
    from rewards.verify import verify_answer

    text, off_topic, first = raw, [], None
    for _ in range(MAX_DELIVERY_PASSES):
        verified = verify_answer(question, text, pages, checker=checker, on_unsupported=on_unsupported)
        first = first or verified
        judged = [c for c in verified.claims if c.verdict == Verdict.supported]
        relevance = dict(zip(map(id, judged), claims_relevance(question, judged, pages), strict=True))
        off = [c for c in judged if not relevance[id(c)].relevant]
        if not off:
            break
        off_topic += [(c.model_copy(update={"action": "removed", "span": _raw_span(raw, c.text)}), relevance[id(c)])
                      for c in off]
        shorter = _without(text, [c.text for c in off])
        if shorter == text:  # not found again as a sentence of the text: nothing more can be removed
            break
        text = shorter
    # As if verified once: the raw answer and its support as given; removed claims' spans index it.
    removed = [c.model_copy(update={"span": _raw_span(raw, c.text)}) for c in verified.removed]
    final = verified.model_copy(update={"raw_answer": raw, "n_raw_claims": first.n_raw_claims, "removed": removed,
                                        "raw_support_rate": first.raw_support_rate})
    return Delivered(final, [relevance.get(id(c)) for c in verified.claims], off_topic)


def _plain(text: str) -> str:
    """A sentence's key for matching it across deliveries: its words without citations or punctuation."""
    parsed = next(iter(split_sentences(text)), None)
    return re.sub(r"[^a-z0-9]+", "", (parsed.plain if parsed else text).lower())


def _raw_span(raw: str, text: str) -> tuple[int, int] | None:
    target = _plain(text)
    return next(((s.start, s.end) for s in split_claims(raw, keep_non_claims=True) if _plain(s.text) == target), None)


def _without(text: str, claims: Sequence[str]) -> str:
    """`text` without the sentences that say `claims` (compared without their citations)."""
    drop = {_plain(c) for c in claims}
    kept, end = [], 0
    for s in split_claims(text, keep_non_claims=True):
        if _plain(s.text) not in drop:
            kept.append(("\n" if "\n" in text[end : s.start] else " ") + s.text.strip())
        end = s.end
    return "".join(kept).strip()
