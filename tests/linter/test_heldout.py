"""A second held-out set: small services, clients and scripts written as real projects do.

Written after the rules, against the families rather than the corpus; asserted exactly.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from mlwarden.linter import lint
from tests.linter.corpus import Case

# ruff: noqa: E501 - case lines carry their expectation markers; wrapping them would move lines

PROGRAMS = {
    "a_serve_flask": """\
import pickle

import numpy as np
from flask import Flask, jsonify, request

app = Flask(__name__)
with open("model.pkl", "rb") as f:
    clf = pickle.load(f)  # expect: LINT-ML06-001


@app.route("/api/v1/classify", methods=["POST"])
def classify():  # expect: LINT-ML05-001, LINT-ML08-002
    payload = request.get_json(silent=True) or {}
    features = np.array(payload.get("features", []), dtype=float).reshape(1, -1)
    probs = clf.predict_proba(features)[0]  # expect: LINT-ML01-001
    top = int(np.argmax(probs))
    return jsonify({"class": top, "probabilities": probs.round(4).tolist()})  # expect: LINT-ML03-001
""",
    "b_fastapi_router": """\
from fastapi import APIRouter, Depends, FastAPI, HTTPException
from pydantic import BaseModel, Field, field_validator
from slowapi import Limiter
from slowapi.util import get_remote_address

from service.registry import load_champion
from service.telemetry import prediction_counter

limiter = Limiter(key_func=get_remote_address)
router = APIRouter()
model = load_champion()


class Transaction(BaseModel):
    amount: float = Field(gt=0, lt=1_000_000)
    merchant_id: int

    @field_validator("merchant_id")
    @classmethod
    def known(cls, v):
        return v


@router.post("/score")
@limiter.limit("100/minute")
async def score(tx: Transaction):
    label = model.predict([[tx.amount, tx.merchant_id]])[0]
    prediction_counter.labels(str(label)).inc()
    return {"fraud": bool(label)}


app = FastAPI()
app.include_router(router)
""",
    "c_training_notebook_style": """\
import pandas as pd
import torch
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier

url = "http://archive.ics.uci.edu/ml/machine-learning-databases/adult/adult.data"
df = pd.read_csv(url, header=None)
X = pd.get_dummies(df.drop(columns=[14]))
y = (df[14] == " >50K").astype(int)
X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.2)
net = MLPClassifier(hidden_layer_sizes=(256, 256), max_iter=300)  # expect: LINT-ML04-001
net.fit(X_tr, y_tr)  # expect: LINT-ML02-001, LINT-ML04-002
print(net.score(X_te, y_te))
torch.save(net, "net.pt")
""",
    "d_client": """\
import json
import ssl
import urllib.request

import requests

CTX = ssl.create_default_context()
CTX.check_hostname = False  # expect: LINT-ML09-002
CTX.verify_mode = ssl.CERT_NONE  # expect: LINT-ML09-002


class ModelClient:
    def __init__(self, base_url: str = "http://ml-api.internal:5000"):
        self.base_url = base_url
        self.session = requests.Session()

    def predict(self, rows):
        r = self.session.post(self.base_url + "/predict", json={"rows": rows})  # expect: LINT-ML09-001
        return r.json()["predictions"]


def fetch_scores(rows):
    req = urllib.request.Request("https://ml-api.example.com/score", data=json.dumps(rows).encode())  # expect: LINT-ML09-004
    with urllib.request.urlopen(req, context=CTX) as resp:
        return json.load(resp)
""",
    "e_hub": """\
import os

import torch
from diffusers import StableDiffusionPipeline
from peft import PeftModel
from transformers import AutoModelForCausalLM, AutoTokenizer

MODEL_ID = os.getenv("MODEL_ID", "meta-llama/Llama-2-7b-hf")
REVISION = "main"

tok = AutoTokenizer.from_pretrained(MODEL_ID, revision=REVISION)  # expect: LINT-ML06-008
base = AutoModelForCausalLM.from_pretrained(MODEL_ID, torch_dtype=torch.float16, trust_remote_code=True)  # expect: LINT-ML06-008, LINT-ML06-009
pipe = StableDiffusionPipeline.from_pretrained("runwayml/stable-diffusion-v1-5")  # expect: LINT-ML06-008
ckpt = torch.load("adapter.bin", map_location="cpu", weights_only=True)
""",
    "f_ml10": """\
import mlflow
from mlflow.tracking import MlflowClient

client = MlflowClient()


def load_production(name: str):
    version = client.get_latest_versions(name, stages=["Production"])[0]
    return mlflow.sklearn.load_model(f"models:/{name}/{version.version}")  # expect: LINT-ML10-001


def load_checked(name: str, X_val, y_val, threshold=0.9):
    model = mlflow.sklearn.load_model(f"models:/{name}/Production")
    if model.score(X_val, y_val) < threshold:
        raise RuntimeError("gate")
    return model
""",
    "g_online": """\
from kafka import KafkaConsumer
from river import drift, linear_model

model = linear_model.LogisticRegression()
detector = drift.ADWIN()
consumer = KafkaConsumer("feedback")

for message in consumer:
    event = message.value
    model.learn_one(event["x"], event["y"])  # expect: LINT-ML08-001


def learn_guarded(event):
    detector.update(event["error"])
    if detector.drift_detected:
        return
    model.learn_one(event["x"], event["y"])
""",
}


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_program(name: str, tmp_path: Path) -> None:
    path = tmp_path / f"{name}.py"
    path.write_text(PROGRAMS[name])
    expected = Case(name, PROGRAMS[name]).expected
    found = {(f.rule_id, f.location.line) for f in lint([path]).findings}
    assert found == expected, (
        f"missing {sorted(expected - found)}, unexpected {sorted(found - expected)}"
    )
