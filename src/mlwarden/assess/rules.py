"""Rules of the assessment's own checks: the gateway policy review and live endpoint checks
(``GW-...``), and models that nothing protects (``ASSESS-...``)."""

from __future__ import annotations

from mlwarden.findings import Severity
from mlwarden.risks import RiskId
from mlwarden.rules import Rule

_TOP10 = "https://owasp.org/www-project-machine-learning-security-top-10/"
_RFC9421 = "https://www.rfc-editor.org/rfc/rfc9421"
_H, _M, _L = Severity.HIGH, Severity.MEDIUM, Severity.LOW


def _rule(
    rule_id: str,
    name: str,
    risk: RiskId,
    cwe: int,
    severity: Severity,
    texts: tuple[str, str, str],
    example: str,
    refs: tuple[str, ...] = (_TOP10,),
) -> Rule:
    summary, why, fix = texts
    return Rule(rule_id, name, risk, cwe, severity, summary, why, fix, refs, example)


RULES: tuple[Rule, ...] = (
    _rule(
        "GW-POL-001",
        "no-authentication",
        RiskId.ML05,
        306,
        _H,
        (
            "The gateway policy serves the model without API keys.",
            "Anyone who reaches the endpoint can query it without limit or attribution: "
            "extraction, membership and inversion attacks need nothing else.",
            "Set `[gateway.auth] enabled = true` and issue keys with `mlwarden keys create`.",
        ),
        "`[gateway.auth] enabled = false`",
    ),
    _rule(
        "GW-POL-002",
        "no-rate-limit",
        RiskId.ML05,
        770,
        _H,
        (
            "The gateway policy sets no per-key rate limit, or one so high it bounds nothing.",
            "Model extraction and black-box evasion need thousands of queries; a rate limit "
            "turns minutes into weeks and makes the pattern visible.",
            "Set `[gateway.rate_limit] enabled = true` with a `per_key` rate the real clients "
            "need (for example `120/minute`); use Redis storage with several replicas.",
        ),
        "`[gateway.rate_limit] enabled = false`",
    ),
    _rule(
        "GW-POL-003",
        "full-probabilities-exposed",
        RiskId.ML03,
        200,
        _M,
        (
            "The gateway returns every class probability at high precision.",
            "Full-precision scores are what model inversion, membership inference and "
            "equation-solving extraction feed on; most clients only need the label.",
            'Set `[gateway.output] mode = "label"` (or `top_k` with `decimals = 2`).',
        ),
        '`[gateway.output] mode = "probabilities"`, `decimals = 6`',
    ),
    _rule(
        "GW-POL-004",
        "no-extraction-monitor",
        RiskId.ML05,
        799,
        _M,
        (
            "The gateway does not watch each key's query stream for extraction patterns.",
            "Synthetic and adaptive extraction queries look unlike natural traffic; without "
            "the monitor they are served like any other.",
            'Set `[gateway.extraction] enabled = true` and `action = "throttle"` or `"block"`.',
        ),
        "`[gateway.extraction] enabled = false`",
    ),
    _rule(
        "GW-POL-005",
        "no-input-validation",
        RiskId.ML01,
        20,
        _M,
        (
            "The gateway does not validate inputs against a schema and the training ranges.",
            "Out-of-range and malformed inputs are the cheapest evasion and the first step "
            "of many attacks; the model answers them with confidence.",
            'Set `[gateway.validation] enabled = true` and `ranges = "reference"` with a '
            "`[gateway] reference` profile of the training data.",
        ),
        "`[gateway.validation] enabled = false`",
    ),
    _rule(
        "GW-POL-006",
        "no-adversarial-defence",
        RiskId.ML01,
        693,
        _L,
        (
            "The gateway runs no adversarial-input detector, smoothing or confidence threshold.",
            "A model that is not robust on its own answers adversarial inputs as if they "
            "were clean; a detector catches many of the cheap ones.",
            "Enable `[gateway.adversarial] squeezing_detector = true` and a `min_confidence`; "
            "measure the cost on clean data with `mlwarden audit --defense squeeze`.",
        ),
        "`[gateway.adversarial]` all off",
    ),
    _rule(
        "GW-POL-007",
        "no-drift-monitor",
        RiskId.ML08,
        778,
        _M,
        (
            "The gateway does not test live inputs for drift against the training data.",
            "Skewed inputs, whether the world changed or someone feeds them on purpose, "
            "degrade the model silently.",
            "Set `[gateway] reference` to the training data's profile and keep "
            "`[gateway.drift] enabled = true`.",
        ),
        "`[gateway.drift] enabled = false`, or no `reference`",
    ),
    _rule(
        "GW-POL-008",
        "unsigned-responses",
        RiskId.ML09,
        345,
        _H,
        (
            "The gateway does not sign its responses.",
            "Anything between the model and the client (a proxy, a compromised sidecar) can "
            "change a prediction, and the client cannot tell.",
            "Set `[gateway.signing] enabled = true` (Ed25519) and verify with "
            "`mlwarden.Client(..., verify_key=...)`.",
        ),
        "`[gateway.signing] enabled = false`",
        (_TOP10, _RFC9421),
    ),
    _rule(
        "GW-POL-009",
        "no-tls",
        RiskId.ML09,
        319,
        _M,
        (
            "The gateway listens on plain HTTP on an interface other than loopback.",
            "Predictions and API keys cross the network in clear text and can be changed.",
            "Set `tls_cert`/`tls_key` (and `tls_client_ca` for mTLS), or bind to 127.0.0.1 "
            "behind a TLS-terminating proxy.",
        ),
        '`host = "0.0.0.0"` without `tls_cert`',
    ),
    _rule(
        "GW-POL-010",
        "no-audit-log",
        RiskId.ML03,
        778,
        _M,
        (
            "The gateway keeps no audit log of queries.",
            "Inversion and extraction take many queries; without a record nobody can tell "
            "afterwards who asked what.",
            "Set `[gateway.audit] enabled = true` (SQLite, or PostgreSQL for replicas).",
        ),
        "`[gateway.audit] enabled = false`",
    ),
    _rule(
        "GW-POL-011",
        "model-digest-not-pinned",
        RiskId.ML10,
        494,
        _M,
        (
            "The gateway serves whatever model file it finds: no approved digest is pinned.",
            "A model replaced on disk (poisoned, backdoored) is served without a word.",
            "Set `[gateway] approved_digest` to the digest of the approved model "
            "(`mlwarden hash MODEL`), or verify a signature before serving.",
        ),
        '`approved_digest = ""`',
    ),
    _rule(
        "GW-LIVE-001",
        "endpoint-answers-without-key",
        RiskId.ML05,
        306,
        _H,
        (
            "The live endpoint answered a prediction request that carried no API key.",
            "Whatever the policy file says, the running service lets anyone query it.",
            "Enable authentication on the running service and restart it.",
        ),
        "POST /v1/predict without X-API-Key returned 200.",
    ),
    _rule(
        "GW-LIVE-002",
        "endpoint-responses-unsigned",
        RiskId.ML09,
        345,
        _H,
        (
            "The live endpoint's responses carry no HTTP message signature.",
            "Clients cannot tell a genuine prediction from one changed on the way.",
            "Enable `[gateway.signing]` on the running service.",
        ),
        "The response has no Signature / Signature-Input headers.",
        (_TOP10, _RFC9421),
    ),
    _rule(
        "ASSESS-INT-001",
        "model-unprotected",
        RiskId.ML10,
        494,
        _M,
        (
            "The model has neither a signature nor an approved digest to check it against.",
            "Nothing tells a tampered or replaced model from the one that was trained and "
            "evaluated; model poisoning after training goes unnoticed.",
            "Sign the model when it is trained (`mlwarden sign`) and verify before serving "
            "(`mlwarden verify`), or pin its digest in `mlwarden.lock`.",
        ),
        "`model.joblib` has no `model.sig` beside it and no lockfile entry.",
    ),
)
