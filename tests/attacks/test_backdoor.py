"""The backdoor probe (ML07): Neural Cleanse flags the backdoored model and not clean ones,
the trigger runner measures known triggers, the probe reports through the audit, and the
base-model source policy reuses the integrity lockfile."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from mlwarden.attacks.backdoor import (
    BackdoorProbe,
    BackdoorSettings,
    Trigger,
    evaluate_for_backdoors,
)
from mlwarden.attacks.base_model import check_base_model, is_pinned
from mlwarden.attacks.neural_cleanse import (
    CleanseOptions,
    CleanseRun,
    anomaly_index,
    decide,
    neural_cleanse,
)
from mlwarden.attacks.registry import AuditData, get_probe, no_progress
from tests.data import _backdoor as bd

pytestmark = pytest.mark.torch
FAST = CleanseOptions(steps=120, samples=128, batch=16)


def test_anomaly_index_is_robust_and_decide_needs_agreeing_runs() -> None:
    norms = np.array([10.0, 11, 9, 10.5, 3.0, 9.5, 10, 11.5, 10, 9])
    index = anomaly_index(norms)
    assert int(np.argmax(index)) == 4 and index[4] > 4
    bunched = np.array([10.0, 10, 10, 10, 10, 10, 10, 10, 10, 8.5])
    assert anomaly_index(bunched).max() < 2  # the MAD floor keeps a tie-break from exploding
    empty = np.zeros((10, 2, 2), dtype=np.float32)

    def run(seed: int, values: np.ndarray) -> CleanseRun:  # type: ignore[type-arg]
        return CleanseRun(seed, values, np.ones(10), empty, empty[:, None].repeat(1, 1))

    agree = (run(0, norms), run(1, norms), run(2, norms))
    assert decide(agree, 2.0).suspected == 4
    seven, one = norms.copy(), norms.copy()
    seven[[4, 7]] = [10.0, 3.0]
    one[[4, 1]] = [10.0, 3.0]
    # Each run blames another class: noise, not a backdoor.
    assert decide((run(0, norms), run(1, seven), run(2, one)), 2.0).suspected is None


def test_neural_cleanse_flags_the_backdoored_model() -> None:
    model = bd.backdoored()
    assert bd.attack_success(model) > 0.9
    result = neural_cleanse(model, bd.digits().x_test, options=FAST)
    assert result.suspected == bd.TARGET
    assert result.anomaly[bd.TARGET] >= 2.0
    evidence = result.to_dict()
    assert evidence["trigger"]["label"] == bd.TARGET
    assert np.asarray(evidence["trigger"]["mask"]).shape == (8, 8)
    assert len(evidence["runs"]) == 3
    mask, _ = result.trigger(bd.TARGET)
    assert mask[-2:, -2:].mean() > mask.mean()  # the reversed trigger sits on the real one


@pytest.mark.parametrize("seed", [1, 2])
def test_neural_cleanse_is_quiet_on_clean_models(seed: int) -> None:
    result = neural_cleanse(bd.clean(seed), bd.digits().x_test, options=FAST)
    assert result.suspected is None
    assert result.anomaly.max() < 2.0 or result.norms.min() > 0.6 * np.median(result.norms)


def test_trigger_runner_measures_known_triggers() -> None:
    d = bd.digits()
    trigger = Trigger.patch((1, 8, 8), 2, 1.0, "bottom-right", target=bd.TARGET)
    hit = evaluate_for_backdoors(bd.backdoored(), [trigger], d.x_test, d.y_test)[0]
    miss = evaluate_for_backdoors(bd.clean(1), [trigger], d.x_test, d.y_test)[0]
    assert hit["success"] > 0.9 and miss["success"] < 0.2
    stamped = Trigger("given", apply=bd.triggered, target=bd.TARGET)
    assert evaluate_for_backdoors(bd.backdoored(), [stamped], d.x_test)[0]["success"] > 0.9
    untargeted = Trigger.patch((1, 8, 8), 2, 1.0, "bottom-right")
    assert evaluate_for_backdoors(bd.backdoored(), [untargeted], d.x_test)[0]["target"] == bd.TARGET


def test_backdoor_probe_reports_through_the_registry() -> None:
    probe = get_probe("backdoor")
    assert isinstance(probe, BackdoorProbe)
    d = bd.digits()
    data = AuditData(d.x_test, d.y_test, "digits", (1, 8, 8), "bd.pt", (0.0, 1.0))
    config = SimpleNamespace(backdoor=BackdoorSettings(steps=120, samples=128))
    result = probe.run(bd.backdoored(), data, config, no_progress)  # type: ignore[arg-type]
    rules = sorted(f.rule_id for f in result.findings)
    assert rules == ["AUD-BD-001", "AUD-BD-002"]
    assert result.metrics["backdoor.suspected_class"] == bd.TARGET
    assert result.evidence["strip"]["detection_rate"] > 0.8
    assert result.evidence["strip"]["clean_rejection_rate"] < 0.1


def _lock(tmp_path: Path, model: Path, **fields: str) -> Path:
    from mlwarden.integrity.hashing import HashOptions, hash_model
    from mlwarden.integrity.lockfile import Lockfile, entry_for

    options = HashOptions(workers=1)
    entry = entry_for("base", hash_model(model, options), options, **fields)  # type: ignore[arg-type]
    path = tmp_path / "mlwarden.lock"
    Lockfile().with_entry(entry).write(path)
    return path


def test_base_model_source_policy(tmp_path: Path) -> None:
    model = tmp_path / "base"
    model.mkdir()
    (model / "weights.bin").write_bytes(b"\x00" * 64)
    commit = "0123456789abcdef0123456789abcdef01234567"
    assert is_pinned(commit) and not is_pinned("main") and not is_pinned(None)
    lock = _lock(tmp_path, model, source="hf://org/base", revision=commit)
    assert check_base_model(model, lock) == []
    lock = _lock(tmp_path, model, source="hf://org/base", revision="main")
    assert [f.rule_id for f in check_base_model(model, lock)] == ["AUD-BD-003"]
    lock = _lock(tmp_path, model)
    assert [f.rule_id for f in check_base_model(model, lock)] == ["AUD-BD-003", "AUD-BD-003"]
    (model / "weights.bin").write_bytes(b"\x01" * 64)
    assert [f.rule_id for f in check_base_model(model, lock)] == ["INT-LCK-001"]
    assert [f.rule_id for f in check_base_model(model, tmp_path / "none.lock")] == ["INT-LCK-002"]
