"""Analysis of a parsed Keras model config (legacy h5 JSON or Keras 3 ``config.json``).

Walks the whole config tree iteratively, at any depth (nested models, wrappers, lists,
build/compile configs, JSON strings holding further configs), and reports the constructs
that make ``keras.models.load_model`` run code or import modules: Lambda bytecode, module
references outside Keras, custom objects, external models and safe-mode toggles.
Nothing is imported; module and function names are only compared against tables.
"""

from __future__ import annotations

import base64
import binascii
import json
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import NamedTuple

from mlwarden.findings import Severity
from mlwarden.scan.keras_names import (
    DANGEROUS_FUNCTIONS,
    DANGEROUS_MODULES,
    EXTERNAL_FUNCTIONS,
    EXTERNAL_LOADERS,
    EXTERNAL_PATH_KEYS,
    HARMLESS_BUILTINS,
    KERAS_BUILTIN_FUNCTIONS,
    KERAS_GADGETS,
    KERAS_PACKAGES,
    KNOWN_CLASSES,
    LAMBDA_CLASSES,
    RISKY_TF_OP_PREFIXES,
    SPECIAL_CLASSES,
    UNSAFE_TOGGLES,
)

#: How deep JSON strings that hold further configs are followed.
_MAX_STRING_NESTING = 4
_DEADLINE_EVERY = 4096
#: Marshal type byte of a code object, with and without the FLAG_REF bit.
_CODE_TYPE_BYTES = (0x63, 0xE3)
#: Marshal type byte of the ``co_code`` bytes ('s', with and without FLAG_REF), found after
#: 4 (Python 2), 5 (3.0-3.7, 3.11+) or 6 (3.8-3.10) little-endian int32 header fields.
_BYTES_TYPE = (0x73, 0xF3)
_CODE_FIELD_OFFSETS = (17, 21, 25)
_REFERENCE_KEYS = frozenset({"module", "class_name", "config", "registered_name"})
#: Numbers, booleans and nulls carry no code or names; shorter strings cannot be a
#: safe-mode toggle name, bytecode or a nested config.
_MIN_INTERESTING_STRING = min(16, *(len(name) for name in UNSAFE_TOGGLES))


@dataclass(frozen=True)
class KerasIssue:
    """One problem in a config: the rule, a message, evidence and an optional severity."""

    rule_id: str
    message: str
    evidence: str
    severity: Severity | None = None


class _Node(NamedTuple):
    """A value in the tree; its path is rebuilt from the parents only when reported."""

    value: object
    parent: _Node | None
    key: str
    layer: str
    strings: int = 0
    covered: bool = False

    @property
    def path(self) -> str:
        keys: list[str] = []
        node: _Node | None = self
        while node is not None:
            keys.append(node.key)
            node = node.parent
        return "".join(reversed(keys))

    def child(self, value: object, key: str, layer: str, covered: bool = False) -> _Node:
        return _Node(value, self, key, layer, self.strings, covered)


def analyse_config(root: object, check_deadline: Callable[[], None]) -> list[KerasIssue]:
    """Return the issues in a parsed Keras config, one per rule, evidence and severity.

    Args:
        root: the ``json.loads`` result of a model config (or training config).
        check_deadline: called periodically; raises once the scan's time budget is spent.
    """
    issues: dict[tuple[str, str, Severity | None], KerasIssue] = {}
    stack = [_Node(root, None, "$", "")]
    visited = 0
    while stack:
        node = stack.pop()
        visited += 1
        if visited % _DEADLINE_EVERY == 0:
            check_deadline()
        for issue in _visit(node, stack):
            issues.setdefault((issue.rule_id, issue.evidence, issue.severity), issue)
    return list(issues.values())


def _visit(node: _Node, stack: list[_Node]) -> Iterator[KerasIssue]:
    value = node.value
    if isinstance(value, dict):
        layer = _layer_name(value) or node.layer
        is_object = isinstance(value.get("class_name"), str)
        if is_object:
            yield from _check_object(value, node.path, layer)
        # The names of a module-qualified object are judged by _check_reference already.
        covers = is_object and isinstance(value.get("module"), str)
        for key, child in value.items():
            if key == "safe_mode" and child is False:
                yield _safe_mode_issue(f"{node.path}.{key}", layer)
            if _worth_visiting(child):
                covered = covers and key in _REFERENCE_KEYS
                yield from _push(node.child(child, f".{key}", layer, covered), stack)
    elif isinstance(value, list):
        for i, child in enumerate(value):
            if _worth_visiting(child):
                yield from _push(node.child(child, f"[{i}]", node.layer), stack)


