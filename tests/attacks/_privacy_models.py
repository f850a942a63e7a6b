"""Small seeded victims for the privacy tests: a leaky (overfit) and a regularised model.

Built once per test session (``lru_cache``); every model is tiny so a file stays fast on one
thread.
"""

from __future__ import annotations

import warnings
from functools import lru_cache
from typing import Any

import numpy as np

from mlwarden.models.threads import single_thread

Split = tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]


@lru_cache(maxsize=1)
def noisy_data() -> tuple[Split, Split, Split]:
    """(train, test, population) of a noisy 3-class set: 40 features, 5% label noise."""
    from sklearn.datasets import make_classification

    x, y = make_classification(
        n_samples=900,
        n_features=40,
        n_informative=10,
        n_redundant=0,
        n_classes=3,
        flip_y=0.05,
        random_state=0,
    )
    x = x.astype(np.float32)
    return (x[:300], y[:300]), (x[300:600], y[300:600]), (x[600:], y[600:])


def _fit(estimator: Any, data: Split) -> Any:
    single_thread()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning of deliberately short fits
        return estimator.fit(*data)


@lru_cache(maxsize=1)
def overfit_mlp() -> Any:
    """Memorises its 300 training records (train accuracy 1.0)."""
    from sklearn.neural_network import MLPClassifier

    return _fit(MLPClassifier((128,), alpha=1e-6, max_iter=400, random_state=0), noisy_data()[0])


@lru_cache(maxsize=1)
def regularised_model() -> Any:
    """Strong L2: little gap between train and test."""
    from sklearn.linear_model import LogisticRegression

    return _fit(LogisticRegression(C=0.01, max_iter=500), noisy_data()[0])


@lru_cache(maxsize=1)
def digits() -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """Digits scaled to [0, 1]."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    return (bunch.data / 16.0).astype(np.float32), bunch.target.astype(np.int64)


@lru_cache(maxsize=1)
def digits_mlp() -> Any:
    """A digits MLP trained on the first 600 images."""
    from sklearn.neural_network import MLPClassifier

    x, y = digits()
    return _fit(MLPClassifier((64,), max_iter=300, random_state=0), (x[:600], y[:600]))


@lru_cache(maxsize=1)
def digits_logreg() -> Any:
    """A digits logistic regression (softmax-linear: equation solving recovers it)."""
    from sklearn.linear_model import LogisticRegression

    x, y = digits()
    return _fit(LogisticRegression(max_iter=300), (x[:600], y[:600]))
