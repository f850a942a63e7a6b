"""Sign and verify end to end: every tamper case raises and names what differs."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from mlwarden.errors import InputError, UsageError
from mlwarden.integrity import (
    HashOptions,
    Lockfile,
    ManifestMismatchError,
    NotApprovedError,
    SignatureError,
    VerificationError,
    VerifyOptions,
    sign_model,
    verify_model,
)
from mlwarden.integrity.errors import KeyFormatError
from mlwarden.integrity.hashing import hash_model
from mlwarden.integrity.keys import load_private_key
from mlwarden.integrity.lockfile import entry_for
from tests.integrity.conftest import KeyPair, write_pair


def signed(model: Path, keys: KeyPair, tmp_path: Path, **kw: object) -> Path:
    sig = tmp_path / "model.sig"
    sign_model(model, keys.private, signature=sig, **kw)  # type: ignore[arg-type]
    return sig


def rules(exc: VerificationError) -> list[str]:
    return [p.rule_id for p in exc.problems]


def test_sign_then_verify(model: Path, keys: KeyPair, tmp_path: Path) -> None:
    sig = signed(model, keys, tmp_path)
    result = verify_model(model, key=keys.public, signature=sig)
    assert result.checks == ("signature",)
    assert result.key_kind == "ecdsa-p256" and result.key_hint == keys.key.public.hint
    assert result.digest == "sha256:" + hash_model(model).manifest.root_digest().hex()
    assert result.warnings == ()


def test_changed_missing_and_extra_files_are_all_reported(
    model: Path, keys: KeyPair, tmp_path: Path
) -> None:
    sig = signed(model, keys, tmp_path)
    (model / "config.json").write_bytes(b'{"hidden": 9}')
    (model / "tokenizer" / "vocab.txt").unlink()
    (model / "pytorch_model.bin").write_bytes(b"extra pickle")
    with pytest.raises(ManifestMismatchError) as info:
        verify_model(model, key=keys.public, signature=sig)
    assert sorted(rules(info.value)) == ["INT-VER-001", "INT-VER-002", "INT-VER-003"]
    text = str(info.value)
    assert "config.json" in text and "tokenizer/vocab.txt" in text and "pytorch_model.bin" in text


def test_one_flipped_byte_in_a_large_file(model: Path, keys: KeyPair, tmp_path: Path) -> None:
    sig = signed(model, keys, tmp_path, options=HashOptions(shard_size=1024))
    path = model / "model.safetensors"
    data = bytearray(path.read_bytes())
    data[2000] ^= 1
    path.write_bytes(bytes(data))
    with pytest.raises(ManifestMismatchError, match=r"model\.safetensors") as info:
        verify_model(model, key=keys.public, signature=sig)
    assert rules(info.value) == ["INT-VER-001"]


def test_extra_files_allowed_only_explicitly_and_then_warned(
    model: Path, keys: KeyPair, tmp_path: Path
) -> None:
    sig = signed(model, keys, tmp_path)
    (model / "README.md").write_text("notes")
    with pytest.raises(ManifestMismatchError):
        verify_model(model, key=keys.public, signature=sig)
    result = verify_model(
        model, key=keys.public, signature=sig, options=VerifyOptions(allow_extra=True)
    )
    assert [w.rule_id for w in result.warnings] == ["INT-VER-009"]
    ignored = verify_model(
        model, key=keys.public, signature=sig, options=VerifyOptions(ignore=("*.md",))
    )
    assert ignored.warnings == ()


def test_a_verifier_ignore_rule_cannot_hide_a_signed_file(
    model: Path, keys: KeyPair, tmp_path: Path
) -> None:
    sig = signed(model, keys, tmp_path)
    with pytest.raises(ManifestMismatchError) as info:
        verify_model(
            model, key=keys.public, signature=sig, options=VerifyOptions(ignore=("config.json",))
        )
    assert rules(info.value) == ["INT-VER-002"]


def test_wrong_key(model: Path, keys: KeyPair, other_keys: KeyPair, tmp_path: Path) -> None:
    sig = signed(model, keys, tmp_path)
    with pytest.raises(SignatureError) as info:
        verify_model(model, key=other_keys.public, signature=sig)
    assert rules(info.value) == ["INT-VER-004"]


def test_signature_of_a_different_model(
    model_factory: object, keys: KeyPair, tmp_path: Path
) -> None:
    first = model_factory("first")  # type: ignore[operator]
    second = model_factory("second")  # type: ignore[operator]
    (second / "config.json").write_text('{"other": true}')
    sig = signed(first, keys, tmp_path)
    with pytest.raises(ManifestMismatchError, match=r"config\.json"):
        verify_model(second, key=keys.public, signature=sig)


def test_signature_inside_the_model_is_left_out(model: Path, keys: KeyPair) -> None:
    sig = model / "model.sig"
    result = sign_model(model, keys.private, signature=sig)
    assert "model.sig" in result.manifest.serialization.ignore_paths
    assert "model.sig" not in result.manifest.by_file()
    assert verify_model(model, key=keys.public, signature=sig).checks == ("signature",)


def test_single_file_model(tmp_path: Path, keys: KeyPair) -> None:
    weights = tmp_path / "w.safetensors"
    weights.write_bytes(b"weights")
    sig = signed(weights, keys, tmp_path)
    verify_model(weights, key=keys.public, signature=sig)
    weights.write_bytes(b"WEIGHTS")
    with pytest.raises(ManifestMismatchError, match=r"'\.'"):
        verify_model(weights, key=keys.public, signature=sig)


def test_empty_files_in_shards_are_warned(model: Path, keys: KeyPair, tmp_path: Path) -> None:
    sig = signed(model, keys, tmp_path, options=HashOptions(shard_size=4096))
    result = verify_model(model, key=keys.public, signature=sig)
    assert [w.rule_id for w in result.warnings] == ["INT-VER-010"]


@pytest.mark.parametrize("algorithm", ["blake3", "blake2b"])
def test_other_hashes_round_trip(
    model: Path, keys: KeyPair, tmp_path: Path, algorithm: str
) -> None:
    sig = signed(model, keys, tmp_path, options=HashOptions(algorithm=algorithm))
    payload = json.loads(sig.read_text())["dsseEnvelope"]["payload"]
    assert algorithm.encode() in __import__("base64").b64decode(payload)
    verify_model(model, key=keys.public, signature=sig)


def test_ed25519_and_p384(model: Path, tmp_path: Path) -> None:
    for kind in ("ed25519", "ecdsa-p384"):
        pair = write_pair(tmp_path / kind, kind)
        sig = signed(model, pair, tmp_path / kind)
        assert verify_model(model, key=pair.public, signature=sig).key_kind == kind


def test_encrypted_private_key(model: Path, tmp_path: Path) -> None:
    pair = write_pair(tmp_path / "enc", passphrase="correct horse")  # noqa: S106 - test key
    with pytest.raises(KeyFormatError, match="passphrase is needed"):
        load_private_key(pair.private)
    with pytest.raises(KeyFormatError) as info:
        load_private_key(pair.private, "wrong battery")
    assert "wrong battery" not in info.value.diagnostics()
    sig = tmp_path / "enc.sig"
    sign_model(model, pair.private, signature=sig, passphrase="correct horse")  # noqa: S106 - test key
    verify_model(model, key=pair.public, signature=sig)
    assert "correct" not in repr(load_private_key(pair.private, "correct horse"))


def test_bad_key_files(model: Path, keys: KeyPair, tmp_path: Path) -> None:
    junk = tmp_path / "junk.pem"
    junk.write_text("-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----\n")
    sig = signed(model, keys, tmp_path)
    with pytest.raises(KeyFormatError, match="not a PEM public key"):
        verify_model(model, key=junk, signature=sig)
    with pytest.raises(KeyFormatError, match="holds a private key"):
        verify_model(model, key=keys.private, signature=sig)
    with pytest.raises(KeyFormatError, match="cannot read"):
        sign_model(model, tmp_path / "missing.pem", signature=tmp_path / "x.sig")
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    rsa_pem = tmp_path / "rsa.pem"
    rsa_pem.write_bytes(
        rsa_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    with pytest.raises(KeyFormatError, match="unsupported key type"):
        sign_model(model, rsa_pem, signature=tmp_path / "x.sig")


def test_missing_signature_and_nothing_to_verify(
    model: Path, keys: KeyPair, tmp_path: Path
) -> None:
    with pytest.raises(InputError, match="signature file not found"):
        verify_model(model, key=keys.public, signature=tmp_path / "none.sig")
    with pytest.raises(UsageError, match="nothing to verify"):
        verify_model(model)


def test_lockfile_with_and_without_signature(model: Path, keys: KeyPair, tmp_path: Path) -> None:
    sig = signed(model, keys, tmp_path)
    result = hash_model(model)
    lock = Lockfile().with_entry(entry_for("model", result, HashOptions()))
    both = verify_model(model, key=keys.public, signature=sig, lockfile=lock)
    assert both.checks == ("signature", "lockfile") and both.lock_entry is not None
    assert verify_model(model, lockfile=lock).checks == ("lockfile",)
    with pytest.raises(NotApprovedError) as info:
        verify_model(model, lockfile=lock, name="another")
    assert rules(info.value) == ["INT-LCK-002"]
    (model / "config.json").write_text("{}")
    with pytest.raises(NotApprovedError) as info:
        verify_model(model, lockfile=lock)
    assert rules(info.value) == ["INT-LCK-001"]


def test_verification_never_returns_false(model: Path, keys: KeyPair, tmp_path: Path) -> None:
    sig = signed(model, keys, tmp_path)
    os.truncate(model / "model.safetensors", 10)
    outcome = None
    with pytest.raises(VerificationError):
        outcome = verify_model(model, key=keys.public, signature=sig)
    assert outcome is None
