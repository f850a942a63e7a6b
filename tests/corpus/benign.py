"""Benign pickles users really save: scikit-learn models (every pickle protocol and every
joblib compression), torch state dicts and checkpoints, stdlib values and numpy objects.

They are made with the real libraries, small and deterministic. A scanner must report nothing
at medium or above for any of them. Non-pickle formats are in ``benign_formats.py``.
"""

from __future__ import annotations

import argparse
import collections
import datetime as dt
import decimal
import fractions
import functools
import gzip
import io
import pathlib
import pickle
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.corpus._spec import Marker, Spec, ben

JOBLIB_COMPRESSIONS = ("none", "zlib", "gzip", "bz2", "lzma", "xz")
SKLEARN_MODELS = (
    "scaler_logreg",
    "coltrans_onehot_rf",
    "gradient_boosting",
    "svc",
    "knn",
    "log1p_logreg",
    "imputer_logreg",
    "string_labels_logreg",
)


def tiny_xy(n: int = 40) -> tuple[Any, Any]:
    """A small deterministic classification problem (4 features, 2 classes)."""
    import numpy as np

    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 4))
    x[:, 2] = rng.integers(0, 3, size=n)
    y = (x[:, 0] + x[:, 1] > 0).astype(int)
    return x, y


@functools.cache
def sklearn_model(name: str) -> Any:
    """Fit and cache one of :data:`SKLEARN_MODELS`."""
    import numpy as np
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler
    from sklearn.svm import SVC

    x, y = tiny_xy()
    coltrans = ColumnTransformer(
        [("num", StandardScaler(), [0, 1, 3]), ("cat", OneHotEncoder(handle_unknown="ignore"), [2])]
    )
    models: dict[str, Any] = {
        "scaler_logreg": lambda: Pipeline([("s", StandardScaler()), ("m", LogisticRegression())]),
        "coltrans_onehot_rf": lambda: Pipeline(
            [("prep", coltrans), ("rf", RandomForestClassifier(5, max_depth=3, random_state=0))]
        ),
        "gradient_boosting": lambda: GradientBoostingClassifier(n_estimators=5, random_state=0),
        "svc": lambda: SVC(),
        "knn": lambda: KNeighborsClassifier(3),
        "random_forest": lambda: RandomForestClassifier(5, max_depth=3, random_state=0),
        "log1p_logreg": lambda: Pipeline(
            [("log", FunctionTransformer(np.log1p)), ("m", LogisticRegression())]
        ),
        "imputer_logreg": lambda: Pipeline([("imp", SimpleImputer()), ("m", LogisticRegression())]),
    }
    if name == "string_labels_logreg":  # classes_ becomes an object array of str
        y = np.array(["cat", "dog"], dtype=object)[y]
        name = "scaler_logreg"
    if name == "log1p_logreg":
        x = np.abs(x)
    if name == "imputer_logreg":
        x = x.copy()
        x[::7, 1] = np.nan
    return models[name]().fit(x, y)


def _pickled(name: str, proto: int) -> Any:
    return lambda m: pickle.dumps(sklearn_model(name), protocol=proto)


def _joblib(name: str, compression: str) -> Any:
    def write(path: Path, marker: Marker) -> None:
        import joblib

        compress: Any = 0 if compression == "none" else (compression, 3)
        joblib.dump(sklearn_model(name), path, compress=compress)

    return write


def _sklearn_model_specs(name: str) -> list[Spec]:
    quick_model = name in ("scaler_logreg", "log1p_logreg")
    pickled = [
        ben(
            f"sklearn/{name}_p{proto}.pkl",
            "sklearn-pickle",
            f"fitted scikit-learn {name} via pickle protocol {proto}",
            _pickled(name, proto),
            loader="pickle",
            needs=("sklearn",),
            quick=quick_model and proto in (0, 2, 5),
        )
        for proto in range(6)
    ]
    dumped = [
        ben(
            f"sklearn/{name}.{'joblib' if comp == 'none' else 'joblib.' + comp}",
            f"sklearn-joblib-{comp}",
            f"fitted scikit-learn {name} via joblib.dump compress={comp}",
            write=_joblib(name, comp),
            loader="joblib",
            needs=("sklearn", "joblib"),
            quick=quick_model and comp in ("none", "zlib", "xz"),
        )
        for comp in JOBLIB_COMPRESSIONS
    ]
    return pickled + dumped


def _sklearn() -> list[Spec]:
    return [spec for name in SKLEARN_MODELS for spec in _sklearn_model_specs(name)]


def stdlib_values() -> dict[str, Any]:
    """Every stdlib value type users commonly pickle (no user-defined classes)."""
    return {
        "containers": [{"a": 1}, [1, 2], (3, 4), {5, 6}, frozenset({7})],
        "scalars": [
            None,
            True,
            1.5,
            2**70,
            -3,
            complex(1, 2),
            "text",
            b"\x00\xff",
            bytearray(b"ab"),
        ],
        "datetime": [
            dt.datetime(2024, 5, 1, 12, 30, tzinfo=dt.timezone.utc),
            dt.date(2024, 1, 2),
            dt.time(3, 4, 5),
            dt.timedelta(days=2),
            dt.timezone(dt.timedelta(hours=2)),
        ],
        "numbers": [decimal.Decimal("3.14"), fractions.Fraction(1, 3)],
        "uuid": uuid.UUID("12345678-1234-5678-1234-567812345678"),
        "collections": [
            collections.OrderedDict(a=1),
            collections.defaultdict(list, {"k": [1]}),
            collections.Counter("hello"),
            collections.deque([1, 2], maxlen=5),
        ],
        "misc": [range(0, 10, 2), slice(1, 5), pathlib.PurePosixPath("/data/model.pt")],
    }


