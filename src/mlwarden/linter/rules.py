"""The lint rule catalogue (``LINT-*``): risk, CWE, severity, docs and examples of each rule.

Loaded into :data:`mlwarden.rules.RULES` through ``CONCERN_RULE_MODULES``. Each rule's
``example`` holds a vulnerable snippet and the secure version; the pages in ``docs/rules/``
are generated from here.
"""

from __future__ import annotations

from mlwarden.findings import Severity
from mlwarden.risks import RiskId, get_risk
from mlwarden.rules import Rule

_PICKLE = "https://docs.python.org/3/library/pickle.html#restricting-globals"
_H, _M, _L = Severity.HIGH, Severity.MEDIUM, Severity.LOW


def _example(bad: str, good: str) -> str:
    return (
        "Vulnerable:\n\n```python\n" + bad.strip() + "\n```\n\n"
        "Secure:\n\n```python\n" + good.strip() + "\n```"
    )


def _rule(
    rule_id: str,
    name: str,
    risk: RiskId,
    cwe: int,
    severity: Severity,
    text: tuple[str, str, str],
    example: tuple[str, str],
    refs: tuple[str, ...] = (),
) -> Rule:
    summary, why, fix = text
    return Rule(
        rule_id,
        name,
        risk,
        cwe,
        severity,
        summary,
        why,
        fix,
        (*refs, get_risk(risk).url),
        _example(*example),
    )


_VERIFY = "Verify the file's SHA-256 (or a signature: mlwarden verify) before loading it."
_ML06, _ML01, _ML02, _ML03 = RiskId.ML06, RiskId.ML01, RiskId.ML02, RiskId.ML03
_ML04, _ML05, _ML07, _ML08 = RiskId.ML04, RiskId.ML05, RiskId.ML07, RiskId.ML08
_ML09, _ML10 = RiskId.ML09, RiskId.ML10

