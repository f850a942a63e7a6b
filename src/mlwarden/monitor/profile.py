"""Reference profile: what the training inputs looked like, built once, kept as JSON.

A profile holds, per flat feature, the range, mean and standard deviation, quantiles, and a
histogram over equal-width bins between the minimum and the maximum (plus one bin below and
one above the range). From it come the gateway's input bounds, the drift tests (window
histograms against the reference histograms) and the extraction monitor's
out-of-distribution score: the log-probability of an input under independent per-feature
histograms, with thresholds measured on a held-out fifth of the data. No training row is
stored, so a profile can be shared without leaking the data it summarises.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from mlwarden.errors import InputError, UsageError

PROFILE_VERSION = 1
#: Held-out quantiles of the log-probability score kept in a profile (for OOD thresholds).
SCORE_LEVELS = (0.001, 0.005, 0.01, 0.02, 0.05, 0.1, 0.5)
_SMOOTH = 0.5


@dataclass(frozen=True)
class ReferenceProfile:
    """Per-feature summary of reference (training) inputs.

    Attributes:
        input_shape: shape of one input.
        n: rows summarised.
        low: per-feature minimum; ``high``: maximum.
        mean: per-feature mean; ``std``: standard deviation.
        quantiles: ``(d, q)`` values at evenly spaced probabilities 0..1.
        counts: ``(d, bins + 2)`` histogram: bin 0 is below ``low``, the last is above ``high``.
        score_levels: held-out quantiles of :meth:`log_score` at :data:`SCORE_LEVELS`.
    """

    input_shape: tuple[int, ...]
    n: int
    low: NDArray[np.float64]
    high: NDArray[np.float64]
    mean: NDArray[np.float64]
    std: NDArray[np.float64]
    quantiles: NDArray[np.float64]
    counts: NDArray[np.int64]
    score_levels: tuple[float, ...]

    @property
    def n_features(self) -> int:
        return len(self.low)

    @property
    def n_bins(self) -> int:
        """Histogram slots per feature, the two out-of-range ones included."""
        return int(self.counts.shape[1])

    @classmethod
    def build(
        cls, x: NDArray[Any], *, bins: int = 32, quantiles: int = 101, seed: int = 0
    ) -> ReferenceProfile:
        """Summarise reference inputs ``x`` of shape ``(n, *input_shape)``.

        Raises:
            UsageError: ``x`` is not a finite numeric array with at least 10 rows.
        """
        arr = np.asarray(x)
        if arr.ndim < 2 or len(arr) < 10 or arr.dtype.kind not in "fiub":
            raise UsageError("a reference profile needs a numeric array of at least 10 rows")
        flat = arr.reshape(len(arr), -1).astype(np.float64)
        if not np.isfinite(flat).all():
            raise UsageError("the reference data holds NaN or infinite values; clean it first")
        if not 2 <= bins <= 250:
            raise UsageError("bins must be between 2 and 250")
        order = np.random.default_rng(seed).permutation(len(flat))
        fit, held = flat[order[: max(1, len(flat) * 4 // 5)]], flat[order[len(flat) * 4 // 5 :]]
        base = cls._from_rows(arr.shape[1:], flat, bins, quantiles, ())
        # Thresholds come from rows the histograms did not see, so natural traffic (new rows
        # from the same distribution) is not flagged more often than the levels say.
        probe = cls._from_rows(arr.shape[1:], fit, bins, quantiles, ())
        probe = _with_counts(_with_range(probe, base), fit)
        scores = probe.log_score(held if len(held) else fit)
        levels = tuple(float(v) for v in np.quantile(scores, SCORE_LEVELS))
        return _replace_levels(base, levels)

    @classmethod
    def _from_rows(
        cls,
        shape: tuple[int, ...],
        flat: NDArray[np.float64],
        bins: int,
        quantiles: int,
        levels: tuple[float, ...],
    ) -> ReferenceProfile:
        low, high = flat.min(axis=0), flat.max(axis=0)
        profile = cls(
            tuple(int(s) for s in shape),
            len(flat),
            low,
            high,
            flat.mean(axis=0),
            flat.std(axis=0),
            np.quantile(flat, np.linspace(0.0, 1.0, quantiles), axis=0).T.copy(),
            np.zeros((flat.shape[1], bins + 2), dtype=np.int64),
            levels,
        )
        return _with_counts(profile, flat)

    def bin_index(self, x: NDArray[Any]) -> NDArray[np.uint8]:
        """Histogram slot of every value of ``x`` (``(n, d)`` flat rows)."""
        flat = np.asarray(x, dtype=np.float64).reshape(-1, self.n_features)
        inner = self.n_bins - 2
        width = np.where(self.high > self.low, (self.high - self.low) / inner, 1.0)
        idx = np.floor((flat - self.low) / width)
        np.maximum(idx, 0.0, out=idx)
        np.minimum(idx, inner - 1, out=idx)
        idx += 1
        idx[flat < self.low] = 0
        idx[flat > self.high] = inner + 1
        return idx.astype(np.uint8)

    def log_probabilities(self) -> NDArray[np.float64]:
        """``(d, bins + 2)`` smoothed log-probability of each histogram slot."""
        total = self.n + _SMOOTH * self.n_bins
        out: NDArray[np.float64] = np.log((self.counts + _SMOOTH) / total)
        return out

    def log_score(
        self, x: NDArray[Any], table: NDArray[np.float64] | None = None
    ) -> NDArray[np.float64]:
        """Log-probability of each row under independent per-feature histograms."""
        return self.score_bins(self.bin_index(x), table)

    def score_bins(
        self, idx: NDArray[np.uint8], table: NDArray[np.float64] | None = None
    ) -> NDArray[np.float64]:
        """:meth:`log_score` of rows already binned by :meth:`bin_index`."""
        table = self.log_probabilities() if table is None else table
        out: NDArray[np.float64] = table[np.arange(self.n_features), idx].sum(axis=1)
        return out

    def histogram(self, idx: NDArray[np.uint8]) -> NDArray[np.int64]:
        """``(d, bins + 2)`` counts of rows already binned by :meth:`bin_index`."""
        offsets = np.arange(self.n_features, dtype=np.int64) * self.n_bins
        flat = (idx.astype(np.int64) + offsets).ravel()
        counts = np.bincount(flat, minlength=self.n_features * self.n_bins)
        return counts.reshape(self.n_features, self.n_bins)

    def ood_threshold(self, level: float = 0.01) -> float:
        """Score below which an input counts as out of distribution (held-out ``level``)."""
        if level not in SCORE_LEVELS:
            raise UsageError(f"level must be one of {SCORE_LEVELS}")
        return self.score_levels[SCORE_LEVELS.index(level)]

    def to_dict(self) -> dict[str, Any]:
        """Plain data (JSON-ready)."""
        return {
            "version": PROFILE_VERSION,
            "input_shape": list(self.input_shape),
            "n": self.n,
            "low": self.low.tolist(),
            "high": self.high.tolist(),
            "mean": self.mean.tolist(),
            "std": self.std.tolist(),
            "quantiles": self.quantiles.tolist(),
            "counts": self.counts.tolist(),
            "score_levels": list(self.score_levels),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ReferenceProfile:
        """Rebuild a profile written by :meth:`to_dict`."""
        if data.get("kind") == "mlwarden-drift-profile":
            raise InputError(
                "this is a drift profile (mlwarden drift --save-profile), which holds no rows; "
                "the gateway needs the training data or a gateway profile as its reference"
            )
        if data.get("version") != PROFILE_VERSION:
            raise InputError(f"unsupported reference profile version {data.get('version')!r}")
        try:
            arrays = {
                k: np.asarray(data[k], dtype=np.float64) for k in ("low", "high", "mean", "std")
            }
            profile = cls(
                tuple(int(v) for v in data["input_shape"]),
                int(data["n"]),
                arrays["low"],
                arrays["high"],
                arrays["mean"],
                arrays["std"],
                np.asarray(data["quantiles"], dtype=np.float64),
                np.asarray(data["counts"], dtype=np.int64),
                tuple(float(v) for v in data["score_levels"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(f"invalid reference profile: {exc}") from None
        d = profile.n_features
        if profile.counts.ndim != 2 or profile.counts.shape[0] != d or len(profile.high) != d:
            raise InputError("invalid reference profile: per-feature arrays differ in length")
        return profile

    def save(self, path: str | Path) -> None:
        """Write the profile as JSON."""
        Path(path).write_text(json.dumps(self.to_dict()), encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> ReferenceProfile:
        """Read a profile written by :meth:`save`."""
        return cls.from_dict(read_json_object(path, "reference profile"))


def read_json_object(path: str | Path, what: str) -> dict[str, Any]:
    """The JSON object in ``path``; InputError naming ``what`` when it is anything else."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read {what} {path}: {exc}") from None
    if not isinstance(data, dict):
        raise InputError(f"{path} is not a {what}")
    return data


