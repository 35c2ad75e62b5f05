"""The Sessions screen (browse, search, filter, open) and the Replay screen (a logged session turn
by turn, as logged; `r` re-runs it and shows a verdict and diff per turn).

Thin: every read and every comparison is core/replay's; workers call it and post messages.
`SessionsScreen()` takes no arguments and reads the default log (SANDBOX_HOME)."""

from __future__ import annotations

import logging
import threading
import time

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Input, Select, Static
from textual.worker import Worker, WorkerState

from sandbox.core import numbers as fmt
from sandbox.core.errors import SandboxError
from sandbox.tui.widgets.sessions import LoggedTurnPanel, RerunPanel

log = logging.getLogger("sandbox.tui")

STRATEGIES = ("zero-shot", "few-shot", "cot", "self-consistency")
SINCE = ("today", "7 days", "30 days")
PROGRESS_EVERY_S = 0.1  # token progress reaches the screen at most this often


def report(screen: Screen, error: BaseException | None) -> str:
    """A worker failure as a notice: core's sentence, or one line (traceback to the log)."""
    if isinstance(error, SandboxError):
        screen.notify(str(error), title="sandbox", severity="error", timeout=10)
        return str(error)
    log.error("unexpected error in a sessions worker", exc_info=error)
    line = f"{type(error).__name__}: {error}"
    screen.notify(f"Unexpected error — {line}", title="sandbox", severity="error", timeout=15)
    return line


