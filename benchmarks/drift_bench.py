"""Drift benchmark (ML08): mlwarden vs plain scipy (KS, PSI) vs Evidently, same data, one run.

Two seeded frames of ``--rows`` rows (default 1,000,000) x 20 float64 columns, ``f00..f19``,
reference and current drawn independently. Planted changes and the ground truth
(sigma = the reference column's standard deviation):

======  ==============================  ===============================  ==========
column  reference                       current                          meaningful
======  ==============================  ===============================  ==========
f00     normal(0, 1)                    mean +0.5 sigma                  yes
f01     normal(-2, 3)                   mean +0.2 sigma (PSI ~0.04 < 0.1) yes
f02     normal(10, 2)                   mean +0.03 sigma (KS flags it)   no
f03     normal(5, 2)                    scale x1.3, same mean            yes
f04     normal(50, 10)                  5% of rows moved to +4 sigma     yes
f05     lognormal(0, 0.5)               lognormal(0, 0.75), same median  yes
f06     integers 0..9, skewed low       10 points of mass moved high     yes
f07     integers 0..9, bell-shaped      0.5 point moved from 3 to 9      no
f08     normal(100, 15)                 unchanged                        no
f09     lognormal(1, 0.3)               unchanged                        no
f10     uniform(0, 1)                   unchanged                        no
f11     integers 0..9, uniform          unchanged                        no
f12     normal(0, 1)                    unchanged                        no
f13     exponential(2)                  unchanged                        no
f14     uniform(-5, 5)                  unchanged                        no
f15     poisson(3)                      unchanged                        no
f16     lognormal(0, 1)                 unchanged                        no
f17     normal(-3, 0.5)                 unchanged                        no
f18     0/1, P(1) = 0.3                 unchanged                        no
f19     student t(5)                    unchanged                        no
======  ==============================  ===============================  ==========

f06: P = .20 .15 .12 .10 .10 .09 .08 .06 .05 .05 becomes .10 .12 .11 .10 .10 .09 .08 .09 .10
.11 (total variation 0.14, PSI 0.17). f07: P = .05 .08 .12 .15 .15 .14 .12 .09 .06 .04 with
0.005 moved from 3 to 9 (total variation 0.005): at 1M rows KS flags it (critical D ~0.0019).
Ground truth "meaningful drift" = {f00, f01, f03, f04, f05, f06}.

Tools, timed on the same arrays (best of ``--repeat``):
a. plain scipy: per column ``ks_2samp`` (alpha 0.05), and PSI on 10 reference-decile bins
   (drift when PSI >= 0.1);
b. mlwarden ``detect_drift`` from the raw reference, default options and univariate only
   (``DriftOptions(domain_classifier=False)``);
c. mlwarden from a saved profile: ``build_profile`` + ``save`` timed apart, then ``load`` +
   ``detect_drift`` timed together;
d. Evidently's default ``DataDriftPreset`` in its own venv (``benchmarks/drift_bench_evidently.py``
   on ``benchmarks/.data/drift_<rows>.npz``; its own timing excludes building the frames).

Usage::

    benchmarks/setup_drift_peers.sh     # Evidently's venv in benchmarks/.peers/evidently
    .venv/bin/python benchmarks/drift_bench.py [--rows N] [--repeat N] [--skip-evidently]
        [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from mlwarden.models.threads import single_thread
from mlwarden.monitor.drift import DriftOptions, build_profile, detect_drift

HERE = Path(__file__).resolve().parent
DATA = HERE / ".data"
EVIDENTLY_PYTHON = HERE / ".peers" / "evidently" / "bin" / "python"
SEED = 20240908
#: Bump when the generator below changes, so that a cached .npz is not reused.
GENERATOR_VERSION = 1
TRUTH = frozenset({"f00", "f01", "f03", "f04", "f05", "f06"})
KS_ALPHA = 0.05
PSI_THRESHOLD = 0.1

Array = NDArray[np.float64]
Sampler = Callable[[np.random.Generator, int], Array]

P06_REF = (0.20, 0.15, 0.12, 0.10, 0.10, 0.09, 0.08, 0.06, 0.05, 0.05)
P06_CUR = (0.10, 0.12, 0.11, 0.10, 0.10, 0.09, 0.08, 0.09, 0.10, 0.11)
P07_REF = (0.05, 0.08, 0.12, 0.15, 0.15, 0.14, 0.12, 0.09, 0.06, 0.04)
P07_CUR = (0.05, 0.08, 0.12, 0.145, 0.15, 0.14, 0.12, 0.09, 0.06, 0.045)


def normal(loc: float, scale: float) -> Sampler:
    return lambda rng, n: rng.normal(loc, scale, n)


def lognormal(sigma: float, mu: float = 0.0) -> Sampler:
    return lambda rng, n: rng.lognormal(mu, sigma, n)


def categories(p: tuple[float, ...]) -> Sampler:
    return lambda rng, n: rng.choice(len(p), size=n, p=np.asarray(p)).astype(np.float64)


def new_mode(loc: float, scale: float, share: float) -> Sampler:
    """normal(loc, scale) with ``share`` of the rows moved to a tight mode at loc + 4 scale."""

    def draw(rng: np.random.Generator, n: int) -> Array:
        x = rng.normal(loc, scale, n)
        moved = rng.random(n) < share
        x[moved] = rng.normal(loc + 4 * scale, 0.5 * scale, int(moved.sum()))
        return x

    return draw


UNCHANGED: dict[str, Sampler] = {
    "f08": normal(100, 15),
    "f09": lognormal(0.3, mu=1.0),
    "f10": lambda rng, n: rng.uniform(0, 1, n),
    "f11": lambda rng, n: rng.integers(0, 10, n).astype(np.float64),
    "f12": normal(0, 1),
    "f13": lambda rng, n: rng.exponential(2, n),
    "f14": lambda rng, n: rng.uniform(-5, 5, n),
    "f15": lambda rng, n: rng.poisson(3, n).astype(np.float64),
    "f16": lognormal(1.0),
    "f17": normal(-3, 0.5),
    "f18": lambda rng, n: (rng.random(n) < 0.3).astype(np.float64),
    "f19": lambda rng, n: rng.standard_t(5, n),
}
#: Column name -> (reference sampler, current sampler).
COLUMNS: dict[str, tuple[Sampler, Sampler]] = {
    "f00": (normal(0, 1), normal(0.5, 1)),
    "f01": (normal(-2, 3), normal(-2 + 0.2 * 3, 3)),
    "f02": (normal(10, 2), normal(10 + 0.03 * 2, 2)),
    "f03": (normal(5, 2), normal(5, 2 * 1.3)),
    "f04": (normal(50, 10), new_mode(50, 10, 0.05)),
    "f05": (lognormal(0.5), lognormal(0.75)),
    "f06": (categories(P06_REF), categories(P06_CUR)),
    "f07": (categories(P07_REF), categories(P07_CUR)),
    **{name: (draw, draw) for name, draw in UNCHANGED.items()},
}
NAMES = tuple(COLUMNS)


def generate(rows: int, seed: int = SEED) -> tuple[Array, Array]:
    """Reference and current frames; each column has its own seeded stream per side."""
    frames = (np.empty((rows, len(NAMES))), np.empty((rows, len(NAMES))))
    for j, pair in enumerate(COLUMNS.values()):
        for side, draw in enumerate(pair):
            frames[side][:, j] = draw(np.random.default_rng([seed, j, side]), rows)
    return frames


def dataset(rows: int) -> tuple[Array, Array, Path]:
    """The frames, cached in benchmarks/.data/ (reused when rows, seed and generator match)."""
    label = f"{rows // 1_000_000}m" if rows % 1_000_000 == 0 else str(rows)
    path = DATA / f"drift_{label}.npz"
    params = json.dumps({"rows": rows, "seed": SEED, "generator": GENERATOR_VERSION})
    if path.exists():
        with np.load(path) as data:
            if str(data["params"]) == params and tuple(data["names"]) == NAMES:
                return data["reference"], data["current"], path
    reference, current = generate(rows)
    DATA.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, reference=reference, current=current, names=np.array(NAMES), params=params)
    tmp.replace(path)
    return reference, current, path


def best_of(repeat: int, fn: Callable[[], Any]) -> tuple[float, Any]:
    """Best wall time over ``repeat`` calls, and the last call's result."""
    best, out = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return best, out


