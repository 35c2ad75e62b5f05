"""What every scanner gets: the text, the stage, and views of the text computed once per scan."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from sandbox.core.guard.text import Folded


@dataclass
class Context:
    text: str
    stage: str = "input"
    canary: str | None = None
    system_prompt: str | None = None
    fmt: dict | None = None
    max_chars: int = 0
    max_tokens: int = 0
    prefix: str = ""  # streaming: the part of the reply scanned before this text (the learned layer's windows)

    @cached_property
    def folded(self) -> Folded:
        return Folded(self.text)

    @cached_property
    def meta(self) -> bool:
        from sandbox.core.guard.scanners.attack import is_meta_question

        return is_meta_question(self.folded)

    @cached_property
    def harm_objects(self) -> list:
        """Mentions of weapons, malware, drugs... (used by harm and by the fiction-framing rule)."""
        from sandbox.core.guard.scanners.harm import find_objects

        return find_objects(self.folded)

    # PII and secret values, found once: the rules report them and the learned layer reads them masked.
    @cached_property
    def pii(self) -> list:
        from sandbox.core.guard.scanners import pii

        return pii.scan(self)

    @cached_property
    def secrets(self) -> list:
        from sandbox.core.guard.scanners import secrets

        return secrets.scan(self)
