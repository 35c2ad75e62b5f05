"""Next-token explorer: type a prefix, see the distribution of the next token, move the sampler
knobs and watch the candidate set reshape (pure numpy: no model call), then step forward with the
greedy token, a sampled one, or one picked by hand.

Runs on the main screen's loaded engine; the model is asked once per step (in a thread worker,
reusing the KV prefix), never while a reply is generating."""

from __future__ import annotations

import numpy as np
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import Checkbox, Footer, Input, Static
from textual.worker import Worker, WorkerState

from sandbox.core.decoding import distribution
from sandbox.core.errors import SandboxError
from sandbox.core.sampling import SamplingParams
from sandbox.tui.widgets.logprobs import DistributionChart, Knob, heat, label, stages_line


class ExplorerScreen(Screen):
    DEFAULT_CSS = """
    ExplorerScreen #explorer { padding: 0 1; }
    ExplorerScreen #prefix-row { height: 3; }
    ExplorerScreen #prefix { width: 1fr; }
    ExplorerScreen #chat { width: auto; }
    ExplorerScreen #knobs { height: auto; grid-size: 3; layout: grid; grid-gutter: 0 2; margin: 1 0; }
    ExplorerScreen #stages { height: auto; margin: 0 1 1 1; }
    ExplorerScreen #trail { height: auto; margin: 1 1 0 1; }
    ExplorerScreen .help { color: $text-muted; margin: 0 1; }
    """
    BINDINGS = [
        Binding("escape", "close", "Back"),
        Binding("ctrl+g", "greedy", "Greedy"),
        Binding("ctrl+s", "sample", "Sample"),
        Binding("ctrl+o", "choose", "Take selected"),
        Binding("ctrl+z", "undo", "Undo"),
        Binding("ctrl+r", "reset_knobs", "Reset"),
    ]

    def __init__(self, session, params: SamplingParams | None = None, prefix: str = "", chat: bool = False) -> None:
        super().__init__()
        self.session = session
        self.engine = session.engine
        self.start = (params or session.defaults)
        self.initial_prefix = prefix
        self.chat = chat
        self.prefix_tokens: list[int] = []
        self.steps: list[tuple[int, float]] = []  # (token, its sampled probability when taken)
        self.logits: np.ndarray | None = None
        self.dist = None
        self.loading = False
        self.rng = np.random.default_rng()

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="explorer"):
            yield Static(Text.assemble(("Next-token explorer", "bold"), (f" · {self.session.spec.title}", "dim")))
            with Horizontal(id="prefix-row"):
                yield Input(self.initial_prefix, placeholder="A prefix · Enter shows what the model would write next",
                            id="prefix")
                yield Checkbox("as a chat reply", self.chat, id="chat")
            with Vertical(id="knobs"):
                p = self.start
                yield Knob("temperature", p.temperature, 0.0, 2.0, 0.05, id="temperature")
                yield Knob("top-k", p.top_k, 0, 100, 1, off=0, id="top_k")
                yield Knob("top-p", p.top_p, 0.0, 1.0, 0.01, off=1.0, id="top_p")
                yield Knob("min-p", p.min_p, 0.0, 0.5, 0.01, off=0.0, id="min_p")
                yield Knob("repeat pen.", p.repeat_penalty, 1.0, 2.0, 0.05, off=1.0, id="repeat_penalty")
            yield Static("", id="stages")
            yield DistributionChart(id="chart")
            yield Static("", id="trail")
            yield Static("knobs: ←/→ (shift ×10), Home/End, click · chart: ↑/↓ select, Enter takes it · "
                         "Ctrl+G greedy · Ctrl+S sample · Ctrl+Z undo", classes="help")
        yield Footer()

    @property
    def chart(self) -> DistributionChart:
        return self.query_one(DistributionChart)

    def on_mount(self) -> None:
        self.query_one("#prefix", Input).focus()
        if self.initial_prefix.strip():
            self.restart()

    # ---- the model: one call per step, in a worker ------------------------------------------------

    def params(self) -> SamplingParams:
        v = {k.id: k.value for k in self.query(Knob)}
        return SamplingParams(temperature=v["temperature"], top_k=int(v["top_k"]), top_p=v["top_p"], min_p=v["min_p"],
                              repeat_penalty=v["repeat_penalty"], max_tokens=1, seed=0)

    def context(self) -> list[int]:
        return self.prefix_tokens + [t for t, _ in self.steps]

    @on(Input.Submitted, "#prefix")
    def on_prefix(self) -> None:
        self.restart()

    @on(Checkbox.Changed, "#chat")
    def on_chat(self) -> None:
        if self.query_one("#prefix", Input).value.strip():
            self.restart()

    def restart(self) -> None:
        text = self.query_one("#prefix", Input).value
        if not text.strip():
            self.notify("type a prefix first", severity="warning")
            return
        if self.query_one("#chat", Checkbox).value:
            text = self.engine.render_chat([{"role": "user", "content": text}])
        self.prefix_tokens = self.engine.tokenize(text)
        self.steps = []
        self.fetch()

    def fetch(self) -> None:
        if self.app.main.busy == "turn":  # the engine belongs to the reply that is streaming
            self.notify("a reply is generating on the main screen; the explorer waits until it is done", severity="warning")
            return
        self.loading = True
        self.query_one("#stages", Static).update(Text("asking the model…", style="dim italic"))
        self.next_logits(list(self.context()))

    @work(thread=True, exclusive=True, exit_on_error=False, group="explorer")
    def next_logits(self, tokens: list[int]):
        return self.engine.next_token_logits(tokens)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group != "explorer" or event.state not in (WorkerState.SUCCESS, WorkerState.ERROR):
            return
        self.loading = False
        if event.state == WorkerState.ERROR:
            error = event.worker.error
            message = str(error) if isinstance(error, SandboxError) else f"{type(error).__name__}: {error}"
            self.query_one("#stages", Static).update(Text(message, style="red"))
            self.notify(message, severity="error")
            return
        self.logits = event.worker.result
        self.redraw()

    # ---- knobs: reshape without the model ----------------------------------------------------------

    def on_knob_changed(self, event: Knob.Changed) -> None:
        self.redraw()

    def redraw(self) -> None:
        if self.logits is None:
            return
        self.dist = distribution(self.logits, self.params(), recent=[t for t, _ in self.steps])
        tops = [t for t, _ in self.dist.raw.top(self.chart.rows)]
        self.chart.show(self.dist, {t: self.piece(t) for t in tops})
        self.query_one("#stages", Static).update(stages_line(self.dist))
        self.show_trail()

    def piece(self, token: int) -> str:
        # A byte-level piece of a character shows its bytes rather than a replacement mark.
        return self.engine.tokenizer.piece(token).decode("utf-8", errors="backslashreplace")

    def show_trail(self) -> None:
        if not self.steps:
            self.query_one("#trail", Static).update(Text("steps taken appear here, coloured by the probability they "
                                                         "were sampled with", style="dim italic"))
            return
        out = Text.assemble(("continuation: ", "dim"))
        for t, p in self.steps:
            out.append(label(self.piece(t)), style=heat(p))
        out.append(f"   ({len(self.steps)} steps)", style="dim")
        self.query_one("#trail", Static).update(out)

    # ---- stepping ------------------------------------------------------------------------------------

    def take(self, token: int | None, how: str) -> None:
        if self.loading or self.dist is None or token is None:
            return
        self.steps.append((token, self.dist.final.prob(token)))
        if how == "hand" and token not in self.dist.final:
            self.notify(f"{label(self.piece(token))!r} was cut by {self.dist.cut_by(token)}: the sampler would never "
                        "pick it with these knobs", severity="information")
        self.fetch()

    def action_greedy(self) -> None:
        if self.dist is not None:
            self.take(self.dist.greedy_token(), "greedy")

    def action_sample(self) -> None:
        if self.dist is not None:
            self.take(self.dist.sample(self.rng), "sample")

    def action_choose(self) -> None:
        self.take(self.chart.selected_token, "hand")

    def action_undo(self) -> None:
        if self.steps and not self.loading:
            self.steps.pop()
            self.fetch()

    def action_reset_knobs(self) -> None:
        p = self.start
        for k in self.query(Knob):
            k.value = k._clamp(getattr(p, k.id))

    def action_close(self) -> None:
        self.app.pop_screen()

    def on_unmount(self) -> None:
        main = self.app.main
        if main.busy == "explorer":
            main.busy = None