def ks_flags(reference: Array, current: Array) -> dict[str, float]:
    """Per column KS p-value (two-sample, scipy's default method)."""
    from scipy.stats import ks_2samp

    return {
        name: float(ks_2samp(reference[:, j], current[:, j]).pvalue) for j, name in enumerate(NAMES)
    }


def psi_column(ref: Array, cur: Array) -> float:
    """PSI on reference-decile bins (merged where deciles tie, as on integer columns)."""
    edges = np.unique(np.quantile(ref, np.linspace(0.1, 0.9, 9)))
    bins = len(edges) + 1
    p = np.bincount(np.searchsorted(edges, ref, side="right"), minlength=bins) / len(ref)
    q = np.bincount(np.searchsorted(edges, cur, side="right"), minlength=bins) / len(cur)
    p, q = np.maximum(p, 1e-6), np.maximum(q, 1e-6)
    return float(np.sum((q - p) * np.log(q / p)))


def psi_flags(reference: Array, current: Array) -> dict[str, float]:
    return {name: psi_column(reference[:, j], current[:, j]) for j, name in enumerate(NAMES)}


def entry(
    tool: str, seconds: float | None, drifted: list[str] | None, **extra: Any
) -> dict[str, Any]:
    """One row of the results table, scored against the ground truth."""
    out: dict[str, Any] = {"tool": tool, "seconds": None if seconds is None else round(seconds, 3)}
    if drifted is not None:
        flagged = set(drifted)
        out["drifted"] = sorted(flagged)
        out["missed"] = sorted(TRUTH - flagged)
        out["false_alarms"] = sorted(flagged - TRUTH)
    return {**out, **extra}


