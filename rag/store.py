"""The document store: one SQLite file holding everything a locator or a search hit needs.

SQLite is the index's source of truth. It holds every document (sha256, paths, metadata), every
page's exact extracted text with its sentence spans (so a locator always resolves), every chunk with
its vector id and its embedding, and the embedder spec. The faiss and BM25 files beside it are
derived caches stamped with the store's `generation`; when a stamp disagrees (a crash between the
SQLite commit and a cache write), the cache is rebuilt from here. Every change is one SQLite
transaction, so a crash leaves either the old or the new state, never a mix.

Schema versions: 1 had no page kinds; 2 adds `pages.kind` (rag/page_kinds.py) and the `names`
table (the names a filing gives itself, rag/names.py). A store newer than this code is refused
rather than misread. Page kinds, names and document metadata (rag/metadata.py) are derived from
the stored page text by rules; `DERIVED_VERSION` counts those rules, and a store whose derived
data is older (including every version-1 store) is brought up to date in place the first time it
is opened: one transaction, nothing re-extracted or re-embedded, the faiss and BM25 caches stay
valid. A read-only store keeps serving its older derived data (a version-1 one cannot: it lacks
the columns).

Vector ids are assigned here, monotonically (`next_vec_id` never goes down, even after deletes),
which avoids the llama-index FaissMapVectorStore id-reuse bug (llama-index-vector-stores-faiss 0.7).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cai.core.contracts import (
    Document,
    DocumentMetadata,
    Locator,
    PageText,
    ParsedDocument,
    SentenceSpan,
)
from rag.embed import EmbedderSpec
from rag.metadata import read_metadata
from rag.names import FilerName, text_names
from rag.page_kinds import classify_pages

STORE_FILE = "store.sqlite"
SCHEMA_VERSION = 2
# Bump when rag/page_kinds.py, rag/names.py or rag/metadata.py would derive different data.
DERIVED_VERSION = 3

_NAMES_TABLE = """CREATE TABLE IF NOT EXISTS names (
    doc_id TEXT NOT NULL REFERENCES documents(doc_id) ON DELETE CASCADE, name TEXT NOT NULL,
    source TEXT NOT NULL, PRIMARY KEY (doc_id, name, source))"""
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS documents (
    doc_id TEXT PRIMARY KEY, sha256 TEXT NOT NULL UNIQUE, path TEXT NOT NULL,
    n_pages INTEGER NOT NULL, metadata TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS paths (
    path TEXT PRIMARY KEY, doc_id TEXT NOT NULL REFERENCES documents(doc_id) ON DELETE CASCADE);
CREATE TABLE IF NOT EXISTS pages (
    doc_id TEXT NOT NULL REFERENCES documents(doc_id) ON DELETE CASCADE, page INTEGER NOT NULL,
    text TEXT NOT NULL, sentences TEXT NOT NULL, kind TEXT NOT NULL DEFAULT 'other',
    PRIMARY KEY (doc_id, page));
CREATE TABLE IF NOT EXISTS chunks (
    vec_id INTEGER PRIMARY KEY, chunk_id TEXT NOT NULL UNIQUE,
    doc_id TEXT NOT NULL REFERENCES documents(doc_id) ON DELETE CASCADE, page INTEGER NOT NULL,
    char_start INTEGER NOT NULL, char_end INTEGER NOT NULL, sentence INTEGER NOT NULL,
    text TEXT NOT NULL, sentences TEXT NOT NULL, vector BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS chunks_by_doc ON chunks(doc_id);
CREATE INDEX IF NOT EXISTS paths_by_doc ON paths(doc_id);
""" + _NAMES_TABLE + ";\n"


@dataclass(frozen=True)
class StoredChunk:
    """One chunk row: its vector id, ids, locator of its first char, and its text."""

    vec_id: int
    chunk_id: str
    locator: Locator
    text: str


