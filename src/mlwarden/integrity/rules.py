"""The ``INT-...`` rules: why a model failed verification, approval or safe loading.

A :class:`~mlwarden.integrity.errors.Problem` names one of these ids; the CLI turns
problems into findings, so they appear in text, JSON and SARIF reports like scan findings.
"""

from __future__ import annotations

from mlwarden.findings import Severity
from mlwarden.risks import RiskId
from mlwarden.rules import Rule

_MS = "https://github.com/sigstore/model-transparency"
_DSSE = "https://github.com/secure-systems-lab/dsse/blob/master/protocol.md"
_ML06_URL = (
    "https://owasp.org/www-project-machine-learning-security-top-10/docs/"
    "ML06_2023-AI_Supply_Chain_Attacks"
)
_ML10_URL = (
    "https://owasp.org/www-project-machine-learning-security-top-10/docs/ML10_2023-Model_Poisoning"
)
_C, _H, _M, _L = Severity.CRITICAL, Severity.HIGH, Severity.MEDIUM, Severity.LOW
_RESIGN = (
    "Do not load the model. Obtain it again from its source and verify it; if the change is "
    "yours and intended, sign the model again (mlwarden sign)."
)


def _rule(
    rule_id: str,
    name: str,
    risk: RiskId,
    cwe: int,
    severity: Severity,
    texts: tuple[str, str, str],
    refs: tuple[str, ...] = (_MS, _ML10_URL),
    example: str = "",
) -> Rule:
    summary, why, fix = texts
    return Rule(rule_id, name, risk, cwe, severity, summary, why, fix, refs, example)


