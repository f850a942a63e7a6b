"""Incremental re-signing: only files whose size or mtime changed are re-hashed, and a stale
state can only make verification fail, never pass."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from mlwarden.integrity import HashOptions, ManifestMismatchError, sign_model, verify_model
from mlwarden.integrity.errors import HashingError
from mlwarden.integrity.hashing import hash_model
from mlwarden.integrity.statefile import manifest_from_json, manifest_to_json, read_state
from tests.integrity.conftest import OLD, KeyPair


def many_files(root: Path, n: int = 60) -> Path:
    for i in range(n):
        path = root / f"d{i % 5}" / f"f{i:03d}.bin"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(os.urandom(100 + i))
        os.utime(path, (OLD, OLD))
    return root


def test_resign_rehashes_only_the_changed_file(tmp_path: Path, keys: KeyPair) -> None:
    model = many_files(tmp_path / "m")
    state, sig = tmp_path / "state.json", tmp_path / "model.sig"
    first = sign_model(model, keys.private, signature=sig, state=state)
    assert (first.stats.hashed, first.stats.reused) == (60, 0)
    changed = model / "d1" / "f001.bin"
    changed.write_bytes(b"new content")
    os.utime(changed, (OLD + 10, OLD + 10))
    second = sign_model(model, keys.private, signature=sig, state=state)
    assert (second.stats.hashed, second.stats.reused) == (1, 59)
    assert second.stats.bytes_hashed == len(b"new content")
    assert second.manifest == hash_model(model).manifest
    verify_model(model, key=keys.public, signature=sig)


def test_added_and_removed_files(tmp_path: Path, keys: KeyPair) -> None:
    model = many_files(tmp_path / "m", 10)
    state = tmp_path / "state.json"
    sign_model(model, keys.private, signature=tmp_path / "s", state=state)
    (model / "d0" / "f000.bin").unlink()
    (model / "new.bin").write_bytes(b"n")
    result = sign_model(model, keys.private, signature=tmp_path / "s", state=state)
    assert (result.stats.files, result.stats.hashed, result.stats.reused) == (10, 1, 9)
    assert result.manifest == hash_model(model).manifest


def test_recently_modified_files_are_always_rehashed(tmp_path: Path) -> None:
    model = tmp_path / "m"
    model.mkdir()
    (model / "fresh.bin").write_bytes(b"a")  # mtime = now: inside the racy window
    first = hash_model(model)
    second = hash_model(model, previous=first.manifest)
    assert second.stats.hashed == 1 and second.stats.reused == 0


def test_a_stale_state_cannot_make_a_tampered_model_verify(tmp_path: Path, keys: KeyPair) -> None:
    """Same size, mtime put back: the state reuses the old digest, so the signature says the old
    bytes and verification (which always re-hashes) fails closed."""
    model = many_files(tmp_path / "m", 5)
    state, sig = tmp_path / "state.json", tmp_path / "model.sig"
    sign_model(model, keys.private, signature=sig, state=state)
    victim = model / "d2" / "f002.bin"
    victim.write_bytes(b"X" * victim.stat().st_size)
    os.utime(victim, (OLD, OLD))
    sign_model(model, keys.private, signature=sig, state=state)
    with pytest.raises(ManifestMismatchError, match=r"f002\.bin"):
        verify_model(model, key=keys.public, signature=sig)


def test_state_with_other_hashing_is_not_reused(tmp_path: Path) -> None:
    model = many_files(tmp_path / "m", 4)
    first = hash_model(model)
    again = hash_model(model, HashOptions(shard_size=64), previous=first.manifest)
    assert again.stats.reused == 0 and again.stats.hashed == 4


def test_state_file_round_trip_and_shards(tmp_path: Path) -> None:
    model = many_files(tmp_path / "m", 4)
    (model / "empty").write_bytes(b"")
    os.utime(model / "empty", (OLD, OLD))
    for options in (HashOptions(), HashOptions(shard_size=64)):
        m = hash_model(model, options).manifest
        back = manifest_from_json(manifest_to_json(m))
        assert back == m and back.states == m.states and back.hashed_at_ns == m.hashed_at_ns
        again = hash_model(model, options, previous=back)
        assert again.stats.hashed == 0 and again.manifest == m


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d["files"][0].update(name="../../etc/passwd"), "file name"),
        (lambda d: d.update(format="other"), "not a mlwarden-manifest"),
        (lambda d: d.update(version=99), "unsupported version"),
        (lambda d: d["files"][0].update(digest="abc"), "malformed"),
    ],
)
def test_malformed_state_files_are_refused(tmp_path: Path, edit: object, message: str) -> None:
    model = many_files(tmp_path / "m", 2)
    doc = json.loads(manifest_to_json(hash_model(model).manifest))
    edit(doc)  # type: ignore[operator]
    path = tmp_path / "state.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(HashingError, match=message):
        read_state(path)
    path.write_text("{not json")
    with pytest.raises(HashingError, match="malformed"):
        read_state(path)
    assert read_state(tmp_path / "absent.json") is None


def test_state_inside_the_model_is_left_out(tmp_path: Path, keys: KeyPair) -> None:
    model = many_files(tmp_path / "m", 3)
    result = sign_model(model, keys.private, signature=tmp_path / "s", state=model / ".state.json")
    assert ".state.json" not in result.manifest.by_file()
    again = sign_model(model, keys.private, signature=tmp_path / "s", state=model / ".state.json")
    assert again.stats.reused == 3
