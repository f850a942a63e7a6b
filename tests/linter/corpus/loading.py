"""Corpus: model loading (ML06 deserialisers, archives, MLflow) and registry loads (ML10)."""

# ruff: noqa: E501 - case lines carry their expectation markers; wrapping them would move lines

from __future__ import annotations

from textwrap import dedent

from tests.linter.corpus import Case


def _c(name: str, source: str) -> Case:
    return Case(name, dedent(source).lstrip("\n"))


CASES = [
    # --- pickle family ----------------------------------------------------------------------
    _c(
        "ml06/pickle_load",
        """
        import pickle

        def load_model(path):
            with open(path, "rb") as fh:
                return pickle.load(fh)  # expect: LINT-ML06-001
        """,
    ),
    _c(
        "ml06/cpickle_alias",
        """
        import _pickle as cp
        from pickle import loads as decode

        def restore(blob, raw):
            first = cp.loads(blob)  # expect: LINT-ML06-001
            return first, decode(raw)  # expect: LINT-ML06-001
        """,
    ),
    _c(
        "ml06/dill_cloudpickle_marshal",
        """
        import cloudpickle
        import dill
        import marshal

        def restore(a, b, c):
            fn = dill.loads(a)  # expect: LINT-ML06-001
            obj = cloudpickle.load(open(b, "rb"))  # expect: LINT-ML06-001
            code = marshal.loads(c)  # expect: LINT-ML06-001
            return fn, obj, code
        """,
    ),
    _c(
        "ml06/shelve_open",
        """
        import shelve

        def cached_features(path):
            db = shelve.open(path)  # expect: LINT-ML06-001
            return db["features"]
        """,
    ),
    _c(
        "ml06/unpickler_class",
        """
        import io
        import pickle

        def load(data: bytes):
            return pickle.Unpickler(io.BytesIO(data)).load()  # expect: LINT-ML06-001
        """,
    ),
    _c(
        "ml06/unpickler_subclass_without_find_class",
        """
        import pickle

        class Loader(pickle.Unpickler):
            def persistent_load(self, pid):
                return None

        def load(fh):
            return Loader(fh).load()  # expect: LINT-ML06-001
        """,
    ),
    _c(
        "ml06/safe_restricted_unpickler",
        """
        import pickle

        ALLOWED = {("collections", "OrderedDict")}

        class RestrictedUnpickler(pickle.Unpickler):
            def find_class(self, module, name):
                if (module, name) not in ALLOWED:
                    raise pickle.UnpicklingError(f"{module}.{name} is forbidden")
                return super().find_class(module, name)

        def load(fh):
            return RestrictedUnpickler(fh).load()
        """,
    ),
    _c(
        "ml06/safe_pickle_dump_only",
        """
        import marshal
        import pickle

        def save(model, path):
            with open(path, "wb") as fh:
                pickle.dump(model, fh)
            return marshal.dumps(compile("1", "x", "eval"))
        """,
    ),
    _c(
        "ml06/safe_pickle_after_hash_check",
        """
        import hashlib
        import hmac
        import pickle

        EXPECTED = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"

        def load(path):
            data = open(path, "rb").read()
            digest = hashlib.sha256(data).hexdigest()
            if not hmac.compare_digest(digest, EXPECTED):
                raise ValueError("model file changed")
            return pickle.loads(data)
        """,
    ),
    _c(
        "ml06/safe_load_lookalikes",
        """
        import json

        class Config:
            def load(self, path):
                return json.load(open(path))

        def read(cfg: Config, loader, path):
            settings = cfg.load(path)
            data = loader.load(path)
            return settings, data, json.loads("{}")
        """,
    ),
    # --- joblib -----------------------------------------------------------------------------
    _c(
        "ml06/joblib_alias",
        """
        import joblib as jl
        from joblib import load

        def restore(a, b):
            clf = jl.load(a)  # expect: LINT-ML06-002
            scaler = load(b)  # expect: LINT-ML06-002
            return clf, scaler
        """,
    ),
    _c(
        "ml06/joblib_sklearn_externals",
        """
        from sklearn.externals import joblib

        model = joblib.load("model.pkl")  # expect: LINT-ML06-002
        """,
    ),
    _c(
        "ml06/safe_joblib_after_verify",
        """
        import joblib
        import mlwarden

        def restore(path):
            mlwarden.verify(path, key="pub.pem")
            return joblib.load(path)
        """,
    ),
    _c(
        "ml06/safe_joblib_dump",
        """
        import joblib

        def save(clf, path):
            joblib.dump(clf, path, compress=3)
        """,
    ),
    # --- torch.load -------------------------------------------------------------------------
    _c(
        "ml06/torch_load_default",
        """
        import torch

        def restore(path):
            return torch.load(path, map_location="cpu")  # expect: LINT-ML06-003
        """,
    ),
    _c(
        "ml06/torch_load_alias_false",
        """
        from torch import load as L

        UNSAFE = False

        def restore(path):
            return L(path, weights_only=UNSAFE)  # expect: LINT-ML06-003
        """,
    ),
    _c(
        "ml06/torch_load_kwargs_dict",
        """
        import torch

        def restore(path):
            opts = {"map_location": "cpu", "weights_only": False}
            return torch.load(path, **opts)  # expect: LINT-ML06-003
        """,
    ),
    _c(
        "ml06/torch_load_maybe_false",
        """
        import sys

        import torch

        def restore(path):
            trusted = True
            if "--legacy" in sys.argv:
                trusted = False
            return torch.load(path, weights_only=trusted)  # expect: LINT-ML06-003
        """,
    ),
    _c(
        "ml06/torch_module_alias",
        """
        import torch as T

        backend = T

        def restore(path):
            return backend.load(path)  # expect: LINT-ML06-003
        """,
    ),
    _c(
        "ml06/safe_torch_weights_only",
        """
        import torch
        from torch import load as L

        WEIGHTS_ONLY = True

        def restore(path, other):
            flag = True
            a = torch.load(path, weights_only=True)
            b = L(other, weights_only=WEIGHTS_ONLY)
            c = torch.load(other, weights_only=flag)
            opts = {"weights_only": True}
            return a, b, c, torch.load(path, **opts)
        """,
    ),
    _c(
        "ml06/safe_torch_save_and_safetensors",
        """
        import torch
        from safetensors.torch import load_file

        def roundtrip(model, path):
            torch.save(model.state_dict(), path)
            model.load_state_dict(load_file("weights.safetensors"))
            return model
        """,
    ),
    # --- numpy / pandas ---------------------------------------------------------------------
    _c(
        "ml06/numpy_allow_pickle",
        """
        import numpy as np

        ALLOW = True

        def read(path, other):
            a = np.load(path, allow_pickle=True)  # expect: LINT-ML06-004
            b = np.load(other, None, ALLOW)  # expect: LINT-ML06-004
            return a, b
        """,
    ),
    _c(
        "ml06/safe_numpy_load",
        """
        import numpy as np

        def read(path):
            a = np.load(path)
            b = np.load(path, allow_pickle=False, mmap_mode="r")
            return a, b
        """,
    ),
    _c(
        "ml06/pandas_read_pickle",
        """
        import pandas as pd

        def features(path):
            return pd.read_pickle(path)  # expect: LINT-ML06-005
        """,
    ),
    _c(
        "ml06/safe_pandas_parquet",
        """
        import pandas as pd

        def features(path):
            df = pd.read_parquet(path)
            df.to_pickle("cache.pkl")
            return df
        """,
    ),
    # --- keras ------------------------------------------------------------------------------
    _c(
        "ml06/keras_safe_mode_false",
        """
        import tensorflow as tf
        from keras.models import load_model

        def restore(path, other):
            a = load_model(path, safe_mode=False)  # expect: LINT-ML06-006
            b = tf.keras.models.load_model(other, compile=False, safe_mode=False)  # expect: LINT-ML06-006
            return a, b
        """,
    ),
    _c(
        "ml06/keras_enable_unsafe",
        """
        import keras

        keras.config.enable_unsafe_deserialization()  # expect: LINT-ML06-006
        model = keras.saving.load_model("model.keras")
        """,
    ),
    _c(
        "ml06/safe_keras_default",
        """
        import keras

        def restore(path, custom):
            model = keras.models.load_model(path, custom_objects=custom)
            other = keras.saving.load_model(path, safe_mode=True)
            return model, other
        """,
    ),
    # --- yaml -------------------------------------------------------------------------------
    _c(
        "ml06/yaml_unsafe_loaders",
        """
        import yaml
        from yaml import FullLoader

        def read(path):
            text = open(path).read()
            a = yaml.load(text, Loader=yaml.Loader)  # expect: LINT-ML06-007
            b = yaml.load(text, FullLoader)  # expect: LINT-ML06-007
            c = yaml.unsafe_load(text)  # expect: LINT-ML06-007
            d = yaml.load(text)  # expect: LINT-ML06-007
            return a, b, c, d
        """,
    ),
    _c(
        "ml06/yaml_unsafe_subclass",
        """
        import yaml

        class ConfigLoader(yaml.UnsafeLoader):
            pass

        def read(text):
            return yaml.load(text, Loader=ConfigLoader)  # expect: LINT-ML06-007
        """,
    ),
    _c(
        "ml06/safe_yaml_loaders",
        """
        import yaml

        try:
            from yaml import CSafeLoader as Loader
        except ImportError:
            from yaml import SafeLoader as Loader

        class StrictLoader(yaml.SafeLoader):
            pass

        class StricterLoader(StrictLoader):
            pass

        FAST = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

        def read(text):
            a = yaml.load(text, Loader=Loader)
            b = yaml.load(text, Loader=StricterLoader)
            c = yaml.load(text, Loader=FAST)
            d = yaml.safe_load(text)
            e = yaml.load(text, Loader=yaml.CSafeLoader)
            return a, b, c, d, e
        """,
    ),
    # --- archives ---------------------------------------------------------------------------
    _c(
        "ml06/tar_extract_downloaded",
        """
        import tarfile
        import urllib.request

        def fetch_model(url, dest):
            path, _ = urllib.request.urlretrieve(url)
            with tarfile.open(path) as tar:
                tar.extractall(dest)  # expect: LINT-ML06-012
        """,
    ),
    _c(
        "ml06/zip_extract_downloaded",
        """
        import io
        import zipfile

        import requests

        def fetch_model(dest):
            blob = requests.get("https://models.example.com/m.zip", timeout=30).content
            zipfile.ZipFile(io.BytesIO(blob)).extractall(dest)  # expect: LINT-ML06-012
        """,
    ),
    _c(
        "ml06/safe_tar_filter",
        """
        import tarfile
        import urllib.request

        def fetch_model(url, dest):
            path, _ = urllib.request.urlretrieve(url)
            with tarfile.open(path) as tar:
                tar.extractall(dest, filter="data")

        def unpack_local(dest):
            with tarfile.open("bundled/model.tar.gz") as tar:
                tar.extractall(dest)
        """,
    ),
    # --- mlflow / registry (ML10) -----------------------------------------------------------
    _c(
        "ml06/mlflow_runs_load",
        """
        import mlflow

        def restore(run_id):
            return mlflow.sklearn.load_model(f"runs:/{run_id}/model")  # expect: LINT-ML06-011
        """,
    ),
    _c(
        "ml06/safe_mlflow_verified",
        """
        import mlflow
        from mlwarden.integrity import verify_manifest

        def restore(path):
            verify_manifest(path, key="signing.pub")
            return mlflow.pyfunc.load_model(path)
        """,
    ),
    _c(
        "ml10/registry_stage_load",
        """
        import mlflow

        MODEL_NAME = "fraud-detector"

        def production_model():
            uri = f"models:/{MODEL_NAME}/Production"
            return mlflow.pyfunc.load_model(uri)  # expect: LINT-ML10-001
        """,
    ),
    _c(
        "ml10/registry_alias_load",
        """
        import mlflow.pyfunc

        model = mlflow.pyfunc.load_model(model_uri="models:/churn@champion")  # expect: LINT-ML10-001
        """,
    ),
    _c(
        "ml10/wandb_artifact",
        """
        import wandb

        def latest_model():
            run = wandb.init(project="fraud")
            artifact = run.use_artifact("fraud-model:latest")  # expect: LINT-ML10-001
            return artifact.download()
        """,
    ),
    _c(
        "ml10/safe_registry_metric_gate",
        """
        import mlflow
        from sklearn.metrics import accuracy_score

        def production_model(X_ref, y_ref):
            model = mlflow.pyfunc.load_model("models:/fraud-detector/Production")
            accuracy = accuracy_score(y_ref, model.predict(X_ref))
            if accuracy < 0.92:
                raise RuntimeError("registry model is below the accuracy gate")
            return model
        """,
    ),
    _c(
        "ml10/safe_registry_verified",
        """
        import mlflow
        import mlwarden

        def production_model():
            local = mlflow.artifacts.download_artifacts("models:/fraud/Production")
            mlwarden.verify(local, key="release.pub")
            return mlflow.pyfunc.load_model(local)
        """,
    ),
    _c(
        "ml10/safe_wandb_verified",
        """
        import wandb

        def latest_model():
            run = wandb.init(project="fraud")
            artifact = run.use_artifact("fraud-model:v12")
            path = artifact.download()
            artifact.verify(path)
            return path
        """,
    ),
]
