"""ML06/ML10 model-artifact scanner: inspects model files without loading them."""

from mlwarden.scan.base import Artifact, ScanContext, ScanLimits, Scanner
from mlwarden.scan.engine import ScanEvent, ScanOptions, scan

__all__ = ["Artifact", "ScanContext", "ScanEvent", "ScanLimits", "ScanOptions", "Scanner", "scan"]
