"""ML05 extraction monitor: does one key's query stream look like someone copying the model?

Three signals per key, each a statistical test with a false-alarm level ``alpha``:

- **out-of-distribution rate**: the share of the key's recent queries whose log-probability
  under the reference histograms is below the held-out 1% level, tested (binomial) against
  the rate natural traffic shows; synthetic queries (uniform noise, Jacobian steps,
  interpolations) fall off the data manifold;
- **uniform sampling / coverage**: the key's per-feature histograms differ from the
  reference (chi-square, Holm) and sit closer to a uniform spread over the reference range;
- **PRADA** (Juuti et al. 2019, https://arxiv.org/abs/1805.02628): the minimum distance of
  each query to the key's earlier ones; natural streams give a roughly normal distribution,
  synthetic ones do not (Shapiro-Wilk W below ``prada_delta``; off by default).

Per-query features are computed where the query arrives; the window a verdict is based on
lives in a :class:`WindowStore` (in memory, or Redis so that every worker sees the key's
whole stream: a few bytes per query). This is the gateway's default (``engine =
"streaming"``): tens of microseconds per query. ``engine = "full"`` runs
:class:`mlwarden.defenses.extraction_monitor.ExtractionMonitor` (six signals, calibrated on
replayed natural streams; about a millisecond per query) behind the same interface,
``observe(key, x) -> MonitorVerdict``.
"""

from __future__ import annotations

import math
import struct
import threading
from collections import OrderedDict, deque
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from mlwarden.defenses.extraction_monitor import MonitorVerdict
from mlwarden.gateway.policy import ExtractionPolicy
from mlwarden.monitor.online import compare, psi
from mlwarden.monitor.profile import ReferenceProfile

_HEAD = struct.Struct("<Bf")
_MAX_KEYS = 10_000


class WindowStore(Protocol):
    """Where each key's recent per-query features live (shared by all workers)."""

    def append(self, key: str, entries: list[bytes], keep: int) -> int:
        """Add entries, keep the last ``keep``; return how many the key has sent in all."""

    def window(self, key: str) -> list[bytes]:
        """The key's recent entries, oldest first."""


class MemoryWindowStore:
    """A :class:`WindowStore` inside one process."""

    def __init__(self) -> None:
        self._entries: dict[str, deque[bytes]] = {}
        self._seen: dict[str, int] = {}
        self._lock = threading.Lock()

    def append(self, key: str, entries: list[bytes], keep: int) -> int:
        with self._lock:
            queue = self._entries.get(key)
            if queue is None or queue.maxlen != keep:
                queue = self._entries[key] = deque(queue or (), maxlen=keep)
            queue.extend(entries)
            self._seen[key] = self._seen.get(key, 0) + len(entries)
            return self._seen[key]

    def window(self, key: str) -> list[bytes]:
        with self._lock:
            return list(self._entries.get(key, ()))


class _History:
    """The last queries one key sent to this process (for PRADA's nearest distances)."""

    def __init__(self, size: int, n_features: int) -> None:
        self.rows = np.zeros((size, n_features), dtype=np.float32)
        self.filled = 0
        self.next = 0

    def nearest(self, row: NDArray[np.float32]) -> float:
        if self.filled == 0:
            return math.nan
        diff = self.rows[: self.filled] - row
        return float(np.sqrt(np.einsum("ij,ij->i", diff, diff).min()))

    def add(self, row: NDArray[np.float32]) -> None:
        self.rows[self.next] = row
        self.next = (self.next + 1) % len(self.rows)
        self.filled = min(self.filled + 1, len(self.rows))


