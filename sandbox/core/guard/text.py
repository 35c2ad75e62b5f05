"""Text folding shared by the scanners: drop invisible characters, map look-alike letters to ASCII
and lower-case, keeping a map back to the original offsets so every span points into the text the
user sent."""

from __future__ import annotations

import re
import unicodedata
from functools import cached_property

# Zero-width, bidi-control and other invisible code points that can hide or reorder text.
ZERO_WIDTH = "\u200b\u200c\u200d\u2060\u2061\u2062\u2063\u2064\ufeff\u180e\u00ad"
BIDI = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"
TAG_RANGE = (0xE0000, 0xE007F)  # "ASCII smuggling" via Unicode tag characters

_INVISIBLE_RE = re.compile(f"[{ZERO_WIDTH}{BIDI}\U000e0000-\U000e007f]")
_NON_ASCII_RE = re.compile(r"[^\x00-\x7f]+")

# Letters from other scripts that render like Latin ones (the common subset of Unicode's
# confusables list: Cyrillic, Greek, and a few symbols).
CONFUSABLES = {
    "а": "a", "в": "b", "е": "e", "ё": "e", "к": "k", "м": "m", "н": "h", "о": "o", "р": "p",
    "с": "c", "т": "t", "у": "y", "х": "x", "ѕ": "s", "і": "i", "ї": "i", "ј": "j", "ԁ": "d",
    "ɡ": "g", "һ": "h", "ӏ": "l", "ԛ": "q", "ԝ": "w", "ʏ": "y",
    "А": "a", "В": "b", "Е": "e", "К": "k", "М": "m", "Н": "h", "О": "o", "Р": "p", "С": "c",
    "Т": "t", "У": "y", "Х": "x", "Ѕ": "s", "І": "i", "Ј": "j",
    "α": "a", "β": "b", "ε": "e", "ι": "i", "κ": "k", "ν": "v", "ο": "o", "ρ": "p", "τ": "t",
    "υ": "u", "χ": "x", "Α": "a", "Β": "b", "Ε": "e", "Ζ": "z", "Η": "h", "Ι": "i", "Κ": "k",
    "Μ": "m", "Ν": "n", "Ο": "o", "Ρ": "p", "Τ": "t", "Υ": "y", "Χ": "x",
    "‘": "'", "’": "'", "‛": "'", "“": '"', "”": '"', "„": '"', "«": '"', "»": '"',
    "‐": "-", "‑": "-", "‒": "-", "–": "-", "—": "-", "―": "-", "\u00a0": " ", "\u2009": " ",
    "\u202f": " ", "\u3000": " ",
}

# Leetspeak, applied as a second, length-preserving view of the folded text.
LEET = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s", "!": "i", "|": "i"})
# A digit or symbol between letters ("1gn0re", "a$$hole"); starts with the rarer class to scan fast.
_LEET_HINT = re.compile(r"[013457$!|*](?<=[a-z][013457$!|*])[$!|*]?[a-z]")
_WORD_RE = re.compile(r"[a-z]+")


def is_invisible(ch: str) -> bool:
    return ch in ZERO_WIDTH or ch in BIDI or TAG_RANGE[0] <= ord(ch) <= TAG_RANGE[1]


def _fold_char(ch: str) -> str:
    if ch in CONFUSABLES:
        return CONFUSABLES[ch]
    if is_invisible(ch):
        return ""
    n = unicodedata.normalize("NFKC", ch)
    if n.isascii():
        return n.lower()
    # Strip accents (é -> e) so "ignóre" reads as "ignore"; keep anything else as one char.
    base = unicodedata.normalize("NFKD", ch)[:1].lower()
    return base if base.isascii() and base.isalpha() else ch.lower()[:1]


class Folded:
    """A lower-cased, ASCII-folded view of `original`. `span(s, e)` maps a folded span back."""

    def __init__(self, original: str):
        self.original = original
        if original.isascii():
            self.text = original.lower()
            self._index = None
            return
        parts: list[str] = []
        index: list[int] = []
        pos = 0
        for m in _NON_ASCII_RE.finditer(original):
            a, b = m.span()
            if a > pos:
                parts.append(original[pos:a].lower())
                index.extend(range(pos, a))
            for i in range(a, b):
                f = _fold_char(original[i])
                if f:
                    parts.append(f)
                    index.extend([i] * len(f))
            pos = b
        parts.append(original[pos:].lower())
        index.extend(range(pos, len(original)))
        index.append(len(original))
        self.text = "".join(parts)
        self._index = index

    def span(self, s: int, e: int) -> tuple[int, int]:
        if self._index is None:
            return s, e
        start = self._index[s]
        end = self._index[e - 1] + 1 if e > s else start
        return start, end

    @cached_property
    def words(self) -> frozenset[str]:
        w = set(_WORD_RE.findall(self.text))
        if self.leet is not None:
            w.update(_WORD_RE.findall(self.leet))
        return frozenset(w)

    @cached_property
    def leet(self) -> str | None:
        """The leetspeak-decoded view ("1gn0re" -> "ignore"), or None when the text has no leet."""
        if not _LEET_HINT.search(self.text):
            return None
        return self.text.translate(LEET)


def approx_tokens(text: str) -> int:
    """A fast token estimate (about 4 bytes of UTF-8 per token for English, ~1 per CJK character)."""
    n = len(text.encode("utf-8", "surrogatepass"))
    return (n + 3) // 4
