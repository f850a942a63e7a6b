"""What to do about each risk: the concrete mitigations mlwarden offers, with a snippet.

The assessment puts these in each risk's section; the snippets are real configuration and
code that work with this version of mlwarden (a test runs the Python ones' imports and
parses the TOML ones as policy files).
"""

from __future__ import annotations

from dataclasses import dataclass

from mlwarden.risks import RiskId


@dataclass(frozen=True)
class Mitigation:
    """The advice for one risk: steps in order of value, and one snippet to start from."""

    steps: tuple[str, ...]
    snippet: str
    language: str  # "toml" (a policy file), "python" or "shell"


MITIGATIONS: dict[RiskId, Mitigation] = {
    RiskId.ML01: Mitigation(
        (
            "Validate inputs against the training ranges at the gateway and refuse the rest.",
            "Detect adversarial inputs (feature squeezing) and answer low-confidence inputs "
            "with 'uncertain'.",
            "Train for robustness (adversarial training) and re-measure with an adaptive "
            "attack: a defence that only masks gradients does not count.",
        ),
        '[gateway.validation]\nenabled = true\nranges = "reference"\n\n'
        "[gateway.adversarial]\nsqueezing_detector = true\nmin_confidence = 0.6\n",
        "toml",
    ),
    RiskId.ML02: Mitigation(
        (
            "Record a signed provenance manifest of every training set and diff new data "
            "against it.",
            "Filter suspected poison before training; gate the new model on the accuracy of "
            "the last trusted one.",
        ),
        "mlwarden data check train.csv --label y --baseline trusted.json \\\n"
        "    --baseline-key data.pub.pem --manifest-out new.json --sign-key data.pem\n",
        "shell",
    ),
    RiskId.ML03: Mitigation(
        (
            "Return labels (or the top class with rounded scores), not every probability.",
            "Rate-limit per key and keep an audit log of who asked what.",
            "Train with differential privacy where records are sensitive.",
        ),
        '[gateway.output]\nmode = "label"\n\n[gateway.audit]\nenabled = true\n',
        "toml",
    ),
    RiskId.ML04: Mitigation(
        (
            "Close the train/test gap: regularise, early-stop, and gate releases on a "
            "measured membership-inference TPR at low FPR.",
            "Serve labels only; train with DP-SGD (the `dp` extra) for sensitive data.",
        ),
        "mlwarden gate membership model.joblib --train train.csv --test test.csv \\\n"
        "    --label y --max-tpr 0.02 --max-auc 0.6\n",
        "shell",
    ),
    RiskId.ML05: Mitigation(
        (
            "Require API keys, rate-limit each key, and throttle keys whose queries look "
            "like extraction.",
            "Serve labels only, and watermark answers so that a stolen copy can be proven.",
        ),
        "[gateway.auth]\nenabled = true\n\n[gateway.rate_limit]\nenabled = true\n"
        'per_key = "120/minute"\n\n[gateway.extraction]\nenabled = true\n'
        'action = "throttle"\n',
        "toml",
    ),
    RiskId.ML06: Mitigation(
        (
            "Scan every model artifact before it is loaded, in CI and at the gateway.",
            "Prefer formats that cannot run code (safetensors, ONNX, skops); load pickles "
            "only through the restricted loader; pin downloads to a commit.",
        ),
        "from mlwarden import safe_load\n\n"
        'model = safe_load("model.joblib", key="publisher.pub.pem")  # verify, scan, load\n',
        "python",
    ),
    RiskId.ML07: Mitigation(
        (
            "Take base models only from approved sources, pinned to a commit and to an "
            "approved digest in mlwarden.lock.",
            "Scan a base model for backdoors (Neural Cleanse, trigger test sets) and fine-tune "
            "all layers, or fine-prune, when its source is not fully trusted.",
        ),
        "mlwarden lock add base-model/ --source hf://org/model \\\n"
        "    --revision 0123456789abcdef0123456789abcdef01234567\n",
        "shell",
    ),
    RiskId.ML08: Mitigation(
        (
            "Test serving data against a signed profile of the training data in CI "
            "(mlwarden drift) and live (the gateway's drift monitor).",
            "Fix the pipeline that drifted, or retrain on reviewed recent data.",
        ),
        "mlwarden drift train.parquet --save-profile profile.json --sign-key data.pem\n"
        "mlwarden drift profile.json serving.parquet --profile-key data.pub.pem\n",
        "shell",
    ),
    RiskId.ML09: Mitigation(
        (
            "Sign every response (RFC 9421, bound to the model digest) and verify in clients.",
            "Serve over TLS (mTLS between services).",
        ),
        "from mlwarden import Client\n\n"
        "client = Client(\n"
        '    "https://models.internal:8443",\n'
        "    api_key=key,\n"
        '    public_key="gateway.pub.pem",  # the gateway\'s response-signing key\n'
        '    approved_digest="sha256:...",  # the model the answers must come from\n'
        ")\n"
        "prediction = client.predict([[0.1, 0.2]])  # raises unless signature and digest match\n",
        "python",
    ),
    RiskId.ML10: Mitigation(
        (
            "Sign the model when it is trained; verify the signature (or the approved digest "
            "in mlwarden.lock) before it is served.",
            "Gate deployment on a metric measured on trusted data.",
        ),
        "mlwarden sign model/ --key release.pem --signature model.sig\n"
        "mlwarden verify model/ --key release.pub.pem --signature model.sig\n",
        "shell",
    ),
}
