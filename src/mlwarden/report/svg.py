"""Hand-written SVG plots for the HTML report: line charts and bar charts.

Inputs are plain floats that :mod:`mlwarden.report.charts` has already read from evidence;
NaN, infinities (and values <= 0 on a log axis) are simply not drawn, so a broken probe
output gives a gap, never an exception. Output is deterministic text with no ids, no
scripts and no external references.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

WIDTH, HEIGHT = 520, 300
_LEFT, _RIGHT, _TOP, _BOTTOM = 58, 14, 12, 46
#: Series colours (Okabe-Ito hues darkened to >= 4.5:1 contrast on white); the vermillion
#: ALERT colour is kept out of the palette for thresholds and bars beyond them.
PALETTE = ("#0b63a8", "#047857", "#7c3aed", "#a16207", "#0e7490", "#be185d", "#475569")
DASHES = ("", "7 4", "2 3", "9 3 2 3")
ALERT, NEUTRAL, GRID, INK = "#c2410c", "#0b63a8", "#e2e8f0", "#334155"
THRESHOLD_DASH = "5 4"
_MAX_MARKERS = 40
_MAX_LABEL = 28  # characters of a horizontal bar's label that fit left of the bars


@dataclass(frozen=True)
class Series:
    """One named curve: ``x`` and ``y`` of the same length (NaN where missing)."""

    name: str
    x: Sequence[float]
    y: Sequence[float]


def series_style(index: int) -> tuple[str, str]:
    """Colour and dash pattern of the ``index``-th series (colour and dash both vary)."""
    return PALETTE[index % len(PALETTE)], DASHES[(index // len(PALETTE) + index) % len(DASHES)]


def num(value: float) -> str:
    """A coordinate or value with few digits: ``12.5``, ``0.001``, ``1e-05``."""
    if value == 0:
        return "0"
    text = f"{value:.4g}"
    if "e" in text:
        mant, exp = text.split("e")
        return f"{mant}e{int(exp)}"
    return text


_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")
_SI = ((1e9, "G"), (1e6, "M"), (1e3, "k"))


def tick_label(value: float) -> str:
    """An axis label: ``0.25``, ``10k``, ``2.5M``, or ``10⁻⁵`` for tiny powers of ten."""
    size = abs(value)
    for scale, suffix in _SI:
        if size >= scale:
            return num(value / scale) + suffix
    if 0 < size < 1e-3:
        exponent = math.log10(size)
        if abs(exponent - round(exponent)) < 1e-9:
            return "10" + str(round(exponent)).translate(_SUPERSCRIPT)
    return num(value)


def finite(value: float, log: bool = False) -> bool:
    """Whether ``value`` can be drawn on a linear (or log) axis."""
    return math.isfinite(value) and (value > 0 or not log)


class Scale:
    """Maps data values onto pixels along one axis, linear or log10, with nice ticks."""

    def __init__(self, values: Sequence[float], px: tuple[float, float], log: bool) -> None:
        data = [v for v in values if finite(v, log)]
        self.log = log
        self.px = px
        self.lo, self.hi, self._ticks = _log_domain(data) if log else _linear_domain(data)

    def __call__(self, value: float) -> float:
        lo, hi, v = self.lo, self.hi, value
        if self.log:
            lo, hi, v = math.log10(lo), math.log10(hi), math.log10(value)
        frac = (v - lo) / (hi - lo)
        return round(self.px[0] + frac * (self.px[1] - self.px[0]), 2)

    def ticks(self) -> list[tuple[float, str]]:
        """Labelled tick positions (value, label)."""
        return [(t, tick_label(t)) for t in self._ticks]

    def minor_ticks(self) -> list[float]:
        """Unlabelled 2..9 ticks between decades of a log axis that spans few decades."""
        if not self.log or math.log10(self.hi / self.lo) > 6:
            return []
        out: list[float] = []
        for k in range(round(math.log10(self.lo)), round(math.log10(self.hi))):
            out.extend(m * 10.0**k for m in range(2, 10) if m * 10.0**k not in self._ticks)
        return out


def _nice_step(span: float, count: int = 5) -> float:
    raw = span / max(count, 1)
    mag = 10.0 ** math.floor(math.log10(raw))
    return next(m * mag for m in (1.0, 2.0, 2.5, 5.0, 10.0) if m * mag >= raw)


def _linear_domain(data: list[float]) -> tuple[float, float, list[float]]:
    lo, hi = (min(data), max(data)) if data else (0.0, 1.0)
    if hi - lo < 1e-12:
        pad = abs(lo) * 0.1 or 1.0
        lo, hi = lo - pad, hi + pad
    step = _nice_step(hi - lo)
    lo, hi = math.floor(lo / step + 1e-9) * step, math.ceil(hi / step - 1e-9) * step
    count = round((hi - lo) / step)
    return lo, hi, [float(f"{lo + i * step:.12g}") for i in range(count + 1)]


def _log_domain(data: list[float]) -> tuple[float, float, list[float]]:
    lo, hi = (min(data), max(data)) if data else (0.01, 1.0)
    a, b = math.floor(math.log10(lo) + 1e-9), math.ceil(math.log10(hi) - 1e-9)
    b = max(b, a + 1)
    every = 1 + (b - a) // 7
    ticks = [10.0**k for k in range(a, b + 1) if (k - a) % every == 0]
    if b - a == 1:
        ticks = sorted({*ticks, 2 * 10.0**a, 5 * 10.0**a})
    return 10.0**a, 10.0**b, [float(f"{t:.12g}") for t in ticks]


def _text(x: float, y: float, body: str, anchor: str = "middle", extra: str = "") -> str:
    return f'<text x="{num(x)}" y="{num(y)}" text-anchor="{anchor}"{extra}>{escape(body)}</text>'


def _open(title: str, height: int) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" role="img" '
        f'aria-label="{escape(title)}" class="plot" font-size="12" fill="{INK}">'
        f"<title>{escape(title)}</title>"
    )


def _axes(xs: Scale, ys: Scale, x_label: str, y_label: str, height: int) -> list[str]:
    left, right = xs.px
    bottom, top = ys.px
    out = [f'<g stroke="{GRID}" stroke-width="1">']
    out += [f'<line x1="{left}" x2="{right}" y1="{ys(t)}" y2="{ys(t)}"/>' for t, _ in ys.ticks()]
    out += [f'<line x1="{xs(t)}" x2="{xs(t)}" y1="{top}" y2="{bottom}"/>' for t, _ in xs.ticks()]
    out.append("</g>")
    out.append(f'<g stroke="{INK}" stroke-width="1">')
    out.append(f'<line x1="{left}" x2="{right}" y1="{bottom}" y2="{bottom}"/>')
    out.append(f'<line x1="{left}" x2="{left}" y1="{top}" y2="{bottom}"/>')
    out += [f'<line x1="{xs(t)}" x2="{xs(t)}" y1="{bottom}" y2="{bottom + 3}"/>' for t in
            xs.minor_ticks()]  # fmt: skip
    out += [f'<line x1="{left - 3}" x2="{left}" y1="{ys(t)}" y2="{ys(t)}"/>' for t in
            ys.minor_ticks()]  # fmt: skip
    out.append("</g>")
    out += [_text(xs(t), bottom + 16, label) for t, label in xs.ticks()]
    out += [_text(left - 6, ys(t) + 4, label, "end") for t, label in ys.ticks()]
    if x_label:
        out.append(_text((left + right) / 2, height - 10, x_label, extra=' font-weight="600"'))
    if y_label:
        out.append(_y_label(y_label, (top + bottom) / 2))
    return out


def _y_label(label: str, mid: float) -> str:
    return _text(14, mid, label, extra=f' font-weight="600" transform="rotate(-90 14 {num(mid)})"')


def _path(points: list[tuple[float, float] | None]) -> str:
    parts, pen_down = [], False
    for point in points:
        if point is None:
            pen_down = False
            continue
        parts.append(f"{'L' if pen_down else 'M'}{num(point[0])} {num(point[1])}")
        pen_down = True
    return " ".join(parts)


def _rule_line(x1: float, y1: float, x2: float, y2: float) -> str:
    """The dashed threshold line (the legend names it)."""
    return (
        f'<line class="threshold" x1="{num(x1)}" x2="{num(x2)}" y1="{num(y1)}" y2="{num(y2)}" '
        f'stroke="{ALERT}" stroke-dasharray="{THRESHOLD_DASH}" stroke-width="1.5"/>'
    )


def no_data(title: str, height: int = 120) -> str:
    """A placeholder plot that says there is nothing to draw."""
    return (
        _open(title, height)
        + f'<rect x="1" y="1" width="{WIDTH - 2}" height="{height - 2}" fill="#f8fafc" '
        f'stroke="{GRID}"/>'
        + _text(WIDTH / 2, height / 2 + 4, "no data to plot", extra=' fill="#64748b"')
        + "</svg>"
    )


def line_svg(
    series: Sequence[Series], *, title: str, x_label: str = "", y_label: str = "",
    log_x: bool = False, log_y: bool = False, diagonal: bool = False,
    threshold: float | None = None, x_range: Sequence[float] = (),
    y_range: Sequence[float] = (),
) -> str:  # fmt: skip
    """A line plot of ``series`` (log axes, ``y = x`` reference line, threshold line).

    The axes span the data and ``x_range``/``y_range`` (values to include, so that two
    plots side by side share a scale); a linear y axis whose data all lie in [0, 1] spans
    [0, 1], since such values are rates and read wrongly on a cropped axis.
    """
    drawable = [(s, _points(s, log_x, log_y)) for s in series]
    all_x = [p[0] for _, pts in drawable for p in pts if p]
    all_y = [p[1] for _, pts in drawable for p in pts if p]
    if not all_x:
        return no_data(title)
    if threshold is not None:
        all_y.append(threshold)
    if not log_y and not y_range and all(0.0 <= y <= 1.0 for y in all_y):
        y_range = (0.0, 1.0)
    all_x += x_range
    all_y += y_range
    xs = Scale(all_x, (_LEFT, WIDTH - _RIGHT), log_x)
    ys = Scale(all_y, (HEIGHT - _BOTTOM, _TOP), log_y)
    out = [_open(title, HEIGHT), *_axes(xs, ys, x_label, y_label, HEIGHT)]
    if diagonal:
        lo, hi = max(xs.lo, ys.lo), min(xs.hi, ys.hi)
        if lo < hi:
            out.append(
                f'<line x1="{xs(lo)}" y1="{ys(lo)}" x2="{xs(hi)}" y2="{ys(hi)}" '
                f'stroke="#94a3b8" stroke-dasharray="4 4" stroke-width="1.2"/>'
            )
    if threshold is not None and finite(threshold, log_y) and ys.lo <= threshold <= ys.hi:
        out.append(_rule_line(xs.px[0], ys(threshold), xs.px[1], ys(threshold)))
    for index, (item, pts) in enumerate(drawable):
        out += _series(index, item.name, [(xs(p[0]), ys(p[1])) if p else None for p in pts])
    return "".join(out) + "</svg>"


def _points(item: Series, log_x: bool, log_y: bool) -> list[tuple[float, float] | None]:
    return [
        (x, y) if finite(x, log_x) and finite(y, log_y) else None
        for x, y in zip(item.x, item.y, strict=False)
    ]


def _series(index: int, name: str, pts: list[tuple[float, float] | None]) -> list[str]:
    colour, dash = series_style(index)
    dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
    out = [f'<g class="series" stroke="{colour}" fill="{colour}"><title>{escape(name)}</title>']
    out.append(f'<path d="{_path(pts)}" fill="none" stroke-width="2.2"{dash_attr}/>')
    drawn = [p for p in pts if p]
    if len(drawn) <= _MAX_MARKERS:
        out += [f'<circle cx="{num(x)}" cy="{num(y)}" r="3"/>' for x, y in drawn]
    return [*out, "</g>"]


def _bar_colour(index: int, value: float, single: bool, threshold: float | None, bad: str) -> str:
    if not single:
        return series_style(index)[0]
    if threshold is None:
        return NEUTRAL
    worse = value > threshold if bad == "above" else value < threshold
    return ALERT if worse else NEUTRAL


def bar_svg(
    labels: Sequence[str], groups: Sequence[Series], *, title: str, y_label: str = "",
    threshold: float | None = None, bad: str = "above", value_range: Sequence[float] = (),
) -> str:  # fmt: skip
    """Bars per label, one bar per series; vertical for few short labels, else horizontal.

    A single series is coloured by ``threshold``: bars on its ``bad`` side (``"above"`` or
    ``"below"``) use the alert colour. ``groups`` use :class:`Series` with ``y`` as values.
    The value axis spans zero, the values, the threshold and ``value_range``.
    """
    values = [v for g in groups for v in g.y if finite(v)]
    if not labels or not values:
        return no_data(title)
    span = [*values, 0.0, *value_range, *([threshold] if threshold is not None else [])]
    band = (WIDTH - _RIGHT - _LEFT) / len(labels)
    horizontal = len(labels) > 12 or 7 * max(len(t) for t in labels) > band
    draw = _hbars if horizontal else _vbars
    return draw(labels, groups, span, title, y_label, (threshold, bad))


def _vbars(
    labels: Sequence[str], groups: Sequence[Series], span: list[float], title: str,
    y_label: str, rule: tuple[float | None, str],
) -> str:  # fmt: skip
    ys = Scale(span, (HEIGHT - _BOTTOM, _TOP), log=False)
    band = (WIDTH - _RIGHT - _LEFT) / len(labels)
    width = band * 0.72 / len(groups)
    out = [_open(title, HEIGHT), *_value_grid(ys, (_LEFT, WIDTH - _RIGHT), vertical=True)]
    for i, label in enumerate(labels):
        centre = _LEFT + band * (i + 0.5)
        out.append(_text(centre, HEIGHT - _BOTTOM + 16, label))
        for k, group in enumerate(groups):
            value = group.y[i] if i < len(group.y) else math.nan
            if not finite(value):
                continue
            x = centre - band * 0.36 + k * width
            top, base = sorted((ys(value), ys(0.0)))
            colour = _bar_colour(k, value, len(groups) == 1, *rule)
            out.append(_rect(x, top, width - 1, base - top, colour, f"{group.name} {label}"))
            if len(groups) == 1 and len(labels) <= 16:
                out.append(_text(x + width / 2, top - 4, num(value), extra=' font-size="11"'))
    if rule[0] is not None and finite(rule[0]):
        out.append(_rule_line(_LEFT, ys(rule[0]), WIDTH - _RIGHT, ys(rule[0])))
    if y_label:
        mid = (HEIGHT - _BOTTOM + _TOP) / 2
        out.append(_y_label(y_label, mid))
    return "".join(out) + "</svg>"


def _hbars(
    labels: Sequence[str], groups: Sequence[Series], span: list[float], title: str,
    x_label: str, rule: tuple[float | None, str],
) -> str:  # fmt: skip
    row = 10 + 12 * len(groups)
    height = _TOP + row * len(labels) + 44
    left = 16 + 7 * min(_MAX_LABEL, max(len(t) for t in labels))
    xs = Scale(span, (left, WIDTH - _RIGHT - 40), log=False)
    out = [_open(title, height), *_value_grid(xs, (_TOP, height - 44), vertical=False)]
    for i, label in enumerate(labels):
        y0 = _TOP + row * i + 5
        short = label if len(label) <= _MAX_LABEL else label[: _MAX_LABEL - 1] + "…"
        out.append(_text(left - 6, y0 + row / 2 + 1, short, "end"))
        for k, group in enumerate(groups):
            value = group.y[i] if i < len(group.y) else math.nan
            if not finite(value):
                continue
            a, b = sorted((xs(value), xs(0.0)))
            colour = _bar_colour(k, value, len(groups) == 1, *rule)
            out.append(_rect(a, y0 + 12 * k, max(b - a, 1), 11, colour, f"{group.name} {label}"))
            if len(groups) == 1:
                out.append(_text(b + 4, y0 + 10, num(value), "start", ' font-size="11"'))
    if rule[0] is not None and finite(rule[0]):
        out.append(_rule_line(xs(rule[0]), _TOP, xs(rule[0]), height - 44))
    if x_label:
        out.append(_text((left + xs.px[1]) / 2, height - 10, x_label, extra=' font-weight="600"'))
    return "".join(out) + "</svg>"


def _rect(x: float, y: float, w: float, h: float, colour: str, tip: str) -> str:
    return (
        f'<rect x="{num(x)}" y="{num(y)}" width="{num(max(w, 0.5))}" height="{num(max(h, 0.5))}" '
        f'fill="{colour}"><title>{escape(tip)}</title></rect>'
    )


def _value_grid(scale: Scale, across: tuple[float, float], vertical: bool) -> list[str]:
    """Grid lines, axis line and tick labels of the value axis of a bar chart."""
    a, b = across
    out = [f'<g stroke="{GRID}">']
    for t, _ in scale.ticks():
        p = scale(t)
        out.append(
            f'<line x1="{a}" x2="{b}" y1="{p}" y2="{p}"/>'
            if vertical
            else f'<line x1="{p}" x2="{p}" y1="{a}" y2="{b}"/>'
        )
    out.append("</g>")
    zero = scale(0.0)
    out.append(
        f'<line x1="{a}" x2="{b}" y1="{zero}" y2="{zero}" stroke="{INK}"/>'
        if vertical
        else f'<line x1="{zero}" x2="{zero}" y1="{a}" y2="{b}" stroke="{INK}"/>'
    )
    for t, label in scale.ticks():
        p = scale(t)
        out.append(_text(a - 6, p + 4, label, "end") if vertical else _text(p, b + 16, label))
    return out
