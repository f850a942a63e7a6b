"""Keras scanners: legacy h5 model configs and Keras 3 config.json, benign and malicious.

Configs are written by hand in the shapes Keras 2 (h5, ``model.to_json``) and Keras 3
(``.keras`` zip) produce; TensorFlow/Keras are not needed. Lambda payloads are marshalled
code objects that are compiled here but never run.
"""

from __future__ import annotations

import base64
import copy
import io
import json
import marshal
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path
from types import CodeType
from typing import Any

import h5py
import numpy as np
import pytest

from mlwarden.errors import MalformedInput, ScanLimitExceeded
from mlwarden.findings import Finding, Location, Severity
from mlwarden.scan.base import Artifact, ScanContext, ScanLimits, Scanner
from mlwarden.scan.keras_config import looks_like_marshal_code
from mlwarden.scan.keras_scanner import KerasConfigScanner, KerasH5Scanner
from mlwarden.scan.policy import PicklePolicy
from mlwarden.scan.registry import _load

Config = dict[str, Any]
HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"


# --- helpers -------------------------------------------------------------------------


def _no_dispatch(_artifact: Artifact, _ctx: ScanContext) -> Iterator[Finding]:
    return iter(())


def make_ctx(limits: ScanLimits | None = None) -> ScanContext:
    return ScanContext.start(PicklePolicy(), limits or ScanLimits(), dispatch=_no_dispatch)


def file_artifact(path: Path) -> Artifact:
    return Artifact(
        location=Location(str(path)),
        name=path.name,
        size=path.stat().st_size,
        depth=0,
        opener=lambda: path.open("rb"),
        fs_path=path,
    )


def member_artifact(
    data: bytes,
    name: str,
    siblings: frozenset[str] = frozenset(),
    container: str | None = "zip",
) -> Artifact:
    return Artifact(
        location=Location("model.keras", name),
        name=name,
        size=len(data),
        depth=1,
        opener=lambda: io.BytesIO(data),
        container=container,
        siblings=siblings,
    )


KERAS_ZIP_SIBLINGS = frozenset({"metadata.json", "model.weights.h5"})


def scan_json(obj: object, *, siblings: frozenset[str] = KERAS_ZIP_SIBLINGS) -> list[Finding]:
    data = json.dumps(obj).encode()
    container = "zip" if siblings else None
    return list(
        KerasConfigScanner().scan(
            member_artifact(data, "config.json", siblings, container), make_ctx()
        )
    )


def rules(findings: list[Finding]) -> set[str]:
    return {f.rule_id for f in findings}


def worst(findings: list[Finding]) -> Severity | None:
    return max((f.severity for f in findings), default=None)


def lambda_code(source: str) -> CodeType:
    """The code object of a lambda expression, compiled only (never called)."""
    consts = compile(source, "<payload>", "eval").co_consts
    return next(c for c in consts if isinstance(c, CodeType))


def lambda_code_b64(source: str = "lambda x: __import__('os').system('id') or x") -> str:
    # Keras writes codecs.encode(marshal.dumps(code), "base64"): lines of 76 characters.
    return base64.encodebytes(marshal.dumps(lambda_code(source))).decode()


# --- realistic benign configs ----------------------------------------------------------


def k3(module: str, class_name: str, config: object, **extra: object) -> Config:
    return {
        "module": module,
        "class_name": class_name,
        "config": config,
        "registered_name": None,
        **extra,
    }


def k3_dtype() -> Config:
    return k3("keras", "DTypePolicy", {"name": "float32"})


def k3_dense(name: str, units: int, activation: str = "relu") -> Config:
    return k3(
        "keras.layers",
        "Dense",
        {
            "name": name,
            "trainable": True,
            "dtype": k3_dtype(),
            "units": units,
            "activation": activation,
            "use_bias": True,
            "kernel_initializer": k3("keras.initializers", "GlorotUniform", {"seed": None}),
            "bias_initializer": k3("keras.initializers", "Zeros", {}),
            "kernel_regularizer": k3("keras.regularizers", "L2", {"l2": 0.0001}),
            "bias_regularizer": None,
            "kernel_constraint": k3("keras.constraints", "MaxNorm", {"max_value": 3, "axis": 0}),
            "bias_constraint": None,
        },
        build_config={"input_shape": [None, 64]},
    )


