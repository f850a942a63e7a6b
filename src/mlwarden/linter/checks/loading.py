"""ML06/ML10 rules on loading models: deserialisers that run code, and unverified loads.

A load preceded in the same function by a hash or signature check (a digest comparison,
``hmac.compare_digest``, ``mlwarden.verify``) is accepted; so is a restricted unpickler (a
``pickle.Unpickler`` subclass that overrides ``find_class``). Keyword values are judged on
every path: ``weights_only=flag`` where ``flag`` is ``True`` everywhere is safe, a value that
may be ``False`` is reported, an unknown one is reported with low confidence.
"""

from __future__ import annotations

import ast

from mlwarden.findings import Confidence
from mlwarden.linter.checks.base import REGISTRY as R
from mlwarden.linter.context import Call
from mlwarden.linter.values import AV, REMOTE, may_be_true

_HIGH, _MED, _LOW = Confidence.HIGH, Confidence.MEDIUM, Confidence.LOW

_PICKLE_LOADS = frozenset(
    f"{mod}.{fn}"
    for mod in ("pickle", "dill", "cloudpickle", "marshal", "joblib.numpy_pickle")
    for fn in ("load", "loads", "_load", "_loads", "Unpickler().load")
) | frozenset(("shelve.open", "shelve.DbfilenameShelf", "jsonpickle.decode", "jsonpickle.loads"))
_UNPICKLERS = ("pickle.Unpickler", "dill.Unpickler", "pickle._Unpickler")
_JOBLIB = frozenset(("joblib.load", "sklearn.utils._joblib.load"))
_SAFE_YAML = frozenset(
    ("yaml.SafeLoader", "yaml.CSafeLoader", "yaml.BaseLoader", "yaml.CBaseLoader")
)
_UNSAFE_YAML = frozenset(
    (
        "yaml.Loader",
        "yaml.UnsafeLoader",
        "yaml.FullLoader",
        "yaml.CLoader",
        "yaml.CUnsafeLoader",
        "yaml.CFullLoader",
    )
)
_YAML_UNSAFE_FNS = frozenset(
    ("yaml.unsafe_load", "yaml.unsafe_load_all", "yaml.full_load", "yaml.full_load_all")
)
_TAR_OPENERS = (
    "tarfile.open()",
    "tarfile.TarFile()",
    "tarfile.TarFile.open()",
    "tarfile.TarFile.taropen()",
)
_ZIP_OPENERS = ("zipfile.ZipFile()",)


def _first(call: Call, table: frozenset[str]) -> str | None:
    return next((n for n in call.names if n in table), None)


def _guarded(call: Call) -> bool:
    return call.frame.guarded


@R.calls("load", "loads", "_load", "_loads", "open", "decode", "DbfilenameShelf")
def pickle_family(call: Call) -> None:
    """LINT-ML06-001: pickle, cPickle, dill, cloudpickle, shelve, marshal deserialisation."""
    name = _first(call, _PICKLE_LOADS)
    if name is None:
        name = _custom_unpickler(call)
    if name is None and call.matches("skops.io.load", "skops.io.loads"):
        trusted = call.arg("trusted")
        name = (
            "skops.io.load(trusted=True)" if trusted is not None and trusted.maybe(True) else None
        )
    if name is None or _guarded(call):
        return
    confidence = _MED if name.startswith("shelve.") else _HIGH
    call.report(
        "LINT-ML06-001",
        f"{name}() deserialises with pickle semantics: loading untrusted data runs code",
        confidence,
    )


def _custom_unpickler(call: Call) -> str | None:
    """``X(f).load()`` where ``X`` is an unpickler without its own ``find_class``."""
    for name in call.names:
        if name.startswith(_UNPICKLERS) and name.endswith("().load"):
            return name
        if name.startswith("local:") and name.endswith("().load"):
            cls = name[6:-7]
            bases = call.ctx.class_bases(cls)
            if any(b.startswith(_UNPICKLERS) for b in bases) and not _restricts(call, cls):
                return f"{cls}(Unpickler).load"
    return None


