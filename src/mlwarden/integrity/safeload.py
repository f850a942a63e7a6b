"""``safe_load``: verify, scan, then load a model through a loader that cannot run its code.

The model is read once, into a private copy hashed on the way (see :mod:`snapshot`): the
signature and/or lockfile are checked against those digests, the artifact scanner scans the
copy, and the loader reads the copy. So nothing can be swapped between check and load.
An optional metric gate evaluates the loaded model on a reference set and refuses it below
a threshold (OWASP ML10: validate metrics before serving).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from mlwarden.errors import UsageError
from mlwarden.findings import Report, Severity
from mlwarden.integrity import loaders
from mlwarden.integrity.errors import (
    ManifestMismatchError,
    MetricGateError,
    NoSafeLoaderError,
    Problem,
    UnsafeModelError,
)
from mlwarden.integrity.keys import VerifyingKey, load_public_key
from mlwarden.integrity.lockfile import LockEntry, Lockfile, check_digest, lookup
from mlwarden.integrity.manifest import Manifest, Serialization, compare
from mlwarden.integrity.mlflow import MLMODEL, coverage_problems, read_mlmodel
from mlwarden.integrity.sign import DEFAULT_SIGNATURE, excluded_paths
from mlwarden.integrity.snapshot import Snapshot, take_snapshot
from mlwarden.integrity.verify import VerifyOptions, read_bundle
from mlwarden.integrity.walk import GIT_PATHS, IgnoreRules
from mlwarden.scan.engine import ScanOptions, scan
from mlwarden.scan.policy import PicklePolicy


class UnverifiedLoadWarning(UserWarning):
    """``safe_load(..., allow_unverified=True)`` loaded a model without signature or lock."""


@dataclass(frozen=True)
class MetricGate:
    """Refuse a model that scores below ``threshold`` on a reference set.

    Either give ``evaluate`` (model -> score) or reference data ``X``/``y``; the default
    metric is accuracy of ``model.predict(X)`` against ``y``. With ``higher_is_better=False``
    (a loss) the score must not exceed the threshold.
    """

    threshold: float
    X: Any = None
    y: Any = None
    evaluate: Callable[[Any], float] | None = None
    name: str = "accuracy"
    higher_is_better: bool = True

    def score(self, model: Any) -> float:
        if self.evaluate is not None:
            return float(self.evaluate(model))
        if self.X is None or self.y is None or not hasattr(model, "predict"):
            raise UsageError("the metric gate needs evaluate=..., or X and y and a model.predict")
        predicted = list(model.predict(self.X))
        expected = list(self.y)
        if not expected or len(predicted) != len(expected):
            raise UsageError("the metric gate's X and y must be non-empty and of equal length")
        return float(sum(bool(p == e) for p, e in zip(predicted, expected, strict=True))) / len(
            expected
        )

    def check(self, model: Any) -> float:
        """The model's score; raises :class:`MetricGateError` when it fails the gate."""
        try:
            value = self.score(model)
        except UsageError:
            raise
        except Exception as exc:  # fail closed: an evaluation that crashes is a failed gate
            raise MetricGateError(
                [Problem("INT-MET-001", f"evaluating {self.name} failed: {type(exc).__name__}")]
            ) from exc
        ok = value >= self.threshold if self.higher_is_better else value <= self.threshold
        if math.isnan(value) or not ok:
            cmp = "below" if self.higher_is_better else "above"
            raise MetricGateError(
                [
                    Problem(
                        "INT-MET-001",
                        f"{self.name} {value:.4f} is {cmp} the threshold {self.threshold}",
                        expected=str(self.threshold),
                        actual=f"{value:.6f}",
                    )
                ]
            )
        return value


@dataclass(frozen=True)
class LoadedModel:
    """A model that passed every check, and what was checked.

    Attributes:
        model: the loaded object (arrays, a state_dict, an ONNX ModelProto, an estimator).
        format: the loader used (``safetensors``, ``torch``, ``onnx``, ``pickle``, ...).
        path: the model as given; ``member``: the file loaded, relative to it.
        digest: the root digest of the bytes that were checked and loaded.
        checks: ``"signature"``, ``"lockfile"``, ``"scan"``, ``"metric"`` as performed.
        scan: the scanner's report on the loaded bytes.
        metric: the metric gate's score, when a gate was given.
    """

    model: Any
    format: str
    path: Path
    member: str
    digest: str
    checks: tuple[str, ...]
    scan: Report
    metric: float | None = None