def k3_sequential(name: str = "sequential") -> Config:
    conv = k3(
        "keras.layers",
        "Conv2D",
        {
            "name": "conv2d",
            "trainable": True,
            "dtype": k3_dtype(),
            "filters": 32,
            "kernel_size": [3, 3],
            "strides": [1, 1],
            "padding": "same",
            "data_format": "channels_last",
            "dilation_rate": [1, 1],
            "groups": 1,
            "activation": "relu",
            "use_bias": True,
            "kernel_initializer": k3("keras.initializers", "HeNormal", {"seed": 42}),
            "bias_initializer": k3("keras.initializers", "Zeros", {}),
        },
        build_config={"input_shape": [None, 28, 28, 1]},
    )
    layers = [
        k3(
            "keras.layers",
            "InputLayer",
            {
                "batch_shape": [None, 28, 28, 1],
                "dtype": "float32",
                "sparse": False,
                "name": "input_layer",
            },
        ),
        conv,
        k3(
            "keras.layers",
            "BatchNormalization",
            {
                "name": "batch_normalization",
                "axis": -1,
                "momentum": 0.99,
                "epsilon": 0.001,
                "center": True,
                "scale": True,
                "beta_initializer": k3("keras.initializers", "Zeros", {}),
                "gamma_initializer": k3("keras.initializers", "Ones", {}),
            },
        ),
        k3(
            "keras.layers",
            "Dropout",
            {"name": "dropout", "rate": 0.25, "seed": None, "noise_shape": None},
        ),
        k3("keras.layers", "Flatten", {"name": "flatten", "data_format": "channels_last"}),
        k3_dense("dense", 64),
        k3_dense("predictions", 10, "softmax"),
    ]
    schedule = k3(
        "keras.optimizers.schedules",
        "ExponentialDecay",
        {
            "initial_learning_rate": 0.01,
            "decay_steps": 1000,
            "decay_rate": 0.9,
            "staircase": False,
            "name": "ExponentialDecay",
        },
    )
    compile_config = {
        "optimizer": k3(
            "keras.optimizers",
            "Adam",
            {
                "name": "adam",
                "learning_rate": schedule,
                "beta_1": 0.9,
                "beta_2": 0.999,
                "epsilon": 1e-07,
                "amsgrad": False,
            },
        ),
        "loss": k3(
            "keras.losses",
            "SparseCategoricalCrossentropy",
            {
                "name": "sparse_categorical_crossentropy",
                "reduction": "sum_over_batch_size",
                "from_logits": False,
                "ignore_class": None,
            },
        ),
        "loss_weights": None,
        "metrics": [
            "accuracy",
            k3(
                "keras.metrics",
                "SparseTopKCategoricalAccuracy",
                {"name": "top5", "dtype": "float32", "k": 5},
            ),
        ],
        "weighted_metrics": None,
        "run_eagerly": False,
        "steps_per_execution": 1,
        "jit_compile": False,
    }
    return k3(
        "keras",
        "Sequential",
        {"name": name, "trainable": True, "dtype": k3_dtype(), "layers": layers},
        build_config={"input_shape": [None, 28, 28, 1]},
        compile_config=compile_config,
    )


def keras_tensor(history: str) -> Config:
    return {
        "class_name": "__keras_tensor__",
        "config": {"shape": [None, 64], "dtype": "float32", "keras_history": [history, 0, 0]},
    }


