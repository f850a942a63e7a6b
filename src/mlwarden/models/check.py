"""The adapter conformance suite: named checks that every model adapter must pass.

Like scikit-learn's ``parametrize_with_checks``: :func:`adapter_checks` lists ``(name,
check)`` pairs for a test to parametrize over, :func:`check_adapter` runs them all. Each
check raises :class:`AdapterCheckFailed` naming itself. The checks query the model, so a
remote adapter spends a few dozen samples of its budget.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np
from numpy.typing import NDArray

from mlwarden.models._arrays import as_batch, softmax
from mlwarden.models.base import (
    UNCERTAIN,
    Capability,
    DifferentiableClassifier,
    MissingCapability,
    ProbabilisticClassifier,
)
from mlwarden.models.errors import AdapterCheckFailed, InputShapeError

Check = Callable[[], None]
_METHODS = {
    Capability.PREDICT_PROBA: "predict_proba",
    Capability.LOGITS: "logits",
    Capability.LOSS_GRADIENT: "loss_gradient",
}


def adapter_checks(
    adapter: Any, x: NDArray[Any], *, min_agreement: float = 1.0
) -> list[tuple[str, Check]]:
    """The conformance checks for ``adapter`` on sample inputs ``x`` (a few rows suffice).

    Args:
        adapter: the model adapter under test.
        x: ``(n, *input_shape)`` inputs, ``n >= 2``.
        min_agreement: the share of samples where ``predict`` must equal the argmax of
            ``predict_proba`` (1.0; lower it for models whose probabilities are calibrated
            separately from their decision, like Platt-scaled SVMs).
    """
    x = as_batch(x, tuple(adapter.input_shape))[:8]
    if len(x) < 2:
        raise AdapterCheckFailed("setup", "the conformance suite needs at least 2 samples")
    caps = adapter.capabilities
    names: list[tuple[str, Callable[..., None]]] = [
        ("declares_capabilities", _declares_capabilities),
        ("capabilities_truthful", _capabilities_truthful),
        ("metadata", _metadata),
        ("predict_output", _predict_output),
        ("rejects_bad_shape", _rejects_bad_shape),
        ("deterministic", _deterministic),
        ("batch_invariant", _batch_invariant),
        ("counts_queries", _counts_queries),
    ]
    if Capability.PREDICT_PROBA in caps:
        names += [("proba_output", _proba_output)]
        names += [("predict_matches_proba", partial(_predict_matches, min_agreement))]
    if Capability.LOGITS in caps:
        names += [("logits_output", _logits_output)]
    if Capability.LOSS_GRADIENT in caps:
        names += [("gradient_output", _gradient_output), ("gradient_numeric", _gradient_numeric)]
    return [(name, _named(name, partial(fn, adapter, x))) for name, fn in names]


def _named(name: str, check: Check) -> Check:
    """``check``, with any crash reported as a failure of the check called ``name``."""

    def run() -> None:
        try:
            check()
        except AdapterCheckFailed:
            raise
        except Exception as exc:  # a crashing adapter fails the check, it does not abort it
            raise AdapterCheckFailed(name, f"raised {type(exc).__name__}: {exc}") from exc

    return run


def check_adapter(adapter: Any, x_sample: NDArray[Any], *, min_agreement: float = 1.0) -> None:
    """Run every conformance check on ``adapter``; raise the first :class:`AdapterCheckFailed`."""
    for _name, check in adapter_checks(adapter, x_sample, min_agreement=min_agreement):
        check()


def _fail(check: str, message: str) -> AdapterCheckFailed:
    return AdapterCheckFailed(check, message)


def _declares_capabilities(adapter: Any, x: NDArray[np.float32]) -> None:
    caps = adapter.capabilities
    if not isinstance(caps, frozenset) or not all(isinstance(c, Capability) for c in caps):
        raise _fail(
            "declares_capabilities", f"capabilities is not a frozenset[Capability]: {caps!r}"
        )
    if Capability.PREDICT not in caps:
        raise _fail("declares_capabilities", "every classifier must declare PREDICT")
    if Capability.PREDICT_PROBA in caps and not isinstance(adapter, ProbabilisticClassifier):
        raise _fail(
            "declares_capabilities", "declares PREDICT_PROBA but is no ProbabilisticClassifier"
        )
    white_box = {Capability.LOGITS, Capability.LOSS_GRADIENT}
    if white_box <= caps and not isinstance(adapter, DifferentiableClassifier):
        raise _fail(
            "declares_capabilities", "declares gradients but is no DifferentiableClassifier"
        )


def _capabilities_truthful(adapter: Any, x: NDArray[np.float32]) -> None:
    """Declared capabilities work; undeclared ones are absent or raise MissingCapability."""
    caps = adapter.capabilities
    y = np.zeros(len(x), dtype=np.int64)
    for cap, method in _METHODS.items():
        fn = getattr(adapter, method, None)
        args = (x, y) if cap is Capability.LOSS_GRADIENT else (x,)
        if cap in caps:
            if fn is None:
                raise _fail("capabilities_truthful", f"declares {cap.value} but has no {method}()")
            fn(*args)
        elif fn is not None:
            try:
                fn(*args)
            except MissingCapability:
                continue
            raise _fail(
                "capabilities_truthful", f"{method}() works but {cap.value} is not declared"
            )


def _metadata(adapter: Any, x: NDArray[np.float32]) -> None:
    k, shape, q = adapter.n_classes, adapter.input_shape, adapter.queries
    if not isinstance(k, int) or k < 2:
        raise _fail("metadata", f"n_classes must be an int >= 2, got {k!r}")
    if not isinstance(shape, tuple) or not all(isinstance(d, int) and d > 0 for d in shape):
        raise _fail("metadata", f"input_shape must be a tuple of positive ints, got {shape!r}")
    if not isinstance(q, int) or q < 0:
        raise _fail("metadata", f"queries must be an int >= 0, got {q!r}")
    clip = getattr(adapter, "clip", None)
    if clip is not None and not (len(clip) == 2 and float(clip[0]) < float(clip[1])):
        raise _fail("metadata", f"clip must be None or (low, high) with low < high, got {clip!r}")


def _predict_output(adapter: Any, x: NDArray[np.float32]) -> None:
    labels = adapter.predict(x)
    _expect_array("predict_output", labels, np.int64, (len(x),))
    valid = (labels == UNCERTAIN) | ((labels >= 0) & (labels < adapter.n_classes))
    if not valid.all():
        raise _fail("predict_output", f"labels outside 0..{adapter.n_classes - 1}: {labels}")


def _rejects_bad_shape(adapter: Any, x: NDArray[np.float32]) -> None:
    wrong = np.zeros((len(x), int(np.prod(adapter.input_shape)) + 1), dtype=np.float32)
    try:
        adapter.predict(wrong)
    except InputShapeError:
        return
    raise _fail("rejects_bad_shape", f"predict accepted inputs of shape {wrong.shape}")


def _proba_output(adapter: Any, x: NDArray[np.float32]) -> None:
    p = adapter.predict_proba(x)
    _expect_array("proba_output", p, np.float32, (len(x), adapter.n_classes))
    if p.min() < 0 or p.max() > 1 or not np.allclose(p.sum(axis=1), 1.0, atol=1e-4):
        raise _fail("proba_output", "probabilities must lie in [0, 1] and sum to 1 per row")


def _predict_matches(min_agreement: float, adapter: Any, x: NDArray[np.float32]) -> None:
    labels, p = adapter.predict(x), adapter.predict_proba(x)
    known = labels != UNCERTAIN
    agreement = float(np.mean(labels[known] == p[known].argmax(axis=1))) if known.any() else 1.0
    if agreement < min_agreement:
        raise _fail(
            "predict_matches_proba",
            f"predict equals argmax(predict_proba) on {agreement:.0%} of samples "
            f"(need {min_agreement:.0%})",
        )


def _logits_output(adapter: Any, x: NDArray[np.float32]) -> None:
    z = adapter.logits(x)
    _expect_array("logits_output", z, np.float32, (len(x), adapter.n_classes))
    if not np.isfinite(z).all():
        raise _fail("logits_output", "logits are not finite")
    if not np.allclose(softmax(z), adapter.predict_proba(x), atol=1e-4):
        raise _fail("logits_output", "softmax(logits) differs from predict_proba")


def _gradient_output(adapter: Any, x: NDArray[np.float32]) -> None:
    y = adapter.predict(x).clip(0)
    g = adapter.loss_gradient(x, y)
    _expect_array("gradient_output", g, np.float32, x.shape)
    if not np.isfinite(g).all() or not np.any(g):
        raise _fail("gradient_output", "gradients are not finite, or all zero")


def _gradient_numeric(adapter: Any, x: NDArray[np.float32], eps: float = 1e-3) -> None:
    """Central differences of the cross-entropy agree with loss_gradient on top coordinates."""
    xs = x[:2]
    y = adapter.predict(xs).clip(0)
    g = adapter.loss_gradient(xs, y).reshape(len(xs), -1)
    flat = xs.reshape(len(xs), -1).astype(np.float64)
    agree = total = 0
    for i in range(len(xs)):
        for j in np.argsort(-np.abs(g[i]))[:3]:
            step = np.zeros_like(flat[i])
            step[j] = eps
            up = _loss(adapter, (flat[i] + step).reshape(xs.shape[1:]), int(y[i]))
            down = _loss(adapter, (flat[i] - step).reshape(xs.shape[1:]), int(y[i]))
            numeric = (up - down) / (2 * eps)
            total += 1
            agree += abs(numeric - g[i, j]) <= 0.05 * abs(g[i, j]) + 2e-3
    # NOTE: a ReLU kink within eps of a coordinate breaks one difference; 5 of 6 must agree.
    if agree < total - 1:
        raise _fail(
            "gradient_numeric", f"only {agree} of {total} coordinates match finite differences"
        )


def _loss(adapter: Any, sample: NDArray[np.float64], label: int) -> float:
    z = adapter.logits(sample[None].astype(np.float32))[0].astype(np.float64)
    return float(np.log(np.exp(z - z.max()).sum()) + z.max() - z[label])


def _deterministic(adapter: Any, x: NDArray[np.float32]) -> None:
    if not np.array_equal(adapter.predict(x), adapter.predict(x)):
        raise _fail("deterministic", "predict gave different labels for the same inputs")
    if Capability.PREDICT_PROBA not in adapter.capabilities:
        return
    if not np.allclose(adapter.predict_proba(x), adapter.predict_proba(x), atol=1e-6):
        raise _fail("deterministic", "predict_proba changed between identical calls")


def _batch_invariant(adapter: Any, x: NDArray[np.float32]) -> None:
    single = np.concatenate([adapter.predict(x[i : i + 1]) for i in range(len(x))])
    if not np.array_equal(adapter.predict(x), single):
        raise _fail("batch_invariant", "a batch's labels differ from one-sample calls")
    if Capability.PREDICT_PROBA in adapter.capabilities:
        single_p = np.concatenate([adapter.predict_proba(x[i : i + 1]) for i in range(len(x))])
        if not np.allclose(adapter.predict_proba(x), single_p, atol=1e-5):
            raise _fail("batch_invariant", "a batch's probabilities differ from one-sample calls")
    empty = adapter.predict(x[:0])
    if empty.shape != (0,):
        raise _fail("batch_invariant", f"an empty batch gave labels of shape {empty.shape}")


def _counts_queries(adapter: Any, x: NDArray[np.float32]) -> None:
    y = np.zeros(len(x), dtype=np.int64)
    for cap in (Capability.PREDICT, *_METHODS):
        if cap not in adapter.capabilities:
            continue
        method = getattr(adapter, "predict" if cap is Capability.PREDICT else _METHODS[cap])
        before = adapter.queries
        method(*((x, y) if cap is Capability.LOSS_GRADIENT else (x,)))
        if adapter.queries - before != len(x):
            raise _fail(
                "counts_queries",
                f"{cap.value} on {len(x)} samples counted {adapter.queries - before} queries",
            )


def _expect_array(check: str, a: Any, dtype: Any, shape: tuple[int, ...]) -> None:
    if not isinstance(a, np.ndarray) or a.dtype != dtype or a.shape != tuple(shape):
        got = f"{a.dtype} {a.shape}" if isinstance(a, np.ndarray) else type(a).__name__
        raise _fail(check, f"expected a {np.dtype(dtype)} array of shape {tuple(shape)}, got {got}")
