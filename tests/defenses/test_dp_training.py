"""DP-SGD recipe (opacus): the privacy budget is spent as asked, and the privacy/utility curve
measures accuracy and leakage per epsilon."""

from __future__ import annotations

import pytest

from mlwarden.errors import UsageError
from tests.attacks._privacy_models import digits

pytest.importorskip("opacus")


def test_dp_training_spends_the_budget_and_costs_accuracy() -> None:
    from mlwarden.attacks.privacy_curve import privacy_utility_curve
    from mlwarden.defenses.dp_training import train_dp_mlp

    x, y = digits()
    run = train_dp_mlp(x[:400], y[:400], epsilon=2.0, epochs=3, hidden=32, n_classes=10)
    assert run.epsilon is not None and 1.0 < run.epsilon <= 2.05
    assert run.model.predict(x[:5]).shape == (5,)
    curve = privacy_utility_curve(
        (x[:400], y[:400]), (x[1300:1500], y[1300:1500]), (None, 0.5), epochs=5, hidden=32
    )
    plain, private = curve
    assert plain.epsilon is None and private.epsilon == 0.5
    assert plain.test_accuracy > private.test_accuracy
    assert {"mia_auc", "mia_tpr_at_1pct_fpr", "seconds"} <= set(private.to_dict())
    with pytest.raises(UsageError):
        train_dp_mlp(x[:10], y[:10], epsilon=0.0)
