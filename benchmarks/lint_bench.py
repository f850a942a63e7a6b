"""Benchmark `mlwarden lint` against bandit, ruff --select S and semgrep in one run.

(a) The lint corpus (``tests/linter/corpus``): per-risk recall and precision of each tool,
    matching findings to expected (file, line, OWASP risk) triples.
(b) The scikit-learn source installed in this venv: lines per second of each tool.

Peers run as their CLIs from their own venvs (``benchmarks/setup_lint_peers.sh``); a peer
that is missing is printed as unavailable and the run goes on. semgrep runs local rules
only (written below, approximating Trail of Bits' ML rules), with metrics off.

Usage:
    benchmarks/setup_lint_peers.sh
    python benchmarks/lint_bench.py [--json out/lint_bench.json] [--skip-sklearn]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
PEERS = REPO / "benchmarks" / ".peers"
sys.path.insert(0, str(REPO))

from tests.linter.corpus import Case, risk_of, write_corpus  # noqa: E402

RISKS = [f"ML{i:02d}" for i in range(1, 11)]
#: Peer rule -> OWASP ML risk. Only rules that flag a call are mapped; import-level notes
#: (B403/S403 "import pickle") and generic ones (timeouts, subprocess) are left out, which
#: can only raise the peers' precision.
BANDIT_RISK = {
    **dict.fromkeys(("B301", "B302", "B506", "B614", "B615", "B202"), "ML06"),
    **dict.fromkeys(("B501", "B502", "B503", "B504", "B323"), "ML09"),
}
RUFF_RISK = {
    **dict.fromkeys(("S301", "S302", "S506", "S202"), "ML06"),
    **dict.fromkeys(("S501", "S502", "S503", "S504", "S323"), "ML09"),
}
SEMGREP_RULES = """
rules:
  - id: pickle-load
    languages: [python]
    severity: ERROR
    message: unpickling runs code
    metadata: {risk: ML06}
    pattern-either:
      - pattern: pickle.load(...)
      - pattern: pickle.loads(...)
      - pattern: dill.load(...)
      - pattern: dill.loads(...)
      - pattern: cloudpickle.load(...)
      - pattern: cloudpickle.loads(...)
      - pattern: joblib.load(...)
      - pattern: pandas.read_pickle(...)
      - pattern: shelve.open(...)
      - pattern: marshal.loads(...)
  - id: torch-load
    languages: [python]
    severity: ERROR
    message: torch.load unpickles
    metadata: {risk: ML06}
    pattern: torch.load(...)
  - id: numpy-allow-pickle
    languages: [python]
    severity: ERROR
    message: numpy.load with allow_pickle
    metadata: {risk: ML06}
    pattern: numpy.load(..., allow_pickle=True, ...)
  - id: keras-load-model
    languages: [python]
    severity: WARNING
    message: Keras load_model on a non-literal path
    metadata: {risk: ML06}
    patterns:
      - pattern-either:
          - pattern: keras.models.load_model($P, ...)
          - pattern: tensorflow.keras.models.load_model($P, ...)
          - pattern: keras.saving.load_model($P, ...)
      - pattern-not: $F("...", ...)
  - id: keras-unsafe
    languages: [python]
    severity: ERROR
    message: Keras unsafe deserialisation
    metadata: {risk: ML06}
    pattern-either:
      - pattern: $F(..., safe_mode=False, ...)
      - pattern: keras.config.enable_unsafe_deserialization()
  - id: huggingface-remote-code
    languages: [python]
    severity: ERROR
    message: trust_remote_code runs repository code
    metadata: {risk: ML06}
    pattern: $F(..., trust_remote_code=True, ...)
  - id: yaml-unsafe
    languages: [python]
    severity: ERROR
    message: yaml.load with an unsafe loader
    metadata: {risk: ML06}
    pattern-either:
      - pattern: yaml.load(..., Loader=yaml.Loader, ...)
      - pattern: yaml.load(..., Loader=yaml.UnsafeLoader, ...)
      - pattern: yaml.unsafe_load(...)
  - id: requests-verify-false
    languages: [python]
    severity: ERROR
    message: TLS verification disabled
    metadata: {risk: ML09}
    pattern-either:
      - pattern: requests.$M(..., verify=False, ...)
      - pattern: httpx.$M(..., verify=False, ...)
"""


@dataclass
class ToolRun:
    """One tool's results: findings as (file, line, risk), wall time, availability."""

    name: str
    findings: set[tuple[str, int, str]] = field(default_factory=set)
    seconds: float = 0.0
    error: str = ""
    version: str = ""


