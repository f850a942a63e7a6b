"""Squeezers: the NumPy (serving) and torch (adaptive attack) versions compute the same thing."""

from __future__ import annotations

import numpy as np
import pytest

from mlwarden.defenses import BitDepth, MedianSmoothing, RandomNoise
from mlwarden.defenses.filters import bit_depth, grid, median_filter
from mlwarden.errors import UsageError

torch = pytest.importorskip("torch")


@pytest.mark.parametrize("size", [1, 2, 3])
@pytest.mark.parametrize(
    ("shape", "image"), [((1, 8, 8), None), ((64,), (8, 8)), ((3, 5, 6), None)]
)
def test_median_filter_numpy_and_torch_agree(
    size: int, shape: tuple[int, ...], image: tuple[int, ...] | None
) -> None:
    x = np.random.default_rng(0).random((7, *shape)).astype(np.float32)
    smooth = MedianSmoothing(size, image)
    ours = smooth.transform(x)
    theirs = smooth.transform_tensor(torch.tensor(x)).numpy()
    assert ours.shape == x.shape
    assert np.allclose(ours, theirs)


def test_median_filter_semantics() -> None:
    img = np.array([[[0.0, 1.0], [0.5, 0.25]]], dtype=np.float32)[None]  # (1, 1, 2, 2)
    out = median_filter(img, 2)
    # the 2x2 window at (1, 1) holds {0, 1, 0.5, 0.25}: its lower median is 0.25
    assert out[0, 0, 1, 1] == pytest.approx(0.25)
    flat = np.full((2, 1, 4, 4), 0.3, dtype=np.float32)
    assert np.allclose(median_filter(flat, 3), 0.3)
    with pytest.raises(UsageError, match="image"):
        median_filter(np.zeros((2, 10), dtype=np.float32), 2)
    assert grid((64,), (1, 8, 8)) == (1, 8, 8)


def test_bit_depth() -> None:
    x = np.linspace(0, 1, 101, dtype=np.float32)[None]
    q = bit_depth(x, 1, 0.0, 1.0)
    assert set(np.unique(q)) == {0.0, 1.0}
    four = BitDepth(4)
    levels = np.unique(four.transform(x))
    assert len(levels) == 16
    assert np.allclose(four.transform_tensor(torch.tensor(x)).numpy(), four.transform(x))
    scaled = bit_depth(np.array([[-1.0, 1.0]], dtype=np.float32), 1, -1.0, 1.0)
    assert scaled.tolist() == [[-1.0, 1.0]]
    with pytest.raises(UsageError):
        BitDepth(0)


def test_random_noise_is_random_and_bounded() -> None:
    noise = RandomNoise(0.2, seed=0)
    x = np.full((50, 4), 0.5, dtype=np.float32)
    a, b = noise.transform(x), noise.transform(x)
    assert not np.allclose(a, b) and a.min() >= 0.0 and a.max() <= 1.0
    assert 0.1 < float(np.std(a - x)) < 0.3
    t = noise.transform_tensor(torch.tensor(x))
    assert noise.randomized and float(t.std()) > 0.1
