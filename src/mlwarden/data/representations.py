"""What poison detection looks at: a model's internal representation of each sample, or the
raw features when no model is given.

A backdoored model separates its poison from the clean samples of the target class in its
penultimate layer (the input of the last linear layer), which is where spectral signatures and
activation clustering look. For a PyTorch model that layer is read with a forward hook; an
adapter that offers the ``embed`` capability is asked directly; anything else (or no model)
falls back to the standardised raw features.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from mlwarden.errors import UsageError
from mlwarden.models.base import Capability

if TYPE_CHECKING:
    import torch

Floats = NDArray[np.float64]


@dataclass(frozen=True)
class Representation:
    """Per-sample vectors and where they came from (``model:<layer>``, ``embed`` or ``raw``)."""

    vectors: Floats
    source: str


def standardize(x: NDArray[Any]) -> Floats:
    """Flattened features scaled to zero mean and unit spread per feature.

    A feature that barely varies (a blank image corner) would be blown up by its tiny
    standard deviation, so scales are floored at a tenth of the median scale.
    """
    flat = np.asarray(x, dtype=np.float64).reshape(len(x), -1)
    sd = flat.std(axis=0)
    floor = max(float(np.median(sd)) * 0.1, 1e-12)
    out: Floats = (flat - flat.mean(axis=0)) / np.maximum(sd, floor)
    return out


def model_representations(model: object | None, x: NDArray[np.float32]) -> Representation:
    """The vectors poison detection clusters: from ``model`` when it can give them, else raw.

    Args:
        model: ``None``, an adapter with the ``embed`` capability (``model.embed(x)``), or a
            PyTorch adapter (``torch_module`` and ``forward_tensor``), whose last linear
            layer's input is read with a forward hook.
        x: the samples, shaped as the model expects.
    """
    if model is None:
        return Representation(standardize(x), "raw")
    if Capability.EMBED in getattr(model, "capabilities", frozenset()):
        vectors = np.asarray(model.embed(x), dtype=np.float64)  # type: ignore[attr-defined]
        return Representation(vectors.reshape(len(x), -1), "embed")
    module = getattr(model, "torch_module", None)
    if module is not None and hasattr(model, "forward_tensor"):
        if _is_script(module):
            return _scripted(module, x)
        layer, vectors = _penultimate(model, module, x)
        return Representation(vectors, f"model:{layer}")
    return Representation(standardize(x), "raw")


def _is_script(module: object) -> bool:
    import torch

    return isinstance(module, torch.jit.ScriptModule)


def _scripted(module: Any, x: NDArray[np.float32]) -> Representation:
    """TorchScript modules take no hooks: a scripted ``nn.Sequential`` is run child by child
    up to its last linear layer; any other layout falls back to the raw features."""
    import torch

    children = list(module.named_children())
    kinds = [getattr(child, "original_name", "") for _, child in children]
    if getattr(module, "original_name", "") != "Sequential" or "Linear" not in kinds:
        return Representation(standardize(x), "raw (TorchScript model without hooks)")
    last = len(kinds) - 1 - kinds[::-1].index("Linear")
    try:
        with torch.no_grad():
            out = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
            for _, child in children[:last]:
                out = child(out)
    except RuntimeError:  # in-memory traced modules cannot call their submodules
        return Representation(standardize(x), "raw (TorchScript model without hooks)")
    return Representation(out.reshape(len(x), -1).double().numpy(), f"model:{children[last][0]}")


def last_linear(module: torch.nn.Module) -> tuple[str, torch.nn.Module]:
    """Name and module of the last ``nn.Linear`` of ``module`` (its classification head)."""
    import torch

    found = [(n, m) for n, m in module.named_modules() if isinstance(m, torch.nn.Linear)]
    if not found:
        raise UsageError(
            f"{type(module).__name__} has no nn.Linear layer to read representations before",
            hint="Give an adapter with the embed capability, or run without --model.",
        )
    return found[-1]


def _penultimate(model: Any, module: torch.nn.Module, x: NDArray[np.float32]) -> tuple[str, Floats]:
    import torch

    name, head = last_linear(module)
    captured: list[torch.Tensor] = []

    def hook(_mod: torch.nn.Module, args: tuple[torch.Tensor, ...]) -> None:
        captured.append(args[0].detach().reshape(len(args[0]), -1).float().cpu())

    handle = head.register_forward_pre_hook(hook)
    try:
        with torch.no_grad():
            batch = int(getattr(model, "batch_size", 256))
            for start in range(0, len(x), batch):
                model.forward_tensor(
                    torch.from_numpy(np.ascontiguousarray(x[start : start + batch]))
                )
    finally:
        handle.remove()
    return name, torch.cat(captured).double().numpy()
