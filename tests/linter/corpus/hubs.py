"""Corpus: model hubs (ML06 pinning, remote code, torch.hub) and transfer learning (ML07)."""

# ruff: noqa: E501 - case lines carry their expectation markers; wrapping them would move lines

from __future__ import annotations

from textwrap import dedent

from tests.linter.corpus import Case

SHA = "3f2c1a9b8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a"


def _c(name: str, source: str) -> Case:
    return Case(name, dedent(source).lstrip("\n").replace("<SHA>", SHA))


CASES = [
    _c(
        "ml06/hf_from_pretrained_unpinned",
        """
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        NAME = "acme/sentiment-bert"

        tokenizer = AutoTokenizer.from_pretrained(NAME)  # expect: LINT-ML06-008
        model = AutoModelForSequenceClassification.from_pretrained(NAME, num_labels=2)  # expect: LINT-ML06-008
        """,
    ),
    _c(
        "ml06/hf_revision_variable_main",
        """
        import transformers

        REV = "main"

        def load(name="acme/summarizer"):
            return transformers.AutoModel.from_pretrained(name, revision=REV)  # expect: LINT-ML06-008
        """,
    ),
    _c(
        "ml06/hf_revision_tag",
        """
        from transformers import AutoModel

        model = AutoModel.from_pretrained("acme/encoder", revision="v1.2.0")  # expect: LINT-ML06-008
        """,
    ),
    _c(
        "ml06/hf_hub_download_unpinned",
        """
        from huggingface_hub import hf_hub_download, snapshot_download

        weights = hf_hub_download(repo_id="acme/detector", filename="model.safetensors")  # expect: LINT-ML06-008
        folder = snapshot_download("acme/detector")  # expect: LINT-ML06-008
        """,
    ),
    _c(
        "ml06/hf_pipeline_model_unpinned",
        """
        from transformers import pipeline

        classifier = pipeline("text-classification", model="acme/toxicity")  # expect: LINT-ML06-008
        """,
    ),
    _c(
        "ml06/sentence_transformer_unpinned",
        """
        from sentence_transformers import SentenceTransformer

        encoder = SentenceTransformer("acme/embeddings-small")  # expect: LINT-ML06-008
        """,
    ),
    _c(
        "ml06/trust_remote_code",
        """
        from transformers import AutoModelForCausalLM

        REMOTE = True

        model = AutoModelForCausalLM.from_pretrained("acme/custom-llm", trust_remote_code=REMOTE)  # expect: LINT-ML06-008, LINT-ML06-009
        """,
    ),
    _c(
        "ml06/trust_remote_code_dataset",
        """
        from datasets import load_dataset

        ds = load_dataset("acme/scripted-data", trust_remote_code=True)  # expect: LINT-ML06-009
        """,
    ),
    _c(
        "ml06/torch_hub_load",
        """
        import torch

        model = torch.hub.load("someone/vision-models:main", "resnet50", pretrained=True)  # expect: LINT-ML06-010
        """,
    ),
    _c(
        "ml06/safe_hf_pinned",
        """
        from huggingface_hub import hf_hub_download
        from transformers import AutoModel, AutoTokenizer, pipeline

        REVISION = "<SHA>"

        tokenizer = AutoTokenizer.from_pretrained("acme/encoder", revision=REVISION)
        model = AutoModel.from_pretrained("acme/encoder", revision="<SHA>")
        weights = hf_hub_download("acme/encoder", "model.safetensors", revision=REVISION)
        clf = pipeline("text-classification", model="acme/toxicity", revision=REVISION)
        default = pipeline("sentiment-analysis")
        remote = AutoModel.from_pretrained("acme/custom", trust_remote_code=True, revision=REVISION)
        """,
    ),
    _c(
        "ml06/safe_hf_local_paths",
        """
        import os
        from pathlib import Path

        from transformers import AutoModel, AutoTokenizer

        def load(base_dir):
            a = AutoModel.from_pretrained("./checkpoints/best")
            b = AutoModel.from_pretrained(Path(base_dir) / "model")
            c = AutoTokenizer.from_pretrained(os.path.join(base_dir, "tok"))
            d = AutoModel.from_pretrained("acme/encoder", local_files_only=True)
            e = AutoModel.from_pretrained("outputs/checkpoint-500", trust_remote_code=False)
            return a, b, c, d, e
        """,
    ),
    _c(
        "ml06/safe_torch_hub_local",
        """
        import torch

        model = torch.hub.load("vendor/vision", "resnet50", source="local")
        pinned = torch.hub.load("someone/vision-models:<SHA>", "resnet50")
        """,
    ),
    # --- ML07 -------------------------------------------------------------------------------
    _c(
        "ml07/freeze_untrusted_hf_base",
        """
        import torch.nn as nn
        from transformers import AutoModel

        base = AutoModel.from_pretrained("someuser/bert-finetuned")  # expect: LINT-ML06-008
        for param in base.parameters():
            param.requires_grad = False  # expect: LINT-ML07-001
        head = nn.Linear(768, 2)
        """,
    ),
    _c(
        "ml07/freeze_untrusted_named_parameters",
        """
        import torch
        from transformers import AutoModelForSequenceClassification

        def build(name):
            model = AutoModelForSequenceClassification.from_pretrained(name, revision="main")  # expect: LINT-ML06-008
            for _, weight in model.base_model.named_parameters():
                weight.requires_grad = False  # expect: LINT-ML07-001
            optimizer = torch.optim.AdamW(model.classifier.parameters(), lr=1e-3)
            return model, optimizer
        """,
    ),
    _c(
        "ml07/freeze_torch_hub_backbone",
        """
        import torch

        backbone = torch.hub.load("someone/backbones", "vit_b16")  # expect: LINT-ML06-010
        backbone.requires_grad_(False)  # expect: LINT-ML07-001
        probe = torch.nn.Linear(768, 10)
        optimizer = torch.optim.SGD(probe.parameters(), lr=0.01)
        """,
    ),
    _c(
        "ml07/freeze_keras_hub_base",
        """
        import keras
        from huggingface_hub import hf_hub_download

        path = hf_hub_download("someuser/keras-resnet", "model.keras")  # expect: LINT-ML06-008
        base = keras.models.load_model(path)
        base.trainable = False  # expect: LINT-ML07-001
        model = keras.Sequential([base, keras.layers.Dense(2)])
        """,
    ),
    _c(
        "ml07/safe_freeze_pinned_base",
        """
        from transformers import AutoModel

        base = AutoModel.from_pretrained("google-bert/bert-base-uncased", revision="<SHA>")
        for param in base.parameters():
            param.requires_grad = False
        """,
    ),
    _c(
        "ml07/safe_freeze_torchvision",
        """
        import torchvision

        base = torchvision.models.resnet50(weights=torchvision.models.ResNet50_Weights.DEFAULT)
        for param in base.parameters():
            param.requires_grad = False
        """,
    ),
    _c(
        "ml07/safe_partial_freeze_local",
        """
        import keras

        base = keras.models.load_model("artifacts/base.keras")
        base.trainable = False
        for layer in base.layers[-4:]:
            if layer.name.startswith("block5"):
                layer.trainable = True
        """,
    ),
]
