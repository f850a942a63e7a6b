"""Model inversion (ML03): what the model's answers reveal about its training data.

- Attribute inference (tabular): recover a sensitive column of a training record from its
  other columns, its label and the model's answers to each candidate value (Fredrikson et
  al., 2014: posterior = prior from the other columns x model likelihood of the label). The
  baseline guesses from the other columns alone (a classifier trained on data the model
  never saw); the *advantage* is what the model adds.
- Class reconstruction (images): optimise an input the model assigns to class c (white box
  with loss gradients, black box from probabilities with NES gradient estimates), then check
  whether it resembles class c's training records more than any other class's.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from mlwarden.attacks.privacy_settings import InversionSettings, section
from mlwarden.attacks.registry import AuditEvent, ProbeResult, no_progress
from mlwarden.models.base import Capability
from mlwarden.risks import RiskId

if TYPE_CHECKING:
    from mlwarden.attacks.registry import AuditData, Progress
    from mlwarden.attacks.settings import AuditSettings
    from mlwarden.models.base import Classifier

Floats = NDArray[np.float64]
_MAX_IMAGE = 64 * 64 * 3


def _candidates(column: Floats, max_values: int) -> Floats:
    values = np.unique(column)
    if len(values) <= max_values:
        return values
    return np.unique(np.quantile(column, (np.arange(max_values) + 0.5) / max_values))


def _nearest(values: Floats, candidates: Floats) -> NDArray[np.intp]:
    return np.asarray(np.argmin(np.abs(values[:, None] - candidates[None, :]), axis=1))


def _prior_model(x: Floats, y: NDArray[np.int64], target: NDArray[np.intp], n_values: int) -> Any:
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    feats = np.hstack([x, y[:, None]])
    prep = ColumnTransformer(
        [
            ("x", StandardScaler(), list(range(x.shape[1]))),
            ("y", OneHotEncoder(handle_unknown="ignore"), [x.shape[1]]),
        ]
    )
    model = make_pipeline(prep, LogisticRegression(max_iter=500))
    if len(np.unique(target)) < 2:
        return _Constant(int(target[0]), n_values)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return model.fit(feats, target)


class _Constant:
    def __init__(self, value: int, n: int) -> None:
        self.value, self.n = value, n

    def predict_proba_full(self, feats: Floats) -> Floats:
        out = np.zeros((len(feats), self.n))
        out[:, self.value] = 1.0
        return out


def _prior(model: Any, x: Floats, y: NDArray[np.int64], n_values: int) -> Floats:
    feats = np.hstack([x, y[:, None]])
    if isinstance(model, _Constant):
        return model.predict_proba_full(feats)
    out = np.full((len(x), n_values), 1e-6)
    out[:, np.asarray(model.classes_, dtype=np.intp)] += model.predict_proba(feats)
    return np.asarray(out / out.sum(axis=1, keepdims=True))


def attribute_inference(
    model: Classifier,
    records: tuple[NDArray[Any], NDArray[Any]],
    prior_data: tuple[NDArray[Any], NDArray[Any]],
    sensitive: int,
    *,
    max_values: int = 8,
) -> dict[str, float]:
    """Guess column ``sensitive`` of ``records``; accuracy of the model-based attack and of
    the baseline (other columns and label only), and the advantage.

    Args:
        model: the target (probabilities, or labels only).
        records: records whose sensitive value is hidden from the attacker, and their labels.
        prior_data: records (with the column) the baseline and candidates are learned from.
        sensitive: the column index.
        max_values: candidate values (quantile bins of a continuous column).
    """
    x = np.asarray(records[0], dtype=np.float64).reshape(len(records[0]), -1)
    y = np.asarray(records[1]).astype(np.int64)
    px = np.asarray(prior_data[0], dtype=np.float64).reshape(len(prior_data[0]), -1)
    py = np.asarray(prior_data[1]).astype(np.int64)
    cand = _candidates(px[:, sensitive], max_values)
    others = [j for j in range(x.shape[1]) if j != sensitive]
    prior_fit = _prior_model(px[:, others], py, _nearest(px[:, sensitive], cand), len(cand))
    prior = _prior(prior_fit, x[:, others], y, len(cand))
    truth = _nearest(x[:, sensitive], cand)
    like = np.empty((len(x), len(cand)))
    shape = tuple(model.input_shape)
    scores = Capability.PREDICT_PROBA in model.capabilities
    for j, value in enumerate(cand):
        probe = x.copy()
        probe[:, sensitive] = value
        batch = probe.reshape((len(x), *shape)).astype(np.float32)
        if scores:
            like[:, j] = np.asarray(model.predict_proba(batch))[np.arange(len(y)), y]  # type: ignore[attr-defined]
        else:
            like[:, j] = np.where(np.asarray(model.predict(batch)) == y, 1.0, 1e-3)
    attack = np.argmax(prior * np.maximum(like, 1e-12), axis=1)
    baseline = np.argmax(prior, axis=1)
    acc, base = float((attack == truth).mean()), float((baseline == truth).mean())
    return {
        "column": sensitive,
        "values": len(cand),
        "attack_accuracy": round(acc, 4),
        "baseline_accuracy": round(base, 4),
        "advantage": round(acc - base, 4),
    }


@dataclass(frozen=True)
class Reconstruction:
    """Class representatives found by inversion and how recognisable they are."""

    mode: str
    images: tuple[Floats, ...]
    confidence: tuple[float, ...]
    identified: tuple[bool, ...]
    queries: int

    @property
    def identification_rate(self) -> float:
        return float(np.mean(self.identified)) if self.identified else 0.0


def reconstruct_classes(
    model: Classifier,
    reference: tuple[NDArray[Any], NDArray[Any]],
    *,
    mode: str = "auto",
    steps: int = 300,
    seed: int = 0,
    progress: Progress = no_progress,
) -> Reconstruction:
    """One representative input per class; ``identified`` if it correlates best with its own
    class's mean of ``reference`` (records the attacker never sees; used only to score)."""
    caps = model.capabilities
    if mode == "auto":
        mode = "whitebox" if Capability.LOSS_GRADIENT in caps else "blackbox"
    needed = Capability.LOSS_GRADIENT if mode == "whitebox" else Capability.PREDICT_PROBA
    from mlwarden.models.base import require

    require(model, needed, purpose=f"{mode} class reconstruction")
    rx = np.asarray(reference[0], dtype=np.float64).reshape(len(reference[0]), -1)
    ry = np.asarray(reference[1]).astype(np.int64)
    clip = getattr(model, "clip", None) or (float(rx.min()), float(rx.max()))
    start = np.full(rx.shape[1], float(np.mean(clip)))
    rng = np.random.default_rng(seed)
    before = model.queries
    images, conf = [], []
    for c in range(model.n_classes):
        progress(AuditEvent("inversion", "reconstruction", c, model.n_classes))
        step = _whitebox if mode == "whitebox" else _blackbox
        img = step(model, start.copy(), c, steps, clip, rng)
        images.append(img)
        conf.append(float(_proba(model, img[None])[0, c]))
    means = np.stack(
        [rx[ry == c].mean(axis=0) if (ry == c).any() else start for c in range(model.n_classes)]
    )
    corr = np.corrcoef(np.vstack([np.stack(images), means]))[: len(images), len(images) :]
    identified = tuple(bool(np.nanargmax(corr[c]) == c) for c in range(len(images)))
    return Reconstruction(mode, tuple(images), tuple(conf), identified, model.queries - before)


