"""MLflow model directories: verify them as a whole, check MLmodel references, load a flavor.

The directories are written by hand in the layout MLflow 3.x writes (MLmodel text copied
from `mlflow.sklearn.save_model` output); MLflow itself is not installed in the test venv.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest

from mlwarden.integrity import (
    ManifestMismatchError,
    NoSafeLoaderError,
    UnsafeModelError,
    VerifyOptions,
    safe_load,
    sign_model,
    verify_model,
)
from mlwarden.integrity.mlflow import parse_mlmodel
from tests.integrity.conftest import KeyPair

MLMODEL = """\
flavors:
  python_function:
    env:
      conda: conda.yaml
      virtualenv: python_env.yaml
    loader_module: mlflow.sklearn
    model_path: {artifact}
    predict_fn: predict
    python_version: 3.11.7
  sklearn:
    code: null
    pickled_model: {artifact}
    serialization_format: {fmt}
    sklearn_version: 1.5.1
    skops_trusted_types: null
mlflow_version: 3.17.2
model_id: null
model_size_bytes: 728
model_uuid: f7c14fa0d592423b8ab2e092de9bd33d
prompts: null
utc_time_created: '2026-11-29 05:53:38.722000'
"""


def fitted() -> tuple[object, np.ndarray]:
    from sklearn.linear_model import LogisticRegression

    rng = np.random.RandomState(1)
    X = rng.rand(40, 3)
    return LogisticRegression().fit(X, (X[:, 1] > 0.5).astype(int)), X


def mlflow_dir(root: Path, fmt: str = "cloudpickle") -> tuple[Path, object, np.ndarray]:
    clf, X = fitted()
    root.mkdir(parents=True)
    artifact = "model.skops" if fmt == "skops" else "model.pkl"
    if fmt == "skops":
        import skops.io as sio

        sio.dump(clf, root / artifact)
    else:
        (root / artifact).write_bytes(pickle.dumps(clf, protocol=4))
    (root / "MLmodel").write_text(MLMODEL.format(artifact=artifact, fmt=fmt))
    (root / "conda.yaml").write_text("name: mlflow-env\ndependencies:\n- python=3.11.7\n")
    (root / "python_env.yaml").write_text("python: 3.11.7\nbuild_dependencies:\n- pip\n")
    (root / "requirements.txt").write_text("mlflow==3.17.2\nscikit-learn==1.5.1\n")
    return root, clf, X


@pytest.mark.parametrize("fmt", ["cloudpickle", "skops"])
def test_download_verify_load(tmp_path: Path, keys: KeyPair, fmt: str) -> None:
    model, clf, X = mlflow_dir(tmp_path / "model", fmt)
    sig = tmp_path / "model.sig"
    sign_model(model, keys.private, signature=sig)
    assert verify_model(model, key=keys.public, signature=sig).checks == ("signature",)
    loaded = safe_load(model, key=keys.public, signature=sig)
    assert loaded.member == f"model.{'skops' if fmt == 'skops' else 'pkl'}"
    assert loaded.format == ("skops" if fmt == "skops" else "pickle")
    np.testing.assert_array_equal(loaded.model.predict(X), clf.predict(X))  # type: ignore[attr-defined]


def test_artifact_outside_the_directory(tmp_path: Path, keys: KeyPair) -> None:
    model, _, _ = mlflow_dir(tmp_path / "model")
    text = (
        (model / "MLmodel")
        .read_text()
        .replace("pickled_model: model.pkl", "pickled_model: ../../evil.pkl")
    )
    (model / "MLmodel").write_text(text)
    sig = tmp_path / "model.sig"
    sign_model(model, keys.private, signature=sig)
    with pytest.raises(ManifestMismatchError, match=r"evil\.pkl") as info:
        verify_model(model, key=keys.public, signature=sig)
    assert {p.rule_id for p in info.value.problems} == {"INT-VER-008"}
    with pytest.raises(UnsafeModelError, match=r"evil\.pkl"):
        safe_load(model, key=keys.public, signature=sig)


def test_artifact_not_covered_by_the_signature(tmp_path: Path, keys: KeyPair) -> None:
    model, _, _ = mlflow_dir(tmp_path / "model")
    sig = tmp_path / "model.sig"
    sign_model(model, keys.private, signature=sig)
    # A verifier that ignores the artifact would pass a swapped model.pkl: refused.
    with pytest.raises(ManifestMismatchError) as info:
        verify_model(
            model, key=keys.public, signature=sig, options=VerifyOptions(ignore=("*.pkl",))
        )
    assert "INT-VER-008" in {p.rule_id for p in info.value.problems}


def test_flavor_choice(tmp_path: Path) -> None:
    onnx_first = parse_mlmodel(
        "flavors:\n  onnx: {data: model.onnx}\n  sklearn: {pickled_model: m.pkl}\n", tmp_path
    )
    assert onnx_first.artifact()[:2] == ("onnx", "model.onnx")
    pyfunc = parse_mlmodel(
        "flavors:\n  python_function: {python_model: python_model.pkl, loader_module: "
        "mlflow.pyfunc.model, code: code}\n",
        tmp_path,
    )
    with pytest.raises(NoSafeLoaderError, match="without running code"):
        pyfunc.artifact()
    refs = dict(pyfunc.referenced())
    assert refs == {
        "python_function.python_model": "python_model.pkl",
        "python_function.code": "code",
    }


@pytest.mark.parametrize(
    "text", ["[1, 2]", "flavors: 3\n", "{{{", "a: !!python/object:os.system x"]
)
def test_bad_mlmodel(tmp_path: Path, text: str) -> None:
    with pytest.raises(NoSafeLoaderError):
        parse_mlmodel(text, tmp_path)
