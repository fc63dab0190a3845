"""Small sentence-transformers `CrossEncoder`s fine-tuned on CPU, saved and loaded safely: the
shared mechanics of the page re-ranker (`rag.rerank`) and the claim verifier (`rewards.verifier`).

Both start from the packaged MiniLM (`cai.core.assets.minilm_path`), a bi-encoder checkpoint: its
one-output classification head starts untrained, so it is first fitted as a logistic regression on
the frozen encoder's features (`probe_head`), then the whole model is fine-tuned with binary
cross-entropy by the library's `CrossEncoderTrainer` (`fit`) — LP-FT, Kumar et al. 2022,
"Fine-Tuning can Distort Pretrained Features and Underperform Out-of-Distribution".

`new_model(layers=N)` keeps only the first N transformer layers (the re-ranker must score 50
candidates per query on two cores; a shallower encoder is the cheapest way there, as in the
layer-dropped MiniLM cross-encoders of the MS MARCO family). Models score in float32: dynamic int8
quantization (Zafrir et al. 2019, "Q8BERT"), tried for CPU speed, moved these small fine-tuned
heads' scores too far (BENCHMARKS.md, session 11).

Saved directories are written atomically (`replace_dir`) and identified by the sha256 of their
model files (`model_files_sha256`), which the loaders check before scoring, so a truncated or
edited model is refused instead of scoring with damaged weights.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

from cai.core.errors import UserError

_HASH_CHUNK = 1 << 20
# Inverse L2 strength of the linear probe on standardised features. Strong: on a few hundred pairs
# the 384 features separate the training set, and an unregularised probe starts fine-tuning from
# overconfident logits whose few large errors dominate the loss.
PROBE_C = 0.01
Pairs = Sequence[tuple[str, str]]


def device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def new_model(base: str, *, max_length: int, layers: int | None = None, seed: int = 0):
    """A one-output CrossEncoder from `base`, optionally cut to its first `layers` layers."""
    from sentence_transformers.cross_encoder import CrossEncoder
    from transformers import set_seed

    set_seed(seed)  # the new classification head is drawn at load time
    model = CrossEncoder(base, num_labels=1, max_length=max_length, device=device())
    if not any("ForSequenceClassification" in a for a in model.model.config.architectures or []):
        reset_pooler(model)  # an embedding checkpoint: its pooler was never trained
    if layers is not None:
        encoder = model.model.base_model.encoder
        if not 1 <= layers <= len(encoder.layer):
            raise UserError(f"layers={layers}: {base} has {len(encoder.layer)} layers")
        encoder.layer = encoder.layer[:layers]
        model.model.config.num_hidden_layers = layers  # so the saved config reloads the cut model
    return model


def probe_head(model, pairs: Pairs, labels: Sequence[int], batch_size: int = 32) -> bool:
    """The linear-probe step of LP-FT: fit the one-output head as a logistic regression on the
    frozen encoder's features, so fine-tuning starts from a head that already reads them. Done when
    the head is a plain linear layer (BERT-style classifiers: MiniLM's); returns whether it was."""
    import torch
    from sklearn.linear_model import LogisticRegression

    head = getattr(model.model, "classifier", None)
    if not isinstance(head, torch.nn.Linear) or head.out_features != 1 or len(set(labels)) < 2:
        return False
    from sentence_transformers.util import batch_to_device

    features: list[torch.Tensor] = []
    hook = head.register_forward_hook(lambda _m, args, _out: features.append(args[0].detach().float().cpu()))
    model.eval()  # no dropout: the features the head will see at inference
    try:
        with torch.inference_mode():
            for start in range(0, len(pairs), batch_size):
                model(batch_to_device(model.preprocess(list(pairs[start : start + batch_size])), model.device))
    finally:
        hook.remove()
    x = torch.cat(features).numpy().astype("float64")
    # Standardise, then fold the scaling back into the head's weights: the probe's L2 penalty on
    # raw features would shrink it to the intercept.
    mean, std = x.mean(axis=0), x.std(axis=0) + 1e-6
    probe = LogisticRegression(C=PROBE_C, max_iter=1000).fit((x - mean) / std, list(labels))
    weight = probe.coef_ / std
    bias = probe.intercept_ - (weight * mean).sum(axis=1)
    with torch.no_grad():
        head.weight.copy_(torch.as_tensor(weight, dtype=head.weight.dtype))
        head.bias.copy_(torch.as_tensor(bias, dtype=head.bias.dtype))
    return True


def reset_pooler(model) -> bool:
    """Make a BERT pooler (tanh(W·h_cls + b)) pass the [CLS] state through: W = I, b = 0.

    A sentence-embedding checkpoint is trained through mean pooling, never through its pooler, whose
    outputs stay near zero (|x| ~ 0.05): a head reading them learns slowly, and a probe scaled up
    to read them makes the logits so sensitive that fine-tuning diverges. The [CLS] state is layer-
    normalised (|h| ~ 0.2), in tanh's near-linear range, so tanh(h_cls) keeps its information."""
    import torch

    dense = getattr(getattr(model.model.base_model, "pooler", None), "dense", None)
    if not isinstance(dense, torch.nn.Linear) or dense.in_features != dense.out_features:
        return False
    with torch.no_grad():
        dense.weight.copy_(torch.eye(dense.in_features, dtype=dense.weight.dtype))
        dense.bias.zero_()
    return True


def fit(model, pairs: Pairs, labels: Sequence[int], work: Path, *, epochs: float, batch_size: int, lr: float,
        seed: int) -> float:
    """Fine-tune `model` in place with binary cross-entropy on (text a, text b) → label; the loss."""
    import torch
    from datasets import Dataset
    from sentence_transformers.cross_encoder import CrossEncoderTrainer, CrossEncoderTrainingArguments
    from sentence_transformers.cross_encoder.losses import BinaryCrossEntropyLoss
    from transformers.trainer_callback import PrinterCallback

    # No dropout: the probed head reads pooled features whose spread across inputs is far smaller
    # than dropout's noise on them, so with dropout on the first steps see exploding logits.
    for module in model.model.modules():
        if isinstance(module, torch.nn.Dropout):
            module.p = 0.0
    steps = max(1, round(epochs * -(-len(pairs) // batch_size)))
    args = CrossEncoderTrainingArguments(
        output_dir=str(work / "trainer"), num_train_epochs=epochs, per_device_train_batch_size=batch_size,
        learning_rate=lr, warmup_steps=max(1, steps // 10), lr_scheduler_type="linear", seed=seed, data_seed=seed,
        save_strategy="no", eval_strategy="no", report_to=[], logging_steps=max(1, steps), disable_tqdm=True,
        use_cpu=device() == "cpu",
    )
    data = Dataset.from_dict({"a": [a for a, _ in pairs], "b": [b for _, b in pairs],
                              "label": [float(y) for y in labels]})
    trainer = CrossEncoderTrainer(model=model, args=args, train_dataset=data, loss=BinaryCrossEntropyLoss(model))
    trainer.remove_callback(PrinterCallback)  # it prints every log dict to stdout, which belongs to the caller
    result = trainer.train()
    shutil.rmtree(work / "trainer", ignore_errors=True)
    return float(result.training_loss)


def train(base: str, pairs: Pairs, labels: Sequence[int], work: Path, *, max_length: int, layers: int | None,
          epochs: float, batch_size: int, lr: float, seed: int) -> tuple:
    """LP-FT from `base`: (model, whether the head was probed, training loss, seconds)."""
    import time

    model = new_model(base, max_length=max_length, layers=layers, seed=seed)
    started = time.perf_counter()
    probed = probe_head(model, pairs, labels, batch_size)
    loss = fit(model, pairs, labels, work, epochs=epochs, batch_size=batch_size, lr=lr, seed=seed)
    return model, probed, loss, time.perf_counter() - started


def predict(model, pairs: Pairs, batch_size: int) -> list[float]:
    """Scores of `pairs` (sigmoid of the logit), in order; [] for no pairs."""
    if not pairs:
        return []
    return model.predict(list(pairs), batch_size=batch_size, show_progress_bar=False).tolist()


def model_files_sha256(directory: Path, metadata_file: str) -> str:
    """sha256 over every file of a model directory but its `metadata_file` (relative path, then
    bytes, in path order): the identity of the saved model."""
    directory = Path(directory)
    digest = hashlib.sha256()
    for path in sorted(p for p in directory.rglob("*") if p.is_file() and p.name != metadata_file):
        digest.update(path.relative_to(directory).as_posix().encode("utf-8") + b"\0")
        with path.open("rb") as handle:
            while chunk := handle.read(_HASH_CHUNK):
                digest.update(chunk)
    return digest.hexdigest()


def temp_dir_for(out_dir: Path, metadata_file: str, what: str) -> Path:
    """A private temporary sibling of `out_dir` to build a model in; refuses an `out_dir` that
    exists, is not empty, and holds no `metadata_file` (it is not ours to replace)."""
    replaceable = out_dir.is_dir() and ((out_dir / metadata_file).is_file() or not any(out_dir.iterdir()))
    if out_dir.exists() and not replaceable:
        raise UserError(f"{out_dir}: exists and is not a {what} directory (no {metadata_file}); "
                        "choose another output directory")
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(dir=out_dir.parent, prefix=f".{out_dir.name}.tmp-"))


def save(model, tmp: Path, out_dir: Path, metadata_file: str, metadata: dict) -> dict:
    """Write `model` and its metadata (plus model_sha256 and created_at) to `tmp`, then move it to
    `out_dir` (`replace_dir`); the metadata written."""
    from datetime import UTC, datetime

    from cai.core.runs import atomic_write_json

    model.save_pretrained(str(tmp), create_model_card=False)
    metadata = {**metadata, "model_sha256": model_files_sha256(tmp, metadata_file),
                "created_at": datetime.now(UTC).isoformat(timespec="seconds")}
    atomic_write_json(tmp / metadata_file, metadata)
    replace_dir(tmp, out_dir)
    return metadata


def train_and_save(out_dir: Path, metadata_file: str, what: str, base: str, pairs: Pairs, labels: Sequence[int],
                   held: Pairs, describe: Callable[[list[float], bool], dict], *, max_length: int,
                   layers: int | None, epochs: float, batch_size: int, lr: float, seed: int) -> dict:
    """Train a cross-encoder from `base` on `pairs` (`train`), score the `held` pairs, and save it to
    `out_dir` atomically with the metadata `describe(held_scores, linear_probe)` returns plus the base,
    the training loss and time; a failure leaves no temporary directory. The re-ranker and the claim
    verifier are both trained this way."""
    tmp = temp_dir_for(out_dir, metadata_file, what)
    try:
        model, probed, loss, seconds = train(base, pairs, labels, tmp, max_length=max_length, layers=layers,
                                             epochs=epochs, batch_size=batch_size, lr=lr, seed=seed)
        scores = predict(model, held, batch_size)
        return save(model, tmp, out_dir, metadata_file, {
            "base": base, **describe(scores, probed), "train_loss": round(loss, 4),
            "train_seconds": round(seconds, 2)})
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def record_in_manifest(index_dir: Path, key: str, out_dir: Path, metadata: dict) -> dict:
    """Record a model trained for an index under `key` in the index's manifest.json (atomically):
    {path (relative to the index when inside it), sha256 of the model files, created_at}."""
    from cai.core.runs import atomic_write_json

    manifest_file = Path(index_dir) / "manifest.json"
    manifest = {}
    if manifest_file.is_file():
        try:
            manifest = json.loads(manifest_file.read_text(encoding="utf-8"))
        except ValueError as error:
            raise UserError(f"{manifest_file}: not valid JSON ({error}); re-run `cai ingest` to rewrite it") from None
    out, index = Path(out_dir).resolve(), Path(index_dir).resolve()
    entry = {"path": str(out.relative_to(index)) if out.is_relative_to(index) else str(out),
             "sha256": metadata["model_sha256"], "created_at": metadata["created_at"]}
    atomic_write_json(manifest_file, {**manifest, key: entry})
    return entry


def replace_dir(tmp: Path, out_dir: Path) -> None:
    """Move the finished `tmp` to `out_dir`; an existing model there is replaced (it is moved
    aside first, then deleted, so a reader never sees a half-written one)."""
    tmp.chmod(0o755)  # mkdtemp makes it private; the model is read like the index beside it
    old = None
    if out_dir.exists():
        old = Path(tempfile.mkdtemp(dir=out_dir.parent, prefix=f".{out_dir.name}.old-"))
        os.replace(out_dir, old / out_dir.name)
    os.replace(tmp, out_dir)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def read_metadata(path: Path, metadata_file: str, *, what: str, train: str) -> dict:
    """The JSON metadata a model directory was saved with; missing or unreadable is a `UserError`."""
    meta_file = Path(path) / metadata_file
    if not meta_file.is_file():
        raise UserError(f"{path}: no {what} here (missing {metadata_file}); train one with `{train}`")
    try:
        metadata = json.loads(meta_file.read_text(encoding="utf-8"))
        if not isinstance(metadata, dict) or not isinstance(metadata.get("model_sha256"), str):
            raise ValueError("no model_sha256")
    except (OSError, ValueError) as error:
        raise UserError(f"{meta_file}: unreadable {what} metadata ({type(error).__name__}: {error})") from None
    return metadata


def load_checked(path: Path, metadata: dict, metadata_file: str, *, what: str, retrain: str,
                 device_name: str = "cpu"):
    """The CrossEncoder saved in `path` after checking its files against `metadata["model_sha256"]`;
    a changed or unloadable model is a `UserError` that says how to retrain (`retrain`)."""
    if model_files_sha256(path, metadata_file) != metadata.get("model_sha256"):
        raise UserError(f"{path}: the {what}'s model files are missing or changed since training "
                        f"(sha256 mismatch); retrain with `{retrain}`")
    from sentence_transformers.cross_encoder import CrossEncoder

    max_length = (metadata.get("params") or {}).get("max_length")
    try:
        model = CrossEncoder(str(path), device=device_name, max_length=max_length, local_files_only=True)
    except Exception as error:  # noqa: BLE001 — any loading failure is a damaged model directory
        raise UserError(f"{path}: the {what} could not be loaded ({type(error).__name__}: "
                        f"{' '.join(str(error).split())[:200]})") from None
    model.eval()
    return model
