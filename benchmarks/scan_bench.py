"""Benchmark `mlwarden scan` against picklescan, modelscan and fickling on the same inputs.

Two parts, one run:

1. The test corpus (``tests.corpus``; ``--smoke`` for a small stand-in): recall on malicious
   samples, false positives on benign ones, the technique families each tool misses, and the
   wall time over the corpus (peers: one CLI process per file; mlwarden: in-process API per
   file, one API call and one CLI call over the whole directory, and one CLI process per file).
2. Big benign files (``benchmarks/.data/``, generated once): wall time and peak RSS of every
   tool on a raw pickle, a float-list pickle, a torch ``.pt``, a ``.npy`` and a
   ``.safetensors``, with the peer/mlwarden ratios.

Setup: ``benchmarks/setup_peers.sh`` (one venv per peer). Run from the repository root with
the project venv: ``python benchmarks/scan_bench.py [--smoke] [--big-gib 1.0] [--json F]``.
Nothing scanned is ever loaded: the malicious samples stay inert files.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from scan_bench_inputs import BenchSample, big_files, load_corpus, warm_cache, write_smoke
from scan_bench_report import REPEAT_BUDGET_S, print_big, print_corpus, targets
from scan_bench_tools import (
    CLEAN,
    ERROR,
    SKIPPED,
    TIMEOUT,
    UNSAFE,
    MlwardenApi,
    MlwardenCli,
    Peer,
    Tool,
    api_verdict,
    peers,
    run_cmd,
)

import mlwarden
from mlwarden import ScanOptions, Severity
from mlwarden.scan.registry import all_scanners

REPEATS = 3


def log(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


# --- peers: calibration --------------------------------------------------------------------


def calibrate(tools: list[Peer], timeout: float) -> dict[str, Any]:
    """Run each peer on a known-malicious and a known-benign pickle; mark broken ones."""
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="bench-calib-") as tmp:
        write_smoke(Path(tmp))
        mal = Path(tmp) / "malicious/os_system_p4.pkl"
        ben = Path(tmp) / "benign/plain_dict.pkl"
        for tool in tools:
            if tool.unavailable:
                continue
            bad, _ = tool.scan(mal, timeout)
            good, _ = tool.scan(ben, timeout)
            out[tool.name] = {"malicious_pickle": bad, "benign_pickle": good}
            if bad != UNSAFE:
                tool.unavailable = f"calibration: os.system pickle reported {bad!r}, not unsafe"
    return out


# --- part 1: the corpus --------------------------------------------------------------------


def owner(rel: str, samples: list[BenchSample]) -> BenchSample | None:
    """The sample a scanned path belongs to (a sample may be a directory)."""
    for s in samples:
        if rel == s.relpath or rel.startswith(s.relpath.rstrip("/") + "/"):
            return s
    return None


def cli_dir_verdicts(cli: MlwardenCli, root: Path, samples: list[BenchSample]) -> dict[str, Any]:
    """One `mlwarden scan DIR --format json` over the corpus; verdicts from its findings.

    ``notes`` keeps what the run said about each sample (rule:severity, errors) so that a
    disagreement with the per-file API verdicts can be explained from the JSON.
    """
    run = run_cmd(cli.command(root, root), root.parent, 1800)
    verdicts = {s.relpath: CLEAN for s in samples}
    notes: dict[str, list[str]] = defaultdict(list)
    try:
        report = json.loads(run.out)
    except ValueError:
        return {"seconds": run.wall, "rc": run.rc, "verdicts": {}, "stderr": run.err[-2000:]}
    for f in report["findings"]:
        hit = owner(os.path.relpath(f["location"]["path"], root), samples)
        if hit is not None:
            notes[hit.relpath].append(f"{f['rule_id']}:{f['severity']}")
            if Severity(f["severity"]) >= Severity.MEDIUM:
                verdicts[hit.relpath] = UNSAFE
    for e in report["errors"]:
        hit = owner(os.path.relpath(e["path"].split("!/")[0], root), samples)
        notes[hit.relpath if hit else e["path"]].append(f"error: {e['error']}"[:300])
    return {"seconds": run.wall, "rc": run.rc, "verdicts": verdicts, "notes": dict(notes)}


def mlwarden_corpus(
    root: Path, samples: list[BenchSample], timeout: float, workers: int
) -> dict[str, Any]:
    """All four mlwarden measurements over the corpus."""
    api: dict[str, str] = {}
    api_s = 0.0
    for s in samples:
        api[s.relpath], secs = api_verdict(root / s.relpath)
        api_s += secs
    start = time.perf_counter()
    try:
        mlwarden.scan([root], ScanOptions())
    except Exception as exc:  # report it, keep measuring the rest
        log(f"mlwarden.scan over the corpus dir raised {exc!r}")
    api_dir_s = time.perf_counter() - start
    cli = MlwardenCli()
    per_file = per_file_runs(cli, root, samples, timeout, workers)
    return {
        "api_per_file": {"seconds": api_s, "verdicts": api},
        "api_dir": {"seconds": api_dir_s, "jobs": min(os.cpu_count() or 1, 8)},
        "cli_dir": cli_dir_verdicts(cli, root, samples),
        "cli_per_file": per_file,
    }


def per_file_runs(
    tool: Tool, root: Path, samples: list[BenchSample], timeout: float, workers: int
) -> dict[str, Any]:
    """One process per file, ``workers`` at a time; seconds = the sum of their wall times."""

    def one(s: BenchSample) -> tuple[str, str, float]:
        verdict, run = tool.scan(root / s.relpath, timeout)
        return s.relpath, verdict, run.wall

    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        done = list(pool.map(one, samples))
    return {
        "seconds": sum(wall for _, _, wall in done),
        "elapsed": time.perf_counter() - start,
        "verdicts": {rel: verdict for rel, verdict, _ in done},
    }


def score(verdicts: dict[str, str], samples: list[BenchSample]) -> dict[str, Any]:
    """Recall / false positives (verdict unsafe) and the gate view (any non-zero exit)."""
    mal = [s for s in samples if s.malicious]
    ben = [s for s in samples if not s.malicious]

    def count(rows: list[BenchSample], kinds: set[str]) -> int:
        return sum(verdicts.get(s.relpath) in kinds for s in rows)

    blocked = {UNSAFE, ERROR, TIMEOUT}
    return {
        "malicious": len(mal),
        "detected": count(mal, {UNSAFE}),
        "blocked_malicious": count(mal, blocked),
        "benign": len(ben),
        "false_positives": count(ben, {UNSAFE}),
        "blocked_benign": count(ben, blocked),
        "errors": count(samples, {ERROR, TIMEOUT}),
        "skipped": count(samples, {SKIPPED}),
        "missed": sorted(s.relpath for s in mal if verdicts.get(s.relpath) != UNSAFE),
        "flagged_benign": sorted(s.relpath for s in ben if verdicts.get(s.relpath) == UNSAFE),
    }


def families(runs: dict[str, dict[str, str]], samples: list[BenchSample]) -> dict[str, Any]:
    """Per family and tool: how many samples were reported unsafe, out of how many."""
    out: dict[str, Any] = defaultdict(dict)
    for s in samples:
        for tool, verdicts in runs.items():
            hit, total = out[s.family].get(tool, (0, 0))
            out[s.family][tool] = (hit + (verdicts.get(s.relpath) == UNSAFE), total + 1)
    return dict(sorted(out.items(), key=lambda kv: (kv[0].startswith("benign-"), kv[0])))


def corpus_part(args: argparse.Namespace, tools: list[Peer]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-corpus-") as tmp:
        root = Path(tmp) / "corpus"
        root.mkdir()
        log("writing the corpus ...")
        samples, label = load_corpus(root, smoke=args.smoke, quick=args.quick)
        log(f"corpus: {label}, {len(samples)} samples; mlwarden ...")
        mlw = mlwarden_corpus(root, samples, args.corpus_timeout, args.workers)
        runs = {
            "mlwarden (API)": mlw["api_per_file"],
            "mlwarden (CLI/file)": mlw["cli_per_file"],
        }
        for peer in tools:
            if not peer.unavailable:
                log(f"{peer.name}: {len(samples)} files ...")
                runs[peer.name] = per_file_runs(
                    peer, root, samples, args.corpus_timeout, args.workers
                )
    verdicts = {name: r["verdicts"] for name, r in runs.items()}
    dir_verdicts = mlw["cli_dir"]["verdicts"]
    api = verdicts["mlwarden (API)"]
    mismatch = sorted(k for k, v in dir_verdicts.items() if (v == UNSAFE) != (api[k] == UNSAFE))
    dir_notes = mlw["cli_dir"].pop("notes", {})
    return {
        "source": label,
        "samples": len(samples),
        "workers": args.workers,
        "scores": {name: score(v, samples) for name, v in verdicts.items()},
        "seconds": {name: r["seconds"] for name, r in runs.items()},
        "mlwarden": {
            k: {kk: vv for kk, vv in v.items() if kk != "verdicts"} for k, v in mlw.items()
        },
        "cli_dir_vs_api_mismatches": {
            k: {"api": api[k], "dir": dir_verdicts[k], "dir_notes": dir_notes.get(k, [])}
            for k in mismatch
        },
        "families": families(verdicts, samples),
        "verdicts": verdicts,
    }


# --- part 2: big files ---------------------------------------------------------------------


def measure(tool: Tool, path: Path, timeout: float) -> dict[str, Any]:
    """Scan ``path`` with peak RSS; best of up to 3 runs while they total under 10 s.

    The machine is shared, so one slow run says little; the repeat budget keeps tools that
    take a minute to a single run.
    """
    verdict, run = tool.scan(path, timeout, rss=True)
    runs = [run]
    while len(runs) < REPEATS and sum(r.wall for r in runs) < REPEAT_BUDGET_S:
        if run.timed_out:
            break
        runs.append(tool.scan(path, timeout, rss=True)[1])
    best = min(runs, key=lambda r: r.wall)
    out = {
        "verdict": verdict,
        "seconds": best.wall,
        "rss_mb": max(r.rss_mb for r in runs),
        "rc": best.rc,
        "runs": len(runs),
    }
    if isinstance(tool, MlwardenApi):
        inner = [s for r in runs if (s := tool.scan_seconds(r)) is not None]
        if inner:
            out["scan_seconds"] = min(inner)
    if verdict in (ERROR, TIMEOUT):
        out["stderr_tail"] = (best.err or best.out)[-300:]
    return out


def big_part(args: argparse.Namespace, tools: list[Peer]) -> dict[str, Any]:
    files = big_files(args.big_gib, log)
    mine: list[Tool] = [MlwardenCli(), MlwardenApi()]
    out: dict[str, Any] = {}
    for big in files:
        warm_cache(big.path)
        row: dict[str, Any] = {
            "file": big.path.name,
            "note": big.note,
            "bytes": big.path.stat().st_size,
        }
        for tool in [*mine, *tools]:
            if tool.unavailable:
                row[tool.name] = {"status": f"unavailable: {tool.unavailable}"}
            elif big.fmt not in tool.formats:
                row[tool.name] = {"status": "n/a (format not scanned by this tool)"}
            else:
                log(f"{big.key}: {tool.name} ...")
                limit = args.peer_timeout if isinstance(tool, Peer) else args.mlwarden_timeout
                row[tool.name] = measure(tool, big.path, limit)
        out[big.key] = row
    return out


def scanner_ids() -> list[str]:
    """The scanners mlwarden has registered now (others are being written in parallel)."""
    try:
        return [s.id for s in all_scanners()]
    except Exception as exc:  # a half-written scanner must not hide the rest of the run
        return [f"registry failed: {exc!r}"]


def git_state() -> str:
    """HEAD's short hash, with "+dirty" when the working tree has changes."""
    repo = Path(__file__).resolve().parent.parent
    head = run_cmd(["git", "rev-parse", "--short", "HEAD"], repo, 30).out.strip()
    dirty = run_cmd(["git", "status", "--porcelain", "-uno"], repo, 30).out.strip()
    return (head or "unknown") + ("+dirty" if dirty else "")


