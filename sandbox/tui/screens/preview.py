"""A modal with the exact prompt the model would see for the text in the input."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, TextArea


class PreviewScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,f2", "close", "Close")]

    def __init__(self, prompt: str, summary: str) -> None:
        super().__init__()
        self.prompt = prompt
        self.summary = summary

    def compose(self) -> ComposeResult:
        with Vertical(id="preview"):
            yield Label(self.summary, id="preview-summary", markup=False)
            yield TextArea(self.prompt, read_only=True, soft_wrap=True, show_line_numbers=False, id="preview-text")
            yield Label("the exact text the model will see · Escape closes", id="preview-hint")

    def on_mount(self) -> None:
        self.query_one("#preview").border_title = "Rendered prompt"
        self.query_one(TextArea).focus()

    def action_close(self) -> None:
        self.dismiss(None)