def _worth_visiting(value: object) -> bool:
    """Containers, and strings long enough to be a toggle name, bytecode or a config."""
    if isinstance(value, str):
        return len(value) >= _MIN_INTERESTING_STRING
    return isinstance(value, (dict, list))


def _push(node: _Node, stack: list[_Node]) -> Iterator[KerasIssue]:
    """Queue containers; check strings at once."""
    if isinstance(node.value, str):
        yield from _check_string(node.value, node, stack)
    else:
        stack.append(node)


def _layer_name(obj: dict[str, object]) -> str:
    name = obj.get("name")
    inner = obj.get("config")
    if not isinstance(name, str) and isinstance(inner, dict):
        name = inner.get("name")
    return name if isinstance(name, str) and "class_name" in obj else ""


def _safe_mode_issue(path: str, layer: str) -> KerasIssue:
    return KerasIssue(
        "SCAN-KER-004",
        f"{path} sets safe_mode=False (a nested load that may run Lambda bytecode)",
        layer or path,
    )


def _check_string(text: str, node: _Node, stack: list[_Node]) -> Iterator[KerasIssue]:
    if not node.covered and text.rsplit(".", 1)[-1] in UNSAFE_TOGGLES:
        yield KerasIssue(
            "SCAN-KER-002",
            f"{node.path} names {text!r}, which turns Keras safe mode off",
            f"{node.layer or node.path}: {text}",
            Severity.CRITICAL,
        )
    if looks_like_marshal_code(text):
        yield KerasIssue(
            "SCAN-KER-001",
            f"{node.path} holds marshalled Python bytecode (run when the model loads)",
            node.layer or node.path,
        )
    nested = _nested_config(text, node.strings)
    if nested is not None:
        stack.append(_Node(nested, node, "<json>", node.layer, node.strings + 1))


def _nested_config(text: str, depth: int) -> object | None:
    """A config serialised as a JSON string inside the config (e.g. a nested model_config)."""
    if depth >= _MAX_STRING_NESTING or '"class_name"' not in text:
        return None
    if not text.lstrip().startswith(("{", "[")):
        return None
    try:
        parsed: object = json.loads(text)
    except (ValueError, RecursionError):
        return None
    return parsed


def looks_like_marshal_code(text: str) -> bool:
    """True if ``text`` is (base64 of, or raw latin-1) marshalled Python code object."""
    if len(text) < 24:
        return False
    if text[0] in ("c", "\xe3"):
        try:
            if _is_code_header(text[:32].encode("latin-1")):
                return True
        except UnicodeEncodeError:
            pass
    compact = "".join(text[:96].split())
    compact = compact[: len(compact) // 4 * 4]
    try:
        raw = base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError):
        return False
    return _is_code_header(raw)


def _is_code_header(raw: bytes) -> bool:
    if len(raw) < 26 or raw[0] not in _CODE_TYPE_BYTES:
        return False
    argcount = int.from_bytes(raw[1:5], "little")
    return argcount < 256 and any(raw[k] in _BYTES_TYPE for k in _CODE_FIELD_OFFSETS)


def _check_object(obj: dict[str, object], path: str, layer: str) -> Iterator[KerasIssue]:
    class_name = str(obj["class_name"])
    base = class_name.rsplit(">", 1)[-1]
    inner = obj.get("config")
    where = layer or path
    if base in LAMBDA_CLASSES:
        what = "a serialised Python lambda" if base == "__lambda__" else f"a {base} layer"
        yield KerasIssue(
            "SCAN-KER-001",
            f"{path} is {what}: its function is rebuilt from bytecode or a name at load",
            where,
        )
        yield from _check_legacy_lambda(inner, path, where)
    if base in EXTERNAL_LOADERS:
        yield KerasIssue(
            "SCAN-KER-004", f"{path} is a {base}: it loads a model from outside the file", where
        )
    if isinstance(inner, dict):
        yield from _check_paths(inner, path, where, class_name)
        if base in ("TFOpLambda", "SlicingOpLambda"):
            yield from _check_tf_op(inner, path, where)
    if class_name in SPECIAL_CLASSES:
        return
    yield from _check_reference(obj, class_name, path, where)


def _check_legacy_lambda(inner: object, path: str, where: str) -> Iterator[KerasIssue]:
    """Keras 2 Lambda layers name a module whose globals the function is resolved in."""
    if not isinstance(inner, dict):
        return
    for key in ("module", "output_shape_module"):
        module = inner.get(key)
        if isinstance(module, str) and _top(module) in DANGEROUS_MODULES:
            yield KerasIssue(
                "SCAN-KER-002",
                f"{path} Lambda resolves its function in module {module!r}",
                f"{where}: {module}",
                Severity.CRITICAL,
            )


