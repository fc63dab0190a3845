"""The learned page re-ranker: a small cross-encoder that reads (question, candidate passage) and
re-orders the top fused candidates of a search, trained for an index on questions synthesized from
that index's own pages (`rag.rerank_synth`) — Nogueira & Cho 2019, "Passage Re-ranking with BERT":
a cross-encoder over the first-stage candidates, the standard second stage of retrieval.

* Model: the packaged MiniLM cut to its first `layers` layers, a one-output head, binary
  cross-entropy on (query, passage) → relevant, LP-FT (`rag.cross_encoder`). It scores in float32:
  PyTorch's dynamic int8 quantization of its linear layers, tried for speed, scrambled its order
  (rank correlation with the float model 0.0–0.6 on dev questions; BENCHMARKS.md).
* Candidates: the best chunk of each of the top `depth` pages of the fused order (one per page);
  the model reads `rerank_query(question)` against `passage(kind, page title, chunk)`.
* Final order: reciprocal rank fusion of the re-ranker's order with the fused order (weight
  `fused_weight` on the latter), so a re-ranker that is unsure cannot bury what both retrievers
  agree on (Cormack et al. 2009; rag/retrieve.py).
* Storage: `INDEX/reranker/` (the model as `save_pretrained` writes it + `reranker.json`: base,
  parameters, counts, held-out metrics, the sha256 of the model files) and a `reranker` entry in
  the index's manifest.json with that sha256. `open_for_index` loads it and refuses a re-ranker
  whose files differ from what the index recorded (`ModelMismatchError`).
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cai.core.errors import ModelMismatchError, UserError
from rag import cross_encoder
from rag.rerank_synth import SynthQuery, passage, rerank_query

METADATA_FILE = "reranker.json"
RERANKER_DIR = "reranker"
MANIFEST_KEY = "reranker"
RETRAIN = "cai retriever train --index DIR"
# Weight of the fused order against the re-ranker's in the final RRF (1.0 = equal say). Chosen by
# bench/retrieval.py --lco on training company folds (grid 0-16 and 1e6): for the shipped training
# recipe every fold chose 1e6, i.e. the re-ranker only breaks ties of the first stage; it does not
# yet rank real questions better than hybrid search with routing and page kinds (BENCHMARKS.md).
FUSED_WEIGHT = 1e6
DEPTH = 50  # pages re-scored per query


@dataclass(frozen=True)
class TrainPair:
    """One (query, passage) example: label 1 for the passage the query was written from."""

    query: str
    passage: str
    label: int
    doc_id: str
    group: int  # the query's index: a positive and its negatives share it


def mine_pairs(retriever, queries: Sequence[SynthQuery], *, hard: int = 3, easy: int = 1, seed: int = 0,
               first_stage: bool = True) -> list[TrainPair]:
    """For each query: its page's chunk holding the anchor (positive); as negatives, the `hard` best
    other pages of the first stage's own ranking (hybrid search with routing: the candidates the
    re-ranker will see, as in RocketQA, Qu et al. 2021) — or, with `first_stage=False`, of BM25 within
    the same filing — and `easy` random pages of the same filing. Pages containing the anchor are
    never negatives. `retriever` is a `rag.retrieve.Retriever`."""
    store = retriever.store
    rng = random.Random(seed)
    pages: dict[tuple[str, int], str] = {}
    kinds: dict[tuple[str, int], str] = {}
    doc_ids: dict[str, list[int]] = {}
    out: list[TrainPair] = []

    def page_text(key: tuple[str, int]) -> str:
        if key not in pages:
            page = store.page(*key)
            pages[key] = page.text if page else ""
            kinds.update(store.page_kinds([key]))
        return pages[key]

    for group, q in enumerate(queries):
        if q.doc_id not in doc_ids:
            doc_ids[q.doc_id] = [int(v) for v in store.vec_ids_of_documents([q.doc_id])]
        allowed = doc_ids[q.doc_id]
        if first_stage:
            ids = np.asarray(retriever.rank(q.text).order[:60], dtype=np.int64)
        else:
            _, ids = retriever.lexical.search(q.text, 40, allowed_ids=np.asarray(allowed), expand=False)
        chunks = store.chunks([*ids.tolist(), *rng.sample(allowed, min(len(allowed), 8))])
        anchor = q.anchor.lower()
        own = [c for c in store.chunks(store.vec_ids_of_pages([(q.doc_id, q.page)])).values()
               if anchor in " ".join(c.text.split()).lower()]
        if not own:
            continue
        positive = own[0]
        negatives, seen_pages = [], {(q.doc_id, q.page)}
        ranked = [chunks[v] for v in ids.tolist() if v in chunks]
        shuffled = [chunks[v] for v in rng.sample(sorted(chunks), len(chunks))]
        for pool, want in ((ranked, hard), (shuffled, hard + easy)):
            for c in pool:
                key = (c.locator.doc_id, c.locator.page)
                if len(negatives) >= want or key in seen_pages:
                    continue
                seen_pages.add(key)
                if anchor not in " ".join(page_text(key).split()).lower():
                    negatives.append(c)
        for c, label in [(positive, 1)] + [(c, 0) for c in negatives]:
            key = (c.locator.doc_id, c.locator.page)
            head = page_text(key)  # also reads the page's kind
            text = passage(kinds.get(key, "other"), head, c.text)
            out.append(TrainPair(rerank_query(q.text), text, label, q.doc_id, group))
    return out


def split_groups(pairs: Sequence[TrainPair], eval_fraction: float,
                 seed: int) -> tuple[list[TrainPair], list[TrainPair]]:
    """(train, held): whole documents held out, about `eval_fraction` of the queries, when there
    are two documents or more; a query's positive and negatives stay together."""
    docs = sorted({p.doc_id for p in pairs})
    random.Random(seed).shuffle(docs)
    n_held = round(eval_fraction * len(docs)) if len(docs) > 1 else 0
    held_docs = set(docs[: max(1, n_held)]) if n_held or (eval_fraction > 0 and len(docs) > 1) else set()
    return [p for p in pairs if p.doc_id not in held_docs], [p for p in pairs if p.doc_id in held_docs]


