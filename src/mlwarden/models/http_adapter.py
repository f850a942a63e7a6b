"""Adapter for a model behind an HTTP endpoint (the optional ``remote`` extra: httpx).

Speaks the Open Inference Protocol v2 (KServe, Triton, MLServer) or mlwarden's gateway API.
The transport here adds what auditing a live service needs: an API key that never appears in
a repr or an error, a query budget that is checked before anything is sent, client-side
throttling, and retries on 429/503 that honour ``Retry-After``.
"""

from __future__ import annotations

import email.utils
import json
import time
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from pydantic import SecretStr

from mlwarden.models._arrays import (
    Floats,
    LabelMap,
    Labels,
    argmax_labels,
    as_batch,
    batch_slices,
    index_labels,
    normalize_rows,
    softmax,
)
from mlwarden.models.base import Capability, MissingCapability
from mlwarden.models.errors import ModelLoadError, QueryBudgetExceeded, RemoteModelError
from mlwarden.models.http_protocols import Answer, Endpoint, protocol_for

# Indirections so tests can observe waits without sleeping.
_sleep = time.sleep
_now = time.monotonic

_RETRY_STATUS = frozenset({429, 503})


@dataclass(frozen=True)
class _Reply:
    status: int
    retry_after: str | None
    content: bytes


