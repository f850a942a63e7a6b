"""Scanner for pickle streams: plain and stacked pickles, joblib files, legacy torch files.

Runs the symbolic machine (``pickle_vm``) over every pickle in the stream and turns what it
observed into findings: dangerous, loader, unknown and computed globals, extension codes,
monkey-patching BUILDs, malformations, and the verdicts of pickles nested in bytes constants.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

from mlwarden.errors import MalformedInput
from mlwarden.findings import Confidence, Finding, Severity
from mlwarden.scan.base import Artifact, ScanContext, finding
from mlwarden.scan.joblib_arrays import joblib_build_hook
from mlwarden.scan.pickle_reader import Reader
from mlwarden.scan.pickle_values import BigBytes, CallResult, GlobalRef, Sym
from mlwarden.scan.pickle_vm import Observation, PickleMachine
from mlwarden.scan.policy import Kind, Verdict
from mlwarden.scan.window import Window

#: First value of a legacy (non-zip) torch.save file; four more pickles then raw storages.
TORCH_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
_TORCH_LEGACY_PICKLES = 5
_MAX_EMBEDDED = 32
_EARLY_FAILURE_OPCODES = 4


@dataclass
class _Seen:
    """Deduplicates findings within one artifact (one finding per global, with a count)."""

    counts: dict[tuple[str, str], int] = field(default_factory=dict)

    def first(self, rule_id: str, key: str) -> bool:
        k = (rule_id, key)
        self.counts[k] = self.counts.get(k, 0) + 1
        return self.counts[k] == 1


class PickleScanner:
    """Judges every global a pickle stream would resolve, without unpickling it."""

    id = "pickle"
    formats = frozenset({"pickle"})

    def scan(self, artifact: Artifact, ctx: ScanContext) -> Iterator[Finding]:
        with artifact.open() as stream:
            yield from _PickleSession(artifact, ctx).run(stream)


class _PickleSession:
    def __init__(self, artifact: Artifact, ctx: ScanContext, speculative: bool = False) -> None:
        self.artifact = artifact
        self.ctx = ctx
        self.speculative = speculative
        self.seen = _Seen()
        self.verdicts: dict[tuple[str, str], Verdict] = {}
        self.clean_stop = False
        self.loaded: set[int] = set()

    def resolve(self, module: str, name: str, offset: int) -> GlobalRef:
        key = (module, name)
        verdict = self.verdicts.get(key)
        if verdict is None:
            verdict = self.verdicts[key] = self.ctx.policy.judge(module, name)
        return GlobalRef(module, name, offset, verdict)

    def machine(self, reader: Reader) -> PickleMachine:
        return PickleMachine(
            reader,
            self.resolve,
            self.ctx.check_deadline,
            on_build=joblib_build_hook,
            max_memo=self.ctx.limits.max_memo_entries,
        )

    def run(self, stream: BinaryIO) -> Iterator[Finding]:
        reader = Reader(stream, self.artifact.size)
        legacy_torch = False
        for index in range(self.ctx.limits.max_stacked_pickles):
            obs = self.machine(reader).run()
            yield from self.judge(obs, index, stream)
            if obs.error is not None:
                return
            if index == 0:
                self.clean_stop = True
                legacy_torch = obs.result == TORCH_LEGACY_MAGIC
            if legacy_torch and index + 1 == _TORCH_LEGACY_PICKLES:
                return  # raw tensor storages follow; torch never unpickles them
            nxt = reader.peek(2)
            if len(nxt) < 2 or nxt[0] != 0x80 or nxt[1] > 5:
                return  # trailing bytes that are not a pickle are never unpickled

    # -- findings --------------------------------------------------------------------------
    def judge(self, obs: Observation, index: int, stream: BinaryIO) -> Iterator[Finding]:
        yield from self._globals(obs)
        yield from self._loaders(obs, stream)
        yield from self._dynamic(obs)
        yield from self._embedded(obs, stream)
        if obs.error is not None:
            yield from self._malformed(obs, index)

    def _make(self, rule_id: str, message: str, offset: int, **kw: object) -> Finding:
        return finding(rule_id, self.artifact.location, message, offset=offset, **kw)  # type: ignore[arg-type]

    def _globals(self, obs: Observation) -> Iterator[Finding]:
        for ref in obs.globals:
            kind = ref.verdict.kind
            how = "called" if ref.called else "referenced"
            if kind is Kind.DANGEROUS and self.seen.first("SCAN-PKL-001", ref.dotted):
                yield self._make(
                    "SCAN-PKL-001",
                    f"pickle {how} {ref.dotted}: {ref.verdict.reason}",
                    ref.offset,
                    evidence=ref.dotted,
                )
            elif kind is Kind.UNKNOWN and self.seen.first("SCAN-PKL-002", ref.dotted):
                yield self._make(
                    "SCAN-PKL-002",
                    f"pickle {how} {ref.dotted}, which is not on the allow-list",
                    ref.offset,
                    evidence=ref.dotted,
                    confidence=Confidence.MEDIUM,
                )
        for ref, offset in obs.patched_globals:
            if self.seen.first("SCAN-PKL-001", f"BUILD:{ref.dotted}"):
                yield self._make(
                    "SCAN-PKL-001",
                    f"BUILD sets attributes on the global {ref.dotted} (monkey-patching gadget)",
                    offset,
                    evidence=ref.dotted,
                )

    def _loaders(self, obs: Observation, stream: BinaryIO) -> Iterator[Finding]:
        scanned: set[int] = set()
        for ref, args in obs.loader_calls:
            data = as_bytes(args[0]) if args else None
            if data is not None:
                scanned.add(id(ref))
                self.loaded.add(id(data))
                yield from self._nested(data, stream, f"{ref.name}@{ref.offset}", False)
        for ref in obs.globals:
            if ref.verdict.kind is not Kind.LOADER:
                continue
            if ref.verdict.scan_argument and id(ref) in scanned:
                continue  # e.g. torch's own _load_from_bytes: judged by what it loads
            if self.seen.first("SCAN-PKL-005", ref.dotted):
                yield self._make(
                    "SCAN-PKL-005",
                    f"pickle {'calls' if ref.called else 'references'} the nested loader "
                    f"{ref.dotted}",
                    ref.offset,
                    evidence=ref.dotted,
                )

    def _dynamic(self, obs: Observation) -> Iterator[Finding]:
        for offset, what in obs.dynamic:
            if self.seen.first("SCAN-PKL-003", what):
                yield self._make("SCAN-PKL-003", f"pickle resolves {what}", offset, evidence=what)
        for offset, code in obs.ext_codes:
            if self.seen.first("SCAN-PKL-004", str(code)):
                yield self._make(
                    "SCAN-PKL-004", f"pickle uses extension code {code}", offset, evidence=str(code)
                )

    def _malformed(self, obs: Observation, index: int) -> Iterator[Finding]:
        offset, message = obs.error or (0, "")
        early = obs.opcodes < _EARLY_FAILURE_OPCODES and not obs.globals
        severity = Severity.LOW if (early or index > 0) else None
        if self.speculative:
            return
        yield self._make(
            "SCAN-PKL-006",
            f"pickle #{index + 1} is malformed at byte {offset}: {message}; everything before "
            "this point would run in the real unpickler",
            offset,
            evidence=message,
            severity=severity,
        )

    def _embedded(self, obs: Observation, stream: BinaryIO) -> Iterator[Finding]:
        for n, data in enumerate(obs.embedded[:_MAX_EMBEDDED]):
            if id(data) in self.loaded:
                continue  # already scanned as a loader's argument
            offset = data.offset if isinstance(data, BigBytes) else 0
            yield from self._nested(data, stream, f"bytes@{offset or n}", True)

    def _nested(
        self, data: bytes | BigBytes, stream: BinaryIO, member: str, speculative: bool
    ) -> Iterator[Finding]:
        """Scan bytes found in this pickle as their own artifact (loader argument or constant)."""
        opener = _opener(data, self.artifact)
        if opener is None:
            return
        child = Artifact(
            location=self.artifact.child_location(member),
            name=member,
            size=data.length if isinstance(data, BigBytes) else len(data),
            depth=self.artifact.depth + 1,
            opener=opener,
            container="embedded",
        )
        if not speculative:
            yield from self.ctx.scan_child(child)
            return
        head = data.head if isinstance(data, BigBytes) else data[:4]
        if head[:2] == b"PK":
            yield from self.ctx.scan_child(child)
            return
        yield from _speculative(child, self.ctx)


_ENCODERS = frozenset({"_codecs.encode", "codecs.encode"})


def as_bytes(value: Sym) -> bytes | BigBytes | None:
    """The bytes a symbolic value stands for, when known.

    Protocols 0-2 have no bytes opcode: ``bytes`` objects are pickled as
    ``_codecs.encode(text, "latin1")``.
    """
    if isinstance(value, (bytes, BigBytes)):
        return value
    if (
        isinstance(value, CallResult)
        and isinstance(value.func, GlobalRef)
        and value.func.dotted in _ENCODERS
        and len(value.args) == 2
        and isinstance(value.args[0], str)
        and value.args[1] in ("latin1", "latin-1", "iso-8859-1")
    ):
        try:
            return value.args[0].encode("latin-1")
        except UnicodeEncodeError:
            return None
    return None


def _opener(data: bytes | BigBytes, parent: Artifact) -> Callable[[], BinaryIO] | None:
    if isinstance(data, bytes):
        return lambda: io.BytesIO(data)
    return lambda: Window(parent.open(), data.offset, data.length)  # type: ignore[return-value]


def _speculative(child: Artifact, ctx: ScanContext) -> Iterator[Finding]:
    """A bytes constant that starts like a pickle: report it only if it really is one."""
    if child.depth > ctx.limits.max_depth:
        return
    session = _PickleSession(child, ctx, speculative=True)
    try:
        with child.open() as stream:
            found = list(session.run(stream))
    except MalformedInput:
        return
    strong = any(f.rule_id in ("SCAN-PKL-001", "SCAN-PKL-005") for f in found)
    if session.clean_stop or strong:
        yield from found


__all__ = ["TORCH_LEGACY_MAGIC", "PickleScanner", "Sym"]
