"""The TUI's live panels through Pilot, on the real app and the real bundled model: the token
counter and context gauge, the memory window, the few-shot example manager and the Tokens screen.
Ends with a measurement (printed, not asserted) of typing into a ~20,000-token prompt."""

from __future__ import annotations

import json
import sqlite3
import time

import pytest
from textual.widgets import Checkbox, Select, TextArea

from sandbox.tui.app import make_app
from sandbox.tui.screens.example_editor import ExampleEditor
from sandbox.tui.screens.preview import PreviewScreen
from sandbox.tui.screens.tokens import TokenColumn, TokensScreen
from sandbox.tui.widgets.conversation import TurnView
from sandbox.tui.widgets.examples import ExampleList
from test_tui import SIZE, field, loaded, notices, send, text_of, turn_finished, wait_for

pytestmark = pytest.mark.model

SMALL_MODELS = """
default = "small"
[models.small]
title = "SmolLM2 135M, 512-token context (test)"
source = "bundled"
n_ctx = 512
[models.small.sampling]
temperature = 0.0
max_tokens = 8
[pricing."gpt-4o"]
input_per_mtok = 2.50
output_per_mtok = 10.00
encoding = "o200k_base"
"""


@pytest.fixture
def small(tmp_path) -> str:
    path = tmp_path / "small-models.toml"
    path.write_text(SMALL_MODELS)
    return str(path)


def inspector(app):
    return app.main.inspector


async def counted(pilot, text: str | None = None, timeout: float = 20.0):
    """Wait until the inspector has counted `text` (default: what is in the input)."""
    want = field(pilot.app, "prompt").value if text is None else text
    await wait_for(pilot, lambda: (m := inspector(pilot.app).measured) is not None and m.text == want,
                   timeout, what=f"the count of {want[:30]!r}")
    return inspector(pilot.app).measured


def gauge_styles(app) -> str:
    """The styles used in the gauge's last line (the "tokens left" line)."""
    group = app.screen.query_one("#gauge-info").content
    return " ".join(str(span.style) for span in group.renderables[-1].spans)


async def test_typing_updates_the_counter_and_the_gauge_turns_red_near_the_limit(small):
    app = make_app(models_file=small)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        field(app, "prompt").focus()
        await pilot.press(*"Unfamiliarization")
        live = await counted(pilot, "Unfamiliarization")
        assert live.counts.local >= 3 and live.counts.encodings["cl100k_base"].tokens >= 3
        shown = text_of(app.screen.query_one("#count-info"))
        assert "small (local)" in shown and "cl100k_base" in shown and "o200k_base" in shown
        assert live.gauge.level == "ok" and "green" in gauge_styles(app)
        assert "tokens left of 512" in text_of(app.screen.query_one("#gauge-info"))
        assert "gpt-4o" in text_of(app.screen.query_one("#cost-info"))
        assert live.prompt_cost["gpt-4o"]["input_tokens"] == live.counts.encodings["o200k_base"].tokens

        field(app, "max_tokens").value = "460"  # the reply's reserve now nearly fills the context
        await wait_for(pilot, lambda: inspector(app).measured.gauge is not None
                       and inspector(app).measured.gauge.reserved == 460, what="the recount")
        assert inspector(app).measured.gauge.level == "full" and "red" in gauge_styles(app)

        field(app, "max_tokens").value = "600"  # more than fits: core's sentence, in the gauge
        await wait_for(pilot, lambda: inspector(app).measured.error is not None, what="the refusal")
        assert "over" in text_of(app.screen.query_one("#gauge-info"))

        field(app, "max_tokens").value = "8"
        field(app, "prompt").value = ""  # empty input: the window as it stands, zero prompt
        live = await counted(pilot, "")
        assert live.gauge is not None and live.gauge.system > 0 and live.counts.local == 0


