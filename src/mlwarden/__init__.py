"""mlwarden: the OWASP Machine Learning Security Top 10 in practice."""

from mlwarden._version import __version__
from mlwarden.errors import MlwardenError
from mlwarden.findings import Confidence, Finding, Location, Report, Severity
from mlwarden.risks import RISKS, Risk, RiskId
from mlwarden.rules import RULES, Rule
from mlwarden.scan import ScanLimits, ScanOptions, scan
from mlwarden.scan.policy import PicklePolicy

__all__ = [
    "RISKS",
    "RULES",
    "Confidence",
    "Finding",
    "Location",
    "MlwardenError",
    "PicklePolicy",
    "Report",
    "Risk",
    "RiskId",
    "Rule",
    "ScanLimits",
    "ScanOptions",
    "Severity",
    "__version__",
    "scan",
]
