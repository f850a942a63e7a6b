"""Held-out variants: the same families as the corpus, written the ways real code spells them.

The corpus drives development; these cases were written separately to check that the rules
generalise (other aliases, attribute chains, variables, frameworks) and are asserted exactly.
"""

# ruff: noqa: E501 - case lines carry their expectation markers; wrapping them would move lines

from __future__ import annotations

from pathlib import Path
from textwrap import dedent

import pytest

from mlwarden.linter import lint
from tests.linter.corpus import Case

VARIANTS = [
    Case(
        "ml06/aliases",
        """
        import dill as pickle
        import pickle as pkl
        from six.moves import cPickle

        import joblib

        loader = joblib.load

        class Store:
            def __init__(self, path):
                self.path = path

            def read(self):
                with open(self.path, "rb") as fh:
                    return pkl.load(fh)  # expect: LINT-ML06-001

        def restore(blob, path):
            a = pickle.loads(blob)  # expect: LINT-ML06-001
            b = cPickle.loads(blob)  # expect: LINT-ML06-001
            return a, b, loader(path)  # expect: LINT-ML06-002
        """,
    ),
    Case(
        "ml06/values_unknown_and_none",
        """
        import os

        import numpy as np
        import torch
        from huggingface_hub import hf_hub_download, snapshot_download

        class Cfg:
            weights_only = True

        def load(args, cfg):
            state = torch.load(args.ckpt, weights_only=cfg.weights_only)  # expect: LINT-ML06-003
            arr = np.load(args.path, allow_pickle=args.allow_pickle)  # expect: LINT-ML06-004
            f = hf_hub_download(repo_id="acme/m", filename="w.bin", revision=None)  # expect: LINT-ML06-008
            d = snapshot_download("acme/m", revision=os.environ.get("REV"))  # expect: LINT-ML06-008
            return state, arr, f, d
        """,
    ),
    Case(
        "ml06/attribute_chains",
        """
        import tarfile
        import io

        import requests
        import tensorflow as tf
        import transformers as tfm
        import yaml

        SAFE = False

        def fetch(url, model_id="acme/classifier"):
            k = tf.keras.models.load_model("m.keras", safe_mode=SAFE)  # expect: LINT-ML06-006
            m = tfm.AutoModel.from_pretrained(model_id)  # expect: LINT-ML06-008
            cfg = yaml.load_all(open("c.yaml"), Loader=yaml.Loader)  # expect: LINT-ML06-007
            blob = requests.get(url, timeout=9).content
            tar = tarfile.open(fileobj=io.BytesIO(blob))
            tar.extractall("models")  # expect: LINT-ML06-012
            return k, m, cfg
        """,
    ),
    Case(
        "ml06/safe_variants",
        """
        import json

        import h5py
        import numpy as np
        import torch
        import yaml
        from PIL import Image
        from ruamel.yaml import YAML

        def load(p, sig):
            verify_signature(p, sig)
            a = torch.load(p, map_location="cpu", weights_only=True)
            b = yaml.load(open(p), Loader=yaml.SafeLoader)
            c = YAML(typ="safe").load(open(p))
            d = json.load(open(p))
            e = np.load(p)
            f = Image.open(p)
            g = h5py.File(p, "r")
            return a, b, c, d, e, f, g
        """,
    ),
    Case(
        "ml10/variants",
        """
        import mlflow

        def serve(name, model_uri):
            a = mlflow.pytorch.load_model(model_uri)  # expect: LINT-ML06-011
            b = mlflow.keras.load_model("models:/vision/3")  # expect: LINT-ML10-001
            c = mlflow.pyfunc.load_model(model_uri=f"models:/{name}@prod")  # expect: LINT-ML10-001
            return a, b, c
        """,
    ),
    Case(
        "ml09/variants",
        """
        import aiohttp
        import grpc
        import httpx
        import requests
        import urllib3

        VERIFY = False

        async def call(host, port, payload):
            httpx.post("https://scoring/api", json=payload, verify=False)  # expect: LINT-ML09-002
            requests.get("https://scoring/api", verify=VERIFY)  # expect: LINT-ML09-002
            pool = urllib3.PoolManager(cert_reqs="CERT_NONE")  # expect: LINT-ML09-002
            channel = grpc.aio.insecure_channel(f"{host}:{port}")  # expect: LINT-ML09-003
            r = requests.Session().post(f"http://{host}:{port}/invocations", json=payload)  # expect: LINT-ML09-001
            async with aiohttp.ClientSession() as session:
                await session.post("http://scoring.svc/predict", json=payload)  # expect: LINT-ML09-001
            return pool, channel, r
        """,
    ),
    Case(
        "ml01/variants",
        """
        import pandas as pd
        from fastapi import FastAPI
        from flask import Flask, jsonify, request

        from app.models import model, monitor

        api = FastAPI()
        app = Flask(__name__)

        @api.post("/v2/predict")
        async def predict_v2(item: dict):  # expect: LINT-ML05-001
            frame = pd.DataFrame([item])
            label = model.predict(frame)[0]  # expect: LINT-ML01-001
            monitor.log_prediction(item, label)
            return {"label": int(label)}

        @app.route("/predict", methods=["GET"])
        def predict_get():  # expect: LINT-ML05-001
            x = float(request.args.get("x", "0"))
            y = model.predict([[x]])  # expect: LINT-ML01-001
            monitor.log_prediction(x, y)
            return jsonify(y=int(y[0]))
        """,
    ),
    Case(
        "ml03/variants",
        """
        import torch
        from fastapi import Depends, FastAPI
        from fastapi_limiter.depends import RateLimiter
        from pydantic import BaseModel
        from transformers import pipeline

        from app.models import drift_monitor, net

        app = FastAPI(dependencies=[Depends(RateLimiter(times=5, seconds=1))])
        classifier = pipeline("sentiment-analysis", revision="3f2c1a9b8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a")

        class Text(BaseModel):
            text: str

        class Pixels(BaseModel):
            values: list[float]

        @app.post("/sentiment")
        def sentiment(body: Text):
            result = classifier(body.text)[0]
            drift_monitor.record(body.text, result)
            return result  # expect: LINT-ML03-001

        @app.post("/image")
        def image(body: Pixels):
            logits = net(torch.tensor(body.values))
            probs = torch.softmax(logits, dim=-1)
            drift_monitor.record(body.values, probs)
            return {"label": int(probs.argmax()), "probs": probs.tolist()}  # expect: LINT-ML03-001
        """,
    ),
    Case(
        "ml02/variants",
        """
        import io
        import urllib.request

        import pandas as pd
        import requests
        from datasets import load_dataset
        from sklearn.linear_model import LogisticRegression

        def train(url):
            text = requests.get(url, timeout=30).text
            df = pd.read_csv(io.StringIO(text))
            LogisticRegression().fit(df[["a"]], df["y"])  # expect: LINT-ML02-001

        def train_downloaded():
            urllib.request.urlretrieve("https://data.example.com/train.csv", "train.csv")
            df = pd.read_csv("train.csv")
            return LogisticRegression().fit(df[["a"]], df["y"])  # expect: LINT-ML02-001

        def train_hub(model):
            ds = load_dataset("someone/reviews")
            model.fit(ds["train"]["text"], ds["train"]["label"])  # expect: LINT-ML02-001
        """,
    ),
    Case(
        "ml07/variants",
        """
        import timm
        import torch
        from transformers import AutoModel

        MODEL = "someone/encoder"

        vit = timm.create_model("hf-hub:someone/vit-tiny", pretrained=True)  # expect: LINT-ML06-008
        for p in vit.parameters():
            p.requires_grad = False  # expect: LINT-ML07-001

        enc = AutoModel.from_pretrained(MODEL)  # expect: LINT-ML06-008
        for param in enc.encoder.parameters():
            param.requires_grad = False  # expect: LINT-ML07-001
        enc.embeddings.requires_grad_(False)  # expect: LINT-ML07-001
        optimizer = torch.optim.Adam(list(vit.head.parameters()) + list(enc.pooler.parameters()))
        """,
    ),
    Case(
        "ml07/safe_freeze_for_export",
        """
        import torch
        from transformers import AutoModel

        def export(name, path):
            model = AutoModel.from_pretrained(name)  # expect: LINT-ML06-008
            model.requires_grad_(False)
            model.eval()
            torch.onnx.export(model, (torch.zeros(1, 8, dtype=torch.long),), path)
        """,
    ),
    Case(
        "ml08/variants",
        """
        from sklearn.linear_model import SGDRegressor

        reg = SGDRegressor()

        def update_from_feedback(batch):
            reg.partial_fit(batch.features, batch.targets)  # expect: LINT-ML08-001

        def update_checked(batch, detector):
            if detector.detect_drift(batch.features):
                return
            reg.partial_fit(batch.features, batch.targets)
        """,
    ),
    Case(
        "ml04/variants",
        """
        from sklearn.neural_network import MLPClassifier

        LAYERS = [300, 300, 300]
        deep = MLPClassifier(hidden_layer_sizes=LAYERS, alpha=0.00001)  # expect: LINT-ML04-001
        wide = MLPClassifier(hidden_layer_sizes=2048)  # expect: LINT-ML04-001
        tuned = MLPClassifier(hidden_layer_sizes=LAYERS, alpha=0.05)
        """,
    ),
]


