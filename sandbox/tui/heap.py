"""How the TUI asks Python's garbage collector to stay out of a streaming reply's way.

Once the model is loaded, the process holds ~160,000 long-lived objects (modules, widgets, the
guard's data, the tokenizers' tables). A full collection walks them all, ~100 ms with the GIL held,
and one came every few seconds of a stream: a pause in the reply and in the decode loop's Python
between llama.cpp calls. Textual also leaves reference cycles behind every frame, so the young
generation filled every 700 allocations. Textual pauses the collector during smooth scrolls for
the same reason (App.PAUSE_GC_ON_SCROLL)."""

from __future__ import annotations

import gc

# Young-generation collections come after this many net allocations (Python's default is 700).
YOUNG_THRESHOLD = 20_000


def settle_after_load() -> None:
    """Collect once, move what survives out of the collector's sight (gc.freeze), and collect
    the young generation less often. Called when the model has loaded, before the first turn."""
    gc.collect()
    gc.freeze()
    young, older, oldest = gc.get_threshold()
    gc.set_threshold(max(YOUNG_THRESHOLD, young), older, oldest)