# --- main ----------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--smoke", action="store_true", help="small stand-in corpus, not tests.corpus")
    p.add_argument("--quick", action="store_true", help="the corpus's quick subset")
    p.add_argument("--skip-corpus", action="store_true", help="only the big files")
    p.add_argument("--skip-big", action="store_true", help="only the corpus")
    p.add_argument("--big-gib", type=float, default=1.0, help="size of the big files (GiB)")
    p.add_argument("--peer-timeout", type=float, default=300.0, help="seconds per big-file run")
    p.add_argument(
        "--workers",
        type=int,
        default=min(2, os.cpu_count() or 1),
        help="corpus files scanned at a time by the per-file CLI runs (default: 2)",
    )
    p.add_argument("--corpus-timeout", type=float, default=60.0, help="seconds per corpus file")
    p.add_argument("--mlwarden-timeout", type=float, default=300.0, help="seconds per run")
    p.add_argument("--no-peers", action="store_true", help="measure mlwarden only")
    p.add_argument("--json", type=Path, help="write every number to this file")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = datetime.now(timezone.utc)
    tools = [] if args.no_peers else peers()
    result: dict[str, Any] = {
        "date": started.isoformat(timespec="seconds"),
        "command": " ".join(["python", "benchmarks/scan_bench.py", *(argv or sys.argv[1:])]),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "tools": {"mlwarden": mlwarden.__version__},
        "mlwarden_scanners": scanner_ids(),
        "git": git_state(),
    }
    result["calibration"] = calibrate(tools, args.corpus_timeout)
    for t in tools:
        result["tools"][t.name] = (
            t.version if not t.unavailable else f"unavailable: {t.unavailable}"
        )
    print(f"scan benchmark {result['date']}  cpus={os.cpu_count()}")
    for name, version in result["tools"].items():
        print(f"  {name}: {version}")
    print(f"  mlwarden scanners: {', '.join(result['mlwarden_scanners'])}")
    print(f"  git: {result['git']}")
    if not args.skip_corpus:
        result["corpus"] = corpus_part(args, tools)
        print_corpus(result["corpus"])
    if not args.skip_big:
        result["big_gib"] = args.big_gib
        result["big"] = big_part(args, tools)
        print_big(result["big"], ["mlwarden", "mlwarden-api", *(t.name for t in tools)])
    result["targets"] = targets(result, args.big_gib)
    print("\n== Targets")
    for t in result["targets"]:
        print(f"  {t['status']:4}  {t['target']}: {t['measured']}")
    result["seconds_total"] = (datetime.now(timezone.utc) - started).total_seconds()
    if args.json:
        args.json.write_text(json.dumps(result, indent=2, default=list))
        print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
