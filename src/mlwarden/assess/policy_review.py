"""Gateway policy review: which controls of `mlwarden serve` a policy switches off.

Reads the ``[gateway]`` section of a policy file (the same file `mlwarden serve --policy`
takes) and reports each missing control as a ``GW-POL-...`` finding of the risk it
mitigates. With a live endpoint, two requests check what the running service really does:
whether it answers without an API key and whether its responses are signed.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from mlwarden.config import load_settings
from mlwarden.findings import Confidence, Finding, Location, Report
from mlwarden.gateway.policy import GatewayPolicy

#: A per-key rate above this many requests per minute bounds nothing an attacker needs.
MAX_RATE_PER_MINUTE = 1000.0
_RATE = re.compile(r"\s*(\d+)\s*(?:/|per)\s*(\d*)\s*(second|minute|hour|day|month|year)s?\s*", re.I)
_SECONDS = {
    "second": 1,
    "minute": 60,
    "hour": 3600,
    "day": 86400,
    "month": 2592000,
    "year": 31536000,
}


def review_policy(policy_file: str | Path) -> Report:
    """Findings for the controls the policy in ``policy_file`` leaves off.

    Raises:
        ConfigError: the file cannot be read or holds an invalid policy.
    """
    return review(load_settings(policy_file).gateway, str(policy_file))


def review(policy: GatewayPolicy, where: str) -> Report:
    """Findings for the controls ``policy`` (read from ``where``) leaves off."""
    findings = [_finding(rule, where, msg) for rule, msg in policy_problems(policy)]
    controls = controls_of(policy)
    return Report(
        command="assess policy",
        findings=tuple(findings),
        scanned=(where,),
        evidence={"gateway_policy": {"file": where, "controls": controls}},
    )


def _finding(rule: str, where: str, message: str) -> Finding:
    from mlwarden.rules import RULES

    return Finding(rule, RULES[rule].severity, Confidence.HIGH, Location(where), message)


def controls_of(policy: GatewayPolicy) -> dict[str, Any]:
    """The policy's controls as flat facts (for the report)."""
    return {
        "authentication": policy.auth.enabled,
        "rate_limit": policy.rate_limit.per_key if policy.rate_limit.enabled else "off",
        "input_validation": policy.validation.enabled,
        "adversarial_defence": _defences(policy) or "off",
        "output": _output(policy),
        "served_outputs": served_outputs(policy),
        "extraction_monitor": policy.extraction.action if policy.extraction.enabled else "off",
        "drift_monitor": policy.drift.enabled and bool(policy.reference),
        "audit_log": policy.audit.enabled,
        "response_signing": policy.signing.algorithm if policy.signing.enabled else "off",
        "tls": "mTLS" if policy.tls_client_ca else ("TLS" if policy.tls_cert else "off"),
        "approved_digest": bool(policy.approved_digest),
    }


def _defences(policy: GatewayPolicy) -> str:
    adv = policy.adversarial
    parts = ["squeezing detector"] if adv.squeezing_detector else []
    parts += ["smoothing"] if adv.smoothing != "off" else []
    parts += [f"min confidence {adv.min_confidence:g}"] if adv.min_confidence > 0 else []
    return ", ".join(parts)


def _output(policy: GatewayPolicy) -> str:
    out = policy.output
    if out.mode == "label":
        return "label"
    top = f"top {out.top_k}, " if out.mode == "top_k" else ""
    return f"{out.mode} ({top}{out.decimals} decimals)"


def served_outputs(policy: GatewayPolicy) -> str:
    """The output policy as the extraction and membership probes name it."""
    out = policy.output
    if out.mode == "label":
        return "label"
    if out.mode == "top_k":
        return f"top_k:{out.top_k}"
    return f"rounded:{out.decimals}" if out.decimals <= 4 else "probabilities"


def policy_problems(policy: GatewayPolicy) -> list[tuple[str, str]]:
    """``(rule id, message)`` for each control the policy leaves off."""
    out: list[tuple[str, str]] = []
    if not policy.auth.enabled:
        out.append(("GW-POL-001", "authentication is off: anyone can query the model"))
    rate = _per_minute(policy.rate_limit.per_key) if policy.rate_limit.enabled else None
    if rate is None or rate > MAX_RATE_PER_MINUTE:
        text = "off" if rate is None else f"{policy.rate_limit.per_key} ({rate:.0f}/minute)"
        out.append(("GW-POL-002", f"per-key rate limit: {text}"))
    if policy.output.mode == "probabilities" and policy.output.decimals >= 3:
        out.append(
            (
                "GW-POL-003",
                f"every class probability is returned with {policy.output.decimals} decimals",
            )
        )
    if not policy.extraction.enabled or policy.extraction.action == "alert":
        state = "off" if not policy.extraction.enabled else "alerts only"
        out.append(("GW-POL-004", f"extraction monitor: {state}"))
    if not policy.validation.enabled or policy.validation.ranges == "off":
        out.append(("GW-POL-005", "inputs are not checked against the training ranges"))
    if not _defences(policy):
        out.append(("GW-POL-006", "no adversarial detector, smoothing or confidence threshold"))
    if not policy.drift.enabled or not policy.reference:
        why = "off" if not policy.drift.enabled else "on, but no [gateway] reference to test"
        out.append(("GW-POL-007", f"drift monitor: {why}"))
    if not policy.signing.enabled:
        out.append(("GW-POL-008", "responses are not signed"))
    if not policy.tls_cert and policy.host not in ("127.0.0.1", "localhost", "::1"):
        out.append(("GW-POL-009", f"plain HTTP on {policy.host}"))
    if not policy.audit.enabled:
        out.append(("GW-POL-010", "no audit log of queries"))
    if not policy.approved_digest:
        out.append(("GW-POL-011", "no approved model digest is pinned"))
    return out


def _per_minute(rate: str) -> float | None:
    """Requests per minute of the tightest item of a ``limits`` rate ("10/second;100/hour")."""
    values = []
    for item in rate.split(";"):
        match = _RATE.fullmatch(item)
        if match is None:
            return None
        amount, multiple, unit = match.groups()
        values.append(int(amount) * 60.0 / (_SECONDS[unit.lower()] * int(multiple or 1)))
    return min(values) if values else None


def check_endpoint(url: str, api_key: str | None, example: list[float]) -> Report:
    """Two live requests: one without a key (must be refused), one with it (must be signed).

    Raises:
        InputError: the endpoint cannot be reached.
    """
    import httpx

    from mlwarden.errors import InputError

    body = {"instances": [example]}
    findings = []
    facts: dict[str, Any] = {"url": url}
    try:
        bare = httpx.post(url, json=body, timeout=10.0)
        # The gateway reads a bearer token by default and X-API-Key when so configured.
        headers = {"Authorization": f"Bearer {api_key}", "X-API-Key": api_key} if api_key else {}
        keyed = httpx.post(url, json=body, headers=headers, timeout=10.0)
    except httpx.HTTPError as exc:
        raise InputError(f"cannot reach {url}: {exc}") from None
    facts["without_key_status"] = bare.status_code
    facts["with_key_status"] = keyed.status_code
    if bare.status_code < 400:
        findings.append(_finding("GW-LIVE-001", url, "a request without an API key was answered"))
    signed = "signature" in keyed.headers and "signature-input" in keyed.headers
    facts["signed_responses"] = signed
    if keyed.status_code < 400 and not signed:
        findings.append(_finding("GW-LIVE-002", url, "the response carries no signature"))
    return Report(
        command="assess endpoint",
        findings=tuple(findings),
        scanned=(url,),
        evidence={"endpoint": facts},
    )
