"""Shared fixtures: generated key pairs and small model directories (written at test time)."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from mlwarden.integrity.keys import SigningKey, generate_key

#: One hour ago: files this old are outside the incremental-hashing "racy" window.
OLD = 1_700_000_000


@dataclass(frozen=True)
class KeyPair:
    private: Path
    public: Path
    key: SigningKey


def write_pair(directory: Path, kind: str = "ecdsa-p256", passphrase: str | None = None) -> KeyPair:
    key = generate_key(kind)
    directory.mkdir(parents=True, exist_ok=True)
    private = directory / f"{kind}.pem"
    public = directory / f"{kind}.pub.pem"
    private.write_bytes(key.private_pem(passphrase))
    public.write_bytes(key.public.pem)
    return KeyPair(private, public, key)


@pytest.fixture(scope="session")
def keys(tmp_path_factory: pytest.TempPathFactory) -> KeyPair:
    return write_pair(tmp_path_factory.mktemp("keys"))


@pytest.fixture(scope="session")
def other_keys(tmp_path_factory: pytest.TempPathFactory) -> KeyPair:
    return write_pair(tmp_path_factory.mktemp("other-keys"))


def make_model(root: Path, *, old: bool = True) -> Path:
    """A small model folder: weights, a config, a nested file, an empty file, git metadata."""
    files = {
        "model.safetensors": b"\x00" * 3000 + b"weights",
        "config.json": b'{"hidden": 8}',
        "tokenizer/vocab.txt": "a\nb\nc\n\u00e9t\u00e9\n".encode(),
        "empty.txt": b"",
        "caf\u00e9 \u6a21\u578b.bin": b"unicode name",
        ".git/HEAD": b"ref: refs/heads/main\n",
        ".gitattributes": b"*.bin filter=lfs\n",
    }
    for name, data in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        if old:
            os.utime(path, (OLD, OLD))
    return root


@pytest.fixture
def model(tmp_path: Path) -> Path:
    return make_model(tmp_path / "model")


ModelFactory = Callable[..., Path]


@pytest.fixture
def model_factory(tmp_path: Path) -> ModelFactory:
    def build(name: str = "model", old: bool = True) -> Path:
        return make_model(tmp_path / name, old=old)

    return build
