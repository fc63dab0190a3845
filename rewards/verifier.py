"""The learned claim verifier: a cross-encoder that reads (premise, claim) and scores how likely
the premise supports the claim, trained on pairs synthesized from the corpus (`rewards.synth`).

This is MiniCheck's design (Tang et al. 2024, "MiniCheck: Efficient Fact-Checking of LLMs on
Grounding Documents"): a small encoder fine-tuned as a binary grounding classifier on synthetic
supported/unsupported pairs, cheap enough to check every claim. The model is a
sentence-transformers `CrossEncoder` with one output (a logit; `predict` applies the sigmoid),
started from the packaged MiniLM (`cai.core.assets.minilm_path`). That checkpoint is a bi-encoder,
so the classification head starts untrained: it is first fitted as a logistic regression on the
frozen encoder's features, then the whole model is fine-tuned with binary cross-entropy by the
library's `CrossEncoderTrainer` (LP-FT, Kumar et al. 2022).

The held-out split is by document: pairs made from one filing never sit on both sides, so the
reported accuracy and ROC AUC measure transfer to an unseen document, not memorised rows.

Output directory, written atomically (a temporary sibling directory renamed into place): the
model as `CrossEncoder.save_pretrained` writes it, and `verifier.json` (base, parameters, pair
counts per kind, held-out metrics, the sha256 of the training pairs and of the model files,
created_at). `Verifier.load(dir)` checks that sha256 before loading, so a truncated or edited
model is refused with a `UserError` instead of scoring with damaged weights.
"""

from __future__ import annotations

import hashlib
import json
import random
import threading
from collections import Counter, OrderedDict
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

from rag import cross_encoder
from rewards.synth import Pair, kind_counts

METADATA_FILE = "verifier.json"


def split_by_document(pairs: Sequence[Pair], eval_fraction: float, seed: int) -> tuple[list[Pair], list[Pair]]:
    """(train, eval): whole documents go to eval, in a seeded order, until it holds about
    `eval_fraction` of the pairs (a document that alone would hold more than twice that is passed
    over); at least one document each side when there are two or more and `eval_fraction` > 0."""
    sizes = Counter(p.doc_id for p in pairs)
    docs = sorted(sizes)
    random.Random(seed).shuffle(docs)
    target = eval_fraction * len(pairs)
    held: list[str] = []
    for doc in docs:
        if sum(sizes[d] for d in held) >= target or len(held) == len(docs) - 1:
            break
        if sizes[doc] <= 2 * target:
            held.append(doc)
    if eval_fraction > 0 and not held and len(docs) > 1:
        held = [min(docs, key=lambda d: (sizes[d], d))]
    return [p for p in pairs if p.doc_id not in held], [p for p in pairs if p.doc_id in held]


def pairs_sha256(pairs: Sequence[Pair]) -> str:
    """sha256 of the pairs as JSON lines, in order: what the verifier was trained on."""
    digest = hashlib.sha256()
    for pair in pairs:
        digest.update(json.dumps(asdict(pair), ensure_ascii=False, sort_keys=True).encode("utf-8") + b"\n")
    return digest.hexdigest()


def model_files_sha256(directory: Path) -> str:
    """sha256 of a verifier directory's model files (all but `verifier.json`): the saved model's identity."""
    return cross_encoder.model_files_sha256(directory, METADATA_FILE)


def evaluate(scores: Sequence[float], pairs: Sequence[Pair]) -> dict:
    """Held-out accuracy at 0.5, ROC AUC (None unless both labels occur) and accuracy per kind."""
    from sklearn.metrics import roc_auc_score

    if not pairs:
        return {"accuracy": None, "auc": None, "accuracy_by_kind": {}}
    labels = [p.label for p in pairs]
    right = [(s >= 0.5) == bool(y) for s, y in zip(scores, labels, strict=True)]
    by_kind: dict[str, list[bool]] = {}
    for pair, ok in zip(pairs, right, strict=True):
        by_kind.setdefault(pair.kind, []).append(ok)
    return {
        "accuracy": round(sum(right) / len(right), 4),
        "auc": round(float(roc_auc_score(labels, scores)), 4) if len(set(labels)) == 2 else None,
        "accuracy_by_kind": {k: round(sum(v) / len(v), 4) for k, v in sorted(by_kind.items())},
    }