def warm_up(reference: Array, current: Array) -> None:
    """One small untimed pass of each in-process tool, so lazy imports (scipy.stats, the
    domain classifier's scikit-learn) are not timed; Evidently's imports are not either."""
    ref, cur = reference[:20_000], current[:20_000]  # > 10,000: KS uses its asymptotic method
    ks_flags(ref, cur)
    psi_flags(ref, cur)
    detect_drift(ref, cur, names=list(NAMES))


def run_scipy(reference: Array, current: Array, repeat: int) -> list[dict[str, Any]]:
    ks_s, pvalues = best_of(repeat, lambda: ks_flags(reference, current))
    psi_s, psis = best_of(repeat, lambda: psi_flags(reference, current))
    ks = [n for n, p in pvalues.items() if p < KS_ALPHA]
    psi = [n for n, v in psis.items() if v >= PSI_THRESHOLD]
    return [
        entry("scipy KS (alpha 0.05)", ks_s, ks, pvalues=pvalues),
        entry("scipy PSI (>= 0.1, deciles)", psi_s, psi, psi=psis),
        entry("scipy KS + PSI", ks_s + psi_s, None),
    ]


def details(result: Any) -> dict[str, Any]:
    """mlwarden's per-column evidence and its multivariate check, for the JSON report."""
    domain = result.domain
    return {
        "columns": {
            f.name: {"test": f.test, "pvalue": f.pvalue, "effects": f.effects, "reasons": f.reasons}
            for f in result.features
        },
        "domain": None
        if domain is None
        else {"auc": domain.auc, "pvalue": domain.pvalue, "drifted": domain.drifted},
        "domain_note": result.domain_note,
    }


def run_mlwarden(reference: Array, current: Array, repeat: int) -> list[dict[str, Any]]:
    names = list(NAMES)
    rows = []
    for label, kwargs in (
        ("mlwarden raw (default)", {}),
        ("mlwarden raw (univariate)", {"options": DriftOptions(domain_classifier=False)}),
    ):
        secs, result = best_of(
            repeat, lambda kw=kwargs: detect_drift(reference, current, names=names, **kw)
        )
        rows.append(entry(label, secs, list(result.drifted_names), **details(result)))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "profile.json"

        def build() -> Any:
            profile = build_profile(reference, names=names)
            profile.save(path)
            return profile

        build_s, profile = best_of(repeat, build)
        kind = type(profile)
        secs, result = best_of(repeat, lambda: detect_drift(kind.load(path), current, names=names))
        size = path.stat().st_size
    rows.append(entry("mlwarden profile build + save", build_s, None, profile_bytes=size))
    rows.append(
        entry(
            "mlwarden profile (load + detect)", secs, list(result.drifted_names), **details(result)
        )
    )
    return rows


