"""load_model: the right adapter per format, and nothing unsafe reaches a deserialiser."""

from __future__ import annotations

import io
import os
import pickle
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from mlwarden.models import (
    HttpClassifier,
    ModelLoadError,
    OnnxClassifier,
    SklearnClassifier,
    UnsafeModel,
    load_model,
    loading,
)
from mlwarden.models.unpickle import restricted_loads
from tests.models.conftest import make_cnn, skl2onnx_bytes


class Planted:
    """A pickle payload that would create ``path`` when unpickled (it must never be)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> Any:
        return (os.mkdir, (str(self.path),))


class TinyClassifier:
    """A classifier class the scanner does not know (it is not on the allow-list)."""

    classes_ = np.array([0, 1])
    n_features_in_ = 2

    def predict(self, x: Any) -> Any:
        return (np.asarray(x)[:, 0] > 0.5).astype(np.int64)


def _joblib(model: Any, compress: Any) -> bytes:
    import joblib

    buf = io.BytesIO()
    joblib.dump(model, buf, compress=compress)
    return buf.getvalue()


@pytest.mark.parametrize(
    ("name", "writer"),
    [
        ("model.pkl", lambda m: pickle.dumps(m, protocol=5)),
        ("model.pkl", lambda m: pickle.dumps(m, protocol=2)),
        ("model.joblib", lambda m: _joblib(m, 0)),
        ("model.joblib", lambda m: _joblib(m, 3)),
        ("model.joblib", lambda m: _joblib(m, ("xz", 3))),
        ("model.joblib", lambda m: _joblib(m, ("gzip", 3))),
    ],
)
def test_scikit_learn_pickles_load_through_the_restricted_unpickler(
    tmp_path: Path, logreg: Any, x_test: Any, name: str, writer: Any
) -> None:
    path = tmp_path / name
    path.write_bytes(writer(logreg))
    adapter = load_model(path, clip=(0.0, 1.0))
    assert isinstance(adapter, SklearnClassifier) and adapter.clip == (0.0, 1.0)
    assert np.array_equal(adapter.predict(x_test), logreg.predict(x_test))


@pytest.mark.parametrize("compress", [0, 3])
def test_malicious_pickle_is_refused_and_never_runs(tmp_path: Path, compress: int) -> None:
    marker = tmp_path / "pwned"
    path = tmp_path / "model.joblib"
    path.write_bytes(_joblib({"model": Planted(marker)}, compress))
    with pytest.raises(UnsafeModel, match="SCAN-PKL-001") as err:
        load_model(path)
    assert not marker.exists()
    assert "mlwarden scan" in err.value.hint


def test_unknown_class_is_refused_unless_allowed(tmp_path: Path) -> None:
    path = tmp_path / "tiny.pkl"
    path.write_bytes(pickle.dumps(TinyClassifier()))
    with pytest.raises(UnsafeModel, match="SCAN-PKL-002"):
        load_model(path)
    adapter = load_model(path, allow=[f"{__name__}.TinyClassifier"])
    assert list(adapter.predict(np.array([[0.9, 0], [0.1, 0]], dtype=np.float32))) == [1, 0]


def test_the_loaded_bytes_are_the_scanned_bytes(
    tmp_path: Path, logreg: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Swapping the file after the scan changes nothing: the scanned copy is what loads."""
    marker = tmp_path / "pwned"
    path = tmp_path / "model.pkl"
    path.write_bytes(pickle.dumps(logreg))
    scan = loading.refuse_unsafe

    def scan_then_swap(data: bytes, *args: Any, **kwargs: Any) -> Any:
        result = scan(data, *args, **kwargs)
        path.write_bytes(pickle.dumps(Planted(marker)))
        return result

    monkeypatch.setattr(loading, "refuse_unsafe", scan_then_swap)
    adapter = load_model(path)
    assert isinstance(adapter, SklearnClassifier) and not marker.exists()