class DocStore:
    """SQLite-backed store of documents, pages, chunks and vectors (see module docstring)."""

    def __init__(self, conn: sqlite3.Connection, path: Path) -> None:
        self.conn = conn
        self.path = path

    @classmethod
    def open(cls, index_dir: Path, *, create: bool = False) -> DocStore:
        path = Path(index_dir) / STORE_FILE
        if not path.exists() and not create:
            from cai.core.errors import IndexMissingError

            raise IndexMissingError(
                f"no index at {index_dir} (missing {STORE_FILE}); build one with `cai ingest PATH --index {index_dir}`"
            )
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = None
        try:
            conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            return cls._opened(conn, path, index_dir)
        except sqlite3.DatabaseError as e:
            if conn is not None:
                conn.close()
            raise _open_error(path, index_dir, e) from None

    @classmethod
    def _opened(cls, conn: sqlite3.Connection, path: Path, index_dir: Path) -> DocStore:
        """The store on an open connection: pragmas, schema checks and upgrades."""
        conn.execute("PRAGMA foreign_keys = ON")
        # WAL: a reader (cai search) never sees a half-written ingest, and commits are atomic.
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        version = _schema_version(conn)
        if version is not None and version > SCHEMA_VERSION:
            conn.close()
            from cai.core.errors import UserError

            raise UserError(f"index {index_dir} has store schema {version}, newer than this cai ({SCHEMA_VERSION}); "
                            "upgrade cai or ingest into a new --index directory")
        if version is not None and (version < SCHEMA_VERSION or _derived_version(conn) != DERIVED_VERSION):
            _rederive(conn, index_dir, version)
        conn.executescript(_SCHEMA)
        store = cls(conn, path)
        if store.get_meta("schema_version") is None:
            store.set_meta("schema_version", str(SCHEMA_VERSION))
            store.set_meta("derived_version", str(DERIVED_VERSION))
        return store

    def close(self) -> None:
        self.conn.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """All-or-nothing block; bumps `generation` so derived caches know they are stale."""
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield
            self.set_meta("generation", str(self.generation + 1))
            self.conn.execute("COMMIT")
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise

    # -- meta -----------------------------------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        row = self.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        self.conn.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, value))

    @property
    def generation(self) -> int:
        return int(self.get_meta("generation") or 0)

    @property
    def embedder_spec(self) -> EmbedderSpec | None:
        raw = self.get_meta("embedder")
        return EmbedderSpec.model_validate_json(raw) if raw else None

    def set_embedder_spec(self, spec: EmbedderSpec) -> None:
        self.set_meta("embedder", spec.model_dump_json())

    def _take_vec_ids(self, n: int) -> np.ndarray:
        """Reserve `n` fresh vector ids (int64), never reusing one, even after deletes."""
        start = int(self.get_meta("next_vec_id") or 0)
        self.set_meta("next_vec_id", str(start + n))
        return np.arange(start, start + n, dtype=np.int64)

    # -- documents ------------------------------------------------------------------------------
    def _document_from_row(self, row) -> Document:
        doc_id, sha, path, n_pages, meta = row
        return Document(
            doc_id=doc_id, path=path, sha256=sha, n_pages=n_pages,
            metadata=DocumentMetadata.model_validate_json(meta),
        )

    def documents(self) -> list[Document]:
        rows = self.conn.execute(
            "SELECT doc_id, sha256, path, n_pages, metadata FROM documents ORDER BY doc_id"
        )
        return [self._document_from_row(r) for r in rows]

    def document(self, doc_id: str) -> Document | None:
        row = self.conn.execute(
            "SELECT doc_id, sha256, path, n_pages, metadata FROM documents WHERE doc_id = ?", (doc_id,)
        ).fetchone()
        return self._document_from_row(row) if row else None

    def doc_id_by_sha(self, sha256: str) -> str | None:
        row = self.conn.execute("SELECT doc_id FROM documents WHERE sha256 = ?", (sha256,)).fetchone()
        return row[0] if row else None

    def paths(self) -> dict[str, str]:
        """Every known file path -> the doc_id its bytes are stored under."""
        return dict(self.conn.execute("SELECT path, doc_id FROM paths"))

    def link_path(self, path: str, doc_id: str) -> None:
        """Record that `path` holds the bytes of `doc_id` (identical files are stored once)."""
        self.conn.execute("INSERT OR REPLACE INTO paths(path, doc_id) VALUES (?, ?)", (path, doc_id))

    def unlink_path(self, path: str) -> list[int]:
        """Forget `path`; when it was the document's last path, delete the document.

        Returns the vector ids deleted with it (empty when the document lives on).
        """
        row = self.conn.execute("SELECT doc_id FROM paths WHERE path = ?", (path,)).fetchone()
        if row is None:
            return []
        self.conn.execute("DELETE FROM paths WHERE path = ?", (path,))
        left = self.conn.execute("SELECT COUNT(*) FROM paths WHERE doc_id = ?", (row[0],)).fetchone()
        return self.delete_document(row[0]) if left[0] == 0 else []

    def delete_document(self, doc_id: str) -> list[int]:
        """Delete a document with its pages, chunks and paths; returns its vector ids."""
        ids = [r[0] for r in self.conn.execute("SELECT vec_id FROM chunks WHERE doc_id = ?", (doc_id,))]
        self.conn.execute("DELETE FROM documents WHERE doc_id = ?", (doc_id,))
        return ids

    def add_document(self, parsed: ParsedDocument, vectors: np.ndarray) -> np.ndarray:
        """Insert a parsed document and its chunk vectors ((n_chunks, d) float32); returns vec ids."""
        doc = parsed.document
        if len(vectors) != len(parsed.chunks):
            raise ValueError(f"{len(vectors)} vectors for {len(parsed.chunks)} chunks of {doc.doc_id}")
        self.conn.execute(
            "INSERT INTO documents(doc_id, sha256, path, n_pages, metadata) VALUES (?, ?, ?, ?, ?)",
            (doc.doc_id, doc.sha256, doc.path, doc.n_pages, doc.metadata.model_dump_json()),
        )
        texts = [p.text for p in parsed.pages]
        self.conn.executemany(
            "INSERT INTO pages(doc_id, page, text, sentences, kind) VALUES (?, ?, ?, ?, ?)",
            ((doc.doc_id, p.page, p.text, _spans_json(p.sentences), kind)
             for p, kind in zip(parsed.pages, classify_pages(texts), strict=True)),
        )
        self.conn.executemany("INSERT OR IGNORE INTO names(doc_id, name, source) VALUES (?, ?, ?)",
                              ((doc.doc_id, n.name, n.source) for n in text_names(texts)))
        ids = self._take_vec_ids(len(parsed.chunks))
        rows = (
            (int(vid), c.chunk_id, doc.doc_id, c.locator.page, c.locator.char_start,
             c.locator.char_end, c.locator.sentence, c.text, _spans_json(c.sentences),
             np.ascontiguousarray(vec, dtype=np.float32).tobytes())
            for vid, c, vec in zip(ids, parsed.chunks, vectors, strict=True)
        )
        self.conn.executemany("INSERT INTO chunks VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
        return ids

    # -- pages and chunks -----------------------------------------------------------------------
    def page(self, doc_id: str, page: int) -> PageText | None:
        row = self.conn.execute(
            "SELECT text, sentences FROM pages WHERE doc_id = ? AND page = ?", (doc_id, page)
        ).fetchone()
        if row is None:
            return None
        spans = [SentenceSpan(sentence=s, char_start=a, char_end=b) for s, a, b in json.loads(row[1])]
        return PageText(doc_id=doc_id, page=page, text=row[0], sentences=spans)

    def chunks(self, vec_ids: Iterable[int]) -> dict[int, StoredChunk]:
        """vec_id -> StoredChunk for the ids that exist."""
        ids = [int(i) for i in vec_ids]
        out: dict[int, StoredChunk] = {}
        for start in range(0, len(ids), 900):  # SQLite's bound-parameter limit
            part = ids[start : start + 900]
            marks = ",".join("?" * len(part))
            for r in self.conn.execute(
                "SELECT vec_id, chunk_id, doc_id, page, char_start, char_end, sentence, text "
                f"FROM chunks WHERE vec_id IN ({marks})", part,
            ):
                loc = Locator(doc_id=r[2], page=r[3], char_start=r[4], char_end=r[5], sentence=r[6])
                out[r[0]] = StoredChunk(vec_id=r[0], chunk_id=r[1], locator=loc, text=r[7])
        return out

    def vec_ids_of_documents(self, doc_ids: Iterable[str]) -> np.ndarray:
        """(n,) int64 vector ids of all chunks of the given documents."""
        docs = list(doc_ids)
        if not docs:
            return np.zeros(0, dtype=np.int64)
        marks = ",".join("?" * len(docs))
        rows = self.conn.execute(f"SELECT vec_id FROM chunks WHERE doc_id IN ({marks})", docs)
        return np.fromiter((r[0] for r in rows), dtype=np.int64)

    def vec_ids_of_pages(self, keys: Iterable[tuple[str, int]]) -> list[int]:
        """Vector ids of the chunks on the given (doc_id, page)s, in page then reading order."""
        out: list[int] = []
        for doc_id, page in keys:
            out += [r[0] for r in self.conn.execute(
                "SELECT vec_id FROM chunks WHERE doc_id = ? AND page = ? ORDER BY char_start", (doc_id, page))]
        return out

    def page_heads(self, keys: Iterable[tuple[str, int]], chars: int = 400) -> dict[tuple[str, int], str]:
        """(doc_id, page) -> the first `chars` characters of the page, for the pages that exist."""
        out: dict[tuple[str, int], str] = {}
        for doc_id, page in set(keys):
            row = self.conn.execute("SELECT substr(text, 1, ?) FROM pages WHERE doc_id = ? AND page = ?",
                                    (chars, doc_id, page)).fetchone()
            if row is not None:
                out[(doc_id, page)] = row[0]
        return out

    def vectors(self, vec_ids: np.ndarray, dim: int) -> tuple[np.ndarray, np.ndarray]:
        """((n,) int64 ids found, (n, dim) float32 vectors) for the given vector ids."""
        ids = [int(i) for i in vec_ids]
        found: list[int] = []
        blobs: list[bytes] = []
        for start in range(0, len(ids), 900):
            part = ids[start : start + 900]
            marks = ",".join("?" * len(part))
            for vid, blob in self.conn.execute(
                f"SELECT vec_id, vector FROM chunks WHERE vec_id IN ({marks})", part
            ):
                found.append(vid)
                blobs.append(blob)
        vecs = np.frombuffer(b"".join(blobs), dtype=np.float32).reshape(len(found), dim)
        return np.asarray(found, dtype=np.int64), vecs

    def all_vectors(self, dim: int) -> tuple[np.ndarray, np.ndarray]:
        """((n,) int64 vec ids ascending, (n, dim) float32 vectors) of every chunk."""
        rows = self.conn.execute("SELECT vec_id, vector FROM chunks ORDER BY vec_id").fetchall()
        ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        vecs = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32).reshape(len(rows), dim)
        return ids, vecs

    def all_chunk_texts(self) -> tuple[np.ndarray, list[str]]:
        """((n,) int64 vec ids ascending, their chunk texts)."""
        rows = self.conn.execute("SELECT vec_id, text FROM chunks ORDER BY vec_id").fetchall()
        return np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows)), [r[1] for r in rows]

    def chunk_texts_with_page_heads(self, head_chars: int = 400) -> tuple[np.ndarray, list[str], list[str]]:
        """((n,) int64 vec ids ascending, chunk texts, the first `head_chars` of each chunk's page)."""
        rows = self.conn.execute(
            "SELECT c.vec_id, c.text, substr(p.text, 1, ?) FROM chunks c JOIN pages p "
            "ON p.doc_id = c.doc_id AND p.page = c.page ORDER BY c.vec_id", (head_chars,),
        ).fetchall()
        ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        return ids, [r[1] for r in rows], [r[2] for r in rows]

    # -- page kinds and filer names (schema 2) ---------------------------------------------------
    def page_kinds(self, keys: Iterable[tuple[str, int]]) -> dict[tuple[str, int], str]:
        """(doc_id, page) -> page kind (rag/page_kinds.py) for the pages that exist."""
        wanted = set(keys)
        out: dict[tuple[str, int], str] = {}
        for doc_id in {d for d, _ in wanted}:
            for page, kind in self.conn.execute("SELECT page, kind FROM pages WHERE doc_id = ?", (doc_id,)):
                if (doc_id, page) in wanted:
                    out[(doc_id, page)] = kind
        return out

    def kinds_of_chunks(self, vec_ids: Iterable[int]) -> dict[int, str]:
        """vec_id -> the kind of the page the chunk is on."""
        ids = [int(i) for i in vec_ids]
        out: dict[int, str] = {}
        for start in range(0, len(ids), 900):
            part = ids[start : start + 900]
            marks = ",".join("?" * len(part))
            out.update(self.conn.execute(
                "SELECT c.vec_id, p.kind FROM chunks c JOIN pages p ON p.doc_id = c.doc_id AND p.page = c.page "
                f"WHERE c.vec_id IN ({marks})", part))
        return out

    def vec_ids_of_chunks(self, chunk_ids: Iterable[str]) -> dict[str, int]:
        """chunk_id -> vector id for the chunks that exist."""
        ids = list(chunk_ids)
        out: dict[str, int] = {}
        for start in range(0, len(ids), 900):
            part = ids[start : start + 900]
            marks = ",".join("?" * len(part))
            out.update(self.conn.execute(f"SELECT chunk_id, vec_id FROM chunks WHERE chunk_id IN ({marks})", part))
        return out

    def vec_ids_of_kinds(self, kinds: Iterable[str], doc_ids: Iterable[str] | None = None) -> np.ndarray:
        """(n,) int64 vector ids of the chunks on pages of the given kinds (within `doc_ids`)."""
        kinds = list(kinds)
        sql = ("SELECT c.vec_id FROM chunks c JOIN pages p ON p.doc_id = c.doc_id AND p.page = c.page "
               f"WHERE p.kind IN ({','.join('?' * len(kinds))})")
        params: list = list(kinds)
        if doc_ids is not None:
            docs = list(doc_ids)
            if not docs:
                return np.zeros(0, dtype=np.int64)
            sql += f" AND c.doc_id IN ({','.join('?' * len(docs))})"
            params += docs
        return np.fromiter((r[0] for r in self.conn.execute(sql, params)), dtype=np.int64)

    def names(self) -> dict[str, list[FilerName]]:
        """doc_id -> the names its filing gives itself (defined names, trading symbols)."""
        out: dict[str, list[FilerName]] = {}
        for doc_id, name, source in self.conn.execute("SELECT doc_id, name, source FROM names ORDER BY rowid"):
            out.setdefault(doc_id, []).append(FilerName(name, source))
        return out

    def count_chunks(self) -> int:
        return int(self.conn.execute("SELECT COUNT(*) FROM chunks").fetchone()[0])


