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

That is `format="mnli"`, the default. The other formats (`rewards.nli_formats`: MiniCheck, FactCG,
HHEM-2.1-open, a yes/no chat judge) give one P(supported) per pair and read pages in **token-budget
chunks** instead (`token_chunks`: whole sentences up to the format's chunk size, MiniCheck's scheme):
`supported` when the best chunk's P >= `threshold`, else `unsupported` ("low support"), or
`unverified` when some chunk got no answer (a judge's unparseable reply) and none supported it.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
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


def token_chunks(sources: Sequence[SourcePage], units: Callable[[str], list[tuple[int, int]]],
                 chunk_size: int) -> list[Premise]:
    """Consecutive whole sentences of each page packed into chunks of at most `chunk_size` units
    (MiniCheck's chunking, Tang et al. 2024; no overlap). `units(text)` gives the char spans of the
    counted units (words or tokens). A sentence longer than the budget is cut at unit boundaries, so
    no chunk passes it; each piece keeps the index of the sentence it starts in."""
    chunks: list[Premise] = []
    for si, source in enumerate(sources):
        spans = units(source.text)
        starts = [start for start, _ in spans]
        pieces: list[list[int]] = []  # [sentence, char_start, char_end, units]
        for k, (start, end) in enumerate(sentence_spans(source.text)):
            inside = spans[bisect.bisect_left(starts, start) : bisect.bisect_left(starts, end)]
            if pieces and pieces[-1][3] + len(inside) <= chunk_size:
                pieces[-1][2:] = [end, pieces[-1][3] + len(inside)]
                continue
            while len(inside) > chunk_size:  # one sentence over the budget: cut it at a unit boundary
                pieces.append([k, start, inside[chunk_size - 1][1], chunk_size])
                start, inside = inside[chunk_size][0], inside[chunk_size:]
            pieces.append([k, start, end, len(inside)])
        chunks.extend(Premise(si, k, a, b, source.text[a:b]) for k, a, b, _ in pieces)
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


# (premise chunk as the model read it, P(support) or None = no answer, P(contradiction) or None)
_Scored = tuple[Premise, float | None, float | None]


class NLIChecker:
    """A `Checker` backed by an NLI / fact-checking model.

    `model`: HF id or local path (`judge`: the served model's name); None = the format's default.
    `format`: mnli (a sequence classifier, labels by name), minicheck, factcg, hhem or judge (see
    `rewards.nli_formats`). `threshold`: P(entailment / supported) needed for `supported`. `window`:
    sentences per premise chunk (mnli). `chunk_size`: units per chunk (other formats; None = the
    format's). `top_k`: chunks per claim scored by the model after a lexical pre-ranking (None = all;
    cost is claims x chunks forward passes). `max_length`: model input limit in tokens (None = the
    format's). `base_url` / `chat`: the judge's endpoint. `device`: default CUDA when available.
    """

    name = "nli"

    def __init__(self, model: str | Path | None = None, *, format: str = "mnli", threshold: float = 0.5,
                 window: int = 2, chunk_size: int | None = None, top_k: int | None = 32, batch_size: int = 16,
                 max_length: int | None = None, device: str | None = None, base_url: str | None = None, chat=None):
        from rewards.nli_formats import DEFAULT_MODELS, check_format, open_scorer

        self.format = check_format(format)
        if model is None:
            model = DEFAULT_NLI_MODEL if format == "mnli" else DEFAULT_MODELS.get(format)
        if model is None:
            raise ValueError(f"format {format} has no default model: give a local model directory")
        self.model_name = str(model)
        self.threshold = threshold
        self.window = window
        self.top_k = top_k
        self.batch_size = batch_size
        self.scorer = None
        if format != "mnli":
            if format != "judge":
                import torch

                device = device or ("cuda" if torch.cuda.is_available() else "cpu")
            self.scorer = open_scorer(format, model, device=device, batch_size=batch_size, max_length=max_length,
                                      chunk_size=chunk_size, base_url=base_url, chat=chat)
            return
        if chunk_size is not None or base_url is not None or chat is not None:
            raise ValueError("format mnli takes `window`, not `chunk_size`, `base_url` or `chat`")
        self._open_mnli(model, max_length or 512, device)

    def _open_mnli(self, model: str | Path, max_length: int, device: str | None) -> None:
        import torch
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.tokenizer = AutoTokenizer.from_pretrained(model)
        self.model = AutoModelForSequenceClassification.from_pretrained(model).to(self.device).eval()
        self.roles = label_roles(self.model.config.id2label, self.model_name)
        self.max_length = min(max_length, getattr(self.tokenizer, "model_max_length", max_length) or max_length)

    def probabilities(self, premises: Sequence[str], hypotheses: Sequence[str]):
        """Class probabilities of each (premise, hypothesis) pair: tensor (n_pairs, n_labels), on CPU (mnli).

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

    def chunks(self, sources: Sequence[SourcePage]) -> list[Premise]:
        """The premise chunks of `sources`: sentence windows (mnli) or the format's token-budget chunks."""
        if self.scorer is None:
            return premise_chunks(sources, self.window)
        return token_chunks(sources, self.scorer.units, self.scorer.chunk_size)

    def _candidates(self, claim: str, chunks: list[Premise]) -> list[int]:
        if self.top_k is None or len(chunks) <= self.top_k:
            return list(range(len(chunks)))
        ranked = sorted(range(len(chunks)), key=lambda j: -_overlap(claim, chunks[j].text))
        return sorted(ranked[: self.top_k])

    def check(self, question: str | None, answer: str, sources: Sequence[SourcePage]) -> list[ClaimVerdict]:
        claims = split_claims(answer)
        chunks = self.chunks(sources)
        if not claims:
            return []
        if not chunks:
            raise ValueError("the sources have no sentences to use as premises")
        pairs = [(ci, chunks[j]) for ci, claim in enumerate(claims) for j in self._candidates(claim.plain, chunks)]
        per_claim: dict[int, list[_Scored]] = {}
        for ci, scored in zip([ci for ci, _ in pairs], self._score(pairs, claims), strict=True):
            per_claim.setdefault(ci, []).append(scored)
        return [self._verdict(claim, per_claim.get(ci, []), sources) for ci, claim in enumerate(claims)]

    def _score(self, pairs: list[tuple[int, Premise]], claims) -> list[_Scored]:
        """(premise the model read, P(support) or None, P(contradiction) or None) per pair."""
        if self.scorer is None:
            r = self.roles
            probs = self.probabilities([p.text for _, p in pairs], [claims[ci].plain for ci, _ in pairs]).tolist()
            return [(p, row[r.entailment], None if r.contradiction is None else row[r.contradiction])
                    for (_, p), row in zip(pairs, probs, strict=True)]
        # A premise the input limit cuts is scored, and quoted, as the prefix the model reads.
        fitted = [self.scorer.fit(p.text, claims[ci].plain) for ci, p in pairs]
        seen = [p if text is None or text == p.text else replace(p, char_end=p.char_start + len(text), text=text)
                for (_, p), text in zip(pairs, fitted, strict=True)]
        readable = [i for i, text in enumerate(fitted) if text]
        scores = self.scorer.score([seen[i].text for i in readable], [claims[pairs[i][0]].plain for i in readable])
        support: list[float | None] = [None] * len(pairs)
        for i, score in zip(readable, scores, strict=True):
            support[i] = score
        return [(p, s, None) for p, s in zip(seen, support, strict=True)]

    def _verdict(self, claim, scored: list[_Scored], sources) -> ClaimVerdict:
        common = {"text": claim.text, "span": (claim.start, claim.end), "citations": claim.citations,
                  "checker": self.name}
        mnli = self.scorer is None
        known = [s for s in scored if s[1] is not None]
        best, p = max(known, key=lambda s: s[1])[:2] if known else (None, 0.0)
        if best is not None and p >= self.threshold:
            return ClaimVerdict(verdict=Verdict.supported, score=p, evidence=self._evidence(best, sources),
                                reason=f"{'entailed' if mnli else self.format + ': supported'} "
                                       f"(P={p:.2f} >= {self.threshold})", **common)
        if len(known) < len(scored):  # a chunk the model gave no answer on might support the claim
            return ClaimVerdict(verdict=Verdict.unverified, score=min(p, 0.49),
                                reason=f"{self.format}: no answer on {len(scored) - len(known)} of {len(scored)} "
                                       f"premise chunks, none supported (best P={p:.2f})", **common)
        contra = max((s for s in scored if s[2] is not None), key=lambda s: s[2], default=None)
        if contra is not None and contra[2] > p:
            return ClaimVerdict(verdict=Verdict.unsupported, score=p, evidence=self._evidence(contra[0], sources),
                                reason=f"contradicted (P={contra[2]:.2f} > entailment {p:.2f})", **common)
        return ClaimVerdict(verdict=Verdict.unsupported, score=p, evidence=self._evidence(best, sources),
                            reason=f"{'low entailment' if mnli else self.format + ': low support'} "
                                   f"(P={p:.2f} < {self.threshold})", **common)

    @staticmethod
    def _evidence(chunk: Premise, sources: Sequence[SourcePage]) -> Evidence:
        source = sources[chunk.source]
        loc = Locator(doc_id=source.doc_id, page=source.page, char_start=chunk.char_start, char_end=chunk.char_end,
                      sentence=chunk.sentence)
        return Evidence(locator=loc, quote=chunk.text)
