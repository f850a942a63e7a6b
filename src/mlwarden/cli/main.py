"""The `mlwarden` command group: wires the subcommand modules together."""

from __future__ import annotations

import click

from mlwarden._version import __version__
from mlwarden.cli.config_cmd import config_group
from mlwarden.cli.demo_cmd import demo_command
from mlwarden.cli.scan_cmd import scan_command


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="mlwarden")
def cli() -> None:
    """mlwarden: the OWASP Machine Learning Security Top 10 in practice."""


cli.add_command(scan_command)
cli.add_command(config_group)
cli.add_command(demo_command)


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="mlwarden")
