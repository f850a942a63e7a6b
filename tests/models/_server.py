"""A real HTTP inference server on 127.0.0.1 for the remote-adapter tests.

It serves one scikit-learn model through the Open Inference Protocol v2 (models ``digits``,
``digits-labels`` answering labels only, ``digits-bare`` without metadata) and through
mlwarden's gateway API (string class names, ``null`` for uncertain answers). It checks a
Bearer or ``X-API-Key`` credential, can answer scripted 429/503 statuses, counts requests,
refuses to serve more than ``MAX_REQUESTS`` and shuts itself down after ``LIFETIME`` seconds.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np

API_KEY = "s3cret-key-for-tests"
CLASS_NAMES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
MAX_REQUESTS = 5000
LIFETIME = 120.0


@dataclass
class ServerState:
    """What the server does next and what it has seen."""

    model: Any
    n_features: int
    scripted: list[tuple[int, str | None]] = field(default_factory=list)
    uncertain_below: float = 0.0
    requests: int = 0
    infer_requests: int = 0
    seen_auth: list[bool] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _oip_meta(name: str, state: ServerState) -> dict[str, Any]:
    outputs = [{"name": "predict", "datatype": "INT64", "shape": [-1]}]
    if name == "digits":
        outputs.append({"name": "predict_proba", "datatype": "FP32", "shape": [-1, 10]})
    return {
        "name": name,
        "platform": "sklearn",
        "inputs": [{"name": "pixels", "datatype": "FP32", "shape": [-1, state.n_features]}],
        "outputs": outputs,
    }


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the default stderr access log."""

    def do_GET(self) -> None:
        if not self._admit():
            return
        state = self.server.state
        if self.path in ("/v2/models/digits", "/v2/models/digits-labels"):
            self._send(200, _oip_meta(self.path.rsplit("/", 1)[1], state))
        elif self.path == "/v1/model":
            self._send(200, self._gateway_meta())
        else:
            self._send(404, {"error": "not found"})

    def do_POST(self) -> None:
        if not self._admit():
            return
        length = int(self.headers.get("content-length", "0"))
        body = json.loads(self.rfile.read(length) or b"{}")
        with self.server.state.lock:
            self.server.state.infer_requests += 1
        if self.path.startswith("/v2/models/") and self.path.endswith("/infer"):
            self._send(200, self._oip_infer(self.path.split("/")[3], body))
        elif self.path == "/v1/predict":
            self._send(200, self._gateway_predict(body))
        else:
            self._send(404, {"error": "not found"})

    def _admit(self) -> bool:
        state = self.server.state
        with state.lock:
            state.requests += 1
            scripted = state.scripted.pop(0) if state.scripted else None
            too_many = state.requests > MAX_REQUESTS
        ok = self.headers.get("authorization") == f"Bearer {API_KEY}"
        ok = ok or self.headers.get("x-api-key") == API_KEY
        state.seen_auth.append(ok)
        if too_many:
            self._send(500, {"error": "request limit of the test server reached"})
        elif not ok:
            self._send(401, {"error": "unauthenticated"})
        elif scripted is not None:
            status, retry_after = scripted
            self._send(
                status, {"error": "busy"}, {"Retry-After": retry_after} if retry_after else {}
            )
        return ok and scripted is None and not too_many

    def _send(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def _oip_infer(self, name: str, body: dict[str, Any]) -> dict[str, Any]:
        tensor = body["inputs"][0]
        x = np.asarray(tensor["data"], dtype=np.float32).reshape(tensor["shape"])
        model = self.server.state.model
        n = len(x)
        wanted = {o["name"] for o in body.get("outputs", [])} or {"predict", "predict_proba"}
        if name != "digits":
            wanted = {"predict"}
        outputs = []
        if "predict" in wanted:
            labels = model.predict(x).astype(int).tolist()
            outputs.append({"name": "predict", "datatype": "INT64", "shape": [n], "data": labels})
        if "predict_proba" in wanted:
            p = model.predict_proba(x).astype(np.float32)
            outputs.append(
                {
                    "name": "predict_proba",
                    "datatype": "FP32",
                    "shape": [n, p.shape[1]],
                    "data": p.reshape(-1).tolist(),
                }
            )
        return {"model_name": name, "outputs": outputs}

    def _gateway_meta(self) -> dict[str, Any]:
        return {
            "name": "digits",
            "digest": "sha256:" + "0" * 64,
            "input_shape": [self.server.state.n_features],
            "classes": CLASS_NAMES,
            "outputs": ["predictions", "probabilities"],
        }

    def _gateway_predict(self, body: dict[str, Any]) -> dict[str, Any]:
        state = self.server.state
        x = np.asarray(body["instances"], dtype=np.float32)
        p = state.model.predict_proba(x.reshape(len(x), -1)).astype(np.float32)
        labels: list[str | None] = [CLASS_NAMES[i] for i in p.argmax(axis=1)]
        labels = [
            lab if p[i].max() >= state.uncertain_below else None for i, lab in enumerate(labels)
        ]
        return {
            "predictions": labels,
            "probabilities": p.tolist(),
            "model": {"name": "digits", "digest": "sha256:" + "0" * 64},
        }


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    state: ServerState


@contextmanager
def serve(model: Any, n_features: int) -> Iterator[tuple[str, ServerState]]:
    """Run the server on a free port; yields its base URL and its state."""
    server = _Server(("127.0.0.1", 0), _Handler)
    server.state = ServerState(model, n_features)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    stopper = threading.Timer(LIFETIME, server.shutdown)
    stopper.daemon = True
    stopper.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", server.state
    finally:
        stopper.cancel()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
