"""Neural Cleanse in PyTorch: reverse-engineer the smallest trigger for every class.

For each target class ``t`` a mask ``m`` and a pattern ``p`` are optimised so that
``(1 - m) * x + m * p`` is classified ``t`` for clean inputs ``x`` while ``|m|_1`` stays
small (Wang et al., IEEE S&P 2019). A backdoored class needs a much smaller mask than the
others: its mask norm is a low outlier, measured by the anomaly index
``(median - norm) / (1.4826 * MAD)``. All classes are optimised together in one batch, and
the weight of the norm term follows the paper's schedule (raised while the attack succeeds,
lowered while it fails); the smallest successful mask of each class is kept.

A single run is noisy (a clean model's class can reach an anomaly index above 3), so
:func:`neural_cleanse` repeats the search with several seeds and :func:`decide` flags a class
only when the median of its norms over the seeds is an outlier (anomaly index with a floored
MAD), is at most ``max_ratio`` of the median norm (a trigger much smaller than the smallest
change that turns ordinary inputs into any class), *and* is the smallest-norm class in a
majority of the runs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from mlwarden.errors import UsageError

if TYPE_CHECKING:
    import torch

Floats = NDArray[np.float64]
_MAD_SCALE = 1.4826


@dataclass(frozen=True)
class CleanseOptions:
    """Knobs of the trigger search (defaults suit small images; raise ``steps`` for big ones)."""

    seeds: tuple[int, ...] = (0, 1, 2)
    steps: int = 300
    batch: int = 32
    lr: float = 0.1
    init_cost: float = 1e-3
    target_success: float = 0.99
    check_every: int = 10
    threshold: float = 2.0
    max_ratio: float = 0.6
    samples: int = 256


@dataclass(frozen=True)
class CleanseRun:
    """One seed's result: the smallest successful mask norm and its trigger, per class."""

    seed: int
    norms: Floats
    success: Floats
    masks: NDArray[np.float32]
    patterns: NDArray[np.float32]

    @property
    def anomaly(self) -> Floats:
        return anomaly_index(self.norms)


