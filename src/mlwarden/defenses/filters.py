"""Input squeezers shared by feature squeezing and spatial smoothing, in NumPy and torch.

Both versions compute exactly the same function (tests compare them), so an adaptive attack
that runs the torch version sees what the deployed NumPy defence does. Images are laid out
as ``(c, h, w)`` grids of the flat or shaped features (``image_shape``); windows are edge-
padded and the median of an even window is its lower middle value (what ``torch.median``
returns), applied per channel.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from mlwarden.errors import UsageError

if TYPE_CHECKING:
    import numpy as np
    import torch
    from numpy.typing import NDArray


def grid(shape: tuple[int, ...], image_shape: tuple[int, ...] | None) -> tuple[int, int, int]:
    """``(channels, height, width)`` of inputs with per-sample ``shape``."""
    size = math.prod(shape)
    layout = tuple(image_shape) if image_shape else shape
    if len(layout) == 2:
        layout = (1, *layout)
    if len(layout) != 3 or math.prod(layout) != size:
        raise UsageError(
            f"a median filter needs image inputs: shape {shape} is not (h, w) or (c, h, w)",
            hint="Give the image shape (e.g. image_shape=(8, 8) / --image-shape 8x8).",
        )
    return layout[0], layout[1], layout[2]


def _pads(size: int) -> tuple[int, int]:
    return size // 2, size - 1 - size // 2


def bit_depth(x: NDArray[np.float32], bits: int, lo: float, hi: float) -> NDArray[np.float32]:
    """Quantise values in ``[lo, hi]`` to ``2**bits`` levels."""
    import numpy as np

    levels = 2**bits - 1
    unit = np.clip((x - lo) / (hi - lo), 0.0, 1.0)
    out: NDArray[np.float32] = (np.round(unit * levels) / levels * (hi - lo) + lo).astype(
        np.float32
    )
    return out


def bit_depth_tensor(x: torch.Tensor, bits: int, lo: float, hi: float) -> torch.Tensor:
    """Torch twin of :func:`bit_depth` (not differentiable: round has zero gradient)."""
    levels = 2**bits - 1
    unit = ((x - lo) / (hi - lo)).clamp(0.0, 1.0)
    out: torch.Tensor = (unit * levels).round() / levels * (hi - lo) + lo
    return out


def median_filter(
    x: NDArray[np.float32], size: int, image_shape: tuple[int, ...] | None = None
) -> NDArray[np.float32]:
    """Median of each ``size`` x ``size`` neighbourhood, per image and channel."""
    import numpy as np
    from numpy.lib.stride_tricks import sliding_window_view

    c, h, w = grid(tuple(x.shape[1:]), image_shape)
    images = x.reshape(len(x), c, h, w)
    before, after = _pads(size)
    padded = np.pad(images, ((0, 0), (0, 0), (before, after), (before, after)), mode="edge")
    windows = sliding_window_view(padded, (size, size), axis=(2, 3)).reshape(
        len(x), c, h, w, size * size
    )
    lower = np.partition(windows, (size * size - 1) // 2, axis=-1)[..., (size * size - 1) // 2]
    return lower.reshape(x.shape).astype(np.float32)


def median_filter_tensor(
    x: torch.Tensor, size: int, image_shape: tuple[int, ...] | None = None
) -> torch.Tensor:
    """Torch twin of :func:`median_filter`."""
    import torch.nn.functional as F

    c, h, w = grid(tuple(x.shape[1:]), image_shape)
    images = x.reshape(len(x), c, h, w)
    before, after = _pads(size)
    padded = F.pad(images, (before, after, before, after), mode="replicate")
    windows = padded.unfold(2, size, 1).unfold(3, size, 1).reshape(len(x), c, h, w, -1)
    return windows.median(dim=-1).values.reshape(x.shape)
