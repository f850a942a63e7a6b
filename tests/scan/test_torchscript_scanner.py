"""TorchScript code scanner: real torch.jit output stays clean, injected code is flagged.

Benign archives are produced by ``torch.jit.script`` / ``torch.jit.trace`` + ``torch.jit.save``
into ``tmp_path``; their ``code/`` members are fed to the scanner as zip members. Malicious
variants are the same code with one injected line (never compiled or run).
"""

from __future__ import annotations

import io
import warnings
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from mlwarden.errors import ScanLimitExceeded
from mlwarden.findings import Confidence, Finding, Location, Severity
from mlwarden.scan.base import Artifact, ScanContext, ScanLimits, Scanner
from mlwarden.scan.policy import PicklePolicy
from mlwarden.scan.registry import _load
from mlwarden.scan.torchscript_scanner import TorchScriptCodeScanner

pytest.importorskip("torch")
import torch  # after the skip: torch is an optional extra

pytestmark = pytest.mark.torch


def _no_dispatch(_artifact: Artifact, _ctx: ScanContext) -> Iterator[Finding]:
    return iter(())


def make_ctx(limits: ScanLimits | None = None) -> ScanContext:
    return ScanContext.start(PicklePolicy(), limits or ScanLimits(), dispatch=_no_dispatch)


def code_artifact(
    source: str | bytes,
    member: str = "model/code/__torch__/net.py",
    container: str | None = "zip",
) -> Artifact:
    data = source.encode() if isinstance(source, str) else source
    return Artifact(
        location=Location("model.pt", member),
        name=member,
        size=len(data),
        depth=1,
        opener=lambda: io.BytesIO(data),
        container=container,
    )


def scan(artifact: Artifact, ctx: ScanContext | None = None) -> list[Finding]:
    return list(TorchScriptCodeScanner().scan(artifact, ctx or make_ctx()))


class Block(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.layers = torch.nn.ModuleList([torch.nn.Linear(8, 8), torch.nn.Linear(8, 8)])
        self.norm = torch.nn.LayerNorm(8)
        self.seq = torch.nn.Sequential(torch.nn.Conv1d(8, 8, 1), torch.nn.BatchNorm1d(8))

    def forward(self, x: torch.Tensor, scale: float = 1.0) -> tuple[torch.Tensor, list[int]]:
        for layer in self.layers:
            x = torch.relu(layer(x))
        if bool(x.sum() < -1e9):
            raise ValueError("diverged")
        y = self.seq(x.unsqueeze(-1)).squeeze(-1)
        sizes: list[int] = [int(d) for d in y.shape]
        return self.norm(y * scale), sizes


def _code_members(path: Path) -> dict[str, str]:
    with zipfile.ZipFile(path) as zf:
        return {n: zf.read(n).decode() for n in zf.namelist() if n.endswith(".py")}


@pytest.fixture(scope="module")
def archives(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, str]]:
    root = tmp_path_factory.mktemp("ts")
    scripted = root / "scripted.pt"
    traced = root / "traced.pt"
    mlp = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.GELU(), torch.nn.Dropout(0.1)).eval()
    with warnings.catch_warnings():
        # torch 2.13 deprecates torch.jit; the archives it writes are what users still ship.
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.jit.save(torch.jit.script(Block().eval()), str(scripted))
        traced_module = torch.jit.trace(mlp, torch.randn(2, 3))  # type: ignore[no-untyped-call]
        torch.jit.save(traced_module, str(traced))
    return {"scripted": _code_members(scripted), "traced": _code_members(traced)}


def test_scanner_satisfies_protocol() -> None:
    scanner = _load("mlwarden.scan.torchscript_scanner:TorchScriptCodeScanner")
    assert isinstance(scanner, Scanner)
    assert (scanner.id, scanner.formats) == ("torchscript-code", frozenset({"python-source"}))


@pytest.mark.parametrize("kind", ["scripted", "traced"])
def test_real_torchscript_code_is_clean(archives: dict[str, dict[str, str]], kind: str) -> None:
    members = archives[kind]
    assert any("/code/" in name for name in members)
    ctx = make_ctx()
    for name, source in members.items():
        assert scan(code_artifact(source, name), ctx) == [], name
    assert ctx.errors == []
    assert ctx.stats["torchscript:code-files"] == len(members)


def _forward_file(archives: dict[str, dict[str, str]]) -> tuple[str, str]:
    """The scripted Block's own file: the one whose ``forward`` the tests inject into."""
    name, source = next((n, s) for n, s in archives["scripted"].items() if "class Block" in s)
    return name, source


