"""Calls not spelled GLOBAL+REDUCE, and payloads hidden in allowed objects' state: INST,
OBJ, NEWOBJ(_EX), an instance ``__setstate__`` planted by BUILD, a REDUCE inside an
OrderedDict's BUILD state or deep inside a real scikit-learn pipeline, discarded results
(POP / POP_MARK), and payloads placed far from the start of the stream.
"""

from __future__ import annotations

import os
import pickle
import subprocess

from tests.corpus._spec import DANGEROUS, PKL_ANY, Marker, Payload, Spec, mal
from tests.corpus.pickle_ops import Asm


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
    """Every spec of this module."""
    return [
        *_objects(),
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
