"""`mlwarden gate`: training-time gates for CI (ML04): generalisation and membership leakage.

Exit codes: 0 the gate passed, 1 it failed, 2 usage or error.
"""

from __future__ import annotations

import sys
from typing import Any

import click

from mlwarden.cli._common import handle_errors, stdout_console
from mlwarden.cli.exit_codes import ExitCode


def _load(
    model: str, train: str, test: str, label: str | None, allow: tuple[str, ...]
) -> tuple[Any, Any, Any]:
    from mlwarden.datasets import load_table
    from mlwarden.models.loading import load_model
    from mlwarden.models.threads import single_thread

    single_thread()
    tr, te = load_table(train, label), load_table(test, label)
    return load_model(model, allow=allow), (tr.X, tr.y), (te.X, te.y)


def _report(result: Any) -> None:
    stdout_console().print(result.summary(), markup=False)
    sys.exit(ExitCode.OK if result.passed else ExitCode.FINDINGS)


_COMMON = (
    click.argument("model"),
    click.option("--train", "train_spec", required=True, help="Training records (members)."),
    click.option("--test", "test_spec", required=True, help="Held-out records."),
    click.option("--label", help="Label column of the data files."),
    click.option("--allow", multiple=True, help="Trust an unknown pickle global (MODULE.NAME)."),
)


def _common(fn: Any) -> Any:
    for decorator in reversed(_COMMON):
        fn = decorator(fn)
    return fn


@click.group("gate")
def gate_group() -> None:
    """Fail CI when a model generalises badly or leaks membership."""


@gate_group.command("generalization")
@_common
@click.option("--max-gap", type=click.FloatRange(0, 1), default=0.1, show_default=True)
@click.option("--min-accuracy", type=click.FloatRange(0, 1), help="Lowest test accuracy.")
@click.option("--baseline-accuracy", type=click.FloatRange(0, 1), help="Accuracy to keep.")
@click.option("--max-drop", type=click.FloatRange(0, 1), default=0.02, show_default=True)
@handle_errors
def generalization_command(
    model: str, train_spec: str, test_spec: str, label: str | None, allow: tuple[str, ...],
    max_gap: float, min_accuracy: float | None, baseline_accuracy: float | None, max_drop: float,
) -> None:  # fmt: skip
    """Train/test gap at most --max-gap AND utility kept (--min-accuracy or --baseline-accuracy)."""
    from mlwarden.gates import check_generalization

    clf, train, test = _load(model, train_spec, test_spec, label, allow)
    _report(check_generalization(
        clf, train, test, max_gap, min_accuracy=min_accuracy,
        baseline_accuracy=baseline_accuracy, max_drop=max_drop, raise_on_failure=False,
    ))  # fmt: skip


@gate_group.command("membership")
@_common
@click.option("--max-auc", type=click.FloatRange(0.5, 1), default=0.6, show_default=True)
@click.option("--max-tpr", type=click.FloatRange(0, 1), default=0.03, show_default=True,
              help="Highest TPR at 1% FPR.")  # fmt: skip
@click.option("--references", type=click.IntRange(0, 256), default=0, show_default=True,
              help="Reference models (LiRA/RMIA); 0 = threshold attacks.")  # fmt: skip
@click.option("--seed", type=int, default=0, show_default=True)
@handle_errors
def membership_command(
    model: str, train_spec: str, test_spec: str, label: str | None, allow: tuple[str, ...],
    max_auc: float, max_tpr: float, references: int, seed: int,
) -> None:  # fmt: skip
    """Membership attacks (seeded, deterministic) at most --max-auc and --max-tpr."""
    from mlwarden.gates import check_membership

    clf, train, test = _load(model, train_spec, test_spec, label, allow)
    _report(check_membership(
        clf, train, test, max_auc=max_auc, max_tpr_at_1pct_fpr=max_tpr, references=references,
        seed=seed, raise_on_failure=False,
    ))  # fmt: skip
