"""Widgets of the Sessions screens: one logged turn as it was logged (`LoggedTurnPanel`) and the
re-run's progress and per-turn verdicts (`RerunPanel`). They show what core/replay gives them:
the sections of a logged turn and the result dicts of a re-run, nothing computed here."""

from __future__ import annotations

import re

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Input, Label, Select, Static

STRATEGIES = ("zero-shot", "few-shot", "cot", "self-consistency")

VERDICT_STYLE = {"reproduced": "bold green", "identical": "green", "not reproduced": "bold red", "changed": "yellow",
                 "cancelled": "yellow", "error": "red"}


def slug(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")


def diff_text(diff: str) -> Text:
    """A unified diff, + lines green and - lines red."""
    text = Text()
    for line in diff.splitlines():
        style = ""
        if line.startswith(("+++", "---")):
            style = "bold"
        elif line.startswith("+"):
            style = "green"
        elif line.startswith("-"):
            style = "red"
        elif line.startswith("@@"):
            style = "cyan"
        text.append(line + "\n", style=style)
    return text


def verdict_text(result: dict, line: str) -> Text:
    return Text(line, style=VERDICT_STYLE.get(result.get("verdict"), ""))


class LoggedTurnPanel(VerticalScroll):
    """The sections of one logged turn (`LoggedTurn.sections()` from core/replay), and, after a
    re-run, that turn's verdict and diff on top."""

    DEFAULT_CSS = """
    LoggedTurnPanel { height: 1fr; padding: 0 1; scrollbar-size-vertical: 1; }
    LoggedTurnPanel .replay-section { margin-top: 1; color: $accent; text-style: bold; }
    LoggedTurnPanel .replay-text { padding: 0 1; }
    LoggedTurnPanel #replay-rendered-prompt { background: $boost; }
    LoggedTurnPanel #replay-rerun-verdict { margin-top: 1; }
    """
    # Left/right step through turns (the screen's actions) instead of scrolling sideways.
    BINDINGS = [Binding("left", "screen.prev", show=False), Binding("right", "screen.next", show=False)]

    async def show(self, title: str, sections: list[tuple[str, str]], rerun: tuple[dict, str] | None = None) -> None:
        await self.remove_children()
        widgets = [Label(title, id="replay-turn-title", markup=False)]
        if rerun is not None:
            result, line = rerun
            widgets.append(Static(verdict_text(result, line), id="replay-rerun-verdict"))
            if result.get("diff"):
                widgets.append(Static(diff_text(result["diff"]), id="replay-rerun-diff", classes="replay-text"))
        for name, text in sections:
            widgets.append(Label(name, classes="replay-section"))
            widgets.append(Static(text, markup=False, id=f"replay-{slug(name)}", classes="replay-text"))
        await self.mount_all(widgets)
        self.scroll_home(animate=False)


class RerunPanel(VerticalScroll):
    """Right column: what a re-run will do (or did), its progress, and one verdict line per turn."""

    DEFAULT_CSS = """
    RerunPanel { width: 48; height: 1fr; padding: 0 1; border-left: vkey $panel-lighten-2; scrollbar-size-vertical: 1; }
    RerunPanel #rerun-warnings { color: $warning; }
    RerunPanel #rerun-summary { margin-top: 1; text-style: bold; }
    RerunPanel .rerun-row { height: auto; }
    RerunPanel .rerun-row Label { width: 13; padding: 1 0 0 0; color: $text-muted; }
    RerunPanel .rerun-row Select, RerunPanel .rerun-row Input { width: 1fr; }
    """

    def __init__(self, models: list[str] | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.models = models or []

    def compose(self) -> ComposeResult:
        yield Label("Re-run", classes="section")
        yield Static(Text("r re-runs this session with its logged seeds and params; or change them below "
                          "(blank = as logged) and press r", style="dim italic"), id="rerun-status")
        with Horizontal(classes="rerun-row"):
            yield Label("model")
            yield Select([(m, m) for m in self.models], prompt="as logged", id="rerun-model")
        with Horizontal(classes="rerun-row"):
            yield Label("strategy")
            yield Select([(s, s) for s in STRATEGIES], prompt="as logged", id="rerun-strategy")
        with Horizontal(classes="rerun-row"):
            yield Label("temperature")
            yield Input(placeholder="as logged", id="rerun-temperature")
        with Horizontal(classes="rerun-row"):
            yield Label("seed")
            yield Input(placeholder="as logged", id="rerun-seed")
        yield Static("", id="rerun-warnings", markup=False)
        yield Static("", id="rerun-results")
        yield Static("", id="rerun-summary", markup=False)

    def _set(self, id: str, content) -> None:
        self.query_one(f"#{id}", Static).update(content)

    def choices(self) -> tuple[str | None, dict]:
        """(model or None, overrides) from the fields; a field left blank keeps what was logged.
        A number that does not parse is a ValueError naming the field."""
        def picked(id: str):
            v = self.query_one(f"#{id}", Select).value
            return v if isinstance(v, str) else None  # the blank entry

        overrides: dict = {}
        if picked("rerun-strategy"):
            overrides["strategy"] = picked("rerun-strategy")
        for name, kind in (("temperature", float), ("seed", int)):
            text = self.query_one(f"#rerun-{name}", Input).value.strip()
            if text:
                try:
                    overrides[name] = kind(text)
                except ValueError:
                    raise ValueError(f"{name} {text!r} is not a {'number' if kind is float else 'whole number'}") from None
        return picked("rerun-model"), overrides

    def status(self, text: str, style: str = "") -> None:
        self._set("rerun-status", Text(text, style=style))

    def started(self, warnings: list[str]) -> None:
        self._set("rerun-warnings", "\n".join(f"⚠ {w}" for w in warnings))
        self._set("rerun-results", "")
        self._set("rerun-summary", "")

    def verdicts(self, lines: list[tuple[dict, str]]) -> None:
        text = Text()
        for result, line in lines:
            text.append_text(verdict_text(result, line))
            text.append("\n")
        self._set("rerun-results", text)

    def summary(self, line: str) -> None:
        self._set("rerun-summary", line)
