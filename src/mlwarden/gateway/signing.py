"""ML09: every response signed with an RFC 9421 HTTP Message Signature, bound to the model.

The signature (label ``mlwarden``, tag ``mlwarden-response``) covers the status, the
content type, the RFC 9530 ``Content-Digest`` of the body, the ``mlwarden-model-digest``
header (the digest ``mlwarden hash`` gives the served model) and ``mlwarden-request-id``
(echoed from the request, so a recorded answer cannot be replayed to another request), with
``created`` and ``keyid`` parameters. Ed25519 by default; ECDSA P-256 or HMAC-SHA256 by
policy.

NOTE: the signature base is assembled here rather than by ``http_message_signatures``'s
signer, which spends ~0.7 ms per response serialising structured fields in pure Python
(measured; the key operation itself is ~30 us). The covered components are fixed and their
values are ours (ASCII, no newlines), so the base is a plain join; the tests check that it
equals the package's ``prepare()`` output and that the package's verifier accepts every
signature. Clients verify with the package (:mod:`mlwarden.client`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import time
from pathlib import Path
from typing import Any

from mlwarden.errors import ConfigError

SIGNATURE_LABEL = "mlwarden"
SIGNATURE_TAG = "mlwarden-response"
MODEL_DIGEST_HEADER = "mlwarden-model-digest"
REQUEST_ID_HEADER = "mlwarden-request-id"
#: What every response signature covers, in this order.
COVERED = ("@status", "content-type", "content-digest", MODEL_DIGEST_HEADER, REQUEST_ID_HEADER)
#: Policy algorithm name -> RFC 9421 ``alg`` identifier.
ALGORITHMS = {
    "ed25519": "ed25519",
    "ecdsa-p256-sha256": "ecdsa-p256-sha256",
    "hmac-sha256": "hmac-sha256",
}
_TOKEN = re.compile(r"^[A-Za-z0-9._:/+=-]{1,128}$")


def content_digest(body: bytes) -> str:
    """The RFC 9530 ``Content-Digest`` field value of ``body`` (SHA-256)."""
    return "sha-256=:" + base64.b64encode(hashlib.sha256(body).digest()).decode() + ":"


def signature_params(key_id: str, alg: str, created: int) -> str:
    """The ``@signature-params`` value (the inner list and its parameters)."""
    components = " ".join(f'"{c}"' for c in COVERED)
    return f'({components});created={created};keyid="{key_id}";alg="{alg}";tag="{SIGNATURE_TAG}"'


def signature_base(status: int, values: dict[str, str], params: str) -> bytes:
    """The RFC 9421 signature base of a response (``values``: covered header values)."""
    lines = [f'"@status": {status}']
    lines += [f'"{name}": {values[name]}' for name in COVERED[1:]]
    lines.append(f'"@signature-params": {params}')
    return "\n".join(lines).encode("ascii")


def _safe_value(value: str, what: str) -> str:
    if not value.isascii() or not value.isprintable() or value != value.strip():
        raise ConfigError(f"{what} must be printable ASCII without surrounding spaces")
    return value


class ResponseSigner:
    """Signs responses with one key.

    Args:
        algorithm: ``ed25519``, ``ecdsa-p256-sha256`` or ``hmac-sha256``.
        key: a cryptography private key (Ed25519 / EC P-256), or the HMAC secret bytes.
        key_id: the ``keyid`` parameter.
    """

    def __init__(self, algorithm: str, key: Any, key_id: str) -> None:
        if algorithm not in ALGORITHMS:
            raise ConfigError(f"unsupported signature algorithm {algorithm!r}")
        if not _TOKEN.match(key_id):
            raise ConfigError(f"signing key id {key_id!r} must match {_TOKEN.pattern}")
        self.algorithm = algorithm
        self.alg = ALGORITHMS[algorithm]
        self.key_id = key_id
        self._key = key

    def _sign(self, data: bytes) -> bytes:
        if self.algorithm == "hmac-sha256":
            return hmac.new(self._key, data, hashlib.sha256).digest()
        if self.algorithm == "ed25519":
            signature: bytes = self._key.sign(data)
            return signature
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

        # RFC 9421 3.3.4: ECDSA signatures are r || s, 32 bytes each, not DER.
        r, s = decode_dss_signature(self._key.sign(data, ec.ECDSA(hashes.SHA256())))
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")

    def headers(
        self, status: int, content_type: str, body: bytes, model_digest: str, request_id: str
    ) -> list[tuple[str, str]]:
        """The headers that sign one response (content digest, model digest, signature)."""
        values = {
            "content-type": _safe_value(content_type, "content-type"),
            "content-digest": content_digest(body),
            MODEL_DIGEST_HEADER: model_digest,
            REQUEST_ID_HEADER: request_id,
        }
        params = signature_params(self.key_id, self.alg, int(time.time()))
        signature = base64.b64encode(self._sign(signature_base(status, values, params))).decode()
        return [
            ("content-digest", values["content-digest"]),
            (MODEL_DIGEST_HEADER, model_digest),
            (REQUEST_ID_HEADER, request_id),
            ("signature-input", f"{SIGNATURE_LABEL}={params}"),
            ("signature", f"{SIGNATURE_LABEL}=:{signature}:"),
        ]


def load_signer(
    algorithm: str, key_file: str, key_id: str, secret: bytes | None = None
) -> tuple[ResponseSigner, Path | None]:
    """The signer a policy names, creating its key pair when the file is absent.

    Returns:
        The signer and the path of the public key (``KEY.pub``), ``None`` for HMAC.

    Raises:
        ConfigError: the key file is unreadable or of the wrong type, or HMAC has no secret.
    """
    if algorithm == "hmac-sha256":
        if not secret or len(secret) < 32:
            raise ConfigError(
                "hmac-sha256 needs a secret of at least 32 bytes",
                hint="Set MLWARDEN_GATEWAY__SIGNING__HMAC_SECRET (or prefer ed25519).",
            )
        return ResponseSigner(algorithm, secret, key_id), None
    path = Path(key_file)
    key = _read_key(path) if path.exists() else _create_key(path, algorithm)
    _check_type(key, algorithm, path)
    public = path.with_name(path.name + ".pub")
    if not public.exists():  # a key brought from elsewhere: publish its public half too
        _write_public(key, public)
    return ResponseSigner(algorithm, key, key_id), public


def _read_key(path: Path) -> Any:
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    try:
        return load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        raise ConfigError(f"cannot read the signing key {path}: {exc}") from None


def _create_key(path: Path, algorithm: str) -> Any:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519

    key: Any = (
        ed25519.Ed25519PrivateKey.generate()
        if algorithm == "ed25519"
        else ec.generate_private_key(ec.SECP256R1())
    )
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(pem)
    except OSError as exc:
        raise ConfigError(f"cannot write the signing key {path}: {exc}") from None
    return key


def _write_public(key: Any, public: Path) -> None:
    from cryptography.hazmat.primitives import serialization

    pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    try:
        public.write_bytes(pem)
    except OSError as exc:
        raise ConfigError(f"cannot write the public key {public}: {exc}") from None


def _check_type(key: Any, algorithm: str, path: Path) -> None:
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519

    ok = (
        isinstance(key, ed25519.Ed25519PrivateKey)
        if algorithm == "ed25519"
        else isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.name == "secp256r1"
    )
    if not ok:
        raise ConfigError(f"{path} is not an {algorithm} private key")
