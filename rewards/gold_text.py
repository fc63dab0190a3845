"""An answer judged against a gold answer written as text with no figure to compare (method 3 of
`rewards.correctness`): "Yes. It decreased.", "Among the three, cash flow from operations was the
highest", "Since JPM is a financial institution, gross margin is not a relevant metric.", "0".

The gold is a line; the answer is usually a paragraph with the filing's detail around the same
conclusion. So the answer is not required to be *supported by* the gold (its detail is not in the
gold's line), but to *entail* it: the direction of answer-equivalence judging (Bulian et al. 2022,
"Tomayto, Tomahto. Beyond Token-level Answer Equivalence for Question Answering Evaluation"; Chen et
al. 2019, "Evaluating Question Answering Evaluation"), a right answer states what the reference
states. Before that reading, four conventions of how such questions are asked and answered decide
outright (`judge_gold_text`, in order):

1. **Yes or no.** A gold that opens with yes or no is matched by the answer's own yes or no (or its
   opening restatement of the question, negated or not), and by a name the gold gives beyond the
   question's ("Yes, his name is Richard A. Johnson").
2. **The value the question prescribes for an absent item** ("If restructuring costs are not
   explicitly outlined then state 0", gold "0"): the answer states that value or that the item is
   absent.
3. **A metric the question lets the answer call irrelevant** ("If gross margin is not a useful
   metric for a company like this, then please state that"): the answer and the gold agree on
   whether it is.
4. **A choice among the options the question lists** ("Among operations, investing, and financing
   activities, which …"): the option the answer's superlative claim names ("investing activities
   brought in the most") is the one the gold names.

An answer that is the gold as written ("2019", "7", citations and punctuation aside: `as_written`)
is right outright; `rewards.correctness.judge` asks that first, before it reads the answer's claims.
Otherwise the gold's first claim (its answer; what follows elaborates) is checked by the
checker with the answer as the only source, less the sentences it denies ("The sources do not state
that …" names what it does not state).
"""

from __future__ import annotations

import re

from cai.core.contracts import SourcePage, Verdict
from rewards.claims import sentence_kind, split_claims

ANSWER_DOC = "answer"  # the doc id the answer's text is read under when the gold is checked against it

_YES_NO_RE = re.compile(r"^\W*(yes|no)\b(?!\s+(?:change|changes|decrease|increase|longer|material|significant|"
                        r"such|one|other|more|less)\b)", re.IGNORECASE)
_ANSWER_IS_RE = re.compile(r"\banswer\b[^.;]{0,40}?\bis\s+(yes|no)\b", re.IGNORECASE)


def polarity(text: str) -> bool | None:
    """The yes (True) or no (False) a text answers with: a sentence that opens with it, or "the answer
    … is yes"; None when it says neither."""
    for sentence in split_claims(text, keep_non_claims=True):
        m = _YES_NO_RE.match(sentence.plain) or _ANSWER_IS_RE.search(sentence.plain)
        if m is not None:
            return m.group(1).lower() == "yes"
    return None


# "Did …?", "Looking at VaR, did …?": an auxiliary opens the asking clause
_AUX = r"is|are|was|were|do|does|did|has|have|had|can|could|will|would|should"
_POLAR_QUESTION_RE = re.compile(rf"^\W*(?:[^,?]{{0,60}},\s*)?(?:{_AUX})\b", re.IGNORECASE)


def restated_polarity(question: str, answer: str) -> bool | None:
    """The yes (True) or no (False) of an answer that restates a yes/no question as a statement ("Did
    the risk decrease?" → "The risk decreased compared to the prior year"): its first sentence with
    most of the asking sentence's content words, negated or not ("The sources do not state that …"
    is no yes); None when no sentence restates it."""
    from rewards.premises import NEGATION_RE, content_tokens
    from rewards.relevance import QUANTIFIERS

    asking = next((s for s in re.split(r"(?<=[.?!])\s+", question) if s.rstrip().endswith("?")), "")
    m = _POLAR_QUESTION_RE.match(asking)
    asked = {t[:5] for t in content_tokens(asking[m.end():]) if t not in QUANTIFIERS} if m else set()
    if len(asked) < 2:
        return None
    for sentence in split_claims(answer, keep_non_claims=True):
        first = re.split(r":|\n", sentence.text)[0]  # the restating clause, not the list it introduces
        if len(asked & {t[:5] for t in content_tokens(first)}) * 3 >= len(asked) * 2:
            return NEGATION_RE.search(first) is None
    return None


