"""The Textual app: wiring only. The main screen owns the session and the workers.

Nothing here imports llama_cpp or sandbox.core.session: the first frame must not wait for them."""

from __future__ import annotations

import logging
import sys
from typing import Iterable

from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen

from sandbox.tui.screens.main import MainScreen

log = logging.getLogger("sandbox.tui")
SWITCH_INTERVAL_S = 0.0005


def log_to_file():
    """Tracebacks of unexpected errors go to $SANDBOX_HOME/tui.log, never onto the screen."""
    from sandbox.core import paths

    try:
        path = paths.ensure_home() / "tui.log"
    except Exception:
        return None
    if not any(getattr(h, "baseFilename", None) == str(path) for h in log.handlers):
        handler = logging.FileHandler(path, encoding="utf-8", delay=True)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)
    return path


class SandboxApp(App):
    CSS_PATH = "app.tcss"
    TITLE = "sandbox"
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (130, "-wide")]
    SCREENS_GROUP = Binding.Group("Screens")  # F6-F9 share one footer entry (the palette names each)
    BINDINGS = [Binding("ctrl+q", "quit", "Quit", priority=True),
                Binding("f6", "compare", "Compare", group=SCREENS_GROUP),
                Binding("f7", "sessions", "Sessions", group=SCREENS_GROUP),
                Binding("f8", "explorer", "Explorer", group=SCREENS_GROUP),
                Binding("f9", "tokens", "Tokens", group=SCREENS_GROUP),
                Binding("f11", "embeddings", "Embeddings", group=SCREENS_GROUP)]

    def __init__(self, model: str | None = None, models_file: str | None = None) -> None:
        super().__init__()
        # The decode thread needs the GIL for a moment between llama.cpp calls at every token; with
        # Python's default 5 ms switch interval a UI thread busy rendering keeps it up to that long
        # each time (at ~80 tok/s that is a third of a token). 0.5 ms gives it back ten times sooner.
        sys.setswitchinterval(SWITCH_INTERVAL_S)
        self.model = model
        self.models_file = models_file
        self.log_path = None

    def get_default_screen(self) -> Screen:
        return MainScreen(self.model, self.models_file)

    def on_mount(self) -> None:
        self.call_after_refresh(self.open_log)  # creating $SANDBOX_HOME is not for the first frame

    def open_log(self) -> None:
        self.log_path = log_to_file()

    @property
    def main(self) -> MainScreen:
        return next(s for s in self.screen_stack if isinstance(s, MainScreen))

    @property
    def session(self):
        """The loaded Session, or None while the model loads (or after it failed to)."""
        return self.main.session

    def action_compare(self) -> None:
        """One input through several strategies side by side, on the loaded model."""
        from sandbox.tui.screens.compare import CompareScreen

        if isinstance(self.screen, CompareScreen):
            return
        if self.session is None:
            self.notify(self.main.load_error or "model still loading — Compare opens once it is ready",
                        severity="error" if self.main.load_error else "warning")
            return
        self.push_screen(CompareScreen(self.session))

    def action_sessions(self) -> None:
        """Browse, search, replay and re-run logged sessions."""
        from sandbox.tui.screens.sessions import ReplayScreen, SessionsScreen

        if not isinstance(self.screen, (SessionsScreen, ReplayScreen)):
            self.push_screen(SessionsScreen())

    def action_tokens(self) -> None:
        """How the text in the input splits into tokens, per tokenizer."""
        from sandbox.tui.screens.tokens import TokensScreen

        if not isinstance(self.screen, TokensScreen):
            self.push_screen(TokensScreen(self.session, self.main.conversation.prompt.value))

    def action_embeddings(self) -> None:
        """Similarity of a few texts under the sentence encoder and the loaded model, side by side."""
        from sandbox.tui.screens.embeddings import EmbeddingsScreen

        if isinstance(self.screen, EmbeddingsScreen):
            return
        if self.session is None:
            self.notify(self.main.load_error or "model still loading — Embeddings opens once it is ready",
                        severity="error" if self.main.load_error else "warning")
            return
        self.push_screen(EmbeddingsScreen(self.session.engine.path, self.session.spec.name))

    def action_explorer(self) -> None:
        """The next-token distribution for a prefix, reshaped live by the sampler knobs."""
        from sandbox.core.errors import SandboxError
        from sandbox.tui.screens.explorer import ExplorerScreen

        if isinstance(self.screen, ExplorerScreen):
            return
        main = self.main
        if self.session is None:
            self.notify(main.load_error or "model still loading — the explorer opens once it is ready",
                        severity="error" if main.load_error else "warning")
            return
        if "explorer" not in self.session.engine.capabilities:
            self.notify(f"the explorer is unavailable for this model: {self.session.engine.capabilities.why_not('explorer')}",
                        title="unavailable", severity="warning")
            return
        if main.busy:
            self.notify("a reply is still generating — the explorer uses the same model; open it when the reply is done",
                        severity="warning")
            return
        try:
            params = main.prompting.options().params
        except SandboxError:
            params = None
        prefix = main.conversation.prompt.value
        main.busy = "explorer"  # the main screen sends nothing while the explorer holds the engine
        self.push_screen(ExplorerScreen(self.session, params, prefix=prefix, chat=bool(prefix.strip())))

    async def action_quit(self) -> None:
        self.main.cancel_running()
        self.exit(0)

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        main = self.main
        yield SystemCommand("Send", "Send the prompt in the input (Enter)", main.action_send)
        yield SystemCommand("Cancel generation", "Stop the running reply at the next token (Escape)", main.action_cancel)
        yield SystemCommand("Preview prompt", "Show the exact prompt the model would see (F2)", main.action_preview)
        yield SystemCommand("New session", "Same model, empty memory, a new log session (Ctrl+N)", main.action_new_session)
        yield SystemCommand("Clear view", "Clear the conversation view; the session keeps its memory (Ctrl+L)",
                            main.action_clear)
        yield SystemCommand("Focus prompting", "Strategy, template and sampling controls (F3)", main.action_focus_prompting)
        yield SystemCommand("Focus prompt input", "Where you type (F4)", main.action_focus_prompt)
        yield SystemCommand("Focus inspector", "Model, last turn, memory, cost, guard (F5)", main.action_focus_inspector)
        yield SystemCommand("Same seed again", "Generate the newest reply again with the same seed and prompt: "
                            "identical, or not reproduced (Ctrl+R)", lambda: main.run_action("regenerate(False)"))
        yield SystemCommand("New seed", "Generate the newest reply again with only the seed changed (Ctrl+E)",
                            lambda: main.run_action("regenerate(True)"))
        yield SystemCommand("Guardrails on/off", "Switch guard categories off for experiments; logged with each turn (Ctrl+G)",
                            main.action_guards)
        yield SystemCommand("Compare strategies", "One input through several strategies side by side (F6)", self.action_compare)
        yield SystemCommand("Sessions", "Browse, search, replay and re-run logged sessions (F7)", self.action_sessions)
        yield SystemCommand("Embeddings", "Cosine similarity of texts under the sentence encoder and the loaded "
                            "model's own embeddings, as two heatmaps (F11)", self.action_embeddings)
        yield SystemCommand("Tokens", "How the prompt splits into tokens, per tokenizer, with ids (F9)", self.action_tokens)
        yield SystemCommand("Next-token explorer", "The next-token distribution, reshaped live by temperature, top-k, "
                            "top-p and min-p; step greedy, sampled or by hand (F8)", self.action_explorer)
        yield SystemCommand("Logprob heatmap", "Colour replies by token probability; select a token for its "
                            "alternatives (F10)", main.action_heatmap)


def make_app(model: str | None = None, models_file: str | None = None) -> SandboxApp:
    return SandboxApp(model=model, models_file=models_file)


def main(model: str | None = None, models_file: str | None = None) -> int:
    app = make_app(model=model, models_file=models_file)
    app.run()
    return app.return_code or 0
