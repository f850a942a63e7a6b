"""Malicious containers other than torch checkpoints: compressed joblib and raw pickle
streams, numpy object arrays (.npy/.npz, odd headers), tar and zip wrappers, unsafe member
paths, deep and mixed nesting, and real decompression bombs. Torch zip/legacy files,
polyglots and 7z wrappers are in ``torch_files.py``.
"""

from __future__ import annotations

import bz2
import functools
import gzip
import io
import lzma
import os
import pickle
import struct
import tarfile
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.corpus._spec import (
    PKL_ANY,
    Marker,
    Payload,
    Spec,
    mal,
)
from tests.corpus.malicious import os_system
from tests.corpus.pickle_ops import Asm

UNSAFE_MEMBER = PKL_ANY | {"SCAN-ARC-005"}
TOO_DEEP = PKL_ANY | {"SCAN-ARC-002"}
BOMB = frozenset({"SCAN-ARC-003", "SCAN-GEN-001"})


def _joblib(compression: str) -> Callable[[Path, Marker], None]:
    def write(path: Path, m: Marker) -> None:
        import joblib
        import numpy as np

        obj = {"coef": np.arange(4.0), "hook": Payload(os.system, m.shell)}
        joblib.dump(obj, path, compress=0 if compression == "none" else (compression, 3))

    return write


def _joblib_object_array(path: Path, m: Marker) -> None:
    import joblib

    joblib.dump({"features": ["a", "b"], "table": _object_array(m)}, path)


def _structured_object(m: Marker) -> bytes:
    import numpy as np

    arr = np.zeros(2, dtype=[("w", "<f4"), ("meta", "O")])
    arr[1]["meta"] = Payload(os.system, m.shell)
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=True)
    return buf.getvalue()


def _npy_v2(m: Marker) -> bytes:
    header = "{'descr': '|O', 'fortran_order': False, 'shape': (1,), }".ljust(115) + "\n"
    return b"\x93NUMPY\x02\x00" + struct.pack("<I", len(header)) + header.encode() + os_system(m, 2)


def _object_array(m: Marker) -> Any:
    import numpy as np

    return np.array([1.0, Payload(os.system, m.shell)], dtype=object)


def _npy(m: Marker) -> bytes:
    import numpy as np

    buf = io.BytesIO()
    np.save(buf, _object_array(m), allow_pickle=True)
    return buf.getvalue()


def _npy_odd_header(m: Marker) -> bytes:
    # Double quotes, reordered keys, extra spaces: still a valid header for numpy.load.
    header = '{"shape": (2,),  "fortran_order": False, "descr": "|O"}'
    header = header.ljust(118) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode() + os_system(m, 2)


def _npz(compressed: bool) -> Callable[[Path, Marker], None]:
    def write(path: Path, m: Marker) -> None:
        import numpy as np

        save = np.savez_compressed if compressed else np.savez
        save(path, weights=np.ones(3), meta=_object_array(m))

    return write


_STREAMS: dict[str, Callable[[bytes], bytes]] = {
    "gz": lambda b: gzip.compress(b, mtime=0),
    "bz2": bz2.compress,
    "xz": lzma.compress,
    "lzma": lambda b: lzma.compress(b, format=lzma.FORMAT_ALONE),
    "zlib": zlib.compress,
}


def _compressed_payload(compress: Callable[[bytes], bytes], m: Marker) -> bytes:
    return compress(os_system(m, 2))


