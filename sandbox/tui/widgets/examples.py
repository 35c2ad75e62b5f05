"""The few-shot example manager (left column): the selected template's examples, each with its
token cost for the current strategy, to toggle, add, edit, delete and reorder. The edited list is
what the next turn sends (TurnRequest.examples); how a strategy uses each example is core's
`strategies.example_views`, and its cost `Session.example_tokens`."""

from __future__ import annotations

from dataclasses import replace

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Button, OptionList, Static
from textual.widgets.option_list import Option

from sandbox.core import strategies
from sandbox.core.templates import Example, Template


class ExampleList(OptionList):
    """The examples, one option each; the manager's keys act on the highlighted one."""


class ExampleManager(Vertical):
    BINDINGS = [
        Binding("space", "act('toggle')", "On/off", show=False),
        Binding("e", "act('edit')", "Edit", show=False),
        Binding("a,insert", "act('add')", "Add", show=False),
        Binding("d,delete", "act('delete')", "Delete", show=False),
        Binding("ctrl+up,shift+up", "act('up')", "Move up", show=False),
        Binding("ctrl+down,shift+down", "act('down')", "Move down", show=False),
    ]
    DEFAULT_CSS = """
    ExampleManager { height: auto; }
    ExampleManager ExampleList { max-height: 14; }
    ExampleManager #examples-empty, ExampleManager #examples-note { color: $text-muted; text-style: italic; }
    ExampleManager .example-buttons { height: 1; }
    ExampleManager .example-buttons Button { min-width: 0; margin-right: 1; }
    """

    class Changed(Message):
        """The list changed (the next turn sends it; the preview and the gauge follow)."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.template: Template | None = None
        self.items: list[Example] = []
        self.strategy = strategies.STRATEGIES[0]
        self.cot_trigger: str | None = None
        self.session = None
        self.costs: list[int] | None = None
        self.views: list[strategies.ExampleView] = []
        self.shared_reason: str | None = None

    def compose(self) -> ComposeResult:
        yield Static("", id="examples-note")
        examples = ExampleList(compact=True, id="example-list")
        examples.tooltip = "space on/off · Enter edit · a add · d delete · shift+↑/↓ move"
        yield examples
        yield Static("no examples — pick a template that has some, or add one", id="examples-empty")
        for row in ((("+ add", "add", "add an example (a)"), ("edit", "edit", "edit (e or Enter)"),
                     ("del", "delete", "delete (d)")),
                    (("on/off", "toggle", "use it or not (space)"), ("↑", "up", "move up (shift+↑)"),
                     ("↓", "down", "move down (shift+↓)"))):
            with Horizontal(classes="example-buttons"):
                for label, action, tip in row:
                    button = Button(label, id=f"example-{action}", compact=True)
                    button.tooltip = tip
                    yield button

    @property
    def option_list(self) -> ExampleList:
        return self.query_one(ExampleList)

    @property
    def examples(self) -> list[Example]:
        return list(self.items)

    def on_mount(self) -> None:
        self.refresh_rows()

    def on_resize(self) -> None:
        if self.size.width != getattr(self, "_drawn_width", None):  # rows are cut to the width
            self._drawn_width = self.size.width
            self.refresh_rows()

    # ---- what the list depends on ---------------------------------------------------------------

    def set_template(self, template: Template | None) -> None:
        """A new template: its own examples, all enabled (edits to the old list are dropped)."""
        self.template = template
        self.items = strategies.examples_of(template)
        self.refresh_rows(highlight=0)
        self.post_message(self.Changed())

    def set_strategy(self, strategy: str, cot_trigger: str | None) -> None:
        if (strategy, cot_trigger) != (self.strategy, self.cot_trigger):
            self.strategy, self.cot_trigger = strategy, cot_trigger
            self.refresh_rows()

    def set_session(self, session) -> None:
        self.session = session
        self.refresh_rows()

    # ---- drawing ---------------------------------------------------------------------------------

    def refresh_rows(self, highlight: int | None = None) -> None:
        self.views = strategies.example_views(self.strategy, self.template, self.items, self.cot_trigger)
        self.costs = self.session.example_tokens(self.views) if self.session is not None and self.views else None
        # A reason every example shares (zero-shot uses none) is said once, above the list.
        reasons = {v.reason for v in self.views}
        self.shared_reason = self.views[0].reason if len(reasons) == 1 and not reasons & {None, "disabled"} else None
        note = self.query_one("#examples-note", Static)
        note.update(self.shared_reason or "")
        note.display = self.shared_reason is not None
        ol = self.option_list
        keep = ol.highlighted if highlight is None else highlight
        ol.set_options(Option(self.row(v), id=str(v.index)) for v in self.views)
        if self.views:
            ol.highlighted = min(max(keep or 0, 0), len(self.views) - 1)
        ol.display = bool(self.views)
        self.query_one("#examples-empty").display = not self.views

    def row(self, view: strategies.ExampleView) -> Text:
        ex = view.example
        cost = f"{self.costs[view.index]:,} tok" if self.costs is not None else "… tok"
        style = "" if view.used else "dim"
        head = Text.assemble(("☑ " if ex.enabled else "☐ ", "green" if ex.enabled else "dim"),
                             (f"{view.index + 1} · ", style), (cost, "cyan" if view.used else "dim"))
        if view.reason and view.reason != "disabled" and not self.shared_reason:
            head.append(f" · {view.reason}", style="dim italic")
        first = (ex.input.strip().splitlines() or [""])[0]
        body = Text("  " + first, style="dim" if not view.used else "")
        width = max(self.size.width, 12)  # the list's own width is 0 while it is hidden
        head.truncate(width, overflow="ellipsis")  # two lines per example, whatever the width
        body.truncate(width, overflow="ellipsis")
        return Text.assemble(head, "\n", body)

    # ---- intents -----------------------------------------------------------------------------------

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.act(event.button.id.removeprefix("example-"))

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.act("edit")

    def action_act(self, what: str) -> None:
        self.act(what)

    def act(self, what: str) -> None:
        i = self.option_list.highlighted
        if what == "add":
            self.edit(None)
        elif i is None or not self.items:
            return
        elif what == "toggle":
            self.items[i] = replace(self.items[i], enabled=not self.items[i].enabled)
            self.changed(i)
        elif what == "edit":
            self.edit(i)
        elif what == "delete":
            del self.items[i]
            self.changed(min(i, len(self.items) - 1))
        elif what in ("up", "down"):
            j = i - 1 if what == "up" else i + 1
            if 0 <= j < len(self.items):
                self.items[i], self.items[j] = self.items[j], self.items[i]
                self.changed(j)

    def edit(self, index: int | None) -> None:
        from sandbox.tui.screens.example_editor import ExampleEditor

        def done(example: Example | None) -> None:
            if example is None:
                return
            if index is None:
                self.items.append(example)
                self.changed(len(self.items) - 1)
            else:
                self.items[index] = example
                self.changed(index)

        title = "New example" if index is None else f"Example {index + 1}"
        self.app.push_screen(ExampleEditor(None if index is None else self.items[index], title), done)

    def changed(self, highlight: int) -> None:
        self.refresh_rows(highlight=highlight)
        self.option_list.focus()
        self.post_message(self.Changed())
