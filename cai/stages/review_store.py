"""The review store: reviewers' decisions in RUN_DIR/review.sqlite, append-only.

Durability: WAL journal with `synchronous=FULL`, so a transaction is on disk (fsynced WAL) before
`commit()` returns and before the HTTP response that reports it is sent; a server killed with
SIGKILL afterwards loses nothing. Each submission (one reviewer, one record, every claim's
decision) is one `BEGIN IMMEDIATE` transaction.

History: nothing is ever updated or deleted. A reviewer's status on a record is the action of
their latest submission (`submit` → submitted, `discard` → discarded, none → pending); their
effective decisions on a record are those of their latest submission when it is a `submit`.
Earlier submissions stay in the table, with who and when, for the audit trail.

Corrections: a submission may carry the reviewer's corrected answer (one row of `corrections`,
in the same transaction), with the final answer it corrects (a correction of an answer that has
since changed is stale, as decisions are) and the claim checker's verdicts on it as JSON. Like
decisions, a reviewer's effective correction is the one of their latest submission, so submitting
again with the box emptied withdraws it.

Concurrency: every call opens its own connection (the HTTP server runs one thread per request);
writers queue on SQLite's lock (busy timeout 30 s), so reviewers submitting at the same moment are
all stored, never one over another.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

STORE_NAME = "review.sqlite"
DECISIONS = ("accept", "reject", "flag")
ACTIONS = ("submit", "discard")
STATUSES = ("pending", "submitted", "discarded")
SCHEMA_VERSION = 2  # 2: the corrections table (added in place by CREATE IF NOT EXISTS; nothing else changed)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS submissions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    record_id TEXT NOT NULL,
    reviewer TEXT NOT NULL,
    action TEXT NOT NULL CHECK (action IN ('submit', 'discard')),
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS submissions_by_record ON submissions (record_id, reviewer, id);
CREATE TABLE IF NOT EXISTS decisions (
    submission_id INTEGER NOT NULL REFERENCES submissions (id),
    claim_index INTEGER NOT NULL,
    claim_text TEXT NOT NULL,
    decision TEXT NOT NULL CHECK (decision IN ('accept', 'reject', 'flag')),
    comment TEXT NOT NULL DEFAULT '',
    ai_verdict TEXT,
    PRIMARY KEY (submission_id, claim_index)
);
CREATE TABLE IF NOT EXISTS corrections (
    submission_id INTEGER PRIMARY KEY REFERENCES submissions (id),
    text TEXT NOT NULL,
    answer_text TEXT NOT NULL DEFAULT '',
    checker TEXT NOT NULL DEFAULT '',
    claims_json TEXT NOT NULL DEFAULT '[]'
);
"""


# Each (record, reviewer)'s latest submission: earlier ones are superseded, never deleted.
_LATEST = "(SELECT record_id, reviewer, MAX(id) AS id FROM submissions GROUP BY record_id, reviewer) last"


@dataclass(frozen=True)
class ClaimDecision:
    """One reviewer's decision on one claim, as submitted."""

    claim_index: int
    claim_text: str
    decision: str
    comment: str = ""
    ai_verdict: str | None = None


@dataclass(frozen=True)
class Correction:
    """A reviewer's corrected answer as submitted: the text, the final answer it replaces, and the
    checker's verdicts on its claims (`ClaimVerdict` dumps as JSON; checked before storing)."""

    text: str
    answer_text: str = ""
    checker: str = ""
    claims_json: str = "[]"


@dataclass(frozen=True)
class StoredCorrection:
    """An effective correction: who corrected which record, when, and what it says."""

    submission_id: int
    record_id: str
    reviewer: str
    created_at: str
    text: str
    answer_text: str
    checker: str
    claims_json: str


@dataclass(frozen=True)
class Decision:
    """A stored, effective decision: who decided what on which claim, and when."""

    submission_id: int
    record_id: str
    reviewer: str
    claim_index: int
    claim_text: str
    decision: str
    comment: str
    ai_verdict: str | None
    created_at: str


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