def k3_functional(inner_layers: list[Config] | None = None) -> Config:
    """Functional model whose body holds a nested Sequential (or the given layers)."""
    inner = k3(
        "keras",
        "Sequential",
        {
            "name": "block",
            "trainable": True,
            "layers": inner_layers or [k3_dense("inner_dense", 64)],
        },
    )
    inner["name"] = "block"
    inner["inbound_nodes"] = [
        {"args": [keras_tensor("input_layer")], "kwargs": {"training": False}}
    ]
    layers = [
        k3(
            "keras.layers",
            "InputLayer",
            {"batch_shape": [None, 64], "dtype": "float32", "name": "input_layer"},
            name="input_layer",
            inbound_nodes=[],
        ),
        inner,
        k3(
            "keras.layers",
            "Add",
            {"name": "add", "trainable": True, "dtype": k3_dtype()},
            name="add",
            inbound_nodes=[
                {"args": [[keras_tensor("block"), keras_tensor("input_layer")]], "kwargs": {}}
            ],
        ),
    ]
    return {
        "module": "keras.src.models.functional",
        "class_name": "Functional",
        "config": {
            "name": "functional",
            "trainable": True,
            "layers": layers,
            "input_layers": [["input_layer", 0, 0]],
            "output_layers": [["add", 0, 0]],
        },
        "registered_name": "Functional",
        "build_config": {"input_shape": None},
    }


def k2_model_config(extra_layers: list[Config] | None = None) -> Config:
    """A Keras 2 (tf.keras) h5 model_config: class_name/config only."""
    layers: list[Config] = [
        {
            "class_name": "InputLayer",
            "config": {
                "batch_input_shape": [None, 20],
                "dtype": "float32",
                "sparse": False,
                "ragged": False,
                "name": "input_1",
            },
        },
        {
            "class_name": "Dense",
            "config": {
                "name": "dense",
                "trainable": True,
                "dtype": "float32",
                "units": 32,
                "activation": "relu",
                "use_bias": True,
                "kernel_initializer": {"class_name": "GlorotUniform", "config": {"seed": None}},
                "bias_initializer": {"class_name": "Zeros", "config": {}},
                "kernel_regularizer": {"class_name": "L1L2", "config": {"l1": 0.0, "l2": 0.01}},
                "bias_regularizer": None,
                "activity_regularizer": None,
                "kernel_constraint": None,
                "bias_constraint": None,
            },
        },
        {
            "class_name": "Dropout",
            "config": {
                "name": "dropout",
                "trainable": True,
                "dtype": "float32",
                "rate": 0.5,
                "noise_shape": None,
                "seed": None,
            },
        },
        *(extra_layers or []),
        {
            "class_name": "Dense",
            "config": {
                "name": "dense_1",
                "trainable": True,
                "dtype": "float32",
                "units": 1,
                "activation": "sigmoid",
                "use_bias": True,
            },
        },
    ]
    return {
        "class_name": "Sequential",
        "config": {"name": "sequential", "layers": layers},
        "keras_version": "2.15.0",
        "backend": "tensorflow",
    }


def k2_training_config() -> Config:
    return {
        "loss": "binary_crossentropy",
        "metrics": [
            [
                {
                    "class_name": "MeanMetricWrapper",
                    "config": {"name": "accuracy", "dtype": "float32", "fn": "binary_accuracy"},
                }
            ]
        ],
        "weighted_metrics": None,
        "loss_weights": None,
        "optimizer_config": {
            "class_name": "Custom>Adam",
            "config": {
                "name": "Adam",
                "learning_rate": 0.001,
                "beta_1": 0.9,
                "beta_2": 0.999,
                "epsilon": 1e-07,
                "amsgrad": False,
                "is_legacy_optimizer": False,
            },
        },
    }


def k2_lambda(name: str = "lambda", code: str | None = None) -> Config:
    return {
        "class_name": "Lambda",
        "config": {
            "name": name,
            "trainable": True,
            "dtype": "float32",
            "function": [code or lambda_code_b64(), None, None],
            "function_type": "lambda",
            "module": "__main__",
            "output_shape": None,
            "output_shape_type": "raw",
            "output_shape_module": None,
            "arguments": {},
        },
    }


def k3_lambda(name: str = "lam") -> Config:
    fn = {
        "class_name": "__lambda__",
        "config": {"code": lambda_code_b64(), "defaults": None, "closure": None},
    }
    return k3(
        "keras.layers", "Lambda", {"name": name, "trainable": True, "function": fn, "arguments": {}}
    )


