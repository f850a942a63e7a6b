"""Offline drift tests (ML08): a current sample against a reference, column by column.

Each column gets a significance test (Kolmogorov-Smirnov for numeric columns, chi-square
for categorical ones, both on the reference profile's bins), and effect sizes (normalised
Wasserstein distance, KS distance, population stability index on reference deciles,
Jensen-Shannon distance). A column counts as drifted only when both agree:

- its test survives Holm's correction across every test of the run (so twenty columns do
  not raise twenty times the false alarms), and
- at least one effect size reaches its floor, so that a million rows do not flag a shift
  of 0.03 standard deviations that no model notices.

A change of the missing-value share is tested the same way (two-proportion chi-square,
floor on the absolute change). With raw reference rows, a domain classifier (gradient-
boosted trees telling reference rows from current ones, cross-validated AUC) looks for
multivariate drift that no single column shows, such as a changed correlation.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from mlwarden.errors import UsageError
from mlwarden.monitor.domain import DomainCheck, domain_check
from mlwarden.monitor.frame import Frame, as_frame
from mlwarden.monitor.sketch import (
    Binned,
    DriftProfile,
    NumericSketch,
    Sketch,
    build_profile,
)
from mlwarden.monitor.stats import chi2_two_sample, holm, js_distance, ks_binned, psi
from mlwarden.monitor.stats import wasserstein_binned as _wasserstein

Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class DriftOptions:
    """Decision thresholds of :func:`detect_drift` (documented defaults; ``[drift]`` config).

    Attributes:
        alpha: family-wise false-alarm rate across all tests of one run (Holm).
        min_wasserstein: Wasserstein distance over the reference's standard deviation.
        min_ks: KS distance (largest gap between the two CDFs).
        min_psi: population stability index on reference deciles (0.25: a major shift).
        min_js: Jensen-Shannon distance (base 2) of category or decile shares.
        min_missing: absolute change of the share of missing values.
        large: an effect this many times its floor makes a finding high severity.
        domain_classifier: run the multivariate check (needs reference rows).
        domain_rows: rows per side the domain classifier samples.
        min_auc: AUC the domain classifier must reach to count as drift.
        bins: histogram bins per numeric column of a profile built here.
        seed: sampling seed of the domain classifier.
    """

    alpha: float = 0.01
    min_wasserstein: float = 0.1
    min_ks: float = 0.1
    min_psi: float = 0.25
    min_js: float = 0.1
    min_missing: float = 0.05
    large: float = 3.0
    domain_classifier: bool = True
    domain_rows: int = 10_000
    min_auc: float = 0.55
    bins: int = 2048
    seed: int = 0

    def floors(self, kind: str) -> dict[str, float]:
        """Effect-size floors of a column kind, by effect name."""
        if kind == "numeric":
            return {"wasserstein": self.min_wasserstein, "ks": self.min_ks, "psi": self.min_psi}
        return {"js": self.min_js, "psi": self.min_psi}


@dataclass(frozen=True)
class ColumnTest:
    """The tests of one column, before the decision.

    Attributes:
        name: the column; ``kind``: numeric or categorical; ``test``: KS or chi-square.
        pvalue: the test's p-value (uncorrected); ``effects``: effect sizes by name.
        missing: share of missing values (reference, current) and the change's p-value.
        shares: reference and current shares per display bin; ``bins``: their labels.
    """

    name: str
    kind: str
    test: str
    pvalue: float
    effects: dict[str, float]
    missing: tuple[float, float, float]
    shares: tuple[tuple[float, ...], tuple[float, ...]]
    bins: tuple[str, ...]


@dataclass(frozen=True)
class FeatureDrift(ColumnTest):
    """The tests of one column and the decision.

    Attributes:
        drifted: significant after Holm and an effect at its floor; ``reasons`` says which.
        missing_drifted: the missing share changed (significant and above its floor).
        large: an effect reached ``large`` times its floor.
    """

    drifted: bool = False
    missing_drifted: bool = False
    large: bool = False
    reasons: tuple[str, ...] = ()


@dataclass(frozen=True)
class DriftResult:
    """Everything :func:`detect_drift` found.

    Attributes:
        reference_rows, current_rows: sample sizes.
        features: one entry per tested column.
        domain: the multivariate check, or ``None`` (``domain_note`` says why).
        missing_columns: reference columns absent from the current data.
        extra_columns: current columns the reference does not have (not tested).
        type_changes: columns whose kind differs (numeric vs categorical).
        options: the thresholds used.
    """

    reference_rows: int
    current_rows: int
    features: tuple[FeatureDrift, ...]
    domain: DomainCheck | None
    domain_note: str
    missing_columns: tuple[str, ...]
    extra_columns: tuple[str, ...]
    type_changes: tuple[str, ...]
    options: DriftOptions

    @property
    def drifted_names(self) -> tuple[str, ...]:
        """Columns whose distribution or missing share drifted."""
        return tuple(f.name for f in self.features if f.drifted or f.missing_drifted)

    @property
    def drifted(self) -> bool:
        """Any column, the joint distribution, or the schema changed."""
        multivariate = self.domain is not None and self.domain.drifted
        schema = bool(self.missing_columns or self.type_changes)
        return bool(self.drifted_names) or multivariate or schema


def detect_drift(
    reference: Any,
    current: Any,
    *,
    names: list[str] | tuple[str, ...] | None = None,
    columns: list[str] | tuple[str, ...] | None = None,
    exclude: list[str] | tuple[str, ...] = (),
    options: DriftOptions | None = None,
    progress: Progress | None = None,
) -> DriftResult:
    """Test ``current`` against ``reference`` (data or a :class:`DriftProfile`).

    Args:
        reference: a :class:`DriftProfile`, a path (CSV, Parquet, NPZ, or a profile
            ``.json``), an array ``(n, d)``, a mapping of columns or a DataFrame.
        current: the data to test, in any of the data forms.
        names: column names for arrays (both sides).
        columns: the reference columns to test (default: all); ``exclude``: columns not to.
        options: thresholds; the defaults are documented on :class:`DriftOptions`.
        progress: called with ``(stage, done, total)`` as columns are tested.

    Raises:
        UsageError: no column in common, or an invalid sample.
        InputError: a file cannot be read.
    """
    options = options or DriftOptions()
    ref_frame, profile = _reference(reference, names, options)
    cur = as_frame(current, names)
    wanted = _wanted(profile.names, columns, exclude)
    common = [n for n in wanted if n in cur.names]
    if not common:
        raise UsageError("the reference and the current data have no column in common")
    kinds = {n: _kind(cur.column(n), profile.sketch(n)) for n in common}
    changed = tuple(n for n in common if kinds[n] != profile.sketch(n).kind)
    tested = [n for n in common if n not in changed]
    raw = [
        _test(profile.sketch(n), _values(cur.column(n), profile.sketch(n)))
        for n in _progress(tested, progress)
    ]
    features = _decide(raw, options)
    domain, note = _domain(ref_frame, cur, tested, options, progress)
    return DriftResult(
        profile.rows,
        cur.rows,
        tuple(features),
        domain,
        note,
        tuple(n for n in wanted if n not in cur.names),
        tuple(n for n in cur.names if n not in profile.names and n not in exclude),
        changed,
        options,
    )


def _kind(values: NDArray[Any], sketch: Sketch) -> str:
    """The column's kind; an all-missing column takes the reference's (it is missing, not
    re-typed)."""
    if values.dtype.kind == "f":
        return sketch.kind if np.isnan(values).all() else "numeric"
    return "categorical"


def _values(values: NDArray[Any], sketch: Sketch) -> NDArray[Any]:
    """An all-missing column of a categorical reference column, as missing categories."""
    if sketch.kind == "categorical" and values.dtype.kind == "f":
        return np.full(len(values), None, dtype=object)
    return values


def _wanted(
    names: tuple[str, ...],
    columns: list[str] | tuple[str, ...] | None,
    exclude: list[str] | tuple[str, ...],
) -> list[str]:
    unknown = [c for c in (*(columns or ()), *exclude) if c not in names]
    if unknown:
        raise UsageError(f"the reference has no column {', '.join(map(repr, unknown))}")
    return [n for n in (columns or names) if n not in exclude]


def _reference(
    reference: Any, names: list[str] | tuple[str, ...] | None, options: DriftOptions
) -> tuple[Frame | None, DriftProfile]:
    if isinstance(reference, DriftProfile):
        return None, reference
    is_path = isinstance(reference, str) or hasattr(reference, "suffix")
    if is_path and str(reference).lower().endswith(".json"):
        return None, DriftProfile.load(reference)
    frame = as_frame(reference, names)
    return frame, build_profile(frame, bins=options.bins)


def _progress(items: list[str], progress: Progress | None) -> list[str]:
    if progress is None:
        return items
    out = []
    for done, item in enumerate(items):
        progress("columns", done, len(items))
        out.append(item)
    progress("columns", len(items), len(items))
    return out


def _test(sketch: Sketch, values: NDArray[Any]) -> ColumnTest:
    if isinstance(sketch, NumericSketch):
        cur = sketch.bin(values)
        ref = sketch.reference()
        stat, pvalue = ks_binned(ref.counts, cur.counts)
        tails = (ref.below, ref.above, cur.below, cur.above)
        spread = sketch.std if sketch.std > 0 else max(abs(sketch.mean), 1.0) * 1e-9
        wass = _wasserstein(ref.counts, cur.counts, sketch.edges, tails) / spread
        ref_g, cur_g, labels = _deciles(sketch, ref.counts, cur.counts)
        effects = {"wasserstein": wass, "ks": stat}
        test = "KS"
    else:
        labels, ref, cur = sketch.bin(values)
        ref_g, cur_g = ref.counts, cur.counts
        pvalue = float(chi2_two_sample(ref_g, cur_g)[0])
        effects = {"js": float(js_distance(ref_g, cur_g)[0])}
        test = "chi-square"
    effects["psi"] = float(psi(ref_g, cur_g)[0])
    if effects.get("js") is None:
        effects["js"] = float(js_distance(ref_g, cur_g)[0])
    return ColumnTest(
        sketch.name,
        sketch.kind,
        test,
        pvalue,
        effects,
        _missing(ref, cur),
        (_share_tuple(ref_g), _share_tuple(cur_g)),
        labels,
    )


def _deciles(
    sketch: NumericSketch, ref: NDArray[np.int64], cur: NDArray[np.int64]
) -> tuple[NDArray[np.int64], NDArray[np.int64], tuple[str, ...]]:
    """Both histograms regrouped on the reference's deciles (fewer groups for ties)."""
    cum = np.cumsum(ref) / max(int(ref.sum()), 1)
    ends = np.searchsorted(cum, np.arange(1, 10) / 10 - 1e-12, side="left")
    starts = np.unique(np.concatenate([[0], ends + 1]))
    starts = starts[starts < len(ref)]
    # Slot s of the histogram ends at padded[s + 1] (slot 0 is below the range).
    padded = np.concatenate([[-np.inf], sketch.edges, [np.inf]])
    labels = [f"≤{_short(padded[s])}" for s in starts[1:]]
    labels.append(f">{_short(padded[starts[-1]])}" if len(starts) > 1 else "all")
    return np.add.reduceat(ref, starts), np.add.reduceat(cur, starts), tuple(labels)


