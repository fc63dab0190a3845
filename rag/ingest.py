"""The ingest pipeline: files and folders -> parsed pages and chunks -> vectors -> index directory.

Incremental by content: a file whose sha256 is already indexed under its path is left alone; a
changed file replaces its old version; a file identical to an indexed one (same sha256, another
path) is linked to the stored document, not stored twice; with `remove_missing`, documents whose
files are all gone are deleted. Each document is committed to the SQLite store in its own
transaction after it is embedded, so an interrupted ingest keeps every finished document and a
rerun resumes where it stopped. The faiss and BM25 caches are saved once at the end, stamped with
the store's generation (rag/store.py explains the crash story).

Index directory layout: store.sqlite (source of truth), vectors.faiss + vectors.json, bm25/,
manifest.json (documents, sha256, paths, embedder), ingest_report.json (the last run's report).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterable
from pathlib import Path

from pydantic import BaseModel, Field

from cai.core.contracts import IngestIssue
from cai.core.errors import ModelMismatchError
from cai.core.progress import progress_bar
from rag.embed import Embedder, EmbedderSpec, Precision, resolve_model
from rag.index import IndexConfig, IndexKind, VectorIndex, write_json_atomic
from rag.lexical import LexicalIndex, bm25_corpus
from rag.retrieve import check_same_embedder, load_or_rebuild_caches
from rag.store import DocStore

SUPPORTED_SUFFIXES = frozenset({".pdf", ".html", ".htm", ".txt", ".md", ".markdown"})
MANIFEST_FILE = "manifest.json"
REPORT_FILE = "ingest_report.json"


class LinkedFile(BaseModel):
    """A file whose bytes equal an already indexed document's: stored once, linked to it."""

    path: str
    doc_id: str


class IngestReport(BaseModel):
    """What one `ingest` run did (also written to INDEX_DIR/ingest_report.json)."""

    index_dir: str
    embed_model: str
    added: list[str] = Field(default_factory=list, description="doc_ids of new documents")
    updated: list[str] = Field(default_factory=list, description="doc_ids re-ingested after a change")
    unchanged: list[str] = Field(default_factory=list, description="doc_ids already up to date")
    linked: list[LinkedFile] = Field(default_factory=list, description="duplicates stored once")
    removed: list[str] = Field(default_factory=list, description="doc_ids deleted (files gone)")
    issues: list[IngestIssue] = Field(default_factory=list, description="skipped / degraded files")
    n_pages_added: int = 0
    n_chunks_added: int = 0
    n_documents: int = 0  # in the index after this run
    n_chunks: int = 0  # in the index after this run
    seconds: float = 0.0
    seconds_embedding: float = 0.0

    @property
    def ingested_anything(self) -> bool:
        """True when the index holds the inputs (new, changed, linked or already up to date).

        The CLI exits 0 when this is true and 2 when nothing could be ingested.
        """
        return bool(self.added or self.updated or self.unchanged or self.linked or self.removed)

    def summary(self) -> str:
        skipped = sum(i.status == "skipped" for i in self.issues)
        degraded = sum(i.status == "degraded" for i in self.issues)
        return (
            f"{len(self.added)} added, {len(self.updated)} updated, {len(self.unchanged)} unchanged, "
            f"{len(self.linked)} duplicate, {len(self.removed)} removed, {skipped} skipped, "
            f"{degraded} degraded; index: {self.n_documents} documents, {self.n_chunks} chunks "
            f"({self.seconds:.1f} s)"
        )


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def discover_files(paths: Iterable[Path], issues: list[IngestIssue]) -> list[Path]:
    """Supported files among `paths` (folders searched recursively, hidden entries ignored),
    resolved and de-duplicated, in sorted order. Missing or unsupported inputs become issues."""
    found: set[Path] = set()
    for raw in paths:
        path = Path(raw).expanduser()
        if path.is_dir():
            try:  # a folder that vanishes or turns unreadable mid-walk is a skipped input, not a crash
                for f in path.rglob("*"):
                    rel = f.relative_to(path).parts
                    if not any(p.startswith(".") for p in rel) and f.suffix.lower() in SUPPORTED_SUFFIXES:
                        if _is_file(f, issues):
                            found.add(f.resolve())
            except OSError as exc:
                issues.append(IngestIssue(path=str(path), status="skipped",
                                          reason=f"cannot read folder: {exc.strerror or exc}"))
        elif path.is_file():
            if path.suffix.lower() in SUPPORTED_SUFFIXES:
                found.add(path.resolve())
            else:
                issues.append(IngestIssue(path=str(path), status="skipped",
                                          reason=f"unsupported file type {path.suffix or '(none)'}; "
                                                 f"supported: {', '.join(sorted(SUPPORTED_SUFFIXES))}"))
        else:
            issues.append(IngestIssue(path=str(path), status="skipped", reason="no such file or folder"))
    return sorted(found)