def train_verifier(pairs: Sequence[Pair], out_dir: str | Path, *, base: str | Path | None = None,
                   epochs: float = 1, batch_size: int = 32, max_length: int = 256, seed: int = 0,
                   eval_fraction: float = 0.1, lr: float = 5e-5) -> dict:
    """Train the verifier on `pairs` and save it to `out_dir` atomically; returns `verifier.json`.

    `base`: an HF id or path (default: the packaged MiniLM). The split is held out by document
    (`split_by_document`); with one document every pair trains and the metrics are None. The head
    is first fitted as a linear probe (`rag.cross_encoder.probe_head`), then everything is fine-tuned (LP-FT). A
    previous verifier in `out_dir` is replaced; any other existing, non-empty directory is refused.
    """
    from cai.core.assets import minilm_path

    if not pairs:
        raise ValueError("no pairs to train the verifier on")
    train, held = split_by_document(pairs, eval_fraction, seed)

    def describe(scores: list[float], probed: bool) -> dict:
        return {"params": {"epochs": epochs, "batch_size": batch_size, "max_length": max_length, "seed": seed,
                           "eval_fraction": eval_fraction, "lr": lr, "linear_probe": probed},
                "counts": {"pairs": len(pairs), "train": len(train), "eval": len(held), "by_kind": kind_counts(pairs),
                           "eval_documents": sorted({p.doc_id for p in held})},
                "eval": evaluate(scores, held), "data_sha256": pairs_sha256(pairs)}

    return cross_encoder.train_and_save(
        Path(out_dir), METADATA_FILE, "verifier", str(base or minilm_path()), [(p.premise, p.claim) for p in train],
        [p.label for p in train], [(p.premise, p.claim) for p in held], describe, max_length=max_length,
        layers=None, epochs=epochs, batch_size=batch_size, lr=lr, seed=seed)


class Verifier:
    """A trained verifier, loaded for scoring on the CPU (`Verifier.load`).

    Scores are memoised per (premise, claim): a checker reads the same claim against the same
    window again and again (a draft and its revision, an answer scored twice, every perturbed copy
    of an answer sharing its unchanged claims), and the model is the costly step. The memo is a
    bounded LRU, so a long run's memory stays flat."""

    CACHE_SIZE = 65_536  # (premise, claim) scores kept; a few MB of strings at most

    def __init__(self, model, metadata: dict, path: Path, *, batch_size: int = 32):
        self.model = model
        self.metadata = metadata
        self.path = path
        self.batch_size = batch_size
        self._memo: OrderedDict[tuple[str, str], float] = OrderedDict()
        self._lock = threading.Lock()  # checkers score from several threads (`bench/checker.py --threads`)

    @classmethod
    def load(cls, path: str | Path, *, batch_size: int = 32, device: str = "cpu") -> Verifier:
        """The verifier saved in `path`; a missing, incomplete or altered one is a `UserError`.

        Unlike the re-ranker it stays in float32: its scores are compared with a threshold, not
        ranked within one batch, and dynamic int8 (activations scaled per batch) moved a trained
        verifier's scores by 0.05 on average, flipping 14% of the verdicts at 0.5 (BENCHMARKS.md)."""
        path = Path(path)
        metadata = cross_encoder.read_metadata(path, METADATA_FILE, what="verifier",
                                               train="cai checker train --index DIR")
        model = cross_encoder.load_checked(path, metadata, METADATA_FILE, what="verifier",
                                           retrain="cai checker train --index DIR", device_name=device)
        return cls(model, metadata, path, batch_size=batch_size)

    def score(self, claims: Sequence[str], premises: Sequence[str]) -> list[float]:
        """P(premise supports claim) for each pair, in order; batched, without gradients; pairs
        scored before come from the memo."""
        if len(claims) != len(premises):
            raise ValueError(f"{len(claims)} claims for {len(premises)} premises")
        keys = list(zip(premises, claims, strict=True))
        with self._lock:
            found = {k: self._memo[k] for k in keys if k in self._memo}
        todo = [k for k in dict.fromkeys(keys) if k not in found]
        if todo:
            import torch

            with torch.inference_mode():
                scores = self.model.predict(todo, batch_size=self.batch_size, show_progress_bar=False,
                                            convert_to_numpy=True)
            found.update((key, float(value)) for key, value in zip(todo, scores, strict=True))
        with self._lock:
            for key in found:  # most recently used last; the oldest are dropped past CACHE_SIZE
                self._memo[key] = found[key]
                self._memo.move_to_end(key)
            while len(self._memo) > self.CACHE_SIZE:
                self._memo.popitem(last=False)
        return [found[k] for k in keys]
