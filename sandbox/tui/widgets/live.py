"""How the inspector draws the live numbers for the text being typed: token counts per tokenizer
and the context gauge. Drawing only; the counts and the gauge come from core."""

from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text

from sandbox.core import numbers as fmt

PART_STYLE = {"system": "magenta", "window": "blue", "prompt": "cyan", "reserved": "grey58"}
PART_LABEL = {"system": "system", "window": "window", "prompt": "prompt", "reserved": "reply"}
LEVEL_STYLE = {"ok": "green", "warn": "yellow", "full": "bold red"}
FREE_STYLE = "grey23"


def counts_view(local_name: str, counts, ms: float | None = None) -> Table:
    """One line per tokenizer: the local model's (exact) and each tiktoken encoding's."""
    t = Table.grid(padding=(0, 1), expand=True)
    t.add_column(ratio=1, overflow="ellipsis", no_wrap=True)
    t.add_column(width=1)
    t.add_column(justify="right", no_wrap=True)
    t.add_row(Text(local_name, style="bold"), "", fmt.count(counts.local))
    for name, c in counts.encodings.items():
        t.add_row(Text(name, style="dim"), Text("" if c.exact else "≈", style="yellow"), fmt.count(c.tokens))
    if ms is not None:
        t.add_row(Text("counted in", style="dim"), "", Text(fmt.ms(ms), style="dim"))
    return t


def bar(gauge, width: int) -> Text:
    """The gauge as a bar of `width` cells: one colour per part, then the free space. A part
    that is not empty gets at least one cell, so it never disappears from the picture."""
    width = max(width, 8)
    scale = max(gauge.n_ctx, gauge.used)
    cells = {name: (max(1, round(n * width / scale)) if n else 0) for name, n in gauge.parts}
    while sum(cells.values()) > width:  # the minimum of one cell can push the sum past the width
        biggest = max(cells, key=cells.get)
        cells[biggest] -= 1
    out = Text()
    for name, n in cells.items():
        out.append("█" * n, style=PART_STYLE[name])
    out.append("░" * (width - out.cell_len), style=FREE_STYLE)
    return out


def gauge_view(gauge, width: int) -> Group:
    """Bar, the four parts with their token counts, and how many tokens are left (or over)."""
    legend = Table.grid(padding=(0, 1))
    for _ in range(2):
        legend.add_column(no_wrap=True)
        legend.add_column(justify="right", no_wrap=True)
    items = [(Text.assemble(("■ ", PART_STYLE[name]), PART_LABEL[name]), fmt.count(n)) for name, n in gauge.parts]
    for (a, na), (b, nb) in zip(items[::2], items[1::2]):
        legend.add_row(a, na, b, nb)
    style = LEVEL_STYLE[gauge.level]
    if gauge.over:
        left = Text.assemble((f"over by {fmt.count(gauge.over)} tokens", style), (f" of {fmt.count(gauge.n_ctx)}", "dim"))
    else:
        left = Text.assemble((f"{fmt.count(gauge.left)} tokens left", style),
                             (f" of {fmt.count(gauge.n_ctx)} · {gauge.fraction:.0%} used", "dim"))
    return Group(bar(gauge, width), legend, left)


def gauge_error(message: str) -> Text:
    """Why there is no gauge (the prompt does not fit, a field is wrong), where the gauge would be."""
    return Text(message, style="red")