def _is_file(path: Path, issues: list[IngestIssue]) -> bool:
    """Path.is_file, except that a file whose stat fails (e.g. permission denied on its folder) is
    recorded as skipped instead of aborting the discovery of every other file."""
    try:
        return path.is_file()
    except OSError as exc:
        issues.append(IngestIssue(path=str(path), status="skipped",
                                  reason=f"cannot read file: {exc.strerror or exc}"))
        return False


class _Session:
    """State of one ingest run: the store, the embedder (loaded on first need), the caches."""

    def __init__(self, index_dir: Path, embed_model: str | None, precision: Precision,
                 index_kind: IndexKind | None, progress: bool) -> None:
        self.index_dir = index_dir
        self.store = DocStore.open(index_dir, create=True)
        self.spec = self.store.embedder_spec
        self.requested_model = embed_model
        self.precision = precision
        self.progress = progress
        if self.spec is not None and embed_model is not None:
            if resolve_model(embed_model)[1] != self.spec.model_name:
                raise ModelMismatchError(
                    f"this index was built with {self.spec.describe()}, not {embed_model!r}; omit "
                    "--embed-model to use the index's model, or ingest into a new --index directory"
                )
        config = IndexConfig.model_validate_json(self.store.get_meta("index_config") or "{}")
        if index_kind is not None and index_kind != config.kind:
            config = IndexConfig(kind=index_kind)
        self.config = config
        self._embedder: Embedder | None = None
        self._chunker = None
        self.vectors: VectorIndex | None = None
        if self.spec is not None:
            self.vectors, _ = load_or_rebuild_caches(index_dir, self.store, self.spec)
            if self.vectors.config != config:  # a new index kind: rebuild from the stored vectors
                ids, vecs = self.store.all_vectors(self.spec.dim)
                self.vectors = VectorIndex.build(ids, vecs, self.spec.dim, config)
        self.changed = False

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            model = (self.spec.model_name if self.spec is not None and self.requested_model is None
                     else self.requested_model)
            self._embedder = Embedder.shared(
                model, precision=self.precision if self.spec is None else self.spec.precision)
            if self.spec is None:
                self.spec = self._embedder.spec
                with self.store.transaction():
                    self.store.set_embedder_spec(self.spec)
                    self.store.set_meta("index_config", self.config.model_dump_json())
                self.vectors = VectorIndex(self.spec.dim, self.config)
            else:
                check_same_embedder(self.spec, self._embedder.spec)
        return self._embedder

    @property
    def chunker(self):
        if self._chunker is None:
            from rag.chunking import Chunker

            self._chunker = Chunker.for_model(self.embedder.load_path)
        return self._chunker


def ingest(
    paths: list[Path],
    index_dir: Path,
    *,
    embed_model: str | None = None,
    remove_missing: bool = False,
    progress: bool = True,
    precision: Precision = "fp32",
    index_kind: IndexKind | None = None,
) -> IngestReport:
    """Ingest files/folders into `index_dir` (created if needed); see the module docstring.

    embed_model: sentence-transformers id or local path (None: the index's model, or the packaged
    MiniLM for a new index); a different model for an existing index raises ModelMismatchError.
    precision: "fp32" or "int8" (dynamic quantisation) for a new index. index_kind: "flat",
    "hnsw" or "ivf" (None keeps the index's kind; "flat" for a new index).
    """
    t0 = time.perf_counter()
    index_dir = Path(index_dir)
    session = _Session(index_dir, embed_model, precision, index_kind, progress)
    report = IngestReport(index_dir=str(index_dir), embed_model=embed_model or (
        session.spec.model_name if session.spec else resolve_model(None)[1]))
    files = discover_files(paths, report.issues)
    with progress_bar(progress) as bar:
        files_task = bar.add_task("files", total=len(files))
        chunks_task = bar.add_task("embedding chunks", total=0)
        for path in files:
            _ingest_file(session, path, report, lambda n: bar.advance(chunks_task, n),
                         lambda n: bar.update(chunks_task, total=bar.tasks[chunks_task].total + n))
            bar.advance(files_task)
    if remove_missing:
        _remove_missing(session, report)
    _finish(session, report)
    report.seconds = round(time.perf_counter() - t0, 3)
    write_json_atomic(index_dir / REPORT_FILE, report.model_dump(mode="json"))
    session.store.close()
    return report


