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
import os
import random
import shutil
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

from cai.core.errors import UserError
from cai.core.runs import atomic_write_json
from rewards.synth import Pair, kind_counts

METADATA_FILE = "verifier.json"
_HASH_CHUNK = 1 << 20


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
    """sha256 over every file of a verifier directory but `verifier.json` (relative path, then
    bytes, in path order): the identity of the saved model."""
    directory = Path(directory)
    digest = hashlib.sha256()
    for path in sorted(p for p in directory.rglob("*") if p.is_file() and p.name != METADATA_FILE):
        digest.update(path.relative_to(directory).as_posix().encode("utf-8") + b"\0")
        with path.open("rb") as handle:
            while chunk := handle.read(_HASH_CHUNK):
                digest.update(chunk)
    return digest.hexdigest()


def _device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


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


def _probe_head(model, train: Sequence[Pair], batch_size: int) -> bool:
    """The linear-probe step of LP-FT (Kumar et al. 2022, "Fine-Tuning can Distort Pretrained
    Features and Underperform Out-of-Distribution"): fit the new one-output head as a logistic
    regression on the frozen encoder's features, so fine-tuning starts from a head that already
    reads them instead of a random one. Done when the head is a plain linear layer (BERT-style
    classifiers: MiniLM's); returns whether it was."""
    import torch
    from sklearn.linear_model import LogisticRegression

    head = getattr(model.model, "classifier", None)
    if not isinstance(head, torch.nn.Linear) or head.out_features != 1 or len({p.label for p in train}) < 2:
        return False
    from sentence_transformers.util import batch_to_device

    features: list[torch.Tensor] = []
    hook = head.register_forward_hook(lambda _m, args, _out: features.append(args[0].detach().float().cpu()))
    model.eval()  # no dropout: the features the head will see at inference
    try:
        with torch.inference_mode():
            for start in range(0, len(train), batch_size):
                batch = [(p.premise, p.claim) for p in train[start : start + batch_size]]
                model(batch_to_device(model.preprocess(batch), model.device))
    finally:
        hook.remove()
    x, y = torch.cat(features).numpy(), [p.label for p in train]
    probe = LogisticRegression(max_iter=1000).fit(x, y)
    with torch.no_grad():
        head.weight.copy_(torch.as_tensor(probe.coef_, dtype=head.weight.dtype))
        head.bias.copy_(torch.as_tensor(probe.intercept_, dtype=head.bias.dtype))
    return True


