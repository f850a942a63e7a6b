"""Parallel hashing: digests, shards, ignore rules, refused links/special files/names, limits."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from mlwarden.integrity import hashing
from mlwarden.integrity.errors import HashingError
from mlwarden.integrity.hashing import HashOptions, hash_model
from mlwarden.integrity.walk import FileEntry


def digests(model: Path, **options: object) -> dict[str, str]:
    result = hash_model(model, HashOptions(**options))  # type: ignore[arg-type]
    return {i.key: i.digest.hex() for i in result.manifest.items}


def test_per_file_sha256_matches_hashlib_and_skips_git(model: Path) -> None:
    got = digests(model)
    want = {
        p.relative_to(model).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in model.rglob("*")
        if p.is_file() and ".git" not in p.relative_to(model).parts[0]
    }
    assert got == want
    assert "empty.txt" in got and "caf\u00e9 \u6a21\u578b.bin" in got
    assert not any(name.startswith(".git") for name in got)


def test_git_files_are_hashed_when_asked(model: Path) -> None:
    assert ".git/HEAD" in digests(model, ignore_git=False)


def test_order_follows_path_components_like_model_signing(tmp_path: Path) -> None:
    for name in ("a-c", "a/b", "a.txt", "B"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(name.encode())
    names = [i.name for i in hash_model(tmp_path).manifest.items]
    # components compare first ("a" < "a-c" < "a.txt"), unlike plain string order.
    assert names == ["B", "a/b", "a-c", "a.txt"]


def test_shards_tile_files_and_skip_empty_files(tmp_path: Path) -> None:
    data = os.urandom(2500)
    (tmp_path / "big.bin").write_bytes(data)
    (tmp_path / "empty").write_bytes(b"")
    got = digests(tmp_path, shard_size=1000)
    assert got == {
        f"big.bin:{s}:{e}": hashlib.sha256(data[s:e]).hexdigest()
        for s, e in ((0, 1000), (1000, 2000), (2000, 2500))
    }


@pytest.mark.parametrize("algorithm", ["blake2b", "blake3"])
def test_other_algorithms(tmp_path: Path, algorithm: str) -> None:
    data = os.urandom(5 * 1024 * 1024 + 7)  # several read buffers
    (tmp_path / "w.bin").write_bytes(data)
    got = digests(tmp_path, algorithm=algorithm)
    if algorithm == "blake3":
        from blake3 import blake3

        want = blake3(data).hexdigest()
    else:
        want = hashlib.blake2b(data).hexdigest()
    assert got == {"w.bin": want}


def test_parallel_equals_serial(tmp_path: Path) -> None:
    for i in range(40):
        (tmp_path / f"f{i:02d}").write_bytes(os.urandom(1000 + 97 * i))
    (tmp_path / "large").write_bytes(os.urandom(9 * 1024 * 1024))
    serial = hash_model(tmp_path, HashOptions(workers=1)).manifest
    parallel = hash_model(tmp_path, HashOptions(workers=4)).manifest
    assert serial == parallel and serial.root_digest() == parallel.root_digest()


def test_single_file_model_is_named_dot(tmp_path: Path) -> None:
    path = tmp_path / "model.onnx"
    path.write_bytes(b"onnx bytes")
    items = hash_model(path).manifest.items
    assert [(i.name, i.digest) for i in items] == [(".", hashlib.sha256(b"onnx bytes").digest())]


def test_ignore_literal_paths_and_globs(model: Path) -> None:
    got = digests(model, ignore=("tokenizer", "*.json"))
    assert not any(n.startswith("tokenizer/") or n.endswith(".json") for n in got)
    assert "model.safetensors" in got
    recorded = hash_model(model, HashOptions(ignore=("*.json",))).manifest.serialization
    assert "config.json" in recorded.ignore_paths and ".git" in recorded.ignore_paths


def test_symlinks_refused_unless_allowed(model: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside.bin"
    outside.write_bytes(b"outside")
    (model / "link.bin").symlink_to(outside)
    with pytest.raises(HashingError, match="symbolic link"):
        hash_model(model)
    got = digests(model, allow_symlinks=True)
    assert got["link.bin"] == hashlib.sha256(b"outside").hexdigest()


def test_symlinked_directories_are_never_followed(model: Path) -> None:
    (model / "loop").symlink_to(model)
    with pytest.raises(HashingError, match="links to a directory"):
        hash_model(model, HashOptions(allow_symlinks=True))


def test_model_path_that_is_a_link_is_refused(model: Path, tmp_path: Path) -> None:
    link = tmp_path / "link-to-model"
    link.symlink_to(model)
    with pytest.raises(HashingError, match="symbolic link"):
        hash_model(link)


def test_fifo_is_refused_without_blocking(model: Path) -> None:
    os.mkfifo(model / "pipe")
    with pytest.raises(HashingError, match="not a regular file"):
        hash_model(model)


def test_missing_and_unreadable_directories(model: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(HashingError, match="cannot read the model"):
        hash_model(model / "nope")
    real = os.scandir

    def deny(path: object) -> object:
        if str(path).endswith("tokenizer"):
            raise PermissionError(13, "Permission denied")
        return real(path)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "scandir", deny)
    with pytest.raises(HashingError, match="cannot read directory 'tokenizer'"):
        hash_model(model)


def test_too_many_files(tmp_path: Path) -> None:
    for i in range(12):
        (tmp_path / str(i)).write_bytes(b"")
    with pytest.raises(HashingError, match="more than 10 files"):
        hash_model(tmp_path, HashOptions(max_files=10))
    assert len(digests(tmp_path, max_files=12)) == 12


def test_names_that_are_not_utf8_are_refused(tmp_path: Path) -> None:
    with open(os.path.join(os.fsencode(tmp_path), b"bad\xff.bin"), "wb") as f:
        f.write(b"x")
    with pytest.raises(HashingError, match="not valid UTF-8"):
        hash_model(tmp_path)


def test_odd_but_valid_names(tmp_path: Path) -> None:
    names = ["new\nline", "back\\slash", "colon:name", " lead space", "-dash", "\u202eltr"]
    for name in names:
        (tmp_path / name).write_bytes(name.encode())
    assert sorted(digests(tmp_path)) == sorted(names)


def test_file_changed_while_hashing_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"12345")
    stale = FileEntry("f", path, 3, 0)  # listed at 3 bytes, now 5
    task = hashing._Task(stale, 0, None)
    with pytest.raises(HashingError, match="changed while"):
        hashing.digest_task(task, "sha256", False)


def test_precomputed_digests_are_trusted_and_checked(model: Path) -> None:
    fake = "ab" * 32
    result = hash_model(model, precomputed={"config.json": fake})
    assert result.stats.precomputed == 1
    assert {i.name: i.digest.hex() for i in result.manifest.items}["config.json"] == fake
    with pytest.raises(HashingError, match="not a sha256 digest"):
        hash_model(model, precomputed={"config.json": "abcd"})
    with pytest.raises(HashingError, match="need per-file hashing"):
        hash_model(model, HashOptions(shard_size=1024), precomputed={"config.json": fake})


def test_unknown_algorithm(model: Path) -> None:
    with pytest.raises(HashingError, match="unsupported"):
        hash_model(model, HashOptions(algorithm="md5"))
