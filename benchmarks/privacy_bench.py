"""Privacy and theft benchmark: mlwarden vs ART 1.20 on the same victims, in one run.

1. Membership inference on four victims (an overfit and a regularised MLP, on a noisy
   ``make_classification`` set and on digits): mlwarden's reference attacks (LiRA, RMIA) vs
   ART's MembershipInferenceBlackBox (attack models nn and rf). ART trains its attack model
   on half of the members and non-members (split A); both tools are scored on split B with
   the same code (AUC, TPR at 0.1% / 1% FPR, bootstrap CIs). Target: mlwarden's TPR at 1%
   FPR >= 2x ART's wherever ART's is above chance (above 1%).
2. Extraction: mlwarden's natural-query surrogate vs ART KnockoffNets (random sampling) at
   100 / 1,000 / 10,000 queries, probabilities and labels, same attacker pool, same network
   (one hidden layer), same number of gradient steps. Target: fidelity at least ART's.
3. Extraction monitor: the four strategies' label-policy streams (natural, uniform, Jacobian,
   active) and a natural-then-mixup stream; detection delay, and false alarms on natural
   traffic. Target: every attack stream within 500 queries, no alarm on 2,000 natural ones.

Usage::

    benchmarks/setup_evasion_peers.sh            # ART's venv in benchmarks/.peers/art
    python benchmarks/privacy_bench.py --json out/privacy_bench.json
    python benchmarks/privacy_bench.py --quick   # K=4, budgets 100/1000, no ART 10k
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import joblib
import numpy as np

from mlwarden.attacks.extraction import attack_box, model_extraction
from mlwarden.attacks.extraction_queries import natural_queries
from mlwarden.attacks.membership import membership_inference
from mlwarden.attacks.mia_metrics import evaluate
from mlwarden.attacks.privacy_settings import ExtractionSettings, MembershipSettings
from mlwarden.defenses.extraction_monitor import ExtractionMonitor
from mlwarden.models import SklearnClassifier
from mlwarden.models.threads import single_thread

HERE = Path(__file__).resolve().parent
ART_PYTHON = HERE / ".peers" / "art" / "bin" / "python"
REFERENCE_ATTACKS = ("lira_online", "lira_offline", "rmia")


def _mlp(overfit: bool) -> Any:
    from sklearn.neural_network import MLPClassifier

    if overfit:
        return MLPClassifier((256,), alpha=1e-6, max_iter=500, random_state=0)
    return MLPClassifier((64,), alpha=1.0, early_stopping=True, max_iter=300, random_state=0)


def datasets() -> dict[str, dict[str, np.ndarray]]:
    """noisy: 40 features, 3 classes, 5% label noise; digits scaled to [0, 1]."""
    from sklearn.datasets import load_digits, make_classification

    x, y = make_classification(
        n_samples=6000,
        n_features=40,
        n_informative=10,
        n_redundant=0,
        n_classes=3,
        flip_y=0.05,
        random_state=0,
    )
    x = x.astype(np.float32)
    noisy = {
        "x": x,
        "y": y,
        "train": np.arange(1000),
        "test": np.arange(1000, 2000),
        "pop": np.arange(2000, 3000),
        "traffic": np.arange(3000, 5000),
    }
    d = load_digits()
    perm = np.random.default_rng(0).permutation(len(d.target))
    digits = {
        "x": (d.data / 16).astype(np.float32),
        "y": d.target,
        "train": perm[:600],
        "test": perm[600:1200],
        "pop": perm[1200:],
        "traffic": perm[600:],
    }
    return {"noisy": noisy, "digits": digits}


def build_victims(work: Path, sets: dict[str, Any]) -> list[dict[str, Any]]:
    """Fit the four victims, save them (joblib) and the A/B splits (npz) for ART."""
    victims = []
    for name, ds in sets.items():
        x, y = ds["x"], ds["y"]
        for overfit in (True, False):
            model = _mlp(overfit).fit(x[ds["train"]], y[ds["train"]])
            tag = f"{name}-{'overfit' if overfit else 'regularised'}"
            half_m, half_n = len(ds["train"]) // 2, len(ds["test"]) // 2
            tr, te = ds["train"], ds["test"]
            split = {
                "xa_m": x[tr[:half_m]],
                "ya_m": y[tr[:half_m]],
                "xa_n": x[te[:half_n]],
                "ya_n": y[te[:half_n]],
                "xb_m": x[tr[half_m:]],
                "yb_m": y[tr[half_m:]],
                "xb_n": x[te[half_n:]],
                "yb_n": y[te[half_n:]],
            }
            joblib.dump(model, work / f"{tag}.joblib")
            np.savez(work / f"{tag}.npz", **split)
            victims.append(
                {
                    "name": tag,
                    "set": name,
                    "model": model,
                    "split": split,
                    "train_acc": model.score(x[tr], y[tr]),
                    "test_acc": model.score(x[te], y[te]),
                }
            )
    return victims


def mlwarden_mia(
    victim: dict[str, Any], ds: dict[str, Any], references: int, jobs: int
) -> dict[str, Any]:
    s = victim["split"]
    settings = MembershipSettings(references=references, jobs=jobs, bootstrap=200, label_only=False)
    start = time.perf_counter()
    result = membership_inference(
        SklearnClassifier(victim["model"]),
        (s["xb_m"], s["yb_m"]),
        (s["xb_n"], s["yb_n"]),
        (ds["x"][ds["pop"]], ds["y"][ds["pop"]]),
        settings,
        seed=0,
    )
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "scores": {x.attack: x.to_dict() for x in result.scores}}


def run_art(
    work: Path, victims: list[dict[str, Any]], extraction: list[dict[str, Any]], budgets: list[int]
) -> dict[str, Any] | None:
    if not ART_PYTHON.exists():
        print(f"ART unavailable: {ART_PYTHON} missing (run benchmarks/setup_evasion_peers.sh)")
        return None
    job = {
        "out": str(work),
        "budgets": budgets,
        "hidden": 128,
        "mia_victims": [
            {
                "name": v["name"],
                "model": str(work / f"{v['name']}.joblib"),
                "data": str(work / f"{v['name']}.npz"),
            }
            for v in victims
        ],
        "extraction_victims": extraction,
    }
    (work / "job.json").write_text(json.dumps(job))
    done = subprocess.run(
        [str(ART_PYTHON), str(HERE / "privacy_bench_art.py"), str(work / "job.json")],
        capture_output=True,
        text=True,
        timeout=3600,
        check=False,
        env={
            "OMP_NUM_THREADS": "1",
            "MKL_NUM_THREADS": "1",
            "OPENBLAS_NUM_THREADS": "1",
            "PATH": "/usr/bin:/bin",
        },
    )
    if done.returncode != 0:
        print(f"ART failed:\n{done.stderr[-3000:]}")
        return None
    result: dict[str, Any] = json.loads((work / "result.json").read_text())
    return result


def art_mia_scores(work: Path, name: str) -> dict[str, Any]:
    out = {}
    for kind in ("nn", "rf"):
        m = np.load(work / f"mia_{name}_{kind}_m.npy")
        n = np.load(work / f"mia_{name}_{kind}_n.npy")
        out[f"art_{kind}"] = evaluate(f"art_{kind}", m, n, bootstrap=200, exposed=0).to_dict()
    return out


def mia_section(
    work: Path,
    victims: list[dict[str, Any]],
    sets: dict[str, Any],
    art: dict[str, Any] | None,
    args: argparse.Namespace,
) -> list[dict[str, Any]]:
    rows = []
    for v in victims:
        ours = mlwarden_mia(v, sets[v["set"]], args.references, args.jobs)
        best = max(
            REFERENCE_ATTACKS, key=lambda a: ours["scores"].get(a, {}).get("tpr_at_0.01_fpr", -1)
        )
        row = {
            "victim": v["name"],
            "train_acc": round(v["train_acc"], 4),
            "test_acc": round(v["test_acc"], 4),
            "mlwarden": ours,
            "mlwarden_best": best,
        }
        if art is not None:
            row["art"] = art_mia_scores(work, v["name"])
            row["art_seconds"] = {k: round(art["mia"][f"{v['name']}/{k}"], 2) for k in ("nn", "rf")}
        rows.append(row)
        _print_mia(row)
    return rows


def _print_mia(row: dict[str, Any]) -> None:
    ours = row["mlwarden"]["scores"][row["mlwarden_best"]]
    line = (
        f"MIA {row['victim']:<20} train/test {row['train_acc']:.2f}/{row['test_acc']:.2f}  "
        f"mlwarden {row['mlwarden_best']}: AUC {ours['auc']:.3f} "
        f"TPR@1% {ours['tpr_at_0.01_fpr']:.3f} "
        f"CI {ours['ci95']['tpr_at_0.01_fpr']} ({row['mlwarden']['seconds']:.1f} s)"
    )
    print(line)
    for kind, art in row.get("art", {}).items():
        tpr = art["tpr_at_0.01_fpr"]
        ratio = ours["tpr_at_0.01_fpr"] / tpr if tpr > 0 else float("inf")
        verdict = _verdict(tpr, art["ci95"]["tpr_at_0.01_fpr"][0], ratio)
        print(
            f"    {kind}: AUC {art['auc']:.3f} TPR@1% {tpr:.3f} "
            f"CI {art['ci95']['tpr_at_0.01_fpr']} "
            f"({row['art_seconds'][kind.split('_')[1]]:.1f} s)  ratio {ratio:.2f}x  {verdict}"
        )


def _verdict(tpr: float, ci_low: float, ratio: float) -> str:
    """The 2x target applies where ART beats chance (TPR 1% at 1% FPR)."""
    if tpr <= 0.01:
        return "ART at chance"
    if ci_low <= 0.01:
        met = "met" if ratio >= 2 else "missed"
        return f"ART's CI includes chance (2x on the point estimate: {met})"
    return "target met" if ratio >= 2 else "TARGET MISSED"


def extraction_section(
    work: Path,
    sets: dict[str, Any],
    art: dict[str, Any] | None,
    budgets: list[int],
    victims: dict[str, Any],
) -> list[dict[str, Any]]:
    rows = []
    settings = ExtractionSettings(
        budgets=budgets,
        strategies=["natural"],
        policies=["probabilities", "label"],
        jobs=2,
        equation_solving=False,
    )
    for name, ds in sets.items():
        model = SklearnClassifier(victims[name], clip=_clip(name))
        x_eval, y_eval = ds["x"][ds["test"]], ds["y"][ds["test"]]
        start = time.perf_counter()
        result = model_extraction(model, ds["x"][ds["pop"]], (x_eval, y_eval), settings, seed=0)
        seconds = time.perf_counter() - start
        truth = model.predict(x_eval)
        for r in result.rows:
            kind = "proba" if r["policy"] == "probabilities" else "label"
            row = {
                "victim": name,
                "budget": r["budget"],
                "answers": kind,
                "mlwarden": r["fidelity"],
            }
            if art is not None:
                pred = np.load(work / f"knockoff_{name}_{r['budget']}_{kind}.npy")
                row["art"] = round(float((pred == truth).mean()), 4)
                row["art_seconds"] = round(art["knockoff"][f"{name}_{r['budget']}_{kind}"], 2)
            rows.append(row)
            art_text = (
                f"ART {row['art']:.4f} ({row['art_seconds']:.1f} s)  "
                f"diff {row['mlwarden'] - row['art']:+.4f}"
                if "art" in row
                else ""
            )
            print(
                f"EXT {name:<7} {kind:<5} {r['budget']:>6} queries: "
                f"mlwarden {r['fidelity']:.4f}  {art_text}"
            )
        print(f"    mlwarden total {seconds:.1f} s for {len(result.rows)} surrogates")
    return rows


def monitor_section(sets: dict[str, Any], victims: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    settings = ExtractionSettings(
        budgets=[500], policies=["label"], jobs=2, equation_solving=False, hidden=64
    )
    for name, ds in sets.items():
        x = ds["x"]
        model = SklearnClassifier(victims[name], clip=_clip(name))
        start = time.perf_counter()
        monitor = ExtractionMonitor(x[ds["train"]])
        fit_seconds = time.perf_counter() - start
        streams = {
            k[0]: v
            for k, v in model_extraction(
                model, x[ds["pop"]], (x[ds["test"]], ds["y"][ds["test"]]), settings, seed=0
            ).streams.items()
        }
        small_pool = attack_box(model, x[ds["pop"][:100]])
        streams["natural_then_mixup (100-record pool)"] = natural_queries(
            small_pool, 500, np.random.default_rng(0)
        )
        traffic = x[ds["traffic"]]
        start = time.perf_counter()
        alarm = _first_alert(monitor, "natural", traffic)
        per_query = (time.perf_counter() - start) / len(traffic)
        print(
            f"MON {name}: natural traffic {len(traffic)} queries -> "
            f"{'ALARM at ' + str(alarm) if alarm else 'no alarm'}  "
            f"({per_query * 1e3:.2f} ms/query, profile {fit_seconds:.1f} s)"
        )
        row = {
            "set": name,
            "natural_queries": len(traffic),
            "natural_alarm": alarm,
            "ms_per_query": round(per_query * 1e3, 3),
            "streams": {},
        }
        for sname, stream in streams.items():
            delay = _first_alert(monitor, sname, stream[:500])
            reasons = monitor.store.load(sname).reasons
            row["streams"][sname] = {"delay": delay, "reasons": list(reasons)}
            print(
                f"    {sname:<38} "
                f"{'detected after ' + str(delay) if delay else 'NOT detected in 500'}  "
                f"{'; '.join(reasons)}"
            )
        rows.append(row)
    return rows


def dp_section(sets: dict[str, Any]) -> list[dict[str, Any]]:
    """DP-SGD (opacus) on digits: accuracy, train time and membership leakage per epsilon."""
    try:
        import opacus  # noqa: F401

        from mlwarden.attacks.privacy_curve import privacy_utility_curve
    except ImportError:
        print("DP: opacus unavailable (pip install 'mlwarden[dp]')")
        return []
    ds = sets["digits"]
    x, y = ds["x"], ds["y"]
    points = privacy_utility_curve(
        (x[ds["train"]], y[ds["train"]]),
        (x[ds["test"]], y[ds["test"]]),
        (None, 8.0, 1.0),
        epochs=30,
    )
    rows = [p.to_dict() for p in points]
    for r in rows:
        print(
            f"DP  epsilon {r['epsilon']!s:>5}: test accuracy {r['test_accuracy']:.3f}, "
            f"train {r['seconds']:.1f} s, MIA ({r['attack']}) AUC {r['mia_auc']:.3f}, "
            f"TPR@1% {r['mia_tpr_at_1pct_fpr']:.3f}"
        )
    return rows


def _clip(name: str) -> tuple[float, float] | None:
    return (0.0, 1.0) if name == "digits" else None


def _first_alert(monitor: ExtractionMonitor, key: str, stream: np.ndarray) -> int | None:
    for i in range(0, len(stream), 10):
        verdict = monitor.observe(key, stream[i : i + 10])
        if verdict.alert:
            return verdict.queries_seen
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--references", type=int, default=16, help="Reference models (K).")
    parser.add_argument("--jobs", type=int, default=2, help="Processes for reference models.")
    parser.add_argument("--quick", action="store_true", help="K=4, budgets 100/1000.")
    parser.add_argument("--no-peers", action="store_true", help="Skip ART.")
    parser.add_argument("--json", type=Path, help="Write every number here.")
    args = parser.parse_args()
    if args.quick:
        args.references = 4
    budgets = [100, 1000] if args.quick else [100, 1000, 10000]
    single_thread()
    warnings.simplefilter("ignore")
    sets = datasets()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        victims = build_victims(work, sets)
        thieves = {}
        extraction_jobs = []
        for name, ds in sets.items():
            victim = _mlp(False).set_params(
                alpha=1e-4, early_stopping=False, max_iter=500, hidden_layer_sizes=(128,)
            )
            victim.fit(ds["x"][ds["train"]], ds["y"][ds["train"]])
            thieves[name] = victim
            joblib.dump(victim, work / f"ext-{name}.joblib")
            # ART gets the very queries mlwarden's natural strategy sends (its pool, then mixups
            # once the pool is used up: KnockoffNets' random sampling never repeats a record).
            box = attack_box(SklearnClassifier(victim, clip=_clip(name)), ds["x"][ds["pop"]])
            stream = natural_queries(box, max(budgets), np.random.default_rng([0, 0]))
            np.savez(work / f"ext-{name}.npz", pool=stream, x_eval=ds["x"][ds["test"]])
            extraction_jobs.append(
                {
                    "name": name,
                    "model": str(work / f"ext-{name}.joblib"),
                    "data": str(work / f"ext-{name}.npz"),
                    "classes": int(ds["y"].max()) + 1,
                    "clip": [0.0, 1.0] if name == "digits" else None,
                }
            )
        art = None
        if not args.no_peers:
            start = time.perf_counter()
            art = run_art(work, victims, extraction_jobs, budgets)
            print(
                f"ART {art['art_version'] if art else 'unavailable'} "
                f"ran in {time.perf_counter() - start:.1f} s"
            )
        results = {
            "date": time.strftime("%Y-%m-%d"),
            "references": args.references,
            "budgets": budgets,
            "art_version": art["art_version"] if art else None,
            "mia": mia_section(work, victims, sets, art, args),
            "extraction": extraction_section(work, sets, art, budgets, thieves),
            "monitor": monitor_section(sets, thieves),
            "dp": dp_section(sets),
        }
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2, default=float))


if __name__ == "__main__":
    sys.exit(main())
