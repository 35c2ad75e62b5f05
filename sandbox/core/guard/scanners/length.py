"""Input size limits: characters and an approximate token count (policy `[limits]`)."""

from __future__ import annotations

from sandbox.core.guard.model import Finding
from sandbox.core.guard.scanners.context import Context
from sandbox.core.guard.text import approx_tokens


def scan(ctx: Context) -> list[Finding]:
    out = []
    n = len(ctx.text)
    if ctx.max_chars and n > ctx.max_chars:
        out.append(Finding("length.chars", "length", 1.0, (ctx.max_chars, n),
                           f"{n} characters, over the limit of {ctx.max_chars}"))
    if ctx.max_tokens:
        tokens = approx_tokens(ctx.text)
        if tokens > ctx.max_tokens:
            out.append(Finding("length.tokens", "length", 1.0, (0, n),
                               f"about {tokens} tokens, over the limit of {ctx.max_tokens}"))
    return out
