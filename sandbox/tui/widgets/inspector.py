"""Right column: live token counts and the context gauge for the text being typed, the hosted
cost table, the memory window, the last turn, guard findings and the model — all numbers from
core (TokenCounter, PriceTable, Session.prepare / prepare_empty, Window.gauge).

Counting never delays a keystroke: `recount()` only (re)starts a short timer; when typing pauses,
one thread worker counts (TokenCounter caches by chunk, so a recount after a keystroke is cheap)
and prepares the turn, and its result is drawn on the UI thread."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.message import Message
from textual.timer import Timer
from textual.widgets import Label, Static
from textual.worker import Worker, WorkerState, get_current_worker

from sandbox.core.errors import SandboxError
from sandbox.core import numbers as fmt
from sandbox.tui.widgets.live import counts_view, gauge_error, gauge_view
from sandbox.tui.widgets.memory import memory_view

log = logging.getLogger("sandbox.tui")

ACTION_STYLE = {"allow": "green", "warn": "yellow", "redact": "magenta", "block": "bold red"}
DEBOUNCE_S = 0.15
NARROW = 38  # below this many cells the cost table puts the numbers under the model name


def pairs(rows: list[tuple[str, object]]) -> Table:
    """Key/value lines that wrap inside a narrow column."""
    t = Table.grid(padding=(0, 1))
    t.add_column(style="dim", no_wrap=True)
    t.add_column(overflow="fold")
    for k, v in rows:
        t.add_row(k, v if isinstance(v, Text) else Text(str(v)))
    return t


def money(value) -> str:
    """A USD amount without the sign (the section title says USD) or a leading zero (.000250),
    so three columns and the model names fit."""
    if value is None:
        return "—"
    amount = fmt.usd(value)[1:]
    return amount[1:] if amount.startswith("0.") else amount


@dataclass(frozen=True)
class LiveCount:
    """What the count worker found for one text (every number from core)."""

    text: str
    counts: object  # tokens.Counts
    prompt_cost: dict  # PriceTable.prompt_cost
    gauge: object | None  # tokens.Gauge, None when `error`
    memory: dict | None  # Session.memory_of: the window this prompt would get
    error: str | None
    ms: float


def dim(text: str) -> Text:
    return Text(text, style="dim italic")


class Inspector(VerticalScroll):
    BORDER_TITLE = "Inspector"

    class Counted(Message):
        """A count finished: the window it found (the screen marks turns outside it)."""

        def __init__(self, live: LiveCount) -> None:
            super().__init__()
            self.live = live

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.session = None
        self.counter = None  # one TokenCounter per loaded model: its chunk cache is what makes typing cheap
        self.prices = None
        self._engine = None
        self._timer: Timer | None = None
        self._pending: tuple | None = None
        self.measured: LiveCount | None = None
        self.last_cost: dict = {}
        self.last_timings: dict = {}
        self.last_energy: dict | None = None  # the turn's local energy (core's local_energy), when configured
        self.session_total: dict = {}

    def compose(self) -> ComposeResult:
        yield Label("Prompt tokens", classes="section")
        yield Static(dim("loading the model…"), id="count-info")
        yield Label("Context", classes="section")
        yield Static(dim("—"), id="gauge-info")
        yield Label("Hosted cost (USD, est.)", classes="section")
        yield Static(dim("—"), id="cost-info")
        yield Label("Memory window", classes="section")
        yield Static(dim("—"), id="memory-info")
        yield Label("Last turn", classes="section")
        yield Static(dim("no turn yet"), id="turn-info")
        yield Label("Guard findings", classes="section")
        yield Static(dim("no turn yet"), id="guard-info")
        yield Label("Model", classes="section")
        yield Static(dim("loading…"), id="model-info")

    def _set(self, id: str, renderable) -> None:
        self.query_one(f"#{id}", Static).update(renderable)

    @property
    def inner_width(self) -> int:
        return max(self.scrollable_content_region.width, 20)

    # ---- live counting ------------------------------------------------------------------------------

    def recount(self, session, text: str, options) -> None:
        """Count `text` and fit it into the context once typing pauses. `options` is the form's
        TurnRequest (no text yet), or the SandboxError that reading the form raised (shown in the gauge)."""
        if session is None:
            return
        if session.engine is not self._engine:
            from sandbox.core.tokens import PriceTable, TokenCounter

            self._engine = session.engine
            self.counter = TokenCounter(local=session.engine.tokenizer)
            self.prices = PriceTable.for_registry(session.registry, self.counter)
            self.tell_about_prices()
        self.session = session
        self._pending = (session, text, options)
        if self._timer is not None:
            self._timer.stop()
        self._timer = self.set_timer(DEBOUNCE_S, self._count_now)

    def tell_about_prices(self) -> None:
        """Once per app run: an old price snapshot (and the command that updates it), and hosted
        models models.toml lists that nothing prices."""
        if getattr(self.app, "prices_told", False) or self.prices is None:
            return
        self.app.prices_told = True
        stale = self.prices.stale_notice()
        if stale:
            self.app.notify(stale, title="Hosted prices", severity="warning", timeout=12)
        if self.prices.unpriced:
            self.app.notify("Not priced: " + "; ".join(f"{m} is {why}" for m, why in self.prices.unpriced.items()),
                            title="Hosted prices", severity="warning", timeout=12)

    def pause(self) -> None:
        """Drop a pending count (a reply is about to stream; the screen recounts when it is done)."""
        self._pending = None
        if self._timer is not None:
            self._timer.stop()
            self._timer = None

    def _count_now(self) -> None:
        if self._pending is not None:
            self.measure(*self._pending, self.counter, self.prices)

    @work(thread=True, exclusive=True, exit_on_error=False, group="count")
    def measure(self, session, text: str, options, counter, prices) -> LiveCount | None:
        t0 = time.perf_counter()
        counts = counter.count(text)
        cost = prices.prompt_cost(text)
        ms = (time.perf_counter() - t0) * 1000
        if get_current_worker().is_cancelled:  # a newer text is on its way
            return None
        gauge = memory = error = None
        if isinstance(options, SandboxError):
            error = str(options)
        else:
            try:
                prep = session.prepare(options.replace(text=text)) if text.strip() else session.prepare_empty(options)
                gauge, memory = prep.window.gauge(), session.memory_of(prep)
            except SandboxError as e:
                error = str(e)
        return LiveCount(text, counts, cost, gauge, memory, error, ms)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group != "count":
            return
        if event.state == WorkerState.SUCCESS and event.worker.result is not None:
            self.show_measured(event.worker.result)
        elif event.state == WorkerState.ERROR:
            log.error("counting failed", exc_info=event.worker.error)
            self._set("gauge-info", gauge_error(f"counting failed: {event.worker.error}"))

    def show_measured(self, m: LiveCount) -> None:
        self.measured = m
        name = f"{self.session.model_name} (local)" if self.session else "local"
        self._set("count-info", counts_view(name, m.counts, m.ms))
        self._set("gauge-info", gauge_error(m.error) if m.error else gauge_view(m.gauge, self.inner_width))
        self.show_cost()
        if m.memory is not None:
            what = "the typed prompt" if m.text.strip() else "the next prompt"
            self._set("memory-info", memory_view(m.memory, self.session.history if self.session else [], title=what,
                                                          width=self.inner_width))
        self.post_message(self.Counted(m))

    def on_resize(self) -> None:
        if self.measured is not None:
            self.show_measured(self.measured)

    # ---- the model and each turn ------------------------------------------------------------------

    def show_model(self, session) -> None:
        engine = session.engine
        self.session = session
        self._set("model-info", pairs([
            ("name", session.model_name),
            ("title", session.spec.title),
            ("file", engine.path.name) if engine.path else ("server", engine.describe().get("url")),
            ("n_ctx", fmt.count(engine.n_ctx)),
            ("threads", engine.n_threads) if engine.n_threads else ("counts", "exact" if engine.counts_exact else "≈ estimated"),
            ("load", fmt.ms(engine.load_ms)),
            ("template", engine.chat_template_source),
            ("session", session.id[:12]),
        ]))

    def model_failed(self, message: str) -> None:
        self._set("model-info", Text(message, style="red"))
        self._set("count-info", Text("no model loaded", style="red"))

    def reset(self, session) -> None:
        """A new session: the model stays, the per-turn panels empty."""
        self.show_model(session)
        self.last_cost, self.last_timings, self.session_total, self.last_energy = {}, {}, {}, None
        for id in ("turn-info", "guard-info"):
            self._set(id, dim("no turn yet"))
        self.show_cost()

    def show_started(self, event) -> None:
        """TurnStarted: the window the model sees for this turn, before the first token."""
        if event.memory:
            history = self.session.history if self.session else []
            self._set("memory-info", memory_view(event.memory, history, title="this turn (generating)",
                                                 width=self.inner_width))

    def show_turn(self, turn, session_total: dict | None) -> None:
        """The finished turn (core's Turn)."""
        usage, timings = turn.usage.to_dict(), turn.timings.to_dict()
        finish = turn.finish_reason or ""
        memory = turn.memory
        window = (f"{len(memory.get('kept') or ())} turns in · {len(memory.get('dropped') or ())} dropped"
                  if memory else "—")
        self._set("turn-info", pairs([
            ("prompt", f"{fmt.count(usage.get('prompt_tokens'))} tok"),
            ("cached", f"{fmt.count(usage.get('cached_tokens'))} tok"),
            ("completion", f"{fmt.count(usage.get('completion_tokens'))} tok"),
            ("window", window),
            ("first token", fmt.ms(timings.get("ttft_ms"))),
            ("total", fmt.ms(timings.get("total_ms"))),
            ("speed", fmt.rate(timings.get("tokens_per_s"))),
            ("seed", "—" if turn.seed is None else turn.seed),
            ("finish", Text(finish, style="yellow" if finish in ("length", "cancelled", "blocked") else "")),
        ]))
        self.last_cost, self.last_timings, self.session_total = turn.cost, timings, session_total or {}
        self.last_energy = turn.energy
        self.show_cost()
        self.show_guard(turn.guard, {"input": turn.prompt, "output": turn.output})

    # ---- hosted cost -------------------------------------------------------------------------------

    def show_cost(self, cost: dict | None = None, session_total: dict | None = None) -> None:
        """Per hosted model: the prompt being typed, the last turn (input + output) and the
        session so far (core's PriceTable numbers), then the local run's own time and speed."""
        if cost is not None:
            self.last_cost = cost
        if session_total is not None:
            self.session_total = session_total
        prompt = self.measured.prompt_cost if self.measured and self.measured.text else {}
        turn, total = self.last_cost, self.session_total
        priced = self.prices.prices if self.prices is not None else {}
        unpriced = self.prices.unpriced if self.prices is not None else {}
        models = list(dict.fromkeys([*priced, *prompt, *turn, *total]))
        if not models and not unpriced:
            self._set("cost-info", dim("no hosted models in models.toml [hosted]"))
            return
        saving = any((s.get("saved_usd") or 0) > 0 for s in total.values())
        columns = ("prompt", "turn", "session", *(("saved",) if saving else ()))
        narrow = self.inner_width < NARROW + (10 if saving else 0)
        if narrow:  # the numbers go under each model's name
            t = Text(" ".join(f"{c:>8}" for c in columns) + "\n", style="dim")
        else:
            t = Table(box=None, padding=(0, 1), show_edge=False, expand=True, header_style="dim", collapse_padding=True)
            t.add_column("model", overflow="ellipsis", no_wrap=True, ratio=1)
            for name in columns:
                t.add_column(name, justify="right", no_wrap=True, style="green" if name == "saved" else "")
        approx = False
        for model in models:
            p, c, s = prompt.get(model) or {}, turn.get(model) or {}, total.get(model) or {}
            exact = all(x.get("exact", True) for x in (p, c, s))
            approx = approx or not exact
            mark = "" if exact else ("≈ ", "yellow")
            amounts = (money(p.get("input_usd")) if p else "—", money(c.get("usd")) if c else "—",
                       money(s.get("usd")) if s else "—")
            if saving:
                amounts += (money(s.get("saved_usd")) if s.get("saved_usd") else "—",)
            if narrow:
                t.append_text(Text.assemble(mark, (model, "bold"), "\n"))
                t.append(" ".join(f"{a:>8}" for a in amounts) + "\n")
            else:
                t.add_row(Text.assemble(mark, model), *amounts)  # ≈ first: a long name's end may be cut
        parts: list = [t]
        for model in unpriced:  # the notification at start-up says why and what to do
            parts.append(Text.assemble((model, "yellow"), (" not priced: not in the price snapshot (sandbox prices)", "dim")))
        if approx:
            parts.append(Text.assemble(("≈", "yellow"), (" stand-in tokenizer count", "dim")))
        if saving:
            parts.append(Text("saved: cached input at the cache-read rate, this session", style="dim"))
        if self.prices is not None and self.prices.sources():
            parts.append(Text.assemble(("prices ", "dim"), " · ".join(
                f"{what} {when or 'undated'}" for what, when in self.prices.sources())))
        if turn:  # token counts depend only on the encoding: one entry per encoding, input+output
            counted = {c.get("encoding"): (c.get("input_tokens"), c.get("output_tokens"), c.get("cached_tokens"))
                       for c in turn.values()}
            parts.append(Text.assemble(("turn ", "dim"), *(
                Text.assemble((" · " if i else "", "dim"), (f"{enc or '?'} ", "dim"), f"{fmt.count(a)}+{fmt.count(b)}",
                              (f" ({fmt.count(k)} cached)", "dim") if k else "")
                for i, (enc, (a, b, k)) in enumerate(counted.items()))))
        if self.last_timings:
            parts.append(Text.assemble(("local ", "dim"), fmt.ms(self.last_timings.get("total_ms")), " · ",
                                       fmt.rate(self.last_timings.get("tokens_per_s"))))
            e = self.last_energy
            parts.append(Text.assemble(("energy: ", "dim"), f"{e['wh']:.4f} Wh · {fmt.usd(e['usd'])}",
                                       (f" at {e.get('watts')} W", "dim")) if e else
                         Text("energy: off · config.toml [energy]", style="dim"))
        self._set("cost-info", Group(*parts))

    # ---- guard ---------------------------------------------------------------------------------------

    def show_guard(self, guard: dict, texts: dict | None = None) -> None:
        """`texts`: the logged input and output, to show each finding's span in context."""
        findings = [(stage, f) for stage in ("input", "output") for f in guard.get(stage) or []]
        off = guard.get("disabled") or []
        learned_off = guard.get("learned_off")
        if not findings and not guard.get("errors"):
            msg = Text("nothing found", style="green")
            if off:
                msg.append(f"\noff: {', '.join(off)} (Ctrl+G)", style="yellow")
            if learned_off:
                msg.append(f"\nlearned layer off: {learned_off}", style="yellow")
            self._set("guard-info", msg)
            return
        t = Table(box=None, padding=(0, 1), show_edge=False, expand=True, header_style="dim")
        t.add_column("rule", overflow="fold", ratio=1)
        t.add_column("action")
        t.add_column("score", justify="right")
        for stage, f in findings:
            score = f.get("score")
            t.add_row(Text.assemble((f"{stage[:3]} ", "dim"), f.get("rule") or "", (f" {f.get('category') or ''}", "dim")),
                      Text(f.get("action") or "", style=ACTION_STYLE.get(f.get("action"), "")),
                      "—" if score is None else f"{score:.2f}")
        for err in guard.get("errors") or []:
            t.add_row(Text(str(err), style="red"), "", "")
        parts = [t]
        for stage, f in findings:
            excerpt = span_excerpt((texts or {}).get(stage), f, guard.get(stage) or [])
            if excerpt is not None:
                parts.append(excerpt)
            parts += neighbour_lines(f)
        if off:
            parts.append(Text(f"off: {', '.join(off)} (Ctrl+G)", style="yellow"))
        if learned_off:
            parts.append(Text(f"learned layer off: {learned_off}", style="yellow"))
        self._set("guard-info", Group(*parts) if len(parts) > 1 else t)


def neighbour_lines(finding: dict, width: int = 60) -> list[Text]:
    """Why a learned head fired: the labelled training examples nearest to the text it scored."""
    out = []
    near = finding.get("neighbours") or []
    if near:
        out.append(Text(f"  {finding.get('rule')}: nearest training examples", style="dim"))
    for n in near:
        text = " ".join(str(n.get("text", "")).split())
        text = text if len(text) <= width else text[: width - 1] + "…"
        out.append(Text.assemble(("   ", ""), (f"{n.get('similarity', 0):.2f} ", "bold"),
                                 (f"{n.get('label', '')} ", "magenta"), (f"“{text}”", "")))
    return out


def span_excerpt(text: str | None, finding: dict, stage_findings: list[dict], context: int = 24) -> Text | None:
    """The finding's span highlighted in the logged text. Redaction shifts offsets (and the log has
    only the redacted text), so a stage with redactions shows no excerpts rather than wrong ones."""
    span = finding.get("span")
    if not text or not span or any(f.get("action") == "redact" for f in stage_findings):
        return None
    start, end = span
    if not 0 <= start < end <= len(text):
        return None
    out = Text("  …" if start > context else "  ", style="dim")
    out.append(text[max(0, start - context):start].replace("\n", " "))
    out.append(text[start:end].replace("\n", " "), style="bold reverse " + ACTION_STYLE.get(finding.get("action"), ""))
    out.append(text[end:end + context].replace("\n", " "))
    out.append("…" if end + context < len(text) else "", style="dim")
    return out
