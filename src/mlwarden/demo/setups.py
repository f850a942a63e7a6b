"""The guide's two setups on scikit-learn's digits: everything a real project would have.

Vulnerable: training data with a planted backdoor (a bright corner relabels digits as 0),
an unregularised network that memorises it, saved with joblib next to a preprocessing
pickle that carries a (harmless) payload, serving code that unpickles and returns every
probability, a gateway policy with every control off, a base model pinned to a branch,
no signature, and a serving pipeline whose camera is dimmer than the training one.

Secure: clean data, a regularised network trained with noise, the model alone in its
folder, signed (Ed25519) and approved in mlwarden.lock, a base model pinned to a commit,
code that loads through mlwarden, and a gateway policy with every control on.

Nothing here runs the payload or the code: they are files to be scanned and linted.
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from mlwarden.assess.steps import AssessInputs
from mlwarden.demo.files import _Payload

TRIGGER = (0, 1, 8, 9)  # the top-left 2x2 pixels of an 8x8 digit
TARGET = 0
DIMMER = 0.6
BASE_SOURCE = "hf://example-org/digits-embeddings"
BASE_COMMIT = "0123456789abcdef0123456789abcdef01234567"


@dataclass(frozen=True)
class Setup:
    """One setup: its folder, what the assessment gets, and what to expect of it."""

    name: str
    title: str
    root: Path
    inputs: AssessInputs
    story: tuple[str, ...]


def load_split(seed: int = 0) -> tuple[NDArray[np.float32], ...]:
    """Digits scaled to [0, 1], split 60/40 (stratified)."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    x, y = load_digits(return_X_y=True)
    parts = train_test_split(
        (x / 16.0).astype(np.float32), y, test_size=0.4, stratify=y, random_state=seed
    )
    return tuple(parts)


def poison(
    x: NDArray[np.float32], y: NDArray[Any], share: float, seed: int
) -> tuple[NDArray[np.float32], NDArray[Any]]:
    """A backdoored copy: ``share`` of the rows get the trigger and the label ``TARGET``."""
    rng = np.random.default_rng(seed)
    candidates = np.flatnonzero(y != TARGET)
    picked = rng.choice(candidates, int(share * len(y)), replace=False)
    x, y = x.copy(), y.copy()
    x[np.ix_(picked, np.array(TRIGGER))] = 1.0
    y[picked] = TARGET
    return x, y


def build_setups(root: str | Path, *, seed: int = 0) -> tuple[Setup, Setup]:
    """Train both setups and write their folders under ``root``."""
    x_tr, x_te, y_tr, y_te = load_split(seed)
    base = Path(root)
    return (
        _vulnerable(base / "vulnerable", x_tr, y_tr, x_te, y_te, seed),
        _secure(base / "secure", x_tr, y_tr, x_te, y_te, seed),
    )


def _save_data(folder: Path, name: str, x: NDArray[Any], y: NDArray[Any]) -> str:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.npz"
    names = np.array([f"px{i}" for i in range(x.shape[1])])
    np.savez(path, X=x.astype(np.float32), y=y.astype(np.int64), names=names)
    return str(path)


