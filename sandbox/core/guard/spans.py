"""A set of [start, end) spans that answers "does this span overlap any of them?" in log time, so a
text with thousands of findings is not scanned in quadratic time."""

from __future__ import annotations

from bisect import bisect_left, insort


class SpanSet:
    def __init__(self, spans=()):
        self._spans: list[tuple[int, int]] = sorted(spans)

    def add(self, span: tuple[int, int]) -> None:
        insort(self._spans, span)

    def overlaps(self, s: int, e: int) -> bool:
        spans = self._spans
        i = bisect_left(spans, (e, -1))  # spans starting before e
        # Walk back over the spans that start before e; a span longer than the gap still reaches s.
        j = i - 1
        while j >= 0:
            a, b = spans[j]
            if b > s:
                return True
            if s - a > _MAX_SPAN:
                return False
            j -= 1
        return False


# Findings longer than this are rare (PEM keys); `overlaps` stops looking this far back.
_MAX_SPAN = 1 << 16