RULES: tuple[Rule, ...] = (
    _rule(
        "LINT-ML06-001",
        "pickle-family-load",
        _ML06,
        502,
        _H,
        (
            "Flags pickle, cPickle, dill, cloudpickle, shelve and marshal deserialisation.",
            "Unpickling calls any importable function the file names: a model file from "
            "someone else is a program you run.",
            "Store weights as safetensors or ONNX; if you must unpickle, use a restricted "
            "Unpickler (find_class allow-list) on a file whose hash you verified first.",
        ),
        (
            'import pickle\nmodel = pickle.load(open("model.pkl", "rb"))',
            'from safetensors.numpy import load_file\nweights = load_file("model.safetensors")',
        ),
        (_PICKLE,),
    ),
    _rule(
        "LINT-ML06-002",
        "joblib-load",
        _ML06,
        502,
        _H,
        (
            "Flags joblib.load, which unpickles.",
            "joblib files are pickles: loading one runs whatever code it references.",
            "Export scikit-learn models with skops or ONNX; otherwise " + _VERIFY,
        ),
        (
            'import joblib\nclf = joblib.load("clf.joblib")',
            "import hashlib, joblib\n"
            'data = open("clf.joblib", "rb").read()\n'
            "if hashlib.sha256(data).hexdigest() != EXPECTED_SHA256:\n"
            '    raise ValueError("model file changed")\n'
            'clf = joblib.load("clf.joblib")',
        ),
        ("https://joblib.readthedocs.io/en/latest/persistence.html",),
    ),
    _rule(
        "LINT-ML06-003",
        "torch-load-without-weights-only",
        _ML06,
        502,
        _H,
        (
            "Flags torch.load unless weights_only is True on every path.",
            "Without weights_only=True, torch.load is pickle.load: a checkpoint can run code. "
            "The value is tracked through variables and constants; an unknown value is "
            "reported with low confidence.",
            "Pass weights_only=True (or load safetensors).",
        ),
        (
            'import torch\nstate = torch.load("ckpt.pt")',
            'import torch\nSAFE = True\nstate = torch.load("ckpt.pt", weights_only=SAFE)',
        ),
        ("https://pytorch.org/docs/stable/generated/torch.load.html",),
    ),
    _rule(
        "LINT-ML06-004",
        "numpy-load-allow-pickle",
        _ML06,
        502,
        _H,
        (
            "Flags numpy.load with allow_pickle=True.",
            "Object arrays are stored as pickles; allow_pickle=True unpickles them.",
            "Keep allow_pickle=False (the default) and store numeric arrays only.",
        ),
        (
            'import numpy as np\narr = np.load("x.npy", allow_pickle=True)',
            'import numpy as np\narr = np.load("x.npy")',
        ),
        ("https://numpy.org/doc/stable/reference/generated/numpy.load.html",),
    ),
    _rule(
        "LINT-ML06-005",
        "pandas-read-pickle",
        _ML06,
        502,
        _H,
        (
            "Flags pandas.read_pickle.",
            "read_pickle unpickles the file; a shared DataFrame pickle can run code.",
            "Exchange data as Parquet, Feather or CSV.",
        ),
        (
            'import pandas as pd\ndf = pd.read_pickle("features.pkl")',
            'import pandas as pd\ndf = pd.read_parquet("features.parquet")',
        ),
    ),
    _rule(
        "LINT-ML06-006",
        "keras-unsafe-deserialization",
        _ML06,
        502,
        _H,
        (
            "Flags Keras loads with safe_mode=False and enable_unsafe_deserialization().",
            "Safe mode is what stops a .keras file's Lambda layers from running their "
            "marshalled Python bytecode on load.",
            "Keep safe_mode=True (the default); rebuild Lambda layers as registered classes.",
        ),
        (
            'import keras\nmodel = keras.models.load_model("m.keras", safe_mode=False)',
            'import keras\nmodel = keras.models.load_model("m.keras")',
        ),
        ("https://keras.io/api/models/model_saving_apis/model_saving_and_loading/",),
    ),
    _rule(
        "LINT-ML06-007",
        "yaml-unsafe-load",
        _ML06,
        502,
        _H,
        (
            "Flags yaml.load with a loader that builds Python objects (and unsafe_load).",
            "yaml.Loader, UnsafeLoader and FullLoader construct arbitrary Python objects from "
            "tags in the document. SafeLoader, CSafeLoader and their subclasses are safe.",
            "Use yaml.safe_load or Loader=yaml.SafeLoader (or a subclass of it).",
        ),
        (
            'import yaml\ncfg = yaml.load(open("cfg.yaml"), Loader=yaml.Loader)',
            "import yaml\nclass Loader(yaml.SafeLoader):\n    pass\n"
            'cfg = yaml.load(open("cfg.yaml"), Loader=Loader)',
        ),
        ("https://pyyaml.org/wiki/PyYAMLDocumentation",),
    ),
    _rule(
        "LINT-ML06-008",
        "unpinned-hub-download",
        _ML06,
        494,
        _M,
        (
            "Flags from_pretrained, hf_hub_download, snapshot_download, pipeline(model=...) and "
            "SentenceTransformer without a revision pinned to a 40-hex commit.",
            "Branches and tags move: whoever controls the repository (or steals its token) "
            "changes what you load next time. A variable holding 'main' is not a pin.",
            "Pass revision=<full commit sha> of the reviewed version.",
        ),
        (
            'from transformers import AutoModel\nREV = "main"\n'
            'model = AutoModel.from_pretrained("org/model", revision=REV)',
            "from transformers import AutoModel\n"
            'REV = "3f2c1a9b8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a"\n'
            'model = AutoModel.from_pretrained("org/model", revision=REV)',
        ),
        ("https://huggingface.co/docs/huggingface_hub/guides/download",),
    ),
    _rule(
        "LINT-ML06-009",
        "trust-remote-code",
        _ML06,
        94,
        _H,
        (
            "Flags trust_remote_code=True (unless the revision is pinned to a commit).",
            "It imports and runs the Python files of the model repository on your machine.",
            "Use a model supported natively by the library, or pin revision= to a reviewed "
            "commit when remote code is unavoidable.",
        ),
        (
            "from transformers import AutoModel\n"
            'm = AutoModel.from_pretrained("org/m", trust_remote_code=True)',
            "from transformers import AutoModel\n"
            'm = AutoModel.from_pretrained("org/m", trust_remote_code=True,\n'
            '                              revision="3f2c1a9b8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a")',
        ),
    ),
    _rule(
        "LINT-ML06-010",
        "torch-hub-load",
        _ML06,
        494,
        _H,
        (
            "Flags torch.hub.load from a movable Git reference and "
            "load_state_dict_from_url without check_hash=True.",
            "torch.hub.load imports hubconf.py from the repository: it runs whatever the "
            "branch holds today.",
            "Vendor the model code and load weights with weights_only=True, or pin "
            "'owner/repo:<commit sha>'.",
        ),
        (
            'import torch\nm = torch.hub.load("someone/models", "resnet")',
            'import torch\nm = torch.hub.load("./vendor/models", "resnet", source="local")',
        ),
        ("https://pytorch.org/docs/stable/hub.html",),
    ),
    _rule(
        "LINT-ML06-011",
        "mlflow-load-unverified",
        _ML06,
        502,
        _M,
        (
            "Flags mlflow.<flavour>.load_model with no digest or signature check.",
            "Most MLflow flavours unpickle the model; an artifact store is rarely tamper-proof.",
            _VERIFY,
        ),
        (
            'import mlflow\nmodel = mlflow.sklearn.load_model("runs:/abc/model")',
            "import mlflow, mlwarden\n"
            'mlwarden.verify("model_dir", key="pub.pem")\n'
            'model = mlflow.sklearn.load_model("model_dir")',
        ),
    ),
    _rule(
        "LINT-ML06-012",
        "archive-extract-without-filter",
        _ML06,
        22,
        _H,
        (
            "Flags extractall of a downloaded tar (or zip) archive without a member filter.",
            "Member names like ../../.bashrc or absolute paths write outside the target "
            "folder (CVE-2007-4559).",
            "Use tar.extractall(path, filter='data') (Python 3.12+) or check every member.",
        ),
        (
            "import tarfile, urllib.request\n"
            'path, _ = urllib.request.urlretrieve("https://host/m.tar.gz")\n'
            'tarfile.open(path).extractall("models")',
            "import tarfile, urllib.request\n"
            'path, _ = urllib.request.urlretrieve("https://host/m.tar.gz")\n'
            'tarfile.open(path).extractall("models", filter="data")',
        ),
        ("https://docs.python.org/3/library/tarfile.html#extraction-filters",),
    ),
    _rule(
        "LINT-ML01-001",
        "predict-on-unvalidated-request",
        _ML01,
        20,
        _M,
        (
            "Flags a route that runs the model on request data with no bounds or schema check.",
            "Out-of-range and malformed inputs are the raw material of adversarial examples "
            "and of crashes; validation is the first layer of defence.",
            "Parse the body into a pydantic model with bounds (Field(ge=..., le=...)) or "
            "check the ranges and reject the request.",
        ),
        (
            "@app.post('/predict')\ndef predict():\n    x = request.get_json()['x']\n"
            "    return {'label': int(model.predict([x])[0])}",
            "class Features(BaseModel):\n    x: list[float] = Field(min_length=4, max_length=4)\n"
            "@app.post('/predict')\ndef predict(body: Features):\n"
            "    return {'label': int(model.predict([body.x])[0])}",
        ),
    ),
    _rule(
        "LINT-ML02-001",
        "fit-on-unvalidated-remote-data",
        _ML02,
        345,
        _M,
        (
            "Flags fit/train on data fetched from a URL, bucket, hub or user upload with no "
            "validation, outlier filtering or provenance hash.",
            "Whoever controls the source controls what the model learns (poisoning, "
            "backdoor triggers, label flips).",
            "Pin and hash the data (provenance), validate its schema and ranges, and filter "
            "outliers before training (mlwarden data check).",
        ),
        (
            'df = pd.read_csv("https://example.com/train.csv")\nclf.fit(df[FEATURES], df.y)',
            'df = pd.read_csv("https://example.com/train.csv")\n'
            "df = df[(df.age >= 0) & (df.age <= 120)]\nclf.fit(df[FEATURES], df.y)",
        ),
    ),
    _rule(
        "LINT-ML03-001",
        "route-returns-confidence-scores",
        _ML03,
        200,
        _M,
        (
            "Flags a prediction route that returns probability vectors or confidence scores.",
            "Full confidence vectors are what model inversion and membership inference "
            "attacks feed on.",
            "Return the label only (argmax), or a coarse, rounded top-1 score when a client "
            "really needs it.",
        ),
        (
            "@app.post('/predict')\ndef predict(body: Features):\n"
            "    return {'proba': model.predict_proba([body.x]).tolist()}",
            "@app.post('/predict')\ndef predict(body: Features):\n"
            "    proba = model.predict_proba([body.x])\n"
            "    return {'label': int(proba.argmax())}",
        ),
    ),
    _rule(
        "LINT-ML04-001",
        "mlp-without-regularisation",
        _ML04,
        359,
        _L,
        (
            "Flags MLPClassifier/MLPRegressor with 256+ hidden units, alpha below 1e-3 and "
            "no early stopping.",
            "An over-parameterised, unregularised network memorises its training records; "
            "membership inference then tells which records were in the training set.",
            "Set alpha (e.g. 1e-2) and early_stopping=True, or use a smaller network.",
        ),
        (
            "from sklearn.neural_network import MLPClassifier\n"
            "clf = MLPClassifier(hidden_layer_sizes=(512, 512))",
            "from sklearn.neural_network import MLPClassifier\n"
            "clf = MLPClassifier(hidden_layer_sizes=(512, 512), alpha=1e-2, early_stopping=True)",
        ),
    ),
    _rule(
        "LINT-ML04-002",
        "training-without-gap-check",
        _ML04,
        359,
        _L,
        (
            "Flags training code that ships or scores a model without comparing train and "
            "test scores.",
            "The train/test gap is the cheapest measure of memorisation, which is what "
            "membership inference exploits.",
            "Score on both splits and fail the build when the gap is too large "
            "(or run mlwarden audit).",
        ),
        (
            "clf.fit(X_train, y_train)\nprint(clf.score(X_test, y_test))\n"
            'joblib.dump(clf, "clf.joblib")',
            "clf.fit(X_train, y_train)\n"
            "gap = clf.score(X_train, y_train) - clf.score(X_test, y_test)\n"
            'assert gap < 0.05, "overfit"\njoblib.dump(clf, "clf.joblib")',
        ),
    ),
    _rule(
        "LINT-ML05-001",
        "prediction-route-without-rate-limit",
        _ML05,
        770,
        _M,
        (
            "Flags a prediction route with no rate limiting (Flask-Limiter, slowapi, a "
            "limiter dependency, gateway or middleware).",
            "Unlimited queries let anyone copy the model's behaviour (extraction) and run "
            "query-hungry attacks.",
            "Add a per-client limit: @limiter.limit('10/minute'), "
            "Depends(RateLimiter(...)), or serve behind mlwarden serve.",
        ),
        (
            "@app.post('/predict')\ndef predict(body: Features):\n"
            "    return {'label': int(model.predict([body.x])[0])}",
            "@app.post('/predict')\n@limiter.limit('10/minute')\n"
            "def predict(request: Request, body: Features):\n"
            "    return {'label': int(model.predict([body.x])[0])}",
        ),
    ),
    _rule(
        "LINT-ML07-001",
        "frozen-untrusted-base-model",
        _ML07,
        494,
        _M,
        (
            "Flags freezing every parameter of a base model from an unpinned, untrusted "
            "source before fine-tuning only the head.",
            "A backdoor in a frozen base survives fine-tuning untouched.",
            "Use a base model pinned to a reviewed commit from a trusted publisher, scan it, "
            "and fine-tune more than the head.",
        ),
        (
            'base = AutoModel.from_pretrained("someone/bert")\n'
            "for p in base.parameters():\n    p.requires_grad = False",
            'base = AutoModel.from_pretrained(\n    "google-bert/bert-base-uncased",\n'
            '    revision="86b5e0934494bd15c9632b12f734a8a67f723594",\n)\n'
            "for p in base.parameters():\n    p.requires_grad = False",
        ),
    ),
    _rule(
        "LINT-ML08-001",
        "online-learning-without-drift-check",
        _ML08,
        20,
        _M,
        (
            "Flags online learning (partial_fit, learn_one) on user feedback with no drift "
            "or sanity check first.",
            "Feedback loops let users steer the model a little at a time (model skewing).",
            "Check the batch against a reference distribution (drift test) and validate "
            "labels before learning from them.",
        ),
        (
            "@app.post('/feedback')\ndef feedback():\n    d = request.get_json()\n"
            "    model.partial_fit([d['x']], [d['y']])",
            "@app.post('/feedback')\ndef feedback():\n    d = request.get_json()\n"
            "    if drift_detector.is_drifted([d['x']]):\n        abort(422)\n"
            "    model.partial_fit([d['x']], [d['y']])",
        ),
    ),
    _rule(
        "LINT-ML08-002",
        "served-model-without-monitoring",
        _ML08,
        778,
        _L,
        (
            "Flags a prediction route that feeds no monitoring hook (drift monitor, metrics).",
            "Without monitoring, skew and abuse go unnoticed until the damage is done.",
            "Record inputs and outputs in a drift monitor or metrics (Prometheus "
            "instrumentation, mlwarden monitor).",
        ),
        (
            "@app.post('/predict')\ndef predict(body: Features):\n"
            "    return {'label': int(model.predict([body.x])[0])}",
            "@app.post('/predict')\ndef predict(body: Features):\n"
            "    y = int(model.predict([body.x])[0])\n    drift_monitor.record(body.x, y)\n"
            "    return {'label': y}",
        ),
    ),
    _rule(
        "LINT-ML09-001",
        "prediction-over-plaintext-http",
        _ML09,
        319,
        _M,
        (
            "Flags HTTP client calls to a non-local http:// URL.",
            "Anyone on the network path can read and rewrite the predictions.",
            "Use https:// (and sign responses: mlwarden serve + its verifying client).",
        ),
        (
            'r = requests.post("http://models.internal/predict", json=payload)',
            'r = requests.post("https://models.internal/predict", json=payload)',
        ),
    ),
    _rule(
        "LINT-ML09-002",
        "tls-verification-disabled",
        _ML09,
        295,
        _H,
        (
            "Flags verify=False, verify_mode=CERT_NONE, check_hostname=False and unverified "
            "SSL contexts.",
            "Without certificate checks, TLS does not stop a man in the middle.",
            "Keep verification on; point verify= at your CA bundle for private CAs.",
        ),
        (
            "r = requests.post(URL, json=payload, verify=False)",
            'r = requests.post(URL, json=payload, verify="/etc/ssl/internal-ca.pem")',
        ),
    ),
    _rule(
        "LINT-ML09-003",
        "insecure-grpc-channel",
        _ML09,
        319,
        _M,
        (
            "Flags gRPC channels without TLS to non-local hosts.",
            "Plaintext gRPC lets anyone on the path read and change predictions.",
            "Use grpc.secure_channel with grpc.ssl_channel_credentials().",
        ),
        (
            'channel = grpc.insecure_channel("models.internal:8500")',
            'channel = grpc.secure_channel("models.internal:8500", grpc.ssl_channel_credentials())',
        ),
    ),
    _rule(
        "LINT-ML09-004",
        "response-without-integrity-check",
        _ML09,
        345,
        _L,
        (
            "Flags prediction responses used without verifying a signature or HMAC.",
            "TLS ends at proxies and gateways; a signed response proves which model produced it.",
            "Verify the response signature (mlwarden's verifying client, or "
            "hmac.compare_digest on a shared-key MAC) before using it.",
        ),
        (
            'r = requests.post("https://api/predict", json=x)\nlabel = r.json()["label"]',
            'r = requests.post("https://api/predict", json=x)\n'
            'mac = hmac.new(KEY, r.content, "sha256").hexdigest()\n'
            'if not hmac.compare_digest(mac, r.headers["X-Signature"]):\n'
            '    raise ValueError("tampered")\nlabel = r.json()["label"]',
        ),
    ),
    _rule(
        "LINT-ML10-001",
        "registry-load-without-verification",
        _ML10,
        494,
        _M,
        (
            "Flags model registry loads (models:/..., artifacts) with no signature/hash "
            "verification and no metric gate.",
            "Whoever can write to the registry decides which model you serve.",
            "Verify a signed manifest (mlwarden verify) or an approved digest, and gate on "
            "metrics measured on a reference set before serving.",
        ),
        (
            'model = mlflow.pyfunc.load_model("models:/fraud/Production")',
            'model = mlflow.pyfunc.load_model("models:/fraud/Production")\n'
            "if accuracy_score(y_ref, model.predict(X_ref)) < 0.9:\n"
            '    raise RuntimeError("model below the gate")',
        ),
    ),
    _rule(
        "LINT-GEN-001",
        "suppression-without-reason",
        _ML06,
        710,
        _L,
        (
            "Flags a '# mlwarden: ignore[...]' comment that gives no reason or no known rule.",
            "A suppression without a reason cannot be reviewed; one naming no known rule "
            "hides nothing or too much.",
            "Write the rule id and the reason: '# mlwarden: ignore[LINT-ML06-002] model "
            "built in this CI job'.",
        ),
        (
            "clf = joblib.load(p)  # mlwarden: ignore[LINT-ML06-002]",
            "clf = joblib.load(p)  # mlwarden: ignore[LINT-ML06-002] written by this job",
        ),
    ),
    _rule(
        "LINT-GEN-002",
        "unused-suppression",
        _ML06,
        710,
        _L,
        (
            "Flags a '# mlwarden: ignore[...]' comment that suppresses nothing.",
            "Stale suppressions later hide new, real findings on the same line.",
            "Delete the comment.",
        ),
        (
            "x = 1  # mlwarden: ignore[LINT-ML06-002] legacy",
            "x = 1",
        ),
    ),
)
