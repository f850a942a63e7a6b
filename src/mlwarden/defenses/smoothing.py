"""Input preprocessors: median smoothing, bit-depth reduction and random noise.

Each one is a :class:`~mlwarden.defenses.base.Preprocessor` (NumPy ``transform`` for serving,
torch ``transform_tensor`` for adaptive attacks) that also says whether it is
differentiable (else attacks use BPDA) and randomised (else attacks need no EOT). Use them
through :class:`~mlwarden.defenses.pipeline.DefendedClassifier`, whose ``calibrate`` records
how many clean answers each one changes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from mlwarden.defenses import filters
from mlwarden.errors import UsageError

if TYPE_CHECKING:
    import numpy as np
    import torch
    from numpy.typing import NDArray


@dataclass(frozen=True)
class MedianSmoothing:
    """Spatial smoothing: replace each pixel by the median of its ``size`` x ``size`` window.

    Attributes:
        size: window side (2 or 3 are usual).
        image_shape: ``(h, w)`` or ``(c, h, w)`` of flat inputs; ``None`` when the model's
            inputs already have that shape.
    """

    size: int = 2
    image_shape: tuple[int, ...] | None = None
    id: str = "median_smoothing"
    differentiable: bool = False
    randomized: bool = False

    def __post_init__(self) -> None:
        if self.size < 1:
            raise UsageError(f"median window size must be >= 1, not {self.size}")

    def transform(self, x: NDArray[np.float32]) -> NDArray[np.float32]:
        return filters.median_filter(x, self.size, self.image_shape)

    def transform_tensor(self, x: torch.Tensor) -> torch.Tensor:
        return filters.median_filter_tensor(x, self.size, self.image_shape)


@dataclass(frozen=True)
class BitDepth:
    """Bit-depth reduction: quantise each feature of ``[clip_min, clip_max]`` to ``bits`` bits."""

    bits: int = 4
    clip_min: float = 0.0
    clip_max: float = 1.0
    id: str = "bit_depth"
    differentiable: bool = False
    randomized: bool = False

    def __post_init__(self) -> None:
        if not 1 <= self.bits <= 16:
            raise UsageError(f"bit depth must be between 1 and 16, not {self.bits}")
        if self.clip_min >= self.clip_max:
            raise UsageError("bit depth needs clip_min < clip_max")

    def transform(self, x: NDArray[np.float32]) -> NDArray[np.float32]:
        return filters.bit_depth(x, self.bits, self.clip_min, self.clip_max)

    def transform_tensor(self, x: torch.Tensor) -> torch.Tensor:
        return filters.bit_depth_tensor(x, self.bits, self.clip_min, self.clip_max)


@dataclass
class RandomNoise:
    """Randomised defence: add Gaussian noise of scale ``sigma`` (then clip) to each input.

    Attacks must average over the randomness (EOT) to evaluate it honestly.
    """

    sigma: float = 0.1
    clip_min: float = 0.0
    clip_max: float = 1.0
    seed: int | None = None
    id: str = "random_noise"
    differentiable: bool = True
    randomized: bool = True
    _rng: np.random.Generator | None = field(default=None, init=False, repr=False)

    def transform(self, x: NDArray[np.float32]) -> NDArray[np.float32]:
        import numpy as np

        if self._rng is None:
            self._rng = np.random.default_rng(self.seed)
        noisy = x + self._rng.normal(0.0, self.sigma, size=x.shape)
        return np.clip(noisy, self.clip_min, self.clip_max).astype(np.float32)

    def transform_tensor(self, x: torch.Tensor) -> torch.Tensor:
        import torch

        return (x + self.sigma * torch.randn_like(x)).clamp(self.clip_min, self.clip_max)
