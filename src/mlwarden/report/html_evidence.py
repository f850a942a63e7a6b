"""Render measured evidence as HTML: a facts table for numbers, figures for charts.

Evidence is arbitrary JSON-ready data from probes. Scalars, short lists and nested mappings
become a compact facts table; anything following the chart convention (at any depth) is
drawn as a figure by :mod:`mlwarden.report.charts`; big arrays are summarised by shape.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from html import escape
from typing import Any

from mlwarden.report.charts import cell, is_chart, plural, render_chart, text

_MAX_CHARTS, _MAX_FACTS, _MAX_LIST = 40, 60, 12
_SCALARS = (str, int, float, bool, type(None))
#: Keys of a probe's block that steer rendering and are not facts to show.
_HIDDEN = frozenset({"risk"})


def find_charts(value: object, depth: int = 0) -> Iterator[Mapping[str, Any]]:
    """Every chart spec inside ``value``, depth first, in a stable order."""
    if depth > 8:
        return
    if is_chart(value):
        yield value  # type: ignore[misc]
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from find_charts(item, depth + 1)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from find_charts(item, depth + 1)


def _shape(value: Sequence[Any]) -> list[int]:
    shape: list[int] = []
    node: Any = value
    while isinstance(node, (list, tuple)) and len(shape) < 6:
        shape.append(len(node))
        node = node[0] if node else None
    return shape


def _inline(value: object) -> str:
    """A short plain-text rendering for values nested too deep for their own table."""
    if isinstance(value, _SCALARS):
        return cell(value)
    if isinstance(value, Mapping):
        parts = [f"{text(k, 30)}: {_inline(v)}" for k, v in list(value.items())[:6]]
        return ", ".join(parts) + (", …" if len(value) > 6 else "")
    if isinstance(value, (list, tuple)):
        if len(value) <= 4 and all(isinstance(v, _SCALARS) for v in value):
            return "[" + ", ".join(cell(v) for v in value) + "]"
        return f"[{len(value)} values]"
    return text(value, 60)


def _list_html(value: Sequence[Any], depth: int) -> str:
    if all(isinstance(v, _SCALARS) for v in value):
        shown = ", ".join(cell(v) for v in value[:_MAX_LIST])
        more = f" … (+{len(value) - _MAX_LIST})" if len(value) > _MAX_LIST else ""
        return f"<span class='list'>{escape(shown + more)}</span>"
    if all(isinstance(v, (list, tuple)) for v in value):
        dims = "×".join(str(n) for n in _shape(value))
        return f"<span class='muted'>[{dims} array]</span>"
    if all(isinstance(v, Mapping) for v in value):
        records = [v for v in value if not is_chart(v)]
        if depth == 0:
            return _records_html(records)
        return f"<span class='muted'>{plural(len(records), 'record')}</span>"
    return f"<span class='muted'>{len(value)} items</span>"


def _records_html(records: list[Mapping[str, Any]]) -> str:
    """A list of flat mappings as a small table (one row per mapping)."""
    if not records:
        return "<span class='muted'>—</span>"
    columns: list[str] = []
    for record in records:
        columns += [str(k) for k in record if str(k) not in columns]
    head = "".join(f"<th>{escape(text(c, 40))}</th>" for c in columns[:12])
    rows = [
        "<tr>" + "".join(f"<td>{value_html(r.get(c), 1)}</td>" for c in columns[:12]) + "</tr>"
        for r in records[:_MAX_FACTS]
    ]
    more = len(records) - _MAX_FACTS
    tail = f"<p class='note'>{more} more rows in the JSON report</p>" if more > 0 else ""
    return (
        f"<div class='table-wrap'><table class='data compact'><thead><tr>{head}</tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table></div>{tail}"
    )


def value_html(value: object, depth: int = 0) -> str:
    """One evidence value as HTML (escaped); charts are shown elsewhere.

    At ``depth`` 0 (a row of a probe's facts) mappings become nested facts tables and lists
    of mappings become tables; deeper down they are summarised inline, so that tables stay
    flat enough to read.
    """
    if isinstance(value, Mapping) and is_chart(value):
        return f"<span class='muted'>chart: {escape(text(value.get('title', ''), 80))}</span>"
    if isinstance(value, _SCALARS):
        cls = " class='num'" if isinstance(value, (int, float)) else ""
        return f"<span{cls}>{escape(cell(value))}</span>"
    if isinstance(value, Mapping):
        return (
            facts_html(value, depth + 1) if depth == 0 else f"<span>{escape(_inline(value))}</span>"
        )
    if isinstance(value, (list, tuple)):
        return _list_html(value, depth) if value else "<span class='muted'>none</span>"
    return f"<span>{escape(text(value))}</span>"


def facts_html(mapping: Mapping[Any, Any], depth: int = 0) -> str:
    """A mapping as a two-column facts table, leaving out chart specs and steering keys."""
    rows = []
    for key, value in list(mapping.items())[:_MAX_FACTS]:
        if is_chart(value) or (depth == 0 and str(key) in _HIDDEN):
            continue
        label = text(key, 60).replace("_", " ")
        rows.append(f"<tr><th>{escape(label)}</th><td>{value_html(value, depth)}</td></tr>")
    if not rows:
        return ""
    return f"<table class='facts'>{''.join(rows)}</table>"


def evidence_html(items: Sequence[tuple[str, object]]) -> str:
    """Named evidence blocks: per block a facts table, then all their charts in a grid."""
    parts, charts = [], []
    for name, value in items:
        if isinstance(value, str):
            parts.append(f"<p class='evidence-text'>{escape(text(value, 2000))}</p>")
        elif isinstance(value, Mapping) and not is_chart(value):
            facts = facts_html(value)
            if facts:
                heading = f"<h4>{escape(text(name, 80))}</h4>" if name else ""
                parts.append(f"<div class='facts-block table-wrap'>{heading}{facts}</div>")
        elif isinstance(value, (list, tuple)) and not all(map(is_chart, value)):
            heading = f"<h4>{escape(text(name, 80))}</h4>" if name else ""
            parts.append(f"<div class='facts-block'>{heading}{value_html(value)}</div>")
        elif not is_chart(value) and not isinstance(value, (list, tuple)):
            parts.append(f"<p><b>{escape(text(name, 80))}</b>: {value_html(value)}</p>")
        charts += list(find_charts(value))
    figures = "".join(render_chart(spec) for spec in charts[:_MAX_CHARTS])
    note = (
        f"<p class='note'>{len(charts) - _MAX_CHARTS} more charts in the JSON report</p>"
        if len(charts) > _MAX_CHARTS
        else ""
    )
    grid = f"<div class='charts'>{figures}</div>{note}" if figures else ""
    return "".join(parts) + grid
