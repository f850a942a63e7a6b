"""PGD adversarial training: robust accuracy rises, clean accuracy holds."""

from __future__ import annotations

import pytest

from tests.attacks import _models as M

torch = pytest.importorskip("torch")

from mlwarden.attacks.pgd import pgd  # noqa: E402
from mlwarden.attacks.threat import ThreatModel  # noqa: E402
from mlwarden.defenses import EpochStats, adversarial_train  # noqa: E402
from mlwarden.errors import UsageError  # noqa: E402


def _accuracy(module: object, x: object, y: object) -> float:
    with torch.no_grad():
        return float((module(torch.tensor(x)).argmax(1).numpy() == y).mean())  # type: ignore[operator]


def test_adversarial_training_lifts_robust_accuracy() -> None:
    d = M.digits()
    weak, hard = M.weak_cnn(), M.hardened_cnn()
    threat = ThreatModel("linf", 0.1, 0.0, 1.0)
    robust_weak = 1 - pgd(weak, d.x_test, d.y_test, threat, steps=40).success.mean()
    robust_hard = 1 - pgd(hard, d.x_test, d.y_test, threat, steps=40).success.mean()
    assert robust_hard > robust_weak + 0.12  # the issue measured 50% -> 84%
    assert _accuracy(hard, d.x_test, d.y_test) >= _accuracy(weak, d.x_test, d.y_test) - 0.02


def test_history_and_arguments() -> None:
    d = M.digits()
    seen: list[EpochStats] = []
    module = M.make_cnn()
    history = adversarial_train(
        module, d.x_train[:128], d.y_train[:128], eps=0.1, epochs=2, steps=2, on_epoch=seen.append
    )
    assert [e.epoch for e in history.epochs] == [1, 2] and seen == list(history.epochs)
    assert all(0.0 <= e.adversarial_accuracy <= e.clean_accuracy + 0.2 for e in seen)
    assert not module.training
    with pytest.raises(UsageError):
        adversarial_train(module, d.x_train[:8], d.y_train[:8], eps=0.1, clean_weight=2.0)
