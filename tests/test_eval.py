"""`sandbox eval`: checks before any model work, the end-to-end run through the real entry point,
cancellation, and the table. Small on purpose: 3 rows, short replies, the bundled model."""

from __future__ import annotations

import json
import sqlite3
import threading

import pytest

from sandbox.core import evaluate
from sandbox.core.errors import SandboxError
from tests.conftest import run_cli

ROWS = [
    {"input": "Absolutely love it, works perfectly and looks great.", "expected": "positive"},
    {"input": "Broke after two days and support never answered.", "expected": "negative"},
    {"input": "The box contains the device and a cable.", "expected": "neutral"},
]


@pytest.fixture
def tiny(tmp_path):
    path = tmp_path / "tiny.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in ROWS), encoding="utf-8")
    return path


def db_rows(home, sql: str) -> list[tuple]:
    path = home / "sandbox.db"
    if not path.exists():
        return []
    with sqlite3.connect(path) as db:
        return db.execute(sql).fetchall()


# ---- checks before any model work ------------------------------------------------------------------


def test_plan_reads_the_data_and_limits_rows(tiny):
    plan = evaluate.plan("sentiment", data=tiny, strategies="few-shot, zero-shot,few-shot", limit=2, seed=7)
    assert plan.strategies == ("few-shot", "zero-shot")  # order kept, repeats dropped
    assert [r.expected for r in plan.rows] == ["positive", "negative"]
    assert [plan.row_seed(i) for i in range(2)] == [7, 7 + evaluate.SEED_STRIDE]


def test_plan_defaults_to_the_templates_own_data_and_all_strategies():
    plan = evaluate.plan("math", limit=3)
    assert plan.strategies == ("zero-shot", "few-shot", "cot", "self-consistency")
    assert plan.data_path.name == "math.jsonl" and plan.n == 3 and plan.samples == 5


def test_one_sample_strategies_decode_greedily_and_self_consistency_samples(tiny):
    from sandbox.core.sampling import SamplingParams

    plan = evaluate.plan("sentiment", data=tiny, max_tokens=16)
    defaults = SamplingParams(temperature=0.7, max_tokens=512)
    assert plan.params("cot", defaults, 1) == defaults.with_(temperature=0.0, max_tokens=16, seed=evaluate.SEED_STRIDE)
    assert plan.params("self-consistency", defaults, 0).temperature == 0.7


@pytest.mark.parametrize("kwargs, says", [
    ({"template": "no-such-template"}, "no template named 'no-such-template'"),
    ({"data": "missing.jsonl"}, "missing.jsonl does not exist"),
    ({"samples": 0}, "2 to 32 samples"),
    ({"samples": 10_000}, "2 to 32 samples"),
    ({"strategies": "zero-shot,tree-of-thought"}, "unknown strategy 'tree-of-thought'"),
    ({"strategies": " , "}, "no strategies given"),
    ({"limit": 0}, "--limit 0"),
    ({"seed": -1}, "--seed -1"),
    ({"max_tokens": 0}, "tokens = 0 is out of range"),
])
def test_bad_requests_are_one_clear_error(tiny, kwargs, says):
    kwargs = {"template": "sentiment", "data": tiny, **kwargs}
    with pytest.raises(SandboxError) as e:
        evaluate.plan(kwargs.pop("template"), **kwargs)
    assert says in str(e.value)


def test_a_label_that_is_not_a_choice_is_named_by_line(tmp_path):
    data = tmp_path / "typo.jsonl"
    data.write_text('{"input": "ok", "expected": "Positive"}\n{"input": "bad", "expected": "postive"}\n')
    with pytest.raises(SandboxError, match=r"line 2: expected 'postive' is not one of sentiment's answer_choices"):
        evaluate.plan("sentiment", data=data)


def test_few_shot_on_a_template_without_examples_fails_in_the_plan(tmp_path, tiny):
    bare = tmp_path / "bare.toml"
    bare.write_text('name = "bare"\ntemplate = "Review: {input}"\nanswer_choices = ["positive", "negative", "neutral"]\n')
    with pytest.raises(SandboxError, match="few-shot needs examples"):
        evaluate.plan(str(bare), data=tiny, strategies="zero-shot,few-shot")


def test_a_bad_data_line_names_the_line_and_logs_nothing(tiny, sandbox_home):
    with tiny.open("a", encoding="utf-8") as f:
        f.write('{"input": "fine", "expected": "positive"}\n{"input": "broken", "expected": \n')
    r = run_cli("eval", "sentiment", "--data", str(tiny), "--strategies", "zero-shot", "--json")
    assert r.returncode == 2, r.stderr
    assert "line 5: not valid JSON" in r.stderr and "Traceback" not in r.stderr
    assert r.stdout == ""
    assert db_rows(sandbox_home, "select count(*) from turns") in ([], [(0,)])


