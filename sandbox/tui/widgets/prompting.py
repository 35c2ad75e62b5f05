"""Left column: how the next turn is prompted and sampled. Reads the form into core's
TurnOptions; range checks are core's (SamplingParams.validated, strategies.n_samples)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Input, Label, Select, Static, TextArea

from sandbox.core.errors import SandboxError
from sandbox.core.sampling import SamplingParams
from sandbox.core.strategies import DEFAULT_SAMPLES, STRATEGIES

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


def _row(label: str, field: Input, tooltip: str | None = None) -> Horizontal:
    row = Horizontal(Label(label, classes="field-label"), field, classes="field-row")
    if tooltip:
        row.tooltip = tooltip
    return row


class PromptingPanel(VerticalScroll):
    """Strategy, template, sample count, sampling controls and the system prompt."""

    BORDER_TITLE = "Prompting"

    def compose(self) -> ComposeResult:
        yield Label("Strategy", classes="section")
        yield Select(((s, s) for s in STRATEGIES), value=STRATEGIES[0], allow_blank=False, compact=True, id="strategy")
        yield Label("Template", classes="section")
        yield Select([(NO_TEMPLATE, NO_TEMPLATE)], value=NO_TEMPLATE, allow_blank=False, compact=True, id="template")
        yield _row("samples", Input(str(DEFAULT_SAMPLES), compact=True, id="samples"),
                   "self-consistency: how many samples vote on the answer")
        yield Label("Sampling", classes="section")
        for name, label, _ in FIELDS:
            yield _row(label, Input(compact=True, id=name, placeholder="…"))
        yield Static("blank seed: fresh each turn", id="seed-note", classes="note")
        yield Label("System prompt", classes="section")
        yield TextArea(id="system", compact=True, placeholder="blank: the model's default")
        yield Label("Few-shot examples", classes="section")
        yield Static("coming in a later issue: add, edit, reorder, toggle examples",
                     classes="coming")

    def on_mount(self) -> None:
        self.query_one("#samples", Input).disabled = True

    def on_select_changed(self, event: Select.Changed) -> None:
        if event.select.id == "strategy":
            self.query_one("#samples", Input).disabled = event.value != "self-consistency"
        elif event.select.id == "template":
            self.show_template_system(event.value)

    def show_template_system(self, name) -> None:
        """The system prompt a blank box stands for, so the choice is visible."""
        system = None
        if name != NO_TEMPLATE:
            from sandbox.core import templates

            try:
                system = templates.load(name).system
            except SandboxError as e:
                self.notify(str(e), title="template", severity="error")
        box = self.query_one("#system", TextArea)
        box.placeholder = f"blank: the template's — {system}" if system else "blank: the model's default"

    # ---- filled in by the screen ------------------------------------------------------------------

    def set_templates(self, names: list[str]) -> None:
        picker = self.query_one("#template", Select)
        picker.set_options([(NO_TEMPLATE, NO_TEMPLATE), *((n, n) for n in names)])
        picker.value = NO_TEMPLATE

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
        """The form as core's TurnOptions. Raises SandboxError naming the field that is wrong."""
        from sandbox.core.session import TurnOptions  # loaded with the model, not at start-up
        from sandbox.core.strategies import n_samples

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
        system = self.query_one("#system", TextArea).text
        return TurnOptions(
            strategy=strategy,
            template=None if template == NO_TEMPLATE else template,
            samples=samples,
            system=system if system.strip() else None,
            params=self.params(),
        )
