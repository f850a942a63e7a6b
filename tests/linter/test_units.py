"""Building blocks of the linter: import aliases, abstract values, notebook sources, triggers."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from mlwarden.linter.imports import ImportMap, canonical
from mlwarden.linter.source import SourceFile, read_source
from mlwarden.linter.values import (
    AV,
    UNKNOWN,
    Prefix,
    is_commit_sha,
    may_be_true,
    pinned_revision,
    truthiness,
)

SHA = "3f2c1a9b8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a"


def _imports(code: str) -> ImportMap:
    imports = ImportMap()
    for node in ast.parse(code).body:
        if isinstance(node, ast.Import):
            imports.add_import(node)
        elif isinstance(node, ast.ImportFrom):
            imports.add_import_from(node)
    return imports


def test_import_aliases_resolve_to_canonical_names() -> None:
    imports = _imports(
        "import joblib as jl\nfrom torch import load as L\nimport os.path\n"
        "import cPickle\nfrom tensorflow.keras.models import load_model\n"
        "from sklearn.externals import joblib\n"
    )
    assert imports.resolve("jl") == {"joblib"}
    assert imports.resolve("L") == {"torch.load"}
    assert imports.resolve("os") == {"os"}
    assert imports.resolve("cPickle") == {"pickle"}
    assert imports.resolve("load_model") == {"keras.models.load_model"}
    assert imports.resolve("joblib") == {"joblib"}
    assert imports.resolve("nothing") is None
    assert imports.uses("keras") and imports.uses("torch") and not imports.uses("flask")


def test_a_name_bound_twice_keeps_both() -> None:
    imports = _imports(
        "try:\n    from yaml import CSafeLoader as Loader\nexcept ImportError:\n    pass\n"
        "from yaml import SafeLoader as Loader\n"
    )
    assert imports.resolve("Loader") == {"yaml.SafeLoader"}
    imports = _imports("from yaml import CSafeLoader as L\nfrom yaml import Loader as L\n")
    assert imports.resolve("L") == {"yaml.CSafeLoader", "yaml.Loader"}


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("tensorflow.keras.models.load_model", "keras.models.load_model"),
        ("_pickle.loads", "pickle.loads"),
        ("grpc.aio.insecure_channel", "grpc.insecure_channel"),
        ("numpy.load", "numpy.load"),
        ("pickled.loads", "pickled.loads"),
    ],
)
def test_canonical(name: str, expected: str) -> None:
    assert canonical(name) == expected


def test_value_queries_distinguish_every_path_from_unknown() -> None:
    true = AV.const(True)
    maybe_false = true.join(AV.const(False))
    assert true.always(True) and not maybe_false.always(True) and maybe_false.maybe(False)
    assert not UNKNOWN.always(True) and not UNKNOWN.maybe(False)
    assert truthiness(true) is True and truthiness(maybe_false) is None
    assert truthiness(UNKNOWN) is None and may_be_true(UNKNOWN) is None
    assert may_be_true(AV.const(0)) is False and may_be_true(maybe_false) is True
    assert AV.const("local").always("local") and not AV.const(1).always(True)


def test_revisions_pin_only_commits() -> None:
    assert is_commit_sha(SHA) and not is_commit_sha("main") and not is_commit_sha(SHA[:12])
    assert pinned_revision(AV.const(SHA)) is True
    assert pinned_revision(AV.const("main")) is False
    assert pinned_revision(AV.const(SHA).join(AV.const("v1"))) is False
    assert pinned_revision(None) is False and pinned_revision(AV.const(None)) is False
    assert pinned_revision(UNKNOWN) is None


def test_urls_carry_the_remote_taint() -> None:
    assert "remote" in AV.const("https://x/y.csv").taints
    assert "remote" not in AV.const("data/train.csv").taints
    assert AV(frozenset((Prefix("http://"),))).prefixes() == ["http://"]


def test_source_locates_notebook_cells() -> None:
    src = SourceFile("a = 1\nb = 2\nc = 3\n", cells=((1, 1), (3, 4)))
    assert src.locate(1) == (1, 1) and src.locate(2) == (1, 2) and src.locate(3) == (4, 1)
    assert SourceFile("x = 1").locate(5) == (None, 5)


def test_source_reads_declared_encodings(tmp_path: Path) -> None:
    path = tmp_path / "m.py"
    path.write_bytes(b"\xef\xbb\xbfname = 'caf\xc3\xa9'\n")
    assert read_source(path).text.startswith("name = 'caf")
