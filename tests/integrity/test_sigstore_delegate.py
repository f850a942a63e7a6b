"""Certificate-chain bundles are verified through model-signing (offline, with a test CA)."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest

from mlwarden.errors import UsageError
from mlwarden.integrity import ManifestMismatchError, VerificationError, verify_model
from tests.integrity.conftest import make_model

if os.environ.get("MLWARDEN_REQUIRE_SERVICES") == "1":
    import model_signing
else:
    model_signing = pytest.importorskip("model_signing", reason="model-signing is a dev extra")


def _pki(tmp: Path, name: str) -> tuple[Path, Path, Path]:
    """A root CA and a code-signing leaf (key, certificate, CA certificate) as PEM files."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = dt.datetime.now(dt.timezone.utc)
    ca_key, leaf_key = (
        ec.generate_private_key(ec.SECP256R1()),
        ec.generate_private_key(ec.SECP256R1()),
    )
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{name} root")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(1)
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=9))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .sign(ca_key, hashes.SHA256())
    )
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{name} signer")]))
        .issuer_name(ca_name)
        .public_key(leaf_key.public_key())
        .serial_number(2)
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=5))
        .add_extension(
            x509.KeyUsage(True, False, False, False, False, False, False, False, False),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CODE_SIGNING]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    tmp.mkdir(parents=True, exist_ok=True)
    paths = (tmp / "leaf.key", tmp / "leaf.pem", tmp / "ca.pem")
    paths[0].write_bytes(
        leaf_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    paths[1].write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    return paths


def test_certificate_chain_bundle(tmp_path: Path) -> None:
    model = make_model(tmp_path / "model")
    key, cert, ca = _pki(tmp_path / "pki", "good")
    _, _, other_ca = _pki(tmp_path / "other", "other")
    sig = tmp_path / "model.sig"
    model_signing.signing.Config().use_certificate_signer(
        private_key=key, signing_certificate=cert, certificate_chain=[ca]
    ).sign(model, sig)
    result = verify_model(model, signature=sig, certificate_chain=[ca])
    assert result.checks == ("certificate",)
    with pytest.raises(VerificationError) as info:
        verify_model(model, signature=sig, certificate_chain=[other_ca])
    assert info.value.problems[0].rule_id == "INT-VER-004"
    (model / "config.json").write_text("{}")
    with pytest.raises(VerificationError, match=r"config\.json") as info:
        verify_model(model, signature=sig, certificate_chain=[ca])
    assert isinstance(info.value, ManifestMismatchError) or info.value.problems[0].rule_id == (
        "INT-VER-001"
    )


def test_delegation_needs_a_mode(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="nothing to verify"):
        verify_model(tmp_path, identity="me@example.com")
