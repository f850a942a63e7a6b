"""Audit log of every request: append-only, hash-chained, in SQLite or PostgreSQL.

Each record (request id, time, key id, client, route, status, decision, input digest,
output, latency) is chained to the previous one: ``hash = sha256(prev_hash || seq ||
canonical JSON of the record)``. Sequence numbers are contiguous from 1, so an edited,
inserted or deleted record breaks the chain and :func:`verify_chain` names where; a removed
tail is caught against an anchor (a ``seq:hash`` pair kept elsewhere). Triggers refuse
UPDATE and DELETE as a second line. The gateway writes the record and commits it before it
sends the response: a killed process loses no answered request (SQLite WAL; ``durability =
"power"`` also fsyncs every commit).
"""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Protocol

from mlwarden.errors import ConfigError, InputError

GENESIS = "0" * 64
_TABLE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


@dataclass(frozen=True)
class AuditRecord:
    """What the log keeps about one request."""

    request_id: str
    time: str
    key_id: str | None
    client: str
    method: str
    path: str
    status: int
    decision: str
    input_digest: str | None
    output: str
    output_digest: str
    latency_ms: float


_COLUMNS = tuple(f.name for f in fields(AuditRecord))


@dataclass(frozen=True)
class StoredRecord:
    """A record with its place in the chain."""

    seq: int
    record: AuditRecord
    prev_hash: str
    hash: str


