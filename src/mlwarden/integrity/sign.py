"""Signs a model: hash it (incrementally when a state file is given) and write the bundle.

The bundle is an OpenSSF model-signing v1.0 Sigstore bundle; with an ECDSA key and the
default per-file SHA-256 hashing, ``model_signing verify key`` accepts it. The signature
file (and the state file) are left out of the manifest when they lie inside the model.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from mlwarden.integrity import bundle
from mlwarden.integrity.hashing import HashOptions, HashStats, hash_model
from mlwarden.integrity.keys import SigningKey, load_private_key
from mlwarden.integrity.manifest import Manifest
from mlwarden.integrity.statefile import manifest_to_json, read_state, write_atomic
from mlwarden.integrity.walk import inside

if TYPE_CHECKING:
    from pydantic import SecretStr

DEFAULT_SIGNATURE = Path("model.sig")


@dataclass(frozen=True)
class SignResult:
    """A written signature: where, over what, with which key, and what was re-hashed."""

    signature: Path
    manifest: Manifest
    stats: HashStats
    key_kind: str
    key_hint: str

    @property
    def digest(self) -> str:
        """The model digest, ``sha256:<hex>`` (the bundle's subject digest)."""
        return "sha256:" + self.manifest.root_digest().hex()


def excluded_paths(model: Path, *paths: Path | None) -> list[str]:
    """The given files' paths relative to the model directory, for those inside it."""
    if not model.is_dir():
        return []
    out = [inside(model, p) for p in paths if p is not None]
    return [p for p in out if p]


def sign_model(
    model: str | Path,
    key: SigningKey | str | Path,
    *,
    signature: str | Path = DEFAULT_SIGNATURE,
    options: HashOptions | None = None,
    passphrase: str | bytes | SecretStr | None = None,
    state: str | Path | None = None,
    previous: Manifest | None = None,
    precomputed: Mapping[str, str | bytes] | None = None,
    model_name: str | None = None,
) -> SignResult:
    """Hash a model and write its signature bundle.

    Args:
        model: a model directory or a single model file.
        key: a :class:`SigningKey` or the path of a PEM private key.
        signature: where to write the bundle (default ``model.sig`` in the working directory).
        options: hashing options (algorithm, shards, ignores, links, threads).
        passphrase: for an encrypted private key file.
        state: a state file: read (if present) to skip unchanged files, then rewritten.
        previous: an earlier manifest to reuse digests from (instead of ``state``).
        precomputed: digests the signer vouches for, by file name.
        model_name: the subject name (default: the directory name).

    Raises:
        KeyFormatError: the key cannot be loaded.
        HashingError: the model cannot be hashed, or a file cannot be written.
    """
    root, sig_path = Path(model), Path(signature)
    state_path = Path(state) if state is not None else None
    signer = key if isinstance(key, SigningKey) else load_private_key(key, passphrase)
    if previous is None and state_path is not None:
        previous = read_state(state_path)
    result = hash_model(
        root,
        options,
        previous=previous,
        precomputed=precomputed,
        exclude=excluded_paths(root, sig_path, state_path),
        model_name=model_name,
    )
    write_atomic(sig_path, bundle.encode(result.manifest, signer))
    if state_path is not None:
        write_atomic(state_path, manifest_to_json(result.manifest))
    public = signer.public
    return SignResult(sig_path, result.manifest, result.stats, signer.kind, public.hint)
