"""Compare: one column per strategy, streaming its reply, then its extracted answer, tokens, time
and hosted cost. Every number is core's (CompareResult); this only lays them out."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import HorizontalScroll, Vertical, VerticalScroll
from textual.widgets import Label, Markdown, Static

from sandbox.core.events import Blocked, SampleDone, Token, TurnStarted
from sandbox.core import numbers as fmt
from sandbox.tui.widgets.reply import ReplyMarkdown

MIN_COLUMN = 30  # narrower than this a reply is unreadable: scroll sideways instead


class CompareColumn(Vertical):
    """One strategy's result: header, streamed reply, answer line, stats line."""

    DEFAULT_CSS = """
    CompareColumn { height: 1fr; border: round $panel-lighten-2; padding: 0 1; }
    CompareColumn.-running { border: round $accent; }
    CompareColumn .compare-head { text-style: bold; color: $accent; }
    CompareColumn .compare-body { height: 1fr; }
    CompareColumn .compare-answer { height: auto; margin-top: 1; }
    CompareColumn .compare-stats { height: auto; color: $text-muted; }
    CompareColumn .compare-samples { height: auto; color: $text-muted; }
    """

    def __init__(self, index: int, strategy: str) -> None:
        super().__init__(classes="compare-column")
        self.index = index
        self.strategy = strategy
        self.n_samples = 1
        self.text = ""
        self.sample_answers: list[str] = []
        self.result = None
        self._stream = None

    def compose(self) -> ComposeResult:
        yield Label(self.strategy, classes="compare-head")
        with VerticalScroll(classes="compare-body"):
            yield ReplyMarkdown(classes="compare-reply")
        yield Static("", classes="compare-samples")
        yield Static(Text("waiting…", style="dim italic"), classes="compare-answer")
        yield Static("", classes="compare-stats")

    @property
    def reply(self) -> Markdown:
        return self.query_one(".compare-reply", Markdown)

    def _set(self, cls: str, value) -> None:
        self.query_one(f".{cls}", Static).update(value)

    async def started(self) -> None:
        self.add_class("-running")
        self._set("compare-answer", Text("generating…", style="dim italic"))

    async def apply(self, event) -> None:
        """One of the strategy's turn events, in core's order."""
        if isinstance(event, TurnStarted):
            self.n_samples = event.n_samples
            if self.n_samples > 1:
                self.query_one(".compare-head", Label).update(f"{self.strategy} ×{self.n_samples}")
                self._set("compare-samples", Text(f"{self.n_samples} samples decoding together…", style="dim"))
        elif isinstance(event, Token) and event.sample == 0:
            # With several samples the first one streams; the vote picks the reply shown at the end.
            if self._stream is None:
                self._stream = ReplyMarkdown.get_stream(self.reply)
            self.text += event.text
            await self._stream.write(event.text)
        elif isinstance(event, SampleDone) and self.n_samples > 1:
            self.sample_answers.append("—" if event.answer is None else str(event.answer))
            self._set("compare-samples", Text.assemble(("sample answers ", "dim"), " ".join(self.sample_answers)))
        elif isinstance(event, Blocked):
            self._set("compare-answer", Text(f"blocked by the {event.stage} guard: {event.reason}", style="bold red"))

    async def finished(self, result) -> None:
        """The strategy's CompareResult: the final (voted, guarded) reply and its numbers."""
        self.result = result
        self.remove_class("-running")
        if self._stream is not None:
            await self._stream.stop()
            self._stream = None
        if result.output != self.text:
            await self.reply.update(result.output)
        if result.blocked:
            answer = Text("reply withheld by the guard", style="bold red")
        elif not result.extracts:
            answer = Text("no answer to extract: pick a template with an answer pattern", style="dim italic")
        elif result.answer is None:
            answer = Text("no answer found", style="italic yellow")
        else:
            answer = Text.assemble(("answer ", "dim"), (str(result.answer), "bold"))
        if result.vote:
            v = result.vote
            agreement = f" · agreement {v.get('agreement', 0):.0%}" + (" (tie)" if v.get("tie") else "")
            counts = " ".join(f"{a}×{c}" for a, c in (result.votes or {}).items()) or "no answers"
            self._set("compare-samples", Text.assemble(("votes ", "dim"), counts, (agreement, "dim")))
        self._set("compare-answer", answer)
        finish = "" if result.finish_reason == "stop" else f" · {result.finish_reason}"
        self._set("compare-stats", Text(
            f"{fmt.count(result.prompt_tokens)}+{fmt.count(result.completion_tokens)} tok · {fmt.ms(result.ms)} · "
            f"{fmt.rate(result.tokens_per_s)} · {result.cost_model or 'cost'} {fmt.usd(result.cost_usd)}{finish}"))

    async def failed(self, message: str) -> None:
        self.remove_class("-running")
        if self._stream is not None:
            await self._stream.stop()
            self._stream = None
        self._set("compare-answer", Text(message, style="italic yellow"))


class CompareColumns(HorizontalScroll):
    """A column per strategy, side by side; scrolls sideways when they do not fit."""

    DEFAULT_CSS = """
    CompareColumns { height: 1fr; }
    """

    def __init__(self, strategies: list[str], **kwargs) -> None:
        super().__init__(**kwargs)
        self.strategies = list(strategies)

    def compose(self) -> ComposeResult:
        for i, name in enumerate(self.strategies):
            yield CompareColumn(i, name)

    def on_resize(self) -> None:
        # `1fr` inside a scrolling row means the whole width: share it out, with a floor.
        width = max(MIN_COLUMN, self.scrollable_content_region.width // max(1, len(self.strategies)))
        for col in self.query(CompareColumn):
            col.styles.width = width

    def column(self, index: int) -> CompareColumn:
        return self.query(CompareColumn)[index]
