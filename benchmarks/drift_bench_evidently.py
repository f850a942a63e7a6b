"""Evidently's default data-drift preset on the drift benchmark's frames (runs in its venv).

Runs inside ``benchmarks/.peers/evidently`` (made by ``benchmarks/setup_drift_peers.sh``);
``benchmarks/drift_bench.py`` calls it as a subprocess. Reads a ``.npz`` with float64
``reference`` and ``current`` arrays (rows x columns) and the column ``names``, builds two
pandas frames, runs ``Report([DataDriftPreset()])`` the way Evidently 0.7's documentation
shows (``report.run(current, reference)``), and prints one JSON line:
``{"seconds", "drifted", "version", "drifted_count", "max_rss_mib", "columns"}``.

``seconds`` covers the report run and reading its results, not building the frames.
Per-column verdicts come from Evidently itself: the report is made with
``include_tests=True`` so that each ``ValueDrift`` metric carries the test Evidently derives
from its own ``drift_detected`` flag (FAIL = drift). The preset's own ``DriftedColumnsCount``
is checked against the number of failed column tests, so a misread result cannot go unseen.
``include_tests`` only adds those verdict objects; the drift computation is the preset's.

Usage: benchmarks/.peers/evidently/bin/python benchmarks/drift_bench_evidently.py DATA.npz
"""

from __future__ import annotations

import json
import resource
import sys
import time
from typing import Any

import evidently
import numpy as np
import pandas as pd
from evidently import Report
from evidently.presets import DataDriftPreset
from threadpoolctl import threadpool_limits


def frames(path: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The reference and current frames, columns named as in the file."""
    with np.load(path) as data:
        names = [str(n) for n in data["names"]]
        reference = pd.DataFrame(data["reference"], columns=names)
        current = pd.DataFrame(data["current"], columns=names)
    return reference, current


def column_verdicts(snapshot: Any) -> dict[str, dict[str, Any]]:
    """Per column: Evidently's method, threshold, score and drift verdict."""
    out: dict[str, dict[str, Any]] = {}
    for metric in snapshot.dict()["metrics"]:
        config = metric["config"]
        if not config["type"].endswith("ValueDrift"):
            continue
        out[config["column"]] = {
            "method": config["method"],
            "threshold": config["threshold"],
            "score": float(metric["value"]),
        }
    for test in snapshot.dict()["tests"]:
        params = test["metric_config"]["params"]
        if params["type"].endswith("ValueDrift"):
            out[params["column"]]["drift"] = test["status"] == "FAIL"
    return out


def drifted_count(snapshot: Any) -> int:
    """The preset's own count of drifted columns (its ``DriftedColumnsCount`` metric)."""
    for metric in snapshot.dict()["metrics"]:
        if metric["config"]["type"].endswith("DriftedColumnsCount"):
            return int(metric["value"]["count"])
    raise RuntimeError("no DriftedColumnsCount in Evidently's result")


def main() -> None:
    threadpool_limits(1)  # one BLAS/OpenMP thread, like every tool in the benchmark
    reference, current = frames(sys.argv[1])
    start = time.perf_counter()
    snapshot = Report([DataDriftPreset()], include_tests=True).run(current, reference)
    columns = column_verdicts(snapshot)
    seconds = time.perf_counter() - start
    drifted = [name for name, col in columns.items() if col["drift"]]
    count = drifted_count(snapshot)
    if count != len(drifted):
        raise RuntimeError(f"Evidently counts {count} drifted columns, its tests {len(drifted)}")
    result = {
        "seconds": round(seconds, 3),
        "drifted": drifted,
        "version": evidently.__version__,
        "drifted_count": count,
        "max_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "columns": columns,
    }
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
