"""Shared test helpers: a trained model on disk, gateways built in-process, real servers.

The served model is a logistic regression on scikit-learn's bundled digits (64 features in
[0, 1], 10 classes); the reference data is its training split. Services (Redis, PostgreSQL)
come from ``MLWARDEN_TEST_REDIS_URL`` / ``MLWARDEN_TEST_POSTGRES_URL`` (``scripts/services.sh``),
else the default local ports; missing ones skip, or fail under MLWARDEN_REQUIRE_SERVICES=1.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]


def in_process_client(app: Any) -> Any:
    """Starlette's TestClient (its deprecation notice about httpx2 is not ours to fix)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from fastapi.testclient import TestClient
    return TestClient(app)


@dataclass(frozen=True)
class Served:
    """A trained model on disk and its data."""

    root: Path
    model: Path
    reference: Path
    x_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


def make_served(root: Path) -> Served:
    import joblib
    from sklearn.datasets import load_digits
    from sklearn.linear_model import LogisticRegression

    x, y = load_digits(return_X_y=True)
    x = (x / 16.0).astype(np.float32)
    order = np.random.default_rng(0).permutation(len(x))
    train, test = order[:1200], order[1200:]
    model = LogisticRegression(max_iter=300).fit(x[train], y[train])
    joblib.dump(model, root / "model.joblib")
    np.save(root / "train.npy", x[train])
    return Served(root, root / "model.joblib", root / "train.npy", x[train], x[test], y[test])


def policy_toml(root: Path, extra: str = "", **gateway: Any) -> Path:
    """Write ``mlwarden.toml`` in ``root`` with paths inside it; ``extra`` adds sub-tables."""
    values = {
        "reference": str(root / "train.npy"),
        **gateway,
    }
    lines = ["[gateway]"] + [f"{k} = {_toml(v)}" for k, v in values.items()]
    lines += [
        "[gateway.auth]",
        f'keys_file = "{root / "keys.json"}"',
        "[gateway.audit]",
        f'url = "sqlite:///{root / "audit.db"}"',
        "[gateway.signing]",
        f'private_key = "{root / "gateway.key"}"',
        extra,
    ]
    path = root / "mlwarden.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    return str(value)


def service_url(kind: str) -> str:
    """A reachable Redis/PostgreSQL URL, or skip (fail when services are required)."""
    env = {"redis": "MLWARDEN_TEST_REDIS_URL", "postgres": "MLWARDEN_TEST_POSTGRES_URL"}[kind]
    default = {
        "redis": "redis://127.0.0.1:6379/0",
        "postgres": "postgresql://mlwarden:mlwarden-test@127.0.0.1:5432/mlwarden_test",
    }[kind]
    url = os.environ.get(env) or default
    problem = _reachable(kind, url)
    if problem is None:
        return url
    reason = f"{kind} not reachable at {url.split('@')[-1]} ({problem}); run scripts/services.sh"
    if os.environ.get("MLWARDEN_REQUIRE_SERVICES") == "1":
        pytest.fail(reason)
    pytest.skip(reason)


def _reachable(kind: str, url: str) -> str | None:
    try:
        if kind == "redis":
            import redis

            redis.Redis.from_url(url, socket_timeout=2).ping()
        else:
            import psycopg

            psycopg.connect(url, connect_timeout=3).close()
    except Exception as exc:  # any failure means "not there"
        return type(exc).__name__
    return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    """``mlwarden serve`` in a subprocess on a free loopback port, stopped by ``stop``."""

    def __init__(self, served: Served, policy: Path, *args: str, scheme: str = "http") -> None:
        self.port = free_port()
        self.url = f"{scheme}://127.0.0.1:{self.port}"
        self.log = served.root / f"server-{self.port}.log"
        command = [sys.executable, "-m", "mlwarden", "serve", str(served.model)]
        command += ["--policy", str(policy), "--port", str(self.port), *args]
        self._out = self.log.open("wb")
        self.proc = subprocess.Popen(
            command,
            cwd=served.root,
            stdout=self._out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_ready(self, probe: Any, timeout: float = 60.0) -> None:
        """Poll ``probe()`` (True when the server answers) until it does."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"server exited early:\n{self.log.read_text()[-3000:]}")
            try:
                if probe():
                    return
            except Exception:  # not listening yet
                time.sleep(0.2)
        self.stop()
        pytest.fail(f"server not ready in {timeout}s:\n{self.log.read_text()[-3000:]}")

    def kill(self) -> None:
        """SIGKILL the whole process group (no clean-up at all)."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
        self._out.close()

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        self._out.close()
