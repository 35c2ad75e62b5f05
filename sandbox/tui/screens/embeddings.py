"""The Embeddings screen: type a few texts (one a line) and see their cosine similarity as two
heatmaps side by side: the sentence encoder's and the loaded model's own, with each text's
nearest neighbour. The work is core's `embeddings.compare`, run in a thread worker (Ctrl+R)."""

from __future__ import annotations

from pathlib import Path

from rich.table import Table
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Static, TextArea
from textual.worker import Worker, WorkerState

SAMPLE = ("The cat sat on the mat.\n"
          "A kitten rested on the rug.\n"
          "Stock markets fell sharply today.\n"
          "Shares dropped at the close of trading.")


def heat_style(v: float) -> str:
    """Cosine 0..1 from dark blue to bright yellow (negative values stay dark)."""
    v = max(0.0, min(1.0, v))
    r, g, b = int(30 + 225 * v), int(40 + 190 * v), int(90 - 60 * v)
    return f"#101010 on #{r:02x}{g:02x}{b:02x}" if v > 0.55 else f"#f0f0f0 on #{r:02x}{g:02x}{b:02x}"


def heatmap(sim, texts: list[str]) -> Table | Text:
    """One model's similarity matrix as coloured cells, then each text's nearest neighbour."""
    if sim.matrix is None:
        return Text(f"unavailable: {sim.error}", style="red")
    t = Table(box=None, padding=(0, 0), show_header=True, header_style="dim")
    t.add_column("", style="dim", no_wrap=True)
    for j in range(len(texts)):
        t.add_column(str(j + 1), justify="center", no_wrap=True)
    t.add_column("nearest", style="dim", no_wrap=True)
    nearest = sim.nearest()
    for i, row in enumerate(sim.matrix):
        cells = [Text(f" {v:.2f} ", style=heat_style(v)) for v in row]
        j = nearest[i]
        t.add_row(str(i + 1), *cells, f" → {j + 1} ({row[j]:.2f})")
    return t


class EmbeddingsScreen(Screen):
    BINDINGS = [Binding("escape", "app.pop_screen", "Back"), Binding("ctrl+r", "compare", "Compare")]
    DEFAULT_CSS = """
    EmbeddingsScreen #emb-input { height: 10; border: round $panel-lighten-2; }
    EmbeddingsScreen .emb-col { width: 1fr; border: round $panel-lighten-2; border-title-color: $text-muted; }
    EmbeddingsScreen #emb-notes { height: auto; padding: 0 1; }
    """

    def __init__(self, model_path: Path, model_name: str, text: str = "") -> None:
        super().__init__()
        self.model_path, self.model_name = model_path, model_name
        self.initial = text.strip() or SAMPLE
        self.result = None

    def compose(self) -> ComposeResult:
        area = TextArea(self.initial, id="emb-input")
        area.border_title = "texts, one a line (Ctrl+R compares)"
        yield area
        yield Static(Text("Ctrl+R: embed and compare", style="dim"), id="emb-notes")
        with Horizontal():
            for key, title in (("encoder", "sentence encoder"), ("local", self.model_name)):
                col = Vertical(classes="emb-col", id=f"emb-{key}")
                col.border_title = title
                with col:
                    with VerticalScroll():
                        yield Static("", id=f"emb-{key}-map")
        yield Footer()

    def on_mount(self) -> None:
        self.action_compare()

    def action_compare(self) -> None:
        texts = [line for line in self.query_one("#emb-input", TextArea).text.splitlines() if line.strip()]
        self.query_one("#emb-notes", Static).update(Text("embedding…", style="dim italic"))
        self._compare(texts)

    @work(thread=True, exclusive=True, exit_on_error=False, group="embeddings")
    def _compare(self, texts: list[str]):
        from sandbox.core import embeddings

        return embeddings.compare(texts, self.model_path, self.model_name)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group != "embeddings":
            return
        notes = self.query_one("#emb-notes", Static)
        if event.state == WorkerState.ERROR:
            notes.update(Text(str(event.worker.error), style="red"))
        elif event.state == WorkerState.SUCCESS:
            self.result = r = event.worker.result
            self.query_one("#emb-encoder", Vertical).border_title = f"sentence encoder · {r.encoder.model}"
            self.query_one("#emb-local", Vertical).border_title = r.local.model
            self.query_one("#emb-encoder-map", Static).update(heatmap(r.encoder, r.texts))
            self.query_one("#emb-local-map", Static).update(heatmap(r.local, r.texts))
            legend = " · ".join(f"{i}: {t[:40]}" for i, t in enumerate(r.texts, 1))
            notes.update(Text.assemble((legend, ""), ("\n" + "\n".join(r.notes) if r.notes else "", "yellow")))
