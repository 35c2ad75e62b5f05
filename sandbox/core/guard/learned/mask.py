"""What the learned layer reads: the text with its values masked. An e-mail address, a phone number
or an API key becomes its type (`<API_KEY>`), found by the same PII and secret rules that redact
the log. A key's letters and digits are not wording: unmasked, the letter groups of a bare
`AKIAIOSFODNN7EXAMPLE` read as an injection (p=0.51). Training masks its texts the same way.

    m = masked("my key is AKIAIOSFODNN7EXAMPLE")
    m.text              # "my key is <API_KEY>"
    m.span(10, 19)      # (10, 30): a span in the masked text, as a span of the original
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass


@dataclass(frozen=True)
class Masked:
    text: str
    original_length: int
    # (start in the masked text, end there, start in the original, end there), one per masked value
    edits: tuple[tuple[int, int, int, int], ...] = ()

    def __add__(self, other: "Masked") -> "Masked":
        """The mask of two texts one after the other (a stream's prefix and its new segment)."""
        m, o = len(self.text), self.original_length
        return Masked(self.text + other.text, o + other.original_length,
                      self.edits + tuple((a + m, b + m, c + o, d + o) for a, b, c, d in other.edits))

    def span(self, start: int, end: int) -> tuple[int, int]:
        """A span of the masked text as a span of the original; a span that reaches into a
        placeholder covers the whole value."""
        return self._at(start, True), self._at(end, False)

    def _at(self, pos: int, start: bool) -> int:
        if not self.edits:
            return pos
        i = bisect_right([e[0] for e in self.edits], pos) - 1  # the last value starting at or before pos
        if i < 0:
            return pos
        ms, me, os_, oe = self.edits[i]
        if pos == ms:
            return os_
        if pos < me:  # inside the placeholder
            return os_ if start else oe
        return pos - me + oe


def masked(text: str, found=None) -> Masked:
    """`text` with each PII or secret value (the rules' findings, or `found` when the caller has them)
    replaced by `<LABEL>`. Overlapping values become one placeholder."""
    if found is None:
        found = values(text)
    spans = sorted((f.span[0], f.span[1], f.label or f.category.upper()) for f in found if f.span[1] > f.span[0])
    if not spans:
        return Masked(text, len(text))
    out, edits, pos, shift = [], [], 0, 0
    for s, e, label in spans:
        if s < pos:  # overlaps the previous value: its placeholder stands for this one too
            if e > pos:
                ms, me, os_, _ = edits[-1]
                edits[-1] = (ms, me, os_, e)
                shift += e - pos
                pos = e
            continue
        out.append(text[pos:s])
        ph = f"<{label}>"
        ms = s - shift
        out.append(ph)
        edits.append((ms, ms + len(ph), s, e))
        shift += (e - s) - len(ph)
        pos = e
    out.append(text[pos:])
    return Masked("".join(out), len(text), tuple(edits))


def values(text: str) -> list:
    """The PII and secret findings of `text` (the same scanners the rules run)."""
    from sandbox.core.guard.scanners import pii, secrets
    from sandbox.core.guard.scanners.context import Context

    ctx = Context(text)
    return pii.scan(ctx) + secrets.scan(ctx)
