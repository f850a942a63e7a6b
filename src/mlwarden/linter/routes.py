"""Which functions serve requests, what their parameters carry, and what protects them.

Routes are recognised by their decorators (``@app.route``, ``@app.post``, ``@router.get``,
``@svc.api``, ``@bentoml.api``), by registration calls seen anywhere in the file
(``add_url_rule``, ``add_api_route``, ``gr.Interface(fn=...)``; recorded in
``ModuleFacts.registered_routes`` by the serving rules) and by shape (AWS Lambda handlers,
Ray Serve ``__call__``). For FastAPI, a parameter typed with a pydantic model or constrained
with ``Field``/``Query(ge=...)`` is validated data; any other parameter is raw request data.
"""

from __future__ import annotations

import ast

from mlwarden.linter import flow
from mlwarden.linter.context import FileContext, FunctionNode, RouteInfo
from mlwarden.linter.limits import is_limit_text
from mlwarden.linter.syntax import dotted
from mlwarden.linter.values import AV, UNKNOWN

_ROUTE_METHODS = frozenset(
    ("route", "get", "post", "put", "patch", "delete", "api_route", "websocket", "api")
)
_CONSTRAINTS = frozenset(
    ("ge", "gt", "le", "lt", "min_length", "max_length", "max_items", "min_items", "pattern")
)
_NOT_DATA = frozenset(
    ("BackgroundTasks", "Response", "Session", "AsyncSession", "HTTPConnection", "SecurityScopes")
)
_VALIDATED = AV()
_RAW = flow.with_request(UNKNOWN)


def route_kind(func: FunctionNode, ctx: FileContext, cls: str | None) -> str | None:
    """The framework that exposes ``func`` as a request handler, or ``None``."""
    for deco in func.decorator_list:
        target = deco.func if isinstance(deco, ast.Call) else deco
        text = dotted(target)
        last = text.rpartition(".")[2]
        if isinstance(deco, ast.Call) and last in _ROUTE_METHODS and "." in text:
            return _framework(ctx)
        if text in ("bentoml.api", "api") and ctx.imports.uses("bentoml"):
            return "bentoml"
    registered = ctx.facts.registered_routes.get(func.name)
    if registered is not None:
        return registered
    names = [a.arg for a in func.args.args]
    if names[:2] == ["event", "context"] and "handler" in func.name:
        return "lambda"
    if (
        func.name in _SAGEMAKER
        and cls is None
        and ctx.imports.uses("sagemaker", "sagemaker_inference")
    ):
        return "sagemaker"
    if cls is not None:
        return _method_route(func, ctx, cls, names)
    if names[:1] == ["request"] and ctx.imports.uses("django"):
        return "django"
    return None


_SAGEMAKER = frozenset(("predict_fn", "transform_fn", "input_fn"))
_HTTP_VERBS = frozenset(("get", "post", "put", "patch", "delete"))
_VIEW_BASES = ("flask.views.", "rest_framework.", "django.views.")


def _method_route(func: FunctionNode, ctx: FileContext, cls: str, names: list[str]) -> str | None:
    """Class-based handlers: Flask MethodView/DRF APIView verbs, Ray Serve, KServe models."""
    if func.name == "__call__" and ctx.imports.uses("ray"):
        return "ray"
    bases = ctx.class_bases(cls)
    if func.name in _HTTP_VERBS and any(b.startswith(_VIEW_BASES) for b in bases):
        return (
            "django"
            if any(b.startswith(("rest_framework.", "django.")) for b in bases)
            else "flask"
        )
    if func.name in ("predict", "preprocess") and any(b.startswith("kserve.") for b in bases):
        return "kserve"
    return None


def _framework(ctx: FileContext) -> str:
    if ctx.imports.uses("fastapi", "starlette", "litestar"):
        return "fastapi"
    if ctx.imports.uses("flask", "quart", "sanic", "bottle"):
        return "flask"
    return "web"


