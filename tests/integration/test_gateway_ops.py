"""`mlwarden serve` under operational stress: TLS and mTLS, a SIGKILL mid-traffic, two workers
sharing one Redis rate limit exactly, and two workers on one PostgreSQL audit chain."""

from __future__ import annotations

import datetime
import ipaddress
import sqlite3
import ssl
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi", reason="the gateway extra is not installed")

import httpx

from mlwarden.client import Client
from mlwarden.errors import MlwardenError
from mlwarden.gateway.auditlog import SqliteAuditLog, open_audit_log, verify_chain
from mlwarden.gateway.auth import KeyStore
from mlwarden.gateway.service import model_digest
from tests.gateway.helpers import Served, Server, make_served, policy_toml, service_url


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Served:
    return make_served(tmp_path_factory.mktemp("served-ops"))


def _fresh(served: Served, name: str) -> Served:
    """The same model in a directory of its own (own keys, audit log, policy)."""
    root = served.root / name
    root.mkdir()
    for item in (served.model, served.reference):
        (root / item.name).symlink_to(item)
    return Served(
        root,
        root / served.model.name,
        root / served.reference.name,
        served.x_train,
        served.x_test,
        served.y_test,
    )


def _ok(url: str, **kw: Any) -> bool:
    return httpx.get(url + "/healthz", timeout=2, **kw).status_code == 200


