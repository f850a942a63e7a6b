"""Gateway benchmark: a bare FastAPI route vs `mlwarden serve` with every control on.

Same scikit-learn model (logistic regression on the bundled digits), same load generator (wrk
on loopback when installed, else an httpx thread pool), bounded in time. Prints throughput,
p50/p99 latency and the ratios; then the exact-limit check with 2 workers (Redis, and
memory:// for contrast) and the extraction monitor's detection delay and false alarms.

    python benchmarks/gateway_bench.py                    # ~2 minutes
    python benchmarks/gateway_bench.py --seconds 5 --json out/gateway.json
    MLWARDEN_TEST_REDIS_URL=redis://127.0.0.1:6379/0 ...  # Redis from scripts/services.sh
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

BARE_APP = """
import joblib, numpy as np
from fastapi import FastAPI
from pydantic import BaseModel

model = joblib.load({model!r})
app = FastAPI()

class Query(BaseModel):
    instances: list[list[float]]

@app.post("/predict")
def predict(query: Query):
    return {{"probabilities": model.predict_proba(np.asarray(query.instances)).tolist()}}
"""

WRK_SCRIPT = """
local bodies = {{}}
for line in io.lines("{bodies}") do bodies[#bodies + 1] = line end
local i = 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
{auth}
request = function()
  i = i % #bodies + 1
  return wrk.format(nil, nil, nil, bodies[i])
end
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_up(url: str, timeout: float = 60.0) -> None:
    import httpx

    def answers() -> bool:
        try:
            httpx.get(url, timeout=1)
        except httpx.HTTPError:
            return False
        return True

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if answers():
            return
        time.sleep(0.2)
    raise SystemExit(f"server at {url} did not start")


def start(command: list[str], cwd: Path, log: Path) -> subprocess.Popen[bytes]:
    out = log.open("wb")
    return subprocess.Popen(
        command, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
    )


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def setup(work: Path) -> dict[str, Any]:
    from tests.gateway.helpers import make_served

    served = make_served(work)
    bodies = work / "bodies.txt"
    bodies.write_text(
        "\n".join(json.dumps({"instances": [row.tolist()]}) for row in served.x_test) + "\n"
    )
    (work / "bare_app.py").write_text(BARE_APP.format(model=str(served.model)))
    return {"served": served, "bodies": bodies}


def full_policy(work: Path, extra: str = "") -> Path:
    """Every control on (limits high enough not to refuse the benchmark's own traffic)."""
    text = f"""
[gateway]
reference = "{work / "train.npy"}"
[gateway.auth]
keys_file = "{work / "keys.json"}"
[gateway.rate_limit]
per_key = "10000000/minute"
[gateway.adversarial]
min_confidence = 0.5
squeezing_detector = true
[gateway.audit]
url = "sqlite:///{work / "audit.db"}"
[gateway.signing]
private_key = "{work / "gateway.key"}"
{extra}
"""
    path = work / "mlwarden.toml"
    path.write_text(text)
    return path


def new_key(work: Path, **kw: Any) -> str:
    from mlwarden.gateway.auth import KeyStore

    token, _ = KeyStore.open(work / "keys.json").create("bench", **kw)
    return token


def load(
    url: str, bodies: Path, seconds: float, connections: int, token: str | None
) -> dict[str, float]:
    """Throughput and latency percentiles of POSTing the bodies in turn for ``seconds``."""
    if shutil.which("wrk"):
        return _wrk(url, bodies, seconds, connections, token)
    return _httpx_load(url, bodies, seconds, connections, token)


def _wrk(
    url: str, bodies: Path, seconds: float, connections: int, token: str | None
) -> dict[str, float]:
    auth = f'wrk.headers["Authorization"] = "Bearer {token}"' if token else ""
    script = bodies.with_suffix(".lua")
    script.write_text(WRK_SCRIPT.format(bodies=bodies, auth=auth))
    done = subprocess.run(
        [
            "wrk",
            "-t1",
            f"-c{connections}",
            f"-d{int(seconds)}s",
            "--latency",
            "-s",
            str(script),
            url,
        ],
        capture_output=True,
        text=True,
        timeout=seconds + 60,
        check=True,
    )
    text = done.stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))  # type: ignore[union-attr]
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    out = {"rps": rps, "non_2xx": float(non2xx.group(1)) if non2xx else 0.0, "tool": 0.0}
    for pct in ("50", "99"):
        value, unit = re.search(rf"\s{pct}%\s+([\d.]+)(us|ms|s)", text).groups()  # type: ignore[union-attr]
        out[f"p{pct}_ms"] = float(value) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[unit]
    return out


