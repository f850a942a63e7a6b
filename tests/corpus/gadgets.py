"""Gadget pickles: standard-library and ML-library callables that deny-lists have missed.

Each row mirrors a public advisory family ("missing detection when calling ...", the
picklescan/modelscan/fickling GHSA series): code runners (runpy, code, pydoc, timeit, profile,
trace, pdb, idlelib, numpy.testing, numpy.f2py), file writers (io, shutil, distutils, sqlite3,
venv, zipfile), process spawners (asyncio, ctypes, multiprocessing.util, distutils, pty, pip)
and network calls. Indirection gadgets, nested loaders and dotted names are in
``indirection.py``.
"""

from __future__ import annotations

from collections.abc import Callable

from tests.corpus._spec import PKL_ANY, Marker, Spec, mal
from tests.corpus.pickle_ops import Asm

#: A writer that returns the file's bytes.
Make = Callable[[Marker], bytes]


def _one(module: str, name: str, *args: object, proto: int = 2) -> Make:
    """A writer for ``module.name(*args)`` where ``args`` may use the marker via callables."""

    def make(m: Marker) -> bytes:
        values = tuple(a(m) if callable(a) else a for a in args)
        a = Asm().proto(proto)
        return a.call(module, name, *values, stack=proto >= 4).stop().bytes()

    return make


def method_call(module: str, cls: str, meth: str, ctor: tuple[object, ...], arg: object) -> Make:
    """``module.cls.meth(module.cls(*ctor), arg(m))`` through a protocol-4 dotted name."""

    def make(m: Marker) -> bytes:
        a = Asm().proto(4).stack_global_of(module, f"{cls}.{meth}")
        a.call(module, cls, *ctor, stack=True)
        return a.push(arg(m) if callable(arg) else arg).tuple_(2).reduce().stop().bytes()

    return make


def _eval_expr(m: Marker) -> str:
    return f"__import__('os').system({m.shell!r})"


def _shell(m: Marker) -> str:
    return m.shell


def py_source(m: Marker) -> str:
    return m.py


def _path(m: Marker) -> str:
    return m.path


def _argv(m: Marker) -> list[str]:
    return m.argv


def _timeit(m: Marker) -> bytes:
    a = Asm().proto(2).global_("timeit", "timeit").mark().str_("pass").str_(m.py)
    return a.global_("time", "perf_counter").int_(1).tuple_().reduce().stop().bytes()


def _asyncio(m: Marker) -> bytes:
    a = Asm().proto(2).global_("asyncio", "run")
    return a.call("asyncio", "create_subprocess_shell", m.shell).tuple_(1).reduce().stop().bytes()


def _ctypes(m: Marker) -> bytes:
    a = Asm().proto(2).call("operator", "attrgetter", "system")
    a.call("ctypes", "CDLL", None).tuple_(1).reduce()
    return a.push((m.shell.encode(),)).reduce().stop().bytes()


def _spawnv(m: Marker) -> bytes:
    args: tuple[object, ...] = (b"/bin/sh", ["sh", "-c", m.shell], [])
    return Asm().proto(3).call("multiprocessing.util", "spawnv_passfds", *args).stop().bytes()


