"""Backdoored and clean digits CNNs shared by the data, backdoor and STRIP tests.

Trained once per process with one torch thread and fixed seeds: a CNN trained on digits with
a 2x2 corner trigger relabelled to class 0 (10% of the training set), and clean CNNs with
different seeds. Everything is generated here; nothing is downloaded.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")
torch.set_num_threads(1)

from mlwarden.data.poisoning import Poisoned, plant_patch_trigger, stamp_patch  # noqa: E402
from mlwarden.datasets import demo_dataset  # noqa: E402
from mlwarden.defenses.fine_pruning import fine_tune  # noqa: E402
from mlwarden.models import TorchClassifier  # noqa: E402

TARGET = 0


@dataclass(frozen=True)
class Digits:
    x_train: np.ndarray[Any, Any]
    y_train: np.ndarray[Any, Any]
    x_test: np.ndarray[Any, Any]
    y_test: np.ndarray[Any, Any]


@lru_cache(maxsize=1)
def digits() -> Digits:
    data = demo_dataset("digits")
    order = np.random.default_rng(0).permutation(len(data.y))
    cut = int(0.75 * len(order))
    x = data.images()
    return Digits(x[order[:cut]], data.y[order[:cut]], x[order[cut:]], data.y[order[cut:]])


def make_cnn(seed: int) -> Any:
    torch.manual_seed(seed)
    nn = torch.nn
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(16, 32, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(512, 64),
        nn.ReLU(),
        nn.Linear(64, 10),
    )


def _adapter(module: Any) -> TorchClassifier:
    return TorchClassifier(module, input_shape=(1, 8, 8), n_classes=10)


@lru_cache(maxsize=2)
def poisoned(fraction: float = 0.1) -> Poisoned:
    d = digits()
    return plant_patch_trigger(d.x_train, d.y_train, fraction=fraction, target=TARGET, seed=1)


@lru_cache(maxsize=1)
def backdoored() -> TorchClassifier:
    p = poisoned()
    return _adapter(fine_tune(make_cnn(0), p.x, p.y, epochs=15, lr=3e-3, seed=0))


@lru_cache(maxsize=3)
def clean(seed: int) -> TorchClassifier:
    d = digits()
    return _adapter(fine_tune(make_cnn(seed), d.x_train, d.y_train, epochs=15, lr=3e-3, seed=seed))


def triggered(x: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """Test inputs of other classes with the trigger stamped."""
    return stamp_patch(x)


def attack_success(model: TorchClassifier) -> float:
    d = digits()
    others = d.x_test[d.y_test != TARGET]
    return float((model.predict(triggered(others)) == TARGET).mean())


def accuracy(model: TorchClassifier) -> float:
    d = digits()
    return float((model.predict(d.x_test) == d.y_test).mean())
