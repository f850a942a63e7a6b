"""Data-flow knowledge: where tainted data comes from, what cleans it, what a call returns.

The interpreter asks :func:`call_result` for the abstract value of every call: the taints of
the arguments flow into the result unless the callee is a validator (a schema check, a bounds
check, an outlier filter, a provenance hash), a label reducer (``argmax``) or a source of its
own (``predict_proba`` gives probabilities, ``requests.get`` gives remote data, an unpinned
``from_pretrained`` gives an untrusted model). Names are matched on the callee's qualified
names, so ``from sklearn.ensemble import IsolationForest as IF`` still counts as outlier
filtering.
"""

from __future__ import annotations

import re
from functools import lru_cache

from mlwarden.linter import hubs
from mlwarden.linter.context import Call, FileContext
from mlwarden.linter.values import (
    AV,
    FEEDBACK,
    LOCAL,
    PROBA,
    REMOTE,
    REQUEST,
    UNKNOWN,
    DictV,
    Inst,
    Ref,
)

#: Taint given to models (and everything derived) loaded from an unpinned, untrusted source.
UNTRUSTED = "untrusted"

_NONE: frozenset[str] = frozenset()
_CLEAN_INPUT = frozenset((REQUEST, REMOTE, FEEDBACK))
_PROBA = frozenset((PROBA,))
_REMOTE = frozenset((REMOTE,))
_REQUEST = frozenset((REQUEST,))
_FEEDBACK = frozenset((FEEDBACK,))
_LOCAL = frozenset((LOCAL,))
_UNTRUSTED = frozenset((UNTRUSTED,))

# A callee whose name says it validates, filters or vouches for data (word parts, any case).
_VALIDATOR = re.compile(
    r"valid|schema|sanitiz|saniti[sz]e|clip|clamp|bound|in_range|check_range|range_check|"
    r"outlier|anomal|isolationforest|localoutlierfactor|ellipticenvelope|oneclasssvm|zscore|"
    r"z_score|poison|provenance|checksum|verify|pandera|great_expectations|expect_column|"
    r"model_validate|parse_obj|parse_raw|conform|check_input|check_data|check_feature|"
    r"assert_valid|ensure_valid|guard|dedup|drop_duplicates|between|quantile|filter_",
    re.IGNORECASE,
)
_LABEL_ONLY = re.compile(
    r"argmax|argsort|label_only|top_k|topk|output_policy|coarsen|to_label|idxmax|nanargmax",
    re.IGNORECASE,
)
_PROBA_SOURCES = frozenset(
    (
        "predict_proba",
        "predict_log_proba",
        "decision_function",
        "softmax",
        "log_softmax",
        "sigmoid",
        "expit",
        "predict_scores",
        "score_samples",
        "get_confidence",
    )
)
_PREDICT = frozenset(
    (
        "predict",
        "predict_proba",
        "predict_log_proba",
        "decision_function",
        "forward",
        "generate",
        "infer",
        "inference",
        "run_inference",
        "classify",
        "score_samples",
    )
)
_MODELISH = re.compile(
    r"^(?:\w+_)?(?:model|clf|classifier|regressor|estimator|net|pipe|pipeline|predictor|"
    r"transformer|bert|gpt|llm|cnn|rnn|lstm|resnet|vit|detector|scorer|ranker|network)$",
    re.IGNORECASE,
)
#: Calls that return a model object: calling their result runs the model.
_MODEL_MAKERS = (
    "from_pretrained()",
    "load_model()",
    "torch.load()",
    "torch.jit.load()",
    "joblib.load()",
    "torch.hub.load()",
    "create_model()",
    "InferenceSession()",
    "SentenceTransformer()",
)
_LIBRARIES = (
    "transformers.",
    "sklearn.",
    "torch.",
    "keras.",
    "tensorflow.",
    "xgboost.",
    "lightgbm.",
    "catboost.",
    "sentence_transformers.",
    "diffusers.",
    "timm.",
    "onnxruntime.",
)
_REMOTE_FETCH = (
    "requests.",
    "httpx.",
    "urllib.request.urlopen",
    "urllib.request.urlretrieve",
    "urllib3.",
    "aiohttp.",
    "wget.download",
    "gdown.download",
    "kagglehub.",
    "boto3.",
    "google.cloud.storage",
    "datasets.load_dataset",
    "keras.utils.get_file",
    "torch.hub.download_url_to_file",
    "huggingface_hub.hf_hub_download",
    "huggingface_hub.snapshot_download",
)
_REQUEST_SOURCES = frozenset(
    (
        "flask.request",
        "quart.request",
        "bottle.request",
        "sanic.request",
        "streamlit.text_input",
        "streamlit.number_input",
        "streamlit.text_area",
        "streamlit.file_uploader",
        "streamlit.camera_input",
        "streamlit.data_editor",
        "sys.stdin",
        "input",
    )
)
_LOCAL_PATHS = (
    "pathlib.Path",
    "os.path.",
    "os.getcwd",
    "pathlib.PurePath",
    "tempfile.",
    "local:",
)
_MONITOR = re.compile(
    r"monitor|drift|observe|prometheus|metric|telemetry|statsd|whylogs|evidently|arize|"
    r"log_prediction|log_inference|audit|track_|record_|\.inc$|histogram|counter",
    re.IGNORECASE,
)
_DRIFT = re.compile(
    r"drift|ks_2samp|kstest|psi|population_stability|wasserstein|chi2|detect|monitor|valid|"
    r"outlier|anomal|check_|verify|sanity|guard|evidently|alibi",
    re.IGNORECASE,
)
_GUARD = re.compile(
    r"verify|check_hash|check_integrity|checksum|signature|compare_digest|assert_hash|"
    r"validate_hash|check_sha|check_digest|hash_matches|verify_digest|sigstore|model_signing",
    re.IGNORECASE,
)


