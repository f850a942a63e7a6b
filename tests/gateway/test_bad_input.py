"""Bad input everywhere: every malformed request is a 4xx with a reason, never a 500; the
server keeps serving, and every request (refused or not) is in the audit log."""

from __future__ import annotations

import json
from typing import Any

import pytest

VALID = [[0.0] * 64]


def _cases(x: list[float]) -> list[tuple[str, dict[str, Any], int, str]]:
    body = json.dumps({"instances": [x]})
    return [
        (
            "malformed JSON",
            {"content": b'{"instances": [[0.1,', "json_type": True},
            400,
            "not valid JSON",
        ),
        (
            "not UTF-8",
            {"content": b'{"instances": "\xff\xfe"}', "json_type": True},
            400,
            "not valid JSON",
        ),
        (
            "wrong content type",
            {"content": body.encode(), "headers": {"content-type": "text/plain"}},
            415,
            "application/json",
        ),
        ("no content type", {"content": body.encode()}, 415, "application/json"),
        (
            "deep nesting",
            {"content": b"[" * 100_000 + b"]" * 100_000, "json_type": True},
            400,
            "nested too deeply",
        ),
        ("nested instance", {"json": {"instances": [[x]]}}, 422, "expected a list of 64"),
        ("wrong dims", {"json": {"instances": [x[:10]]}}, 422, "expected a list of 64"),
        (
            "strings for numbers",
            {"json": {"instances": [[str(v) for v in x]]}},
            422,
            "JSON numbers",
        ),
        ("booleans for numbers", {"json": {"instances": [[True] * 64]}}, 422, "JSON numbers"),
        ("null for a number", {"json": {"instances": [[None] * 64]}}, 422, "JSON numbers"),
        ("unknown keys", {"json": {"instances": [x], "debug": True}}, 422, "unknown field"),
        ("missing instances", {"json": {"inputs": [x]}}, 422, "unknown field"),
        ("not an object", {"json": [x]}, 422, "JSON object"),
        ("empty batch", {"json": {"instances": []}}, 422, "non-empty"),
        ("NaN", {"content": body.replace("0.0", "NaN", 1).encode(), "json_type": True}, 400, "NaN"),
        (
            "Infinity",
            {"content": body.replace("0.0", "Infinity", 1).encode(), "json_type": True},
            400,
            "Infinity",
        ),
        (
            "overflowing float",
            {"content": body.replace("0.0", "1e400", 1).encode(), "json_type": True},
            422,
            "NaN or infinite",
        ),
        (
            "huge integer",
            {"content": body.replace("0.0", "9" * 400, 1).encode(), "json_type": True},
            422,
            "",
        ),
        ("1e308", {"json": {"instances": [[1e308] * 64]}}, 422, "max_abs_value"),
        ("out of range", {"json": {"instances": [[5.0] * 64]}}, 422, "above the maximum"),
        ("below range", {"json": {"instances": [[-1.0] * 64]}}, 422, "below the minimum"),
        ("too many instances", {"json": {"instances": [x] * 300}}, 413, "at most 256"),
        (
            "gigantic body",
            {"content": b"[" + b"0.5," * 400_000 + b"0]", "json_type": True},
            413,
            "exceeds",
        ),
    ]


def _send(live: Any, spec: dict[str, Any]) -> Any:
    spec = dict(spec)
    headers = dict(spec.pop("headers", {}))
    if spec.pop("json_type", False):
        headers["content-type"] = "application/json"
    return live.post(headers=headers, **spec)


def test_every_bad_input_is_a_4xx_with_a_reason(make_gateway: Any, served: Any) -> None:
    live = make_gateway()
    cases = _cases(served.x_test[0].tolist())
    for name, spec, status, reason in cases:
        response = _send(live, spec)
        assert response.status_code == status, (name, response.text)
        error = response.json()["error"]
        assert error["code"] and reason in error["message"], (name, error)
        assert "Traceback" not in response.text and "probabilities" not in response.text
        # the server keeps serving after each one
        assert live.post(json={"instances": [served.x_test[0].tolist()]}).status_code == 200
    records = list(live.gw.audit.records())
    assert len(records) == 2 * len(cases)
    refused = [r.record for r in records if r.record.status >= 400]
    assert len(refused) == len(cases)
    assert all(r.decision != "ok" and r.input_digest != "" for r in refused)
    # a body announced over the cap is refused before it is read (and before the key check)
    assert [r.key_id for r in refused].count(None) == 1
    assert {r.key_id for r in refused} == {live.key_id, None}


@pytest.mark.parametrize(
    ("headers", "status", "code"),
    [
        ({}, 401, "unauthorized"),
        ({"Authorization": "Bearer mlw_nope_nope"}, 401, "unauthorized"),
        ({"Authorization": "Basic dXNlcjpwYXNz"}, 401, "unauthorized"),
        ({"Authorization": "Bearer " + "x" * 5000}, 401, "unauthorized"),
    ],
)
def test_missing_or_wrong_key_is_401_and_audited(
    make_gateway: Any, headers: dict[str, str], status: int, code: str
) -> None:
    live = make_gateway()
    response = live.http.post("/v1/predict", json={"instances": VALID}, headers=headers)
    assert response.status_code == status
    assert response.json()["error"]["code"] == code
    assert response.headers["www-authenticate"].startswith("Bearer")
    (record,) = [r.record for r in live.gw.audit.records()]
    assert record.status == 401 and record.key_id is None and record.decision == "unauthorized"


def test_unknown_routes_and_methods_are_json_errors(make_gateway: Any) -> None:
    live = make_gateway()
    assert live.http.get("/v1/predict").status_code == 405
    missing = live.http.get("/v2/repository/models/digits/unload")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    assert live.http.post("/v2/repository/models/digits/unload").status_code == 404
    assert "signature" in missing.headers


def test_a_model_crash_is_a_generic_500_without_internals(make_gateway: Any, served: Any) -> None:
    live = make_gateway()

    def boom(x: Any) -> Any:
        raise RuntimeError("secret internal detail /srv/models/x.pkl")

    live.gw.model.predict_proba, original = boom, live.gw.model.predict_proba
    try:
        response = live.post(json={"instances": [served.x_test[0].tolist()]})
    finally:
        live.gw.model.predict_proba = original
    assert response.status_code == 500
    assert response.json() == {"error": {"code": "internal_error", "message": "internal error"}}
    assert "signature" in response.headers
    assert list(live.gw.audit.records())[-1].record.status == 500
