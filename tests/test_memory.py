"""Window selection as pure functions: pinned system, whole turns, budget edges, k-turn mode, hysteresis."""

import pytest

from sandbox.core.errors import SandboxError
from sandbox.core.memory import SlidingWindow, WindowSettings, budget_for


def select(w, turns, n_ctx=1000, fixed=100, prompt=50, reserve=250):
    return w.select(turns, n_ctx=n_ctx, fixed_tokens=fixed, prompt_tokens=prompt, reserve_output=reserve)


def test_budget_is_context_minus_reserve_fixed_and_prompt():
    assert budget_for(1000, 100, 50, 250) == 600


def test_everything_fits_nothing_dropped():
    win = select(SlidingWindow(), [100, 100, 100])
    assert win.kept == [0, 1, 2] and win.dropped == [] and win.window_tokens == 300 and win.budget == 600


def test_overflow_drops_whole_oldest_turns_down_to_the_low_water_mark():
    w = SlidingWindow(WindowSettings(low_water=0.5))
    win = select(w, [100] * 7)  # 700 > 600
    assert win.window_tokens <= 300  # refilled only to half the budget
    assert win.kept == [4, 5, 6] and win.dropped == [0, 1, 2, 3]
    assert win.evicted_now == [0, 1, 2, 3]


def test_after_an_eviction_the_next_turns_only_append():
    w = SlidingWindow(WindowSettings(low_water=0.5))
    turns = [100] * 7
    select(w, turns)
    firsts = []
    for _ in range(3):  # 3 more turns fit before the next overflow: the prefix stays put
        turns.append(100)
        firsts.append(select(w, turns).kept[0])
    assert firsts == [4, 4, 4]
    turns.append(100)
    assert select(w, turns).kept[0] > 4


def test_window_never_moves_back():
    w = SlidingWindow(WindowSettings(low_water=0.5))
    select(w, [100] * 7)
    assert select(w, [100] * 7).kept[0] == 4


def test_a_single_huge_turn_is_dropped_whole():
    win = select(SlidingWindow(), [10, 5000, 10])
    assert 1 not in win.kept and win.kept == [2]


def test_turns_mode_keeps_the_last_k():
    w = SlidingWindow(WindowSettings(mode="turns", last_k=2))
    assert select(w, [10] * 5).kept == [3, 4]
    assert select(w, [10] * 6).kept == [4, 5]


def test_turns_mode_still_respects_the_token_budget():
    w = SlidingWindow(WindowSettings(mode="turns", last_k=5, low_water=1.0))
    assert select(w, [400, 400, 400]).kept == [2]


def test_prompt_too_large_even_for_an_empty_window_says_by_how_much():
    with pytest.raises(SandboxError, match="is 51 over the 1000-token context"):
        select(SlidingWindow(), [], fixed=100, prompt=701, reserve=250)


@pytest.mark.parametrize("kw", [{"mode": "fifo"}, {"last_k": 0}, {"low_water": 0.0}, {"reserve_output": 0}])
def test_bad_settings_are_refused(kw):
    with pytest.raises(SandboxError):
        SlidingWindow(WindowSettings(**kw))