@dataclass(frozen=True)
class CleanseResult:
    """All runs and the decision.

    Attributes:
        runs: one per seed.
        norms: per class, the median mask L1 norm over the runs.
        anomaly: per class, the anomaly index of ``norms`` (positive = smaller than usual).
        suspected: the flagged target class, or ``None``.
        votes: per class, in how many runs it had the smallest norm.
    """

    runs: tuple[CleanseRun, ...]
    norms: Floats
    anomaly: Floats
    suspected: int | None
    votes: NDArray[np.int64]
    threshold: float

    def trigger(self, label: int) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
        """The reversed mask ``(h, w)`` and pattern ``(c, h, w)`` of ``label`` from the run
        whose norm was closest to the median."""
        best = min(self.runs, key=lambda r: abs(r.norms[label] - self.norms[label]))
        return best.masks[label], best.patterns[label]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready evidence: the anomaly index distribution and the reversed trigger."""
        out: dict[str, Any] = {
            "suspected_class": self.suspected,
            "threshold": self.threshold,
            "median_norms": [round(float(v), 3) for v in self.norms],
            "anomaly_index": [round(float(v), 3) for v in self.anomaly],
            "min_norm_votes": self.votes.tolist(),
            "runs": [
                {
                    "seed": r.seed,
                    "anomaly_index": [round(float(v), 3) for v in r.anomaly],
                    "norms": [round(float(v), 3) for v in r.norms],
                    "success": [round(float(v), 3) for v in r.success],
                }
                for r in self.runs
            ],
        }
        out["anomaly_chart"] = {
            "chart": "bar",
            "title": "Neural Cleanse: anomaly index per class (median norm over seeds)",
            "labels": [str(c) for c in range(len(self.anomaly))],
            "values": out["anomaly_index"],
            "threshold": self.threshold,
            "bad": "above",
            "y_label": "anomaly index",
        }
        label = self.suspected if self.suspected is not None else int(np.argmax(self.anomaly))
        mask, pattern = self.trigger(label)
        stamp = np.round(mask[None] * pattern, 3)
        out["trigger"] = {
            "label": label,
            "mask": np.round(mask, 3).tolist(),
            "image": stamp.tolist(),
            "chart": "images",
            "title": f"Reversed trigger of class {label}",
            "images": [np.round(mask, 3).tolist(), stamp.tolist()],
            "captions": ["mask", "mask x pattern"],
            "columns": 2,
        }
        return out


def anomaly_index(norms: Floats) -> Floats:
    """``(median - norm) / (1.4826 * MAD)`` per class.

    NOTE: with ten or so classes the MAD itself is noisy: when the norms happen to bunch up,
    a clean class a little below the rest gets an index above 3. The MAD is therefore
    floored at a tenth of the median.
    """
    values = np.asarray(norms, dtype=np.float64)
    median = float(np.median(values))
    mad = max(float(np.median(np.abs(values - median))), 0.1 * median, 1e-9)
    out: Floats = (median - values) / (_MAD_SCALE * mad)
    return out


def decide(runs: tuple[CleanseRun, ...], threshold: float, max_ratio: float = 0.6) -> CleanseResult:
    """Flag the class whose median norm is an outlier (anomaly index >= ``threshold``), at
    most ``max_ratio`` times the median norm, and the smallest in a majority of the runs."""
    norms = np.median(np.stack([r.norms for r in runs]), axis=0)
    anomaly = anomaly_index(norms)
    votes = np.bincount([int(np.argmin(r.norms)) for r in runs], minlength=len(norms))
    best = int(np.argmax(anomaly))
    small = norms[best] <= max_ratio * float(np.median(norms))
    flagged = anomaly[best] >= threshold and small and votes[best] * 2 > len(runs)
    return CleanseResult(runs, norms, anomaly, best if flagged else None, votes, threshold)


def _images(model: Any, x: NDArray[np.float32]) -> tuple[int, int, int]:
    shape = tuple(int(d) for d in getattr(model, "input_shape", x.shape[1:]))
    if len(shape) == 2:
        shape = (1, *shape)
    if len(shape) != 3:
        raise UsageError(
            f"Neural Cleanse needs image inputs (c, h, w); the model takes {shape}",
            hint="Audit an image model, or wrap flat inputs in a model taking (1, h, w).",
        )
    return shape[0], shape[1], shape[2]


def _run(
    model: Any, x: torch.Tensor, k: int, bounds: tuple[float, float], seed: int, o: CleanseOptions
) -> CleanseRun:
    import torch

    gen = torch.Generator().manual_seed(seed)
    c, h, w = x.shape[1:]
    mask_p = (torch.rand(k, 1, h, w, generator=gen) * 2 - 1).requires_grad_(True)
    pattern_p = (torch.rand(k, c, h, w, generator=gen) * 2 - 1).requires_grad_(True)
    opt = torch.optim.Adam([mask_p, pattern_p], lr=o.lr, betas=(0.5, 0.9))
    lo, hi = bounds
    targets = torch.arange(k).repeat_interleave(o.batch)
    cost = torch.full((k,), o.init_cost)
    best = torch.full((k,), math.inf)
    best_rate = torch.zeros(k)
    best_mask = torch.zeros(k, h, w)
    best_pattern = torch.zeros(k, c, h, w)
    for step in range(o.steps):
        batch = x[torch.randint(len(x), (o.batch,), generator=gen)]
        mask = torch.sigmoid(mask_p)
        pattern = lo + (hi - lo) * torch.sigmoid(pattern_p)
        stamped = (1 - mask[:, None]) * batch[None] + (mask * pattern)[:, None]
        logits = model.forward_tensor(stamped.reshape(-1, c, h, w)).cpu()
        ce = torch.nn.functional.cross_entropy(logits, targets, reduction="none").view(k, -1)
        norm = mask.flatten(1).sum(1)
        loss = (ce.mean(1) + cost * norm).sum()
        opt.zero_grad()
        loss.backward()  # type: ignore[no-untyped-call]
        opt.step()
        if (step + 1) % o.check_every == 0:
            with torch.no_grad():
                rate = (logits.argmax(1).view(k, -1) == torch.arange(k)[:, None]).float().mean(1)
                ok = rate >= o.target_success
                better = ok & (norm < best)
                best = torch.where(better, norm.detach(), best)
                best_rate = torch.where(better, rate, torch.maximum(best_rate, rate * ~ok))
                best_mask[better] = mask[better, 0].detach()
                best_pattern[better] = pattern[better].detach()
                # The paper's schedule: more weight on the norm while the attack succeeds.
                cost = torch.where(ok, cost * 1.5, cost / 1.5**1.5).clamp(1e-5, 10.0)
    # A class whose attack never succeeded gets the largest possible norm (the image).
    best = torch.where(torch.isinf(best), torch.tensor(float(h * w)), best)
    return CleanseRun(
        seed,
        best.double().numpy(),
        best_rate.double().numpy(),
        best_mask.numpy(),
        best_pattern.numpy(),
    )


def neural_cleanse(
    model: Any,
    x: NDArray[np.float32],
    *,
    bounds: tuple[float, float] | None = None,
    options: CleanseOptions | None = None,
) -> CleanseResult:
    """Search every class's smallest trigger with each seed and decide which class, if any,
    is a backdoor target.

    Args:
        model: a PyTorch adapter (:class:`~mlwarden.models.TorchClassifier`: it needs
            ``forward_tensor`` and image inputs ``(c, h, w)``).
        x: clean inputs the triggers must work on (a few hundred suffice).
        bounds: valid input range (default: the adapter's ``clip``, else ``x``'s range).
        options: search settings.
    """
    import torch

    if not hasattr(model, "forward_tensor"):
        from mlwarden.models.base import MissingCapability

        raise MissingCapability("Neural Cleanse needs a PyTorch model (forward_tensor)")
    o = options or CleanseOptions()
    if not o.seeds:
        raise UsageError("Neural Cleanse needs at least one seed")
    shape = _images(model, x)
    sample = np.asarray(x, dtype=np.float32).reshape(len(x), *shape)
    rng = np.random.default_rng(o.seeds[0])
    sample = sample[rng.permutation(len(sample))[: o.samples]]
    clip = bounds or getattr(model, "clip", None) or (float(sample.min()), float(sample.max()))
    data = torch.from_numpy(np.ascontiguousarray(sample))
    module = getattr(model, "torch_module", None)
    params = list(module.parameters()) if module is not None else []
    trainable = [p.requires_grad for p in params]
    for p in params:  # only the trigger is optimised: no gradients for the weights
        p.requires_grad_(False)
    try:
        runs = tuple(_run(model, data, int(model.n_classes), clip, s, o) for s in o.seeds)
    finally:
        for p, flag in zip(params, trainable, strict=True):
            p.requires_grad_(flag)
    return decide(runs, o.threshold, o.max_ratio)
