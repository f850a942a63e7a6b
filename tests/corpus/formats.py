"""Malicious non-pickle formats: ONNX (external-data paths, custom domains, malformed),
GGUF (chat-template injection, malformed), safetensors (malformed headers), TensorFlow
SavedModel (dangerous ops) and TorchScript (custom ops). Keras files are in
``keras_files.py``. SavedModel protobuf is hand-encoded (TensorFlow is not installed).
"""

from __future__ import annotations

import functools
import io
import struct
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.corpus._spec import Marker, Spec, mal

ONNX_PATH = frozenset({"SCAN-ONNX-001"})
ST_BAD = frozenset({"SCAN-ST-001"})


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
    return [*_onnx_rows(), *_gguf_rows(), *_safetensors_rows(), *_graph_rows()]
