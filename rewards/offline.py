"""The `offline` checker: no model weights beyond the packaged MiniLM, no network.

For each claim of an answer (see `rewards.claims`):

1. **Premise chunking** (SummaC, Laban et al. 2022): each source page is split into sentences
   (`rag.sentences`, the same splitter that gives locators their sentence index) and grouped into
   sliding windows of up to three sentences, so a table row's label and its figures, which PDF
   extraction puts on separate lines, land in one premise.
2. **Best-chunk alignment**: windows are ranked by lexical recall of the claim's content words
   (substring match on lower-cased text, robust to PDF text that lost its spaces); for claims
   without figures the top windows are re-ranked by MiniLM cosine similarity (`rewards.embeddings`)
   and the decision is made on a blend of the two.
3. **Explicit agreement**: company names must be known to the sources or question
   (`rewards.entities`); every year the claim names must occur in the sources or question; every
   figure must equal a source figure within the stated rounding tolerance (`rewards.numbers`), in
   the right table column for the claim's period (`rewards.periods.column_periods`; a one-figure
   claim that names no period takes the one period the question names), or be derived from
   evidence figures by simple arithmetic (`rewards.arithmetic`): a financial claim is often
   computed, not copied. A bare figure (or one that only restates the question's subject) is
   computed the way its question asks, from the rows and periods it names
   (`rewards.asked_arithmetic`), a metric as the question defines it or by its standard formula
   (`rewards.defined_formulas`, `rewards.implied_formulas`); a bare years answer to a question
   comparing a row's periods is read off that row (`rewards.asked_lookup`), a bare count of line
   items off their group (`rewards.asked_count`), a row label answering which row ranks first off
   the table's column the question means (`rewards.ranked_row`). A figure of the answer's own
   working may restate an earlier claim's result, or a later one's (the answer first, then how it
   was computed).
4. **Fail closed on content**: a claim is supported only when the evidence states it, not when it
   merely shares a word or a number with the sources.
   * A sentence that loops ("Revenue revenue revenue.", `rewards.claims.degenerate`) is never
     supported.
   * A claim without figures needs at least MIN_CONTENT_WORDS distinct content words (repeats
     count once; the question's words are not borrowed), at least MIN_CONTENT_HITS of them in one
     evidence window (or in the window's document id, which names the filer), a MiniLM cosine of
     at least MIN_COSINE with that window, and the blended similarity above the threshold.
   * A claim with figures needs its measure words (its content words less units, months and
     working words such as "average"; the question's when it has none of its own) in the sources
     or the question: without them no source figure is matched or derived ("42 giraffes ate $9.1
     billion" matches nothing, however close 42 is to a 41.7 on the page); only a worked step
     ("Square root = (1.00896) ^ (1/2) = 1.00447") may still restate or combine figures the
     answer has already established. A figure matched directly must have one of the claim's
     measure words that is not a mere modifier ("net", "total", "diluted") in the source figure's
     row label or sentence, so "net income was $111,934 million" does not match the cost-of-sales
     row; a row whose label names no measure ("Best Buy 930" under a caption) does not contradict,
     and a figure that is an operand of a worked formula ("($2,667 + $2,721) / 2") is exempt, since
     its measure is the formula's. Derivations use only figures of windows that hold a measure word,
     and a ratio or rate only those whose own row label or sentence names one.
   * A claim that states a direction ("decreased from X to Y", "revenue fell in 2022 compared
     to 2021", "the margin improved") must agree with the values it compares (`rewards.direction`):
     "decreased 6.9%" quotes the right growth rate with the wrong sign. A figure-less claim whose
     direction a table row or the answer's own established values confirm is supported by them.
   * A claim giving the value its question prescribes for an absent item ("... then state 0") is
     supported when no source names the item, unsupported when one does (`rewards.fallback`); a
     superlative ("the highest net income") must hold among a segment table's groups
     (`rewards.superlatives`); a worked ratio takes its operands from the rows it is defined by, and
     a worked total agrees with the total row (`rewards.stated_totals.worked_contradiction`).
   Words are matched on lower-cased text with a light stemmer (plural, -ed, -ing, -y) and a few
   finance synonyms (revenue ~ sales, income ~ earnings ~ profit, COGS ~ cost of ...); words of
   three letters must start a word ("ate" is not in "operate").

Optionally (`verifier=PATH`, `rewards.learned_support`), a learned verifier (MiniCheck, Tang et al.
2024) re-decides the prose claims that reach step 2's alignment; the rules gate everything else.
Verdicts: `supported` (score >= 0.5) with the deciding evidence; `unsupported` (score < 0.5) with
the reason and the closest evidence, if any. `rewards.checker.FailClosed` turns faults and empty
sources into `unverified`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from cai.core.contracts import ClaimVerdict, Evidence, SourcePage, Verdict
from rewards import direction, metric_trend
from rewards.agreement import Known, disagreement, of_asked_period
from rewards.answer_sentence import outranked, repeats_question
from rewards.arithmetic import (
    RATE_DIFFERENCE_RE,
    WORKED_RE,
    Derivation,
    Tolerances,
    compound_years,
    derive_figure,
    equalities,
    is_amount,
    is_level,
    states_change,
)
from rewards.asked_arithmetic import asked_derivation, stated_direction
from rewards.asked_company import foreign_filings
from rewards.asked_count import asked_count
from rewards.asked_lookup import asked_lookup, restates_question
from rewards.claims import Claim, is_header_row, lone_number, split_claims, without_lead_in
from rewards.defined_formulas import defined_derivation, defined_for, not_as_defined
from rewards.embeddings import MIN_CONTENT_HITS, MIN_COSINE, blend, prose_cosines
from rewards.extracted_span import TOO_LITTLE, span_or_claims
from rewards.fallback import states_fallback
from rewards.implied_formulas import change_contradiction, implied_derivation
from rewards.learned_support import DEFAULT_THRESHOLD, LearnedSupport, ProseClaim
from rewards.named_ratios import column_ratio, named_ratio, ratio_derivation
from rewards.numbers import ARITHMETIC_CONSTANTS, Quantity, agreeing, extract_quantities
from rewards.premises import (
    AVERAGE_RE,
    CHANGE_RE,
    COMBINES_RE,
    MODIFIERS,
    TOTAL_RE,
    PreparedPage,
    Window,
    aligned_figures,
    as_operator,
    content_hits,
    content_tokens,
    measure_tokens,
    occurs,
    prepare_page,
    restates,
    row_evidence,
    window_evidence,
    window_figures,
)
from rewards.question_context import (
    AVERAGE_WORD_RE,
    AnswerContext,
    FigureMatch,
    added_deduction,
    claim_tokens,
    claimed_period,
    direct_match,
    evidence_pages,
    formula_results,
    outflow_signs,
    overstated,
    own_results,
    single_period,
    states_as_written,
    worked_tolerances,
)
from rewards.ranked_row import ranked_row
from rewards.stated_totals import component_row, component_rows, plain_revenue, worked_contradiction
from rewards.superlatives import outranked_peer, outranked_value

ALIGNED_WINDOWS = 4  # best-aligned premises whose figures are operands for derived numbers
RERANK_TOP_K = 4  # windows re-ranked with MiniLM for claims without figures
MIN_CONTENT_WORDS = 2  # distinct content words a claim without figures must have to be checkable
LEXICAL_ONLY_RECALL = 0.75  # recall (with MIN_CONTENT_HITS + 1 words) at which MiniLM is not needed
_UNMATCHED = "figure not in sources nor derivable"
class OfflineChecker:
    """Lexical + MiniLM alignment with explicit number / period / entity agreement."""

    name = "offline"

    def __init__(self, *, rel_tolerance: float = 0.001, derived_rel_tolerance: float = 0.002,
                 support_threshold: float = 0.25, use_embeddings: bool = True, verifier: str | None = None,
                 verifier_threshold: float | None = DEFAULT_THRESHOLD, verifier_veto: float | None = None):
        # Optional learned verifier for prose claims (`rewards.learned_support`); UserError if it cannot load.
        self.learned = (LearnedSupport(verifier, threshold=verifier_threshold, veto_threshold=verifier_veto)
                        if verifier else None)
        self.rel_tolerance = rel_tolerance
        self.derived_rel_tolerance = derived_rel_tolerance
        self.support_threshold = support_threshold
        self.use_embeddings = use_embeddings
        self._embedding_cache: dict[str, np.ndarray] = {}

    def check(self, question: str | None, answer: str, sources: Sequence[SourcePage]) -> list[ClaimVerdict]:
        pages = [prepare_page(s) for s in sources]
        looked_up = (asked_lookup(question, answer, pages) or asked_count(question, answer, pages)
                     or ranked_row(question, answer, pages)
                     or restates_question(question, answer)) if question else None
        if looked_up is not None:
            return [looked_up.model_copy(update={"checker": self.name})]
        question_figures = np.array([q.magnitude for q in extract_quantities(question or "")], dtype=np.float64)
        foreign = foreign_filings(question or "", pages, answer)
        # Names, years and dates come from the asked company's filings, not a peer's ("December 31").
        own = [source for source, page in zip(sources, pages, strict=True) if id(page) not in foreign]
        context = AnswerContext(pages, Known.build(question, answer, own or sources), question_figures,
                                question or "", question_heads=direction.measure_heads(question or "", pages),
                                question_period=single_period(question or ""), bare=not measure_tokens(answer),
                                foreign=foreign)
        verdicts: list[ClaimVerdict | None] = []
        prose: list[tuple[int, Claim, list]] = []
        aligned_only: list[ProseClaim] = []  # prose claims decided by lexical recall alone
        unmatched: list[tuple[int, Claim, list]] = []  # claims with a figure not found (yet): read again
        for claim in split_claims(answer, keep_non_claims=True):
            header = claim.kind == "filler" and is_header_row(claim.text)
            if claim.kind in ("framing", "abstention") or header:
                # Not judged for support, but a restatement, what the sources are said to lack, and the
                # years of a copied table header must name the right company and period.
                reason = disagreement(claim, context.known, framing=not header, names_only=claim.kind == "abstention")
                if reason is not None:
                    verdicts.append(self._verdict(claim, Verdict.unsupported, 0.1, [], reason))
                continue
            if claim.kind != "claim":
                continue
            if claim.degenerate:
                verdicts.append(self._verdict(claim, Verdict.unsupported, 0.0, [],
                                              "degenerate: the sentence repeats itself"))
                continue
            ranked = self._rank_windows(claim, context)
            absent = states_fallback(claim.plain, context.question, pages)  # evidence: the closest window
            rival = None if absent else outranked_peer(claim.plain, claim.heading, context.question, pages)
            absent = (False, rival) if rival is not None else absent
            if absent is not None and absent[0]:
                # An absence holds only of the filer and period the question asks about.
                wrong = disagreement(claim, context.known) or direction.reversed_number(claim, context.pages)
                absent = (False, wrong) if wrong is not None else absent
            if absent is not None and ranked:
                verdicts.append(self._verdict(claim, *((Verdict.supported, 0.9) if absent[0] else
                                                       (Verdict.unsupported, 0.1)), ranked, absent[1]))
                continue
            verdict = self._check_explicit(claim, context, ranked)
            ranked = of_asked_period(claim.plain, context.known.asked_years, ranked) if verdict is None else ranked
            if verdict is None and direction.stated_direction(claim.plain, ()) is not None:
                unmatched.append((len(verdicts), claim, ranked))  # "no change": the values may come later
            if verdict is None and ranked and ranked[0][0] >= LEXICAL_ONLY_RECALL:
                # Most of the claim's words are in one window: if they are enough words, lexical
                # recall alone decides (cosine >= 0 for related text) and MiniLM need not run.
                verdict = self._check_prose(claim, ranked[:1], np.array([ranked[0][0]]), lexical_only=True)
                if verdict is not None:
                    aligned_only.append(ProseClaim(len(verdicts), claim, ranked[:RERANK_TOP_K]))
            if verdict is None:
                prose.append((len(verdicts), claim, ranked[:RERANK_TOP_K]))
            elif verdict.reason.startswith(_UNMATCHED):
                unmatched.append((len(verdicts), claim, ranked))
            verdicts.append(verdict)
        context.derive_from_verified = False  # a result stated before its working: read once more
        for index, claim, ranked in unmatched:
            verdicts[index] = self._check_explicit(claim, context, ranked) or verdicts[index]
        prose = [item for item in prose if verdicts[item[0]] is None]
        # Claims without figures are decided together: one batched MiniLM call per answer.
        established = " ".join(v.text for v in verdicts if v is not None and v.verdict == Verdict.supported).lower()
        if context.verified:
            # A conclusion in the question's and the answer's established words is framing.
            concluding = [i for i, (_, claim, _) in enumerate(prose)
                          if restates(claim.plain, context.question.lower(), established, MIN_CONTENT_WORDS)]
            for i in concluding:
                verdicts[prose[i][0]] = None
            prose = [item for i, item in enumerate(prose) if i not in set(concluding)]
        for (index, claim, top), cosines in zip(prose, self._cosines(prose), strict=True):
            verdicts[index] = self._check_prose(claim, top, cosines)
        if self.learned is not None:  # prose only: the rules' verdicts on figures are never revised
            self.learned.revise(verdicts, aligned_only + [ProseClaim(i, claim, top) for i, claim, top in prose])
        # A bare name, date or phrase is no claim: it is judged by the sentence it is lifted from.
        return span_or_claims([v for v in verdicts if v is not None], question, answer, pages, self.name)

    def _check_explicit(self, claim: Claim, context: AnswerContext, ranked) -> ClaimVerdict | None:
        """Name, period and figure agreement; None for a claim without figures that passes the
        name and period checks and has enough content words (decided by alignment similarity)."""
        own = [page for page in context.pages if id(page) not in context.foreign]
        reason = (disagreement(claim, context.known) or direction.reversed_number(claim, context.pages)
                  or metric_trend.fluctuation_contradiction(claim, context.question, own)
                  or lone_number(claim.plain, context.bare))
        if reason is not None:
            return self._verdict(claim, Verdict.unsupported, 0.1, ranked, reason)
        if claim.quantities:
            return self._check_figures(claim, context, ranked)
        change = direction.period_change(claim, direction.measure_heads(claim.plain, context.pages), [context.levels],
                                         context.pages)
        if change is not None and change.moved is not None and (change.evidence is not None or not change.agrees):
            return self._direction_verdict(claim, change, ranked)
        if (reason := metric_trend.contradiction(claim, context.question_period, own)
                or change_contradiction(claim.plain, context.question, own)) is not None:
            return self._verdict(claim, Verdict.unsupported, 0.1, ranked, reason)
        words = content_tokens(without_lead_in(claim.plain))
        if len(words) < MIN_CONTENT_WORDS:
            return self._verdict(claim, Verdict.unsupported, 0.0, ranked,
                                 f"{TOO_LITTLE}: {len(words)} distinct content word(s)")
        return None

    # -- alignment ---------------------------------------------------------------------------

    def _rank_windows(self, claim: Claim, context: AnswerContext) -> list[tuple[float, PreparedPage, Window]]:
        """All windows with their lexical recall of the claim's content words, best first."""
        tokens = claim_tokens(claim, context)
        scored = []
        for page in evidence_pages(claim, context):
            if not tokens:
                scored += [(0.0, page, window) for window in page.windows]
                continue
            recall = page.window_hits(tokens).sum(axis=1) / len(tokens)
            scored += [(float(r), page, window) for r, window in zip(recall, page.windows, strict=True)]
        scored.sort(key=lambda item: -item[0])
        return scored

    def _cosines(self, prose: list[tuple[int, Claim, list]]) -> list[np.ndarray]:
        """MiniLM cosine of each prose claim with each of its top windows (zeros when off)."""
        if not self.use_embeddings or not prose:
            return [np.zeros(len(top)) for _, _, top in prose]
        return prose_cosines(prose, self._embedding_cache)

    def _check_prose(self, claim: Claim, top: list, cosines: np.ndarray, *,
                     lexical_only: bool = False) -> ClaimVerdict | None:
        """A claim without figures: blend of lexical recall and MiniLM cosine on the top windows,
        counting only windows that hold MIN_CONTENT_HITS of the claim's distinct content words
        and (with embeddings) reach MIN_COSINE. With `lexical_only` (cosine not computed), None
        unless the top window holds more than MIN_CONTENT_HITS words."""
        if not top:
            return self._verdict(claim, Verdict.unsupported, 0.0, top, "no source text aligned")
        words = content_tokens(without_lead_in(claim.plain))
        hits = [content_hits(words, page, window) for _, page, window in top]
        if lexical_only:
            if hits[0] <= MIN_CONTENT_HITS:
                return None
            cosines = np.ones(len(top))  # only the lexical part of the blend is known
        weight = 0.5 if self.use_embeddings and not lexical_only else 0.0
        min_cosine = MIN_COSINE if self.use_embeddings and not lexical_only else -1.0
        supported, score, ranked, reason = blend(top, cosines, hits, weight, self.support_threshold, min_cosine)
        return self._verdict(claim, Verdict.supported if supported else Verdict.unsupported, score, ranked, reason)

    # -- figures -----------------------------------------------------------------------------

    def _check_figures(self, claim: Claim, context: AnswerContext, ranked) -> ClaimVerdict:
        own_measure = measure_tokens(claim.plain)
        measure = own_measure or measure_tokens(context.question)
        lowered_question = context.question.lower()
        grounded = not measure or any(
            occurs(t, text) for t in measure for text in [lowered_question] + [page.lowered for page in context.pages]
        )
        if not grounded and not WORKED_RE.search(claim.plain):
            # Nothing the claim is about is in the sources or the question: no figure of it can be
            # matched or derived, however close it is to some number on the page.
            return self._verdict(claim, Verdict.unsupported, 0.0, ranked,
                                 f"what the figures measure is not in the sources: {', '.join(measure[:6])}")
        worked = equalities(claim.plain)
        wrong = [e for e in worked if not e.computes]
        if wrong:
            # The answer's own arithmetic does not hold: whatever figures it quotes, the claim
            # states a wrong result.
            return self._verdict(claim, Verdict.unsupported, 0.1, ranked,
                                 f"worked formula does not compute: {wrong[0].result.text}"
                                 f" (the terms give {wrong[0].value:g})")
        if grounded:
            matches = [direct_match(q, claim, context, own_measure, self.rel_tolerance)
                       or self._restated_in_place(q, claim, context, measure) for q in claim.quantities]
            if (len(matches) == 1 and matches[0] is not None and not states_as_written(matches[0], context.pages)
                    and self._prescribed(matches[0].quantity, claim, context, own_measure, True)[:2] == (None, True)):
                matches[0] = None  # its own result or a page figure it rounds, where the question prescribes another
            # A ratio's operands are figures whose rows name the measure; a sum's may be any of the
            # evidence ("400 / 1,600" is 25%, but 1,600 is net income, not a tax figure).
            labelled = aligned_figures(claim_tokens(claim, context), context.pages)
            windowed = window_figures(ranked[:ALIGNED_WINDOWS], measure)
            aligned_operands = labelled + [(value, key, doc) for value, key, _, doc in windowed]
            named_operands = labelled + [(value, key, doc) for value, key, named, doc in windowed if named]
            if plain_revenue(claim.plain) and (parts := component_rows(context.pages)):
                # Plain revenue is the total line: a component line's figures are no operands of it.
                aligned_operands, named_operands = ([(value, key, doc) for value, key, doc in operands
                                                     if key is None or (key[0], key[1], key[3]) not in parts]
                                                    for operands in (aligned_operands, named_operands))
        else:
            # A worked step on figures the answer has established ("Square root = (1.00896) ^ (1/2)
            # = 1.00447"): only those figures, restated or combined, can support it.
            matches = [self._restated(q, context) for q in claim.quantities]
            aligned_operands = named_operands = []
        self._derive_unmatched(claim, context, matches, aligned_operands, named_operands, grounded, own_measure,
                               measure)
        formula_results(claim, matches, worked)
        wrong = (worked_contradiction(claim.plain, context.question, worked, matches, context.pages,
                                      heading=claim.heading)
                 or not_as_defined(claim.plain, own_results(claim, matches), context.question, context.bare,
                                   evidence_pages(claim, context), worked_tolerances(matches, self._tolerances),
                                   context.established))
        if wrong is not None:
            return self._verdict(claim, Verdict.unsupported, 0.1, ranked, wrong)
        return self._figures_verdict(claim, context, matches, measure, ranked)

    def _derive_unmatched(self, claim: Claim, context: AnswerContext, matches: list[FigureMatch | None],
                          aligned_operands: list, named_operands: list, grounded: bool, own_measure: list[str],
                          measure: list[str]) -> None:
        """Fill in `matches` (in place) for the claim's figures not matched directly: stated in the
        question, computed as prescribed (`_prescribed`), or derived from the claim's own figures,
        the answer's established ones and the evidence's aligned figures (`_derive`, `column_ratio`)."""
        # Every figure found in a source is an operand, even one found in another period's column:
        # "($2,667 + $2,721) / 2" averages two columns.
        claim_operands = [m.quantity.magnitude for m in matches if m is not None]
        compound = compound_years(claim.plain, context.question)
        operator = as_operator(claim.plain, context.pages)  # "the average total VaR" names a row
        combines, averages = bool(COMBINES_RE.search(operator)), bool(AVERAGE_RE.search(operator))
        growth = compound or any(CHANGE_RE.search(text) for text in (claim.plain, context.question))
        # Source signs of the figures matched so far: derived matches below have none to add.
        signs = outflow_signs(matches, dict(context.signs))
        # Two passes: a figure derived late in the claim is an operand of one before it ("100% - 46.2%
        # = 53.8%": the 53.8% is a share of two rows, and 46.2% is 100% less it). The second builds
        # only on figures found or computed from the sources, never on the claim's own arithmetic: "a
        # - b = c" does not derive b from c after deriving c from b.
        found_first, sourced = list(claim_operands), []
        for second in (False, True):
            if second:  # and the constants of the working ("100% - 46.2%")
                claim_operands = found_first + sourced + [v for v in claim_operands if v in ARITHMETIC_CONSTANTS]
            derived_before = len(claim_operands)
            for i, q in enumerate(claim.quantities):
                # A figure the question itself states ("more than 20% of revenue") restates the question.
                if matches[i] is None and agreeing(q, context.question_magnitudes, self.rel_tolerance):
                    matches[i] = FigureMatch(q, derivation=Derivation("stated in the question", (), q.magnitude))
                    claim_operands.append(q.magnitude)
                    sourced.append(q.magnitude)
                if matches[i] is not None and matches[i].contradicted:
                    continue  # the row states this period's value, and it is another: nothing to derive
                if matches[i] is None or matches[i].period_mismatch:
                    # A figure is never derived from itself (its own period-mismatched match).
                    own = matches[i].quantity.magnitude if matches[i] is not None else None
                    operands = [v for v in claim_operands if v != own]
                    earlier = [v for v in dict.fromkeys(context.verified) if v not in operands and v != own
                               and context.derive_from_verified
                               and not (v in context.components and plain_revenue(claim.plain))]
                    asked, computed, own_only = self._prescribed(q, claim, context, own_measure, grounded)
                    derived = FigureMatch(q, derivation=asked) if asked is not None else None
                    from_sources = asked is not None
                    if not computed:
                        additive = combines and (not is_level(q, claim.plain) or bool(TOTAL_RE.search(operator)))
                        page_operands = [] if own_only else aligned_operands if is_amount(q) else named_operands
                        # The evidence's figures first, then the answer's own (`derive_figure`'s order).
                        how = dict(compound=compound, combines=additive, growth=growth, averages=averages, signs=signs,
                                   claim_text=claim.plain,
                                   rising=stated_direction(q, context.question, context.bare))
                        tol = self._tolerances(q)
                        found = derive_figure(q, [], page_operands, tol, **how)
                        from_sources = found is not None
                        found = found or derive_figure(q, operands + earlier, [], tol, **how)
                        derived = FigureMatch(q, derivation=found) if found is not None else None
                    if derived is None and grounded and not computed:
                        found = column_ratio(q, claim.quantities, claim.periods, claim.plain, context.question,
                                             context.pages, measure, self._tolerances(q))
                        derived = FigureMatch(q, derivation=found) if found is not None else None
                        from_sources = found is not None
                    if derived is not None:
                        matches[i] = derived
                        claim_operands.append(q.magnitude)
                        if from_sources:
                            sourced.append(q.magnitude)
            if all(m is not None for m in matches) or len(claim_operands) == derived_before:
                break

    def _prescribed(self, q: Quantity, claim: Claim, context: AnswerContext, own_measure: list[str],
                    grounded: bool) -> tuple[Derivation | None, bool, bool]:
        """(the derivation of `q` in the one way it must be computed, or None; whether that way could
        be computed at all; whether only the answer's own figures may derive it): a metric as its
        question defines it (`rewards.defined_formulas`), a bare answer as its question asks
        (`rewards.asked_arithmetic`), or a ratio the claim names as it is defined
        (`rewards.named_ratios`: "asset turnover", never any two figures). When it could be computed,
        nothing else stands in for it; when its rows are not on the pages, only the answer's working can."""
        pages, tolerances = evidence_pages(claim, context), self._tolerances(q)
        definition = defined_for(q, claim.plain, context.question, context.bare)
        if definition is not None:
            derivation, computed, _ = defined_derivation(q, definition, context.question, pages, tolerances,
                                                         context.established)
            if computed:
                return derivation, True, False
        if implied := implied_derivation(q, claim.plain, context.question, pages, tolerances, context.bare):
            return implied, True, False  # the standard formula of the metric the question names
        if level := metric_trend.level_derivation(q, claim, context.question, context.question_period, pages,
                                                    tolerances):
            return level, True, False  # the textbook definition of the metric the claim names
        # A one-figure claim that only restates what its question asks ("The FY2020 free cash flow for
        # General Mills is $3,215.4 million") is computed as the question says, as a bare figure is.
        if grounded and len(claim.quantities) == 1 and set(own_measure) <= set(measure_tokens(context.question)):
            asked, computed = asked_derivation(q, context.question, pages, tolerances)
            if asked is not None or computed:
                return asked, computed, False
        # The ratio itself, not its change ("increased by 2.7 percentage points") nor the difference of
        # two of its values: a level only.
        if q.unit == "$" or states_change(q, claim.plain) or RATE_DIFFERENCE_RE.search(claim.plain):
            return None, False, False
        ratio = named_ratio(claim.plain, context.question, not own_measure)
        if ratio is None:
            return None, False, False
        # In a worked formula the other figures are its working (a sum of three years' margins); an
        # average of the ratio over several periods is the ratio of none of them. A line item's margin
        # has one definition (the line over revenue): a step stating only its result ("= 15.4%") is it.
        derivation, computed = ratio_derivation(q, ratio, pages, tolerances, claimed_period(q, claim, context))
        working = bool(WORKED_RE.search(claim.plain)) and not (ratio.across_statements and len(claim.quantities) == 1)
        return derivation, computed and not (working or AVERAGE_WORD_RE.search(claim.plain)), not computed

    def _figures_verdict(self, claim: Claim, context: AnswerContext, matches: list[FigureMatch | None],
                         measure: list[str], ranked) -> ClaimVerdict:
        """The verdict once each figure of the claim is matched, derived or not: unsupported for a
        figure left unmatched or found only in another period's column, or for a direction its
        values contradict; else supported, and its figures and levels are recorded in `context` as
        established for the claims after it."""
        unmatched = [q.text for q, m in zip(claim.quantities, matches, strict=True) if m is None]
        shifted = [m.quantity.text for m in matches if m is not None and m.period_mismatch]
        found = sum(1 for m in matches if m is not None and not m.period_mismatch)
        if unmatched or shifted:
            reason = "; ".join(filter(None, [
                f"{_UNMATCHED}: {', '.join(unmatched)}" if unmatched else "",
                f"figure belongs to another period in the source: {', '.join(shifted)}" if shifted else "",
            ]))
            return self._verdict(claim, Verdict.unsupported, 0.4 * found / len(matches), ranked, reason)
        rival = (self._not_the_asked_figure(claim, context, matches) or overstated(claim, matches)
                 or added_deduction(claim, matches) or outranked_value(claim.plain, context.question, matches))
        if rival is not None:
            return self._verdict(claim, Verdict.unsupported, 0.2, ranked, rival)
        heads, sourced = direction.measure_heads(claim.plain, context.pages), [m.sourced for m in matches]
        own = direction.source_levels(claim, sourced, heads)
        change = (direction.pair_change(claim)
                  or direction.period_change(claim, heads, [own, context.levels], context.pages))
        if change is not None and change.moved is not None and not change.agrees:
            return self._direction_verdict(claim, change, ranked)
        context.verified.extend(m.value for m in matches)
        context.components.update(m.value for m in matches if component_row(m) is not None)
        context.stated.update(m.value for m in matches if m.source_quantity is not None and m.derivation is None)
        outflow_signs(matches, context.signs)
        context.verified_measures.extend(frozenset(measure) for _ in claim.quantities)
        evidence = self._figure_evidence(matches, ranked)
        context.levels.extend(direction.claim_levels(claim, sourced, heads or context.question_heads, evidence))
        lexical = ranked[0][0] if ranked else 0.0
        return ClaimVerdict(
            text=claim.text, verdict=Verdict.supported, score=round(0.75 + 0.25 * lexical, 4),
            evidence=evidence, span=(claim.start, claim.end),
            citations=claim.citations, checker=self.name, reason="; ".join(m.describe() for m in matches),
        )

    def _not_the_asked_figure(self, claim: Claim, context: AnswerContext,
                              matches: list[FigureMatch]) -> str | None:
        """Why a bare one-figure answer is not the figure its question asks for
        (`rewards.answer_sentence`), or None. A date ("27 May 2019") is not a figure to rank."""
        if not context.bare or len(matches) != 1 or claim.periods:
            return None
        if repeats_question(matches[0].quantity, context.question):
            return f"the answer repeats a figure of the question: {matches[0].quantity.text.strip()}"
        rival = outranked(matches[0], context, self.rel_tolerance)
        return None if rival is None else f"another figure of the sources answers the question: {rival}"

    def _direction_verdict(self, claim: Claim, change: direction.Change, ranked) -> ClaimVerdict:
        """A stated direction checked against the two values it compares (`rewards.direction`):
        contradicted, unsupported; confirmed (a claim without figures), supported by the newer value."""
        if not change.agrees:
            return self._verdict(claim, Verdict.unsupported, 0.1, ranked,
                                 f"direction contradicts the figures: {change.describe()}")
        return ClaimVerdict(
            text=claim.text, verdict=Verdict.supported, score=0.75, evidence=change.evidence,
            span=(claim.start, claim.end), citations=claim.citations, checker=self.name,
            reason=f"direction agrees with the figures: {change.old_label} → {change.new_label}",
        )

    def _restated(self, q: Quantity, context: AnswerContext) -> FigureMatch | None:
        """`q` restates a figure an earlier claim of the answer established."""
        earlier = np.array(list(dict.fromkeys(context.verified)), dtype=np.float64)
        if agreeing(q, earlier, self.rel_tolerance):
            return FigureMatch(q, derivation=Derivation("stated earlier in the answer", (), q.magnitude))
        return None

    def _restated_in_place(self, q: Quantity, claim: Claim, context: AnswerContext,
                           measure: list[str]) -> FigureMatch | None:
        """`q` repeats a figure an earlier claim of the answer established for the same measure
        (a result restated in the conclusion: "the 3-year average margin is 2.8%"), or is the
        reference of a comparison ("greater than $13,321.6 million")."""
        if not context.verified:
            return None
        reference = bool(_COMPARISON_BEFORE_RE.search(claim.plain[: q.start]))
        heads = {t for t in measure if t not in MODIFIERS}
        for value, measured in zip(context.verified, context.verified_measures, strict=True):
            if not agreeing(q, np.array([value]), self.rel_tolerance):
                continue
            if reference or not heads or heads & measured:
                return FigureMatch(q, derivation=Derivation("stated earlier in the answer", (), value))
        return None

    def _tolerances(self, q: Quantity) -> Tolerances:
        return Tolerances(
            additive=q.half_unit + 1e-4 * q.magnitude,
            # An answer that computes a ratio from rounded inputs is off by its own rounding plus
            # the propagated rounding of the inputs.
            multiplicative=q.half_unit + self.derived_rel_tolerance * q.magnitude,
        )

    # -- verdicts and evidence ----------------------------------------------------------------

    def _figure_evidence(self, matches: list[FigureMatch], ranked) -> Evidence | None:
        for m in matches:
            if m.page is not None and m.source_quantity is not None:
                return row_evidence(m.page, m.source_quantity)
        if ranked:
            _, page, window = ranked[0]
            return window_evidence(page, window)
        return None

    def _verdict(self, claim: Claim, verdict: Verdict, score: float, ranked, reason: str) -> ClaimVerdict:
        evidence = window_evidence(ranked[0][1], ranked[0][2]) if ranked else None
        return ClaimVerdict(
            text=claim.text, verdict=verdict, score=round(min(max(score, 0.0), 1.0), 4),
            evidence=evidence, span=(claim.start, claim.end), citations=claim.citations,
            checker=self.name, reason=reason,
        )


# A figure right after a comparison names the yardstick, not a new fact ("exceeds the $13.3 billion
# threshold", "greater than 20%").
_COMPARISON_BEFORE_RE = re.compile(
    r"\b(?:(?:greater|more|less|higher|lower|larger|smaller|fewer|other)\s+than|exceed(?:s|ed|ing)?|above|below|under|"
    r"compared\s+(?:to|with)|versus|vs\.?)\s+(?:the\s+|a\s+|an\s+)?(?:threshold\s+of\s+)?[$(]*\s*$",
    re.IGNORECASE,
)
