"""Peer side of benchmarks/poison_bench.py: ART's poison detectors, run in ART's own venv.

Usage (done by poison_bench.py): ART_PYTHON poison_bench_art.py CASE.npz WEIGHTS.pt OUT.json
CASE.npz holds x (inputs as the model takes them), y (labels), fraction (poison share) and
kind ("image": the digits CNN, "table": the MLP); WEIGHTS.pt is the model's state_dict (ART
hooks layers, which TorchScript modules do not allow, so the architecture is rebuilt here).
Writes {method: flagged indices | error} as JSON.
"""

from __future__ import annotations

import json
import sys
import time
import traceback

import numpy as np
import torch

torch.set_num_threads(1)


def main() -> None:
    from art.defences.detector.poison import ActivationDefence, SpectralSignatureDefense
    from art.estimators.classification import PyTorchClassifier

    case, model_path, out_path = sys.argv[1:4]
    data = np.load(case)
    x, y, fraction = (
        data["x"].astype(np.float32),
        data["y"].astype(np.int64),
        float(data["fraction"]),
    )
    k = int(y.max()) + 1
    model = _architecture(str(data["kind"]), x.shape[1:], k)
    model.load_state_dict(torch.load(model_path, weights_only=True))
    model.eval()
    clf = PyTorchClassifier(
        model=model, loss=torch.nn.CrossEntropyLoss(), input_shape=x.shape[1:], nb_classes=k,
        clip_values=(float(x.min()), float(x.max())),
    )  # fmt: skip
    onehot = np.eye(k, dtype=np.float32)[y]
    results: dict[str, object] = {}
    for analysis in ("smaller", "relative-size", "silhouette-scores"):
        results[f"art_ac_{analysis}"] = _run(
            lambda a=analysis: ActivationDefence(clf, x, onehot).detect_poison(
                nb_clusters=2, nb_dims=10, reduce="PCA", cluster_analysis=a
            )
        )
    results["art_spectral"] = _run(
        lambda: SpectralSignatureDefense(
            clf, x, onehot, expected_pp_poison=fraction, batch_size=128, eps_multiplier=1.5
        ).detect_poison()
    )
    with open(out_path, "w") as fh:
        json.dump(results, fh)


def _architecture(kind: str, shape: tuple[int, ...], k: int) -> torch.nn.Module:
    nn = torch.nn
    if kind == "image":
        return nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(),
            nn.MaxPool2d(2), nn.Flatten(), nn.Linear(512, 64), nn.ReLU(), nn.Linear(64, k),
        )  # fmt: skip
    return nn.Sequential(
        nn.Linear(shape[0], 64), nn.ReLU(), nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, k)
    )


def _run(fn):  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    try:
        _, is_clean = fn()
    except Exception as exc:  # report the peer's crash, not ours
        return {"error": f"{type(exc).__name__}: {exc}", "trace": traceback.format_exc()[-600:]}
    flagged = np.flatnonzero(np.asarray(is_clean) == 0).tolist()
    return {"flagged": flagged, "seconds": round(time.perf_counter() - start, 2)}


if __name__ == "__main__":
    main()
