"""Invisible characters (zero-width, bidi controls, Unicode tag "ASCII smuggling") and words that
mix Latin with look-alike Cyrillic or Greek letters (homoglyph spoofing)."""

from __future__ import annotations

import re
import unicodedata

from sandbox.core.guard.model import Finding
from sandbox.core.guard.scanners.context import Context
from sandbox.core.guard.text import BIDI, CONFUSABLES, ZERO_WIDTH

U = "unicode"
_RUNS = re.compile(f"[{ZERO_WIDTH}{BIDI}]+|[\U000e0000-\U000e007f]+")
_WORD = re.compile(r"\w{2,}")
_LOOKALIKE = frozenset(c for c in CONFUSABLES if c.isalpha())


def _script(ch: str) -> str:
    if ch.isascii():
        return "latin" if ch.isalpha() else ""
    name = unicodedata.name(ch, "")
    if name.startswith("CYRILLIC"):
        return "cyrillic"
    if name.startswith("GREEK"):
        return "greek"
    if name.startswith("LATIN"):
        return "latin"
    return "other" if ch.isalpha() else ""


def _invisible(text: str, out: list[Finding]) -> None:
    for m in _RUNS.finditer(text):
        s, e = m.span()
        run = m.group()
        if run[0] >= "\U000e0000":
            out.append(Finding("unicode.tag_chars", U, 1.0, (s, e), f"{len(run)} invisible Unicode tag characters (hidden text)"))
            continue
        if run == "\ufeff" and s == 0:
            continue  # a byte-order mark at the very start
        if run in ("\u200d", "\u200c") and not (0 < s and e < len(text) and text[s - 1].isascii() and text[e].isascii()):
            continue  # joiners inside emoji sequences and Indic / Persian words are legitimate
        if run in ("\u200e", "\u200f") and not (0 < s and text[s - 1].isascii()):
            continue  # direction marks in right-to-left text
        bidi = any(ch in BIDI for ch in run)
        out.append(Finding(
            "unicode.bidi_control" if bidi else "unicode.zero_width", U, 0.9 if bidi else 0.8, (s, e),
            f"{len(run)} invisible {'bidi control' if bidi else 'zero-width'} character{'s' if len(run) > 1 else ''}",
            label="INVISIBLE",
        ))
        if len(out) >= 50:
            break


def _homoglyphs(text: str, out: list[Finding]) -> None:
    n = 0
    for m in _WORD.finditer(text):
        w = m.group()
        if w.isascii() or not any(c in _LOOKALIKE for c in w):
            continue
        scripts = {_script(c) for c in w} - {""}
        if "latin" in scripts and scripts & {"cyrillic", "greek"}:
            out.append(Finding("unicode.mixed_script", U, 0.7, m.span(),
                               "word mixes Latin with look-alike " + "/".join(sorted(scripts - {"latin"})) + " letters"))
            n += 1
            if n >= 20:
                break


def scan(ctx: Context) -> list[Finding]:
    text = ctx.text
    if text.isascii():
        return []
    out: list[Finding] = []
    _invisible(text, out)
    _homoglyphs(text, out)
    return out