def record_hash(prev_hash: str, seq: int, record: AuditRecord) -> str:
    """The chain hash of ``record`` at position ``seq`` after ``prev_hash``."""
    fields_ = {name: getattr(record, name) for name in _COLUMNS}
    body = json.dumps({"seq": seq, **fields_}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(f"{prev_hash}\n{body}".encode()).hexdigest()


@dataclass(frozen=True)
class ChainReport:
    """The result of :func:`verify_chain`.

    Attributes:
        ok: no problem found.
        records: records read.
        problems: what is wrong, first problems first (at most 50).
        head: ``(seq, hash)`` of the last record (keep it elsewhere as an anchor).
    """

    ok: bool
    records: int
    problems: tuple[str, ...]
    head: tuple[int, str]


def verify_chain(
    stored: Iterable[StoredRecord], anchor: tuple[int, str] | None = None
) -> ChainReport:
    """Check seq continuity, each link and each hash; and that ``anchor`` is still there."""
    problems: list[str] = []
    prev, expected_seq, count, anchored = GENESIS, 1, 0, anchor is None
    for item in stored:
        count += 1
        if item.seq != expected_seq:
            problems.append(f"records {expected_seq}..{item.seq - 1} are missing (deleted)")
        if item.prev_hash != prev:
            problems.append(f"record {item.seq}: does not follow the previous record")
        if record_hash(item.prev_hash, item.seq, item.record) != item.hash:
            problems.append(f"record {item.seq}: content does not match its hash (edited)")
        if anchor is not None and item.seq == anchor[0]:
            anchored = item.hash == anchor[1]
            if not anchored:
                problems.append(f"record {item.seq}: differs from the anchor")
        prev, expected_seq = item.hash, item.seq + 1
    if not anchored and anchor is not None:
        problems.append(f"the anchored record {anchor[0]} is gone (the log was truncated)")
    return ChainReport(not problems, count, tuple(problems[:50]), (expected_seq - 1, prev))


class AuditSink(Protocol):
    """Where audit records go (SQLite, PostgreSQL)."""

    def append(self, record: AuditRecord) -> StoredRecord: ...

    def records(self) -> Iterator[StoredRecord]: ...

    def healthy(self) -> bool: ...

    def close(self) -> None: ...


def _row(row: Iterable[Any]) -> StoredRecord:
    values = list(row)
    seq, prev, digest = int(values[0]), str(values[-2]), str(values[-1])
    record = AuditRecord(**dict(zip(_COLUMNS, values[1:-2], strict=True)))
    return StoredRecord(seq, record, prev, digest)


def _table(name: str) -> str:
    if not _TABLE.match(name):
        raise ConfigError(f"invalid audit table name {name!r}")
    return name


_SQLITE_SCHEMA = """
CREATE TABLE IF NOT EXISTS {t} (
  seq INTEGER PRIMARY KEY, request_id TEXT NOT NULL, time TEXT NOT NULL, key_id TEXT,
  client TEXT NOT NULL, method TEXT NOT NULL, path TEXT NOT NULL, status INTEGER NOT NULL,
  decision TEXT NOT NULL, input_digest TEXT, output TEXT NOT NULL, output_digest TEXT NOT NULL,
  latency_ms REAL NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL);
CREATE TRIGGER IF NOT EXISTS {t}_no_update BEFORE UPDATE ON {t}
  BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS {t}_no_delete BEFORE DELETE ON {t}
  BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
"""


@dataclass
class SqliteAuditLog:
    """The audit log in one SQLite file (WAL mode; several workers may append).

    Args:
        path: the database file.
        durability: ``"process"`` (a killed process loses nothing) or ``"power"``.
        table: table name.
    """

    path: Path
    durability: str = "process"
    table: str = "audit_log"
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _db: sqlite3.Connection | None = field(default=None, repr=False)
    _head: tuple[int, str] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        _table(self.table)
        try:
            self._db = sqlite3.connect(
                self.path, timeout=30, isolation_level=None, check_same_thread=False
            )
            self._db.execute("PRAGMA journal_mode=WAL")
            # A killed process loses nothing that was committed to the WAL even without
            # fsync (the kernel has it); "power" also fsyncs every commit.
            sync = "FULL" if self.durability == "power" else "OFF"
            self._db.execute(f"PRAGMA synchronous={sync}")
            self._db.executescript(_SQLITE_SCHEMA.format(t=self.table))
        except sqlite3.Error as exc:
            raise InputError(f"cannot open the audit log {self.path}: {exc}") from None
        # NOTE: the table name is checked against _TABLE; values always go as parameters.
        cols = ", ".join(("seq", *_COLUMNS, "prev_hash", "hash"))
        self._insert = f"INSERT INTO {self.table} ({cols}) VALUES ({', '.join('?' * 15)})"  # noqa: S608
        self._last = f"SELECT seq, hash FROM {self.table} ORDER BY seq DESC LIMIT 1"  # noqa: S608
        self._select = f"SELECT {cols} FROM {self.table} ORDER BY seq"  # noqa: S608
        values = ", ".join("?" * 15)
        self._insert_if = (
            f"INSERT INTO {self.table} ({cols}) SELECT {values} "  # noqa: S608
            f"WHERE COALESCE((SELECT max(seq) FROM {self.table}), 0) = ?"
        )

    @property
    def db(self) -> sqlite3.Connection:
        if self._db is None:
            raise InputError("the audit log is closed")
        return self._db

    def append(self, record: AuditRecord) -> StoredRecord:
        """Chain and commit one record (before the response is sent)."""
        with self._lock:
            stored = self._append_after_head(record) if self._head is not None else None
            return stored or self._append_locked(record)

    def _append_after_head(self, record: AuditRecord) -> StoredRecord | None:
        """One statement: insert after the head this process last wrote, if it still is.

        The statement is its own transaction, so the check and the insert are atomic; when
        another worker appended meanwhile nothing is inserted (or SQLite reports the stale
        snapshot) and :meth:`_append_locked` reads the real head instead.
        """
        seq, prev = self._head[0] + 1, self._head[1]  # type: ignore[index]
        digest = record_hash(prev, seq, record)
        try:
            cursor = self.db.execute(
                self._insert_if, (seq, *astuple(record), prev, digest, seq - 1)
            )
        except (sqlite3.OperationalError, sqlite3.IntegrityError):
            return None
        if cursor.rowcount != 1:
            return None
        self._head = (seq, digest)
        return StoredRecord(seq, record, prev, digest)

    def _append_locked(self, record: AuditRecord) -> StoredRecord:
        db = self.db
        db.execute("BEGIN IMMEDIATE")
        try:
            last = db.execute(self._last).fetchone()
            seq, prev = (int(last[0]) + 1, str(last[1])) if last else (1, GENESIS)
            digest = record_hash(prev, seq, record)
            db.execute(self._insert, (seq, *astuple(record), prev, digest))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        self._head = (seq, digest)
        return StoredRecord(seq, record, prev, digest)

    def records(self) -> Iterator[StoredRecord]:
        """Every record in sequence order."""
        reader = sqlite3.connect(self.path, timeout=30)
        try:
            for row in reader.execute(self._select):
                yield _row(row)
        finally:
            reader.close()

    def guarded(self) -> bool:
        """Whether the append-only triggers are still in place."""
        names = {f"{self.table}_no_update", f"{self.table}_no_delete"}
        rows = self.db.execute("SELECT name FROM sqlite_master WHERE type='trigger'").fetchall()
        return names <= {r[0] for r in rows}

    def healthy(self) -> bool:
        try:
            with self._lock:
                self.db.execute(self._last).fetchone()
            return True
        except sqlite3.Error:
            return False

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None


def astuple(record: AuditRecord) -> tuple[Any, ...]:
    """The record's values in column order."""
    return tuple(getattr(record, name) for name in _COLUMNS)


def open_audit_log(url: str, durability: str = "process", table: str = "audit_log") -> AuditSink:
    """The audit log a URL names: ``sqlite:///PATH`` or ``postgresql://...``.

    Raises:
        ConfigError: another scheme, or the backend's package is missing.
    """
    if url.startswith("sqlite:///"):
        return SqliteAuditLog(Path(url.removeprefix("sqlite:///")), durability, table)
    if url.startswith(("postgresql://", "postgres://")):
        from mlwarden.gateway.auditlog_pg import PostgresAuditLog

        return PostgresAuditLog(url, table)
    raise ConfigError(
        f"unsupported audit log URL {url.split('://')[0]}://...",
        hint="Use sqlite:///PATH (one host) or postgresql://USER@HOST/DB (replicas).",
    )
