"""The eval result cache: a finished turn, keyed by a hash of everything that decides it.

`turn_key()` is the one place the key is computed (when a typed turn request lands, it hashes that
instead). Entries live in their own SQLite file, `$SANDBOX_HOME/eval-cache.db`, so the log's
schema is untouched; each entry keeps the turn object it came from, whose turn and session ids
point into the log.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from pathlib import Path

from sandbox.core import paths
from sandbox.core.store.db import BUSY_TIMEOUT_S, now_iso

KEY_VERSION = 1  # bump when what a turn depends on changes meaning


def turn_key(*, rendered_prompt: str, params: dict, seeds: list[int], strategy: str, model_sha256: str,
             grammar: str | dict | None = None, extra: dict | None = None) -> str:
    """SHA-256 over what decides a turn: the exact prompt the model sees, sampling parameters,
    seeds, strategy, the model file and any grammar; `extra` carries the rest (answer pattern,
    logprobs, engine version)."""
    material = {"v": KEY_VERSION, "prompt": rendered_prompt, "params": params, "seeds": list(seeds),
                "strategy": strategy, "model_sha256": model_sha256, "grammar": grammar, "extra": extra or {}}
    blob = json.dumps(material, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def cache_path() -> Path:
    return paths.home() / "eval-cache.db"


class ResultCache:
    """key -> turn object. Thread-safe; every write is its own transaction."""

    def __init__(self, path: Path | None = None):
        self.path = path or cache_path()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(self.path), timeout=BUSY_TIMEOUT_S, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode = WAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS results (key TEXT PRIMARY KEY, turn_json TEXT NOT NULL, "
                         "created_at TEXT NOT NULL)")
        self._db.commit()

    def get(self, key: str) -> dict | None:
        with self._lock:
            row = self._db.execute("SELECT turn_json FROM results WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else None

    def put(self, key: str, turn: dict) -> None:
        with self._lock, self._db:
            self._db.execute("INSERT OR REPLACE INTO results (key, turn_json, created_at) VALUES (?, ?, ?)",
                             (key, json.dumps(turn, ensure_ascii=False), now_iso()))

    def __len__(self) -> int:
        with self._lock:
            return self._db.execute("SELECT count(*) FROM results").fetchone()[0]

    def close(self) -> None:
        with self._lock:
            self._db.close()
