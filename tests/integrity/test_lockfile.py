"""The approved-hash lockfile: TOML round trip, strict parsing, approval checks."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlwarden.integrity import HashOptions, Lockfile, NotApprovedError
from mlwarden.integrity.errors import LockfileError
from mlwarden.integrity.hashing import hash_model
from mlwarden.integrity.lockfile import LockEntry, check_model, entry_for

DIGEST = "sha256:" + "ab" * 32


def test_round_trip_with_odd_names(tmp_path: Path) -> None:
    names = ['bert "base"', "caf\u00e9/\u6a21\u578b", "tab\there", "del\x7f", "new\nline", "a.b"]
    lock = Lockfile()
    for i, name in enumerate(names):
        lock = lock.with_entry(
            LockEntry(
                name,
                DIGEST,
                shard_size=i,
                ignore=("*.md", 'q"'),
                ignore_git=bool(i % 2),
                files=i,
                source="hf://x/y",
                revision="abc123",
            )
        )
    path = tmp_path / "mlwarden.lock"
    lock.write(path)
    back = Lockfile.read(path)
    assert back == lock
    assert path.read_text().startswith("# mlwarden.lock")


def test_entry_from_a_hashed_model(model: Path) -> None:
    result = hash_model(model, HashOptions(ignore=("*.txt",)))
    entry = entry_for("m", result, HashOptions(ignore=("*.txt",)), source="s3://b/m")
    assert entry.digest == result.digest and entry.ignore == ("*.txt",)
    assert entry.files == len(result.manifest.states) and entry.approved_at
    lock = Lockfile().with_entry(entry)
    got, again = check_model(model, lock, "m")
    assert got == entry and again.digest == entry.digest
    # Files the entry ignores may change without affecting approval.
    (model / "empty.txt").write_text("now something")
    check_model(model, lock, "m")
    (model / "config.json").write_text("{}")
    with pytest.raises(NotApprovedError, match="not the approved"):
        check_model(model, lock, "m")


def test_default_name_is_the_directory(model: Path) -> None:
    lock = Lockfile().with_entry(entry_for("model", hash_model(model), HashOptions()))
    check_model(model, lock)
    with pytest.raises(NotApprovedError, match="no approved digest for model 'model'"):
        check_model(model, Lockfile())


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("version = 2\n", "unsupported or missing version"),
        ("[models.a]\n", "version"),
        ("version = 1\nextra = 1\n", "only 'version'"),
        ('version = 1\n[models.a]\ndigest = "sha256:abc"\n', "64 lowercase hex"),
        (f'version = 1\n[models.a]\ndigest = "{DIGEST.upper()}"\n', "64 lowercase hex"),
        (f'version = 1\n[models.a]\ndigest = "{DIGEST}"\ndigets = 1\n', "unknown key"),
        (f'version = 1\n[models.a]\ndigest = "{DIGEST}"\nhash = "md5"\n', "unsupported hash"),
        (f'version = 1\n[models.a]\ndigest = "{DIGEST}"\nfiles = "3"\n', "'files' must be"),
        (f'version = 1\n[models.a]\ndigest = "{DIGEST}"\nshard_size = true\n', "'shard_size'"),
        (f'version = 1\n[models.a]\ndigest = "{DIGEST}"\nignore = [1]\n', "list of strings"),
        ("version = 1\nmodels = 3\n", "only 'version'"),
        ("not toml = = =", "not valid TOML"),
    ],
)
def test_malformed_lockfiles(text: str, message: str) -> None:
    with pytest.raises(LockfileError, match=message):
        Lockfile.loads(text)


def test_missing_lockfile(tmp_path: Path) -> None:
    with pytest.raises(LockfileError, match="not found"):
        Lockfile.read(tmp_path / "none.lock")
    assert Lockfile.read(tmp_path / "none.lock", missing_ok=True) == Lockfile()
    with pytest.raises(LockfileError, match="no model named"):
        Lockfile().without("x")
