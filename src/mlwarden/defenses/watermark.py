"""Answer watermark (ML05): prove that a suspect model was trained on your model's answers.

DAWN-style (Szyller et al., 2021): a keyed HMAC of each query decides whether its answer is
altered (about ``rate`` of them) and to which wrong label; nothing is stored. A surrogate
trained on the answers learns some of these deliberate mistakes; an independent model does
not. :func:`verify_watermark` queries the suspect on the logged queries and compares its
agreement with the watermark labels on marked queries against the same rule on unmarked
ones (decoys): a one-sided Fisher exact test.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mlwarden.errors import UsageError
from mlwarden.models.base import Capability

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

_MIN_KEY = 16


class AnswerWatermark:
    """Decides, from a secret key, which answers to alter and how.

    Args:
        key: secret key (at least 16 bytes).
        rate: share of inputs whose answer is altered.
        decimals: inputs are rounded to this many decimals before hashing (JSON round trips
            must not change the decision).
    """

    def __init__(self, key: bytes, rate: float = 0.02, decimals: int = 4) -> None:
        if len(key) < _MIN_KEY:
            raise UsageError(f"a watermark key needs at least {_MIN_KEY} bytes")
        if not 0.0 < rate < 0.5:
            raise UsageError("watermark rate must be in (0, 0.5)")
        self._key = bytes(key)
        self.rate = rate
        self.decimals = decimals

    def _digests(self, x: NDArray[Any]) -> list[bytes]:
        import numpy as np

        # float32 first: inputs reach models as float32, and a float32 survives a JSON round
        # trip exactly, so the client's and the verifier's copies hash alike.
        as32 = np.asarray(x, dtype=np.float32).reshape(len(x), -1).astype(np.float64)
        flat = np.round(as32, self.decimals) + 0.0
        return [hmac.new(self._key, row.tobytes(), hashlib.sha256).digest() for row in flat]

    def marked(self, x: NDArray[Any]) -> NDArray[np.bool_]:
        """Which inputs get an altered answer."""
        import numpy as np

        d = self._digests(x)
        return np.array([int.from_bytes(h[:8], "big") / 2**64 < self.rate for h in d], dtype=bool)

    def watermark_labels(
        self, x: NDArray[Any], labels: NDArray[Any], n_classes: int
    ) -> NDArray[np.int64]:
        """The wrong label each input would get (never its original label)."""
        import numpy as np

        if n_classes < 2:
            raise UsageError("a watermark needs at least two classes")
        offsets = np.array(
            [int.from_bytes(h[8:16], "big") % (n_classes - 1) for h in self._digests(x)]
        )
        return np.asarray((np.asarray(labels, dtype=np.int64) + 1 + offsets) % n_classes)

    def apply_labels(
        self, x: NDArray[Any], labels: NDArray[Any], n_classes: int
    ) -> NDArray[np.int64]:
        """Labels with the marked ones replaced by their watermark label."""
        import numpy as np

        out = np.asarray(labels, dtype=np.int64).copy()
        mark = self.marked(x) & (out >= 0)
        if mark.any():
            out[mark] = self.watermark_labels(x[mark], out[mark], n_classes)
        return out

    def apply_proba(self, x: NDArray[Any], proba: NDArray[Any]) -> NDArray[np.float32]:
        """Probabilities with the top class and the watermark label swapped on marked rows."""
        import numpy as np

        p = np.asarray(proba, dtype=np.float32).copy()
        mark = self.marked(x)
        if mark.any():
            rows = np.flatnonzero(mark)
            top = np.argmax(p[rows], axis=1)
            wm = self.watermark_labels(x[rows], top, p.shape[1])
            p[rows, top], p[rows, wm] = p[rows, wm], p[rows, top]
        return p


class WatermarkedClassifier:
    """A model whose answers carry an :class:`AnswerWatermark` (what the gateway serves)."""

    def __init__(self, model: Any, watermark: AnswerWatermark) -> None:
        self.model = model
        self.watermark = watermark
        self.clip = getattr(model, "clip", None)

    @property
    def capabilities(self) -> frozenset[Capability]:
        return frozenset(self.model.capabilities) & {Capability.PREDICT, Capability.PREDICT_PROBA}

    @property
    def n_classes(self) -> int:
        return int(self.model.n_classes)

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.model.input_shape)

    @property
    def queries(self) -> int:
        return int(self.model.queries)

    def predict(self, x: NDArray[np.float32]) -> NDArray[np.int64]:
        return self.watermark.apply_labels(x, self.model.predict(x), self.n_classes)

    def predict_proba(self, x: NDArray[np.float32]) -> NDArray[np.float32]:
        return self.watermark.apply_proba(x, self.model.predict_proba(x))


@dataclass(frozen=True)
class OwnershipTest:
    """Outcome of :func:`verify_watermark`.

    Attributes:
        p_value: one-sided Fisher exact test, marked vs decoy agreement.
        agreements: marked queries on which the suspect gives the watermark label.
        marked: marked queries among the probes.
        decoy_agreements: unmarked queries on which it gives the (unused) watermark label.
        decoys: unmarked queries.
        binomial_p: binomial tail of ``agreements`` at the decoy rate (+1 smoothing).
        alpha: significance level; ``owned`` is ``p_value < alpha``.
    """

    p_value: float
    agreements: int
    marked: int
    decoy_agreements: int
    decoys: int
    binomial_p: float
    alpha: float

    @property
    def owned(self) -> bool:
        """Whether the watermark is present at significance ``alpha``."""
        return self.p_value < self.alpha

    def to_dict(self) -> dict[str, Any]:
        return {
            "owned": self.owned,
            "p_value": self.p_value,
            "binomial_p": self.binomial_p,
            "agreements": self.agreements,
            "marked": self.marked,
            "decoy_agreements": self.decoy_agreements,
            "decoys": self.decoys,
            "alpha": self.alpha,
        }


def verify_watermark(
    suspect_model: Any,
    key: bytes,
    probe_inputs: NDArray[Any],
    original_labels: NDArray[Any],
    *,
    rate: float = 0.02,
    alpha: float = 0.01,
    decimals: int = 4,
) -> OwnershipTest:
    """Test whether ``suspect_model`` learned the watermark of ``key``.

    Args:
        suspect_model: the model suspected of being a copy (any adapter with ``predict``).
        key: the watermark key.
        probe_inputs: queries the watermark was applied to (the suspect key's logged queries).
        original_labels: your model's unwatermarked answers to ``probe_inputs``.
        rate, decimals: the watermark's settings.
        alpha: significance level of the decision.
    """
    import numpy as np
    from scipy.stats import binom, fisher_exact

    wm = AnswerWatermark(key, rate, decimals)
    x = np.asarray(probe_inputs, dtype=np.float32)
    mark = wm.marked(x)
    if not mark.any() or mark.all():
        raise UsageError(
            f"{int(mark.sum())} of {len(x)} probe inputs are marked: need marked and unmarked ones",
            hint="Probe with the logged queries of the suspect key (hundreds or more).",
        )
    wm_labels = wm.watermark_labels(x, np.asarray(original_labels), int(suspect_model.n_classes))
    agree = (
        np.asarray(suspect_model.predict(x.reshape((len(x), *suspect_model.input_shape))))
        == wm_labels
    )
    a, n = int(agree[mark].sum()), int(mark.sum())
    b, m = int(agree[~mark].sum()), int((~mark).sum())
    p_fisher = float(fisher_exact([[a, n - a], [b, m - b]], alternative="greater")[1])
    p_binom = float(binom.sf(a - 1, n, (b + 1) / (m + 2))) if a else 1.0
    return OwnershipTest(p_fisher, a, n, b, m, p_binom, alpha)
