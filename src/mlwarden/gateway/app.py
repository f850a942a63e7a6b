"""The FastAPI app of the gateway: mlwarden v1 routes, health, metrics, and the OIP v2 routes.

Handlers read raw bodies (so size caps, JSON errors and strict number checks stay ours and
always answer 4xx with a reason) and call :class:`~mlwarden.gateway.service.Gateway` for
every step; the :class:`~mlwarden.gateway.envelope.Envelope` signs and audits whatever they
answer. The request and response shapes are in ``docs/gateway-api.md`` and in the OpenAPI
document at ``/openapi.json``.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from mlwarden._version import __version__
from mlwarden.gateway.auth import ApiKey, token_from_headers
from mlwarden.gateway.envelope import Envelope
from mlwarden.gateway.errors import GatewayRefusal, error_body
from mlwarden.gateway.service import Exchange, Gateway
from mlwarden.gateway.validation import parse_json

_JSON = "application/json"


class PredictRequest(BaseModel):
    """``POST /v1/predict``: a batch of instances, each of the model's input shape."""

    instances: list[Any] = Field(description="Instances (nested lists of numbers).")


class PredictResponse(BaseModel):
    """One label per instance (``null`` = uncertain), and what the output policy allows."""

    predictions: list[Any]
    probabilities: list[list[float]] | None = None
    top_k: list[list[list[Any]]] | None = None
    model: dict[str, str]


class ErrorResponse(BaseModel):
    """Every refusal: ``{"error": {"code", "message"}}``."""

    error: dict[str, str]


_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorResponse} for code in (400, 401, 403, 413, 415, 422, 429, 503)
}


def json_response(data: Any, status: int = 200) -> Response:
    """A compact JSON response (the envelope signs the exact bytes)."""
    body = json.dumps(data, separators=(",", ":"), allow_nan=False).encode()
    return Response(body, status_code=status, media_type=_JSON)


def exchange(request: Request) -> Exchange:
    ex: Exchange = request.scope["mlwarden"]
    return ex


def caller(gw: Gateway, request: Request, scope: str, route: str) -> ApiKey:
    """Authenticate the request's key for ``scope`` and count it against its limits."""
    ex = exchange(request)
    ex.route = route
    token = token_from_headers(_headers(request), gw.policy.auth.header)
    key = gw.authenticate(token, scope, ex)
    if gw.keys is None:
        gw.limit_ip(ex)
    else:
        gw.admit(key)
    return key


def _headers(request: Request) -> dict[str, str]:
    return {k.decode("latin-1"): v.decode("latin-1") for k, v in request.scope["headers"]}


async def read_body(gw: Gateway, request: Request) -> bytes:
    """The body, read up to the size cap (413 beyond it), its digest noted for the audit."""
    limit = gw.policy.validation.max_body_bytes
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise GatewayRefusal(413, "too_large", f"the body exceeds {limit} bytes")
        chunks.append(chunk)
    body = b"".join(chunks)
    exchange(request).input_digest = "sha256:" + hashlib.sha256(body).hexdigest()
    return body


async def read_json(gw: Gateway, request: Request) -> Any:
    body = await read_body(gw, request)
    return parse_json(body, request.headers.get("content-type"))


def _install_errors(app: FastAPI) -> None:
    async def refusal(request: Request, exc: Exception) -> Response:
        if not isinstance(exc, GatewayRefusal):
            raise exc
        exchange(request).decision = exc.decision
        response = Response(error_body(exc.code, exc.message), exc.status, media_type=_JSON)
        response.headers.update(exc.headers)
        return response

    async def http_error(request: Request, exc: Exception) -> Response:
        status = getattr(exc, "status_code", 500)
        code = {404: "not_found", 405: "method_not_allowed"}.get(status, "http_error")
        exchange(request).decision = code
        return Response(
            error_body(code, str(getattr(exc, "detail", code))), status, media_type=_JSON
        )

    async def validation(request: Request, exc: Exception) -> Response:
        exchange(request).decision = "invalid_input"
        return Response(
            error_body("invalid_input", "invalid request parameters"), 422, media_type=_JSON
        )

    app.add_exception_handler(GatewayRefusal, refusal)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RequestValidationError, validation)


def _v1_routes(app: FastAPI, gw: Gateway) -> None:
    body_doc = {
        "requestBody": {
            "required": True,
            "content": {_JSON: {"schema": PredictRequest.model_json_schema()}},
        }
    }

    @app.post(
        "/v1/predict",
        summary="Classify a batch of instances",
        responses={200: {"model": PredictResponse}, **_ERRORS},
        openapi_extra=body_doc,
    )
    async def predict(request: Request) -> Response:
        key = caller(gw, request, "predict", "predict")
        x = gw.validator.instances(await read_json(gw, request))
        return json_response(gw.predict(key, x, exchange(request)))

    @app.get("/v1/model", summary="What the served model accepts and answers", responses=_ERRORS)
    async def model_info(request: Request) -> Response:
        caller(gw, request, "predict", "model")
        return json_response(gw.describe())


def _ops_routes(app: FastAPI, gw: Gateway) -> None:
    @app.get("/healthz", summary="Liveness")
    async def healthz(request: Request) -> Response:
        exchange(request).route = "health"
        gw.limit_ip(exchange(request))
        return json_response({"status": "ok"})

    @app.get("/readyz", summary="Readiness of the model and its backends")
    async def readyz(request: Request) -> Response:
        exchange(request).route = "health"
        gw.limit_ip(exchange(request))
        checks = gw.ready()
        ok = all(checks.values())
        return json_response(
            {"status": "ready" if ok else "unavailable", "checks": checks}, 200 if ok else 503
        )

    @app.get("/metrics", summary="Prometheus metrics", responses=_ERRORS)
    async def metrics(request: Request) -> Response:
        if gw.policy.auth.public_metrics:
            exchange(request).route = "metrics"
            gw.limit_ip(exchange(request))
        else:
            caller(gw, request, "metrics", "metrics")
        data, content_type = gw.metrics.render()
        return Response(data, media_type=content_type)


def create_app(gw: Gateway) -> Any:
    """The ASGI app serving ``gw`` (FastAPI wrapped in the signing/audit envelope)."""
    from mlwarden.gateway.oip import install_oip_routes

    docs = gw.policy.docs
    app = FastAPI(
        title=f"mlwarden gateway: {gw.name}",
        version=__version__,
        description="Hardened inference gateway (OWASP ML01, ML03-ML05, ML08, ML09).",
        docs_url="/docs" if docs else None,
        redoc_url=None,
        openapi_url="/openapi.json" if docs else None,
    )
    _install_errors(app)
    _v1_routes(app, gw)
    _ops_routes(app, gw)
    install_oip_routes(app, gw)
    app.state.gateway = gw
    app.add_middleware(Envelope, gateway=gw)
    return app
