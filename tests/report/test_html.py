"""The HTML report: escaping, self-containment, every chart kind, statuses, compare mode."""

from __future__ import annotations

import base64
import re
import struct
import zlib
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from mlwarden.cli.main import cli
from mlwarden.findings import Confidence, Finding, Location, Report, Severity
from mlwarden.report import FORMATS, render
from mlwarden.report.charts import render_chart
from mlwarden.report.html import to_html
from mlwarden.report.png import encode_png
from mlwarden.report.status import RiskStatus, covered_risks, risk_statuses
from mlwarden.report.svg import ALERT, Scale, tick_label
from mlwarden.risks import RiskId
from tests.report.samples import EVIL, T0, digit, secure_report, vulnerable_report

_VOID = {"meta", "br", "img", "input", "link", "hr", "col", "source", "wbr", "area", "base"}


class _Tags(HTMLParser):
    """Records every tag with its attributes and checks that elements nest properly."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.stack: list[str] = []
        self.errors: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag not in _VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:]}")
        else:
            self.stack.pop()


def parse(text: str) -> _Tags:
    parser = _Tags()
    parser.feed(text)
    parser.close()
    assert parser.errors == [], parser.errors[:5]
    assert parser.stack == []
    return parser


def _finding(rule: str, severity: Severity, path: str = "m.pkl", message: str = "m") -> Finding:
    return Finding(rule, severity, Confidence.HIGH, Location(path), message)


def _grid_statuses(page: str) -> dict[str, list[str]]:
    """Per risk id, the status pills shown in its Top-10 tile."""
    grid = page.split("id='top10'", 1)[1].split("</section>", 1)[0]
    out = {}
    for tile in re.findall(r"<(?:a|div) class='tile [^']*'.*?</span></(?:a|div)>", grid):
        rid = re.search(r"class='rid'>(ML\d\d)<", tile)
        assert rid is not None
        out[rid.group(1)] = re.findall(r"class='status st-[a-z]+'>([a-z ]+)<", tile)
    return out


# --- safety --------------------------------------------------------------------------


def test_hostile_strings_are_escaped_everywhere() -> None:
    attr = "x' onmouseover='alert(1)\" onerror=\"alert(2)"
    evidence: dict[str, Any] = {
        "label": EVIL,
        EVIL: {"risk": "ML01", EVIL: EVIL, "list": [EVIL, attr]},
        "charts": {
            "line": {
                "chart": "line",
                "title": EVIL,
                "x": [1, 2],
                "series": {EVIL: [1, 2]},
                "x_label": EVIL,
                "y_label": attr,
            },
            "bar": {"chart": "bar", "title": attr, "labels": [EVIL], "values": [1]},
            "img": {"chart": "images", "images": [digit("ring")], "captions": [attr + EVIL]},
            "tab": {"chart": "table", "columns": [EVIL], "rows": [[EVIL]]},
            "bad": {"chart": EVIL},
        },
        "risks": {"ML06": {"summary": EVIL, "snippet": EVIL, "mitigation": EVIL, "enable": attr}},
    }
    report = Report(
        command=f"scan {EVIL}",
        findings=(
            Finding(
                f"X-{EVIL}",
                Severity.HIGH,
                Confidence.HIGH,
                Location(f"a/{EVIL}", member=attr),
                f"msg {EVIL}",
                evidence=EVIL,
            ),
            _finding("SCAN-PKL-001", Severity.CRITICAL, f"{EVIL}\udcff.pkl", EVIL),
        ),
        evidence=evidence,
        metrics={EVIL: EVIL},
        started_at=T0,
    )
    page = to_html(report, title=EVIL + "\udcff", compare=report, labels=(EVIL, attr))
    parsed = parse(page)
    page.encode("utf-8")  # lone surrogates from file names do not make it unwritable
    assert "<script" not in page.lower()
    assert "&lt;script&gt;" in page
    assert all(not name.startswith("on") for _, attrs in parsed.tags for name in attrs)
    assert not any(tag == "script" for tag, _ in parsed.tags)


def test_the_page_is_one_self_contained_file() -> None:
    page = to_html(vulnerable_report(), compare=secure_report())
    parsed = parse(page)
    tags = {tag for tag, _ in parsed.tags}
    assert not tags & {"script", "link", "iframe", "object", "embed", "frame", "base", "form"}
    for tag, attrs in parsed.tags:
        if "src" in attrs:
            assert (attrs["src"] or "").startswith("data:image/png;base64,"), tag
        if "href" in attrs:
            assert tag == "a", tag
    assert not re.search(r"url\(|@import", page)
    csp = [a["content"] for t, a in parsed.tags if a.get("http-equiv") == "Content-Security-Policy"]
    assert csp and "default-src 'none'" in (csp[0] or "")


def test_output_is_deterministic() -> None:
    a = vulnerable_report()
    shuffled = Report(**{**a.__dict__, "evidence": dict(reversed(list(a.evidence.items())))})
    assert to_html(a) == to_html(vulnerable_report()) == to_html(shuffled)


def test_render_html_format_and_scan_cli(tmp_path: Path) -> None:
    report = vulnerable_report()
    assert "html" in FORMATS
    assert render(report, "html") == to_html(report)
    evil = tmp_path / "evil.pkl"
    evil.write_bytes(b"cposix\nsystem\n(S'echo mlwarden-test'\ntR.")  # never loaded
    out = tmp_path / "report.html"
    result = CliRunner().invoke(
        cli, ["scan", str(tmp_path), "--format", "html", "-o", str(out), "--no-progress"]
    )
    assert result.exit_code == 1, result.output
    page = out.read_text(encoding="utf-8")
    assert _grid_statuses(page)["ML06"] == ["fail"]
    assert "SCAN-PKL-001" in page and "evil.pkl" in page


# --- statuses ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("severity", "expected"),
    [
        (Severity.CRITICAL, RiskStatus.FAIL),
        (Severity.HIGH, RiskStatus.FAIL),
        (Severity.MEDIUM, RiskStatus.WARN),
        (Severity.LOW, RiskStatus.PASS),
        (Severity.INFO, RiskStatus.PASS),
    ],
)
def test_status_follows_the_worst_finding(severity: Severity, expected: RiskStatus) -> None:
    report = Report("scan", findings=(_finding("SCAN-PKL-001", severity),), started_at=T0)
    statuses = risk_statuses(report)
    assert statuses[RiskId.ML06] is expected
    page = to_html(report)
    assert _grid_statuses(page)["ML06"] == [expected.value]


def test_coverage_decides_pass_or_not_assessed() -> None:
    scan = Report("scan", started_at=T0)
    assert covered_risks(scan) == {RiskId.ML06, RiskId.ML10}
    grid = _grid_statuses(to_html(scan))
    assert grid["ML06"] == ["pass"] and grid["ML10"] == ["pass"]
    assert grid["ML01"] == ["not assessed"] and grid["ML08"] == ["not assessed"]
    probe = Report("mystery", evidence={"drift": {"risk": "ML08", "psi": 0.01}}, started_at=T0)
    assert covered_risks(probe) == {RiskId.ML08}
    assert covered_risks(Report("lock check")) == {RiskId.ML10}
    unknown = Report("mystery", findings=(_finding("PLUGIN-1", Severity.CRITICAL),))
    assert set(risk_statuses(unknown).values()) == {RiskStatus.NOT_ASSESSED}
    other = to_html(unknown).split("id='other'", 1)[1]
    assert "PLUGIN-1" in other and "PLUGIN-1.md" not in other  # no page to link to


def test_explicit_status_wins_and_aliases_parse() -> None:
    report = Report(
        "assess",
        findings=(_finding("SCAN-PKL-001", Severity.CRITICAL),),
        evidence={
            "risks": {
                "ML06": {"status": "pass"},
                "ML02": {"status": "not_assessed"},
                "ML03": {"status": "bogus"},
            }
        },
    )
    statuses = risk_statuses(report)
    assert statuses[RiskId.ML06] is RiskStatus.PASS
    assert statuses[RiskId.ML02] is RiskStatus.NOT_ASSESSED
    assert statuses[RiskId.ML03] is RiskStatus.NOT_ASSESSED
    assert RiskStatus.parse("Failed") is RiskStatus.FAIL and RiskStatus.parse(3) is None


def test_sections_only_for_risks_with_something_to_say() -> None:
    page = to_html(vulnerable_report())
    sections = re.findall(r"<section class='card risk [^']*' id='(ml\d\d)'>", page)
    assert sections == ["ml01", "ml02", "ml04", "ml05", "ml06", "ml08"]
    ml02 = page.split("id='ml02'", 1)[1].split("</section>", 1)[0]
    assert "No training data was given." in ml02 and "--train DATA --label COL" in ml02
    ml04 = page.split("id='ml04'", 1)[1].split("</section>", 1)[0]
    assert "<pre><code>policy:\n  output: label_only\n</code></pre>" in ml04
    ml06 = page.split("id='ml06'", 1)[1].split("</section>", 1)[0]
    assert "href='docs/rules/SCAN-PKL-001.md'" in ml06
    assert ml06.index("SCAN-PKL-001") < ml06.index("SCAN-PKL-002")  # worst first


# --- compare -------------------------------------------------------------------------


def test_compare_mode_shows_both_reports_side_by_side() -> None:
    page = to_html(vulnerable_report(), compare=secure_report())
    parse(page)
    grid = _grid_statuses(page)
    assert grid["ML01"] == ["fail", "pass"]
    assert grid["ML04"] == ["fail", "pass"]
    assert grid["ML06"] == ["fail", "not assessed"]
    assert all(len(v) == 2 for v in grid.values())
    ml01 = page.split("id='ml01'", 1)[1].split("</section>", 1)[0]
    assert ml01.count("<div class='column'>") == 2
    assert "Vulnerable setup" in ml01 and "Secure setup" in ml01
    assert "Robust accuracy 0.81 at eps 0.1." in ml01
    custom = to_html(vulnerable_report(), compare=secure_report(), labels=("Before", "After"))
    assert "mlwarden report: Before vs After" in custom


# --- charts --------------------------------------------------------------------------


def _paths(svg: str) -> list[str]:
    return re.findall(r'<path d="([^"]*)"', svg)


def test_line_chart_linear_with_nan_gap_and_legend() -> None:
    fig = render_chart(
        {
            "chart": "line",
            "title": "t",
            "x": [0, 1, 2, 3, 4],
            "series": {"a": [0.9, 0.5, float("nan"), 0.2, 0.1], "b": [1, 1, 1, 1]},
            "threshold": 0.5,
            "x_label": "eps",
            "y_label": "acc",
        }
    )
    parse(fig)
    a, b = _paths(fig)
    assert a.count("M") == 2 and a.count("L") == 2  # the NaN splits the line
    assert b.count("L") == 3
    assert "threshold 0.5" in fig and ">a<" in fig.replace("</svg>", "<")
    assert ">0<" in fig and ">1<" in fig  # rates span [0, 1]
    assert 'class="threshold"' in fig


def test_line_chart_log_axes_diagonal_and_own_x() -> None:
    fpr = [0.001, 0.01, 0.1, 1.0]
    fig = render_chart(
        {
            "chart": "line",
            "log_x": True,
            "log_y": True,
            "diagonal": True,
            "series": {"roc": {"x": [0.0, *fpr], "y": [0.0, 0.02, 0.1, 0.4, 1.0]}},
        }
    )
    for label in ("0.001", "0.01", "0.1", ">1<"):
        assert label in fig
    assert fig.count('stroke-dasharray="4 4"') == 1  # the diagonal
    (path,) = _paths(fig)
    assert path.count("M") == 1 and path.count("L") == 3  # the zero point is not drawn
    queries = render_chart(
        {"chart": "line", "log_x": True, "x": [100, 1000, 10**5], "series": {"f": [0.4, 0.8, 0.95]}}
    )
    assert ">1k<" in queries and ">100k<" in queries


@pytest.mark.parametrize(
    "spec",
    [
        {"chart": "line", "x": [], "series": {}},
        {"chart": "line", "x": [1, 2], "series": {"a": [float("nan"), None]}},
        {"chart": "line", "log_y": True, "x": [1, 2], "series": {"a": [0, -1]}},
        {"chart": "bar", "labels": [], "values": []},
        {"chart": "bar", "labels": ["a"], "values": [float("nan")]},
    ],
)
def test_empty_and_all_nan_charts_say_no_data(spec: dict[str, Any]) -> None:
    fig = render_chart(spec)
    parse(fig)
    assert "no data to plot" in fig
    assert "nan" not in fig.lower().replace("nan)", "")


def test_bar_chart_vertical_threshold_colours() -> None:
    fig = render_chart(
        {
            "chart": "bar",
            "labels": ["0", "1", "2", "3"],
            "values": [0.3, 0.1, float("nan"), 0.25],
            "threshold": 0.2,
            "bad": "below",
        }
    )
    parse(fig)
    rects = re.findall(r'<rect [^>]* fill="([^"]+)"><title>', fig)
    assert len(rects) == 3
    assert rects.count(ALERT) == 1
    assert "below threshold" in fig


def test_bar_chart_many_labels_is_horizontal_and_grouped_has_legend() -> None:
    labels = [f"feature_{i:02d}" for i in range(30)]
    fig = render_chart(
        {"chart": "bar", "labels": labels, "values": [0.1] * 29 + [0.9], "threshold": 0.2}
    )
    assert fig.count(f'fill="{ALERT}"><title>') == 1
    assert 'text-anchor="end">feature_29<' in fig  # labels on the left: horizontal bars
    long = render_chart({"chart": "bar", "labels": ["x" * 39, "y"], "values": [1, 2]})
    assert f">{'x' * 27}…</text>" in long  # shortened on the axis
    assert f"<title>value {'x' * 39}</title>" in long  # whole in the tooltip
    grouped = render_chart(
        {"chart": "bar", "labels": ["a", "b"], "series": {"ref": [1, 2], "cur": [2, 1]}}
    )
    assert 'class="legend"' in grouped and "ref" in grouped and "cur" in grouped
    many = render_chart(
        {"chart": "bar", "labels": [str(i) for i in range(200)], "values": [1] * 200}
    )
    assert "the first 80 of 200 bars are shown" in many


def _png_pixels(uri: str) -> tuple[int, int, int, bytes]:
    data = base64.b64decode(uri.split(",", 1)[1])
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height, _, colour = struct.unpack(">IIBB", data[16:26])
    idat = data[data.index(b"IDAT") + 4 : data.index(b"IEND") - 8]
    return width, height, colour, zlib.decompress(idat)


def test_images_chart_encodes_grey_rgb_and_channels_first() -> None:
    grey = [[0.0, 1.0], [0.5, float("nan")]]
    rgb = [[[1, 0, 0], [0, 1, 0]], [[0, 0, 1], [2, -1, 0.5]]]
    chw = [[[1, 0], [0, 0]], [[0, 1], [0, 0]], [[0, 0], [1, 0]]]
    fig = render_chart(
        {"chart": "images", "images": [grey, rgb, chw], "captions": ["g", "c"], "columns": 2}
    )
    parse(fig)
    uris = re.findall(r'src="(data:image/png;base64,[^"]+)"', fig)
    assert len(uris) == 3
    assert _png_pixels(uris[0]) == (2, 2, 0, bytes([0, 0, 255, 0, 128, 0]))
    assert _png_pixels(uris[1])[3] == bytes([0, 255, 0, 0, 0, 255, 0, 0, 0, 0, 255, 255, 0, 128])
    assert _png_pixels(uris[2])[3] == bytes([0, 255, 0, 0, 0, 255, 0, 0, 0, 0, 255, 0, 0, 0])
    assert "repeat(2,max-content)" in fig and ">g<" in fig


def test_table_chart_and_invalid_specs_become_notes() -> None:
    fig = render_chart(
        {
            "chart": "table",
            "columns": ["f", "p", "drift", "n"],
            "rows": [["a", 1e-12, True, None], ["b", 0.5, False, 3]],
        }
    )
    parse(fig)
    assert fig.count("<tr>") == 3 and "1e-12" in fig and ">yes<" in fig and ">—<" in fig
    for spec in (
        {"chart": "pie"},
        {"chart": "line", "series": [1, 2]},
        {"chart": "bar", "labels": "abc"},
        {"chart": "images", "images": [[1, 2]]},
        {"chart": "images", "images": [[[[1, 2], [3, 4]]] * 4]},
        {"chart": "table", "columns": ["a"], "rows": 5},
    ):
        out = render_chart(spec)
        parse(out)
        assert "this chart could not be drawn" in out, spec


def test_charts_are_found_at_any_depth_and_left_out_of_facts() -> None:
    deep = {
        "risk": "ML05",
        "a": {"b": [{"c": {"chart": "line", "title": "deep one", "series": {"s": [1, 2, 3]}}}]},
    }
    page = to_html(Report("audit", evidence={"extraction": deep}, started_at=T0))
    ml05 = page.split("id='ml05'", 1)[1].split("</section>", 1)[0]
    assert "<figcaption>deep one</figcaption>" in ml05 and "<svg" in ml05


def test_evidence_facts_stay_flat_and_readable() -> None:
    block = {
        "risk": "ML01",
        "clean_accuracy": 0.97123456,
        "eps": [0.0, 0.1],
        "nested": {"inner": {"a": 1, "b": [1, 2]}, "rows": [{"x": 1}, {"x": 2}]},
        "examples": [{"label": 1, "image": digit("ring")}],
    }
    page = to_html(Report("audit", evidence={"evasion": block}, started_at=T0))
    ml01 = page.split("id='ml01'", 1)[1].split("</section>", 1)[0]
    assert "<th>clean accuracy</th>" in ml01 and "0.9712" in ml01
    assert "<th>risk</th>" not in ml01  # steers rendering, not a fact
    assert "<th>label</th>" in ml01 and "[8×8 array]" in ml01  # records table
    assert "a: 1, b: [1, 2]" in ml01 and "2 records" in ml01  # deeper levels inline


def test_scale_ticks_and_labels() -> None:
    linear = Scale([0.03, 0.92], (0, 100), log=False)
    assert [t for t, _ in linear.ticks()] == [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
    log = Scale([0.002, 0.5], (0, 100), log=True)
    assert [t for t, _ in log.ticks()] == [0.001, 0.01, 0.1, 1.0]
    assert 0.002 in log.minor_ticks() and 0.01 not in log.minor_ticks()
    wide = Scale([1e-9, 1.0], (0, 100), log=True)
    assert len(wide.ticks()) <= 8
    assert tick_label(1e-5) == "10⁻⁵" and tick_label(25000) == "25k"
    assert tick_label(2.5e6) == "2.5M" and tick_label(0.25) == "0.25"
    flat = Scale([3.0, 3.0], (0, 100), log=False)
    assert flat.lo < 3.0 < flat.hi


def test_encode_png_rejects_bad_shapes() -> None:
    with pytest.raises(ValueError, match="channels"):
        encode_png([[[0.0, 0.0]]], 2)
    with pytest.raises(ValueError, match="rows"):
        encode_png([[[0.0]], [[0.0], [1.0]]], 1)


_json = st.recursive(
    st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=5), inner, max_size=4)
    ),
    max_leaves=30,
)
_keys = st.sampled_from(
    [
        "title",
        "x",
        "y",
        "series",
        "labels",
        "values",
        "images",
        "captions",
        "columns",
        "rows",
        "threshold",
        "bad",
        "log_x",
        "log_y",
        "diagonal",
        "x_range",
        "y_range",
        "note",
    ]
)


@settings(max_examples=200, deadline=None)
@given(
    kind=st.sampled_from(["line", "bar", "images", "table", "other"]),
    fields=st.dictionaries(_keys, _json, max_size=6),
)
def test_any_chart_spec_renders_without_raising(kind: str, fields: dict[str, Any]) -> None:
    fig = render_chart({"chart": kind, **fields})
    parse(fig)
    assert fig.startswith("<figure") and "<script" not in fig


@settings(max_examples=40, deadline=None)
@given(evidence=st.dictionaries(st.text(max_size=6), _json, max_size=5))
def test_any_evidence_renders_without_raising(evidence: dict[str, Any]) -> None:
    page = to_html(Report("audit", evidence={**evidence, "x": {"risk": "ML01", **evidence}}))
    parse(page)
