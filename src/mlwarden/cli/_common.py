"""Pieces shared by the subcommands: consoles, output writing, error handling."""

from __future__ import annotations

import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console

from mlwarden.cli.exit_codes import ExitCode
from mlwarden.errors import MlwardenError

F = TypeVar("F", bound=Callable[..., Any])


def stderr_console() -> Console:
    return Console(stderr=True, highlight=False)


def stdout_console() -> Console:
    return Console(highlight=False, soft_wrap=True)


def write_output(text: str, output: Path | None) -> None:
    """Write a rendered report to ``output`` (atomically) or to stdout."""
    if output is None:
        click.echo(text)
        return
    tmp = output.with_name(output.name + ".tmp")
    try:
        tmp.write_text(text + "\n", encoding="utf-8")
        tmp.replace(output)
    except OSError as exc:
        raise MlwardenError(f"cannot write {output}: {exc.strerror}") from None


def handle_errors(fn: F) -> F:
    """Turn library errors into a diagnostic and exit code 2, never a traceback."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except MlwardenError as exc:
            console = stderr_console()
            console.print("[bold red]error:[/bold red] ", end="")
            console.print(exc.diagnostics(), markup=False)  # file names may contain [...]
            sys.exit(ExitCode.ERROR)
        except KeyboardInterrupt:
            stderr_console().print("interrupted")
            sys.exit(ExitCode.ERROR)

    return wrapper  # type: ignore[return-value]


def signing_key(key_file: Path | None, passphrase_env: str | None) -> Any:
    """The PEM private key of ``--sign-key`` (passphrase from ``--passphrase-env``), or None."""
    if key_file is None:
        return None
    import os

    from mlwarden.integrity.keys import load_private_key

    passphrase = os.environ.get(passphrase_env) if passphrase_env else None
    if passphrase_env and passphrase is None:
        raise MlwardenError(f"environment variable {passphrase_env} is not set")
    return load_private_key(key_file, passphrase)


def public_key(path: Path | None) -> Any:
    """The PEM public key at ``path``, or None."""
    if path is None:
        return None
    from mlwarden.integrity.keys import load_public_key

    return load_public_key(path)
