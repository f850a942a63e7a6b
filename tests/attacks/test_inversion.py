"""Model inversion: attribute inference recovers a memorised column (and not from a smooth
model), class reconstruction finds recognisable digits (and not from a model that learned
nothing), the probe reports both."""

from __future__ import annotations

import warnings
from functools import lru_cache
from typing import Any

import numpy as np

from mlwarden.attacks.inversion import attribute_inference, reconstruct_classes
from mlwarden.attacks.privacy_api import audit_privacy, privacy_config
from mlwarden.attacks.privacy_settings import InversionSettings
from mlwarden.defenses.output_policy import OutputPolicy, PolicyClassifier
from mlwarden.models import SklearnClassifier
from tests.attacks._privacy_models import digits, digits_mlp


@lru_cache(maxsize=1)
def sensitive_data() -> tuple[Any, Any, Any, Any]:
    """Column 6 is a binary secret (scaled x3) unrelated to the noisy label."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(900, 7)).astype(np.float32)
    x[:, 6] = 3.0 * rng.integers(0, 2, 900)
    y = (x[:, 0] + x[:, 1] + rng.normal(0, 1.5, 900) > 0).astype(np.int64)
    return x[:400], y[:400], x[400:], y[400:]


@lru_cache(maxsize=1)
def models() -> tuple[SklearnClassifier, SklearnClassifier]:
    from sklearn.linear_model import LogisticRegression
    from sklearn.neighbors import KNeighborsClassifier

    xt, yt, _, _ = sensitive_data()
    leaky = KNeighborsClassifier(n_neighbors=1).fit(xt, yt)  # memorises every record
    smooth = LogisticRegression(C=0.1).fit(xt, yt)
    return SklearnClassifier(leaky), SklearnClassifier(smooth)


def test_attribute_inference_needs_memorisation() -> None:
    xt, yt, xh, yh = sensitive_data()
    leaky, smooth = models()
    prior = (xh, yh)
    on_members = attribute_inference(leaky, (xt[:200], yt[:200]), prior, 6)
    on_others = attribute_inference(leaky, (xh[:200], yh[:200]), prior, 6)
    on_smooth = attribute_inference(smooth, (xt[:200], yt[:200]), prior, 6)
    assert on_members["values"] == 2
    assert on_members["advantage"] > 0.15
    assert on_others["advantage"] < on_members["advantage"] - 0.1
    assert on_smooth["advantage"] < 0.05
    labels_only = PolicyClassifier(leaky, OutputPolicy("label"))
    assert attribute_inference(labels_only, (xt[:200], yt[:200]), prior, 6)["advantage"] > 0.1


def test_class_reconstruction_needs_a_model_that_learned_classes() -> None:
    from sklearn.neural_network import MLPClassifier

    x, y = digits()
    real = SklearnClassifier(digits_mlp(), clip=(0.0, 1.0))
    rec = reconstruct_classes(real, (x[:600], y[:600]), mode="blackbox", steps=40, seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        shuffled = MLPClassifier((64,), max_iter=100, random_state=0).fit(
            x[:600], np.random.default_rng(0).permutation(y[:600])
        )
    noise = reconstruct_classes(
        SklearnClassifier(shuffled, clip=(0.0, 1.0)), (x[:600], y[:600]), mode="blackbox", steps=40
    )
    assert rec.identification_rate >= 0.6
    assert rec.identification_rate > noise.identification_rate
    assert rec.queries == 10 * 40 * 20 + 10


def test_whitebox_reconstruction_with_torch() -> None:
    import torch

    from mlwarden.models import TorchClassifier

    x, y = digits()
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 10))
    opt = torch.optim.Adam(net.parameters(), lr=0.05)
    xs, ys = torch.as_tensor(x[:600]), torch.as_tensor(y[:600])
    for _ in range(100):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(net(xs), ys).backward()
        opt.step()
    model = TorchClassifier(net, input_shape=(64,), n_classes=10)
    rec = reconstruct_classes(model, (x[:600], y[:600]), steps=60)
    assert rec.mode == "whitebox" and rec.identification_rate >= 0.6


def test_probe_reports_attribute_leak_and_reconstructions() -> None:
    xt, yt, xh, yh = sensitive_data()
    leaky, smooth = models()
    cfg = privacy_config(inversion=InversionSettings(sensitive=[6], max_records=200))
    leak = audit_privacy(leaky, (xt, yt), (xh, yh), None, ["inversion"], cfg)
    quiet = audit_privacy(smooth, (xt, yt), (xh, yh), None, ["inversion"], cfg)
    assert [f.rule_id for f in leak.findings] == ["AUD-INV-001"]
    assert not quiet.findings
    x, y = digits()
    cfg = privacy_config(inversion=InversionSettings(steps=30))
    images = audit_privacy(
        SklearnClassifier(digits_mlp(), clip=(0.0, 1.0)), (x[:600], y[:600]), (x[1300:], y[1300:]),
        None, ["inversion"], cfg, image_shape=(8, 8),
    )  # fmt: skip
    rec = images.evidence["inversion"]["reconstruction"]
    assert len(rec["classes"]) == 10 and np.asarray(rec["classes"][0]["image"]).shape == (8, 8)
    assert "AUD-INV-002" in {f.rule_id for f in images.findings}
