"""The learned layer of the guardrails: small classifier heads on a sentence encoder, beside the rules.

Each text is cut into ~64-token windows (one window when short), the windows are embedded in one
batch, and every head scores every window and their mean; a head's score for the text is
`heads.text_score` (one sentence of a long text counts alone only when the head is sure), and its
finding shows the best window's span, with the nearest labelled training examples as the reason.
The policy's per-category thresholds decide, exactly as for rule findings (rule ids `learned.<head>`).

When the encoder or the head file cannot load, the layer is off and says why (`status()`); the rules
go on alone. Nothing here is loaded at import time: the TUI loads it in the background."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from sandbox.core.guard.learned.mask import Masked, masked
from sandbox.core.guard.model import Finding

MIN_SCORE = 0.45  # a head reports a window only near its operating point (0.5): below, it would be noise on every text
CATEGORY = {"injection": "injection", "jailbreak": "jailbreak", "prompt_leak": "prompt_leak", "harm": "harm",
            "toxicity": "toxicity"}
DETAIL = {"injection": "reads like a prompt injection", "jailbreak": "reads like a jailbreak prompt",
          "prompt_leak": "reads like an attempt to extract the system prompt",
          "harm": "reads like a request for help with harm", "toxicity": "reads like toxic text"}


@dataclass(frozen=True)
class Status:
    on: bool
    reason: str  # what is loaded, or why the layer is off

    def line(self) -> str:
        return f"learned layer {'on' if self.on else 'off'}: {self.reason}"


class LearnedLayer:
    def __init__(self, encoder, heads):
        self.encoder = encoder
        self.heads = heads
        self._last_stream: tuple[str, Masked] | None = None  # (prefix + text, its mask) of the last streamed scan

    @classmethod
    def load(cls) -> "LearnedLayer":
        from sandbox.core import blas
        from sandbox.core.encoder import shared_encoder
        from sandbox.core.guard.learned import heads

        layer = cls(shared_encoder(), heads.load_heads(heads.HEADS_FILE, heads.CARD_FILE))
        blas.one_thread()  # the heads' products are tiny; spinning BLAS workers would slow the next encoder run
        return layer

    def _masked_prefix(self, prefix: str) -> Masked:
        # A stream's prefix is the last scan's prefix and text: masked then, not again at each release.
        last = self._last_stream
        return last[1] if last is not None and last[0] == prefix else masked(prefix)

    def describe(self) -> str:
        card = self.heads.card
        return (f"{self.encoder.model_id}, {len(self.heads.names)} heads trained on "
                f"{card.get('counts', {}).get('train', '?')} examples ({card.get('trained', '?')})")

    def scan(self, text: str, stage: str, prefix: str = "", found=None) -> list[Finding]:
        """Findings for `text`. With `prefix` (the part of a streamed reply already scanned), windows
        are laid over prefix + text, so windows already seen come from the encoder's cache and only
        new ones are encoded; findings are for windows that reach into `text`. `found`: the text's
        PII and secret findings when the rules have them (else they are looked for here)."""
        import numpy as np

        from sandbox.core.guard.learned.heads import LOCAL_HEADS, STAGE_HEADS, text_score, wording_parts
        from sandbox.core.guard.learned.lexical import terms

        names = [n for n in STAGE_HEADS[stage] if n in self.heads.names]
        if not names:
            return []
        # The heads read values masked (`<EMAIL>`, `<API_KEY>`), as they were trained; spans are
        # mapped back to the text. A streamed reply is released only between words, so its prefix
        # and the new text mask on their own.
        seen_prefix = self._masked_prefix(prefix) if prefix else Masked("", 0)
        seen_text = masked(text, found)
        if stage == "output":
            self._last_stream = (prefix + text, seen_prefix + seen_text)
        full = seen_prefix.text + seen_text.text
        prefix = seen_prefix.text
        # While a reply streams (a prefix), always by sentence: as one whole window, a short reply
        # would be encoded again in full at every release (9, 19, 41, ... 125 pieces). The final
        # scan of the whole reply, which is what is logged, reads it whole as usual.
        wins = self.encoder.windows(full, whole_up_to=0) if prefix else self.encoder.windows(full)
        wins = [w for w in wins if w.end > len(prefix)]
        if not wins:
            return []
        vecs = self.encoder.embed_windows(wins)
        # Each window's own wording, and the whole text's for their mean: a whole text's words would
        # drown an instruction appended to a page of harmless text, as its mean embedding does.
        parts = wording_parts(full, wins)
        if len(wins) > 1:  # the heads were fitted and calibrated on each window and on their mean
            from sandbox.core.encoder import Window

            mean = vecs.mean(0)
            vecs = np.vstack([vecs, mean / max(float(np.linalg.norm(mean)), 1e-12)])
            wins = [*wins, Window(wins[0].start, wins[-1].end, ())]
        counted = [terms(p) for p in parts]
        said = [self.heads.wording(c, names) for c in counted]
        wording = {n: np.array([d[n] for d in said]) for n in said[0]} if said and said[0] else None
        probs = self.heads.probabilities(vecs, names, wording=wording)
        n_windows = len(wins) - 1 if len(wins) > 1 else 1  # the last "window" of several is their mean
        out = []
        sims: dict[int, np.ndarray] = {}  # window -> its similarity to the bank, shared by the heads it fired
        for j, name in enumerate(names):
            p, best = text_score(probs[:, j], n_windows, name in LOCAL_HEADS)
            if p < MIN_SCORE:
                continue
            w = wins[best]
            s, e = seen_text.span(max(0, w.start - len(prefix)), max(0, w.end - len(prefix)))
            if best not in sims:
                sims[best] = self.heads.similarities(vecs[best])
            near = self.heads.neighbours(vecs[best], k=3, prefer=name, sims=sims[best])
            detail = f"{DETAIL[name]} (p={p:.2f}); nearest: " + "; ".join(
                f"{n.label} {n.similarity:.2f} “{_cut(n.text, 48)}”" for n in near[:2])
            if name in self.heads.lexical:
                # The words of the part the head read for that window (its own, or the whole text's for the mean)
                words = self.heads.wording_table().reasons(counted[best], name)
                if words:
                    detail += "; wording: " + ", ".join(f"“{w}”" for w in words)
            out.append(Finding(f"learned.{name}", CATEGORY[name], p, (s, e), detail, neighbours=near))
        return out


def _cut(text: str, n: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1] + "…"


# -- one layer per process, loaded once, in the background when asked --------------------------------

_layer: LearnedLayer | None = None
_status: Status | None = None
_lock = threading.Lock()


def layer() -> LearnedLayer | None:
    """The loaded layer, loading it now if nobody has; None when it is off (see status())."""
    global _layer, _status
    with _lock:
        if _status is None:
            from sandbox.core.encoder import EncoderUnavailable
            from sandbox.core.guard.learned.heads import HeadsUnavailable

            try:
                _layer = LearnedLayer.load()
                _status = Status(True, _layer.describe())
            except (EncoderUnavailable, HeadsUnavailable) as e:
                _layer, _status = None, Status(False, f"{e}; the rules run alone")
        return _layer


def status() -> Status:
    """Whether the layer runs, and why not (loads it if that has not been tried)."""
    layer()
    return _status


def loaded_status() -> Status | None:
    """The status if loading has finished, else None (for a UI that must not wait)."""
    return _status


def reset() -> None:
    """Forget the loaded layer (tests that damage a file, then load again)."""
    global _layer, _status
    import sandbox.core.encoder as enc

    with _lock:
        _layer, _status = None, None
        with enc._shared_lock:
            enc._shared, enc._shared_error = None, None
