"""On-disk cache of teacher calls, keyed by a hash of (backend, model, messages, params).

A rerun or `--resume` replays finished calls for free. SQLite gives atomic, crash-safe inserts
and safe concurrent readers; WAL mode lets one run write while another reads the same cache.

The cache also keeps, per endpoint, the structured-output mode that `auto` found to work
(cai.llm.structured), so a resumed run starts with it instead of probing the server again.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS calls (
    key TEXT PRIMARY KEY,
    backend TEXT NOT NULL,
    model TEXT,
    request TEXT NOT NULL,
    response TEXT NOT NULL,
    created REAL NOT NULL
)
"""
MODES_SCHEMA = """
CREATE TABLE IF NOT EXISTS endpoint_modes (
    endpoint TEXT PRIMARY KEY,
    mode TEXT NOT NULL,
    created REAL NOT NULL
)
"""


def call_key(backend: str, model: str | None, messages: list[dict], params: dict[str, Any]) -> str:
    """sha256 of the canonical JSON of everything that determines a teacher's answer."""
    payload = {"backend": backend, "model": model, "messages": messages, "params": params}
    blob = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


class CallCache:
    """`get(key)` / `put(key, ...)` over one SQLite file; safe to share across threads."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(SCHEMA)
        self._db.execute(MODES_SCHEMA)
        self._db.commit()

    def get(self, key: str) -> dict | None:
        with self._lock:
            row = self._db.execute("SELECT response FROM calls WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else None

    def put(self, key: str, *, backend: str, model: str | None, request: dict, response: dict) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO calls (key, backend, model, request, response, created)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (key, backend, model, json.dumps(request, ensure_ascii=False),
                 json.dumps(response, ensure_ascii=False), time.time()),
            )
            self._db.commit()

    def endpoint_mode(self, endpoint: str) -> str | None:
        """The structured-output mode stored for `endpoint` (a redacted URL and model name), if any."""
        with self._lock:
            row = self._db.execute("SELECT mode FROM endpoint_modes WHERE endpoint = ?", (endpoint,)).fetchone()
        return row[0] if row else None

    def put_endpoint_mode(self, endpoint: str, mode: str) -> None:
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO endpoint_modes (endpoint, mode, created) VALUES (?, ?, ?)",
                             (endpoint, mode, time.time()))
            self._db.commit()

    def __len__(self) -> int:
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM calls").fetchone()[0]

    def close(self) -> None:
        with self._lock:
            self._db.close()
