"""mlwarden: the OWASP Machine Learning Security Top 10 in practice.

The core names import without numpy or any ML framework; the audit, data and report names
below ``_LAZY`` load their modules (and numpy) on first use.
"""

from __future__ import annotations

from mlwarden._lazy import lazy_names
from mlwarden._version import __version__
from mlwarden.assess import AssessInputs, assess
from mlwarden.errors import MlwardenError
from mlwarden.findings import Confidence, Finding, Location, Report, Severity
from mlwarden.risks import RISKS, Risk, RiskId
from mlwarden.rules import RULES, Rule
from mlwarden.scan import ScanLimits, ScanOptions, scan
from mlwarden.scan.policy import PicklePolicy

#: Public names whose modules need numpy or an optional extra: imported on first access.
_LAZY: dict[str, str] = {
    "audit": "mlwarden.attacks.api",
    "check_data": "mlwarden.data.guard",
    "check_generalization": "mlwarden.gates",
    "check_membership": "mlwarden.gates",
    "GateFailed": "mlwarden.gates",
    "load_model": "mlwarden.models",
    "check_adapter": "mlwarden.models",
    "load_table": "mlwarden.datasets",
    "demo_dataset": "mlwarden.datasets",
    "to_html": "mlwarden.report.html",
    "Client": "mlwarden.client",
    "lint": "mlwarden.linter",
    "safe_load": "mlwarden.integrity.safeload",
    "sign_model": "mlwarden.integrity.sign",
    "verify_model": "mlwarden.integrity.verify",
    "hash_model": "mlwarden.integrity.hashing",
    "Lockfile": "mlwarden.integrity.lockfile",
    "VerificationError": "mlwarden.integrity.errors",
    "LintOptions": "mlwarden.linter",
    "detect_drift": "mlwarden.monitor.drift",
    "DriftOptions": "mlwarden.monitor.drift",
    "build_profile": "mlwarden.monitor.sketch",
    "DriftProfile": "mlwarden.monitor.sketch",
}


__getattr__ = lazy_names(__name__, _LAZY)


__all__ = [
    "RISKS",
    "RULES",
    "AssessInputs",
    "Client",
    "Confidence",
    "DriftOptions",
    "DriftProfile",
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
    "check_adapter",
    "check_data",
    "check_generalization",
    "check_membership",
    "demo_dataset",
    "detect_drift",
    "hash_model",
    "lint",
    "load_model",
    "load_table",
    "safe_load",
    "scan",
    "sign_model",
    "to_html",
    "verify_model",
]
