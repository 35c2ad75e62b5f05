"""Typed placeholders for redacted spans. One `Redactor` per turn: the same value gets the same
placeholder in the input and in the output. It keeps salted hashes, never the values."""

from __future__ import annotations

import hashlib
import os
import re

from sandbox.core.guard.model import Finding

_DIGITS_ONLY = {"PHONE", "CREDIT_CARD", "SSN", "IBAN"}


def _canonical(label: str, value: str) -> str:
    if label in _DIGITS_ONLY:
        return re.sub(r"[^0-9A-Za-z]", "", value).upper()
    if label in ("EMAIL", "IP_ADDRESS", "PROFANITY"):
        return value.lower()
    return value


class Redactor:
    """Numbers placeholders per type: <EMAIL_1>, <EMAIL_2>, <PHONE_1>, ..."""

    def __init__(self) -> None:
        self._salt = os.urandom(16)
        self._issued: dict[tuple[str, bytes], str] = {}
        self._counts: dict[str, int] = {}

    def placeholder(self, label: str, value: str) -> str:
        digest = hashlib.blake2b(_canonical(label, value).encode("utf-8", "surrogatepass"), key=self._salt, digest_size=16).digest()
        key = (label, digest)
        if key not in self._issued:
            self._counts[label] = self._counts.get(label, 0) + 1
            self._issued[key] = f"<{label}_{self._counts[label]}>"
        return self._issued[key]

    @property
    def counts(self) -> dict[str, int]:
        """How many distinct values of each type were redacted so far."""
        return dict(self._counts)

    def apply(self, text: str, redact: list[Finding], strip: list[tuple[int, int]] = ()) -> str:
        """`text` with each redact finding's span replaced and each `strip` span removed."""
        spans = sorted(((f.span[0], f.span[1], f.label or f.category.upper()) for f in redact),
                       key=lambda x: (x[0], -(x[1] - x[0])))
        merged: list[tuple[int, int, str | None]] = []
        for s, e, label in spans:
            if merged and s < merged[-1][1]:
                ps, pe, pl = merged[-1]
                merged[-1] = (ps, max(pe, e), pl)  # overlapping spans become one placeholder
            else:
                merged.append((s, e, label))
        edits = merged + [(s, e, None) for s, e in strip if not any(a < e and s < b for a, b, _ in merged)]
        if not edits:
            return text
        edits.sort(key=lambda x: (x[0], x[1]))
        out: list[str] = []
        pos = 0
        for s, e, label in edits:
            out.append(text[pos:s])
            if label is not None:
                out.append(self.placeholder(label, text[s:e]))
            pos = e
        out.append(text[pos:])
        return "".join(out)
