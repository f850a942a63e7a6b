"""Small models shared by the attack and defence tests, trained once per process.

One torch thread and fixed seeds: a digits CNN (weak: PGD at eps 0.1 leaves about half of
it), the same CNN after PGD adversarial training (hardened), a "trivially robust" model on
two classes that no small perturbation can confuse, and scikit-learn models for black-box
attacks. Everything is built by code here; nothing is downloaded.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import pytest


def _torch() -> Any:
    """torch with one thread, or a skip where the torch extra is not installed."""
    torch = pytest.importorskip("torch")
    torch.set_num_threads(1)
    return torch


@dataclass(frozen=True)
class Split:
    """Digits scaled to [0, 1], shaped (n, 1, 8, 8), split into train and test."""

    x_train: np.ndarray[Any, Any]
    y_train: np.ndarray[Any, Any]
    x_test: np.ndarray[Any, Any]
    y_test: np.ndarray[Any, Any]


@lru_cache(maxsize=1)
def digits() -> Split:
    from sklearn.model_selection import train_test_split

    from mlwarden.datasets import demo_dataset

    data = demo_dataset("digits")
    x = data.images()
    xtr, xte, ytr, yte = train_test_split(x, data.y, test_size=0.3, random_state=0, stratify=data.y)
    return Split(xtr, ytr, xte, yte)


def make_cnn() -> Any:
    torch = _torch()
    torch.manual_seed(0)
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


def fit(module: Any, x: np.ndarray[Any, Any], y: np.ndarray[Any, Any], epochs: int) -> Any:
    torch = _torch()
    opt = torch.optim.Adam(module.parameters(), 1e-3)
    xt, yt = torch.as_tensor(x), torch.as_tensor(y)
    gen = torch.Generator().manual_seed(0)
    for _ in range(epochs):
        for idx in torch.randperm(len(xt), generator=gen).split(64):
            opt.zero_grad()
            torch.nn.functional.cross_entropy(module(xt[idx]), yt[idx]).backward()
            opt.step()
    return module.eval()


@lru_cache(maxsize=1)
def weak_cnn() -> Any:
    d = digits()
    return fit(make_cnn(), d.x_train, d.y_train, epochs=12)


@lru_cache(maxsize=1)
def hardened_cnn() -> Any:
    """The weak CNN fine-tuned with PGD adversarial training (a copy: the weak one stays)."""
    import copy

    from mlwarden.defenses import adversarial_train

    d = digits()
    module = copy.deepcopy(weak_cnn())
    adversarial_train(module, d.x_train, d.y_train, eps=0.1, epochs=8, steps=5)
    return module


def torch_classifier(module: Any) -> Any:
    from mlwarden.models.torch_adapter import TorchClassifier

    return TorchClassifier(module, input_shape=(1, 8, 8), n_classes=10, clip=(0.0, 1.0))


@lru_cache(maxsize=1)
def easy_pairs() -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """Two classes of flat 64-feature inputs: all features near 0.2 or all near 0.8."""
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1], 40)
    x = np.where(y[:, None] == 1, 0.8, 0.2) + rng.normal(0, 0.02, size=(80, 64))
    return x.astype(np.float32), y.astype(np.int64)


def trivially_robust() -> Any:
    """Trivially robust: the logit is the mean feature (its class margin is 0.3 per feature)."""
    torch = _torch()
    from mlwarden.models.torch_adapter import TorchClassifier

    class MeanModel(torch.nn.Module):  # type: ignore[misc]
        def forward(self, x: Any) -> Any:
            m = x.reshape(len(x), -1).mean(dim=1, keepdim=True)
            return torch.cat([(0.5 - m) * 20, (m - 0.5) * 20], dim=1)

    return TorchClassifier(MeanModel(), input_shape=(64,), n_classes=2, clip=(0.0, 1.0))


@lru_cache(maxsize=1)
def logreg() -> Any:
    from sklearn.linear_model import LogisticRegression

    d = digits()
    return LogisticRegression(max_iter=300).fit(d.x_train.reshape(len(d.x_train), -1), d.y_train)


def sklearn_classifier(estimator: Any) -> Any:
    from mlwarden.models.sklearn_adapter import SklearnClassifier

    return SklearnClassifier(estimator, input_shape=(1, 8, 8), clip=(0.0, 1.0))


class CountingCallable:
    """A label-only black box built from functions, counting model calls (batching check)."""

    def __init__(self, estimator: Any, proba: bool = False) -> None:
        from mlwarden.models.callable_adapter import CallableClassifier

        self.calls = 0
        self.estimator = estimator

        def predict(x: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
            self.calls += 1
            return np.asarray(estimator.predict(x.reshape(len(x), -1)))

        def predict_proba(x: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
            self.calls += 1
            return np.asarray(estimator.predict_proba(x.reshape(len(x), -1)))

        self.model = CallableClassifier(
            predict,
            fn_proba=predict_proba if proba else None,
            n_classes=10,
            input_shape=(1, 8, 8),
            clip=(0.0, 1.0),
        )