def _short(value: float) -> str:
    return "∞" if not np.isfinite(value) else f"{value:.4g}"


def _share_tuple(counts: NDArray[np.int64]) -> tuple[float, ...]:
    total = max(int(counts.sum()), 1)
    return tuple(round(float(c) / total, 6) for c in counts)


def _missing(ref: Binned, cur: Binned) -> tuple[float, float, float]:
    n_ref, n_cur = int(ref.counts.sum()) + ref.missing, int(cur.counts.sum()) + cur.missing
    table_ref = np.array([[ref.missing, n_ref - ref.missing]])
    table_cur = np.array([[cur.missing, n_cur - cur.missing]])
    pvalue = float(chi2_two_sample(table_ref, table_cur)[0])
    return ref.missing / max(n_ref, 1), cur.missing / max(n_cur, 1), pvalue


def _decide(raw: list[ColumnTest], options: DriftOptions) -> list[FeatureDrift]:
    """Holm across every test of the run, then the effect-size floors."""
    pvalues = np.array([r.pvalue for r in raw] + [r.missing[2] for r in raw])
    rejected = holm(pvalues, options.alpha) if len(pvalues) else np.zeros(0, bool)
    out = []
    for i, r in enumerate(raw):
        floors = options.floors(r.kind)
        met = [k for k, floor in floors.items() if r.effects[k] >= floor]
        reasons = tuple(f"{k} {r.effects[k]:.3g} >= {floors[k]:g}" for k in met)
        change = abs(r.missing[1] - r.missing[0])
        missing_drifted = bool(rejected[len(raw) + i]) and change >= options.min_missing
        if missing_drifted:
            reasons += (f"missing share {r.missing[0]:.3g} -> {r.missing[1]:.3g}",)
        drifted = bool(rejected[i]) and bool(met)
        large = any(r.effects[k] >= floors[k] * options.large for k in met) or (
            missing_drifted and change >= options.min_missing * options.large
        )
        out.append(
            FeatureDrift(
                **vars(r),
                drifted=drifted,
                missing_drifted=missing_drifted,
                large=large and (drifted or missing_drifted),
                reasons=reasons if (drifted or missing_drifted) else (),
            )
        )
    return out


def _domain(
    ref: Frame | None,
    cur: Frame,
    names: list[str],
    options: DriftOptions,
    progress: Progress | None,
) -> tuple[DomainCheck | None, str]:
    if not options.domain_classifier:
        return None, "the domain classifier is switched off"
    if ref is None:
        return None, "a saved profile holds no rows; give reference data for the multivariate check"
    if min(ref.rows, cur.rows) < 50:
        return None, "the multivariate check needs at least 50 rows on each side"
    if progress is not None:
        progress("domain classifier", 0, 1)
    check = domain_check(
        ref, cur, names, options.domain_rows, options.min_auc, options.alpha, options.seed
    )
    if progress is not None:
        progress("domain classifier", 1, 1)
    return check, ""
