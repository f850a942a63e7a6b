"""Format detection from bytes. Extensions are only a hint for formats without magic bytes.

``sniff`` returns every interpretation a loader could take of the same bytes, most specific
first, so that a polyglot (a pickle that is also a zip) is scanned both ways.
"""

from __future__ import annotations

import struct
from typing import BinaryIO

HEAD_BYTES = 4096
TAIL_BYTES = 65536 + 22

_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"PK\x03\x04", "zip"),
    (b"PK\x05\x06", "zip"),
    (b"\x93NUMPY", "npy"),
    (b"GGUF", "gguf"),
    (b"\x89HDF\r\n\x1a\n", "hdf5"),
    (b"7z\xbc\xaf\x27\x1c", "7z"),
    (b"\x1f\x8b", "gzip"),
    (b"\xfd7zXZ\x00", "xz"),
    (b"\x04\x22\x4d\x18", "lz4"),
)
_PICKLE_PROTOCOL_MAX = 5
_TEXT_CODE_SUFFIXES = (".py",)


_HDF5 = b"\x89HDF\r\n\x1a\n"


def _hdf5_after_user_block(head: bytes) -> bool:
    # HDF5 allows a user block of 512 * 2**k bytes before the signature; h5py opens such files.
    return any(head[off : off + 8] == _HDF5 for off in (512, 1024, 2048))


def _is_zlib(head: bytes) -> bool:
    if len(head) < 2 or head[0] & 0x0F != 8 or head[0] >> 4 > 7:
        return False
    return (head[0] * 256 + head[1]) % 31 == 0 and not head[1] & 0x20


def _is_bz2(head: bytes) -> bool:
    return head[:3] == b"BZh" and head[3:4] in {bytes([c]) for c in b"123456789"}


def _is_lzma_alone(head: bytes) -> bool:
    # props byte 0x5d (lc=3, lp=0, pb=2, the only one xz/liblzma writes) + dict size.
    return len(head) >= 13 and head[0] == 0x5D and head[1:5] != b"\x00\x00\x00\x00"


def _is_safetensors(head: bytes, size: int | None, lower: str) -> bool:
    if len(head) < 9:
        return False
    (n,) = struct.unpack("<Q", head[:8])
    if not head[8:].lstrip(b" ").startswith(b"{"):
        return False
    # A length past the end is still handed to the scanner when the name says safetensors,
    # so that it reports the damage instead of the file being ignored.
    return size is None or 8 + n <= size or lower.endswith(".safetensors")


def _is_tar(head: bytes) -> bool:
    return len(head) >= 262 and head[257:262] == b"ustar"


def _is_onnx(head: bytes, name: str) -> bool:
    if name.lower().endswith((".onnx", ".ort")):
        return True
    # ModelProto written by onnx starts with ir_version (field 1, varint) then another field.
    return (
        len(head) >= 4
        and head[0] == 0x08
        and 3 <= head[1] <= 15  # ONNX IR versions in use; a SavedModel starts 08 01
        and head[2] in (0x12, 0x1A, 0x22, 0x2A, 0x3A, 0x42)
    )


def _is_json(head: bytes) -> bool:
    stripped = head.lstrip(b" \t\r\n\xef\xbb\xbf")
    return stripped[:1] in (b"{", b"[")


def _is_pickle(head: bytes) -> bool:
    if len(head) >= 2 and head[0] == 0x80:
        return head[1] <= _PICKLE_PROTOCOL_MAX
    from mlwarden.scan.pickle_vm import looks_like_pickle

    return looks_like_pickle(head)


def sniff(head: bytes, name: str = "", size: int | None = None, tail: bytes = b"") -> list[str]:
    """Return the formats the bytes can be read as (may be empty, may be several)."""
    found: list[str] = [fmt for magic, fmt in _MAGIC if head.startswith(magic)]
    if not found and _hdf5_after_user_block(head):
        found.append("hdf5")
    lower = name.lower()
    if not found:
        found.extend(_sniff_headerless(head, lower, size))
    if b"PK\x05\x06" in (tail or head) and "zip" not in found:
        found.append("zip")  # data prepended to a zip: still a valid zip for most readers
    return found


def _sniff_headerless(head: bytes, lower: str, size: int | None) -> list[str]:
    if _is_bz2(head):
        return ["bz2"]
    if _is_tar(head):
        return ["tar"]
    if _is_safetensors(head, size, lower):
        return ["safetensors"]
    if lower.endswith("saved_model.pb"):
        return ["tf-savedmodel"]
    if _is_onnx(head, lower):
        return ["onnx"]
    if lower.endswith(".pb") and _looks_tf_protobuf(head):
        return ["tf-savedmodel"]
    if _is_pickle(head):
        return ["pickle"]
    if _is_zlib(head):
        return ["zlib"]
    if _is_lzma_alone(head):
        return ["lzma"]
    if lower.endswith(_TEXT_CODE_SUFFIXES):
        return ["python-source"]
    if _is_json(head):
        return ["json"]
    return []


def _looks_tf_protobuf(head: bytes) -> bool:
    """A SavedModel (schema version varint, or meta graphs) or a frozen GraphDef."""
    if head[:1] in (b"\x08", b"\x12"):
        return True
    if head[:1] != b"\x0a":
        return False
    # GraphDef: node (field 1) whose first field is its name (field 1 again).
    i = 1
    while i < min(len(head), 11) and head[i] & 0x80:
        i += 1
    return head[i + 1 : i + 2] == b"\x0a"


def read_head_tail(stream: BinaryIO, size: int | None) -> tuple[bytes, bytes]:
    """Read the first ``HEAD_BYTES`` and (for seekable streams) the last ``TAIL_BYTES``."""
    head = stream.read(HEAD_BYTES)
    tail = b""
    if size is not None and size > len(head) and stream.seekable():
        stream.seek(max(0, size - TAIL_BYTES))
        tail = stream.read(TAIL_BYTES)
    return head, tail
