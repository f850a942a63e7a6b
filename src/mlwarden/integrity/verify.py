"""Verifies a model against its signature and/or the approved-hash lockfile, failing closed.

Order: read and check the bundle (signature, key, predicate, names) -> hash the local model
with the serialization the bundle records -> compare file by file (changed, missing, extra)
-> for MLflow models, check that every artifact ``MLmodel`` references is covered -> check
the lockfile's approved digest. Any failure raises :class:`VerificationError` listing every
problem found; success returns a :class:`VerificationResult`. Nothing returns ``False``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from mlwarden.errors import InputError, UsageError
from mlwarden.integrity import bundle
from mlwarden.integrity.errors import BundleError, ManifestMismatchError, Problem
from mlwarden.integrity.hashing import HashOptions, HashResult, HashStats, hash_model
from mlwarden.integrity.keys import VerifyingKey, load_public_key
from mlwarden.integrity.lockfile import LockEntry, Lockfile, check_model
from mlwarden.integrity.manifest import SHARDS, Manifest, compare
from mlwarden.integrity.mlflow import MLMODEL, coverage_problems, parse_mlmodel
from mlwarden.integrity.sign import DEFAULT_SIGNATURE, excluded_paths


@dataclass(frozen=True)
class VerifyOptions:
    """How strictly to verify.

    Attributes:
        ignore: more paths or globs to leave out of the local model (never hides a signed
            file: a signed file that is ignored counts as missing).
        ignore_git: leave out git metadata (as model_signing does).
        allow_symlinks: follow links to files (refused by default).
        allow_extra: accept files the signature does not list (reported as a warning).
        workers, max_files: threads and the file-count bound.
    """

    ignore: tuple[str, ...] = ()
    ignore_git: bool = True
    allow_symlinks: bool = False
    allow_extra: bool = False
    workers: int = 0
    max_files: int = 1_000_000

    def hash_options(self) -> HashOptions:
        return HashOptions(
            ignore=self.ignore,
            ignore_git=self.ignore_git,
            allow_symlinks=self.allow_symlinks,
            workers=self.workers,
            max_files=self.max_files,
        )


@dataclass(frozen=True)
class VerificationResult:
    """A model that passed every requested check.

    Attributes:
        model: the verified path.
        manifest: the model's manifest as hashed now (it matches the signed one).
        checks: what was verified: ``"signature"`` and/or ``"lockfile"``.
        key_kind, key_hint: the verifying key (signature checks only).
        lock_entry: the approving lockfile entry (lockfile checks only).
        warnings: what verification could not cover (extra files allowed, empty files in
            a sharded manifest); never failures.
        stats: hashing statistics.
    """

    model: Path
    manifest: Manifest
    checks: tuple[str, ...]
    key_kind: str | None
    key_hint: str | None
    lock_entry: LockEntry | None
    warnings: tuple[Problem, ...]
    stats: HashStats

    @property
    def digest(self) -> str:
        return "sha256:" + self.manifest.root_digest().hex()


def read_bundle(signature: str | Path, key: VerifyingKey) -> Manifest:
    """Read a signature file and return the manifest it signs (raises when it does not verify)."""
    path = Path(signature)
    try:
        if path.stat().st_size > bundle.MAX_BUNDLE_BYTES:
            raise BundleError([Problem("INT-VER-005", "signature bundle larger than 512 MiB")])
        data = path.read_bytes()
    except FileNotFoundError:
        raise InputError(
            f"signature file not found: {str(path)!r}",
            hint="Pass the bundle with --sig (model_signing writes model.sig by default).",
        ) from None
    except OSError as exc:
        raise InputError(f"cannot read signature {str(path)!r}: {exc.strerror}") from None
    return bundle.read_signed_manifest(data, key)


def check_signed(
    model: Path, expected: Manifest, options: VerifyOptions, exclude: list[str]
) -> tuple[HashResult, list[Problem]]:
    """Hash ``model`` the way ``expected`` was hashed and compare; returns the warnings."""
    ser = expected.serialization
    hopts = replace(
        options.hash_options(),
        algorithm=ser.hash_type,
        shard_size=ser.shard_size,
        ignore=(*options.ignore, *ser.ignore_paths),
    )
    result = hash_model(model, hopts, exclude=exclude)
    problems = compare(expected, result.manifest, allow_extra=options.allow_extra)
    problems += _mlflow_problems(model, result.manifest)
    if problems:
        raise ManifestMismatchError(problems)
    return result, _warnings(expected, result.manifest, options)


def _mlflow_problems(model: Path, actual: Manifest) -> list[Problem]:
    names = set(actual.by_file()) | set(actual.states)
    if MLMODEL not in names:
        return []
    try:
        parsed = parse_mlmodel((model / MLMODEL).read_bytes(), model)
    except (OSError, InputError, UsageError) as exc:
        return [Problem("INT-VER-008", f"cannot check MLmodel references: {exc}", MLMODEL)]
    return coverage_problems(parsed, names)


def _warnings(expected: Manifest, actual: Manifest, options: VerifyOptions) -> list[Problem]:
    out: list[Problem] = []
    extra = sorted(set(actual.by_file()) - set(expected.by_file()))
    if extra and options.allow_extra:
        shown = ", ".join(repr(n) for n in extra[:5]) + (" ..." if len(extra) > 5 else "")
        out.append(Problem("INT-VER-009", f"{len(extra)} unsigned file(s) allowed: {shown}"))
    empty = [n for n, s in actual.states.items() if s.size == 0]
    if empty and expected.serialization.method == SHARDS:
        out.append(Problem("INT-VER-010", f"{len(empty)} empty file(s) are not covered by shards"))
    return out


def _signed(
    root: Path,
    sig: Path,
    verifier: VerifyingKey | None,
    identity: str | None,
    issuer: str | None,
    chain: Sequence[str | Path],
    options: VerifyOptions,
) -> tuple[Manifest, str]:
    """The signed manifest, checked with the key or by model-signing, and the check's name."""
    if verifier is not None:
        return read_bundle(sig, verifier), "signature"
    from mlwarden.integrity.sigstore import verify_delegated

    manifest = verify_delegated(
        root,
        sig,
        identity=identity,
        issuer=issuer,
        certificate_chain=chain,
        allow_symlinks=options.allow_symlinks,
    )
    return manifest, "sigstore" if identity else "certificate"