def numpy_values() -> dict[str, Any]:
    import numpy as np

    legacy = np.random.RandomState(0)
    return {
        "f32": np.arange(12, dtype=np.float32).reshape(3, 4),
        "i64": np.arange(5, dtype=np.int64),
        "bool": np.array([True, False]),
        "structured": np.zeros(3, dtype=[("x", "<f4"), ("label", "<i4")]),
        "strings": np.array(["cat", "dog"]),
        "scalars": [np.float64(1.5), np.int32(3), np.bool_(True)],
        "dtype": np.dtype("float16"),
        "rng": np.random.default_rng(0),
        "legacy_rng": legacy,
        "legacy_state": legacy.get_state(),
    }


def _pickled_values(values: Callable[[], Any], m: Marker, *, proto: int) -> bytes:
    return pickle.dumps(values(), protocol=proto)


def _gzipped_pickle(m: Marker) -> bytes:
    return gzip.compress(pickle.dumps({"vocab": ["a", "b"], "ids": [1, 2]}, protocol=4), mtime=0)


def _values() -> list[Spec]:
    specs = [
        ben(
            f"stdlib/values_p{p}.pkl",
            "stdlib-values",
            f"stdlib value types, protocol {p}",
            functools.partial(_pickled_values, stdlib_values, proto=p),
            loader="pickle",
            quick=p in (0, 4),
        )
        for p in range(6)
    ]
    specs += [
        ben(
            f"numpy/values_p{p}.pkl",
            "numpy-pickle",
            f"numpy arrays, scalars, dtype, Generator and RandomState, protocol {p}",
            functools.partial(_pickled_values, numpy_values, proto=p),
            loader="pickle",
            needs=("numpy",),
            quick=p == 5,
        )
        for p in range(2, 6)
    ]
    specs.append(
        ben(
            "stdlib/vocab.pkl.gz",
            "gzip-pickle",
            "gzip-compressed pickle of a dict",
            _gzipped_pickle,
            loader="decompress-pickle",
            quick=True,
        )
    )
    return specs


def torch_net() -> Any:
    import torch

    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))


def _torch_save(obj: Any, *, legacy: bool = False) -> bytes:
    import torch

    buf = io.BytesIO()
    torch.save(obj(), buf, _use_new_zipfile_serialization=not legacy)
    return buf.getvalue()


def torch_checkpoint() -> dict[str, Any]:
    """A full training checkpoint the way training scripts write them."""
    import torch

    net = torch_net()
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    net(torch.ones(2, 4)).sum().backward()
    opt.step()
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=10)
    return {
        "model": net.state_dict(),
        "optimizer": opt.state_dict(),
        "scheduler": sched.state_dict(),
        "epoch": 3,
        "args": argparse.Namespace(lr=1e-3, batch_size=32, arch="mlp"),
        "rng_state": torch.get_rng_state(),
        "generator": torch.Generator().manual_seed(0).get_state(),
        "best_metric": 0.91,
    }


def _torchscript(path: Path, marker: Marker) -> None:
    import torch

    torch.jit.save(torch.jit.script(torch_net()), str(path))


def _torch() -> list[Spec]:
    def state_dict() -> Any:
        return torch_net().state_dict()

    def module() -> Any:
        return torch_net()

    t = ("torch",)
    return [
        ben(
            "torch/state_dict.pt",
            "torch-zip",
            "torch.save(state_dict) (zip format)",
            lambda m: _torch_save(state_dict),
            loader="torch-weights-only",
            needs=t,
            quick=True,
        ),
        ben(
            "torch/pytorch_model.bin",
            "torch-zip",
            "state dict saved under the HF .bin name",
            lambda m: _torch_save(state_dict),
            loader="torch-weights-only",
            needs=t,
        ),
        ben(
            "torch/state_dict_legacy.pt",
            "torch-legacy",
            "legacy (non-zip) torch.save",
            lambda m: _torch_save(state_dict, legacy=True),
            loader="torch-weights-only",
            needs=t,
            quick=True,
        ),
        ben(
            "torch/checkpoint.pt",
            "torch-checkpoint",
            "model + Adam state + StepLR + epoch + argparse.Namespace + RNG/Generator state",
            lambda m: _torch_save(torch_checkpoint),
            loader="torch",
            needs=t,
            quick=True,
        ),
        ben(
            "torch/checkpoint_legacy.pt",
            "torch-checkpoint",
            "the same checkpoint, legacy format",
            lambda m: _torch_save(torch_checkpoint, legacy=True),
            loader="torch",
            needs=t,
        ),
        ben(
            "torch/full_module.pt",
            "torch-full-module",
            "torch.save of a whole nn.Sequential (Linear/ReLU classes pickled)",
            lambda m: _torch_save(module),
            loader="torch",
            needs=t,
        ),
        ben(
            "torch/scripted.pt",
            "torchscript",
            "torch.jit.save of a scripted nn.Sequential",
            write=_torchscript,
            loader="torchscript",
            needs=t,
            quick=True,
        ),
    ]


def specs() -> list[Spec]:
    """Every benign pickle-based spec."""
    return [*_sklearn(), *_values(), *_torch()]