def write_h5(
    path: Path,
    model_config: object | None,
    training_config: object | None = None,
    *,
    as_str: bool = False,
) -> Path:
    with h5py.File(path, "w") as h5:
        h5.attrs["keras_version"] = "2.15.0"
        h5.attrs["backend"] = "tensorflow"
        for key, value in (("model_config", model_config), ("training_config", training_config)):
            if value is not None:
                text = json.dumps(value)
                h5.attrs[key] = text if as_str else text.encode("utf-8")
        weights = h5.create_group("model_weights")
        weights.attrs["layer_names"] = np.array([b"dense", b"dense_1"])
        dense = weights.create_group("dense")
        dense.attrs["weight_names"] = np.array([b"dense/kernel:0", b"dense/bias:0"])
        dense.create_dataset("dense/kernel:0", data=np.ones((20, 32), dtype="float32"))
    return path


def scan_h5(path: Path, limits: ScanLimits | None = None) -> tuple[list[Finding], ScanContext]:
    ctx = make_ctx(limits)
    return list(KerasH5Scanner().scan(file_artifact(path), ctx)), ctx


# --- the scanners plug into the registry ------------------------------------------------


def test_scanners_satisfy_protocol() -> None:
    h5 = _load("mlwarden.scan.keras_scanner:KerasH5Scanner")
    cfg = _load("mlwarden.scan.keras_scanner:KerasConfigScanner")
    assert isinstance(h5, Scanner)
    assert (h5.id, h5.formats) == ("keras-h5", frozenset({"hdf5"}))
    assert (cfg.id, cfg.formats) == ("keras-config", frozenset({"json"}))


# --- benign configs produce nothing ------------------------------------------------------


@pytest.mark.parametrize(
    "config",
    [
        pytest.param(k3_sequential(), id="keras3-sequential-compiled"),
        pytest.param(k3_functional(), id="keras3-functional-nested-sequential"),
        pytest.param(k2_model_config(), id="keras2-to-json"),
        pytest.param(
            k3(
                "keras.layers",
                "Dense",
                {
                    "name": "d",
                    "activation": k3("builtins", "function", "relu", registered_name="relu"),
                },
            ),
            id="builtins-keras-fn",
        ),
    ],
)
def test_benign_configs_have_no_findings(config: Config) -> None:
    assert scan_json(config) == []


def test_benign_h5_model_and_weights_only(tmp_path: Path) -> None:
    model = write_h5(tmp_path / "model.h5", k2_model_config(), k2_training_config())
    weights = write_h5(tmp_path / "weights.h5", None)
    for path in (model, weights):
        findings, ctx = scan_h5(path)
        assert findings == []
        assert ctx.errors == []
    assert scan_h5(model)[1].stats.get("keras:configs") == 2
    assert "keras:configs" not in scan_h5(weights)[1].stats


@pytest.mark.parametrize(
    ("name", "payload"),
    [
        (
            "tokenizer.json",
            {"version": "1.0", "model": {"type": "BPE", "vocab": {"a": 0}, "merges": ["a b"]}},
        ),
        ("config.json", {"architectures": ["BertModel"], "model_type": "bert", "hidden_size": 768}),
        ("metadata.json", {"keras_version": "3.5.0", "date_saved": "2024-09-01@10:00:00"}),
        ("labels.json", ["cat", "dog", {"class_name": "Lambda"}]),
    ],
)
def test_other_json_is_ignored(name: str, payload: object) -> None:
    data = json.dumps(payload).encode()
    hf_siblings = frozenset({"model.safetensors", "tokenizer.json"})
    for siblings in (frozenset(), hf_siblings):
        artifact = member_artifact(data, name, siblings, "zip" if siblings else None)
        assert list(KerasConfigScanner().scan(artifact, make_ctx())) == []


def test_invalid_json_is_silent_unless_keras_archive() -> None:
    broken = b'{"class_name": "Sequential", "config": '
    plain = member_artifact(broken, "model.json", container=None)
    assert list(KerasConfigScanner().scan(plain, make_ctx())) == []
    keras = member_artifact(broken, "config.json", KERAS_ZIP_SIBLINGS)
    with pytest.raises(MalformedInput):
        list(KerasConfigScanner().scan(keras, make_ctx()))


