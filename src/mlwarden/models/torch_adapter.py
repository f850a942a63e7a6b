"""Adapter for a PyTorch classifier: labels, probabilities, logits and input gradients.

torch is an optional extra: it is imported when the adapter is first used, never by
``import mlwarden``. White-box attacks that loop in torch call :meth:`forward_tensor`
directly, so a PGD step never round-trips through numpy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from mlwarden.models._arrays import CountingAdapter, Floats, Labels, as_batch, batch_slices
from mlwarden.models.base import Capability
from mlwarden.models.errors import InputShapeError
from mlwarden.models.threads import single_thread

if TYPE_CHECKING:
    import torch

_CAPABILITIES = frozenset(
    {Capability.PREDICT, Capability.PREDICT_PROBA, Capability.LOGITS, Capability.LOSS_GRADIENT}
)


class TorchClassifier(CountingAdapter):
    """A ``torch.nn.Module`` that maps ``(n, *input_shape)`` inputs to ``(n, k)`` logits.

    Every call puts the module in eval mode (dropout off, batch-norm statistics frozen);
    code that trains it calls ``module.train()`` itself before each update.
    :meth:`loss_gradient` is the gradient of the *per-sample* cross-entropy (summed, not
    averaged, over the batch), so a sample's gradient does not depend on its batch.

    Args:
        module: the classifier; its output must be logits (no softmax layer).
        input_shape: shape of one sample, e.g. ``(1, 8, 8)``.
        n_classes: number of classes ``k``.
        device: where the module runs (``"cpu"``, ``"cuda"``, ...).
        batch_size: samples per forward pass in the numpy methods.
        clip: ``(low, high)`` bounds of valid inputs, or ``None`` when unbounded.
        num_threads: torch and BLAS threads for this process (``None`` leaves them alone).
    """

    def __init__(
        self,
        module: torch.nn.Module,
        *,
        input_shape: tuple[int, ...],
        n_classes: int,
        device: str = "cpu",
        batch_size: int = 256,
        clip: tuple[float, float] | None = (0.0, 1.0),
        num_threads: int | None = 1,
    ) -> None:
        self._module = module
        self._input_shape = tuple(int(d) for d in input_shape)
        self._n_classes = int(n_classes)
        self.device = device
        self.batch_size = int(batch_size)
        self.clip = clip
        self.num_threads = num_threads
        self._queries = 0
        self._ready = False

    def __repr__(self) -> str:
        return (
            f"TorchClassifier({type(self._module).__name__}, input_shape={self._input_shape}, "
            f"n_classes={self._n_classes}, device={self.device!r})"
        )

    @property
    def capabilities(self) -> frozenset[Capability]:
        return _CAPABILITIES

    @property
    def torch_module(self) -> torch.nn.Module:
        """The wrapped module (on :attr:`device` once the adapter has been used)."""
        return self._module

    def forward_tensor(self, x: torch.Tensor) -> torch.Tensor:
        """Logits for a tensor batch, with autograd left on (for attacks that stay in torch).

        Counts ``len(x)`` queries. ``x`` is moved to :attr:`device` if it is elsewhere.
        """
        self._prepare()
        if tuple(x.shape[1:]) != self._input_shape:
            raise InputShapeError(
                f"tensor of shape {tuple(x.shape)}; the model expects (n, "
                f"{', '.join(str(d) for d in self._input_shape)})"
            )
        self._queries += int(x.shape[0])
        out: torch.Tensor = self._module(x.to(self.device))
        return out

    def logits(self, x: Floats) -> Floats:
        """Raw scores ``(n, k)`` as float32."""
        import torch

        batch = as_batch(x, self._input_shape)
        with torch.no_grad():
            chunks = [self._scores(batch[s]) for s in batch_slices(len(batch), self.batch_size)]
        return _concat(chunks, self._n_classes)

    def predict_proba(self, x: Floats) -> Floats:
        """Softmax of the logits."""
        import torch

        z = torch.from_numpy(self.logits(x))
        out: Floats = torch.softmax(z.double(), dim=1).float().numpy()
        return out

    def predict(self, x: Floats) -> Labels:
        """Index of the largest logit."""
        out: Labels = np.argmax(self.logits(x), axis=1).astype(np.int64)
        return out

    def loss_gradient(self, x: Floats, y: Labels) -> Floats:
        """d(cross-entropy(logits(x), y)) / dx, one gradient per sample, shape of ``x``."""
        import torch

        batch = as_batch(x, self._input_shape)
        labels = np.asarray(y, dtype=np.int64).reshape(-1)
        if labels.shape != (len(batch),) or np.any((labels < 0) | (labels >= self._n_classes)):
            raise InputShapeError(
                f"labels must be {len(batch)} class indices in 0..{self._n_classes - 1}"
            )
        grads = [
            self._gradient(batch[s], labels[s], torch)
            for s in batch_slices(len(batch), self.batch_size)
        ]
        if not grads:
            return np.zeros_like(batch)
        return np.concatenate(grads).astype(np.float32, copy=False)

    def _scores(self, chunk: Floats) -> Floats:
        import torch

        out: Floats = self.forward_tensor(torch.from_numpy(chunk)).float().cpu().numpy()
        return out

    def _gradient(self, chunk: Floats, labels: Labels, torch: Any) -> Floats:
        x_t = torch.from_numpy(chunk).to(self.device).requires_grad_(True)
        target = torch.from_numpy(labels).to(self.device)
        loss = torch.nn.functional.cross_entropy(self.forward_tensor(x_t), target, reduction="sum")
        # autograd.grad, not backward(): the module's parameter .grad stay untouched.
        (grad,) = torch.autograd.grad(loss, x_t)
        out: Floats = grad.detach().float().cpu().numpy()
        return out

    def _prepare(self) -> None:
        if not self._ready:
            if self.num_threads == 1:
                single_thread()
            elif self.num_threads is not None:
                import torch

                torch.set_num_threads(self.num_threads)
            self._module.to(self.device)
            self._ready = True
        if self._module.training:
            self._module.eval()


def _concat(chunks: list[Floats], k: int) -> Floats:
    if not chunks:
        return np.zeros((0, k), dtype=np.float32)
    return np.concatenate(chunks).astype(np.float32, copy=False)
