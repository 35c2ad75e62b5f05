"""A suite's matrix in the Compare screen: one table row per cell (pass rate, its 95% interval as a
bar, stability, cache hits, the log session), then each paired comparison's verdict. Every number
is core's (sandbox.core.suites.report); this only lays them out. Enter on a cell opens its session."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import DataTable, Static

BAR = 20
COLUMNS = ("cell", "pass rate", "95% CI", "interval", "passed", "stability", "cached", "session")


def interval_bar(lo: float, hi: float, point: float | None, width: int = BAR) -> Text:
    """[0, 1] drawn in `width` characters: the interval solid, the pass rate as a bar."""
    cells = []
    for i in range(width):
        x = (i + 0.5) / width
        if point is not None and int(point * width - 1e-9) == i:
            cells.append(("┃", "bold"))
        elif lo <= x <= hi:
            cells.append(("━", "cyan"))
        else:
            cells.append(("─", "dim"))
    return Text.assemble("▕", *cells, "▏")


def rate_style(rate: float | None) -> str:
    if rate is None:
        return "dim"
    return "bold green" if rate >= 0.8 else "bold yellow" if rate >= 0.5 else "bold red"


class SuiteMatrix(Vertical):
    DEFAULT_CSS = """
    SuiteMatrix { height: 1fr; border: round $panel-lighten-2; padding: 0 1; }
    SuiteMatrix DataTable { height: auto; max-height: 60%; }
    SuiteMatrix #suite-verdicts { height: 1fr; }
    """

    class OpenSession(Message):
        """The user picked a cell: open the log session holding its turns."""

        def __init__(self, session_id: str) -> None:
            super().__init__()
            self.session_id = session_id

    def __init__(self, title: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self.title = title
        self.cells: list = []

    def compose(self) -> ComposeResult:
        table = DataTable(id="suite-table", cursor_type="row", zebra_stripes=True)
        table.add_columns(*COLUMNS)
        yield table
        with VerticalScroll(id="suite-verdicts"):
            yield Static("", id="suite-verdict-text")

    def on_mount(self) -> None:
        self.border_title = self.title

    def show_cell(self, index: int, cell) -> None:
        """Add or refresh the row of cell `index` (called as its rows finish)."""
        table = self.query_one(DataTable)
        lo, hi = cell.ci95
        rate = cell.pass_rate
        values = (
            Text(cell.label or cell.strategy, style="bold"),
            Text("—" if rate is None else f"{rate:.0%}", style=rate_style(rate)),
            f"[{lo:.2f}, {hi:.2f}]",
            interval_bar(lo, hi, rate),
            f"{cell.passed}/{cell.total} of {cell.planned}",
            "—" if cell.stability is None else f"{cell.stability:.0%}",
            str(sum(r.cached for r in cell.rows)),
            (cell.session_ids or ["—"])[0][:12],
        )
        key = str(index)
        if index < len(self.cells):
            self.cells[index] = cell
            for col, value in zip(table.ordered_columns, values):
                table.update_cell(key, col.key, value)
        else:
            self.cells.append(cell)
            table.add_row(*values, key=key)

    def show_report(self, report) -> None:
        for i, cell in enumerate(report.cells):
            self.show_cell(i, cell)
        lines = []
        for cmp in report.comparisons():
            r = cmp.result
            sig = " beats " in cmp.verdict
            lines.append(Text.assemble(
                (f"{cmp.a.label} − {cmp.b.label}: ", "bold"),
                f"{r.diff:+.2f} [{r.ci95[0]:+.2f}, {r.ci95[1]:+.2f}]",
                (f" bootstrap [{r.bootstrap_ci95[0]:+.2f}, {r.bootstrap_ci95[1]:+.2f}]" if r.bootstrap_ci95 else ""),
                f" · McNemar p = {r.p_value:.3g}\n  ", (cmp.verdict, "green" if sig else "yellow")))
        failed = sum(1 for c in report.cells for r in c.rows if not r.passed)
        lines.append(Text(f"{failed} failed rows · cache {report.cache_hits} hits, {report.cache_misses} misses · "
                          "Enter on a cell opens its session", style="dim"))
        self.query_one("#suite-verdict-text", Static).update(Text("\n").join(lines))

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        cell = self.cells[int(event.row_key.value)]
        if cell.session_ids:
            self.post_message(self.OpenSession(cell.session_ids[0]))
