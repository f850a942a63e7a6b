"""Benign non-pickle files users really save: numpy .npy/.npz, safetensors, ONNX (skl2onnx,
torch.onnx, external data beside the model), h5 weights, Keras configs (legacy h5 and .keras),
GGUF with real chat templates, and a SageMaker-style ``model.tar.gz``.

They are the look-alikes of the malicious rows in ``formats.py`` and ``containers.py``: the
same containers and keys, harmless content.
"""

from __future__ import annotations

import functools
import io
import json
import tarfile
from pathlib import Path
from typing import Any

from tests.corpus._spec import Marker, Spec, ben
from tests.corpus.benign import sklearn_model
from tests.corpus.formats import CHATML, onnx_model, write_gguf
from tests.corpus.keras_files import (
    dense,
    keras2_sequential,
    keras3_sequential,
    keras3_zip,
    write_keras_h5,
)

LLAMA3 = (
    "{% set loop_messages = messages %}{% for message in loop_messages %}"
    "{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'"
    " + message['content'] | trim + '<|eot_id|>' %}"
    "{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}"
    "{{ content }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}"
    "{% endif %}"
)
_NP = ("numpy",)


def _arrays() -> dict[str, Any]:
    import numpy as np

    return {
        "float32": np.linspace(0, 1, 12, dtype=np.float32).reshape(3, 4),
        "int64": np.arange(10, dtype=np.int64),
        "structured": np.array([(1.5, 2), (0.5, 1)], dtype=[("x", "<f4"), ("label", "<i4")]),
        "bool": np.array([True, False, True]),
        "unicode": np.array(["cat", "dog", "bird"]),
        "bytes": np.array([b"ab", b"cd"], dtype="S2"),
        "fortran": np.asfortranarray(np.ones((2, 3))),
        "big_endian": np.arange(3, dtype=">f8"),
        "scalar": np.array(3.5),
        "empty": np.zeros((0, 4), dtype=np.float16),
    }


def _npy(name: str) -> Any:
    def make(m: Marker) -> bytes:
        import numpy as np

        buf = io.BytesIO()
        np.save(buf, _arrays()[name], allow_pickle=False)
        return buf.getvalue()

    return make


def _npz(compressed: bool) -> Any:
    def write(path: Path, m: Marker) -> None:
        import numpy as np

        (np.savez_compressed if compressed else np.savez)(path, **_arrays())

    return write


def _object_strings(m: Marker) -> bytes:
    import numpy as np

    buf = io.BytesIO()
    np.save(buf, np.array(["cat", "dog", None], dtype=object), allow_pickle=True)
    return buf.getvalue()


def _numpy_rows() -> list[Spec]:
    rows = [
        ben(
            f"numpy/{name}.npy",
            "npy",
            f"np.save of a {name} array",
            _npy(name),
            loader="numpy-safe",
            needs=_NP,
            quick=name in ("float32", "structured"),
        )
        for name in (
            "float32",
            "int64",
            "structured",
            "bool",
            "unicode",
            "bytes",
            "fortran",
            "big_endian",
            "scalar",
            "empty",
        )
    ]
    return [
        *rows,
        ben(
            "numpy/object_strings.npy",
            "npy-object",
            "object array of str/None (allow_pickle)",
            _object_strings,
            loader="numpy",
            needs=_NP,
            quick=True,
        ),
        ben(
            "numpy/arrays.npz",
            "npz",
            "np.savez of every dtype above",
            write=_npz(False),
            loader="numpy-safe",
            needs=_NP,
            quick=True,
        ),
        ben(
            "numpy/arrays_compressed.npz",
            "npz",
            "np.savez_compressed",
            write=_npz(True),
            loader="numpy-safe",
            needs=_NP,
        ),
    ]


def _safetensors_numpy(path: Path, m: Marker) -> None:
    from safetensors.numpy import save_file

    arrays = {k: v for k, v in _arrays().items() if k in ("float32", "int64", "bool", "empty")}
    save_file(arrays, str(path), metadata={"format": "np", "source": "corpus"})


