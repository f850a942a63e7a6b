"""Adapter for an ONNX classifier run by ONNX Runtime (the optional ``onnx`` extra).

The model bytes are read once, judged by the artifact scanner, and the same bytes are handed
to ONNX Runtime. Two output layouts are understood: scikit-learn exports from skl2onnx
(a label tensor plus probabilities, as a tensor or as ZipMap's list of dicts) and plain
score models (one ``(n, k)`` float tensor of logits or probabilities).
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mlwarden.findings import Severity
from mlwarden.models._arrays import (
    CountingAdapter,
    Floats,
    LabelMap,
    Labels,
    argmax_labels,
    batch_slices,
    index_labels,
    normalize_rows,
    softmax,
)
from mlwarden.models.base import Capability, MissingCapability
from mlwarden.models.errors import ModelLoadError
from mlwarden.models.guard import DEFAULT_REFUSE_AT, refuse_unsafe
from mlwarden.scan.policy import PicklePolicy

_INPUT_DTYPES = {"tensor(float)": np.float32, "tensor(double)": np.float64}
_OUTPUT_KINDS = ("auto", "probabilities", "logits")


@dataclass(frozen=True)
class _Layout:
    """Which graph input and outputs the adapter uses, and how it reads them."""

    input_name: str
    input_dtype: Any
    model_shape: tuple[int, ...] | None
    score_output: str | None
    label_output: str | None
    zipmap: bool


class OnnxClassifier(CountingAdapter):
    """An ONNX classifier, scanned before it is loaded.

    Args:
        path_or_bytes: a ``.onnx`` file or its bytes.
        input_name: the graph input to feed (default: the only input).
        output: how to read the float score output: ``"probabilities"``, ``"logits"``
            (softmaxed for ``predict_proba``) or ``"auto"`` (ZipMap and skl2onnx layouts,
            then the output's name, then whether its rows on a zero input sum to 1).
        score_output: name of the score output (default: the first float ``(n, k)`` one).
        label_output: name of the label output, used when there is no score output.
        input_shape: shape of one sample (default: from the graph; needed when symbolic).
            Inputs are reshaped to the graph's shape when sizes agree (``(1, 8, 8)`` vs 64).
        n_classes: number of classes, when the graph does not say.
        classes: the model's labels in index order, to map a label output to indices.
        clip: ``(low, high)`` bounds of valid inputs, or ``None`` when unbounded.
        batch_size: samples per ``InferenceSession.run`` call.
        policy: trusted pickle globals (the scan of embedded content uses it).
        refuse_at: scanner findings at or above this severity stop the load.

    Raises:
        UnsafeModel: the scanner found custom operators, external data outside the model
            directory, or anything else at ``refuse_at`` or above.
        ModelLoadError: onnxruntime is missing or cannot load the model.
    """

    def __init__(
        self,
        path_or_bytes: str | Path | bytes,
        *,
        input_name: str | None = None,
        output: str = "auto",
        score_output: str | None = None,
        label_output: str | None = None,
        input_shape: tuple[int, ...] | None = None,
        n_classes: int | None = None,
        classes: list[Any] | None = None,
        clip: tuple[float, float] | None = None,
        batch_size: int = 1024,
        policy: PicklePolicy | None = None,
        refuse_at: Severity = DEFAULT_REFUSE_AT,
    ) -> None:
        if output not in _OUTPUT_KINDS:
            raise ModelLoadError(f"output={output!r}; choose one of {', '.join(_OUTPUT_KINDS)}")
        self.clip = clip
        self.batch_size = int(batch_size)
        self._queries = 0
        self._output = output
        self._labels = LabelMap(classes) if classes is not None else None
        # NOTE: the scan and the session are built here, not lazily: an unsafe model must
        # be refused before an adapter object exists that someone could pass around.
        data, fs_path, self.name = _read(path_or_bytes)
        # The scanner sniffs ONNX by name when the bytes do not start the usual way.
        hint = self.name if self.name.endswith((".onnx", ".ort")) else f"{self.name}.onnx"
        refuse_unsafe(data, hint, fs_path=fs_path, policy=policy, refuse_at=refuse_at)
        self._session = _session(data, fs_path)
        self._layout = _layout(self._session, input_name, score_output, label_output)
        self._input_shape = _input_shape(self._layout, input_shape)
        self._kind = self._score_kind()
        self._n_classes = self._count_classes(n_classes)

    def __repr__(self) -> str:
        return f"OnnxClassifier({self.name!r}, n_classes={self._n_classes})"

    @property
    def capabilities(self) -> frozenset[Capability]:
        caps = {Capability.PREDICT}
        if self._layout.score_output is not None:
            caps.add(Capability.PREDICT_PROBA)
        if self._kind == "logits":
            caps.add(Capability.LOGITS)
        return frozenset(caps)

    def predict(self, x: Floats) -> Labels:
        """Class indices: the argmax of the scores, or the mapped label output."""
        if self._layout.score_output is not None:
            return argmax_labels(self._scores(self._count(x)))
        return self._mapped_labels(self._run_all(self._count(x), self._layout.label_output))

    def predict_proba(self, x: Floats) -> Floats:
        """Class probabilities (softmax of the scores for a logits model)."""
        if self._layout.score_output is None:
            raise MissingCapability("this ONNX model answers labels only")
        scores = self._scores(self._count(x))
        return softmax(scores) if self._kind == "logits" else normalize_rows(scores)

    def logits(self, x: Floats) -> Floats:
        """Raw scores of a logits model."""
        if self._kind != "logits":
            raise MissingCapability("this ONNX model answers probabilities, not logits")
        out: Floats = self._scores(self._count(x)).astype(np.float32)
        return out

    def _scores(self, batch: Floats) -> NDArrayF:
        if len(batch) == 0:
            return np.zeros((0, self._n_classes), dtype=np.float64)
        raw = self._run_all(batch, self._layout.score_output)
        if not self._layout.zipmap:
            return np.asarray(raw, dtype=np.float64).reshape(len(batch), -1)
        rows: list[dict[Any, float]] = list(raw)
        if self._labels is None and rows:
            self._labels = LabelMap(list(rows[0]))
        order = self._labels.match(list(rows[0])) if self._labels is not None and rows else []
        return np.array([[row[c] for c in order] for row in rows], dtype=np.float64)

    def _run_all(self, batch: Floats, name: str | None) -> Any:
        if len(batch) == 0:
            return np.zeros((0,), dtype=np.int64)
        feed = batch.astype(self._layout.input_dtype, copy=False)
        if self._layout.model_shape is not None:
            feed = feed.reshape(len(batch), *self._layout.model_shape)
        parts = [
            self._session.run([name], {self._layout.input_name: feed[s]})[0]
            for s in batch_slices(len(batch), self.batch_size)
        ]
        if self._layout.zipmap and name == self._layout.score_output:
            return [row for part in parts for row in part]
        if not parts:
            return np.zeros((0,), dtype=np.float64)
        return np.concatenate([np.asarray(p) for p in parts])

    def _mapped_labels(self, labels: Any) -> Labels:
        flat = np.asarray(labels).reshape(-1)
        if self._labels is not None:
            return self._labels.to_indices(flat)
        return index_labels(flat, self._n_classes)

    def _score_kind(self) -> str:
        """'probabilities', 'logits' or 'labels' (no score output)."""
        layout = self._layout
        if layout.score_output is None:
            return "labels"
        if self._output != "auto":
            return self._output
        lowered = layout.score_output.lower()
        if layout.zipmap or layout.label_output is not None or "prob" in lowered:
            return "probabilities"
        if "logit" in lowered:
            return "logits"
        probe = self._scores(np.zeros((1, *self._input_shape), dtype=np.float32))
        rows_sum_to_one = np.allclose(probe.sum(axis=1), 1.0, atol=1e-3)
        return "probabilities" if rows_sum_to_one and probe.min() >= 0 else "logits"

    def _count_classes(self, n_classes: int | None) -> int:
        if n_classes is not None:
            return int(n_classes)
        if self._labels is not None:
            return len(self._labels)
        if self._layout.score_output is not None:
            probe = self._scores(np.zeros((1, *self._input_shape), dtype=np.float32))
            return int(probe.shape[1])
        raise ModelLoadError(
            "this ONNX model answers labels only and does not say how many classes it has",
            hint="Pass n_classes= or classes=[...] to OnnxClassifier.",
        )


NDArrayF = np.ndarray[Any, np.dtype[np.float64]]


def _read(path_or_bytes: str | Path | bytes) -> tuple[bytes, Path | None, str]:
    if isinstance(path_or_bytes, (bytes, bytearray, memoryview)):
        return bytes(path_or_bytes), None, "<bytes>"
    path = Path(path_or_bytes)
    try:
        return path.read_bytes(), path.resolve(), path.name
    except OSError as exc:
        raise ModelLoadError(f"cannot read {path}: {exc.strerror or exc}") from None


def _session(data: bytes, fs_path: Path | None) -> Any:
    try:
        import onnxruntime as ort
    except ImportError:
        raise ModelLoadError(
            "onnxruntime is not installed", hint="pip install 'mlwarden[onnx]'"
        ) from None
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    with tempfile.TemporaryDirectory(prefix="mlwarden-onnx-") as empty:
        # External data resolves next to the scanned file, never against the working
        # directory: bytes without a file get an empty folder, so references find nothing.
        folder = str(fs_path.parent) if fs_path is not None else empty
        options.add_session_config_entry(
            "session.model_external_initializers_file_folder_path", folder
        )
        try:
            return ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own untyped exception classes
            raise ModelLoadError(f"onnxruntime cannot load the model: {exc}") from None


def _layout(
    session: Any, input_name: str | None, score_output: str | None, label_output: str | None
) -> _Layout:
    inputs = {i.name: i for i in session.get_inputs()}
    if input_name is None:
        if len(inputs) != 1:
            raise ModelLoadError(
                f"the model has inputs {sorted(inputs)}; pass input_name= to choose one"
            )
        input_name = next(iter(inputs))
    if input_name not in inputs:
        raise ModelLoadError(f"no input {input_name!r}; the model has {sorted(inputs)}")
    node = inputs[input_name]
    dtype = _INPUT_DTYPES.get(node.type)
    if dtype is None:
        raise ModelLoadError(
            f"input {input_name!r} is {node.type}; only float inputs are supported"
        )
    outputs = session.get_outputs()
    scores = [o for o in outputs if _is_scores(o)]
    labels = [o for o in outputs if _is_labels(o)]
    score = _pick(score_output, scores, outputs, "score")
    label = _pick(label_output, labels, outputs, "label")
    if score is None and label is None:
        raise ModelLoadError(
            "the model has no (n, k) float output and no label output: "
            f"{[(o.name, o.type) for o in outputs]}"
        )
    zipmap = score is not None and score.type.startswith("seq(map(")
    dims = node.shape[1:]
    model_shape = tuple(dims) if all(isinstance(d, int) and d > 0 for d in dims) else None
    return _Layout(
        input_name=input_name,
        input_dtype=dtype,
        model_shape=model_shape,
        score_output=score.name if score is not None else None,
        label_output=label.name if label is not None else None,
        zipmap=zipmap,
    )


def _is_scores(out: Any) -> bool:
    if out.type.startswith("seq(map(") and out.type.endswith("tensor(float)))"):
        return True
    return out.type in ("tensor(float)", "tensor(double)") and len(out.shape) == 2


def _is_labels(out: Any) -> bool:
    kinds = ("tensor(int64)", "tensor(int32)", "tensor(string)")
    return out.type in kinds and (len(out.shape) == 1 or out.shape[1:] == [1])


def _pick(name: str | None, candidates: list[Any], outputs: list[Any], what: str) -> Any:
    if name is None:
        return candidates[0] if candidates else None
    found = [o for o in outputs if o.name == name]
    if not found:
        raise ModelLoadError(f"no {what} output {name!r}; outputs: {[o.name for o in outputs]}")
    return found[0]


def _input_shape(layout: _Layout, given: tuple[int, ...] | None) -> tuple[int, ...]:
    if given is None:
        if layout.model_shape is None:
            raise ModelLoadError(
                f"input {layout.input_name!r} has a symbolic shape",
                hint="Pass input_shape=(...) (the shape of one sample) to OnnxClassifier.",
            )
        return layout.model_shape
    shape = tuple(int(d) for d in given)
    if layout.model_shape is not None and int(np.prod(shape)) != int(np.prod(layout.model_shape)):
        raise ModelLoadError(
            f"input_shape {shape} does not fit the model's input shape {layout.model_shape}"
        )
    return shape
