"""The `grounded` teacher: deterministic, no weights, no network — the embedded default.

- draft: extractive — the retrieved sentences that best answer the question, each cited; only
  sentences that are claims (`rewards.claims.sentence_kind`): a table header or unit row ("(in
  millions, except per share amounts) 2024 2023 2022"), a page's running head, a heading or a
  lead-in states nothing an answer should say, however many of the question's words (or years)
  it shares;
- critique: claim by claim with the offline checker, plus the rules' machine checks;
- revise: supported claims are kept verbatim; a missing citation is added, naming a page that
  supports the claim on its own (the financial statement the question names first, then the
  stronger support, then the better retrieval rank); an unsupported claim is replaced by the
  source sentence on the same subject that the checker supports as an answer to the question,
  written as an answer sentence with its citation (no bullets, headings or "The sources state"
  wrapper), or by an explicit "The sources do not state …"; when no claim is left, the answer
  abstains on the question itself rather than repeating a wrong figure in a denial. A metric the
  question defines ("DPO is defined as: …") and no supported claim states is added as a worked
  claim computed as defined from the asked filer's cited rows (`rewards.defined_formulas`), checked
  like any claim; it answers the question, so an abstention of the answer goes. Sentences that
  break a phrase rule, that only repeat themselves ("revenue revenue revenue"), or that are
  instructions (a source's "Ignore previous instructions …", `rewards.injection`) are dropped;
- judge: prefers the answer with more supported claims.

It never invents text: everything it writes is either the input answer, a verbatim source sentence,
a fixed template, or the question's own formula over cited source figures, which is what makes its
revisions safe SFT targets. A source sentence that is
an instruction is never quoted (indirect prompt injection, Greshake et al. 2023).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable
from typing import TYPE_CHECKING

from cai.core.constitution import ResolvedPrinciple, Rule
from cai.core.contracts import ClaimVerdict, PageText, SearchHit, SourcePage, Sources, Verdict
from cai.core.prompts import refusal, refusal_that
from cai.teachers.base import Judgement, TeacherCritique, TeacherText
from cai.teachers.statements import statement_kind, statements_named
from rewards.citations import with_citation
from rewards.claims import LEAD_IN_RE, degenerate, sentence_kind, shouting
from rewards.entities import extract_entities
from rewards.injection import instruction_like
from rewards.numbers import checkable, extract_quantities
from rewards.premises import CHANGE_RE, MODIFIERS, measure_tokens, occurs
from rewards.rules import contains_phrase

if TYPE_CHECKING:
    from rewards.relevance import Asked

PageLookup = Callable[[str, int], PageText | None]
_TOKEN = re.compile(r"[a-z]+|\d+(?:[.,]\d+)*%?")
_STOP = frozenset(
    "a an the of in on for to and or is was were be been are what which who whom how much many did does do "
    "its it their this that these those as at by with from than per during year years fiscal company "
    "companies report reported total".split()
)
_FIGURE_QUESTION = re.compile(
    r"\b(how (much|many)|what (was|were|is|are)|total|amount|percent|%|\$|margin|rate|ratio)\b", re.I)
MAX_DRAFT_SENTENCES = 2
_LOWERCASE_OPENERS = frozenset(
    "The A An It Its This That These Those Our We Their They Net Total Revenue Revenues Operating Diluted Cash "
    "In On At For During As By After Before Since With From Over Under Within Through Although While When If "
    "Because Approximately About Adjusted Gross Free Segment Each Both All".split())
_ANSWER_WORD = re.compile(r"^(?:yes|no)\s*[,;:.\u2014\u2013-]\s*", re.IGNORECASE)  # not "No decrease was …"
_LIST_MARKER = re.compile(r"^\s*(?:[-*•]|\d{1,2}[.)]|\([a-z0-9]{1,3}\))\s+")
_LAYOUT_MARKS = re.compile(r"^\s*(?:[#>]+\s*|[-*•▪◦●]\s+)+|\*\*|__")  # markdown / bullet marks, not words
MIN_TOPIC_OVERLAP = 0.5  # share of a claim's (IDF-weighted) words a replacement sentence must share
NAME_WEIGHT = 0.3  # weight of a word of a name the query gives (the company is found by retrieval, not here)
REPLACEMENTS_CHECKED = 6  # replacement sentences checked against the question, best-ranked first


def _stem(token: str) -> str:
    """A light stemmer, enough for "revenues"/"revenue" and "increased"/"increase" to meet."""
    if token[0].isdigit() or len(token) <= 4:
        return token
    if token.endswith("ies"):
        token = token[:-3] + "y"
    elif token.endswith(("xes", "zes", "ches", "shes", "sses")):
        token = token[:-2]
    else:
        for suffix in ("ing", "ed", "s"):
            if token.endswith(suffix) and not token.endswith("ss") and len(token) - len(suffix) >= 3:
                token = token[: -len(suffix)]
                break
    return token[:-1] if token.endswith("e") and len(token) > 4 else token


def _tokens(text: str) -> list[str]:
    return [_stem(t) for t in _TOKEN.findall(text.lower()) if t not in _STOP]


def _clean(text: str) -> str:
    return " ".join(text.split())


def _answer_sentence(text: str) -> str:
    """A source sentence as an answer writes it: without bullet, heading or emphasis marks."""
    return _clean(_LAYOUT_MARKS.sub("", text)).strip()


# A sentence opens with a capital ("Net sales …", "“Adjusted …"): one cut at a chunk or line break
# ("$569 million, and our resulting free cash flow was …") is a fragment, never a replacement.
_SENTENCE_OPENING = re.compile(r"^[\"'“‘(]?[A-Z]")
# A step that continues the equation before it ("= 0.75 or 75%"): without that equation it states a
# bare result of nothing.
_CONTINUED_STEP = re.compile(r"^\s*(?:[-*•]\s*)?=")
_VERB_FORM = re.compile(r"\b[a-z]+(?:ed|ing)\b")
_FUNCTION_WORDS = frozenset("our ours its their they them this these those which who whose all each both was were are "
                            "has had have been being not also approximately about nearly over under".split())


def _subject_measure(sentence: str) -> list[str]:
    """Measure words of a sentence's subject (its words before its first figure). Verbs
    ("generated"), change words ("increased") and pronouns say nothing about the measure;
    qualifiers ("adjusted", "diluted") do."""
    figures = [q for q in extract_quantities(sentence) if checkable(q)]
    subject = sentence[: figures[0].start] if figures else sentence
    subject = _VERB_FORM.sub(lambda m: m.group() if set(measure_tokens(m.group())) & MODIFIERS else " ",
                             subject.lower())
    return [t for t in measure_tokens(subject) if t not in _FUNCTION_WORDS and not CHANGE_RE.match(t)]


def _uses(token: str, text: str, stems: list[str]) -> bool:
    return occurs(token, text) or any(token.startswith(a) or a.startswith(token) for a in stems)


def _off_measure(sentence: str, question: str, claim: str) -> list[str]:
    """Why a replacement sentence does not state the measure asked about: measure words of its
    subject that neither the question nor the claim uses ("Segment operating income was $118.7
    million" for a question on operating income), or, when the question names a measure, a
    subject that shares none of it. Empty when it fits."""
    subject = _subject_measure(sentence)
    asked = f"{question} {claim}"
    stems = [a for a in measure_tokens(asked) if len(a) >= 4]
    extra = [t for t in subject if not _uses(t, asked.lower(), stems)]
    names = {w.lower() for e in extract_entities(question) for w in e.text.replace("'s", "").split()}
    wanted = [a for a in measure_tokens(question) if len(a) >= 4 and not any(n.startswith(a) for n in names)]
    if wanted and subject and not any(_uses(t, question.lower(), wanted) for t in subject):
        extra.append("(none of the question's measure)")
    return extra


def _measure_words(claim: str) -> str:
    """The words of a claim that say what it measures and of whom ("Net income … per diluted
    share"): its figures, change words and filler left out, so that a long claim and a short one
    find their replacement sentence alike."""
    words = re.findall(r"[A-Za-z][A-Za-z&'\-]*", claim)
    kept = [w for w in words if any(not CHANGE_RE.match(t) for t in measure_tokens(w))]
    return " ".join(kept) or claim


def _prose(text: str) -> bool:
    """A sentence, not a table row: it ends as sentences end."""
    return text.rstrip().endswith((".", "!", "?"))


class GroundedTeacher:
    name = "grounded"
    model = None

    def __init__(self, page: PageLookup, checker, constitution=None):
        self.page = page
        self.checker = checker
        self.constitution = constitution

    # ---------------------------------------------------------------------------------- helpers
    def _candidates(self, hits: list[SearchHit]) -> tuple[list[tuple[int, str, str]], dict[tuple[str, str], tuple]]:
        """(hit rank, sentence text, citation) for every page sentence inside a retrieved chunk; and
        (citation, text) -> (the run-in heading of its paragraph or None, every run-in heading of its
        page): "Contract Warehousing. Revenue increased …" makes what follows, up to the next such
        heading, about that segment (`_other_subject`)."""
        out, subjects = [], {}
        for rank, h in enumerate(hits):
            page = self.page(h.doc_id, h.page)
            if page is None:
                continue
            start, end = h.locator.char_start, h.locator.char_start + len(h.text)
            heads = [(s.char_start, m.group(1)) for s in page.sentences
                     if (m := _RUN_IN_RE.search(page.text[s.char_start : s.char_end]))]
            peers = frozenset(head for _, head in heads)
            for s in page.sentences:
                if s.char_start >= start and s.char_end <= end:
                    raw = page.text[s.char_start : s.char_end]
                    if raw.lstrip().startswith("#"):
                        continue  # a Markdown heading
                    text = _answer_sentence(raw)
                    # skip headings and running heads, and never quote an instruction
                    if (len(text.split()) >= 6 and not shouting(text) and _draftable(text)
                            and _SENTENCE_OPENING.match(text) and not instruction_like(text)):
                        out.append((rank, text, f"[{h.doc_id} p.{h.page}]"))
                        subject = next((head for at, head in reversed(heads) if at < s.char_start), None)
                        subjects[(f"[{h.doc_id} p.{h.page}]", text)] = (subject, peers)
        return out, subjects

    # ------------------------------------------------------------------------------------ draft
    async def draft(self, question: str, sources: Sources) -> TeacherText:
        """Extractive draft: the top sentences by IDF-weighted overlap with the question."""
        scored = _rank(question, self._candidates(sources.hits)[0], numbers=True)
        best = [x for x in scored if x[1] > 0][:MAX_DRAFT_SENTENCES]
        if not best:
            return TeacherText(text=refusal(question))
        picked = [best[0]] + [x for x in best[1:] if x[0] >= 0.6 * best[0][0] and x[2] != best[0][2]]
        return TeacherText(text=" ".join(with_citation(text, cite) for _, _, text, cite in picked))

    # --------------------------------------------------------------------------------- critique
    async def critique(self, question: str, sources: Sources, answer: str, rules: list[Rule]) -> TeacherCritique:
        from rewards.rules import evaluate_rules

        pages = sources.pages
        claims = self.checker.check(question, answer, pages)
        constitution = self.constitution.model_copy(update={"rules": rules})
        violations = evaluate_rules(constitution, question, answer, claims, pages)
        summary = "; ".join(f"[{v.rule_id}] {v.message or v.claim or ''}".strip() for v in violations) or None
        return TeacherCritique(violations=violations, text=summary, claims=claims)

    # ----------------------------------------------------------------------------------- revise
    async def revise(self, question: str, sources: Sources, answer: str, critique: TeacherCritique,
                     rules: list[Rule]) -> TeacherText:
        """Rebuild the answer sentence by sentence: abstentions and framing kept, filler,
        instructions and phrase-rule breakers dropped, each claim fixed from its verdict."""
        from rewards.claims import split_claims
        from rewards.relevance import addresses, read_question, verdict_on_question

        verdicts = (critique.claims if critique.claims is not None
                    else self.checker.check(question, answer, sources.pages))
        by_span = {tuple(v.span): v for v in verdicts if v.span}
        forbidden = [p for r in rules for p in (r.checks.no_forbidden_phrases or [])]
        markers = [m for r in rules for m in (r.checks.require_marker or [])]
        candidates, subjects = self._candidates(sources.hits)
        to_cite = [v for v in verdicts
                   if v.verdict == Verdict.supported and not v.citations and v.evidence is not None and v.span]
        citations = self._citations(question, to_cite, sources.pages)
        asked = read_question(question, [p.doc_id for p in sources.pages])
        parts: list[str] = []
        verdicts_denied: list[str] = []  # refusals of the draft's verdict on the question itself
        refused = dropped = False
        for sentence in split_claims(answer, keep_non_claims=True):
            text = sentence.text.strip()
            if dropped and _CONTINUED_STEP.match(text):
                continue  # the equation it continues was dropped
            verdict = by_span.get((sentence.start, sentence.end))
            answered = verdict is not None and verdict.verdict == Verdict.supported  # a bare "2019" the checker read
            if ((sentence.kind == "filler" and not answered) or sentence.degenerate or instruction_like(text)
                    or any(contains_phrase(text, p) for p in forbidden)):
                # "Yes.", courtesy lines, header rows, pasted headings, loops, injected instructions,
                # advice and speculation: removing them is the fix (`rewards.claims.sentence_kind`)
                continue
            if sentence.kind != "claim" or is_source_quote(text) or verdict is None:
                parts.append(text)  # abstentions, framing, and quotes written by an earlier round
                dropped = False
                continue
            retrended = self._retrended(question, verdict, sources.pages)
            if retrended is not None and _marked(retrended, markers) in parts:
                continue  # a second claim the same computation corrects
            fixed = retrended or self._fixed(question, verdict, (candidates, subjects), citations, sources.pages,
                                             parts)
            refused = refused or fixed is None
            dropped = fixed is None
            if fixed is not None:
                parts.append(_marked(fixed, markers))
            elif not _has_figure(verdict.text) and addresses(asked, verdict.text) and _refusable(verdict.text):
                parts.append(_refused(verdict.text))
                if verdict_on_question(question, verdict.text):
                    verdicts_denied.append(parts[-1])
            # An unsupported figure with no replacement is dropped, not denied: "The sources do not
            # state that DPO was 43.94" would teach a policy trained on it to write the wrong figure.
            # So is a sentence that does not address the question (`rewards.relevance`): a draft of
            # pasted filing text would become "The sources do not state that UNITED STATES." ×20.
        parts = _evidence_over_denial(parts, verdicts_denied, asked)
        computed = (self._defined(question, sources.pages, verdicts)
                    or self._levels(question, sources.pages, verdicts, parts))
        if computed is not None:  # it answers the question: "the filing does not say" no longer holds
            # the lead-ins left at the end introduced dropped claims, not the computation added after them
            parts = _introducing([p for p in parts if sentence_kind(p) != "abstention"]) + [computed]
        parts = _introducing(parts)
        if refused and not any(sentence_kind(p) == "claim" for p in parts):
            return TeacherText(text=refusal(question))  # abstain on the question, not on a wrong figure
        return TeacherText(text=_joined(parts) or refusal(question))

    def _defined(self, question: str, pages: list[SourcePage], verdicts: list[ClaimVerdict]) -> str | None:
        """The metric the question asks for, computed from the asked filer's rows as the question
        defines it or by its standard formula (`rewards.implied_formulas.computed_answer`), or the
        class of cash flows it asks for (`rewards.cash_activities`), when no supported claim states
        it: a computation the question prescribes, from cited figures, checked like any claim."""
        from rewards.cash_activities import activities_answer, asked_activities
        from rewards.defined_formulas import states_metric
        from rewards.implied_formulas import asked_metric, computed_answer

        compared = asked_activities(question) is not None  # the classes of cash flows: the winner's total
        if asked_metric(question) is None and not compared:
            return None  # no metric to compute: the pages are not read again
        supported = [v.text for v in verdicts if v.verdict == Verdict.supported]
        if not compared and any(states_metric(question, text) for text in supported):
            return None
        own = _own_pages(question, pages)
        sentence = activities_answer(question, own) if compared else computed_answer(question, own)
        if sentence is None:
            return None
        result = extract_quantities(_strip_citations(sentence))[0 if compared else -1]
        if any(_states(text, result) for text in supported):
            return None  # the answer states it, in other words
        return self._if_supported(question, sentence, pages)

    def _if_supported(self, question: str, sentence: str, pages: list[SourcePage]) -> str | None:
        """`sentence` when the checker supports each of its claims, else None: what the teacher adds
        is checked like any answer."""
        checked = self.checker.check(question, sentence, pages)
        return sentence if checked and all(v.verdict == Verdict.supported for v in checked) else None

    def _levels(self, question: str, pages: list[SourcePage], verdicts: list[ClaimVerdict],
                written: list[str]) -> str | None:
        """The metric a yes/no or trend question asks about ("positive working capital based on FY2022
        data?", "an improving gross margin profile?") in each year of the statement, worked from the
        asked filer's cited rows (`rewards.metric_trend.stated_levels`), when no supported claim nor
        revised sentence (`written`) states its value for the asked year and the checker supports it."""
        from rewards.implied_formulas import asked_metric
        from rewards.metric_trend import named_metric, stated_levels

        if named_metric(question) is None or asked_metric(question) is not None:
            return None  # no metric to compute, or one asked for as a figure (`_defined`)
        levels = stated_levels(question, _own_pages(question, pages))
        if levels is None:
            return None
        latest = extract_quantities(levels.latest)[-1]
        said = [v.text for v in verdicts if v.verdict == Verdict.supported] + written
        if any(_states(text, latest) for text in said):
            return None
        return self._if_supported(question, levels.text, pages)

    def _retrended(self, question: str, c: ClaimVerdict, pages: list[SourcePage]) -> str | None:
        """For a claim whose direction the metric computed from the rows contradicts ("gross margin
        is not improving"), the metric in each year, worked from the cited rows
        (`rewards.metric_trend.corrected`), when the checker supports it; else None."""
        from rewards.claims import split_claims
        from rewards.metric_trend import CONTRADICTED, corrected, trend
        from rewards.question_context import single_period

        if c.verdict == Verdict.supported or not c.reason.startswith(CONTRADICTED):
            return None
        claims = [claim for claim in split_claims(c.text) if claim.kind == "claim"]
        found = trend(claims[0], single_period(question), _own_pages(question, pages)) if len(claims) == 1 else None
        if found is None or not found.contradicted:
            return None
        sentence = corrected(found)
        return self._if_supported(question, sentence, pages)

    def _fixed(self, question: str, c: ClaimVerdict, sourced: tuple[list, dict], citations: dict[tuple, str],
               pages: list[SourcePage], written: list[str]) -> str | None:
        """A supported claim kept as written (cited); otherwise the source sentence on the same
        subject, measure and period (`_off_measure`, `_other_subject`, `_other_period`) that the
        checker supports as an answer to the question, cited; None when there is none (the caller
        refuses the claim).
        `sourced`: `_candidates`' sentences and their paragraphs' run-in headings."""
        candidates, subjects = sourced
        if c.verdict == Verdict.supported:
            if c.citations or c.evidence is None:
                return c.text.strip()
            return with_citation(c.text.strip(), citations.get(tuple(c.span), c.evidence.locator.citation()))
        ranked = _rank(_measure_words(_strip_citations(c.text)), candidates, numbers=False)
        said = {_strip_citations(w).rstrip(".") for w in written}
        claim = _strip_citations(c.text)
        fitting = [(text, cite) for _, overlap, text, cite in ranked
                   if overlap >= MIN_TOPIC_OVERLAP and _prose(text) and text.rstrip(".") not in said
                   and not _off_measure(text, question, claim) and not _other_period(text, question)
                   and not _other_subject(subjects.get((cite, text)), f"{claim} {question}")]
        for text, cite in fitting[:REPLACEMENTS_CHECKED]:
            sentence = with_citation(text, cite)
            verdicts = self.checker.check(question, sentence, pages)
            if verdicts and all(v.verdict == Verdict.supported for v in verdicts):
                return sentence
        return None

    def _citations(self, question: str, claims: list[ClaimVerdict], pages: list[SourcePage]) -> dict[tuple, str]:
        """Claim span → citation for the supported, uncited `claims`: the page that supports the
        claim on its own, so that the citation is precise in the ALCE sense (`rewards.citations`),
        not whichever page the answer-level check aligned first (often a discussion page that
        restates a figure of the statements). Among such pages: the financial statement the
        question or claim names, then the stronger support, then the better retrieval rank. The
        answer-level evidence when no single page supports the claim (figures combined across
        pages)."""
        out = {tuple(c.span): c.evidence.locator.citation() for c in claims}
        if len(pages) < 2 or not claims:
            return out
        # These claims only, one check per page: the rest of the answer would cost time and say
        # nothing here. Paragraph breaks keep the claims apart when they are split again.
        texts = [_strip_citations(c.text) for c in claims]
        joined = "\n\n".join(texts)
        per_page = [{_clean(v.text): v for v in self.checker.check(question, joined, [p])} for p in pages]
        kinds = [statement_kind(p.text) for p in pages]
        for c, text in zip(claims, texts, strict=True):
            named = statements_named(f"{question} {text}")
            best: tuple | None = None
            for rank, (page, kind, verdicts) in enumerate(zip(pages, kinds, per_page, strict=True)):
                v = verdicts.get(_clean(text))
                if v is None or v.verdict != Verdict.supported:
                    continue
                key = (kind in named, round(v.score, 2), -rank)
                if best is None or key > best[0]:
                    best = (key, f"[{page.doc_id} p.{page.page}]")
            if best is not None:
                out[tuple(c.span)] = best[1]
        return out

    # ------------------------------------------------------------------------------------ judge
    async def judge(self, question: str, sources: Sources, first: str, second: str,
                    principle: ResolvedPrinciple) -> Judgement:
        """P(first better) from the difference in claim support (a logistic in the gap)."""
        pages = sources.pages
        rate = lambda text: _support(self.checker.check(question, text, pages))  # noqa: E731
        gap = rate(first) - rate(second)
        p_first = min(0.95, max(0.05, 1.0 / (1.0 + math.exp(-6.0 * gap))))
        return Judgement(principle_id=principle.id, p_first=p_first, reasoning=f"support gap {gap:+.2f}")


def _own_pages(question: str, pages: list[SourcePage]) -> list:
    """The pages of the filings whose filer the question names, prepared for reading rows
    (`rewards.asked_company.named_filings`): a metric is computed from the asked company's
    statements only, never from a peer's page retrieval returned instead."""
    from rewards.asked_company import named_filings
    from rewards.premises import prepare_page

    return named_filings(question, [prepare_page(p) for p in pages])


def _evidence_over_denial(parts: list[str], denied: list[str], asked: Asked) -> list[str]:
    """`parts` without the refusals of the draft's verdict on the question ("Yes, Boeing has reported
    ongoing legal battles" → "The sources do not state that Boeing has reported …") when claims kept
    beside them speak of what was asked (a topic word of the question: "multiple legal actions filed
    against them"): those claims are the evidence the verdict was drawn from, and a denial next to
    them contradicts them. The verdict's words were unsupported, not shown false; with no such claim
    left the refusal stays."""
    from rewards.relevance import claim_relevance

    if not denied or not any(sentence_kind(p) == "claim" and claim_relevance(asked, p).matched for p in parts):
        return parts
    return [p for p in parts if p not in denied]


# What "The sources do not state that …" cannot take: a negation ("… that No major acquisitions" reads
# as a double negative), the answer's verdict on the question ("… that the answer to the question is
# yes"), or its own procedure ("… that we can compare the net cash …"). Such a sentence is dropped.
_UNREFUSABLE_RE = re.compile(
    r"^(?:no|none|not|nothing|neither|never)\b|^there\s+(?:is|are|was|were|has\s+been|have\s+been)\s+no\b"
    r"|\bthe\s+answer\s+(?:to\s+(?:the|this|your)\s+question\s+)?is\b|^(?:we|i|let['’]?s|let\s+us)\b",
    re.IGNORECASE)


def _refusable(claim: str) -> bool:
    """Whether an unsupported claim may be refused in words (`_refused`) rather than dropped."""
    core = LEAD_IN_RE.sub("", _LIST_MARKER.sub("", _strip_citations(claim))).lstrip()
    core = re.sub(r"^(?:therefore|thus|so|hence|in\s+summary|overall)\s*,?\s*", "", core, flags=re.IGNORECASE)
    return not _UNREFUSABLE_RE.search(core)


def _refused(claim: str) -> str:
    """An explicit refusal of an unsupported claim: "The sources do not state that …"."""
    core = _LIST_MARKER.sub("", _strip_citations(claim)).rstrip(".")  # "- FY2015: 3.1%" → "FY2015: 3.1%"
    # "Yes, Boeing has reported …", "Based on the evidence, it …": what is refused follows the answer
    # word and the attribution.
    core = _ANSWER_WORD.sub("", LEAD_IN_RE.sub("", core)) or core
    core = LEAD_IN_RE.sub("", core) or core
    first = core.split(" ", 1)[0]
    if first in _LOWERCASE_OPENERS:  # "The …" → "the …"; names such as "Halvorsen" keep their case
        core = core[:1].lower() + core[1:]
    return refusal_that(core)


# A run-in heading: a short capitalised name alone as a sentence, or ending one on its own line
# ("Port & Terminal Services." before "Revenue increased 10.1% …").
_RUN_IN_RE = re.compile(r"(?:^|\n)\s*([A-Z][\w'’-]*(?:[ \t]+(?:&|and|of|the|[A-Z][\w'’-]*)){0,5})\.\s*$")


def _other_subject(subject: tuple | None, about: str) -> bool:
    """Whether a source sentence sits under the run-in heading of another subject than the one the
    claim or question names (a segment's paragraph: "Segment operating income was $118.7 million"
    is Ocean & Air Forwarding's, not Port & Terminal Services'). `subject`: `_candidates`' (heading,
    the page's headings)."""
    if subject is None or subject[0] is None:
        return False
    lowered = about.lower()
    named = {head for head in subject[1] if head.lower() in lowered}
    return bool(named) and subject[0] not in named


def _other_period(sentence: str, question: str) -> bool:
    """Whether a replacement sentence speaks only of periods other than the ones the question asks
    about ("a charge of $1.9 million in the fourth quarter of 2019" for "the third quarter of 2018"):
    true of the sources, and no answer to the question."""
    from rewards.periods import extract_periods

    asked = [p for p in extract_periods(question) if p.year]
    said = [p for p in extract_periods(sentence) if p.year]
    return bool(asked and said) and not any(
        s.year == a.year and (s.quarter is None or a.quarter is None or s.quarter == a.quarter)
        for s in said for a in asked)


def _states(text: str, value) -> bool:
    """Whether `text` states `value` (a `Quantity`) at its rounding or finer ("1" does not state 0.68)."""
    return any(abs(q.magnitude - value.magnitude) <= value.half_unit + 0.005 * value.magnitude
               and (q.unit == "%") == (value.unit == "%") for q in extract_quantities(text))


def _draftable(text: str) -> bool:
    """A source sentence an answer may quote: a claim (not a header or unit row, running head,
    lead-in or heading) that does not loop."""
    return sentence_kind(text) == "claim" and not degenerate(text)


def _introducing(parts: list[str]) -> list[str]:
    """`parts` without the lead-ins ("… must specify:", "Here are the key points:") that end the
    answer: the claims they led into were dropped. (One lead-in before another is kept: "Here are the
    steps:" then "1) Average accounts payable:" then its figures.)"""
    end = len(parts)
    while end and _strip_citations(parts[end - 1]).rstrip().endswith(":") and sentence_kind(parts[end - 1]) != "claim":
        end -= 1
    return parts[:end]


def _joined(parts: list[str]) -> str:
    """The revised sentences as one answer. A lead-in ("Here are the key points:") keeps its line
    break: run into the next sentence, the two would be read as one claim, not the one the draft
    stated (and the revision gate would count that claim as dropped)."""
    out = ""
    for part in filter(None, parts):
        out += ("\n" if out.rstrip().endswith(":") else " " if out else "") + part
    return out


def _has_figure(text: str) -> bool:
    """A checkable figure, not a year or a page number ("2024 2023 2022" is a header)."""
    return any(checkable(q) for q in extract_quantities(text))


def _support(claims: list[ClaimVerdict]) -> float:
    return sum(c.verdict == Verdict.supported for c in claims) / len(claims) if claims else 0.0


def is_source_quote(text: str) -> bool:
    return text.lstrip().startswith('The sources state: "')


def _strip_citations(text: str) -> str:
    return re.sub(r"\s*\[[^\]]*p\.\d+[^\]]*\]", "", text).strip()


def _rank(query: str, candidates: list[tuple[int, str, str]], *, numbers: bool) -> list[tuple[float, float, str, str]]:
    """Candidate sentences by IDF-weighted share of the query's terms they contain (+ small
    bonuses for figures and retrieval rank). Words of names the query gives weigh less: a company's
    name is rare on its own pages (they say "we"), so it would otherwise pick the sentence that
    introduces the company over the one that states the measure asked about. Returns (score,
    overlap, text, citation), best first.
    `numbers=False` ignores figures in the overlap: a claim with a wrong figure must still find
    the sentence that states the right one."""
    q_terms = {t for t in _tokens(query) if numbers or not t[0].isdigit()}
    if not candidates or not q_terms:
        return []
    names = {t for e in extract_entities(query) for t in _tokens(e.text)}
    df = Counter(t for _, text, _ in candidates for t in set(_tokens(text)))
    idf = {t: math.log(1 + len(candidates) / (1 + df[t])) * (NAME_WEIGHT if t in names else 1.0) for t in q_terms}
    wants_figure = numbers and bool(_FIGURE_QUESTION.search(query))
    scored = []
    for rank, text, cite in candidates:
        overlap = sum(idf[t] for t in q_terms & set(_tokens(text))) / (sum(idf.values()) or 1.0)
        score = overlap + (0.15 if wants_figure and _has_figure(text) else 0.0) + 0.1 / (rank + 1)
        if len(text.split()) > 60:
            score *= 0.7  # long table rows read badly as answers
        scored.append((score, overlap, text, cite))
    return sorted(scored, key=lambda x: -x[0])


def _marked(text: str, markers) -> str:
    """Add the first required marker to a claim that uses a trigger phrase without one, before
    its citations: "… margins of 16% (non-GAAP) [doc p.1]."."""
    for m in markers:
        triggered = any(contains_phrase(text, t) for t in m.when_any)
        if triggered and not any(contains_phrase(text, r) for r in m.require_any):
            body = text.rstrip().rstrip(".")
            cites = re.search(r"(\s*\[[^\]]*p\.\d+[^\]]*\])+$", body)
            head, tail = (body[: cites.start()], cites.group().strip()) if cites else (body, "")
            text = f"{head} ({m.require_any[0]})" + (f" {tail}" if tail else "") + "."
    return text
