"""Open Inference Protocol v2 routes (KServe v2 REST), under the same controls as v1.

KServe, Triton and MLServer clients work unchanged: server and model metadata, liveness and
readiness, and ``POST /v2/models/{name}/infer``. Inference goes through the same key, rate
limit, validation, monitors and output policy as ``/v1/predict``; the answer is re-shaped
into output tensors: ``label`` (``null`` = uncertain) always, ``probabilities`` only when the
output policy exposes them. Repository routes (load/unload) do not exist here.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from fastapi import FastAPI, Request
from fastapi.responses import Response

from mlwarden._version import __version__
from mlwarden.gateway.app import _ERRORS, caller, exchange, json_response, read_json
from mlwarden.gateway.errors import GatewayRefusal, invalid
from mlwarden.gateway.service import Gateway
from mlwarden.gateway.validation import _NUMBERS, _check_nested

INPUT_NAME = "input-0"
_NUMERIC_TYPES = frozenset(
    {
        "FP16",
        "FP32",
        "FP64",
        "INT8",
        "INT16",
        "INT32",
        "INT64",
        "UINT8",
        "UINT16",
        "UINT32",
        "UINT64",
    }
)
_REQUEST_KEYS = frozenset({"id", "parameters", "inputs", "outputs"})
_TENSOR_KEYS = frozenset({"name", "shape", "datatype", "parameters", "data"})


def _label_type(classes: list[Any]) -> str:
    return (
        "INT64" if all(isinstance(c, int) and not isinstance(c, bool) for c in classes) else "BYTES"
    )


def metadata(gw: Gateway) -> dict[str, Any]:
    """``GET /v2/models/{name}``."""
    outputs = [{"name": "label", "datatype": _label_type(gw.classes), "shape": [-1]}]
    if gw.output.exposes_probabilities:
        outputs.append(
            {"name": "probabilities", "datatype": "FP32", "shape": [-1, len(gw.classes)]}
        )
    return {
        "name": gw.name,
        "versions": [gw.policy.model_version],
        "platform": "mlwarden",
        "inputs": [{"name": INPUT_NAME, "datatype": "FP32", "shape": [-1, *gw.input_shape]}],
        "outputs": outputs,
    }


def _tensor(gw: Gateway, document: Any) -> np.ndarray[Any, Any]:
    if type(document) is not dict or not set(document) <= _REQUEST_KEYS:
        raise invalid('the body must be an inference request {"inputs": [...]}')
    inputs = document.get("inputs")
    if type(inputs) is not list or len(inputs) != 1 or type(inputs[0]) is not dict:
        raise invalid(f"send exactly one input tensor named {INPUT_NAME!r}")
    tensor = inputs[0]
    if not set(tensor) <= _TENSOR_KEYS or tensor.get("name") != INPUT_NAME:
        raise invalid(f"the input tensor must be named {INPUT_NAME!r}, with no unknown fields")
    if tensor.get("datatype") not in _NUMERIC_TYPES:
        raise invalid("the input datatype must be numeric (FP32, FP64, INT64, ...)")
    shape: Any = tensor.get("shape")
    ok = type(shape) is list and all(type(d) is int and d > 0 for d in shape)
    if not ok or tuple(shape[1:]) != gw.input_shape:
        raise invalid(f"the input shape must be [n, {', '.join(map(str, gw.input_shape))}]")
    if shape[0] > gw.policy.validation.max_batch:
        raise GatewayRefusal(
            413, "too_large", f"at most {gw.policy.validation.max_batch} instances"
        )
    data = tensor.get("data")
    if type(data) is list and data and type(data[0]) is list:
        _check_nested(data, tuple(shape), "data")
    elif type(data) is not list or len(data) != math.prod(shape):
        raise invalid(f"data must hold {math.prod(shape)} numbers")
    elif not _NUMBERS.issuperset(map(type, data)):
        raise invalid("data values must be JSON numbers")
    try:
        array = np.array(data, dtype=np.float64).reshape(shape)
    except (OverflowError, ValueError):
        raise invalid("data holds a number that is not a finite float") from None
    return gw.validator.check(array)


def _wanted(gw: Gateway, document: dict[str, Any]) -> list[str]:
    available = [o["name"] for o in metadata(gw)["outputs"]]
    asked = document.get("outputs")
    if asked is None:
        return available
    names = [o.get("name") for o in asked] if type(asked) is list else [None]
    if not names or any(type(o) is not dict for o in asked) or not set(names) <= set(available):
        raise invalid(f"outputs must be named among {available}")
    return [str(n) for n in names]


def _answer(
    gw: Gateway, document: dict[str, Any], wanted: list[str], body: dict[str, Any], n: int
) -> dict[str, Any]:
    outputs = []
    for name in wanted:
        if name == "label":
            outputs.append(
                {
                    "name": "label",
                    "datatype": _label_type(gw.classes),
                    "shape": [n],
                    "data": body["predictions"],
                }
            )
        else:
            flat = [p for row in body["probabilities"] for p in row]
            outputs.append(
                {"name": name, "datatype": "FP32", "shape": [n, len(gw.classes)], "data": flat}
            )
    answer: dict[str, Any] = {"model_name": gw.name, "model_version": gw.policy.model_version}
    if isinstance(document.get("id"), str):
        answer["id"] = document["id"][:128]
    answer["outputs"] = outputs
    return answer


def _model(gw: Gateway, name: str, version: str | None) -> None:
    if name != gw.name or (version is not None and version != gw.policy.model_version):
        raise GatewayRefusal(
            404, "not_found", f"no model {name!r}" + (f" version {version!r}" if version else "")
        )


def install_oip_routes(app: FastAPI, gw: Gateway) -> None:
    """Add the OIP v2 routes to ``app``."""
    _health_routes(app, gw)
    _model_routes(app, gw)


def _health_routes(app: FastAPI, gw: Gateway) -> None:

    @app.get("/v2", summary="OIP server metadata")
    async def server(request: Request) -> Response:
        exchange(request).route = "health"
        gw.limit_ip(exchange(request))
        return json_response({"name": "mlwarden", "version": __version__, "extensions": []})

    @app.get("/v2/health/live", summary="OIP liveness")
    async def live(request: Request) -> Response:
        exchange(request).route = "health"
        gw.limit_ip(exchange(request))
        return json_response({"live": True})

    @app.get("/v2/health/ready", summary="OIP readiness")
    async def ready(request: Request) -> Response:
        exchange(request).route = "health"
        gw.limit_ip(exchange(request))
        ok = all(gw.ready().values())
        return json_response({"ready": ok}, 200 if ok else 503)


def _model_routes(app: FastAPI, gw: Gateway) -> None:
    async def model_meta(request: Request, name: str, version: str | None = None) -> Response:
        caller(gw, request, "predict", "model")
        _model(gw, name, version)
        return json_response(metadata(gw))

    async def model_ready(request: Request, name: str, version: str | None = None) -> Response:
        caller(gw, request, "predict", "model")
        _model(gw, name, version)
        return json_response({"name": gw.name, "ready": True})

    async def infer(request: Request, name: str, version: str | None = None) -> Response:
        key = caller(gw, request, "predict", "infer")
        _model(gw, name, version)
        document = await read_json(gw, request)
        x = _tensor(gw, document)
        wanted = _wanted(gw, document)
        body = gw.predict(key, x, exchange(request))
        return json_response(_answer(gw, document, wanted, body, len(x)))

    for prefix in ("/v2/models/{name}", "/v2/models/{name}/versions/{version}"):
        app.add_api_route(
            prefix, model_meta, methods=["GET"], summary="OIP model metadata", responses=_ERRORS
        )
        app.add_api_route(
            prefix + "/ready",
            model_ready,
            methods=["GET"],
            summary="OIP model readiness",
            responses=_ERRORS,
        )
        app.add_api_route(
            prefix + "/infer", infer, methods=["POST"], summary="OIP inference", responses=_ERRORS
        )
