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
