"""Instructions smuggled in base64, hex or rot13: decode plausible runs and rescan the plain text
with the injection, jailbreak, prompt-leak and harm rules. The finding's span is the encoded run."""

from __future__ import annotations

import base64
import binascii
import codecs
import re

from sandbox.core.guard.model import Finding
from sandbox.core.guard.scanners.context import Context

# Lookbehinds anchor each run at its first character, so long runs cost linear time.
_B64_TOKEN = re.compile(r"[A-Za-z0-9+/_-]{16,}={0,2}")
# Hex of printable text: every byte is 0x20..0x7e, so each starts with 2..7 (a rare first character).
_HEX = re.compile(r"[2-7](?<![0-9A-Fa-f][2-7])[0-9A-Fa-f](?:[\s,:]?(?:0x|\\x)?[2-7][0-9A-Fa-f]){7,}(?![0-9A-Fa-f])")
_ROT13_CUE = re.compile(r"\brot-?13\b[^\n]{0,40}?[:\-]\s*(?P<body>[^\n]{8,400})", re.I)
MAX_RUN = 64_000
MAX_RUNS = 20


def _printable_text(raw: bytes) -> str | None:
    try:
        s = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if len(s) < 6:
        return None
    ok = sum(ch.isprintable() or ch in "\n\r\t" for ch in s)
    letters = sum(ch.isalpha() for ch in s)
    if ok < 0.95 * len(s) or letters < 0.5 * len(s) or " " not in s.strip():
        return None
    return s


def _b64_runs(text: str):
    """Base64-looking runs, found from whitespace-separated chunks (str.split is fast). Chunks come
    in order, and a long chunk cannot hide inside the short ones before it, so each `find` moves on."""
    cursor = 0
    for chunk in text.split():
        if len(chunk) < 16:
            continue
        at = text.find(chunk, cursor)
        cursor = at + len(chunk)
        for m in _B64_TOKEN.finditer(chunk):
            yield at + m.start(), at + m.end(), m.group()


def _b64_candidates(text: str):
    for s, e, run in _b64_runs(text):
        if len(run) > MAX_RUN:
            continue
        # A plain word or identifier is not base64: want a mix of cases or digits.
        if run.isalpha() and (run.islower() or run.isupper()):
            continue
        body = run.rstrip("=")
        pad = "=" * (-len(body) % 4)
        try:
            raw = base64.urlsafe_b64decode(body.replace("+", "-").replace("/", "_") + pad)
        except (binascii.Error, ValueError):
            continue
        plain = _printable_text(raw)
        if plain:
            yield (s, e), plain, "base64"


def _hex_candidates(text: str):
    for m in _HEX.finditer(text):
        run = m.group()
        if len(run) > MAX_RUN:
            continue
        digits = re.sub(r"0x|\\x|[\s,:]", "", run)
        if len(digits) % 2:
            continue
        try:
            raw = bytes.fromhex(digits)
        except ValueError:
            continue
        plain = _printable_text(raw)
        if plain:
            yield m.span(), plain, "hex"


def _rot13_candidates(text: str):
    if "rot" not in text.lower():
        return
    for m in _ROT13_CUE.finditer(text):
        yield m.span("body"), codecs.decode(m.group("body"), "rot13"), "rot13"


def scan(ctx: Context) -> list[Finding]:
    from sandbox.core.guard.scanners import harm, injection, jailbreak

    text = ctx.text
    if len(text) < 8:
        return []
    out: list[Finding] = []
    seen = 0
    for gen in (_b64_candidates, _hex_candidates, _rot13_candidates):
        for span, plain, kind in gen(text):
            seen += 1
            if seen > MAX_RUNS:
                return out
            inner = Context(plain, stage=ctx.stage)
            hits = injection.scan(inner) + jailbreak.scan(inner) + harm.scan(inner)
            hits = [h for h in hits if h.score >= 0.5]
            if hits:
                top = max(hits, key=lambda h: h.score)
                out.append(Finding("injection.encoded", "injection", max(0.85, top.score), span,
                                   f"{kind}-encoded text that decodes to: {top.detail} ({top.rule})"))
    return out