def test_samples_zero_is_refused_by_the_cli(tiny):
    r = run_cli("eval", "sentiment", "--data", str(tiny), "--samples", "0")
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "--samples" in r.stderr, r.stderr


# ---- the real thing ----------------------------------------------------------------------------------


@pytest.mark.model
def test_eval_end_to_end_json_and_log(tiny, sandbox_home):
    r = run_cli("eval", "sentiment", "--data", str(tiny), "--strategies", "zero-shot,few-shot",
                "--max-tokens", "16", "--seed", "3", "--json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)  # one JSON document and nothing else
    assert {"template", "n", "results", "cells", "comparisons", "cache"} <= set(doc)  # extended, not broken
    assert doc["template"] == "sentiment" and doc["n"] == 3
    assert list(doc["results"]) == ["zero-shot", "few-shot"]
    for name, res in doc["results"].items():
        assert {"accuracy", "mean_ms", "completion_tokens", "cost_usd"} <= set(res)
        assert 0.0 <= res["accuracy"] <= 1.0 and res["n"] == 3
        assert res["mean_ms"] > 0 and res["completion_tokens"] > 0 and res["cost_usd"] > 0
        assert res["correct"] == round(res["accuracy"] * 3)
    # Not a TTY: one progress line per strategy on stderr.
    assert sum("3 rows  pass rate" in line for line in r.stderr.splitlines()) == 2, r.stderr

    sessions = db_rows(sandbox_home, "select id, title from sessions order by title")
    assert [t for _, t in sessions] == ["eval sentiment · few-shot", "eval sentiment · zero-shot"]
    turns = db_rows(sandbox_home, "select session_id, strategy, template, user_text, seed from turns order by session_id, idx")
    assert len(turns) == 6
    by_session = {s: [t for t in turns if t[0] == s] for s, _ in sessions}
    for sid, _ in sessions:
        assert doc["results"][by_session[sid][0][1]]["session_id"] == sid
        assert [t[3] for t in by_session[sid]] == [row["input"] for row in ROWS]
        assert [t[4] for t in by_session[sid]] == [3, 3 + evaluate.SEED_STRIDE, 3 + 2 * evaluate.SEED_STRIDE]
        assert {t[2] for t in by_session[sid]} == {"sentiment"}


@pytest.fixture
def base(engine):
    from sandbox.core import config
    from sandbox.core.session import Session
    from sandbox.core.store import Store

    registry = config.load()
    store = Store.open()
    yield Session(engine=engine, spec=registry.get(None), registry=registry, store=store)
    store.close()


@pytest.mark.model
def test_cancel_stops_after_the_running_row_and_reports_what_was_scored(tiny, base, sandbox_home):
    plan = evaluate.plan("sentiment", data=tiny, strategies="zero-shot,few-shot", max_tokens=8)
    cancel = threading.Event()
    events = []
    for ev in evaluate.run(plan, base, cancel):
        events.append(ev)
        if isinstance(ev, evaluate.RowDone):
            cancel.set()
    report = events[-1].report
    assert report.cancelled and list(report.results) == ["zero-shot"]
    r = report.results["zero-shot"]
    assert r.n == 1 and r.cancelled and 0 <= r.accuracy <= 1
    assert db_rows(sandbox_home, "select count(*) from turns") == [(1,)]


def test_a_template_with_nothing_to_extract_is_refused(tmp_path, tiny):
    loose = tmp_path / "loose.toml"
    loose.write_text('name = "loose"\ntemplate = "Review: {input}"\n')
    with pytest.raises(SandboxError, match="no answer_pattern or answer_choices, so zero-shot replies"):
        evaluate.plan(str(loose), data=tiny, strategies="zero-shot,cot")
    assert evaluate.plan(str(loose), data=tiny, strategies="cot").strategies == ("cot",)  # "The answer is X"


def test_progress_redraws_a_bar_on_a_terminal_and_prints_a_line_per_cell_otherwise():
    import io

    from sandbox.cli.eval import Progress
    from sandbox.core.suites import runner
    from tests.test_suite_html import sample_report

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    cell = sample_report().cells[0]
    for stream in (Terminal(), io.StringIO()):
        p = Progress(stream)
        p.started(runner.CellStarted(0, cell, 20))
        for i, row in enumerate(cell.rows[:2], 1):
            p.row(runner.RowFinished(0, row, i, 20))
        p.done(cell)
        out = stream.getvalue()
        if stream.isatty():
            assert "\r" in out and "[###...........................] 2/20  2 passed · 0 cached" in out
        else:
            assert out == "       zero-shot  10 rows  pass rate 0.20 [0.06, 0.51]  0 cached\n"