def group_accuracy(scores: Sequence[float], pairs: Sequence[TrainPair]) -> float | None:
    """Share of held-out queries whose positive outscores every one of its negatives."""
    best: dict[int, tuple[float, int]] = {}
    for s, p in zip(scores, pairs, strict=True):
        if p.group not in best or s > best[p.group][0]:
            best[p.group] = (s, p.label)
    return round(sum(label for _, label in best.values()) / len(best), 4) if best else None


def train_reranker(pairs: Sequence[TrainPair], out_dir: str | Path, *, base: str | Path | None = None,
                   layers: int | None = 1, max_length: int = 128, epochs: float = 1, batch_size: int = 32,
                   lr: float = 1e-5, seed: int = 0, eval_fraction: float = 0.1, extra: dict | None = None) -> dict:
    """Train the re-ranker on `pairs`, save it to `out_dir` atomically; returns `reranker.json`.

    `lr` 1e-5: at 5e-5 the fine-tuning of the probed model is unstable (mean training loss above a
    constant predictor's) and fewer held-out synthesized questions get their page first."""
    from cai.core.assets import minilm_path

    if not pairs:
        raise ValueError("no pairs to train the re-ranker on")
    train, held = split_groups(pairs, eval_fraction, seed)

    def describe(scores: list[float], probed: bool) -> dict:
        return {"params": {"layers": layers, "max_length": max_length, "epochs": epochs, "batch_size": batch_size,
                           "lr": lr, "seed": seed, "eval_fraction": eval_fraction, "linear_probe": probed,
                           "fused_weight": FUSED_WEIGHT, "depth": DEPTH},
                "counts": {"pairs": len(pairs), "queries": len({p.group for p in pairs}), "train": len(train),
                           "eval": len(held), "eval_documents": sorted({p.doc_id for p in held})},
                "eval": {"positive_first": group_accuracy(scores, held)}, **(extra or {})}

    return cross_encoder.train_and_save(
        Path(out_dir), METADATA_FILE, "re-ranker", str(base or minilm_path()), [(p.query, p.passage) for p in train],
        [p.label for p in train], [(p.query, p.passage) for p in held], describe, max_length=max_length,
        layers=layers, epochs=epochs, batch_size=batch_size, lr=lr, seed=seed)


