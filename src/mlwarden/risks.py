"""The OWASP Machine Learning Security Top 10 (2023) catalogue: ids, titles, mitigations."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class RiskId(str, Enum):
    """Identifier of one OWASP ML Top 10 risk."""

    ML01 = "ML01"
    ML02 = "ML02"
    ML03 = "ML03"
    ML04 = "ML04"
    ML05 = "ML05"
    ML06 = "ML06"
    ML07 = "ML07"
    ML08 = "ML08"
    ML09 = "ML09"
    ML10 = "ML10"


@dataclass(frozen=True)
class Risk:
    """One risk of the catalogue."""

    id: RiskId
    title: str
    description: str
    mitigations: tuple[str, ...]

    @property
    def url(self) -> str:
        slug = self.title.replace(" ", "_")
        return f"https://owasp.org/www-project-machine-learning-security-top-10/docs/{self.id.value}_2023-{slug}"


RISKS: dict[RiskId, Risk] = {
    r.id: r
    for r in (
        Risk(
            RiskId.ML01,
            "Input Manipulation Attack",
            "An attacker changes an input slightly and deliberately so that the model "
            "misclassifies it (adversarial examples), evading detection or forcing a decision.",
            (
                "Validate input bounds and schema before inference",
                "Adversarial training and measured robustness",
                "Detect adversarial inputs (feature squeezing) and reject low-confidence answers",
            ),
        ),
        Risk(
            RiskId.ML02,
            "Data Poisoning Attack",
            "An attacker tampers with training data so that the trained model misbehaves, "
            "for example obeying a hidden trigger or mislabelling a class.",
            (
                "Record data provenance with content hashes",
                "Filter outliers and suspected poison before training",
                "Gate training on a baseline accuracy check",
            ),
        ),
        Risk(
            RiskId.ML03,
            "Model Inversion Attack",
            "An attacker reconstructs sensitive features of training data from the model's "
            "outputs, typically from full confidence vectors.",
            (
                "Return minimal outputs (label only)",
                "Rate-limit and audit-log queries",
                "Train with differential privacy",
            ),
        ),
        Risk(
            RiskId.ML04,
            "Membership Inference Attack",
            "An attacker determines whether a record was part of the training set from the "
            "model's behaviour on it.",
            (
                "Regularise and check the train/test gap",
                "Label-only outputs",
                "Differential privacy",
            ),
        ),
        Risk(
            RiskId.ML05,
            "Model Theft",
            "An attacker copies the model's functionality by querying it (extraction) or "
            "by stealing its files.",
            (
                "Per-key rate limits and quotas",
                "Detect extraction-shaped query patterns",
                "Watermark answers; protect model files",
            ),
        ),
        Risk(
            RiskId.ML06,
            "AI Supply Chain Attacks",
            "A model, dataset or package from a third party carries malicious code or "
            "tampered content; loading a pickled model is running code.",
            (
                "Scan model artifacts before loading; prefer formats that cannot run code",
                "Pin revisions and hashes of downloaded models",
                "Load through safe loaders (safetensors, weights_only)",
            ),
        ),
        Risk(
            RiskId.ML07,
            "Transfer Learning Attack",
            "A pre-trained base model carries a backdoor that survives fine-tuning.",
            (
                "Use base models from trusted, pinned sources",
                "Scan base models for backdoors; fine-tune fully rather than only the head",
            ),
        ),
        Risk(
            RiskId.ML08,
            "Model Skewing",
            "An attacker shifts the data the model sees or learns from (feedback loops), "
            "skewing its decisions over time.",
            (
                "Monitor input drift against a training reference",
                "Validate feedback before online learning",
            ),
        ),
        Risk(
            RiskId.ML09,
            "Output Integrity Attack",
            "An attacker modifies the model's outputs in transit or after inference.",
            (
                "Sign responses and verify them in the client",
                "Use TLS or mTLS; validate outputs against the known label set",
            ),
        ),
        Risk(
            RiskId.ML10,
            "Model Poisoning",
            "An attacker changes the model's parameters or files directly, so the served "
            "model is not the approved one.",
            (
                "Sign model manifests and verify before loading",
                "Pin approved hashes in a lockfile",
                "Gate serving on metrics on a reference set",
            ),
        ),
    )
}


def get_risk(risk_id: RiskId | str) -> Risk:
    """Return the catalogue entry for ``risk_id`` (``"ML06"`` or ``RiskId.ML06``)."""
    return RISKS[RiskId(risk_id)]
