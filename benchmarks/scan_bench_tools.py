"""The scanners under test, each behind one interface: run on a path, return a verdict.

mlwarden runs from this interpreter (API) or as its CLI; the peers run as the CLIs of their
own virtual environments under ``benchmarks/.peers/<tool>/`` (see ``setup_peers.sh``). Every
subprocess runs in an empty working directory so no tool picks up a config file or leaves
output behind. Peak memory is read by a fresh helper process per measurement
(``RUSAGE_CHILDREN`` is a high-water mark, so a long-lived parent would only see the maximum
over everything it ever ran).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import mlwarden
from mlwarden import ScanOptions, Severity

PEERS_DIR = Path(__file__).resolve().parent / ".peers"

#: Verdicts of one tool on one file.
UNSAFE, CLEAN, ERROR, SKIPPED, TIMEOUT = "unsafe", "clean", "error", "skipped", "timeout"

_HELPER = r"""
import json, resource, subprocess, sys, time
timeout, cmd = float(sys.argv[1]), sys.argv[2:]
start = time.perf_counter()
try:
    p = subprocess.run(cmd, capture_output=True, timeout=timeout)
    rc, out, err, late = p.returncode, p.stdout, p.stderr, False
except subprocess.TimeoutExpired as e:
    rc, out, err, late = -9, e.stdout or b"", e.stderr or b"", True
wall = time.perf_counter() - start
rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(json.dumps({"rc": rc, "wall": wall, "rss_kib": rss, "timed_out": late,
                  "out": out[-20000:].decode("utf-8", "replace"),
                  "err": err[-4000:].decode("utf-8", "replace")}))
"""

#: Run by a fresh interpreter: the in-process API time of one scan, and its verdict.
_API_SNIPPET = r"""
import json, sys, time
import mlwarden
from mlwarden import ScanOptions, Severity
t = time.perf_counter()
r = mlwarden.scan([sys.argv[1]], ScanOptions(jobs=1))
s = time.perf_counter() - t
print(json.dumps({"scan_s": s, "unsafe": bool(r.at_or_above(Severity.MEDIUM)),
                  "errors": len(r.errors), "scanned": len(r.scanned)}))
