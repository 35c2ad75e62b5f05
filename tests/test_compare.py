"""Compare: one input through several strategies, in core and on the Compare screen (Pilot)."""

from __future__ import annotations

import sqlite3
import time

import pytest

from sandbox.core.compare import (CompareDone, StrategyEvent, StrategyFinished, CompareStrategyStarted, compare,
                                  run_compare)
from sandbox.core.errors import SandboxError
from sandbox.core.events import Token

pytestmark = pytest.mark.model

REVIEW = "Broke after two days and support never answered."


@pytest.fixture
def base(engine):
    from sandbox.core import config
    from sandbox.core.session import Session
    from sandbox.core.store import Store

    registry = config.load()
    store = Store.open()
    session = Session(engine=engine, spec=registry.get(None), registry=registry, store=store)
    yield session
    store.close()


def logged(home) -> list[tuple]:
    path = home / "sandbox.db"
    if not path.exists():
        return []
    with sqlite3.connect(path) as db:
        return db.execute("select s.title, t.strategy, t.seed, t.completion_tokens from turns t "
                          "join sessions s on s.id = t.session_id order by t.idx").fetchall()


def test_two_strategies_give_two_results_logged_as_one_compare_session(base, sandbox_home):
    params = base.defaults.with_(max_tokens=16, seed=11)
    events = list(compare(base, REVIEW, ["zero-shot", "few-shot"], template="sentiment", params=params))
    assert [type(e) for e in events if not isinstance(e, StrategyEvent)] == [
        CompareStrategyStarted, StrategyFinished, CompareStrategyStarted, StrategyFinished, CompareDone]
    assert any(isinstance(e, StrategyEvent) and isinstance(e.event, Token) for e in events), "tokens stream"
    results = events[-1].results
    assert [r.strategy for r in results] == ["zero-shot", "few-shot"]
    for r in results:
        assert r.completion_tokens > 0 and r.prompt_tokens > 0 and r.ms > 0 and r.cost_usd > 0
        assert r.answer in (None, "positive", "negative", "neutral")
    assert results[1].prompt_tokens > results[0].prompt_tokens  # the examples are in the prompt
    assert [r.seed for r in results] == [11, 11]
    assert all(r.extracts for r in results)  # sentiment has answer choices
    rows = logged(sandbox_home)
    assert [(t, s, seed) for t, s, seed, _ in rows] == [
        (f"compare · {REVIEW}", "zero-shot", 11), (f"compare · {REVIEW}", "few-shot", 11)]
    assert base.history == [] and base.next_idx == 0, "the base session is untouched"


def test_a_bad_request_fails_before_any_work_and_logs_nothing(base, sandbox_home):
    with pytest.raises(SandboxError, match="few-shot needs examples"):
        run_compare(base, REVIEW, ["zero-shot", "few-shot"])  # no template: no examples
    with pytest.raises(SandboxError, match="unknown strategy"):
        run_compare(base, REVIEW, ["zero-shot", "tree"], template="sentiment")
    assert logged(sandbox_home) == []


def test_cancel_stops_before_the_next_strategy(base, sandbox_home):
    import threading

    cancel = threading.Event()
    done = None
    for ev in compare(base, REVIEW, ["zero-shot", "few-shot"], template="sentiment",
                      params=base.defaults.with_(max_tokens=8), cancel=cancel):
        if isinstance(ev, StrategyFinished):
            cancel.set()
        done = ev
    assert isinstance(done, CompareDone) and done.cancelled and [r.strategy for r in done.results] == ["zero-shot"]
    assert [s for _, s, _, _ in logged(sandbox_home)] == ["zero-shot"]


# ---- the Compare screen ------------------------------------------------------------------------------


async def wait_for(pilot, condition, timeout: float = 60.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await pilot.pause(0.05)


async def test_compare_screen_runs_two_strategies_side_by_side(base, sandbox_home):
    from textual.app import App
    from textual.widgets import Input, Select, Static

    from sandbox.tui.screens.compare import CompareScreen
    from sandbox.tui.widgets.compare import CompareColumn

    class CompareApp(App):
        def on_mount(self) -> None:
            self.push_screen(CompareScreen(base))

    app = CompareApp()
    async with app.run_test(size=(140, 40)) as pilot:
        screen = app.screen
        assert isinstance(screen, CompareScreen)
        screen.query_one("#compare-template", Select).value = "sentiment"
        await pilot.click("#use-cot")  # checked by default: off
        await pilot.click("#use-few-shot")  # on
        assert screen.chosen() == ["zero-shot", "few-shot"]
        screen.query_one("#compare-max-tokens", Input).value = "16"
        text = screen.query_one("#compare-text", Input)
        text.focus()
        text.value = REVIEW
        await pilot.press("enter")
        await wait_for(pilot, lambda: screen.columns is not None, what="the columns")
        await wait_for(pilot, lambda: not screen.running, what="the comparison")
        await pilot.pause(0.1)

        columns = list(screen.query(CompareColumn))
        assert [c.strategy for c in columns] == ["zero-shot", "few-shot"]
        for col in columns:
            assert col.result is not None, col.query_one(".compare-answer", Static).content
            answer = str(col.query_one(".compare-answer", Static).content)
            stats = str(col.query_one(".compare-stats", Static).content)
            assert answer.startswith("answer ") or answer == "no answer found"
            assert f"+{col.result.completion_tokens} tok" in stats and " ms" in stats and "$" in stats
            assert col.region.width > 30  # side by side, both visible
        assert columns[0].region.x < columns[1].region.x and columns[0].region.y == columns[1].region.y
        assert "logged as session" in str(screen.query_one("#compare-status", Static).content)
    assert [s for _, s, _, _ in logged(sandbox_home)] == ["zero-shot", "few-shot"]


async def test_f6_opens_compare_on_the_apps_loaded_session_and_escape_goes_back():
    from sandbox.tui.app import make_app
    from sandbox.tui.screens.compare import CompareScreen
    from sandbox.tui.screens.main import MainScreen

    app = make_app()
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_for(pilot, lambda: app.session is not None or app.main.load_error, what="the model")
        await pilot.press("f6")
        await pilot.pause()
        assert isinstance(app.screen, CompareScreen) and app.screen.session is app.session
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, MainScreen)
