"""The scanners, one module per job. Each is a function `scan(ctx) -> list[Finding]` registered
here with the categories it can report (for fail-open / fail-closed) and the stages it runs in."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from sandbox.core.guard.model import Finding
from sandbox.core.guard.scanners import (
    encoded,
    format as format_,
    harm,
    injection,
    jailbreak,
    leak,
    length,
    pii,
    secrets,
    toxicity,
    unicode,
)
from sandbox.core.guard.scanners.context import Context


@dataclass
class Scanner:
    name: str
    categories: tuple[str, ...]
    stages: tuple[str, ...]
    fn: Callable[[Context], list[Finding]]
    layer: str = "rules"  # "rules" or "learned": `guard eval` measures each alone and both


def _learned(ctx: Context) -> list[Finding]:
    from sandbox.core.guard import learned

    lay = learned.layer()
    return lay.scan(ctx.text, ctx.stage, prefix=ctx.prefix) if lay else []


REGISTRY: list[Scanner] = [
    Scanner("length", ("length",), ("input",), length.scan),
    Scanner("unicode", ("unicode",), ("input", "output"), unicode.scan),
    Scanner("injection", ("injection", "prompt_leak"), ("input",), injection.scan),
    Scanner("jailbreak", ("jailbreak",), ("input",), jailbreak.scan),
    Scanner("harm", ("harm",), ("input",), harm.scan),
    Scanner("encoded", ("injection",), ("input",), encoded.scan),
    Scanner("pii", ("pii",), ("input", "output"), pii.scan),
    Scanner("secrets", ("secret",), ("input", "output"), secrets.scan),
    Scanner("toxicity", ("toxicity",), ("input", "output"), toxicity.scan),
    Scanner("leak", ("prompt_leak",), ("output",), leak.scan),
    Scanner("format", ("format",), ("output",), format_.scan),
    Scanner("learned", ("injection", "jailbreak", "prompt_leak", "harm", "toxicity"), ("input", "output"), _learned,
            layer="learned"),
]
LAYERS = ("rules", "learned")

__all__ = ["LAYERS", "REGISTRY", "Scanner", "Context"]
