"""The conformance suite catches each way an adapter can break the conventions, by name."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from mlwarden.models import (
    AdapterCheckFailed,
    Capability,
    InputShapeError,
    MissingCapability,
    adapter_checks,
    check_adapter,
)

ALL = frozenset(Capability) - {Capability.EMBED}


class Linear:
    """A softmax-regression adapter with exact gradients; ``breaks`` switches one fault on."""

    def __init__(self, breaks: str = "", caps: frozenset[Capability] = ALL) -> None:
        rng = np.random.default_rng(0)
        self.W = rng.normal(size=(3, 4))
        self.breaks = breaks
        self.capabilities = caps
        self.n_classes = 3
        self.input_shape = (4,)
        self.queries = 0
        self.clip = (0.0, 1.0)

    def _z(self, x: Any) -> np.ndarray[Any, Any]:
        x = np.asarray(x, dtype=np.float32)
        if x.shape[1:] != (4,) and self.breaks != "no_shape_check":
            raise InputShapeError("bad shape")
        self.queries += 0 if self.breaks == "no_count" else len(x)
        z = x.astype(np.float64) @ self.W.T
        if self.breaks == "noisy":
            z = z + np.random.default_rng().normal(size=z.shape)
        if self.breaks == "batch_norm" and len(x) > 1:
            z = z - z.mean(axis=0)
        return z

    def _need(self, cap: Capability) -> None:
        if cap not in self.capabilities:
            raise MissingCapability(cap.value)

    def logits(self, x: Any) -> np.ndarray[Any, Any]:
        self._need(Capability.LOGITS)
        return self._z(x).astype(np.float32)

    def predict_proba(self, x: Any) -> np.ndarray[Any, Any]:
        if Capability.PREDICT_PROBA not in self.capabilities and self.breaks != "hidden_proba":
            raise MissingCapability("no")
        z = self._z(x)
        p = np.exp(z - z.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        return (p * (1.5 if self.breaks == "unnormalised" else 1.0)).astype(np.float32)

    def predict(self, x: Any) -> np.ndarray[Any, Any]:
        z = self._z(x)
        labels = z.argmin(axis=1) if self.breaks == "argmin" else z.argmax(axis=1)
        return labels.astype(np.int32 if self.breaks == "int32" else np.int64)

    def loss_gradient(self, x: Any, y: Any) -> np.ndarray[Any, Any]:
        self._need(Capability.LOSS_GRADIENT)
        z = self._z(x)
        p = np.exp(z - z.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        p[np.arange(len(y)), y] -= 1.0
        g = p @ self.W
        return (-g if self.breaks == "wrong_sign" else g).astype(np.float32)


X = np.random.default_rng(1).uniform(size=(6, 4)).astype(np.float32)


def test_a_correct_adapter_passes_every_check() -> None:
    adapter = Linear()
    check_adapter(adapter, X)
    names = [n for n, _ in adapter_checks(adapter, X)]
    assert {"gradient_numeric", "logits_output", "predict_matches_proba"} <= set(names)


@pytest.mark.parametrize(
    ("breaks", "check"),
    [
        ("int32", "predict_output"),
        ("unnormalised", "proba_output"),
        ("no_count", "counts_queries"),
        ("noisy", "deterministic"),
        ("batch_norm", "batch_invariant"),
        ("wrong_sign", "gradient_numeric"),
        ("argmin", "predict_matches_proba"),
        ("no_shape_check", "rejects_bad_shape"),
    ],
)
def test_each_fault_fails_the_check_named_for_it(breaks: str, check: str) -> None:
    adapter = Linear(breaks)
    checks = dict(adapter_checks(adapter, X))
    with pytest.raises(AdapterCheckFailed) as err:
        checks[check]()
    assert err.value.check == check and f"[{check}]" in str(err.value)


@pytest.mark.parametrize("breaks", ["int32", "noisy", "wrong_sign", "no_count"])
def test_check_adapter_stops_at_a_fault(breaks: str) -> None:
    with pytest.raises(AdapterCheckFailed):
        check_adapter(Linear(breaks), X)


def test_undeclared_but_working_capability_is_a_lie() -> None:
    adapter = Linear("hidden_proba", caps=frozenset({Capability.PREDICT}))
    with pytest.raises(AdapterCheckFailed, match="capabilities_truthful"):
        check_adapter(adapter, X)


def test_declared_but_missing_capability_is_a_lie() -> None:
    adapter = Linear(caps=ALL)
    adapter.predict_proba = None  # type: ignore[assignment,method-assign]
    checks = dict(adapter_checks(adapter, X))
    with pytest.raises(AdapterCheckFailed, match="capabilities_truthful"):
        checks["capabilities_truthful"]()
    with pytest.raises(AdapterCheckFailed, match="no ProbabilisticClassifier"):
        checks["declares_capabilities"]()


def test_predict_only_adapter_that_refuses_proba_passes() -> None:
    check_adapter(Linear(caps=frozenset({Capability.PREDICT})), X)


def test_min_agreement_tolerates_separately_calibrated_probabilities() -> None:
    adapter = Linear("argmin")
    checks = dict(adapter_checks(adapter, X, min_agreement=0.0))
    checks["predict_matches_proba"]()


def test_a_crash_is_reported_as_the_failing_check() -> None:
    adapter = Linear()
    adapter.logits = lambda x: 1 / 0  # type: ignore[method-assign]
    checks = dict(adapter_checks(adapter, X))
    with pytest.raises(AdapterCheckFailed, match=r"\[logits_output\] raised ZeroDivisionError"):
        checks["logits_output"]()


def test_the_suite_needs_two_samples() -> None:
    with pytest.raises(AdapterCheckFailed, match="setup"):
        adapter_checks(Linear(), X[:1])
