"""Errors the gateway answers with: an HTTP status, a stable code and a message, never internals.

Every refusal (bad input, missing key, rate limit, ...) is a :class:`GatewayRefusal`; the app
turns it into ``{"error": {"code", "message"}}`` with its status and headers, signed and
audited like any other response (the format is in ``docs/gateway-api.md``).
"""

from __future__ import annotations

import json

from mlwarden.errors import MlwardenError


class GatewayRefusal(MlwardenError):
    """A request the gateway refuses, with the status and reason it answers.

    Args:
        status: HTTP status (4xx, or 503).
        code: stable slug (``invalid_input``, ``unauthorized``, ``rate_limited``, ...).
        message: the reason, safe to show to the caller.
        headers: extra response headers (``Retry-After``, ``WWW-Authenticate``).
        decision: what the audit log records (default: ``code``).
    """

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        headers: dict[str, str] | None = None,
        decision: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})
        self.decision = decision or code


def invalid(message: str, status: int = 422) -> GatewayRefusal:
    """An input the schema refuses (422) or that is not JSON at all (400)."""
    return GatewayRefusal(status, "invalid_input", message)


def error_body(code: str, message: str) -> bytes:
    """The JSON body of an error response."""
    return json.dumps({"error": {"code": code, "message": message}}).encode()
