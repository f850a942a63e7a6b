"""Input validation: content type, body size, JSON, structure, numbers, shape, ranges.

Each failure is a refusal with the reason (415, 413, 400, 422), never a 500: bodies are read
with a size cap, JSON that is nested too deeply or holds ``NaN``/``Infinity`` is refused,
instances must be lists of JSON numbers (a string or boolean for a number is refused, not
coerced) of exactly the model's input shape, finite, within ``max_abs_value`` and within the
per-feature bounds of the input schema (:class:`~mlwarden.defenses.schema.InputSchema`).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from mlwarden.defenses.schema import InputSchema
from mlwarden.gateway.errors import GatewayRefusal, invalid
from mlwarden.gateway.policy import ValidationPolicy

if TYPE_CHECKING:
    from mlwarden.monitor.profile import ReferenceProfile

_NUMBERS = frozenset({int, float})


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


def parse_json(body: bytes, content_type: str | None) -> Any:
    """The JSON document of a request body.

    Raises:
        GatewayRefusal: 415 for another content type, 400 for a body that is not JSON (or is
            nested beyond what the parser allows).
    """
    media = (content_type or "").split(";", 1)[0].strip().lower()
    if media != "application/json":
        raise GatewayRefusal(
            415, "unsupported_media_type", "send the body as Content-Type: application/json"
        )
    try:
        return json.loads(body, parse_constant=_no_constants)
    except RecursionError:
        raise invalid("the JSON body is nested too deeply", 400) from None
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError, NaN/Infinity
        raise invalid(f"the body is not valid JSON: {str(exc)[:200]}", 400) from None


def _check_nested(value: Any, shape: tuple[int, ...], where: str) -> None:
    """``value`` is nested lists of JSON numbers of exactly ``shape``."""
    if type(value) is not list or len(value) != shape[0]:
        got = f"a list of {len(value)}" if type(value) is list else type(value).__name__
        raise invalid(f"{where}: expected a list of {shape[0]} values, got {got}")
    if len(shape) == 1:
        if not _NUMBERS.issuperset(map(type, value)):
            bad = next(v for v in value if type(v) not in _NUMBERS)
            raise invalid(f"{where}: values must be JSON numbers, not {type(bad).__name__}")
        return
    for i, item in enumerate(value):
        _check_nested(item, shape[1:], f"{where}[{i}]")


class InputValidator:
    """Turns request documents into checked float arrays for the model.

    Args:
        input_shape: shape of one instance.
        policy: the ``[gateway.validation]`` section.
        schema: per-feature bounds (``None``: shape, finiteness and magnitude only).
    """

    def __init__(
        self, input_shape: tuple[int, ...], policy: ValidationPolicy, schema: InputSchema | None
    ) -> None:
        self.input_shape = tuple(input_shape)
        self.policy = policy
        self.schema = schema
        if schema is not None:
            self._low = np.asarray(schema.minimum, dtype=np.float64)
            self._high = np.asarray(schema.maximum, dtype=np.float64)

    def _outside(self, flat: NDArray[np.float64]) -> bool:
        """Fast test; the schema's own (slower) report is built only for a bad batch."""
        return bool((flat < self._low).any() or (flat > self._high).any())

    @classmethod
    def build(
        cls,
        input_shape: tuple[int, ...],
        policy: ValidationPolicy,
        profile: ReferenceProfile | None,
    ) -> InputValidator:
        """A validator whose bounds come from where the policy says."""
        schema = None
        if policy.enabled and policy.ranges == "policy":
            schema = InputSchema(
                input_shape, "float32", tuple(policy.minimum), tuple(policy.maximum)
            )
        elif policy.enabled and policy.ranges == "reference" and profile is not None:
            span = profile.high - profile.low
            # A feature constant in training (a border pixel) still varies in the population:
            # its margin is the typical feature range, not zero.
            typical = float(np.median(span[span > 0])) if (span > 0).any() else 1.0
            pad = policy.margin * np.maximum(span, typical)
            low, high = profile.low - pad, profile.high + pad
            schema = InputSchema(
                input_shape, "float32", tuple(low.tolist()), tuple(high.tolist()), policy.margin
            )
        if schema is not None and len(schema.minimum) != int(np.prod(input_shape)):
            raise invalid("the schema's bounds do not match the model's input size")
        return cls(input_shape, policy, schema)

    def instances(self, document: Any) -> NDArray[np.float32]:
        """The ``instances`` of a ``POST /v1/predict`` document, checked."""
        if type(document) is not dict:
            raise invalid('the body must be a JSON object {"instances": [...]}')
        unknown = sorted(set(document) - {"instances"})
        if unknown:
            raise invalid(f"unknown field(s): {', '.join(map(str, unknown))[:200]}")
        if "instances" not in document:
            raise invalid('missing field "instances"')
        return self.batch(document["instances"], "instances")

    def batch(self, rows: Any, where: str) -> NDArray[np.float32]:
        """A list of instances as a ``(n, *input_shape)`` float32 array, checked."""
        if type(rows) is not list or not rows:
            raise invalid(f"{where} must be a non-empty list of instances")
        if len(rows) > self.policy.max_batch:
            raise GatewayRefusal(
                413, "too_large", f"at most {self.policy.max_batch} instances per request"
            )
        for i, row in enumerate(rows):
            _check_nested(row, self.input_shape, f"{where}[{i}]")
        return self.check(self._array(rows))

    def _array(self, rows: Any) -> NDArray[np.float64]:
        try:
            return np.array(rows, dtype=np.float64)
        except (OverflowError, ValueError, TypeError):
            raise invalid("instances hold a number that is not a finite float") from None

    def check(self, x: NDArray[np.float64]) -> NDArray[np.float32]:
        """Finite, within ``max_abs_value`` and within the schema; returned as float32."""
        flat = x.reshape(len(x), -1)
        if not np.isfinite(flat).all():
            raise invalid("instances hold NaN or infinite values")
        if self.policy.enabled:
            peak = float(np.abs(flat).max())
            if peak > self.policy.max_abs_value:
                raise invalid(f"a value of magnitude {peak:.3g} exceeds max_abs_value")
            if self.schema is not None and self._outside(flat):
                found = self.schema.violations(flat.reshape(x.shape), limit=5)
                if found:
                    shown = "; ".join(f"instance {v.row}: {v.message}" for v in found[:3])
                    raise invalid(f"outside the input schema: {shown}")
        return x.astype(np.float32)
