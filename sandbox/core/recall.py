"""Retrieval memory (`memory.mode = "retrieval"`): the sliding window as usual, plus the turns it
dropped that are most like the new prompt, recalled into the prompt and labelled as recalled.

Two ways to score a dropped turn against the prompt:
- "embedding": cosine similarity of sentence embeddings (the shared encoder the guardrails use).
  Each turn is embedded once and the vector is stored in the log (`turn_embeddings`).
- "bm25": SQLite FTS5's BM25 rank. It runs over an in-memory FTS5 table of this session's dropped
  turns, not over the whole log's `turns_fts`: BM25's term weights come from the table it searches,
  so scores over the log would change as other sessions are added and a re-run would not
  reproduce them.

Recalled turns take at most `RECALL_SHARE` (40%) of the past-turn budget (the window is chosen from the
rest) and are placed just before the new message, so the window's prefix stays in the KV cache."""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass, field
from typing import Callable

RECALL_SHARE = 0.4
LABEL = "Recalled from earlier in this conversation (no longer in the window):"
_WORD = re.compile(r"\w+", re.UNICODE)
_STOP = frozenset("a an and are as at be by do does did for from has have i in is it its me my of on or so "
                  "that the this to was we what when where which who why will with you your".split())


@dataclass(frozen=True)
class Recalled:
    idx: int
    score: float
    tokens: int

    def to_dict(self) -> dict:
        return {"idx": self.idx, "score": round(float(self.score), 4)}


@dataclass
class Recall:
    """What was recalled for one prompt, and how."""

    method: str  # the method actually used ("bm25" when the encoder was unavailable)
    items: list[Recalled] = field(default_factory=list)
    budget: int = 0
    note: str | None = None

    @property
    def tokens(self) -> int:
        return sum(r.tokens for r in self.items)

    def info(self, k: int) -> dict:
        return {"method": self.method, "k": k, "budget": self.budget, "tokens": self.tokens}


def reserve(past_budget: int) -> int:
    """Tokens held back from the window for recalled turns."""
    return int(RECALL_SHARE * max(0, past_budget))


def turn_text(user: str, output: str) -> str:
    return f"User: {user}\nAssistant: {output}"


def block(items: list[Recalled], past_by_idx: dict) -> str:
    """The labelled text put before the new message (oldest recalled turn first)."""
    lines = [LABEL]
    for r in sorted(items, key=lambda r: r.idx):
        t = past_by_idx[r.idx]
        lines.append(f"[turn {r.idx}] User: {t.user}\n[turn {r.idx}] Assistant: {t.output}")
    return "\n".join(lines)


def with_recall(user_message: str, items: list[Recalled], past_by_idx: dict) -> str:
    if not items:
        return user_message
    return f"{block(items, past_by_idx)}\n\n{user_message}"


def fts_query(text: str) -> str:
    """An FTS5 query matching any of the text's content words (each quoted, so no syntax leaks in)."""
    words = [w for w in dict.fromkeys(w.lower() for w in _WORD.findall(text)) if w not in _STOP]
    return " OR ".join('"' + w.replace('"', '""') + '"' for w in words)


def bm25_scores(query: str, docs: dict[int, str]) -> dict[int, float]:
    """idx -> BM25 score (higher is better; 0 for no shared word) over an in-memory FTS5 table."""
    match = fts_query(query)
    if not match or not docs:
        return {}
    conn = sqlite3.connect(":memory:")
    try:
        conn.execute("CREATE VIRTUAL TABLE d USING fts5(body)")
        conn.executemany("INSERT INTO d(rowid, body) VALUES (?, ?)", sorted(docs.items()))
        rows = conn.execute("SELECT rowid, bm25(d) FROM d WHERE d MATCH ?", [match]).fetchall()
    finally:
        conn.close()
    return {int(i): -float(s) for i, s in rows}  # FTS5's bm25() is negative: more negative is better


class Recaller:
    """Scores a session's dropped turns against a new prompt. Holds the turns' embeddings (loaded
    from / saved to the log once) so nothing is embedded twice."""

    def __init__(self, store=None):
        self.store = store
        self._vectors: dict[tuple[str, int], object] = {}
        self._loaded: set[str] = set()
        self._query: tuple[str, object] | None = None

    def recall(self, query: str, candidates: list, *, method: str, k: int, budget: int, session_id: str,
               count: Callable[[str], int]) -> Recall:
        """`candidates` are PastTurns (idx, user, output) the window dropped; `count` gives a text's
        token cost. The best `k` that fit `budget` tokens, by score, ties to the older turn."""
        result = Recall(method=method, budget=budget)
        if k <= 0 or not candidates or not query.strip():
            return result
        scores: dict[int, float] = {}
        if method == "embedding":
            from sandbox.core.encoder import EncoderUnavailable

            try:
                scores = self._embedding_scores(query, candidates, session_id)
            except EncoderUnavailable as e:
                result.method = "bm25"
                result.note = f"retrieval memory: the sentence encoder is unavailable ({e}); recalled by BM25 instead"
        if result.method == "bm25":
            scores = bm25_scores(query, {t.idx: turn_text(t.user, t.output) for t in candidates})
        by_idx = {t.idx: t for t in candidates}
        ranked = sorted((s, i) for i, s in scores.items() if s > 0)
        ranked.sort(key=lambda p: (-p[0], p[1]))
        overhead = count(LABEL) + 4  # the label and the blank line before the new message
        left = budget - overhead
        for score, i in ranked:
            if len(result.items) >= k:
                break
            t = by_idx[i]
            cost = count(f"[turn {i}] User: {t.user}\n[turn {i}] Assistant: {t.output}\n") + 2
            if cost <= left:
                result.items.append(Recalled(i, score, cost))
                left -= cost
        if result.items:  # the first recalled turn carries the label's cost
            first = result.items[0]
            result.items[0] = Recalled(first.idx, first.score, first.tokens + overhead)
        return result

    def _embedding_scores(self, query: str, candidates: list, session_id: str) -> dict[int, float]:
        import numpy as np

        from sandbox.core.encoder import shared_encoder

        enc = shared_encoder()
        model = enc.model_id
        if self.store is not None and session_id not in self._loaded:
            self._loaded.add(session_id)
            for idx, raw in self.store.turn_embeddings(session_id, model).items():
                self._vectors.setdefault((session_id, idx), np.frombuffer(raw, dtype=np.float32))
        missing = [t for t in candidates if (session_id, t.idx) not in self._vectors]
        if missing:
            vecs = enc.embed([turn_text(t.user, t.output) for t in missing])
            for t, v in zip(missing, vecs):
                self._vectors[(session_id, t.idx)] = v
            if self.store is not None and not getattr(self.store, "readonly", False):
                self.store.save_turn_embeddings(session_id, model, {t.idx: v.astype(np.float32).tobytes()
                                                                    for t, v in zip(missing, vecs)})
        if self._query is None or self._query[0] != query:
            self._query = (query, enc.embed([query])[0])
        q = self._query[1]
        return {t.idx: float(np.dot(self._vectors[(session_id, t.idx)], q)) for t in candidates}
