"""The ART side of the privacy benchmark; runs in ART's own venv (benchmarks/.peers/art).

Invoked by ``privacy_bench.py`` as ``python privacy_bench_art.py JOB.json``: loads the
victims and data the main script wrote, runs ART's MembershipInferenceBlackBox (attack models
"nn" and "rf") and KnockoffNets at each budget, and writes raw scores and predictions
(``.npy``) plus timings (``result.json``) back; the main script scores both tools with the
same code. It imports nothing from mlwarden (not installed in this venv).
"""

from __future__ import annotations

import json
import math
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import joblib
import numpy as np

warnings.simplefilter("ignore")


def _mia(job: dict[str, Any], out: Path) -> dict[str, Any]:
    import torch
    from art.attacks.inference.membership_inference import MembershipInferenceBlackBox
    from art.estimators.classification import SklearnClassifier

    torch.set_num_threads(1)
    timings: dict[str, Any] = {}
    for victim in job["mia_victims"]:
        data = np.load(victim["data"])
        art_clf = SklearnClassifier(model=joblib.load(victim["model"]))
        for kind in ("nn", "rf"):
            np.random.seed(0)  # ART's attack models take no seed: fix the global ones
            torch.manual_seed(0)
            start = time.perf_counter()
            attack = MembershipInferenceBlackBox(art_clf, attack_model_type=kind)
            attack.fit(data["xa_m"], data["ya_m"], data["xa_n"], data["ya_n"])
            member = attack.infer(data["xb_m"], data["yb_m"], probabilities=True)
            nonmember = attack.infer(data["xb_n"], data["yb_n"], probabilities=True)
            timings[f"{victim['name']}/{kind}"] = time.perf_counter() - start
            np.save(out / f"mia_{victim['name']}_{kind}_m.npy", _member_column(member))
            np.save(out / f"mia_{victim['name']}_{kind}_n.npy", _member_column(nonmember))
    return timings


def _member_column(p: np.ndarray) -> np.ndarray:
    p = np.asarray(p, dtype=np.float64)
    return p[:, -1] if p.ndim == 2 else p.reshape(-1)


def _thief(d: int, k: int, hidden: int) -> Any:
    import torch
    from art.estimators.classification import PyTorchClassifier

    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Linear(d, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, k)
    )
    return PyTorchClassifier(
        model=net,
        loss=torch.nn.CrossEntropyLoss(),
        input_shape=(d,),
        nb_classes=k,
        optimizer=torch.optim.Adam(net.parameters(), lr=3e-3),
    )


def _epochs(n: int, batch: int) -> int:
    # The same number of gradient steps as mlwarden's surrogate gets for n queries.
    per_epoch = math.ceil(n / batch)
    steps = min(max(1500, 30 * per_epoch), 8000)
    return max(1, math.ceil(steps / per_epoch))


def _knockoff(job: dict[str, Any], out: Path) -> dict[str, Any]:
    import torch
    from art.attacks.extraction import KnockoffNets
    from art.estimators.classification import SklearnClassifier

    torch.set_num_threads(1)
    timings: dict[str, Any] = {}
    for victim in job["extraction_victims"]:
        data = np.load(victim["data"])
        art_clf = SklearnClassifier(model=joblib.load(victim["model"]), clip_values=victim["clip"])
        d, k = data["pool"].shape[1], int(victim["classes"])
        for budget in job["budgets"]:
            for proba in (True, False):
                np.random.seed(0)
                start = time.perf_counter()
                attack = KnockoffNets(
                    art_clf,
                    batch_size_fit=64,
                    batch_size_query=256,
                    nb_epochs=_epochs(budget, 64),
                    nb_stolen=budget,
                    sampling_strategy="random",
                    use_probability=proba,
                    verbose=False,
                )
                queries = data["pool"][:budget].astype(np.float32)
                thief = attack.extract(queries, thieved_classifier=_thief(d, k, job["hidden"]))
                pred = np.argmax(thief.predict(data["x_eval"].astype(np.float32)), axis=1)
                key = f"{victim['name']}_{budget}_{'proba' if proba else 'label'}"
                timings[key] = time.perf_counter() - start
                np.save(out / f"knockoff_{key}.npy", pred)
    return timings


def main() -> None:
    job = json.loads(Path(sys.argv[1]).read_text())
    out = Path(job["out"])
    import art

    result = {
        "art_version": art.__version__,
        "mia": _mia(job, out),
        "knockoff": _knockoff(job, out),
    }
    (out / "result.json").write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
