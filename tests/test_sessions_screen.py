"""The Sessions and Replay screens, driven headless through Pilot, on a real log and the real model."""

from __future__ import annotations

import io
import time

import pytest
from rich.console import Console
from textual.app import App
from textual.widgets import DataTable, Input, Static

from sandbox.tui.screens.sessions import ReplayScreen, SessionsScreen

pytestmark = pytest.mark.model

TEXTS = ["Name a fruit.", "What colour is it?", "Say that in French."]
SIZE = (140, 42)


def make_session(texts=TEXTS) -> str:
    from sandbox.core.session import Session
    from sandbox.core.turn import TurnRequest

    s = Session.open(n_ctx=1024)
    try:
        for i, text in enumerate(texts):
            params = s.defaults.with_(temperature=0.8, seed=100 + i, max_tokens=16)
            for _ in s.turn(TurnRequest(text=text, params=params)):
                pass
    finally:
        s.close()
    return s.id


class Host(App):
    """A bare app that opens the Sessions screen, as the real app's binding does."""

    def on_mount(self) -> None:
        self.push_screen(SessionsScreen())


def text_of(widget: Static) -> str:
    console = Console(width=max(widget.size.width, 60), file=io.StringIO(), record=True)
    console.print(widget.render())
    return console.export_text()


async def wait_for(pilot, condition, timeout: float = 60.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await pilot.pause(0.05)


def shown(app, id: str) -> str:
    return text_of(app.screen.query_one(f"#{id}", Static))


async def test_list_open_step_and_rerun(sandbox_home):
    from sandbox.core.store import Store

    sid = make_session()
    other = make_session(["Count to three."])
    with Store.open(readonly=True) as store:
        turns = store.turns(sid)

    app = Host()
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        assert isinstance(screen, SessionsScreen)
        table = screen.query_one(DataTable)
        await wait_for(pilot, lambda: table.row_count == 2, what="the session list")
        assert [str(k.value) for k in table.rows] == [other, sid]  # newest first
        assert "Name a fruit." in str(table.get_row(sid)[0]) and table.get_row(sid)[2] == "3"
        assert str(table.get_row(sid)[4]).startswith("$")

        # full-text search narrows the list
        await pilot.press("slash")
        assert isinstance(app.focused, Input)
        await pilot.press(*"colour")
        await wait_for(pilot, lambda: table.row_count == 1, what="the search")
        assert str(next(iter(table.rows)).value) == sid

        await pilot.press("enter")  # from the search box to the list
        assert app.focused is table
        await pilot.press("enter")  # open
        await wait_for(pilot, lambda: isinstance(app.screen, ReplayScreen) and app.screen.replay is not None,
                       what="the replay")
        replay = app.screen
        await pilot.pause(0.1)
        assert "turn 0" in text_of(replay.query_one("#replay-turn-title"))
        assert shown(app, "replay-rendered-prompt").strip().endswith("assistant")

        await pilot.press("n")
        await pilot.press("n")
        await pilot.pause(0.1)
        assert replay.current_idx == 2
        rendered = shown(app, "replay-rendered-prompt")
        assert TEXTS[2] in rendered and TEXTS[0] in rendered
        assert turns[0]["output"].split()[0] in rendered
        assert "#0, #1" in shown(app, "replay-memory-window")
        assert "seed 102" in shown(app, "replay-params")
        await pilot.press("p")
        await pilot.pause(0.1)
        assert replay.current_idx == 1 and TEXTS[1] in shown(app, "replay-rendered-prompt")
        await pilot.press("left")
        await pilot.pause(0.1)
        assert replay.current_idx == 0
        await pilot.press("right")
        await pilot.pause(0.1)
        assert replay.current_idx == 1

        await pilot.press("r")
        await wait_for(pilot, lambda: replay.rerun_result is not None, timeout=120, what="the re-run")
        await pilot.pause(0.1)
        results = shown(app, "rerun-results")
        assert results.count("reproduced") == 3, results
        assert "identical" in shown(app, "rerun-summary")
        assert replay.rerun_result["identical"] is True
        assert "reproduced" in shown(app, "replay-rerun-verdict")  # on the turn being viewed

        # another temperature: the outputs change, and the diff shows on the turn
        first = replay.rerun_result
        replay.query_one("#rerun-temperature", Input).focus()
        await pilot.press(*"1.7", "enter")
        await wait_for(pilot, lambda: replay.rerun_result is not first, timeout=120, what="the second re-run")
        await pilot.pause(0.1)
        assert replay.rerun_result["overrides"] == {"temperature": 1.7}
        assert "changed" in shown(app, "rerun-results")
        assert not replay.rerun_result["identical"]
        replay.query_one("#replay-turn").focus()

        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, SessionsScreen), what="going back")
        app.screen.query_one(Input).value = ""  # clear the search
        await wait_for(pilot, lambda: table.row_count == 4, what="the re-runs in the list")
        assert sum(str(table.get_row_at(i)[0]).startswith("↻") for i in range(4)) == 2


async def test_f7_opens_sessions_from_the_real_app(sandbox_home):
    from sandbox.tui.app import make_app
    from sandbox.tui.screens.main import MainScreen

    sid = make_session(TEXTS[:1])
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f7")
        await wait_for(pilot, lambda: isinstance(app.screen, SessionsScreen), what="the Sessions screen")
        table = app.screen.query_one(DataTable)
        await wait_for(pilot, lambda: table.row_count == 1, what="the session list")
        assert str(next(iter(table.rows)).value) == sid
        await pilot.press("f7")  # already open: nothing stacks up
        assert len(app.screen_stack) == 2
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, MainScreen), what="the main screen")


async def test_continue_a_logged_session_from_the_replay_screen(sandbox_home):
    """Resume: a logged session continues on the loaded model; the model sees its earlier turns."""
    from sandbox.core.sampling import SamplingParams
    from sandbox.core.session import Session
    from sandbox.core.turn import TurnRequest
    from sandbox.tui.app import make_app

    first = Session.open(log=True)
    for _ in first.turn(TurnRequest(text="Remember the word marmalade.", params=SamplingParams(max_tokens=6, seed=1))):
        pass
    logged_id = first.id
    first.close()

    app = make_app()
    async with app.run_test(size=(140, 42)) as pilot:
        await wait_for(pilot, lambda: app.session is not None, timeout=60)
        app.push_screen(ReplayScreen(logged_id))
        await wait_for(pilot, lambda: isinstance(app.screen, ReplayScreen) and app.screen.replay is not None, timeout=30)
        await pilot.press("c")
        await wait_for(pilot, lambda: app.session is not None and app.session.id == logged_id, timeout=30)
        main = app.main
        main.prompting.query_one("#max_tokens").value = "6"
        main.conversation.prompt.value = "Which word?"
        await pilot.press("enter")
        await wait_for(pilot, lambda: len(_turns_of(logged_id)) == 2, timeout=60)
    second = _turns_of(logged_id)[1]
    assert second["idx"] == 1 and "Remember the word marmalade." in second["rendered_prompt"]


def _turns_of(session_id):
    from sandbox.core.store import Store

    try:
        with Store.open(readonly=True) as store:
            return store.turns(session_id)
    except Exception:
        return []
