"""Determinism made visible: the newest turn generated again, same seed or a new one."""

import pytest

from sandbox.core.errors import SandboxError
from sandbox.core.sampling import SamplingParams
from sandbox.core.session import Session
from sandbox.core.turn import TurnRequest
from sandbox.tui.app import make_app


def last(events):
    for ev in events:
        pass
    return ev.turn.to_dict()


def test_same_seed_is_identical_and_a_new_seed_differs(sandbox_home):
    s = Session.open(n_ctx=1024)
    try:
        with pytest.raises(SandboxError, match="send a prompt first"):
            last(s.regenerate())
        opts = TurnRequest(params=SamplingParams(max_tokens=24, seed=5, temperature=0.9))
        last(s.turn(opts.replace(text="Tell me about owls.")))
        original = last(s.turn(opts.replace(text="And about cats?")))
        again = last(s.regenerate())
        assert again["rendered_prompt"] == original["rendered_prompt"]
        assert again["identical_to_original"] and again["same_seed"] and again["regenerated_from"] == original["turn_id"]
        other = last(s.regenerate(new_seed=True))
        assert not other["same_seed"] and not other["identical_to_original"]
        assert len(s.history) == 2  # each generation replaced the one before in memory
        assert [t["idx"] for t in s.store.turns(s.id)] == [0, 1, 2, 3]  # and all are logged
    finally:
        s.close()


async def test_ctrl_r_in_the_tui_reports_an_identical_reply(sandbox_home):
    app = make_app()
    async with app.run_test(size=(140, 42)) as pilot:
        import time
        t0 = time.monotonic()
        while app.session is None:
            assert time.monotonic() - t0 < 60
            await pilot.pause(0.1)
        main = app.main
        main.prompting.query_one("#max_tokens").value = "12"
        main.prompting.query_one("#seed").value = "3"
        main.conversation.prompt.value = "Name a colour."
        await pilot.press("enter")
        while main.busy or app.session.last is None:
            assert time.monotonic() - t0 < 120
            await pilot.pause(0.1)
        await pilot.press("ctrl+r")
        while not (app.session.last and app.session.last.regenerated_from is not None):
            assert time.monotonic() - t0 < 180
            await pilot.pause(0.1)
        assert app.session.last.identical_to_original is True