def _by_polarity(question: str, answer: str, gold_answer: str) -> tuple[bool, str] | None:
    from rewards.entities import extract_entities, normalise

    wanted = polarity(gold_answer)
    said = polarity(answer) if wanted is not None else None
    said = restated_polarity(question, answer) if wanted is not None and said is None else said
    if wanted is None or said is None:
        return None
    word = "yes" if wanted else "no"
    if said != wanted:
        return False, f"answers {'no' if wanted else 'yes'}, the gold answer says {word}"
    asked, text = normalise(question), normalise(answer)
    names = [e.text for e in extract_entities(gold_answer) if normalise(e.text) not in asked]
    if names and not any(normalise(n) in text for n in names):
        return False, f"answers {word} as the gold does, but names none of {', '.join(names)}"
    return True, f"answers {word}, as the gold answer does"


def _by_fallback(question: str, answer: str, gold_answer: str) -> tuple[bool, str] | None:
    """Convention 2: a gold that is the question's prescribed value for an absent item."""
    from rewards.fallback import prescribed_fallback
    from rewards.numbers import extract_quantities
    from rewards.premises import NEGATION_RE, measure_tokens

    prescribed = prescribed_fallback(question)
    gold = extract_quantities(gold_answer)
    if prescribed is None or len(gold) != 1 or gold[0].magnitude != prescribed[1]:
        return None
    words, value = prescribed
    for claim in split_claims(answer):
        if any(q.magnitude == value for q in extract_quantities(claim.plain)):
            return True, f"states {gold_answer.strip()}, the value the question prescribes when the item is absent"
        if NEGATION_RE.search(claim.plain) and set(words) <= set(measure_tokens(claim.plain)):
            return True, "states that the item is absent, as the gold's prescribed value does"
    return False, f"neither states {gold_answer.strip()} nor that the item is absent, as the gold does"


_IRRELEVANT_ASKED_RE = re.compile(r"\bif\s+[^.?!]{3,80}?\s+(?:is|are)\s+not\s+(?:a\s+|an\s+)?(?:relevant|useful|"
                                  r"meaningful|applicable|appropriate)\b", re.IGNORECASE)
# "not a relevant metric", "not typically a relevant or commonly used metric", "do not seem to be a relevant metric"
_IRRELEVANT_RE = re.compile(r"\b(?:not|n't)\s+(?:\w+\s+){0,3}?(?:a\s+|an\s+)?(?:relevant|useful|meaningful|"
                            r"applicable|appropriate)\b|\birrelevant\b", re.IGNORECASE)


def _by_relevance(question: str, answer: str, gold_answer: str) -> tuple[bool, str] | None:
    """Convention 3: the question lets the answer call its metric irrelevant; gold and answer agree."""
    if not _IRRELEVANT_ASKED_RE.search(question):
        return None
    wanted = bool(_IRRELEVANT_RE.search(gold_answer))
    said = any(_IRRELEVANT_RE.search(c.plain) for c in split_claims(answer))
    if said == wanted:
        return (True, "calls the metric irrelevant, as the gold does") if wanted else None
    return False, ("does not say the metric is irrelevant, as the gold does" if wanted
                   else "calls the metric irrelevant; the gold does not")


# "Among operations, investing, and financing activities, which …", "Which of Data Center, Client or Gaming …"
_OPTIONS_RE = re.compile(r"\b(?:among|which\s+of)\s+(?:the\s+)?(?P<list>[\w&/ -]+?(?:,\s*[\w&/ -]+?)+,?\s+(?:and|or)"
                         r"\s+[\w&/ -]+?)\s*(?:,|\?|\s+(?:which|what|who|brought|had|did|has|is|was)\b)",
                         re.IGNORECASE)
_SUPERLATIVES = r"most|least|highest|lowest|largest|smallest|greatest|biggest|best|worst"


def _options(question: str) -> list[str]:
    """The stems of the options a question lists (first five letters of each option's first word)."""
    m = _OPTIONS_RE.search(question)
    if m is None:
        return []
    items = re.split(r",\s*(?:and\s+|or\s+)?|\s+(?:and|or)\s+", m.group("list"))
    stems = [w.group(0).lower()[:5] for item in items if (w := re.search(r"[a-z]{3,}", item, re.IGNORECASE))]
    return stems if len(set(stems)) == len(stems) >= 2 else []