def _safetensors_torch(path: Path, m: Marker) -> None:
    import torch
    from safetensors.torch import save_file

    from tests.corpus.benign import torch_net

    state = {k: v.contiguous() for k, v in torch_net().state_dict().items()}
    state["half"] = torch.ones(3, dtype=torch.float16)
    save_file(state, str(path), metadata={"format": "pt"})


def _onnx_sklearn(name: str) -> Any:
    def make(m: Marker) -> bytes:
        from skl2onnx import convert_sklearn
        from skl2onnx.common.data_types import FloatTensorType

        model = convert_sklearn(
            sklearn_model(name), initial_types=[("x", FloatTensorType([None, 4]))]
        )
        return bytes(model.SerializeToString())

    return make


def _onnx_torch(path: Path, m: Marker) -> None:
    import torch

    from tests.corpus.benign import torch_net

    torch.onnx.export(torch_net(), (torch.ones(1, 4),), str(path), dynamo=False)


def _ml_rows() -> list[Spec]:
    onnx_sk = ("onnx", "skl2onnx", "sklearn")
    return [
        ben(
            "safetensors/numpy.safetensors",
            "safetensors",
            "safetensors.numpy.save_file",
            write=_safetensors_numpy,
            loader="safetensors",
            needs=("safetensors", "numpy"),
            quick=True,
        ),
        ben(
            "safetensors/torch.safetensors",
            "safetensors",
            "safetensors.torch.save_file",
            write=_safetensors_torch,
            loader="safetensors",
            needs=("safetensors", "torch"),
        ),
        ben(
            "onnx/logreg.onnx",
            "onnx-skl2onnx",
            "skl2onnx of StandardScaler+LogisticRegression (ai.onnx.ml domain)",
            _onnx_sklearn("scaler_logreg"),
            loader="onnx",
            needs=onnx_sk,
            quick=True,
        ),
        ben(
            "onnx/random_forest.onnx",
            "onnx-skl2onnx",
            "skl2onnx of a RandomForestClassifier",
            _onnx_sklearn("random_forest"),
            loader="onnx",
            needs=onnx_sk,
        ),
        ben(
            "onnx/torch_export.onnx",
            "onnx-torch",
            "torch.onnx.export (TorchScript exporter)",
            write=_onnx_torch,
            loader="onnx",
            needs=("onnx", "torch"),
        ),
        ben(
            "onnx/external/model.onnx",
            "onnx-external-data",
            "initializer stored in weights.bin beside the model (plain relative name)",
            lambda m: bytes(onnx_model(location="weights.bin").SerializeToString()),
            loader="onnx",
            needs=("onnx", "numpy"),
        ),
        ben(
            "onnx/external/weights.bin",
            "onnx-external-data",
            "the raw external tensor data",
            lambda m: b"\x00\x00\x80\x3f" * 4,
        ),
    ]


def _h5_weights(path: Path, m: Marker) -> None:
    import h5py
    import numpy as np

    with h5py.File(path, "w") as f:
        f.create_dataset("layers/dense/vars/0", data=np.ones((4, 8), dtype=np.float32))
        f.create_dataset("layers/dense/vars/1", data=np.zeros(8, dtype=np.float32))
        f.attrs["note"] = "weights only"


def _keras3_weights() -> bytes:
    import h5py
    import numpy as np

    buf = io.BytesIO()
    with h5py.File(buf, "w") as f:
        f.create_dataset("_layer_checkpoint_dependencies/dense/vars/0", data=np.ones((4, 8)))
    return buf.getvalue()


