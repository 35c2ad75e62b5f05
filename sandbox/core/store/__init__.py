"""The SQLite log of sessions and turns (docs/ARCHITECTURE.md §5): `Store.open()` and its methods.

Headless: nothing here imports Textual or llama_cpp."""

from sandbox.core.store.db import Store, export_problems, new_id, now_iso

__all__ = ["Store", "export_problems", "new_id", "now_iso"]