# --- malicious configs are caught ---------------------------------------------------------


def _nested_lambda_model() -> Config:
    """Lambda inside TimeDistributed inside a nested Functional model inside a Functional."""
    wrapped = k3(
        "keras.layers", "TimeDistributed", {"name": "td", "layer": k3_lambda("deep_lambda")}
    )
    nested = k3_functional([wrapped])
    nested["config"]["name"] = "nested_model"
    return k3_functional([nested])


def _fn(module: str, name: str) -> Config:
    return {"module": module, "class_name": "function", "config": name, "registered_name": name}


def _with_loss(loss: object) -> Config:
    config = k3_sequential()
    config["compile_config"]["loss"] = loss
    return config


def _with_layer(layer: Config) -> Config:
    config = k3_sequential()
    config["config"]["layers"].insert(3, layer)
    return config


def _dense_with(key: str, value: object) -> Config:
    layer = k3_dense("dense_x", 8)
    layer["config"][key] = value
    return _with_layer(layer)


CVE_2025_9906 = k3(
    "keras.layers",
    "Lambda",
    {
        "name": "unsafe",
        "function": _fn("keras.config", "enable_unsafe_deserialization"),
        "arguments": {},
    },
)
LOAD_MODEL_GADGET = k3(
    "keras.layers",
    "Lambda",
    {
        "name": "loader",
        "function": _fn("keras.models", "load_model"),
        "arguments": {"safe_mode": False},
    },
)
TFSM = k3(
    "keras.layers",
    "TFSMLayer",
    {"name": "tfsm", "filepath": "/tmp/exported", "call_endpoint": "serve"},
)

MALICIOUS: list[tuple[str, Config, str, Severity, str]] = [
    (
        "keras2-lambda-top",
        k2_model_config([k2_lambda("evil_lambda")]),
        "SCAN-KER-001",
        Severity.CRITICAL,
        "evil_lambda",
    ),
    ("keras3-lambda", _with_layer(k3_lambda("lam")), "SCAN-KER-001", Severity.CRITICAL, "lam"),
    ("lambda-3-deep", _nested_lambda_model(), "SCAN-KER-001", Severity.CRITICAL, "deep_lambda"),
    (
        "lambda-obj-in-activation",
        _dense_with(
            "activation",
            {"class_name": "__lambda__", "config": {"value": [lambda_code_b64(), None, None]}},
        ),
        "SCAN-KER-001",
        Severity.CRITICAL,
        "dense_x",
    ),
    (
        "marshal-in-odd-field",
        _dense_with("comment", lambda_code_b64()),
        "SCAN-KER-001",
        Severity.CRITICAL,
        "dense_x",
    ),
    (
        "builtins-eval",
        _dense_with("activation", _fn("builtins", "eval")),
        "SCAN-KER-002",
        Severity.CRITICAL,
        "dense_x: builtins.eval",
    ),
    (
        "os-system",
        _dense_with("activation", _fn("os", "system")),
        "SCAN-KER-002",
        Severity.CRITICAL,
        "dense_x: os.system",
    ),
    (
        "loss-gadget",
        _with_loss(_fn("subprocess", "check_output")),
        "SCAN-KER-002",
        Severity.CRITICAL,
        "sequential: subprocess.check_output",
    ),
    (
        "class-from-os",
        _with_layer(k3("os", "system", {"name": "x"})),
        "SCAN-KER-002",
        Severity.CRITICAL,
        "x: os.system",
    ),
    (
        "enable-unsafe",
        _with_layer(CVE_2025_9906),
        "SCAN-KER-002",
        Severity.CRITICAL,
        "unsafe: keras.config.enable_unsafe_deserialization",
    ),
    (
        "load-model-gadget",
        _with_layer(LOAD_MODEL_GADGET),
        "SCAN-KER-004",
        Severity.HIGH,
        "loader: keras.models.load_model",
    ),
    ("tfsm-layer", _with_layer(TFSM), "SCAN-KER-004", Severity.HIGH, "tfsm"),
    (
        "legacy-lambda-os",
        k2_model_config(
            [
                {
                    "class_name": "Lambda",
                    "config": {
                        "name": "l2",
                        "function": "system",
                        "function_type": "function",
                        "module": "os",
                    },
                }
            ]
        ),
        "SCAN-KER-002",
        Severity.CRITICAL,
        "l2: os",
    ),
    (
        "stdlib-module",
        _dense_with("activation", _fn("collections", "OrderedDict")),
        "SCAN-KER-002",
        Severity.MEDIUM,
        "dense_x: collections.OrderedDict",
    ),
    (
        "nested-json-string",
        _dense_with(
            "note",
            json.dumps(
                k2_lambda("hidden")["config"]
                | {"x": {"class_name": "Lambda", "config": {"name": "hidden"}}}
            ),
        ),
        "SCAN-KER-001",
        Severity.CRITICAL,
        "hidden",
    ),
    (
        "tf-op-write-file",
        k2_model_config(
            [
                {
                    "class_name": "TFOpLambda",
                    "config": {"name": "tf.io.write_file", "function": "io.write_file"},
                }
            ]
        ),
        "SCAN-KER-002",
        Severity.HIGH,
        "tf.io.write_file: tf.io.write_file",
    ),
]


