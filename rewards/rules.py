"""The constitution's machine checks, evaluated on one answer -> rule violations.

Each rule of a resolved constitution (`cai.core.constitution.load_constitution`) may carry machine
checks (`cai.core.constitution.Checks`). `evaluate_rules` runs the enabled checks of every rule that
applies to the question (`Rule.applies`: tags, forms, question pattern) and returns one
`RuleViolation` per finding: `rule_id` is the constitution rule's id, `message` starts with the
check's name in brackets (e.g. "[must_cite] claim has no [DOC p.N] citation"), `severity` is the
rule's, `fix` its revision request, and `claim`/`evidence` point at the offending claim and the
closest source passage where there is one.

The checks and what they read:
* must_cite - inline citations on each claim (`rewards.claims`);
* claims_supported - the checker's claim verdicts and scores (`min_score`);
* numbers_match_sources - each figure equals a source figure within `rel_tolerance`, or (with
  `allow_derived`) the checker derived it from source figures;
* quote_figures_verbatim - each figure taken from a source is written as the source writes it;
* period_matches_question - years the claims name are years the question asks about;
* entities_match_sources - company names are those of the sources or the question;
* no_forbidden_phrases, require_marker, max_words - phrases and length of the answer text.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

import numpy as np

from cai.core.constitution import ClaimsSupported, Constitution, NumbersMatch, Rule
from cai.core.contracts import ClaimVerdict, RuleViolation, SourcePage, Verdict
from rewards.claims import Claim, split_claims
from rewards.entities import KnownNames, unknown_entities
from rewards.numbers import Quantity, agreeing, page_quantities
from rewards.periods import extract_periods

_DERIVED_RE = re.compile(r"=\s*[^;]*[-+/×*^]")  # a checker reason "x = a / b" (not "= a in source")


class AnswerUnderReview:
    """One answer with what the checks need: its claims, their verdicts, the sources."""

    def __init__(self, question: str, answer: str, verdicts: Sequence[ClaimVerdict], sources: Sequence[SourcePage]):
        self.question = question
        self.answer = answer
        self.claims = split_claims(answer)
        self.verdicts = list(verdicts)
        self.sources = list(sources)
        figures = [q for s in self.sources for q in page_quantities(s.text)]
        # Sizes a figure of the answer may match (sign aside): any source figure, or for a
        # percentage one written as a percentage or with decimals (a ratio).
        self.figure_values = np.abs([q.magnitude for q in figures], dtype=np.float64)
        self.ratio_values = np.abs([q.magnitude for q in figures if q.unit == "%" or q.decimals], dtype=np.float64)
        self.source_text = " ".join(s.text for s in self.sources)

    def verdict_for(self, claim: Claim) -> ClaimVerdict | None:
        for v in self.verdicts:
            if v.span == (claim.start, claim.end) or v.text == claim.text:
                return v
        return None


def _violation(rule: Rule, check: str, message: str, claim: str | None = None,
               verdict: ClaimVerdict | None = None) -> RuleViolation:
    return RuleViolation(
        rule_id=rule.id, severity=rule.severity, claim=claim, message=f"[{check}] {message}",
        evidence=verdict.evidence if verdict is not None else None, fix=rule.revision,
    )


def check_must_cite(rule: Rule, review: AnswerUnderReview, _param) -> list[RuleViolation]:
    return [
        _violation(rule, "must_cite", "claim has no [DOC p.N] citation", c.text, review.verdict_for(c))
        for c in review.claims if not c.citations
    ]


def check_claims_supported(rule: Rule, review: AnswerUnderReview, param) -> list[RuleViolation]:
    min_score = param["min_score"] if isinstance(param, dict) else ClaimsSupported().min_score
    out = []
    for v in review.verdicts:
        if v.verdict != Verdict.supported or v.score < min_score:
            why = v.reason or v.verdict.value
            out.append(_violation(rule, "claims_supported",
                                  f"{v.verdict.value} (score {v.score:.2f} < {min_score}): {why}", v.text, v))
    return out


def _figure_in_sources(q: Quantity, review: AnswerUnderReview, rel_tolerance: float) -> bool:
    return bool(agreeing(q, review.ratio_values if q.unit == "%" else review.figure_values, rel_tolerance))


def _derived_by_checker(verdict: ClaimVerdict | None, q: Quantity) -> bool:
    if verdict is None or verdict.verdict != Verdict.supported or not verdict.reason:
        return False
    return any(part.strip().startswith(q.text.strip()) and _DERIVED_RE.search(part)
               for part in verdict.reason.split(";"))


def check_numbers_match_sources(rule: Rule, review: AnswerUnderReview, param) -> list[RuleViolation]:
    spec = NumbersMatch.model_validate(param) if isinstance(param, dict) else NumbersMatch()
    out = []
    for claim in review.claims:
        verdict = review.verdict_for(claim)
        missing = [
            q.text for q in claim.quantities
            if not _figure_in_sources(q, review, spec.rel_tolerance)
            and not (spec.allow_derived and _derived_by_checker(verdict, q))
        ]
        if missing:
            out.append(_violation(rule, "numbers_match_sources",
                                  f"figures not in the sources{' nor derived from them' if spec.allow_derived else ''}"
                                  f": {', '.join(missing)}", claim.text, verdict))
    return out


def _written_digits(q: Quantity) -> str:
    return re.sub(r"[^\d.,]", "", q.text).strip(".,")


def check_quote_figures_verbatim(rule: Rule, review: AnswerUnderReview, _param) -> list[RuleViolation]:
    """A figure found in a source (not computed) must be written with the source's digits:
    "12,645" quoted as "12.6 thousand" or "12,600" is flagged; computed figures are exempt."""
    out = []
    for claim in review.claims:
        verdict = review.verdict_for(claim)
        restated = [
            q.text for q in claim.quantities
            if not _derived_by_checker(verdict, q) and _written_digits(q) not in review.source_text
        ]
        if restated:
            out.append(_violation(rule, "quote_figures_verbatim",
                                  f"figures not written as in the source: {', '.join(restated)}", claim.text, verdict))
    return out


def _question_years(question: str) -> set[int]:
    """Years the question asks about; a range "FY2015 - FY2017" includes the years between."""
    years = sorted({p.year for p in extract_periods(question) if p.year})
    if len(years) >= 2 and re.search(r"\b(?:from|between|to|through|-|–)\b|\d\s*[-–]\s*(?:FY)?\d", question,
                                     re.IGNORECASE):
        return set(range(years[0], years[-1] + 1))
    return set(years)


def check_period_matches_question(rule: Rule, review: AnswerUnderReview, _param) -> list[RuleViolation]:
    asked = _question_years(review.question)
    if not asked:
        return []
    out = []
    for claim in review.claims:
        # One year before the asked period is the comparison column every filing prints.
        stray = sorted({p.year for p in claim.periods
                        if p.year and not p.relative and p.year not in asked and p.year + 1 not in asked})
        if stray:
            out.append(_violation(rule, "period_matches_question",
                                  f"periods {stray} are not the period asked about {sorted(asked)}", claim.text,
                                  review.verdict_for(claim)))
    return out


def check_entities_match_sources(rule: Rule, review: AnswerUnderReview, _param) -> list[RuleViolation]:
    known = KnownNames(" ".join([review.question] + [f"{s.doc_id} {s.text}" for s in review.sources]))
    known.add_ordinary(review.answer)
    out = []
    for claim in review.claims:
        unknown = unknown_entities(claim.plain, known)
        if unknown:
            names = ", ".join(sorted({e.text for e in unknown}))
            out.append(_violation(rule, "entities_match_sources", f"names not in the sources or question: {names}",
                                  claim.text, review.verdict_for(claim)))
    return out


def contains_phrase(text: str, phrase: str) -> bool:
    """Whether `text` contains `phrase` as whole words, case-insensitively."""
    return re.search(rf"(?<!\w){re.escape(phrase.lower())}(?!\w)", text.lower()) is not None


_contains_phrase = contains_phrase  # the old private name, kept for existing imports


def check_no_forbidden_phrases(rule: Rule, review: AnswerUnderReview, phrases) -> list[RuleViolation]:
    return [_violation(rule, "no_forbidden_phrases", f"forbidden phrase: {p!r}")
            for p in phrases if contains_phrase(review.answer, p)]


def check_require_marker(rule: Rule, review: AnswerUnderReview, markers) -> list[RuleViolation]:
    out = []
    for marker in markers:
        triggers = [p for p in marker["when_any"] if contains_phrase(review.answer, p)]
        if triggers and not any(contains_phrase(review.answer, p) for p in marker["require_any"]):
            out.append(_violation(rule, "require_marker", f"{triggers[0]!r} needs one of {marker['require_any']}"))
    return out


def check_max_words(rule: Rule, review: AnswerUnderReview, limit) -> list[RuleViolation]:
    words = len(review.answer.split())
    return [_violation(rule, "max_words", f"{words} words > {limit}")] if words > limit else []


def check_states_an_answer(rule: Rule, review: AnswerUnderReview, _param) -> list[RuleViolation]:
    """An answer of headings, filler or layout only ("[END OF FILING]", "Table of Contents") says
    nothing, not even that the sources are silent: it must answer or abstain."""
    kinds = {c.kind for c in split_claims(review.answer, keep_non_claims=True)}
    if kinds & {"claim", "abstention"}:
        return []
    return [_violation(rule, "states_an_answer", "the answer states neither a claim nor that the sources are silent")]


CHECKS: dict[str, Callable[[Rule, AnswerUnderReview, object], list[RuleViolation]]] = {
    "must_cite": check_must_cite,
    "claims_supported": check_claims_supported,
    "numbers_match_sources": check_numbers_match_sources,
    "quote_figures_verbatim": check_quote_figures_verbatim,
    "period_matches_question": check_period_matches_question,
    "entities_match_sources": check_entities_match_sources,
    "no_forbidden_phrases": check_no_forbidden_phrases,
    "require_marker": check_require_marker,
    "max_words": check_max_words,
    "states_an_answer": check_states_an_answer,
}


def evaluate_rules(
    constitution: Constitution, question: str, answer: str, verdicts: Sequence[ClaimVerdict],
    sources: Sequence[SourcePage] = (), *, tags: list[str] | None = None, forms: list[str] | None = None,
) -> list[RuleViolation]:
    """Violations of the constitution's machine checks by `answer` (rules in constitution order)."""
    review = AnswerUnderReview(question or "", answer, verdicts, sources)
    violations: list[RuleViolation] = []
    for rule in constitution.rules:
        if not rule.applies(question or "", tags=tags, forms=forms):
            continue
        for check, param in rule.checks.enabled().items():
            violations += CHECKS[check](rule, review, param)
    return violations
