"""Rules of the audit's evasion probe (ML01 input manipulation)."""

from __future__ import annotations

from mlwarden.findings import Severity
from mlwarden.risks import RiskId
from mlwarden.rules import Rule

_REFS = (
    "https://owasp.org/www-project-machine-learning-security-top-10/docs/ML01_2023-Input_Manipulation_Attack",
    "https://arxiv.org/abs/1706.06083",
    "https://arxiv.org/abs/2003.01690",
)
_ADAPTIVE_REFS = (
    "https://arxiv.org/abs/1802.00420",
    "https://arxiv.org/abs/2002.08347",
)

RULES: tuple[Rule, ...] = (
    Rule(
        "AUD-EVA-001",
        "low-robust-accuracy",
        RiskId.ML01,
        1039,
        Severity.HIGH,
        "Robust accuracy under attack is below the configured threshold at the target "
        "perturbation size.",
        "Small, deliberate changes to inputs flip the model's answers for many inputs: an "
        "attacker can evade the model (spam, fraud, malware, content filters) at will.",
        "Train with adversarial examples (mlwarden.defenses.adversarial_train), validate "
        "inputs, and re-run the audit; a threshold that no model meets belongs in "
        "[audit.evasion] min_robust_accuracy with a reason.",
        _REFS,
        "`mlwarden audit model.pt --data digits --probe evasion --eps 0.1` reports "
        "robust accuracy 0.50 at eps 0.1 (threshold 0.70).",
    ),
    Rule(
        "AUD-EVA-002",
        "defense-gradient-masking",
        RiskId.ML01,
        1039,
        Severity.HIGH,
        "A defence looks much stronger against a naive attack than against an adaptive one.",
        "Defences that hide gradients (quantisation, median filters, randomness, detectors) "
        "stop attacks that ignore them, but an attacker who knows the defence (BPDA, EOT, "
        "attacking the detector too) gets through: the naive number overstates robustness.",
        "Report the adaptive number; rely on defences that keep robust accuracy under "
        "adaptive attacks (adversarial training) rather than on obfuscation.",
        _ADAPTIVE_REFS,
        "Feature squeezing refuses 89% of PGD examples (naive robust accuracy 0.91), but "
        "PGD through BPDA that also lowers the detector score leaves 0.20.",
    ),
    Rule(
        "AUD-EVA-003",
        "blackbox-evasion-within-budget",
        RiskId.ML01,
        1039,
        Severity.HIGH,
        "Black-box attacks that only query the model evade it within the query budget.",
        "No access to weights is needed: anyone who can send queries (a public endpoint) "
        "can find inputs that the model gets wrong with small changes.",
        "Limit and monitor query rates (the gateway's extraction monitor), answer labels "
        "only, reject low-confidence answers, and harden the model (adversarial training).",
        ("https://arxiv.org/abs/1904.02144", "https://arxiv.org/abs/1912.00049"),
        "HopSkipJump evades 80% of inputs within 1000 queries each at L2 <= 1.",
    ),
    Rule(
        "AUD-EVA-004",
        "defense-clean-cost",
        RiskId.ML01,
        693,
        Severity.LOW,
        "A defence refuses or changes too many clean inputs.",
        "A defence that costs many legitimate answers gets switched off in production, and "
        "its false positives are a denial of service of its own.",
        "Calibrate the detector to a lower false-positive rate, use a smaller filter, or "
        "choose another defence; [audit.evasion] max_defense_fpr sets the limit.",
        ("https://arxiv.org/abs/1704.01155",),
        "A 2x2 median filter changes 35% of clean answers.",
    ),
)
