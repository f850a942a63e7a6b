"""The HTML report's inline stylesheet and content security policy (no network at view time).

Colours come in pairs (strong ink, light fill) per status and severity so that every label
stays readable on its background (WCAG AA) and in print, where backgrounds are kept.
"""

from __future__ import annotations

#: Forbids scripts, fetches, frames and remote images even if some text escaped escaping.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
    "base-uri 'none'; form-action 'none'"
)

CSS = """
:root {
  --ink: #0f172a; --muted: #64748b; --line: #e2e8f0; --page: #f1f5f9; --card: #ffffff;
  --accent: #0b63a8;
  --pass: #15803d; --pass-bg: #dcfce7; --warn: #92400e; --warn-bg: #fef3c7;
  --fail: #b91c1c; --fail-bg: #fee2e2; --na: #475569; --na-bg: #f1f5f9;
  --sans: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial,
    "Liberation Sans", "DejaVu Sans", sans-serif;
  --mono: ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono",
    "DejaVu Sans Mono", monospace;
}
* { box-sizing: border-box; }
html { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
body { margin: 0; background: var(--page); color: var(--ink); font: 14px/1.5 var(--sans); }
a { color: var(--accent); text-decoration: none; }
a:hover { text-decoration: underline; }
code, pre { font-family: var(--mono); font-size: 12.5px; }
h1, h2, h3, h4 { line-height: 1.25; margin: 0; }
h3 { font-size: 13px; text-transform: uppercase; letter-spacing: .06em; color: var(--muted);
  margin: 22px 0 10px; }
h4 { font-size: 13px; margin: 8px 0 6px; }
.top { background: #0f172a; color: #f8fafc; padding: 28px 40px 24px; }
.top .brand { font-weight: 700; letter-spacing: .12em; text-transform: uppercase;
  font-size: 12px; color: #93c5fd; }
.top h1 { font-size: 26px; margin: 6px 0 14px; font-weight: 650; }
.meta { display: flex; flex-wrap: wrap; gap: 6px 32px; margin: 0; font-size: 13px; }
.meta div { display: flex; gap: 8px; }
.meta dt { color: #94a3b8; }
.meta dd { margin: 0; font-family: var(--mono); color: #e2e8f0; }
main { max-width: 1200px; margin: 0 auto; padding: 24px 32px 40px; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 12px;
  padding: 20px 24px; margin: 0 0 20px; box-shadow: 0 1px 2px rgba(15, 23, 42, .05); }
.card > h2 { font-size: 18px; margin-bottom: 14px; }
.summary-row { display: grid; grid-template-columns: repeat(auto-fit, minmax(320px, 1fr));
  gap: 20px; margin-bottom: 20px; }
.summary-row .card { margin: 0; }
.summary-head { display: flex; align-items: baseline; justify-content: space-between;
  gap: 12px; margin-bottom: 12px; }
.summary-head h2 { font-size: 16px; }
.counts { display: flex; flex-wrap: wrap; gap: 8px; margin: 0 0 12px; }
.count { display: flex; flex-direction: column; align-items: center; min-width: 74px;
  padding: 8px 10px; border-radius: 10px; background: var(--na-bg); }
.count b { font-size: 22px; line-height: 1.1; }
.count span { font-size: 11px; text-transform: uppercase; letter-spacing: .05em; }
.stats { color: var(--muted); font-size: 13px; margin: 0; }
.sev { display: inline-block; padding: 1px 8px; border-radius: 999px; font-size: 11px;
  font-weight: 700; text-transform: uppercase; letter-spacing: .04em; white-space: nowrap; }
.sev-critical { background: #7f1d1d; color: #fff; }
.sev-high { background: #dc2626; color: #fff; }
.sev-medium { background: #fde68a; color: #78350f; }
.sev-low { background: #dbeafe; color: #1e3a8a; }
.sev-info, .sev-none { background: #e2e8f0; color: #334155; }
.count.sev-critical b, .count.sev-high b { color: #fff; }
.count.zero, .count.zero b { background: #f8fafc; color: #94a3b8; }
.status { display: inline-block; padding: 2px 10px; border-radius: 999px; font-size: 11.5px;
  font-weight: 700; text-transform: uppercase; letter-spacing: .05em; white-space: nowrap;
  border: 1px solid currentColor; }
.status.st-pass { color: var(--pass); background: var(--pass-bg); }
.status.st-warn { color: var(--warn); background: var(--warn-bg); }
.status.st-fail { color: var(--fail); background: var(--fail-bg); }
.status.st-na { color: var(--na); background: var(--na-bg); border-style: dashed; }
.risk-grid { display: grid; grid-template-columns: repeat(5, minmax(0, 1fr)); gap: 12px; }
.tile { display: flex; flex-direction: column; gap: 6px; padding: 12px 14px 12px;
  border-radius: 10px; border: 1px solid var(--line); border-top: 5px solid var(--na);
  background: var(--card); color: var(--ink); min-height: 122px; }
a.tile:hover { text-decoration: none; box-shadow: 0 2px 8px rgba(15, 23, 42, .12); }
.tile .rid { font-family: var(--mono); font-weight: 700; font-size: 13px; }
.tile .title { font-size: 13px; line-height: 1.3; flex: 1; }
.tile .statuses { display: flex; flex-direction: column; gap: 4px; align-items: flex-start; }
.who { font-size: 12px; color: var(--muted); margin-right: 6px; }
.tile .who { font-size: 11px; display: block; }
.tile.st-pass { border-top-color: var(--pass); }
.tile.st-warn { border-top-color: #d97706; }
.tile.st-fail { border-top-color: var(--fail); }
.tile.st-na { border-top-style: dashed; border-top-color: #94a3b8; }
.tile .note { margin: 0; }
.key { display: flex; flex-wrap: wrap; gap: 14px; margin: 12px 0 0; font-size: 12px;
  color: var(--muted); }
.risk-head { display: flex; align-items: center; gap: 12px; flex-wrap: wrap;
  border-bottom: 1px solid var(--line); padding-bottom: 12px; margin-bottom: 4px; }
.risk-head .rid { font-family: var(--mono); font-weight: 700; color: var(--muted); }
.risk-head h2 { font-size: 19px; flex: 1; }
.risk-head .ext { font-size: 12px; }
.risk.st-fail { border-left: 5px solid var(--fail); }
.risk.st-warn { border-left: 5px solid #d97706; }
.risk.st-pass { border-left: 5px solid var(--pass); }
.risk.st-na { border-left: 5px dashed #94a3b8; }
.lead { font-size: 15px; margin: 12px 0 4px; }
.desc { color: var(--muted); margin: 6px 0 0; font-size: 13px; }
.columns { display: grid; grid-template-columns: 1fr 1fr; gap: 24px; }
.column { min-width: 0; }
.column-head { display: flex; align-items: center; justify-content: space-between; gap: 8px;
  margin: 14px 0 0; padding: 8px 12px; border-radius: 8px; background: var(--page); }
.column-head b { font-size: 14px; }
table { border-collapse: collapse; width: 100%; }
.findings th, .data th { text-align: left; font-size: 11.5px; text-transform: uppercase;
  letter-spacing: .04em; color: var(--muted); background: #f8fafc; font-weight: 600; }
.findings th, .findings td, .data th, .data td { padding: 7px 10px;
  border-bottom: 1px solid var(--line); vertical-align: top; }
.findings tbody tr:nth-child(even), .data tbody tr:nth-child(even) { background: #fbfdff; }
.loc { font-family: var(--mono); font-size: 12px; word-break: break-all; }
table.items { width: auto; max-width: 100%; }
table.items td { padding-right: 28px; }
.findings .rule { font-family: var(--mono); font-size: 12px; white-space: nowrap; }
.findings .ev { display: block; margin-top: 3px; font-family: var(--mono); font-size: 11.5px;
  color: var(--muted); word-break: break-all; }
.data td { font-size: 13px; }
.data.compact td, .data.compact th { padding: 3px 8px; font-size: 12px; }
.num, td.num { font-variant-numeric: tabular-nums; font-family: var(--mono); font-size: 12.5px; }
.table-wrap { overflow-x: auto; }
.facts { width: auto; margin: 0 0 8px; }
.facts th { text-align: left; font-weight: 500; color: var(--muted); padding: 3px 18px 3px 0;
  vertical-align: top; white-space: nowrap; font-size: 13px; }
.facts td { padding: 3px 0; }
.facts .facts { margin: 0; }
.facts-block { margin: 0 0 10px; }
.charts { display: grid; grid-template-columns: repeat(auto-fill, minmax(420px, 1fr));
  gap: 16px; margin: 12px 0 4px; align-items: start; }
.columns .charts { grid-template-columns: 1fr; }
.chart { margin: 0; padding: 12px 14px; border: 1px solid var(--line); border-radius: 10px;
  background: #fff; break-inside: avoid; min-width: 0; }
.chart figcaption { font-weight: 600; font-size: 13.5px; margin-bottom: 6px; }
.chart svg.plot { width: 100%; height: auto; display: block; font-family: var(--sans); }
.legend { display: flex; flex-wrap: wrap; gap: 4px 16px; font-size: 12px; margin-top: 6px; }
.legend span { display: inline-flex; align-items: center; gap: 6px; }
.images { display: grid; grid-template-columns: repeat(auto-fill, minmax(96px, max-content));
  gap: 12px; }
.tile-img { display: flex; flex-direction: column; align-items: center; gap: 4px;
  font-size: 11.5px; color: var(--muted); text-align: center; }
.tile-img img { image-rendering: pixelated; border: 1px solid var(--line); height: auto; }
.note { color: var(--muted); font-size: 12px; margin: 6px 0 0; }
.muted { color: var(--muted); }
.mitigation ul { margin: 6px 0 10px; padding-left: 20px; }
.mitigation li { margin: 2px 0; }
pre { background: #0f172a; color: #e2e8f0; padding: 14px 16px; border-radius: 8px;
  overflow-x: auto; line-height: 1.5; margin: 8px 0 0; }
.empty { color: var(--muted); font-style: italic; margin: 6px 0; }
details { margin: 8px 0; }
summary { cursor: pointer; font-weight: 600; }
footer { text-align: center; color: var(--muted); font-size: 12px; padding: 8px 0 32px; }
@media (max-width: 980px) {
  .risk-grid { grid-template-columns: repeat(2, minmax(0, 1fr)); }
  .columns { grid-template-columns: 1fr; }
  main { padding: 16px; }
}
@media print {
  @page { margin: 12mm; }
  body { background: #fff; font-size: 12px; }
  .top { padding: 16px 0; background: #fff; color: var(--ink);
    border-bottom: 2px solid var(--ink); }
  .top .brand { color: var(--accent); }
  .meta dt { color: var(--muted); }
  .meta dd { color: var(--ink); }
  main { max-width: none; padding: 12px 0; }
  .card { box-shadow: none; break-inside: auto; }
  .tile, .chart, .summary-row .card, tr { break-inside: avoid; }
  .risk-head, h3 { break-after: avoid; }
  .risk-grid { grid-template-columns: repeat(5, minmax(0, 1fr)); gap: 8px; }
  .tile { padding: 8px; min-height: 0; }
  .tile .status { font-size: 8.5px; padding: 1px 6px; }
  .count { min-width: 48px; padding: 6px; }
  .columns, .charts { grid-template-columns: 1fr 1fr; gap: 12px; }
  .columns .charts { grid-template-columns: 1fr; }
  details { display: block; }
  pre { white-space: pre-wrap; }
}
"""
