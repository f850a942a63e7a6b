"""`mlwarden hash|sign|verify|keygen`: model integrity (ML06, ML10).

Thin: parse flags -> settings -> call :mod:`mlwarden.integrity` -> print -> exit code.
Verification failures exit 1 with every problem listed; bad input exits 2 (never a
traceback). Passphrases come from an environment variable named by a flag, a prompt, or
the config (``MLWARDEN_INTEGRITY__PASSPHRASE``), and are never printed.
"""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from mlwarden.cli._common import handle_errors, write_output
from mlwarden.cli.exit_codes import ExitCode
from mlwarden.config import IntegritySettings, Settings, load_settings
from mlwarden.errors import UsageError

_ALGOS = click.Choice(["sha256", "blake2b", "blake3"])
_KEY_TYPES = click.Choice(["ecdsa-p256", "ecdsa-p384", "ecdsa-p521", "ed25519"])
_P = click.Path(path_type=Path)
F = TypeVar("F", bound=Callable[..., Any])


def _note(text: str) -> None:
    """A status line on stderr: plain text (no markup, no wrapping, digests stay whole)."""
    click.echo(text, err=True)


def _hashing_flags(method: bool = True) -> Callable[[F], F]:
    """The shared hashing options; ``method=False`` for commands whose signature or lock
    entry already says how the model was hashed (verify, lock check)."""
    options = [
        click.option("--ignore", multiple=True, help="Leave out this path or glob."),
        click.option("--no-ignore-git", is_flag=True, help="Include .git, .github, ..."),
        click.option("--allow-symlinks", is_flag=True, default=None, help="Follow file links."),
        click.option("--jobs", "-j", type=click.IntRange(min=0), help="Threads (0 = cores)."),
        click.option("--max-files", type=click.IntRange(min=1), help="Refuse more files."),
        click.option("--config", "config_file", type=_P, help="mlwarden.toml."),
    ]
    if method:
        options[:0] = [
            click.option("--algorithm", type=_ALGOS, help="Per-file hash (default sha256)."),
            click.option(
                "--shard-size", type=click.IntRange(min=0), help="Shard bytes; 0 = per file."
            ),
        ]

    def apply(fn: F) -> F:
        for option in reversed(options):
            fn = option(fn)
        return fn

    return apply


def _settings(flags: dict[str, Any], **more: Any) -> Settings:
    integrity = {
        "algorithm": flags.get("algorithm"),
        "shard_size": flags.get("shard_size"),
        "ignore": flags.get("ignore"),
        "ignore_git": False if flags.get("no_ignore_git") else None,
        "allow_symlinks": flags.get("allow_symlinks"),
        "workers": flags.get("jobs"),
        "max_files": flags.get("max_files"),
        **more,
    }
    return load_settings(flags.get("config_file"), {"integrity": integrity})


def _hash_options(cfg: IntegritySettings) -> Any:
    from mlwarden.integrity.hashing import HashOptions

    return HashOptions(
        algorithm=cfg.algorithm,
        shard_size=cfg.shard_size,
        ignore=tuple(cfg.ignore),
        ignore_git=cfg.ignore_git,
        allow_symlinks=cfg.allow_symlinks,
        workers=cfg.workers,
        max_files=cfg.max_files,
    )


def _digest_lines(manifest: Any, model: Path) -> str:
    """``sha256sum``-style lines; names with a backslash or newline are escaped like it does.

    A single-file model's item is named "." in manifests; here it gets the file's name.
    """
    lines = []
    for item in manifest.items:
        name = model.name if item.key == "." else item.key
        escaped = name.replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r")
        prefix = "\\" if escaped != name else ""
        lines.append(f"{prefix}{item.digest.hex()}  {escaped}")
    return "\n".join(lines)


