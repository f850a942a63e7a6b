"""Draw the chart convention of ``Report.evidence`` as HTML figures (see docs/report-charts.md).

Any evidence value that is a mapping with a ``"chart"`` key is a chart: ``line``, ``bar``,
``images`` or ``table``. Probes write plain JSON-ready data and never know about HTML; this
module reads it defensively (evidence is data from a run, possibly broken or hostile), caps
its size, escapes every string, and turns an unreadable spec into a visible note instead of
an exception.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from html import escape
from typing import Any

from mlwarden.report.png import png_data_uri
from mlwarden.report.svg import (
    ALERT,
    THRESHOLD_DASH,
    Series,
    bar_svg,
    line_svg,
    num,
    series_style,
)

CHART_KINDS = ("line", "bar", "images", "table")
MAX_SERIES, MAX_POINTS, MAX_BARS = 12, 4000, 80
MAX_IMAGES, MAX_SIDE, MAX_ROWS, MAX_COLUMNS = 48, 128, 200, 24
_MAX_TEXT = 200
_SEQ = (list, tuple)


class ChartError(ValueError):
    """The chart spec cannot be drawn (wrong types or shapes)."""


def is_chart(value: object) -> bool:
    """Whether ``value`` follows the chart convention (a mapping with a ``"chart"`` key)."""
    return isinstance(value, Mapping) and "chart" in value


def text(value: object, limit: int = _MAX_TEXT) -> str:
    """A bounded, escaped-later string; lone surrogates from file names become ``\\udcxx``."""
    out = str(value).encode("utf-8", "backslashreplace").decode("utf-8")
    return out if len(out) <= limit else out[: limit - 1] + "…"


def plural(count: int, word: str) -> str:
    """``1 finding``, ``2 findings``."""
    return f"{count} {word}{'' if count == 1 else 's'}"


def cell(value: object) -> str:
    """How a scalar reads in a table: floats with 4 significant digits, ``—`` for null."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4g}" if math.isfinite(value) else str(value)
    return text(value)


def _float(value: object) -> float:
    if isinstance(value, (int, float)) or hasattr(value, "__float__"):
        try:
            return float(value)
        except (TypeError, ValueError, OverflowError):
            return math.nan
    return math.nan


def _floats(value: object, what: str) -> list[float]:
    if not isinstance(value, (list, tuple)):
        raise ChartError(f"{what} must be a list of numbers")
    values = [_float(v) for v in value]
    stride = math.ceil(len(values) / MAX_POINTS) if len(values) > MAX_POINTS else 1
    return values[::stride]


def _strings(value: object, what: str) -> list[str]:
    if not isinstance(value, (list, tuple)):
        raise ChartError(f"{what} must be a list")
    return [text(v, 40) for v in value]


def _range(value: object) -> list[float]:
    """An optional ``[low, high]`` the axis must include (ignored when unreadable)."""
    if value is None:
        return []
    return [v for v in _floats(value, "a range")[:2] if math.isfinite(v)]


def _line(spec: Mapping[str, Any]) -> tuple[str, list[str]]:
    raw = spec.get("series")
    if raw is None and "y" in spec:
        raw = {text(spec.get("y_label") or "value", 60): spec["y"]}
    if not isinstance(raw, Mapping):
        raise ChartError("a line chart needs 'series': {name: [y, ...]}")
    shared = _floats(spec.get("x", []), "'x'")
    series = []
    for name, values in list(raw.items())[:MAX_SERIES]:
        if isinstance(values, Mapping):
            xs, ys = _floats(values.get("x", []), "'x'"), _floats(values.get("y", []), "'y'")
        else:
            ys = _floats(values, f"series {text(name, 40)!r}")
            xs = shared or [float(i) for i in range(len(ys))]
        series.append(Series(text(name, 60), xs, ys))
    threshold = _float(spec["threshold"]) if spec.get("threshold") is not None else None
    svg = line_svg(
        series, title=text(spec.get("title", "")), x_label=text(spec.get("x_label", "")),
        y_label=text(spec.get("y_label", "")), log_x=bool(spec.get("log_x")),
        log_y=bool(spec.get("log_y")), diagonal=bool(spec.get("diagonal")), threshold=threshold,
        x_range=_range(spec.get("x_range")), y_range=_range(spec.get("y_range")),
    )  # fmt: skip
    return svg + _legend([s.name for s in series], threshold), []