RULES: tuple[Rule, ...] = (
    _rule(
        "INT-VER-001",
        "model-file-changed",
        RiskId.ML10,
        354,
        _C,
        (
            "A model file's digest differs from the digest in its signed manifest.",
            "The bytes that would be loaded are not the bytes that were signed: swapped or "
            "poisoned weights, or a file replaced by a malicious pickle.",
            _RESIGN,
        ),
        example="`mlwarden verify model/ --key pub.pem` after one byte of "
        "`model.safetensors` was changed.",
    ),
    _rule(
        "INT-VER-002",
        "model-file-missing",
        RiskId.ML10,
        354,
        _H,
        (
            "A file listed in the signed manifest is missing from the model.",
            "A removed file (a tokenizer, a config, one weight shard) changes what the model "
            "does, or makes a loader fall back to another, unsigned file.",
            _RESIGN,
        ),
    ),
    _rule(
        "INT-VER-003",
        "model-file-unsigned",
        RiskId.ML06,
        345,
        _H,
        (
            "The model contains a file that is not in the signed manifest.",
            "Loaders pick files by name: an added `pytorch_model.bin` or `custom_code.py` "
            "next to signed safetensors is loaded (and may run code) without being signed.",
            "Remove the extra file, or sign the model again including it. Only when the "
            "extra files are known to be unused, verify with --allow-extra.",
        ),
    ),
    _rule(
        "INT-VER-004",
        "signature-invalid",
        RiskId.ML06,
        347,
        _C,
        (
            "The signature does not verify with the given public key.",
            "Either the bundle was altered after signing or it was signed by another key: "
            "nothing in it can be trusted.",
            "Check that you use the publisher's public key; obtain the model and its "
            "signature again from the publisher.",
        ),
        refs=(_MS, _DSSE, _ML06_URL),
    ),
    _rule(
        "INT-VER-005",
        "signature-bundle-malformed",
        RiskId.ML06,
        347,
        _H,
        (
            "The signature file is not a well-formed Sigstore bundle with a DSSE envelope.",
            "A damaged or hand-made bundle cannot be verified; accepting it would let "
            "anyone supply one.",
            "Obtain the signature again, or sign the model again (mlwarden sign).",
        ),
        refs=(_MS, _DSSE, _ML06_URL),
    ),
    _rule(
        "INT-VER-006",
        "signature-wrong-predicate",
        RiskId.ML06,
        347,
        _H,
        (
            "The signed statement is not an OpenSSF model-signing v1.0 manifest.",
            "A signature over another kind of statement (or an old format without a "
            "complete file list) does not say which files make up the model.",
            "Sign the model with mlwarden or model_signing >= 1.0.",
        ),
    ),
    _rule(
        "INT-VER-007",
        "manifest-unsafe-path",
        RiskId.ML06,
        22,
        _C,
        (
            "A signed manifest names a file by an absolute path or with '..' components.",
            "Tools that open files by manifest name would read (or write) outside the model "
            "directory: path traversal.",
            "Reject the bundle; sign the model again from its directory.",
        ),
        refs=(_MS, "https://cwe.mitre.org/data/definitions/22.html"),
    ),
    _rule(
        "INT-VER-008",
        "mlflow-artifact-unsigned",
        RiskId.ML06,
        345,
        _H,
        (
            "An MLflow MLmodel file references an artifact that is not covered by the "
            "verification, or that lies outside the model directory.",
            "MLflow loads the referenced file whatever the signature covers: an unsigned or "
            "outside artifact is loaded unverified.",
            "Sign the whole MLflow model directory and keep artifact paths relative.",
        ),
        refs=(_MS, "https://mlflow.org/docs/latest/models.html", _ML06_URL),
    ),
    _rule(
        "INT-VER-009",
        "unverified-files-allowed",
        RiskId.ML06,
        345,
        _L,
        (
            "Verification passed while ignoring files that the signature does not cover.",
            "The ignored files were not checked; a loader that reads them reads unsigned content.",
            "Sign the model with every file it needs, and verify without --allow-extra.",
        ),
    ),
    _rule(
        "INT-VER-010",
        "empty-files-unsigned",
        RiskId.ML06,
        345,
        _L,
        (
            "A sharded manifest cannot list empty files, so they are not covered.",
            "The model-signing shard format has no shard for a zero-byte file: adding or "
            "removing an empty file goes unnoticed.",
            "Use per-file hashing (the default) when empty files matter.",
        ),
    ),
    _rule(
        "INT-LCK-001",
        "digest-not-approved",
        RiskId.ML10,
        354,
        _C,
        (
            "The model's digest differs from the digest approved in the lockfile.",
            "Whoever can write to the registry or deploy path can swap weights; an approved "
            "digest pins exactly which bytes may be deployed.",
            "Do not deploy. If the new version is reviewed and intended, approve it with "
            "`mlwarden lock add` and commit the lockfile.",
        ),
        refs=(_ML10_URL,),
    ),
    _rule(
        "INT-LCK-002",
        "model-not-in-lockfile",
        RiskId.ML10,
        354,
        _H,
        (
            "The lockfile has no approved digest for this model name.",
            "An unapproved model has had no review; deploying it skips the approval gate.",
            "Review the model and approve it with `mlwarden lock add MODEL --name NAME`.",
        ),
        refs=(_ML10_URL,),
    ),
    _rule(
        "INT-LOAD-001",
        "unsafe-content-refused",
        RiskId.ML06,
        502,
        _C,
        (
            "safe_load refused a model because the artifact scan reported a finding.",
            "The bytes about to be loaded contain code-execution or tampering indicators.",
            "Inspect the scan findings (`mlwarden scan`); obtain a clean model.",
        ),
        refs=(_ML06_URL,),
    ),
    _rule(
        "INT-LOAD-002",
        "no-code-free-loader",
        RiskId.ML06,
        502,
        _H,
        (
            "safe_load refused a model whose format can only be loaded by running its code.",
            "TorchScript, pickles that reference globals outside the allow-list and MLflow "
            "custom pyfunc models execute code from the file when loaded.",
            "Re-export to safetensors, ONNX, NumPy or skops, or save a torch state_dict.",
        ),
        refs=(_ML06_URL, "https://pytorch.org/docs/stable/generated/torch.load.html"),
    ),
    _rule(
        "INT-MET-001",
        "metric-below-threshold",
        RiskId.ML10,
        693,
        _H,
        (
            "A loaded model scored below the required metric on the reference set.",
            "A poisoned or swapped model often loses accuracy on held-out data; validating "
            "metrics before serving catches what digests cannot (a signed but bad model).",
            "Do not serve the model; investigate its training data and provenance.",
        ),
        refs=(_ML10_URL,),
    ),
)