@click.command("hash")
@click.argument("model", type=_P)
@_hashing_flags()
@click.option("--state", type=_P, help="Reuse digests of unchanged files; rewrite it after.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@click.option("--output", "-o", type=click.Path(path_type=Path, dir_okay=False))
@handle_errors
def hash_command(
    model: Path, state: Path | None, fmt: str, output: Path | None, **flags: Any
) -> None:
    """Hash every file of MODEL (a directory or one file) in parallel.

    Text output is sha256sum-compatible lines (files) or NAME:START:END (shards); the model
    digest goes to stderr. JSON output is a manifest with sizes and mtimes (a --state file).
    """
    from mlwarden.integrity.hashing import hash_model
    from mlwarden.integrity.sign import excluded_paths
    from mlwarden.integrity.statefile import manifest_to_json, read_state, write_atomic

    cfg = _settings(flags).integrity
    previous = read_state(state) if state is not None else None
    exclude = excluded_paths(model, state, output)
    result = hash_model(model, _hash_options(cfg), previous=previous, exclude=exclude)
    text = (
        manifest_to_json(result.manifest)
        if fmt == "json"
        else _digest_lines(result.manifest, model)
    )
    write_output(text, output)
    if state is not None:
        write_atomic(state, manifest_to_json(result.manifest))
    _note(f"model digest: {result.digest}  ({_stats(result.stats, state)})")


def _stats(stats: Any, state: Path | None) -> str:
    text = f"{stats.files} file(s), {stats.hashed} hashed"
    if stats.reused:
        text += f", {stats.reused} unchanged since {state or 'the previous manifest'}"
    if stats.precomputed:
        text += f", {stats.precomputed} precomputed"
    return text + f", {stats.bytes_hashed / 1e6:.1f} MB in {stats.seconds:.2f} s"


def _passphrase(env_name: str | None, prompt: bool, cfg: IntegritySettings) -> Any:
    if env_name:
        value = os.environ.get(env_name)
        if value is None:
            raise UsageError(f"environment variable {env_name} (--passphrase-env) is not set")
        return value
    if prompt:
        return click.prompt("Passphrase", hide_input=True, err=True)
    return cfg.passphrase


def _warn_key_mode(path: Path) -> None:
    try:
        mode = path.stat().st_mode
    except OSError:
        return
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        _note(f"warning: private key {str(path)!r} is readable by other users (chmod 600 it)")


def _read_digests(path: Path) -> dict[str, str]:
    """Precomputed digests in ``sha256sum`` format (``HEX  NAME`` per line)."""
    out: dict[str, str] = {}
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read digests file {str(path)!r}: {exc}") from None
    for number, line in enumerate(lines, 1):
        if not line.strip() or line.startswith("#"):
            continue
        digest, sep, name = line.partition("  ")
        if not sep:
            digest, sep, name = line.partition(" *")
        if not sep or not name:
            raise UsageError(f"{path}:{number}: expected 'HEX  NAME' (sha256sum format)")
        out[name] = digest.strip()
    return out


@click.command("sign")
@click.argument("model", type=_P)
@click.option(
    "--key", "key_path", type=_P, help="PEM private key (default: integrity.private_key)."
)
@click.option("--out", "--signature", "out", type=_P, help="Bundle to write (default model.sig).")
@click.option("--passphrase-env", metavar="VAR", help="Read the key passphrase from env VAR.")
@click.option("--passphrase-prompt", is_flag=True, help="Ask for the key passphrase.")
@click.option("--state", type=_P, help="Re-hash only files changed since this state file.")
@click.option("--digests", type=_P, help="Precomputed digests (sha256sum format) to trust.")
@click.option("--name", help="Model name in the signature (default: directory name).")
@_hashing_flags()
@handle_errors
def sign_command(
    model: Path,
    key_path: Path | None,
    out: Path | None,
    passphrase_env: str | None,
    passphrase_prompt: bool,
    state: Path | None,
    digests: Path | None,
    name: str | None,
    **flags: Any,
) -> None:
    """Sign MODEL: write an OpenSSF model-signing v1.0 bundle (Sigstore bundle, DSSE).

    ECDSA keys (P-256/384/521) give bundles that `model_signing verify key` accepts when
    hashing per file with SHA-256 (the default). Ed25519 is an mlwarden extension.
    """
    from mlwarden.integrity.keys import MODEL_SIGNING_COMPATIBLE, load_private_key
    from mlwarden.integrity.sign import sign_model

    cfg = _settings(flags).integrity
    key_file = key_path or (Path(cfg.private_key) if cfg.private_key else None)
    if key_file is None:
        raise UsageError("no private key: pass --key, or set private_key in the integrity config")
    _warn_key_mode(key_file)
    key = load_private_key(key_file, _passphrase(passphrase_env, passphrase_prompt, cfg))
    result = sign_model(
        model,
        key,
        signature=out or Path(cfg.signature),
        options=_hash_options(cfg),
        state=state,
        precomputed=_read_digests(digests) if digests else None,
        model_name=name,
    )
    _note(
        f"signed {str(model)!r}: {result.digest}\n  {_stats(result.stats, state)}\n"
        f"  key {result.key_kind} {result.key_hint[:16]}... -> {result.signature}"
    )
    if result.key_kind not in MODEL_SIGNING_COMPATIBLE:
        _note("note: Ed25519 bundles are an mlwarden extension; model_signing cannot verify them")
    elif cfg.algorithm != "sha256" or cfg.shard_size:
        _note("note: model_signing's CLI verifies per-file SHA-256 only (its API verifies this)")


@click.command("verify")
@click.argument("model", type=_P)
@click.option("--key", "key_path", type=_P, help="Publisher's PEM public key.")
@click.option("--sig", "--signature", "sig", type=_P, help="Bundle (default model.sig).")
@click.option("--lock", "lock_path", type=_P, help="Also require the lockfile's approved digest.")
@click.option("--name", help="Lockfile entry (default: the directory name).")
@click.option("--allow-extra", is_flag=True, help="Accept files the signature does not list.")
@click.option("--identity", help="Sigstore keyless: expected signer identity (needs --issuer).")
@click.option("--issuer", help="Sigstore keyless: expected OIDC issuer URL.")
@click.option(
    "--certificate-chain", multiple=True, type=_P, help="Certificate-signed bundle: trusted PEM."
)
@click.option("--format", "fmt", type=click.Choice(["text", "json", "sarif"]), help="Output.")
@click.option("--output", "-o", type=click.Path(path_type=Path, dir_okay=False))
@_hashing_flags(method=False)
@handle_errors
def verify_command(
    model: Path,
    key_path: Path | None,
    sig: Path | None,
    lock_path: Path | None,
    name: str | None,
    allow_extra: bool,
    identity: str | None,
    issuer: str | None,
    certificate_chain: tuple[Path, ...],
    fmt: str | None,
    output: Path | None,
    **flags: Any,
) -> None:
    """Verify MODEL against its signature (--key) and/or approved digest (--lock).

    Sigstore keyless (--identity/--issuer) and certificate-chain bundles are checked by
    OpenSSF model-signing (pip install 'mlwarden[sigstore]').

    Fails closed: exit 1 lists every changed, missing or extra file, a wrong key, a
    malformed bundle or an unapproved digest; exit 2 means the inputs could not be read.
    """
    from mlwarden.cli.integrity_report import failure_report, render_result
    from mlwarden.integrity.errors import VerificationError
    from mlwarden.integrity.verify import VerifyOptions, verify_model

    settings = _settings(flags)
    cfg = settings.integrity
    fmt = fmt or settings.report.format
    key = key_path or (Path(cfg.public_key) if cfg.public_key else None)
    if bool(identity) != bool(issuer):
        raise UsageError("--identity and --issuer go together (Sigstore keyless)")
    if identity or certificate_chain:
        key = key_path  # the configured public key is for key-signed bundles only
    options = VerifyOptions(
        ignore=tuple(cfg.ignore),
        ignore_git=cfg.ignore_git,
        allow_symlinks=cfg.allow_symlinks,
        allow_extra=allow_extra,
        workers=cfg.workers,
        max_files=cfg.max_files,
    )
    try:
        result = verify_model(
            model,
            key=key,
            signature=sig or Path(cfg.signature),
            lockfile=lock_path,
            name=name,
            options=options,
            identity=identity,
            issuer=issuer,
            certificate_chain=certificate_chain,
        )
    except VerificationError as exc:
        write_output(failure_report(model, exc, fmt), output)
        sys.exit(ExitCode.FINDINGS)
    write_output(render_result(result, fmt), output)
    sys.exit(ExitCode.OK)


@click.command("keygen")
@click.option("--type", "kind", type=_KEY_TYPES, default="ecdsa-p256", show_default=True)
@click.option(
    "--out",
    type=_P,
    default=Path("mlwarden-signing.pem"),
    show_default=True,
    help="Private key; the public key goes to OUT with .pub.pem.",
)
@click.option("--passphrase-env", metavar="VAR", help="Encrypt with the passphrase in env VAR.")
@click.option("--passphrase-prompt", is_flag=True, help="Ask for a passphrase to encrypt with.")
@click.option("--force", is_flag=True, help="Overwrite existing files.")
@handle_errors
def keygen_command(
    kind: str, out: Path, passphrase_env: str | None, passphrase_prompt: bool, force: bool
) -> None:
    """Generate a signing key pair (private key written with mode 0600)."""
    from mlwarden.integrity.keys import generate_key
    from mlwarden.integrity.statefile import write_atomic

    public = out.with_name(out.name.removesuffix(".pem") + ".pub.pem")
    for path in (out, public):
        if path.exists() and not force:
            raise UsageError(f"{path} exists", hint="Use --force to overwrite it.")
    if passphrase_prompt:
        secret = click.prompt("Passphrase", hide_input=True, confirmation_prompt=True, err=True)
    else:
        secret = _passphrase(passphrase_env, False, IntegritySettings())
    key = generate_key(kind)
    write_atomic(out, key.private_pem(secret).decode("ascii"), mode=0o600)
    write_atomic(public, key.public.pem.decode("ascii"))
    _note(
        f"wrote {out} (private, {'encrypted' if secret else 'NOT encrypted'}) and {public}; "
        f"key hint {key.public.hint[:16]}..."
    )
