"""Inputs of the scan benchmark: the test corpus (or a small stand-in) and the big files.

The corpus comes from ``tests.corpus.build_corpus``; ``--smoke`` (or a corpus that cannot be
imported) uses a handful of samples written here instead. Malicious samples carry payloads
that would only run if someone unpickled them, which nothing in the benchmark does.
Big files are generated once into ``benchmarks/.data/`` and reused while their size matches.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
DATA_DIR = REPO / "benchmarks" / ".data"
GIB = 1 << 30

#: Formats a peer's CLI is documented to scan; other big files are reported as n/a for it.
PICKLE, TORCH, NUMPY, SAFETENSORS = "pickle", "torch", "numpy", "safetensors"


@dataclass(frozen=True)
class BenchSample:
    """One corpus file: the fields of ``tests.corpus.Sample`` that the benchmark reads."""

    relpath: str
    malicious: bool
    family: str


def load_corpus(dest: Path, *, smoke: bool, quick: bool) -> tuple[list[BenchSample], str]:
    """Write the corpus under ``dest``; returns its samples and a label saying which it is."""
    if smoke:
        return write_smoke(dest), "smoke stand-in (--smoke)"
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    try:
        from tests.corpus import build_corpus  # type: ignore[import-not-found,unused-ignore]
    except ImportError as exc:
        label = f"smoke stand-in: tests.corpus unavailable ({exc})"
        return write_smoke(dest), label
    rows = build_corpus(dest, quick=quick)
    samples = [BenchSample(r.relpath, bool(r.malicious), str(r.family)) for r in rows]
    return samples, "tests.corpus" + (" (quick)" if quick else "")


# --- the stand-in corpus -------------------------------------------------------------------


class _Call:
    """Pickles as ``func(*args)``; only ``pickle.loads`` would call it, and nothing here does."""

    def __init__(self, func: Callable[..., Any], *args: Any) -> None:
        self.func = func
        self.args = args

    def __reduce__(self) -> tuple[Callable[..., Any], tuple[Any, ...]]:
        return self.func, self.args


def _torch_save(obj: Any, path: Path) -> None:
    import torch

    torch.save(obj, path)


def _benign_writers() -> dict[str, tuple[str, Callable[[Path], None]]]:
    import joblib
    import numpy as np
    import torch
    from safetensors.numpy import save_file
    from sklearn.linear_model import LogisticRegression

    x = np.arange(40, dtype=np.float64).reshape(20, 2)
    model = LogisticRegression().fit(x, np.arange(20) % 2)
    return {
        "benign/sklearn_logreg.pkl": (
            "benign-sklearn",
            lambda p: p.write_bytes(pickle.dumps(model, protocol=4)),
        ),
        "benign/sklearn_logreg.joblib": ("benign-joblib", lambda p: joblib.dump(model, p)),
        "benign/arrays.npy": ("benign-numpy", lambda p: np.save(p, x)),
        "benign/state_dict.pt": (
            "benign-torch",
            lambda p: _torch_save(torch.nn.Linear(4, 2).state_dict(), p),
        ),
        "benign/weights.safetensors": (
            "benign-safetensors",
            lambda p: save_file({"w": x.astype(np.float32)}, str(p)),
        ),
        "benign/plain_dict.pkl": (
            "benign-stdlib",
            lambda p: p.write_bytes(pickle.dumps({"lr": 0.1, "layers": [1, 2]}, protocol=2)),
        ),
    }


def _malicious_writers(marker: str) -> dict[str, tuple[str, Callable[[Path], None]]]:
    def dump(payload: Any, proto: int) -> Callable[[Path], None]:
        def write(path: Path) -> None:
            path.write_bytes(pickle.dumps(payload, protocol=proto))

        return write

    shell = f"touch {marker}"
    return {
        "malicious/os_system_p0.pkl": ("classic-reduce", dump(_Call(os.system, shell), 0)),
        "malicious/os_system_p4.pkl": ("classic-reduce", dump(_Call(os.system, shell), 4)),
        "malicious/eval.pkl": ("builtins-exec", dump(_Call(eval, f"open({marker!r},'w')"), 2)),
        "malicious/popen.pkl": (
            "subprocess",
            dump({"model": 1, "hook": _Call(subprocess.Popen, ["touch", marker])}, 5),
        ),
        "malicious/torch_reduce.pt": (
            "torch-zip",
            lambda p: _torch_save({"w": [1.0], "hook": _Call(os.system, shell)}, p),
        ),
    }


def write_smoke(dest: Path) -> list[BenchSample]:
    """Write the stand-in corpus (5 malicious, 6 benign) under ``dest``."""
    marker = str(dest / "PWNED")
    rows: list[BenchSample] = []
    for malicious, writers in ((True, _malicious_writers(marker)), (False, _benign_writers())):
        for relpath, (family, write) in writers.items():
            path = dest / relpath
            path.parent.mkdir(parents=True, exist_ok=True)
            write(path)
            rows.append(BenchSample(relpath, malicious, family))
    return rows


# --- big files -----------------------------------------------------------------------------


@dataclass(frozen=True)
class BigFile:
    """One generated big file and the format family the peers know it as."""

    key: str
    fmt: str
    path: Path
    note: str


def _chunks(total_bytes: int, parts: int = 4) -> list[int]:
    """Element counts (float32) of ``parts`` arrays adding up to about ``total_bytes``."""
    per = max(1, total_bytes // parts // 4)
    return [per] * parts


def _arrays(total_bytes: int) -> dict[str, Any]:
    import numpy as np

    return {
        f"layer{i}.weight": np.arange(n, dtype=np.float32)
        for i, n in enumerate(_chunks(total_bytes))
    }


def _write_pickle_arrays(path: Path, total: int) -> None:
    with path.open("wb") as fh:
        pickle.dump(_arrays(total), fh, protocol=4)


def _write_pickle_floats(path: Path, total: int) -> None:
    # BINFLOAT is 9 bytes: one opcode per float, so this file is bound by opcode count.
    values = [float(i) * 0.5 for i in range(total // 9)]
    with path.open("wb") as fh:
        pickle.dump(values, fh, protocol=4)


def _write_torch(path: Path, total: int) -> None:
    import torch

    state = {k: torch.from_numpy(v) for k, v in _arrays(total).items()}
    torch.save(state, path)


def _write_npy(path: Path, total: int) -> None:
    import numpy as np

    count = total // 4
    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(count,))
    step = 1 << 24
    for start in range(0, count, step):
        stop = min(count, start + step)
        out[start:stop] = np.arange(start, stop, dtype=np.float32)
    out.flush()
    del out


def _write_safetensors(path: Path, total: int) -> None:
    from safetensors.numpy import save_file

    save_file(_arrays(total), str(path))


_BIG: tuple[tuple[str, str, str, Callable[[Path, int], None], float, str], ...] = (
    ("pickle", PICKLE, "pkl", _write_pickle_arrays, 1.0, "raw pickle, 4 numpy arrays"),
    ("pickle-floats", PICKLE, "pkl", _write_pickle_floats, 0.1, "raw pickle, list of floats"),
    ("torch", TORCH, "pt", _write_torch, 1.0, "torch.save of a 4-tensor state_dict"),
    ("npy", NUMPY, "npy", _write_npy, 1.0, "one float32 .npy array"),
    ("safetensors", SAFETENSORS, "safetensors", _write_safetensors, 1.0, "4 float32 tensors"),
)


def big_files(gib: float, log: Callable[[str], None]) -> list[BigFile]:
    """Generate (or reuse) the big files for ``gib`` GiB; the float list gets a tenth of it."""
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    out = []
    for key, fmt, ext, write, share, note in _BIG:
        total = int(gib * share * GIB)
        path = DATA_DIR / f"{key}-{gib * share:.3f}gib.{ext}"
        if not path.exists():
            log(f"generating {path.name} ...")
            tmp = path.with_name(path.name + ".part")
            write(tmp, total)
            tmp.replace(path)
        out.append(BigFile(key, fmt, path, f"{note}, {path.stat().st_size / GIB:.2f} GiB"))
    return out


def warm_cache(path: Path) -> None:
    """Read ``path`` once so every tool sees the same (warm) page cache."""
    with path.open("rb") as fh:
        while fh.read(1 << 24):
            pass
