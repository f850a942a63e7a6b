"""The outermost ASGI layer: every response signed, audited and counted, whatever produced it.

It gives each request an :class:`~mlwarden.gateway.service.Exchange` (request id, start
time, client), refuses an announced body over the size cap before it is read, buffers the
response, signs it, commits the audit record and only then sends it. An exception anywhere
below becomes a generic 500 (no internals); if the audit record cannot be written, the
answer is withheld and a 503 goes out instead (fail closed: no unrecorded answer).
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
import uuid
from datetime import datetime, timezone
from typing import Any

from mlwarden.gateway.auditlog import AuditRecord
from mlwarden.gateway.errors import error_body
from mlwarden.gateway.service import Exchange, Gateway

log = logging.getLogger("mlwarden.gateway")
_REQUEST_ID = re.compile(rb"^[A-Za-z0-9_.-]{8,64}$")
_JSON = b"application/json"

Scope = dict[str, Any]


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return bytes(value)
    return None


def _request_id(scope: Scope) -> str:
    given = _header(scope, b"mlwarden-request-id")
    if given is not None and _REQUEST_ID.match(given):
        return given.decode()
    return uuid.uuid4().hex


class Envelope:
    """ASGI middleware around the gateway app.

    Args:
        app: the inner ASGI app.
        gateway: the controls (signer, audit sink, metrics, body cap).
    """

    def __init__(self, app: Any, gateway: Gateway) -> None:
        self.app = app
        self.gw = gateway

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        client = scope.get("client") or ("unknown", 0)
        ex = Exchange(_request_id(scope), time.perf_counter(), str(client[0]))
        scope["mlwarden"] = ex
        status, headers, body = await self._inner(scope, receive, ex)
        await self._finish(scope, ex, status, headers, body, send)

    async def _inner(
        self, scope: Scope, receive: Any, ex: Exchange
    ) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        length = _header(scope, b"content-length")
        limit = self.gw.policy.validation.max_body_bytes
        if length is not None and (not length.isdigit() or int(length) > limit):
            ex.decision = "too_large"
            return _error(413, "too_large", f"the body exceeds {limit} bytes")
        start: dict[str, Any] = {}
        chunks: list[bytes] = []

        async def capture(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        try:
            await self.app(scope, receive, capture)
        except Exception:  # the caller gets a generic 500; details go to the server log only
            log.exception("request %s failed", ex.request_id)
            ex.decision = "error"
            return _error(500, "internal_error", "internal error")
        if not start:
            ex.decision = "error"
            return _error(500, "internal_error", "no response")
        return int(start["status"]), list(start.get("headers", [])), b"".join(chunks)

    async def _finish(
        self,
        scope: Scope,
        ex: Exchange,
        status: int,
        headers: list[tuple[bytes, bytes]],
        body: bytes,
        send: Any,
    ) -> None:
        gw = self.gw
        if gw.audit is not None:
            record = self._record(scope, ex, status, body)
            try:
                gw.audit.append(record)
            except Exception:  # fail closed: no answer goes out unrecorded
                log.exception("audit log write failed for request %s", ex.request_id)
                gw.metrics.audit_errors.inc()
                status, headers, body = _error(503, "unavailable", "audit log unavailable")
        headers = [(k, v) for k, v in headers if k not in (b"content-length",)]
        headers.append((b"content-length", str(len(body)).encode()))
        if gw.signer is not None:
            content_type = next((v for k, v in headers if k == b"content-type"), _JSON)
            signed = gw.signer.headers(
                status, content_type.decode("latin-1"), body, gw.digest, ex.request_id
            )
            headers += [(k.encode(), v.encode()) for k, v in signed]
        else:
            headers.append((b"mlwarden-request-id", ex.request_id.encode()))
        gw.metrics.request_done(ex.route, status, ex.decision, time.perf_counter() - ex.started)
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    def _record(self, scope: Scope, ex: Exchange, status: int, body: bytes) -> AuditRecord:
        keep = self.gw.policy.audit.max_output_chars
        return AuditRecord(
            request_id=ex.request_id,
            time=datetime.now(timezone.utc).isoformat(timespec="microseconds"),
            key_id=ex.key_id,
            client=ex.client,
            method=str(scope.get("method", "")),
            path=str(scope.get("path", ""))[:256],
            status=status,
            decision=ex.decision,
            input_digest=ex.input_digest,
            output=body[:keep].decode("utf-8", "replace"),
            output_digest="sha256:" + hashlib.sha256(body).hexdigest(),  # ~1 us: small bodies
            latency_ms=round((time.perf_counter() - ex.started) * 1000.0, 3),
        )


def _error(status: int, code: str, message: str) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    return status, [(b"content-type", _JSON)], error_body(code, message)