def _httpx_load(
    url: str, bodies: Path, seconds: float, connections: int, token: str | None
) -> dict[str, float]:
    import httpx

    lines = bodies.read_text().splitlines()
    headers = {
        "content-type": "application/json",
        **({"Authorization": f"Bearer {token}"} if token else {}),
    }
    end = time.monotonic() + seconds

    def worker(w: int) -> list[float]:
        times = []
        with httpx.Client(timeout=10) as http:
            i = w
            while time.monotonic() < end:
                t = time.perf_counter()
                http.post(url, content=lines[i % len(lines)], headers=headers)
                times.append(time.perf_counter() - t)
                i += connections
        return times

    with ThreadPoolExecutor(connections) as pool:
        times = np.concatenate([np.asarray(t) for t in pool.map(worker, range(connections))])
    return {
        "rps": len(times) / seconds,
        "p50_ms": float(np.percentile(times, 50) * 1e3),
        "p99_ms": float(np.percentile(times, 99) * 1e3),
        "non_2xx": 0.0,
        "tool": 1.0,
    }


def throughput(
    work: Path, bodies: Path, seconds: float, connections: int, rounds: int
) -> dict[str, Any]:
    """Both servers up at once, measured in alternation (bare, gateway, bare, ...): on a
    shared machine the load changes from minute to minute, so each round's ratio compares
    runs seconds apart, and the medians are reported."""
    token = new_key(work)
    bare_port, gw_port = free_port(), free_port()
    bare = start(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "bare_app:app",
            "--port",
            str(bare_port),
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        work,
        work / "bare.log",
    )
    gateway = start(
        [
            sys.executable,
            "-m",
            "mlwarden",
            "serve",
            str(work / "model.joblib"),
            "--policy",
            str(full_policy(work)),
            "--port",
            str(gw_port),
        ],
        work,
        work / "gateway.log",
    )
    urls = {
        "bare": (f"http://127.0.0.1:{bare_port}/predict", None),
        "gateway": (f"http://127.0.0.1:{gw_port}/v1/predict", token),
    }
    runs: dict[str, list[dict[str, float]]] = {"bare": [], "gateway": []}
    try:
        wait_up(f"http://127.0.0.1:{bare_port}/docs")
        wait_up(f"http://127.0.0.1:{gw_port}/healthz")
        for url, key in urls.values():
            load(url, bodies, 2, connections, key)  # warm-up
        for _ in range(rounds):
            for name, (url, key) in urls.items():
                run = load(url, bodies, seconds, connections, key)
                # Added latency is the service time one request pays: measured with one
                # connection, where queueing behind other requests does not hide it.
                single = load(url, bodies, seconds, 1, key)
                run.update({"p50_c1_ms": single["p50_ms"], "p99_c1_ms": single["p99_ms"]})
                runs[name].append(run)
    finally:
        stop(bare)
        stop(gateway)
    results: dict[str, Any] = {"runs": runs}
    for name in runs:
        results[name] = {k: float(np.median([r[k] for r in runs[name]])) for k in runs[name][0]}
    pairs = list(zip(runs["bare"], runs["gateway"], strict=False))
    results["ratio_rps"] = float(np.median([g["rps"] / b["rps"] for b, g in pairs]))
    results["added_p50_ms"] = float(np.median([g["p50_c1_ms"] - b["p50_c1_ms"] for b, g in pairs]))
    results["added_p99_ms"] = float(np.median([g["p99_c1_ms"] - b["p99_c1_ms"] for b, g in pairs]))
    return results


