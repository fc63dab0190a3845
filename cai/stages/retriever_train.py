"""`cai retriever train`: a page re-ranker for an index, trained on questions synthesized from the
index's own pages (`rag.rerank_synth`; the model and how search uses it: `rag.rerank`).

Read top to bottom:

1. **setup** — open the index (a missing or empty one is a `UserError` naming it) without any
   re-ranker, and read every page with its kind.
2. **synthesize** — `rag.rerank_synth.synthesize_queries`: line items, headings and sentences of
   the pages become questions; `--max-queries` keeps a seeded subset.
3. **mine** — `rag.rerank.mine_pairs`: each question's own chunk as the positive; the first
   stage's own top pages (hybrid search with routing) that do not hold its anchor as hard negatives.
4. **train** — `rag.rerank.train_reranker`, held out by document, written atomically to the
   output directory (`INDEX/reranker` by default).
5. **save** — the index's `manifest.json` gets a `reranker` entry (path, sha256 of the model files,
   created_at), replaced atomically; from then on `cai search`, `cai answer`, `cai generate` and
   `cai eval` on this index re-rank with it.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from cai.core.errors import UserError
from rag import cross_encoder
from rag.rerank import MANIFEST_KEY, RERANKER_DIR, TrainPair, mine_pairs, train_reranker
from rag.rerank_synth import SynthQuery, synthesize_queries
from rag.retrieve import Retriever


@dataclass(frozen=True)
class Settings:
    """What `cai retriever train` takes besides the index (defaults are its options' defaults)."""

    epochs: float = 1.0
    max_queries: int | None = 3000
    per_page: int = 2
    layers: int = 1
    max_length: int = 128
    lr: float = 1e-5
    seed: int = 0


@dataclass
class Setup:
    """The open index, where the re-ranker goes, and the settings."""

    index_dir: Path
    out_dir: Path
    retriever: Retriever
    settings: Settings


@dataclass(frozen=True)
class Result:
    out_dir: Path
    metadata: dict
    line: str


def setup(index_dir: Path, out_dir: Path | None, settings: Settings) -> Setup:
    """The index opened without a re-ranker (`UserError` for a missing or empty one)."""
    index_dir = Path(index_dir)
    if not index_dir.is_dir():
        raise UserError(f"{index_dir}: no index directory; build one with `cai ingest PATH --index {index_dir}`")
    retriever = Retriever.open(index_dir, rerank=False)
    if not retriever.documents:
        retriever.close()
        raise UserError(f"{index_dir}: the index holds no documents; "
                        f"add some with `cai ingest PATH --index {index_dir}`")
    return Setup(index_dir, Path(out_dir) if out_dir else index_dir / RERANKER_DIR, retriever, settings)


def synthesize(s: Setup) -> list[SynthQuery]:
    """Questions from every page; at most `max_queries`, a seeded sample."""
    store = s.retriever.store
    pages = []
    for doc in s.retriever.documents:
        kinds = store.page_kinds((doc.doc_id, p) for p in range(1, doc.n_pages + 1))
        for number in range(1, doc.n_pages + 1):
            page = store.page(doc.doc_id, number)
            if page is not None and page.text.strip():
                pages.append((doc.doc_id, number, page.text, kinds.get((doc.doc_id, number), "other")))
    queries = synthesize_queries(s.retriever.documents, pages, seed=s.settings.seed, per_page=s.settings.per_page)
    if s.settings.max_queries is not None and len(queries) > s.settings.max_queries:
        queries = sorted(random.Random(s.settings.seed).sample(queries, s.settings.max_queries),
                         key=lambda q: (q.doc_id, q.page))
    if not queries:
        raise UserError(f"{s.index_dir}: no training questions could be written from its {len(pages)} pages "
                        "(no table rows, headings or prose sentences)")
    return queries


def mine(s: Setup, queries: list[SynthQuery]) -> list[TrainPair]:
    pairs = mine_pairs(s.retriever, queries, seed=s.settings.seed)
    if not any(p.label == 0 for p in pairs):
        raise UserError(f"{s.index_dir}: no negative pages to train against (the index needs pages that "
                        "do not answer the synthesized questions: more than one page per filing)")
    return pairs


def train(s: Setup, queries: list[SynthQuery], pairs: list[TrainPair]) -> dict:
    """Train and save the re-ranker in `s.out_dir`; its `reranker.json`."""
    st = s.settings
    extra = {"queries_by_kind": dict(Counter(q.kind for q in queries)), "documents": len(s.retriever.documents)}
    return train_reranker(pairs, s.out_dir, layers=st.layers, max_length=st.max_length, epochs=st.epochs,
                          lr=st.lr, seed=st.seed, extra=extra)


def save(s: Setup, metadata: dict) -> dict:
    """Record the re-ranker in the index's manifest.json (atomically); the entry written."""
    return cross_encoder.record_in_manifest(s.index_dir, MANIFEST_KEY, s.out_dir, metadata)


def summary(queries: list[SynthQuery], pairs: list[TrainPair], metadata: dict) -> str:
    kinds = ", ".join(f"{k} {n}" for k, n in sorted(Counter(q.kind for q in queries).items()))
    held = metadata["eval"]["positive_first"]
    held_text = (f"held-out: the right page first for {held:.3f} of the questions of "
                 f"{len(metadata['counts']['eval_documents'])} held-out document(s)" if held is not None
                 else "no held-out document")
    return (f"re-ranker trained on {len(pairs)} pairs from {len(queries)} questions ({kinds}) of "
            f"{metadata['documents']} documents in {metadata['train_seconds']:.0f} s; {held_text}")


def run(index_dir: Path, out_dir: Path | None = None, settings: Settings | None = None) -> Result:
    """setup → synthesize → mine → train → save."""
    s = setup(index_dir, out_dir, settings or Settings())
    try:
        queries = synthesize(s)
        pairs = mine(s, queries)
        metadata = train(s, queries, pairs)
        save(s, metadata)
    finally:
        s.retriever.close()
    return Result(s.out_dir, metadata, summary(queries, pairs, metadata))
