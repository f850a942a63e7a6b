"""Provenance of a training set: a signable manifest of its content, and the diff of two.

The manifest records where the data came from and when, the file's SHA-256 (computed with
the integrity module's hashing), the schema (columns and their ranges), the row count and
label distribution, a digest per block of rows, and a short digest per row (of the whole row
and of its features alone), so that :func:`diff` can tell rows added, removed, changed in
place and *relabelled* (same features, new label: the signature of a label-flip attack).
Signatures use the integrity module's keys over the DSSE pre-authentication encoding of the
canonical manifest JSON.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from mlwarden.errors import InputError

if TYPE_CHECKING:
    from mlwarden.datasets import Table
    from mlwarden.integrity.keys import SigningKey, VerifyingKey

KIND = "mlwarden.data-manifest"
VERSION = 1
PAYLOAD_TYPE = "application/vnd.mlwarden.data-manifest+json"
BLOCK_ROWS = 1024
_ROW_BYTES = 8
_MAX_MANIFEST_BYTES = 1 << 30


class ManifestError(InputError):
    """A data manifest cannot be read, or is not an mlwarden data manifest."""

    hint = "Pass a manifest written by `mlwarden data check --manifest-out` (JSON)."


@dataclass(frozen=True)
class Column:
    """One feature column: its name and observed range."""

    name: str
    min: float
    max: float
    mean: float
    std: float


@dataclass(frozen=True)
class DataManifest:
    """What a training set contained, as a JSON-ready value (see :meth:`to_json`)."""

    source: str
    created_at: str
    files: tuple[dict[str, Any], ...]
    rows: int
    label: str | None
    classes: tuple[str, ...]
    counts: tuple[int, ...]
    columns: tuple[Column, ...]
    blocks: tuple[str, ...]
    row_digests: bytes
    feature_digests: bytes
    block_rows: int = BLOCK_ROWS
    score: dict[str, Any] | None = None
    signature: dict[str, str] | None = field(default=None, compare=False)

    def payload(self) -> dict[str, Any]:
        """Everything that the digest and the signature cover."""
        return {
            "kind": KIND,
            "version": VERSION,
            "source": self.source,
            "created_at": self.created_at,
            "files": list(self.files),
            "rows": self.rows,
            "label": {
                "name": self.label,
                "classes": list(self.classes),
                "counts": list(self.counts),
            },
            "columns": [c.__dict__ for c in self.columns],
            "block_rows": self.block_rows,
            "blocks": list(self.blocks),
            "row_digests": base64.b64encode(self.row_digests).decode("ascii"),
            "feature_digests": base64.b64encode(self.feature_digests).decode("ascii"),
            "score": self.score,
        }

    def canonical(self) -> bytes:
        """The payload as canonical JSON bytes (sorted keys, no spaces)."""
        return json.dumps(self.payload(), sort_keys=True, separators=(",", ":")).encode("utf-8")

    @property
    def digest(self) -> str:
        """``sha256:<hex>`` of the canonical payload."""
        return "sha256:" + hashlib.sha256(self.canonical()).hexdigest()

    def to_json(self) -> str:
        doc = {**self.payload(), "digest": self.digest}
        if self.signature is not None:
            doc["signature"] = self.signature
        return json.dumps(doc, indent=1, sort_keys=True)

    def label_share(self) -> dict[str, float]:
        """Share of each class among the rows."""
        total = max(sum(self.counts), 1)
        return {c: n / total for c, n in zip(self.classes, self.counts, strict=True)}


def class_positions(table: Table) -> np.ndarray[Any, np.dtype[np.int64]]:
    """Per row, the position of its class in ``table.classes`` (integer labels are kept as
    they are by the loaders, other labels are already positions)."""
    classes = list(table.classes)
    if classes and all(isinstance(c, (int, np.integer)) for c in classes):
        return np.searchsorted(np.asarray(classes), table.y).astype(np.int64)
    return np.asarray(table.y, dtype=np.int64)


def class_name(table: Table, label: int) -> str:
    """The printable name of class ``label`` (a value of ``table.y``)."""
    classes = list(table.classes)
    if classes and all(isinstance(c, (int, np.integer)) for c in classes):
        return str(label)
    return str(classes[label]) if 0 <= label < len(classes) else str(label)


def _row_digests(table: Table) -> tuple[bytes, bytes]:
    rows, feats = bytearray(), bytearray()
    x = np.ascontiguousarray(table.X.reshape(len(table.X), -1), dtype="<f4")
    names = [str(c).encode("utf-8") for c in table.classes]
    labels = [names[i] for i in class_positions(table).tolist()]
    for vec, label in zip(x, labels, strict=True):
        raw = vec.tobytes()
        feats += hashlib.blake2b(raw, digest_size=_ROW_BYTES).digest()
        rows += hashlib.blake2b(raw + b"\x1f" + label, digest_size=_ROW_BYTES).digest()
    return bytes(rows), bytes(feats)


def _blocks(row_digests: bytes, block_rows: int) -> tuple[str, ...]:
    step = block_rows * _ROW_BYTES
    return tuple(
        hashlib.sha256(row_digests[i : i + step]).hexdigest()
        for i in range(0, len(row_digests), step)
    )


def _columns(table: Table) -> tuple[Column, ...]:
    x = table.X.reshape(len(table.X), -1).astype(np.float64)
    names = table.feature_names if len(table.feature_names) == x.shape[1] else ()
    names = names or tuple(f"x{i}" for i in range(x.shape[1]))
    stats = zip(names, x.min(0), x.max(0), x.mean(0), x.std(0), strict=True)
    return tuple(
        Column(n, float(lo), float(hi), float(mu), float(sd)) for n, lo, hi, mu, sd in stats
    )


def file_entry(path: Path) -> dict[str, Any]:
    """``{"path", "size", "digest"}`` of a data file, hashed by the integrity module."""
    from mlwarden.integrity.hashing import HashOptions, hash_model

    result = hash_model(path, HashOptions(workers=1))
    digest = result.manifest.items[0].digest.hex()
    return {"path": path.name, "size": path.stat().st_size, "digest": f"sha256:{digest}"}


def build_manifest(
    table: Table,
    *,
    path: str | Path | None = None,
    source: str | None = None,
    label: str | None = None,
    score: dict[str, Any] | None = None,
    block_rows: int = BLOCK_ROWS,
) -> DataManifest:
    """The manifest of a loaded table (and of the file it came from, when given)."""
    files = (file_entry(Path(path)),) if path is not None else ()
    rows, feats = _row_digests(table)
    counts = Counter(class_positions(table).tolist())
    return DataManifest(
        source=source or (str(path) if path is not None else "memory"),
        created_at=datetime.now(timezone.utc).replace(microsecond=0).isoformat(),
        files=files,
        rows=len(table.y),
        label=label,
        classes=tuple(str(c) for c in table.classes),
        counts=tuple(counts.get(i, 0) for i in range(len(table.classes))),
        columns=_columns(table),
        blocks=_blocks(rows, block_rows),
        row_digests=rows,
        feature_digests=feats,
        block_rows=block_rows,
        score=score,
    )


def sign_manifest(manifest: DataManifest, key: SigningKey) -> DataManifest:
    """``manifest`` with a signature over its canonical payload (DSSE PAE)."""
    from dataclasses import replace

    from mlwarden.integrity.detached import sign_detached

    return replace(manifest, signature=sign_detached(PAYLOAD_TYPE, manifest.canonical(), key))


def verify_manifest(manifest: DataManifest, key: VerifyingKey) -> None:
    """Raise :class:`~mlwarden.integrity.errors.SignatureError` unless ``key`` signed it."""
    from mlwarden.integrity.detached import verify_detached

    verify_detached(
        manifest.signature,
        PAYLOAD_TYPE,
        manifest.canonical(),
        key,
        rule_id="DATA-PRV-002",
        what="data manifest",
    )


def read_manifest(path: str | Path) -> DataManifest:
    """Parse a manifest file; raises :class:`ManifestError` on anything unexpected."""
    p = Path(path)
    try:
        if p.stat().st_size > _MAX_MANIFEST_BYTES:
            raise ManifestError(f"{p}: larger than 1 GiB")
        doc = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ManifestError(f"cannot read data manifest {p}: {exc}") from None
    return manifest_from_dict(doc, str(p))


def manifest_from_dict(doc: object, where: str = "manifest") -> DataManifest:
    """A :class:`DataManifest` from its JSON form; the stored digest must match."""
    if not isinstance(doc, dict) or doc.get("kind") != KIND or doc.get("version") != VERSION:
        raise ManifestError(f"{where}: not an mlwarden data manifest (version {VERSION})")
    try:
        label = doc["label"]
        manifest = DataManifest(
            source=str(doc["source"]),
            created_at=str(doc["created_at"]),
            files=tuple(dict(f) for f in doc["files"]),
            rows=int(doc["rows"]),
            label=label["name"],
            classes=tuple(str(c) for c in label["classes"]),
            counts=tuple(int(c) for c in label["counts"]),
            columns=tuple(Column(**c) for c in doc["columns"]),
            blocks=tuple(str(b) for b in doc["blocks"]),
            row_digests=base64.b64decode(doc["row_digests"], validate=True),
            feature_digests=base64.b64decode(doc["feature_digests"], validate=True),
            block_rows=int(doc["block_rows"]),
            score=doc.get("score"),
            signature=doc.get("signature"),
        )
    except (KeyError, TypeError, ValueError, binascii.Error) as exc:
        raise ManifestError(f"{where}: malformed data manifest ({exc})") from None
    if doc.get("digest") not in (None, manifest.digest):
        raise ManifestError(
            f"{where}: the manifest's content does not match its digest (edited by hand?)"
        )
    return manifest


@dataclass(frozen=True)
class ManifestDiff:
    """How a data set changed between two manifests.

    Attributes:
        added, removed: rows present in only one of them (as multisets of row digests).
        relabelled: rows whose features are unchanged but whose label changed.
        changed: rows at the same position whose features changed in place.
        label_shift: total variation distance between the two label distributions.
        shares: per class, ``(old share, new share)``.
        columns_added, columns_removed: schema changes by column name.
    """

    unchanged: int
    added: int
    removed: int
    relabelled: int
    changed: int
    label_shift: float
    shares: dict[str, tuple[float, float]]
    columns_added: tuple[str, ...] = ()
    columns_removed: tuple[str, ...] = ()

    @property
    def identical(self) -> bool:
        return not (self.added or self.removed or self.relabelled or self.changed)

    def to_dict(self) -> dict[str, Any]:
        return {
            "unchanged": self.unchanged,
            "added": self.added,
            "removed": self.removed,
            "relabelled": self.relabelled,
            "changed": self.changed,
            "label_shift": round(self.label_shift, 4),
            "shares": {k: [round(a, 4), round(b, 4)] for k, a, b in _flat(self.shares)},
            "columns_added": list(self.columns_added),
            "columns_removed": list(self.columns_removed),
        }


def _flat(shares: dict[str, tuple[float, float]]) -> list[tuple[str, float, float]]:
    return [(k, v[0], v[1]) for k, v in shares.items()]


def _split(blob: bytes) -> list[bytes]:
    return [blob[i : i + _ROW_BYTES] for i in range(0, len(blob), _ROW_BYTES)]


def _unmatched(old: list[bytes], new: list[bytes]) -> tuple[list[int], list[int]]:
    """Positions left over after matching equal digests as multisets."""
    pending: dict[bytes, list[int]] = {}
    for i, d in enumerate(old):
        pending.setdefault(d, []).append(i)
    left_new = []
    for j, d in enumerate(new):
        slots = pending.get(d)
        if slots:
            slots.pop()
        else:
            left_new.append(j)
    left_old = sorted(i for slots in pending.values() for i in slots)
    return left_old, left_new


def _changed_in_place(old: list[bytes], new: list[bytes], gone: set[int], fresh: set[int]) -> int:
    """Left-over rows that replace each other where a line diff of the two row sequences
    sees a replacement (rows shifted by inserts or deletes elsewhere still pair up)."""
    from difflib import SequenceMatcher

    if not gone or not fresh:
        return 0
    matcher = SequenceMatcher(None, old, new, autojunk=False)
    pairs = 0
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "replace":
            olds = sum(1 for i in range(i1, i2) if i in gone)
            news = sum(1 for j in range(j1, j2) if j in fresh)
            pairs += min(olds, news)
    return pairs


def diff(old: DataManifest, new: DataManifest) -> ManifestDiff:
    """Rows added, removed, relabelled and changed, and the label distribution shift."""
    old_rows, new_rows = _split(old.row_digests), _split(new.row_digests)
    gone, fresh = _unmatched(old_rows, new_rows)
    old_feat, new_feat = _split(old.feature_digests), _split(new.feature_digests)
    # Same features, other label: pair the leftovers by their feature digests.
    gone_f, fresh_f = _unmatched([old_feat[i] for i in gone], [new_feat[j] for j in fresh])
    relabelled = len(gone) - len(gone_f)
    gone = [gone[i] for i in gone_f]
    fresh = [fresh[j] for j in fresh_f]
    changed = _changed_in_place(old_rows, new_rows, set(gone), set(fresh))
    old_share, new_share = old.label_share(), new.label_share()
    classes = sorted(set(old_share) | set(new_share))
    shares = {c: (old_share.get(c, 0.0), new_share.get(c, 0.0)) for c in classes}
    old_cols, new_cols = [c.name for c in old.columns], [c.name for c in new.columns]
    return ManifestDiff(
        unchanged=len(new_rows) - len(fresh) - relabelled,
        added=len(fresh) - changed,
        removed=len(gone) - changed,
        relabelled=relabelled,
        changed=changed,
        label_shift=0.5 * sum(abs(a - b) for a, b in shares.values()),
        shares=shares,
        columns_added=tuple(c for c in new_cols if c not in old_cols),
        columns_removed=tuple(c for c in old_cols if c not in new_cols),
    )
