"""A modal to switch guard categories on and off for experiments. The choice applies to the next
turns and is logged with each of them (turn.guard.disabled)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Checkbox, Label

WHAT = {
    "injection": "prompt injection: 'ignore previous instructions', fake roles, smuggled instructions",
    "jailbreak": "jailbreak personas and role-play framings (DAN, developer mode)",
    "prompt_leak": "system-prompt extraction (input) and leakage (output)",
    "pii": "email, phone, card, SSN, IBAN, IP, street address",
    "secret": "API keys, tokens, private keys",
    "toxicity": "profanity and insults",
    "harm": "requests for harmful instructions",
    "unicode": "invisible characters and look-alike letters",
    "length": "over-long input",
    "format": "output format a template asks for (JSON, schema, regex)",
}


class GuardsScreen(ModalScreen[frozenset]):
    """Returns the set of categories switched off."""

    BINDINGS = [Binding("escape,ctrl+g", "close", "Done")]

    def __init__(self, policy, off: frozenset) -> None:
        super().__init__()
        self.policy = policy
        self.off = frozenset(off)

    def compose(self) -> ComposeResult:
        from sandbox.core.guard import CATEGORIES

        with Vertical(id="guards"):
            yield Label("Checked categories are on. What each does (input / output):", classes="muted")
            for cat in CATEGORIES:
                rule = self.policy.rule(cat)
                acts = " / ".join(rule.for_stage(stage)[0] for stage in ("input", "output"))
                box = Checkbox(f"{cat:<12} {acts:<15} {WHAT.get(cat, '')}", value=cat not in self.off, id=f"guard-{cat}")
                if cat in self.policy.disabled:
                    box.disabled = True  # off in the policy file itself
                yield box
            yield Label("Escape or Ctrl+G: done · the choice is logged with every turn", classes="muted")

    def on_mount(self) -> None:
        self.query_one("#guards").border_title = "Guardrails"

    def action_close(self) -> None:
        from sandbox.core.guard import CATEGORIES

        off = {cat for cat in CATEGORIES if not self.query_one(f"#guard-{cat}", Checkbox).value}
        self.dismiss(frozenset(off - set(self.policy.disabled)))
