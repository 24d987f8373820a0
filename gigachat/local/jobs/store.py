"""The jobs database: one SQLite file in the per-user data dir (WAL, readable by the user only).

Every state change is one committed transaction, so a crash or SIGKILL loses nothing: an item
is marked running before its upstream call and done (with its result) after it. Deleted rows
are overwritten on disk (secure_delete): the texts are business documents.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import platformdirs

from gigachat import APP_NAME

DB_NAME = "jobs.sqlite3"
DEMO_DB_NAME = "jobs-demo.sqlite3"  # demo jobs never resume against the real GigaChat
WAL_LIMIT = 1024 * 1024  # bytes the write-ahead log keeps on disk after a checkpoint
IDEMPOTENCY_WINDOW = 24 * 3600.0  # seconds a key keeps naming its job
ACTIVE = ("queued", "running")
UNFINISHED = ("queued", "running", "paused")
FINISHED = ("done", "failed", "cancelled")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    route TEXT NOT NULL,
    batch INTEGER NOT NULL,
    state TEXT NOT NULL,
    error TEXT,
    error_code TEXT,
    idem_key TEXT,
    digest TEXT,
    created REAL NOT NULL,
    updated REAL NOT NULL,
    finished REAL,
    total INTEGER NOT NULL,
    done INTEGER NOT NULL DEFAULT 0,
    failed INTEGER NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX IF NOT EXISTS jobs_idem ON jobs(idem_key) WHERE idem_key IS NOT NULL;
CREATE INDEX IF NOT EXISTS jobs_state ON jobs(state, batch, seq);
CREATE TABLE IF NOT EXISTS items (
    job_seq INTEGER NOT NULL REFERENCES jobs(seq) ON DELETE CASCADE,
    idx INTEGER NOT NULL,
    state TEXT NOT NULL,
    request TEXT NOT NULL,
    result TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (job_seq, idx)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS items_queued ON items(job_seq, idx) WHERE state = 'queued';
"""
_JOB_COLUMNS = ("seq, id, route, batch, state, error, error_code, idem_key, created, updated, "
                "finished, total, done, failed")


def jobs_path(folder: str | Path | None = None, *, demo: bool = False) -> Path:
    """The database file in `folder`, by default the per-user data dir (XDG_DATA_HOME on
    Linux, %LOCALAPPDATA% on Windows)."""
    base = Path(folder) if folder else Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))
    return base / (DEMO_DB_NAME if demo else DB_NAME)


@dataclass(frozen=True)
class Job:
    """One row of `jobs` (no texts)."""

    seq: int
    id: str
    route: str
    batch: bool
    state: str
    error: str | None
    error_code: str | None
    idem_key: str | None
    created: float
    updated: float
    finished: float | None
    total: int
    done: int
    failed: int


@dataclass(frozen=True)
class Claim:
    """An item taken for running: its job, index and request body."""

    job: Job
    idx: int
    body: dict
    attempts: int


def _job(row: tuple | None) -> Job | None:
    if row is None:
        return None
    values = list(row)
    values[3] = bool(values[3])
    return Job(*values)


