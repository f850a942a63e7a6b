"""Drift on arbitrary input: any bytes as a data file, any small table as data, never a
traceback. Readers either return a frame or raise InputError; the tests either return a
result or raise UsageError/InputError; the CLI exits 0, 1 or 2 with no traceback."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlwarden.cli.main import cli
from mlwarden.errors import InputError, UsageError
from mlwarden.monitor.drift import DriftOptions, detect_drift
from mlwarden.monitor.frame import load_frame

FAST = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
NO_DOMAIN = DriftOptions(domain_classifier=False)
CELLS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=False, width=32).map(lambda v: f"{v:g}"),
    st.sampled_from(["", "NA", "nan", "a", "b", "true", "false", "ä", "1e400", "-0", " 3 "]),
    st.integers(-5, 5).map(str),
)


def csv_text(rows: list[list[str]], width: int) -> str:
    header = ",".join(f"c{i}" for i in range(width))
    body = "\n".join(",".join(cell.replace(",", ";") for cell in row[:width]) for row in rows)
    return f"{header}\n{body}\n"


tables = st.integers(1, 4).flatmap(
    lambda w: st.tuples(
        st.just(w), st.lists(st.lists(CELLS, min_size=w, max_size=w), min_size=1, max_size=30)
    )
)


@FAST
@given(blob=st.binary(max_size=400), suffix=st.sampled_from([".csv", ".npz", ".npy", ".parquet"]))
def test_any_bytes_read_as_a_frame_or_an_input_error(
    tmp_path: Path, blob: bytes, suffix: str
) -> None:
    path = tmp_path / f"data{suffix}"
    path.write_bytes(blob)
    try:
        frame = load_frame(path)
    except InputError:
        return
    assert frame.rows > 0 and len(frame.names) == len(frame.columns)


@FAST
@given(ref=tables, cur=tables)
def test_any_small_tables_give_a_result_or_a_clear_error(
    tmp_path: Path, ref: tuple[int, list[list[str]]], cur: tuple[int, list[list[str]]]
) -> None:
    (tmp_path / "ref.csv").write_text(csv_text(ref[1], ref[0]), encoding="utf-8")
    (tmp_path / "cur.csv").write_text(csv_text(cur[1], cur[0]), encoding="utf-8")
    try:
        result = detect_drift(tmp_path / "ref.csv", tmp_path / "cur.csv", options=NO_DOMAIN)
    except (UsageError, InputError):
        return
    for f in result.features:
        assert 0.0 <= f.pvalue <= 1.0
        assert all(np.isfinite(v) and v >= 0 for v in f.effects.values()), f.effects
        assert 0.0 <= f.missing[0] <= 1.0 and 0.0 <= f.missing[1] <= 1.0


@FAST
@given(ref=tables, cur=tables)
def test_the_cli_exits_0_1_or_2_and_never_with_a_traceback(
    tmp_path: Path, ref: tuple[int, list[list[str]]], cur: tuple[int, list[list[str]]]
) -> None:
    (tmp_path / "ref.csv").write_text(csv_text(ref[1], ref[0]), encoding="utf-8")
    (tmp_path / "cur.csv").write_text(csv_text(cur[1], cur[0]), encoding="utf-8")
    args = ["drift", str(tmp_path / "ref.csv"), str(tmp_path / "cur.csv"), "--no-progress"]
    result = CliRunner().invoke(cli, [*args, "--format", "json"])
    assert result.exit_code in (0, 1, 2), result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )


@pytest.mark.parametrize("rows", [2, 3, 60])
def test_tiny_samples_with_the_domain_classifier_do_not_crash(rows: int) -> None:
    rng = np.random.default_rng(rows)
    result = detect_drift(rng.normal(size=(rows, 3)), rng.normal(size=(rows, 3)) + 5.0)
    assert result.domain is None or 0.0 <= result.domain.auc <= 1.0
    assert (result.domain is None) == (rows < 50)
