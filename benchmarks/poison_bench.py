"""Poison detection and backdoor scanning: mlwarden vs ART vs IsolationForest, in one run.

Cases (poison fraction = share of the whole training set, poisoned rows replace clean ones):
- digits (75% train split) with a 2x2 bottom-right trigger relabelled to class 0, at 10% and
  3%, a small CNN trained on it (representations: its penultimate layer);
- breast cancer and a synthetic set (make_classification, 3 classes, class_sep 2) with a
  targeted label flip and with a feature trigger (two features set to 1.5, outside [0, 1]),
  at 10% and 3%, a small MLP trained on each.

Tools: mlwarden's two-stage detector (with the model's representations, and on raw
features), IsolationForest (the OWASP guide's baseline; contamination = the true poison
fraction, its best case), ART 1.20 ActivationDefence (cluster analyses "smaller",
"relative-size", "silhouette-scores") and SpectralSignatureDefense (expected_pp_poison = the
true fraction). Then Neural Cleanse on the backdoored CNNs and 3 clean CNNs (seeds 0, 1, 2),
STRIP at 1% FRR and fine-pruning on the 10% model.

Usage: benchmarks/setup_evasion_peers.sh (ART's venv), then
    .venv/bin/python benchmarks/poison_bench.py [--out results.json]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from mlwarden.attacks.neural_cleanse import neural_cleanse
from mlwarden.data.poison import detect_poison
from mlwarden.data.poisoning import (
    Poisoned,
    flip_labels,
    plant_feature_trigger,
    plant_patch_trigger,
    stamp_patch,
)
from mlwarden.data.representations import model_representations
from mlwarden.datasets import demo_dataset
from mlwarden.defenses.fine_pruning import fine_prune, fine_tune
from mlwarden.defenses.strip import StripDetector
from mlwarden.models import TorchClassifier
from mlwarden.models.threads import single_thread

HERE = Path(__file__).resolve().parent
ART_PYTHON = HERE / ".peers" / "art" / "bin" / "python"
TARGET = 0


def cnn(seed: int) -> torch.nn.Module:
    torch.manual_seed(seed)
    nn = torch.nn
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(),
        nn.MaxPool2d(2), nn.Flatten(), nn.Linear(512, 64), nn.ReLU(), nn.Linear(64, 10),
    )  # fmt: skip


def mlp(d: int, k: int, seed: int) -> torch.nn.Module:
    torch.manual_seed(seed)
    nn = torch.nn
    return nn.Sequential(
        nn.Linear(d, 64), nn.ReLU(), nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, k)
    )


def digits_split() -> tuple[np.ndarray, ...]:
    data = demo_dataset("digits")
    order = np.random.default_rng(0).permutation(len(data.y))
    cut = int(0.75 * len(order))
    x = data.images()
    return x[order[:cut]], data.y[order[:cut]], x[order[cut:]], data.y[order[cut:]]


def synthetic() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import make_classification

    x, y = make_classification(
        n_samples=1000, n_features=20, n_informative=10, n_classes=3, class_sep=2.0, random_state=0
    )
    return ((x - x.min(0)) / (x.max(0) - x.min(0))).astype(np.float32), y.astype(np.int64)


def cases() -> list[dict[str, Any]]:
    xtr, ytr, _, _ = digits_split()
    out = []
    for frac in (0.10, 0.03):
        p = plant_patch_trigger(xtr, ytr, fraction=frac, target=TARGET, seed=1)
        out.append(
            {"name": f"digits backdoor {frac:.0%}", "poison": p, "kind": "image", "fraction": frac}
        )
    cancer = demo_dataset("breast_cancer")
    for name, (x, y) in (("breast_cancer", (cancer.X, cancer.y)), ("synthetic", synthetic())):
        for frac in (0.10, 0.03):
            flip = flip_labels(x, y, fraction=frac, target=TARGET, seed=1)
            trig = plant_feature_trigger(
                x, y, fraction=frac, target=TARGET, seed=1, features=(0, 1), value=1.5
            )
            out.append(
                {
                    "name": f"{name} label-flip {frac:.0%}",
                    "poison": flip,
                    "kind": "table",
                    "fraction": frac,
                }
            )
            out.append(
                {
                    "name": f"{name} feature-trigger {frac:.0%}",
                    "poison": trig,
                    "kind": "table",
                    "fraction": frac,
                }
            )
    return out


def train(case: dict[str, Any]) -> TorchClassifier:
    p: Poisoned = case["poison"]
    k = int(p.y.max()) + 1
    if case["kind"] == "image":
        module = fine_tune(cnn(0), p.x, p.y, epochs=20, lr=3e-3, seed=0)
        return TorchClassifier(module, input_shape=(1, 8, 8), n_classes=10)
    module = fine_tune(mlp(p.x.shape[1], k, 0), p.x, p.y, epochs=60, lr=3e-3, seed=0)
    return TorchClassifier(module, input_shape=(p.x.shape[1],), n_classes=k, clip=None)


def score(flagged: list[int] | np.ndarray, p: Poisoned) -> dict[str, Any]:
    mark = np.zeros(len(p.y), dtype=bool)
    mark[np.asarray(flagged, dtype=np.int64)] = True
    hits = int((mark & p.mask).sum())
    classes = sorted({int(c) for c in p.y[mark]})
    return {
        "flagged": int(mark.sum()),
        "precision": round(hits / max(int(mark.sum()), 1), 3),
        "recall": round(hits / max(int(p.mask.sum()), 1), 3),
        "classes_flagged": len(classes),
        "named": classes == [p.target],
    }


def run_mlwarden(p: Poisoned, reps: np.ndarray | None) -> dict[str, Any]:
    start = time.perf_counter()
    result = detect_poison(p.x, p.y, representations=reps)
    out = score(result.flagged, p)
    out["named"] = result.suspected == (p.target,)
    out["suspected"] = list(result.suspected)
    out["seconds"] = round(time.perf_counter() - start, 2)
    return out


def run_isolation(p: Poisoned, fraction: float) -> dict[str, Any]:
    from sklearn.ensemble import IsolationForest

    start = time.perf_counter()
    flat = p.x.reshape(len(p.x), -1)
    pred = IsolationForest(contamination=fraction, random_state=0).fit(flat).predict(flat)
    out = score(np.flatnonzero(pred == -1), p)
    out["seconds"] = round(time.perf_counter() - start, 2)
    return out


def run_art(case: dict[str, Any], model: TorchClassifier, work: Path) -> dict[str, Any]:
    if not ART_PYTHON.exists():
        return {"error": "ART venv missing: run benchmarks/setup_evasion_peers.sh"}
    p: Poisoned = case["poison"]
    stem = work / case["name"].replace(" ", "_").replace("%", "")
    torch.save(model.torch_module.state_dict(), str(stem) + ".pt")
    np.savez(str(stem) + ".npz", x=p.x, y=p.y, fraction=case["fraction"], kind=case["kind"])
    cmd = [
        str(ART_PYTHON),
        str(HERE / "poison_bench_art.py"),
        f"{stem}.npz",
        f"{stem}.pt",
        f"{stem}.json",
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=1800, check=False)
    if done.returncode != 0:
        return {"error": done.stderr[-800:]}
    raw = json.loads(Path(f"{stem}.json").read_text())
    return {
        k: (v if "error" in v else {**score(v["flagged"], p), "seconds": v["seconds"]})
        for k, v in raw.items()
    }


def neural_cleanse_runs() -> dict[str, Any]:
    xtr, ytr, xte, yte = digits_split()
    out = {}
    models = {}
    for frac in (0.10, 0.03):
        p = plant_patch_trigger(xtr, ytr, fraction=frac, target=TARGET, seed=1)
        models[f"backdoored {frac:.0%}"] = fine_tune(cnn(0), p.x, p.y, epochs=20, lr=3e-3, seed=0)
    for seed in (0, 1, 2):
        models[f"clean seed {seed}"] = fine_tune(cnn(seed), xtr, ytr, epochs=20, lr=3e-3, seed=seed)
    for name, module in models.items():
        clf = TorchClassifier(module, input_shape=(1, 8, 8), n_classes=10)
        start = time.perf_counter()
        r = neural_cleanse(clf, xte)
        others = xte[yte != TARGET]
        out[name] = {
            "flagged": r.suspected,
            "max_anomaly_index": round(float(r.anomaly.max()), 2),
            "argmax": int(np.argmax(r.anomaly)),
            "norm_ratio": round(float(r.norms.min() / np.median(r.norms)), 3),
            "per_seed_max_ai": [round(float(run.anomaly.max()), 2) for run in r.runs],
            "clean_accuracy": round(float((clf.predict(xte) == yte).mean()), 4),
            "attack_success": round(float((clf.predict(stamp_patch(others)) == TARGET).mean()), 4),
            "seconds": round(time.perf_counter() - start, 1),
        }
    out["defences"] = defences(models["backdoored 10%"], xte, yte)
    return out


def defences(module: torch.nn.Module, xte: np.ndarray, yte: np.ndarray) -> dict[str, Any]:
    clf = TorchClassifier(module, input_shape=(1, 8, 8), n_classes=10)
    calib, held = xte[:225], xte[225:]
    others = held[yte[225:] != TARGET]
    strip = StripDetector(clf, target_frr=0.01).fit(calib)
    pruned = fine_prune(clf, xte[:225], yte[:225], epochs=8, max_drop=0.05)
    asr = lambda m: round(float((m.predict(stamp_patch(xte[yte != TARGET])) == TARGET).mean()), 4)  # noqa: E731
    acc = lambda m: round(float((m.predict(held) == yte[225:]).mean()), 4)  # noqa: E731
    return {
        "strip_clean_rejection": round(float(strip.is_trojaned(held).mean()), 4),
        "strip_triggered_detection": round(float(strip.is_trojaned(stamp_patch(others)).mean()), 4),
        "fine_pruning": {
            "pruned_units": len(pruned.pruned),
            "attack_success_before": asr(clf),
            "attack_success_after": asr(pruned.model),
            "accuracy_before": acc(clf),
            "accuracy_after": acc(pruned.model),
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    torch.set_num_threads(1)
    single_thread()
    results: dict[str, Any] = {"cases": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for case in cases():
            p: Poisoned = case["poison"]
            model = train(case)
            reps = model_representations(model, p.x).vectors
            row = {
                "mlwarden (model)": run_mlwarden(p, reps),
                "mlwarden (raw)": run_mlwarden(p, None),
                "isolation_forest": run_isolation(p, case["fraction"]),
                **run_art(case, model, Path(tmp)),
            }
            results["cases"][case["name"]] = row
            print(f"== {case['name']}", flush=True)
            for tool, r in row.items():
                print(f"  {tool:28s} {_line(r)}", flush=True)
    results["neural_cleanse"] = neural_cleanse_runs()
    for name, r in results["neural_cleanse"].items():
        print(f"NC {name}: {r}", flush=True)
    if args.out:
        args.out.write_text(json.dumps(results, indent=1))


def _line(r: dict[str, Any]) -> str:
    if "error" in r:
        return "ERROR " + r["error"].strip().splitlines()[-1][:120]
    named = "yes" if r["named"] else "no"
    return (
        f"named={named:3s} P={r['precision']:.3f} R={r['recall']:.3f} "
        f"flagged={r['flagged']} classes={r['classes_flagged']} {r.get('seconds', '')}s"
    )


if __name__ == "__main__":
    sys.exit(main())
