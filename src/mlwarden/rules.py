"""The rule catalogue: every rule id mlwarden can report, with risk, CWE and docs.

A finding carries only its rule id; everything that is the same for all findings of a rule
(OWASP risk, CWE, default severity, remediation, documentation) lives here once.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from mlwarden.errors import PluginError
from mlwarden.findings import Severity
from mlwarden.risks import RiskId


@dataclass(frozen=True)
class Rule:
    """A stable rule: its id never changes meaning once released."""

    id: str
    name: str
    risk: RiskId
    cwe: int
    severity: Severity
    summary: str
    why: str
    fix: str
    references: tuple[str, ...] = ()
    example: str = ""

    @property
    def cwe_id(self) -> str:
        return f"CWE-{self.cwe}"

    @property
    def help_uri(self) -> str:
        return f"https://github.com/mlwarden/mlwarden/blob/main/docs/rules/{self.id}.md"


_PICKLE_REFS = (
    "https://docs.python.org/3/library/pickle.html#restricting-globals",
    "https://owasp.org/www-project-machine-learning-security-top-10/docs/ML06_2023-AI_Supply_Chain_Attacks",
)
_ML06 = RiskId.ML06
_ML10 = RiskId.ML10


def _r(
    rule_id: str,
    name: str,
    risk: RiskId,
    cwe: int,
    severity: Severity,
    summary: str,
    why: str,
    fix: str,
    references: tuple[str, ...] = _PICKLE_REFS,
) -> Rule:
    return Rule(rule_id, name, risk, cwe, severity, summary, why, fix, references)


_C, _H, _M, _L = Severity.CRITICAL, Severity.HIGH, Severity.MEDIUM, Severity.LOW
_LOAD_SAFE = (
    "Do not load the file. Re-export the model to a format that cannot run code "
    "(safetensors, ONNX, skops) from a trusted environment, or load with "
    "torch.load(weights_only=True) / numpy.load(allow_pickle=False)."
)

_SCAN_RULES: tuple[Rule, ...] = (
    _r(
        "SCAN-PKL-001",
        "pickle-dangerous-global",
        _ML06,
        502,
        _C,
        "A pickle resolves a callable that runs code, touches files or the network, or imports.",
        "Unpickling imports the named object and calls it with attacker-chosen arguments: "
        "loading this file runs the payload.",
        _LOAD_SAFE,
    ),
    _r(
        "SCAN-PKL-002",
        "pickle-unknown-global",
        _ML06,
        502,
        _M,
        "A pickle references a global that is not on the reviewed allow-list.",
        "Any importable callable can be a gadget. Globals outside the allow-list of what ML "
        "files really contain need a human review before the file is trusted.",
        "Review the named global. If it is your own trusted class, add it to [scan] allow "
        "in mlwarden.toml (or --allow MODULE.NAME).",
    ),
    _r(
        "SCAN-PKL-003",
        "pickle-dynamic-global",
        _ML06,
        502,
        _C,
        "A pickle resolves a global whose module or name is computed at load time.",
        "Benign files name their classes with constant strings. A computed name hides the "
        "real target from deny-list scanners: a known evasion technique.",
        _LOAD_SAFE,
    ),
    _r(
        "SCAN-PKL-004",
        "pickle-extension-code",
        _ML06,
        502,
        _H,
        "A pickle uses the copyreg extension registry (EXT1/EXT2/EXT4).",
        "Extension codes resolve to globals through process state the scanner cannot see; "
        "ML libraries never write them.",
        _LOAD_SAFE,
    ),
    _r(
        "SCAN-PKL-005",
        "pickle-nested-loader",
        _ML06,
        502,
        _C,
        "A pickle calls another deserialiser (pickle.loads, torch.load, numpy.load, ...).",
        "A nested loader unpickles a second payload that outer scanners often do not see.",
        _LOAD_SAFE,
    ),
    _r(
        "SCAN-PKL-006",
        "pickle-malformed",
        _ML06,
        20,
        _M,
        "A pickle stream is malformed, truncated or uses opcodes inconsistently.",
        "Parsers disagree on broken input: a payload placed before the damage runs in the real "
        "unpickler while some scanners give up. Benign writers never produce broken pickles.",
        "Obtain the file again from its source and verify its hash.",
    ),
    _r(
        "SCAN-ARC-001",
        "archive-header-tampering",
        _ML06,
        434,
        _M,
        "A zip archive's headers disagree (CRC, names, flags, data before the archive).",
        "Loaders that tolerate damaged headers (torch) still load members that strict "
        "scanners refuse to open; tampering is a known way to slip past them.",
        "Re-create the archive from trusted sources; do not load it as is.",
    ),
    _r(
        "SCAN-ARC-002",
        "archive-nesting-too-deep",
        _ML06,
        409,
        _M,
        "Archives are nested deeper than the configured limit; inner content was not scanned.",
        "Deep nesting is used to exhaust scanners and hide payloads past their depth limit.",
        "Unpack the archive manually and scan the inner files, or raise [scan] max_depth.",
    ),
    _r(
        "SCAN-ARC-003",
        "archive-decompression-bomb",
        _ML06,
        409,
        _H,
        "A compressed member expands beyond the configured size or ratio limit.",
        "Decompression bombs exhaust memory or disk of whatever opens them.",
        "Do not unpack the file; if it is trusted, raise [scan] max_expanded_bytes.",
    ),
    _r(
        "SCAN-ARC-004",
        "polyglot-file",
        _ML06,
        434,
        _H,
        "A file is valid in two formats at once (for example a pickle that is also a zip).",
        "Different loaders read different content from the same bytes; scanners that pick "
        "one interpretation miss the other.",
        _LOAD_SAFE,
    ),
    _r(
        "SCAN-ARC-005",
        "archive-unsafe-member",
        _ML06,
        22,
        _M,
        "An archive member has an absolute path, '..' component or is a link.",
        "Extracting it writes outside the target directory (path traversal).",
        "Extract with a filter (tarfile data filter) or reject the archive.",
    ),
    _r(
        "SCAN-NPY-001",
        "numpy-object-array",
        _ML06,
        502,
        _L,
        "A .npy array has object dtype: its data is a pickle and loading needs allow_pickle.",
        "allow_pickle=True turns numpy.load into pickle.load; the embedded pickle is scanned "
        "with the pickle rules.",
        "Store numeric arrays; save objects in a safe format.",
    ),
    _r(
        "SCAN-NPY-002",
        "numpy-malformed",
        _ML06,
        20,
        _M,
        "A .npy header is malformed or its size disagrees with the data.",
        "Inconsistent headers are used to confuse parsers and hide appended content.",
        "Re-export the array from a trusted source.",
    ),
    _r(
        "SCAN-ST-001",
        "safetensors-malformed",
        _ML06,
        20,
        _H,
        "A safetensors header is invalid (size, JSON, dtype/shape/offset consistency, overlap).",
        "Overlapping or out-of-range offsets and parser-differential headers (duplicate keys) "
        "make loaders read memory or data other than what reviewers see.",
        "Re-export the tensors with the safetensors library from a trusted source.",
    ),
    _r(
        "SCAN-ONNX-001",
        "onnx-external-data-path",
        _ML06,
        22,
        _H,
        "An ONNX tensor's external data location is absolute, escapes the model directory or "
        "is a link.",
        "Loading the model reads (and may disclose) arbitrary files on the serving host.",
        "Keep external data files beside the model with plain relative names.",
    ),
    _r(
        "SCAN-ONNX-002",
        "onnx-custom-domain",
        _ML06,
        829,
        _M,
        "An ONNX graph uses operators from a custom domain.",
        "Custom operators need a native library registered by the runtime: untrusted native code.",
        "Use standard ONNX operators, or review and pin the custom-op library.",
    ),
    _r(
        "SCAN-ONNX-003",
        "onnx-malformed",
        _ML06,
        20,
        _M,
        "An ONNX file cannot be parsed as a ModelProto within the limits.",
        "Malformed protobuf is used to make scanners give up while runtimes may still load it.",
        "Re-export the model from a trusted source.",
    ),
    _r(
        "SCAN-KER-001",
        "keras-lambda-code",
        _ML06,
        94,
        _C,
        "A Keras model config contains a Lambda layer or serialized Python bytecode.",
        "Keras rebuilds the function from marshalled bytecode when the model is loaded "
        "(legacy h5, or safe_mode=False): arbitrary code execution.",
        "Replace Lambda layers with registered custom layers; load with safe_mode=True.",
    ),
    _r(
        "SCAN-KER-002",
        "keras-module-reference",
        _ML06,
        470,
        _C,
        "A Keras config names a module or function outside Keras to import and call.",
        "Keras 3 deserialisation imports the named module and resolves the attribute, which "
        "reaches arbitrary functions (CVE-2025-1550 family).",
        "Only load models whose config references keras modules; upgrade Keras.",
    ),
    _r(
        "SCAN-KER-003",
        "keras-custom-object",
        _ML06,
        829,
        _L,
        "A Keras config needs custom objects (user code) to load.",
        "The loader will import and run the registered custom class's code.",
        "Review the custom object's source and pin the package that provides it.",
    ),
    _r(
        "SCAN-KER-004",
        "keras-external-model",
        _ML06,
        829,
        _H,
        "A Keras config loads another model from a path (TFSMLayer and similar).",
        "Loading pulls in a TensorFlow SavedModel from an attacker-chosen path, bypassing "
        "safe_mode.",
        "Do not load layers that reference external model files.",
    ),
    _r(
        "SCAN-TF-001",
        "tf-dangerous-op",
        _ML06,
        94,
        _H,
        "A TensorFlow graph uses an op that reads or writes files or runs Python.",
        "Running the graph (serving it) performs file or Python side effects chosen by its author.",
        "Remove such ops from the exported graph, or do not serve the model.",
    ),
    _r(
        "SCAN-GGUF-001",
        "gguf-template-injection",
        _ML06,
        1336,
        _C,
        "A GGUF chat template reaches Python internals through Jinja (SSTI).",
        "Runtimes that render chat templates outside a sandbox execute the template's payload.",
        "Remove the chat template or replace it with a reviewed one; render in a sandbox.",
    ),
    _r(
        "SCAN-GGUF-002",
        "gguf-malformed",
        _ML06,
        20,
        _M,
        "A GGUF header or metadata is malformed or exceeds the limits.",
        "Malformed metadata has triggered memory corruption in GGUF loaders.",
        "Re-export the model from a trusted source.",
    ),
    _r(
        "SCAN-TS-001",
        "torchscript-suspicious-code",
        _ML06,
        94,
        _M,
        "TorchScript code in a model archive references custom ops or Python internals.",
        "TorchScript runs the archive's code when the model runs; custom ops are native code.",
        "Review the code members; prefer state_dict + safetensors.",
    ),
    _r(
        "SCAN-GEN-001",
        "scan-incomplete",
        _ML10,
        400,
        _M,
        "A file was not fully scanned: a time, size or memory limit was hit.",
        "Content beyond the limit is unchecked; attackers pad files to push payloads past limits.",
        "Raise the [scan] limits for trusted large files, or reject the file.",
    ),
)


def _build(rules: Iterable[Rule]) -> dict[str, Rule]:
    catalogue: dict[str, Rule] = {}
    for rule in rules:
        if rule.id in catalogue:
            raise PluginError(f"duplicate rule id {rule.id!r}")
        catalogue[rule.id] = rule
    return catalogue


RULES: dict[str, Rule] = _build(_SCAN_RULES)

#: Modules of other concerns that define ``RULES: tuple[Rule, ...]``; loaded into the catalogue
#: below (each concern keeps its rules beside its code; ids stay unique across all of them).
CONCERN_RULE_MODULES: tuple[str, ...] = (
    "mlwarden.data.rules",
    "mlwarden.attacks.backdoor_rules",
    "mlwarden.integrity.rules",
    "mlwarden.attacks.rules",
    "mlwarden.linter.rules",
    "mlwarden.attacks.privacy_rules",
    "mlwarden.monitor.rules",
    "mlwarden.assess.rules",
)


def register_rules(rules: Iterable[Rule]) -> None:
    """Add rules (from another concern or a plugin); a duplicate id raises ``PluginError``."""
    added = _build(rules)
    clash = sorted(set(added) & set(RULES))
    if clash:
        raise PluginError(f"duplicate rule id(s): {', '.join(clash)}")
    RULES.update(added)


def get_rule(rule_id: str) -> Rule:
    """Look up a rule; unknown ids raise ``KeyError`` with the id."""
    return RULES[rule_id]


def _load_concern_rules() -> None:
    from importlib import import_module

    for name in CONCERN_RULE_MODULES:
        register_rules(import_module(name).RULES)


_load_concern_rules()