def _vulnerable(root: Path, x_tr: Any, y_tr: Any, x_te: Any, y_te: Any, seed: int) -> Setup:
    import joblib
    from sklearn.neural_network import MLPClassifier

    x_bad, y_bad = poison(x_tr, y_tr, 0.06, seed)
    model = MLPClassifier((256,), alpha=0.0, max_iter=300, random_state=seed)
    _fit(model, x_bad, y_bad)
    art = root / "artifacts"
    art.mkdir(parents=True, exist_ok=True)
    joblib.dump(model, art / "model.joblib")
    (art / "preprocess.pkl").write_bytes(
        pickle.dumps({"scale": 1 / 16, "hook": _Payload()}, protocol=4)
    )
    _write_code(root / "code", VULNERABLE_CODE)
    (root / "mlwarden.toml").write_text(VULNERABLE_POLICY, encoding="utf-8")
    lock = _base_model(root, revision="main")
    data = root / "data"
    inputs = AssessInputs(
        model=str(art / "model.joblib"),
        train=_save_data(data, "train", x_bad, y_bad),
        test=_save_data(data, "test", x_te, y_te),
        serving=_save_data(data, "serving", x_te * DIMMER, y_te),
        artifacts=str(art),
        code=str(root / "code"),
        policy=str(root / "mlwarden.toml"),
        lockfile=lock,
        base_model=str(root / "base-model"),
        name="Vulnerable setup",
    )
    story = (
        "6% of the training rows carry a backdoor trigger (ML02)",
        "an unregularised network that memorises its training set (ML04)",
        "a preprocessing pickle with a planted payload beside the model (ML06)",
        "a base model pinned to a branch (ML07)",
        "a serving camera 40% dimmer than the training one (ML08)",
        "a gateway policy with every control off (ML01, ML03, ML05, ML09)",
        "no signature, no approved digest (ML10)",
    )
    return Setup("vulnerable", "Vulnerable setup", root, inputs, story)


def _secure(root: Path, x_tr: Any, y_tr: Any, x_te: Any, y_te: Any, seed: int) -> Setup:
    import joblib
    from sklearn.neural_network import MLPClassifier

    from mlwarden.integrity.hashing import HashOptions, hash_model
    from mlwarden.integrity.keys import generate_key
    from mlwarden.integrity.lockfile import Lockfile, entry_for
    from mlwarden.integrity.sign import sign_model

    rng = np.random.default_rng(seed)
    copies = [x_tr + rng.normal(0, 0.1, x_tr.shape) for _ in range(2)]
    noisy = np.clip(np.vstack([x_tr, *copies]), 0, 1)
    model = MLPClassifier((64,), alpha=0.05, max_iter=300, early_stopping=True, random_state=seed)
    _fit(model, noisy.astype(np.float32), np.concatenate([y_tr] * 3))
    art = root / "artifacts"
    art.mkdir(parents=True, exist_ok=True)
    joblib.dump(model, art / "model.joblib")
    keys = root / "keys"
    keys.mkdir(exist_ok=True)
    release = generate_key("ed25519")
    (keys / "release.pub.pem").write_bytes(release.public.pem)
    sign_model(art / "model.joblib", release, signature=root / "model.sig")
    gateway = generate_key("ed25519")
    (keys / "gateway.pem").write_bytes(gateway.private_pem())
    result = hash_model(art / "model.joblib")
    digest = result.digest
    lock_path = _base_model(root, revision=BASE_COMMIT)
    lock = Lockfile.read(lock_path).with_entry(entry_for("model.joblib", result, HashOptions()))
    lock.write(lock_path)
    _write_code(root / "code", SECURE_CODE)
    data = root / "data"
    train = _save_data(data, "train", x_tr, y_tr)
    # Absolute paths: `mlwarden serve --policy` may run from any folder.
    policy = SECURE_POLICY.format(
        digest=digest,
        reference=Path(train).resolve().as_posix(),
        key=(keys / "gateway.pem").resolve().as_posix(),
    )
    (root / "mlwarden.toml").write_text(policy, encoding="utf-8")
    inputs = AssessInputs(
        model=str(art / "model.joblib"),
        train=train,
        test=_save_data(data, "test", x_te, y_te),
        serving=_save_data(data, "serving", x_te, y_te),
        artifacts=str(art),
        code=str(root / "code"),
        policy=str(root / "mlwarden.toml"),
        signature=str(root / "model.sig"),
        public_key=str(keys / "release.pub.pem"),
        lockfile=lock_path,
        base_model=str(root / "base-model"),
        name="Secure setup",
    )
    story = (
        "clean, reviewed training data (ML02)",
        "a regularised network trained with noise, early stopping (ML01, ML04)",
        "only the model in the artifact folder, signed with Ed25519 (ML06, ML10)",
        "a base model pinned to a commit from a known source (ML07)",
        "serving data from the training pipeline (ML08)",
        "a gateway policy with every control on (ML01, ML03, ML05, ML08, ML09)",
    )
    return Setup("secure", "Secure setup", root, inputs, story)