def _fit(model, train: Sequence[Pair], work: Path, *, epochs: float, batch_size: int, lr: float, seed: int) -> float:
    """Fine-tune `model` in place with binary cross-entropy on (premise, claim) → label; the loss."""
    from datasets import Dataset
    from sentence_transformers.cross_encoder import CrossEncoderTrainer, CrossEncoderTrainingArguments
    from sentence_transformers.cross_encoder.losses import BinaryCrossEntropyLoss
    from transformers.trainer_callback import PrinterCallback

    steps = max(1, round(epochs * -(-len(train) // batch_size)))
    args = CrossEncoderTrainingArguments(
        output_dir=str(work / "trainer"), num_train_epochs=epochs, per_device_train_batch_size=batch_size,
        learning_rate=lr, warmup_steps=max(1, steps // 10), lr_scheduler_type="linear", seed=seed, data_seed=seed,
        save_strategy="no", eval_strategy="no", report_to=[], logging_steps=max(1, steps), disable_tqdm=True,
        use_cpu=_device() == "cpu",
    )
    data = Dataset.from_dict({"premise": [p.premise for p in train], "claim": [p.claim for p in train],
                              "label": [float(p.label) for p in train]})
    trainer = CrossEncoderTrainer(model=model, args=args, train_dataset=data, loss=BinaryCrossEntropyLoss(model))
    trainer.remove_callback(PrinterCallback)  # it prints every log dict to stdout, which belongs to the caller
    result = trainer.train()
    shutil.rmtree(work / "trainer", ignore_errors=True)
    return float(result.training_loss)


def _replace_dir(tmp: Path, out_dir: Path) -> None:
    """Move the finished `tmp` to `out_dir`; an existing verifier there is replaced (it is moved
    aside first, then deleted, so a reader never sees a half-written one)."""
    old = None
    if out_dir.exists():
        old = Path(tempfile.mkdtemp(dir=out_dir.parent, prefix=f".{out_dir.name}.old-"))
        os.replace(out_dir, old / out_dir.name)
    os.replace(tmp, out_dir)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def train_verifier(pairs: Sequence[Pair], out_dir: str | Path, *, base: str | Path | None = None,
                   epochs: float = 1, batch_size: int = 32, max_length: int = 256, seed: int = 0,
                   eval_fraction: float = 0.1, lr: float = 5e-5) -> dict:
    """Train the verifier on `pairs` and save it to `out_dir` atomically; returns `verifier.json`.

    `base`: an HF id or path (default: the packaged MiniLM). The split is held out by document
    (`split_by_document`); with one document every pair trains and the metrics are None. The head
    is first fitted as a linear probe (`_probe_head`), then everything is fine-tuned (LP-FT). A
    previous verifier in `out_dir` is replaced; any other existing, non-empty directory is refused.
    """
    from sentence_transformers.cross_encoder import CrossEncoder
    from transformers import set_seed

    from cai.core.assets import minilm_path

    if not pairs:
        raise ValueError("no pairs to train the verifier on")
    out_dir = Path(out_dir)
    replaceable = out_dir.is_dir() and ((out_dir / METADATA_FILE).is_file() or not any(out_dir.iterdir()))
    if out_dir.exists() and not replaceable:
        raise UserError(f"{out_dir}: exists and is not a verifier directory (no {METADATA_FILE}); "
                        "choose another output directory")
    base = str(base or minilm_path())
    train, held = split_by_document(pairs, eval_fraction, seed)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out_dir.parent, prefix=f".{out_dir.name}.tmp-"))
    try:
        set_seed(seed)  # the new classification head is drawn at load time
        model = CrossEncoder(base, num_labels=1, max_length=max_length, device=_device())
        started = time.perf_counter()
        probed = _probe_head(model, train, batch_size)
        loss = _fit(model, train, tmp, epochs=epochs, batch_size=batch_size, lr=lr, seed=seed)
        train_s = time.perf_counter() - started
        scores = model.predict([(p.premise, p.claim) for p in held], batch_size=batch_size,
                               show_progress_bar=False).tolist() if held else []
        model.save_pretrained(str(tmp), create_model_card=False)
        meta = {
            "base": base,
            "params": {"epochs": epochs, "batch_size": batch_size, "max_length": max_length, "seed": seed,
                       "eval_fraction": eval_fraction, "lr": lr, "linear_probe": probed},
            "counts": {"pairs": len(pairs), "train": len(train), "eval": len(held), "by_kind": kind_counts(pairs),
                       "eval_documents": sorted({p.doc_id for p in held})},
            "eval": evaluate(scores, held),
            "train_loss": round(loss, 4), "train_seconds": round(train_s, 2),
            "data_sha256": pairs_sha256(pairs),
            "model_sha256": model_files_sha256(tmp),
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        atomic_write_json(tmp / METADATA_FILE, meta)
        tmp.chmod(0o755)  # mkdtemp makes it private; the verifier is read like the index beside it
        _replace_dir(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return meta


class Verifier:
    """A trained verifier, loaded for scoring on the CPU (`Verifier.load`)."""

    def __init__(self, model, metadata: dict, path: Path, *, batch_size: int = 32):
        self.model = model
        self.metadata = metadata
        self.path = path
        self.batch_size = batch_size

    @classmethod
    def load(cls, path: str | Path, *, batch_size: int = 32, device: str = "cpu") -> Verifier:
        """The verifier saved in `path`; a missing, incomplete or altered one is a `UserError`."""
        path = Path(path)
        meta_file = path / METADATA_FILE
        if not meta_file.is_file():
            raise UserError(f"{path}: no verifier here (missing {METADATA_FILE}); "
                            "train one with `cai checker train --index DIR`")
        try:
            metadata = json.loads(meta_file.read_text(encoding="utf-8"))
            expected = metadata["model_sha256"]
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise UserError(f"{meta_file}: unreadable verifier metadata ({type(error).__name__}: {error})") from None
        if model_files_sha256(path) != expected:
            raise UserError(f"{path}: the verifier's model files are missing or changed since training "
                            "(sha256 mismatch); retrain with `cai checker train --index DIR`")
        from sentence_transformers.cross_encoder import CrossEncoder

        max_length = (metadata.get("params") or {}).get("max_length")
        try:
            model = CrossEncoder(str(path), device=device, max_length=max_length, local_files_only=True)
        except Exception as error:  # noqa: BLE001 — any loading failure is a damaged verifier directory
            raise UserError(f"{path}: the verifier could not be loaded ({type(error).__name__}: "
                            f"{' '.join(str(error).split())[:200]})") from None
        model.eval()
        return cls(model, metadata, path, batch_size=batch_size)

    def score(self, claims: Sequence[str], premises: Sequence[str]) -> list[float]:
        """P(premise supports claim) for each pair, in order; batched, without gradients."""
        if len(claims) != len(premises):
            raise ValueError(f"{len(claims)} claims for {len(premises)} premises")
        if not claims:
            return []
        import torch

        with torch.inference_mode():
            scores = self.model.predict(list(zip(premises, claims, strict=True)), batch_size=self.batch_size,
                                        show_progress_bar=False, convert_to_numpy=True)
        return [float(s) for s in scores]
