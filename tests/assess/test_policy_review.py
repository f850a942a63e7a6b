"""Gateway policy review (GW-POL-...) and the live endpoint checks (GW-LIVE-...).

Every control switched off alone gives exactly its rule; the hardened policy gives none.
The live checks run against a real uvicorn server on loopback serving `mlwarden serve`'s app.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from mlwarden.assess.policy_review import (
    MAX_RATE_PER_MINUTE,
    _per_minute,
    check_endpoint,
    controls_of,
    policy_problems,
    review_policy,
)
from mlwarden.demo.setups import SECURE_POLICY, VULNERABLE_POLICY
from mlwarden.errors import ConfigError, InputError
from mlwarden.gateway.policy import GatewayPolicy
from mlwarden.report.status import rule_risk
from mlwarden.rules import RULES

ALL_POL = tuple(f"GW-POL-{i:03d}" for i in range(1, 12))


def secure() -> dict[str, Any]:
    """A policy with every control on (the shape of the demo's secure policy)."""
    return {
        "host": "127.0.0.1",
        "approved_digest": "sha256:" + "ab" * 32,
        "reference": "data/train.npz",
        "auth": {"enabled": True},
        "rate_limit": {"enabled": True, "per_key": "120/minute"},
        "validation": {"enabled": True, "ranges": "reference"},
        "adversarial": {"squeezing_detector": True, "min_confidence": 0.6},
        "output": {"mode": "label"},
        "extraction": {"enabled": True, "action": "throttle"},
        "drift": {"enabled": True},
        "audit": {"enabled": True},
        "signing": {"enabled": True, "algorithm": "ed25519", "private_key": "keys/gw.pem"},
    }


def with_changes(**changes: Any) -> dict[str, Any]:
    """The secure policy with top-level values or sub-table items replaced (None: removed)."""
    policy = secure()
    for name, value in changes.items():
        if isinstance(value, dict):
            policy[name] = {**policy.get(name, {}), **value}
        elif value is None:
            policy.pop(name, None)
        else:
            policy[name] = value
    return policy


def rules_of(policy: dict[str, Any]) -> list[str]:
    return [rule for rule, _ in policy_problems(GatewayPolicy.model_validate(policy))]


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return repr(value)


def to_toml(policy: dict[str, Any]) -> str:
    """``[gateway]`` (scalars first) and one ``[gateway.X]`` table per dict value."""
    lines = ["[gateway]"]
    lines += [f"{k} = {_toml_value(v)}" for k, v in policy.items() if not isinstance(v, dict)]
    for name, table in policy.items():
        if isinstance(table, dict):
            lines.append(f"\n[gateway.{name}]")
            lines += [f"{k} = {_toml_value(v)}" for k, v in table.items()]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- the static review


def test_secure_policy_gives_no_finding_and_reports_every_control_on(tmp_path: Path) -> None:
    path = tmp_path / "mlwarden.toml"
    path.write_text(to_toml(secure()), encoding="utf-8")
    report = review_policy(path)
    assert report.findings == ()
    controls = report.evidence["gateway_policy"]["controls"]
    assert controls["authentication"] is True
    assert controls["rate_limit"] == "120/minute"
    assert controls["extraction_monitor"] == "throttle"
    assert controls["output"] == "label"
    assert controls["response_signing"] == "ed25519"
    assert controls["drift_monitor"] is True
    assert controls["approved_digest"] is True
    assert "squeezing detector" in controls["adversarial_defence"]


def test_demo_policies_all_clean_versus_every_rule_once(tmp_path: Path) -> None:
    good = tmp_path / "secure.toml"
    good.write_text(
        SECURE_POLICY.format(digest="sha256:" + "0" * 64, reference="t.npz", key="k.pem"),
        encoding="utf-8",
    )
    bad = tmp_path / "vulnerable.toml"
    bad.write_text(VULNERABLE_POLICY, encoding="utf-8")
    assert review_policy(good).findings == ()
    found = sorted(f.rule_id for f in review_policy(bad).findings)
    assert found == list(ALL_POL)


SWITCHED_OFF = [
    pytest.param("GW-POL-001", {"auth": {"enabled": False}}, id="auth-off"),
    pytest.param("GW-POL-002", {"rate_limit": {"enabled": False}}, id="rate-limit-off"),
    pytest.param("GW-POL-002", {"rate_limit": {"per_key": "5000/minute"}}, id="rate-too-high"),
    pytest.param(
        "GW-POL-003", {"output": {"mode": "probabilities", "decimals": 3}}, id="probs-3-decimals"
    ),
    pytest.param("GW-POL-004", {"extraction": {"enabled": False}}, id="extraction-off"),
    pytest.param("GW-POL-004", {"extraction": {"action": "alert"}}, id="extraction-alert-only"),
    pytest.param("GW-POL-005", {"validation": {"enabled": False}}, id="validation-off"),
    pytest.param("GW-POL-005", {"validation": {"ranges": "off"}}, id="ranges-off"),
    pytest.param(
        "GW-POL-006",
        {"adversarial": {"squeezing_detector": False, "min_confidence": 0.0}},
        id="no-adversarial-defence",
    ),
    pytest.param("GW-POL-007", {"drift": {"enabled": False}}, id="drift-off"),
    pytest.param("GW-POL-007", {"reference": None}, id="drift-without-reference"),
    pytest.param("GW-POL-008", {"signing": {"enabled": False}}, id="signing-off"),
    pytest.param("GW-POL-009", {"host": "0.0.0.0"}, id="plain-http-all-interfaces"),  # noqa: S104
    pytest.param("GW-POL-009", {"host": "10.1.2.3"}, id="plain-http-lan"),
    pytest.param("GW-POL-010", {"audit": {"enabled": False}}, id="audit-off"),
    pytest.param("GW-POL-011", {"approved_digest": None}, id="no-digest"),
]


@pytest.mark.parametrize(("rule", "change"), SWITCHED_OFF)
def test_each_control_off_alone_gives_exactly_its_rule(
    rule: str, change: dict[str, Any], tmp_path: Path
) -> None:
    path = tmp_path / "mlwarden.toml"
    path.write_text(to_toml(with_changes(**change)), encoding="utf-8")
    findings = review_policy(path).findings
    assert [f.rule_id for f in findings] == [rule]
    only = findings[0]
    assert only.severity == RULES[rule].severity
    assert only.location.path == str(path)
    assert rule_risk(rule) is RULES[rule].risk


def test_the_switched_off_cases_cover_every_policy_rule() -> None:
    covered = {p.values[0] for p in SWITCHED_OFF}
    assert covered == set(ALL_POL)


LOOK_ALIKES = [
    pytest.param({"output": {"mode": "probabilities", "decimals": 2}}, id="probs-2-decimals"),
    pytest.param({"output": {"mode": "top_k", "top_k": 3, "decimals": 2}}, id="top-k"),
    pytest.param({"rate_limit": {"per_key": "1000/minute"}}, id="rate-at-the-bound"),
    pytest.param({"extraction": {"action": "block"}}, id="extraction-blocks"),
    pytest.param(
        {"validation": {"ranges": "policy", "minimum": [0.0], "maximum": [1.0]}},
        id="ranges-from-policy",
    ),
    pytest.param(
        {"adversarial": {"squeezing_detector": False, "min_confidence": 0.5}},
        id="confidence-threshold-only",
    ),
    pytest.param(
        {"adversarial": {"squeezing_detector": False, "smoothing": "bit_depth"}},
        id="smoothing-only",
    ),
    pytest.param({"host": "localhost"}, id="localhost"),
    pytest.param({"host": "::1"}, id="ipv6-loopback"),
    pytest.param(
        {"host": "0.0.0.0", "tls_cert": "cert.pem", "tls_key": "key.pem"},  # noqa: S104
        id="tls-on-all-interfaces",
    ),
    pytest.param({"signing": {"algorithm": "hmac-sha256"}}, id="hmac-signing"),
]


@pytest.mark.parametrize("change", LOOK_ALIKES)
def test_hardened_variants_give_no_finding(change: dict[str, Any]) -> None:
    assert rules_of(with_changes(**change)) == []


# --------------------------------------------------------------------------- rate limits


@pytest.mark.parametrize(
    ("rate", "per_minute"),
    [
        ("10/second", 600.0),
        ("1000 per hour", 1000 / 60),
        ("5/2 minutes", 2.5),
        ("10/second;100/hour", 100 / 60),
        ("10/second; 100/hour", 100 / 60),
        ("120/minute", 120.0),
        ("120/minutes", 120.0),
        ("1 per day", 1 / 1440),
        ("60 per 2 seconds", 1800.0),
        ("30/Minute", 30.0),
    ],
)
def test_rates_in_limits_syntax_are_read_per_minute(rate: str, per_minute: float) -> None:
    assert _per_minute(rate) == pytest.approx(per_minute)


@pytest.mark.parametrize("rate", ["", "fast", "10/fortnight", "ten/second", "10/second;", "-1/s"])
def test_unreadable_rates_are_unknown(rate: str) -> None:
    assert _per_minute(rate) is None


@pytest.mark.parametrize(
    ("rate", "flagged"),
    [
        ("1000/minute", False),
        ("1001/minute", True),
        ("16/second", False),  # 960 a minute
        ("17/second", True),  # 1020 a minute
        ("60000 per hour", False),
        ("60001 per hour", True),
        ("100000 per day", False),
        ("2000 per 2 minutes", False),
        ("2001 per 2 minutes", True),
    ],
)
def test_rate_limit_flagged_only_above_the_bound(rate: str, flagged: bool) -> None:
    policy = GatewayPolicy.model_validate(with_changes(rate_limit={"per_key": rate}))
    messages = [m for r, m in policy_problems(policy) if r == "GW-POL-002"]
    assert bool(messages) is flagged
    per_minute = _per_minute(rate)
    assert per_minute is not None
    assert (per_minute > MAX_RATE_PER_MINUTE) is flagged
    if flagged:
        assert messages == [f"per-key rate limit: {rate} ({per_minute:.0f}/minute)"]


# --------------------------------------------------------------------------- controls_of


@pytest.mark.parametrize(
    ("output", "shown"),
    [
        ({"mode": "label"}, "label"),
        ({"mode": "top_k", "top_k": 3, "decimals": 2}, "top_k (top 3, 2 decimals)"),
        ({"mode": "probabilities", "decimals": 6}, "probabilities (6 decimals)"),
    ],
)
def test_controls_describe_the_output(output: dict[str, Any], shown: str) -> None:
    controls = controls_of(GatewayPolicy.model_validate(with_changes(output=output)))
    assert controls["output"] == shown


def test_controls_of_a_policy_with_everything_off() -> None:
    policy = GatewayPolicy.model_validate(
        with_changes(
            auth={"enabled": False},
            rate_limit={"enabled": False},
            extraction={"enabled": False},
            signing={"enabled": False},
            adversarial={"squeezing_detector": False, "min_confidence": 0.0},
            approved_digest=None,
        )
    )
    controls = controls_of(policy)
    assert controls["authentication"] is False
    assert controls["rate_limit"] == "off"
    assert controls["extraction_monitor"] == "off"
    assert controls["response_signing"] == "off"
    assert controls["adversarial_defence"] == "off"
    assert controls["approved_digest"] is False
    assert controls["tls"] == "off"


# --------------------------------------------------------------------------- bad policy files


@pytest.mark.parametrize(
    "text",
    [
        '[gateway]\nport = "high"\n',
        "[gateway.auth]\nenabled = true\nbogus = 1\n",
        '[gateway.rate_limit]\nper_key = "lots"\n',
        '[gateway]\ntls_client_ca = "ca.pem"\n',
        "[gateway\nthis is not toml",
    ],
    ids=["bad-type", "unknown-key", "bad-rate", "mtls-without-tls", "not-toml"],
)
def test_invalid_policy_file_is_a_config_error(text: str, tmp_path: Path) -> None:
    path = tmp_path / "mlwarden.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError):
        review_policy(path)


def test_missing_policy_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        review_policy(tmp_path / "absent.toml")


# --------------------------------------------------------------------------- live endpoints


@pytest.fixture(scope="module")
def gateway_factory(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Callable[..., tuple[str, str, list[float]]]]:
    """Start real uvicorn servers of the gateway app on loopback; stop them all at the end."""
    pytest.importorskip("fastapi", reason="the gateway extra is not installed")
    uvicorn = pytest.importorskip("uvicorn", reason="the gateway extra is not installed")
    from mlwarden.gateway.app import create_app
    from mlwarden.gateway.auth import KeyStore
    from mlwarden.gateway.service import build_gateway, model_digest
    from mlwarden.models.loading import load_model
    from tests.gateway.helpers import free_port, make_served

    root = tmp_path_factory.mktemp("live")
    served = make_served(root)
    model = load_model(served.model)
    digest = model_digest(served.model)
    example = [float(v) for v in served.x_train[0]]
    running: list[tuple[Any, threading.Thread]] = []

    def start(**sections: dict[str, Any]) -> tuple[str, str, list[float]]:
        folder = root / f"gw{len(running)}"
        folder.mkdir()
        base: dict[str, Any] = {
            "reference": str(served.reference),
            "auth": {"keys_file": str(folder / "keys.json")},
            "audit": {"url": f"sqlite:///{folder / 'audit.db'}"},
            "signing": {"private_key": str(folder / "gateway.key")},
        }
        for name, value in sections.items():
            base[name] = {**base.get(name, {}), **value}
        policy = GatewayPolicy.model_validate(base)
        token, _ = KeyStore.open(policy.auth.keys_file).create("assess")
        app = create_app(build_gateway(model, policy, digest=digest, name="digits"))
        port = free_port()
        config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error")
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        running.append((server, thread))
        deadline = time.monotonic() + 30
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                pytest.fail("the gateway server did not start")
            time.sleep(0.02)
        return f"http://127.0.0.1:{port}/v1/predict", token, example

    yield start
    for server, thread in running:
        server.should_exit = True
        thread.join(timeout=15)


def _live(report: Any) -> list[str]:
    return sorted(f.rule_id for f in report.findings)


def test_live_gateway_with_keys_and_signing_gives_no_finding(
    gateway_factory: Callable[..., tuple[str, str, list[float]]],
) -> None:
    url, token, example = gateway_factory(auth={"header": "x-api-key"})
    report = check_endpoint(url, token, example)
    assert _live(report) == []
    facts = report.evidence["endpoint"]
    assert facts["without_key_status"] == 401
    assert facts["with_key_status"] == 200
    assert facts["signed_responses"] is True


def test_live_gateway_without_auth_gives_live_001_only(
    gateway_factory: Callable[..., tuple[str, str, list[float]]],
) -> None:
    url, token, example = gateway_factory(auth={"enabled": False})
    report = check_endpoint(url, token, example)
    assert _live(report) == ["GW-LIVE-001"]
    assert report.evidence["endpoint"]["without_key_status"] == 200


def test_live_gateway_without_signing_gives_live_002_only(
    gateway_factory: Callable[..., tuple[str, str, list[float]]],
) -> None:
    url, token, example = gateway_factory(auth={"header": "x-api-key"}, signing={"enabled": False})
    report = check_endpoint(url, token, example)
    assert _live(report) == ["GW-LIVE-002"]
    assert report.evidence["endpoint"]["signed_responses"] is False


def test_live_default_gateway_without_signing_gives_live_002(
    gateway_factory: Callable[..., tuple[str, str, list[float]]],
) -> None:
    url, token, example = gateway_factory(signing={"enabled": False})
    report = check_endpoint(url, token, example)
    assert report.evidence["endpoint"]["with_key_status"] == 200
    assert _live(report) == ["GW-LIVE-002"]


def test_unreachable_endpoint_is_an_input_error() -> None:
    from tests.gateway.helpers import free_port

    url = f"http://127.0.0.1:{free_port()}/v1/predict"
    with pytest.raises(InputError, match="cannot reach"):
        check_endpoint(url, "secret-key", [0.0] * 4)