def _certificates(root: Path) -> dict[str, Path]:
    """A CA, a server certificate for 127.0.0.1 and a client certificate, all made here."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.timezone.utc)

    def cert(
        name: str,
        issuer: Any,
        issuer_key: Any,
        key: Any,
        *,
        ca: bool,
        usage: Any = None,
        san: Any = None,
    ) -> Any:
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
            .issuer_name(issuer)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(hours=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if usage is not None:
            builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        if san is not None:
            builder = builder.add_extension(x509.SubjectAlternativeName(san), critical=False)
        return builder.sign(issuer_key, hashes.SHA256())

    def write(name: str, key: Any, certificate: Any) -> None:
        (root / f"{name}.key").write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        (root / f"{name}.pem").write_bytes(certificate.public_bytes(serialization.Encoding.PEM))

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mlwarden test CA")])
    ca = cert("mlwarden test CA", ca_name, ca_key, ca_key, ca=True)
    write("ca", ca_key, ca)
    server_key = ec.generate_private_key(ec.SECP256R1())
    san = [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    write(
        "server",
        server_key,
        cert(
            "127.0.0.1",
            ca_name,
            ca_key,
            server_key,
            ca=False,
            usage=ExtendedKeyUsageOID.SERVER_AUTH,
            san=san,
        ),
    )
    client_key = ec.generate_private_key(ec.SECP256R1())
    write(
        "client",
        client_key,
        cert(
            "client", ca_name, ca_key, client_key, ca=False, usage=ExtendedKeyUsageOID.CLIENT_AUTH
        ),
    )
    return {n: root / n for n in ("ca", "server", "client")}


def test_mtls_admits_only_clients_with_a_certificate(served: Served) -> None:
    mine = _fresh(served, "tls")
    certs = _certificates(mine.root)
    token, _ = KeyStore.open(mine.root / "keys.json").create("tls")
    server = Server(
        mine,
        policy_toml(mine.root),
        "--tls-cert",
        f"{certs['server']}.pem",
        "--tls-key",
        f"{certs['server']}.key",
        "--tls-client-ca",
        f"{certs['ca']}.pem",
        scheme="https",
    )
    ca = f"{certs['ca']}.pem"
    client_cert = (f"{certs['client']}.pem", f"{certs['client']}.key")
    with_cert = ssl.create_default_context(cafile=ca)
    with_cert.load_cert_chain(*client_cert)
    untrusting = ssl.create_default_context()
    untrusting.load_cert_chain(*client_cert)
    try:
        server.wait_ready(lambda: _ok(server.url, verify=with_cert))
        options = {
            "api_key": token,
            "public_key": mine.root / "gateway.key.pub",
            "approved_digest": model_digest(mine.model),
        }
        with Client(server.url, verify=ca, cert=client_cert, **options) as client:
            assert len(client.predict(mine.x_test[:2]).predictions) == 2
        with Client(server.url, verify=ca, **options) as no_cert, pytest.raises(MlwardenError):
            no_cert.predict(mine.x_test[:2])
        with pytest.raises(httpx.HTTPError):
            httpx.get(server.url.replace("https", "http") + "/healthz", timeout=5)
        with pytest.raises(httpx.HTTPError):  # a server certificate no trusted CA signed
            httpx.get(server.url + "/healthz", timeout=5, verify=untrusting)
    finally:
        server.stop()


def test_no_answered_request_is_lost_when_the_server_is_killed(served: Served) -> None:
    mine = _fresh(served, "kill")
    token, _ = KeyStore.open(mine.root / "keys.json").create("load")
    server = Server(
        mine, policy_toml(mine.root, extra='[gateway.rate_limit]\nper_key = "100000/minute"')
    )
    server.wait_ready(lambda: _ok(server.url))
    answered: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()
    body = {"instances": mine.x_test[:1].tolist()}

    def traffic(worker: int) -> None:
        with httpx.Client(base_url=server.url, timeout=5) as http:
            for i in range(2000):
                if stop.is_set():
                    return
                rid = f"w{worker}-{i:05d}-{uuid.uuid4().hex[:8]}"
                headers = {"Authorization": f"Bearer {token}", "mlwarden-request-id": rid}
                try:
                    response = http.post("/v1/predict", json=body, headers=headers)
                except httpx.HTTPError:
                    return
                if (
                    response.status_code == 200
                    and response.headers.get("mlwarden-request-id") == rid
                ):
                    with lock:
                        answered.append(rid)

    with ThreadPoolExecutor(4) as pool:
        futures = [pool.submit(traffic, w) for w in range(4)]
        deadline = threading.Event()
        while len(answered) < 150 and not deadline.wait(0.05):
            if all(f.done() for f in futures):
                break
        server.kill()  # SIGKILL while requests are in flight
        stop.set()
        for future in futures:
            future.result(timeout=30)
    assert len(answered) >= 150
    log = SqliteAuditLog(mine.root / "audit.db")
    records = list(log.records())
    recorded = {r.record.request_id for r in records}
    assert set(answered) <= recorded
    assert verify_chain(records).ok
    log.close()
    sqlite3.connect(mine.root / "audit.db").execute("PRAGMA integrity_check").fetchone()


@pytest.mark.redis
def test_two_workers_on_redis_admit_exactly_the_limit(served: Served) -> None:
    redis_url = service_url("redis")
    mine = _fresh(served, "redis")
    # a fresh key: fresh counters
    token, _ = KeyStore.open(mine.root / "keys.json").create("burst")
    scraper, _ = KeyStore.open(mine.root / "keys.json").create("prometheus", ("metrics",))
    extra = (
        f'[gateway.rate_limit]\nstorage = "{redis_url}"\n'
        'per_key = "20/minute"\nper_ip = "1000/minute"\n'
    )
    server = Server(mine, policy_toml(mine.root, extra=extra), "--workers", "2")
    try:
        server.wait_ready(lambda: _ok(server.url))
        body = {"instances": mine.x_test[:1].tolist()}

        def send(_: int) -> int:
            with httpx.Client(timeout=30) as http:
                response = http.post(
                    server.url + "/v1/predict",
                    json=body,
                    headers={"Authorization": f"Bearer {token}"},
                )
                return response.status_code

        with ThreadPoolExecutor(8) as pool:
            statuses = list(pool.map(send, range(60)))
        assert statuses.count(200) == 20 and statuses.count(429) == 40
        metrics = httpx.get(server.url + "/metrics", headers={"Authorization": f"Bearer {scraper}"})
        # the counts of both workers, aggregated (prometheus-client multiprocess mode)
        assert 'mlwarden_requests_total{route="predict",status="200"} 20.0' in metrics.text
        assert 'mlwarden_requests_total{route="predict",status="429"} 40.0' in metrics.text
        log = SqliteAuditLog(mine.root / "audit.db")  # both workers appended to one chain
        report = verify_chain(log.records())
        log.close()
        assert report.ok and report.records >= 60
    finally:
        server.stop()


@pytest.mark.postgres
def test_two_workers_share_one_postgresql_audit_chain(served: Served) -> None:
    import psycopg

    pg_url = service_url("postgres")
    mine = _fresh(served, "pg")
    table = f"audit_{uuid.uuid4().hex[:12]}"
    token, _ = KeyStore.open(mine.root / "keys.json").create("pg")
    policy = policy_toml(mine.root)
    text = policy.read_text().replace(
        f'url = "sqlite:///{mine.root / "audit.db"}"', f'url = "{pg_url}"\ntable = "{table}"'
    )
    policy.write_text(text)
    server = Server(mine, policy, "--workers", "2")
    try:
        server.wait_ready(lambda: _ok(server.url))
        body = {"instances": mine.x_test[:1].tolist()}

        def send(_: int) -> int:
            with httpx.Client(timeout=30) as http:
                return http.post(
                    server.url + "/v1/predict",
                    json=body,
                    headers={"Authorization": f"Bearer {token}"},
                ).status_code

        with ThreadPoolExecutor(8) as pool:
            assert set(pool.map(send, range(40))) == {200}
    finally:
        server.stop()
    log = open_audit_log(pg_url, table=table)
    try:
        report = verify_chain(log.records())
        assert report.ok and report.records >= 40
    finally:
        log.close()
        with psycopg.connect(pg_url) as db:
            db.execute(f"DROP TABLE IF EXISTS {table}")
            db.execute(f"DROP FUNCTION IF EXISTS {table}_append_only")
