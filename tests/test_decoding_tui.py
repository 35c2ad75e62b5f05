"""Pilot tests through the real app: the next-token explorer (F8) and the logprob heatmap (F10)."""

from __future__ import annotations

import time

import pytest
from textual.widgets import Input

from sandbox.tui.app import make_app
from sandbox.tui.screens.explorer import ExplorerScreen
from sandbox.tui.widgets.logprobs import Knob, LogprobView

pytestmark = pytest.mark.model
SIZE = (140, 42)


async def wait_for(pilot, condition, timeout: float = 60.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await pilot.pause(0.05)


async def test_explorer_bars_reshape_with_temperature_and_steps_forward():
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.session is not None or app.main.load_error, what="the model")
        await pilot.press("f8")
        screen = app.screen
        assert isinstance(screen, ExplorerScreen) and app.main.busy == "explorer"
        screen.query_one("#prefix").value = "The capital of France is"
        await pilot.press("enter")
        await wait_for(pilot, lambda: screen.dist is not None and not screen.loading, what="the distribution")
        before = screen.chart.values()
        assert len(before) == 15 and abs(sum(p for _, _, p in before) - 1) < 0.05

        screen.query_one("#temperature", Knob).focus()
        await pilot.press("shift+right")  # T + 0.5: flatter
        after = screen.chart.values()
        assert [t for t, _, _ in after] == [t for t, _, _ in before]  # rows are the raw ranking
        assert [r for _, r, _ in after] == [r for _, r, _ in before]  # raw bars do not move
        assert after[0][2] < before[0][2]  # the favourite loses mass at a higher temperature

        screen.query_one("#top_k", Knob).focus()
        await pilot.press("home")  # top-k off: more candidates survive
        assert screen.dist["top_k"].note == "off"

        greedy = screen.dist.greedy_token()
        await pilot.press("ctrl+g")
        await wait_for(pilot, lambda: not screen.loading, what="the next step")
        assert [t for t, _ in screen.steps] == [greedy]
        await pilot.press("ctrl+z")
        await wait_for(pilot, lambda: not screen.loading, what="the undo")
        assert screen.steps == []

        await pilot.press("escape")
        assert app.main.busy is None and not isinstance(app.screen, ExplorerScreen)


async def test_heatmap_shows_reply_tokens_and_their_alternatives():
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.session is not None or app.main.load_error, what="the model")
        await pilot.press("f10")
        assert app.main.heatmap_on
        # A fixed seed: with a fresh one, a reply the output guard changed would have its logprobs
        # withheld (by design), and this test is about the heatmap of a reply that was not.
        await wait_for(pilot, lambda: app.main.prompting.query("#seed"), what="the prompting controls")
        app.main.prompting.query_one("#seed", Input).value = "7"
        prompt = app.screen.query_one("#prompt")
        prompt.focus()
        prompt.value = "Say hello."
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.main.busy is None and app.main.view and app.main.view.turn, what="the turn")
        turn = app.main.view.turn
        assert turn.seed == 7 and not turn.notes, turn.notes
        assert len(turn.logprobs) == turn.usage.completion_tokens and turn.perplexity >= 1
        await wait_for(pilot, lambda: app.screen.query(LogprobView), what="the heatmap")
        view = app.screen.query_one(LogprobView)
        view.heatmap.focus()
        await pilot.press("right")
        assert view.heatmap.selected == 1
        await wait_for(pilot, lambda: "candidates" in str(view.detail.content), what="the sampler's view")
        text = str(view.detail.content)
        assert "token 2" in text and "raw" in text and "filter" in text and "sample" in text

        await pilot.press("f10")  # off: the reply is shown as text again
        await pilot.pause(0.1)
        assert not app.screen.query(LogprobView) and not app.main.heatmap_on