@pytest.mark.parametrize(
    ("config", "rule", "severity", "evidence"),
    [pytest.param(c, r, s, e, id=i) for i, c, r, s, e in MALICIOUS],
)
def test_malicious_config_json(
    config: Config, rule: str, severity: Severity, evidence: str
) -> None:
    findings = scan_json(config)
    hits = [f for f in findings if f.rule_id == rule and f.evidence == evidence]
    assert hits, findings
    assert hits[0].severity == severity
    assert hits[0].location.member == "config.json"


@pytest.mark.parametrize(
    ("config", "rule", "severity", "evidence"),
    [pytest.param(c, r, s, e, id=i) for i, c, r, s, e in MALICIOUS[:3]],
)
def test_malicious_model_to_json_file(
    config: Config, rule: str, severity: Severity, evidence: str
) -> None:
    """Outside a .keras zip, a JSON file that is a Keras config is analysed too."""
    findings = scan_json(config, siblings=frozenset())
    assert any(
        f.rule_id == rule and f.evidence == evidence and f.severity == severity for f in findings
    )


def test_one_finding_per_lambda_layer() -> None:
    findings = scan_json(_with_layer(k3_lambda("lam")))
    assert [f.rule_id for f in findings] == ["SCAN-KER-001"]


def test_safe_mode_false_is_reported() -> None:
    findings = scan_json(_with_layer(LOAD_MODEL_GADGET))
    messages = [f.message for f in findings if f.rule_id == "SCAN-KER-004"]
    assert any("safe_mode=False" in m for m in messages)
    assert any("load_model" in m for m in messages)


def test_custom_objects_stay_low() -> None:
    registered = k3(
        "my_project.layers",
        "Residual",
        {"name": "res", "units": 8},
        registered_name="MyPackage>Residual",
    )
    registered_no_module = {
        "class_name": "Residual",
        "config": {"name": "r2"},
        "module": None,
        "registered_name": "MyPackage>Residual",
    }
    unregistered = _fn("my_project.losses", "focal_loss")
    config = _with_loss(unregistered)
    config["config"]["layers"][3:3] = [registered, registered_no_module]
    findings = scan_json(config)
    assert rules(findings) == {"SCAN-KER-003"}
    assert worst(findings) == Severity.LOW
    legacy = k2_model_config([{"class_name": "AttentionPooling", "config": {"name": "pool"}}])
    legacy_findings = scan_json(legacy)
    assert [(f.rule_id, f.severity, f.evidence) for f in legacy_findings] == [
        ("SCAN-KER-003", Severity.LOW, "pool: AttentionPooling")
    ]


def test_keras_package_prefixes_are_trusted() -> None:
    layer = k3(
        "keras_hub.src.models.bert.bert_backbone",
        "BertBackbone",
        {"name": "bert"},
        registered_name="keras_hub>BertBackbone",
    )
    assert scan_json(_with_layer(layer)) == []