def _words(text: str) -> set[str]:
    return {w.lower() for w in re.findall(r"[a-z]{3,}", text, re.IGNORECASE)}


def _named(text: str, stems: list[str]) -> set[str]:
    """The options of `stems` that `text` names (a word beginning with the stem)."""
    return {w[:5] for w in _words(text)} & set(stems)


def _asked_superlatives(question: str) -> set[tuple[str, str]]:
    """(verb stem, superlative) of each superlative the question asks with: "brought in the most (or lost
    the least)" gives ("broug", "most") and ("lost", "least")."""
    found = re.finditer(rf"\b([a-z]{{3,}})\s+(?:in\s+|out\s+)?(?:the\s+)?({_SUPERLATIVES})\b",
                        question, re.IGNORECASE)
    return {(m.group(1).lower()[:5], m.group(2).lower()) for m in found}


def _by_choice(question: str, answer: str, gold_answer: str) -> tuple[bool, str] | None:
    """Convention 4: the option named by the answer's first claim that uses a superlative of the question
    ("investing activities brought in the most") is the gold's. A claim with another verb ("financing
    used the most cash") answers another question and decides nothing."""
    stems, asked = _options(question), _asked_superlatives(question)
    wanted = _named(gold_answer, stems)
    if len(wanted) != 1 or not asked:
        return None
    for claim in split_claims(answer):
        chosen, words = _named(claim.plain, stems), _words(claim.plain)
        if len(chosen) == 1 and any(sup in words and any(w.startswith(verb) for w in words) for verb, sup in asked):
            (said,), (gold,) = chosen, wanted
            return (said == gold, f"chooses the option '{said}…'" + (", as the gold does" if said == gold
                                                                       else f"; the gold chooses '{gold}…'"))
    return None


def _by_name(question: str, answer: str, gold_answer: str) -> tuple[bool, str] | None:
    """Convention 5: a gold that is only a name ("Data Center") for a question asking for the one with
    the most or least of something: the answer's first claim with a superlative names it."""
    name = " ".join(gold_answer.strip().rstrip(".").split())
    if not re.fullmatch(r"[A-Z][\w&'’.-]*(?: [\w&'’.-]+){0,3}", name) or not _asked_superlatives(question):
        return None
    for claim in split_claims(answer):
        if re.search(rf"\b(?:{_SUPERLATIVES})\b", claim.plain, re.IGNORECASE):
            found = re.search(rf"\b{re.escape(name)}\b", claim.plain, re.IGNORECASE) is not None
            return found, (f"names {name} in its superlative claim" if found
                           else f"its superlative claim does not name {name}, the gold answer")
    return None


def as_written(answer: str, gold_answer: str) -> bool:
    """Whether the answer is the gold as written, citations, case and punctuation aside ("2019
    [acme-10k p.4]." for "2019"): a bare year or count, which no claim check reads."""
    return bool(_bare(answer)) and _bare(answer) == _bare(gold_answer)


def _bare(text: str) -> str:
    """A text without its citations, case, punctuation and spacing: "2019 [acme-10k p.4]." → "2019"."""
    from cai.core.contracts import CITATION_RE

    return re.sub(r"[^\w%$.-]+", " ", CITATION_RE.sub(" ", text).lower()).strip(" .")


def judge_gold_text(question: str, answer: str, gold_answer: str, checker) -> tuple[bool, str]:
    """(right, why) of `answer` against a gold answer without figures (module docstring); `checker`
    reads the gold's first claim against the answer taken as the only source."""
    for convention in (_by_polarity, _by_fallback, _by_relevance, _by_choice, _by_name):
        if (decided := convention(question, answer, gold_answer)) is not None:
            return decided
    # What the answer denies ("The sources do not state that FPGAs are sold") is not what it states.
    stated = " ".join(s.text for s in split_claims(answer, keep_non_claims=True)
                      if sentence_kind(s.text) != "abstention")
    verdicts = checker.check(question, gold_answer, [SourcePage(doc_id=ANSWER_DOC, page=1, text=stated)])
    if not verdicts:
        return False, "the gold answer has no claim to look for in the answer"
    first = verdicts[0]
    if first.verdict == Verdict.supported:
        return True, "states the gold answer's claim"
    said = " ".join(first.text.split())
    return False, f"does not state the gold answer's claim: {said}" + (f" ({first.reason})" if first.reason else "")
