"""The HTTP adapter against a real server on 127.0.0.1: both protocols, auth, budget, retries."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pytest
from pydantic import SecretStr

from mlwarden.models import (
    UNCERTAIN,
    Capability,
    HttpClassifier,
    MissingCapability,
    ModelLoadError,
    QueryBudgetExceeded,
    RemoteModelError,
    http_adapter,
)
from tests.models._server import API_KEY, ServerState

Server = tuple[str, ServerState]


def test_oip_metadata_gives_shape_classes_and_capabilities(server: Server) -> None:
    url, state = server
    with HttpClassifier(f"{url}/v2/models/digits/infer", api_key=API_KEY) as model:
        assert model.input_shape == (64,)
        assert model.n_classes == 10
        assert model.capabilities == {Capability.PREDICT, Capability.PREDICT_PROBA}
        assert model.endpoint.input_name == "pixels"
    assert state.infer_requests == 0  # metadata sufficed: no probe query was spent


def test_oip_labels_only_endpoint_offers_predict_only(
    server: Server, x_test: np.ndarray[Any, Any], logreg: Any
) -> None:
    url, _ = server
    with HttpClassifier(url, model_name="digits-labels", api_key=API_KEY, n_classes=10) as model:
        assert model.capabilities == {Capability.PREDICT}
        assert np.array_equal(model.predict(x_test), logreg.predict(x_test))
        with pytest.raises(MissingCapability):
            model.predict_proba(x_test)


def test_endpoint_without_metadata_is_probed_once(server: Server) -> None:
    url, state = server
    model = HttpClassifier(
        url, model_name="digits-bare", api_key=API_KEY, input_shape=(64,), n_classes=10
    )
    with model:
        assert model.capabilities == {Capability.PREDICT}
        assert model.queries == 1 and state.infer_requests == 1
        model.predict(np.zeros((3, 64), dtype=np.float32))
        assert state.infer_requests == 2


def test_gateway_maps_class_names_and_uncertain_answers(
    server: Server, x_test: np.ndarray[Any, Any], logreg: Any
) -> None:
    url, state = server
    with HttpClassifier(url, protocol="mlwarden", api_key=API_KEY) as model:
        assert model.endpoint.digest == "sha256:" + "0" * 64
        assert np.array_equal(model.predict(x_test), logreg.predict(x_test))
        state.uncertain_below = 0.9
        labels = model.predict(x_test)
        p = model.predict_proba(x_test)
    confident = p.max(axis=1) >= 0.9
    assert np.any(~confident) and np.all(labels[~confident] == UNCERTAIN)
    assert np.array_equal(labels[confident], logreg.predict(x_test)[confident])


def test_requests_are_batched(server: Server, x_test: np.ndarray[Any, Any]) -> None:
    url, state = server
    with HttpClassifier(url, model_name="digits", api_key=API_KEY, batch_size=5) as model:
        model.predict_proba(x_test)  # 16 samples
    assert state.infer_requests == 4


def test_missing_or_wrong_key_is_refused_with_a_hint(server: Server) -> None:
    url, _ = server
    for key in (None, "wrong"):
        with (
            HttpClassifier(url, model_name="digits", api_key=key) as model,
            pytest.raises(RemoteModelError, match="401") as err,
        ):
            _ = model.capabilities
        assert "api_key" in err.value.hint


def test_key_in_a_custom_header(server: Server, x_test: np.ndarray[Any, Any]) -> None:
    url, state = server
    secret = SecretStr(API_KEY)
    with HttpClassifier(url, model_name="digits", api_key=secret, api_key_header="X-API-Key") as m:
        assert m.predict(x_test).shape == (16,)
    assert all(state.seen_auth)


def test_key_never_shows_in_repr_errors_or_logs(
    server: Server, caplog: pytest.LogCaptureFixture
) -> None:
    url, state = server
    caplog.set_level(logging.DEBUG)
    model = HttpClassifier(url, model_name="digits", api_key=API_KEY, retries=0)
    state.scripted = [(500, None)]
    with model, pytest.raises(RemoteModelError) as err:
        _ = model.capabilities
    assert state.requests == 1
    texts = [repr(model), str(err.value), err.value.diagnostics(), caplog.text, repr(vars(model))]
    assert all(API_KEY not in text for text in texts)


def test_budget_is_checked_before_sending(server: Server, x_test: np.ndarray[Any, Any]) -> None:
    url, state = server
    with HttpClassifier(url, model_name="digits", api_key=API_KEY, max_queries=20) as model:
        model.predict(x_test)  # 16
        sent = state.infer_requests
        with pytest.raises(QueryBudgetExceeded, match="budget of 20"):
            model.predict(x_test[:5])
        assert state.infer_requests == sent and model.queries == 16
        assert model.queries_left == 4
        model.predict(x_test[:4])
        assert model.queries_left == 0


def test_429_and_503_are_retried_after_retry_after(
    server: Server, no_sleep: list[float], x_test: np.ndarray[Any, Any]
) -> None:
    url, state = server
    state.scripted = [(429, "2"), (503, None)]
    with HttpClassifier(url, model_name="digits", api_key=API_KEY) as model:
        assert model.n_classes == 10
    assert no_sleep == [2.0, 0.5]  # Retry-After, then exponential backoff (attempt 2)
    assert state.requests == 3


def test_retries_give_up_with_a_clear_error(server: Server, no_sleep: list[float]) -> None:
    url, state = server
    state.scripted = [(503, None)] * 3
    with (
        HttpClassifier(url, model_name="digits", api_key=API_KEY, retries=2) as model,
        pytest.raises(RemoteModelError, match="status 503"),
    ):
        _ = model.capabilities
    assert len(no_sleep) == 2 and state.requests == 3


def test_too_long_retry_after_is_an_error_not_a_hang(server: Server, no_sleep: list[float]) -> None:
    url, state = server
    state.scripted = [(429, "3600")]
    with (
        HttpClassifier(url, model_name="digits", api_key=API_KEY) as model,
        pytest.raises(RemoteModelError, match="retry after 3600s"),
    ):
        _ = model.capabilities
    assert no_sleep == []


def test_client_side_throttling(
    server: Server, monkeypatch: pytest.MonkeyPatch, x_test: np.ndarray[Any, Any]
) -> None:
    url, _ = server
    clock = [100.0]
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(round(seconds, 6))
        clock[0] += seconds

    monkeypatch.setattr(http_adapter, "_now", lambda: clock[0])
    monkeypatch.setattr(http_adapter, "_sleep", sleep)
    model = HttpClassifier(
        url, model_name="digits", api_key=API_KEY, rate_per_second=4, batch_size=4
    )
    with model:
        model.predict(x_test)  # metadata + 4 requests, all at the same fake instant
    assert waits == [0.25] * 4


def test_unreachable_endpoint_is_an_error(no_sleep: list[float]) -> None:
    model = HttpClassifier("http://127.0.0.1:9/", model_name="m", retries=1, timeout=2)
    with model, pytest.raises(RemoteModelError, match="failed: ConnectError"):
        _ = model.capabilities
    assert no_sleep == [0.25]


@pytest.mark.parametrize(
    ("url", "kwargs", "match"),
    [
        ("ftp://host/model", {}, "not an http"),
        ("http://host:8000", {}, "needs a model name"),
        ("http://host:8000", {"protocol": "grpc"}, "choose 'oip-v2' or 'mlwarden'"),
    ],
)
def test_bad_configuration_is_refused(url: str, kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ModelLoadError, match=match):
        HttpClassifier(url, **kwargs)


def test_url_parsing() -> None:
    model = HttpClassifier("https://h:1/v2/models/iris/versions/3/infer")
    assert (
        model.base_url == "https://h:1"
        and repr(model) == "HttpClassifier('https://h:1', protocol='oip-v2')"
    )
    assert HttpClassifier("https://h:1/v1/predict", protocol="mlwarden").base_url == "https://h:1"


def test_retry_after_accepts_seconds_and_http_dates() -> None:
    assert http_adapter._retry_after("7") == 7.0
    assert http_adapter._retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # in the past
    assert http_adapter._retry_after("soon") is None
    assert http_adapter._retry_after(None) is None


def test_oversized_answers_and_absurd_shapes_are_refused(server: Server) -> None:
    from mlwarden.models.http_protocols import Endpoint, OipV2

    url, _ = server
    small = HttpClassifier(url, model_name="digits", api_key=API_KEY, max_response_bytes=100)
    with small, pytest.raises(RemoteModelError, match="exceeds max_response_bytes=100"):
        _ = small.capabilities
    meta = {"inputs": [{"name": "x", "datatype": "FP32", "shape": [-1, 100000, 100000]}]}
    assert OipV2("m", None, None).describe(meta, Endpoint()).input_shape is None
