"""Interop with OpenSSF model-signing, both ways: its CLI and API verify mlwarden's bundles,
and mlwarden verifies the bundles it writes (model-signing is a dev/test dependency)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from mlwarden.integrity import (
    HashOptions,
    ManifestMismatchError,
    SignatureError,
    sign_model,
    verify_model,
)
from tests.integrity.conftest import KeyPair, write_pair

if os.environ.get("MLWARDEN_REQUIRE_SERVICES") == "1":
    import model_signing  # CI must prove interop: fail, never skip
else:
    model_signing = pytest.importorskip("model_signing", reason="model-signing is a dev extra")

CLI = Path(sys.executable).with_name("model_signing")


def their_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(CLI), *args], capture_output=True, text=True, timeout=120, check=False
    )


def their_verify(model: Path, sig: Path, public: Path) -> subprocess.CompletedProcess[str]:
    return their_cli(
        "verify", "key", str(model), "--signature", str(sig), "--public_key", str(public)
    )


@pytest.mark.parametrize("kind", ["ecdsa-p256", "ecdsa-p384"])
def test_their_cli_verifies_our_bundle(model: Path, tmp_path: Path, kind: str) -> None:
    pair = write_pair(tmp_path / "k", kind)
    sig = tmp_path / "model.sig"
    sign_model(model, pair.private, signature=sig)
    done = their_verify(model, sig, pair.public)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Verification succeeded" in done.stdout
    (model / "config.json").write_text("{}")
    tampered = their_verify(model, sig, pair.public)
    assert tampered.returncode == 1 and "config.json" in tampered.stderr


def test_their_cli_verifies_our_bundle_stored_inside_the_model(model: Path, keys: KeyPair) -> None:
    sig = model / "model.sig"
    sign_model(model, keys.private, signature=sig)
    done = their_verify(model, sig, keys.public)
    assert done.returncode == 0, done.stderr


def test_we_verify_their_cli_bundle(
    model: Path, tmp_path: Path, keys: KeyPair, other_keys: KeyPair
) -> None:
    sig = tmp_path / "theirs.sig"
    done = their_cli(
        "sign", "key", str(model), "--private_key", str(keys.private), "--signature", str(sig)
    )
    assert done.returncode == 0, done.stderr
    ours = verify_model(model, key=keys.public, signature=sig)
    assert ours.checks == ("signature",)
    with pytest.raises(SignatureError):
        verify_model(model, key=other_keys.public, signature=sig)
    (model / "tokenizer" / "vocab.txt").write_text("poisoned")
    with pytest.raises(ManifestMismatchError, match=r"vocab\.txt"):
        verify_model(model, key=keys.public, signature=sig)


def _their_api(sig: Path, keys: KeyPair, hashing: object | None = None) -> object:
    config = model_signing.signing.Config().use_elliptic_key_signer(private_key=keys.private)
    if hashing is not None:
        config = config.set_hashing_config(hashing)
    return config


@pytest.mark.parametrize("variant", ["shards", "blake3", "single"])
def test_we_verify_their_api_bundles(
    model: Path, tmp_path: Path, keys: KeyPair, variant: str
) -> None:
    hashing = model_signing.hashing.Config()
    target = model
    if variant == "shards":
        hashing = hashing.use_shard_serialization(shard_size=1000)  # written as 1000.0
    elif variant == "blake3":
        hashing = hashing.use_file_serialization(hashing_algorithm="blake3")
    else:
        target = model / "model.safetensors"
    sig = tmp_path / f"{variant}.sig"
    _their_api(sig, keys, hashing).sign(target, sig)  # type: ignore[attr-defined]
    assert verify_model(target, key=keys.public, signature=sig).checks == ("signature",)


@pytest.mark.parametrize(
    "options",
    [
        HashOptions(shard_size=1000),
        HashOptions(algorithm="blake3"),
        HashOptions(algorithm="blake2b"),
    ],
)
def test_their_api_verifies_our_other_serializations(
    model: Path, tmp_path: Path, keys: KeyPair, options: HashOptions
) -> None:
    sig = tmp_path / "model.sig"
    sign_model(model, keys.private, signature=sig, options=options)

    def verifier() -> object:
        config = model_signing.verifying.Config().use_elliptic_key_verifier(public_key=keys.public)
        if options.algorithm == "blake2b":
            # NOTE: model_signing records "blake2b" but its guess only accepts "blake2" (its own
            # blake2 bundles need this too), so the hashing is configured explicitly.
            hashing = model_signing.hashing.Config().use_file_serialization(
                hashing_algorithm="blake2"
            )
            config = config.set_hashing_config(hashing)
        return config

    verifier().verify(model, sig)  # type: ignore[attr-defined]
    (model / "config.json").write_text("{}")
    with pytest.raises(ValueError, match=r"config\.json"):
        verifier().verify(model, sig)  # type: ignore[attr-defined]