def _proba(model: Any, x: Floats) -> Floats:
    batch = x.reshape((len(x), *model.input_shape)).astype(np.float32)
    return np.asarray(model.predict_proba(batch), dtype=np.float64)


def _whitebox(
    model: Any, x: Floats, c: int, steps: int, clip: tuple[float, float], rng: Any
) -> Floats:
    lr = 0.05 * (clip[1] - clip[0])
    for _ in range(steps):
        g = np.asarray(
            model.loss_gradient(
                x.reshape((1, *model.input_shape)).astype(np.float32), np.array([c])
            ),
            dtype=np.float64,
        ).reshape(-1)
        x = np.clip(x - lr * g / (np.linalg.norm(g) + 1e-12) - 0.001 * (x - np.mean(clip)), *clip)
    return x


def _blackbox(
    model: Any, x: Floats, c: int, steps: int, clip: tuple[float, float], rng: Any
) -> Floats:
    sigma, lr, pairs = 0.05 * (clip[1] - clip[0]), 0.05 * (clip[1] - clip[0]), 10
    for _ in range(steps):
        u = rng.normal(size=(pairs, len(x)))
        p = _proba(model, np.clip(np.vstack([x + sigma * u, x - sigma * u]), *clip))
        f = np.log(p[:, c] + 1e-12)
        g = ((f[:pairs] - f[pairs:])[:, None] * u).sum(axis=0)
        x = np.clip(x + lr * g / (np.linalg.norm(g) + 1e-12), *clip)
    return x


