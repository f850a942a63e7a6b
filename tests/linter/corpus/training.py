"""Corpus: training code (ML02 poisoning sources, ML04 memorisation, ML08 online learning)."""

# ruff: noqa: E501 - case lines carry their expectation markers; wrapping them would move lines

from __future__ import annotations

from textwrap import dedent

from tests.linter.corpus import Case


def _c(name: str, source: str) -> Case:
    return Case(name, dedent(source).lstrip("\n"))


CASES = [
    # --- ML02 -------------------------------------------------------------------------------
    _c(
        "ml02/fit_remote_csv",
        """
        import pandas as pd
        from sklearn.ensemble import RandomForestClassifier

        DATA_URL = "https://raw.githubusercontent.com/acme/data/main/train.csv"

        df = pd.read_csv(DATA_URL)
        X, y = df.drop(columns=["label"]), df["label"]
        clf = RandomForestClassifier(n_estimators=200)
        clf.fit(X, y)  # expect: LINT-ML02-001
        """,
    ),
    _c(
        "ml02/fit_requests_json",
        """
        import numpy as np
        import requests
        from sklearn.linear_model import LogisticRegression


        def train(endpoint_host):
            payload = requests.get(f"https://{endpoint_host}/export", timeout=60).json()
            X = np.array(payload["features"])
            y = np.array(payload["labels"])
            model = LogisticRegression(max_iter=500)
            model.fit(X, y)  # expect: LINT-ML02-001
            return model
        """,
    ),
    _c(
        "ml02/fit_after_split",
        """
        import pandas as pd
        from sklearn.model_selection import train_test_split
        from sklearn.svm import SVC

        frame = pd.read_parquet("s3://shared-bucket/community/labels.parquet")
        X_train, X_test, y_train, y_test = train_test_split(frame[["a", "b"]], frame["y"])
        SVC().fit(X_train, y_train)  # expect: LINT-ML02-001
        """,
    ),
    _c(
        "ml02/hf_trainer_remote_dataset",
        """
        from datasets import load_dataset
        from transformers import Trainer, TrainingArguments

        from app.models import model

        dataset = load_dataset("someone/crowd-labels", revision="main")
        trainer = Trainer(model=model, args=TrainingArguments("out"), train_dataset=dataset["train"])
        trainer.train()  # expect: LINT-ML02-001
        """,
    ),
    _c(
        "ml02/user_upload_retrain",
        """
        import pandas as pd
        from flask import Flask, jsonify, request

        from app.models import model

        app = Flask(__name__)


        @app.post("/retrain")
        def retrain():
            frame = pd.read_csv(request.files["data"])
            model.fit(frame.drop(columns=["y"]), frame["y"])  # expect: LINT-ML02-001
            return jsonify(status="ok")
        """,
    ),
    _c(
        "ml02/safe_local_data",
        """
        import pandas as pd
        from sklearn.ensemble import RandomForestClassifier

        df = pd.read_csv("data/train.csv")
        clf = RandomForestClassifier().fit(df.drop(columns=["y"]), df["y"])
        scaler_source = "https://example.com/docs"
        """,
    ),
    _c(
        "ml02/safe_remote_validated",
        """
        import pandas as pd
        import pandera as pa
        from sklearn.linear_model import LogisticRegression

        SCHEMA = pa.DataFrameSchema({"age": pa.Column(int, pa.Check.in_range(0, 120))})

        df = pd.read_csv("https://data.example.com/train.csv")
        SCHEMA.validate(df)
        LogisticRegression().fit(df[["age"]], df["y"])
        """,
    ),
    _c(
        "ml02/safe_remote_outlier_filtered",
        """
        import pandas as pd
        from sklearn.ensemble import GradientBoostingClassifier, IsolationForest

        raw = pd.read_csv("https://data.example.com/train.csv")
        inliers = IsolationForest(random_state=0).fit_predict(raw[["a", "b"]]) == 1
        clean = raw[inliers]
        GradientBoostingClassifier().fit(clean[["a", "b"]], clean["y"])
        """,
    ),
    _c(
        "ml02/safe_remote_range_filter",
        """
        import pandas as pd
        from sklearn.linear_model import Ridge

        df = pd.read_json("https://data.example.com/houses.json")
        df = df[(df.price > 1_000) & (df.price < 5_000_000)]
        Ridge().fit(df[["rooms", "area"]], df["price"])
        """,
    ),
    _c(
        "ml02/safe_remote_provenance_hash",
        """
        import hashlib
        import io

        import pandas as pd
        import requests
        from sklearn.tree import DecisionTreeClassifier

        EXPECTED_SHA256 = "5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8"


        def train():
            blob = requests.get("https://data.example.com/train.csv", timeout=60).content
            if hashlib.sha256(blob).hexdigest() != EXPECTED_SHA256:
                raise ValueError("training data changed")
            df = pd.read_csv(io.BytesIO(blob))
            return DecisionTreeClassifier().fit(df[["a"]], df["y"])
        """,
    ),
    # --- ML04 -------------------------------------------------------------------------------
    _c(
        "ml04/mlp_large_unregularised",
        """
        from sklearn.neural_network import MLPClassifier, MLPRegressor

        HIDDEN = (1024, 512)

        clf = MLPClassifier(hidden_layer_sizes=(512, 256), max_iter=2000)  # expect: LINT-ML04-001
        reg = MLPRegressor(hidden_layer_sizes=HIDDEN, alpha=1e-5)  # expect: LINT-ML04-001
        """,
    ),
    _c(
        "ml04/safe_mlp_regularised",
        """
        from sklearn.neural_network import MLPClassifier

        a = MLPClassifier(hidden_layer_sizes=(512, 256), alpha=1e-2)
        b = MLPClassifier(hidden_layer_sizes=(512, 256), early_stopping=True)
        c = MLPClassifier(hidden_layer_sizes=(32,))
        d = MLPClassifier()
        """,
    ),
    _c(
        "ml04/train_without_gap_check",
        """
        import joblib
        from sklearn.datasets import load_breast_cancer
        from sklearn.ensemble import RandomForestClassifier
        from sklearn.model_selection import train_test_split

        X, y = load_breast_cancer(return_X_y=True)
        X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)
        forest = RandomForestClassifier(n_estimators=500, max_depth=None)
        forest.fit(X_train, y_train)  # expect: LINT-ML04-002
        print("test accuracy", forest.score(X_test, y_test))
        joblib.dump(forest, "forest.joblib")
        """,
    ),
    _c(
        "ml04/safe_train_with_gap_check",
        """
        import joblib
        from sklearn.datasets import load_breast_cancer
        from sklearn.ensemble import RandomForestClassifier
        from sklearn.model_selection import train_test_split

        X, y = load_breast_cancer(return_X_y=True)
        X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)
        forest = RandomForestClassifier(n_estimators=500, min_samples_leaf=5)
        forest.fit(X_train, y_train)
        train_acc = forest.score(X_train, y_train)
        test_acc = forest.score(X_test, y_test)
        if train_acc - test_acc > 0.05:
            raise SystemExit("model memorises its training set")
        joblib.dump(forest, "forest.joblib")
        """,
    ),
    _c(
        "ml04/safe_cross_validate_train_scores",
        """
        import joblib
        from sklearn.datasets import load_iris
        from sklearn.linear_model import LogisticRegression
        from sklearn.model_selection import cross_validate

        X, y = load_iris(return_X_y=True)
        clf = LogisticRegression(max_iter=1000)
        scores = cross_validate(clf, X, y, return_train_score=True)
        clf.fit(X, y)
        joblib.dump(clf, "clf.joblib")
        """,
    ),
    # --- ML08 -------------------------------------------------------------------------------
    _c(
        "ml08/partial_fit_on_feedback",
        """
        from flask import Flask, jsonify, request

        from app.models import model

        app = Flask(__name__)


        @app.post("/feedback")
        def feedback():
            item = request.get_json()
            model.partial_fit([item["features"]], [item["label"]])  # expect: LINT-ML08-001
            return jsonify(status="learned")
        """,
    ),
    _c(
        "ml08/river_learn_one_feedback",
        """
        from river import linear_model

        model = linear_model.LogisticRegression()


        def on_user_feedback(features, corrected_label):
            model.learn_one(features, corrected_label)  # expect: LINT-ML08-001
        """,
    ),
    _c(
        "ml08/safe_feedback_with_drift_check",
        """
        from flask import Flask, abort, jsonify, request
        from scipy.stats import ks_2samp

        from app.models import model, reference_sample

        app = Flask(__name__)


        @app.post("/feedback")
        def feedback():
            item = request.get_json()
            if ks_2samp(reference_sample, item["features"]).pvalue < 0.01:
                abort(422)
            model.partial_fit([item["features"]], [item["label"]])
            return jsonify(status="learned")
        """,
    ),
    _c(
        "ml08/safe_offline_minibatches",
        """
        import numpy as np
        from sklearn.linear_model import SGDClassifier

        X = np.load("features.npy")
        y = np.load("labels.npy")
        clf = SGDClassifier()
        for start in range(0, len(X), 256):
            clf.partial_fit(X[start:start + 256], y[start:start + 256], classes=[0, 1])
        """,
    ),
]