def _compressed_rows() -> list[Spec]:
    np_jl = ("numpy", "joblib")
    specs = [
        mal(
            f"joblib/payload.joblib{'' if c == 'none' else '.' + c}",
            f"joblib-{c}",
            PKL_ANY,
            f"joblib.dump(compress={c}) of a dict whose value calls os.system",
            write=_joblib(c),
            loader="joblib",
            needs=np_jl,
            quick=c in ("none", "zlib"),
        )
        for c in ("none", "zlib", "gzip", "bz2", "lzma", "xz")
    ]
    specs += [
        mal(
            f"compressed/payload.pkl.{ext}",
            "compressed-pickle",
            PKL_ANY,
            f"raw malicious pickle compressed as a {ext} stream",
            functools.partial(_compressed_payload, fn),
            loader="decompress-pickle",
            quick=ext == "gz",
        )
        for ext, fn in _STREAMS.items()
    ]
    return [
        *specs,
        mal(
            "numpy/object_array.npy",
            "numpy-object-array",
            PKL_ANY,
            "np.save of an object array: the element's pickle calls os.system",
            _npy,
            loader="numpy",
            needs=("numpy",),
            quick=True,
        ),
        mal(
            "numpy/object_array_odd_header.npy",
            "numpy-object-array",
            PKL_ANY,
            "hand-written .npy header (double quotes, reordered keys) declaring '|O'",
            _npy_odd_header,
            loader="numpy",
        ),
        mal(
            "numpy/structured_object_field.npy",
            "numpy-object-array",
            PKL_ANY,
            "structured dtype with an 'O' field: descr is a list, not '|O'",
            _structured_object,
            loader="numpy",
            needs=("numpy",),
        ),
        mal(
            "numpy/object_array_v2_header.npy",
            "numpy-object-array",
            PKL_ANY,
            "format version 2.0 header (4-byte length) declaring '|O'",
            _npy_v2,
            loader="numpy",
        ),
        mal(
            "joblib/object_array.joblib",
            "joblib-none",
            PKL_ANY,
            "joblib.dump of an object ndarray whose element calls os.system",
            write=_joblib_object_array,
            loader="joblib",
            needs=np_jl,
        ),
        mal(
            "numpy/object_array.npz",
            "numpy-object-array",
            PKL_ANY,
            "np.savez with a float array and a malicious object array",
            write=_npz(False),
            loader="numpy",
            needs=("numpy",),
        ),
        mal(
            "numpy/object_array_compressed.npz",
            "numpy-object-array",
            PKL_ANY,
            "np.savez_compressed (deflated members) with a malicious object array",
            write=_npz(True),
            loader="numpy",
            needs=("numpy",),
        ),
    ]


def _tar(
    members: list[tuple[str, bytes | None, str]], *, gz: bool = False
) -> Callable[[Path, Marker], None]:
    """Members as (name, data, symlink target); ``data`` may be ``b"PAYLOAD"``."""

    def write(path: Path, m: Marker) -> None:
        with tarfile.open(path, "w:gz") if gz else tarfile.open(path, "w") as tar:
            for name, data, target in members:
                info = tarfile.TarInfo(name)
                info.mtime = 0
                if target:
                    info.type, info.linkname = tarfile.SYMTYPE, target
                    tar.addfile(info)
                    continue
                body = os_system(m, 2) if data == b"PAYLOAD" else data or b""
                info.size = len(body)
                tar.addfile(info, io.BytesIO(body))

    return write


def _zip_named(name: str) -> Callable[[Marker], bytes]:
    def make(m: Marker) -> bytes:
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w") as z:
            z.writestr("config.json", b"{}")
            z.writestr(name, os_system(m, 2))
        return out.getvalue()

    return make


def nested_zip(m: Marker, levels: int = 10) -> bytes:
    data = os_system(m, 2)
    name = "data.pkl"
    for level in range(levels):
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
            z.writestr(name, data)
        data, name = out.getvalue(), f"level{levels - level}.zip"
    return data


#: Real bombs expand to GiBs; a few hundred MiB of output is where the ratio rule starts.
BOMB_GIB = 2
_MIB = 1 << 20


