"""Right column: the model, the last turn's numbers, memory, hosted cost and guard findings —
all read from the session and the turn object core produced."""

from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Label, Static

from sandbox.tui import format as fmt

ACTION_STYLE = {"allow": "green", "warn": "yellow", "redact": "magenta", "block": "bold red"}


def pairs(rows: list[tuple[str, object]]) -> Table:
    """Key/value lines that wrap inside a narrow column."""
    t = Table.grid(padding=(0, 1))
    t.add_column(style="dim", no_wrap=True)
    t.add_column(overflow="fold")
    for k, v in rows:
        t.add_row(k, v if isinstance(v, Text) else Text(str(v)))
    return t


class Inspector(VerticalScroll):
    BORDER_TITLE = "Inspector"

    def compose(self) -> ComposeResult:
        yield Label("Model", classes="section")
        yield Static(Text("loading…", style="dim italic"), id="model-info")
        yield Label("Last turn", classes="section")
        yield Static(Text("no turn yet", style="dim italic"), id="turn-info")
        yield Label("Memory", classes="section")
        yield Static(Text("no turn yet", style="dim italic"), id="memory-info")
        yield Label("Hosted cost (estimate)", classes="section")
        yield Static(Text("no turn yet", style="dim italic"), id="cost-info")
        yield Label("Guard findings", classes="section")
        yield Static(Text("no turn yet", style="dim italic"), id="guard-info")
        yield Label("Live tokens & context gauge", classes="section")
        yield Static("coming in a later issue: token counts while you type, and the context gauge",
                     classes="coming")

    def _set(self, id: str, renderable) -> None:
        self.query_one(f"#{id}", Static).update(renderable)

    def show_model(self, session) -> None:
        engine = session.engine
        self._set("model-info", pairs([
            ("name", session.model_name),
            ("title", session.spec.title),
            ("file", engine.path.name),
            ("n_ctx", fmt.count(engine.n_ctx)),
            ("threads", engine.n_threads),
            ("load", fmt.ms(engine.load_ms)),
            ("template", engine.chat_template_source),
            ("session", session.id[:12]),
        ]))

    def model_failed(self, message: str) -> None:
        self._set("model-info", Text(message, style="red"))

    def reset(self, session) -> None:
        """A new session: the model stays, the per-turn panels empty."""
        self.show_model(session)
        for id in ("turn-info", "memory-info", "cost-info", "guard-info"):
            self._set(id, Text("no turn yet", style="dim italic"))

    def show_started(self, event) -> None:
        """TurnStarted: the memory window is known before the first token."""
        self.show_memory(event.memory)

    def show_memory(self, memory: dict) -> None:
        if not memory:
            self._set("memory-info", Text("not used (blocked turn)", style="dim italic"))
            return
        rows = [
            ("window", f"{memory.get('window_turns', 0)} turns in"),
            ("dropped", f"{memory.get('dropped_turns', 0)} turns"),
            ("tokens", f"{fmt.count(memory.get('window_tokens'))} of {fmt.count(memory.get('budget'))} budget"),
        ]
        if memory.get("dropped"):
            rows.append(("out", ", ".join(f"#{i}" for i in memory["dropped"])))
        self._set("memory-info", pairs(rows))

    def show_turn(self, turn: dict, session_total: dict | None) -> None:
        usage, timings = turn.get("usage") or {}, turn.get("timings") or {}
        finish = turn.get("finish_reason") or ""
        self._set("turn-info", pairs([
            ("prompt", f"{fmt.count(usage.get('prompt_tokens'))} tok"),
            ("cached", f"{fmt.count(usage.get('cached_tokens'))} tok"),
            ("completion", f"{fmt.count(usage.get('completion_tokens'))} tok"),
            ("first token", fmt.ms(timings.get("ttft_ms"))),
            ("total", fmt.ms(timings.get("total_ms"))),
            ("speed", fmt.rate(timings.get("tokens_per_s"))),
            ("seed", "—" if turn.get("seed") is None else turn["seed"]),
            ("finish", Text(finish, style="yellow" if finish in ("length", "cancelled", "blocked") else "")),
        ]))
        self.show_memory(turn.get("memory") or {})
        self.show_cost(turn.get("cost") or {}, session_total)
        self.show_guard(turn.get("guard") or {})

    def show_cost(self, cost: dict, session_total: dict | None) -> None:
        """This turn's cost and the session's, per hosted model (core's PriceTable numbers)."""
        total = session_total or {}
        if not cost and not total:
            self._set("cost-info", Text("no cost for this turn", style="dim italic"))
            return
        # Token counts depend only on the encoding: one line per encoding, not per model.
        counted = {c.get("encoding"): (c.get("input_tokens"), c.get("output_tokens")) for c in cost.values()}
        lines = Text()
        for enc, (n_in, n_out) in counted.items():
            lines.append(f"{enc or '?'}: ", style="dim")
            lines.append(f"{fmt.count(n_in)} in · {fmt.count(n_out)} out\n")
        t = Table(box=None, padding=(0, 1), show_edge=False, expand=True, header_style="dim", collapse_padding=True)
        t.add_column("model", overflow="ellipsis", no_wrap=True, ratio=1)
        t.add_column("", width=1)
        t.add_column("turn", justify="right", no_wrap=True)
        t.add_column("session", justify="right", no_wrap=True)
        for model in dict.fromkeys([*cost, *total]):
            c, s = cost.get(model) or {}, total.get(model) or {}
            exact = c.get("exact", True) and s.get("exact", True)
            t.add_row(model, "" if exact else Text("≈", style="yellow"),
                      fmt.usd(c.get("usd")) if c else "—", fmt.usd(s.get("usd")) if s else "—")
        note = Text.assemble(("≈", "yellow"), (" counted with a stand-in tokenizer", "dim")) if any(
            not c.get("exact", True) for c in [*cost.values(), *total.values()]) else Text("")
        self._set("cost-info", Group(lines, t, note))

    def show_guard(self, guard: dict) -> None:
        findings = [(stage, f) for stage in ("input", "output") for f in guard.get(stage) or []]
        if not findings and not guard.get("errors"):
            self._set("guard-info", Text("nothing found", style="green"))
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
        self._set("guard-info", t)
