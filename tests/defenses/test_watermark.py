"""Answer watermark: marks ~2% of answers deterministically, and the ownership test tells a
stolen surrogate from an innocent model."""

from __future__ import annotations

import json
import warnings
from functools import lru_cache
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pytest
from click.testing import CliRunner

from mlwarden.attacks import extraction_queries as eq
from mlwarden.attacks.extraction import attack_box
from mlwarden.cli.main import cli
from mlwarden.defenses.watermark import AnswerWatermark, WatermarkedClassifier, verify_watermark
from mlwarden.errors import UsageError
from mlwarden.models import SklearnClassifier
from tests.attacks._privacy_models import digits, digits_mlp

KEY = b"0123456789abcdef-watermark-key"


def _fit(x: np.ndarray, y: np.ndarray) -> Any:
    from sklearn.neural_network import MLPClassifier

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return MLPClassifier((256,), alpha=1e-6, max_iter=300, random_state=0).fit(x, y)


@lru_cache(maxsize=1)
def _setup() -> tuple[np.ndarray, np.ndarray, Any, Any]:
    """Queries, the victim's true answers, a stolen surrogate and an innocent model."""
    x, y = digits()
    victim = SklearnClassifier(digits_mlp(), clip=(0.0, 1.0))
    served = WatermarkedClassifier(victim, AnswerWatermark(KEY))
    queries = eq.natural_queries(attack_box(victim, x[600:1100]), 3000, np.random.default_rng(0))
    stolen = _fit(queries, served.predict(queries.astype(np.float32)))
    from sklearn.linear_model import LogisticRegression

    innocent = LogisticRegression(max_iter=300).fit(x[1100:], y[1100:])  # never saw the answers
    return queries.astype(np.float32), victim.predict(queries.astype(np.float32)), stolen, innocent


def test_marks_are_keyed_rare_and_never_the_true_label() -> None:
    x = np.random.default_rng(0).uniform(0, 1, (5000, 8))
    wm = AnswerWatermark(KEY)
    marked = wm.marked(x)
    assert 0.01 < marked.mean() < 0.03
    through_json = np.array(json.loads(json.dumps(x.astype(np.float32).tolist())))
    assert np.array_equal(marked, wm.marked(through_json))  # what a gateway client sends
    assert not np.array_equal(marked, AnswerWatermark(b"another-secret-key-123").marked(x))
    labels = np.random.default_rng(1).integers(0, 10, 5000)
    assert not (wm.watermark_labels(x, labels, 10) == labels).any()
    proba = np.eye(10)[labels] * 0.9 + 0.01
    swapped = wm.apply_proba(x, proba)
    assert (np.argmax(swapped, axis=1) != labels).sum() == marked.sum()
    with pytest.raises(UsageError):
        AnswerWatermark(b"short")


def test_ownership_separates_stolen_from_innocent() -> None:
    queries, original, stolen, innocent = _setup()
    guilty = verify_watermark(SklearnClassifier(stolen), KEY, queries, original)
    clean = verify_watermark(SklearnClassifier(innocent), KEY, queries, original)
    assert guilty.owned and guilty.p_value < 1e-3
    assert guilty.agreements > guilty.marked * 0.1
    assert not clean.owned and clean.p_value > 0.05
    assert not verify_watermark(
        SklearnClassifier(stolen), b"the-wrong-key-0123456", queries, original
    ).owned


def test_cli_verify_exit_codes(tmp_path: Path) -> None:
    queries, original, stolen, innocent = _setup()
    np.savez(tmp_path / "queries.npz", X=queries, y=original)
    joblib.dump(stolen, tmp_path / "stolen.joblib")
    joblib.dump(innocent, tmp_path / "innocent.joblib")
    runner = CliRunner()
    assert runner.invoke(cli, ["watermark", "keygen", str(tmp_path / "k")]).exit_code == 0
    (tmp_path / "key").write_bytes(KEY)
    base = [
        "watermark",
        "verify",
        "--key-file",
        str(tmp_path / "key"),
        "--data",
        str(tmp_path / "queries.npz"),
    ]
    guilty = runner.invoke(cli, [*base, str(tmp_path / "stolen.joblib")])
    assert guilty.exit_code == 0, guilty.output
    assert "watermark PRESENT" in guilty.output
    clean = runner.invoke(cli, [*base, str(tmp_path / "innocent.joblib"), "--format", "json"])
    assert clean.exit_code == 1 and '"owned": false' in clean.output
    missing = runner.invoke(
        cli, [*base[:3], str(tmp_path / "nope"), *base[4:], str(tmp_path / "stolen.joblib")]
    )
    assert missing.exit_code == 2