def _run(cmd: list[str], cwd: Path, timeout: float = 900) -> tuple[int, str, float]:
    env = {**os.environ, "SEMGREP_SEND_METRICS": "off", "SEMGREP_ENABLE_VERSION_CHECK": "0"}
    started = time.perf_counter()
    done = subprocess.run(
        cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env, check=False
    )
    if "Traceback" in done.stderr:
        print(f"  {Path(cmd[0]).name} crashed:\n{done.stderr[-2000:]}", file=sys.stderr)
    return done.returncode, done.stdout, time.perf_counter() - started


def _tool(name: str) -> Path | None:
    if name == "mlwarden":
        exe = Path(sys.executable).parent / "mlwarden"
    else:
        exe = PEERS / name / "bin" / name
    return exe if exe.exists() else None


def _version(exe: Path) -> str:
    try:
        out = subprocess.run(
            [str(exe), "--version"], capture_output=True, text=True, timeout=60, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return "?"
    return (out.stdout or out.stderr).strip().splitlines()[0] if (out.stdout or out.stderr) else "?"


def run_mlwarden(target: Path, work: Path) -> ToolRun:
    exe = _tool("mlwarden")
    run = ToolRun("mlwarden lint")
    if exe is None:
        run.error = "mlwarden is not installed in this venv"
        return run
    out = work / "mlwarden.json"
    out.unlink(missing_ok=True)
    code, _, run.seconds = _run(
        [str(exe), "lint", str(target), "--format", "json", "-o", str(out), "--exit-zero"], work
    )
    if code != 0 or not out.exists():
        run.error = f"mlwarden lint failed (exit {code})"
        return run
    data = json.loads(out.read_text())
    for f in data["findings"]:
        loc = f["location"]
        run.findings.add((os.path.realpath(loc["path"]), loc["line"], risk_of(f["rule_id"])))
    run.version = _version(exe)
    return run


def run_bandit(target: Path, work: Path) -> ToolRun:
    run = ToolRun("bandit")
    exe = _tool("bandit")
    if exe is None:
        run.error = "unavailable: run benchmarks/setup_lint_peers.sh"
        return run
    out = work / "bandit.json"
    out.unlink(missing_ok=True)
    _, _, run.seconds = _run(
        [str(exe), "-r", str(target), "-q", "-f", "json", "-o", str(out)], work
    )
    if not out.exists():
        run.error = "bandit wrote no report"
        return run
    for r in json.loads(out.read_text())["results"]:
        risk = BANDIT_RISK.get(r["test_id"])
        if risk:
            run.findings.add((os.path.realpath(r["filename"]), r["line_number"], risk))
    run.version = _version(exe)
    return run


def run_ruff(target: Path, work: Path) -> ToolRun:
    run = ToolRun("ruff --select S")
    exe = _tool("ruff")
    if exe is None:
        run.error = "unavailable: run benchmarks/setup_lint_peers.sh"
        return run
    cmd = [str(exe), "check", "--isolated", "--no-cache", "--select", "S"]
    _, stdout, run.seconds = _run(
        [*cmd, "--output-format", "json", "--exit-zero", str(target)], work
    )
    for r in json.loads(stdout or "[]"):
        risk = RUFF_RISK.get(r["code"] or "")
        if risk:
            run.findings.add((os.path.realpath(r["filename"]), r["location"]["row"], risk))
    run.version = _version(exe)
    return run


def run_semgrep(target: Path, work: Path) -> ToolRun:
    run = ToolRun("semgrep (local ML rules)")
    exe = _tool("semgrep")
    if exe is None:
        run.error = "unavailable: run benchmarks/setup_lint_peers.sh"
        return run
    rules = work / "semgrep-ml.yml"
    rules.write_text(SEMGREP_RULES)
    cmd = [str(exe), "scan", "--config", str(rules), "--metrics=off", "--disable-version-check"]
    cmd += ["--json", "--quiet", "--jobs", str(os.cpu_count() or 1), str(target)]
    code, stdout, run.seconds = _run(cmd, work)
    try:
        results = json.loads(stdout)["results"]
    except (ValueError, KeyError):
        run.error = f"semgrep failed (exit {code})"
        return run
    for r in results:
        risk = r["extra"]["metadata"].get("risk", "ML06")
        run.findings.add((os.path.realpath(r["path"]), r["start"]["line"], risk))
    run.version = _version(exe)
    return run


TOOLS = (run_mlwarden, run_bandit, run_ruff, run_semgrep)


def score(run: ToolRun, expected: set[tuple[str, int, str]]) -> dict[str, dict[str, Any]]:
    """Recall and precision per risk (precision None when the tool reports nothing)."""
    out: dict[str, dict[str, Any]] = {}
    for risk in RISKS:
        want = {e for e in expected if e[2] == risk}
        got = {f for f in run.findings if f[2] == risk}
        tp = len(want & got)
        out[risk] = {
            "expected": len(want),
            "found": len(got),
            "tp": tp,
            "recall": tp / len(want) if want else None,
            "precision": tp / len(got) if got else None,
        }
    return out


def corpus_bench(work: Path) -> dict[str, Any]:
    root = work / "corpus"
    files: dict[Path, Case] = write_corpus(root)
    expected = {
        (os.path.realpath(p), line, risk_of(rule))
        for p, c in files.items()
        for rule, line in c.expected
    }
    results: dict[str, Any] = {"files": len(files), "expected": len(expected), "tools": {}}
    for tool in TOOLS:
        run = tool(root, work)
        results["tools"][run.name] = {
            "error": run.error,
            "version": run.version,
            "per_risk": None if run.error else score(run, expected),
        }
    return results


def _fmt(value: float | None) -> str:
    return "  -  " if value is None else f"{value:5.2f}"


def print_corpus(results: dict[str, Any]) -> None:
    print(f"\n(a) lint corpus: {results['files']} files, {results['expected']} expected findings")
    print("recall / precision per risk ('-' = the tool reported nothing for that risk)")
    print(f"{'tool':28}" + "".join(f"{r:>13}" for r in RISKS))
    for name, data in results["tools"].items():
        if data["error"]:
            print(f"{name:28}{data['error']}")
            continue
        cells = [f"{_fmt(s['recall'])}/{_fmt(s['precision'])}" for s in data["per_risk"].values()]
        print(f"{name:28}" + "".join(f"{c:>13}" for c in cells))


def sklearn_bench(work: Path, repeat: int) -> dict[str, Any]:
    import sklearn

    target = Path(sklearn.__file__).parent
    lines = sum(
        p.read_text(encoding="utf-8", errors="replace").count("\n") + 1
        for p in target.rglob("*.py")
    )
    out: dict[str, Any] = {"path": "sklearn " + sklearn.__version__, "lines": lines, "tools": {}}
    for tool in TOOLS:
        best = None
        for _ in range(repeat):
            run = tool(target, work)
            if run.error:
                print(f"  {run.name}: {run.error}", file=sys.stderr)
                break
            best = run.seconds if best is None else min(best, run.seconds)
        out["tools"][run.name] = {
            "error": run.error,
            "seconds": best,
            "lines_per_second": round(lines / best) if best else None,
        }
    return out


def print_sklearn(results: dict[str, Any]) -> None:
    print(f"\n(b) {results['path']} source: {results['lines']} lines (best wall time)")
    bandit = results["tools"].get("bandit", {}).get("lines_per_second")
    for name, data in results["tools"].items():
        if data["error"]:
            print(f"{name:28}{data['error']}")
            continue
        ratio = f"{data['lines_per_second'] / bandit:6.1f}x bandit" if bandit else ""
        print(f"{name:28}{data['seconds']:8.2f} s {data['lines_per_second']:>10} lines/s  {ratio}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, help="Write every number to this file.")
    parser.add_argument("--skip-corpus", action="store_true")
    parser.add_argument("--skip-sklearn", action="store_true")
    parser.add_argument("--repeat", type=int, default=2, help="Runs per tool on sklearn (best).")
    parser.add_argument("--tools", default="", help="Comma-separated subset: mlwarden,bandit,...")
    args = parser.parse_args()
    if args.tools:
        wanted = {t.strip() for t in args.tools.split(",")}
        global TOOLS
        TOOLS = tuple(t for t in TOOLS if t.__name__.removeprefix("run_") in wanted)
    print(f"machine: {os.cpu_count()} cores; load average {os.getloadavg()[0]:.2f}")
    out: dict[str, Any] = {"load_average": os.getloadavg()[0], "cores": os.cpu_count()}
    work = Path(tempfile.mkdtemp(prefix="lint-bench-"))
    try:
        if not args.skip_corpus:
            out["corpus"] = corpus_bench(work)
            print_corpus(out["corpus"])
        if not args.skip_sklearn:
            out["sklearn"] = sklearn_bench(work, args.repeat)
            print_sklearn(out["sklearn"])
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(out, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
