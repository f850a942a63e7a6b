"""ART side of benchmarks/evasion_bench.py: runs in the ART venv (benchmarks/.peers/art).

Usage (called by the benchmark, not by hand):
    python evasion_bench_art.py pgd WORKDIR REPEATS
    python evasion_bench_art.py hsj WORKDIR MODEL_NAME MAX_ITER MAX_EVAL INIT_EVAL

Reads the inputs and models the benchmark wrote into WORKDIR, times ART's attack (imports and
model loading excluded), writes the adversarial inputs to WORKDIR and prints one JSON line.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np


def _single_thread() -> None:
    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(1)
    threadpool_limits(1)


def run_pgd(work: Path, repeats: int) -> dict[str, Any]:
    import torch
    from art.attacks.evasion import ProjectedGradientDescent
    from art.estimators.classification import PyTorchClassifier

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from evasion_bench_model import make_cnn

    data = np.load(work / "pgd_inputs.npz")
    module = make_cnn()
    module.load_state_dict(torch.load(work / "cnn.pt", weights_only=True))
    module.eval()
    classifier = PyTorchClassifier(
        module,
        loss=torch.nn.CrossEntropyLoss(),
        input_shape=(1, 8, 8),
        nb_classes=10,
        clip_values=(0.0, 1.0),
        device_type="cpu",
    )
    attack = ProjectedGradientDescent(
        classifier,
        norm=np.inf,
        eps=float(data["eps"]),
        eps_step=float(data["step"]),
        max_iter=int(data["steps"]),
        num_random_init=0,
        batch_size=int(data["batch"]),
        verbose=False,
    )
    x, y = data["x"], data["y"]
    attack.generate(x[:64], y=y[:64])  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        adv = attack.generate(x, y=y)
        times.append(time.perf_counter() - start)
    np.save(work / "art_pgd_adv.npy", adv.astype(np.float32))
    return {"times": times}


def run_hsj(work: Path, name: str, max_iter: int, max_eval: int, init_eval: int) -> dict[str, Any]:
    import joblib
    from art.attacks.evasion import HopSkipJump
    from art.estimators.classification import SklearnClassifier

    data = np.load(work / f"hsj_inputs_{name}.npz")
    classifier = SklearnClassifier(joblib.load(work / f"{name}.joblib"), clip_values=(0.0, 1.0))
    counted = {"queries": 0}
    predict = classifier.predict

    def counting_predict(x: Any, *args: Any, **kwargs: Any) -> Any:
        counted["queries"] += len(x)
        return predict(x, *args, **kwargs)

    classifier.predict = counting_predict  # type: ignore[method-assign]
    attack = HopSkipJump(
        classifier,
        targeted=False,
        norm=2,
        max_iter=max_iter,
        max_eval=max_eval,
        init_eval=init_eval,
        init_size=100,
        verbose=False,
    )
    np.random.seed(0)
    start = time.perf_counter()
    adv = attack.generate(data["x"])
    elapsed = time.perf_counter() - start
    np.save(work / f"art_hsj_adv_{name}.npy", adv.astype(np.float32))
    return {"time": elapsed, "queries": counted["queries"]}


def main() -> None:
    import warnings

    import art

    warnings.simplefilter("ignore", FutureWarning)

    _single_thread()
    mode, work = sys.argv[1], Path(sys.argv[2])
    if mode == "pgd":
        out = run_pgd(work, int(sys.argv[3]))
    else:
        out = run_hsj(work, sys.argv[3], *(int(v) for v in sys.argv[4:7]))
    out["version"] = art.__version__
    print(json.dumps(out))


if __name__ == "__main__":
    main()