def test_restricted_unpickler_fails_closed_without_the_scan(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    with pytest.raises(UnsafeModel, match=r"(posix|os)\.mkdir"):
        restricted_loads(pickle.dumps(Planted(marker)))
    with pytest.raises(UnsafeModel, match="not on the allow-list"):
        restricted_loads(pickle.dumps(TinyClassifier()))
    assert not marker.exists()


@pytest.mark.parametrize("compress", [0, 3])
def test_joblib_object_arrays_go_through_the_restricted_unpickler(
    tmp_path: Path, compress: int
) -> None:
    benign = {"names": np.array(["x", None, 3], dtype=object), "w": np.arange(4.0)}
    loaded = restricted_loads(_joblib(benign, compress))
    assert loaded["names"].tolist() == ["x", None, 3] and loaded["w"].tolist() == [0, 1, 2, 3]
    marker = tmp_path / "pwned"
    planted = {"names": np.array([Planted(marker), 1], dtype=object), "w": np.arange(4.0)}
    with pytest.raises(UnsafeModel, match=r"(posix|os)\.mkdir"):
        restricted_loads(_joblib(planted, compress))
    assert not marker.exists()


def test_non_classifier_pickle_is_explained(tmp_path: Path) -> None:
    path = tmp_path / "weights.pkl"
    path.write_bytes(pickle.dumps({"w": [1.0, 2.0]}))
    with pytest.raises(ModelLoadError, match="not a fitted classifier"):
        load_model(path)


def test_onnx_file_and_endpoint_urls(tmp_path: Path, logreg: Any) -> None:
    path = tmp_path / "model.onnx"
    path.write_bytes(skl2onnx_bytes(logreg, 64, zipmap=False))
    assert isinstance(load_model(path), OnnxClassifier)
    oip = load_model("http://127.0.0.1:1/v2/models/digits", api_key="k")
    gateway = load_model("https://example.invalid/v1/predict")
    assert isinstance(oip, HttpClassifier) and isinstance(gateway, HttpClassifier)
    assert "oip-v2" in repr(oip) and "mlwarden" in repr(gateway)


def test_unsupported_and_missing_files(tmp_path: Path) -> None:
    text = tmp_path / "notes.bin"
    text.write_bytes(b"\x00\x01 not a model")
    with pytest.raises(ModelLoadError, match="unsupported model format"):
        load_model(text)
    with pytest.raises(ModelLoadError, match="cannot read"):
        load_model(tmp_path / "absent.pkl")


@pytest.mark.torch
class TestTorch:
    @pytest.fixture(autouse=True)
    def _torch(self) -> None:
        self.torch = pytest.importorskip("torch")

    def test_torchscript(self, tmp_path: Path, cnn: Any, x_test: Any) -> None:
        path = tmp_path / "cnn.pt"
        with warnings.catch_warnings():
            # torch 2.9+ deprecates scripting; users still ship TorchScript files.
            warnings.simplefilter("ignore", DeprecationWarning)
            self.torch.jit.script(cnn).save(str(path))
        with pytest.raises(ModelLoadError, match="input_shape and n_classes"):
            load_model(path)
        adapter = load_model(path, input_shape=(1, 8, 8), n_classes=10)
        images = x_test.reshape(-1, 1, 8, 8)
        with self.torch.no_grad():
            expected = cnn(self.torch.from_numpy(images)).argmax(1).numpy()
        assert np.array_equal(adapter.predict(images), expected)

    def test_state_dict_needs_the_module_factory(self, tmp_path: Path, cnn: Any) -> None:
        path = tmp_path / "cnn.pt"
        self.torch.save(cnn.state_dict(), path)
        with pytest.raises(ModelLoadError, match="weights only") as err:
            load_model(path, input_shape=(1, 8, 8), n_classes=10)
        assert "module_factory" in err.value.hint
        adapter: Any = load_model(
            path, module_factory=make_cnn, input_shape=(1, 8, 8), n_classes=10
        )
        for mine, theirs in zip(adapter.torch_module.parameters(), cnn.parameters(), strict=True):
            assert self.torch.equal(mine, theirs)

    def test_safetensors_state_dict(self, tmp_path: Path, cnn: Any) -> None:
        from safetensors.torch import save_file

        path = tmp_path / "cnn.safetensors"
        save_file(dict(cnn.state_dict()), str(path))
        adapter = load_model(path, module_factory=make_cnn, input_shape=(1, 8, 8), n_classes=10)
        assert adapter.n_classes == 10

    def test_whole_pickled_module_is_refused(self, tmp_path: Path) -> None:
        path = tmp_path / "module.pt"
        self.torch.save(Planted(tmp_path / "pwned"), path)
        with pytest.raises(UnsafeModel):
            load_model(path, module_factory=make_cnn, input_shape=(1, 8, 8), n_classes=10)
        assert not (tmp_path / "pwned").exists()