@pytest.mark.parametrize("case", VARIANTS, ids=lambda c: c.name)
def test_variant(case: Case, tmp_path: Path) -> None:
    source = dedent(case.source).lstrip("\n")
    path = tmp_path / "case.py"
    path.write_text(source)
    expected = Case(case.name, source).expected
    found = {(f.rule_id, f.location.line) for f in lint([path]).findings}
    missing = sorted(expected - found)
    extra = sorted(found - expected)
    assert not missing and not extra, f"missing {missing}, unexpected {extra}"


FRAMEWORKS = Case(
    "ml01/frameworks",
    """
    import json

    import kserve
    from django.http import JsonResponse
    from django_ratelimit.decorators import ratelimit
    from flask.views import MethodView
    from rest_framework.views import APIView

    from app.models import model, monitor


    @ratelimit(key="ip", rate="10/m")
    def django_predict(request):
        rows = json.loads(request.body)["rows"]
        labels = model.predict(rows)  # expect: LINT-ML01-001
        monitor.record(rows, labels)
        return JsonResponse({"labels": labels.tolist()})


    class PredictView(APIView):
        def post(self, request):  # expect: LINT-ML05-001, LINT-ML08-002
            return JsonResponse({"y": model.predict_proba(request.data["x"]).tolist()})  # expect: LINT-ML01-001, LINT-ML03-001


    class PredictAPI(MethodView):
        def get(self):
            return {"version": 3}


    class Scorer(kserve.Model):
        def predict(self, payload, headers=None):
            return {"predictions": model.predict(payload["instances"]).tolist()}  # expect: LINT-ML01-001
    """,
)


