"""`sandbox bench --tui`: the real app, driven headless by Textual's Pilot through core's fixed
script, turn by turn next to the same turn on the headless path (interleaved, in one process, so
machine noise hits both alike). The numbers are the turns' own logged timings."""

from __future__ import annotations

import asyncio
import time

from sandbox.core import bench
from sandbox.core.errors import SandboxError


async def _wait(pilot, done, timeout: float, what: str) -> None:
    # asyncio.sleep, not pilot.pause: pause walks every widget's queue each time, and that work
    # on the UI thread would be measured as the TUI's.
    t0 = time.monotonic()
    while not done():
        if time.monotonic() - t0 > timeout:
            raise SandboxError(f"bench --tui: {what} took longer than {timeout:.0f} s")
        await asyncio.sleep(0.05)


async def _headless_turn(headless, text: str, i: int, n: int, progress) -> dict:
    progress(f"turn {i + 1}/{n}: headless")
    return await asyncio.to_thread(headless.turn, text, i)


async def run_async(model: str | None, models_file: str | None, *, turns: int, n_tokens: int, seed: int = 42,
                    progress=lambda msg: None) -> dict:
    from textual.widgets import Input

    from sandbox.tui.app import make_app

    script = bench.tui_script(turns)
    progress("loading the model (headless path)")
    headless = bench.HeadlessTurns(model, models_file, n_tokens, seed)
    tui_rows, headless_rows = [], []
    app = make_app(model=model, models_file=models_file)
    try:
        async with app.run_test(size=(140, 42)) as pilot:
            main = app.main
            progress("loading the model (TUI)")
            await _wait(pilot, lambda: main.session is not None or main.load_error, 300, "loading the model")
            if main.load_error:
                raise SandboxError(f"bench --tui: the TUI could not load the model: {main.load_error}")
            progress("warming both engines (untimed)")
            # A full-length generation on each: after only a short one, the first timed turn went to
            # whichever path ran it first (99 against 59 tok/s, either way round), as if the machine
            # ran faster for the first seconds of sustained load (CPU boost, a VM's burst credit).
            await asyncio.to_thread(bench.warm, main.session.engine, n_tokens)
            await asyncio.to_thread(bench.warm, headless.session.engine, n_tokens)
            main.prompting.ignore_eos = True
            main.prompting.query_one("#max_tokens", Input).value = str(n_tokens)
            for i, text in enumerate(script):
                # The two paths take turns going first, so whatever follows a turn (the UI settling,
                # the log write, the machine's drift) is charged to neither path more than the other.
                if i % 2:
                    headless_rows.append(await _headless_turn(headless, text, i, len(script), progress))
                main.prompting.query_one("#seed", Input).value = str(seed + i)
                await pilot.pause()
                progress(f"turn {i + 1}/{len(script)}: TUI")
                main.conversation.prompt.value = text
                # The UI thread's own CPU during the turn: what drawing takes from decoding on a small
                # machine, and steadier than tok/s, which moves with the machine's load.
                cpu0, wall0 = time.thread_time(), time.monotonic()
                await pilot.press("enter")
                await _wait(pilot, lambda: main.busy is None and main.view is not None and main.view.turn is not None,
                            600, f"turn {i + 1} in the TUI")
                row = bench.turn_speed(main.view.turn)
                row["ui_cpu_ms"] = (time.thread_time() - cpu0) * 1000
                row["wall_ms"] = (time.monotonic() - wall0) * 1000
                tui_rows.append(row)
                if not i % 2:
                    headless_rows.append(await _headless_turn(headless, text, i, len(script), progress))
    finally:
        headless.close()
    return bench.compare_paths(tui_rows, headless_rows)


def run(model: str | None, models_file: str | None, *, turns: int = 3, n_tokens: int = 512, progress=lambda m: None) -> dict:
    return asyncio.run(run_async(model, models_file, turns=turns, n_tokens=n_tokens, progress=progress))
