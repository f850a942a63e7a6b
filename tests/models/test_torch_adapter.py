"""PyTorch adapter: outputs match the module, gradients are per-sample, eval mode, one thread."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from mlwarden.models import InputShapeError, TorchClassifier

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.torch


@pytest.fixture
def adapter(cnn: Any) -> TorchClassifier:
    return TorchClassifier(cnn, input_shape=(1, 8, 8), n_classes=10, batch_size=5)


@pytest.fixture
def images(x_test: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    return x_test.reshape(-1, 1, 8, 8)


def test_outputs_match_the_module(adapter: TorchClassifier, images: Any, cnn: Any) -> None:
    with torch.no_grad():
        expected = cnn(torch.from_numpy(images)).numpy()
    assert np.allclose(adapter.logits(images), expected, atol=1e-5)
    labels = adapter.predict(images)
    assert labels.dtype == np.int64 and np.array_equal(labels, expected.argmax(axis=1))
    assert adapter.queries == 2 * len(images)


def test_gradient_is_per_sample_and_leaves_parameters_alone(
    adapter: TorchClassifier, images: Any, cnn: Any
) -> None:
    y = adapter.predict(images)
    batch = adapter.loss_gradient(images, y)
    one = adapter.loss_gradient(images[3:4], y[3:4])
    assert np.allclose(batch[3:4], one, atol=1e-6)
    assert all(p.grad is None for p in cnn.parameters())
    # A step along the gradient raises the loss (it is d loss / d x, not its negative).
    before = torch.nn.functional.cross_entropy(
        torch.from_numpy(adapter.logits(images)), torch.from_numpy(y)
    )
    after = torch.nn.functional.cross_entropy(
        torch.from_numpy(adapter.logits(images + 0.01 * np.sign(batch))), torch.from_numpy(y)
    )
    assert after > before


def test_forward_tensor_keeps_autograd_and_counts(adapter: TorchClassifier, images: Any) -> None:
    x = torch.from_numpy(images).requires_grad_(True)
    logits = adapter.forward_tensor(x)
    logits.sum().backward()
    assert x.grad is not None and adapter.queries == len(images)
    assert adapter.torch_module is not None
    with pytest.raises(InputShapeError):
        adapter.forward_tensor(torch.zeros(2, 64))


def test_module_runs_in_eval_mode_with_one_thread(images: Any) -> None:
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Dropout(0.5), torch.nn.Linear(64, 10))
    net.train()
    adapter = TorchClassifier(net, input_shape=(1, 8, 8), n_classes=10)
    first = adapter.predict_proba(images)
    assert np.array_equal(first, adapter.predict_proba(images))  # no dropout noise
    assert not net.training and torch.get_num_threads() == 1


def test_bad_labels_for_gradients_are_refused(adapter: TorchClassifier, images: Any) -> None:
    with pytest.raises(InputShapeError, match="class indices"):
        adapter.loss_gradient(images, np.full(len(images), 10))
    with pytest.raises(InputShapeError, match="class indices"):
        adapter.loss_gradient(images, np.zeros(3, dtype=np.int64))
