"""ML09 response signatures: RFC 9421 bases equal the package's, its verifier accepts them."""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

import pytest
from http_message_signatures import (
    HTTPMessageSigner,
    HTTPMessageVerifier,
    InvalidSignature,
    algorithms,
)

from mlwarden.errors import ConfigError
from mlwarden.gateway.signing import (
    COVERED,
    content_digest,
    load_signer,
    signature_base,
    signature_params,
)

BODY = b'{"predictions":[3],"model":{"name":"m","digest":"sha256:ab"}}'


class _Message:
    def __init__(self, status: int, headers: dict[str, str]) -> None:
        self.status_code = status
        self.headers = headers


class _Keys:
    def __init__(self, private: Any, public: Any) -> None:
        self.private, self.public = private, public

    def resolve_private_key(self, key_id: str) -> Any:
        return self.private

    def resolve_public_key(self, key_id: str) -> Any:
        return self.public if key_id == "gw" else None


def _signed(algorithm: str, tmp_path: Path, status: int = 200) -> tuple[_Message, Any]:
    signer, public_path = load_signer(algorithm, str(tmp_path / "k.pem"), "gw", b"s" * 32)
    headers = dict(signer.headers(status, "application/json", BODY, "sha256:ab", "req-000001"))
    headers["content-type"] = "application/json"
    if public_path is None:
        return _Message(status, headers), b"s" * 32
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    return _Message(status, headers), load_pem_public_key(public_path.read_bytes())


@pytest.mark.parametrize(
    ("algorithm", "cls"),
    [
        ("ed25519", algorithms.ED25519),
        ("ecdsa-p256-sha256", algorithms.ECDSA_P256_SHA256),
        ("hmac-sha256", algorithms.HMAC_SHA256),
    ],
)
def test_the_package_verifies_every_algorithm(tmp_path: Path, algorithm: str, cls: Any) -> None:
    message, public = _signed(algorithm, tmp_path, status=422)
    verifier = HTTPMessageVerifier(signature_algorithm=cls, key_resolver=_Keys(None, public))
    (result,) = verifier.verify(
        message, expect_tag="mlwarden-response", require_components=COVERED, body=BODY
    )
    assert result.covered_components['"@status"'] == "422"
    assert result.covered_components['"mlwarden-model-digest"'] == "sha256:ab"
    assert result.parameters["alg"] == algorithm and result.parameters["keyid"] == "gw"
    with pytest.raises(InvalidSignature):
        verifier.verify(message, expect_tag="mlwarden-response", body=BODY + b" ")
    message.status_code = 200
    with pytest.raises(InvalidSignature):
        verifier.verify(message, expect_tag="mlwarden-response", body=BODY)


def test_signature_base_equals_the_packages(tmp_path: Path) -> None:
    headers = {
        "content-type": "application/json",
        "content-digest": content_digest(BODY),
        "mlwarden-model-digest": "sha256:ab",
        "mlwarden-request-id": "req-000001",
    }
    signer = HTTPMessageSigner(
        signature_algorithm=algorithms.ED25519, key_resolver=_Keys(None, None)
    )
    created = datetime.datetime.fromtimestamp(1_700_000_000, datetime.timezone.utc)
    prepared = signer.prepare(
        _Message(201, dict(headers)),
        key_id="gw",
        created=created,
        covered_component_ids=COVERED,
        label="mlwarden",
        tag="mlwarden-response",
        use_existing_digest=True,
    )
    ours = signature_base(201, headers, signature_params("gw", "ed25519", 1_700_000_000))
    assert prepared.signature_base == ours


def test_keys_are_created_once_and_checked(tmp_path: Path) -> None:
    first, public = load_signer("ed25519", str(tmp_path / "k.pem"), "gw")
    again, _ = load_signer("ed25519", str(tmp_path / "k.pem"), "gw")
    assert public is not None and public.read_bytes().startswith(b"-----BEGIN PUBLIC KEY")
    assert (tmp_path / "k.pem").stat().st_mode & 0o077 == 0
    assert (
        first.headers(200, "a/b", b"", "d", "r1234567")[0]
        == again.headers(200, "a/b", b"", "d", "r1234567")[0]
    )
    public.unlink()  # a key brought from elsewhere gets its public half written
    assert load_signer("ed25519", str(tmp_path / "k.pem"), "gw")[1] == public and public.exists()
    with pytest.raises(ConfigError):
        load_signer("ecdsa-p256-sha256", str(tmp_path / "k.pem"), "gw")
    with pytest.raises(ConfigError):
        load_signer("hmac-sha256", "", "gw", b"short")
    with pytest.raises(ConfigError):
        load_signer("ed25519", str(tmp_path / "k2.pem"), "bad id with spaces")
