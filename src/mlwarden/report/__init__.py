"""Report renderers: JSON (with a checked-in JSON Schema), SARIF 2.1.0 and self-contained HTML."""

from mlwarden.report.html import to_html
from mlwarden.report.json_report import (
    SCHEMA_VERSION,
    load_report_schema,
    report_to_dict,
    to_json,
)
from mlwarden.report.render import FORMATS, render
from mlwarden.report.sarif import to_sarif, to_sarif_dict

__all__ = [
    "FORMATS",
    "SCHEMA_VERSION",
    "load_report_schema",
    "render",
    "report_to_dict",
    "to_html",
    "to_json",
    "to_sarif",
    "to_sarif_dict",
]
