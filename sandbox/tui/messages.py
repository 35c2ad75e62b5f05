"""Messages the worker threads post to the main screen (post_message is thread-safe)."""

from __future__ import annotations

from textual.message import Message


class ModelLoading(Message):
    """The model registry was read; the model named `title` is now loading."""

    def __init__(self, title: str) -> None:
        super().__init__()
        self.title = title


class CoreEvent(Message):
    """One event from `Session.turn()` (sandbox.core.events), in the order core yielded it."""

    def __init__(self, event) -> None:
        super().__init__()
        self.event = event


def coalesced(events, interval: float = 0.1):
    """Core's events with streamed tokens merged per sample and handed on at most every
    `interval` seconds. Rendering every token on the UI thread takes CPU from llama.cpp on a
    small machine; the text and the order of everything else are unchanged."""
    import time

    from sandbox.core.events import Token

    pending: dict[int, str] = {}
    last = time.monotonic()
    for event in events:
        if isinstance(event, Token):
            pending[event.sample] = pending.get(event.sample, "") + event.text
            if time.monotonic() - last < interval:
                continue
        for sample, text in pending.items():
            yield Token(text, sample)
        pending.clear()
        last = time.monotonic()
        if not isinstance(event, Token):
            yield event
    for sample, text in pending.items():
        yield Token(text, sample)