def verify_model(
    model: str | Path,
    *,
    key: VerifyingKey | str | Path | None = None,
    signature: str | Path = DEFAULT_SIGNATURE,
    lockfile: Lockfile | str | Path | None = None,
    name: str | None = None,
    options: VerifyOptions | None = None,
    identity: str | None = None,
    issuer: str | None = None,
    certificate_chain: Sequence[str | Path] = (),
) -> VerificationResult:
    """Verify a model directory (or file) against a signature and/or an approved digest.

    Args:
        model: the model directory (an MLflow model directory works as is) or file.
        key: the publisher's public key (object or PEM path); checks ``signature``.
        signature: the bundle (default ``model.sig`` in the working directory).
        lockfile: a :class:`Lockfile` or its path; checks the approved digest.
        name: the lockfile entry (default: the model directory's name).
        options: ignore rules, links, extra files, threads.
        identity, issuer: verify a Sigstore keyless bundle (signer identity and OIDC
            issuer), delegated to model-signing (extra ``sigstore``), instead of ``key``.
        certificate_chain: verify a certificate-signed bundle against these PEM files
            (delegated to model-signing), instead of ``key``.

    Returns:
        What was verified.

    Raises:
        VerificationError: (subclasses say which check) the model does not verify.
        UsageError: neither a key nor a lockfile was given.
        InputError: a file cannot be read (signature, key, lockfile, model).
    """
    delegated = bool(certificate_chain) or bool(identity and issuer)
    if key is None and lockfile is None and not delegated:
        raise UsageError(
            "nothing to verify against: give a public key (signature) and/or a lockfile",
            hint="mlwarden verify MODEL --key publisher.pub.pem [--lock mlwarden.lock]",
        )
    options = options or VerifyOptions()
    root = Path(model)
    sig_path = Path(signature) if key is not None or delegated else None
    exclude = excluded_paths(root, sig_path)
    checks: list[str] = []
    warnings: list[Problem] = []
    result: HashResult | None = None
    verifier = key if key is None or isinstance(key, VerifyingKey) else load_public_key(key)
    if sig_path is not None:
        expected, how = _signed(
            root, sig_path, verifier, identity, issuer, certificate_chain, options
        )
        result, warnings = check_signed(root, expected, options, exclude)
        checks.append(how)
    entry = None
    if lockfile is not None:
        lock = lockfile if isinstance(lockfile, Lockfile) else Lockfile.read(lockfile)
        previous = result.manifest if result is not None else None
        entry, lock_result = check_model(
            root, lock, name, options=options.hash_options(), exclude=exclude, previous=previous
        )
        result = result or lock_result
        checks.append("lockfile")
    if result is None:  # pragma: no cover - excluded by the check above
        raise UsageError("nothing was verified")
    return VerificationResult(
        root,
        result.manifest,
        tuple(checks),
        verifier.kind if verifier else None,
        verifier.hint if verifier else None,
        entry,
        tuple(warnings),
        result.stats,
    )
