"""Signing and verification keys: PEM loading, generation, the key hint, sign/verify bytes.

ECDSA on P-256, P-384 and P-521 (hashed with SHA-256/384/512, DER signatures) is what
OpenSSF model-signing uses for key-based bundles. Ed25519 is an mlwarden extension: the
bundle format is the same, but ``model_signing verify key`` does not accept Ed25519 keys.
The key hint is SHA-256 over the public key's PEM SubjectPublicKeyInfo, as model_signing
writes it. Passphrases are never logged, echoed or included in error messages.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlwarden.integrity.errors import KeyFormatError

if TYPE_CHECKING:
    from pydantic import SecretStr

_MAX_KEY_BYTES = 1024 * 1024
_CURVES = {"secp256r1": "ecdsa-p256", "secp384r1": "ecdsa-p384", "secp521r1": "ecdsa-p521"}
KEY_TYPES = ("ecdsa-p256", "ecdsa-p384", "ecdsa-p521", "ed25519")
#: Key types whose bundles the model_signing CLI verifies.
MODEL_SIGNING_COMPATIBLE = frozenset({"ecdsa-p256", "ecdsa-p384", "ecdsa-p521"})


def _crypto() -> Any:
    try:
        from cryptography.hazmat.primitives import serialization
    except ImportError:  # pragma: no cover - cryptography is a core dependency
        raise KeyFormatError("signing needs the cryptography package") from None
    return serialization


def _kind(key: Any) -> str:
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519

    if isinstance(key, (ec.EllipticCurvePublicKey, ec.EllipticCurvePrivateKey)):
        kind = _CURVES.get(key.curve.name)
        if kind is None:
            raise KeyFormatError(f"unsupported elliptic curve {key.curve.name!r}")
        return kind
    if isinstance(key, (ed25519.Ed25519PublicKey, ed25519.Ed25519PrivateKey)):
        return "ed25519"
    raise KeyFormatError(f"unsupported key type {type(key).__name__}")


def _ecdsa(kind: str) -> Any:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    digest = {"ecdsa-p256": hashes.SHA256, "ecdsa-p384": hashes.SHA384}.get(kind, hashes.SHA512)
    return ec.ECDSA(digest())


@dataclass(frozen=True, repr=False)
class VerifyingKey:
    """A public key that checks signatures."""

    key: Any
    kind: str

    def __repr__(self) -> str:
        return f"VerifyingKey({self.kind}, hint={self.hint[:16]})"

    @property
    def pem(self) -> bytes:
        s = _crypto()
        return self.key.public_bytes(  # type: ignore[no-any-return]
            s.Encoding.PEM, s.PublicFormat.SubjectPublicKeyInfo
        )

    @property
    def hint(self) -> str:
        """SHA-256 hex of the PEM public key (the bundle's ``publicKey.hint``)."""
        return hashlib.sha256(self.pem).hexdigest()

    def verify(self, signature: bytes, data: bytes) -> bool:
        """Whether ``signature`` is valid over ``data`` (never raises on a bad signature)."""
        from cryptography.exceptions import InvalidSignature

        try:
            if self.kind == "ed25519":
                self.key.verify(signature, data)
            else:
                self.key.verify(signature, data, _ecdsa(self.kind))
        except (InvalidSignature, ValueError, TypeError):
            return False
        return True


@dataclass(frozen=True, repr=False)
class SigningKey:
    """A private key that signs; its repr never shows key material."""

    key: Any
    kind: str

    def __repr__(self) -> str:
        return f"SigningKey({self.kind})"

    @property
    def public(self) -> VerifyingKey:
        return VerifyingKey(self.key.public_key(), self.kind)

    def sign(self, data: bytes) -> bytes:
        if self.kind == "ed25519":
            return self.key.sign(data)  # type: ignore[no-any-return]
        return self.key.sign(data, _ecdsa(self.kind))  # type: ignore[no-any-return]

    def private_pem(self, passphrase: str | bytes | SecretStr | None = None) -> bytes:
        """PKCS#8 PEM, encrypted with the best available scheme when a passphrase is given."""
        s = _crypto()
        secret = _secret(passphrase)
        encryption = s.BestAvailableEncryption(secret) if secret else s.NoEncryption()
        return self.key.private_bytes(  # type: ignore[no-any-return]
            s.Encoding.PEM, s.PrivateFormat.PKCS8, encryption
        )


def _secret(passphrase: str | bytes | SecretStr | None) -> bytes | None:
    if passphrase is None:
        return None
    if hasattr(passphrase, "get_secret_value"):
        passphrase = passphrase.get_secret_value()
    if isinstance(passphrase, str):
        passphrase = passphrase.encode("utf-8")
    return passphrase or None


def _read(path: str | Path, what: str) -> bytes:
    p = Path(path)
    try:
        if p.stat().st_size > _MAX_KEY_BYTES:
            raise KeyFormatError(f"{what} {str(p)!r} is too large to be a key")
        return p.read_bytes()
    except OSError as exc:
        raise KeyFormatError(f"cannot read {what} {str(p)!r}: {exc.strerror}") from None


def load_private_key(
    path: str | Path, passphrase: str | bytes | SecretStr | None = None
) -> SigningKey:
    """Load a PEM private key (PKCS#8 or traditional), decrypting it with ``passphrase``.

    Raises:
        KeyFormatError: unreadable, not a supported key, encrypted without a passphrase,
            or the passphrase is wrong (the message never contains the passphrase).
    """
    data = _read(path, "private key")
    s = _crypto()
    from cryptography.exceptions import UnsupportedAlgorithm

    try:
        key = s.load_pem_private_key(data, _secret(passphrase))
    except TypeError:
        if _secret(passphrase) is None:
            raise KeyFormatError(
                f"private key {str(path)!r} is encrypted: a passphrase is needed"
            ) from None
        raise KeyFormatError(
            f"private key {str(path)!r} is not encrypted; drop the passphrase"
        ) from None
    except (ValueError, UnsupportedAlgorithm):
        reason = "wrong passphrase, or not a PEM private key" if passphrase else "not a PEM key"
        raise KeyFormatError(f"cannot load private key {str(path)!r}: {reason}") from None
    return SigningKey(key, _kind(key))


def load_public_key(path: str | Path) -> VerifyingKey:
    """Load a PEM public key (SubjectPublicKeyInfo) or take the key of a PEM certificate."""
    data = _read(path, "public key")
    if b"PRIVATE KEY" in data:
        raise KeyFormatError(
            f"{str(path)!r} holds a private key; verification takes the public key",
            hint="Pass the .pub.pem file written by `mlwarden keygen`; keep the private key "
            "with the signer only.",
        )
    s = _crypto()
    from cryptography.exceptions import UnsupportedAlgorithm

    try:
        if b"BEGIN CERTIFICATE" in data:
            from cryptography import x509

            key = x509.load_pem_x509_certificate(data).public_key()
        else:
            key = s.load_pem_public_key(data)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise KeyFormatError(
            f"cannot load public key {str(path)!r}: not a PEM public key"
        ) from None
    return VerifyingKey(key, _kind(key))


def generate_key(kind: str = "ecdsa-p256") -> SigningKey:
    """A new private key of ``kind`` (one of :data:`KEY_TYPES`)."""
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519

    curves: dict[str, ec.EllipticCurve] = {
        "ecdsa-p256": ec.SECP256R1(),
        "ecdsa-p384": ec.SECP384R1(),
        "ecdsa-p521": ec.SECP521R1(),
    }
    if kind == "ed25519":
        return SigningKey(ed25519.Ed25519PrivateKey.generate(), kind)
    if kind not in curves:
        raise KeyFormatError(f"unknown key type {kind!r}; choose one of {', '.join(KEY_TYPES)}")
    return SigningKey(ec.generate_private_key(curves[kind]), kind)
