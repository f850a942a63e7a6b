"""Parser differentials: the payload is plain, the stream around it is not what scanners
expect. Broken streams that fail only after the payload ran (nullifAI), FRAME lengths that
disagree with their content (the C unpickler reads across frames, ``pickle._Unframer``
refuses), EXT codes, persistent ids, stacked pickles and pickles disguised by file name.
"""

from __future__ import annotations

import functools
import pickle
from collections.abc import Callable

from tests.corpus._spec import DANGEROUS, MALFORMED_PAYLOAD, PKL_ANY, Marker, Spec, mal
from tests.corpus.malicious import os_system
from tests.corpus.pickle_ops import Asm, framed

EXT_OR_PAYLOAD = PKL_ANY | {"SCAN-PKL-004"}


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


def specs() -> list[Spec]:
    """Every spec of this module."""
    return [*_broken(), *_frames(), *_ext_and_persid(), *_stacked_and_disguised()]
