"""ML01/ML03/ML05/ML08 rules on serving code: what a prediction route takes and gives.

A prediction route is a request handler (Flask, FastAPI, BentoML, Gradio, Lambda, Ray
Serve) that runs a model, directly or through helpers in the same file. It should validate
its input (ML01), answer with labels rather than probability vectors or confidence scores
(ML03), sit behind a rate limit (ML05) and feed a monitoring hook (ML08). The module-wide
facts that protect every route (an app-wide limiter, rate-limit or metrics middleware,
``before_request`` hooks) are collected here from the calls that set them up.
"""

from __future__ import annotations

import ast

from mlwarden.findings import Confidence
from mlwarden.linter import flow
from mlwarden.linter.checks.base import REGISTRY as R
from mlwarden.linter.context import Call, Frame, RouteInfo
from mlwarden.linter.limits import is_limit_text
from mlwarden.linter.syntax import dotted
from mlwarden.linter.values import AV, PROBA, REQUEST

_HIGH, _MED, _LOW = Confidence.HIGH, Confidence.MEDIUM, Confidence.LOW
#: Frameworks whose routes take HTTP traffic directly (Lambda sits behind API Gateway's
#: throttling and Gradio apps are demos: rate limits and monitoring live elsewhere there).
_WEB = frozenset(("flask", "fastapi", "web", "bentoml", "ray", "django"))
_METRICS_SETUP = frozenset(
    (
        "Instrumentator",
        "PrometheusMetrics",
        "GunicornPrometheusMetrics",
        "RESTfulPrometheusMetrics",
        "make_wsgi_app",
        "make_asgi_app",
        "start_http_server",
        "PrometheusMiddleware",
    )
)


@R.predictions
def unvalidated_input(call: Call) -> None:
    """LINT-ML01-001: a route runs the model on request data nobody validated."""
    if "validated" in call.frame.events:
        return  # the request path validates its input (a helper, a schema, a bounds check)
    if any(REQUEST in v.taints for v in _model_inputs(call)):
        call.report(
            "LINT-ML01-001",
            "the model runs on request data with no bounds or schema validation",
        )


_DATA_KEYWORDS = frozenset(
    ("X", "x", "data", "inputs", "input", "features", "instances", "rows", "text", "texts", "**")
)


def _model_inputs(call: Call) -> list[AV]:
    """The arguments that feed the model: the first one (``predict(X)``), data keywords,
    every positional one when the model object itself is called."""
    positional = call.args[:1] if call.terminal in flow.PREDICT_METHODS else call.args
    return [*positional, *(v for k, v in call.kwargs.items() if k in _DATA_KEYWORDS)]


@R.routes
def confidence_leak(route: RouteInfo, frame: Frame) -> None:
    """LINT-ML03-001: the route returns probability vectors or confidence scores."""
    if "predict" not in frame.events and "proba-helper" not in frame.events:
        return
    for node, value in frame.returns:
        if PROBA in value.taints:
            frame.ctx.report(
                "LINT-ML03-001",
                node,
                "the prediction route returns probabilities or confidence scores; answer "
                "with the label only",
                scope=frame.scope,
            )


@R.routes
def no_rate_limit(route: RouteInfo, frame: Frame) -> None:
    """LINT-ML05-001: a prediction route with no rate limiting."""
    limited = route.rate_limited or "rate-limit" in frame.events
    if "predict" in frame.events and not limited and route.kind in _WEB:
        frame.ctx.report(
            "LINT-ML05-001",
            route.node,
            f"prediction route {route.node.name}() has no rate limit: unlimited queries allow "
            "model extraction",
            _MED if route.kind in ("ray", "bentoml", "web") else _HIGH,
            scope=frame.scope,
        )


@R.routes
def no_monitoring(route: RouteInfo, frame: Frame) -> None:
    """LINT-ML08-002: a served model with no monitoring hook."""
    if "predict" not in frame.events or route.monitored or "monitor" in frame.events:
        return
    if route.kind not in _WEB:
        return
    frame.ctx.report(
        "LINT-ML08-002",
        route.node,
        f"prediction route {route.node.name}() records nothing for drift or abuse monitoring",
        _MED,
        scope=frame.scope,
    )


# Module-wide facts -----------------------------------------------------------------------


@R.calls("Limiter")
def limiter(call: Call) -> None:
    if call.has_keyword("default_limits") or call.has_keyword("application_limits"):
        call.ctx.facts.rate_limited = True


@R.calls("add_middleware", "middleware")
def middleware(call: Call) -> None:
    """App-wide middleware; a gateway (``gateway=gw``) both limits and records traffic."""
    parts = [dotted(a) for a in call.node.args]
    parts += [f"{kw.arg} {dotted(kw.value)}" for kw in call.node.keywords if kw.arg]
    text = " ".join(parts)
    if is_limit_text(text):
        call.ctx.facts.rate_limited = True
    if (
        "gateway" in text.lower()
        or flow.is_monitor((text,))
        or any(t in text for t in _METRICS_SETUP)
    ):
        call.ctx.facts.monitored = True


@R.keywords("dependencies")
def app_dependencies(call: Call) -> None:
    """``FastAPI(dependencies=[Depends(rate_limiter)])`` covers every route of the app."""
    if call.terminal not in ("FastAPI", "APIRouter", "include_router", "Litestar"):
        return
    node = next(kw.value for kw in call.node.keywords if kw.arg == "dependencies")
    texts = [dotted(s) for s in ast.walk(node) if isinstance(s, ast.Name | ast.Attribute)]
    if any(is_limit_text(t) for t in texts):
        call.ctx.facts.rate_limited = True
    if any(flow.is_monitor((t,)) for t in texts):
        call.ctx.facts.monitored = True


@R.calls(*_METRICS_SETUP, "instrument", "init_app")
def metrics_setup(call: Call) -> None:
    if call.terminal in _METRICS_SETUP or any(t in n for n in call.names for t in _METRICS_SETUP):
        call.ctx.facts.monitored = True
    elif call.terminal == "init_app" and any(is_limit_text(n) for n in call.names):
        call.ctx.facts.rate_limited = True


@R.calls("add_url_rule", "add_api_route", "Route", "Interface", "ChatInterface", "click", "submit")
def registered_route(call: Call) -> None:
    """Routes registered by a call: Flask ``add_url_rule``, FastAPI, Gradio handlers."""
    terminal = call.terminal
    if terminal == "add_url_rule":
        target, kind = _named_arg(call, "view_func", 2), "flask"
    elif terminal in ("add_api_route", "Route") and call.ctx.imports.uses("fastapi", "starlette"):
        target, kind = _named_arg(call, "endpoint", 1), "fastapi"
    elif call.ctx.imports.uses("gradio"):
        target, kind = _named_arg(call, "fn", 0), "gradio"
    else:
        return
    if target is not None:
        call.ctx.facts.registered_routes[target] = kind


def _named_arg(call: Call, keyword: str, position: int) -> str | None:
    node = next((kw.value for kw in call.node.keywords if kw.arg == keyword), None)
    if node is None and position < len(call.node.args):
        node = call.node.args[position]
    if isinstance(node, ast.Name):
        return node.id
    return None
