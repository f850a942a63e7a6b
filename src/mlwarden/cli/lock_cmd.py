"""`mlwarden lock add|check|remove|list`: the approved-hash lockfile (mlwarden.lock)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from mlwarden.cli._common import handle_errors, write_output
from mlwarden.cli.exit_codes import ExitCode
from mlwarden.cli.integrity_cmd import _hash_options, _hashing_flags, _note, _settings
from mlwarden.errors import UsageError

_P = click.Path(path_type=Path)
_lock_option = click.option("--lock", "lock_path", type=_P, help="Lockfile (mlwarden.lock).")


@click.group("lock")
def lock_group() -> None:
    """Approve model digests (mlwarden.lock) and check models against them."""


def _lock_file(lock_path: Path | None, cfg: Any) -> Path:
    return lock_path or Path(cfg.lockfile)


@lock_group.command("add")
@click.argument("model", type=_P, required=False)
@click.option("--name", help="Entry name (default: the model directory's name).")
@click.option("--digest", help="Approve this sha256:HEX root digest without hashing MODEL.")
@click.option("--source", help="Where the model comes from (URL, registry URI).")
@click.option("--revision", help="Pinned revision (commit, version) of the source.")
@click.option("--replace", is_flag=True, help="Replace an entry with a different digest.")
@_lock_option
@_hashing_flags()
@handle_errors
def add(
    model: Path | None,
    name: str | None,
    digest: str | None,
    source: str | None,
    revision: str | None,
    replace: bool,
    lock_path: Path | None,
    **flags: Any,
) -> None:
    """Hash MODEL and approve its digest in the lockfile."""
    from mlwarden.integrity.hashing import hash_model
    from mlwarden.integrity.lockfile import LockEntry, Lockfile, entry_for

    cfg = _settings(flags).integrity
    path = _lock_file(lock_path, cfg)
    lock = Lockfile.read(path, missing_ok=True)
    options = _hash_options(cfg)
    if digest is not None:
        if not name:
            raise UsageError("--digest needs --name")
        entry = LockEntry(
            name,
            digest.lower(),
            cfg.algorithm,
            cfg.shard_size,
            options.ignore,
            options.ignore_git,
            None,
            source,
            revision,
        )
        Lockfile.loads(Lockfile({name: entry}).dumps(), "--digest")  # validates the digest
    elif model is None:
        raise UsageError("give MODEL to hash, or --digest with --name")
    else:
        result = hash_model(model, options)
        entry = entry_for(
            name or model.resolve().name, result, options, source=source, revision=revision
        )
    old = lock.get(entry.name)
    if old is not None and old.digest != entry.digest and not replace:
        raise UsageError(
            f"{entry.name!r} is approved with another digest ({old.digest[:23]}...)",
            hint="Review the new model, then run again with --replace.",
        )
    lock.with_entry(entry).write(path)
    verb = "re-approved" if old is not None else "approved"
    _note(f"{verb} {entry.name!r}: {entry.digest} in {path}")


@lock_group.command("check")
@click.argument("model", type=_P)
@click.option("--name", help="Entry name (default: the model directory's name).")
@_lock_option
@_hashing_flags(method=False)
@handle_errors
def check(model: Path, name: str | None, lock_path: Path | None, **flags: Any) -> None:
    """Exit 0 when MODEL's digest is the approved one, 1 when it is not (or not listed)."""
    from mlwarden.integrity.errors import VerificationError
    from mlwarden.integrity.lockfile import Lockfile, check_model

    cfg = _settings(flags).integrity
    lock = Lockfile.read(_lock_file(lock_path, cfg))
    try:
        entry, result = check_model(model, lock, name, options=_hash_options(cfg))
    except VerificationError as exc:
        for problem in exc.problems:
            click.echo(f"FAILED: {problem.rule_id}  {problem.message}")
        click.echo(f"hint: {exc.hint}")
        sys.exit(ExitCode.FINDINGS)
    click.echo(f"approved: {str(model)!r} is {entry.name!r} ({result.digest})")


@lock_group.command("remove")
@click.argument("name")
@_lock_option
@click.option("--config", "config_file", type=_P, help="mlwarden.toml.")
@handle_errors
def remove(name: str, lock_path: Path | None, config_file: Path | None) -> None:
    """Withdraw the approval of NAME."""
    from mlwarden.integrity.lockfile import Lockfile

    cfg = _settings({"config_file": config_file}).integrity
    path = _lock_file(lock_path, cfg)
    Lockfile.read(path).without(name).write(path)
    _note(f"removed {name!r} from {path}")


@lock_group.command("list")
@_lock_option
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@click.option("--config", "config_file", type=_P, help="mlwarden.toml.")
@handle_errors
def list_entries(lock_path: Path | None, fmt: str, config_file: Path | None) -> None:
    """List approved models."""
    from dataclasses import asdict

    from mlwarden.integrity.lockfile import Lockfile

    cfg = _settings({"config_file": config_file}).integrity
    lock = Lockfile.read(_lock_file(lock_path, cfg))
    entries = [lock.entries[n] for n in sorted(lock.entries)]
    if fmt == "json":
        write_output(json.dumps([asdict(e) for e in entries], indent=2), None)
        return
    for e in entries:
        extra = f"  {e.source}@{e.revision}" if e.source else ""
        click.echo(f"{e.name}  {e.digest}{extra}")
