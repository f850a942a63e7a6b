"""Load corpus files the way their victims would, to prove the corpus means what it says.

Used only by the corpus self-check, in a child process with its own marker directory:
every malicious sample with a ``loader`` must create its marker when loaded, and every benign
sample must load without error. Run as::

    python -m tests.corpus.loaders CORPUS_DIR < [[relpath, loader], ...] (JSON on stdin)

and it prints ``{relpath: "ok" | "<ExceptionName>: message"}`` as JSON on stdout.
"""

from __future__ import annotations

import bz2
import contextlib
import gzip
import io
import json
import lzma
import os
import pickle
import sys
import zlib
from collections.abc import Callable
from pathlib import Path


def _pickle_all(path: Path) -> None:
    with path.open("rb") as f:
        while f.read(1):
            f.seek(-1, os.SEEK_CUR)
            pickle.load(f)


def _decompress(data: bytes) -> bytes:
    if data[:2] == b"\x1f\x8b":
        return gzip.decompress(data)
    if data[:3] == b"BZh":
        return bz2.decompress(data)
    if data[:6] == b"\xfd7zXZ\x00" or data[:1] == b"\x5d":
        return lzma.decompress(data)
    return zlib.decompress(data)


def _torch(path: Path, *, weights_only: bool) -> None:
    import torch

    torch.load(path, weights_only=weights_only)


def _numpy(path: Path, *, allow_pickle: bool) -> None:
    import numpy as np

    loaded = np.load(path, allow_pickle=allow_pickle)
    if hasattr(loaded, "files"):
        for key in loaded.files:
            loaded[key]


def _other(path: Path, kind: str) -> None:
    if kind == "joblib":
        import joblib

        joblib.load(path)
    elif kind == "safetensors":
        from safetensors.numpy import load_file

        load_file(str(path))
    elif kind == "onnx":
        import onnx

        onnx.checker.check_model(onnx.load(str(path)))
    elif kind == "h5":
        import h5py

        with h5py.File(path, "r") as f:
            f.visit(lambda name: None)
    elif kind == "gguf":
        import gguf

        gguf.GGUFReader(path)
    elif kind == "archive-pickles":
        _member_pickles(path.read_bytes())
    elif kind == "keras-lambda":
        _keras_lambdas(path)
    elif kind == "gguf-jinja":
        _render_gguf_template(path)
    elif kind == "torchscript":
        import torch

        torch.jit.load(str(path))
    elif kind == "zip":
        import zipfile

        with zipfile.ZipFile(path) as z:
            if z.testzip() is not None:
                raise ValueError("bad member")
    else:
        raise ValueError(f"unknown loader {kind!r}")


class _NoPersistence(pickle.Unpickler):
    def persistent_load(self, pid: object) -> None:
        return None


def _member_pickles(data: bytes, depth: int = 0) -> None:
    """Unpickle every pickle member of (nested) zip/tar/7z archives, ignoring errors."""
    import tarfile
    import zipfile

    members: list[bytes] = []
    if zipfile.is_zipfile(io.BytesIO(data)):
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            members = [z.read(i) for i in z.infolist() if not i.is_dir()]
    elif data[:6] == b"7z\xbc\xaf\x27\x1c":
        import tempfile

        import py7zr

        with tempfile.TemporaryDirectory() as tmp, py7zr.SevenZipFile(io.BytesIO(data)) as z:
            z.extractall(path=tmp)  # noqa: S202 - our own generated archive, into a temp dir
            members = [p.read_bytes() for p in Path(tmp).rglob("*") if p.is_file()]
    else:
        with contextlib.suppress(tarfile.TarError), tarfile.open(fileobj=io.BytesIO(data)) as t:
            files = (t.extractfile(i) for i in t.getmembers() if i.isfile())
            members = [f.read() for f in files if f is not None]
        if not members:
            with contextlib.suppress(Exception):
                _NoPersistence(io.BytesIO(data)).load()
            return
    for member in members:
        if depth < 20:
            _member_pickles(member, depth + 1)


def _keras_lambdas(path: Path) -> None:
    """What Keras' func_load does with a Lambda's marshalled code (legacy h5 or .keras)."""
    import base64
    import marshal
    import types
    import zipfile

    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as z:
            config = json.loads(z.read("config.json"))
    else:
        import h5py

        with h5py.File(path, "r") as f:
            config = json.loads(f.attrs["model_config"])
    stack = [config]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            code = _lambda_code(node)
            if code:
                raw = marshal.loads(base64.b64decode(code))  # noqa: S302 - what Keras does
                types.FunctionType(raw, globals())(1)
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)


def _lambda_code(node: dict[str, object]) -> str | None:
    config = node.get("config")
    if node.get("class_name") != "Lambda" or not isinstance(config, dict):
        return None
    fn = config.get("function")
    if isinstance(fn, list):  # Keras 2: [base64 code, defaults, closure]
        return str(fn[0])
    if isinstance(fn, dict):  # Keras 3: {"class_name": "__lambda__", "config": {"code": ...}}
        return str(fn.get("config", {}).get("code", "")) or None
    return None


def _render_gguf_template(path: Path) -> None:
    """What llama-cpp-python did before CVE-2024-34359: render the template unsandboxed."""
    import gguf
    import jinja2

    messages = [{"role": "user", "content": "hello"}]
    for key, field in gguf.GGUFReader(path).fields.items():
        if key.startswith("tokenizer.chat_template"):  # default and named templates
            template = bytes(field.parts[field.data[0]]).decode("utf-8")
            jinja2.Environment().from_string(template).render(  # noqa: S701 - the vulnerable way
                messages=messages,
                add_generation_prompt=True,
                bos_token="<s>",  # noqa: S106 - a token string, not a password
            )


_LOADERS: dict[str, Callable[[Path], None]] = {
    "pickle": lambda p: pickle.loads(p.read_bytes()),
    "pickle-file": lambda p: pickle.load(p.open("rb")),
    "pickle-all": _pickle_all,
    "decompress-pickle": lambda p: pickle.loads(_decompress(p.read_bytes())),
    "torch": lambda p: _torch(p, weights_only=False),
    "torch-weights-only": lambda p: _torch(p, weights_only=True),
    "numpy": lambda p: _numpy(p, allow_pickle=True),
    "numpy-safe": lambda p: _numpy(p, allow_pickle=False),
}


def load(path: Path, kind: str) -> None:
    """Load ``path`` with loader ``kind`` (see ``Sample.loader``); errors propagate."""
    loader = _LOADERS.get(kind)
    if loader is None:
        _other(path, kind)
    else:
        loader(path)


def main() -> int:
    root = Path(sys.argv[1])
    results: dict[str, str] = {}
    for relpath, kind in json.load(sys.stdin):
        sink = io.StringIO()
        try:
            with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
                load(root / relpath, kind)
            results[relpath] = "ok"
        except BaseException as exc:
            results[relpath] = f"{type(exc).__name__}: {str(exc)[:200]}"
    sys.stdout.write(json.dumps(results))
    sys.stdout.flush()
    os._exit(0)  # payload-spawned threads or children must not keep the check alive


if __name__ == "__main__":
    main()
