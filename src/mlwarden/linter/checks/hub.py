"""ML06/ML07 rules on model hubs: unpinned downloads, remote code, frozen untrusted bases.

``from_pretrained``, ``hf_hub_download``, ``snapshot_download``, ``pipeline(model=...)``,
``SentenceTransformer`` and ``timm`` ``hf-hub:`` models must pin a 40-hex commit
(``revision=``); local paths are not downloads. ``trust_remote_code=True`` runs the
repository's Python code (accepted only with a pinned commit); ``torch.hub.load`` always
runs ``hubconf.py`` from a movable Git reference. ML07: freezing every parameter of a base
model that came from an unpinned hub source, to fine-tune only a head on top of it.
"""

from __future__ import annotations

import ast
import re

from mlwarden.findings import Confidence
from mlwarden.linter import hubs
from mlwarden.linter.checks.base import REGISTRY as R
from mlwarden.linter.context import Call, FileContext, Frame
from mlwarden.linter.flow import UNTRUSTED
from mlwarden.linter.syntax import dotted
from mlwarden.linter.values import AV, REMOTE, may_be_true, pinned_revision

_HIGH, _MED, _LOW = Confidence.HIGH, Confidence.MEDIUM, Confidence.LOW
_FREEZE_ITERS = frozenset(("parameters", "named_parameters", "children", "modules", "layers"))


@R.calls(*hubs.HUB_TERMINALS)
def unpinned_download(call: Call) -> None:
    """LINT-ML06-008: a hub download without a revision pinned to a commit."""
    found = hubs.hub_load(call)
    if found is None or found.local is True or found.pinned is True:
        return
    what = f"{found.api}()"
    if found.pinned is None:
        call.report("LINT-ML06-008", f"{what}: revision is not known to be a pinned commit", _LOW)
    elif found.local is None:
        call.report(
            "LINT-ML06-008",
            f"{what} may download from the hub without a revision pinned to a commit",
            _LOW if found.repo is None or found.repo.unknown else _MED,
        )
    else:
        call.report(
            "LINT-ML06-008",
            f"{what} downloads from the hub without a revision pinned to a 40-hex commit",
        )


@R.keywords("trust_remote_code")
def trust_remote_code(call: Call) -> None:
    """LINT-ML06-009: trust_remote_code=True runs the repository's code."""
    flag = call.kwargs["trust_remote_code"]
    truth = may_be_true(flag)
    if truth is False:
        return
    if pinned_revision(call.arg("revision")) is True:
        return  # the code that runs is the reviewed commit
    if truth:
        call.report(
            "LINT-ML06-009",
            "trust_remote_code=True executes Python code from the model repository",
        )
    else:
        call.report("LINT-ML06-009", "trust_remote_code may be True on some path", _LOW)


@R.calls("load", "load_state_dict_from_url")
def torch_hub(call: Call) -> None:
    """LINT-ML06-010: torch.hub.load runs hubconf.py from a GitHub repository."""
    if call.matches("torch.hub.load"):
        if not hubs.torch_hub_pinned(call):
            call.report(
                "LINT-ML06-010",
                "torch.hub.load() runs hubconf.py from a repository reference that can move",
            )
    elif call.matches("torch.hub.load_state_dict_from_url"):
        check = call.arg("check_hash")
        if check is None or not check.always(True):
            call.report(
                "LINT-ML06-010",
                "load_state_dict_from_url() without check_hash=True trusts whatever is served",
                _MED,
            )


_FINE_TUNING = re.compile(
    r"optim\.|optimizer|\.backward\(|\.fit\(|\bTrainer\b|train_step|train_loop|fine.?tun|"
    r"\.compile\(|\bhead\b|classifier\s*=|Sequential\(|\.add\("
)


def _fine_tunes(ctx: FileContext) -> bool:
    """Whether the file trains something (freezing for export or inference is harmless)."""
    if "fine-tune?" not in ctx.events:
        ctx.events.add("fine-tune?")
        if _FINE_TUNING.search("\n".join(ctx.lines)):
            ctx.events.add("fine-tune")
    return "fine-tune" in ctx.events


def _untrusted(value: AV) -> bool:
    return UNTRUSTED in value.taints or REMOTE in value.taints


@R.loops
def frozen_loop(node: ast.For | ast.AsyncFor, iterable: AV, frame: Frame) -> None:
    """LINT-ML07-001: ``for p in base.parameters(): p.requires_grad = False``."""
    if not _untrusted(iterable) or not _fine_tunes(frame.ctx):
        return
    source = node.iter.func if isinstance(node.iter, ast.Call) else node.iter
    if dotted(source).rpartition(".")[2] not in _FREEZE_ITERS:
        return
    freezing = next((stmt for stmt in node.body if _freezes(stmt)), None)
    if freezing is not None:
        frame.ctx.report(
            "LINT-ML07-001",
            freezing,
            "every parameter of a base model from an unpinned source is frozen: a backdoor "
            "in it survives fine-tuning of the head",
            scope=frame.scope,
        )


def _freezes(stmt: ast.stmt) -> bool:
    if isinstance(stmt, ast.Assign):
        target = stmt.targets[0]
        return (
            isinstance(target, ast.Attribute)
            and target.attr in ("requires_grad", "trainable")
            and isinstance(stmt.value, ast.Constant)
            and stmt.value.value is False
        )
    if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call):
        func = stmt.value.func
        args = stmt.value.args
        return (
            isinstance(func, ast.Attribute)
            and func.attr == "requires_grad_"
            and bool(args)
            and isinstance(args[0], ast.Constant)
            and args[0].value is False
        )
    return False


@R.calls("requires_grad_", "freeze")
def frozen_call(call: Call) -> None:
    """LINT-ML07-001: ``base.requires_grad_(False)`` on an untrusted base."""
    if call.receiver is None or not _untrusted(call.receiver) or not _fine_tunes(call.ctx):
        return
    if call.terminal == "requires_grad_":
        flag = call.arg("requires_grad", 0)
        if flag is None or not flag.always(False):
            return
    call.report(
        "LINT-ML07-001",
        "the whole base model from an unpinned source is frozen before fine-tuning",
    )


@R.assigns("trainable")
def frozen_attr(target: ast.Attribute, base: AV, value: AV, frame: Frame) -> None:
    """LINT-ML07-001: ``base.trainable = False`` (Keras) on an untrusted base."""
    # A loop element (opaque, no atoms) is judged by the loop rule, which knows whether
    # every layer is frozen or only some.
    if _untrusted(base) and base.atoms and value.always(False) and _fine_tunes(frame.ctx):
        frame.ctx.report(
            "LINT-ML07-001",
            target,
            "the whole base model from an unpinned source is frozen (trainable=False)",
            scope=frame.scope,
        )
