"""ML09 rules on how predictions travel: plaintext HTTP, disabled TLS checks, insecure gRPC,
and responses used without verifying their integrity.

URLs are judged by their known start (a constant, a module constant, an f-string such as
``f"http://{host}/predict"``); loopback addresses and Unix sockets are exempt. A response of a
prediction endpoint must be checked (an HMAC or signature verification in the same function)
before it is used.
"""

from __future__ import annotations

import ast
import re

from mlwarden.findings import Confidence
from mlwarden.linter.checks.base import REGISTRY as R
from mlwarden.linter.context import Call, Frame
from mlwarden.linter.values import AV, Ref

_HIGH, _MED, _LOW = Confidence.HIGH, Confidence.MEDIUM, Confidence.LOW
_VERBS = ("get", "post", "put", "patch", "request", "urlopen", "Request", "stream")
_CLIENTS = (
    "requests.",
    "httpx.",
    "urllib.request.",
    "urllib3.",
    "aiohttp.",
    "tritonclient.http.",
)
_LOOPBACK = re.compile(
    r"^(?:https?://|grpc://)?(?:localhost|127\.\d+\.\d+\.\d+|\[::1\]|0\.0\.0\.0|unix:|"
    r"host\.docker\.internal|169\.254\.169\.254|metadata\.google\.internal)(?:[:/]|$)",
    re.IGNORECASE,
)
_PREDICTION_URL = re.compile(
    r"predict|infer|score|classify|invocations|/models?/|generate|completion|embed|serving",
    re.IGNORECASE,
)


def _is_client(call: Call) -> bool:
    return any(n.startswith(_CLIENTS) for n in call.names)


def _url(call: Call) -> AV | None:
    if call.terminal == "request" and len(call.args) >= 2:
        return call.args[1]
    return call.arg("url", 0)


def _loopback(text: str) -> bool:
    return _LOOPBACK.match(text) is not None


def _predictive(call: Call, url: AV | None) -> bool:
    texts = url.prefixes() if url is not None else []
    scope = call.frame.func.name if call.frame.func is not None else ""
    return any(_PREDICTION_URL.search(t) for t in texts) or bool(_PREDICTION_URL.search(scope))


@R.calls(*_VERBS, lazy=True)
def plaintext_http(call: Call) -> None:
    """LINT-ML09-001 (plain http://) and LINT-ML09-004 (response used unverified)."""
    if not _is_client(call):
        return
    url = _url(call)
    starts = url.prefixes() if url is not None else []
    plain = [s for s in starts if s.lower().startswith("http://") and not _loopback(s)]
    if plain:
        call.report(
            "LINT-ML09-001",
            "predictions travel over plain http://: anyone on the path can change them",
            _HIGH if _predictive(call, url) else _MED,
        )
        return
    if any(_PREDICTION_URL.search(s) for s in starts) and not any(_loopback(s) for s in starts):
        call.report_unless(
            "guard",
            "LINT-ML09-004",
            "the prediction response is used without verifying its signature or HMAC",
            _MED,
        )


@R.keywords("verify")
def tls_verify_off(call: Call) -> None:
    """LINT-ML09-002: verify=False on an HTTP client."""
    if not _is_client(call):
        return
    flag = call.kwargs["verify"]
    if flag.maybe(False) or flag.maybe(0):
        call.report("LINT-ML09-002", "TLS certificate verification is disabled (verify=False)")
    elif flag.unknown and not flag.atoms:
        call.report("LINT-ML09-002", "verify= may disable TLS certificate checks", _LOW)


@R.assigns("verify", "verify_mode", "check_hostname")
def tls_attr_off(target: ast.Attribute, base: AV, value: AV, frame: Frame) -> None:
    """LINT-ML09-002: ``session.verify = False``, ``ctx.verify_mode = ssl.CERT_NONE``."""
    insecure = value.maybe(False) or Ref("ssl.CERT_NONE") in value.atoms
    own = isinstance(target.value, ast.Name) and target.value.id == "self"
    if insecure and not own:  # a TLS implementation setting its own defaults is not a client
        frame.ctx.report(
            "LINT-ML09-002",
            target,
            f"TLS verification is disabled ({target.attr})",
            scope=frame.scope,
        )


@R.keywords("cert_reqs")
def cert_none(call: Call) -> None:
    """LINT-ML09-002: ``urllib3.PoolManager(cert_reqs="CERT_NONE")``."""
    value = call.kwargs["cert_reqs"]
    if value.maybe("CERT_NONE") or value.maybe("none") or Ref("ssl.CERT_NONE") in value.atoms:
        call.report("LINT-ML09-002", "certificate checks are disabled (cert_reqs=CERT_NONE)")


@R.calls("_create_unverified_context")
def unverified_context(call: Call) -> None:
    if call.matches_prefix("ssl."):
        call.report("LINT-ML09-002", "ssl._create_unverified_context() skips certificate checks")


@R.calls("insecure_channel", "InferenceServerClient")
def insecure_grpc(call: Call) -> None:
    """LINT-ML09-003: a gRPC channel without TLS to a non-local host."""
    if call.matches("grpc.insecure_channel"):
        target = call.arg("target", 0)
    elif call.matches_prefix("tritonclient.grpc"):
        ssl = call.arg("ssl")
        if ssl is not None and ssl.always(True):
            return
        target = call.arg("url", 0)
    else:
        return
    starts = target.prefixes() if target is not None else []
    if starts and all(_loopback(s) for s in starts) and target is not None and not target.unknown:
        return
    call.report(
        "LINT-ML09-003",
        "predictions travel over a gRPC channel without TLS",
        _HIGH if starts else _MED,
    )
