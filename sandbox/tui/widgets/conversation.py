"""Centre column: the conversation. Each turn is a TurnView that renders core's events as they
arrive (user text, streamed reply or sample columns, guard marks, the badge line); the prompt
input sits at the bottom."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Input, Label, LoadingIndicator, Static

from sandbox.core import numbers as fmt
from sandbox.tui.widgets.resize import FixedSizeInput, OneLayout
from sandbox.tui.widgets.samples import SampleColumns, VoteHistogram

if TYPE_CHECKING:  # core.turn pulls in templates, memory and sampling: not for the first frame
    from sandbox.core.turn import Turn


def Markdown(*args, **kwargs):  # noqa: N802 - markdown-it (~90 ms of imports) loads with the first reply
    from sandbox.tui.widgets.reply import ReplyMarkdown

    return ReplyMarkdown(*args, **kwargs)


GUARD_STYLE = {"allow": "green", "warn": "yellow", "redact": "magenta", "block": "bold red"}


def badge(turn: Turn, verdicts: dict[str, str]) -> Text:
    """The one-line summary under a reply, from the turn core logged."""
    usage, timings = turn.usage, turn.timings
    sep = (" · ", "dim")
    parts: list = [(turn.strategy or "", "bold")]
    if turn.template:
        parts += [(f" [{turn.template}]", "")]
    if turn.blocked and turn.finish_reason == "blocked":
        parts += [sep, ("blocked before generation", "bold red")]
    else:
        parts += [sep, f"{fmt.count(usage.prompt_tokens)}+{fmt.count(usage.completion_tokens)} tok",
                  sep, f"{fmt.count(usage.cached_tokens)} cached",
                  sep, fmt.rate(timings.tokens_per_s)]
        cost = turn.cost
        if cost:
            model, c = next(iter(cost.items()))
            parts += [sep, (f"{model} ", "dim"), fmt.usd(c.get("usd"))]
        if turn.perplexity:
            parts += [sep, f"perplexity {turn.perplexity:.2f}"]
        finish = turn.finish_reason
        parts += [sep, (finish or "", "yellow" if finish in ("length", "cancelled") else "")]
    parts += [sep, ("guard ", "dim")]
    if not verdicts:
        parts += [("ok", "green")]
    for i, (stage, verdict) in enumerate(verdicts.items()):
        parts += [(" " if i else "") + f"{stage}:", (verdict, GUARD_STYLE.get(verdict, ""))]
    return Text.assemble(*parts)


class TurnBody(OneLayout, Vertical):
    """The reply part of a turn (reply, sample columns, notes)."""


class TurnView(OneLayout, Vertical):
    """One exchange. `apply()` takes core events in order; `failed()` marks a turn core refused."""

    def __init__(self, user_text: str) -> None:
        super().__init__(classes="turn")
        self.user_text = user_text
        self.n_samples = 1
        self.reply_text = ""
        self.verdicts: dict[str, str] = {}
        self.no_answer = 0
        self.turn: Turn | None = None
        self._stream = None

    def compose(self) -> ComposeResult:
        yield Static(self.user_text, markup=False, classes="user")
        yield TurnBody(classes="body")
        yield Static(Text("waiting for the model…", style="dim italic"), classes="badge")

    @property
    def body(self) -> TurnBody:
        return self.query_one(".body", TurnBody)

    async def note(self, text: str | Text, classes: str) -> None:
        await self.body.mount(Static(text, markup=False, classes=classes))

    async def apply(self, event) -> None:
        # Imported here: core's event dataclasses are not needed until a turn runs.
        from sandbox.core.events import Blocked, GuardFindings, SampleDone, Token, TurnDone, TurnStarted

        if isinstance(event, Token):
            if self.n_samples > 1:
                await self.query_one(SampleColumns).write(event.sample, event.text)
            else:
                self.reply_text += event.text
                await self._stream.write(event.text)
        elif isinstance(event, TurnStarted):
            self.n_samples = event.n_samples
            self.query_one(".badge", Static).update(Text("generating…  (Escape cancels)", style="dim italic"))
            if event.n_samples > 1:
                await self.body.mount(SampleColumns(event.n_samples))
            else:
                reply = Markdown(classes="reply")
                await self.body.mount(reply)
                self._stream = type(reply).get_stream(reply)
        elif isinstance(event, SampleDone):
            if self.n_samples > 1:  # a single reply is finished by TurnDone
                self.no_answer += event.answer is None
                await self.query_one(SampleColumns).done(event)
        elif isinstance(event, GuardFindings):
            self.verdicts[event.stage] = event.verdict
        elif isinstance(event, Blocked):
            where = "input" if event.stage == "input" else "output"
            await self.note(Text.assemble((f"Blocked by the {where} guard: ", "bold"), event.reason), "blocked")
            self.add_class("-blocked")
        elif isinstance(event, TurnDone):
            await self.finish(event.turn)

    async def finish(self, turn: Turn) -> None:
        self.turn = turn
        await self.stop_streams()
        if self.verdicts.get("input") == "redact":
            self.query_one(".user", Static).update(turn.prompt)
            await self.body.mount(Static("input redacted by the guard before the model saw it", classes="redacted"),
                                  before=0)
        if self.n_samples > 1:
            await self.body.mount(VoteHistogram(turn.vote, self.n_samples, self.no_answer))
        elif self._stream is not None:
            output = turn.output
            if output != self.reply_text:  # redacted or withheld by the output guard
                await self.query_one(".reply").update(output)  # by class: Markdown here is the lazy factory, not the type
            if not output.strip() and not turn.cancelled:
                await self.note(Text("(empty reply)", style="dim italic"), "empty")
        if turn.cancelled:
            await self.note("(cancelled)", "cancelled")
            self.add_class("-cancelled")
        self.query_one(".badge", Static).update(badge(turn, self.verdicts))

    async def show_logged(self, turn: Turn) -> None:
        """A finished turn from the log (a resumed session)."""
        self.turn = turn
        if turn.blocked and not turn.output:
            await self.note("(blocked by the guardrails)", "blocked")
        else:
            await self.body.mount(Markdown(turn.output, classes="reply"))
        self.query_one(".badge", Static).update(badge(turn, {}))

    async def show_logprobs(self, on: bool):
        """Swap the reply for its logprob heatmap (the turn must carry logprobs), or back."""
        from sandbox.tui.widgets.logprobs import LogprobView

        existing = self.query(LogprobView)
        if not on:
            await existing.remove()
            for reply in self.query(".reply"):
                reply.display = True
            return None
        if self.turn is None or not self.turn.logprobs:
            return None
        if existing:
            return existing.first()
        for reply in self.query(".reply"):
            reply.display = False
        view = LogprobView(self.turn)
        await self.body.mount(view)
        return view

    async def failed(self, message: str) -> None:
        """Core raised before (or while) generating: say so under the user's text."""
        await self.stop_streams()
        started = bool(self.reply_text) or bool(self.query(SampleColumns))
        await self.note(Text.assemble(("Failed: " if started else "Not sent: ", "bold"), message), "failed")
        self.query_one(".badge", Static).update(Text("the prompt is back in the input", style="dim"))
        self.add_class("-failed")

    def set_outside_window(self, outside: bool) -> None:
        """Memory dropped this turn: it stays here, marked, but the model no longer sees it."""
        if outside == self.has_class("-outside"):
            return
        self.set_class(outside, "-outside")
        if outside:
            self.mount(Static("outside the memory window — the model no longer sees this turn", classes="outside"),
                       before=0)
        else:
            self.query(".outside").remove()

    async def stop_streams(self) -> None:
        if self._stream is not None:
            await self._stream.stop()
        for cols in self.query(SampleColumns):
            await cols.stop()


