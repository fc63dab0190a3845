"""The `nli` checker: a Hugging Face NLI / factual-consistency model decides each claim.

Method (SummaC-ZS, Laban et al. 2022, "SummaC: Re-Visiting NLI-based Models for Inconsistency
Detection in Summarization", §3.1): an NLI model trained on sentence pairs degrades on whole-page
premises, so each source page is cut into **premise chunks** of `window` consecutive sentences
(`rag.sentences`, the splitter that gives locators their sentence index; stride one sentence), every
(chunk, claim) pair is scored, and a claim's support is the **maximum entailment probability over
chunks**. The chunk that decides is the evidence: its char span in the page is the locator and its
text, sliced verbatim from the page, is the quote (`FailClosed` re-checks this).

Verdicts, per claim (`claim.plain`, i.e. without inline citations, is the hypothesis):
* `supported` when max P(entailment) >= `threshold` (score = that probability);
* `unsupported` otherwise: when a chunk's P(contradiction) exceeds the best P(entailment) the
  contradicting chunk is the evidence ("contradicted"), else the best-entailing chunk is ("low
  entailment"); score = max P(entailment).

Labels are read from the model's `config.id2label` by name (entailment / contradiction / neutral
and their synonyms in factual-consistency models); a model whose labels name no entailment class
is refused with a clear error, never guessed. Pairs are scored in batches on the GPU when present.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cai.core.contracts import ClaimVerdict, Evidence, Locator, SourcePage, Verdict
from rag.sentences import sentence_spans
from rewards.claims import split_claims

# A strong public MNLI/FEVER/ANLI model; must be in the local HF cache when offline.
DEFAULT_NLI_MODEL = "MoritzLaurer/DeBERTa-v3-base-mnli-fever-anli"
# Label names, normalised (lower case, letters only). Negatives are matched first because
# "notentailment" contains "entailment".
_NOT_ENTAIL = {"notentailment", "nonentailment", "notentailed"}
_ENTAIL = {"entailment", "entails", "entailed", "entail", "consistent", "supported", "supports", "factual"}
_CONTRA = {"contradiction", "contradicts", "contradict", "contradictory", "inconsistent", "refuted", "refutes"}
_NEUTRAL = {"neutral", "notenoughinfo", "nei"}


class NLILabelError(ValueError):
    """The model's `id2label` names no entailment class (or names one twice)."""


@dataclass(frozen=True)
class LabelRoles:
    """Indices of the model's output classes by role (`contradiction`/`neutral` may be absent)."""

    entailment: int
    contradiction: int | None = None
    neutral: int | None = None


def label_roles(id2label: dict, model_name: str = "model") -> LabelRoles:
    """Find the entailment / contradiction / neutral classes by name in `config.id2label`."""
    found: dict[str, list[int]] = {"entailment": [], "contradiction": [], "neutral": []}
    for idx, label in id2label.items():
        name = re.sub(r"[^a-z]", "", str(label).lower())
        if name in _NOT_ENTAIL:
            continue  # binary RTE-style models: the complement class carries no role of its own
        role = ("entailment" if name in _ENTAIL else "contradiction" if name in _CONTRA
                else "neutral" if name in _NEUTRAL else None)
        if role:
            found[role].append(int(idx))
    if not found["entailment"]:
        raise NLILabelError(
            f"{model_name}: config.id2label {dict(id2label)} names no entailment label "
            f"(expected one of {sorted(_ENTAIL)}); set id2label in the model's config.json"
        )
    for role, ids in found.items():
        if len(ids) > 1:
            raise NLILabelError(f"{model_name}: config.id2label {dict(id2label)} has {len(ids)} '{role}' labels")
    return LabelRoles(**{role: ids[0] if ids else None for role, ids in found.items()})


@dataclass(frozen=True)
class Premise:
    """A premise chunk: `window` whole sentences of one page, sliced verbatim from its text."""

    source: int  # index into the sources list
    sentence: int  # index (within the page) of the chunk's first sentence
    char_start: int
    char_end: int
    text: str


def premise_chunks(sources: Sequence[SourcePage], window: int = 2, max_chars: int = 600) -> list[Premise]:
    """Sliding windows of up to `window` sentences (stride 1) over each page, capped at
    `max_chars` (a window that would pass the cap stops early; one sentence is always kept)."""
    chunks: list[Premise] = []
    for si, source in enumerate(sources):
        spans = sentence_spans(source.text)
        for i, (start, _) in enumerate(spans):
            end = spans[i][1]
            for _, next_end in spans[i + 1 : i + window]:
                if next_end - start > max_chars:
                    break
                end = next_end
            chunks.append(Premise(si, i, start, end, source.text[start:end]))
            if end == spans[-1][1]:
                break  # this window reaches the page's end: later windows would be its suffixes
    return chunks


_WORD_RE = re.compile(r"[a-z0-9][a-z0-9.,%$]*")


