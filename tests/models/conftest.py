"""Small models trained at test time on scikit-learn's digits, shared by the adapter tests."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from mlwarden.datasets import Dataset, demo_dataset
from tests.models._server import ServerState, serve

N_TRAIN = 1200


@pytest.fixture(scope="session")
def digits() -> Dataset:
    return demo_dataset("digits")


@pytest.fixture(scope="session")
def x_test(digits: Dataset) -> np.ndarray[Any, Any]:
    return digits.X[N_TRAIN : N_TRAIN + 16]


@pytest.fixture(scope="session")
def logreg(digits: Dataset) -> Any:
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(max_iter=1000).fit(digits.X[:N_TRAIN], digits.y[:N_TRAIN])


def make_cnn() -> Any:
    """The digits CNN architecture (untrained): 1x8x8 -> 10 logits."""
    import torch

    return torch.nn.Sequential(
        torch.nn.Conv2d(1, 8, 3, padding=1),
        torch.nn.ReLU(),
        torch.nn.MaxPool2d(2),
        torch.nn.Flatten(),
        torch.nn.Linear(8 * 4 * 4, 10),
    )


@pytest.fixture(scope="session")
def cnn(digits: Dataset) -> Any:
    """A CNN trained for a few epochs with one thread (a fraction of a second)."""
    torch = pytest.importorskip("torch")
    torch.set_num_threads(1)
    torch.manual_seed(0)
    net = make_cnn()
    x = torch.from_numpy(digits.images()[:N_TRAIN])
    y = torch.from_numpy(digits.y[:N_TRAIN])
    opt = torch.optim.Adam(net.parameters(), 1e-2)
    for _ in range(4):
        perm = torch.randperm(N_TRAIN)
        for i in range(0, N_TRAIN, 64):
            idx = perm[i : i + 64]
            opt.zero_grad()
            torch.nn.functional.cross_entropy(net(x[idx]), y[idx]).backward()
            opt.step()
    net.zero_grad(set_to_none=True)
    return net.eval()


def skl2onnx_bytes(model: Any, n_features: int, *, zipmap: bool) -> bytes:
    """``model`` exported by skl2onnx, with ZipMap's list of dicts or a plain tensor."""
    from skl2onnx import to_onnx

    sample = np.zeros((1, n_features), dtype=np.float32)
    options = None if zipmap else {"zipmap": False}
    onx = to_onnx(model, sample, options=options, target_opset={"": 17, "ai.onnx.ml": 3})
    data: bytes = onx.SerializeToString()
    return data


def gemm_bytes(
    weights: np.ndarray[Any, Any],
    bias: np.ndarray[Any, Any],
    *,
    output: str = "scores",
    softmax: bool = False,
    domain: str = "",
) -> bytes:
    """A plain ``x @ W.T + b`` ONNX model (logits, or probabilities with ``softmax``)."""
    from onnx import TensorProto, helper, numpy_helper

    k, d = weights.shape
    gemm = helper.make_node("Gemm", ["x", "W", "b"], ["z"], transB=1, domain=domain)
    if softmax:
        last = helper.make_node("Softmax", ["z"], [output], axis=1)
    else:
        last = helper.make_node("Identity", ["z"], [output])
    nodes = [gemm, last]
    graph = helper.make_graph(
        nodes,
        "gemm",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", d])],
        [helper.make_tensor_value_info(output, TensorProto.FLOAT, ["n", k])],
        [
            numpy_helper.from_array(weights.astype(np.float32), "W"),
            numpy_helper.from_array(bias.astype(np.float32), "b"),
        ],
    )
    opsets = [helper.make_opsetid("", 17)]
    if domain:
        opsets.append(helper.make_opsetid(domain, 1))
    model = helper.make_model(graph, opset_imports=opsets)
    model.ir_version = 8
    data: bytes = model.SerializeToString()
    return data


@pytest.fixture
def server(logreg: Any) -> Iterator[tuple[str, ServerState]]:
    with serve(logreg, 64) as running:
        yield running


@pytest.fixture
def no_sleep(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Record the adapter's waits instead of sleeping."""
    from mlwarden.models import http_adapter

    waits: list[float] = []
    monkeypatch.setattr(http_adapter, "_sleep", waits.append)
    return waits
