"""Mutation fuzzing of the scanner: damaged files must produce a result, never an exception.

Seeds are benign and malicious corpus files of every major format; hypothesis flips bytes,
truncates, inserts (random bytes and format tokens) and duplicates ranges, then scans the
result with a 5 s per-file budget. Deterministic (``derandomize``) so CI is reproducible.
"""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlwarden.scan.base import ScanLimits
from mlwarden.scan.engine import FileResult, ScanOptions, scan_file
from tests.conftest import Corpus
from tests.corpus import corpus_table

_WANTED = (
    "benign/sklearn/scaler_logreg_p4.pkl",
    "benign/stdlib/values_p0.pkl",
    "malicious/memo/memoize_binget.pkl",
    "malicious/frames/opcode_spans_frames.pkl",
    "benign/torch/state_dict.pt",
    "malicious/torch/bad_crc.pt",
    "benign/numpy/structured.npy",
    "malicious/numpy/object_array.npy",
    "benign/safetensors/numpy.safetensors",
    "benign/onnx/logreg.onnx",
    "benign/gguf/chatml.gguf",
    "benign/h5/weights.h5",
    "benign/keras/sequential_dense.h5",
    "benign/sklearn/scaler_logreg.joblib.zlib",
)
SEEDS = sorted(set(_WANTED) & {s.relpath for s in corpus_table()})
OPTIONS = ScanOptions(limits=ScanLimits(max_file_seconds=5))
_POS = st.integers(0, 2**31)
_TOKENS = st.sampled_from(
    [
        b"\x93",
        b"R",
        b"c",
        b"\x95",
        b"\xff" * 8,
        b"PK\x03\x04",
        b"PK\x05\x06",
        b"\x80\x04",
        b"{",
        b"\x00" * 8,
        b"\x94h\x00",
    ]
)
#: (kind, position, count or xor mask, inserted bytes, target position); unused fields ignored.
Mutation = tuple[str, int, int, bytes, int]
MUTATION = st.tuples(
    st.sampled_from(["flip", "truncate", "insert", "duplicate"]),
    _POS,
    st.integers(1, 255),
    st.binary(min_size=1, max_size=16) | _TOKENS,
    _POS,
)


def mutate(data: bytes, mutations: list[Mutation]) -> bytes:
    """Apply mutations in order; positions are taken modulo the current length."""
    buf = bytearray(data)
    for kind, pos, count, chunk, target in mutations:
        at = pos % (len(buf) + 1)
        if kind == "flip" and buf:
            buf[at % len(buf)] ^= count
        elif kind == "truncate":
            del buf[at:]
        elif kind == "insert":
            buf[at:at] = chunk
        elif kind == "duplicate":
            to = target % (len(buf) + 1)
            buf[to:to] = buf[at : at + count]
    return bytes(buf)


def test_mutate_changes_bytes() -> None:
    assert mutate(b"abcdef", [("flip", 0, 1, b"", 0)]) == b"`bcdef"
    assert mutate(b"abcdef", [("truncate", 2, 1, b"", 0)]) == b"ab"
    assert mutate(b"abcdef", [("insert", 1, 1, b"XY", 0)]) == b"aXYbcdef"
    assert mutate(b"abcdef", [("duplicate", 0, 2, b"", 6)]) == b"abcdefab"


def test_fuzz_scan_never_raises(corpus: Corpus) -> None:
    assert SEEDS, "no fuzz seed could be built"
    seeds = {rel: (corpus.root / rel).read_bytes() for rel in SEEDS}
    work = corpus.basetemp / "fuzz"
    work.mkdir(exist_ok=True)
    markers_before = corpus.markers()

    @settings(
        max_examples=150,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(seed=st.sampled_from(SEEDS), mutations=st.lists(MUTATION, min_size=1, max_size=4))
    def scan_mutant(seed: str, mutations: list[Mutation]) -> None:
        path = work / Path(seed).name  # keep the name: it is a hint for some formats
        path.write_bytes(mutate(seeds[seed], mutations))
        result = scan_file(path, OPTIONS)
        assert isinstance(result, FileResult)
        assert result.path == str(path)

    scan_mutant()
    assert corpus.markers() == markers_before, "a mutated payload ran during the scan"
