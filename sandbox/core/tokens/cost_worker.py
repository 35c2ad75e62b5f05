"""The hosted-cost line computed in a child process, for the headless commands.

Pricing a turn needs genai-prices imported (~0.25 s of CPU) and tiktoken's two encodings built
(~0.3 s, in Rust, holding the GIL). In `sandbox run` that work used to run in a thread beside the
model load and the prompt evaluation: on a 2-core machine it took the GIL from the guard and the
CPU from llama.cpp's threads, and the first token came ~0.6 s later (done after the reply
instead, the same 0.6 s lands at the end). A child process started as the command begins does it
on the core the parent leaves idle while it imports and loads, at a lower scheduling priority
so it yields to decoding, and answers `chat_cost` over a pipe in a few milliseconds.

The child prices with the same code, the same models.toml and the same moment as the parent
(`PriceTable.chat_cost`), so its answer is the one the parent would compute. Anything that goes
wrong (no child, a dead one, a slow one, an error inside it) returns None and the caller prices
in-process: the worker can make a turn faster, never different or missing.

Protocol, one JSON object per line each way (ASCII, so no encoding can break it):
    request  {"messages": [{"role", "content"}], "outputs": [str], "reuse": {...} | null, "when": ISO}
    reply    {"cost": {...}} | {"error": "why"}
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
from dataclasses import asdict
from datetime import datetime, timezone
from typing import Mapping, Sequence

REPLY_TIMEOUT_S = 10.0  # far above its ~0.6 s of work: a child this slow is stuck, price in-process
NICENESS = 10  # below the parent's decoding, still ahead of a laptop's other background work


class CostWorker:
    """The parent's end: `chat_cost` answered by the child, or None to price in-process."""

    def __init__(self, proc: subprocess.Popen):
        self._proc = proc
        self._replies: queue.Queue[str | None] = queue.Queue()
        self._lock = threading.Lock()  # one request in flight: replies come back in order
        threading.Thread(target=self._read, name="cost-worker-reader", daemon=True).start()

    @classmethod
    def start(cls, models_file: str | None = None) -> "CostWorker | None":
        """Start the child now, so it loads while the parent does; None if it cannot be started."""
        command = [sys.executable, "-m", "sandbox.core.tokens.cost_worker", models_file or ""]
        extra = {"creationflags": subprocess.BELOW_NORMAL_PRIORITY_CLASS} if os.name == "nt" else {}
        try:
            proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                    stderr=subprocess.DEVNULL, **extra)
        except OSError:
            return None
        return cls(proc)

    def _read(self) -> None:
        for line in self._proc.stdout:
            self._replies.put(line.decode("ascii", "replace"))
        self._replies.put(None)  # the child has gone

    def chat_cost(self, messages: Sequence[Mapping[str, str]], outputs: Sequence[str], reuse=None,
                  when: datetime | None = None) -> dict | None:
        """`PriceTable.chat_cost(messages, outputs, reuse)` at `when` (default now), from the child."""
        request = {"messages": [{"role": m.get("role", ""), "content": m.get("content", "")} for m in messages],
                   "outputs": list(outputs), "reuse": asdict(reuse) if reuse is not None else None,
                   "when": (when or datetime.now(timezone.utc)).isoformat()}
        with self._lock:
            if self._proc.poll() is not None:
                return None
            try:
                self._proc.stdin.write((json.dumps(request) + "\n").encode("ascii"))
                self._proc.stdin.flush()
                line = self._replies.get(timeout=REPLY_TIMEOUT_S)
            except (OSError, ValueError, queue.Empty):
                self.close()
                return None
        if line is None:
            return None
        try:
            reply = json.loads(line)
        except ValueError:
            return None
        return reply.get("cost") if isinstance(reply, dict) and isinstance(reply.get("cost"), dict) else None

    def close(self) -> None:
        """End the child: its input closes and it exits (it also does if this process dies). It is
        reaped on a thread: one still loading would otherwise hold up the end of the command."""
        try:
            self._proc.stdin.close()
        except OSError:
            pass
        threading.Thread(target=self._proc.wait, name="cost-worker-reaper", daemon=True).start()


# ---- the child --------------------------------------------------------------------------------


def _lower_priority() -> None:
    if hasattr(os, "nice"):
        try:
            os.nice(NICENESS)
        except OSError:
            pass


def serve(models_file: str | None, requests, replies) -> None:
    """Answer each request line from `requests` on `replies` until the input ends."""
    from sandbox.core import config
    from sandbox.core.tokens import prices

    try:
        table = prices.PriceTable.for_registry(config.load(models_file))
        prices.preload()
        table.prices  # noqa: B018 - resolve the models now, before the first request
        failure = None
    except Exception as e:  # noqa: BLE001 - reported per request: the parent prices in-process
        table, failure = None, f"{type(e).__name__}: {e}"
    for line in requests:
        try:
            if failure:
                raise RuntimeError(failure)
            req = json.loads(line)
            table.when = datetime.fromisoformat(req["when"])
            r = req.get("reuse")
            reuse = prices.CacheReuse(r["cached_tokens"], r["prompt_tokens"], r.get("previous")) if r else None
            reply = {"cost": table.chat_cost(req["messages"], req["outputs"], reuse)}
        except Exception as e:  # noqa: BLE001 - one bad request must not end the worker
            reply = {"error": f"{type(e).__name__}: {e}"}
        replies.write(json.dumps(reply) + "\n")
        replies.flush()


def main() -> None:
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl+C is the parent's to handle; it closes our input
    _lower_priority()
    replies = sys.stdout
    sys.stdout = sys.stderr  # nothing a library prints may corrupt the replies
    serve(sys.argv[1] if len(sys.argv) > 1 and sys.argv[1] else None, sys.stdin, replies)


if __name__ == "__main__":
    main()
