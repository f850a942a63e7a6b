"""Wire formats of remote inference endpoints: Open Inference Protocol v2 and mlwarden's gateway.

Each protocol turns a metadata document into an :class:`Endpoint` description, a batch into a
request body, and a response body into an :class:`Answer`. No I/O happens here; the
transport (auth, retries, throttling, budget) lives in :mod:`mlwarden.models.http_adapter`.
The gateway API is documented in ``docs/gateway-api.md``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from mlwarden.models._arrays import Floats
from mlwarden.models.errors import ModelLoadError, RemoteModelError

_OIP_PATH = re.compile(r"/v2/models/(?P<name>[^/]+)(?:/versions/[^/]+)?(?:/infer|/ready)?/?$")
#: Largest sample (in numbers) accepted from endpoint metadata; pass input_shape= beyond it.
MAX_INPUT_ELEMENTS = 1 << 24
_FLOAT_TYPES = {"FP16", "FP32", "FP64"}
_LABEL_TYPES = {"INT8", "INT16", "INT32", "INT64", "UINT8", "UINT16", "UINT32", "UINT64", "BYTES"}


@dataclass(frozen=True)
class Endpoint:
    """What is known about a remote model (``None``: not known yet)."""

    input_name: str = "input-0"
    input_shape: tuple[int, ...] | None = None
    n_classes: int | None = None
    classes: tuple[Any, ...] | None = None
    label_output: str | None = None
    score_output: str | None = None
    has_scores: bool | None = None
    scores_are_logits: bool = False
    model_name: str | None = None
    digest: str | None = None


@dataclass(frozen=True)
class Answer:
    """One response: raw labels (``None`` entries are uncertain) and/or ``(n, k)`` scores."""

    labels: list[Any] | None
    scores: NDArray[np.float64] | None


def _positive_dims(shape: Any) -> tuple[int, ...] | None:
    if not isinstance(shape, list) or not shape:
        return None
    dims = shape[1:]
    ok = all(isinstance(d, int) and not isinstance(d, bool) and d > 0 for d in dims)
    # An absurd shape from a hostile metadata document must not become a huge probe array.
    return tuple(dims) if ok and int(np.prod(dims)) <= MAX_INPUT_ELEMENTS else None


def _bad(message: str) -> RemoteModelError:
    return RemoteModelError(f"unexpected answer from the endpoint: {message}")


class OipV2:
    """Open Inference Protocol v2 (KServe v2 REST; served by KServe, Triton and MLServer)."""

    name = "oip-v2"

    def __init__(self, model_name: str, label_output: str | None, score_output: str | None):
        self.model_name = model_name
        self.label_output = label_output
        self.score_output = score_output

    @property
    def metadata_path(self) -> str:
        return f"/v2/models/{self.model_name}"

    @property
    def infer_path(self) -> str:
        return f"/v2/models/{self.model_name}/infer"

    def describe(self, meta: dict[str, Any] | None, base: Endpoint) -> Endpoint:
        """Fill ``base`` from the model metadata document (``GET /v2/models/{name}``)."""
        if meta is None:
            return self._named(base)
        inputs = meta.get("inputs") or []
        tensor = next((i for i in inputs if i.get("name") == base.input_name), None)
        tensor = tensor or (inputs[0] if len(inputs) == 1 else None)
        if tensor is not None:
            base = replace(
                base,
                input_name=str(tensor.get("name", base.input_name)),
                input_shape=base.input_shape or _positive_dims(tensor.get("shape")),
            )
        outputs = [o for o in meta.get("outputs") or [] if isinstance(o, dict)]
        if not outputs:
            return self._named(base)
        labels = self.label_output or _first(outputs, _is_label)
        scores = self.score_output or _first(outputs, _is_score)
        width = next((o.get("shape") for o in outputs if o.get("name") == scores), None)
        k = width[-1] if isinstance(width, list) and len(width) == 2 else None
        return replace(
            base,
            label_output=labels,
            score_output=scores,
            has_scores=scores is not None,
            scores_are_logits=scores is not None and "logit" in scores.lower(),
            n_classes=base.n_classes or (k if isinstance(k, int) and k > 1 else None),
        )

    def _named(self, base: Endpoint) -> Endpoint:
        if self.score_output is None and self.label_output is None:
            return base
        return replace(
            base,
            label_output=self.label_output,
            score_output=self.score_output,
            has_scores=self.score_output is not None,
        )

    def request(self, batch: Floats, ep: Endpoint, want_scores: bool) -> dict[str, Any]:
        """The ``POST .../infer`` body for ``batch``."""
        body: dict[str, Any] = {
            "inputs": [
                {
                    "name": ep.input_name,
                    "shape": list(batch.shape),
                    "datatype": "FP32",
                    "data": batch.reshape(-1).tolist(),
                }
            ]
        }
        wanted = ep.score_output if want_scores and ep.score_output else ep.label_output
        if wanted is not None and ep.has_scores is not None:
            body["outputs"] = [{"name": wanted}]
        return body

    def parse(self, body: Any, n: int, ep: Endpoint) -> Answer:
        """Labels and scores from an infer response."""
        if not isinstance(body, dict) or not isinstance(body.get("outputs"), list):
            raise _bad("no 'outputs' list")
        outputs = {str(o.get("name")): o for o in body["outputs"] if isinstance(o, dict)}
        label = outputs.get(ep.label_output or "") or _first_output(outputs, _is_label)
        score = outputs.get(ep.score_output or "") or _first_output(outputs, _is_score)
        labels = _tensor(label, n).reshape(n).tolist() if label is not None else None
        scores = _tensor(score, n).astype(np.float64).reshape(n, -1) if score is not None else None
        if labels is None and scores is None:
            raise _bad(f"no label or score output among {sorted(outputs)}")
        return Answer(labels, scores)


def _is_label(o: dict[str, Any]) -> bool:
    shape = o.get("shape")
    flat = isinstance(shape, list) and (len(shape) == 1 or (len(shape) == 2 and shape[1] == 1))
    return o.get("datatype") in _LABEL_TYPES and flat


def _is_score(o: dict[str, Any]) -> bool:
    shape = o.get("shape")
    wide = isinstance(shape, list) and len(shape) == 2 and shape[1] != 1
    return o.get("datatype") in _FLOAT_TYPES and wide


def _first(outputs: list[dict[str, Any]], test: Any) -> str | None:
    return next((str(o["name"]) for o in outputs if test(o) and "name" in o), None)


def _first_output(outputs: dict[str, dict[str, Any]], test: Any) -> dict[str, Any] | None:
    return next((o for o in outputs.values() if test(o)), None)


def _tensor(output: dict[str, Any], n: int) -> NDArray[Any]:
    shape = output.get("shape")
    data = output.get("data")
    if not isinstance(shape, list) or not isinstance(data, list) or not shape or shape[0] != n:
        raise _bad(f"output {output.get('name')!r} has shape {shape!r} for {n} inputs")
    dtype = object if output.get("datatype") == "BYTES" else None
    try:
        return np.asarray(data, dtype=dtype).reshape(shape)
    except ValueError as exc:
        raise _bad(f"output {output.get('name')!r}: {exc}") from None


class GatewayV1:
    """mlwarden's gateway API (``GET /v1/model``, ``POST /v1/predict``)."""

    name = "mlwarden"
    metadata_path = "/v1/model"
    infer_path = "/v1/predict"

    def describe(self, meta: dict[str, Any] | None, base: Endpoint) -> Endpoint:
        """Fill ``base`` from the gateway's model document."""
        if meta is None:
            return base
        classes = meta.get("classes")
        outputs = meta.get("outputs")
        return replace(
            base,
            input_shape=base.input_shape
            or _positive_dims([None, *(meta.get("input_shape") or [])]),
            classes=base.classes or (tuple(classes) if isinstance(classes, list) else None),
            n_classes=base.n_classes or (len(classes) if isinstance(classes, list) else None),
            has_scores=("probabilities" in outputs) if isinstance(outputs, list) else None,
            model_name=meta.get("name"),
            digest=meta.get("digest"),
        )

    def request(self, batch: Floats, ep: Endpoint, want_scores: bool) -> dict[str, Any]:
        """The ``POST /v1/predict`` body for ``batch``."""
        return {"instances": batch.tolist()}

    def parse(self, body: Any, n: int, ep: Endpoint) -> Answer:
        """Labels (``null`` = uncertain) and probabilities from a predict response."""
        if not isinstance(body, dict) or not isinstance(body.get("predictions"), list):
            raise _bad("no 'predictions' list")
        labels = body["predictions"]
        if len(labels) != n:
            raise _bad(f"{len(labels)} predictions for {n} instances")
        proba = body.get("probabilities")
        if proba is None:
            return Answer(labels, None)
        try:
            scores = np.asarray(proba, dtype=np.float64).reshape(n, -1)
        except (TypeError, ValueError) as exc:
            raise _bad(f"probabilities: {exc}") from None
        return Answer(labels, scores)


def protocol_for(
    url: str,
    protocol: str,
    model_name: str | None,
    label_output: str | None,
    score_output: str | None,
) -> tuple[str, OipV2 | GatewayV1]:
    """The base URL and the protocol object for ``url`` (an OIP URL may name the model)."""
    if not url.startswith(("http://", "https://")):
        raise ModelLoadError(f"not an http(s) URL: {url!r}")
    base = url.rstrip("/")
    if protocol == "mlwarden":
        return base.removesuffix("/v1/predict").removesuffix("/v1/model"), GatewayV1()
    if protocol != "oip-v2":
        raise ModelLoadError(f"protocol={protocol!r}; choose 'oip-v2' or 'mlwarden'")
    match = _OIP_PATH.search(base)
    if match is not None:
        model_name = model_name or match["name"]
        base = base[: match.start()]
    if not model_name:
        raise ModelLoadError(
            "an Open Inference Protocol endpoint needs a model name",
            hint="Pass model_name= or a URL ending in /v2/models/NAME.",
        )
    return base, OipV2(model_name, label_output, score_output)