def _keras_rows() -> list[Spec]:
    h5 = ("h5py", "numpy")
    legacy = keras2_sequential([dense("dense", 8), dense("head", 2, "softmax")])
    k3 = keras3_sequential([dense("dense", 8, k3=True), dense("head", 2, "softmax", k3=True)])
    return [
        ben(
            "h5/weights.h5",
            "h5-weights",
            "plain h5py datasets, no model_config",
            write=_h5_weights,
            loader="h5",
            needs=h5,
            quick=True,
        ),
        ben(
            "keras/sequential_dense.h5",
            "keras-h5",
            "legacy Keras h5, two Dense layers",
            write=lambda p, m: write_keras_h5(p, legacy),
            loader="h5",
            needs=h5,
            quick=True,
        ),
        ben(
            "keras/sequential_dense.keras",
            "keras-v3",
            "Keras 3 .keras with two Dense layers",
            lambda m: keras3_zip(k3, weights=_keras3_weights()),
            loader="zip",
            needs=h5,
            quick=True,
        ),
    ]


def _gguf_rows() -> list[Spec]:
    g = ("gguf", "numpy")
    return [
        ben(
            "gguf/chatml.gguf",
            "gguf",
            "GGUF with a ChatML chat template",
            write=lambda p, m: write_gguf(p, CHATML),
            loader="gguf-jinja",
            needs=g,
            quick=True,
        ),
        ben(
            "gguf/llama3.gguf",
            "gguf",
            "GGUF with a Llama-3 style chat template",
            write=lambda p, m: write_gguf(p, LLAMA3.replace("bos_token + ", "'' + ")),
            loader="gguf-jinja",
            needs=g,
        ),
        ben(
            "gguf/no_template.gguf",
            "gguf",
            "GGUF without a chat template",
            write=lambda p, m: write_gguf(p, None),
            loader="gguf",
            needs=g,
        ),
    ]


def _sagemaker_tar(path: Path, m: Marker) -> None:
    import joblib

    model = io.BytesIO()
    joblib.dump(sklearn_model("scaler_logreg"), model)
    members = {
        "model.joblib": model.getvalue(),
        "code/inference.json": json.dumps({"framework": "sklearn"}).encode(),
    }
    with tarfile.open(path, "w:gz") as tar:
        for name, body in members.items():
            info = tarfile.TarInfo(name)
            info.size, info.mtime = len(body), 0
            tar.addfile(info, io.BytesIO(body))


def _json_bytes(data: object, m: Marker) -> bytes:
    return json.dumps(data, indent=2).encode()


def _hf_json() -> list[Spec]:
    config = {
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "hidden_size": 64,
        "num_hidden_layers": 2,
        "torch_dtype": "float16",
        "transformers_version": "4.46.0",
        "auto_map": {"AutoConfig": "configuration_tiny.TinyConfig"},
    }
    tokenizer = {
        "bos_token": "<s>",
        "eos_token": "</s>",
        "model_max_length": 2048,
        "tokenizer_class": "LlamaTokenizer",
        "chat_template": LLAMA3,
    }
    index = {
        "metadata": {"total_size": 1024},
        "weight_map": {
            "lm_head.weight": "model-00002-of-00002.safetensors",
            "model.embed_tokens.weight": "model-00001-of-00002.safetensors",
        },
    }
    return [
        ben(f"hf/{name}", "hf-json", note, functools.partial(_json_bytes, data))
        for name, data, note in (
            ("config.json", config, "transformers config.json"),
            ("tokenizer_config.json", tokenizer, "tokenizer_config.json with a Llama-3 template"),
            ("model.safetensors.index.json", index, "sharded safetensors index"),
        )
    ]


def specs() -> list[Spec]:
    """Every benign non-pickle spec."""
    return [
        *_numpy_rows(),
        *_ml_rows(),
        *_keras_rows(),
        *_gguf_rows(),
        *_hf_json(),
        ben(
            "archives/model.tar.gz",
            "sagemaker-tar",
            "SageMaker-style model.tar.gz with a joblib model and a JSON config",
            write=_sagemaker_tar,
            needs=("sklearn", "joblib"),
        ),
    ]