def _open_error(path: Path, index_dir: Path, error: Exception):
    """The UserError for a store SQLite cannot open: not a database (a corrupt or foreign file),
    locked, or unreadable; said with what to do instead of an internal error."""
    from cai.core.errors import UserError

    said = " ".join(str(error).split()) or type(error).__name__
    if "locked" in said:
        return UserError(f"{path}: the index store is locked by another process ({said}); retry when it is done")
    return UserError(f"{path}: cannot open the index store ({said}); the file is damaged or not a cai index: build "
                     f"the index again with `cai ingest PATH... --index {index_dir}`, into a new directory if you "
                     "want to keep this one")


def _schema_version(conn: sqlite3.Connection) -> int | None:
    """The store's schema version; None for a new (empty) database."""
    has_meta = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'").fetchone()
    if not has_meta:
        return None
    row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    return _meta_int(row, "schema_version") if row else None


def _derived_version(conn: sqlite3.Connection) -> int:
    row = conn.execute("SELECT value FROM meta WHERE key = 'derived_version'").fetchone()
    return _meta_int(row, "derived_version") if row else 0


def _meta_int(row, key: str) -> int:
    """A version number of the meta table; one that is no number means a damaged store."""
    try:
        return int(row[0])
    except (TypeError, ValueError):
        raise sqlite3.DatabaseError(f"meta {key} is {row[0]!r}, not a version number") from None


