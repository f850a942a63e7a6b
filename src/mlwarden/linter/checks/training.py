"""ML02/ML04/ML08 rules on training code: what a model learns from, and how it generalises.

ML02: ``fit`` on data that came from a URL, a bucket, a hub dataset or a user upload, with
no validation, outlier filtering or provenance hash on the way. ML04: an over-parameterised
``MLPClassifier``/``MLPRegressor`` with neither regularisation nor early stopping, and
training code that ships or scores a model without ever comparing its train and test
scores. ML08: online learning (``partial_fit``, ``learn_one``) on user feedback with no
drift or sanity check first.
"""

from __future__ import annotations

import ast
import re

from mlwarden.findings import Confidence
from mlwarden.linter import flow
from mlwarden.linter.checks.base import REGISTRY as R
from mlwarden.linter.context import Call, FileContext
from mlwarden.linter.syntax import dotted
from mlwarden.linter.values import AV, FEEDBACK, REMOTE, REQUEST, TupleV

_HIGH, _MED, _LOW = Confidence.HIGH, Confidence.MEDIUM, Confidence.LOW
_PREPROCESSOR = re.compile(
    r"scal|encod|vectori|imput|normali|pca|tokeniz|transform|binariz|selector", re.IGNORECASE
)
_TRAIN_FNS = ("xgboost.train", "lightgbm.train", "catboost.train", "xgboost.XGB")
_FEEDBACK_TEXT = re.compile(
    r"feedback|correction|user_label|reported|complaint|vote|rating|flagged", re.IGNORECASE
)
_TEST_WORDS = re.compile(r"test|val|holdout|dev|eval", re.IGNORECASE)
_TRAIN_WORDS = re.compile(r"train", re.IGNORECASE)
_GAP_TEXT = re.compile(r"gap|overfit|generali[sz]", re.IGNORECASE)
#: Where training-script code lives: the module body, ``main()``, ``train*()``, ``run*()``;
#: library functions that happen to fit something are not training code.
_SCRIPT_SCOPE = re.compile(
    r"^(?:|main|train\w*|run\w*|fit_model|build_model|experiment\w*|fine_?tune\w*)$"
)
_SCORERS = (
    "score",
    "evaluate",
    "accuracy_score",
    "balanced_accuracy_score",
    "f1_score",
    "roc_auc_score",
    "log_loss",
    "precision_score",
    "recall_score",
    "mean_squared_error",
    "mean_absolute_error",
    "r2_score",
    "classification_report",
    "confusion_matrix",
)
_BOTH_SPLITS = ("cross_validate", "learning_curve", "validation_curve")
_EXPORTS = ("dump", "save", "save_model", "log_model", "save_pretrained", "push_to_hub")
_EXPORT_MODULES = ("joblib.", "pickle.", "torch.", "skops.", "mlflow.", "dill.", "cloudpickle.")
_MIN_UNITS = 256
_REGULARISED_ALPHA = 1e-3


def _data(call: Call) -> list[AV]:
    return [*call.args, *call.kwargs.values()]


@R.calls("fit", "fit_generator", "train", lazy=True)
def fit_on_untrusted(call: Call) -> None:
    """LINT-ML02-001: training on remote or user-submitted data nobody validated."""
    receiver = call.text.rpartition(".")[0]
    if call.terminal == "train":
        if call.matches_prefix(*_TRAIN_FNS):
            data = _data(call)
        elif (
            call.receiver is not None
            and not call.args
            and "trainer" in " ".join(call.names).lower()
        ):
            data = [call.receiver]  # Trainer(train_dataset=remote).train(), not torch's mode switch
        else:
            return
    else:
        if not call.args or _PREPROCESSOR.search(receiver):
            return
        data = _data(call)
        call.ctx.fit_calls.append((call.node, receiver, call.frame.scope))
    taints = frozenset().union(*(v.taints for v in data))
    user = REQUEST in taints and call.frame.route is not None
    if not (REMOTE in taints or user) or call.frame.guarded:
        return
    origin = "a user upload or request" if user else "a remote source"
    call.report(
        "LINT-ML02-001",
        f"the model is trained on data from {origin} with no validation, outlier filtering "
        "or provenance hash",
    )


@R.calls("MLPClassifier", "MLPRegressor")
def unregularised_mlp(call: Call) -> None:
    """LINT-ML04-001: a large MLP with no regularisation and no early stopping."""
    early = call.arg("early_stopping")
    if early is not None and flow_truth(early) is not False:
        return
    alpha = call.arg("alpha")
    alphas = [a for a in (alpha.atoms if alpha else ()) if isinstance(a, int | float)]
    if alpha is not None and alphas and min(alphas) >= _REGULARISED_ALPHA and not alpha.unknown:
        return
    units = _hidden_units(call.arg("hidden_layer_sizes", 0))
    if units is not None and units < _MIN_UNITS:
        return
    unsure = units is None or (alpha is not None and alpha.unknown)
    call.report(
        "LINT-ML04-001",
        f"{call.terminal} with {units or 'unknown'} hidden units, alpha <= 1e-3 and no early "
        "stopping memorises its training set",
        _LOW if unsure else _HIGH,
    )