def run_evidently(npz: Path, repeat: int) -> dict[str, Any]:
    tool = "Evidently DataDriftPreset"
    if not EVIDENTLY_PYTHON.exists():
        return entry(tool, None, None, error="venv missing: run benchmarks/setup_drift_peers.sh")
    best: dict[str, Any] | None = None
    for _ in range(repeat):
        start = time.perf_counter()
        done = subprocess.run(
            [str(EVIDENTLY_PYTHON), str(HERE / "drift_bench_evidently.py"), str(npz)],
            capture_output=True,
            text=True,
            env={**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"},
            timeout=3600,
            check=False,
        )
        wall = time.perf_counter() - start
        if done.returncode != 0:
            return entry(tool, None, None, error=done.stderr[-1500:])
        raw = json.loads(done.stdout.strip().splitlines()[-1])
        raw["process_seconds"] = round(wall, 1)
        if best is None or raw["seconds"] < best["seconds"]:
            best = raw
    assert best is not None
    return entry(
        f"{tool} ({best['version']})",
        best["seconds"],
        best["drifted"],
        process_seconds=best["process_seconds"],
        max_rss_mib=best["max_rss_mib"],
        columns=best["columns"],
    )


def ratio(rows: list[dict[str, Any]], num: str, den: str) -> float | None:
    """seconds(num) / seconds(den), by tool-name prefix; None when either is missing."""
    found = {}
    for key in (num, den):
        secs = [r["seconds"] for r in rows if r["tool"].startswith(key) and r["seconds"]]
        found[key] = secs[0] if secs else None
    if found[num] is None or found[den] is None:
        return None
    return round(found[num] / found[den], 1)


def ratios(rows: list[dict[str, Any]]) -> dict[str, float | None]:
    raw, uni, prof = "mlwarden raw (default)", "mlwarden raw (univariate)", "mlwarden profile ("
    return {
        "Evidently / mlwarden raw": ratio(rows, "Evidently", raw),
        "Evidently / mlwarden univariate": ratio(rows, "Evidently", uni),
        "scipy KS+PSI / mlwarden raw": ratio(rows, "scipy KS + PSI", raw),
        "scipy KS+PSI / mlwarden univariate": ratio(rows, "scipy KS + PSI", uni),
        "scipy KS+PSI / mlwarden profile": ratio(rows, "scipy KS + PSI", prof),
        "mlwarden raw / mlwarden profile": ratio(rows, raw, prof),
        "mlwarden univariate / mlwarden profile": ratio(rows, uni, prof),
    }


def table(rows: list[dict[str, Any]]) -> str:
    def names(xs: list[str] | None) -> str:
        return "-" if xs is None else (",".join(xs) or "none")

    head = f"{'tool':34} {'seconds':>8}  {'drifted':40} {'missed':16} false alarms"
    lines = [head, "-" * len(head)]
    for r in rows:
        secs = "n/a" if r["seconds"] is None else f"{r['seconds']:.2f}"
        lines.append(
            f"{r['tool']:34} {secs:>8}  {names(r.get('drifted')):40} "
            f"{names(r.get('missed')):16} {names(r.get('false_alarms'))}"
        )
        if "error" in r:
            lines.append(f"    {r['error'].strip().splitlines()[-1]}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=1, help="best of N (default 1)")
    parser.add_argument("--skip-evidently", action="store_true")
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args()
    single_thread()
    load_before = os.getloadavg()

    start = time.perf_counter()
    reference, current, npz = dataset(args.rows)
    took = time.perf_counter() - start
    print(f"data: {args.rows:,} x {len(NAMES)} per frame ({npz.name}, {took:.1f} s)")
    warm_up(reference, current)
    single_thread()  # again: the warm-up loaded scipy's OpenBLAS and scikit-learn's OpenMP
    rows = run_scipy(reference, current, args.repeat)
    rows += run_mlwarden(reference, current, args.repeat)
    if args.skip_evidently:
        rows.append(
            entry("Evidently DataDriftPreset", None, None, error="skipped (--skip-evidently)")
        )
    else:
        rows.append(run_evidently(npz, args.repeat))

    print(table(rows))
    print(f"ground truth: {','.join(sorted(TRUTH))}")
    for key, value in ratios(rows).items():
        print(f"{key:40} {'n/a' if value is None else f'{value}x'}")
    domain = next((r["domain"] for r in rows if r.get("domain")), None)
    if domain is not None:
        verdict = "drift" if domain["drifted"] else "no drift"
        print(f"mlwarden domain classifier: AUC {domain['auc']:.3f} ({verdict})")
    evidently = next(
        (r for r in rows if r["tool"].startswith("Evidently") and "columns" in r), None
    )
    if evidently is not None:
        tests = {(c["method"], c["threshold"]) for c in evidently["columns"].values()}
        print("Evidently tests: " + "; ".join(f"{m} (threshold {t})" for m, t in sorted(tests)))
    if args.json:
        report = {
            "command": " ".join([Path(sys.executable).name, *sys.argv]),
            "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "load_average": {"before": load_before, "after": os.getloadavg()},
            "rows": args.rows,
            "repeat": args.repeat,
            "truth": sorted(TRUTH),
            "results": rows,
            "ratios": ratios(rows),
        }
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