INJECTED = [
    ("custom-op", "    _x = ops.evil_ns.backdoor(x)", "ops.evil_ns.backdoor"),
    ("torch-ops-custom", "    _x = torch.ops.my_ops.run(x)", "torch.ops.my_ops.run"),
    (
        "custom-class",
        "    _c : __torch__.torch.classes.pwn.Shell = x",
        "__torch__.torch.classes.pwn.Shell",
    ),
    ("dunder-import", '    _m = __import__("os")', "__import__"),
    ("os-system", '    _r = os.system("id")', "os.system"),
    ("eval", '    _r = eval("1+1")', "eval"),
    ("getattr-dunder", '    _g = getattr(x, "__class__")', "__class__"),
    ("getattr-computed", '    _g = getattr(self, "a" + "b")', "getattr(<computed>)"),
    ("subclasses", "    _s = x.__class__.__subclasses__()", "__subclasses__"),
    ("import", "    import subprocess", "import subprocess"),
    ("open", '    _f = open("/etc/passwd")', "open"),
]


def _inject(source: str, line: str) -> tuple[str, int]:
    """Insert ``line`` as the first statement of ``forward``; return the text and its line."""
    lines = source.splitlines()
    start = next(i for i, text in enumerate(lines) if text.lstrip().startswith("def forward"))
    end = next(i for i in range(start, len(lines)) if lines[i].rstrip().endswith(":"))
    body = lines[end + 1]
    lines.insert(end + 1, body[: len(body) - len(body.lstrip())] + line.strip())
    return "\n".join(lines) + "\n", end + 2


@pytest.mark.parametrize(
    ("line", "evidence"), [pytest.param(line, ev, id=i) for i, line, ev in INJECTED]
)
def test_injected_code_is_flagged(
    archives: dict[str, dict[str, str]], line: str, evidence: str
) -> None:
    name, source = _forward_file(archives)
    evil, lineno = _inject(source, line)
    findings = scan(code_artifact(evil, name))
    hits = [f for f in findings if f.evidence == evidence]
    assert hits, findings
    assert all(f.rule_id == "SCAN-TS-001" and f.severity == Severity.MEDIUM for f in findings)
    assert hits[0].location.line == lineno
    assert hits[0].location.member == name


@pytest.mark.parametrize(
    "source",
    [
        # a local variable (or argument) that happens to be called like a module
        "def forward(self, x: Tensor) -> Tensor:\n  os = self.os\n  return (os).forward(x, )\n",
        "def forward(self, input: Tensor, open: bool) -> Tensor:\n  return input\n",
        # exception type strings and known op namespaces printed by TorchScript
        'def f(x: Tensor) -> Tensor:\n  ops.prim.RaiseException("m", "builtins.ValueError")\n'
        "  return ops.quantized.linear_dynamic(x, ops.aten.relu(x))\n",
        "def f(x: Tensor) -> Tensor:\n  return torch.ops.torchvision.nms(x, x, 0.5)\n",
        'def f(self) -> Tensor:\n  _0 = getattr(self, "0")\n  return torch.__not__(False)\n',
        # the annotation a dynamically quantized Linear prints for its packed params
        "class L(Module):\n  _packed : __torch__.torch.classes.quantized.LinearPackedParamsBase\n",
    ],
)
def test_benign_lookalikes_are_not_flagged(source: str) -> None:
    assert scan(code_artifact(source)) == []


@pytest.mark.parametrize(
    ("member", "container"),
    [
        ("model/code/__torch__/net.py", None),  # a .py file on disk: the linter's job
        ("mypkg/utils.py", "zip"),  # a zip member outside code/
    ],
)
def test_only_torchscript_code_members_are_scanned(member: str, container: str | None) -> None:
    artifact = code_artifact('import os\nos.system("id")\n', member, container)
    assert scan(artifact) == []


def test_syntax_error_is_a_note_not_a_finding() -> None:
    ctx = make_ctx()
    assert scan(code_artifact("def forward(self:\n  return\n"), ctx) == []
    assert len(ctx.errors) == 1
    assert "not parseable" in ctx.errors[0].error


def test_unparseable_code_with_payload_still_flagged() -> None:
    ctx = make_ctx()
    findings = scan(code_artifact('def forward(self:\n  __import__("os")\n'), ctx)
    assert [(f.rule_id, f.evidence, f.confidence) for f in findings] == [
        ("SCAN-TS-001", "__import__", Confidence.MEDIUM)
    ]
    assert ctx.errors


def test_oversized_member_hits_the_limit() -> None:
    source = "def f(x: Tensor) -> Tensor:\n" + "  x = torch.relu(x)\n" * 200
    with pytest.raises(ScanLimitExceeded):
        scan(code_artifact(source), make_ctx(ScanLimits(max_header_bytes=1024)))
