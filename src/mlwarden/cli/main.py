"""The `mlwarden` command group: wires the subcommand modules together.

Subcommands are imported on first use, so `mlwarden scan` does not pay for the imports of
every other command (start-up time matters in pre-commit hooks and per-file CI steps).
"""

from __future__ import annotations

from importlib import import_module

import click

from mlwarden._version import __version__

#: name -> "module:attribute" of each subcommand (one thin module per subcommand).
COMMANDS: dict[str, str] = {
    "scan": "mlwarden.cli.scan_cmd:scan_command",
    "config": "mlwarden.cli.config_cmd:config_group",
    "demo": "mlwarden.cli.demo_cmd:demo_command",
    "serve": "mlwarden.cli.serve_cmd:serve_command",
    "keys": "mlwarden.cli.keys_cmd:keys_group",
    "audit-log": "mlwarden.cli.auditlog_cmd:auditlog_group",
    "lint": "mlwarden.cli.lint_cmd:lint_command",
    "hash": "mlwarden.cli.integrity_cmd:hash_command",
    "sign": "mlwarden.cli.integrity_cmd:sign_command",
    "verify": "mlwarden.cli.integrity_cmd:verify_command",
    "keygen": "mlwarden.cli.integrity_cmd:keygen_command",
    "lock": "mlwarden.cli.lock_cmd:lock_group",
    "audit": "mlwarden.cli.audit_cmd:audit_command",
    "data": "mlwarden.cli.data_cmd:data_group",
    "watermark": "mlwarden.cli.watermark_cmd:watermark_group",
    "gate": "mlwarden.cli.gate_cmd:gate_group",
    "drift": "mlwarden.cli.drift_cmd:drift_command",
    "assess": "mlwarden.cli.assess_cmd:assess_command",
}


class _LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*COMMANDS, *self.commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.commands:
            return self.commands[cmd_name]
        spec = COMMANDS.get(cmd_name)
        if spec is None:
            return None
        module, _, attr = spec.partition(":")
        command: click.Command = getattr(import_module(module), attr)
        return command


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="mlwarden")
def cli() -> None:
    """mlwarden: the OWASP Machine Learning Security Top 10 in practice."""


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="mlwarden")
