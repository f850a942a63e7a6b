"""Malicious torch checkpoints and their wrappers: real ``torch.save`` files with a payload,
zip header tampering (bad CRC: CVE-2025-10156; local/central name mismatch: CVE-2025-1944;
flag bits: CVE-2025-1945; duplicate ``data.pkl``), other top folders and deflated members,
nullifAI's broken ``data.pkl`` and 7z wrapper, the legacy stacked-pickle format, and
pickle/zip polyglots.
"""

from __future__ import annotations

import io
import os
import pickle
import struct
import zipfile
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


def specs() -> list[Spec]:
    """Every malicious torch spec."""
    return [*_torch_rows(), *_polyglot_rows()]
