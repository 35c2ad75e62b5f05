"""The suite report as one self-contained HTML file: inline CSS and SVG, no script, no font, no
request leaving the file (a Content-Security-Policy says so to the browser too).

Sections: the matrix (rows: template · model, columns: strategies; each cell coloured by its pass
rate with its 95% interval drawn as a bar), the paired comparisons (difference and interval
around zero, p-value, verdict), and every failed assertion with the output that failed it."""

from __future__ import annotations

from datetime import datetime, timezone
from html import escape
from pathlib import Path

from sandbox.core.errors import SandboxError
from sandbox.core.suites.report import CellResult, SuiteReport

CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
BAR_W, BAR_H = 160, 14
OUTPUT_CHARS = 2000  # of a failed reply shown in full; longer ones are cut with a note

CSS = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 24px; color: #1d232a; background: #fbfbfa; }
h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 17px; margin: 28px 0 8px; }
.meta { color: #5b6670; margin-bottom: 16px; }
table { border-collapse: collapse; }
th, td { border: 1px solid #d5d9dd; padding: 6px 10px; vertical-align: top; text-align: left; }
th { background: #eef1f3; font-weight: 600; }
td.cell { min-width: 180px; }
.rate { font-size: 20px; font-weight: 700; }
.ci, .small { color: #3d464e; font-size: 12px; }
.verdict { font-weight: 600; }
.sig { color: #0b6b2e; } .nosig { color: #6b5a0b; }
.fail { border-left: 4px solid #c0392b; margin: 10px 0; padding: 6px 10px; background: #fff; }
.fail .why { color: #a93226; font-weight: 600; }
pre { white-space: pre-wrap; word-break: break-word; background: #f3f4f5; padding: 6px 8px; margin: 4px 0; font-size: 12px; }
code { font-size: 12px; }
svg { display: block; margin-top: 4px; }
"""


def rate_colour(rate: float | None) -> str:
    """Red (0%) through amber to green (100%), light enough to read black text on."""
    if rate is None:
        return "#e6e8ea"
    return f"hsl({round(120 * rate)}, 65%, 78%)"


def interval_svg(lo: float, hi: float, point: float | None, *, lo_axis: float = 0.0, hi_axis: float = 1.0,
                 zero: float | None = None, label: str = "") -> str:
    """A horizontal bar from lo to hi on [lo_axis, hi_axis], a tick at the point, an optional zero line."""
    span = hi_axis - lo_axis
    x = lambda v: round((min(max(v, lo_axis), hi_axis) - lo_axis) / span * BAR_W, 1)  # noqa: E731
    parts = [f'<svg class="interval" width="{BAR_W}" height="{BAR_H}" viewBox="0 0 {BAR_W} {BAR_H}" role="img" '
             f'aria-label="{escape(label)}">',
             f'<rect x="0" y="{BAR_H / 2 - 1}" width="{BAR_W}" height="2" fill="#c9ced3"/>',
             f'<rect class="ci-bar" x="{x(lo)}" y="3" width="{max(1.0, x(hi) - x(lo))}" height="{BAR_H - 6}" '
             f'fill="#34495e" fill-opacity="0.55" rx="2"/>']
    if zero is not None:
        parts.append(f'<rect x="{x(zero) - 0.5}" y="0" width="1" height="{BAR_H}" fill="#7f8c8d"/>')
    if point is not None:
        parts.append(f'<rect x="{x(point) - 1}" y="1" width="2" height="{BAR_H - 2}" fill="#111"/>')
    parts.append("</svg>")
    return "".join(parts)


def _cell_html(c: CellResult) -> str:
    lo, hi = c.ci95
    rate = c.pass_rate
    shown = "—" if rate is None else f"{rate:.0%}"
    stab = "" if c.stability is None else f" · verdict changes across seeds on {c.stability:.0%} of tests"
    sessions = ", ".join(s[:12] for s in c.session_ids[:3])
    return (f'<td class="cell" style="background:{rate_colour(rate)}" data-pass-rate="{rate if rate is not None else ""}">'
            f'<div class="rate">{shown}</div>'
            f'<div class="ci">{c.passed}/{c.total} passed · 95% CI [{lo:.2f}, {hi:.2f}]</div>'
            f'{interval_svg(lo, hi, rate, label=f"{c.label}: 95% interval {lo:.2f} to {hi:.2f}")}'
            f'<div class="small">{c.mean_ms or 0:,.0f} ms/row · {c.cost_usd if c.cost_usd is not None else "—"} USD '
            f'({escape(c.cost_model or "")}){escape(stab)}</div>'
            f'<div class="small">log: <code>{escape(sessions)}</code></div></td>')


def _matrix(report: SuiteReport) -> str:
    strategies = list(dict.fromkeys(c.strategy for c in report.cells))
    rows = list(dict.fromkeys((c.template, c.model) for c in report.cells))
    by = {(c.template, c.model, c.strategy): c for c in report.cells}
    out = ['<table class="matrix"><thead><tr><th>template · model</th>']
    out += [f"<th>{escape(s)}</th>" for s in strategies]
    out.append("</tr></thead><tbody>")
    for tpl, model in rows:
        out.append(f"<tr><th>{escape(tpl)} · {escape(model)}</th>")
        for s in strategies:
            c = by.get((tpl, model, s))
            out.append(_cell_html(c) if c else '<td class="cell">not run</td>')
        out.append("</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def _comparisons(report: SuiteReport) -> str:
    comps = report.comparisons()
    if not comps:
        return "<p>Only one cell: nothing to compare.</p>"
    out = ['<table class="comparisons"><thead><tr><th>a</th><th>b</th><th>tests</th><th>a − b</th>'
           '<th>95% CI</th><th>p (exact McNemar)</th><th>verdict</th></tr></thead><tbody>']
    for cmp in comps:
        r = cmp.result
        boot = (f'<div class="small">bootstrap [{r.bootstrap_ci95[0]:+.2f}, {r.bootstrap_ci95[1]:+.2f}]</div>'
                if r.bootstrap_ci95 else "")
        sig = "sig" if " beats " in cmp.verdict else "nosig"
        out.append(
            f"<tr><td>{escape(cmp.a.label)}</td><td>{escape(cmp.b.label)}</td><td>{r.rows}</td><td>{r.diff:+.2f}</td>"
            f"<td>[{r.ci95[0]:+.2f}, {r.ci95[1]:+.2f}]"
            f"{interval_svg(r.ci95[0], r.ci95[1], r.diff, lo_axis=-1, hi_axis=1, zero=0, label='difference interval')}"
            f"{boot}</td><td>{r.p_value:.3g}</td><td class=\"verdict {sig}\">{escape(cmp.verdict)}</td></tr>")
    out.append("</tbody></table>")
    return "".join(out)


def _failures(report: SuiteReport) -> str:
    out = []
    for c in report.cells:
        failed = [r for r in c.rows if not r.passed]
        if not failed:
            continue
        out.append(f'<details class="cell-failures" open><summary><b>{escape(c.label)}</b>: {len(failed)} failed of '
                   f'{c.total}</summary>')
        for r in failed:
            text = r.output if len(r.output) <= OUTPUT_CHARS else r.output[:OUTPUT_CHARS] + "\n… (cut; the full reply is in the log)"
            whys = "".join(f'<li><span class="why">{escape(ch.assertion.label())}</span>: {escape(ch.reason)}</li>'
                           for ch in r.failed)
            out.append(
                f'<div class="fail"><div class="small">{escape(r.where)} · seed {r.seed} · turn <code>{escape(r.turn_id[:12])}</code>'
                f'{" · cached" if r.cached else ""}</div>'
                f'<div>input: {escape(r.input)}</div><ul>{whys}</ul><pre>{escape(text) or "(empty reply)"}</pre></div>')
        out.append("</details>")
    return "".join(out) or "<p>No assertion failed.</p>"


def render_html(report: SuiteReport) -> str:
    report.label_cells()
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    hit = report.hit_rate
    meta = (f"{report.n} tests × {report.repeat} seed(s) · {len(report.cells)} cells · cache {report.cache_hits} hits, "
            f"{report.cache_misses} misses" + (f" ({hit:.0%})" if hit is not None else "") + f" · {when}"
            + (" · <b>cancelled: partial results</b>" if report.cancelled else ""))
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{CSP}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>sandbox eval · {escape(report.suite)}</title>
<style>{CSS}</style></head>
<body>
<h1>eval · {escape(report.suite)}</h1>
<div class="meta">{meta}</div>
<h2>Pass rate by cell</h2>
{_matrix(report)}
<p class="small">Intervals are 95% Wilson intervals over tests (a test's seeds are averaged, not counted as extra trials).</p>
<h2>Is the difference real?</h2>
{_comparisons(report)}
<h2>Failed assertions</h2>
{_failures(report)}
</body></html>
"""


def write_html(report: SuiteReport, path: Path) -> None:
    try:
        Path(path).write_text(render_html(report), encoding="utf-8")
    except OSError as e:
        raise SandboxError(f"cannot write the report {path}: {e.strerror}") from None
