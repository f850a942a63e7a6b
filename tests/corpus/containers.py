"""Malicious containers: torch zip/legacy checkpoints with header tampering, 7z and tar
wrappers, pickle/zip polyglots, compressed joblib and raw streams, numpy object arrays,
unsafe member paths, deep nesting and a decompression bomb.

The torch tampering rows mirror CVE-2025-1944/1945 (Sonatype: name mismatch, flag bits),
CVE-2025-10156 (JFrog: bad CRC), nullifAI (ReversingLabs: 7z wrapper, broken pickle) and the
torch legacy format's stacked pickles.
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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.corpus._spec import (
    MALFORMED_PAYLOAD,
    PKL_ANY,
    POLYGLOT,
    ZIP_TAMPER,
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
_T = ("torch",)


def torch_bytes(obj: Any, *, legacy: bool = False) -> bytes:
    import torch

    buf = io.BytesIO()
    torch.save(obj, buf, _use_new_zipfile_serialization=not legacy)
    return buf.getvalue()


def torch_payload(m: Marker, *, legacy: bool = False) -> bytes:
    """A real torch checkpoint whose pickle calls os.system (via ``__reduce__``)."""
    import torch

    obj = {"hook": Payload(os.system, m.shell), "weight": torch.zeros(2, 2)}
    return torch_bytes(obj, legacy=legacy)


def torch_benign() -> bytes:
    import torch

    return torch_bytes({"weight": torch.ones(2, 2), "epoch": 1})


# -- zip header surgery ---------------------------------------------------------------------
@dataclass(frozen=True)
class _Entry:
    """A central-directory record: where it is, the member name, its local header, size."""

    cen: int
    name: bytes
    lho: int
    csize: int


def _entries(data: bytes) -> list[_Entry]:
    eocd = data.rfind(b"PK\x05\x06")
    count, _size, offset = struct.unpack_from("<HII", data, eocd + 10)
    out: list[_Entry] = []
    pos = offset
    for _ in range(count):
        (csize,) = struct.unpack_from("<I", data, pos + 20)
        name_len, extra_len, comment_len = struct.unpack_from("<HHH", data, pos + 28)
        (lho,) = struct.unpack_from("<I", data, pos + 42)
        out.append(_Entry(pos, data[pos + 46 : pos + 46 + name_len], lho, csize))
        pos += 46 + name_len + extra_len + comment_len
    return out


Edit = Callable[[bytearray, _Entry], None]


def _patch_member(data: bytes, suffix: bytes, edit: Edit) -> bytes:
    buf = bytearray(data)
    edit(buf, next(e for e in _entries(data) if e.name.endswith(suffix)))
    return bytes(buf)


def _bad_crc(buf: bytearray, e: _Entry) -> None:
    struct.pack_into("<I", buf, e.cen + 16, 0x12345678)
    struct.pack_into("<I", buf, e.lho + 14, 0x12345678)
    name_len, extra_len = struct.unpack_from("<HH", buf, e.lho + 26)
    desc = e.lho + 30 + name_len + extra_len + e.csize
    if buf[desc : desc + 4] == b"PK\x07\x08":  # torch writes data descriptors
        struct.pack_into("<I", buf, desc + 4, 0x12345678)


def _local_name_mismatch(buf: bytearray, e: _Entry) -> None:
    (name_len,) = struct.unpack_from("<H", buf, e.lho + 26)
    buf[e.lho + 30 + name_len - 1] = ord("x")  # local header says data.pkx


def _flag(bit: int, *, central: bool) -> Edit:
    def edit(buf: bytearray, e: _Entry) -> None:
        for at in [e.lho + 6] + ([e.cen + 8] if central else []):
            struct.pack_into("<H", buf, at, struct.unpack_from("<H", buf, at)[0] | 1 << bit)

    return edit


def _rezip(
    data: bytes, rename: Callable[[str], str], replace: dict[str, bytes] | None = None
) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            body = (replace or {}).get(info.filename.split("/", 1)[-1], src.read(info))
            dst.writestr(rename(info.filename), body)
    return out.getvalue()


def _torch_rows() -> list[Spec]:
    def tampered(edit: Edit) -> Callable[[Marker], bytes]:
        return lambda m: _patch_member(torch_payload(m), b"data.pkl", edit)

    def broken_data_pkl(m: Marker) -> bytes:
        broken = os_system(m, 2)[:-1] + b"\x00garbage"
        return _rezip(torch_benign(), lambda n: n, {"data.pkl": broken})

    def extra_member(m: Marker) -> bytes:
        return _add_member(torch_benign(), "archive/extras/hook.pkl", os_system(m, 2))

    def duplicate(m: Marker) -> bytes:
        return _add_member(torch_benign(), "archive/data.pkl", os_system(m, 2))

    def deflated(m: Marker) -> bytes:
        out = io.BytesIO()
        with (
            zipfile.ZipFile(io.BytesIO(torch_payload(m))) as src,
            zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst,
        ):
            for info in src.infolist():
                dst.writestr(info.filename, src.read(info))
        return out.getvalue()

    def legacy_first(m: Marker) -> bytes:
        return os_system(m, 2) + torch_bytes({"w": 1}, legacy=True)

    rows: list[tuple[str, str, frozenset[str], str, Callable[[Marker], bytes], str, bool]] = [
        (
            "payload.pt",
            "torch-zip-payload",
            PKL_ANY,
            "torch.save zip whose data.pkl calls os.system",
            torch_payload,
            "torch",
            True,
        ),
        (
            "bad_crc.pt",
            "zip-tamper-crc",
            ZIP_TAMPER,
            "data.pkl CRC-32 wrong: zipfile refuses, torch loads (CVE-2025-10156)",
            tampered(_bad_crc),
            "torch",
            True,
        ),
        (
            "local_name_mismatch.pt",
            "zip-tamper-name",
            ZIP_TAMPER,
            "local header name differs from the central directory (CVE-2025-1944)",
            tampered(_local_name_mismatch),
            "torch",
            False,
        ),
        (
            "encrypted_flag.pt",
            "zip-tamper-flags",
            ZIP_TAMPER,
            "encryption flag bit set on data.pkl (CVE-2025-1945; refused by this torch)",
            tampered(_flag(0, central=True)),
            "",
            False,
        ),
        (
            "encrypted_flag_local_only.pt",
            "zip-tamper-flags",
            ZIP_TAMPER,
            "encryption flag only in the local header: torch and zipfile both ignore it",
            tampered(_flag(0, central=False)),
            "torch",
            False,
        ),
        (
            "duplicate_data_pkl.pt",
            "zip-tamper-duplicate",
            ZIP_TAMPER,
            "a second archive/data.pkl appended after the benign one: torch loads the last",
            duplicate,
            "torch",
            False,
        ),
        (
            "deflated_members.pt",
            "torch-zip-payload",
            PKL_ANY,
            "torch zip rewritten with deflate-compressed members (torch still loads it)",
            deflated,
            "torch",
            False,
        ),
        (
            "renamed_top_folder.pt",
            "torch-zip-payload",
            PKL_ANY,
            "members under 'my_innocent_model/' instead of 'archive/': torch loads any prefix",
            lambda m: _rezip(
                torch_payload(m), lambda n: n.replace("archive/", "my_innocent_model/")
            ),
            "torch",
            False,
        ),
        (
            "extra_pickle_member.pt",
            "torch-zip-payload",
            PKL_ANY,
            "benign torch zip plus an extra .pkl member the loader never reads",
            extra_member,
            "archive-pickles",
            False,
        ),
        (
            "broken_data_pkl.pt",
            "broken-after-payload",
            MALFORMED_PAYLOAD,
            "nullifAI: data.pkl runs its payload, then breaks (no STOP)",
            broken_data_pkl,
            "torch",
            True,
        ),
        (
            "legacy_payload.pt",
            "torch-legacy-payload",
            PKL_ANY,
            "legacy (non-zip) torch.save: payload in the 4th of the stacked pickles",
            lambda m: torch_payload(m, legacy=True),
            "torch",
            True,
        ),
        (
            "legacy_payload_first.pt",
            "torch-legacy-payload",
            PKL_ANY,
            "legacy torch file whose first (magic number) pickle is replaced by a payload",
            legacy_first,
            "torch",
            False,
        ),
    ]
    return [
        mal(f"torch/{rel}", fam, rules, note, make, loader=loader, needs=_T, quick=quick)
        for rel, fam, rules, note, make, loader, quick in rows
    ]


def _add_member(data: bytes, name: str, body: bytes) -> bytes:
    out = io.BytesIO(data)
    with zipfile.ZipFile(out, "a") as z:
        z.writestr(name, body)
    return out.getvalue()


def _7z(member: str, make: Callable[[Marker], bytes]) -> Callable[[Path, Marker], None]:
    def write(path: Path, m: Marker) -> None:
        import py7zr

        with py7zr.SevenZipFile(path, "w") as archive:
            archive.writestr(make(m), member)

    return write


def _polyglot_rows() -> list[Spec]:
    return [
        mal(
            "polyglot/pickle_then_torch_zip.pt",
            "pickle-zip-polyglot",
            POLYGLOT,
            "malicious pickle + benign torch zip: torch.load sees no PK magic and unpickles",
            lambda m: os_system(m, 2) + torch_benign(),
            loader="torch",
            needs=_T,
            quick=True,
        ),
        mal(
            "polyglot/benign_pickle_then_malicious_zip.pt",
            "pickle-zip-polyglot",
            POLYGLOT,
            "benign pickle + malicious torch zip: zip readers (offset-tolerant) see the payload",
            lambda m: pickle.dumps({"ok": 1}, protocol=2) + torch_payload(m),
            loader="archive-pickles",
            needs=_T,
        ),
        mal(
            "sevenzip/model_pt.7z",
            "7z-wrapper",
            PKL_ANY,
            "nullifAI: torch checkpoint with a payload, wrapped in 7z",
            write=_7z("model.pt", torch_payload),
            loader="archive-pickles",
            needs=("py7zr", "torch"),
        ),
        mal(
            "sevenzip/data_pkl.7z",
            "7z-wrapper",
            PKL_ANY,
            "raw malicious pickle inside 7z",
            write=_7z("data.pkl", os_system),
            loader="archive-pickles",
            needs=("py7zr",),
            quick=True,
        ),
    ]


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
    return [*_torch_rows(), *_polyglot_rows(), *_compressed_rows(), *_archive_rows()]
