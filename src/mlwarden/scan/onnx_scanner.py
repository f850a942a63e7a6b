"""ONNX scanner: external-data paths that leave the model directory, and custom operator domains.

The ModelProto is walked with the bounded protobuf reader (never the ``onnx`` package, never
the external data files): the main graph, every subgraph held in node attributes (If, Loop,
Scan bodies, at any depth), training graphs and model-local functions. Tensor payloads
(``raw_data``) are skipped by seeking, so the file size does not matter.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from mlwarden.errors import MalformedInput
from mlwarden.findings import Finding, Severity
from mlwarden.scan._protobuf import Message, ProtoReader, Schema, walk
from mlwarden.scan.base import Artifact, ScanContext, finding

# Field numbers from onnx/onnx.proto (onnx 1.17+). Unlisted fields, raw_data above all, are
# skipped unread.
SCHEMA: Schema = {
    "ModelProto": {
        7: "GraphProto",
        8: "OperatorSetIdProto",
        20: "TrainingInfoProto",
        25: "FunctionProto",
    },
    "TrainingInfoProto": {1: "GraphProto", 2: "GraphProto"},
    "GraphProto": {1: "NodeProto", 2: "string", 5: "TensorProto", 15: "SparseTensorProto"},
    "NodeProto": {3: "string", 4: "string", 5: "AttributeProto", 7: "string"},
    "AttributeProto": {
        1: "string",
        5: "TensorProto",
        6: "GraphProto",
        10: "TensorProto",
        11: "GraphProto",
        22: "SparseTensorProto",
        23: "SparseTensorProto",
    },
    "SparseTensorProto": {1: "TensorProto", 2: "TensorProto"},
    "TensorProto": {8: "string", 13: "StringStringEntryProto"},
    "StringStringEntryProto": {1: "string", 2: "string"},
    "OperatorSetIdProto": {1: "string"},
    "FunctionProto": {
        1: "string",
        7: "NodeProto",
        9: "OperatorSetIdProto",
        10: "string",
        11: "AttributeProto",
    },
}

#: Operator domains implemented by ONNX itself or built into onnxruntime and its bundled
#: execution providers (onnxruntime/core/graph/constants.h): no extra native library needed.
STANDARD_DOMAINS = frozenset(
    {
        "",
        "ai.onnx",
        "ai.onnx.ml",
        "ai.onnx.training",
        "ai.onnx.preview",
        "ai.onnx.preview.training",
        "com.microsoft",
        "com.microsoft.nchwc",
        "com.microsoft.experimental",
        "com.microsoft.dml",
        "com.ms.internal.nhwc",
        "org.pytorch.aten",
        "com.intel.ai",
        "com.xilinx",
    }
)
_EXTENSIONS_DOMAIN = "ai.onnx.contrib"
#: onnxruntime reads the "offset" of a tensor with this location as a raw memory address.
_ORT_MEMORY_TAG = "*/_ORT_MEM_ADDR_/*"
_DRIVE = re.compile(r"^[A-Za-z]:")
_SEPARATORS = re.compile(r"[\\/]")
_HUB_REPO_PREFIXES = ("models--", "datasets--", "spaces--")
_LISTED_OPS = 5


class OnnxScanner:
    """Finds external-data path escapes (SCAN-ONNX-001) and custom-domain ops (SCAN-ONNX-002)."""

    id = "onnx"
    formats = frozenset({"onnx"})

    def scan(self, artifact: Artifact, ctx: ScanContext) -> Iterator[Finding]:
        """Yield findings for one ONNX file; unparseable content is SCAN-ONNX-003."""
        with artifact.open() as stream:
            reader = ProtoReader(stream, size=artifact.size, check=ctx.check_deadline)
            head = reader.peek(16)
            if _is_ort_format(artifact.name, head):
                ctx.count("onnx:ort-format-not-scanned")
                return
            try:
                model = reader.decode(SCHEMA, "ModelProto")
            except MalformedInput as exc:
                if not looks_like_model_proto(head):
                    raise  # named .onnx only: report an error, not a finding
                yield finding("SCAN-ONNX-003", artifact.location, f"not a valid ONNX model: {exc}")
                return
        ctx.count("onnx:fields", reader.fields_read)
        found = _Found.collect(model)
        yield from _external_data_findings(found.tensors, artifact)
        yield from _domain_findings(model, found, artifact)


def _is_ort_format(name: str, head: bytes) -> bool:
    """onnxruntime's flatbuffer format: a ``.ort`` file with the "ORTM" identifier at byte 4.

    Both are required: a protobuf model can carry "ORTM" there (as the start of its producer
    name), and onnxruntime loads any file not named ``.ort`` as protobuf.
    """
    return (
        name.lower().endswith(".ort") and head[4:8] == b"ORTM" and not looks_like_model_proto(head)
    )


def looks_like_model_proto(head: bytes) -> bool:
    """The content rule of ``scan/sniff.py``: ir_version (field 1) then another known field."""
    return (
        len(head) >= 4
        and head[0] == 0x08
        and 1 <= head[1] <= 15
        and head[2] in (0x12, 0x1A, 0x22, 0x2A, 0x3A, 0x42)
    )


#: How a message appears in a finding's path: its short name and the field holding its name.
_LABELS = {
    "GraphProto": ("graph", 2),
    "AttributeProto": ("attribute", 1),
    "TensorProto": ("tensor", 8),
}


def _label(msg: Message) -> str:
    if msg.name == "NodeProto":
        return f"node:{msg.string(3) or msg.string(4)}"
    if msg.name == "FunctionProto":
        return f"function:{msg.string(10)}:{msg.string(1)}"
    if msg.name in _LABELS:
        short, number = _LABELS[msg.name]
        return f"{short}:{msg.string(number)}"
    return msg.name.removesuffix("Proto").lower()


def _where(trail: tuple[Message, ...], msg: Message) -> str:
    return "/".join(_label(m) for m in (*trail[1:], msg)) or "model"


Placed = tuple[tuple[Message, ...], Message]


@dataclass
class _Found:
    """The messages the checks need, gathered in one walk: (ancestors, message) pairs."""

    tensors: list[Placed] = field(default_factory=list)
    nodes: list[Placed] = field(default_factory=list)
    opsets: list[Placed] = field(default_factory=list)

    @classmethod
    def collect(cls, model: Message) -> _Found:
        found = cls()
        kinds = {"TensorProto": found.tensors, "NodeProto": found.nodes}
        kinds["OperatorSetIdProto"] = found.opsets
        for placed in walk(model):
            bucket = kinds.get(placed[1].name)
            if bucket is not None:
                bucket.append(placed)
        return found


def _external_data_findings(tensors: list[Placed], artifact: Artifact) -> Iterator[Finding]:
    model_dir = artifact.fs_path.parent if artifact.fs_path is not None else None
    for trail, msg in tensors:
        for location in _locations(msg):
            problem = location_problem(location, model_dir)
            if problem is None:
                continue
            where = _where(trail, msg)
            yield finding(
                "SCAN-ONNX-001",
                artifact.location,
                f"tensor '{msg.string(8)}' ({where}) loads external data from "
                f"'{location}', which {problem}",
                evidence=location,
                offset=msg.offset,
                tensor=msg.string(8),
                where=where,
            )


def _locations(tensor: Message) -> list[str]:
    # Every value is checked: a duplicated key or value field must not hide one of them.
    found: list[str] = []
    for entry in tensor.messages(13):
        if "location" in entry.strings(1):
            found.extend(entry.strings(2))
    return found


def location_problem(location: str, model_dir: Path | None) -> str | None:
    """Why an external-data ``location`` is unsafe, or ``None`` when it stays beside the model.

    Lexical checks apply everywhere; on-disk checks (links, resolution outside the model
    directory) only when the model is a file on disk. ``~`` is not special: runtimes join
    the location to the model directory without expanding it.
    """
    if _ORT_MEMORY_TAG in location:
        return "is onnxruntime's in-memory marker: its offset is read as a raw memory address"
    if "\x00" in location:
        return "contains a NUL byte"
    if location.startswith(("/", "\\")):
        return "is an absolute path"
    if _DRIVE.match(location):
        return "names a Windows drive"
    if ".." in _SEPARATORS.split(location):
        return "climbs out of the model directory with '..'"
    if model_dir is None or not location:
        return None
    return _on_disk_problem(location, model_dir)


def _on_disk_problem(location: str, model_dir: Path) -> str | None:
    # Only lstat/readlink happen here: the external file itself is never opened.
    joined = os.path.join(model_dir, location)
    real = os.path.realpath(joined)
    roots = [os.path.realpath(model_dir)]
    blobs = _hub_blobs_dir(model_dir)
    if blobs is not None:
        roots.append(os.path.realpath(blobs))
    inside = any(_within(real, root) for root in roots)
    if os.path.islink(joined) and not (blobs is not None and inside):
        return f"is a symbolic link (to '{real}')"
    if not inside:
        return f"resolves outside the model directory (to '{real}')"
    return None


def _hub_blobs_dir(model_dir: Path) -> Path | None:
    """The blob store of a Hugging Face cache snapshot, whose files are links into it."""
    parts = model_dir.parts
    for i in range(len(parts) - 2, 0, -1):
        if parts[i] == "snapshots" and parts[i - 1].startswith(_HUB_REPO_PREFIXES):
            return Path(*parts[:i]) / "blobs"
    return None


def _within(path: str, root: str) -> bool:
    try:
        return os.path.commonpath([path, root]) == root
    except ValueError:  # different drives on Windows
        return False


def _domain_findings(model: Message, found: _Found, artifact: Artifact) -> Iterator[Finding]:
    local = {(f.string(10), f.string(1)) for f in model.messages(25)}
    local_domains = {domain for domain, _ in local}
    used: dict[str, list[tuple[str, str, int]]] = {}
    for trail, msg in found.nodes:
        op = msg.string(4)
        for domain in dict.fromkeys(msg.strings(7)):
            if domain not in STANDARD_DOMAINS and (domain, op) not in local:
                used.setdefault(domain, []).append((op, _where(trail, msg), msg.offset))
    imported: dict[str, tuple[str, int]] = {}
    for trail, msg in found.opsets:
        domain = msg.string(1)
        if domain not in STANDARD_DOMAINS and domain not in local_domains:
            imported.setdefault(domain, (_where(trail, msg), msg.offset))
    for domain, uses in used.items():
        yield _used_domain_finding(domain, uses, artifact)
    for domain, (where, offset) in imported.items():
        if domain not in used:
            yield finding(
                "SCAN-ONNX-002",
                artifact.location,
                f"the model imports the operator set of custom domain '{domain}' ({where}) "
                f"but no node uses it{_domain_note(domain)}",
                evidence=domain,
                severity=Severity.LOW,
                offset=offset,
            )


def _used_domain_finding(
    domain: str, uses: list[tuple[str, str, int]], artifact: Artifact
) -> Finding:
    ops = sorted({op for op, _, _ in uses})
    listed = ", ".join(ops[:_LISTED_OPS]) + (", ..." if len(ops) > _LISTED_OPS else "")
    _, first_where, first_offset = uses[0]
    return finding(
        "SCAN-ONNX-002",
        artifact.location,
        f"{len(uses)} node(s) use operators of custom domain '{domain}' ({listed}), first at "
        f"{first_where}{_domain_note(domain)}",
        evidence=domain,
        offset=first_offset,
        nodes=len(uses),
    )


def _domain_note(domain: str) -> str:
    if domain == _EXTENSIONS_DOMAIN:
        return (
            "; this is onnxruntime-extensions' custom-op library, whose PyOp operators call "
            "Python functions registered in the serving process"
        )
    return "; running it needs a native custom-op library"
