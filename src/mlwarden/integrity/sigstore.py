"""Sigstore keyless and certificate-chain verification, delegated to OpenSSF model-signing.

Key-based bundles are verified by mlwarden itself. Bundles signed with a Fulcio certificate
(keyless, checked against the Rekor transparency log) or with an X.509 certificate chain
need a PKI stack that model-signing already provides; this module calls its API (extra
``sigstore``) and maps every failure to :class:`VerificationError`, so verification still
fails closed with a rule id.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mlwarden.errors import UsageError
from mlwarden.integrity import bundle
from mlwarden.integrity.errors import BundleError, Problem, VerificationError
from mlwarden.integrity.manifest import Manifest
from mlwarden.integrity.walk import inside


def _model_signing() -> Any:
    try:
        import model_signing
    except ImportError:
        raise UsageError(
            "Sigstore keyless and certificate verification need OpenSSF model-signing",
            hint="pip install 'mlwarden[sigstore]'",
        ) from None
    return model_signing


def _failure(exc: Exception) -> VerificationError:
    text = str(exc)[:500] or type(exc).__name__
    if text.startswith("Signature mismatch"):
        return VerificationError([Problem("INT-VER-001", f"model_signing: {text}")])
    return VerificationError([Problem("INT-VER-004", f"model_signing: {text}")])


def verify_delegated(
    model: str | Path,
    signature: str | Path,
    *,
    identity: str | None = None,
    issuer: str | None = None,
    certificate_chain: Sequence[str | Path] = (),
    use_staging: bool = False,
    allow_symlinks: bool = False,
) -> Manifest:
    """Verify a Sigstore keyless bundle (``identity`` + ``issuer``) or a certificate-chain
    bundle (``certificate_chain``) with model-signing; returns the signed manifest.

    Raises:
        VerificationError: model-signing refused the signature or the files.
        UsageError: model-signing is not installed, or neither mode was asked for.
    """
    ms = _model_signing()
    root, sig = Path(model), Path(signature)
    config = ms.verifying.Config()
    if identity and issuer:
        config = config.use_sigstore_verifier(
            identity=identity, oidc_issuer=issuer, use_staging=use_staging
        )
    elif certificate_chain:
        config = config.use_certificate_verifier(certificate_chain=list(certificate_chain))
    else:
        raise UsageError("give identity and issuer (keyless) or a certificate chain")
    ignored = [p for p in [inside(root, sig)] if p] if root.is_dir() else []
    hashing = ms.hashing.Config().set_ignored_paths(paths=ignored, ignore_git_paths=True)
    config = config.set_hashing_config(hashing.set_allow_symlinks(allow_symlinks))
    try:
        config.verify(root, sig)
    except Exception as exc:  # any failure of the delegate fails closed
        raise _failure(exc) from None
    try:
        return bundle.parse_statement(bundle.parse(sig.read_bytes()).payload)
    except BundleError:
        raise
    except OSError as exc:
        raise VerificationError([Problem("INT-VER-005", f"cannot re-read {sig}: {exc}")]) from None