class ReviewStore:
    """Append-only SQLite store of review submissions and their per-claim decisions."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        with self._connect() as conn:
            conn.execute("PRAGMA journal_mode=WAL")  # persistent: readers never block the writer
            conn.executescript(_SCHEMA)
            conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('schema_version', ?)",
                         (str(SCHEMA_VERSION),))

    @classmethod
    def for_run(cls, run_dir: Path) -> ReviewStore:
        return cls(Path(run_dir) / STORE_NAME)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        conn = sqlite3.connect(self.path, timeout=30.0, isolation_level=None, check_same_thread=False)
        try:
            conn.execute("PRAGMA synchronous=FULL")  # per connection: fsync the WAL on every commit
            conn.execute("PRAGMA busy_timeout=30000")
            conn.execute("PRAGMA foreign_keys=ON")
            yield conn
        finally:
            conn.close()

    # -------------------------------------------------------------------------------------- writes
    def submit(self, record_id: str, reviewer: str, decisions: list[ClaimDecision], *, action: str = "submit",
               correction: Correction | None = None) -> int:
        """Store one submission (or discard), with its correction if any, atomically; returns its id."""
        if action not in ACTIONS:
            raise ValueError(f"action must be one of {ACTIONS}, not {action!r}")
        if not reviewer:
            raise ValueError("a submission needs a reviewer name")
        for d in decisions:
            if d.decision not in DECISIONS:
                raise ValueError(f"claim {d.claim_index}: decision must be one of {DECISIONS}, not {d.decision!r}")
        if correction is not None and (action != "submit" or not correction.text.strip()):
            raise ValueError("a correction is a non-empty text sent with a submit")
        with self._connect() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                cur = conn.execute("INSERT INTO submissions (record_id, reviewer, action, created_at) "
                                   "VALUES (?, ?, ?, ?)", (record_id, reviewer, action, now()))
                sid = int(cur.lastrowid)
                if action == "submit":
                    conn.executemany(
                        "INSERT INTO decisions (submission_id, claim_index, claim_text, decision, comment, ai_verdict) "
                        "VALUES (?, ?, ?, ?, ?, ?)",
                        [(sid, d.claim_index, d.claim_text, d.decision, d.comment, d.ai_verdict) for d in decisions])
                if correction is not None:
                    conn.execute("INSERT INTO corrections (submission_id, text, answer_text, checker, claims_json) "
                                 "VALUES (?, ?, ?, ?, ?)", (sid, correction.text, correction.answer_text,
                                                           correction.checker, correction.claims_json))
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        return sid

    def discard(self, record_id: str, reviewer: str) -> int:
        return self.submit(record_id, reviewer, [], action="discard")

    # --------------------------------------------------------------------------------------- reads
    def statuses(self, reviewer: str | None = None) -> dict[tuple[str, str], str]:
        """(record id, reviewer) → submitted | discarded, from each pair's latest submission."""
        sql = f"SELECT s.record_id, s.reviewer, s.action FROM submissions s JOIN {_LATEST} ON s.id = last.id"
        args: tuple = ()
        if reviewer is not None:
            sql += " WHERE s.reviewer = ?"
            args = (reviewer,)
        with self._connect() as conn:
            rows = conn.execute(sql, args).fetchall()
        return {(r, who): ("submitted" if action == "submit" else "discarded") for r, who, action in rows}

    def status(self, record_id: str, reviewer: str) -> str:
        with self._connect() as conn:
            row = conn.execute("SELECT action FROM submissions WHERE record_id = ? AND reviewer = ? "
                               "ORDER BY id DESC LIMIT 1", (record_id, reviewer)).fetchone()
        return "pending" if row is None else ("submitted" if row[0] == "submit" else "discarded")

    def effective(self, record_id: str | None = None) -> list[Decision]:
        """Decisions of every (record, reviewer)'s latest submission, when that is a submit."""
        sql = ("SELECT s.id, s.record_id, s.reviewer, d.claim_index, d.claim_text, d.decision, d.comment, "
               f"d.ai_verdict, s.created_at FROM submissions s JOIN {_LATEST} ON s.id = last.id "
               "JOIN decisions d ON d.submission_id = s.id WHERE s.action = 'submit'")
        args: tuple = ()
        if record_id is not None:
            sql += " AND s.record_id = ?"
            args = (record_id,)
        with self._connect() as conn:
            rows = conn.execute(sql + " ORDER BY s.id, d.claim_index", args).fetchall()
        return [Decision(*row) for row in rows]

    def mine(self, record_id: str, reviewer: str) -> dict[int, Decision]:
        """This reviewer's decisions on a record from their latest submit (even if since discarded)."""
        sql = ("SELECT s.id, s.record_id, s.reviewer, d.claim_index, d.claim_text, d.decision, d.comment, "
               "d.ai_verdict, s.created_at FROM decisions d JOIN submissions s ON d.submission_id = s.id "
               "WHERE s.id = (SELECT MAX(id) FROM submissions WHERE record_id = ? AND reviewer = ? "
               "AND action = 'submit')")
        with self._connect() as conn:
            rows = conn.execute(sql, (record_id, reviewer)).fetchall()
        return {row[3]: Decision(*row) for row in rows}

    def corrections(self, record_id: str | None = None) -> list[StoredCorrection]:
        """Corrections of every (record, reviewer)'s latest submission, when that is a submit; oldest first."""
        sql = ("SELECT s.id, s.record_id, s.reviewer, s.created_at, c.text, c.answer_text, c.checker, c.claims_json "
               f"FROM submissions s JOIN {_LATEST} ON s.id = last.id JOIN corrections c ON c.submission_id = s.id "
               "WHERE s.action = 'submit'")
        args: tuple = ()
        if record_id is not None:
            sql += " AND s.record_id = ?"
            args = (record_id,)
        with self._connect() as conn:
            rows = conn.execute(sql + " ORDER BY s.id", args).fetchall()
        return [StoredCorrection(*row) for row in rows]

    def my_correction(self, record_id: str, reviewer: str) -> StoredCorrection | None:
        """This reviewer's correction from their latest submit on a record (even if since discarded)."""
        sql = ("SELECT s.id, s.record_id, s.reviewer, s.created_at, c.text, c.answer_text, c.checker, c.claims_json "
               "FROM corrections c JOIN submissions s ON c.submission_id = s.id "
               "WHERE s.id = (SELECT MAX(id) FROM submissions WHERE record_id = ? AND reviewer = ? "
               "AND action = 'submit')")
        with self._connect() as conn:
            row = conn.execute(sql, (record_id, reviewer)).fetchone()
        return StoredCorrection(*row) if row else None

    def history(self, record_id: str | None = None) -> list[dict]:
        """Every submission (oldest first) with its decisions: the audit trail."""
        sql = "SELECT id, record_id, reviewer, action, created_at FROM submissions"
        args: tuple = ()
        if record_id is not None:
            sql += " WHERE record_id = ?"
            args = (record_id,)
        with self._connect() as conn:
            subs = conn.execute(sql + " ORDER BY id", args).fetchall()
            out = []
            for sid, rid, who, action, at in subs:
                ds = conn.execute("SELECT claim_index, decision, comment FROM decisions WHERE submission_id = ? "
                                  "ORDER BY claim_index", (sid,)).fetchall()
                fix = conn.execute("SELECT text FROM corrections WHERE submission_id = ?", (sid,)).fetchone()
                out.append({"id": sid, "record_id": rid, "reviewer": who, "action": action, "created_at": at,
                            "decisions": [{"claim_index": i, "decision": d, "comment": c} for i, d, c in ds],
                            "correction": fix[0] if fix else None})
        return out

    def reviewers(self) -> list[str]:
        with self._connect() as conn:
            return [r for (r,) in conn.execute("SELECT DISTINCT reviewer FROM submissions ORDER BY reviewer")]