async def test_the_memory_panel_greys_dropped_turns_and_the_settings_are_logged(small, sandbox_home):
    sandbox_home.mkdir(parents=True, exist_ok=True)
    (sandbox_home / "config.toml").write_text("[energy]\nwatts = 30\nusd_per_kwh = 0.25\n")
    app = make_app(models_file=small)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        app.screen.query_one("#memory_mode", Select).value = "turns"
        await pilot.pause()
        field(app, "last_k").value = "1"
        for text in ("Say one.", "Say two.", "Say three."):
            await send(pilot, text)
            await turn_finished(pilot)
        # The count after the last turn (the input was already empty before it: wait for its window).
        await wait_for(pilot, lambda: (m := inspector(app).measured).memory is not None
                       and len(m.memory["kept"]) + len(m.memory["dropped"]) == 3, what="the count after turn 3")
        live = inspector(app).measured
        assert live.memory["kept"] == [2] and live.memory["dropped"] == [0, 1]
        cost = text_of(app.screen.query_one("#cost-info"))
        assert "local" in cost and "tok/s" in cost and "Wh" in cost and "at 30 W" in cost, cost
        shown = text_of(app.screen.query_one("#memory-info"))
        assert "last 1 turn" in shown and "out · Say one" in shown and "1 in · 2 out" in shown, shown

        views = list(app.screen.query(TurnView))
        await wait_for(pilot, lambda: views[0].has_class("-outside"), what="the conversation marks")
        assert [v.has_class("-outside") for v in views] == [True, True, False]
        assert "outside the memory window" in text_of(views[0].query_one(".outside"))

        # Back to the token budget: with room for them, the dropped turns come back in.
        app.screen.query_one("#memory_mode", Select).value = "tokens"
        await wait_for(pilot, lambda: inspector(app).measured.memory["dropped"] == [], what="the window afresh")
        await wait_for(pilot, lambda: not views[0].has_class("-outside"), what="the marks to clear")

        app.screen.query_one("#memory_summary", Checkbox).value = True  # summary memory: a session setting
        await wait_for(pilot, lambda: app.session.window.settings.summary, what="summary memory on")
        await wait_for(pilot, lambda: "summary" in text_of(app.screen.query_one("#memory-info")), what="the note")

    with sqlite3.connect(sandbox_home / "sandbox.db") as db:
        memory = [json.loads(m) for (m,) in db.execute("select memory_json from turns order by idx")]
    assert memory[-1]["settings"]["mode"] == "turns" and memory[-1]["settings"]["last_k"] == 1
    assert memory[-1]["kept"] == [1] and memory[-1]["dropped"] == [0]  # what turn 2 saw


async def test_the_example_manager_edits_what_the_preview_shows():
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        app.screen.query_one("#strategy", Select).value = "few-shot"
        app.screen.query_one("#template", Select).value = "sentiment"
        await pilot.pause()
        manager = app.main.prompting.examples
        first = manager.items[0].input
        assert manager.costs and all(c > 0 for c in manager.costs), "each example has its token cost"
        assert "tok" in str(manager.option_list.get_option_at_index(0).prompt)

        async def preview() -> str:
            await pilot.press("f2")
            await wait_for(pilot, lambda: isinstance(app.screen, PreviewScreen), what="the preview")
            shown = app.screen.query_one(TextArea).text
            await pilot.press("escape")
            return shown

        field(app, "prompt").value = "I loved it."
        assert first in await preview()

        manager.option_list.focus()
        manager.option_list.highlighted = 0
        await pilot.press("space")  # toggle the first example off
        assert not manager.items[0].enabled
        assert first not in await preview()

        await pilot.press("a")  # add one through the editor
        await wait_for(pilot, lambda: isinstance(app.screen, ExampleEditor), what="the editor")
        app.screen.query_one("#ex-input", TextArea).text = "Zebra stripes everywhere, fantastic."
        app.screen.query_one("#ex-output", TextArea).text = "positive"
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: app.screen is app.main, what="the editor to close")
        assert manager.items[-1].input.startswith("Zebra") and manager.option_list.highlighted == len(manager.items) - 1
        await pilot.press("shift+up")  # move it up one place
        assert manager.items[-2].input.startswith("Zebra")
        assert "Zebra stripes" in await preview()

        app.screen.query_one("#template", Select).value = "yes-no"  # a new template: its own list
        await pilot.pause()
        assert not any(e.input.startswith("Zebra") for e in manager.items)
        assert isinstance(app.screen.query_one("#example-list"), ExampleList)

        trigger = field(app, "cot_trigger")
        assert not trigger.parent.display, "the CoT trigger shows for cot and self-consistency only"
        app.screen.query_one("#strategy", Select).value = "cot"
        await pilot.pause()
        assert trigger.parent.display
        trigger.value = "Reason it out, then answer."
        assert "Reason it out, then answer." in await preview()


async def test_the_tokens_screen_shows_chips_per_tokenizer_and_ids_on_demand():
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        field(app, "prompt").value = "Unfamiliarization"
        await pilot.press("f9")
        await wait_for(pilot, lambda: isinstance(app.screen, TokensScreen), what="the Tokens screen")
        screen = app.screen
        await wait_for(pilot, lambda: len(screen.splits) == 3, what="the tokenizers")
        assert screen.query_one(TextArea).text == "Unfamiliarization"
        columns = list(screen.query(TokenColumn))
        assert len(columns) == 3 and len({c.region.x for c in columns}) == 3, "side by side"
        for column, split in zip(columns, screen.splits):
            assert split.total >= 3, f"{split.name}: Unfamiliarization is 3+ tokens"
            assert "".join(p.text for p in split.pieces) == "Unfamiliarization"
            assert f"{split.total} tokens" in text_of(column.query_one(".token-head"))
        chips = text_of(columns[1].query_one(".token-chips"))
        assert "Unf" in chips or "Un" in chips
        await pilot.press("ctrl+t")
        assert any(ch in text_of(columns[1].query_one(".token-chips")) for ch in "₀₁₂₃₄₅₆₇₈₉")
        await pilot.press("escape")
        assert app.screen is app.main