class StreamingExtractionMonitor:
    """Watches each key's queries for the signatures of model extraction.

    Args:
        profile_or_training_data: the reference profile, or training rows to build it from.
        config: the ``[gateway.extraction]`` section.
        store: where windows live (default: in memory).
        history: queries per key kept in this process for PRADA distances.
    """

    def __init__(
        self,
        profile_or_training_data: ReferenceProfile | NDArray[np.floating],
        config: ExtractionPolicy | None = None,
        store: WindowStore | None = None,
        history: int = 256,
    ) -> None:
        profile = profile_or_training_data
        if not isinstance(profile, ReferenceProfile):
            profile = ReferenceProfile.build(np.asarray(profile))
        self.profile = profile
        self.config = config or ExtractionPolicy()
        self.store: WindowStore = store or MemoryWindowStore()
        self._history_size = history
        self._histories: OrderedDict[str, _History] = OrderedDict()
        self._table = profile.log_probabilities()
        self._ood_level = profile.ood_threshold(0.01)
        self._uniform = _uniform_counts(profile)
        self._dtype = np.dtype(
            [("ood", "u1"), ("distance", "<f4"), ("bins", "u1", (profile.n_features,))]
        )
        self._lock = threading.Lock()

    def observe(
        self, key: str, x: NDArray[np.floating], bins: NDArray[np.uint8] | None = None
    ) -> MonitorVerdict:
        """Record a batch of queries from ``key``; test the key's window when one is due.

        ``bins`` (from :meth:`ReferenceProfile.bin_index`) saves binning ``x`` again.
        """
        flat = np.asarray(x, dtype=np.float32).reshape(len(x), -1)
        entries = self._entries(key, flat, self.profile.bin_index(flat) if bins is None else bins)
        cfg = self.config
        seen = self.store.append(key, entries, cfg.window)
        due = seen >= cfg.min_queries and (seen // cfg.check_every) != (
            (seen - len(entries)) // cfg.check_every
        )
        if not due:
            return MonitorVerdict(False, 0.0, (), seen)
        return self._test(self.store.window(key), seen)

    def _entries(self, key: str, flat: NDArray[np.float32], bins: NDArray[np.uint8]) -> list[bytes]:
        ood = (self.profile.score_bins(bins, self._table) < self._ood_level).tolist()
        if self.config.prada_delta <= 0:  # PRADA off: no distances to keep
            return [_HEAD.pack(o, math.nan) + b.tobytes() for o, b in zip(ood, bins, strict=True)]
        with self._lock:
            history = self._history(key)
            out = []
            for row, flag, row_bins in zip(flat, ood, bins, strict=True):
                distance = history.nearest(row)
                history.add(row)
                out.append(_HEAD.pack(flag, distance) + row_bins.tobytes())
        return out

    def _history(self, key: str) -> _History:
        history = self._histories.get(key)
        if history is None:
            history = self._histories[key] = _History(self._history_size, self.profile.n_features)
            if len(self._histories) > _MAX_KEYS:
                self._histories.popitem(last=False)
        else:
            self._histories.move_to_end(key)
        return history

    def _test(self, window: list[bytes], seen: int) -> MonitorVerdict:
        rows = np.frombuffer(b"".join(window), dtype=self._dtype)
        ood = rows["ood"].astype(np.int64)
        distances = rows["distance"].astype(np.float64)
        bins = rows["bins"]
        signals = [self._ood(ood), self._coverage(bins), self._prada(distances)]
        fired = [(p, why) for p, why in signals if why]
        smallest = min((p for p, _ in signals), default=1.0)
        score = min(300.0, -math.log10(max(smallest, 1e-300)))
        return MonitorVerdict(bool(fired), score, tuple(why for _, why in fired), seen)

    def _ood(self, ood: NDArray[np.int64]) -> tuple[float, str]:
        from scipy.stats import binom

        n, k, rate = len(ood), int(ood.sum()), self.config.ood_base_rate
        p = float(binom.sf(k - 1, n, rate)) if k else 1.0
        if p < self.config.alpha and k > 2 * rate * n:
            return p, f"{k} of the last {n} queries are out of distribution (p={p:.1e})"
        return p, ""

    def _coverage(self, bins: NDArray[np.uint8]) -> tuple[float, str]:
        counts = self.profile.histogram(bins)
        verdict = compare(self.profile.counts, counts, alpha=self.config.alpha, min_effect=0.25)
        p = float(verdict.pvalues.min()) if len(verdict.pvalues) else 1.0
        if len(verdict.features) < max(1, self.profile.n_features // 4):
            return max(p, self.config.alpha), ""
        to_uniform = float(psi(self._uniform, counts).mean())
        if to_uniform >= float(verdict.psi.mean()):
            return max(p, self.config.alpha), ""
        share = len(verdict.features) / self.profile.n_features
        return p, f"queries spread uniformly over the input space ({share:.0%} of features)"

    def _prada(self, distances: NDArray[np.float64]) -> tuple[float, str]:
        delta = self.config.prada_delta
        finite = distances[np.isfinite(distances)]
        if delta <= 0 or len(finite) < max(20, self.config.min_queries):
            return 1.0, ""
        from scipy.stats import shapiro

        w, p = shapiro(finite[-5000:])
        if w < delta:
            return float(p), f"query distances are not normally distributed (W={w:.3f})"
        return float(p), ""


def _uniform_counts(profile: ReferenceProfile) -> NDArray[np.int64]:
    counts = np.zeros_like(profile.counts)
    counts[:, 1:-1] = 1
    return counts
