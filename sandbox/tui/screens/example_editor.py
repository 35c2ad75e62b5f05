"""A modal to add or edit one few-shot example: input, output and the optional worked reasoning."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Label, TextArea

from sandbox.core.templates import Example


class ExampleEditor(ModalScreen[Example | None]):
    """Dismisses with the edited Example, or None when cancelled."""

    BINDINGS = [Binding("escape", "cancel", "Cancel"), Binding("ctrl+s", "save", "Save")]
    DEFAULT_CSS = """
    ExampleEditor { align: center middle; }
    #example-editor {
        width: 80%; max-width: 96; height: auto; max-height: 95%;
        border: round $accent; background: $surface; padding: 0 1;
    }
    #example-editor TextArea { height: 4; background: $boost; }
    #example-editor #ex-cot { height: 5; }
    #example-editor .editor-label { color: $text-muted; margin-top: 1; }
    #ex-error { color: $error; height: auto; }
    #ex-buttons { height: 1; align-horizontal: right; }
    #ex-buttons Button { margin-left: 2; }
    """

    def __init__(self, example: Example | None = None, title: str = "Example") -> None:
        super().__init__()
        self.example = example or Example(input="", output="")
        self.title_text = title

    def compose(self) -> ComposeResult:
        with Vertical(id="example-editor"):
            yield Label("input — what the user says", classes="editor-label")
            yield TextArea(self.example.input, id="ex-input", soft_wrap=True, compact=True)
            yield Label("output — the reply to imitate", classes="editor-label")
            yield TextArea(self.example.output, id="ex-output", soft_wrap=True, compact=True)
            yield Label("cot — worked reasoning for chain-of-thought (optional)", classes="editor-label")
            yield TextArea(self.example.cot or "", id="ex-cot", soft_wrap=True, compact=True)
            yield Label("", id="ex-error")
            with Horizontal(id="ex-buttons"):
                yield Button("Save (ctrl+s)", variant="primary", id="ex-save", compact=True)
                yield Button("Cancel (esc)", id="ex-cancel", compact=True)

    def on_mount(self) -> None:
        self.query_one("#example-editor").border_title = self.title_text
        self.query_one("#ex-input", TextArea).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "ex-save":
            self.action_save()
        else:
            self.action_cancel()

    def action_save(self) -> None:
        text = {k: self.query_one(f"#ex-{k}", TextArea).text for k in ("input", "output", "cot")}
        missing = [k for k in ("input", "output") if not text[k].strip()]
        if missing:
            self.query_one("#ex-error", Label).update(f"{' and '.join(missing)} cannot be empty")
            self.query_one(f"#ex-{missing[0]}", TextArea).focus()
            return
        self.dismiss(Example(input=text["input"], output=text["output"], cot=text["cot"] if text["cot"].strip() else None,
                             enabled=self.example.enabled))

    def action_cancel(self) -> None:
        self.dismiss(None)