_VALIDATES, _REDUCES, _MONITORS, _DRIFTS, _GUARDS = 1, 2, 4, 8, 16
_TRUSTED_GUARDS = frozenset(("mlwarden.verify", "mlwarden.safe_load"))


@lru_cache(maxsize=32768)
def _flags(name: str) -> int:
    """What a callee name says it does, as bit flags (names repeat: computed once each)."""
    flags = 0
    if _VALIDATOR.search(name.rpartition("?")[2]):
        flags |= _VALIDATES
    if _LABEL_ONLY.search(name):
        flags |= _REDUCES
    if _MONITOR.search(name):
        flags |= _MONITORS
    if _DRIFT.search(name):
        flags |= _DRIFTS
    if _GUARD.search(name) or name in _TRUSTED_GUARDS:
        flags |= _GUARDS
    return flags


def _any(names: tuple[str, ...], flag: int) -> bool:
    # NOTE: a plain loop, not any(genexpr): this runs for every call of every file.
    for name in names:  # noqa: SIM110
        if _flags(name) & flag:
            return True
    return False


def is_validator(names: tuple[str, ...]) -> bool:
    return _any(names, _VALIDATES)


def is_label_reducer(names: tuple[str, ...]) -> bool:
    return _any(names, _REDUCES)


def is_monitor(names: tuple[str, ...]) -> bool:
    return _any(names, _MONITORS)


def is_drift_check(names: tuple[str, ...]) -> bool:
    return _any(names, _DRIFTS)


def is_guard(names: tuple[str, ...]) -> bool:
    """A hash or signature check (``mlwarden.verify``, ``hmac.compare_digest``, ...)."""
    return _any(names, _GUARDS)


_SCHEMA_BASES = (
    "pydantic.BaseModel",
    "pydantic.v1.BaseModel",
    "sqlmodel.SQLModel",
    "msgspec.Struct",
    "marshmallow.Schema",
)


PREDICT_METHODS = _PREDICT


def is_schema_class(ctx: FileContext, names: list[str] | tuple[str, ...]) -> bool:
    """Whether any of ``names`` is a pydantic/marshmallow/msgspec model (local or imported)."""
    for name in names:
        if name.startswith(_SCHEMA_BASES):
            return True
        if name.startswith("local:"):
            bases = ctx.class_bases(name[6:].partition(".")[0])
            if any(b.startswith(_SCHEMA_BASES) for b in bases):
                return True
    return False


def is_request_source(name: str) -> bool:
    return name in _REQUEST_SOURCES


def is_prediction(call: Call) -> bool:
    """A model inference call: ``predict``-family methods or calling a model-like object."""
    if call.terminal in _PREDICT:
        return True
    if any(n.startswith("local:") for n in call.names):
        return False  # a helper of this file: followed into, not a model call
    if any(n.endswith(_MODEL_MAKERS) for n in call.names):
        return True
    last = call.text.rpartition(".")[2]
    if not last or not _MODELISH.search(last):
        return False
    # ``pipeline(...)``/``MLPClassifier(...)`` build a model; calling a model object (a
    # variable, an attribute, or one imported from the project) runs it.
    return not any(n.startswith(_LIBRARIES) and not n.endswith("()") for n in call.names)


_KIND_REMOTE, _KIND_REQUEST, _KIND_LOCAL, _KIND_FEEDBACK = 1, 2, 4, 8
#: Message streams: what an online learner consumes there is user-driven feedback.
_STREAMS = (
    "kafka.KafkaConsumer",
    "confluent_kafka.Consumer",
    "aiokafka.AIOKafkaConsumer",
    "google.cloud.pubsub",
    "pika.",
    "redis.Redis().pubsub",
    "boto3.client().receive_message",
)


