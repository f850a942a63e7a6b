"""The assessment's attack step: load the model safely and run every probe it supports.

Evasion runs on the held-out data; membership inference, attribute inversion and extraction
also need the training records; the backdoor search runs when the model exposes logits
(PyTorch). When the gateway policy serves input defences (a squeezing detector, a
confidence threshold), evasion also attacks the model behind them, adaptively. The model is
opened with :func:`~mlwarden.models.loading.load_model`, which
scans it first and refuses what the scanner flags: an unsafe model is not attacked, and
the refusal is the step's note. ``quick`` trims budgets by about 4x for demos and CI.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mlwarden.assess.steps import AssessInputs, Skip
from mlwarden.findings import Report, merge_reports

if TYPE_CHECKING:
    from mlwarden.attacks.settings import AuditSettings
    from mlwarden.config import Settings

PRIVACY = ("membership", "inversion", "extraction")


def run_attacks(inputs: AssessInputs, settings: Settings, ctx: dict[str, Any]) -> Report:
    """Evasion, privacy and theft probes (and backdoors for models with logits)."""
    spec = inputs.endpoint or inputs.model
    if not spec or not inputs.test:
        raise Skip("the attacks need a model and held-out data", "--model M --test D")
    if not settings.assess.attacks:
        raise Skip("attacks are switched off ([assess] attacks = false)", "[assess] attacks")
    from mlwarden.attacks.api import audit
    from mlwarden.attacks.privacy_api import audit_privacy
    from mlwarden.models.base import Capability
    from mlwarden.models.threads import single_thread

    test = _data(inputs.test, inputs.label)
    ctx["example"] = [float(v) for v in test["x"][0].reshape(-1)]
    model = _model(spec, inputs, test, settings)
    single_thread()
    cfg = quick(settings.audit) if settings.assess.quick else settings.audit
    caps: frozenset[Capability] = getattr(model, "capabilities", frozenset())
    # A model file is attacked as the gateway would serve it; a live endpoint already applies
    # its defences (wrapping it again would defend twice). The detectors need probabilities.
    if ctx.get("defenses") and not inputs.endpoint and Capability.PREDICT_PROBA in caps:
        evasion = cfg.evasion.model_copy(update={"defenses": list(ctx["defenses"])})
        cfg = cfg.model_copy(update={"evasion": evasion})
    common = {
        "on_event": ctx.get("on_event"),
        "model_name": spec,
        "data_name": inputs.test,
        "image_shape": test["image"],
        "clip": test["clip"],
    }
    probes = ["evasion"]
    if Capability.LOGITS in caps and test["image"] is not None:
        probes.append("backdoor")
    reports = [audit(model, test["x"], test["y"], probes, cfg, **common)]
    if inputs.train:
        train = _data(inputs.train, inputs.label)
        reports.append(
            audit_privacy(
                model,
                (train["x"], train["y"]),
                (test["x"], test["y"]),
                None,
                PRIVACY,
                cfg,
                **common,
            )
        )
    else:
        ctx["attack_note"] = "membership, inversion and extraction need --train D"
    return merge_reports("assess attacks", reports)


def quick(cfg: AuditSettings) -> AuditSettings:
    """Budgets trimmed for a demo or a CI smoke run (the numbers get noisier, not biased)."""
    evasion = cfg.evasion.model_copy(update={"budget": 200, "steps": 20, "apgd": False})
    membership = cfg.membership.model_copy(
        update={"references": 2, "label_only": False, "bootstrap": 50, "max_members": 500}
    )
    extraction = cfg.extraction.model_copy(
        update={"budgets": [100, 1000], "strategies": ["natural", "active"], "ensemble": 1}
    )
    inversion = cfg.inversion.model_copy(update={"steps": 60, "max_records": 300})
    return cfg.model_copy(
        update={
            "max_samples": min(cfg.max_samples, 100),
            "evasion": evasion,
            "membership": membership,
            "extraction": extraction,
            "inversion": inversion,
        }
    )


def _data(spec: str, label: str | None) -> dict[str, Any]:
    from pathlib import Path

    from mlwarden import datasets

    if spec in datasets.DEMO_DATASETS and not Path(spec).exists():
        demo = datasets.demo_dataset(spec)
        return {"x": demo.X, "y": demo.y, "image": demo.image_shape, "clip": demo.clip}
    column: str | int | None = int(label) if label and label.lstrip("-").isdigit() else label
    table = datasets.load_table(spec, column)
    return {"x": table.X, "y": table.y, "image": None, "clip": None}


def _model(spec: str, inputs: AssessInputs, data: dict[str, Any], settings: Settings) -> Any:
    from mlwarden.models.errors import ModelLoadError
    from mlwarden.models.loading import load_model

    kw: dict[str, Any] = {}
    if inputs.endpoint:
        kw["api_key"] = inputs.api_key
        kw["max_retry_wait"] = settings.assess.max_retry_wait
        if settings.assess.max_queries is not None:
            kw["max_queries"] = settings.assess.max_queries
    try:
        return load_model(spec, **kw)
    except ModelLoadError as exc:
        # NOTE: torch files do not record their input shape or class count; the data does.
        if "does not record" not in str(exc):
            raise
    shape = data["image"] or data["x"].shape[1:]
    n_classes = int(data["y"].max()) + 1
    return load_model(spec, **kw, input_shape=tuple(shape), n_classes=n_classes)