def _overlap(claim: str, text: str) -> float:
    """Share of the claim's words (3+ chars, or any with a digit) found in `text` (substring test:
    robust to PDF text that lost its spaces)."""
    words = {w.strip(".,") for w in _WORD_RE.findall(claim.lower())}
    words = {w for w in words if len(w) >= 3 or any(ch.isdigit() for ch in w)}
    if not words:
        return 0.0
    low = text.lower()
    return sum(w in low for w in words) / len(words)


class NLIChecker:
    """A `Checker` backed by a sequence-classification NLI model.

    `model`: HF id or local path. `threshold`: P(entailment) needed for `supported`. `window`:
    sentences per premise chunk. `top_k`: chunks per claim scored by the model after a lexical
    pre-ranking (None = all; cost is claims x chunks forward passes). `device`: default CUDA when
    available, else CPU.
    """

    name = "nli"

    def __init__(self, model: str | Path = DEFAULT_NLI_MODEL, *, threshold: float = 0.5, window: int = 2,
                 top_k: int | None = 32, batch_size: int = 16, max_length: int = 512, device: str | None = None):
        import torch
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        self.model_name = str(model)
        self.threshold = threshold
        self.window = window
        self.top_k = top_k
        self.batch_size = batch_size
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.tokenizer = AutoTokenizer.from_pretrained(model)
        self.model = AutoModelForSequenceClassification.from_pretrained(model).to(self.device).eval()
        self.roles = label_roles(self.model.config.id2label, self.model_name)
        self.max_length = min(max_length, getattr(self.tokenizer, "model_max_length", max_length) or max_length)

    def probabilities(self, premises: Sequence[str], hypotheses: Sequence[str]):
        """Class probabilities of each (premise, hypothesis) pair: tensor (n_pairs, n_labels), on CPU.

        The premise is truncated first (`only_first`): the claim must be read whole.
        """
        import torch

        out = []
        for i in range(0, len(premises), self.batch_size):
            enc = self.tokenizer(list(premises[i : i + self.batch_size]), list(hypotheses[i : i + self.batch_size]),
                                 truncation="only_first", max_length=self.max_length, padding=True, return_tensors="pt")
            with torch.inference_mode():
                logits = self.model(**enc.to(self.device)).logits  # (batch, n_labels)
            out.append(torch.softmax(logits.float(), dim=-1).cpu())
        return torch.cat(out) if out else torch.zeros(0, self.model.config.num_labels)

    def _candidates(self, claim: str, chunks: list[Premise]) -> list[int]:
        if self.top_k is None or len(chunks) <= self.top_k:
            return list(range(len(chunks)))
        ranked = sorted(range(len(chunks)), key=lambda j: -_overlap(claim, chunks[j].text))
        return sorted(ranked[: self.top_k])

    def check(self, question: str | None, answer: str, sources: Sequence[SourcePage]) -> list[ClaimVerdict]:
        claims = split_claims(answer)
        chunks = premise_chunks(sources, self.window)
        if not claims:
            return []
        if not chunks:
            raise ValueError("the sources have no sentences to use as premises")
        pairs = [(ci, j) for ci, claim in enumerate(claims) for j in self._candidates(claim.plain, chunks)]
        probs = self.probabilities([chunks[j].text for _, j in pairs], [claims[ci].plain for ci, _ in pairs])
        per_claim: dict[int, list[tuple[int, list[float]]]] = {}
        for (ci, j), row in zip(pairs, probs.tolist(), strict=True):
            per_claim.setdefault(ci, []).append((j, row))
        return [self._verdict(claim, per_claim.get(ci, []), chunks, sources) for ci, claim in enumerate(claims)]

    def _verdict(self, claim, scored: list[tuple[int, list[float]]], chunks: list[Premise], sources) -> ClaimVerdict:
        r = self.roles
        best_j, best = max(scored, key=lambda item: item[1][r.entailment])
        p_entail = best[r.entailment]
        common = {"text": claim.text, "span": (claim.start, claim.end), "citations": claim.citations,
                  "checker": self.name}
        if p_entail >= self.threshold:
            return ClaimVerdict(verdict=Verdict.supported, score=p_entail,
                                evidence=self._evidence(chunks[best_j], sources),
                                reason=f"entailed (P={p_entail:.2f} >= {self.threshold})", **common)
        if r.contradiction is not None:
            contra_j, contra = max(scored, key=lambda item: item[1][r.contradiction])
            if contra[r.contradiction] > p_entail:
                return ClaimVerdict(
                    verdict=Verdict.unsupported, score=p_entail, evidence=self._evidence(chunks[contra_j], sources),
                    reason=f"contradicted (P={contra[r.contradiction]:.2f} > entailment {p_entail:.2f})", **common)
        return ClaimVerdict(verdict=Verdict.unsupported, score=p_entail,
                            evidence=self._evidence(chunks[best_j], sources),
                            reason=f"low entailment (P={p_entail:.2f} < {self.threshold})", **common)

    @staticmethod
    def _evidence(chunk: Premise, sources: Sequence[SourcePage]) -> Evidence:
        source = sources[chunk.source]
        loc = Locator(doc_id=source.doc_id, page=source.page, char_start=chunk.char_start, char_end=chunk.char_end,
                      sentence=chunk.sentence)
        return Evidence(locator=loc, quote=chunk.text)
