"""The restricted unpickler: gadgets, loaders, unknown globals and tricks never resolve."""

from __future__ import annotations

import io
import pickle
from pathlib import Path

import numpy as np
import pytest

from mlwarden.integrity.errors import UnsafeModelError
from mlwarden.integrity.unpickler import RestrictedUnpickler, load_joblib, load_pickle
from mlwarden.scan.policy import PicklePolicy

GADGETS = {
    "os.system": b"\x80\x02cos\nsystem\nX\x04\x00\x00\x00true\x85R.",
    "builtins.eval": b"cbuiltins\neval\n(S'1+1'\ntR.",
    "subprocess.Popen via STACK_GLOBAL": (
        b"\x80\x04\x95\x00\x00\x00\x00\x00\x00\x00\x00\x8c\nsubprocess\x8c\x05Popen\x93"
        b"\x8c\x04true\x85R."
    ),
    "pickle.loads (nested loader)": b"\x80\x02cpickle\nloads\nC\x01.\x85R.",
    "dotted walk to os.system": (
        b"\x80\x04\x8c\x05numpy\x8c\x20testing._private.utils.os.system\x93\x8c\x04true\x85R."
    ),
    "getattr": b"\x80\x02cbuiltins\ngetattr\n.",
    "INST opcode": b"(S'true'\nios\nsystem\n.",
    "python 2 module rename": b"\x80\x02c__builtin__\neval\nS'1'\n\x85R.",
    "persistent id": b"\x80\x02X\x01\x00\x00\x00xQ.",
    "unknown class": b"\x80\x02cmypkg.models\nNet\n)\x81.",
}


@pytest.mark.parametrize("data", GADGETS.values(), ids=GADGETS.keys())
def test_gadgets_are_refused(data: bytes, tmp_path: Path) -> None:
    with pytest.raises(UnsafeModelError):
        RestrictedUnpickler(io.BytesIO(data)).load()
    path = tmp_path / "g.pkl"
    path.write_bytes(data)
    for loader in (load_pickle, load_joblib):
        with pytest.raises(UnsafeModelError):
            loader(path)


def test_extension_codes_go_through_the_allow_list() -> None:
    import copyreg

    copyreg.add_extension("os", "system", 0x7FFF_0001)
    try:
        with pytest.raises(UnsafeModelError, match="system"):
            RestrictedUnpickler(
                io.BytesIO(b"\x80\x02\x84\x01\x00\xff\x7fX\x01\x00\x00\x00x\x85R.")
            ).load()
    finally:
        copyreg.remove_extension("os", "system", 0x7FFF_0001)


def test_benign_values_load() -> None:
    value = {"w": np.arange(5.0), "names": ["a", "b"], "shape": (2, 3), "n": None, "s": {1, 2}}
    for protocol in range(0, pickle.HIGHEST_PROTOCOL + 1):
        got = RestrictedUnpickler(io.BytesIO(pickle.dumps(value, protocol=protocol))).load()
        np.testing.assert_array_equal(got["w"], value["w"])
        assert got["names"] == ["a", "b"] and got["s"] == {1, 2}


def test_user_allow_list_clears_unknown_globals_only() -> None:
    policy = PicklePolicy(frozenset({"mypkg.models.Net", "os.*"}))
    with pytest.raises((UnsafeModelError, ModuleNotFoundError)):
        RestrictedUnpickler(io.BytesIO(GADGETS["unknown class"]), policy).load()
    with pytest.raises(UnsafeModelError, match="system"):
        RestrictedUnpickler(io.BytesIO(GADGETS["os.system"]), policy).load()


def test_joblib_arrays_and_legacy_wrappers(tmp_path: Path) -> None:
    import joblib

    path = tmp_path / "a.joblib"
    joblib.dump({"big": np.arange(100_000, dtype=np.int64)}, path)
    np.testing.assert_array_equal(load_joblib(path)["big"], np.arange(100_000))
    legacy = tmp_path / "legacy.pkl"
    legacy.write_bytes(b"\x80\x02cjoblib.numpy_pickle\nNDArrayWrapper\n)\x81.")
    with pytest.raises(UnsafeModelError, match="NDArrayWrapper"):
        load_joblib(legacy)


def test_garbage_is_refused_not_crashed(tmp_path: Path) -> None:
    path = tmp_path / "junk.pkl"
    path.write_bytes(b"\x80\x05junk that is not a pickle")
    with pytest.raises(UnsafeModelError, match="not loadable"):
        load_pickle(path)