class SessionsScreen(Screen):
    """Logged sessions, newest first. Type to search prompts and outputs; Enter opens one."""

    DEFAULT_CSS = """
    SessionsScreen #sessions-filters { height: auto; padding: 0 1; }
    SessionsScreen #sessions-search { width: 1fr; }
    SessionsScreen #sessions-filters Select { width: 24; }
    SessionsScreen #sessions-table { height: 1fr; margin: 0 1; }
    SessionsScreen #sessions-status { color: $text-muted; padding: 0 1; }
    """
    BINDINGS = [
        Binding("escape", "back", "Back"),
        Binding("slash", "focus_search", "Search"),
        Binding("ctrl+r", "refresh", "Refresh"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[dict] = []
        self.models_seen: set[str] = set()

    def compose(self) -> ComposeResult:
        with Horizontal(id="sessions-filters"):
            yield Input(placeholder="search prompts and outputs…", id="sessions-search")
            yield Select([], prompt="any model", id="sessions-model")
            yield Select([(s, s) for s in STRATEGIES], prompt="any strategy", id="sessions-strategy")
            yield Select([(s, s) for s in SINCE], prompt="any time", id="sessions-since")
        table = DataTable(id="sessions-table", cursor_type="row", zebra_stripes=True)
        table.add_columns("Title", "Model", "Turns", "Date", "Cost", "Strategies")
        yield table
        yield Static("loading…", id="sessions-status")
        yield Footer()

    @property
    def table(self) -> DataTable:
        return self.query_one("#sessions-table", DataTable)

    def on_mount(self) -> None:
        self.title = "Sessions"
        self.table.focus()
        self.action_refresh()

    def on_screen_resume(self) -> None:
        if self.is_mounted:
            self.action_refresh()  # a re-run may have added a session

    # ---- the list -------------------------------------------------------------------------------

    def filters(self) -> dict:
        def value(id: str):
            v = self.query_one(f"#{id}", Select).value
            return v if isinstance(v, str) else None  # not a choice: the blank entry

        return {"search": self.query_one("#sessions-search", Input).value.strip() or None,
                "model": value("sessions-model"), "strategy": value("sessions-strategy"),
                "since": value("sessions-since")}

    def action_refresh(self) -> None:
        self.load_sessions(self.filters())

    @work(thread=True, exclusive=True, exit_on_error=False, group="list")
    def load_sessions(self, filters: dict) -> tuple[dict, list[dict]]:
        from sandbox.core import replay

        return filters, replay.list_sessions(**filters)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group != "list":
            return
        if event.state == WorkerState.ERROR:
            self.query_one("#sessions-status", Static).update(Text(report(self, event.worker.error), style="red"))
        elif event.state == WorkerState.SUCCESS:
            filters, rows = event.worker.result
            self.show_rows(filters, rows)

    def show_rows(self, filters: dict, rows: list[dict]) -> None:
        self.rows = rows
        table = self.table
        table.clear()
        for r in rows:
            cost = fmt.usd(r["cost_usd"]) + f" {r['cost_model']}" if r.get("cost_model") else "—"
            title = r.get("title") or "(untitled)"
            if r.get("parent_id"):
                title = f"↻ {title}"
            table.add_row(title, r.get("model") or "", str(r["turns"]), fmt.local_time(r.get("created_at")), cost,
                          ", ".join(r.get("strategies") or []), key=r["session_id"])
        new_models = {r["model"] for r in rows if r.get("model")} - self.models_seen
        if new_models:
            self.models_seen |= new_models
            select = self.query_one("#sessions-model", Select)
            current = select.value
            select.set_options([(m, m) for m in sorted(self.models_seen)])
            if isinstance(current, str):
                select.value = current
        active = [f"{k} {v!r}" for k, v in filters.items() if v]
        status = f"{len(rows)} session{'s' if len(rows) != 1 else ''}"
        status += (" matching " + ", ".join(active)) if active else ""
        status += " · Enter opens · / searches · Escape goes back" if rows else (
            "" if active else " · nothing logged yet: send a prompt from the main screen or `sandbox run`")
        self.query_one("#sessions-status", Static).update(status)

    @on(Input.Changed, "#sessions-search")
    @on(Select.Changed)
    def filters_changed(self) -> None:
        self.action_refresh()

    @on(Input.Submitted, "#sessions-search")
    def search_submitted(self) -> None:
        self.table.focus()

    @on(DataTable.RowSelected, "#sessions-table")
    def open_session(self, event: DataTable.RowSelected) -> None:
        self.app.push_screen(ReplayScreen(event.row_key.value))

    def action_focus_search(self) -> None:
        self.query_one("#sessions-search", Input).focus()

    def action_back(self) -> None:
        if self.app.screen is self and len(self.app.screen_stack) > 1:
            self.app.pop_screen()


class ReplayScreen(Screen):
    """One logged session, a turn at a time, exactly as logged. No model runs until `r`."""

    DEFAULT_CSS = """
    ReplayScreen #replay-header { padding: 0 1; background: $boost; height: auto; }
    ReplayScreen #replay-body { height: 1fr; }
    """
    BINDINGS = [
        Binding("escape", "back", "Back / cancel re-run"),
        Binding("n,right", "next", "Next turn"),
        Binding("p,left", "prev", "Previous turn"),
        Binding("r", "rerun", "Re-run"),
        Binding("c", "continue_session", "Continue here"),
    ]

    class RerunEvent(Message):
        """An event of core's re-run (or a token-progress count), from the worker thread."""

        def __init__(self, event=None, tokens: int | None = None) -> None:
            super().__init__()
            self.event = event
            self.tokens = tokens

    def __init__(self, session_id: str) -> None:
        super().__init__()
        self.session_id = session_id
        self.replay = None
        self.results: dict[int, dict] = {}  # turn idx -> re-run verdict
        self.rerun_result: dict | None = None
        self.cancel_event: threading.Event | None = None
        self.running = False
        self.current_idx: int | None = None
        self._lines: list[tuple[dict, str]] = []  # verdict lines of the running re-run
        self._running_idx: int | None = None

    def compose(self) -> ComposeResult:
        yield Static("loading…", id="replay-header", markup=False)
        with Horizontal(id="replay-body"):
            yield LoggedTurnPanel(id="replay-turn")
            yield RerunPanel(self.model_names(), id="replay-rerun")
        yield Footer()

    @staticmethod
    def model_names() -> list[str]:
        """Models a re-run may use (models.toml is small: read it here, not in a worker)."""
        from sandbox.core import config

        try:
            return sorted(config.load().models)
        except SandboxError:
            return []  # the re-run itself will say what is wrong with the file

    @property
    def turn_panel(self) -> LoggedTurnPanel:
        return self.query_one(LoggedTurnPanel)

    @property
    def rerun_panel(self) -> RerunPanel:
        return self.query_one(RerunPanel)

    def on_mount(self) -> None:
        self.title = f"Replay {self.session_id[:12]}"
        self.turn_panel.focus()
        self.load_replay(self.session_id)

    def on_unmount(self) -> None:
        if self.cancel_event is not None:
            self.cancel_event.set()

    # ---- workers ----------------------------------------------------------------------------------

    @work(thread=True, exclusive=True, exit_on_error=False, group="load")
    def load_replay(self, session_id: str):
        from sandbox.core import replay

        return replay.load(session_id)

    @work(thread=True, exclusive=True, exit_on_error=False, group="rerun")
    def run_rerun(self, session_id: str, model: str | None, overrides: dict, cancel: threading.Event) -> dict:
        from sandbox.core import replay
        from sandbox.core.events import Token

        loaded = getattr(self.app, "session", None)  # the main screen's model (absent in a bare host app): reused when it fits
        run = replay.rerun(session_id, model=model, overrides=overrides, cancel=cancel,
                           loaded=(loaded.spec.name, loaded.engine) if loaded is not None else None)
        tokens, last = 0, 0.0
        for event in run:
            if isinstance(event, Token):
                tokens += 1
                now = time.monotonic()
                if now - last >= PROGRESS_EVERY_S:
                    last = now
                    self.post_message(self.RerunEvent(tokens=tokens))
                continue
            if type(event).__name__ == "TurnStarted":
                tokens = 0
            self.post_message(self.RerunEvent(event))
        return run.result

    async def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        worker, state = event.worker, event.state
        if state not in (WorkerState.SUCCESS, WorkerState.ERROR, WorkerState.CANCELLED):
            return
        if worker.group == "load":
            if state == WorkerState.SUCCESS:
                self.replay = worker.result
                self.query_one("#replay-header", Static).update(self.replay.header())
                await self.show_current()
            elif state == WorkerState.ERROR:
                message = report(self, worker.error)
                self.query_one("#replay-header", Static).update(message)
        elif worker.group == "rerun":
            self.running = False
            if state == WorkerState.ERROR:
                self.rerun_panel.status(f"re-run failed: {report(self, worker.error)}", "red")
            elif state == WorkerState.CANCELLED:
                self.rerun_panel.status("re-run cancelled", "yellow")

    # ---- showing ----------------------------------------------------------------------------------

    async def show_current(self) -> None:
        from sandbox.core import replay

        turn = self.replay.current if self.replay else None
        if turn is None:
            await self.turn_panel.show("this session has no turns", [])
            return
        self.current_idx = turn.idx
        n = len(self.replay.turns)
        title = f"turn {turn.idx} · {self.replay.position + 1} of {n} · {turn.get('finish_reason')}"
        if turn.get("blocked"):
            title += " · BLOCKED"
        result = self.results.get(turn.idx)
        rerun = (result, replay.verdict_line(result)) if result else None
        await self.turn_panel.show(title + "   (n/p or ←/→ to step)", turn.sections(), rerun)

    async def on_replay_screen_rerun_event(self, message: RerunEvent) -> None:
        from sandbox.core import replay

        panel = self.rerun_panel
        ev = message.event
        if ev is None:
            panel.status(f"turn {self._running_idx} … {message.tokens} tokens")
            return
        if isinstance(ev, replay.RerunStarted):
            panel.started(ev.warnings)
            expect = "exact reproduction expected" if ev.reproduction_expected else "identical output not expected"
            panel.status(f"re-running {ev.turns} turns on {ev.model} ({expect}) · loading the model…")
        elif type(ev).__name__ == "TurnStarted":
            self._running_idx = ev.idx
            panel.status(f"turn {ev.idx} …")
        elif isinstance(ev, replay.TurnSkipped):
            self._lines.append(({"verdict": "skipped"}, f"turn {ev.idx}: skipped — {ev.reason}"))
            panel.verdicts(self._lines)
        elif isinstance(ev, replay.TurnCompared):
            self.results[ev.result["idx"]] = ev.result
            self._lines.append((ev.result, replay.verdict_line(ev.result)))
            panel.verdicts(self._lines)
            if ev.result["idx"] == self.current_idx:
                await self.show_current()
        elif isinstance(ev, replay.RerunDone):
            self.rerun_result = ev.result
            panel.status("done" if not ev.result["cancelled"] else "cancelled", "dim")
            panel.summary(replay.summary_line(ev.result))

    # ---- intents ----------------------------------------------------------------------------------

    async def action_next(self) -> None:
        if self.replay:
            self.replay.next()
            await self.show_current()

    async def action_prev(self) -> None:
        if self.replay:
            self.replay.prev()
            await self.show_current()

    @on(Input.Submitted, "#rerun-temperature, #rerun-seed")
    def rerun_submitted(self) -> None:
        self.action_rerun()

    def action_rerun(self) -> None:
        if self.replay is None:
            return
        if self.running:
            self.notify("a re-run is already running — Escape cancels it", severity="warning")
            return
        try:
            model, overrides = self.rerun_panel.choices()
        except ValueError as e:
            self.notify(str(e), title="not re-run", severity="error")
            return
        self.running = True
        self.results = {}
        self._lines = []
        self._running_idx = None
        self.cancel_event = threading.Event()
        self.rerun_panel.status("starting…")
        self.run_rerun(self.replay.session_id, model, overrides, self.cancel_event)

    async def action_continue_session(self) -> None:
        """Back to the main screen with this session loaded: new turns continue it."""
        if self.running:
            self.notify("a re-run is still running — Escape cancels it first", severity="warning")
            return
        from sandbox.tui.screens.main import MainScreen

        while not isinstance(self.app.screen, MainScreen):
            self.app.pop_screen()
        await self.app.screen.resume(self.session_id)

    def action_back(self) -> None:
        if self.running and self.cancel_event is not None:
            self.cancel_event.set()
            self.rerun_panel.status("cancelling at the next token…", "yellow")
            return
        if self.app.screen is self:
            self.app.pop_screen()
