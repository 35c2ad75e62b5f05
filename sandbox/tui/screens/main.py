"""The main screen: Prompting | Conversation | Inspector. It owns the session and the workers
that call core (load the model, run a turn, render a preview) and routes core's events to the
widgets. Workers never touch widgets: they post messages or return results."""

from __future__ import annotations

import dataclasses
import logging
import threading
from typing import TYPE_CHECKING

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import Footer, Input
from textual.worker import Worker, WorkerState

from sandbox.core.errors import SandboxError
from sandbox.tui.messages import CoreEvent, ModelLoading, coalesced
from sandbox.tui.widgets.conversation import Conversation, TurnView
from sandbox.tui.widgets.inspector import Inspector
from sandbox.tui.widgets.prompting import PromptingPanel

if TYPE_CHECKING:  # the preview and the heatmap load when first used, not for the first frame
    from sandbox.tui.widgets.logprobs import LogprobHeatmap

log = logging.getLogger("sandbox.tui")


class MainScreen(Screen):
    FOCUS = Binding.Group("Focus")  # F3 prompting, F4 input, F5 inspector
    BINDINGS = [
        Binding("escape", "cancel", "Stop"),
        Binding("f2", "preview", "Preview"),
        Binding("ctrl+n", "new_session", "New"),
        Binding("ctrl+l", "clear", "Clear", show=False),  # footer room at 100 columns: these are in the palette
        Binding("f3", "focus_prompting", "Prompting", group=FOCUS, show=False),
        Binding("f4", "focus_prompt", "Input", group=FOCUS, show=False),
        Binding("f5", "focus_inspector", "Inspector", group=FOCUS, show=False),
        Binding("f10", "heatmap", "Heat"),
        Binding("ctrl+g", "guards", "Guards"),
        Binding("ctrl+r", "regenerate(False)", "Same seed", show=False),  # in the palette
        Binding("ctrl+e", "regenerate(True)", "New seed", show=False),
    ]
    HEATMAP_TOP = 5  # alternatives recorded per token while the heatmap is on
    AUTO_FOCUS = "#prompt"  # focused as the screen composes: one focus change before the first frame, not two

    def __init__(self, model: str | None = None, models_file: str | None = None) -> None:
        super().__init__()
        self.model = model
        self.models_file = models_file
        self.session = None
        self.load_error: str | None = None
        self.busy: str | None = None  # "turn" or "preview" while a worker uses the session
        self.cancel_event: threading.Event | None = None
        self.view: TurnView | None = None
        self.sent_text = ""
        self.send_when_ready = False
        self.heatmap_on = False

    def compose(self) -> ComposeResult:
        with Horizontal(id="columns"):
            yield PromptingPanel(id="prompting")
            yield Conversation(id="conversation")
            yield Inspector(id="inspector")
        yield Footer()

    @property
    def conversation(self) -> Conversation:
        return self.query_one(Conversation)

    @property
    def prompting(self) -> PromptingPanel:
        return self.query_one(PromptingPanel)

    @property
    def inspector(self) -> Inspector:
        return self.query_one(Inspector)

    def on_mount(self) -> None:
        # After the first frame: the loader's imports (llama_cpp) would otherwise hold the GIL first.
        self.call_after_refresh(self.load_model)

    # ---- workers: the only places that call core's slow functions ---------------------------------

    @work(thread=True, exclusive=True, exit_on_error=False, group="model")
    def load_model(self):
        from sandbox.core import config, templates

        spec = config.load(self.models_file).get(self.model)
        self.post_message(ModelLoading(spec.title))
        from sandbox.core.session import Session  # imports llama_cpp: never at start-up

        session = Session.open(model=self.model, models_file=self.models_file)
        # Session.open started loading the price table and tiktoken encodings beside the model;
        # wait for them here, off the UI thread, so they never compete with the first generation.
        from sandbox.core.tokens.prices import preload

        preload()
        # Likewise markdown-it: kept out of the first frame, but imported on the UI thread at the
        # first reply it held the GIL while the first prompt was evaluated (bench --tui, turn 1).
        import sandbox.tui.widgets.reply  # noqa: F401
        from sandbox.tui import heap

        infos = templates.list_templates()
        heap.settle_after_load()
        return session, infos

    @work(thread=True, exclusive=True, exit_on_error=False, group="turn")
    def run_turn(self, session, request, cancel: threading.Event) -> None:
        for event in coalesced(session.turn(request, cancel=cancel)):
            self.post_message(CoreEvent(event))

    @work(thread=True, exclusive=True, exit_on_error=False, group="turn")
    def run_regenerate(self, session, new_seed: bool, cancel: threading.Event) -> None:
        for event in coalesced(session.regenerate(new_seed=new_seed, cancel=cancel)):
            self.post_message(CoreEvent(event))

    @work(thread=True, exclusive=True, exit_on_error=False, group="preview")
    def render_preview(self, session, request):
        return session.prepare(request)

    # ---- worker results and failures ----------------------------------------------------------------

    async def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        worker, state = event.worker, event.state
        if state not in (WorkerState.SUCCESS, WorkerState.ERROR, WorkerState.CANCELLED):
            return
        message = self.report(worker.error) if state == WorkerState.ERROR else None
        if worker.group == "model":
            if state == WorkerState.SUCCESS:
                await self.model_ready(*worker.result)
            else:
                self.load_error = message or "loading was cancelled"
                await self.conversation.model_failed(self.load_error)
                self.inspector.model_failed(self.load_error)
        elif worker.group == "turn":
            self.busy = None
            self.recount()  # counting waited while the reply streamed (recount pauses while busy)
            if state != WorkerState.SUCCESS and self.view is not None and self.view.turn is None:
                await self.view.failed(message or "cancelled")
                self.restore_prompt()
        elif worker.group == "logprob" and state == WorkerState.SUCCESS:
            view, index, sampled = worker.result
            if view.is_attached and view.heatmap.selected == index:
                view.detail.show(index, view.turn.logprobs[index], sampled, self.heatmap_note(view.turn))
        elif worker.group == "preview":
            self.busy = None
            if state == WorkerState.SUCCESS:
                from sandbox.tui.screens.preview import PreviewScreen

                prep = worker.result
                notes = "".join(f" · {n}" for n in prep.notes)
                summary = (f"{prep.rendered.strategy} · {len(prep.prompt_tokens)} prompt tokens · "
                           f"{prep.window.to_dict()['window_turns']} past turns in the window{notes}")
                self.app.push_screen(PreviewScreen(prep.prompt, summary))

    def report(self, error: BaseException | None) -> str:
        """A failure as a visible notice: core's sentence, or one line plus the traceback in the log."""
        if isinstance(error, SandboxError):
            self.notify(str(error), title="sandbox", severity="error", timeout=10)
            return str(error)
        log.error("unexpected error in a worker", exc_info=error)
        where = getattr(self.app, "log_path", None)
        line = f"{type(error).__name__}: {error}"
        self.notify(f"Unexpected error — {line}" + (f" (traceback in {where})" if where else ""),
                    title="sandbox", severity="error", timeout=15)
        return line

    def on_model_loading(self, message: ModelLoading) -> None:
        self.conversation.loading(f"Loading {message.title} …")

    async def model_ready(self, session, template_infos) -> None:
        await self.prompting.build()
        if not self.is_attached:  # the app is closing (Ctrl+Q while the model loaded)
            return
        self.session = session
        self.prompting.set_defaults(session.defaults)
        self.prompting.set_templates([t.name for t in template_infos if t.pickable])
        broken = [t.error for t in template_infos if t.error]
        if broken:
            self.notify("; ".join(broken), title="templates not loaded", severity="warning", timeout=15)
        self.inspector.show_model(session)
        for warning in getattr(session.engine, "warnings", ()):
            self.notify(warning, title="model server", severity="warning", timeout=10)
        self.prompting.set_session(session)
        self.recount()
        await self.conversation.model_ready(
            f"{session.spec.title} is ready. Type a prompt and press Enter · F2 shows the exact prompt first.")
        if self.send_when_ready:  # Enter was pressed while loading
            self.send_when_ready = False
            await self.action_send()

    # ---- core events, in order ----------------------------------------------------------------------

    async def on_core_event(self, message: CoreEvent) -> None:
        from sandbox.core.events import TurnDone, TurnStarted  # with the first turn, not the first frame

        event = message.event
        if self.view is None:
            return
        await self.view.apply(event)
        if isinstance(event, TurnStarted):
            self.inspector.show_started(event)
        elif isinstance(event, TurnDone):
            turn = event.turn
            self.inspector.show_turn(turn, self.session_total())
            self.prompting.show_seed(turn.seed)
            if turn.finish_reason in ("cancelled", "error"):
                self.restore_prompt()
            if turn.error:  # the model's server failed: the partial turn is logged, the prompt restored
                self.notify(turn.error, title="server error", severity="error", timeout=10)
            if self.heatmap_on and turn.logprobs:
                await self.view.show_logprobs(True)
            if turn.regenerated_from is not None:
                same = turn.identical_to_original
                if turn.same_seed:
                    msg = ("same seed, same prompt: identical reply — generation is deterministic" if same else
                           "same seed, same prompt, but the reply differs: not reproduced (see the log)")
                else:
                    msg = "new seed: " + ("the same reply anyway" if same else "a different continuation")
                self.notify(msg, title="generated again", severity="information" if same or not turn.same_seed
                            else "warning", timeout=8)

    def session_total(self) -> dict | None:
        return self.session.prices.total(self.session.costs) if self.session else None

    def restore_prompt(self) -> None:
        prompt = self.conversation.prompt
        if not prompt.value.strip():
            prompt.value = self.sent_text
            prompt.cursor_position = len(prompt.value)
        prompt.focus()

    # ---- intents ------------------------------------------------------------------------------------

    def ready(self, what: str) -> bool:
        """Is there a loaded model and nothing running? If not, say why."""
        if self.session is None:
            if self.load_error:
                self.notify(f"no model loaded: {self.load_error}", severity="error")
            elif what == "send":
                self.send_when_ready = True
                # Short: the reply usually starts within seconds, and the notice sits over the prompt box.
                self.notify("model still loading — the prompt goes out as soon as it is ready", severity="warning",
                            timeout=2.5)
            else:
                self.notify(f"model still loading — {what} once it is ready", severity="warning")
            return False
        if self.busy == "turn":
            self.notify("a reply is still streaming — Escape cancels it", severity="warning")
            return False
        if self.busy:
            return False
        return True

    # ---- live counts, gauge and memory window (the inspector counts in its own worker) ----------------

    @on(Input.Changed, "#prompt")
    def on_prompt_changed(self, event: Input.Changed) -> None:
        self.recount()

    def on_prompting_panel_changed(self, event: PromptingPanel.Changed) -> None:
        self.recount()

    def recount(self) -> None:
        """Counts, gauge and memory window for what is in the input, once typing pauses. Memory
        settings apply to the session as they are edited (not while a reply streams)."""
        if self.session is None:
            return
        if self.busy == "turn":  # nothing to count competes with a generation; the turn's end recounts
            self.inspector.pause()
            return
        try:
            options = self.prompting.options()
            settings = self.prompting.window_settings(self.session.window.settings)
            if self.busy != "turn":
                self.session.set_window_settings(settings)
        except SandboxError as e:
            options = e
        self.inspector.recount(self.session, self.conversation.prompt.value, options)

    def on_inspector_counted(self, message: Inspector.Counted) -> None:
        """Turns the memory window dropped stay in the view, marked as outside it."""
        memory = message.live.memory
        if memory is None:
            return
        dropped = set(memory.get("dropped") or ())
        for view in self.conversation.query(TurnView):
            if view.turn is not None:
                view.set_outside_window(view.turn.idx in dropped)

    @on(Input.Submitted, "#prompt")
    async def on_prompt_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        await self.action_send()

    async def action_send(self) -> None:
        text = self.conversation.prompt.value
        if not text.strip() or not self.ready("send"):
            return
        try:
            options = self.prompting.options()
            self.session.set_window_settings(self.prompting.window_settings(self.session.window.settings))
        except SandboxError as e:
            self.notify(str(e), title="not sent", severity="error", timeout=8)
            return
        if self.heatmap_on:
            options = dataclasses.replace(options, logprobs=max(options.logprobs, self.HEATMAP_TOP))
        self.sent_text = text
        self.conversation.prompt.value = ""
        self.view = await self.conversation.new_turn(text)
        self.cancel_event = threading.Event()
        self.busy = "turn"
        self.inspector.pause()
        self.run_turn(self.session, options.replace(text=text), self.cancel_event)

    async def action_regenerate(self, new_seed: bool) -> None:
        """Generate the newest turn again: same seed (expect the identical reply) or a new one."""
        if not self.ready("generate again"):
            return
        last = self.session.last
        if last is None or not last.rendered_prompt or last.request is None:
            self.notify("send a prompt first: this generates the newest reply again", severity="warning")
            return
        self.view = await self.conversation.new_turn(last.prompt)
        self.cancel_event = threading.Event()
        self.busy = "turn"
        self.run_regenerate(self.session, new_seed, self.cancel_event)

    def action_cancel(self) -> None:
        if self.busy == "turn" and self.cancel_event is not None:
            self.cancel_event.set()

    def action_preview(self) -> None:
        text = self.conversation.prompt.value
        if not self.ready("preview"):
            return
        if not text.strip():
            self.notify("type a prompt first: the preview shows what the model would see for it", severity="warning")
            return
        try:
            options = self.prompting.options()
        except SandboxError as e:
            self.notify(str(e), title="cannot preview", severity="error", timeout=8)
            return
        self.busy = "preview"
        self.render_preview(self.session, options.replace(text=text))

    async def action_new_session(self) -> None:
        if not self.ready("start a new session"):
            return
        self.session = self.session.fresh()  # same engine, log and policy; new id, empty memory
        self.view = None
        self.inspector.reset(self.session)
        self.recount()
        await self.conversation.clear(f"New session {self.session.id[:12]} — the model remembers nothing from before.")
        self.conversation.prompt.focus()

    async def resume(self, session_id: str) -> None:
        """Continue a logged session (from the Sessions screen) on the loaded model."""
        if not self.ready("continue a session"):
            return
        try:
            session = self.session.resume(session_id)
        except SandboxError as e:
            self.notify(str(e), title="cannot continue", severity="error", timeout=8)
            return
        self.session = session
        self.view = None
        self.inspector.reset(session)
        self.recount()
        await self.conversation.clear(f"Continuing session {session.id[:12]} — {len(session.logged_turns)} logged turns; "
                                      f"new turns are added to it.")
        await self.conversation.show_logged(session.logged_turns)
        if session.logged_model and session.logged_model != session.spec.name:
            self.notify(f"logged with {session.logged_model}; continuing on {session.spec.name}", severity="warning")
        self.conversation.prompt.focus()

    async def action_clear(self) -> None:
        if self.busy == "turn":
            self.notify("a reply is still streaming — Escape cancels it first", severity="warning")
            return
        self.view = None
        await self.conversation.clear("View cleared — the session still remembers its turns (Ctrl+N starts afresh).")

    # ---- guardrails on/off ------------------------------------------------------------------------------

    def action_guards(self) -> None:
        """Switch guard categories on/off for experiments; logged with every turn."""
        if not self.ready("change the guardrails"):
            return
        from sandbox.tui.screens.guards import GuardsScreen

        def chosen(off: frozenset | None) -> None:
            if off is None:
                return
            self.prompting.guards_off = off
            self.notify("guardrails: " + (f"off for {', '.join(sorted(off))}" if off else "all on"), timeout=4)

        self.app.push_screen(GuardsScreen(self.session.policy, self.prompting.guards_off), chosen)

    # ---- logprob heatmap ------------------------------------------------------------------------------

    async def action_heatmap(self) -> None:
        """Toggle: replies as tokens coloured by probability (the next turns record logprobs)."""
        caps = self.session.engine.capabilities if self.session is not None else None
        if caps is not None and "logprobs" not in caps and not self.heatmap_on:
            self.notify(f"the heatmap is unavailable for this model: {caps.why_not('logprobs')}",
                        title="unavailable", severity="warning", timeout=8)
            return
        self.heatmap_on = not self.heatmap_on
        views = [v for v in self.conversation.query(TurnView) if v.turn is not None]
        if not self.heatmap_on:
            for v in views:
                await v.show_logprobs(False)
            self.notify("heatmap off", timeout=3)
            return
        last = views[-1] if views else None
        if last is not None and last.turn.logprobs:
            shown = await last.show_logprobs(True)
            if shown is not None:
                shown.heatmap.focus()
            self.notify("heatmap on: ←/→ or a click selects a token", timeout=4)
        else:
            self.notify("heatmap on: the next replies record each token's probability "
                        + ("(the last one was generated without)" if last is not None else ""), timeout=6)

    def on_logprob_heatmap_selected(self, message: LogprobHeatmap.Selected) -> None:
        from sandbox.tui.widgets.logprobs import LogprobView

        view = next((a for a in message.heatmap.ancestors if isinstance(a, LogprobView)), None)
        if view is None:
            return
        entry = view.turn.logprobs[message.index]
        if self.busy == "turn" or self.session is None:
            view.detail.show(message.index, entry, note="filtered and sampled columns: when no reply is generating")
            return
        if "explorer" not in self.session.engine.capabilities:
            view.detail.show(message.index, entry, note="filtered and sampled columns unavailable: "
                             + self.session.engine.capabilities.why_not("explorer"))
            return
        view.detail.show(message.index, entry, note="re-decoding this position for the sampler's view…")
        self.explain_position(self.session, view, message.index)

    @work(thread=True, exclusive=True, exit_on_error=False, group="logprob")
    def explain_position(self, session, view, index: int):
        from sandbox.core.decoding import reply_position
        from sandbox.tui.widgets.logprobs import sampled_summary

        entry = view.turn.logprobs[index]
        dist = reply_position(session.engine, view.turn, index)
        return view, index, sampled_summary(dist, [t["token"] for t in entry["top"]] + [entry["token"]])

    @staticmethod
    def heatmap_note(turn) -> str:
        if turn.constraint:
            return "a grammar also constrained this reply; the filtered and sampled columns leave it out"
        return ""

    def action_focus_prompting(self) -> None:
        self.prompting.query_one("#strategy").focus()

    def action_focus_prompt(self) -> None:
        self.conversation.prompt.focus()

    def action_focus_inspector(self) -> None:
        self.inspector.focus()

    def cancel_running(self) -> None:
        """On quit: stop a generation at its next token so the process can exit."""
        if self.cancel_event is not None:
            self.cancel_event.set()