def _restricts(call: Call, cls: str) -> bool:
    """Whether class ``cls`` (or a local base of it) overrides ``find_class``."""
    chain = [cls] + [b[6:] for b in call.ctx.class_bases(cls) if b.startswith("local:")]
    for name in chain:
        node = call.ctx.classes.get(name)
        if node is not None and any(
            isinstance(s, ast.FunctionDef) and s.name == "find_class" for s in node.body
        ):
            return True
    return False


@R.calls("load")
def joblib_load(call: Call) -> None:
    """LINT-ML06-002: joblib.load unpickles."""
    name = _first(call, _JOBLIB)
    if name is None or _guarded(call):
        return
    call.report("LINT-ML06-002", "joblib.load() unpickles the file: loading it runs its code")


@R.calls("load")
def torch_load(call: Call) -> None:
    """LINT-ML06-003: torch.load without weights_only=True on every path."""
    if not call.matches("torch.load") or _guarded(call):
        return
    flag = call.arg("weights_only")
    if flag is None:
        call.report(
            "LINT-ML06-003",
            "torch.load() without weights_only=True: full unpickling on torch < 2.6 or when "
            "the default is overridden",
            _MED,
        )
    elif flag.always(True):
        return
    elif flag.maybe(False) or flag.maybe(None) or flag.maybe(0):
        call.report("LINT-ML06-003", "torch.load(weights_only=False) unpickles arbitrary objects")
    else:
        call.report(
            "LINT-ML06-003",
            "torch.load(): weights_only is not known to be True on every path",
            _LOW,
        )


@R.calls("load")
def numpy_load(call: Call) -> None:
    """LINT-ML06-004: np.load(allow_pickle=True)."""
    if not call.matches("numpy.load") or _guarded(call):
        return
    flag = call.arg("allow_pickle", 2)
    if flag is None:
        return
    truth = may_be_true(flag)
    if truth:
        call.report("LINT-ML06-004", "numpy.load(allow_pickle=True) unpickles object arrays")
    elif truth is None:
        call.report("LINT-ML06-004", "numpy.load(): allow_pickle may be True", _LOW)


@R.calls("read_pickle")
def pandas_read_pickle(call: Call) -> None:
    """LINT-ML06-005: pandas.read_pickle."""
    if _guarded(call) or not any(
        n.startswith("pandas") or n.endswith("read_pickle") for n in call.names
    ):
        return
    call.report(
        "LINT-ML06-005", "pandas.read_pickle() unpickles the file: loading it runs its code"
    )


def _is_keras(name: str) -> bool:
    return name.startswith("keras.") or name.startswith("tensorflow.keras")


@R.calls("load_model", "model_from_json", "deserialize_keras_object")
def keras_unsafe(call: Call) -> None:
    """LINT-ML06-006: Keras loads with safe_mode=False."""
    if not any(_is_keras(n) for n in call.names):
        return
    flag = call.arg("safe_mode")
    if flag is None:
        return
    if flag.maybe(False) or flag.maybe(0):
        call.report("LINT-ML06-006", "Keras load with safe_mode=False runs Lambda-layer code")
    elif not flag.always(True):
        call.report("LINT-ML06-006", "Keras load: safe_mode may be False on some path", _LOW)


@R.calls("enable_unsafe_deserialization")
def keras_enable_unsafe(call: Call) -> None:
    """LINT-ML06-006: keras.config.enable_unsafe_deserialization()."""
    if any(_is_keras(n) or "keras" in n for n in call.names):
        call.report(
            "LINT-ML06-006",
            "enable_unsafe_deserialization() turns Keras safe mode off for the whole process",
        )


@R.calls("load", "load_all", "unsafe_load", "unsafe_load_all", "full_load", "full_load_all")
def yaml_load(call: Call) -> None:
    """LINT-ML06-007: yaml.load with a loader that constructs Python objects."""
    direct = _first(call, _YAML_UNSAFE_FNS)
    if direct is not None:
        call.report("LINT-ML06-007", f"{direct}() constructs arbitrary Python objects")
        return
    if not call.matches("yaml.load", "yaml.load_all"):
        return
    loader = call.arg("Loader", 1)
    if loader is None:
        call.report(
            "LINT-ML06-007", "yaml.load() without a Loader (unsafe default in PyYAML < 5.1)"
        )
        return
    verdict = _yaml_verdict(call, loader)
    if verdict is False:
        call.report("LINT-ML06-007", "yaml.load() with a loader that constructs Python objects")
    elif verdict is None:
        call.report(
            "LINT-ML06-007", "yaml.load(): the Loader is not known to be a SafeLoader", _LOW
        )


