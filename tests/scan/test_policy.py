"""The pickle global policy: allow-list first, dangerous gadgets critical, unknown reviewed."""

from __future__ import annotations

import pytest

from mlwarden.scan.policy import Kind, PicklePolicy

DANGEROUS = [
    ("os", "system"),
    ("posix", "system"),
    ("nt", "system"),
    ("subprocess", "Popen"),
    ("builtins", "eval"),
    ("builtins", "exec"),
    ("builtins", "getattr"),
    ("__builtin__", "eval"),
    ("__builtin__", "getattr"),
    ("runpy", "_run_code"),
    ("pydoc", "pipepager"),
    ("timeit", "timeit"),
    ("cProfile", "run"),
    ("code", "InteractiveInterpreter"),
    ("operator", "attrgetter"),
    ("operator", "methodcaller"),
    ("functools", "reduce"),
    ("shutil", "rmtree"),
    ("webbrowser", "open"),
    ("importlib", "import_module"),
    ("ctypes", "CDLL"),
    ("socket", "socket"),
    ("types", "FunctionType"),
    ("numpy.testing._private.utils", "runstring"),
    ("numpy", "load"),
    ("torch", "load"),
    ("torch.fx.graph_module", "reduce_graph_module"),
    ("pathlib", "Path.write_text"),
    ("numpy", "testing._private.utils.os.system"),
    ("builtins", "eval.__call__"),
    ("os\r", "system"),
    ("asyncio.subprocess", "create_subprocess_shell"),
    ("distutils.spawn", "spawn"),
    ("some.unknown.module", "system"),
]
SAFE = [
    ("collections", "OrderedDict"),
    ("torch._utils", "_rebuild_tensor_v2"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy", "dtype"),
    ("numpy", "log1p"),
    ("copy_reg", "_reconstructor"),
    ("__builtin__", "set"),
    ("sklearn.linear_model._logistic", "LogisticRegression"),
    ("sklearn.ensemble._hist_gradient_boosting.binning", "_BinMapper"),
    ("sklearn.neighbors._kd_tree", "newObj"),
    ("scipy.sparse._csr", "csr_matrix"),
    ("joblib.numpy_pickle", "NumpyArrayWrapper"),
    ("argparse", "Namespace"),
    ("torch.nn.modules.linear", "Linear"),
    ("__torch__.torch.nn.modules.linear", "Linear"),
    ("torch.jit._pickle", "build_intlist"),
    ("datetime", "datetime"),
]


@pytest.mark.parametrize(("module", "name"), DANGEROUS)
def test_dangerous_globals(module: str, name: str) -> None:
    assert PicklePolicy().judge(module, name).kind in (Kind.DANGEROUS, Kind.LOADER)


@pytest.mark.parametrize(("module", "name"), SAFE)
def test_safe_globals(module: str, name: str) -> None:
    assert PicklePolicy().judge(module, name).kind is Kind.SAFE


def test_unknown_global_can_be_allowed_but_dangerous_cannot() -> None:
    assert PicklePolicy().judge("mypkg.models", "Net").kind is Kind.UNKNOWN
    allow = PicklePolicy(frozenset({"mypkg.models.Net", "other.*", "os.system"}))
    assert allow.judge("mypkg.models", "Net").kind is Kind.SAFE
    assert allow.judge("other.deep", "Thing").kind is Kind.SAFE
    assert allow.judge("os", "system").kind is Kind.DANGEROUS


def test_pattern_excludes_io_subtrees_of_trusted_packages() -> None:
    assert PicklePolicy().judge("pandas.io.pytables", "HDFStore").kind is Kind.UNKNOWN
    assert PicklePolicy().judge("scipy.io._fortran", "FortranFile").kind is Kind.UNKNOWN


def test_nested_loader_with_scanned_argument() -> None:
    verdict = PicklePolicy().judge("torch.storage", "_load_from_bytes")
    assert verdict.kind is Kind.LOADER and verdict.scan_argument
    assert not PicklePolicy().judge("pickle", "loads").scan_argument
