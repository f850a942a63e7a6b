"""The audit log: every request recorded, chained; edits, deletions and truncation detected."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from mlwarden.cli.main import cli
from mlwarden.gateway.auditlog import AuditRecord, SqliteAuditLog, open_audit_log, verify_chain
from tests.gateway.helpers import service_url


def _record(i: int) -> AuditRecord:
    return AuditRecord(
        f"r{i}",
        "2026-01-01T00:00:00",
        "k1",
        "127.0.0.1",
        "POST",
        "/v1/predict",
        200,
        "ok",
        f"sha256:{i}",
        '{"predictions":[1]}',
        "sha256:o",
        1.5,
    )


def _filled(path: Path, n: int = 10) -> SqliteAuditLog:
    log = SqliteAuditLog(path)
    for i in range(n):
        log.append(_record(i))
    return log


def _tamper(path: Path, sql: str) -> None:
    db = sqlite3.connect(path)
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        db.execute(sql)
    # an attacker with the file drops the triggers first; the chain still tells
    db.execute("DROP TRIGGER audit_log_no_update")
    db.execute("DROP TRIGGER audit_log_no_delete")
    db.execute(sql)
    db.commit()
    db.close()


def test_an_intact_log_verifies(tmp_path: Path) -> None:
    log = _filled(tmp_path / "a.db")
    report = verify_chain(log.records())
    assert report.ok and report.records == 10 and report.head[0] == 10


@pytest.mark.parametrize(
    ("sql", "problem"),
    [
        (
            "UPDATE audit_log SET output = '{\"predictions\":[7]}' WHERE seq = 4",
            "record 4: content",
        ),
        ("DELETE FROM audit_log WHERE seq = 5", "records 5..5 are missing"),
        ("DELETE FROM audit_log WHERE seq = 1", "records 1..1 are missing"),
        ("UPDATE audit_log SET key_id = 'someone-else' WHERE seq = 10", "record 10: content"),
    ],
)
def test_edits_and_deletions_are_detected(tmp_path: Path, sql: str, problem: str) -> None:
    path = tmp_path / "a.db"
    _filled(path).close()
    _tamper(path, sql)
    report = verify_chain(SqliteAuditLog(path).records())
    assert not report.ok
    assert any(problem in p for p in report.problems), report.problems


def test_a_recomputed_hash_still_breaks_the_next_link(tmp_path: Path) -> None:
    from mlwarden.gateway.auditlog import record_hash

    path = tmp_path / "a.db"
    log = _filled(path)
    target = list(log.records())[3]
    forged = AuditRecord(**{**target.record.__dict__, "output": "forged"})
    log.close()
    _tamper(
        path,
        "UPDATE audit_log SET output = 'forged', "  # noqa: S608 (a test forging a record)
        f"hash = '{record_hash(target.prev_hash, 4, forged)}' WHERE seq = 4",
    )
    report = verify_chain(SqliteAuditLog(path).records())
    assert report.problems == ("record 5: does not follow the previous record",)


def test_truncation_is_caught_by_an_anchor(tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    log = _filled(path)
    head = verify_chain(log.records()).head
    log.close()
    _tamper(path, "DELETE FROM audit_log WHERE seq >= 8")
    assert verify_chain(SqliteAuditLog(path).records()).ok  # a shorter chain is still a chain
    report = verify_chain(SqliteAuditLog(path).records(), anchor=head)
    assert not report.ok and "truncated" in report.problems[-1]


def test_cli_verify_exit_codes(tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    _filled(path).close()
    runner = CliRunner()
    ok = runner.invoke(
        cli, ["audit-log", "verify", "--url", f"sqlite:///{path}", "--format", "json"]
    )
    assert ok.exit_code == 0, ok.output
    head = json.loads(ok.output)["head"]
    assert json.loads(ok.output)["records"] == 10
    _tamper(path, "DELETE FROM audit_log WHERE seq = 10")
    anchored = runner.invoke(
        cli, ["audit-log", "verify", "--url", f"sqlite:///{path}", "--anchor", head]
    )
    assert anchored.exit_code == 1 and "TAMPERED" in anchored.output
    bad = runner.invoke(cli, ["audit-log", "verify", "--url", "ftp://x"])
    assert bad.exit_code == 2


def test_gateway_records_are_complete(make_gateway: Any, served: Any) -> None:
    live = make_gateway()
    response = live.post(
        json={"instances": [served.x_test[0].tolist()]},
        headers={"mlwarden-request-id": "client-req-1"},
    )
    (stored,) = list(live.gw.audit.records())
    record = stored.record
    assert record.request_id == "client-req-1" == response.headers["mlwarden-request-id"]
    assert record.key_id == live.key_id and record.status == 200 and record.decision == "ok"
    assert record.input_digest.startswith("sha256:") and record.output == response.text
    assert record.latency_ms > 0 and record.path == "/v1/predict"


@pytest.mark.postgres
def test_postgresql_backend_chains_and_detects(tmp_path: Path) -> None:
    import uuid

    import psycopg

    url = service_url("postgres")
    table = f"audit_{uuid.uuid4().hex[:12]}"
    log = open_audit_log(url, table=table)
    try:
        for i in range(5):
            log.append(_record(i))
        assert verify_chain(log.records()).ok
        with psycopg.connect(url) as db:
            with pytest.raises(psycopg.errors.RaiseException):
                db.execute(f"DELETE FROM {table} WHERE seq = 2")  # noqa: S608
            db.rollback()
            db.execute(f"ALTER TABLE {table} DISABLE TRIGGER {table}_append_only")
            db.execute(f"UPDATE {table} SET decision = 'forged' WHERE seq = 3")  # noqa: S608
            db.commit()
        report = verify_chain(log.records())
        assert not report.ok and "record 3: content" in report.problems[0]
    finally:
        log.close()
        with psycopg.connect(url) as db:
            db.execute(f"DROP TABLE IF EXISTS {table}")
            db.execute(f"DROP FUNCTION IF EXISTS {table}_append_only")


def test_two_writers_on_one_file_keep_one_chain(tmp_path: Path) -> None:
    import threading

    path = tmp_path / "a.db"
    writers = [SqliteAuditLog(path), SqliteAuditLog(path)]  # two workers' connections

    def write(log: SqliteAuditLog, base: int) -> None:
        for i in range(150):
            log.append(_record(base + i))

    threads = [threading.Thread(target=write, args=(w, n * 1000)) for n, w in enumerate(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    report = verify_chain(writers[0].records())
    assert report.ok and report.records == 300
    assert {r.record.request_id for r in writers[1].records()} == {
        f"r{b + i}" for b in (0, 1000) for i in range(150)
    }
