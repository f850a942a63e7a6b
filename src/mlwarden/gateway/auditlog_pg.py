"""The audit log in PostgreSQL, for several gateway replicas sharing one chain (psycopg 3).

Appends from every replica are serialised by a transaction-scoped advisory lock, so the chain
stays one line; a trigger refuses UPDATE and DELETE. The chain format is the SQLite one
(:mod:`mlwarden.gateway.auditlog`), so one verifier checks both.
"""

from __future__ import annotations

import threading
import zlib
from collections.abc import Iterator
from typing import Any

from mlwarden.errors import ConfigError, InputError
from mlwarden.gateway.auditlog import (
    _COLUMNS,
    GENESIS,
    AuditRecord,
    StoredRecord,
    _row,
    _table,
    astuple,
    record_hash,
)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS {t} (
  seq BIGINT PRIMARY KEY, request_id TEXT NOT NULL, time TEXT NOT NULL, key_id TEXT,
  client TEXT NOT NULL, method TEXT NOT NULL, path TEXT NOT NULL, status INTEGER NOT NULL,
  decision TEXT NOT NULL, input_digest TEXT, output TEXT NOT NULL, output_digest TEXT NOT NULL,
  latency_ms DOUBLE PRECISION NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL);
CREATE OR REPLACE FUNCTION {t}_append_only() RETURNS trigger LANGUAGE plpgsql AS
  $$ BEGIN RAISE EXCEPTION 'the audit log is append-only'; END $$;
CREATE OR REPLACE TRIGGER {t}_append_only BEFORE UPDATE OR DELETE ON {t}
  FOR EACH ROW EXECUTE FUNCTION {t}_append_only();
"""


class PostgresAuditLog:
    """The audit log in a PostgreSQL table.

    Args:
        url: ``postgresql://USER:PASSWORD@HOST:PORT/DB``.
        table: table name.
    """

    def __init__(self, url: str, table: str = "audit_log") -> None:
        try:
            import psycopg
        except ImportError:
            raise ConfigError(
                "a PostgreSQL audit log needs psycopg", hint="pip install 'mlwarden[postgres]'"
            ) from None
        self.url = url
        self.table = _table(table)
        self._lock = threading.Lock()
        self._lock_id = zlib.crc32(f"mlwarden:{table}".encode())
        cols = ", ".join(("seq", *_COLUMNS, "prev_hash", "hash"))
        # NOTE: the table name is checked by _table; values always go as parameters.
        self._insert = f"INSERT INTO {table} ({cols}) VALUES ({', '.join(['%s'] * 15)})"  # noqa: S608
        self._select = f"SELECT {cols} FROM {table} ORDER BY seq"  # noqa: S608
        self._last = f"SELECT seq, hash FROM {table} ORDER BY seq DESC LIMIT 1"  # noqa: S608
        try:
            self._db: Any = psycopg.connect(url, autocommit=False, connect_timeout=10)
            with self._db.transaction():
                self._db.execute(f"SELECT pg_advisory_xact_lock({self._lock_id})")
                self._db.execute(_SCHEMA.format(t=table))
        except psycopg.Error as exc:
            raise InputError(f"cannot open the PostgreSQL audit log: {_brief(exc)}") from None

    def append(self, record: AuditRecord) -> StoredRecord:
        """Chain and commit one record (before the response is sent)."""
        with self._lock, self._db.transaction():
            self._db.execute(f"SELECT pg_advisory_xact_lock({self._lock_id})")
            last = self._db.execute(self._last).fetchone()
            seq, prev = (int(last[0]) + 1, str(last[1])) if last else (1, GENESIS)
            digest = record_hash(prev, seq, record)
            self._db.execute(self._insert, (seq, *astuple(record), prev, digest))
        return StoredRecord(seq, record, prev, digest)

    def records(self) -> Iterator[StoredRecord]:
        """Every record in sequence order (read on a connection of its own)."""
        import psycopg

        with psycopg.connect(self.url) as reader:
            for row in reader.execute(self._select):
                yield _row(row)

    def healthy(self) -> bool:
        try:
            with self._lock:
                self._db.execute("SELECT 1").fetchone()
                self._db.rollback()
            return True
        except Exception:  # any database failure means "not ready"
            return False

    def close(self) -> None:
        with self._lock:
            self._db.close()


def _brief(exc: Exception) -> str:
    """The first line of a driver error (never the connection string)."""
    return str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