class PromptInput(FixedSizeInput, Input):
    """The prompt box: typing repaints it without laying the screen out."""


class Conversation(Vertical):
    """The transcript (follows new output only while the reader is at the bottom) and the input."""

    BORDER_TITLE = "Conversation"
    # Only the newest turns stay mounted, so a long session keeps typing and layout as fast as a
    # short one; older turns stay in the session (memory) and the log (F7 shows them).
    KEEP_TURNS = 60
    hidden_turns = 0

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="transcript"):
            with Horizontal(id="loading"):
                yield LoadingIndicator()
                yield Label("Starting…", id="loading-text")
        yield PromptInput(placeholder="Type a prompt · Enter sends · F2 previews", id="prompt")

    def on_mount(self) -> None:
        # Anchored: stays at the end as text streams in, until the reader scrolls up.
        self.transcript.anchor()

    @property
    def transcript(self) -> VerticalScroll:
        return self.query_one("#transcript", VerticalScroll)

    @property
    def prompt(self) -> Input:
        return self.query_one("#prompt", Input)

    def loading(self, text: str) -> None:
        self.query_one("#loading-text", Label).update(text)

    async def model_ready(self, text: str) -> None:
        await self.query("#loading").remove()
        await self.transcript.mount(Static(text, classes="info", markup=False))

    async def model_failed(self, message: str) -> None:
        await self.query("#loading").remove()
        await self.transcript.mount(Static(Text.assemble(("Model not loaded: ", "bold"), message), classes="failed"))

    async def new_turn(self, user_text: str) -> TurnView:
        view = TurnView(user_text)
        await self.transcript.mount(view)
        self.transcript.anchor()  # sending a prompt means: show me the reply
        await self.trim()
        return view

    async def trim(self) -> None:
        views = list(self.transcript.query_children(TurnView))
        extra = len(views) - self.KEEP_TURNS
        if extra <= 0:
            return
        self.hidden_turns += extra
        await self.transcript.remove_children(views[:extra])
        text = (f"{self.hidden_turns} earlier turns are not shown here; the session still remembers what its "
                f"memory window holds, and F7 (Sessions) shows every turn")
        note = self.transcript.query("#earlier")
        if note:
            note.first(Static).update(text)
        else:
            await self.transcript.mount(Static(text, id="earlier", classes="info", markup=False), before=0)

    async def show_logged(self, turns: list[dict]) -> None:
        """The turns of a resumed session, as logged."""
        from sandbox.core.turn import Turn

        for logged in turns[-self.KEEP_TURNS:]:
            turn = Turn.from_dict({k: v for k, v in logged.items() if k != "request"})  # shown, not re-run
            view = TurnView(turn.prompt)
            await self.transcript.mount(view)
            await view.show_logged(turn)
        if len(turns) > self.KEEP_TURNS:
            self.hidden_turns = len(turns) - self.KEEP_TURNS
            await self.transcript.mount(Static(f"{self.hidden_turns} earlier turns are not shown here; F7 (Sessions) "
                                               f"shows every turn", id="earlier", classes="info", markup=False), before=0)
        self.transcript.scroll_end(animate=False)

    async def clear(self, text: str) -> None:
        self.hidden_turns = 0
        await self.transcript.query(".turn, .info").remove()
        await self.transcript.mount(Static(text, classes="info", markup=False))