@lru_cache(maxsize=16384)
def _name_kind(name: str) -> int:
    """Bit flags of what calling ``name`` yields (remote data, request data, a local path)."""
    kind = 0
    if name.startswith(_REMOTE_FETCH):
        kind |= _KIND_REMOTE
    if name in _REQUEST_SOURCES:
        kind |= _KIND_REQUEST
    if name.startswith(_LOCAL_PATHS):
        kind |= _KIND_LOCAL
    if name.startswith(_STREAMS):
        kind |= _KIND_FEEDBACK
    return kind


def call_result(call: Call) -> AV:
    """The abstract value a call returns (taints and, where known, the object it makes)."""
    names = call.names
    taints = _NONE
    for value in call.args:
        if value.taints:
            taints = taints | value.taints
    for value in call.kwargs.values():
        if value.taints:
            taints = taints | value.taints
    if call.receiver is not None and call.receiver.taints:
        taints = taints | call.receiver.taints
    terminal = call.terminal
    if taints:
        taints = _cleaned(call, names, terminal, taints)
    kind = 0
    for name in names:
        kind |= _name_kind(name)
    if terminal in _PROBA_SOURCES or _scores_out(call, terminal):
        taints |= _PROBA
    if kind & _KIND_REMOTE:
        taints |= _REMOTE
        call.frame.events.add("download")
        _remember_download_targets(call)
    if kind & _KIND_REQUEST:
        taints |= _REQUEST
    if kind & _KIND_FEEDBACK:
        taints |= _FEEDBACK
    if terminal in hubs.HUB_TERMINALS:
        if hubs.untrusted(call):
            taints |= _UNTRUSTED
        if terminal in ("hf_hub_download", "snapshot_download"):
            taints |= _LOCAL  # the download itself is judged where it happens
    elif kind & _KIND_LOCAL and REMOTE not in taints:
        taints |= _LOCAL
    return _value(call, names, taints)


_NEURAL = ("keras.", "tensorflow.", "torch.", "transformers.", "onnxruntime.", "timm.")


def _scores_out(call: Call, terminal: str) -> bool:
    """Calls whose answer is scores, not labels: a neural net's ``predict`` or forward call,
    a transformers pipeline."""
    if terminal == "pipeline()":
        return any(n.startswith("transformers.pipeline") for n in call.names)
    if terminal == "predict":
        return any(n.startswith(_NEURAL) and "()." in n for n in call.names)
    if call.frame.route is None or terminal in _PREDICT:
        return False
    return is_prediction(call)


def _cleaned(
    call: Call, names: tuple[str, ...], terminal: str, taints: frozenset[str]
) -> frozenset[str]:
    if taints & _CLEAN_INPUT and (
        is_validator(names) or is_schema_class(call.ctx, [n.rstrip("()") for n in names])
    ):
        taints -= _CLEAN_INPUT
    if PROBA in taints and is_label_reducer(names):
        taints -= _PROBA
    if terminal in _PREDICT and terminal not in _PROBA_SOURCES:
        taints -= frozenset((REQUEST, PROBA))
    return taints


_SAVES_TO = frozenset(("urlretrieve", "download", "download_url_to_file", "download_file"))


def _remember_download_targets(call: Call) -> None:
    """``urlretrieve(url, "train.csv")``: the local name now holds remote content."""
    if call.terminal not in _SAVES_TO:
        return
    targets = call.args[1:2] + [
        v for k, v in call.kwargs.items() if k in ("filename", "dst", "out")
    ]
    for value in targets:
        call.ctx.downloaded.update(value.strings())


def _value(call: Call, names: tuple[str, ...], taints: frozenset[str]) -> AV:
    if names and names[0] == "getattr" and len(call.args) >= 2:
        base, attr = call.args[0], call.args[1]
        atoms: set[object] = {Ref(f"{r}.{s}") for r in base.refs() for s in attr.strings()}
        unknown = not atoms or attr.unknown
        out = AV(frozenset(atoms), unknown, taints)  # type: ignore[arg-type]
        return out.join(call.args[2]) if len(call.args) > 2 else out
    if names and names[0] == "dict" and not call.args and not call.star_kwargs:
        return AV(frozenset((DictV(tuple(call.kwargs.items())),)), False, taints)
    qualified = [n for n in names[:2] if "?" not in n]
    if not qualified:
        return AV(frozenset(), True, taints) if taints else UNKNOWN
    return AV(frozenset(Inst(n) for n in qualified), True, taints)


def with_request(value: AV) -> AV:
    return value.tainted(_REQUEST)


def with_untrusted(value: AV) -> AV:
    return value.tainted(_UNTRUSTED)


def with_local(value: AV) -> AV:
    return value.tainted(_LOCAL)