def _yaml_verdict(call: Call, loader: AV) -> bool | None:
    """True: safe on every path; False: unsafe on some path; None: unknown."""
    refs = loader.refs()
    verdict: bool | None = True
    for ref in refs:
        kind = _loader_kind(call, ref)
        if kind is False:
            return False
        if kind is None:
            verdict = None
    if loader.unknown or not refs:
        return None if verdict is not False else False
    return verdict


def _loader_kind(call: Call, ref: str) -> bool | None:
    if ref in _SAFE_YAML:
        return True
    if ref in _UNSAFE_YAML:
        return False
    if ref.startswith("local:"):
        bases = call.ctx.class_bases(ref[6:])
        if bases & _UNSAFE_YAML:
            return False
        if bases & _SAFE_YAML:
            return True
    return None


@R.calls("YAML")
def ruamel_unsafe(call: Call) -> None:
    """LINT-ML06-007: ruamel.yaml YAML(typ='unsafe')."""
    if call.matches_prefix("ruamel") and (call.arg("typ", 0) or AV()).maybe("unsafe"):
        call.report(
            "LINT-ML06-007", "ruamel YAML(typ='unsafe') constructs arbitrary Python objects"
        )


@R.calls("extractall", "unpack_archive")
def archive_extract(call: Call) -> None:
    """LINT-ML06-012: extracting a downloaded archive without a member filter."""
    is_tar = call.matches_prefix(*_TAR_OPENERS) or call.matches("shutil.unpack_archive")
    is_zip = call.matches_prefix(*_ZIP_OPENERS)
    if not (is_tar or is_zip):
        return
    downloaded = "download" in call.frame.events or any(
        REMOTE in v.taints for v in [*call.args, *((call.receiver and [call.receiver]) or [])]
    )
    if not downloaded or call.has_keyword("members"):
        return
    if is_tar:
        flag = call.arg("filter")
        if flag is not None and not flag.maybe("fully_trusted") and not flag.maybe(None):
            return
        call.report(
            "LINT-ML06-012",
            "extracting a downloaded tar archive without filter='data' allows path traversal",
        )
    else:
        call.report(
            "LINT-ML06-012",
            "extracting a downloaded zip archive without checking its members",
            _MED,
        )


_MLFLOW_FLAVOUR_LOAD = ("load_model", "load_pyfunc")


def _mlflow_load(call: Call) -> str | None:
    for name in call.names:
        if name.startswith("mlflow.") and name.rpartition(".")[2] in _MLFLOW_FLAVOUR_LOAD:
            return name
    return None


def _registry_uri(value: AV | None) -> bool | None:
    if value is None:
        return None
    starts = value.prefixes()
    if any(s.startswith("models:/") for s in starts):
        return True
    return None if value.unknown and not starts else False


@R.calls("load_model", "load_pyfunc", "download_artifacts", "use_artifact")
def registry_load(call: Call) -> None:
    """LINT-ML06-011 (MLflow load without verification) and LINT-ML10-001 (registry load)."""
    if call.terminal == "use_artifact" or call.text.endswith("use_artifact"):
        call.report_unless(
            "guard-or-gate",
            "LINT-ML10-001",
            "model artifact pulled from the registry with no digest verification or metric gate",
            _MED,
        )
        return
    name = _mlflow_load(call) or (
        call.matches_prefix("mlflow.artifacts.download_artifacts") and "mlflow.download"
    )
    if not name:
        return
    uri = call.arg("model_uri", 0) if "download" not in name else call.arg("artifact_uri", 0)
    if _registry_uri(uri):
        call.report_unless(
            "guard-or-gate",
            "LINT-ML10-001",
            "model loaded from the registry (models:/) with no signature/hash check or metric gate",
        )
    elif "download" not in name:
        call.report_unless(
            "guard",
            "LINT-ML06-011",
            f"{name}() unpickles the model with no digest or signature check",
            _MED,
        )
