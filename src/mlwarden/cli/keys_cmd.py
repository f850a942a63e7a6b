"""`mlwarden keys create|revoke|list`: the gateway's API keys (stored hashed).

A new key is printed once, on stdout, and never again: only its SHA-256 digest is stored.
The store is the policy's ``[gateway.auth] keys_file`` unless ``--keys-file`` names one.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from mlwarden.cli._common import handle_errors, stdout_console
from mlwarden.config import load_settings
from mlwarden.errors import UsageError

_P = click.Path(path_type=Path)
_SCOPES = click.Choice(["predict", "metrics", "admin"])


def _store(keys_file: Path | None, policy_file: Path | None) -> Any:
    from mlwarden.gateway.auth import KeyStore

    path = keys_file or Path(load_settings(policy_file).gateway.auth.keys_file)
    return KeyStore.open(path)


def _options(fn: Any) -> Any:
    fn = click.option("--keys-file", type=_P, help="Key store (default: from the policy).")(fn)
    return click.option("--policy", "policy_file", type=_P, help="mlwarden.toml.")(fn)


@click.group("keys")
def keys_group() -> None:
    """Create, revoke and list the gateway's API keys."""


@keys_group.command("create")
@click.option("--name", required=True, help="Who or what the key is for.")
@click.option("--scope", "scopes", multiple=True, type=_SCOPES, help="Scope (default predict).")
@click.option("--rate", help="This key's request rate, e.g. 100/minute.")
@click.option("--quota", help="Instances per period, e.g. 10000/day.")
@_options
@handle_errors
def create(
    name: str,
    scopes: tuple[str, ...],
    rate: str | None,
    quota: str | None,
    keys_file: Path | None,
    policy_file: Path | None,
) -> None:
    """Create a key and print it (once: it is stored hashed)."""
    from mlwarden.gateway.policy import _check_rate

    for value in (rate, quota):
        if value is not None:
            try:
                _check_rate(value)
            except ValueError as exc:
                raise UsageError(str(exc)) from None
    store = _store(keys_file, policy_file)
    token, record = store.create(name, scopes or ("predict",), rate_limit=rate, quota=quota)
    click.echo(token)
    click.echo(
        f"key id {record.id} ({', '.join(record.scopes)}); store it now: it is not kept", err=True
    )


@keys_group.command("revoke")
@click.argument("key_id")
@_options
@handle_errors
def revoke(key_id: str, keys_file: Path | None, policy_file: Path | None) -> None:
    """Revoke a key by id (running gateways refuse it within a second)."""
    record = _store(keys_file, policy_file).revoke(key_id)
    click.echo(f"revoked {record.id} ({record.name}) at {record.revoked}", err=True)


@keys_group.command("list")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@_options
@handle_errors
def list_keys(fmt: str, keys_file: Path | None, policy_file: Path | None) -> None:
    """List keys (ids, names, scopes, limits; never secrets or digests)."""
    records = _store(keys_file, policy_file).keys()
    rows = [
        {
            "id": r.id,
            "name": r.name,
            "scopes": list(r.scopes),
            "rate_limit": r.rate_limit,
            "quota": r.quota,
            "created": r.created,
            "revoked": r.revoked,
        }
        for r in records
    ]
    if fmt == "json":
        click.echo(json.dumps(rows, indent=2))
        return
    console = stdout_console()
    for row in rows:
        state = f"revoked {row['revoked']}" if row["revoked"] else "active"
        limits = ", ".join(f"{k} {row[k]}" for k in ("rate_limit", "quota") if row[k])
        console.print(
            f"{row['id']}  {row['name']}  [{', '.join(row['scopes'])}]  {state}  {limits}"
        )