def _private_file(path: Path) -> None:
    """Create the folder (0700) and the database file (0600) before SQLite opens it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    os.close(os.open(path, os.O_CREAT | os.O_RDWR, 0o600))
    os.chmod(path, 0o600)


class JobStore:
    """Thread-safe access to the jobs database (one connection, one lock)."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = Path(path) if path is not None else jobs_path()
        _private_file(self.path)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA auto_vacuum = INCREMENTAL")  # takes effect on a new file only
        self._db.execute("PRAGMA journal_mode = WAL")
        for pragma in ("synchronous = NORMAL", "secure_delete = ON", "foreign_keys = ON",
                       "busy_timeout = 5000", "wal_autocheckpoint = 256",
                       f"journal_size_limit = {WAL_LIMIT}"):
            self._db.execute(f"PRAGMA {pragma}")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _read(self, sql: str, args: tuple = ()) -> list[tuple]:
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    def _get(self, db: sqlite3.Connection, where: str, args: tuple) -> Job | None:
        return _job(db.execute(f"SELECT {_JOB_COLUMNS} FROM jobs WHERE {where}", args).fetchone())

    # --- creating and reading ------------------------------------------------------

    def create(self, job_id: str, route: str, bodies: list[dict], *, batch: bool,
               idem_key: str | None = None, digest: str | None = None) -> tuple[Job, bool]:
        """Store a new job with its items; (job, True). With an Idempotency-Key used within
        24 h: (that job, False) and nothing is stored."""
        now = time.time()
        with self._tx() as db:
            if idem_key is not None:
                old = self._get(db, "idem_key = ? AND created > ?",
                                (idem_key, now - IDEMPOTENCY_WINDOW))
                if old is not None:
                    return old, False
                db.execute("UPDATE jobs SET idem_key = NULL WHERE idem_key = ?", (idem_key,))
            cursor = db.execute(
                "INSERT INTO jobs (id, route, batch, state, idem_key, digest, created, updated, "
                "total) VALUES (?, ?, ?, 'queued', ?, ?, ?, ?, ?)",
                (job_id, route, int(batch), idem_key, digest, now, now, len(bodies)))
            seq = cursor.lastrowid
            db.executemany(
                "INSERT INTO items (job_seq, idx, state, request) VALUES (?, ?, 'queued', ?)",
                ((seq, idx, json.dumps(body, ensure_ascii=False)) for idx, body in enumerate(bodies)))
            return self._get(db, "seq = ?", (seq,)), True  # type: ignore[return-value]

    def digest_of(self, job: Job) -> str | None:
        rows = self._read("SELECT digest FROM jobs WHERE seq = ?", (job.seq,))
        return rows[0][0] if rows else None

    def get(self, job_id: str) -> Job | None:
        rows = self._read(f"SELECT {_JOB_COLUMNS} FROM jobs WHERE id = ?", (job_id,))
        return _job(rows[0]) if rows else None

    def recent(self, limit: int) -> list[Job]:
        """The newest jobs first."""
        rows = self._read(f"SELECT {_JOB_COLUMNS} FROM jobs ORDER BY seq DESC LIMIT ?", (limit,))
        return [_job(row) for row in rows]  # type: ignore[misc]

    def unfinished(self) -> list[Job]:
        """Queued, running and paused jobs, oldest first."""
        rows = self._read(f"SELECT {_JOB_COLUMNS} FROM jobs WHERE state IN (?, ?, ?) ORDER BY seq",
                          UNFINISHED)
        return [_job(row) for row in rows]  # type: ignore[misc]

    def position(self, job: Job) -> int | None:
        """1 for the next queued job to start, 2 behind it, ...; None unless queued."""
        if job.state != "queued":
            return None
        rows = self._read("SELECT COUNT(*) FROM jobs WHERE state = 'queued' AND "
                          "(batch < ? OR (batch = ? AND seq < ?))", (job.batch, job.batch, job.seq))
        return rows[0][0] + 1

    def results(self, job: Job, offset: int, limit: int) -> list[tuple[int, str, dict | None]]:
        """(index, state, result) of the items in order."""
        rows = self._read("SELECT idx, state, result FROM items WHERE job_seq = ? AND idx >= ? "
                          "ORDER BY idx LIMIT ?", (job.seq, offset, limit))
        return [(idx, state, json.loads(result) if result else None) for idx, state, result in rows]

    # --- running ---------------------------------------------------------------------

    def recover(self) -> int:
        """At start: items left running by a crash are queued again (and their jobs)."""
        with self._tx() as db:
            count = db.execute("UPDATE items SET state = 'queued' WHERE state = 'running'").rowcount
            db.execute("UPDATE jobs SET state = 'queued' WHERE state = 'running'")
        return count

    def claim(self, skip: tuple[int, ...] = ()) -> Claim | None:
        """Mark the next item running (single jobs first, then oldest jobs; `skip`: job seqs
        not to take from) and return it."""
        holes = ",".join("?" * len(skip))
        extra = f" AND j.seq NOT IN ({holes})" if skip else ""
        with self._tx() as db:
            row = db.execute(
                "SELECT j.seq, (SELECT i.idx FROM items i WHERE i.job_seq = j.seq AND "
                "i.state = 'queued' ORDER BY i.idx LIMIT 1) AS nxt FROM jobs j WHERE j.state IN "
                f"('queued', 'running'){extra} AND nxt IS NOT NULL ORDER BY j.batch, j.seq "
                "LIMIT 1", skip).fetchone()
            if row is None:
                return None
            seq, idx = row
            db.execute("UPDATE items SET state = 'running', attempts = attempts + 1 "
                       "WHERE job_seq = ? AND idx = ?", (seq, idx))
            db.execute("UPDATE jobs SET state = 'running', updated = ? WHERE seq = ?",
                       (time.time(), seq))
            request, attempts = db.execute("SELECT request, attempts FROM items WHERE job_seq = ? "
                                           "AND idx = ?", (seq, idx)).fetchone()
            job = self._get(db, "seq = ?", (seq,))
        return Claim(job, idx, json.loads(request), attempts)  # type: ignore[arg-type]

    def finish_item(self, claim: Claim, result: dict, ok: bool) -> Job:
        """Store an item's result; a job with nothing left to run becomes done (or failed)."""
        now = time.time()
        with self._tx() as db:
            stored = db.execute(
                "UPDATE items SET state = ?, result = ? WHERE job_seq = ? AND idx = ? AND "
                "state = 'running'", ("done" if ok else "failed",
                                      json.dumps(result, ensure_ascii=False), claim.job.seq,
                                      claim.idx)).rowcount
            if not stored:  # already finished by another runner: one result per item
                return self._get(db, "seq = ?", (claim.job.seq,))  # type: ignore[return-value]
            column = "done" if ok else "failed"
            db.execute(f"UPDATE jobs SET {column} = {column} + 1, updated = ? WHERE seq = ?",
                       (now, claim.job.seq))
            left = db.execute("SELECT 1 FROM items WHERE job_seq = ? AND state IN "
                              "('queued', 'running') LIMIT 1", (claim.job.seq,)).fetchone()
            if left is None:
                db.execute("UPDATE jobs SET state = CASE WHEN done = 0 THEN 'failed' ELSE 'done' "
                           "END, finished = ?, error = CASE WHEN done = 0 THEN error ELSE NULL END "
                           "WHERE seq = ? AND state IN ('queued', 'running', 'paused')",
                           (now, claim.job.seq))
            return self._get(db, "seq = ?", (claim.job.seq,))  # type: ignore[return-value]

    def requeue_item(self, claim: Claim) -> None:
        """Put an interrupted item back in the queue (nothing stored)."""
        with self._tx() as db:
            db.execute("UPDATE items SET state = 'queued' WHERE job_seq = ? AND idx = ? AND "
                       "state = 'running'", (claim.job.seq, claim.idx))
            db.execute("UPDATE jobs SET state = 'queued' WHERE seq = ? AND state = 'running' AND "
                       "NOT EXISTS (SELECT 1 FROM items WHERE job_seq = ? AND state = 'running')",
                       (claim.job.seq, claim.job.seq))

    def set_state(self, job_id: str, state: str, from_states: tuple[str, ...], *,
                  error: str | None = None, error_code: str | None = None) -> Job | None:
        """Move a job in one of `from_states` to `state`; the job after it (None if absent)."""
        now = time.time()
        finished = now if state in FINISHED else None
        with self._tx() as db:
            holes = ",".join("?" * len(from_states))
            db.execute(f"UPDATE jobs SET state = ?, error = ?, error_code = ?, updated = ?, "
                       f"finished = ? WHERE id = ? AND state IN ({holes})",
                       (state, error, error_code, now, finished, job_id, *from_states))
            return self._get(db, "id = ?", (job_id,))

    # --- retention ----------------------------------------------------------------------

    def purge(self, before: float) -> int:
        """Delete jobs finished before `before` with their texts and results; shrink the file."""
        with self._tx() as db:
            count = db.execute("DELETE FROM jobs WHERE state IN (?, ?, ?) AND finished < ?",
                               (*FINISHED, before)).rowcount
        if count:
            with self._lock:
                self._db.execute("PRAGMA incremental_vacuum")
                self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return count
