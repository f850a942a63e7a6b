"""The ``DRIFT-...`` rules of the drift tests (OWASP ML08 model skewing)."""

from __future__ import annotations

from mlwarden.findings import Severity
from mlwarden.risks import RiskId
from mlwarden.rules import Rule

_ML08 = (
    "https://owasp.org/www-project-machine-learning-security-top-10/docs/ML08_2023-Model_Skewing"
)
_RABANSER = "https://arxiv.org/abs/1810.11953"
_H, _M, _C = Severity.HIGH, Severity.MEDIUM, Severity.CRITICAL


def _rule(
    rule_id: str,
    name: str,
    severity: Severity,
    texts: tuple[str, str, str],
    example: str,
    refs: tuple[str, ...] = (_ML08,),
) -> Rule:
    summary, why, fix = texts
    return Rule(rule_id, name, RiskId.ML08, 1039, severity, summary, why, fix, refs, example)


RULES: tuple[Rule, ...] = (
    _rule(
        "DRIFT-COL-001",
        "feature-drift",
        _M,
        (
            "A column's distribution in the current data differs from the reference: the "
            "test is significant after correction for the number of tests and an effect "
            "size (Wasserstein, KS, PSI or Jensen-Shannon distance) reaches its floor.",
            "A model answers for the data it was trained on. Inputs that drifted, whether "
            "the world changed, a pipeline broke (training-serving skew) or someone feeds "
            "skewed data on purpose, get predictions of unknown quality.",
            "Find the cause: compare the pipeline that built the reference with the one that "
            "serves (units, encodings, defaults). If the world changed, retrain on recent "
            "data that passed review; keep the gateway's drift monitor on to catch it live.",
        ),
        "`income`: Wasserstein 0.42 of a standard deviation, KS 0.18 (p < 1e-300).",
        (_ML08, _RABANSER),
    ),
    _rule(
        "DRIFT-MV-001",
        "multivariate-drift",
        _M,
        (
            "A classifier tells current rows from reference rows apart better than chance: "
            "the joint distribution changed.",
            "Relations between columns (a correlation, a combination of values) can change "
            "while every column on its own looks the same; the model relies on them.",
            "Look at the correlation changes listed and the columns that drifted; retrain "
            "or fix the pipeline as for a drifted column.",
        ),
        "Domain classifier AUC 0.71 on 10,000 rows per side (p < 1e-100); correlation of "
        "`x1` and `x2` went from 0.80 to -0.10.",
        (_ML08, _RABANSER),
    ),
    _rule(
        "DRIFT-SCH-001",
        "schema-skew",
        _H,
        (
            "A reference column is missing from the current data or changed kind (numbers "
            "became text, or text became numbers).",
            "The model receives defaults or garbage for that input: classic training-serving "
            "skew, silent until accuracy drops.",
            "Restore the column in the serving pipeline or retrain without it; check the "
            "encoding of columns that changed kind.",
        ),
        "`age` is in the reference but not in the current data.",
    ),
    _rule(
        "DRIFT-MIS-001",
        "missing-values-drift",
        _M,
        (
            "The share of missing values in a column changed significantly.",
            "Missing values at serving time are filled by defaults the model never saw in "
            "that proportion; a broken upstream source often shows up here first.",
            "Find the source that stopped filling the column; fix it or retrain with the "
            "serving pipeline's imputation.",
        ),
        "`zip_code`: missing share 0.1% in the reference, 31% now.",
    ),
    _rule(
        "DRIFT-PRF-001",
        "drift-profile-signature-invalid",
        _C,
        (
            "The reference profile is unsigned, or its signature does not verify with the key.",
            "Whoever can edit the profile decides what counts as normal: a tampered profile "
            "hides drift, or poisoned data passes as reference.",
            "Rebuild the profile from reference data you trust and sign it "
            "(`mlwarden drift REF --save-profile P --sign-key K`).",
        ),
        "A profile edited after signing fails verification with the signer's key.",
    ),
)