@dataclass
class _Plan:
    expected: Manifest | None
    entry: LockEntry | None
    specs: list[Serialization] = field(default_factory=list)
    lock_index: int = 0

    def add(self, spec: Serialization) -> int:
        """Index of the snapshot manifest for ``spec`` (one per distinct hashing method)."""
        for i, have in enumerate(self.specs):
            if (have.method, have.hash_type, have.shard_size) == (
                spec.method,
                spec.hash_type,
                spec.shard_size,
            ):
                return i
        self.specs.append(spec)
        return len(self.specs) - 1


def _plan(
    key: VerifyingKey | str | Path | None,
    signature: str | Path,
    lock: Lockfile | None,
    name: str,
) -> _Plan:
    expected = None
    if key is not None:
        verifier = key if isinstance(key, VerifyingKey) else load_public_key(key)
        expected = read_bundle(signature, verifier)
    entry = lookup(lock, name) if lock is not None else None
    plan = _Plan(expected, entry)
    if expected is not None:
        plan.add(expected.serialization)
    if entry is not None:
        plan.lock_index = plan.add(entry.hash_options().serialization())
    if not plan.specs:
        plan.add(Serialization())
    return plan


def _rules(plan: _Plan, options: VerifyOptions, exclude: list[str]) -> IgnoreRules:
    ignore = [*options.ignore, *exclude]
    # Without a signature, the lock entry says whether git metadata is part of the digest.
    git = (
        options.ignore_git
        if plan.expected is not None or plan.entry is None
        else (plan.entry.ignore_git)
    )
    if git:
        ignore += GIT_PATHS
    if plan.expected is not None:
        ignore += plan.expected.serialization.ignore_paths
    elif plan.entry is not None:
        ignore += plan.entry.ignore
    return IgnoreRules.of(ignore)


def _check(plan: _Plan, snap: Snapshot, options: VerifyOptions) -> tuple[str, list[str]]:
    """Verify the snapshot's digests; returns the root digest and the checks done."""
    checks: list[str] = []
    digest = "sha256:" + snap.manifests[0].root_digest().hex()
    if plan.expected is not None:
        actual = snap.manifests[0]
        problems = compare(plan.expected, actual, allow_extra=options.allow_extra)
        if problems:
            raise ManifestMismatchError(problems)
        snap.remove(sorted(set(actual.by_file()) - set(plan.expected.by_file())))
        digest = "sha256:" + plan.expected.root_digest().hex()
        checks.append("signature")
    if plan.entry is not None:
        lock_manifest = _lock_view(snap.manifests[plan.lock_index], plan.entry)
        digest = "sha256:" + lock_manifest.root_digest().hex()
        check_digest(plan.entry, digest)
        checks.append("lockfile")
    return digest, checks


def _lock_view(manifest: Manifest, entry: LockEntry) -> Manifest:
    """The manifest restricted to the files the lock entry covers."""
    rules = entry.hash_options().rules()
    items = [i for i in manifest.items if not rules.matches(i.name)]
    return Manifest.build(manifest.model_name, manifest.serialization, items)


def _scan(
    snap: Snapshot, scan_options: ScanOptions | None, fail_on: Severity, allow: frozenset[str]
) -> Report:
    options = scan_options or ScanOptions(jobs=1)
    if allow:
        options = replace(options, policy=PicklePolicy(options.policy.allow | allow))
    report = scan([snap.model], options)
    bad = report.at_or_above(fail_on)
    errors = report.errors
    if bad or errors:
        root = str(snap.model)
        problems = [
            Problem(
                "INT-LOAD-001",
                f"{f.rule_id} {f.severity.value}: "
                f"{str(f.location).replace(root, '', 1).lstrip('/') or '.'}: {f.message}",
            )
            for f in bad
        ] + [
            Problem("INT-LOAD-001", f"could not scan {e.path.replace(root, '', 1)}: {e.error}")
            for e in errors
        ]
        raise UnsafeModelError(problems)
    return report


def _target(snap: Snapshot, member: str | None) -> tuple[Path, str, str | None]:
    """The file to load, its name relative to the model, and the MLflow flavor if any."""
    if snap.listing.single_file:
        return snap.model, ".", None
    names = snap.names()
    if member is None and MLMODEL in names:
        mlmodel = read_mlmodel(snap.model)
        problems = coverage_problems(mlmodel, names)
        if problems:
            raise UnsafeModelError(problems)
        flavor, rel, _conf = mlmodel.artifact()
        return _resolve(snap, rel.strip().strip("/"), names), rel, flavor
    if member is not None:
        return _resolve(snap, member, names), member, None
    candidates = [n for n in sorted(names) if loaders.detect(snap.model / n) in _MODEL_KINDS]
    if len(candidates) != 1:
        found = ", ".join(repr(c) for c in candidates[:10]) or "none"
        raise NoSafeLoaderError(
            f"pass member=... to choose the file to load (model files: {found})"
        )
    return snap.model / candidates[0], candidates[0], None


