"""A 200-turn session in the real TUI (Pilot, headless, 140x42): keystroke-to-screen latency and
RSS at turn 10 and at turn 200. Short turns (2 tokens): the model is beside the point here.
Usage: python scripts/long_session.py [TURNS] [--keep N]   (SANDBOX_HOME should point at a temp dir)"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    import os

    return round(pages * os.sysconf("SC_PAGE_SIZE") / 2**20, 1)


async def keystroke_ms(pilot, prompt, n: int = 15) -> tuple[float, float]:
    """Median wall time of a key press until the screen has taken it, and the UI thread's CPU
    time for it (steadier than wall time on a busy machine)."""
    wall, cpu = [], []
    for _ in range(n):
        t0, c0 = time.perf_counter(), time.thread_time()
        await pilot.press("x")
        wall.append((time.perf_counter() - t0) * 1000)
        cpu.append((time.thread_time() - c0) * 1000)
    prompt.value = ""
    await pilot.pause()
    return round(statistics.median(wall), 1), round(statistics.median(cpu), 1)


async def main(turns: int, keep: int | None) -> None:
    from textual.widgets import Input

    from sandbox.tui.app import make_app
    from sandbox.tui.widgets import conversation

    if keep is not None:
        conversation.Conversation.KEEP_TURNS = keep
    app = make_app()
    async with app.run_test(size=(140, 42)) as pilot:
        main = app.main
        while main.session is None and not main.load_error:
            await pilot.pause(0.05)
        main.prompting.query_one("#max_tokens", Input).value = "2"
        prompt = main.conversation.prompt
        for i in range(1, turns + 1):
            prompt.value = f"Say one word about the number {i}."
            await pilot.press("enter")
            while not (main.busy is None and main.view is not None and main.view.turn is not None):
                await pilot.pause(0.01)
            if i in (10, turns):
                await pilot.pause(0.3)  # let the inspector's recount finish
                ms, cpu = await keystroke_ms(pilot, prompt)
                mounted = len(main.conversation.query(conversation.TurnView))
                print(f"turn {i}: keystroke-to-screen median {ms} ms wall, {cpu} ms UI-thread CPU, RSS {rss_mb()} MB, turn views mounted {mounted}",
                      flush=True)


if __name__ == "__main__":
    args = sys.argv[1:]
    keep = int(args[args.index("--keep") + 1]) if "--keep" in args else None
    n = int(args[0]) if args and args[0].isdigit() else 200
    asyncio.run(main(n, keep))
