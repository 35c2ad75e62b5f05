"""Left column: how the next turn is prompted and sampled, and how much it remembers. Reads the
form into core's TurnRequest and WindowSettings; range checks are core's (SamplingParams.validated,
strategies.n_samples, WindowSettings.validated). Every change posts `PromptingPanel.Changed`, so
the screen can recount the gauge and keep the memory settings in step."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.widgets import Input, Label, Select, Static

from sandbox.core.errors import SandboxError

# The first frame shows only a placeholder here: core's strategies, templates and sampling, the
# examples manager and the TextArea and Checkbox widgets are imported when the controls are built.
if TYPE_CHECKING:
    from sandbox.core.memory import WindowSettings
    from sandbox.core.sampling import SamplingParams
    from sandbox.tui.widgets.examples import ExampleManager

NO_TEMPLATE = "(none)"

# (SamplingParams field, label, parser): the form only turns text into numbers.
FIELDS = (
    ("temperature", "temperature", float),
    ("top_p", "top-p", float),
    ("top_k", "top-k", int),
    ("min_p", "min-p", float),
    ("repeat_penalty", "repeat pen.", float),
    ("max_tokens", "max tokens", int),
    ("seed", "seed", int),
)
KIND = {float: "a number", int: "a whole number"}
MEMORY_MODES = (("tokens: fit the budget", "tokens"), ("last k turns", "turns"),
                ("retrieval: window + recall by embedding", "retrieval"), ("retrieval: window + recall by BM25", "retrieval-bm25"))


def _row(label: str, field: Input, tooltip: str | None = None) -> Horizontal:
    row = Horizontal(Label(label, classes="field-label"), field, classes="field-row")
    if tooltip:
        row.tooltip = tooltip
    return row


class PromptingPanel(VerticalScroll):
    """Strategy, template, sample count, CoT trigger, few-shot examples, sampling controls, the
    system prompt and the memory window settings."""

    BORDER_TITLE = "Prompting"
    guards_off: frozenset = frozenset()  # guard categories switched off (Ctrl+G), sent with each turn
    ignore_eos: bool = False  # `sandbox bench --tui` sets it: every turn then generates exactly max tokens

    class Changed(Message):
        """Something that shapes the next prompt changed."""

    _built = False

    def compose(self) -> ComposeResult:
        # The first frame shows only this: the controls (70-odd widgets, a third of start-up) are
        # mounted right after it, and they mean nothing until the model is loaded anyway.
        yield Label("…", id="prompting-wait", classes="note")

    def on_mount(self) -> None:
        self.call_after_refresh(self.build)

    async def build(self) -> None:
        """Mount the controls (once; the screen awaits this before it fills them in)."""
        if self._built:
            return
        self._built = True
        await self.query("#prompting-wait").remove()
        if not self.is_attached:
            return  # Ctrl+Q in the first frames: the app is closing, and mounting now raised MountError at exit
        await self.mount(*self.controls())

    def controls(self):
        from textual.widgets import Checkbox, TextArea

        from sandbox.core.strategies import DEFAULT_COT_TRIGGER, DEFAULT_SAMPLES, STRATEGIES
        from sandbox.tui.widgets.examples import ExampleManager

        yield Label("Strategy", classes="section")
        yield Select(((s, s) for s in STRATEGIES), value=STRATEGIES[0], allow_blank=False, compact=True, id="strategy")
        yield Label("Template", classes="section")
        yield Select([(NO_TEMPLATE, NO_TEMPLATE)], value=NO_TEMPLATE, allow_blank=False, compact=True, id="template")
        yield _row("samples", Input(str(DEFAULT_SAMPLES), compact=True, id="samples", disabled=True),
                   "self-consistency: how many samples vote on the answer")
        cot = _row("cot trigger", Input(compact=True, id="cot_trigger", placeholder=DEFAULT_COT_TRIGGER),
                   "chain-of-thought: the line added after the question (blank: the template's or the default)")
        cot.display = False
        yield cot
        yield Label("Few-shot examples", classes="section")
        yield ExampleManager(id="examples")
        yield Label("Sampling", classes="section")
        for name, label, _ in FIELDS:
            yield _row(label, Input(compact=True, id=name, placeholder="…"))
        yield Static("blank seed: fresh each turn", id="seed-note", classes="note")
        yield Label("System prompt", classes="section")
        yield TextArea(id="system", compact=True, placeholder="blank: the model's default")
        yield Label("Memory", classes="section")
        yield Select(MEMORY_MODES, value="tokens", allow_blank=False, compact=True, id="memory_mode")
        yield _row("last k", Input("8", compact=True, id="last_k", disabled=True), "turns mode: how many of the newest turns the model sees")
        yield _row("reserve out", Input(compact=True, id="reserve_output", placeholder="= max tokens"),
                   "tokens kept free for the reply (blank: max tokens)")
        summary = Checkbox("summarise dropped turns", compact=True, id="memory_summary")
        summary.tooltip = "the local model folds turns that leave the window into a short summary, pinned after the system prompt"
        yield summary

    @property
    def cot_row(self) -> Horizontal:
        return self.query_one("#cot_trigger", Input).parent

    @property
    def examples(self) -> ExampleManager:
        return self.query_one("#examples")

    def on_select_changed(self, event: Select.Changed) -> None:
        from sandbox.core.strategies import COT_STRATEGIES

        if event.select.id == "strategy":
            self.query_one("#samples", Input).disabled = event.value != "self-consistency"
            self.cot_row.display = event.value in COT_STRATEGIES
            self.examples.set_strategy(event.value, self.cot_trigger())
        elif event.select.id == "template":
            self.template_changed(event.value)
        elif event.select.id == "memory_mode":
            self.query_one("#last_k", Input).disabled = event.value != "turns"
        self.post_message(self.Changed())

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "cot_trigger":
            self.examples.set_strategy(self.query_one("#strategy", Select).value, self.cot_trigger())
        self.post_message(self.Changed())

    def on_text_area_changed(self, event: TextArea.Changed) -> None:
        self.post_message(self.Changed())

    def on_checkbox_changed(self, event: Checkbox.Changed) -> None:
        self.post_message(self.Changed())

    def on_example_manager_changed(self, event: ExampleManager.Changed) -> None:
        event.stop()
        self.post_message(self.Changed())

    def template_changed(self, name) -> None:
        """The template's examples in the manager, and the system prompt and CoT trigger a blank
        box stands for, so the choice is visible."""
        from sandbox.core.strategies import DEFAULT_COT_TRIGGER

        template = None
        if name != NO_TEMPLATE:
            from sandbox.core import templates

            try:
                template = templates.load(name)
            except SandboxError as e:
                self.notify(str(e), title="template", severity="error")
        system = template.system if template else None
        box = self.query_one("#system")
        box.placeholder = f"blank: the template's — {system}" if system else "blank: the model's default"
        trigger = template.cot_trigger if template and template.cot_trigger is not None else DEFAULT_COT_TRIGGER
        self.query_one("#cot_trigger", Input).placeholder = trigger
        self.examples.set_template(template)

    def cot_trigger(self) -> str | None:
        raw = self.query_one("#cot_trigger", Input).value
        return raw if raw.strip() else None

    # ---- filled in by the screen ------------------------------------------------------------------

    def set_templates(self, names: list[str]) -> None:
        picker = self.query_one("#template", Select)
        picker.set_options([(NO_TEMPLATE, NO_TEMPLATE), *((n, n) for n in names)])
        picker.value = NO_TEMPLATE

    def set_session(self, session) -> None:
        """The loaded model: example token costs can be counted now; the memory fields show the
        session's settings."""
        self.examples.set_session(session)
        settings = session.window.settings
        self.query_one("#memory_mode", Select).value = (
            "retrieval-bm25" if settings.mode == "retrieval" and settings.recall == "bm25" else settings.mode)
        self.query_one("#last_k", Input).value = str(settings.last_k)
        if settings.reserve_output is not None:
            self.query_one("#reserve_output", Input).value = str(settings.reserve_output)
        self.query_one("#memory_summary").value = settings.summary

    def set_defaults(self, params: SamplingParams) -> None:
        """The model's defaults from models.toml, in the fields not already filled in while it
        loaded; the seed stays blank (fresh per turn)."""
        for name, _, _ in FIELDS:
            value = getattr(params, name)
            field = self.query_one(f"#{name}", Input)
            if not field.value.strip() and value is not None:
                field.value = str(value)
            field.placeholder = ""

    def show_seed(self, seed: int | None) -> None:
        if seed is not None and not self.query_one("#seed", Input).value.strip():
            self.query_one("#seed-note", Static).update(f"blank seed: fresh each turn (last: {seed})")

    # ---- read the form --------------------------------------------------------------------------

    def params(self) -> SamplingParams:
        from sandbox.core.sampling import SamplingParams

        values: dict = {}
        for name, label, parse in FIELDS:
            raw = self.query_one(f"#{name}", Input).value.strip()
            if not raw:
                if name == "seed":
                    values[name] = None
                    continue
                raise SandboxError(f"{label} is empty; enter {KIND[parse]}")
            try:
                values[name] = parse(raw)
            except ValueError:
                raise SandboxError(f"{label} = {raw!r} is not {KIND[parse]}") from None
        return SamplingParams(**values).validated()

    def options(self):
        """The form as core's TurnRequest (the text is added on send). Raises SandboxError naming
        the field that is wrong."""
        from sandbox.core.turn import TurnRequest  # loaded with the model, not at start-up
        from sandbox.core.strategies import COT_STRATEGIES, n_samples

        strategy = self.query_one("#strategy", Select).value
        template = self.query_one("#template", Select).value
        samples = None
        if strategy == "self-consistency":
            raw = self.query_one("#samples", Input).value.strip()
            try:
                samples = int(raw)
            except ValueError:
                raise SandboxError(f"samples = {raw!r} is not a whole number") from None
            n_samples(strategy, samples)
        system = self.query_one("#system").text
        examples = self.examples.examples
        return TurnRequest(
            strategy=strategy,
            template=None if template == NO_TEMPLATE else template,
            samples=samples,
            system=system if system.strip() else None,
            params=self.params(),
            examples=examples if examples or template != NO_TEMPLATE else None,
            cot_trigger=self.cot_trigger() if strategy in COT_STRATEGIES else None,
            guards_off=self.guards_off,
            ignore_eos=self.ignore_eos,
        )

    def window_settings(self, base: WindowSettings) -> WindowSettings:
        """The memory fields over `base` (the session's settings: what the form does not show,
        such as low_water from the config file, stays), validated by core."""
        mode = self.query_one("#memory_mode", Select).value
        values: dict = {"mode": "retrieval" if mode == "retrieval-bm25" else mode,
                        "summary": self.query_one("#memory_summary").value}
        if values["mode"] == "retrieval":
            values["recall"] = "bm25" if mode == "retrieval-bm25" else "embedding"
        for name, label in (("last_k", "last k"), ("reserve_output", "reserve out")):
            raw = self.query_one(f"#{name}", Input).value.strip()
            if not raw:
                if name == "reserve_output":
                    values[name] = None
                    continue
                raise SandboxError(f"{label} is empty; enter a whole number")
            try:
                values[name] = int(raw)
            except ValueError:
                raise SandboxError(f"{label} = {raw!r} is not a whole number") from None
        return replace(base, **values).validated()