def _ingest_file(session: _Session, path: Path, report: IngestReport, on_batch, on_planned) -> None:
    """Classify one file (unchanged / duplicate / new / changed) and store it accordingly."""
    from rag.parse import UnreadableFile, doc_id_for, parse_file

    store, key = session.store, str(path)
    try:  # the file may vanish or lose its permissions between discovery and now: skip it, not the run
        sha = sha256_of(path)
    except OSError as exc:
        report.issues.append(IngestIssue(path=key, status="skipped",
                                         reason=f"cannot read file: {exc.strerror or exc}"))
        return
    old_doc = store.paths().get(key)
    same_bytes_doc = store.doc_id_by_sha(sha)
    if same_bytes_doc is not None and same_bytes_doc == old_doc:
        report.unchanged.append(old_doc)
        return
    if same_bytes_doc is not None:  # identical to a stored document: link, never store twice
        with store.transaction():
            _drop_vectors(session, store.unlink_path(key), report, old_doc)
            store.link_path(key, same_bytes_doc)
        session.changed = True
        report.linked.append(LinkedFile(path=key, doc_id=same_bytes_doc))
        return
    sole_owner = old_doc is not None and list(store.paths().values()).count(old_doc) == 1
    taken = {d.doc_id for d in store.documents()} - ({old_doc} if sole_owner else set())
    doc_id = old_doc if sole_owner else doc_id_for(path, taken)
    try:
        parsed = parse_file(path, doc_id=doc_id, chunker=session.chunker)
    except UnreadableFile as exc:
        report.issues.append(IngestIssue(path=key, status="skipped", reason=str(exc)))
        return
    report.issues.extend(parsed.issues)
    on_planned(len(parsed.chunks))
    t_embed = time.perf_counter()
    vectors = session.embedder.encode([c.text for c in parsed.chunks], on_batch=on_batch)
    report.seconds_embedding += time.perf_counter() - t_embed
    with store.transaction():
        removed = store.unlink_path(key) if old_doc is not None else []
        new_ids = store.add_document(parsed, vectors)
        store.link_path(key, doc_id)
    session.vectors.remove(_as_ids(removed))
    session.vectors.add(new_ids, vectors)
    session.changed = True
    (report.updated if old_doc is not None else report.added).append(doc_id)
    report.n_pages_added += len(parsed.pages)
    report.n_chunks_added += len(parsed.chunks)


def _as_ids(ids: list[int]):
    import numpy as np

    return np.asarray(ids, dtype=np.int64)


def _drop_vectors(session: _Session, removed: list[int], report: IngestReport, doc_id: str | None) -> None:
    """Remove a deleted document's vectors from the in-memory index and note it in the report."""
    if removed and session.vectors is not None:
        session.vectors.remove(_as_ids(removed))
        if doc_id is not None:
            report.removed.append(doc_id)


def _remove_missing(session: _Session, report: IngestReport) -> None:
    """Forget paths that no longer exist; delete documents left without any path."""
    store = session.store
    for path, doc_id in sorted(store.paths().items()):
        if Path(path).exists():
            continue
        with store.transaction():
            removed = store.unlink_path(path)
        session.changed = True
        if removed:
            _drop_vectors(session, removed, report, doc_id)
        elif store.document(doc_id) is None:  # a document with no chunks: deleted all the same
            report.removed.append(doc_id)


def _finish(session: _Session, report: IngestReport) -> None:
    """Save the caches (when anything changed) and the manifest; fill the totals of the report."""
    store, index_dir = session.store, session.index_dir
    if session.spec is not None and session.vectors is not None:
        if session.config.model_dump_json() != store.get_meta("index_config"):
            with store.transaction():  # a new index kind; bumps the generation, so caches re-save
                store.set_meta("index_config", session.config.model_dump_json())
        gen = store.generation
        if session.changed or VectorIndex.load(index_dir, generation=gen) is None:
            session.vectors.save(index_dir, gen)
            LexicalIndex.build(*bm25_corpus(store)).save(index_dir, gen)
    report.n_documents = len(store.documents())
    report.n_chunks = store.count_chunks()
    manifest = manifest_of(store, session.spec, session.config)
    try:  # keys other commands record with the index (e.g. `cai checker train`'s verifier) survive re-ingestion
        previous = json.loads((index_dir / MANIFEST_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        previous = {}
    manifest.update({key: value for key, value in previous.items() if key not in manifest})
    write_json_atomic(index_dir / MANIFEST_FILE, manifest)


def manifest_of(store: DocStore, spec: EmbedderSpec | None, config: IndexConfig) -> dict:
    """The manifest: embedder, index kind, generation, and every document with sha256 and paths."""
    paths: dict[str, list[str]] = {}
    for path, doc_id in store.paths().items():
        paths.setdefault(doc_id, []).append(path)
    return {
        "embedder": spec.model_dump() if spec else None,
        "index": config.model_dump(),
        "generation": store.generation,
        "documents": [
            {**d.model_dump(mode="json"), "paths": sorted(paths.get(d.doc_id, []))}
            for d in store.documents()
        ],
    }