def exact_limit(work: Path, storage: str, limit: int = 50, sent: int = 200) -> dict[str, Any]:
    """Admitted requests of one key against `limit`/minute with 2 workers."""
    import httpx

    sub = work / f"limit-{storage.split(':')[0]}"
    sub.mkdir(exist_ok=True)
    for name in ("model.joblib", "train.npy"):
        (sub / name).write_bytes((work / name).read_bytes())
    extra = f'[gateway.rate_limit]\nstorage = "{storage}"\nper_key = "{limit}/minute"\n'
    policy = (
        full_policy(sub)
        .read_text()
        .replace('[gateway.rate_limit]\nper_key = "10000000/minute"\n', "")
        + extra
    )
    (sub / "mlwarden.toml").write_text(policy)
    token = new_key(sub)
    port = free_port()
    proc = start(
        [
            sys.executable,
            "-m",
            "mlwarden",
            "serve",
            str(sub / "model.joblib"),
            "--policy",
            str(sub / "mlwarden.toml"),
            "--port",
            str(port),
            "--workers",
            "2",
        ],
        sub,
        sub / "server.log",
    )
    body = (work / "bodies.txt").read_text().splitlines()[0]
    try:
        wait_up(f"http://127.0.0.1:{port}/healthz")

        def send(_: int) -> int:
            with httpx.Client(timeout=30) as http:
                return http.post(
                    f"http://127.0.0.1:{port}/v1/predict",
                    content=body,
                    headers={
                        "Authorization": f"Bearer {token}",
                        "content-type": "application/json",
                    },
                ).status_code

        with ThreadPoolExecutor(16) as pool:
            statuses = list(pool.map(send, range(sent)))
    finally:
        stop(proc)
    admitted = statuses.count(200)
    return {
        "storage": storage.split("://")[0],
        "limit": limit,
        "sent": sent,
        "admitted": admitted,
        "over_admitted": admitted - limit,
    }


def extraction(work: Path) -> dict[str, Any]:
    """Detection delay (queries until the first alert) and false alarms, one query at a time,
    for both engines: the gateway's streaming monitor and the full monitor of defenses."""
    from tests.gateway.helpers import make_served

    from mlwarden.defenses.extraction_monitor import ExtractionMonitor
    from mlwarden.gateway.extraction_monitor import StreamingExtractionMonitor
    from mlwarden.gateway.policy import ExtractionPolicy
    from mlwarden.monitor.profile import ReferenceProfile

    (work / "xm").mkdir()
    served = make_served(work / "xm")
    profile = ReferenceProfile.build(served.x_train)
    full_profile = ExtractionMonitor(served.x_train).profile  # fitted once (calibration)
    engines = {
        "streaming": lambda: StreamingExtractionMonitor(profile, ExtractionPolicy()),
        "full": lambda: ExtractionMonitor(full_profile),
    }
    low, high = served.x_train.min(axis=0), served.x_train.max(axis=0)
    rng = np.random.default_rng(0)
    natural = np.concatenate(
        [served.x_test[rng.permutation(len(served.x_test))] for _ in range(4)]
    )[:2000]
    mix_a, mix_b = (
        served.x_test[rng.integers(0, 597, 500)],
        served.x_test[rng.integers(0, 597, 500)],
    )
    streams = {
        "natural (held-out digits, 2000 queries)": natural,
        "uniform synthetic": rng.uniform(low, high, (500, 64)),
        "jacobian augmentation": _jacobian(served, low, high),
        "mixup of natural pairs": (lambda lam: lam * mix_a + (1 - lam) * mix_b)(
            rng.uniform(0, 1, (500, 1))
        ),
        "natural then uniform": np.concatenate([natural[:300], rng.uniform(low, high, (200, 64))]),
    }
    out: dict[str, Any] = {}
    for engine, make in engines.items():
        for name, stream in streams.items():
            monitor = make()
            start = time.perf_counter()
            alerts = [
                i + 1
                for i, row in enumerate(np.asarray(stream, dtype=np.float32))
                if monitor.observe("k", row[None]).alert
            ]
            per_query = (time.perf_counter() - start) / len(stream) * 1e6
            out[f"{engine}: {name}"] = {
                "queries": len(stream),
                "first_alert": alerts[0] if alerts else None,
                "alerting_checks": len(alerts),
                "us_per_query": round(per_query, 1),
            }
    return out


