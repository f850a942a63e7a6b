"""Rules of the backdoor probe and the base-model source policy (ML07 transfer learning)."""

from __future__ import annotations

from mlwarden.findings import Severity
from mlwarden.risks import RiskId
from mlwarden.rules import Rule

_ML07 = (
    "https://owasp.org/www-project-machine-learning-security-top-10/docs/"
    "ML07_2023-Transfer_Learning_Attack"
)
_NC = "https://doi.org/10.1109/SP.2019.00031"
_FP = "https://arxiv.org/abs/1805.12185"

RULES: tuple[Rule, ...] = (
    Rule(
        "AUD-BD-001",
        "backdoor-trigger-reversed",
        RiskId.ML07,
        506,
        Severity.HIGH,
        "Neural Cleanse finds a trigger for one class far smaller than for any other class.",
        "A class that a tiny patch forces every input into is the signature of a backdoor: "
        "whoever knows the trigger controls the model's answer, and the backdoor survives "
        "fine-tuning of a downloaded base model.",
        "Do not deploy the model. Obtain the base model from a trusted, pinned source; "
        "mitigate with fine-pruning (mlwarden.defenses.fine_prune) and retrain on vetted "
        "data; deploy STRIP (mlwarden.defenses.StripDetector) in front of it meanwhile.",
        (_ML07, _NC, _FP),
        "`mlwarden audit model.pt --data digits --probe backdoor`: class 0's reversed trigger "
        "has mask norm 3.4 vs a median of 11.9 (anomaly index 4.8 over 3 seeds).",
    ),
    Rule(
        "AUD-BD-002",
        "trigger-test-set-success",
        RiskId.ML07,
        506,
        Severity.HIGH,
        "A trigger from the test set sends most inputs to one class.",
        "A known or reversed trigger that works is a working backdoor, not a suspicion.",
        "Treat the model as compromised: retrain from vetted data and a trusted base model.",
        (_ML07, _NC),
        "Trigger `patch-2x2-bottom-right` sends 97% of inputs of other classes to class 0.",
    ),
    Rule(
        "AUD-BD-003",
        "base-model-untrusted-source",
        RiskId.ML07,
        494,
        Severity.MEDIUM,
        "A base model came from an unknown source or from a revision that is not pinned.",
        "A moving revision (a branch, `latest`) or an unrecorded source lets whoever controls "
        "the upstream repository swap the weights, backdoor included, under your fine-tuning.",
        "Record the base model in mlwarden.lock with its source and a 40-hex commit revision "
        "(`mlwarden lock add`), and download with `revision=` pinned to that commit.",
        (_ML07,),
        "`resnet-base` is approved in mlwarden.lock but its revision is `main`.",
    ),
)