async def test_typing_into_a_20000_token_prompt_measured():
    """Keystroke-to-screen latency while typing into a ~20,000-token prompt (printed; run with -s)."""
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        prompt = field(app, "prompt")
        prompt.focus()
        paragraph = ("The committee reviewed the quarterly figures, noting that revenue rose while costs "
                     "held steady; several members asked for a breakdown by region. ")
        big = paragraph * 700  # one line: the prompt Input keeps only the first line of a paste
        t0 = time.perf_counter()
        prompt.value = big
        prompt.cursor_position = len(big)
        first = await counted(pilot, big, timeout=60)
        cold_ms = (time.perf_counter() - t0) * 1000
        assert first.counts.local > 15_000

        press_ms, update_ms = [], []
        for ch in "words":
            t0 = time.perf_counter()
            await pilot.press(ch)
            press_ms.append((time.perf_counter() - t0) * 1000)
            await counted(pilot, prompt.value, timeout=30)
            update_ms.append((time.perf_counter() - t0) * 1000)
        live = inspector(app).measured

        t0 = time.perf_counter()
        for _ in range(100):  # what a keystroke costs the UI thread for counting: form read + timer restart
            app.main.recount()
        handler_us = (time.perf_counter() - t0) * 1e4

        recount = app.main.recount
        app.main.recount = lambda: None  # the same keys with live counting off: Input's own cost
        bare_ms = []
        for ch in "words":
            t0 = time.perf_counter()
            await pilot.press(ch)
            bare_ms.append((time.perf_counter() - t0) * 1000)
        app.main.recount = recount

        def median(xs):
            return sorted(xs)[len(xs) // 2]

        print(f"\n20k-token prompt: {live.counts.local:,} local tokens, {len(big):,} chars in the prompt Input")
        print(f"  first count (cold cache, whole text): {cold_ms:.0f} ms to screen")
        print(f"  keystroke -> counter on screen: median {median(update_ms):.0f} ms, max {max(update_ms):.0f} ms "
              f"(includes the 150 ms debounce and the key's own processing)")
        print(f"  worker: all three counts of the edited text {live.ms:.1f} ms (one line, so no chunk boundaries: "
              f"the whole text is recounted), then prepare() for the gauge")
        print(f"  keystroke processing (pilot.press), live counting on:  median {median(press_ms):.0f} ms, "
              f"max {max(press_ms):.0f} ms")
        print(f"  keystroke processing (pilot.press), live counting off: median {median(bare_ms):.0f} ms, "
              f"max {max(bare_ms):.0f} ms")
        print(f"  UI-thread cost of counting per keystroke (MainScreen.recount): {handler_us:.0f} us")


ONE_MODEL = """
[models.mine]
title = "SmolLM2 135M (my own models.toml, one model)"
source = "bundled"
n_ctx = 4096
[models.mine.sampling]
temperature = 0.0
max_tokens = 4
"""


async def test_a_one_model_models_toml_keeps_hosted_costs_with_the_snapshot_date_and_the_cache_saving(
        tmp_path, monkeypatch):
    from sandbox.core.tokens import PriceSnapshot

    snapshot = PriceSnapshot.packaged()
    monkeypatch.setattr(snapshot, "_date", "2026-01-15")  # an old snapshot: the TUI says so, once
    (tmp_path / "mine.toml").write_text(ONE_MODEL)
    app = make_app(models_file=str(tmp_path / "mine.toml"))
    told, notify = [], app.notify
    app.notify = lambda message, *a, **kw: (told.append(message), notify(message, *a, **kw))[1]
    async with app.run_test(size=(160, 45)) as pilot:
        await loaded(pilot)
        field(app, "prompt").focus()
        await pilot.press(*"Hello")
        await counted(pilot, "Hello")
        cost = text_of(app.screen.query_one("#cost-info"))
        for model in ("gpt-6-astra", "gpt-6-luna", "claude-haiku-5-5", "gemini-3.8-flash"):
            assert model in cost, cost
        assert f"genai-prices {snapshot.version} 2026-01-15" in cost, cost
        stale = [n for n in told if "pip install -U genai-prices" in n]
        assert len(stale) == 1 and "2026-01-15" in stale[0] and stale[0] in notices(app)

        # a long system prompt: the follow-up turn's prefix is long enough for a provider's prompt cache
        app.screen.query_one("#system", TextArea).text = "You are a careful, concise assistant. " * 200
        for text in ("Say one.", "Say two."):
            await send(pilot, text)
            await turn_finished(pilot)
        second = app.session.costs[-1]["gpt-6-luna"]
        assert second["cached_tokens"] >= 1024 and second["saved_usd"] > 0, second
        assert second["price_date"] == "2026-01-15" and second["price_source"] == "genai-prices"
        cost = text_of(app.screen.query_one("#cost-info"))
        assert "saved" in cost and "cached" in cost, cost
        assert len([n for n in told if "pip install -U genai-prices" in n]) == 1  # once per run