"""


@dataclass(frozen=True)
class Run:
    """One subprocess run: exit code, wall seconds, peak RSS (MB = 10^6 bytes), output."""

    rc: int
    wall: float
    rss_mb: float
    timed_out: bool
    out: str
    err: str


def run_cmd(cmd: list[str], cwd: Path, timeout: float, *, rss: bool = False) -> Run:
    """Run ``cmd`` in ``cwd``; with ``rss`` through a fresh helper that reads peak memory."""
    if rss:
        helper = [sys.executable, "-c", _HELPER, str(timeout), *cmd]
        proc = subprocess.run(helper, cwd=cwd, capture_output=True, check=False)
        data = json.loads(proc.stdout)
        rss_mb = data["rss_kib"] * 1024 / 1e6
        return Run(data["rc"], data["wall"], rss_mb, data["timed_out"], data["out"], data["err"])
    start = time.perf_counter()
    try:
        proc = subprocess.run(cmd, cwd=cwd, capture_output=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return Run(-9, time.perf_counter() - start, 0.0, True, "", "")
    wall = time.perf_counter() - start
    out, err = (b.decode("utf-8", "replace") for b in (proc.stdout, proc.stderr))
    return Run(proc.returncode, wall, 0.0, False, out, err)


class Tool:
    """A scanner invoked as a CLI on one path; subclasses say how and read the verdict."""

    name = ""
    formats: frozenset[str] = frozenset()

    def __init__(self) -> None:
        self.unavailable = ""
        self.version = ""

    def command(self, path: Path, workdir: Path) -> list[str]:
        raise NotImplementedError

    def verdict(self, run: Run, workdir: Path) -> str:
        raise NotImplementedError

    def scan(self, path: Path, timeout: float, *, rss: bool = False) -> tuple[str, Run]:
        """Scan ``path`` once; returns the verdict and the raw run."""
        with tempfile.TemporaryDirectory(prefix=f"bench-{self.name}-") as tmp:
            workdir = Path(tmp)
            run = run_cmd(self.command(path, workdir), workdir, timeout, rss=rss)
            if run.timed_out:
                return TIMEOUT, run
            # An uncaught exception also exits 1, the "unsafe" code of most of these tools.
            if run.rc == 1 and "Traceback (most recent call last)" in run.err:
                return ERROR, run
            return self.verdict(run, workdir), run


class MlwardenCli(Tool):
    """``mlwarden scan PATH --format json --fail-on medium``: exit 1 means unsafe."""

    name = "mlwarden"
    formats = frozenset({"pickle", "torch", "numpy", "safetensors"})

    def __init__(self) -> None:
        super().__init__()
        self.version = mlwarden.__version__
        self.exe = str(Path(sys.executable).with_name("mlwarden"))

    def command(self, path: Path, workdir: Path) -> list[str]:
        return [
            self.exe,
            "scan",
            str(path),
            "--format",
            "json",
            "--fail-on",
            "medium",
            "--no-progress",
        ]

    def verdict(self, run: Run, workdir: Path) -> str:
        if run.rc == 1:
            try:
                findings = json.loads(run.out)["findings"]
            except (ValueError, KeyError):
                return ERROR
            worst = max((Severity(f["severity"]) for f in findings), default=Severity.INFO)
            return UNSAFE if worst >= Severity.MEDIUM else ERROR
        return {0: CLEAN, 3: SKIPPED}.get(run.rc, ERROR)


class MlwardenApi(Tool):
    """The Python API in a fresh interpreter (for peak RSS); reports the in-process time."""

    name = "mlwarden-api"
    formats = MlwardenCli.formats

    def command(self, path: Path, workdir: Path) -> list[str]:
        return [sys.executable, "-c", _API_SNIPPET, str(path)]

    def verdict(self, run: Run, workdir: Path) -> str:
        if run.rc != 0:
            return ERROR
        data = json.loads(run.out)
        if data["unsafe"]:
            return UNSAFE
        return ERROR if data["errors"] else (CLEAN if data["scanned"] else SKIPPED)

    @staticmethod
    def scan_seconds(run: Run) -> float | None:
        """The in-process seconds the snippet printed, or None when it failed."""
        try:
            return float(json.loads(run.out)["scan_s"])
        except (ValueError, KeyError, TypeError):
            return None


def api_verdict(path: Path) -> tuple[str, float]:
    """Scan ``path`` in this process; returns the verdict and the seconds it took."""
    start = time.perf_counter()
    try:
        report = mlwarden.scan([path], ScanOptions(jobs=1))
    except Exception:  # a crash is a result here, like a peer's traceback
        return ERROR, time.perf_counter() - start
    seconds = time.perf_counter() - start
    if report.at_or_above(Severity.MEDIUM):
        return UNSAFE, seconds
    if report.errors:
        return ERROR, seconds
    return (CLEAN if report.scanned else SKIPPED), seconds


class Peer(Tool):
    """A peer CLI from its own venv; unavailable (with the reason) when it does not run."""

    dist = ""

    def __init__(self) -> None:
        super().__init__()
        self.venv = PEERS_DIR / self.name
        exe = self.venv / "bin" / self.name
        if not exe.exists():
            self.unavailable = f"{exe} missing (run benchmarks/setup_peers.sh)"
            return
        probe = run_cmd([str(exe), "--help"], PEERS_DIR, 60)
        if probe.rc != 0:
            tail = (probe.err or probe.out).strip().splitlines()[-1:] or ["no output"]
            self.unavailable = f"'{self.name} --help' exited {probe.rc}: {tail[0]}"
            return
        py = str(self.venv / "bin" / "python")
        meta = f"import importlib.metadata as m; print(m.version({self.dist or self.name!r}))"
        self.version = run_cmd([py, "-c", meta], PEERS_DIR, 60).out.strip()

    @property
    def exe(self) -> str:
        return str(self.venv / "bin" / self.name)


class Picklescan(Peer):
    """``picklescan --path FILE``: exit 0 clean, 1 dangerous globals, 2 scan error.

    An error after a dangerous global still exits 2, so the summary's "Infected files" count
    decides; "Scanned files: 0" means the file type is not one it scans.
    """

    name = "picklescan"
    formats = frozenset({"pickle", "torch", "numpy"})

    def command(self, path: Path, workdir: Path) -> list[str]:
        return [self.exe, "--path", str(path)]

    def verdict(self, run: Run, workdir: Path) -> str:
        infected = re.search(r"Infected files: (\d+)", run.out)
        scanned = re.search(r"Scanned files: (\d+)", run.out)
        if infected and int(infected.group(1)) > 0:
            return UNSAFE
        if run.rc == 0 and scanned and int(scanned.group(1)) == 0:
            return SKIPPED
        return {0: CLEAN, 1: UNSAFE}.get(run.rc, ERROR)


class Modelscan(Peer):
    """``modelscan -p FILE -r json -o OUT``: exit 0 clean, 1 issues, 2 errors, 3 nothing scanned.

    Any issue, whatever its severity, is a non-zero exit and counts as unsafe.
    """

    name = "modelscan"
    formats = frozenset({"pickle", "torch", "numpy"})

    def command(self, path: Path, workdir: Path) -> list[str]:
        return [self.exe, "-p", str(path), "-r", "json", "-o", str(workdir / "report.json")]

    def verdict(self, run: Run, workdir: Path) -> str:
        try:
            report = json.loads((workdir / "report.json").read_text())
        except (OSError, ValueError):
            report = {}
        if report.get("issues"):
            return UNSAFE
        return {0: CLEAN, 1: UNSAFE, 3: SKIPPED}.get(run.rc, ERROR)


class Fickling(Peer):
    """``fickling --check-safety FILE``: exit 0 likely safe, 1 unsafe, 2 parse error.

    Its CLI reads raw (stacked) pickles only; a zip (PyTorch) file is a parse error.
    ``--json-output`` would otherwise append to ``./safety_results.json``.
    """

    name = "fickling"
    formats = frozenset({"pickle"})

    def command(self, path: Path, workdir: Path) -> list[str]:
        return [self.exe, "--check-safety", "--json-output", str(workdir / "r.json"), str(path)]

    def verdict(self, run: Run, workdir: Path) -> str:
        return {0: CLEAN, 1: UNSAFE}.get(run.rc, ERROR)


def peers() -> list[Peer]:
    """Every peer, each possibly marked unavailable."""
    return [Picklescan(), Modelscan(), Fickling()]
