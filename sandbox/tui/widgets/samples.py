"""Self-consistency: the N samples side by side as they stream, then the vote as a histogram.
The answers, counts, agreement and winner are core's (SampleDone events, turn["vote"])."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import HorizontalScroll, Vertical
from textual.widgets import Static

BAR_WIDTH = 24
MIN_COLUMN = 20  # narrower than this, a sample is unreadable: scroll sideways instead


class SampleColumn(Vertical):
    """One sample: a header, its streamed text, and its extracted answer once it is done."""

    def __init__(self, index: int) -> None:
        super().__init__(classes="sample")
        self.index = index
        self.text = ""
        self._stream = None

    def compose(self) -> ComposeResult:
        from sandbox.tui.widgets.reply import ReplyMarkdown  # markdown-it loads with the first reply, not at start-up

        yield Static(f"sample {self.index + 1}", classes="sample-head")
        yield ReplyMarkdown(classes="sample-body")
        yield Static("…", classes="sample-answer")

    async def write(self, piece: str) -> None:
        if self._stream is None:
            body = self.query_one(".sample-body")
            self._stream = type(body).get_stream(body)
        self.text += piece
        await self._stream.write(piece)

    async def done(self, event) -> None:
        """SampleDone: the final (guarded, maybe redacted) text, seed, tokens and answer."""
        if self._stream is not None:
            await self._stream.stop()
        if event.output != self.text:
            await self.query_one(".sample-body").update(event.output)
        finish = "" if event.finish_reason == "stop" else f" · {event.finish_reason}"
        self.query_one(".sample-head", Static).update(
            f"#{self.index + 1} · seed {event.seed} · {event.completion_tokens} tok{finish}")
        answer = self.query_one(".sample-answer", Static)
        if event.answer is None:
            answer.update(Text("no answer found", style="italic"))
            answer.add_class("-none")
        else:
            answer.update(Text.assemble(("answer ", "dim"), (str(event.answer), "bold")))


class SampleColumns(HorizontalScroll):
    """N sample columns; scrolls sideways when they do not fit."""

    def __init__(self, n: int) -> None:
        super().__init__(classes="samples")
        self.n = n

    def compose(self) -> ComposeResult:
        for i in range(self.n):
            yield SampleColumn(i)

    def on_resize(self) -> None:
        # `1fr` inside a scrolling row means the whole width: share it out, with a floor.
        width = max(MIN_COLUMN, self.scrollable_content_region.width // self.n)
        for col in self.query(SampleColumn):
            col.styles.width = width

    def column(self, index: int) -> SampleColumn:
        return self.query(SampleColumn)[index]

    async def write(self, index: int, piece: str) -> None:
        await self.column(index).write(piece)

    async def done(self, event) -> None:
        await self.column(event.idx).done(event)

    async def stop(self) -> None:
        for col in self.query(SampleColumn):
            if col._stream is not None:
                await col._stream.stop()


class VoteHistogram(Static):
    """turn["vote"] as bars: one per answer, the winner marked, the agreement rate, ties as ties."""

    def __init__(self, vote: dict | None, n_samples: int, no_answer: int) -> None:
        super().__init__(classes="histogram")
        self.vote = vote or {}
        self.n_samples = n_samples
        self.no_answer = no_answer

    def on_mount(self) -> None:
        self.update(self.render_vote())

    def render_vote(self) -> Text:
        counts: dict = self.vote.get("counts") or {}
        winner = self.vote.get("winner")
        out = Text()
        if not counts:
            out.append(f"vote: none of the {self.n_samples} samples gave an answer", style="bold yellow")
            return out
        top = max(counts.values())
        width = max(len(str(a)) for a in counts)
        for answer, count in counts.items():
            bar = "█" * max(1, round(BAR_WIDTH * count / top))
            mark = answer == winner
            out.append(f"{str(answer):>{width}} ", style="bold" if mark else "")
            out.append(bar, style="green" if mark else "blue")
            out.append(f" {count}\n")
        if self.no_answer:
            out.append(f"{'—':>{width}} ", style="dim")
            out.append(f"{self.no_answer} without an answer\n", style="dim")
        agreement = self.vote.get("agreement") or 0.0
        if self.vote.get("tie"):
            tied = ", ".join(str(a) for a in self.vote.get("tied") or [])
            out.append(f"tie between {tied}", style="bold yellow")
            out.append(f" · first seen wins: {winner} · agreement {agreement:.0%}")
        else:
            out.append("winner ", style="dim")
            out.append(str(winner), style="bold green")
            out.append(f" · agreement {agreement:.0%} of {self.n_samples}")
        return out