def test_walk_survives_deep_nesting() -> None:
    deep: object = k3_lambda("bottom")
    for _ in range(900):
        deep = [deep]
    assert [f.evidence for f in scan_json(_dense_with("extra", deep))] == ["bottom"]


def test_unparseably_deep_json_is_reported_not_raised() -> None:
    data = b'{"class_name": "Sequential", "config": ' + b"[" * 200_000 + b"]" * 200_000 + b"}"
    artifact = member_artifact(data, "config.json", KERAS_ZIP_SIBLINGS)
    findings = list(KerasConfigScanner().scan(artifact, make_ctx()))
    assert rules(findings) == {"SCAN-GEN-001"}


def test_config_over_limit_raises_scan_limit() -> None:
    data = json.dumps(k3_sequential()).encode()
    artifact = member_artifact(data, "config.json", KERAS_ZIP_SIBLINGS)
    with pytest.raises(ScanLimitExceeded):
        list(KerasConfigScanner().scan(artifact, make_ctx(ScanLimits(max_header_bytes=512))))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (lambda_code_b64(), True),
        (lambda_code_b64("lambda x, y=2: x * y"), True),
        (marshal.dumps(lambda_code("lambda: 1")).decode("latin-1"), True),
        ("categorical_crossentropy_with_a_long_name", False),
        (base64.b64encode(b"just some harmless bytes, nothing to see").decode(), False),
        ("c" * 40, False),
    ],
)
def test_marshal_detection(text: str, expected: bool) -> None:
    assert looks_like_marshal_code(text) is expected


# --- HDF5 ----------------------------------------------------------------------------------


def test_h5_lambda_and_training_config_gadget(tmp_path: Path) -> None:
    training = k2_training_config()
    training["loss"] = {
        "class_name": "function",
        "config": "system",
        "module": "os",
        "registered_name": "system",
    }
    path = write_h5(tmp_path / "evil.h5", k2_model_config([k2_lambda("evil")]), training)
    findings, _ = scan_h5(path)
    by_rule = {f.rule_id: f for f in findings}
    assert by_rule["SCAN-KER-001"].evidence == "evil"
    assert by_rule["SCAN-KER-001"].message.startswith("model_config:")
    assert by_rule["SCAN-KER-002"].severity == Severity.CRITICAL
    assert by_rule["SCAN-KER-002"].message.startswith("training_config:")


def test_h5_str_attributes(tmp_path: Path) -> None:
    path = write_h5(tmp_path / "m.h5", k2_model_config([k2_lambda("s")]), as_str=True)
    assert rules(scan_h5(path)[0]) == {"SCAN-KER-001"}


def test_h5_member_stream(tmp_path: Path) -> None:
    data = write_h5(tmp_path / "m.h5", k2_model_config([k2_lambda("in_zip")])).read_bytes()
    artifact = member_artifact(data, "model.h5")
    findings = list(KerasH5Scanner().scan(artifact, make_ctx()))
    assert [f.evidence for f in findings] == ["in_zip"]


def test_h5_attribute_over_limit(tmp_path: Path) -> None:
    path = write_h5(tmp_path / "m.h5", k2_model_config())
    with pytest.raises(ScanLimitExceeded):
        scan_h5(path, ScanLimits(max_header_bytes=256))


@pytest.fixture
def no_h5py(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "h5py", None)


