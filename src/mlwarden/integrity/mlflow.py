"""MLflow model directories: read ``MLmodel`` and resolve the artifacts its flavors load.

An MLflow model is a directory with an ``MLmodel`` YAML file whose flavors name the files
that loaders open (``pickled_model``, ``data``, ``model_data``, ``python_model``, ``code``,
...). Verification checks that each of them stays inside the directory and is covered by
the signature; ``safe_load`` picks a flavor it can load without running code. PyYAML (extra
``mlflow``) parses the file with its safe loader; MLflow itself is never imported.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlwarden.integrity.errors import NoSafeLoaderError, Problem
from mlwarden.integrity.manifest import check_name

MLMODEL = "MLmodel"
_MAX_MLMODEL_BYTES = 4 * 1024 * 1024
#: Flavor keys whose value is a path, relative to the model directory, that a loader reads.
PATH_KEYS = frozenset(
    {
        "pickled_model",
        "data",
        "model_data",
        "model_path",
        "python_model",
        "code",
        "saved_model_dir",
        "model_binary",
        "conda",
        "virtualenv",
        "path",
    }
)
#: Flavors safe_load can use, best first, with the key naming the file to load.
LOADABLE: tuple[tuple[str, str], ...] = (
    ("onnx", "data"),
    ("sklearn", "pickled_model"),
    ("pytorch", "model_data"),
)


@dataclass(frozen=True)
class MLflowModel:
    """The parsed ``MLmodel`` of a model directory."""

    root: Path
    flavors: Mapping[str, Mapping[str, Any]]

    def referenced(self) -> list[tuple[str, str]]:
        """Every ``(flavor.key, path)`` the flavors reference, nested values included."""
        out: list[tuple[str, str]] = []
        for flavor, conf in self.flavors.items():
            out.extend((f"{flavor}.{k}", v) for k, v in _paths(conf))
        return out

    def artifact(self) -> tuple[str, str, Mapping[str, Any]]:
        """The flavor safe_load uses, the relative path of its model file, and its config.

        Raises:
            NoSafeLoaderError: only flavors that load by running code (custom pyfunc, ...).
        """
        for flavor, key in LOADABLE:
            conf = self.flavors.get(flavor)
            if isinstance(conf, Mapping) and isinstance(conf.get(key), str):
                return flavor, conf[key], conf
        raise NoSafeLoaderError(
            f"MLflow model with flavors {', '.join(sorted(self.flavors)) or 'none'}: none of "
            f"them ({', '.join(f for f, _ in LOADABLE)}) can be loaded without running code"
        )


def _paths(conf: object, prefix: str = "") -> Iterator[tuple[str, str]]:
    if isinstance(conf, Mapping):
        for key, value in conf.items():
            name = f"{prefix}{key}"
            if isinstance(value, str) and str(key) in PATH_KEYS:
                yield name, value
            elif isinstance(value, (Mapping, list)):
                yield from _paths(value, name + ".")
    elif isinstance(conf, list):
        for i, value in enumerate(conf):
            if isinstance(value, str) and prefix.rstrip(".").endswith("code"):
                yield f"{prefix}{i}", value
            elif isinstance(value, (Mapping, list)):
                yield from _paths(value, f"{prefix}{i}.")


def is_mlflow_model(path: Path) -> bool:
    return path.is_dir() and (path / MLMODEL).is_file()


def parse_mlmodel(text: str | bytes, root: Path) -> MLflowModel:
    """Parse MLmodel YAML with PyYAML's safe loader.

    Raises:
        NoSafeLoaderError: PyYAML is missing, or the file is not an MLmodel mapping.
    """
    try:
        import yaml
    except ImportError:
        raise NoSafeLoaderError(
            "reading MLmodel needs PyYAML", hint="pip install 'mlwarden[mlflow]'"
        ) from None
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise NoSafeLoaderError(f"MLmodel is not valid YAML: {str(exc)[:200]}") from None
    flavors = doc.get("flavors") if isinstance(doc, dict) else None
    if not isinstance(flavors, dict):
        raise NoSafeLoaderError("MLmodel has no 'flavors' mapping")
    return MLflowModel(root, {str(k): v for k, v in flavors.items() if isinstance(v, dict)})


def read_mlmodel(root: Path) -> MLflowModel:
    path = root / MLMODEL
    if path.stat().st_size > _MAX_MLMODEL_BYTES:
        raise NoSafeLoaderError("MLmodel is larger than 4 MiB")
    return parse_mlmodel(path.read_bytes(), root)


def coverage_problems(model: MLflowModel, signed: set[str]) -> list[Problem]:
    """Artifacts the flavors reference that escape the directory or are not signed."""
    problems: list[Problem] = []
    for where, raw in model.referenced():
        rel = raw.strip().rstrip("/")
        while rel.startswith("./"):
            rel = rel[2:]
        issue = check_name(rel, single_file_ok=False)
        if issue:
            problems.append(
                Problem(
                    "INT-VER-008", f"MLmodel {where} = {raw[:120]!r} {issue}", MLMODEL, actual=raw
                )
            )
        elif rel not in signed and not any(n.startswith(rel + "/") for n in signed):
            problems.append(
                Problem(
                    "INT-VER-008",
                    f"MLmodel {where} = {raw[:120]!r} is not covered by the verified files",
                    rel,
                )
            )
    return problems
