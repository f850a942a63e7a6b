"""Black-box attacks: batched across samples, within budget, real evasions, robust models hold."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from mlwarden.attacks.hopskipjump import HopSkipJumpParams, hopskipjump
from mlwarden.attacks.square import SquareParams, grid_of, square_attack, window_fraction
from mlwarden.attacks.threat import ThreatModel, distances
from mlwarden.errors import UsageError
from mlwarden.models.base import MissingCapability
from tests.attacks import _models as M

BOX = ThreatModel("l2", 1.0, 0.0, 1.0)


def _inputs(n: int = 40) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    d = M.digits()
    return d.x_test[:n], d.y_test[:n]


def test_hopskipjump_batches_queries_and_finds_real_evasions() -> None:
    x, y = _inputs()
    box = M.CountingCallable(M.logreg())
    res = hopskipjump(box.model, x, y, BOX, HopSkipJumpParams(budget=400, seed=1))
    assert res.success.mean() > 0.95
    assert np.all(res.queries <= 400)  # type: ignore[operator]
    labels = M.logreg().predict(res.x_adv.reshape(len(x), -1))
    assert np.all(labels[res.success] != y[res.success])
    dist = distances(x, res.x_adv, "l2")
    assert np.allclose(dist[res.success], res.distance[res.success], atol=1e-4)
    assert np.median(res.distance[res.success]) < 1.5
    assert res.x_adv.min() >= 0.0 and res.x_adv.max() <= 1.0
    # batched: the model saw whole batches, far fewer calls than one per sample and query
    assert box.calls < 400
    # every real query is counted (the start point is charged even when taken from the data)
    assert box.model.queries <= int(res.queries.sum()) <= box.model.queries + len(x)  # type: ignore[union-attr]


def test_hopskipjump_budget_is_spent_well() -> None:
    x, y = _inputs(30)
    box = M.CountingCallable(M.logreg())
    small = hopskipjump(box.model, x, y, BOX, HopSkipJumpParams(budget=60, seed=0))
    large = hopskipjump(box.model, x, y, BOX, HopSkipJumpParams(budget=600, seed=0))
    both = small.success & large.success
    assert np.median(large.distance[both]) < np.median(small.distance[both])
    assert np.all(small.queries <= 60)  # type: ignore[operator]
    with pytest.raises(UsageError):
        hopskipjump(box.model, x, y, BOX, HopSkipJumpParams(budget=1))


def test_hopskipjump_cannot_move_a_trivially_robust_model_cheaply() -> None:
    xs, ys = M.easy_pairs()
    res = hopskipjump(M.trivially_robust(), xs, ys, BOX, HopSkipJumpParams(budget=300))
    # the nearest other-class point is 0.3 * sqrt(64) = 2.4 away in L2
    assert np.all(res.distance >= 2.0)
    assert not res.success_within(1.0).any()


@pytest.mark.parametrize(("norm", "eps"), [("linf", 0.2), ("l2", 1.5)])
def test_square_attack_within_budget_and_ball(norm: str, eps: float) -> None:
    x, y = _inputs()
    box = M.CountingCallable(M.logreg(), proba=True)
    threat = ThreatModel(norm, eps, 0.0, 1.0)  # type: ignore[arg-type]
    res = square_attack(box.model, x, y, threat, SquareParams(budget=300, seed=0))
    assert res.success.mean() > 0.5
    assert np.all(distances(x, res.x_adv, norm) <= eps + 1e-4)  # type: ignore[arg-type]
    assert np.all(res.queries <= 300)  # type: ignore[operator]
    labels = M.logreg().predict(res.x_adv.reshape(len(x), -1))
    assert np.all(labels[res.success] != y[res.success])
    assert np.all(res.x_adv[~res.success] == x[~res.success])
    assert box.calls < 300 * 2


def test_square_attack_needs_scores_and_holds_on_a_robust_model() -> None:
    x, y = _inputs(5)
    with pytest.raises(MissingCapability):
        square_attack(M.CountingCallable(M.logreg()).model, x, y, BOX)
    xs, ys = M.easy_pairs()
    res = square_attack(
        M.trivially_robust(), xs, ys, ThreatModel("linf", 0.1, 0.0, 1.0), SquareParams(budget=200)
    )
    assert not res.success.any()


def test_square_confirms_with_labels_when_scores_disagree() -> None:
    """Scores say "class 1", labels say "class 0": a negative margin is not an evasion."""
    from mlwarden.models.callable_adapter import CallableClassifier

    def proba(x: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        return np.tile([0.2, 0.8], (len(x), 1))

    liar = CallableClassifier(
        lambda x: np.zeros(len(x), dtype=np.int64), fn_proba=proba, n_classes=2, input_shape=(4,)
    )
    x = np.full((6, 4), 0.5, dtype=np.float32)
    res = square_attack(
        liar, x, np.zeros(6, dtype=np.int64), ThreatModel("linf", 0.1), SquareParams(budget=20)
    )
    assert not res.success.any()


def test_refusals_are_not_evasions() -> None:
    """A defended model answering -1 (refused) has not been evaded."""
    from mlwarden.models.callable_adapter import CallableClassifier

    refusing = CallableClassifier(
        lambda x: np.where(x[:, 0] > 0.5, -1, 0), n_classes=2, input_shape=(3,)
    )
    x = np.zeros((5, 3), dtype=np.float32)
    res = hopskipjump(refusing, x, np.zeros(5, dtype=np.int64), BOX, HopSkipJumpParams(budget=50))
    assert not res.success.any()


def test_square_helpers() -> None:
    assert grid_of((64,), None) == (1, 1, 64)
    assert grid_of((64,), (8, 8)) == (1, 8, 8)
    assert grid_of((3, 4, 4), None) == (3, 4, 4)
    with pytest.raises(UsageError):
        grid_of((64,), (7, 7))
    assert window_fraction(0.4, 0, 1000) == 0.4
    assert window_fraction(0.4, 999, 1000) < 0.4 / 100


def test_blackbox_attacks_a_live_http_endpoint() -> None:
    server = pytest.importorskip("tests.models._server")
    pytest.importorskip("httpx")
    from mlwarden.models.http_adapter import HttpClassifier

    x, y = _inputs(8)
    flat = x.reshape(len(x), -1)
    with server.serve(M.logreg(), 64) as (url, state):
        remote = HttpClassifier(
            f"{url}/v2/models/digits", api_key=server.API_KEY, batch_size=512, max_queries=20_000
        )
        res = hopskipjump(remote, flat, y, BOX, HopSkipJumpParams(budget=150, init_eval=30))
        sq = square_attack(
            remote, flat, y, ThreatModel("linf", 0.2, 0.0, 1.0), SquareParams(budget=60)
        )
        assert state.infer_requests < 400  # batched: one request carries many samples
    assert res.success.mean() > 0.8
    assert sq.success.any()
    assert np.all(M.logreg().predict(res.x_adv[res.success]) != y[res.success])