def test_framework_routes(tmp_path: Path) -> None:
    test_variant(FRAMEWORKS, tmp_path)


NEURAL = Case(
    "ml03/neural_outputs",
    """
    import keras
    import torch
    from fastapi import Depends, FastAPI
    from fastapi_limiter.depends import RateLimiter
    from pydantic import BaseModel

    from app.models import monitor, tokenizer, transformer

    app = FastAPI(dependencies=[Depends(RateLimiter(times=5, seconds=1))])
    cnn = keras.models.load_model("artifacts/cnn.keras")


    class Body(BaseModel):
        text: str
        pixels: list[float]


    @app.post("/logits")
    def logits(body: Body):
        outputs = transformer(**tokenizer(body.text, return_tensors="pt"))
        monitor.record(body.text)
        return {"logits": outputs.logits.tolist()}  # expect: LINT-ML03-001


    @app.post("/label")
    def label(body: Body):
        outputs = transformer(**tokenizer(body.text, return_tensors="pt"))
        monitor.record(body.text)
        return {"label": int(torch.argmax(outputs.logits))}


    @app.post("/image")
    def image(body: Body):
        preds = cnn.predict([body.pixels])
        monitor.record(body.pixels)
        return {"scores": preds.tolist()}  # expect: LINT-ML03-001
    """,
)


def test_neural_outputs(tmp_path: Path) -> None:
    test_variant(NEURAL, tmp_path)


IMPORTED_SCHEMA = Case(
    "ml01/imported_schema",
    """
    from typing import Any

    from fastapi import Depends, FastAPI
    from fastapi_limiter.depends import RateLimiter

    from app.models import model, monitor
    from app.schemas import Features

    app = FastAPI(dependencies=[Depends(RateLimiter(times=5, seconds=1))])


    @app.post("/predict")
    def predict(body: Features):
        label = int(model.predict([body.values])[0])
        monitor.record(body.values, label)
        return {"label": label}


    @app.post("/raw")
    def raw(body: dict[str, Any]):
        label = int(model.predict([body["values"]])[0])  # expect: LINT-ML01-001
        monitor.record(body, label)
        return {"label": label}
    """,
)


def test_imported_schema_is_validation(tmp_path: Path) -> None:
    test_variant(IMPORTED_SCHEMA, tmp_path)


GATEWAY_STYLE = Case(
    "ml05/gateway_style",
    """
    from fastapi import FastAPI, Request

    from app.gateway import Envelope, Gateway, parse_and_validate

    app = FastAPI()
    gw = Gateway.from_policy("policy.toml")
    app.add_middleware(Envelope, gateway=gw)


    def caller(request):
        return request.headers.get("x-api-key")


    @app.post("/v1/predict")
    async def predict(request: Request):
        key = caller(request)
        x = parse_and_validate(await request.json())
        return {"labels": gw.model.predict(x).tolist(), "key": key}
    """,
)
THROTTLE_HELPER = Case(
    "ml05/throttle_helper",
    """
    from fastapi import FastAPI, Request

    from app.models import model, validate_rows
    from app.quota import QuotaStore

    app = FastAPI()
    quotas = QuotaStore()


    def throttle(request):
        quotas.limit_ip(request.client.host)


    @app.post("/v2/predict")
    async def predict_v2(request: Request):  # expect: LINT-ML08-002
        throttle(request)
        x = validate_rows(await request.json())
        return {"labels": model.predict(x).tolist()}
    """,
)


@pytest.mark.parametrize("case", [GATEWAY_STYLE, THROTTLE_HELPER], ids=lambda c: c.name)
def test_gateway_style_controls(case: Case, tmp_path: Path) -> None:
    test_variant(case, tmp_path)
