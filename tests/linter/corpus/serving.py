"""Corpus: prediction routes (ML01 validation, ML03 outputs, ML05 rate limits, ML08 monitoring).

Each vulnerable case lacks exactly one control; the others are in place, so that a case
tests one rule. The safe cases are complete services written in different styles.
"""

from __future__ import annotations

from textwrap import dedent

from tests.linter.corpus import Case

FLASK = """
from flask import Flask, abort, jsonify, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

from app.models import drift_monitor, model

app = Flask(__name__)
limiter = Limiter(get_remote_address, app=app, default_limits=["60 per minute"])
"""

FASTAPI = """
from fastapi import Depends, FastAPI, Request
from fastapi_limiter.depends import RateLimiter
from pydantic import BaseModel, Field

from app.models import drift_monitor, model

app = FastAPI()
LIMIT = [Depends(RateLimiter(times=10, seconds=60))]


class Features(BaseModel):
    values: list[float] = Field(min_length=4, max_length=4)
"""


def _c(name: str, header: str, body: str) -> Case:
    return Case(name, (dedent(header).lstrip("\n") + dedent(body)).lstrip("\n"))


CASES = [
    # --- ML01: unvalidated input ------------------------------------------------------------
    _c(
        "ml01/flask_raw_json",
        FLASK,
        """

        @app.post("/predict")
        def predict():
            features = request.get_json()["features"]
            label = model.predict([features])[0]  # expect: LINT-ML01-001
            drift_monitor.record(features, label)
            return jsonify(label=int(label))
        """,
    ),
    _c(
        "ml01/fastapi_untyped_list",
        FASTAPI,
        """

        @app.post("/predict", dependencies=LIMIT)
        def predict(values: list[float]):
            label = int(model.predict([values])[0])  # expect: LINT-ML01-001
            drift_monitor.record(values, label)
            return {"label": label}
        """,
    ),
    _c(
        "ml01/fastapi_request_json",
        FASTAPI,
        """

        @app.post("/predict", dependencies=LIMIT)
        async def predict(request: Request):
            payload = await request.json()
            rows = [payload["x"]]
            label = int(model.predict(rows)[0])  # expect: LINT-ML01-001
            drift_monitor.record(rows, label)
            return {"label": label}
        """,
    ),
    _c(
        "ml01/flask_through_helper",
        FLASK,
        """

        def to_matrix(payload):
            return [[float(v) for v in payload["rows"]]]


        def run_model(matrix):
            return model.predict(matrix)  # expect: LINT-ML01-001


        @app.route("/score", methods=["POST"])
        def score():
            matrix = to_matrix(request.json)
            labels = run_model(matrix)
            drift_monitor.record(matrix, labels)
            return jsonify(labels=[int(x) for x in labels])
        """,
    ),
    _c(
        "ml01/safe_flask_bounds_check",
        FLASK,
        """

        @app.post("/predict")
        def predict():
            data = request.get_json(force=True)
            x = [float(v) for v in data["features"]]
            if len(x) != 4 or any(v < 0.0 or v > 100.0 for v in x):
                abort(400)
            label = int(model.predict([x])[0])
            drift_monitor.record(x, label)
            return jsonify(label=label)
        """,
    ),
    _c(
        "ml01/safe_fastapi_pydantic",
        FASTAPI,
        """

        @app.post("/predict", dependencies=LIMIT)
        def predict(body: Features):
            label = int(model.predict([body.values])[0])
            drift_monitor.record(body.values, label)
            return {"label": label}
        """,
    ),
    _c(
        "ml01/safe_flask_schema_validate",
        FLASK,
        """
        import jsonschema

        SCHEMA = {"type": "array", "items": {"type": "number", "minimum": 0, "maximum": 1}}


        @app.post("/predict")
        def predict():
            rows = request.get_json()
            jsonschema.validate(rows, SCHEMA)
            labels = model.predict(rows)
            drift_monitor.record(rows, labels)
            return jsonify(labels=labels.tolist())
        """,
    ),
    # --- ML03: confidence leaks -------------------------------------------------------------
    _c(
        "ml03/fastapi_returns_proba",
        FASTAPI,
        """

        @app.post("/predict", dependencies=LIMIT)
        def predict(body: Features):
            proba = model.predict_proba([body.values])
            drift_monitor.record(body.values, proba)
            return {"probabilities": proba.tolist()}  # expect: LINT-ML03-001
        """,
    ),
    _c(
        "ml03/flask_returns_confidence",
        FLASK,
        """
        import numpy as np

        @app.post("/predict")
        def predict():
            x = np.clip(np.asarray(request.get_json()["x"], dtype=float), 0.0, 1.0)
            proba = model.predict_proba([x])[0]
            label = int(np.argmax(proba))
            drift_monitor.record(x, label)
            return jsonify(label=label, confidence=float(proba.max()))  # expect: LINT-ML03-001
        """,
    ),
    _c(
        "ml03/proba_from_helper",
        FASTAPI,
        """
        from scipy.special import softmax


        def scores(values):
            logits = model.decision_function([values])
            return softmax(logits, axis=1)


        @app.post("/classify", dependencies=LIMIT)
        def classify(body: Features):
            result = scores(body.values)
            drift_monitor.observe(result)
            return {"scores": result.tolist()}  # expect: LINT-ML03-001
        """,
    ),
    _c(
        "ml03/safe_label_only",
        FASTAPI,
        """

        @app.post("/predict", dependencies=LIMIT)
        def predict(body: Features):
            proba = model.predict_proba([body.values])
            label = int(proba.argmax(axis=1)[0])
            drift_monitor.record(body.values, label)
            return {"label": label}
        """,
    ),
    _c(
        "ml03/safe_threshold_decision",
        FASTAPI,
        """

        @app.post("/fraud", dependencies=LIMIT)
        def fraud(body: Features):
            risk = model.predict_proba([body.values])[0][1]
            blocked = bool(risk > 0.8)
            drift_monitor.record(body.values, blocked)
            return {"blocked": blocked}
        """,
    ),
    # --- ML05: no rate limit ----------------------------------------------------------------
    _c(
        "ml05/flask_no_limiter",
        """
        from flask import Flask, jsonify
        from flask_pydantic import validate
        from pydantic import BaseModel, Field

        from app.models import drift_monitor, model

        app = Flask(__name__)


        class Row(BaseModel):
            x: list[float] = Field(min_length=3, max_length=3)
        """,
        """

        @app.route("/api/predict", methods=["POST"])
        @validate()
        def predict_api(body: Row):  # expect: LINT-ML05-001
            label = int(model.predict([body.x])[0])
            drift_monitor.record(body.x, label)
            return jsonify(label=label)
        """,
    ),
    _c(
        "ml05/fastapi_no_dependency",
        FASTAPI,
        """

        @app.post("/predict")
        async def predict(body: Features):  # expect: LINT-ML05-001
            label = int(model.predict([body.values])[0])
            drift_monitor.record(body.values, label)
            return {"label": label}
        """,
    ),
    _c(
        "ml05/flask_limiter_exempt",
        FLASK,
        """
        from pydantic import BaseModel


        class Row(BaseModel):
            x: list[float]


        @app.post("/internal/predict")
        @limiter.exempt
        def internal_predict():  # expect: LINT-ML05-001
            row = Row(**request.get_json())
            label = int(model.predict([row.x])[0])
            drift_monitor.record(row.x, label)
            return jsonify(label=label)
        """,
    ),
    _c(
        "ml05/safe_slowapi_decorator",
        """
        from fastapi import FastAPI, Request
        from pydantic import BaseModel, Field
        from slowapi import Limiter
        from slowapi.util import get_remote_address

        from app.models import drift_monitor, model

        limiter = Limiter(key_func=get_remote_address)
        app = FastAPI()
        app.state.limiter = limiter


        class Features(BaseModel):
            values: list[float] = Field(min_length=4, max_length=4)
        """,
        """

        @app.post("/predict")
        @limiter.limit("20/minute")
        async def predict(request: Request, body: Features):
            label = int(model.predict([body.values])[0])
            drift_monitor.record(body.values, label)
            return {"label": label}
        """,
    ),
    _c(
        "ml05/safe_gateway_middleware",
        """
        from fastapi import FastAPI
        from prometheus_fastapi_instrumentator import Instrumentator
        from pydantic import BaseModel, confloat

        from app.gateway import RateLimitMiddleware
        from app.models import model

        app = FastAPI()
        app.add_middleware(RateLimitMiddleware, per_minute=30)
        Instrumentator().instrument(app).expose(app)


        class Features(BaseModel):
            values: list[confloat(ge=0, le=1)]
        """,
        """

        @app.post("/predict")
        def predict(body: Features):
            return {"label": int(model.predict([body.values])[0])}
        """,
    ),
    # --- ML08: no monitoring ----------------------------------------------------------------
    _c(
        "ml08/route_without_monitoring",
        FASTAPI,
        """

        @app.post("/predict", dependencies=LIMIT)
        def predict(body: Features):  # expect: LINT-ML08-002
            return {"label": int(model.predict([body.values])[0])}
        """,
    ),
    _c(
        "ml08/flask_without_monitoring",
        FLASK,
        """
        from pydantic import BaseModel


        class Row(BaseModel):
            x: list[float]


        @app.post("/predict")
        def predict():  # expect: LINT-ML08-002
            row = Row.model_validate(request.get_json())
            return jsonify(label=int(model.predict([row.x])[0]))
        """,
    ),
    _c(
        "ml08/safe_prometheus_flask",
        FLASK,
        """
        from prometheus_flask_exporter import PrometheusMetrics
        from pydantic import BaseModel

        metrics = PrometheusMetrics(app)


        class Row(BaseModel):
            x: list[float]


        @app.post("/predict")
        def predict():
            row = Row.model_validate(request.get_json())
            return jsonify(label=int(model.predict([row.x])[0]))
        """,
    ),
    # --- complete routes in other frameworks ------------------------------------------------
    _c(
        "ml01/gradio_interface",
        "",
        """
        import gradio as gr

        from app.models import model


        def classify(sepal_length, sepal_width):
            return str(model.predict([[sepal_length, sepal_width]])[0])  # expect: LINT-ML01-001


        demo = gr.Interface(fn=classify, inputs=["number", "number"], outputs="text")
        """,
    ),
    _c(
        "ml01/lambda_handler",
        "",
        """
        import json

        from app.models import model


        def lambda_handler(event, context):
            rows = json.loads(event["body"])["rows"]
            labels = model.predict(rows)  # expect: LINT-ML01-001
            return {"statusCode": 200, "body": json.dumps(labels.tolist())}
        """,
    ),
    _c(
        "ml05/safe_not_a_route",
        "",
        """
        from app.models import model


        def batch_score(rows):
            return model.predict_proba(rows)


        class Report:
            def get(self, key):
                return model.predict([[key]])
        """,
    ),
]
