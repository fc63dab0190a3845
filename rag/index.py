"""The faiss vector index: exact inner product by default, HNSW or IVF for large corpora.

Why faiss directly rather than llama-index's FaissVectorStore / FaissMapVectorStore: the map store
reuses faiss ids after a delete (llama-index-vector-stores-faiss 0.7: after delete n0 + add n3, a query with n2's vector
returns n3), the plain store has no delete and no filters, and both persist nodes as JSON. Here the
ids are the store's monotonically increasing vector ids (`DocStore._take_vec_ids`), passed to
`IndexIDMap2.add_with_ids`, so an id names one chunk for the life of the index.

Vectors are L2-normalised, so inner product is cosine similarity.

Kinds:
- `flat`: `IndexIDMap2(IndexFlatIP)`, exact; fast enough per query at the corpus sizes this
  project indexes (query latency by size: BENCHMARKS.md).
- `hnsw`: `IndexIDMap2(IndexHNSWFlat)`, approximate; `efSearch` >= 64, since faiss's default 16
  misses markedly more of the exact top results. HNSW cannot delete, so a delete rebuilds the
  graph from the remaining vectors.
- `ivf`: `IndexIVFFlat` with native ids (it supports add_with_ids and remove_ids itself), trained
  on the first vectors it sees; `nprobe` lists are scanned per query.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Literal

import faiss
import numpy as np
from pydantic import BaseModel, ConfigDict

IndexKind = Literal["flat", "hnsw", "ivf"]
INDEX_FILE = "vectors.faiss"
INDEX_STAMP = "vectors.json"


class IndexConfig(BaseModel):
    """How the faiss index is built (persisted in the store, so a rebuild gives the same kind)."""

    model_config = ConfigDict(extra="forbid")

    kind: IndexKind = "flat"
    hnsw_m: int = 32
    ef_construction: int = 80
    ef_search: int = 64
    nlist: int | None = None  # IVF lists; None -> ~sqrt(n) at training time
    nprobe: int = 16


class VectorIndex:
    """faiss index over (id: int64, vector: (d,) float32 L2-normalised) pairs with stable ids."""

    def __init__(self, dim: int, config: IndexConfig | None = None) -> None:
        self.dim = dim
        self.config = config or IndexConfig()
        self.index = self._empty()

    def _empty(self):
        cfg = self.config
        if cfg.kind == "flat":
            return faiss.IndexIDMap2(faiss.IndexFlatIP(self.dim))
        if cfg.kind == "hnsw":
            base = faiss.IndexHNSWFlat(self.dim, cfg.hnsw_m, faiss.METRIC_INNER_PRODUCT)
            base.hnsw.efConstruction = cfg.ef_construction
            base.hnsw.efSearch = cfg.ef_search
            return faiss.IndexIDMap2(base)
        if cfg.kind == "ivf":
            return None  # built on first add: training needs data
        raise ValueError(f"unknown index kind {cfg.kind!r} (flat, hnsw, ivf)")

    def _build_ivf(self, train: np.ndarray):
        n = len(train)
        # ~sqrt(n) lists; faiss wants >= 39 training points per list for stable k-means.
        nlist = self.config.nlist or max(1, int(np.sqrt(n)))
        nlist = max(1, min(nlist, n // 39 or 1))
        quantizer = faiss.IndexFlatIP(self.dim)
        ivf = faiss.IndexIVFFlat(quantizer, self.dim, nlist, faiss.METRIC_INNER_PRODUCT)
        # Training cost is points x lists x iterations: 64 points per list and 10 iterations keep
        # even a 1M-vector build short; recall is then set by nprobe (BENCHMARKS.md).
        ivf.cp.max_points_per_centroid = 64
        ivf.cp.niter = 10
        ivf.train(train)
        ivf.nprobe = min(self.config.nprobe, nlist)
        # A hashtable direct map allows both reconstruct() and remove_ids() (an array map cannot remove).
        ivf.set_direct_map_type(faiss.DirectMap.Hashtable)
        return ivf

    @property
    def ntotal(self) -> int:
        return 0 if self.index is None else int(self.index.ntotal)

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        """Add (n,) int64 ids with (n, d) float32 L2-normalised vectors."""
        if len(ids) == 0:
            return
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.shape != (len(ids), self.dim):
            raise ValueError(f"vectors {vectors.shape} != ({len(ids)}, {self.dim})")
        if self.index is None:
            self.index = self._build_ivf(vectors)
        self.index.add_with_ids(vectors, np.ascontiguousarray(ids, dtype=np.int64))

    def remove(self, ids: np.ndarray) -> int:
        """Remove the given ids; returns how many were removed."""
        ids = np.ascontiguousarray(ids, dtype=np.int64)
        if len(ids) == 0 or self.ntotal == 0:
            return 0
        if self.config.kind == "hnsw":
            return self._rebuild_without(ids)
        if self.config.kind == "ivf":  # the hashtable direct map removes only by IDSelectorArray
            return int(self.index.remove_ids(faiss.IDSelectorArray(len(ids), faiss.swig_ptr(ids))))
        return int(self.index.remove_ids(faiss.IDSelectorBatch(ids)))

    def _rebuild_without(self, ids: np.ndarray) -> int:
        """HNSW graphs cannot delete: re-add every vector whose id is not in `ids`."""
        all_ids = faiss.vector_to_array(self.index.id_map).astype(np.int64)
        keep = ~np.isin(all_ids, ids)
        vectors = self.index.index.reconstruct_n(0, self.ntotal)
        self.index = self._empty()
        self.add(all_ids[keep], vectors[keep])
        return int((~keep).sum())

    def search(
        self, queries: np.ndarray, k: int, *, allowed_ids: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-k by inner product: ((m, k) float32 scores, (m, k) int64 ids; -1 pads a short list).

        `queries` is (m, d) float32 L2-normalised. `allowed_ids` restricts the search to those ids
        (a faiss IDSelector; exact for `flat`, best-effort for the approximate kinds).
        """
        queries = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
        if self.ntotal == 0 or k <= 0:
            return (np.zeros((len(queries), 0), np.float32), np.zeros((len(queries), 0), np.int64))
        k = min(k, self.ntotal)
        params = self._search_params(allowed_ids)
        # One query gains nothing from OpenMP threads, and on a busy 2-core machine their spin-waits
        # cost more than the search (measured: a single query is slower with 2 threads than with 1).
        threads = faiss.omp_get_max_threads()
        if len(queries) == 1:
            faiss.omp_set_num_threads(1)
        try:
            scores, ids = self.index.search(queries, k, params=params)
        finally:
            faiss.omp_set_num_threads(threads)
        return scores, ids

    def _search_params(self, allowed_ids: np.ndarray | None):
        cfg = self.config
        sel = None
        if allowed_ids is not None:
            sel = faiss.IDSelectorBatch(np.ascontiguousarray(allowed_ids, dtype=np.int64))
        if cfg.kind == "hnsw":
            return faiss.SearchParametersHNSW(sel=sel, efSearch=cfg.ef_search)
        if cfg.kind == "ivf":
            return faiss.SearchParametersIVF(sel=sel, nprobe=min(cfg.nprobe, self.index.nlist))
        return faiss.SearchParameters(sel=sel) if sel is not None else None

    # -- persistence ----------------------------------------------------------------------------
    def save(self, index_dir: Path, generation: int) -> None:
        """Write the index and its stamp atomically (temp file + rename, index first).

        A crash between the two renames leaves the old stamp, whose generation then disagrees with
        the store's, so the next open rebuilds the index from the store instead of trusting it.
        """
        index_dir = Path(index_dir)
        tmp = index_dir / (INDEX_FILE + ".tmp")
        if self.index is not None:  # an IVF index that never saw data has nothing to write
            faiss.write_index(self.index, str(tmp))
            os.replace(tmp, index_dir / INDEX_FILE)
        stamp = {"generation": generation, "ntotal": self.ntotal, "dim": self.dim,
                 "config": self.config.model_dump()}
        write_json_atomic(index_dir / INDEX_STAMP, stamp)

    @classmethod
    def load(cls, index_dir: Path, *, generation: int) -> VectorIndex | None:
        """The saved index if its stamp matches `generation` (else None: rebuild from the store)."""
        index_dir = Path(index_dir)
        try:
            stamp = json.loads((index_dir / INDEX_STAMP).read_text())
            if stamp["generation"] != generation:
                return None
            out = cls(stamp["dim"], IndexConfig.model_validate(stamp["config"]))
            if out.config.kind == "ivf" and stamp["ntotal"] == 0:
                return out
            index = faiss.read_index(str(index_dir / INDEX_FILE))
        except (OSError, ValueError, KeyError, RuntimeError):
            return None
        if index.ntotal != stamp["ntotal"]:
            return None
        out.index = index
        if out.config.kind == "hnsw":
            faiss.downcast_index(index.index).hnsw.efSearch = out.config.ef_search
        return out

    @classmethod
    def build(cls, ids: np.ndarray, vectors: np.ndarray, dim: int, config: IndexConfig) -> VectorIndex:
        """A fresh index over (n,) int64 ids and (n, dim) float32 vectors."""
        out = cls(dim, config)
        out.add(ids, vectors)
        return out


def write_json_atomic(path: Path, payload) -> None:
    """Write JSON to `path` via a temp file + fsync + rename (never a torn file)."""
    tmp = Path(str(path) + ".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(payload, fh, indent=2, sort_keys=True)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
