"""TensorFlow scanner: ops that touch files or run Python in a SavedModel or frozen GraphDef.

``saved_model.pb`` (a SavedModel) and frozen ``.pb`` graphs (a bare GraphDef) are walked with
the bounded protobuf reader, without TensorFlow: every node of every meta graph and every
function of the function library. Constant tensors are skipped unread. The checkpoint ops
that every SavedModel carries in its saver (SaveV2, RestoreV2, MergeV2Checkpoints) are
accepted there and flagged anywhere else.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from mlwarden.errors import MalformedInput
from mlwarden.findings import Finding, Severity
from mlwarden.scan._protobuf import Message, ProtoReader, Schema
from mlwarden.scan.base import Artifact, ScanContext, finding

# Field numbers from tensorflow/core/protobuf/{saved_model,meta_graph,saver}.proto and
# tensorflow/core/framework/{graph,function,node_def,attr_value,op_def}.proto.
_GRAPH_MESSAGES: dict[str, dict[int, str]] = {
    "GraphDef": {1: "NodeDef", 2: "FunctionDefLibrary"},
    "FunctionDefLibrary": {1: "FunctionDef"},
    "FunctionDef": {1: "OpDef", 3: "NodeDef"},
    "OpDef": {1: "string"},
    "NodeDef": {1: "string", 2: "string", 5: "AttrEntry"},
    "AttrEntry": {1: "string", 2: "AttrValue"},
    "AttrValue": {1: "ListValue", 2: "prefix", 10: "NameAttrList"},
    "ListValue": {9: "NameAttrList"},
    "NameAttrList": {1: "string"},
}
SCHEMA: Schema = {
    "SavedModel": {1: "varint", 2: "MetaGraphDef"},
    "MetaGraphDef": {2: "GraphDef", 3: "SaverDef"},
    "SaverDef": {1: "string", 2: "string", 3: "string"},
    **_GRAPH_MESSAGES,
}

_PYTHON_OPS = frozenset({"PyFunc", "PyFuncStateless", "EagerPyFunc"})
#: Op families (after dropping an "Experimental" prefix and a "V<n>" suffix) that read or
#: write files named by their inputs or attributes.
_FILE_OPS = frozenset(
    {
        "ReadFile",
        "WriteFile",
        "MatchingFiles",
        "ImmutableConst",
        "LoadAndRemapMatrix",
        "FixedLengthRecordDataset",
        "TextLineDataset",
        "TFRecordDataset",
        "CSVDataset",
        "SqlDataset",
        "LMDBDataset",
        "DatasetToTFRecord",
        "SaveDataset",
        "LoadDataset",
        "SnapshotDataset",
        "WholeFileReader",
        "TextLineReader",
        "FixedLengthRecordReader",
        "TFRecordReader",
        "LMDBReader",
        "DebugIdentity",
        "DebugNanCount",
        "DebugNumericSummary",
        "CreateSummaryFileWriter",
        "CreateSummaryDbWriter",
    }
)
_CHECKPOINT_OPS = frozenset({"Save", "SaveSlices", "Restore", "RestoreSlice", "MergeV2Checkpoints"})
#: Functions TensorFlow 2 generates for the object-graph saver, and TF1 Saver name scopes.
_SAVER_FUNCTION = re.compile(r"^__inference__traced_(save|restore)_\d+$")
_SAVER_SCOPE = re.compile(r"^save(_\d+)?/")
_VERSION_SUFFIX = re.compile(r"V\d+$")
#: First byte of a SavedModel (schema version, field 1 varint) and of a GraphDef (node 1).
_SAVED_MODEL_START, _GRAPH_DEF_START = b"\x08", b"\x0a"


@dataclass(frozen=True)
class _Graph:
    """One GraphDef to check, where it sits, and the name scopes of its TF1 Saver."""

    where: str
    graph: Message
    saver_scopes: frozenset[str]


class SavedModelScanner:
    """Flags TensorFlow ops that read or write files or run Python (SCAN-TF-001)."""

    id = "tf-savedmodel"
    formats = frozenset({"tf-savedmodel"})

    def scan(self, artifact: Artifact, ctx: ScanContext) -> Iterator[Finding]:
        """Yield findings for a SavedModel or frozen GraphDef; broken protobuf is an error."""
        with artifact.open() as stream:
            reader = ProtoReader(stream, size=artifact.size, check=ctx.check_deadline)
            first = reader.peek(1)
            root = "GraphDef" if first == _GRAPH_DEF_START else "SavedModel"
            try:
                graphs = _decode(reader, root)
            except MalformedInput:
                if first in (_SAVED_MODEL_START, _GRAPH_DEF_START):
                    raise
                graphs = []
        if not graphs and first not in (_SAVED_MODEL_START, _GRAPH_DEF_START):
            # Neither a schema version nor a node first: maybe a GraphDef led by its library.
            with artifact.open() as stream:
                reader = ProtoReader(stream, size=artifact.size, check=ctx.check_deadline)
                graphs = _decode(reader, "GraphDef")
        ctx.count("tf:graphs", len(graphs))
        for graph in graphs:
            yield from _graph_findings(graph, artifact)


def _decode(reader: ProtoReader, root: str) -> list[_Graph]:
    try:
        top = reader.decode(SCHEMA, root)
    except MalformedInput as exc:
        raise MalformedInput(f"not a valid TensorFlow {root}: {exc}") from exc
    if root == "GraphDef":
        return [_Graph("graph", top, frozenset())]
    found: list[_Graph] = []
    for index, meta in enumerate(top.messages(2)):
        scopes = frozenset(
            name.rsplit("/", 1)[0] + "/"
            for saver in meta.messages(3)
            for number in (1, 2, 3)
            for name in saver.strings(number)
            if "/" in name
        )
        found.extend(_Graph(f"meta_graph[{index}]", g, scopes) for g in meta.messages(2))
    return found


def _functions(graph: Message) -> list[tuple[str, Message]]:
    # A list, not a dict: a second function with the same name must not hide the first.
    return [
        (fn.messages(1)[-1].string(1) if fn.messages(1) else "", fn)
        for library in graph.messages(2)
        for fn in library.messages(1)
    ]


def _graph_findings(graph: _Graph, artifact: Artifact) -> Iterator[Finding]:
    for node in graph.graph.messages(1):
        name = node.string(1)
        in_saver = bool(_SAVER_SCOPE.match(name)) or name.startswith(tuple(graph.saver_scopes))
        yield from _node_findings(node, graph.where, in_saver, artifact)
    functions = _functions(graph.graph)
    names = {fn_name for fn_name, _ in functions}
    for fn_name, fn in functions:
        where = f"{graph.where}/function:{fn_name}"
        in_saver = bool(_SAVER_FUNCTION.match(fn_name))
        for node in fn.messages(3):
            yield from _node_findings(node, where, in_saver, artifact)
            if in_saver:
                continue
            for callee in _callees(node):
                if _SAVER_FUNCTION.match(callee) and callee in names:
                    yield _call_finding(node, where, callee, artifact)


def _callees(node: Message) -> Iterator[str]:
    """Functions a node calls: its op itself, and functions named in its attributes."""
    yield node.string(2)
    for entry in node.messages(5):
        for value in entry.messages(2):
            for func in value.messages(10):
                yield func.string(1)
            for listed in value.messages(1):
                yield from (func.string(1) for func in listed.messages(9))


def _verdict(node: Message, in_saver: bool) -> tuple[Severity, str] | None:
    op = node.string(2)
    if op in _PYTHON_OPS:
        return Severity.CRITICAL, "runs a Python function of the serving process"
    if op == "PrintV2":
        files = [s for s in _attr_prefixes(node, "output_stream") if s.startswith(b"file://")]
        if files:
            return Severity.HIGH, f"prints to the file {files[0].decode('utf-8', 'replace')!r}"
        return None
    family = _VERSION_SUFFIX.sub("", op.removeprefix("Experimental"))
    if family in _FILE_OPS:
        return Severity.HIGH, "reads or writes files named by the graph"
    if family in _CHECKPOINT_OPS and not in_saver:
        return Severity.HIGH, "reads or writes checkpoint files outside the model's saver"
    return None


def _attr_prefixes(node: Message, key: str) -> list[bytes]:
    """The (first bytes of the) string values of attribute ``key``, duplicates included."""
    return [
        data
        for entry in node.messages(5)
        if entry.string(1) == key
        for value in entry.messages(2)
        for data in value.blobs(2)
    ]


def _node_findings(
    node: Message, where: str, in_saver: bool, artifact: Artifact
) -> Iterator[Finding]:
    verdict = _verdict(node, in_saver)
    if verdict is None:
        return
    severity, why = verdict
    op, name = node.string(2), node.string(1)
    yield finding(
        "SCAN-TF-001",
        artifact.location,
        f"node '{name}' ({where}) uses op {op}, which {why}",
        evidence=f"{op} {name}",
        severity=severity,
        offset=node.offset,
        op=op,
        where=where,
    )


def _call_finding(node: Message, where: str, callee: str, artifact: Artifact) -> Finding:
    name = node.string(1)
    return finding(
        "SCAN-TF-001",
        artifact.location,
        f"node '{name}' ({where}) calls the checkpoint function {callee}, which only the "
        f"model's saver should call: it reads or writes files",
        evidence=f"call {callee} {name}",
        offset=node.offset,
        where=where,
    )
