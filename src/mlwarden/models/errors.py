"""Errors raised by model adapters, model loading and the adapter conformance suite."""

from __future__ import annotations

from mlwarden.errors import InputError, MlwardenError, UsageError


class ModelLoadError(InputError):
    """A model file or endpoint cannot be turned into an adapter."""

    hint = (
        "Check the path or URL and the keyword arguments the loader names (input_shape, "
        "n_classes, module_factory, ...); `pip install 'mlwarden[audit]'` for the adapters."
    )


class UnsafeModel(ModelLoadError):
    """The artifact scanner found something in a model file that mlwarden refuses to load."""

    hint = (
        "Run `mlwarden scan FILE` for the details. Re-export the model in a safe format "
        "(ONNX, safetensors, TorchScript) or, if a reviewed global is merely unknown, add it "
        "to [scan] allow in mlwarden.toml."
    )


class ModelOutputError(MlwardenError):
    """A model answered something an adapter cannot map to mlwarden's conventions."""

    hint = "Pass classes=[...] (the model's labels in index order) or n_classes= to the adapter."


class InputShapeError(UsageError):
    """Inputs given to an adapter do not have the model's input shape."""

    hint = "Inputs are float arrays of shape (n, *input_shape); reshape the data to match."


class QueryBudgetExceeded(MlwardenError):
    """A call would send more queries than the adapter's ``max_queries`` allows."""

    hint = "Raise max_queries (--budget) or lower the number of samples or attack iterations."


class RemoteModelError(MlwardenError):
    """A remote inference endpoint refused a request or answered something unusable."""

    hint = (
        "Check the URL, the protocol (oip-v2 or mlwarden), the model name and the API key; "
        "a 429 or 503 that persists means the service is throttling: lower rate_per_second."
    )


class AdapterCheckFailed(MlwardenError):
    """A model adapter broke one rule of the conformance suite (the message names the check)."""

    hint = "Fix the adapter so that it follows the conventions in mlwarden.models.base."

    def __init__(self, check: str, message: str) -> None:
        super().__init__(f"[{check}] {message}")
        self.check = check
