"""The gateway's policy: the ``[gateway]`` section of ``mlwarden.toml``, one sub-table per control.

Every control is a switch with a safe default: API keys required, per-key rate limits on,
inputs validated, label-only answers, the extraction and drift monitors on, every request in
a hash-chained audit log, every response signed. Anything that weakens a default says so in
its name or its description. This module imports pydantic only (the config loads it).
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

_STRICT = ConfigDict(extra="forbid", validate_assignment=True)
_RATE = re.compile(r"^\s*\d+\s*(/|per)\s*(\d+\s*)?(second|minute|hour|day|month|year)s?\s*$")


def _check_rate(value: str) -> str:
    if not _RATE.match(value):
        raise ValueError(f"{value!r} is not a rate like '60/minute' or '1000 per day'")
    return value


class AuthPolicy(BaseModel):
    """[gateway.auth]: API keys (stored hashed; `mlwarden keys create`)."""

    model_config = _STRICT

    enabled: bool = Field(True, description="Require an API key on model endpoints.")
    keys_file: str = Field("mlwarden-keys.json", description="Hashed API-key store.")
    header: str = Field(
        "authorization", description="Header carrying the key ('authorization' = Bearer)."
    )
    public_metrics: bool = Field(
        False, description="Serve /metrics without a key (else a key with scope 'metrics')."
    )


class RateLimitPolicy(BaseModel):
    """[gateway.rate_limit]: per-key (and per-IP) limits through the `limits` package."""

    model_config = _STRICT

    enabled: bool = Field(True, description="Enforce rate limits and quotas.")
    storage: str = Field(
        "memory://",
        description="memory:// (one process) or redis://host:port/db (several workers).",
    )
    per_key: str = Field("120/minute", description="Requests per key (a key may override).")
    per_ip: str = Field("60/minute", description="Requests per client IP without a key.")
    strategy: Literal["fixed-window", "moving-window", "sliding-window-counter"] = Field(
        "fixed-window",
        description="fixed-window: exact count per window starting at a key's first request, "
        "O(1); moving-window: no burst at window edges, memory and time grow with the limit.",
    )
    throttled: str = Field(
        "6/minute", description="Limit of a key the extraction monitor throttles."
    )

    @field_validator("per_key", "per_ip", "throttled")
    @classmethod
    def _rates(cls, value: str) -> str:
        return _check_rate(value)


class ValidationPolicy(BaseModel):
    """[gateway.validation]: the input schema; a violation is a 4xx with a reason."""

    model_config = _STRICT

    enabled: bool = Field(True, description="Validate inputs against the schema.")
    max_body_bytes: int = Field(1_048_576, gt=0, description="Largest request body (bytes).")
    max_batch: int = Field(256, gt=0, description="Most instances in one request.")
    max_abs_value: float = Field(
        1e6, gt=0, description="No feature may exceed this magnitude (ranges or not)."
    )
    ranges: Literal["reference", "policy", "off"] = Field(
        "reference",
        description="Per-feature bounds: learned from the reference data, the lists below, or off.",
    )
    margin: float = Field(
        0.5,
        ge=0,
        description="Widen learned bounds by this share of each feature's range (ranges "
        "seen in training are narrower than the population's; tighter bounds refuse real "
        "inputs).",
    )
    minimum: list[float] = Field(default_factory=list, description="Per-feature minimum.")
    maximum: list[float] = Field(default_factory=list, description="Per-feature maximum.")

    @model_validator(mode="after")
    def _bounds(self) -> ValidationPolicy:
        if len(self.minimum) != len(self.maximum):
            raise ValueError("validation.minimum and validation.maximum differ in length")
        if self.ranges == "policy" and not self.minimum:
            raise ValueError("validation.ranges = 'policy' needs minimum and maximum lists")
        return self


class AdversarialPolicy(BaseModel):
    """[gateway.adversarial]: ML01 detector, squeezing and the confidence threshold."""

    model_config = _STRICT

    min_confidence: float = Field(
        0.0, ge=0, le=1, description="Answer null (uncertain) below this top probability."
    )
    squeezing_detector: bool = Field(
        False, description="Feature-squeezing detector (one more model call per request)."
    )
    squeeze_bits: int = Field(4, ge=1, le=16, description="Bit depth of the squeezer.")
    target_fpr: float = Field(
        0.01, gt=0, lt=1, description="Detector false-positive rate on reference data."
    )
    smoothing: Literal["off", "bit_depth"] = Field(
        "off", description="Squeeze every input before the model (input smoothing)."
    )


class OutputPolicyConfig(BaseModel):
    """[gateway.output]: ML03/ML04/ML05 output minimisation, on every path."""

    model_config = _STRICT

    mode: Literal["label", "top_k", "probabilities"] = Field(
        "label", description="label (default) | top_k | probabilities."
    )
    top_k: int = Field(1, ge=1, description="Classes shown in top_k mode.")
    decimals: int = Field(2, ge=0, le=8, description="Rounding of any probability shown.")


class ExtractionPolicy(BaseModel):
    """[gateway.extraction]: ML05 per-key extraction monitor."""

    model_config = _STRICT

    enabled: bool = Field(True, description="Watch each key's query stream.")
    engine: Literal["streaming", "full"] = Field(
        "streaming",
        description="streaming: 3 signals, ~30 us/query; full: the 6-signal monitor of "
        "mlwarden.defenses (near-duplicates, gradient steps; ~1 ms/query, needs raw "
        "reference rows).",
    )
    action: Literal["alert", "throttle", "block"] = Field(
        "alert", description="What an alert does to the key besides the alert."
    )
    window: int = Field(500, ge=20, description="Recent queries per key that are tested.")
    min_queries: int = Field(30, ge=10, description="No verdict before this many queries.")
    check_every: int = Field(50, ge=1, description="Test a key every N queries.")
    alpha: float = Field(1e-6, gt=0, lt=1, description="False-alarm level of each signal.")
    prada_delta: float = Field(
        0.0, ge=0, le=1, description="PRADA Shapiro-Wilk W alarm level (0 = off)."
    )
    ood_base_rate: float = Field(
        0.02, gt=0, lt=1, description="Out-of-distribution rate expected of natural traffic."
    )
    block_seconds: int = Field(3600, gt=0, description="How long throttle/block lasts.")


class DriftPolicy(BaseModel):
    """[gateway.drift]: ML08 online drift monitor against the reference profile."""

    model_config = _STRICT

    enabled: bool = Field(True, description="Test the input distribution (needs reference).")
    window: int = Field(1000, ge=50, description="Sliding window of recent inputs.")
    check_every: int = Field(100, ge=1, description="Run the tests every N inputs.")
    alpha: float = Field(0.01, gt=0, lt=1, description="Family-wise error rate (Holm).")
    min_effect: float = Field(
        0.1, ge=0, description="Population stability index a drift must reach (effect floor)."
    )


class AuditPolicy(BaseModel):
    """[gateway.audit]: the append-only, hash-chained audit log of every request."""

    model_config = _STRICT

    enabled: bool = Field(True, description="Record every request.")
    url: str = Field(
        "sqlite:///mlwarden-audit.db",
        description="sqlite:///PATH (one host) or postgresql://... (several replicas).",
    )
    table: str = Field("audit_log", description="Table name (one chain per table).")
    durability: Literal["process", "power"] = Field(
        "process",
        description="Survive a killed process (fast) or a power loss (fsync every record).",
    )
    max_output_chars: int = Field(4096, ge=0, description="Response text kept per record.")


class SigningPolicy(BaseModel):
    """[gateway.signing]: ML09 RFC 9421 signatures on every response."""

    model_config = _STRICT

    enabled: bool = Field(True, description="Sign every response.")
    algorithm: Literal["ed25519", "ecdsa-p256-sha256", "hmac-sha256"] = Field(
        "ed25519", description="Signature algorithm."
    )
    private_key: str = Field(
        "mlwarden-gateway.key", description="PEM private key (created with its .pub if absent)."
    )
    key_id: str = Field("mlwarden-gateway", description="keyid parameter of the signature.")
    hmac_secret: SecretStr | None = Field(
        None, description="Shared secret for hmac-sha256 (prefer the environment)."
    )


class GatewayPolicy(BaseModel):
    """[gateway]: the hardened inference gateway (`mlwarden serve`)."""

    model_config = _STRICT

    model_name: str = Field("", description="Name served (default: the model file's stem).")
    model_version: str = Field("1", description="Version served.")
    approved_digest: str = Field(
        "", description="Refuse to serve a model whose digest differs (sha256:...)."
    )
    reference: str = Field(
        "",
        description="Training data (.npy/.npz/.csv) or a profile .json: schema ranges, "
        "drift and extraction baselines.",
    )
    host: str = Field("127.0.0.1", description="Interface to listen on.")
    port: int = Field(8000, ge=0, le=65535, description="TCP port.")
    workers: int = Field(1, ge=1, le=64, description="Worker processes.")
    tls_cert: str = Field("", description="PEM certificate chain (enables HTTPS).")
    tls_key: str = Field("", description="PEM private key of tls_cert.")
    tls_client_ca: str = Field("", description="CA bundle: require client certificates (mTLS).")
    docs: bool = Field(True, description="Serve OpenAPI docs at /docs and /openapi.json.")
    expose_ranges: bool = Field(
        False, description="Show per-feature bounds in GET /v1/model (helps attackers)."
    )
    auth: AuthPolicy = Field(default_factory=AuthPolicy)
    rate_limit: RateLimitPolicy = Field(default_factory=RateLimitPolicy)
    validation: ValidationPolicy = Field(default_factory=ValidationPolicy)
    adversarial: AdversarialPolicy = Field(default_factory=AdversarialPolicy)
    output: OutputPolicyConfig = Field(default_factory=OutputPolicyConfig)
    extraction: ExtractionPolicy = Field(default_factory=ExtractionPolicy)
    drift: DriftPolicy = Field(default_factory=DriftPolicy)
    audit: AuditPolicy = Field(default_factory=AuditPolicy)
    signing: SigningPolicy = Field(default_factory=SigningPolicy)

    @model_validator(mode="after")
    def _tls(self) -> GatewayPolicy:
        if bool(self.tls_cert) != bool(self.tls_key):
            raise ValueError("tls_cert and tls_key go together")
        if self.tls_client_ca and not self.tls_cert:
            raise ValueError("tls_client_ca (mTLS) needs tls_cert and tls_key")
        return self
