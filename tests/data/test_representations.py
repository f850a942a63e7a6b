"""Representations for poison detection: a torch model's penultimate layer, an adapter's
embeddings, raw features; and detection on a backdoored CNN's own representations."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest

from mlwarden.data.guard import check_data
from mlwarden.data.poison import detect_poison
from mlwarden.data.representations import model_representations, standardize
from mlwarden.datasets import Table
from mlwarden.models.base import Capability


class _Embedder:
    capabilities = frozenset({Capability.PREDICT, Capability.EMBED})

    def embed(self, x: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        return np.asarray(x).reshape(len(x), -1)[:, :3] * 2


def test_raw_and_embedding_sources() -> None:
    x = np.random.default_rng(0).random((20, 2, 3)).astype(np.float32)
    raw = model_representations(None, x)
    assert raw.source == "raw" and raw.vectors.shape == (20, 6)
    assert np.allclose(raw.vectors, standardize(x))
    emb = model_representations(_Embedder(), x)
    assert emb.source == "embed" and emb.vectors.shape == (20, 3)
    assert model_representations(object(), x).source == "raw"


@pytest.mark.torch
def test_penultimate_layer_is_read_with_a_hook() -> None:
    from tests.data import _backdoor as bd

    model = bd.clean(1)
    x = bd.digits().x_test[:10]
    reps = model_representations(model, x)
    assert reps.source == "model:8"  # the input of the last nn.Linear
    assert reps.vectors.shape == (10, 64)
    assert (reps.vectors >= 0).all()  # after the ReLU
    assert (
        not model.torch_module._forward_pre_hooks and not model.torch_module[8]._forward_pre_hooks
    )


@pytest.mark.torch
def test_backdoor_found_from_the_models_representations() -> None:
    from tests.data import _backdoor as bd

    poisoned = bd.poisoned()
    reps = model_representations(bd.backdoored(), poisoned.x)
    result = detect_poison(poisoned.x, poisoned.y, representations=reps.vectors, source=reps.source)
    assert result.suspected == (bd.TARGET,)
    flagged = np.zeros(len(poisoned.y), dtype=bool)
    flagged[result.flagged] = True
    hits = int((flagged & poisoned.mask).sum())
    assert hits / flagged.sum() >= 0.9 and hits / poisoned.mask.sum() >= 0.9
    clean_reps = model_representations(bd.clean(1), bd.digits().x_train)
    clean = detect_poison(
        bd.digits().x_train, bd.digits().y_train, representations=clean_reps.vectors
    )
    assert clean.suspected == ()


@pytest.mark.torch
def test_check_data_with_a_model_reports_poison_and_gate_numbers() -> None:
    from tests.data import _backdoor as bd

    poisoned = bd.poisoned()
    table = Table(poisoned.x, poisoned.y, (), tuple(range(10)))
    result = check_data(table, model=bd.backdoored())
    rules = sorted({f.rule_id for f in result.report.findings})
    assert "DATA-POI-001" in rules
    assert result.report.metrics["data.representation"] == "model:8"
    assert result.report.metrics["data.suspected_classes"] == "0"
    gate = result.report.evidence["data"]["gate"]
    assert gate["flagged_label_agreement"] < 0.2  # a clean model disagrees with the poison's labels
    assert result.manifest.rows == len(poisoned.y)


@pytest.mark.torch
def test_torchscript_sequential_is_read_child_by_child(tmp_path: Any) -> None:
    import torch

    from mlwarden.models import TorchClassifier
    from tests.data import _backdoor as bd

    x = bd.digits().x_test[:10]
    eager = bd.clean(1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # torch 2.13 deprecates torch.jit
        torch.jit.trace(eager.torch_module, torch.from_numpy(x[:1])).save(str(tmp_path / "m.pt"))
        traced = torch.jit.load(str(tmp_path / "m.pt"))
        wrapped = torch.jit.script(torch.nn.Sequential(torch.nn.Flatten(), torch.nn.ReLU()))
    scripted = TorchClassifier(traced, input_shape=(1, 8, 8), n_classes=10)
    reps = model_representations(scripted, x)
    assert reps.source == "model:8"
    assert np.allclose(reps.vectors, model_representations(eager, x).vectors, atol=1e-5)
    fallback = model_representations(
        TorchClassifier(wrapped, input_shape=(1, 8, 8), n_classes=2), x
    )
    assert fallback.source.startswith("raw")