# (relpath, family, rules, note, writer, loader, needs, quick)
_ROWS: list[tuple[str, str, frozenset[str], str, Make, str, tuple[str, ...], bool]] = [
    (
        "runpy_run_code.pkl",
        "gadget-code-runner",
        PKL_ANY,
        "runpy._run_code(source, {})",
        _one("runpy", "_run_code", py_source, {}),
        "pickle",
        (),
        True,
    ),
    (
        "runpy_run_path.pkl",
        "gadget-code-runner",
        PKL_ANY,
        "runpy.run_path(file) (not run)",
        _one("runpy", "run_path", "/nonexistent/payload.py"),
        "",
        (),
        False,
    ),
    (
        "code_interactive_runsource.pkl",
        "gadget-code-runner",
        PKL_ANY,
        "code.InteractiveInterpreter().runsource(source) via a dotted method name",
        method_call("code", "InteractiveInterpreter", "runsource", (), py_source),
        "pickle",
        (),
        False,
    ),
    (
        "pydoc_pipepager.pkl",
        "gadget-code-runner",
        PKL_ANY,
        "pydoc.pipepager(text, shell cmd)",
        _one("pydoc", "pipepager", "x", _shell),
        "pickle",
        (),
        False,
    ),
    (
        "timeit_setup.pkl",
        "gadget-code-runner",
        PKL_ANY,
        "timeit.timeit('pass', setup=source)",
        _timeit,
        "pickle",
        (),
        True,
    ),
    (
        "cprofile_run.pkl",
        "gadget-code-runner",
        PKL_ANY,
        "cProfile.run(source)",
        _one("cProfile", "run", py_source),
        "pickle",
        (),
        False,
    ),
    (
        "cprofile_runctx.pkl",
        "gadget-code-runner",
        PKL_ANY,
        "cProfile.runctx(source, {}, {})",
        _one("cProfile", "runctx", py_source, {}, {}),
        "pickle",
        (),
        False,
    ),
    (
        "profile_profile_run.pkl",
        "gadget-code-runner",
        PKL_ANY,
        "profile.Profile().run(source)",
        method_call("profile", "Profile", "run", (), py_source),
        "pickle",
        (),
        False,
    ),
    (
        "trace_trace_run.pkl",
        "gadget-code-runner",
        PKL_ANY,
        "trace.Trace(0, 0).run(source)",
        method_call("trace", "Trace", "run", (0, 0), py_source),
        "pickle",
        (),
        False,
    ),
    (
        "pdb_run.pkl",
        "gadget-code-runner",
        PKL_ANY,
        "pdb.run(source) (interactive: not run)",
        _one("pdb", "run", py_source),
        "",
        (),
        False,
    ),
    (
        "bdb_run.pkl",
        "gadget-code-runner",
        PKL_ANY,
        "bdb.Bdb().run(source) (not run)",
        method_call("bdb", "Bdb", "run", (), py_source),
        "",
        (),
        False,
    ),
    (
        "doctest_debug_script.pkl",
        "gadget-code-runner",
        PKL_ANY,
        "doctest.debug_script (not run)",
        _one("doctest", "debug_script", py_source),
        "",
        (),
        False,
    ),
    (
        "idlelib_get_entity.pkl",
        "gadget-code-runner",
        PKL_ANY,
        "idlelib.autocomplete.AutoComplete().get_entity(expr) evals",
        method_call("idlelib.autocomplete", "AutoComplete", "get_entity", (), _eval_expr),
        "pickle",
        (),
        False,
    ),
    (
        "numpy_runstring.pkl",
        "gadget-code-runner",
        PKL_ANY,
        "numpy.testing._private.utils.runstring(source, {}) execs",
        _one("numpy.testing._private.utils", "runstring", py_source, {}),
        "pickle",
        ("numpy",),
        True,
    ),
    (
        "numpy_f2py_eval_scalar.pkl",
        "gadget-code-runner",
        PKL_ANY,
        "numpy.f2py.crackfortran._eval_scalar(expr, {}) evals",
        _one("numpy.f2py.crackfortran", "_eval_scalar", _eval_expr, {}),
        "pickle",
        ("numpy",),
        False,
    ),
    (
        "torch_bottleneck_run_cprofile.pkl",
        "gadget-code-runner",
        PKL_ANY,
        "torch.utils.bottleneck.__main__.run_cprofile (older torch; not run)",
        _one("torch.utils.bottleneck.__main__", "run_cprofile", py_source, {}),
        "",
        (),
        False,
    ),
    (
        "xxsubinterpreters_run_string.pkl",
        "gadget-code-runner",
        PKL_ANY,
        "_xxsubinterpreters.run_string (GHSA-6ggj family; not run)",
        _one("_xxsubinterpreters", "run_string", 0, py_source),
        "",
        (),
        False,
    ),
    (
        "io_open.pkl",
        "gadget-file-write",
        PKL_ANY,
        "_io.open(path, 'w')",
        _one("_io", "open", _path, "w"),
        "pickle",
        (),
        False,
    ),
    (
        "io_fileio.pkl",
        "gadget-file-write",
        PKL_ANY,
        "io.FileIO(path, 'w')",
        _one("io", "FileIO", _path, "w"),
        "pickle",
        (),
        True,
    ),
    (
        "shutil_copyfile.pkl",
        "gadget-file-write",
        PKL_ANY,
        "shutil.copyfile('/dev/null', path)",
        _one("shutil", "copyfile", "/dev/null", _path),
        "pickle",
        (),
        False,
    ),
    (
        "shutil_rmtree.pkl",
        "gadget-file-write",
        PKL_ANY,
        "shutil.rmtree(missing dir, ignore_errors=True) (destructive family; harmless here)",
        _one("shutil", "rmtree", "/nonexistent/mlwarden-corpus", True),
        "",
        (),
        False,
    ),
    (
        "distutils_write_file.pkl",
        "gadget-file-write",
        PKL_ANY,
        "distutils.file_util.write_file(path, lines)",
        _one("distutils.file_util", "write_file", _path, ["x"]),
        "pickle",
        (),
        False,
    ),
    (
        "sqlite3_connect.pkl",
        "gadget-file-write",
        PKL_ANY,
        "sqlite3.connect(path) creates it",
        _one("sqlite3", "connect", _path),
        "pickle",
        (),
        False,
    ),
    (
        "venv_create.pkl",
        "gadget-file-write",
        PKL_ANY,
        "venv.create(path) creates a directory",
        _one("venv", "create", _path),
        "pickle",
        (),
        False,
    ),
    (
        "zipfile_write.pkl",
        "gadget-file-write",
        PKL_ANY,
        "zipfile.ZipFile(path, 'w') creates it",
        _one("zipfile", "ZipFile", _path, "w"),
        "pickle",
        (),
        False,
    ),
    (
        "asyncio_subprocess_shell.pkl",
        "gadget-process",
        PKL_ANY,
        "asyncio.run(asyncio.create_subprocess_shell(cmd)) (CVE-2025-10157 family)",
        _asyncio,
        "pickle",
        (),
        True,
    ),
    (
        "ctypes_libc_system.pkl",
        "gadget-process",
        PKL_ANY,
        "attrgetter('system')(ctypes.CDLL(None))(cmd): libc system()",
        _ctypes,
        "pickle",
        (),
        False,
    ),
    (
        "multiprocessing_spawnv_passfds.pkl",
        "gadget-process",
        PKL_ANY,
        "multiprocessing.util.spawnv_passfds('/bin/sh', argv, []): submodule of a safe package",
        _spawnv,
        "pickle",
        (),
        False,
    ),
    (
        "distutils_spawn.pkl",
        "gadget-process",
        PKL_ANY,
        "distutils.spawn.spawn(argv)",
        _one("distutils.spawn", "spawn", _argv),
        "pickle",
        (),
        False,
    ),
    (
        "pty_spawn.pkl",
        "gadget-process",
        PKL_ANY,
        "pty.spawn(argv) (not run)",
        _one("pty", "spawn", _argv),
        "",
        (),
        False,
    ),
    (
        "pip_main.pkl",
        "gadget-process",
        PKL_ANY,
        "pip.main(args) (CVE-2025-1716; not run)",
        _one("pip", "main", ["--version"]),
        "",
        (),
        False,
    ),
    (
        "ensurepip_run_pip.pkl",
        "gadget-process",
        PKL_ANY,
        "ensurepip._run_pip (not run)",
        _one("ensurepip", "_run_pip", ["--version"]),
        "",
        (),
        False,
    ),
    (
        "webbrowser_open.pkl",
        "gadget-network",
        PKL_ANY,
        "webbrowser.open(url) (not run)",
        _one("webbrowser", "open", "about:blank"),
        "",
        (),
        False,
    ),
    (
        "urllib_urlopen.pkl",
        "gadget-network",
        PKL_ANY,
        "urllib.request.urlopen (not run)",
        _one("urllib.request", "urlopen", "http://127.0.0.1:9/x"),
        "",
        (),
        False,
    ),
    (
        "socket_create_connection.pkl",
        "gadget-network",
        PKL_ANY,
        "socket.create_connection (not run)",
        _one("socket", "create_connection", ("127.0.0.1", 9)),
        "",
        (),
        False,
    ),
]


def gadget_specs() -> list[Spec]:
    """Specs for every gadget row (file names under ``malicious/gadgets/``)."""
    return [
        mal(f"gadgets/{rel}", fam, rules, note, make, loader=loader, needs=needs, quick=quick)
        for rel, fam, rules, note, make, loader, needs, quick in _ROWS
    ]