def test_fallback_without_h5py(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    evil = write_h5(
        tmp_path / "evil.h5", k2_model_config([k2_lambda("carved")]), k2_training_config()
    )
    benign = write_h5(tmp_path / "ok.h5", k2_model_config(), k2_training_config())
    monkeypatch.setitem(sys.modules, "h5py", None)  # after writing: h5py imports lazily
    findings, ctx = scan_h5(evil)
    assert ctx.stats.get("keras-h5:carved") == 1
    assert [(f.rule_id, f.evidence) for f in findings] == [("SCAN-KER-001", "carved")]
    assert findings[0].location.offset is not None
    assert scan_h5(benign)[0] == []


@pytest.mark.usefixtures("no_h5py")
def test_fallback_carving_across_chunks_and_junk() -> None:
    config = k2_model_config([k2_lambda("far")])
    config["config"]["padding"] = "x" * (3 * 1024 * 1024)  # spans several 1 MiB chunks
    text = json.dumps(config).encode()
    junk = b'\x00{"class_name": "unterminated \\" {{{' + b"\x00" * 1500
    data = HDF5_MAGIC + junk + b"\xff" * (1024 * 1024 - 20) + text + b"\x00" * 100
    findings = list(KerasH5Scanner().scan(member_artifact(data, "w.h5"), make_ctx()))
    assert [(f.rule_id, f.evidence) for f in findings] == [("SCAN-KER-001", "far")]
    assert findings[0].location.offset == data.index(text)


def test_h5py_failure_falls_back_to_carving(tmp_path: Path) -> None:
    path = tmp_path / "truncated.h5"
    path.write_bytes(HDF5_MAGIC + b"\x00" * 64 + json.dumps(k2_lambda("t")).encode() + b"\x00" * 64)
    findings, ctx = scan_h5(path)
    assert [(f.rule_id, f.evidence) for f in findings] == [("SCAN-KER-001", "t")]
    assert ctx.errors
    assert "h5py" in ctx.errors[0].error


@pytest.mark.usefixtures("no_h5py")
def test_fallback_bounds_candidates() -> None:
    data = HDF5_MAGIC + b'{"module": 1, ' * 300
    with pytest.raises(ScanLimitExceeded):
        list(KerasH5Scanner().scan(member_artifact(data, "w.h5"), make_ctx()))


# --- a .keras archive, member by member ------------------------------------------------


def _keras_zip(tmp_path: Path, config: Config) -> Path:
    weights = write_h5(tmp_path / "model.weights.h5", None).read_bytes()
    path = tmp_path / "model.keras"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(
            "metadata.json",
            json.dumps({"keras_version": "3.5.0", "date_saved": "2024-09-01@10:00:00"}),
        )
        zf.writestr("config.json", json.dumps(config))
        zf.writestr("model.weights.h5", weights)
    return path


def _scan_keras_zip(path: Path) -> list[Finding]:
    out: list[Finding] = []
    with zipfile.ZipFile(path) as zf:
        names = frozenset(zf.namelist())
        for name in sorted(names):
            data = zf.read(name)
            artifact = member_artifact(data, name, names - {name})
            scanner = KerasH5Scanner() if data.startswith(HDF5_MAGIC) else KerasConfigScanner()
            out.extend(scanner.scan(artifact, make_ctx()))
    return out


def test_keras_archive_members(tmp_path: Path) -> None:
    benign = _keras_zip(tmp_path, k3_functional())
    assert _scan_keras_zip(benign) == []
    evil_config = copy.deepcopy(k3_sequential())
    evil_config["config"]["layers"].append(CVE_2025_9906)
    evil = _keras_zip(tmp_path, evil_config)
    findings = _scan_keras_zip(evil)
    assert worst(findings) == Severity.CRITICAL
    assert {f.location.member for f in findings} == {"config.json"}


def test_unsafe_toggle_reported_once_per_reference() -> None:
    findings = scan_json(_with_layer(CVE_2025_9906))
    assert sorted(f.rule_id for f in findings) == ["SCAN-KER-001", "SCAN-KER-002"]
    hidden = _dense_with("arguments", {"fn": "keras.config.enable_unsafe_deserialization"})
    [hit] = scan_json(hidden)
    assert (hit.rule_id, hit.severity) == ("SCAN-KER-002", Severity.CRITICAL)


def test_safe_mode_true_and_empty_paths_are_benign() -> None:
    config = _dense_with("arguments", {"safe_mode": True})
    config["config"]["layers"][3]["config"]["filepath"] = ""
    assert scan_json(config) == []


def test_main_module_custom_object_is_low() -> None:
    layer = k3("__main__", "MyBlock", {"name": "blk"})
    [hit] = scan_json(_with_layer(layer))
    assert (hit.rule_id, hit.severity, hit.evidence) == (
        "SCAN-KER-003",
        Severity.LOW,
        "blk: __main__.MyBlock",
    )
