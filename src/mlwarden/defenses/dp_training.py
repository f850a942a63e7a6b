"""Differentially private training recipe (ML03/ML04): DP-SGD with opacus (the ``dp`` extra).

DP-SGD clips each example's gradient and adds Gaussian noise, which bounds what any single
record can change (epsilon, delta). It costs accuracy and time; measure both with
:func:`mlwarden.attacks.privacy_curve.privacy_utility_curve` before choosing epsilon.

NOTE: diffprivlib is not offered: its 0.6.6 release imports private scikit-learn names that
scikit-learn 1.8 removed (``ImportError: cannot import name 'DOUBLE' from
'sklearn.tree._tree'`` on ``import diffprivlib``), so it cannot be installed beside a current
scikit-learn. opacus covers the recipe for neural networks.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mlwarden.errors import UsageError

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from mlwarden.models.torch_adapter import TorchClassifier


@dataclass(frozen=True)
class DpTrainingResult:
    """A trained model and what its training cost.

    Attributes:
        model: the trained classifier.
        epsilon: the privacy budget spent (``None`` for non-private training).
        delta: the DP delta.
        seconds: wall time of training.
    """

    model: TorchClassifier
    epsilon: float | None
    delta: float
    seconds: float


def _module(d: int, hidden: int, k: int) -> Any:
    import torch

    return torch.nn.Sequential(
        torch.nn.Linear(d, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, k)
    )


def train_dp_mlp(
    x: NDArray[Any],
    y: NDArray[Any],
    *,
    epsilon: float | None,
    delta: float = 1e-5,
    hidden: int = 128,
    epochs: int = 30,
    batch_size: int = 64,
    lr: float = 0.1,
    max_grad_norm: float = 1.0,
    n_classes: int | None = None,
    seed: int = 0,
) -> DpTrainingResult:
    """Train a one-hidden-layer MLP with DP-SGD at ``epsilon`` (``None`` = plain SGD).

    Args:
        x, y: training records (flat features) and integer labels.
        epsilon: target privacy budget; ``None`` trains the same network without DP (the
            utility baseline).
        delta: DP delta (well below 1 / number of records).
        hidden, epochs, batch_size, lr: the network and the optimiser.
        max_grad_norm: per-example gradient clipping bound.
        n_classes: classes (default: ``max(y) + 1``).
        seed: seed of initialisation, sampling and noise.

    Raises:
        UsageError: opacus or torch is missing, or the arguments are invalid.
    """
    try:
        import numpy as np
        import torch
        from torch.utils.data import DataLoader, TensorDataset
    except ImportError:
        raise UsageError("DP training needs torch", hint="pip install 'mlwarden[dp]'") from None
    if epsilon is not None and epsilon <= 0:
        raise UsageError("epsilon must be > 0 (or None for non-private training)")
    torch.manual_seed(seed)
    torch.set_num_threads(1)
    xs = torch.as_tensor(np.asarray(x, dtype=np.float32).reshape(len(x), -1))
    ys = torch.as_tensor(np.asarray(y).astype(np.int64))
    k = int(n_classes or int(ys.max()) + 1)
    module = _module(xs.shape[1], hidden, k)
    optimizer = torch.optim.SGD(module.parameters(), lr=lr, momentum=0.9)
    loader = DataLoader(
        TensorDataset(xs, ys),
        batch_size=batch_size,
        shuffle=True,
        generator=torch.Generator().manual_seed(seed),
    )
    start = time.perf_counter()
    engine = None
    if epsilon is not None:
        module, optimizer, loader, engine = _private(
            module, optimizer, loader, epsilon, delta, epochs, max_grad_norm
        )
    _fit(module, optimizer, loader, epochs)
    spent = float(engine.get_epsilon(delta)) if engine is not None else None
    seconds = time.perf_counter() - start
    from mlwarden.models.torch_adapter import TorchClassifier

    plain = getattr(module, "_module", module)  # opacus wraps the module in GradSampleModule
    clf = TorchClassifier(plain, input_shape=(int(xs.shape[1]),), n_classes=k, clip=None)
    return DpTrainingResult(clf, spent, delta, seconds)


def _private(
    module: Any, optimizer: Any, loader: Any, epsilon: float, delta: float, epochs: int, clip: float
) -> tuple[Any, Any, Any, Any]:
    try:
        from opacus import PrivacyEngine
    except ImportError:
        raise UsageError("DP-SGD needs opacus", hint="pip install 'mlwarden[dp]'") from None
    with warnings.catch_warnings():
        # opacus warns about its non-cryptographic RNG and torch hooks: known, not actionable.
        warnings.simplefilter("ignore")
        engine = PrivacyEngine(accountant="rdp")
        module, optimizer, loader = engine.make_private_with_epsilon(
            module=module,
            optimizer=optimizer,
            data_loader=loader,
            target_epsilon=epsilon,
            target_delta=delta,
            epochs=epochs,
            max_grad_norm=clip,
        )
    return module, optimizer, loader, engine


def _fit(module: Any, optimizer: Any, loader: Any, epochs: int) -> None:
    import torch

    loss_fn = torch.nn.CrossEntropyLoss()
    module.train()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # opacus' backward-hook warnings, see _private
        for _ in range(epochs):
            for xb, yb in loader:
                if len(xb) == 0:  # Poisson sampling can draw an empty batch
                    continue
                optimizer.zero_grad()
                loss_fn(module(xb), yb).backward()
                optimizer.step()
    module.eval()
