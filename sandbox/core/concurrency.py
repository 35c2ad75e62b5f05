"""Rows of an eval sent to the model several at a time (`sandbox eval --concurrency N`).

A served model batches concurrent requests (continuous batching in vLLM and llama-server), so N
rows in flight finish sooner than N rows one after another. Each worker thread runs its turns on
its own unlogged Session over the same engine; the calling thread logs every turn (one SQLite
connection, one writer) and hands the turns back in row order, so the results and the log are
the same as a sequential run's."""

from __future__ import annotations

import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Callable, Iterator, Sequence

from sandbox.core.events import TurnDone


def _one(session, request, cancel):
    turn = None
    for ev in session.turn(request, cancel=cancel):
        if isinstance(ev, TurnDone):
            turn = ev.turn
    return turn


def row_turns(session, rows: Sequence, options: Callable[[int], object], cancel: threading.Event | None,
              concurrency: int = 1) -> Iterator[tuple[int, object, object]]:
    """(row index, row, Turn) for each row's turn on `session`, in row order. `options(i)` is row
    i's TurnRequest. Stops at a cancel."""
    if concurrency <= 1 or session.engine.backend != "remote":  # one llama.cpp context decodes one request at a time
        for i, row in enumerate(rows):
            if cancel is not None and cancel.is_set():
                return
            yield i, row, _one(session, options(i), cancel)
        return

    from sandbox.core.session import Session

    local = threading.local()
    base_idx = session.next_idx

    def work(i: int, row) -> dict:
        w = getattr(local, "session", None)
        if w is None:
            w = local.session = session.derive(session_id=session.id)
            w.store = None  # unlogged: the calling thread logs every turn
        w.next_idx = base_idx + i  # the idx a sequential run would give this row
        return _one(w, options(i), cancel)

    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="eval-row") as pool:
        pending: dict[int, Future] = {}
        nxt = 0
        try:
            for i, row in enumerate(rows):
                while nxt < len(rows) and len(pending) < concurrency and not (cancel is not None and cancel.is_set()):
                    pending[nxt] = pool.submit(work, nxt, rows[nxt])
                    nxt += 1
                if i not in pending:
                    return  # cancelled before this row was sent
                turn = pending.pop(i).result()
                session._log(turn)  # this thread owns the log connection
                session.next_idx = max(session.next_idx, turn.idx + 1)
                yield i, row, turn
        finally:
            if cancel is not None:
                for f in pending.values():
                    f.cancel()
