"""safe_load: verify -> scan -> load through code-free loaders, on one private copy of the bytes."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from mlwarden.errors import UsageError
from mlwarden.findings import Severity
from mlwarden.integrity import (
    ManifestMismatchError,
    MetricGate,
    MetricGateError,
    NoSafeLoaderError,
    UnsafeModelError,
    UnverifiedLoadWarning,
    loaders,
    safe_load,
    safeload,
    sign_model,
)
from tests.integrity.conftest import KeyPair

EVIL = b"\x80\x02cos\nsystem\nX\x0b\x00\x00\x00touch PWNED\x85R."


class Box:
    """A user class: unknown to the allow-list until the caller allows it."""

    def __init__(self, value: int) -> None:
        self.value = value


def signed_dir(tmp_path: Path, keys: KeyPair, files: dict[str, bytes]) -> tuple[Path, Path]:
    model = tmp_path / "model"
    model.mkdir(exist_ok=True)
    for name, data in files.items():
        (model / name).parent.mkdir(parents=True, exist_ok=True)
        (model / name).write_bytes(data)
    sig = tmp_path / "model.sig"
    sign_model(model, keys.private, signature=sig)
    return model, sig


def safetensors_bytes() -> bytes:
    from safetensors.numpy import save

    return save({"w": np.arange(6, dtype=np.float32).reshape(2, 3)})


def sklearn_model() -> tuple[Any, np.ndarray, np.ndarray]:
    from sklearn.linear_model import LogisticRegression

    rng = np.random.RandomState(0)
    X = rng.rand(80, 3)
    y = (X[:, 0] > 0.5).astype(int)
    return LogisticRegression().fit(X, y), X, y


def test_safetensors_directory(tmp_path: Path, keys: KeyPair) -> None:
    model, sig = signed_dir(
        tmp_path, keys, {"model.safetensors": safetensors_bytes(), "config.json": b"{}"}
    )
    loaded = safe_load(model, key=keys.public, signature=sig)
    assert loaded.format == "safetensors" and loaded.member == "model.safetensors"
    assert loaded.checks == ("signature", "scan")
    np.testing.assert_array_equal(loaded.model["w"], np.arange(6).reshape(2, 3))
    assert loaded.digest.startswith("sha256:") and not loaded.scan.findings


def test_tampered_model_is_refused_before_loading(tmp_path: Path, keys: KeyPair) -> None:
    model, sig = signed_dir(tmp_path, keys, {"model.safetensors": safetensors_bytes()})
    (model / "model.safetensors").write_bytes(safetensors_bytes()[:-4] + b"\x00\x00\x80\x7f")
    with pytest.raises(ManifestMismatchError, match=r"model\.safetensors"):
        safe_load(model, key=keys.public, signature=sig)


def test_signed_malicious_pickle_is_refused_by_the_scan(
    tmp_path: Path, keys: KeyPair, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    model, sig = signed_dir(tmp_path, keys, {"model.pkl": EVIL})
    with pytest.raises(UnsafeModelError, match="SCAN-PKL-001") as info:
        safe_load(model, key=keys.public, signature=sig)
    assert info.value.problems[0].rule_id == "INT-LOAD-001"
    # Even with the scan told to let it through, the restricted unpickler refuses it.
    with pytest.raises(UnsafeModelError, match=r"posix\.system|os\.system") as info:
        safe_load(
            model,
            key=keys.public,
            signature=sig,
            fail_on=Severity.CRITICAL,
            scan_options=_no_findings_scan(),
        )
    assert info.value.problems[0].rule_id == "INT-LOAD-002"
    assert not (tmp_path / "PWNED").exists()


def _no_findings_scan() -> Any:
    """Scan options whose report is empty (to reach the loader in tests)."""
    from mlwarden.scan.engine import ScanOptions

    return ScanOptions(jobs=1, include=("nothing-matches-*",))


def test_sklearn_pickle_and_metric_gate(tmp_path: Path, keys: KeyPair) -> None:
    clf, X, y = sklearn_model()
    model, sig = signed_dir(tmp_path, keys, {"model.pkl": pickle.dumps(clf, protocol=5)})
    loaded = safe_load(model, key=keys.public, signature=sig, metric_gate=MetricGate(0.8, X, y))
    assert loaded.format == "pickle" and loaded.checks[-1] == "metric"
    assert loaded.metric is not None and loaded.metric >= 0.8
    np.testing.assert_array_equal(loaded.model.predict(X), clf.predict(X))
    with pytest.raises(MetricGateError, match="below the threshold") as info:
        safe_load(model, key=keys.public, signature=sig, metric_gate=MetricGate(1.01, X, y))
    assert info.value.problems[0].rule_id == "INT-MET-001"


def test_metric_gate_with_a_callable_and_failures() -> None:
    assert MetricGate(0.5, evaluate=lambda m: 0.7).check(object()) == 0.7
    with pytest.raises(MetricGateError, match="above the threshold"):
        MetricGate(0.1, evaluate=lambda m: 0.2, name="loss", higher_is_better=False).check(None)
    with pytest.raises(MetricGateError, match="evaluating accuracy failed"):
        MetricGate(0.5, evaluate=lambda m: 1 / 0).check(None)
    with pytest.raises(MetricGateError):
        MetricGate(0.5, evaluate=lambda m: float("nan")).check(None)
    with pytest.raises(UsageError):
        MetricGate(0.5).check(object())


def test_joblib_compressed_sklearn(tmp_path: Path, keys: KeyPair) -> None:
    import joblib

    clf, X, _ = sklearn_model()
    joblib.dump(clf, tmp_path / "m.joblib", compress=("zlib", 3))
    model, sig = signed_dir(tmp_path, keys, {"m.joblib": (tmp_path / "m.joblib").read_bytes()})
    loaded = safe_load(model, key=keys.public, signature=sig)
    assert loaded.format == "joblib"
    np.testing.assert_array_equal(loaded.model.predict(X), clf.predict(X))


def test_joblib_object_array_is_refused(tmp_path: Path) -> None:
    import joblib

    path = tmp_path / "objs.joblib"
    joblib.dump({"a": np.array([{"k": 1}, None], dtype=object)}, path)
    with pytest.raises(UnsafeModelError, match="object dtype"):
        loaders.load_file(path)


def test_user_class_needs_an_explicit_allow(tmp_path: Path, keys: KeyPair) -> None:
    model, sig = signed_dir(tmp_path, keys, {"box.pkl": pickle.dumps(Box(7), protocol=4)})
    with pytest.raises(UnsafeModelError, match="SCAN-PKL-002"):
        safe_load(model, key=keys.public, signature=sig)
    with pytest.raises(UnsafeModelError, match=r"test_safe_load\.Box"):
        safe_load(model, key=keys.public, signature=sig, fail_on=Severity.HIGH)
    loaded = safe_load(
        model, key=keys.public, signature=sig, allow=["tests.integrity.test_safe_load.Box"]
    )
    assert loaded.model.value == 7


def test_swapping_the_file_after_the_check_changes_nothing(
    tmp_path: Path, keys: KeyPair, monkeypatch: pytest.MonkeyPatch
) -> None:
    model, sig = signed_dir(tmp_path, keys, {"model.pkl": pickle.dumps({"w": [1, 2]})})
    real = loaders.load_file

    def swap_then_load(path: Path, **kw: Any) -> Any:
        (model / "model.pkl").write_bytes(EVIL)  # the attacker wins the race on the original
        assert path != model / "model.pkl" and str(path).startswith(str(Path("/").resolve()))
        return real(path, **kw)

    monkeypatch.setattr(loaders, "load_file", swap_then_load)
    monkeypatch.chdir(tmp_path)
    loaded = safe_load(model, key=keys.public, signature=sig)
    assert loaded.model == {"w": [1, 2]} and not (tmp_path / "PWNED").exists()


def test_private_copy_is_removed(tmp_path: Path, keys: KeyPair) -> None:
    model, sig = signed_dir(tmp_path, keys, {"a.npy": _npy()})
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    safe_load(model, key=keys.public, signature=sig, tmp_dir=scratch)
    assert list(scratch.iterdir()) == []


def _npy() -> bytes:
    import io

    buf = io.BytesIO()
    np.save(buf, np.arange(4))
    return buf.getvalue()


def test_numpy_npy_and_npz(tmp_path: Path, keys: KeyPair) -> None:
    import io

    buf = io.BytesIO()
    np.savez(buf, a=np.ones(2), b=np.zeros(3))
    model, sig = signed_dir(tmp_path, keys, {"a.npy": _npy(), "b.npz": buf.getvalue()})
    got = safe_load(model, key=keys.public, signature=sig, member="b.npz")
    assert got.format == "npz" and sorted(got.model) == ["a", "b"]
    got = safe_load(model, key=keys.public, signature=sig, member="a.npy")
    np.testing.assert_array_equal(got.model, np.arange(4))
    with pytest.raises(NoSafeLoaderError, match="pass member"):
        safe_load(model, key=keys.public, signature=sig)
    with pytest.raises(NoSafeLoaderError, match="not one verified file"):
        safe_load(model, key=keys.public, signature=sig, member="../model.sig")


def test_onnx_model(tmp_path: Path, keys: KeyPair) -> None:
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["y"])],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])],
    )
    data = helper.make_model(graph).SerializeToString()
    model, sig = signed_dir(tmp_path, keys, {"model.onnx": data})
    loaded = safe_load(model, key=keys.public, signature=sig)
    assert loaded.format == "onnx" and isinstance(loaded.model, onnx.ModelProto)


def test_skops_model(tmp_path: Path, keys: KeyPair) -> None:
    import skops.io as sio

    clf, X, _ = sklearn_model()
    sio.dump(clf, tmp_path / "m.skops")
    model, sig = signed_dir(tmp_path, keys, {"m.skops": (tmp_path / "m.skops").read_bytes()})
    loaded = safe_load(model, key=keys.public, signature=sig)
    assert loaded.format == "skops"
    np.testing.assert_array_equal(loaded.model.predict(X), clf.predict(X))


@pytest.mark.torch
def test_torch_state_dict_loads_and_pickled_module_is_refused(
    tmp_path: Path, keys: KeyPair
) -> None:
    import io

    import torch

    buf = io.BytesIO()
    torch.save({"w": torch.ones(3)}, buf)
    model, sig = signed_dir(tmp_path, keys, {"model.pt": buf.getvalue()})
    loaded = safe_load(model, key=keys.public, signature=sig)
    assert loaded.format == "torch" and torch.equal(loaded.model["w"], torch.ones(3))
    buf = io.BytesIO()
    torch.save(torch.nn.Linear(2, 1), buf)
    (tmp_path / "m2").mkdir()
    (tmp_path / "m2" / "model.pt").write_bytes(buf.getvalue())
    sign_model(tmp_path / "m2", keys.private, signature=tmp_path / "m2.sig")
    with pytest.raises(UnsafeModelError) as info:
        safe_load(
            tmp_path / "m2",
            key=keys.public,
            signature=tmp_path / "m2.sig",
            fail_on=Severity.CRITICAL,
        )
    assert info.value.problems[0].rule_id == "INT-LOAD-002"


@pytest.mark.torch
def test_torchscript_is_refused(tmp_path: Path, keys: KeyPair) -> None:
    import io
    import warnings

    import torch

    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # torch.jit.script is deprecated
        torch.jit.save(torch.jit.script(torch.nn.ReLU()), buf)
    model, sig = signed_dir(tmp_path, keys, {"model.pt": buf.getvalue()})
    with pytest.raises(UnsafeModelError, match="TorchScript"):
        safe_load(model, key=keys.public, signature=sig, fail_on=Severity.CRITICAL)


def test_lockfile_only_and_unverified(tmp_path: Path) -> None:
    from mlwarden.integrity import HashOptions, Lockfile
    from mlwarden.integrity.hashing import hash_model
    from mlwarden.integrity.lockfile import entry_for

    model = tmp_path / "model"
    model.mkdir()
    (model / "w.safetensors").write_bytes(safetensors_bytes())
    lock = Lockfile().with_entry(entry_for("model", hash_model(model), HashOptions()))
    assert safe_load(model, lockfile=lock).checks == ("lockfile", "scan")
    with pytest.raises(UsageError, match="public key and/or a lockfile"):
        safe_load(model)
    with pytest.warns(UnverifiedLoadWarning):
        assert safe_load(model, allow_unverified=True).checks == ("scan",)
    (model / "w.safetensors").write_bytes(safetensors_bytes() + b" ")
    from mlwarden.integrity import NotApprovedError

    with pytest.raises(NotApprovedError):
        safe_load(model, lockfile=lock)


def test_extra_files_allowed_are_not_loadable(tmp_path: Path, keys: KeyPair) -> None:
    from mlwarden.integrity import VerifyOptions

    model, sig = signed_dir(tmp_path, keys, {"w.safetensors": safetensors_bytes()})
    (model / "extra.npy").write_bytes(_npy())
    loaded = safe_load(
        model, key=keys.public, signature=sig, options=VerifyOptions(allow_extra=True)
    )
    assert loaded.member == "w.safetensors"
    with pytest.raises(NoSafeLoaderError, match="not one verified file"):
        safe_load(
            model,
            key=keys.public,
            signature=sig,
            member="extra.npy",
            options=VerifyOptions(allow_extra=True),
        )


def test_single_file_model(tmp_path: Path, keys: KeyPair) -> None:
    path = tmp_path / "w.safetensors"
    path.write_bytes(safetensors_bytes())
    sign_model(path, keys.private, signature=tmp_path / "w.sig")
    loaded = safe_load(path, key=keys.public, signature=tmp_path / "w.sig")
    assert loaded.member == "." and loaded.format == "safetensors"


def test_unsupported_formats(tmp_path: Path) -> None:
    gguf = tmp_path / "m.gguf"
    gguf.write_bytes(b"GGUF" + b"\x00" * 64)
    with pytest.raises(NoSafeLoaderError, match="no code-free loader"):
        loaders.load_file(gguf)
    assert safeload.safe_load is safe_load
