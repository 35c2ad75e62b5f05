"""Output guarding while a reply streams: text reaches the screen only after it was scanned.

The newest part of the reply is held back (a value such as an e-mail or card number could still be
growing there); older text is released in segments cut where two letters meet a space, so no
number, address or key is split between a released segment and the held-back tail. Each segment
is scanned as it is released: redact findings are replaced in what is shown, and a block finding
stops the stream. The full reply is scanned again at the end, and that result is what is logged.
"""

from __future__ import annotations

from sandbox.core.encoder import SENTENCE_END as _SENTENCE_END
from sandbox.core.guard.redact import Redactor

HOLD = 96  # characters held back: longer than any PII value the scanners look for
FIRST = 24  # the first segment may be this short: the reader sees the reply start ~100 characters in, not ~200
MAX_PENDING = 1024  # past this, release even without a clean cut point


class GuardedStream:
    def __init__(self, policy, redactor: Redactor, **scan_kwargs):
        self.policy = policy
        self.redactor = redactor
        self.scan_kwargs = scan_kwargs
        self.pending = ""
        self.released = ""  # what was scanned and released so far: the learned layer lays its windows over it
        self.blocked = False

    def feed(self, text: str) -> str:
        """Add streamed text; return what may be shown now (possibly "")."""
        if self.blocked:
            return ""
        self.pending += text
        # Later segments are at least HOLD long, so a long reply is scanned in a few dozen pieces.
        if len(self.pending) <= (HOLD + FIRST if not self.released else 2 * HOLD):
            return ""
        cut = self._cut_point(len(self.pending) - HOLD)
        if cut is None:
            if len(self.pending) < MAX_PENDING:
                return ""
            cut = len(self.pending) - HOLD
        segment, self.pending = self.pending[:cut], self.pending[cut:]
        return self._release(segment)

    def flush(self) -> str:
        """The end of the reply: scan and release whatever is still held back."""
        segment, self.pending = self.pending, ""
        return self._release(segment) if segment and not self.blocked else ""

    def _cut_point(self, limit: int) -> int | None:
        p = self.pending
        # After a sentence when one ends in reach: the learned layer reads a reply by sentence, and a
        # segment ending inside one had it encoded twice, cut off now and whole at the next release
        # (a reply's windows were ~1.7x its word pieces).
        ends = [m.end() for m in _SENTENCE_END.finditer(p, 0, limit) if m.end() >= min(limit, FIRST)]
        if ends and p[ends[-1] - 1].isspace() and ends[-1] < len(p) and not p[ends[-1]].isspace():
            return ends[-1]
        for i in range(limit - 1, 0, -1):
            if p[i] == " " and p[i - 1].isalpha() and i + 1 < len(p) and p[i + 1].isalpha():
                return i + 1
        return None

    def _release(self, segment: str) -> str:
        res = self.policy.scan(segment, stage="output", redactor=self.redactor, prefix=self.released, **self.scan_kwargs)
        self.released += segment
        if res.verdict == "block":
            self.blocked = True
            return ""
        return res.redacted