_MODEL_KINDS = frozenset(
    {
        "safetensors",
        "npy",
        "npz",
        "torch",
        "onnx",
        "skops",
        "pickle",
        "joblib",
        "torchscript",
        "keras",
    }
)


def _resolve(snap: Snapshot, rel: str, names: set[str]) -> Path:
    if rel not in names:
        inner = sorted(n for n in names if n.startswith(rel + "/"))
        if len(inner) != 1 or not rel:
            raise NoSafeLoaderError(f"{rel!r} is not one verified file of the model")
        rel = inner[0]
    return snap.model / rel


def safe_load(
    path: str | Path,
    *,
    key: VerifyingKey | str | Path | None = None,
    signature: str | Path = DEFAULT_SIGNATURE,
    lockfile: Lockfile | str | Path | None = None,
    name: str | None = None,
    member: str | None = None,
    framework: str = "numpy",
    device: str = "cpu",
    allow: Sequence[str] = (),
    scan_options: ScanOptions | None = None,
    fail_on: Severity = Severity.MEDIUM,
    metric_gate: MetricGate | None = None,
    options: VerifyOptions | None = None,
    allow_unverified: bool = False,
    tmp_dir: str | Path | None = None,
    max_bytes: int | None = None,
) -> LoadedModel:
    """Verify, scan and load a model without running code from it.

    Args:
        path: a model file, a model directory or an MLflow model directory.
        key, signature: the publisher's public key and the bundle (``model.sig``).
        lockfile, name: approved digests and the entry to use (default: directory name).
        member: which file of a directory to load (default: the MLflow flavor's artifact,
            or the only model file).
        framework: ``"numpy"`` or ``"pt"`` for safetensors; ``device`` for torch tensors.
        allow: extra trusted pickle globals (``module.Name``) for sklearn-style pickles.
        scan_options, fail_on: the artifact scan and the severity that refuses the model.
        metric_gate: evaluate the loaded model and refuse it below a threshold.
        options: verification options (ignore rules, extra files, links, threads).
        allow_unverified: load with no signature and no lockfile (scan and safe loader only;
            warns with :class:`UnverifiedLoadWarning`).
        tmp_dir: where the private copy is made; ``max_bytes`` caps the model size.

    Raises:
        VerificationError: signature, lockfile, scan (UnsafeModelError), format
            (UnsafeModelError, INT-LOAD-002) or metric gate (MetricGateError) refused it.
        NoSafeLoaderError: no code-free loader for the format, or the file is ambiguous.
        UsageError, InputError: bad arguments or unreadable inputs.
    """
    if key is None and lockfile is None and not allow_unverified:
        raise UsageError(
            "safe_load needs a public key and/or a lockfile to verify the model against",
            hint="Pass key=... (and signature=...) or lockfile=...; allow_unverified=True skips "
            "verification (scan and code-free loading only).",
        )
    if key is None and lockfile is None:
        warnings.warn(f"loading {str(path)!r} without verification", UnverifiedLoadWarning, 2)
    options = options or VerifyOptions()
    root = Path(path)
    lock = (
        lockfile if isinstance(lockfile, Lockfile) or lockfile is None else Lockfile.read(lockfile)
    )
    plan = _plan(key, signature, lock, name or root.resolve().name)
    exclude = excluded_paths(root, Path(signature) if key is not None else None)
    with take_snapshot(
        root,
        plan.specs,
        _rules(plan, options, exclude),
        allow_symlinks=options.allow_symlinks,
        max_files=options.max_files,
        max_bytes=max_bytes,
        workers=options.workers,
        tmp_dir=tmp_dir,
    ) as snap:
        digest, checks = _check(plan, snap, options)
        report = _scan(snap, scan_options, fail_on, frozenset(allow))
        target, rel, _flavor = _target(snap, member)
        policy = PicklePolicy(frozenset(allow))
        kind, model = loaders.load_file(target, framework=framework, device=device, policy=policy)
    checks.append("scan")
    score = metric_gate.check(model) if metric_gate is not None else None
    if score is not None:
        checks.append("metric")
    return LoadedModel(model, kind, root, rel, digest, tuple(checks), report, score)
