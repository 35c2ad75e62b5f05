"""Compare: one input through several strategies, the results side by side as they stream; or a
whole eval suite (prompts/suites/) on the loaded model, shown as its matrix with intervals and
paired verdicts.

Built on the app's loaded Session (its engine, log and guard policy): no second model. The model
work runs in a thread worker that only posts messages; each run is one "compare" log session."""

from __future__ import annotations

import logging
import threading

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Button, Checkbox, Footer, Input, Label, Select, Static
from textual.worker import Worker, WorkerState

from sandbox.core.compare import CompareDone, StrategyEvent, StrategyFinished, CompareStrategyStarted, compare
from sandbox.core.errors import SandboxError
from sandbox.core.strategies import DEFAULT_SAMPLES, STRATEGIES, n_samples
from sandbox.tui.widgets.compare import CompareColumns
from sandbox.tui.widgets.suite import SuiteMatrix

log = logging.getLogger("sandbox.tui")
NO_TEMPLATE = "(none)"
DEFAULT_CHECKED = ("zero-shot", "cot")


class CompareEvent(Message):
    """One event of `sandbox.core.compare.compare()`, in the order core yielded it."""

    def __init__(self, event) -> None:
        super().__init__()
        self.event = event


class SuiteEvent(Message):
    """One event of `sandbox.core.suites.runner.run()`, in the order core yielded it."""

    def __init__(self, event) -> None:
        super().__init__()
        self.event = event