def route_params(func: FunctionNode, ctx: FileContext, kind: str) -> dict[str, AV]:
    """The abstract value each parameter of a route handler starts with."""
    args = func.args
    positional = [*args.posonlyargs, *args.args]
    defaults: list[ast.expr | None] = [None] * (len(positional) - len(args.defaults))
    defaults += list(args.defaults)
    pairs = list(zip(positional, defaults, strict=True))
    pairs += list(zip(args.kwonlyargs, args.kw_defaults, strict=True))
    out: dict[str, AV] = {}
    for arg, default in pairs:
        if arg.arg in ("self", "cls"):
            continue
        if (kind == "lambda" and arg.arg == "context") or (
            kind == "kserve" and arg.arg == "headers"
        ):
            continue
        if kind == "sagemaker" and arg.arg in ("model", "content_type", "accept"):
            continue
        out[arg.arg] = _param_value(arg, default, ctx)
    return out


def _param_value(arg: ast.arg, default: ast.expr | None, ctx: FileContext) -> AV:
    if isinstance(default, ast.Call):
        callee = dotted(default.func).rpartition(".")[2]
        if callee in ("Depends", "Security"):
            return _VALIDATED
        if any(kw.arg in _CONSTRAINTS for kw in default.keywords):
            return _VALIDATED
    annotation = arg.annotation
    if annotation is None:
        return _RAW
    if _constrained(annotation):
        return _VALIDATED
    names = _annotation_names(annotation, ctx)
    if any(n.rpartition(".")[2] in _NOT_DATA for n in names):
        return _VALIDATED
    if flow.is_schema_class(ctx, names) or any(_imported_model(n, ctx) for n in names):
        return _VALIDATED
    return _RAW


#: Annotations that carry data unchecked: builtins, typing containers, raw request objects.
_RAW_TYPES = frozenset(
    (
        "Any",
        "Annotated",
        "Body",
        "Dict",
        "DataFrame",
        "File",
        "Form",
        "Json",
        "List",
        "Mapping",
        "Optional",
        "Request",
        "Sequence",
        "Tensor",
        "Tuple",
        "Union",
        "UploadFile",
        "WebSocket",
        "ndarray",
    )
)


def _imported_model(name: str, ctx: FileContext) -> bool:
    """A class imported from the project (``app.schemas.Features``): FastAPI and
    flask-pydantic parse such a body through its pydantic model, so it is validated."""
    last = name.rpartition(".")[2]
    if not last[:1].isupper() or last in _RAW_TYPES or name.startswith("local:"):
        return False
    module = name.rpartition(".")[0]
    return bool(module) and not module.startswith(
        ("typing", "fastapi", "starlette", "numpy", "pandas", "torch", "flask")
    )


def _constrained(annotation: ast.expr) -> bool:
    for sub in ast.walk(annotation):
        if isinstance(sub, ast.Call):
            callee = dotted(sub.func).rpartition(".")[2]
            if callee in ("conlist", "confloat", "conint", "constr", "conset"):
                return True
            if any(kw.arg in _CONSTRAINTS for kw in sub.keywords):
                return True
    return False


def _annotation_names(annotation: ast.expr, ctx: FileContext) -> list[str]:
    out: list[str] = []
    for sub in ast.walk(annotation):
        if isinstance(sub, ast.Name | ast.Attribute):
            out.extend(ctx.dotted_names(sub))
        elif isinstance(sub, ast.Constant) and isinstance(sub.value, str):
            out.append(f"local:{sub.value}" if sub.value in ctx.classes else sub.value)
    return out


def route_protection(func: FunctionNode, ctx: FileContext) -> tuple[bool, bool]:
    """(rate limited, monitored) from the decorators, dependencies and module facts."""
    limited = ctx.facts.rate_limited
    monitored = ctx.facts.monitored
    exempt = False
    for deco in func.decorator_list:
        for sub in ast.walk(deco):
            if isinstance(sub, ast.Name | ast.Attribute):
                text = dotted(sub)
                exempt = exempt or text.endswith(".exempt")
                limited = limited or is_limit_text(text)
                monitored = monitored or flow.is_monitor((text,))
    if exempt:
        limited = False
    for default in [*func.args.defaults, *func.args.kw_defaults]:
        if isinstance(default, ast.Call):
            text = " ".join(dotted(a) for a in default.args)
            limited = limited or is_limit_text(text)
            monitored = monitored or flow.is_monitor((text,))
    return limited and not exempt, monitored


def new_route(func: FunctionNode, ctx: FileContext, kind: str) -> RouteInfo:
    limited, monitored = route_protection(func, ctx)
    return RouteInfo(kind, func, rate_limited=limited, monitored=monitored)
