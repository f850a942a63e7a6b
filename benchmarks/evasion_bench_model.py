"""The benchmark's digits CNN, shared by the main process and the ART worker (torch only)."""

from __future__ import annotations

from typing import Any


def make_cnn() -> Any:
    """Two 3x3 convolutions, a 2x2 max-pool and two dense layers; logits for 10 classes."""
    import torch

    nn = torch.nn
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(16, 32, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(32 * 16, 64),
        nn.ReLU(),
        nn.Linear(64, 10),
    )