def flow_truth(value: AV) -> bool | None:
    if value.always(True):
        return True
    if value.always(False):
        return False
    return None


def _hidden_units(value: AV | None) -> int | None:
    if value is None:
        return 100  # scikit-learn's default (100,)
    if value.unknown or len(value.atoms) != 1:
        return None
    (atom,) = value.atoms
    if isinstance(atom, int) and not isinstance(atom, bool):
        return atom
    if isinstance(atom, TupleV):
        sizes = [a for item in atom.items for a in item.atoms if isinstance(a, int)]
        if len(sizes) == len(atom.items) and not any(i.unknown for i in atom.items):
            return sum(sizes)
    return None


@R.calls(*_SCORERS, *_BOTH_SPLITS, "predict", "predict_proba", lazy=True)
def evaluation(call: Call) -> None:
    """Records which splits the module scores its model on (for the gap check)."""
    if call.terminal in _BOTH_SPLITS:
        both = call.terminal == "learning_curve" or (call.arg("return_train_score") or AV()).always(
            True
        )
        if both:
            call.ctx.events.update(("eval-train", "eval-test"))
        return
    for node in [*call.node.args, *(kw.value for kw in call.node.keywords)]:
        for sub in ast.walk(node):
            if isinstance(sub, ast.Name | ast.Attribute):
                text = dotted(sub)
                if _TRAIN_WORDS.search(text):
                    call.ctx.events.add("eval-train")
                elif _TEST_WORDS.search(text):
                    call.ctx.events.add("eval-test")


@R.calls(*_EXPORTS, lazy=True)
def export(call: Call) -> None:
    """Records model exports (for the gap check)."""
    if call.terminal in ("save", "save_pretrained", "push_to_hub") and call.receiver is not None:
        call.ctx.events.add("export:" + call.text.rpartition(".")[0])
    elif call.matches_prefix(*_EXPORT_MODULES) and call.node.args:
        call.ctx.events.add("export:" + dotted(call.node.args[0]))
    else:
        return
    call.ctx.events.add("export")


@R.modules
def missing_gap_check(ctx: FileContext) -> None:
    """LINT-ML04-002: training code that never compares train and test scores."""
    if not ctx.fit_calls or ctx.is_test_file:
        return
    events = ctx.events
    if "export" not in events and "eval-test" not in events:
        return  # not a training script: a helper that fits something
    if {"eval-train", "eval-test"} <= events or _GAP_TEXT.search("\n".join(ctx.lines)):
        return
    fits = [f for f in ctx.fit_calls if _SCRIPT_SCOPE.match(f[2].rpartition(".")[2])]
    exported = [f for f in fits if f"export:{f[1]}" in events]
    for node, _, scope in exported or fits[-1:]:
        ctx.report(
            "LINT-ML04-002",
            node,
            "the model is shipped or scored without comparing train and test scores "
            "(a large gap means it memorised members)",
            Confidence.MEDIUM,
            scope=scope,
        )


@R.calls("partial_fit", "learn_one", "learn_many")
def online_learning(call: Call) -> None:
    """LINT-ML08-001: online learning on user feedback with no drift check first."""
    data = _data(call)
    taints = frozenset().union(*(v.taints for v in data))
    texts = " ".join(
        dotted(n) for a in call.node.args for n in ast.walk(a) if isinstance(n, ast.Name)
    )
    scope = call.frame.func.name if call.frame.func is not None else ""
    feedback = bool(taints & {REQUEST, FEEDBACK}) or bool(
        _FEEDBACK_TEXT.search(texts + " " + scope)
    )
    if not feedback or _drift_checked(call):
        return
    call.report(
        "LINT-ML08-001",
        f"{call.terminal}() learns from user feedback with no drift or sanity check first",
    )


def _drift_checked(call: Call) -> bool:
    """A drift or sanity check before the learning call, in its function (or, at module
    level, in its top-level statement: the consumer loop): a checking call, or a test on a
    drift flag (``if detector.drift_detected: ...``). Building a detector is no check."""
    line = call.node.lineno
    root: ast.AST | None = call.frame.func
    if root is None:
        root = next(
            (s for s in call.ctx.tree.body if s.lineno <= line <= (s.end_lineno or line)), None
        )
    for sub in ast.walk(root) if root is not None else ():
        if getattr(sub, "lineno", line) >= line:
            continue
        if isinstance(sub, ast.Call):
            name = dotted(sub.func)
            if name.rpartition(".")[2][:1].islower() and flow.is_drift_check((name,)):
                return True
        elif isinstance(sub, ast.If | ast.Assert | ast.While):
            test = ast.dump(sub.test).lower()
            if "drift" in test or "anomal" in test or "outlier" in test:
                return True
    return False