class InversionProbe:
    """Model inversion (ML03): attribute inference (tabular), class reconstruction (images)."""

    id = "inversion"
    risk = RiskId.ML03
    requires = frozenset({Capability.PREDICT})
    description = "Model inversion: attribute inference and class reconstruction"

    def run(
        self, model: Classifier, data: AuditData, config: AuditSettings, progress: Progress
    ) -> ProbeResult:
        from mlwarden.attacks.privacy_data import conform, train_and_population
        from mlwarden.attacks.privacy_findings import inversion_findings

        s = section(config, "inversion", InversionSettings)
        train, population = train_and_population(data, "inversion")
        members = conform(model, *train, "training data")
        held = conform(model, data.x, data.y, "held-out data")
        prior = conform(model, *population, "population data") if population else held
        image = data.image_shape is not None or len(model.input_shape) >= 2
        evidence: dict[str, Any] = {"attributes": [], "reconstruction": None}
        if not image or s.sensitive:
            evidence["attributes"] = _attributes(model, members, held, prior, s, int(config.seed))
        if image and s.reconstruct != "off":
            rec = reconstruct_classes(
                model,
                members,
                mode=s.reconstruct,
                steps=s.steps,
                seed=int(config.seed),
                progress=progress,
            )
            evidence["reconstruction"] = _reconstruction_evidence(rec, data.image_shape)
        source = str(getattr(data, "model_name", "model"))
        findings = inversion_findings(evidence, s, source)
        adv = [a["members"]["advantage"] for a in evidence["attributes"]]
        metrics: dict[str, float] = {"inversion.max_attribute_advantage": max(adv, default=0.0)}
        if evidence["reconstruction"]:
            metrics["inversion.identification_rate"] = evidence["reconstruction"][
                "identification_rate"
            ]
        return ProbeResult(metrics=metrics, findings=findings, evidence=evidence)


def _attributes(
    model: Any,
    members: tuple[Any, Any],
    held: tuple[Any, Any],
    prior: tuple[Any, Any],
    s: InversionSettings,
    seed: int,
) -> list[dict[str, Any]]:
    rng = np.random.default_rng(seed)
    flat = members[0].reshape(len(members[0]), -1)
    columns = s.sensitive or list(
        np.argsort([len(np.unique(c)) for c in flat.T], kind="stable")[:2]
    )
    m_idx = rng.permutation(len(members[1]))[: s.max_records]
    n_idx = rng.permutation(len(held[1]))[: s.max_records]
    out = []
    for col in columns:
        kw = {"max_values": s.max_values}
        on_members = attribute_inference(
            model, (members[0][m_idx], members[1][m_idx]), prior, int(col), **kw
        )
        on_held = attribute_inference(
            model, (held[0][n_idx], held[1][n_idx]), prior, int(col), **kw
        )
        out.append({"column": int(col), "members": on_members, "nonmembers": on_held})
    return out


def _reconstruction_evidence(
    rec: Reconstruction, image_shape: tuple[int, ...] | None
) -> dict[str, Any]:
    shape = list(image_shape) if image_shape else [len(rec.images[0])]
    small = len(rec.images[0]) <= _MAX_IMAGE
    return {
        "mode": rec.mode,
        "queries": rec.queries,
        "identification_rate": round(rec.identification_rate, 4),
        "chance": round(1.0 / len(rec.images), 4),
        "classes": [
            {
                "class": c,
                "confidence": round(conf, 4),
                "identified": ident,
                "image": np.round(img, 3).reshape(shape).tolist() if small else None,
            }
            for c, (img, conf, ident) in enumerate(
                zip(rec.images, rec.confidence, rec.identified, strict=True)
            )
        ],
    }
