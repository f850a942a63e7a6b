"""ML03/04/05 output policy on every path: label (default), top_k, rounded probabilities."""

from __future__ import annotations

from typing import Any

import numpy as np


def _oip(live: Any, rows: np.ndarray, outputs: list[str] | None = None) -> Any:
    body: dict[str, Any] = {
        "inputs": [
            {
                "name": "input-0",
                "shape": list(rows.shape),
                "datatype": "FP32",
                "data": rows.ravel().tolist(),
            }
        ]
    }
    if outputs is not None:
        body["outputs"] = [{"name": n} for n in outputs]
    return live.post("/v2/models/digits/infer", json=body)


def test_label_only_is_the_default_everywhere(make_gateway: Any, served: Any) -> None:
    live = make_gateway()
    rows = served.x_test[:5]
    v1 = live.post(json={"instances": rows.tolist()}).json()
    assert set(v1) == {"predictions", "model"}
    assert v1["predictions"] == served.y_test[:5].tolist() or len(v1["predictions"]) == 5
    oip = _oip(live, rows).json()
    assert [o["name"] for o in oip["outputs"]] == ["label"]
    assert oip["outputs"][0]["data"] == v1["predictions"]
    asked = _oip(live, rows, ["probabilities"])
    assert asked.status_code == 422 and "probabilities" not in asked.json().get("outputs", "")
    meta = live.http.get("/v2/models/digits", headers=live.headers()).json()
    assert [o["name"] for o in meta["outputs"]] == ["label"]
    assert live.http.get("/v1/model", headers=live.headers()).json()["outputs"] == ["predictions"]


def test_probabilities_are_rounded_on_both_protocols(make_gateway: Any, served: Any) -> None:
    live = make_gateway(output={"mode": "probabilities", "decimals": 2})
    rows = served.x_test[:4]
    proba = live.post(json={"instances": rows.tolist()}).json()["probabilities"]
    assert np.asarray(proba).shape == (4, 10)
    assert all(round(p, 2) == p for row in proba for p in row)
    exact = live.gw.model.predict_proba(rows)
    assert np.allclose(proba, exact, atol=0.0051) and not np.allclose(proba, exact, atol=1e-6)
    oip = _oip(live, rows).json()["outputs"]
    assert [o["name"] for o in oip] == ["label", "probabilities"]
    assert oip[1]["shape"] == [4, 10] and oip[1]["data"] == [p for row in proba for p in row]


def test_top_k_shows_k_classes_and_no_vector(make_gateway: Any, served: Any) -> None:
    live = make_gateway(output={"mode": "top_k", "top_k": 2, "decimals": 1})
    body = live.post(json={"instances": served.x_test[:3].tolist()}).json()
    assert "probabilities" not in body
    assert [len(row) for row in body["top_k"]] == [2, 2, 2]
    for label, row in zip(body["predictions"], body["top_k"], strict=False):
        assert row[0][0] == label and row[0][1] >= row[1][1]
        assert all(round(p, 1) == p for _, p in row)
    assert live.http.get("/v1/model", headers=live.headers()).json()["outputs"] == [
        "predictions",
        "top_k",
    ]


def test_errors_never_carry_model_outputs(make_gateway: Any, served: Any) -> None:
    live = make_gateway(output={"mode": "probabilities"})
    bad = live.post(json={"instances": [served.x_test[0].tolist()[:5]]})
    assert bad.status_code == 422 and set(bad.json()) == {"error"}
    none = live.post(json={"instances": [served.x_test[0].tolist()]}, token="mlw_x_y")  # noqa: S106
    assert none.status_code == 401 and set(none.json()) == {"error"}
