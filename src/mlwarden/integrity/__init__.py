"""Model integrity (OWASP ML06, ML10): hashing, signing, verification, lockfile, safe loading.

Bundles follow the OpenSSF model-signing v1.0 format (a Sigstore bundle holding a DSSE
envelope over an in-toto statement), so ``model_signing verify key`` accepts mlwarden's
ECDSA signatures and mlwarden accepts theirs. Names are imported lazily: ``import mlwarden``
stays light, and ``cryptography`` or ML frameworks load only when used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mlwarden._lazy import lazy_names

_EXPORTS = {
    "HashOptions": "hashing",
    "HashResult": "hashing",
    "HashStats": "hashing",
    "hash_model": "hashing",
    "Manifest": "manifest",
    "Serialization": "manifest",
    "SigningKey": "keys",
    "VerifyingKey": "keys",
    "generate_key": "keys",
    "load_private_key": "keys",
    "load_public_key": "keys",
    "SignResult": "sign",
    "sign_model": "sign",
    "VerificationResult": "verify",
    "VerifyOptions": "verify",
    "verify_model": "verify",
    "LockEntry": "lockfile",
    "Lockfile": "lockfile",
    "LoadedModel": "safeload",
    "MetricGate": "safeload",
    "UnverifiedLoadWarning": "safeload",
    "safe_load": "safeload",
    "Problem": "errors",
    "VerificationError": "errors",
    "SignatureError": "errors",
    "BundleError": "errors",
    "ManifestMismatchError": "errors",
    "NotApprovedError": "errors",
    "UnsafeModelError": "errors",
    "MetricGateError": "errors",
    "HashingError": "errors",
    "KeyFormatError": "errors",
    "LockfileError": "errors",
    "NoSafeLoaderError": "errors",
}

__all__ = [
    "BundleError",
    "HashOptions",
    "HashResult",
    "HashStats",
    "HashingError",
    "KeyFormatError",
    "LoadedModel",
    "LockEntry",
    "Lockfile",
    "LockfileError",
    "Manifest",
    "ManifestMismatchError",
    "MetricGate",
    "MetricGateError",
    "NoSafeLoaderError",
    "NotApprovedError",
    "Problem",
    "Serialization",
    "SignResult",
    "SignatureError",
    "SigningKey",
    "UnsafeModelError",
    "UnverifiedLoadWarning",
    "VerificationError",
    "VerificationResult",
    "VerifyOptions",
    "VerifyingKey",
    "generate_key",
    "hash_model",
    "load_private_key",
    "load_public_key",
    "safe_load",
    "sign_model",
    "verify_model",
]

if TYPE_CHECKING:
    from mlwarden.integrity.errors import (
        BundleError,
        HashingError,
        KeyFormatError,
        LockfileError,
        ManifestMismatchError,
        MetricGateError,
        NoSafeLoaderError,
        NotApprovedError,
        Problem,
        SignatureError,
        UnsafeModelError,
        VerificationError,
    )
    from mlwarden.integrity.hashing import HashOptions, HashResult, HashStats, hash_model
    from mlwarden.integrity.keys import (
        SigningKey,
        VerifyingKey,
        generate_key,
        load_private_key,
        load_public_key,
    )
    from mlwarden.integrity.lockfile import LockEntry, Lockfile
    from mlwarden.integrity.manifest import Manifest, Serialization
    from mlwarden.integrity.safeload import (
        LoadedModel,
        MetricGate,
        UnverifiedLoadWarning,
        safe_load,
    )
    from mlwarden.integrity.sign import SignResult, sign_model
    from mlwarden.integrity.verify import VerificationResult, VerifyOptions, verify_model


__getattr__ = lazy_names(__name__, {k: f"{__name__}.{v}" for k, v in _EXPORTS.items()})


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