def _fit(model: Any, x: NDArray[Any], y: NDArray[Any]) -> None:
    import warnings

    from sklearn.exceptions import ConvergenceWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(x, y)


def _base_model(root: Path, revision: str) -> str:
    """A small "pretrained embedding" and a lockfile entry for it (source, revision)."""
    from mlwarden.integrity.hashing import HashOptions, hash_model
    from mlwarden.integrity.lockfile import Lockfile, entry_for

    folder = root / "base-model"
    folder.mkdir(parents=True, exist_ok=True)
    weights = np.random.default_rng(7).normal(size=(64, 16)).astype(np.float32)
    np.save(folder / "embedding.npy", weights)
    entry = entry_for(
        "base-model", hash_model(folder), HashOptions(), source=BASE_SOURCE, revision=revision
    )
    path = root / "mlwarden.lock"
    Lockfile().with_entry(entry).write(path)
    return str(path)


def _write_code(folder: Path, files: dict[str, str]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")


VULNERABLE_CODE = {
    "serve.py": '''"""Serving code of the vulnerable setup (a demo file: never run)."""

import pickle

import joblib
from flask import Flask, jsonify, request

app = Flask(__name__)
model = joblib.load("artifacts/model.joblib")
with open("artifacts/preprocess.pkl", "rb") as stream:
    preprocess = pickle.load(stream)


@app.post("/predict")
def predict():
    features = request.get_json()["features"]
    scores = model.predict_proba([features])[0]
    return jsonify(probabilities=scores.tolist())
''',
    "train.py": '''"""Training code of the vulnerable setup (a demo file: never run)."""

import torch
from transformers import AutoModel

base = AutoModel.from_pretrained("example-org/digits-embeddings", trust_remote_code=True)
head = torch.load("checkpoints/head.pt")
''',
}

SECURE_CODE = {
    "serve.py": '''"""Serving code of the secure setup: the hardened gateway serves the model."""

import subprocess


def serve() -> None:
    subprocess.run(
        ["mlwarden", "serve", "artifacts/model.joblib", "--policy", "mlwarden.toml"],
        check=True,
    )
''',
    "train.py": '''"""Training code of the secure setup (pinned base model, safe loading)."""

import torch
from transformers import AutoModel

from mlwarden import safe_load

REVISION = "0123456789abcdef0123456789abcdef01234567"
base = AutoModel.from_pretrained("example-org/digits-embeddings", revision=REVISION)
head = torch.load("checkpoints/head.pt", weights_only=True)
model = safe_load("artifacts/model.joblib", key="keys/release.pub.pem", signature="model.sig")
''',
}

VULNERABLE_POLICY = """# Gateway policy of the vulnerable setup: every control off.
[gateway]
host = "0.0.0.0"

[gateway.auth]
enabled = false

[gateway.rate_limit]
enabled = false

[gateway.validation]
enabled = false

[gateway.output]
mode = "probabilities"
decimals = 6

[gateway.extraction]
enabled = false

[gateway.drift]
enabled = false

[gateway.audit]
enabled = false

[gateway.signing]
enabled = false
"""

SECURE_POLICY = """# Gateway policy of the secure setup: every control on.
[gateway]
host = "127.0.0.1"
approved_digest = "{digest}"
reference = "{reference}"

[gateway.auth]
enabled = true

[gateway.rate_limit]
enabled = true
per_key = "120/minute"

[gateway.validation]
enabled = true
ranges = "reference"

[gateway.adversarial]
squeezing_detector = true
min_confidence = 0.6

[gateway.output]
mode = "label"

[gateway.extraction]
enabled = true
action = "throttle"

[gateway.drift]
enabled = true

[gateway.audit]
enabled = true

[gateway.signing]
enabled = true
algorithm = "ed25519"
private_key = "{key}"
"""
