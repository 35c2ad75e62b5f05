"""System-prompt leakage in the model's output: the session's canary token, or a long verbatim run
of the system prompt's words."""

from __future__ import annotations

import re

from sandbox.core.guard.model import Finding
from sandbox.core.guard.scanners.context import Context

L = "prompt_leak"
SHINGLE = 6  # words per shingle
MIN_RUN_WORDS = 12  # a verbatim run this long is a leak...
MIN_SHARE = 0.6  # ...or this share of a short system prompt
_WORD = re.compile(r"\w+")
_NOT_ALNUM = re.compile(r"[^a-z0-9]+")


def _canary(ctx: Context) -> list[Finding]:
    canary = ctx.canary
    if not canary:
        return []
    i = ctx.text.find(canary)
    if i >= 0:
        return [Finding("prompt_leak.canary", L, 1.0, (i, i + len(canary)), "output contains the system prompt's canary token")]
    # The model may re-space or re-case it: compare with separators removed.
    squash = re.sub(r"[\W_]+", "", canary).lower()
    if len(squash) >= 8 and squash in _NOT_ALNUM.sub("", ctx.folded.text):
        folded = ctx.folded
        letters = [(m.start(), m.group()) for m in re.finditer(r"[a-z0-9]+", folded.text)]
        joined = "".join(w for _, w in letters)
        j = joined.find(squash)
        if j >= 0:
            # map back: find the token that contains offset j
            acc = 0
            start = end = None
            for pos, w in letters:
                if start is None and acc + len(w) > j:
                    start = pos + (j - acc)
                if acc + len(w) >= j + len(squash):
                    end = pos + (j + len(squash) - acc)
                    break
                acc += len(w)
            if start is not None and end is not None:
                return [Finding("prompt_leak.canary", L, 0.95, folded.span(start, end),
                                "output contains the canary token (re-spaced)")]
    return []


def _verbatim(ctx: Context) -> list[Finding]:
    sp = ctx.system_prompt
    if not sp:
        return []
    sp_words = [w.lower() for w in _WORD.findall(sp)]
    if len(sp_words) < SHINGLE:
        return []
    # Any copied run of `need` >= 2 * SHINGLE - 1 words contains one of these every-SHINGLE-th
    # shingles whole: check them as plain substrings first (fast), then do the real work.
    need = min(MIN_RUN_WORDS, max(SHINGLE, int(len(sp_words) * MIN_SHARE)))
    flat = " " + " ".join(_WORD.findall(ctx.text.lower())) + " "
    step = max(1, need - SHINGLE + 1)
    anchors = (" " + " ".join(sp_words[i:i + SHINGLE]) + " " for i in range(0, len(sp_words) - SHINGLE + 1, step))
    if not any(a in flat for a in anchors):
        return []
    shingles = {tuple(sp_words[i:i + SHINGLE]) for i in range(len(sp_words) - SHINGLE + 1)}
    out_matches = [(m.start(), m.end(), m.group().lower()) for m in _WORD.finditer(ctx.text)]
    words = [w for _, _, w in out_matches]
    found = []
    i = 0
    n = len(words)
    while i <= n - SHINGLE:
        if tuple(words[i:i + SHINGLE]) in shingles:
            j = i
            while j + 1 <= n - SHINGLE and tuple(words[j + 1:j + 1 + SHINGLE]) in shingles:
                j += 1
            run = j - i + SHINGLE
            if run >= need:
                s, e = out_matches[i][0], out_matches[j + SHINGLE - 1][1]
                found.append(Finding("prompt_leak.verbatim", L, min(1.0, 0.7 + run / 100), (s, e),
                                     f"output repeats {run} consecutive words of the system prompt"))
            i = j + SHINGLE
        else:
            i += 1
    return found


def scan(ctx: Context) -> list[Finding]:
    return _canary(ctx) + _verbatim(ctx)