def _bar(spec: Mapping[str, Any]) -> tuple[str, list[str]]:
    labels = _strings(spec.get("labels"), "'labels'")
    notes = []
    if len(labels) > MAX_BARS:
        notes.append(f"the first {MAX_BARS} of {len(labels)} bars are shown")
        labels = labels[:MAX_BARS]
    if isinstance(spec.get("series"), Mapping):
        items = list(spec["series"].items())[:MAX_SERIES]
        groups = [Series(text(k, 60), [], _floats(v, "a bar series")) for k, v in items]
    else:
        name = text(spec.get("y_label") or spec.get("title") or "value", 60)
        groups = [Series(name, [], _floats(spec.get("values"), "'values'"))]
    threshold = _float(spec["threshold"]) if spec.get("threshold") is not None else None
    bad = "below" if spec.get("bad") == "below" else "above"
    svg = bar_svg(
        labels, groups, title=text(spec.get("title", "")), y_label=text(spec.get("y_label", "")),
        threshold=threshold, bad=bad, value_range=_range(spec.get("y_range")),
    )  # fmt: skip
    if len(groups) > 1:
        return svg + _legend([g.name for g in groups], threshold), notes
    has_rule = threshold is not None and math.isfinite(threshold)
    return svg + _legend([], threshold, bad if has_rule else ""), notes


def _swatch(colour: str, dash: str = "", bar: bool = False) -> str:
    shape = (
        f'<rect x="6" y="0" width="16" height="10" fill="{colour}"/>'
        if bar
        else f'<line x1="1" y1="5" x2="27" y2="5" stroke="{colour}" stroke-width="3" '
        f'stroke-dasharray="{dash}"/>'
    )
    return f'<svg width="28" height="10" aria-hidden="true">{shape}</svg>'


def _legend(names: Sequence[str], threshold: float | None = None, bad: str = "") -> str:
    """Series swatches, then the threshold line and (for bars) what the alert colour means."""
    items = [_swatch(*series_style(i)) + escape(name) for i, name in enumerate(names)]
    if bad:
        items.append(_swatch(ALERT, bar=True) + f"{bad} threshold")
    if threshold is not None and math.isfinite(threshold):
        items.append(_swatch(ALERT, THRESHOLD_DASH) + f"threshold {escape(num(threshold))}")
    spans = "".join(f"<span>{item}</span>" for item in items)
    return f'<div class="legend">{spans}</div>' if items else ""


def _pixels(image: object) -> tuple[list[list[list[float]]], int]:
    """Rows of pixels from a 2-D grey array, an HxWxC array or a CxHxW array (C = 1 or 3)."""
    if not isinstance(image, _SEQ) or not image or not isinstance(image[0], _SEQ):
        raise ChartError("each image must be a 2-D (or 3-D) nested list")
    if not isinstance(image[0][0] if image[0] else None, _SEQ):
        return [[[_float(v)] for v in row[:MAX_SIDE]] for row in image[:MAX_SIDE]], 1
    first = image[0][0]
    if len(image) in (1, 3) and len(first) not in (1, 3):  # channels first
        planes = [[[_float(v) for v in row[:MAX_SIDE]] for row in p[:MAX_SIDE]] for p in image]
        height, width = len(planes[0]), len(planes[0][0]) if planes[0] else 0
        rows = [[[p[r][c] for p in planes] for c in range(width)] for r in range(height)]
        return rows, len(planes)
    channels = len(first)
    if channels not in (1, 3):
        raise ChartError("image pixels need 1 or 3 channels")
    rows = [[[_float(v) for v in px[:channels]] for px in row[:MAX_SIDE]] for row in image]
    if any(len(px) != channels for row in rows for px in row):
        raise ChartError("image pixels have different channel counts")
    return rows[:MAX_SIDE], channels