def _jacobian(served: Any, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    import joblib
    from sklearn.linear_model import LogisticRegression

    victim = joblib.load(served.model)
    data = served.x_test[:10].astype(np.float64)
    labels = victim.predict(data)
    while len(data) < 500:
        surrogate = LogisticRegression(max_iter=200).fit(data, labels)
        grads = surrogate.coef_[np.searchsorted(surrogate.classes_, labels)]
        new = np.clip(data + 0.1 * np.sign(grads), low, high)
        data, labels = np.concatenate([data, new]), np.concatenate([labels, victim.predict(new)])
    return data[:500]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--skip-limits", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mlwarden-gw-bench-") as tmp:
        work = Path(tmp)
        ctx = setup(work)
        load_avg = os.getloadavg()[0]
        result: dict[str, Any] = {
            "load_1min_before": load_avg,
            "tool": "wrk" if shutil.which("wrk") else "httpx",
        }
        result["throughput"] = throughput(
            work, ctx["bodies"], args.seconds, args.connections, args.rounds
        )
        if not args.skip_limits:
            redis_url = os.environ.get("MLWARDEN_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
            result["limits"] = [exact_limit(work, redis_url), exact_limit(work, "memory://")]
        result["extraction"] = extraction(work)
    report(result)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2))


def report(result: dict[str, Any]) -> None:
    t = result["throughput"]
    print(
        f"load (1 min) before: {result['load_1min_before']:.2f}; load generator: {result['tool']}"
    )
    head = ["req/s", "p50 ms", "p99 ms", "p50 c=1", "p99 c=1", "non-2xx"]
    print(f"{'(medians of the rounds)':26s}" + "".join(f"{h:>10s}" for h in head))
    for name in ("bare", "gateway"):
        r = t[name]
        values = (r["rps"], r["p50_ms"], r["p99_ms"], r["p50_c1_ms"], r["p99_c1_ms"], r["non_2xx"])
        print(
            f"{name:26s}{values[0]:10.0f}"
            + "".join(f"{v:10.2f}" for v in values[1:5])
            + f"{values[5]:10.0f}"
        )
    for i, (b, g) in enumerate(zip(t["runs"]["bare"], t["runs"]["gateway"], strict=False), 1):
        print(
            f"  round {i}: bare {b['rps']:.0f} req/s p99 {b['p99_ms']:.2f} ms; "
            f"gateway {g['rps']:.0f} req/s p99 {g['p99_ms']:.2f} ms; "
            f"ratio {g['rps'] / b['rps']:.2f}"
        )
    print(f"throughput ratio (gateway / bare, median of rounds): {t['ratio_rps']:.2f}")
    print(
        f"added latency (one connection): p50 {t['added_p50_ms']:+.2f} ms, "
        f"p99 {t['added_p99_ms']:+.2f} ms"
    )
    for row in result.get("limits", []):
        print(
            f"2 workers, {row['storage']}: limit {row['limit']}/minute, {row['sent']} sent, "
            f"{row['admitted']} admitted, over-admitted {row['over_admitted']}"
        )
    for name, row in result["extraction"].items():
        print(
            f"extraction monitor, {name}: first alert at query {row['first_alert']} "
            f"of {row['queries']} ({row['alerting_checks']} alerting, "
            f"{row['us_per_query']:.0f} us/query)"
        )


if __name__ == "__main__":
    main()
