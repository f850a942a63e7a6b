"""The public API is what __all__ says, and the core imports without optional extras."""

from __future__ import annotations

import subprocess
import sys

import mlwarden


def test_all_is_pinned() -> None:
    assert sorted(mlwarden.__all__) == sorted(
        [
            "RISKS",
            "RULES",
            "AssessInputs",
            "Client",
            "DriftOptions",
            "DriftProfile",
            "Confidence",
            "Finding",
            "GateFailed",
            "LintOptions",
            "Location",
            "Lockfile",
            "MlwardenError",
            "PicklePolicy",
            "Report",
            "Risk",
            "RiskId",
            "Rule",
            "ScanLimits",
            "ScanOptions",
            "Severity",
            "VerificationError",
            "__version__",
            "assess",
            "audit",
            "build_profile",
            "detect_drift",
            "check_adapter",
            "check_data",
            "check_generalization",
            "check_membership",
            "demo_dataset",
            "hash_model",
            "load_model",
            "load_table",
            "lint",
            "safe_load",
            "scan",
            "sign_model",
            "to_html",
            "verify_model",
        ]
    )
    for name in mlwarden.__all__:
        assert hasattr(mlwarden, name)


def test_core_import_does_not_pull_heavy_frameworks() -> None:
    code = (
        "import sys, mlwarden, mlwarden.cli.main, mlwarden.scan.engine;"
        "heavy = [m for m in ('torch', 'numpy', 'sklearn', 'onnx', 'h5py', 'fastapi') "
        "if m in sys.modules]; print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