def _check_paths(
    inner: dict[str, object], path: str, where: str, class_name: str
) -> Iterator[KerasIssue]:
    for key in EXTERNAL_PATH_KEYS:
        target = inner.get(key)
        if isinstance(target, str) and target.strip():
            yield KerasIssue(
                "SCAN-KER-004",
                f"{path} ({class_name}) references the external file {target!r} via {key!r}",
                f"{where}: {target}",
            )


def _check_tf_op(inner: dict[str, object], path: str, where: str) -> Iterator[KerasIssue]:
    """tf.keras op layers call ``tf.<function>`` by name; some of those touch files or Python."""
    function = inner.get("function")
    if isinstance(function, str) and function.startswith(RISKY_TF_OP_PREFIXES):
        yield KerasIssue(
            "SCAN-KER-002",
            f"{path} calls tf.{function}, which reads/writes files or runs Python",
            f"{where}: tf.{function}",
            Severity.HIGH,
        )


def _check_reference(
    obj: dict[str, object], class_name: str, path: str, where: str
) -> Iterator[KerasIssue]:
    module = obj.get("module")
    name = _referenced_name(obj, class_name)
    registered = obj.get("registered_name")
    if not isinstance(module, str) or not module:
        yield from _check_unqualified(class_name, registered, path, where)
    elif _is_keras_module(module):
        yield from _check_keras_reference(module, name, path, where)
    elif _top(module) in ("builtins", "__builtin__"):
        yield from _check_builtins(module, name, path, where)
    elif _top(module) in DANGEROUS_MODULES or name in DANGEROUS_FUNCTIONS:
        yield _module_issue(module, name, path, where, Severity.CRITICAL)
    elif _top(module) in sys.stdlib_module_names:
        yield _module_issue(module, name, path, where, Severity.MEDIUM)
    else:
        reg = registered if isinstance(registered, str) else name
        yield KerasIssue(
            "SCAN-KER-003",
            f"{path} needs custom object {reg!r} from module {module!r} (user code)",
            f"{where}: {module}.{name}",
        )


def _referenced_name(obj: dict[str, object], class_name: str) -> str:
    """The attribute Keras fetches from the module: a function's name or the class name."""
    inner = obj.get("config")
    if class_name == "function" and isinstance(inner, str):
        return inner
    spec = obj.get("spec_name")
    if class_name == "__typespec__" and isinstance(spec, str):
        return spec
    return class_name


def _module_issue(module: str, name: str, path: str, where: str, severity: Severity) -> KerasIssue:
    return KerasIssue(
        "SCAN-KER-002",
        f"{path} makes Keras import {module!r} and fetch {name!r}",
        f"{where}: {module}.{name}",
        severity,
    )


def _check_unqualified(
    class_name: str, registered: object, path: str, where: str
) -> Iterator[KerasIssue]:
    """Objects without a module: built-in Keras classes or custom objects (user code)."""
    for candidate in (class_name, registered):
        if isinstance(candidate, str) and ">" in candidate:
            package, _, base = candidate.rpartition(">")
            if package not in KERAS_PACKAGES and not (
                package == "Custom" and base in KNOWN_CLASSES
            ):
                yield KerasIssue(
                    "SCAN-KER-003", f"{path} needs custom object {candidate!r}", candidate
                )
            return
    if class_name not in KNOWN_CLASSES and class_name != "function":
        yield KerasIssue(
            "SCAN-KER-003",
            f"{path} uses class {class_name!r}, which is not a Keras class (custom object)",
            f"{where}: {class_name}",
        )


def _check_keras_reference(module: str, name: str, path: str, where: str) -> Iterator[KerasIssue]:
    """Keras's own namespace still has gadgets: the safe-mode switch and model loaders."""
    if name in KERAS_GADGETS or module.endswith("global_state"):
        yield _module_issue(module, name, path, where, Severity.CRITICAL)
    elif name in EXTERNAL_FUNCTIONS:
        yield KerasIssue(
            "SCAN-KER-004",
            f"{path} calls {module}.{name}, which loads or downloads another artifact",
            f"{where}: {module}.{name}",
        )


def _check_builtins(module: str, name: str, path: str, where: str) -> Iterator[KerasIssue]:
    """Keras writes module "builtins" for plain functions; it resolves Keras names first."""
    if name in KERAS_BUILTIN_FUNCTIONS:
        return
    severity = Severity.MEDIUM if name in HARMLESS_BUILTINS else Severity.CRITICAL
    yield _module_issue(module, name, path, where, severity)


def _is_keras_module(module: str) -> bool:
    return any(module == p or module.startswith(p + ".") for p in KERAS_PACKAGES)


def _top(module: str) -> str:
    return module.split(".", 1)[0]