class HttpClassifier:
    """A classifier behind an inference endpoint.

    Capabilities come from the endpoint: ``predict`` always, ``predict_proba`` only when it
    answers probabilities (learnt from its metadata, else from one probe query, lazily).

    Args:
        url: the server (``https://host:8000``); an OIP URL ending in ``/v2/models/NAME``
            (or ``.../infer``) also names the model, a gateway URL may end in ``/v1/predict``.
        protocol: ``"oip-v2"`` or ``"mlwarden"``.
        model_name: the OIP model name (when the URL does not carry it).
        api_key: sent as ``Authorization: Bearer KEY`` (or raw in ``api_key_header``).
        api_key_header: header that carries the key.
        headers: extra request headers.
        max_queries: query budget in samples; a call that would exceed it raises
            :class:`QueryBudgetExceeded` before anything is sent.
        rate_per_second: at most this many requests per second (client-side throttling).
        batch_size: samples per request.
        timeout: seconds per request.
        retries: retries of a request answered 429/503 or failing in transport.
        max_retry_wait: longest ``Retry-After`` honoured (seconds); longer is an error.
        max_response_bytes: largest answer read; a larger one is an error.
        verify: TLS verification (``True``, or a CA bundle path); never disable in production.
        input_shape: shape of one sample, when the metadata does not give it.
        n_classes: number of classes, when neither metadata nor scores give it.
        classes: the model's labels in index order (maps string or non-index labels).
        input_name: the OIP input tensor name (default: from metadata, else ``input-0``).
        label_output: the OIP output holding labels (default: detected).
        score_output: the OIP output holding probabilities or logits (default: detected;
            a name containing ``logit`` is softmaxed).
        clip: ``(low, high)`` bounds of valid inputs, or ``None`` when unbounded.
    """

    def __init__(
        self,
        url: str,
        *,
        protocol: str = "oip-v2",
        model_name: str | None = None,
        api_key: SecretStr | str | None = None,
        api_key_header: str = "Authorization",
        headers: dict[str, str] | None = None,
        max_queries: int | None = None,
        rate_per_second: float | None = None,
        batch_size: int = 64,
        timeout: float = 30.0,
        retries: int = 3,
        max_retry_wait: float = 60.0,
        max_response_bytes: int = 64 * 1024 * 1024,
        verify: bool | str = True,
        input_shape: tuple[int, ...] | None = None,
        n_classes: int | None = None,
        classes: list[Any] | None = None,
        input_name: str | None = None,
        label_output: str | None = None,
        score_output: str | None = None,
        clip: tuple[float, float] | None = None,
    ) -> None:
        self.base_url, self._protocol = protocol_for(
            url, protocol, model_name, label_output, score_output
        )
        self._api_key = SecretStr(api_key) if isinstance(api_key, str) else api_key
        self._api_key_header = api_key_header
        self._headers = dict(headers or {})
        self.max_queries = max_queries
        self.rate_per_second = rate_per_second
        self.batch_size = int(batch_size)
        self.timeout = timeout
        self.retries = max(0, int(retries))
        self.max_retry_wait = max_retry_wait
        self.max_response_bytes = int(max_response_bytes)
        self.verify = verify
        self.clip = clip
        self._given = Endpoint(
            input_name=input_name or "input-0",
            input_shape=tuple(input_shape) if input_shape is not None else None,
            n_classes=n_classes,
            classes=tuple(classes) if classes is not None else None,
        )
        self._endpoint: Endpoint | None = None
        self._client: Any = None
        self._queries = 0
        self._next_request = 0.0

    def __repr__(self) -> str:
        return f"HttpClassifier({self.base_url!r}, protocol={self._protocol.name!r})"

    def __enter__(self) -> HttpClassifier:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection pool (the adapter reopens one if used again)."""
        if self._client is not None:
            self._client.close()
            self._client = None

    @property
    def capabilities(self) -> frozenset[Capability]:
        ep = self.endpoint
        caps = {Capability.PREDICT}
        if ep.has_scores:
            caps.add(Capability.PREDICT_PROBA)
            if ep.scores_are_logits:
                caps.add(Capability.LOGITS)
        return frozenset(caps)

    @property
    def n_classes(self) -> int:
        n = self.endpoint.n_classes
        if n is None:
            raise ModelLoadError(
                "the endpoint does not say how many classes it has",
                hint="Pass n_classes= or classes=[...] to HttpClassifier.",
            )
        return n

    @property
    def input_shape(self) -> tuple[int, ...]:
        shape = self.endpoint.input_shape
        if shape is None:
            raise ModelLoadError(
                "the endpoint does not say what shape its inputs have",
                hint="Pass input_shape=(...) (the shape of one sample) to HttpClassifier.",
            )
        return shape

    @property
    def queries(self) -> int:
        return self._queries

    @property
    def queries_left(self) -> int | None:
        """Samples that may still be sent, or ``None`` without a budget."""
        return None if self.max_queries is None else max(0, self.max_queries - self._queries)

    @property
    def endpoint(self) -> Endpoint:
        """What the endpoint said about itself (fetched once, lazily)."""
        if self._endpoint is None:
            self._endpoint = self._discover()
        return self._endpoint

    def predict(self, x: Floats) -> Labels:
        """Class indices; an uncertain answer (gateway ``null``) is ``UNCERTAIN``."""
        # The gateway's labels carry its "uncertain" answers; an OIP endpoint's labels may be
        # the model's own class values, so its scores (when it has them) decide instead.
        gateway = self._protocol.name == "mlwarden"
        answers = self._infer(x, want_scores=not gateway and bool(self.endpoint.has_scores))
        if answers.labels is not None and (gateway or answers.scores is None):
            return self._indices(answers.labels)
        if answers.scores is not None:
            return argmax_labels(answers.scores)
        raise RemoteModelError(f"{self.base_url} answered no labels")

    def predict_proba(self, x: Floats) -> Floats:
        """Class probabilities (softmax of the scores for an endpoint answering logits)."""
        if not self.endpoint.has_scores:
            raise MissingCapability("the endpoint answers labels only")
        scores = self._scores(x)
        return softmax(scores) if self.endpoint.scores_are_logits else normalize_rows(scores)

    def logits(self, x: Floats) -> Floats:
        """Raw scores of an endpoint whose score output is named as logits."""
        if not (self.endpoint.has_scores and self.endpoint.scores_are_logits):
            raise MissingCapability("the endpoint does not answer logits")
        out: Floats = self._scores(x).astype(np.float32)
        return out

    def _scores(self, x: Floats) -> np.ndarray[Any, np.dtype[np.float64]]:
        answers = self._infer(x, want_scores=True)
        if answers.scores is None:
            raise RemoteModelError("the endpoint answered no probabilities this time")
        return answers.scores

    def _indices(self, labels: list[Any]) -> Labels:
        classes = self.endpoint.classes
        if classes is not None:
            return LabelMap(list(classes)).to_indices(labels)
        if any(label is None for label in labels):
            return LabelMap(list(range(self.n_classes))).to_indices(labels)
        return index_labels(np.asarray(labels), self.n_classes)

    def _infer(self, x: Floats, *, want_scores: bool) -> Answer:
        ep = self.endpoint
        batch = as_batch(x, self.input_shape)
        if len(batch) == 0:
            return Answer([], np.zeros((0, ep.n_classes or 0)) if ep.has_scores else None)
        self._reserve(len(batch))
        slices = batch_slices(len(batch), self.batch_size)
        parts = [self._post(batch[s], want_scores, ep) for s in slices]
        labels = [v for p in parts for v in p.labels or []]
        scores = [p.scores for p in parts if p.scores is not None]
        return Answer(
            labels if all(p.labels is not None for p in parts) else None,
            np.concatenate(scores) if len(scores) == len(parts) else None,
        )

    def _post(self, chunk: Floats, want_scores: bool, ep: Endpoint) -> Answer:
        body = self._protocol.request(chunk, ep, want_scores)
        answer = self._protocol.parse(
            self._call("POST", self._protocol.infer_path, body), len(chunk), ep
        )
        self._queries += len(chunk)
        return answer

    def _reserve(self, n: int) -> None:
        if self.max_queries is not None and self._queries + n > self.max_queries:
            raise QueryBudgetExceeded(
                f"{n} more queries would exceed the budget of {self.max_queries} "
                f"({self._queries} used)"
            )

    def _discover(self) -> Endpoint:
        meta = self._call("GET", self._protocol.metadata_path, None, missing_ok=True)
        ep = self._protocol.describe(meta if isinstance(meta, dict) else None, self._given)
        if ep.has_scores is None or (ep.n_classes is None and ep.classes is None):
            ep = self._probe(ep)
        return ep

    def _probe(self, ep: Endpoint) -> Endpoint:
        """One real query (counted, within the budget) to see what the endpoint answers."""
        if ep.input_shape is None:
            return ep
        self._reserve(1)
        answer = self._post(np.zeros((1, *ep.input_shape), dtype=np.float32), True, ep)
        k = answer.scores.shape[1] if answer.scores is not None else None
        return replace(ep, has_scores=answer.scores is not None, n_classes=ep.n_classes or k)

    def _call(self, method: str, path: str, body: Any, *, missing_ok: bool = False) -> Any:
        url = self.base_url + path
        for attempt in range(self.retries + 1):
            self._throttle()
            try:
                reply = self._send(method, url, body)
            except _transport_errors() as exc:
                if attempt < self.retries:
                    _sleep(_backoff(attempt))
                    continue
                raise RemoteModelError(f"{method} {url} failed: {type(exc).__name__}") from None
            if reply.status in _RETRY_STATUS and attempt < self.retries:
                _sleep(self._wait(reply, attempt))
                continue
            if missing_ok and reply.status in (404, 405, 501):
                return None
            if reply.status >= 400:
                raise _status_error(method, url, reply)
            return _json(reply)
        raise RemoteModelError(f"{method} {url}: no attempt made")

    def _send(self, method: str, url: str, body: Any) -> _Reply:
        """One request; the answer is read up to ``max_response_bytes`` (a hostile endpoint
        cannot exhaust memory)."""
        stream = self._http().stream(method, url, json=body, headers=self._auth())
        with stream as resp:
            chunks: list[bytes] = []
            size = 0
            for chunk in resp.iter_bytes():
                size += len(chunk)
                if size > self.max_response_bytes:
                    raise RemoteModelError(
                        f"{method} {url}: the answer exceeds max_response_bytes="
                        f"{self.max_response_bytes}"
                    )
                chunks.append(chunk)
            return _Reply(resp.status_code, resp.headers.get("retry-after"), b"".join(chunks))

    def _wait(self, reply: _Reply, attempt: int) -> float:
        wait = _retry_after(reply.retry_after)
        if wait is None:
            return _backoff(attempt)
        if wait > self.max_retry_wait:
            raise RemoteModelError(
                f"the endpoint asks to retry after {wait:g}s (more than max_retry_wait="
                f"{self.max_retry_wait:g}s); status {reply.status}"
            )
        return wait

    def _throttle(self) -> None:
        if not self.rate_per_second:
            return
        now = _now()
        if now < self._next_request:
            _sleep(self._next_request - now)
            now = self._next_request
        self._next_request = now + 1.0 / self.rate_per_second

    def _auth(self) -> dict[str, str]:
        headers = dict(self._headers)
        if self._api_key is not None:
            key = self._api_key.get_secret_value()
            is_auth = self._api_key_header.lower() == "authorization"
            headers[self._api_key_header] = f"Bearer {key}" if is_auth else key
        return headers

    def _http(self) -> Any:
        if self._client is None:
            try:
                import httpx
            except ImportError:
                raise ModelLoadError(
                    "httpx is not installed", hint="pip install 'mlwarden[remote]'"
                ) from None
            self._client = httpx.Client(timeout=self.timeout, verify=self.verify)
        return self._client


def _transport_errors() -> tuple[type[BaseException], ...]:
    import httpx

    return (httpx.TransportError,)


def _backoff(attempt: int) -> float:
    return float(min(8.0, 0.25 * 2**attempt))


def _retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _json(reply: _Reply) -> Any:
    try:
        return json.loads(reply.content)
    except ValueError:
        raise RemoteModelError(f"the endpoint answered non-JSON ({reply.status})") from None


def _status_error(method: str, url: str, reply: _Reply) -> RemoteModelError:
    if reply.status in (401, 403):
        return RemoteModelError(
            f"{method} {url}: {reply.status}, the endpoint refused the credentials",
            hint="Pass api_key= (and api_key_header= if it is not a Bearer token).",
        )
    snippet = reply.content[:200].decode("utf-8", "replace").replace("\n", " ")
    return RemoteModelError(f"{method} {url}: status {reply.status}: {snippet}")
