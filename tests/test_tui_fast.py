"""Issue 13 in the TUI: what the first frame holds, a long session that keeps only its newest turns
mounted, a streaming turn that nothing else competes with, and `sandbox bench --tui`'s document.
(Speed itself is reported by `sandbox bench --tui`, never asserted.)"""

from __future__ import annotations

import gc
import subprocess
import sys

import pytest
from textual.widgets import Input, Static

from sandbox.core import bench
from sandbox.tui import heap
from sandbox.tui.app import make_app
from sandbox.tui.widgets.conversation import Conversation, TurnView
from tests.test_tui import SIZE, field, home, loaded, turn_finished  # noqa: F401 (home: autouse fixture)


def test_the_first_frame_needs_neither_llama_cpp_nor_markdown_nor_tiktoken():
    code = ("import sys; from sandbox.tui.app import make_app; make_app();"
            "print(sorted(m for m in ('llama_cpp', 'numpy', 'tiktoken', 'markdown_it', 'sandbox.core.session',"
            " 'sandbox.core.guard', 'importlib.metadata') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr


def test_opening_the_tui_imports_only_what_its_first_frame_shows():
    """`sandbox` with no command: the other commands, core's prompting modules and event classes,
    the flag ranges, the paths, json, the preview, the heatmap and the form's widgets are imported
    later (each costs the first frame milliseconds)."""
    code = ("import sys, sandbox.cli, sandbox.cli.tui as tui\n"
            "def run(args):\n"
            "    from sandbox.tui.app import make_app\n"
            "    make_app()\n"
            "    print(sorted(m for m in ('sandbox.cli.run', 'sandbox.cli.log', 'sandbox.core.strategies',"
            " 'sandbox.core.templates', 'sandbox.core.turn', 'sandbox.core.events', 'sandbox.core.limits',"
            " 'sandbox.core.paths', 'json', 'sandbox.tui.widgets.logprobs',"
            " 'sandbox.tui.widgets.examples', 'sandbox.tui.screens.preview', 'textual.widgets._text_area')"
            " if m in sys.modules))\n"
            "tui.run = run\n"
            "sandbox.cli.main([])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr


@pytest.mark.model
async def test_prompting_controls_arrive_after_the_first_frame_and_before_the_model():
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        assert field(app, "max_tokens").value  # filled from the model's defaults once both are there
        assert not app.screen.query("#prompting-wait")
        assert gc.get_freeze_count() > 0 and gc.get_threshold()[0] >= heap.YOUNG_THRESHOLD  # the heap settled after load


async def test_quitting_in_the_first_frames_ends_cleanly():
    # Ctrl+Q before the prompting controls were mounted: mounting them into a closing app raised
    # MountError, printed as a traceback at exit.
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+q")
    assert app.return_code in (0, None)


@pytest.mark.model
async def test_a_long_session_keeps_only_the_newest_turns_mounted(monkeypatch):
    monkeypatch.setattr(Conversation, "KEEP_TURNS", 2)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        field(app, "max_tokens").value = "2"
        for i in range(4):
            app.main.conversation.prompt.value = f"Say {i}."
            await pilot.press("enter")
            await turn_finished(pilot)
        views = app.screen.query(TurnView)
        assert [v.user_text for v in views] == ["Say 2.", "Say 3."]
        note = app.screen.query_one("#earlier", Static)
        assert "2 earlier turns" in str(note.content)
        assert len(app.session.history) == 4  # the model still remembers them


@pytest.mark.model
async def test_typing_while_a_reply_streams_starts_no_count(monkeypatch):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        field(app, "max_tokens").value = "16"
        app.main.conversation.prompt.value = "Tell me a story."
        await pilot.press("enter")
        await pilot.pause(0.05)
        counted = []
        monkeypatch.setattr(type(app.main.inspector), "measure", lambda self, *a: counted.append(a))
        if app.main.busy == "turn":
            await pilot.press("a", "b")
            await pilot.pause(0.3)
            assert counted == [] or app.main.busy is None
        await turn_finished(pilot, timeout=300)


def test_bench_tui_document_has_the_contract_keys():
    tui = [{"tps": 90.0, "ttft_ms": 120.0, "completion_tokens": 8, "cached_tokens": 0}]
    headless = [{"tps": 100.0, "ttft_ms": 100.0, "completion_tokens": 8, "cached_tokens": 0}]
    doc = bench.compare_paths(tui, headless)
    assert {"tui_tps", "headless_tps", "tui_ttft_ms", "headless_ttft_ms"} <= set(doc["turns"][0])
    assert doc["tps_ratio"] == 0.9 and doc["ttft_ratio"] == 1.2
    assert "tui_ui_cpu_share" not in doc  # only when the UI thread's CPU was measured
    tui[0] |= {"ui_cpu_ms": 50.0, "wall_ms": 1000.0}
    doc = bench.compare_paths(tui, headless)
    assert doc["turns"][0]["tui_ui_cpu_share"] == 0.05 and doc["tui_ui_cpu_share"] == 0.05


@pytest.mark.model
def test_bench_tui_runs_the_real_app_next_to_the_headless_path():
    from sandbox.tui.bench import run

    doc = run(None, None, turns=2, n_tokens=8)
    assert len(doc["turns"]) == 2
    for t in doc["turns"]:
        assert t["completion_tokens"] == [8, 8]  # --ignore-eos: both paths generate exactly the same length
        assert t["tui_tps"] > 0 and t["headless_tps"] > 0
    assert doc["turns"][1]["cached_tokens"][0] > 0 and doc["turns"][1]["cached_tokens"][1] > 0  # one session each
    assert 0 < doc["tui_ui_cpu_share"] < 1