class PageReranker:
    """A trained re-ranker, loaded for search (`PageReranker.load`); reads page context."""

    page_context = True  # rag/retrieve.py builds `passage(kind, title, chunk)` for it

    def __init__(self, model, metadata: dict, path: Path, *, batch_size: int = 64) -> None:
        self.model = model
        self.metadata = metadata
        self.path = path
        self.batch_size = batch_size
        params = metadata.get("params") or {}
        self.fused_weight = float(params.get("fused_weight", FUSED_WEIGHT))
        self.depth = int(params.get("depth", DEPTH))

    @classmethod
    def load(cls, path: str | Path) -> PageReranker:
        """The re-ranker saved in `path`; a missing, incomplete or altered one is a `UserError`."""
        path = Path(path)
        metadata = cross_encoder.read_metadata(path, METADATA_FILE, what="re-ranker", train=RETRAIN)
        model = cross_encoder.load_checked(path, metadata, METADATA_FILE, what="re-ranker", retrain=RETRAIN,
                                           device_name=cross_encoder.device())
        return cls(model, metadata, path)

    def score(self, query: str, passages: Sequence[str]) -> list[float]:
        """Relevance of each passage to `query` (sigmoid of the logit), in order."""
        if not passages:
            return []
        import torch

        q = rerank_query(query)
        with torch.inference_mode():
            scores = self.model.predict([(q, p) for p in passages], batch_size=self.batch_size,
                                        show_progress_bar=False, convert_to_numpy=True)
        return [float(s) for s in scores]


def manifest_entry(index_dir: Path) -> dict | None:
    """The index's recorded re-ranker ({path, sha256, created_at}) or None."""
    manifest = Path(index_dir) / "manifest.json"
    if not manifest.is_file():
        return None
    try:
        entry = json.loads(manifest.read_text(encoding="utf-8")).get(MANIFEST_KEY)
    except (OSError, ValueError, AttributeError):
        return None
    return entry if isinstance(entry, dict) and "sha256" in entry else None


def open_for_index(index_dir: Path, path: Path | None = None) -> PageReranker | None:
    """The re-ranker to search `index_dir` with: `path` when given, else the one its manifest
    records (None when it records none). A re-ranker whose model differs from the one the index
    was trained with is refused (`ModelMismatchError`)."""
    index_dir = Path(index_dir)
    entry = manifest_entry(index_dir)
    if path is None:
        if entry is None:
            return None
        path = Path(entry["path"])
        path = path if path.is_absolute() else index_dir / path
        if not path.is_dir():
            raise UserError(f"{index_dir}: its manifest records a re-ranker at {path}, which is missing; "
                            f"retrain with `{RETRAIN.replace('DIR', str(index_dir))}`")
    reranker = PageReranker.load(path)
    sha = reranker.metadata["model_sha256"]
    if entry is not None and entry["sha256"] != sha:
        raise ModelMismatchError(
            f"{path}: this re-ranker (sha256 {sha[:12]}) is not the one index {index_dir} was trained with "
            f"(sha256 {entry['sha256'][:12]} at {entry.get('path')}); use the index's own re-ranker or retrain with "
            f"`{RETRAIN.replace('DIR', str(index_dir))}`")
    return reranker


__all__ = ["PageReranker", "TrainPair", "mine_pairs", "open_for_index", "train_reranker"]
