"""Rules of the privacy and theft probes: membership inference (ML04), inversion (ML03),
extraction (ML05)."""

from __future__ import annotations

from mlwarden.findings import Severity
from mlwarden.risks import RiskId
from mlwarden.rules import Rule

_MIA_REFS = (
    "https://owasp.org/www-project-machine-learning-security-top-10/docs/ML04_2023-Membership_Inference_Attack",
    "https://arxiv.org/abs/2112.03570",
    "https://arxiv.org/abs/2312.03262",
)
_INV_REFS = (
    "https://owasp.org/www-project-machine-learning-security-top-10/docs/ML03_2023-Model_Inversion_Attack",
    "https://www.usenix.org/conference/usenixsecurity14/technical-sessions/presentation/fredrikson_matthew",
)
_EXT_REFS = (
    "https://owasp.org/www-project-machine-learning-security-top-10/docs/ML05_2023-Model_Theft",
    "https://www.usenix.org/conference/usenixsecurity16/technical-sessions/presentation/tramer",
    "https://arxiv.org/abs/1602.02697",
)

RULES: tuple[Rule, ...] = (
    Rule(
        "AUD-MIA-001",
        "membership-leak",
        RiskId.ML04,
        359,
        Severity.HIGH,
        "A membership-inference attack identifies training records above the configured "
        "true-positive rate at 1% false-positive rate (or AUC).",
        "An attacker who can query the model learns whether a person's record was in the "
        "training data (a patient of a hospital, a customer of a bank) with few false alarms.",
        "Regularise and stop early (watch the train/test gap), train with differential "
        "privacy (mlwarden.defenses.dp_training), answer labels only, and re-run the audit; "
        "report the attack and budget with the number, never 'private'.",
        _MIA_REFS,
        "`mlwarden audit model.pkl --train train.csv --test test.csv --label y --probe "
        "membership` reports lira_online TPR 6.8% at 1% FPR (threshold 3%).",
    ),
    Rule(
        "AUD-MIA-002",
        "generalization-gap",
        RiskId.ML04,
        359,
        Severity.MEDIUM,
        "Training accuracy exceeds held-out accuracy by more than the configured gap.",
        "An overfit model behaves differently on the records it memorised: the gap is the "
        "signal every membership attack feeds on, and it costs accuracy on new data too.",
        "Regularise (weight decay, dropout, early stopping), get more data, or train with "
        "DP; gate CI on mlwarden.gates.check_generalization (gap and utility).",
        _MIA_REFS,
    ),
    Rule(
        "AUD-MIA-003",
        "label-only-membership-leak",
        RiskId.ML04,
        359,
        Severity.MEDIUM,
        "Membership leaks even from labels alone (label-only attack above the AUC threshold).",
        "Hiding scores does not hide membership: answers to noisy copies of a record reveal "
        "how far it sits from the decision boundary, and training records sit farther.",
        "Reduce overfitting or train with DP: output policies alone do not fix this.",
        _MIA_REFS,
    ),
    Rule(
        "AUD-INV-001",
        "attribute-inference",
        RiskId.ML03,
        359,
        Severity.HIGH,
        "The model's answers let an attacker infer a sensitive column of training records "
        "better than guessing from the other columns.",
        "A record's sensitive value (a diagnosis, an income band) can be recovered from its "
        "other attributes and the model's answers: the model has memorised it.",
        "Drop the column if the model does not need it, regularise or train with DP, and "
        "answer labels or rounded scores only.",
        _INV_REFS,
    ),
    Rule(
        "AUD-INV-002",
        "class-reconstruction",
        RiskId.ML03,
        359,
        Severity.MEDIUM,
        "Inputs reconstructed from the model resemble its training classes.",
        "Gradient or score access lets an attacker synthesise what a class (a person's face "
        "in a face recogniser) looks like in the training data.",
        "Withhold gradients and scores (label-only outputs), limit query rates, train with DP.",
        _INV_REFS,
    ),
    Rule(
        "AUD-EXT-001",
        "model-extraction",
        RiskId.ML05,
        799,
        Severity.HIGH,
        "A surrogate trained on a limited number of queries agrees with the model on most "
        "held-out inputs.",
        "Anyone who can query the endpoint can copy the model's function for the cost of the "
        "queries, then use the copy for free or to craft transferable attacks.",
        "Authenticate and rate-limit callers, monitor query streams (ExtractionMonitor), "
        "watermark answers (AnswerWatermark), and answer labels only; none of these is "
        "enough alone.",
        _EXT_REFS,
    ),
    Rule(
        "AUD-EXT-002",
        "exact-model-recovery",
        RiskId.ML05,
        200,
        Severity.HIGH,
        "Equation solving recovered the model from a handful of full-precision answers.",
        "Linear models (logistic regression) answer log-probabilities that are linear in the "
        "input: d + 1 answers give the weights exactly.",
        "Round or withhold probabilities (OutputPolicy rounded/label) and rate-limit callers.",
        _EXT_REFS,
    ),
)