def _with_counts(profile: ReferenceProfile, flat: NDArray[np.float64]) -> ReferenceProfile:
    counts = profile.histogram(profile.bin_index(flat))
    return ReferenceProfile(**{**profile.__dict__, "counts": counts})


def _with_range(probe: ReferenceProfile, base: ReferenceProfile) -> ReferenceProfile:
    """``probe``'s rows binned on ``base``'s range (the range of all the data)."""
    fitted = ReferenceProfile(**{**probe.__dict__, "low": base.low, "high": base.high})
    return fitted


def _replace_levels(profile: ReferenceProfile, levels: tuple[float, ...]) -> ReferenceProfile:
    return ReferenceProfile(**{**profile.__dict__, "score_levels": levels})


def load_reference(path: str | Path) -> ReferenceProfile | NDArray[np.float32]:
    """A profile (``.json``) or reference inputs (``.npy``, ``.npz`` with ``X``, ``.csv``).

    Raises:
        InputError: the file is missing or not one of these.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"no such reference file: {path}")
    suffix = path.suffix.lower()
    if suffix == ".json":
        return ReferenceProfile.load(path)
    if suffix == ".npy":
        try:
            arr = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise InputError(f"cannot read {path}: {exc}") from None
        return np.ascontiguousarray(arr, dtype=np.float32)
    from mlwarden.datasets import load_table

    return load_table(path).X
