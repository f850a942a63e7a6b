"""The ``DATA-...`` rules of the training-data guard (OWASP ML02 data poisoning)."""

from __future__ import annotations

from mlwarden.findings import Severity
from mlwarden.risks import RiskId
from mlwarden.rules import Rule

_ML02 = (
    "https://owasp.org/www-project-machine-learning-security-top-10/docs/"
    "ML02_2023-Data_Poisoning_Attack"
)
_SPECTRAL = "https://arxiv.org/abs/1811.00636"
_AC = "https://arxiv.org/abs/1811.03728"
_C, _H, _M, _L, _I = Severity.CRITICAL, Severity.HIGH, Severity.MEDIUM, Severity.LOW, Severity.INFO


def _rule(
    rule_id: str,
    name: str,
    cwe: int,
    severity: Severity,
    texts: tuple[str, str, str],
    example: str,
    refs: tuple[str, ...] = (_ML02,),
) -> Rule:
    summary, why, fix = texts
    return Rule(rule_id, name, RiskId.ML02, cwe, severity, summary, why, fix, refs, example)


RULES: tuple[Rule, ...] = (
    _rule(
        "DATA-PRV-001",
        "rows-relabelled",
        345,
        _H,
        (
            "Rows of the training set kept their features but changed label since the "
            "baseline manifest.",
            "Changing labels and nothing else is how a label-flip attack poisons a model; "
            "legitimate relabelling is rare and reviewed.",
            "Review the relabelled rows against their source; restore the baseline labels "
            "unless the change is an approved correction, then record a new manifest.",
        ),
        "`mlwarden data check train.csv --label y --baseline trusted.json` finds 40 rows "
        "whose features are unchanged but whose label is now 0.",
    ),
    _rule(
        "DATA-PRV-002",
        "data-manifest-signature-invalid",
        347,
        _C,
        (
            "The data manifest is unsigned, or its signature does not verify with the key.",
            "An unsigned or tampered manifest proves nothing about the data: whoever changed "
            "the data could have rewritten the manifest too.",
            "Obtain the manifest from its signer again, or re-create and sign it from data "
            "you trust (`--manifest-out F --sign-key K`).",
        ),
        "A baseline manifest edited after signing fails verification with the signer's key.",
    ),
    _rule(
        "DATA-PRV-003",
        "data-changed",
        345,
        _L,
        (
            "Rows were added, removed or changed in place since the baseline manifest.",
            "New and changed rows have not been through the review the baseline had; poison "
            "enters with them.",
            "Check where the new rows came from; record a new manifest once they are reviewed.",
        ),
        "200 rows added, 3 changed in place since `trusted.json`.",
    ),
    _rule(
        "DATA-SCH-001",
        "schema-mismatch",
        20,
        _H,
        (
            "The data's columns differ from the baseline's (missing, new or reordered).",
            "A model trained on shifted columns learns the wrong features silently; an "
            "injected column can carry a trigger.",
            "Restore the baseline schema, or review the change and record a new baseline.",
        ),
        "Column `age` is missing and `zz_flag` is new.",
    ),
    _rule(
        "DATA-RNG-001",
        "value-out-of-range",
        20,
        _M,
        (
            "Values fall outside the range a column had in the baseline data.",
            "Out-of-range values are a cheap backdoor trigger for tabular models and a sign of "
            "broken pipelines.",
            "Inspect the rows listed; drop or fix them, or widen [data] range_tolerance for "
            "columns whose range legitimately grows.",
        ),
        "Column `x0`: 17 values outside [0, 1] (seen up to 1.5).",
    ),
    _rule(
        "DATA-DUP-001",
        "duplicate-rows",
        20,
        _L,
        (
            "Rows repeat earlier rows exactly.",
            "Duplicates over-weight some samples (an attacker's cheapest way to shift a "
            "decision boundary) and leak between train and test splits.",
            "Deduplicate before splitting and training.",
        ),
        "12 rows duplicate earlier rows.",
    ),
    _rule(
        "DATA-DUP-002",
        "conflicting-duplicates",
        20,
        _M,
        (
            "Identical or near-identical rows carry different labels.",
            "The same input with two labels is either label noise or a label-flip attack.",
            "Resolve each conflict against the source of truth; drop rows you cannot verify.",
        ),
        "Rows 10 and 811 have the same features, labels 1 and 0.",
    ),
    _rule(
        "DATA-LBL-001",
        "label-distribution-anomaly",
        20,
        _M,
        (
            "The label distribution shifted from the baseline, or a class is nearly absent.",
            "Poisoning adds samples to its target class; a sudden shift in class shares is "
            "its footprint.",
            "Find which rows changed the shares (the diff in the report) and review them.",
        ),
        "Class 0 went from 10% to 19% of the rows (total variation 0.09).",
    ),
    _rule(
        "DATA-POI-001",
        "suspected-poison",
        20,
        _H,
        (
            "A class holds a group of samples that look like other classes: suspected poison.",
            "A backdoor's triggered samples and flipped labels both put samples whose content "
            "belongs to one class under another class's label; the trained model then obeys "
            "the trigger or misclassifies that region.",
            "Remove or re-label the listed samples after review, retrain, and scan the model "
            "for a backdoor (`mlwarden audit MODEL --probe backdoor`).",
        ),
        "Class 0: 135 of 264 samples look like other classes once 4 features are masked "
        "(p = 1e-100).",
        (_ML02, _SPECTRAL, _AC),
    ),
    _rule(
        "DATA-POI-002",
        "isolation-forest-outliers",
        20,
        _I,
        (
            "IsolationForest, the guide's outlier baseline, calls these samples outliers.",
            "Outliers are worth a look, but poison is usually not an outlier of the whole "
            "data set: this baseline is reported for comparison, not as a verdict.",
            "Review the listed samples if the poison detector found nothing.",
        ),
        "IsolationForest flags 120 of 1347 samples.",
    ),
    _rule(
        "DATA-GATE-001",
        "training-accuracy-drop",
        20,
        _H,
        (
            "Training on this data scores more than the allowed margin below the baseline.",
            "A drop in cross-validated accuracy after new data arrived is the OWASP guide's "
            "'possible data poisoning' signal (label flips degrade the model).",
            "Do not train on this data; review the flagged and changed rows first.",
        ),
        "Accuracy 0.91 with the data vs baseline 0.97 (margin 0.02).",
    ),
)
