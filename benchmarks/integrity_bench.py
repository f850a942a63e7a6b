"""Integrity benchmark (issue 4): mlwarden sign/verify/hash against model_signing, a single
`openssl dgst -sha256` pass and b3sum, on the same folder in the same run.

The folder (a few large files and ~1,000 small ones, about 2 GB by default) is generated
once into benchmarks/.data/integrity-<size> (git-ignored). Peers come from
benchmarks/setup_integrity_peers.sh. Every tool runs as its CLI in a fresh process (start-up
included), with the page cache warmed first; each figure is the best of --runs runs. The
incremental re-sign is also timed in-process (API), where start-up does not hide it.

    benchmarks/setup_integrity_peers.sh
    python benchmarks/integrity_bench.py [--size-gb 2] [--runs 3] [--json out/integrity.json]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
PEERS = HERE / ".peers"
MODEL_SIGNING = PEERS / "model_signing" / "bin" / "model_signing"
MLWARDEN = Path(sys.executable).with_name("mlwarden")
_MiB = 1024 * 1024


@dataclass
class Timing:
    name: str
    seconds: float | None
    runs: list[float] = field(default_factory=list)
    note: str = ""


def build_data(root: Path, size_gb: float, n_large: int, n_small: int) -> Path:
    """Write the model folder once: n_large equal big files, n_small files of 4-60 KiB."""
    model = root / "model"
    stamp = root / ".complete"
    if stamp.is_file():
        return model
    shutil.rmtree(root, ignore_errors=True)
    model.mkdir(parents=True)
    rng_block = os.urandom(8 * _MiB)
    small_total = 0
    for i in range(n_small):
        size = 4096 + (i * 7919) % (56 * 1024)
        path = model / f"shard_{i % 20:02d}" / f"part-{i:04d}.bin"
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(os.urandom(size))
        small_total += size
    per_large = max(_MiB, int(size_gb * 1e9 - small_total) // n_large)
    for i in range(n_large):
        with (model / f"model-{i + 1:05d}-of-{n_large:05d}.safetensors").open("wb") as f:
            left = per_large
            counter = 0
            while left > 0:
                chunk = rng_block[: min(left, len(rng_block))]
                f.write(counter.to_bytes(8, "little") + chunk[8:])
                left -= len(chunk)
                counter += 1
    stamp.write_text("ok\n")
    return model


def total_bytes(model: Path) -> tuple[int, int]:
    files = [p for p in model.rglob("*") if p.is_file()]
    return len(files), sum(p.stat().st_size for p in files)


def warm(model: Path) -> None:
    for path in model.rglob("*"):
        if path.is_file():
            with path.open("rb") as f:
                while f.read(16 * _MiB):
                    pass


def timed(name: str, cmd: list[str], runs: int, cwd: Path, setup: object = None) -> Timing:
    times: list[float] = []
    for _ in range(runs):
        if callable(setup):
            setup()
        start = time.perf_counter()
        done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False)
        elapsed = time.perf_counter() - start
        if done.returncode != 0:
            return Timing(name, None, times, f"exit {done.returncode}: {done.stderr[-300:]}")
        times.append(elapsed)
    return Timing(name, min(times), times)


def keys(root: Path) -> tuple[Path, Path]:
    from mlwarden.integrity.keys import generate_key

    private, public = root / "key.pem", root / "key.pub.pem"
    if not private.is_file():
        key = generate_key("ecdsa-p256")
        private.write_bytes(key.private_pem())
        private.chmod(0o600)
        public.write_bytes(key.public.pem)
    return private, public


def incremental_api(model: Path, private: Path, out: Path, runs: int) -> tuple[Timing, Timing]:
    """Full sign vs re-sign after one small file changed, in-process (no start-up cost)."""
    from mlwarden.integrity import sign_model

    state, sig = out / "api.state.json", out / "api.sig"
    victim = next(iter(sorted(model.rglob("part-0001.bin"))))
    full: list[float] = []
    incremental: list[float] = []
    hashed = 0
    for i in range(runs):
        state.unlink(missing_ok=True)
        start = time.perf_counter()
        sign_model(model, private, signature=sig, state=state)
        full.append(time.perf_counter() - start)
        victim.write_bytes(os.urandom(victim.stat().st_size) + bytes([i]))
        start = time.perf_counter()
        result = sign_model(model, private, signature=sig, state=state)
        incremental.append(time.perf_counter() - start)
        hashed = result.stats.hashed
    note = f"re-hashed {hashed} file(s)"
    return (
        Timing("api sign (full)", min(full), full),
        Timing("api re-sign (1 small file changed)", min(incremental), incremental, note),
    )


def api_hash(model: Path, runs: int) -> list[Timing]:
    """In-process hashing (no interpreter start-up), for the hashing cost alone."""
    from mlwarden.integrity.hashing import HashOptions, hash_model

    out = []
    for label, options in (("sha256", HashOptions()), ("blake3", HashOptions(algorithm="blake3"))):
        times = []
        for _ in range(runs):
            start = time.perf_counter()
            hash_model(model, options)
            times.append(time.perf_counter() - start)
        out.append(Timing(f"api hash ({label})", min(times), times))
    return out


def run(args: argparse.Namespace) -> dict[str, object]:
    root = Path(args.data_dir or HERE / ".data" / f"integrity-{args.size_gb:g}gb")
    model = build_data(root, args.size_gb, args.large_files, args.small_files)
    out = root / "out"
    out.mkdir(exist_ok=True)
    private, public = keys(root)
    n_files, n_bytes = total_bytes(model)
    print(f"data: {model} — {n_files} files, {n_bytes / 1e9:.2f} GB", flush=True)
    warm(model)
    files = sorted(str(p) for p in model.rglob("*") if p.is_file())
    mlw, ms = str(MLWARDEN), str(MODEL_SIGNING)
    r = args.runs
    results: dict[str, Timing] = {}

    def add(t: Timing) -> None:
        results[t.name] = t
        shown = f"{t.seconds:.3f} s" if t.seconds is not None else f"unavailable ({t.note})"
        print(f"  {t.name:<44} {shown}  {t.note if t.seconds is not None else ''}", flush=True)

    tiny = root / "tiny"
    tiny.mkdir(exist_ok=True)
    (tiny / "f.bin").write_bytes(b"x")
    add(timed("start-up: mlwarden hash (1 tiny file)", [mlw, "hash", str(tiny)], r, root))
    if MODEL_SIGNING.is_file() and not args.no_peers:
        add(timed("start-up: model_signing --help", [ms, "--help"], r, root))
    add(
        timed(
            "mlwarden sign",
            [mlw, "sign", str(model), "--key", str(private), "--out", str(out / "mlw.sig")],
            r,
            root,
        )
    )
    add(
        timed(
            "mlwarden verify",
            [mlw, "verify", str(model), "--key", str(public), "--sig", str(out / "mlw.sig")],
            r,
            root,
        )
    )
    add(timed("mlwarden hash", [mlw, "hash", str(model), "-o", str(out / "sums.txt")], r, root))
    if MODEL_SIGNING.is_file() and not args.no_peers:
        add(
            timed(
                "model_signing sign key",
                [
                    ms,
                    "sign",
                    "key",
                    str(model),
                    "--private_key",
                    str(private),
                    "--signature",
                    str(out / "ms.sig"),
                ],
                r,
                root,
            )
        )
        add(
            timed(
                "model_signing verify key",
                [
                    ms,
                    "verify",
                    "key",
                    str(model),
                    "--public_key",
                    str(public),
                    "--signature",
                    str(out / "ms.sig"),
                ],
                r,
                root,
            )
        )
        add(
            timed(
                "interop: model_signing verifies mlwarden",
                [
                    ms,
                    "verify",
                    "key",
                    str(model),
                    "--public_key",
                    str(public),
                    "--signature",
                    str(out / "mlw.sig"),
                ],
                1,
                root,
            )
        )
        add(
            timed(
                "interop: mlwarden verifies model_signing",
                [mlw, "verify", str(model), "--key", str(public), "--sig", str(out / "ms.sig")],
                1,
                root,
            )
        )
    else:
        results["model_signing sign key"] = Timing(
            "model_signing sign key", None, note="run setup_integrity_peers.sh"
        )
    if shutil.which("openssl"):
        add(
            timed(
                "openssl dgst -sha256 (one pass)", ["openssl", "dgst", "-sha256", *files], r, root
            )
        )
    add(
        timed(
            "mlwarden hash --algorithm blake3",
            [mlw, "hash", str(model), "--algorithm", "blake3", "-o", str(out / "b3.txt")],
            r,
            root,
        )
    )
    if shutil.which("b3sum"):
        add(timed("b3sum", ["b3sum", *files], r, root))
    state = out / "cli.state.json"
    victim = next(iter(sorted(model.rglob("part-0002.bin"))))

    def change_one() -> None:
        victim.write_bytes(os.urandom(victim.stat().st_size))

    sign_with_state = [
        *(mlw, "sign", str(model), "--key", str(private)),
        *("--out", str(out / "s.sig"), "--state", str(state)),
    ]
    add(
        timed(
            "mlwarden sign --state (full)",
            sign_with_state,
            1,
            root,
            setup=lambda: state.unlink(missing_ok=True),
        )
    )
    add(
        timed(
            "mlwarden sign --state (1 small file changed)",
            sign_with_state,
            r,
            root,
            setup=change_one,
        )
    )
    for timing in api_hash(model, r):
        add(timing)
    time.sleep(2.1)  # let the file changed above leave the racy window of the next state
    full, inc = incremental_api(model, private, out, r)
    add(full)
    add(inc)
    return {"files": n_files, "bytes": n_bytes, "timings": results}


def ratio(results: dict[str, Timing], a: str, b: str) -> float | None:
    x, y = results.get(a), results.get(b)
    if x is None or y is None or x.seconds is None or y.seconds is None or y.seconds == 0:
        return None
    return x.seconds / y.seconds


def report(data: dict[str, object]) -> list[tuple[str, str, str]]:
    t = data["timings"]
    assert isinstance(t, dict)
    rows = []

    def target(name: str, value: float | None, ok: bool | None, shown: str) -> None:
        verdict = "n/a" if value is None else ("PASS" if ok else "FAIL")
        rows.append((name, verdict, shown if value is not None else "unavailable"))

    for op in ("sign", "verify"):
        v = ratio(t, f"model_signing {op} key", f"mlwarden {op}")
        target(
            f"{op}: >= 1.5x faster than model_signing (end to end)",
            v,
            v is not None and v >= 1.5,
            f"{v:.2f}x" if v else "",
        )
    for op in ("sign", "verify"):
        v = ratio(t, f"mlwarden {op}", "openssl dgst -sha256 (one pass)")
        target(
            f"{op}: faster than one openssl dgst -sha256 pass (ratio < 1.0)",
            v,
            v is not None and v < 1.0,
            f"{v:.2f}" if v else "",
        )
    v = ratio(t, "mlwarden hash --algorithm blake3", "b3sum")
    target(
        "BLAKE3 hash: within 1.3x of b3sum", v, v is not None and v <= 1.3, f"{v:.2f}x" if v else ""
    )
    v = ratio(t, "api hash (sha256)", "openssl dgst -sha256 (one pass)")
    rows.append(
        (
            "hashing alone, in-process SHA-256 / openssl one pass (informative)",
            "info",
            f"{v:.2f}" if v else "unavailable",
        )
    )
    v = ratio(t, "api hash (blake3)", "b3sum")
    rows.append(
        (
            "hashing alone, in-process BLAKE3 / b3sum (informative)",
            "info",
            f"{v:.2f}x" if v else "unavailable",
        )
    )
    v = ratio(t, "api sign (full)", "api re-sign (1 small file changed)")
    target(
        "re-sign after one small change: >= 20x faster than full sign (API)",
        v,
        v is not None and v >= 20,
        f"{v:.1f}x" if v else "",
    )
    v = ratio(t, "mlwarden sign --state (full)", "mlwarden sign --state (1 small file changed)")
    rows.append(
        (
            "re-sign, CLI end to end (start-up included; informative)",
            "info",
            f"{v:.1f}x" if v else "unavailable",
        )
    )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-gb", type=float, default=2.0, help="folder size (default 2)")
    parser.add_argument("--large-files", type=int, default=4)
    parser.add_argument("--small-files", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3, help="best of N (default 3)")
    parser.add_argument("--data-dir", type=Path, help="default benchmarks/.data/integrity-<size>")
    parser.add_argument("--no-peers", action="store_true", help="skip model_signing")
    parser.add_argument("--json", type=Path, help="write every number here")
    args = parser.parse_args()
    load = os.getloadavg()[0]
    print(f"load average (1 min): {load:.2f}; cores: {os.cpu_count()}", flush=True)
    data = run(args)
    rows = report(data)
    print("\ntargets:")
    for name, verdict, shown in rows:
        print(f"  {verdict:<5} {name}: {shown}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        timings = data["timings"]
        assert isinstance(timings, dict)
        doc = {
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "load_1min": load,
            "cores": os.cpu_count(),
            "files": data["files"],
            "bytes": data["bytes"],
            "timings": {
                k: {"best": v.seconds, "runs": v.runs, "note": v.note} for k, v in timings.items()
            },
            "targets": [{"target": n, "verdict": v, "measured": s} for n, v, s in rows],
        }
        args.json.write_text(json.dumps(doc, indent=2))


if __name__ == "__main__":
    main()
