"""Fine-pruning: a mitigation for backdoored PyTorch models (Liu et al., RAID 2018).

Backdoors tend to live in neurons that clean inputs leave dormant. Fine-pruning ranks the
channels of the last convolution (or the units of the last hidden linear layer) by their mean
activation on clean data, prunes the least active ones while clean validation accuracy stays
within ``max_drop`` of where it started, then fine-tunes the pruned model on clean data. The
pruned units stay at zero during fine-tuning (a forward hook on the copy masks them). The model
given is never modified: a pruned copy comes back.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from mlwarden.errors import UsageError

if TYPE_CHECKING:
    import torch

    from mlwarden.models.torch_adapter import TorchClassifier


@dataclass(frozen=True)
class FinePruneResult:
    """The pruned and fine-tuned model, and what it cost on clean data.

    ``channels`` counts the units pruning chose from (channels, or output elements).
    """

    model: TorchClassifier
    layer: str
    pruned: tuple[int, ...]
    channels: int
    accuracy_before: float
    accuracy_pruned: float
    accuracy_after: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "layer": self.layer,
            "pruned": len(self.pruned),
            "channels": self.channels,
            "accuracy_before": round(self.accuracy_before, 4),
            "accuracy_pruned": round(self.accuracy_pruned, 4),
            "accuracy_after": round(self.accuracy_after, 4),
        }


def fine_tune(
    module: torch.nn.Module,
    x: NDArray[np.float32],
    y: NDArray[np.int64],
    *,
    epochs: int = 5,
    lr: float = 1e-3,
    batch_size: int = 64,
    seed: int = 0,
) -> torch.nn.Module:
    """Train ``module`` in place with Adam on ``(x, y)`` (also trains from scratch)."""
    import torch

    gen = torch.Generator().manual_seed(seed)
    xt, yt = torch.from_numpy(np.ascontiguousarray(x)), torch.from_numpy(np.asarray(y))
    opt = torch.optim.Adam([p for p in module.parameters() if p.requires_grad], lr=lr)
    module.train()
    for _ in range(epochs):
        order = torch.randperm(len(xt), generator=gen)
        for start in range(0, len(xt), batch_size):
            idx = order[start : start + batch_size]
            opt.zero_grad()
            torch.nn.functional.cross_entropy(module(xt[idx]), yt[idx]).backward()  # type: ignore[no-untyped-call]
            opt.step()
    module.eval()
    return module


def _layer(module: torch.nn.Module, name: str | None) -> tuple[str, torch.nn.Module]:
    import torch

    layers = dict(module.named_modules())
    if name is not None:
        if name not in layers:
            raise UsageError(f"no layer named {name!r}; layers: {', '.join(list(layers)[:20])}")
        return name, layers[name]
    convs = [(n, m) for n, m in layers.items() if isinstance(m, torch.nn.Conv2d)]
    linears = [(n, m) for n, m in layers.items() if isinstance(m, torch.nn.Linear)]
    if convs:
        return convs[-1]
    if len(linears) >= 2:
        return linears[-2]
    raise UsageError("fine-pruning needs a Conv2d layer or a hidden Linear layer to prune")


def _activity(
    module: torch.nn.Module, layer: torch.nn.Module, x: NDArray[np.float32], by_channel: bool
) -> NDArray[np.float64]:
    """Mean ReLU activation of each unit of ``layer``'s output on ``x`` (a unit is a channel,
    or one output element: a channel at one position)."""
    import torch

    sums: list[torch.Tensor] = []

    def hook(_m: torch.nn.Module, _i: Any, out: torch.Tensor) -> None:
        act = torch.relu(out.detach())
        if by_channel and act.dim() > 2:
            act = act.flatten(2).mean(2)
        sums.append(act.flatten(1).sum(0))

    handle = layer.register_forward_hook(hook)
    try:
        with torch.no_grad():
            module(torch.from_numpy(np.ascontiguousarray(x)))
    finally:
        handle.remove()
    return (torch.stack(sums).sum(0) / len(x)).double().numpy()


def _accuracy(module: torch.nn.Module, x: NDArray[np.float32], y: NDArray[np.int64]) -> float:
    import torch

    with torch.no_grad():
        pred = module(torch.from_numpy(np.ascontiguousarray(x))).argmax(1).numpy()
    return float((pred == y).mean())


class _Mask:
    """A forward hook that zeroes pruned units of a layer's output (kept during fine-tuning:
    a zeroed unit passes no gradient, so it stays pruned)."""

    def __init__(self, layer: torch.nn.Module, by_channel: bool) -> None:
        self.keep: torch.Tensor | None = None
        self.by_channel = by_channel
        self.handle = layer.register_forward_hook(self)

    def set(self, keep: NDArray[np.bool_]) -> None:
        import torch

        self.keep = torch.from_numpy(keep.astype(np.float32))

    def __call__(self, _m: torch.nn.Module, _i: Any, out: torch.Tensor) -> torch.Tensor:
        if self.keep is None:
            return out
        if self.by_channel:
            return out * self.keep.view(-1, *([1] * (out.dim() - 2)))
        return out * self.keep.view(out.shape[1:])


def fine_prune(
    model: TorchClassifier,
    x_clean: NDArray[np.float32],
    y_clean: NDArray[np.int64],
    *,
    layer: str | None = None,
    granularity: str = "neuron",
    max_drop: float = 0.02,
    step: float = 0.05,
    max_prune: float = 0.9,
    epochs: int = 5,
    lr: float = 1e-3,
    seed: int = 0,
) -> FinePruneResult:
    """Prune dormant channels of ``layer`` while clean accuracy holds, then fine-tune.

    Args:
        model: the suspected model (not modified).
        x_clean, y_clean: clean labelled data; a fifth is held out to measure accuracy.
        layer: the module name to prune (default: the last Conv2d, else the last hidden
            Linear layer).
        granularity: ``"neuron"`` prunes single output units (a channel at one position:
            what removes a patch trigger read by a position-aware head), ``"channel"``
            prunes whole channels (the paper's choice for large CNNs).
        max_drop: stop pruning before validation accuracy drops more than this.
        step: share of the channels pruned per round; ``max_prune``: at most this share.
        epochs, lr: fine-tuning on the clean training part.
    """
    from mlwarden.models.torch_adapter import TorchClassifier

    module = copy.deepcopy(model.torch_module).cpu().eval()
    name, target = _layer(module, layer)
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(y_clean))
    cut = max(1, len(order) // 5)
    val, train = order[:cut], order[cut:]
    if granularity not in ("neuron", "channel"):
        raise UsageError(f"granularity is 'neuron' or 'channel', not {granularity!r}")
    x, y = np.asarray(x_clean, dtype=np.float32), np.asarray(y_clean, dtype=np.int64)
    by_channel = granularity == "channel"
    before = _accuracy(module, x[val], y[val])
    ranking = np.argsort(_activity(module, target, x[train], by_channel), kind="stable")
    channels = len(ranking)
    mask = _Mask(target, by_channel)
    pruned: tuple[int, ...] = ()
    stride = max(1, int(step * channels))
    for count in range(stride, int(max_prune * channels) + 1, stride):
        keep = np.ones(channels, dtype=bool)
        keep[ranking[:count]] = False
        mask.set(keep)
        if before - _accuracy(module, x[val], y[val]) > max_drop:
            break
        pruned = tuple(int(c) for c in ranking[:count])
    keep = np.ones(channels, dtype=bool)
    keep[list(pruned)] = False
    mask.set(keep)
    after_prune = _accuracy(module, x[val], y[val])
    fine_tune(module, x[train], y[train], epochs=epochs, lr=lr, seed=seed)
    adapter = TorchClassifier(
        module, input_shape=model.input_shape, n_classes=model.n_classes, clip=model.clip
    )
    return FinePruneResult(
        adapter, name, pruned, channels, before, after_prune, _accuracy(module, x[val], y[val])
    )
