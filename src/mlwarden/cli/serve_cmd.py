"""`mlwarden serve MODEL`: the hardened inference gateway (FastAPI + uvicorn).

Thin: flags -> ``[gateway]`` policy -> safe model load and digest -> app -> uvicorn. With
several workers each worker process builds its own app from a spec file the parent writes
(its path travels in ``MLWARDEN_GATEWAY_SPEC``), and Prometheus metrics are aggregated
across workers through a multiprocess directory.
"""

from __future__ import annotations

import json
import os
import ssl
import tempfile
from pathlib import Path
from typing import Any

import click

from mlwarden.cli._common import handle_errors
from mlwarden.config import load_settings
from mlwarden.errors import UsageError

_P = click.Path(path_type=Path)
SPEC_ENV = "MLWARDEN_GATEWAY_SPEC"


def _overrides(flags: dict[str, Any]) -> dict[str, Any]:
    names = ("host", "port", "workers", "tls_cert", "tls_key", "tls_client_ca", "reference")
    gateway = {name: flags.get(name) for name in names}
    gateway["tls_cert"] = str(flags["tls_cert"]) if flags.get("tls_cert") else None
    gateway["tls_key"] = str(flags["tls_key"]) if flags.get("tls_key") else None
    gateway["tls_client_ca"] = str(flags["tls_client_ca"]) if flags.get("tls_client_ca") else None
    gateway["reference"] = str(flags["reference"]) if flags.get("reference") else None
    return {"gateway": gateway}


def build_app(model_path: Path, policy_file: Path | None, overrides: dict[str, Any]) -> Any:
    """Load the policy and the model (scanned, safely loaded) and build the gateway's app."""
    from mlwarden.gateway.app import create_app
    from mlwarden.gateway.service import build_gateway, model_digest
    from mlwarden.models.loading import load_model
    from mlwarden.models.threads import single_thread

    policy = load_settings(policy_file, overrides).gateway
    model = load_model(model_path)
    single_thread()  # after the load: it limits the native libraries loaded by then
    gateway = build_gateway(
        model,
        policy,
        digest=model_digest(model_path),
        name=model_path.stem,
        multiprocess_dir=os.environ.get("PROMETHEUS_MULTIPROC_DIR"),
    )
    return create_app(gateway)


def worker_app() -> Any:
    """uvicorn's app factory in each worker process (reads the parent's spec file)."""
    spec_path = os.environ.get(SPEC_ENV)
    if not spec_path:
        raise UsageError(f"{SPEC_ENV} is not set: start workers with `mlwarden serve`")
    spec = json.loads(Path(spec_path).read_text(encoding="utf-8"))
    policy = Path(spec["policy"]) if spec["policy"] else None
    return build_app(Path(spec["model"]), policy, spec["overrides"])


def _ssl_options(policy: Any) -> dict[str, Any]:
    if not policy.tls_cert:
        return {}
    options: dict[str, Any] = {"ssl_certfile": policy.tls_cert, "ssl_keyfile": policy.tls_key}
    if policy.tls_client_ca:
        options.update(ssl_ca_certs=policy.tls_client_ca, ssl_cert_reqs=ssl.CERT_REQUIRED)
    return options


def _announce(app: Any, policy: Any) -> None:
    gw = app.state.gateway
    scheme = "https" if policy.tls_cert else "http"
    click.echo(f"mlwarden gateway: {gw.name} ({gw.digest})", err=True)
    click.echo(
        f"  listening on {scheme}://{policy.host}:{policy.port} ({policy.workers} worker(s))",
        err=True,
    )
    if gw.public_key is not None:
        click.echo(f"  responses signed; clients pin the public key {gw.public_key}", err=True)
    if gw.keys is not None and not gw.keys.keys():
        click.echo(
            f"  no API keys yet: mlwarden keys create --keys-file {policy.auth.keys_file}", err=True
        )
    for name in ("extraction", "drift"):
        if getattr(policy, name).enabled and getattr(gw, name) is None:
            click.echo(f"  {name} monitor off: no reference data ([gateway] reference)", err=True)


@click.command("serve")
@click.argument("model", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.option("--policy", "policy_file", type=_P, help="mlwarden.toml with a [gateway] section.")
@click.option("--host", help="Interface (default 127.0.0.1).")
@click.option("--port", type=click.IntRange(0, 65535), help="TCP port (default 8000).")
@click.option("--workers", type=click.IntRange(1, 64), help="Worker processes.")
@click.option("--tls-cert", type=_P, help="PEM certificate chain (HTTPS).")
@click.option("--tls-key", type=_P, help="PEM private key of --tls-cert.")
@click.option("--tls-client-ca", type=_P, help="Require client certificates from this CA (mTLS).")
@click.option("--reference", type=_P, help="Training data or profile (bounds, monitors).")
@click.option(
    "--log-level", type=click.Choice(["debug", "info", "warning", "error"]), default="warning"
)
@click.option("--access-log", is_flag=True, help="uvicorn's access log (the audit log has it all).")
@handle_errors
def serve_command(
    model: Path, policy_file: Path | None, log_level: str, access_log: bool, **flags: Any
) -> None:
    """Serve MODEL behind API keys, rate limits, validation, monitors, audit and signatures."""
    import uvicorn

    overrides = _overrides(flags)
    policy = load_settings(policy_file, overrides).gateway
    app = build_app(model, policy_file, overrides)
    _announce(app, policy)
    common: dict[str, Any] = {
        "host": policy.host,
        "port": policy.port,
        "log_level": log_level,
        "access_log": access_log,
        "server_header": False,
        **_ssl_options(policy),
    }
    if policy.workers == 1:
        uvicorn.run(app, **common)
        return
    if app.state.gateway.audit is not None:
        app.state.gateway.audit.close()  # the workers open their own
    _run_workers(model, policy_file, overrides, policy.workers, common)


def _run_workers(
    model: Path,
    policy_file: Path | None,
    overrides: dict[str, Any],
    workers: int,
    common: dict[str, Any],
) -> None:
    import uvicorn

    with tempfile.TemporaryDirectory(prefix="mlwarden-gw-") as tmp:
        spec = Path(tmp) / "spec.json"
        body = {
            "model": str(model.resolve()),
            "policy": str(policy_file.resolve()) if policy_file else None,
            "overrides": overrides,
        }
        spec.write_text(json.dumps(body), encoding="utf-8")
        metrics_dir = Path(tmp) / "metrics"
        metrics_dir.mkdir()
        os.environ[SPEC_ENV] = str(spec)
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
        uvicorn.run("mlwarden.cli.serve_cmd:worker_app", factory=True, workers=workers, **common)
