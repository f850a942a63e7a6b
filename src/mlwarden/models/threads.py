"""One compute thread per process for BLAS, OpenMP and torch.

mlwarden parallelises across processes (joblib), so each process keeps one thread: N workers
with N threads each would oversubscribe the cores and run slower than N workers alone.
"""

from __future__ import annotations

import sys


def single_thread() -> None:
    """Limit BLAS/OpenMP thread pools and torch's intra-op pool to one thread (idempotent).

    Applies to the native libraries loaded at call time; call it again after importing
    another native library. torch is only limited when it has already been imported, so this
    never imports torch.
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl ships with scikit-learn
        pass
    else:
        # Constructed without `with`, the limit stays in force (nothing restores it).
        threadpool_limits(limits=1)
    torch = sys.modules.get("torch")
    if torch is not None and torch.get_num_threads() != 1:
        torch.set_num_threads(1)