def _images(spec: Mapping[str, Any]) -> tuple[str, list[str]]:
    images = spec.get("images")
    if not isinstance(images, (list, tuple)):
        raise ChartError("an images chart needs 'images': [2-D arrays]")
    raw = spec.get("captions")
    captions = list(raw) if isinstance(raw, (list, tuple)) else []
    notes = [f"the first {MAX_IMAGES} of {len(images)} images are shown"] * (
        len(images) > MAX_IMAGES
    )
    tiles = []
    for index, image in enumerate(images[:MAX_IMAGES]):
        rows, channels = _pixels(image)
        width = len(rows[0]) if rows else 0
        size = max(72, min(160, width * 12))
        caption = text(captions[index], 80) if index < len(captions) else ""
        tiles.append(
            f'<div class="tile-img"><img src="{png_data_uri(rows, channels)}" width="{size}" '
            f'alt="{escape(caption)}"><span>{escape(caption)}</span></div>'
        )
    columns = spec.get("columns")
    style = (
        f' style="grid-template-columns:repeat({columns},max-content)"'
        if isinstance(columns, int) and not isinstance(columns, bool) and 0 < columns <= 12
        else ""
    )
    return f'<div class="images"{style}>{"".join(tiles)}</div>', notes


def _table(spec: Mapping[str, Any]) -> tuple[str, list[str]]:
    columns = _strings(spec.get("columns"), "'columns'")[:MAX_COLUMNS]
    rows = spec.get("rows")
    if not isinstance(rows, (list, tuple)):
        raise ChartError("a table needs 'rows': [[...], ...]")
    notes = [f"the first {MAX_ROWS} of {len(rows)} rows are shown"] * (len(rows) > MAX_ROWS)
    head = "".join(f"<th>{escape(c)}</th>" for c in columns)
    body = []
    for row in rows[:MAX_ROWS]:
        cells = row if isinstance(row, (list, tuple)) else [row]
        tds = "".join(
            f'<td class="{"num" if isinstance(c, (int, float)) else ""}">{escape(cell(c))}</td>'
            for c in cells[: max(len(columns), 1)]
        )
        body.append(f"<tr>{tds}</tr>")
    if not body:
        body.append(f'<tr><td class="muted" colspan="{max(len(columns), 1)}">none</td></tr>')
    table = f'<table class="data"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody>'
    return f'<div class="table-wrap">{table}</table></div>', notes


_DRAW: dict[str, Callable[[Mapping[str, Any]], tuple[str, list[str]]]] = {
    "line": _line,
    "bar": _bar,
    "images": _images,
    "table": _table,
}


def render_chart(spec: Mapping[str, Any]) -> str:
    """One ``<figure>`` for a chart spec; an unreadable spec becomes a note, never an error."""
    kind = text(spec.get("chart"), 40)
    title = text(spec.get("title", ""))
    draw = _DRAW.get(kind)
    try:
        if draw is None:
            raise ChartError(f"unknown chart kind {kind!r}; use one of {', '.join(CHART_KINDS)}")
        body, notes = draw(spec)
    except (ChartError, TypeError, ValueError, IndexError, KeyError, OverflowError) as exc:
        body, notes = "", [f"this chart could not be drawn: {text(exc)}"]
    if spec.get("note"):
        notes.insert(0, text(spec["note"], 400))
    caption = f"<figcaption>{escape(title)}</figcaption>" if title else ""
    notes_html = "".join(f'<p class="note">{escape(n)}</p>' for n in notes)
    css_kind = kind if draw else "invalid"
    return f'<figure class="chart chart-{escape(css_kind)}">{caption}{body}{notes_html}</figure>'