class CompareScreen(Screen):
    BINDINGS = [
        Binding("escape", "cancel_or_close", "Cancel / back"),
        Binding("ctrl+r", "run", "Run"),
        Binding("ctrl+u", "run_suite", "Run suite"),
    ]
    DEFAULT_CSS = """
    CompareScreen #compare-form { height: auto; border: round $panel-lighten-2; padding: 0 1; }
    CompareScreen #compare-form > Horizontal { height: auto; }
    CompareScreen #compare-text { width: 1fr; }
    CompareScreen #compare-template { width: 24; }
    CompareScreen #compare-run { min-width: 9; }
    CompareScreen .compare-label { padding: 0 1 0 0; height: 1; margin-top: 0; color: $text-muted; }
    CompareScreen #compare-samples, CompareScreen #compare-max-tokens { width: 8; }
    CompareScreen #suite-name { width: 24; }
    CompareScreen #suite-repeat, CompareScreen #suite-limit { width: 6; }
    CompareScreen #suite-run { min-width: 13; }
    CompareScreen Checkbox { height: 1; border: none; padding: 0 1 0 0; }
    CompareScreen #compare-status { height: 1; color: $text-muted; padding: 0 1; }
    CompareScreen #compare-results { height: 1fr; }
    """

    def __init__(self, session) -> None:
        super().__init__()
        self.session = session
        self.cancel_event: threading.Event | None = None
        self.running = False
        self.columns: CompareColumns | None = None
        self.matrix: SuiteMatrix | None = None
        self.report = None  # the newest suite run's SuiteReport

    def compose(self) -> ComposeResult:
        with Vertical(id="compare-form"):
            with Horizontal():
                yield Input(placeholder="one input for every strategy — Enter runs", compact=True, id="compare-text")
                yield Select([(NO_TEMPLATE, NO_TEMPLATE)], value=NO_TEMPLATE, allow_blank=False, compact=True,
                             id="compare-template")
                yield Button("Run", id="compare-run", variant="primary", compact=True)
            with Horizontal():
                for name in STRATEGIES:
                    yield Checkbox(name, value=name in DEFAULT_CHECKED, compact=True, id=f"use-{name}")
                yield Label("samples", classes="compare-label")
                yield Input(str(DEFAULT_SAMPLES), compact=True, id="compare-samples")
                yield Label("max tokens", classes="compare-label")
                yield Input(str(self.session.defaults.max_tokens), compact=True, id="compare-max-tokens")
            with Horizontal():
                yield Label("suite", classes="compare-label")
                yield Select([], allow_blank=True, compact=True, id="suite-name")
                yield Label("repeat", classes="compare-label")
                yield Input("1", compact=True, id="suite-repeat")
                yield Label("limit", classes="compare-label")
                yield Input("", placeholder="all", compact=True, id="suite-limit")
                yield Button("Run suite", id="suite-run", compact=True)
        yield Static("pick strategies, type an input, Enter runs · Escape cancels, then goes back", id="compare-status")
        yield Vertical(id="compare-results")
        yield Footer()

    def on_mount(self) -> None:
        from sandbox.core.templates import list_templates

        self.query_one("#compare-form").border_title = f"Compare strategies · {self.session.spec.title}"
        names = [t.name for t in list_templates() if t.pickable]
        self.query_one("#compare-template", Select).set_options(
            [(NO_TEMPLATE, NO_TEMPLATE), *((n, n) for n in names)])
        from sandbox.core.suites.suite import list_suites

        suites = [name for name, _ in list_suites()]
        picker = self.query_one("#suite-name", Select)
        picker.set_options([(n, n) for n in suites])
        if suites:
            picker.value = "math" if "math" in suites else suites[0]
        self.query_one("#compare-text", Input).focus()

    # ---- the form -----------------------------------------------------------------------------------

    def chosen(self) -> list[str]:
        return [name for name in STRATEGIES if self.query_one(f"#use-{name}", Checkbox).value]

    def request(self) -> dict:
        """The form as compare() arguments; SandboxError names the field that is wrong."""
        text = self.query_one("#compare-text", Input).value
        if not text.strip():
            raise SandboxError("type an input first: every checked strategy gets the same text")
        strategies = self.chosen()
        if not strategies:
            raise SandboxError("check at least one strategy")
        template = self.query_one("#compare-template", Select).value
        samples = None
        if "self-consistency" in strategies:
            raw = self.query_one("#compare-samples", Input).value.strip()
            try:
                samples = n_samples("self-consistency", int(raw))
            except ValueError:
                raise SandboxError(f"samples = {raw!r} is not a whole number") from None
        raw = self.query_one("#compare-max-tokens", Input).value.strip()
        try:
            max_tokens = int(raw)
        except ValueError:
            raise SandboxError(f"max tokens = {raw!r} is not a whole number") from None
        params = self.session.defaults.with_(max_tokens=max_tokens).validated()
        return {"text": text, "strategies": strategies, "template": None if template == NO_TEMPLATE else template,
                "samples": samples, "params": params}

    # ---- intents ------------------------------------------------------------------------------------

    @on(Input.Submitted, "#compare-text")
    @on(Button.Pressed, "#compare-run")
    async def on_run_requested(self, event) -> None:
        event.stop()
        await self.action_run()

    async def action_run(self) -> None:
        if self.running:
            self.notify("a comparison is running — Escape cancels it", severity="warning")
            return
        try:
            req = self.request()
        except SandboxError as e:
            self.notify(str(e), title="not run", severity="error", timeout=8)
            return
        results = self.query_one("#compare-results", Vertical)
        await results.remove_children()
        self.columns = CompareColumns(req["strategies"], id="compare-columns")
        await results.mount(self.columns)
        self.cancel_event = threading.Event()
        self.running = True
        self.status(f"running {len(req['strategies'])} strategies one after another…")
        self.run_compare(req, self.cancel_event)

    def action_cancel_or_close(self) -> None:
        if self.running and self.cancel_event is not None:
            self.cancel_event.set()
            self.status("cancelling at the next token…")
        elif not self.running:
            self.app.pop_screen()

    def on_unmount(self) -> None:
        # Leaving (or quitting) mid-run: stop generating at the next token so the app can exit.
        if self.cancel_event is not None:
            self.cancel_event.set()

    def status(self, text: str) -> None:
        self.query_one("#compare-status", Static).update(text)

    # ---- a suite --------------------------------------------------------------------------------------

    def suite_request(self):
        """The suite form as a checked SuitePlan; SandboxError names the field that is wrong."""
        from sandbox.core.suites import runner, suite as suites

        name = self.query_one("#suite-name", Select).value
        if not isinstance(name, str):
            raise SandboxError("pick a suite first (prompts/suites/NAME.toml)")
        values = {}
        for field in ("repeat", "limit"):
            raw = self.query_one(f"#suite-{field}", Input).value.strip()
            try:
                values[field] = int(raw) if raw else None
            except ValueError:
                raise SandboxError(f"{field} = {raw!r} is not a whole number") from None
        strategies = self.chosen() or None
        return runner.plan(suites.load(name), strategies=strategies, repeat=values["repeat"], limit=values["limit"])

    @on(Button.Pressed, "#suite-run")
    async def on_suite_requested(self, event) -> None:
        event.stop()
        await self.action_run_suite()

    async def action_run_suite(self) -> None:
        if self.running:
            self.notify("a run is going — Escape cancels it", severity="warning")
            return
        try:
            plan = self.suite_request()
        except SandboxError as e:
            self.notify(str(e), title="suite not run", severity="error", timeout=8)
            return
        results = self.query_one("#compare-results", Vertical)
        await results.remove_children()
        self.columns = None
        self.matrix = SuiteMatrix(f"suite {plan.suite.name} · {plan.describe()}", id="suite-matrix")
        await results.mount(self.matrix)
        self.cancel_event = threading.Event()
        self.running = True
        self.status(f"suite {plan.suite.name}: {plan.turns} turns · Escape cancels (finished rows are kept)")
        self.run_suite(plan, self.cancel_event)

    def _open_model(self, name):
        if name not in (None, self.session.spec.name):
            raise SandboxError(f"the TUI runs suites on its loaded model ({self.session.spec.name}); "
                               f"run `sandbox eval` for {name}")
        return self.session

    @work(thread=True, exclusive=True, exit_on_error=False, group="compare")
    def run_suite(self, plan, cancel: threading.Event) -> None:
        from sandbox.core.suites import runner
        from sandbox.core.suites.cache import ResultCache

        cache = ResultCache()
        try:
            for event in runner.run(plan, self._open_model, cache, cancel):
                self.post_message(SuiteEvent(event))
        finally:
            cache.close()

    def on_suite_event(self, message: "SuiteEvent") -> None:
        from sandbox.core.suites import runner

        event = message.event
        if self.matrix is None:
            return
        if isinstance(event, (runner.CellStarted, runner.CellFinished)):
            self.matrix.show_cell(event.index, event.cell)
        elif isinstance(event, runner.RowFinished):
            self.matrix.show_cell(event.index, self.matrix.cells[event.index])
            self.status(f"{self.matrix.cells[event.index].label}: {event.done}/{event.total} turns · Escape cancels")
        elif isinstance(event, runner.SuiteDone):
            self.report = event.report
            self.matrix.show_report(event.report)
            hit = event.report.hit_rate
            self.status(("cancelled: partial results" if event.report.cancelled else "done")
                        + (f" · cache hit rate {hit:.0%}" if hit is not None else "")
                        + " · Enter on a cell opens its session")
            self.query_one("#suite-table").focus()

    def on_suite_matrix_open_session(self, message: SuiteMatrix.OpenSession) -> None:
        from sandbox.tui.screens.sessions import ReplayScreen

        self.app.push_screen(ReplayScreen(message.session_id))

    # ---- the worker ---------------------------------------------------------------------------------

    @work(thread=True, exclusive=True, exit_on_error=False, group="compare")
    def run_compare(self, req: dict, cancel: threading.Event) -> None:
        for event in compare(self.session, req["text"], req["strategies"], template=req["template"],
                             params=req["params"], samples=req["samples"], cancel=cancel):
            self.post_message(CompareEvent(event))

    async def on_compare_event(self, message: CompareEvent) -> None:
        event = message.event
        if self.columns is None:
            return
        if isinstance(event, CompareStrategyStarted):
            await self.columns.column(event.index).started()
            self.status(f"{event.strategy} ({event.index + 1} of {len(self.columns.strategies)})… · Escape cancels")
        elif isinstance(event, StrategyEvent):
            await self.columns.column(event.index).apply(event.event)
        elif isinstance(event, StrategyFinished):
            await self.columns.column(event.index).finished(event.result)
        elif isinstance(event, CompareDone):
            for col in self.columns.query("CompareColumn"):
                if col.result is None:
                    await col.failed("not run (cancelled)")
            done = "cancelled" if event.cancelled else "done"
            seed = f" · seed {event.results[0].seed}" if event.results else ""
            self.status(f"{done}{seed} · logged as session {event.session_id[:12]} (sandbox log show {event.session_id[:12]})")

    async def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group != "compare" or event.state not in (WorkerState.SUCCESS, WorkerState.ERROR,
                                                                  WorkerState.CANCELLED):
            return
        self.running = False
        if event.state == WorkerState.ERROR:
            error = event.worker.error
            if isinstance(error, SandboxError):
                message = str(error)
                self.notify(message, title="compare", severity="error", timeout=10)
            else:
                log.error("unexpected error in the compare worker", exc_info=error)
                message = f"{type(error).__name__}: {error}"
                self.notify(f"Unexpected error — {message}", title="compare", severity="error", timeout=15)
            self.status(message)
            if self.columns is not None:
                for col in self.columns.query("CompareColumn"):
                    if col.result is None:
                        await col.failed("not run")
