"""`mlwarden config show|init`: the effective settings, and a commented default file."""

from __future__ import annotations

import json
from pathlib import Path

import click

from mlwarden.cli._common import handle_errors
from mlwarden.config import CONFIG_FILE, default_config_text, load_settings, redacted
from mlwarden.errors import UsageError


@click.group("config")
def config_group() -> None:
    """Show or create the configuration (mlwarden.toml)."""


@config_group.command("show")
@click.option("--config", "config_file", type=click.Path(path_type=Path), help="mlwarden.toml.")
@handle_errors
def show(config_file: Path | None) -> None:
    """Print the effective settings (files + MLWARDEN_* env + defaults), secrets redacted."""
    click.echo(json.dumps(redacted(load_settings(config_file)), indent=2))


@config_group.command("init")
@click.option("--path", type=click.Path(path_type=Path, dir_okay=False), default=CONFIG_FILE)
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
@handle_errors
def init(path: Path, force: bool) -> None:
    """Write a commented mlwarden.toml with every setting at its default."""
    if path.exists() and not force:
        raise UsageError(f"{path} exists", hint="Use --force to overwrite it.")
    path.write_text(default_config_text(), encoding="utf-8")
    click.echo(f"wrote {path}")
