"""Per-key state of the extraction monitor and where it is kept (memory here; Redis in the gateway).

A :class:`KeyState` is plain arrays and counters; ``to_bytes``/``from_bytes`` serialise it
with NumPy's ``.npz`` format (no pickle), so a shared store (Redis) can hold the windows of
every API key for many gateway replicas.
"""

from __future__ import annotations

import io
import threading
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

from mlwarden.errors import MlwardenError


@dataclass
class KeyState:
    """The recent queries of one key and what was measured on each.

    Attributes:
        window: standardised recent queries ``(w, d)``, oldest first.
        min_dist: distance of each to the nearest earlier query in the window (``inf`` first).
        ood: each query farther from the training profile than natural ones.
        dup: each query a near-duplicate (closer to an earlier one than natural records are).
        step: each query's difference to its nearest earlier one looks like a gradient-sign
            step (most changed coordinates moved by the same amount).
        cell: coarse cell of the input space each query fell in (coverage).
        seen: queries observed in total.
        alerted: whether an alert was raised (alerts are sticky until ``reset``).
        reasons: the reasons of the first alert.
        score: the highest score so far.
    """

    window: NDArray[np.float32] = field(default_factory=lambda: np.zeros((0, 0), np.float32))
    min_dist: NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))
    ood: NDArray[np.bool_] = field(default_factory=lambda: np.zeros(0, bool))
    dup: NDArray[np.bool_] = field(default_factory=lambda: np.zeros(0, bool))
    step: NDArray[np.bool_] = field(default_factory=lambda: np.zeros(0, bool))
    cell: NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, np.int64))
    seen: int = 0
    alerted: bool = False
    reasons: tuple[str, ...] = ()
    score: float = 0.0

    def to_bytes(self) -> bytes:
        """Serialise as ``.npz`` (no pickle)."""
        buf = io.BytesIO()
        np.savez(
            buf,
            window=self.window,
            min_dist=self.min_dist,
            ood=self.ood,
            dup=self.dup,
            step=self.step,
            cell=self.cell,
            meta=np.array([self.seen, int(self.alerted)], dtype=np.int64),
            score=np.array([self.score]),
            reasons=np.array(list(self.reasons), dtype=np.str_),
        )
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> KeyState:
        """Inverse of :meth:`to_bytes`; refuses anything else."""
        try:
            with np.load(io.BytesIO(data), allow_pickle=False) as z:
                meta = z["meta"]
                return cls(
                    window=z["window"],
                    min_dist=z["min_dist"],
                    ood=z["ood"],
                    dup=z["dup"],
                    step=z["step"],
                    cell=z["cell"],
                    seen=int(meta[0]),
                    alerted=bool(meta[1]),
                    reasons=tuple(str(r) for r in z["reasons"]),
                    score=float(z["score"][0]),
                )
        except (OSError, KeyError, ValueError, IndexError) as exc:
            raise MlwardenError(f"corrupt extraction-monitor state: {exc}") from None


@runtime_checkable
class MonitorStore(Protocol):
    """Where per-key monitor state lives."""

    def load(self, key: str) -> KeyState | None: ...

    def save(self, key: str, state: KeyState) -> None: ...

    def delete(self, key: str) -> None: ...


class InMemoryMonitorStore:
    """A dict of key states for one process (thread-safe)."""

    def __init__(self) -> None:
        self._states: dict[str, KeyState] = {}
        self._lock = threading.Lock()

    def load(self, key: str) -> KeyState | None:
        with self._lock:
            return self._states.get(key)

    def save(self, key: str, state: KeyState) -> None:
        with self._lock:
            self._states[key] = state

    def delete(self, key: str) -> None:
        with self._lock:
            self._states.pop(key, None)

    def keys(self) -> list[str]:
        """Keys with state, sorted."""
        with self._lock:
            return sorted(self._states)
