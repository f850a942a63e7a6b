"""The bundled demo: a small folder of realistic model files, a few with planted payloads.

Payloads are harmless (they would only echo a message) and are never executed: the files are
written with the standard pickle machinery from objects whose ``__reduce__`` names the call.
scikit-learn and numpy (the ``demo`` extra) make the benign files realistic; without them
the demo falls back to standard-library values.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import pickle
import struct
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_ECHO = "echo mlwarden-demo-payload"


@dataclass(frozen=True)
class DemoFile:
    """One file of the demo folder and what the scanner should say about it."""

    relpath: str
    malicious: bool
    story: str


class _Payload:
    """Pickles as a call to os.system (the classic model-file attack); never called here."""

    def __reduce__(self) -> tuple[Any, ...]:
        return (os.system, (_ECHO,))


def _benign_model() -> Any:
    try:
        from sklearn.datasets import load_breast_cancer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler
    except ImportError:
        return {"weights": [0.1, 0.2, 0.3], "bias": 0.5, "classes": ("benign", "malignant")}
    x, y = load_breast_cancer(return_X_y=True)
    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)).fit(x, y)


def _safetensors(tensors: dict[str, list[float]]) -> bytes:
    header: dict[str, Any] = {"__metadata__": {"format": "pt"}}
    data, offset = b"", 0
    for name, values in tensors.items():
        raw = struct.pack(f"<{len(values)}f", *values)
        header[name] = {
            "dtype": "F32",
            "shape": [len(values)],
            "data_offsets": [offset, offset + len(raw)],
        }
        data += raw
        offset += len(raw)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + data


def _npy(values: list[float]) -> bytes:
    header = f"{{'descr': '<f8', 'fortran_order': False, 'shape': ({len(values)},), }}"
    header += " " * (-(len(header) + 11) % 64) + "\n"
    return (
        b"\x93NUMPY\x01\x00"
        + struct.pack("<H", len(header))
        + header.encode()
        + struct.pack(f"<{len(values)}d", *values)
    )


def _memo_stack_global() -> bytes:
    """A protocol-4 pickle that hides os.system behind memoised STACK_GLOBAL operands."""

    def short(text: str) -> bytes:
        raw = text.encode()
        return b"\x8c" + bytes([len(raw)]) + raw + b"\x94"

    body = short("os") + short("system") + b"h\x00h\x01\x93" + short(_ECHO) + b"\x85R."
    return b"\x80\x04" + body


def _keras_lambda() -> bytes:
    config = {
        "class_name": "Sequential",
        "config": {
            "name": "seq",
            "layers": [
                {"class_name": "Dense", "config": {"name": "d", "units": 4}},
                {
                    "class_name": "Lambda",
                    "config": {
                        "name": "l",
                        "function": {
                            "class_name": "__lambda__",
                            "config": {"code": "4wEAAAAAAAAA"},
                        },
                    },
                },
            ],
        },
    }
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("metadata.json", json.dumps({"keras_version": "3.6.0"}))
        zf.writestr("config.json", json.dumps(config))
    return buf.getvalue()


def build_demo_folder(dest: str | Path) -> list[DemoFile]:
    """Write the demo files into ``dest`` and return the table of what each one is."""
    root = Path(dest)
    (root / "models").mkdir(parents=True, exist_ok=True)
    model = _benign_model()
    files: dict[str, tuple[bytes, bool, str]] = {
        "models/classifier.pkl": (
            pickle.dumps(model, protocol=4),
            False,
            "scikit-learn pipeline saved with pickle",
        ),
        "models/classifier.pkl.gz": (
            gzip.compress(pickle.dumps(model, protocol=5)),
            False,
            "the same model, gzip-compressed",
        ),
        "models/weights.safetensors": (
            _safetensors({"w": [0.5, -1.0, 2.0], "b": [0.1]}),
            False,
            "weights in safetensors (cannot run code)",
        ),
        "models/embeddings.npy": (_npy([0.0, 1.0, 2.0]), False, "numeric numpy array"),
        "downloads/model.pkl": (
            pickle.dumps({"model": model, "hook": _Payload()}, protocol=2),
            True,
            "classic os.system payload inside a real model",
        ),
        "downloads/fast_model.pkl": (
            _memo_stack_global(),
            True,
            "os.system hidden behind memoised STACK_GLOBAL operands",
        ),
        "downloads/model.pkl.gz": (
            gzip.compress(pickle.dumps(_Payload(), protocol=3)),
            True,
            "payload inside a gzip-compressed pickle",
        ),
        "downloads/classifier.keras": (
            _keras_lambda(),
            True,
            "Keras model with a Lambda layer (bytecode)",
        ),
    }
    table = []
    for rel, (data, malicious, story) in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        table.append(DemoFile(rel, malicious, story))
    return table
