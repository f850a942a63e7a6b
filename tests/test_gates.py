"""Training-time gates: the gap gate watches utility too, the membership gate is seeded and
fails leaky models, both work from the CLI with CI exit codes."""

from __future__ import annotations

from pathlib import Path

import joblib
import numpy as np
import pytest
from click.testing import CliRunner

from mlwarden.cli.main import cli
from mlwarden.errors import UsageError
from mlwarden.gates import GateFailed, check_generalization, check_membership
from tests.attacks._privacy_models import noisy_data, overfit_mlp, regularised_model


def test_generalization_gate_fails_the_overfit_model() -> None:
    train, test, _ = noisy_data()
    with pytest.raises(GateFailed, match="gap"):
        check_generalization(overfit_mlp(), train, test, max_gap=0.1, min_accuracy=0.6)
    ok = check_generalization(regularised_model(), train, test, max_gap=0.1, min_accuracy=0.6)
    assert ok.passed and ok.metrics["gap"] < 0.1


def test_gap_alone_is_not_enough() -> None:
    from sklearn.dummy import DummyClassifier

    train, test, _ = noisy_data()
    useless = DummyClassifier(strategy="most_frequent").fit(*train)  # no gap, no utility
    with pytest.raises(UsageError, match="utility"):
        check_generalization(useless, train, test, max_gap=0.1)
    result = check_generalization(
        useless, train, test, max_gap=0.1, baseline_accuracy=0.75, raise_on_failure=False
    )
    assert not result.passed and result.metrics["gap"] < 0.1
    assert "fell more than" in result.reasons[0]


def test_membership_gate_is_deterministic_and_fails_leaky_models() -> None:
    train, test, _ = noisy_data()
    first = check_membership(overfit_mlp(), train, test, seed=1, raise_on_failure=False)
    second = check_membership(overfit_mlp(), train, test, seed=1, raise_on_failure=False)
    assert first == second and not first.passed
    assert check_membership(
        regularised_model(), train, test, max_auc=0.65, max_tpr_at_1pct_fpr=0.1
    ).passed
    with pytest.raises(GateFailed, match="membership gate FAILED"):
        check_membership(overfit_mlp(), train, test)


def test_gate_cli_exit_codes(tmp_path: Path) -> None:
    train, test, _ = noisy_data()
    for name, (x, y) in (("train", train), ("test", test)):
        np.savez(tmp_path / f"{name}.npz", X=x, y=y)
    joblib.dump(overfit_mlp(), tmp_path / "overfit.joblib")
    joblib.dump(regularised_model(), tmp_path / "tight.joblib")
    runner = CliRunner()
    data = ["--train", str(tmp_path / "train.npz"), "--test", str(tmp_path / "test.npz")]
    gen = ["gate", "generalization", *data, "--min-accuracy", "0.6"]
    failed = runner.invoke(cli, [*gen, str(tmp_path / "overfit.joblib")])
    assert failed.exit_code == 1 and "FAILED" in failed.output
    assert runner.invoke(cli, [*gen, str(tmp_path / "tight.joblib")]).exit_code == 0
    mia = runner.invoke(cli, ["gate", "membership", *data, str(tmp_path / "overfit.joblib")])
    assert mia.exit_code == 1 and "membership gate FAILED" in mia.output
    assert (
        runner.invoke(
            cli, ["gate", "generalization", *data, str(tmp_path / "tight.joblib")]
        ).exit_code
        == 2
    )