def _pickle_bomb(m: Marker) -> bytes:
    """Concatenated bz2 streams (bz2.open reads them all) of a pickle announcing 2 GiB."""
    size = BOMB_GIB << 30
    head = Asm().proto(4).op(pickle.BINBYTES8, struct.pack("<Q", size)).bytes()
    chunk = bz2.compress(bytes(32 * _MIB), 9)
    return bz2.compress(head, 9) + chunk * (size // (32 * _MIB))


def _deflate_zeros(total: int) -> bytes:
    """A raw deflate stream of ``total`` zero bytes, built by repeating one flushed block."""
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = comp.compress(bytes(_MIB)) + comp.flush(zlib.Z_FULL_FLUSH)
    final = zlib.compressobj(9, zlib.DEFLATED, -15).flush(zlib.Z_FINISH)
    return block * (total // _MIB) + final


def _zip_bomb(path: Path, m: Marker) -> None:
    """One deflated member of 2 GiB of zeros whose headers declare its true size."""
    total = BOMB_GIB << 30
    path.write_bytes(_raw_deflated_zip("weights.bin", _deflate_zeros(total), total))


def _raw_deflated_zip(name: str, data: bytes, size: int) -> bytes:
    crc = 0
    zeros = bytes(_MIB)
    for _ in range(size // _MIB):
        crc = zlib.crc32(zeros, crc)
    fname = name.encode()
    local = (
        struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0, crc, len(data), size, len(fname), 0)
        + fname
    )
    central = (
        struct.pack(
            "<IHHHHHHIIIHHHHHII",
            0x02014B50,
            20,
            20,
            0,
            8,
            0,
            0,
            crc,
            len(data),
            size,
            len(fname),
            0,
            0,
            0,
            0,
            0,
            0,
        )
        + fname
    )
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 1, 1, len(central), len(local) + len(data), 0)
    return local + data + central + end


def _mixed_nesting(m: Marker) -> bytes:
    tar = io.BytesIO()
    with tarfile.open(fileobj=tar, mode="w:gz") as t:
        body = os_system(m, 2)
        info = tarfile.TarInfo("model/data.pkl")
        info.size, info.mtime = len(body), 0
        t.addfile(info, io.BytesIO(body))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("bundle/model.tar.gz", tar.getvalue())
    return out.getvalue()


def _archive_rows() -> list[Spec]:
    return [
        mal(
            "archives/model.tar",
            "tar-wrapper",
            PKL_ANY,
            "tar with a malicious data.pkl",
            write=_tar([("model/config.json", b"{}", ""), ("model/data.pkl", b"PAYLOAD", "")]),
            quick=True,
            loader="archive-pickles",
        ),
        mal(
            "archives/model.tar.gz",
            "tar-wrapper",
            PKL_ANY,
            "SageMaker-style model.tar.gz with a malicious model.pkl",
            write=_tar([("model.pkl", b"PAYLOAD", "")], gz=True),
            loader="archive-pickles",
        ),
        mal(
            "archives/traversal.tar",
            "unsafe-member",
            UNSAFE_MEMBER,
            "tar member '../../evil.pkl' (path traversal) holding a payload",
            write=_tar([("../../evil.pkl", b"PAYLOAD", "")]),
            loader="archive-pickles",
        ),
        mal(
            "archives/symlink.tar",
            "unsafe-member",
            frozenset({"SCAN-ARC-005"}),
            "tar member that is a symlink to /etc/passwd",
            write=_tar([("model/weights.bin", None, "/etc/passwd")]),
        ),
        mal(
            "archives/traversal.zip",
            "unsafe-member",
            UNSAFE_MEMBER,
            "zip member '../evil.pkl'",
            _zip_named("../evil.pkl"),
            loader="archive-pickles",
            quick=True,
        ),
        mal(
            "archives/absolute.zip",
            "unsafe-member",
            UNSAFE_MEMBER,
            "zip member '/tmp/evil.pkl' (absolute path)",
            _zip_named("/tmp/evil.pkl"),
            loader="archive-pickles",
        ),
        mal(
            "archives/nested_10_levels.zip",
            "deep-nesting",
            TOO_DEEP,
            "zip in zip, 10 levels, malicious data.pkl at the bottom",
            nested_zip,
            quick=True,
            loader="archive-pickles",
        ),
        mal(
            "archives/zip_tar_gz.zip",
            "mixed-nesting",
            PKL_ANY,
            "zip > tar.gz > data.pkl: three container layers within the depth limit",
            _mixed_nesting,
            loader="archive-pickles",
        ),
        mal(
            "archives/bomb.zip",
            "decompression-bomb",
            BOMB,
            "zip member of 2 GiB of zeros in ~2 MiB (deflate, headers honest)",
            write=_zip_bomb,
        ),
        mal(
            "archives/bomb.pkl.bz2",
            "decompression-bomb",
            BOMB,
            "concatenated bzip2 streams of a pickle announcing 2 GiB of zeros",
            _pickle_bomb,
        ),
    ]


def specs() -> list[Spec]:
    """Every malicious container spec."""
    return [*_compressed_rows(), *_archive_rows()]
