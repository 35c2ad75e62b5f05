"""The Tokens screen: how a text splits into tokens, one coloured chip per token, for the local
model's tokenizer and each tiktoken encoding side by side, with the token ids on demand.
Tokenizing happens in a thread worker (core's `tokens.pieces`), after typing pauses."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Footer, Static, TextArea
from textual.worker import Worker, WorkerState

from sandbox.core.config import ENCODINGS
from sandbox.core import numbers as fmt

DEBOUNCE_S = 0.15
MAX_CHIPS = 3000  # per tokenizer; the count is always of the whole text
CHIP_BACKGROUNDS = ("#2b4a6f", "#5b3a63", "#2f5a3b", "#6b4a22", "#255a60")
SUBSCRIPT = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")
SAMPLE = ("Unfamiliarization is one word but several tokens.\n"
          "The cat sat on the mat.\n"
          "Le chat s'est assis sur le tapis.\n"
          "猫がマットの上に座った。")


@dataclass(frozen=True)
class Split:
    """One tokenizer's view of the text."""

    name: str
    pieces: list  # tokens.pieces.TokenPiece
    total: int
    exact: bool = True
    note: str | None = None


def visible(text: str) -> str:
    """Whitespace made visible: · for a space, → for a tab, ↵ for a newline (which also breaks the line)."""
    return text.replace(" ", "·").replace("\t", "→").replace("\r", "␍").replace("\n", "↵\n")


def chips(pieces: list, show_ids: bool) -> Text:
    """One chip per token, backgrounds taking turns, separated by an uncoloured gap."""
    out = Text(overflow="fold")
    for i, p in enumerate(pieces):
        bg = CHIP_BACKGROUNDS[i % len(CHIP_BACKGROUNDS)]
        shown = p.text if p.partial else visible(p.text)
        newline = shown.endswith("\n")
        out.append(shown.rstrip("\n") if newline else shown, style=f"{'italic ' if p.partial else ''}#f0f0f0 on {bg}")
        if show_ids:
            out.append(str(p.id).translate(SUBSCRIPT), style=f"#b8c4d0 on {bg}")
        out.append("\n" if newline else " ")
    return out


class TokenColumn(Vertical):
    DEFAULT_CSS = """
    TokenColumn { width: 1fr; border: round $panel-lighten-2; border-title-color: $text-muted; }
    TokenColumn .token-head { padding: 0 1; height: auto; }
    TokenColumn VerticalScroll { padding: 0 1; scrollbar-size-vertical: 1; }
    """

    def __init__(self, name: str) -> None:
        super().__init__()
        self.border_title = name

    def compose(self) -> ComposeResult:
        yield Static(Text("…", style="dim"), classes="token-head")
        with VerticalScroll():
            yield Static("", classes="token-chips")

    def show(self, split: Split, show_ids: bool) -> None:
        head = Text.assemble(("≈ " if not split.exact else "", "yellow"), (fmt.count(split.total), "bold"), " tokens")
        if len(split.pieces) < split.total:
            head.append(f" · first {fmt.count(len(split.pieces))} shown", style="dim")
        if split.note:
            head.append(f"\n{split.note}", style="dim italic")
        self.query_one(".token-head", Static).update(head)
        self.query_one(".token-chips", Static).update(chips(split.pieces, show_ids))

    def unavailable(self, message: str) -> None:
        self.query_one(".token-head", Static).update(Text(message, style="dim italic"))
        self.query_one(".token-chips", Static).update("")


class TokensScreen(Screen):
    BINDINGS = [
        Binding("escape,f9", "close", "Back"),
        Binding("ctrl+t", "toggle_ids", "Token ids"),
        Binding("ctrl+r", "sample", "Sample text"),
    ]
    DEFAULT_CSS = """
    TokensScreen #tokens-top { height: auto; padding: 0 1; }
    TokensScreen #tokens-text { height: 7; }
    TokensScreen #tokens-hint { color: $text-muted; height: auto; }
    TokensScreen #token-columns { height: 1fr; }
    """

    def __init__(self, session, text: str) -> None:
        super().__init__()
        self.session = session
        self.initial = text if text.strip() else SAMPLE
        self.show_ids = False
        self.splits: list[Split] = []
        self._timer: Timer | None = None

    @property
    def names(self) -> list[str]:
        local = f"{self.session.model_name} (local)" if self.session else "local model"
        return [local, *ENCODINGS]

    def compose(self) -> ComposeResult:
        with Vertical(id="tokens-top"):
            yield TextArea(self.initial, id="tokens-text", soft_wrap=True)
            yield Static('One chip per token. "Unfamiliarization" is one word but 3+ tokens; non-English text '
                         "costs more tokens. · space  ↵ newline  → tab  ‹e3 81› bytes of a split character",
                         id="tokens-hint", markup=False)
        with Horizontal(id="token-columns"):
            for name in self.names:
                yield TokenColumn(name)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#tokens-text").border_title = "Text"
        self.query_one(TextArea).focus()
        self.tokenize(self.session, self.query_one(TextArea).text)

    def on_text_area_changed(self, event: TextArea.Changed) -> None:
        if self._timer is not None:
            self._timer.stop()
        self._timer = self.set_timer(DEBOUNCE_S, lambda: self.tokenize(self.session, self.query_one(TextArea).text))

    @work(thread=True, exclusive=True, exit_on_error=False, group="tokenize")
    def tokenize(self, session, text: str) -> list[Split | str]:
        from sandbox.core.errors import SandboxError
        from sandbox.core.tokens import encoding
        from sandbox.core.tokens.pieces import pieces

        out: list[Split | str] = []
        if session is None:
            out.append("the model is still loading: its tokenizer shows once it is ready")
        else:
            shown, total = pieces(session.engine.tokenizer, text, MAX_CHIPS)
            out.append(Split(self.names[0], shown, total))
        for name in ENCODINGS:
            try:
                enc = encoding(name)
            except SandboxError as e:
                out.append(str(e))
                continue
            shown, total = pieces(enc, text, MAX_CHIPS)
            out.append(Split(name, shown, total, enc.exact, enc.note))
        return out

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group != "tokenize":
            return
        if event.state == WorkerState.SUCCESS:
            self.splits = event.worker.result
            self.draw()
        elif event.state == WorkerState.ERROR:
            self.notify(f"tokenizing failed: {event.worker.error}", severity="error")

    def draw(self) -> None:
        for column, split in zip(self.query(TokenColumn), self.splits):
            if isinstance(split, Split):
                column.show(split, self.show_ids)
            else:
                column.unavailable(split)

    def action_toggle_ids(self) -> None:
        self.show_ids = not self.show_ids
        self.draw()

    def action_sample(self) -> None:
        self.query_one(TextArea).text = SAMPLE

    def action_close(self) -> None:
        self.app.pop_screen()
