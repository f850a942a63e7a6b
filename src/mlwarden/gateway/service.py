"""The gateway's controls assembled from a policy, and the request steps they take.

:func:`build_gateway` loads the model through the safe loaders, computes its digest, reads
the reference data and builds one object per control, each from its own policy section;
:class:`Gateway` runs the steps of a request in the order of the design (key -> rate limit
-> validation -> extraction and drift monitors -> smoothing -> model -> confidence and
detector -> output policy). Framework-free: :mod:`mlwarden.gateway.app` maps it onto HTTP.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from mlwarden.errors import ConfigError
from mlwarden.gateway.adversarial import OK, AdversarialGuard
from mlwarden.gateway.auditlog import AuditSink, open_audit_log
from mlwarden.gateway.auth import ApiKey, KeyStore
from mlwarden.gateway.drift import DriftGuard
from mlwarden.gateway.errors import GatewayRefusal
from mlwarden.gateway.extraction import ExtractionGuard
from mlwarden.gateway.extraction_monitor import StreamingExtractionMonitor
from mlwarden.gateway.metrics import GatewayMetrics
from mlwarden.gateway.output import OutputShaper
from mlwarden.gateway.policy import GatewayPolicy
from mlwarden.gateway.ratelimit import RateLimiter
from mlwarden.gateway.signing import ResponseSigner, load_signer
from mlwarden.gateway.storage import shared_state
from mlwarden.gateway.validation import InputValidator
from mlwarden.models.base import Capability
from mlwarden.monitor.profile import ReferenceProfile, load_reference

log = logging.getLogger("mlwarden.gateway")
#: The key id recorded when authentication is off.
ANONYMOUS = ApiKey("anonymous", "anonymous", "", ("predict", "metrics", "admin"))


@dataclass
class Exchange:
    """What one request did, filled in as it goes (read by the audit log and metrics)."""

    request_id: str
    started: float
    client: str
    route: str = "other"
    key_id: str | None = None
    decision: str = "ok"
    input_digest: str | None = None


@dataclass
class Gateway:
    """A served model and its controls (``None`` = the control is switched off)."""

    model: Any
    policy: GatewayPolicy
    name: str
    digest: str
    classes: list[Any]
    validator: InputValidator
    output: OutputShaper
    metrics: GatewayMetrics
    adversarial: AdversarialGuard | None = None
    keys: KeyStore | None = None
    limiter: RateLimiter | None = None
    extraction: ExtractionGuard | None = None
    drift: DriftGuard | None = None
    audit: AuditSink | None = None
    signer: ResponseSigner | None = None
    public_key: Path | None = None
    profile: ReferenceProfile | None = field(default=None, repr=False)

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.model.input_shape)

    def authenticate(self, token: str | None, scope: str, ex: Exchange) -> ApiKey:
        """The caller's key; failed attempts count against the caller's IP limit."""
        if self.keys is None:
            ex.key_id = ANONYMOUS.id
            return ANONYMOUS
        try:
            key = self.keys.authenticate(token, scope)
        except GatewayRefusal:
            self.limit_ip(ex)
            raise
        ex.key_id = key.id
        return key

    def limit_ip(self, ex: Exchange) -> None:
        """Count a request without a (valid) key against its client IP."""
        if self.limiter is not None:
            self.limiter.hit_ip(ex.client)

    def admit(self, key: ApiKey) -> None:
        """Blocked keys are refused; the rest count against their (maybe throttled) limit."""
        flag = self.extraction.flag(key.id) if self.extraction is not None else None
        if self.limiter is not None:
            self.limiter.hit_key(key.id, key.rate_limit, throttled=flag == "throttle")

    def predict(self, key: ApiKey, x: NDArray[np.float32], ex: Exchange) -> dict[str, Any]:
        """Run the monitors, the model and the output policy on validated inputs."""
        if self.limiter is not None:
            self.limiter.hit_quota(key.id, key.quota, len(x))
        # Both monitors bin inputs on the same reference histograms: bin once.
        monitored = self.profile is not None and (self.extraction or self.drift) is not None
        bins = self.profile.bin_index(x) if monitored and self.profile is not None else None
        if self.extraction is not None:
            verdict = self.extraction.observe(key.id, x, bins)
            self.metrics.extraction_score.set(verdict.score)
            if verdict.alert:
                ex.decision = "extraction_alert"
                self.metrics.alerts.labels("extraction").inc()
        if self.drift is not None:
            self.drift.observe(x, bins)
        proba, decisions = self.infer(x)
        for decision in set(decisions):
            self.metrics.instances.labels(decision).inc(decisions.count(decision))
        if ex.decision == "ok" and any(d != OK for d in decisions):
            ex.decision = ",".join(sorted(set(decisions) - {OK}))
        return self.output.answer(proba, decisions)

    def infer(self, x: NDArray[np.float32]) -> tuple[NDArray[np.float32], list[str]]:
        """Probabilities (one-hot for a label-only model) and per-instance decisions."""
        guard = self.adversarial
        if guard is None:
            return self._proba(x), [OK] * len(x)
        xs = guard.preprocess(x)
        squeezed = guard.squeezed(xs)
        if squeezed is None:
            proba = self._proba(xs)
            return proba, guard.decide(proba)
        both = self._proba(np.concatenate([xs, squeezed]))
        return both[: len(xs)], guard.decide(both[: len(xs)], both[len(xs) :])

    def _proba(self, x: NDArray[np.float32]) -> NDArray[np.float32]:
        if Capability.PREDICT_PROBA in self.model.capabilities:
            return np.asarray(self.model.predict_proba(x), dtype=np.float32)
        labels = np.asarray(self.model.predict(x), dtype=np.int64)
        return np.eye(len(self.classes), dtype=np.float32)[labels]

    def describe(self) -> dict[str, Any]:
        """``GET /v1/model``: what the policy allows to be known."""
        doc: dict[str, Any] = {
            "name": self.name,
            "version": self.policy.model_version,
            "digest": self.digest,
            "input_shape": list(self.input_shape),
            "dtype": "float32",
            "classes": self.classes,
            "outputs": self.output.outputs,
        }
        if self.policy.expose_ranges and self.validator.schema is not None:
            doc["minimum"] = list(self.validator.schema.minimum)
            doc["maximum"] = list(self.validator.schema.maximum)
        if self.signer is not None:
            doc["signature"] = {"keyid": self.signer.key_id, "alg": self.signer.alg}
        return doc

    def ready(self) -> dict[str, bool]:
        """Readiness of each backend (``GET /readyz``)."""
        checks = {"model": True}
        if self.limiter is not None:
            checks["rate_limit_storage"] = self.limiter.healthy()
        if self.audit is not None:
            checks["audit_log"] = self.audit.healthy()
        return checks


def model_digest(path: Path) -> str:
    """The digest ``mlwarden hash`` gives the model (sha256 of the file as a fallback)."""
    try:
        from mlwarden.integrity.hashing import hash_model

        return hash_model(path).digest
    except Exception:  # integrity may refuse odd layouts; the file digest still binds it
        digest = hashlib.sha256()
        with path.open("rb") as stream:
            for block in iter(lambda: stream.read(1 << 20), b""):
                digest.update(block)
        return "sha256:" + digest.hexdigest()


def _classes(model: Any) -> list[Any]:
    classes = getattr(model, "classes", None)
    if classes is None:
        return list(range(int(model.n_classes)))
    values: list[Any] = np.asarray(classes).tolist()
    return values


def _reference(policy: GatewayPolicy) -> tuple[ReferenceProfile | None, NDArray[np.float32] | None]:
    if not policy.reference:
        return None, None
    loaded = load_reference(policy.reference)
    if isinstance(loaded, ReferenceProfile):
        return loaded, None
    return ReferenceProfile.build(loaded), loaded


def build_gateway(
    model: Any,
    policy: GatewayPolicy,
    *,
    digest: str,
    name: str = "model",
    multiprocess_dir: str | None = None,
) -> Gateway:
    """Assemble the controls the policy switches on around a loaded model adapter.

    Raises:
        ConfigError: a control cannot be built as configured (its message says which).
    """
    if policy.approved_digest and policy.approved_digest != digest:
        raise ConfigError(
            f"the model's digest {digest} is not the approved {policy.approved_digest}",
            hint="Serve the approved model, or update [gateway] approved_digest after review.",
        )
    profile, rows = _reference(policy)
    if profile is not None and profile.n_features != int(np.prod(model.input_shape)):
        raise ConfigError("the reference data has a different number of features than the model")
    classes = _classes(model)
    name = policy.model_name or name
    metrics = GatewayMetrics(multiprocess_dir)
    gw = Gateway(
        model=model,
        policy=policy,
        name=name,
        digest=digest,
        classes=classes,
        validator=InputValidator.build(tuple(model.input_shape), policy.validation, profile),
        output=OutputShaper(policy.output, classes, {"name": name, "digest": digest}),
        metrics=metrics,
        profile=profile,
    )
    _controls(gw, policy, profile, rows)
    return gw


def _controls(
    gw: Gateway,
    policy: GatewayPolicy,
    profile: ReferenceProfile | None,
    rows: NDArray[np.float32] | None,
) -> None:
    probabilistic = Capability.PREDICT_PROBA in gw.model.capabilities
    adv = policy.adversarial
    needs_proba = adv.min_confidence > 0 or adv.squeezing_detector
    if needs_proba and not probabilistic:
        raise ConfigError("the confidence threshold and squeezing need predict_proba")
    if policy.output.mode != "label" and not probabilistic:
        raise ConfigError(f"output mode {policy.output.mode!r} needs predict_proba")
    if needs_proba or adv.smoothing != "off":
        gw.adversarial = AdversarialGuard(gw.model, adv, profile, rows)
    if policy.auth.enabled:
        gw.keys = KeyStore.open(policy.auth.keys_file)
    if policy.rate_limit.enabled:
        gw.limiter = RateLimiter(policy.rate_limit, namespace=f"mlwarden:{gw.name}")
    _monitors(gw, policy, profile, rows)
    if policy.audit.enabled:
        gw.audit = open_audit_log(policy.audit.url, policy.audit.durability, policy.audit.table)
    if policy.signing.enabled:
        secret = policy.signing.hmac_secret
        gw.signer, gw.public_key = load_signer(
            policy.signing.algorithm,
            policy.signing.private_key,
            policy.signing.key_id,
            secret.get_secret_value().encode() if secret is not None else None,
        )


def _extraction(
    gw: Gateway,
    policy: GatewayPolicy,
    profile: ReferenceProfile,
    rows: NDArray[np.float32] | None,
) -> ExtractionGuard:
    engine = policy.extraction.engine
    store, flags = shared_state(policy.rate_limit.storage, f"mlwarden:{gw.name}", engine)
    if engine == "streaming":
        monitor: Any = StreamingExtractionMonitor(profile, policy.extraction, store)
        return ExtractionGuard(monitor, flags, policy.extraction)
    if rows is None:
        raise ConfigError(
            'extraction.engine = "full" fits its profile on reference rows, not a profile',
            hint="Point [gateway] reference at the training data (.npy/.npz/.csv).",
        )
    from mlwarden.defenses.extraction_monitor import ExtractionMonitor, MonitorConfig

    config = MonitorConfig(alpha=policy.extraction.alpha)
    monitor = ExtractionMonitor(rows.reshape(len(rows), -1), config, store)
    return ExtractionGuard(monitor, flags, policy.extraction)


def _monitors(
    gw: Gateway,
    policy: GatewayPolicy,
    profile: ReferenceProfile | None,
    rows: NDArray[np.float32] | None,
) -> None:
    wants = [
        n
        for n, on in (("extraction", policy.extraction.enabled), ("drift", policy.drift.enabled))
        if on
    ]
    if profile is None:
        if wants:
            log.warning("no reference data: the %s monitor(s) are off", " and ".join(wants))
        return
    if policy.extraction.enabled:
        gw.extraction = _extraction(gw, policy, profile, rows)
    if policy.drift.enabled:
        # With Redis (several workers) the window is shared; in one process it stays local.
        shared = not policy.rate_limit.storage.startswith("memory://")
        store = (
            shared_state(policy.rate_limit.storage, f"mlwarden:{gw.name}")[0] if shared else None
        )
        gw.drift = DriftGuard(profile, policy.drift, gw.metrics, store)