def _rederive(conn: sqlite3.Connection, index_dir: Path, version: int) -> None:
    """Bring the schema to 2 and the derived data to DERIVED_VERSION, in one transaction."""
    try:
        conn.execute("PRAGMA busy_timeout = 120000")  # another process may be upgrading it: wait for it
        conn.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as error:
        _cannot_upgrade(conn, index_dir, error, version)
        return
    try:
        if _schema_version(conn) != SCHEMA_VERSION or _derived_version(conn) != DERIVED_VERSION:  # (re-checked:
            # another process may have done it while we waited)
            if "kind" not in {r[1] for r in conn.execute("PRAGMA table_info(pages)")}:
                conn.execute("ALTER TABLE pages ADD COLUMN kind TEXT NOT NULL DEFAULT 'other'")
            conn.execute(_NAMES_TABLE)
            for doc_id, path in conn.execute("SELECT doc_id, path FROM documents").fetchall():
                _rederive_document(conn, doc_id, path)
            conn.executemany("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)",
                             [("schema_version", str(SCHEMA_VERSION)), ("derived_version", str(DERIVED_VERSION))])
        conn.execute("COMMIT")
    except sqlite3.OperationalError as error:
        conn.execute("ROLLBACK")
        _cannot_upgrade(conn, index_dir, error, version)
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def _rederive_document(conn: sqlite3.Connection, doc_id: str, path: str) -> None:
    """Page kinds, filer names and metadata of one stored document, from its stored page text."""
    rows = conn.execute("SELECT page, text FROM pages WHERE doc_id = ? ORDER BY page", (doc_id,)).fetchall()
    texts = [r[1] for r in rows]
    conn.executemany("UPDATE pages SET kind = ? WHERE doc_id = ? AND page = ?",
                     ((kind, doc_id, r[0]) for r, kind in zip(rows, classify_pages(texts), strict=True)))
    conn.execute("DELETE FROM names WHERE doc_id = ?", (doc_id,))
    conn.executemany("INSERT OR IGNORE INTO names(doc_id, name, source) VALUES (?, ?, ?)",
                     ((doc_id, n.name, n.source) for n in text_names(texts)))
    metadata = read_metadata(texts, Path(path).stem)
    conn.execute("UPDATE documents SET metadata = ? WHERE doc_id = ?", (metadata.model_dump_json(), doc_id))


def _cannot_upgrade(conn: sqlite3.Connection, index_dir: Path, error: Exception, version: int) -> None:
    """A store that cannot be written keeps its older derived data; one without the columns cannot serve."""
    if version >= 2:
        return
    from cai.core.errors import UserError

    conn.close()
    raise UserError(f"index {index_dir} was built with store schema {version} and needs a one-time upgrade (page "
                    f"kinds, filer names) that could not be written ({error}); open it once with write access, "
                    "or ingest into a new --index directory") from error


def _spans_json(spans: list[SentenceSpan]) -> str:
    """Sentence spans as compact JSON triples [sentence, char_start, char_end]."""
    return json.dumps([[s.sentence, s.char_start, s.char_end] for s in spans], separators=(",", ":"))
