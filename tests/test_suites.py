"""Eval suites: the file format (every problem at once, with its key), each assertion, the report
and its JSON, and — on the real model — the matrix, the cache, and the re-run after an edit."""

from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path

import pytest

from sandbox.core.errors import ConfigError, SandboxError
from sandbox.core.suites import runner, suite as suites
from sandbox.core.suites.assertions import Reply, check, check_all
from sandbox.core.suites.cache import ResultCache, turn_key
from sandbox.core.suites.suite import Assertion
from tests.conftest import REPO, run_cli


def write(tmp_path: Path, text: str, name: str = "s.toml") -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


# ---- the file format ---------------------------------------------------------------------------------


def test_the_shipped_suites_load():
    math = suites.load("math")
    assert math.n == 50 and math.strategies == ("zero-shot", "few-shot", "cot", "self-consistency")
    assert all(c.asserts[0].type == "answer" for c in math.cases) and math.cases[0].expected == "19"
    contacts = suites.load("contacts")
    kinds = {a.type for c in contacts.cases for a in c.asserts}
    assert {"contains", "icontains", "regex", "is-json", "json-schema", "not-icontains", "not-contains"} <= kinds
    schema = next(a.value for a in contacts.cases[0].asserts if a.type == "json-schema")
    assert schema["required"] == ["name", "email", "company"]  # read from prompts/schemas/contact.json


def test_the_issue_example_parses(tmp_path):
    p = write(tmp_path, '''template = "math"
strategies = ["zero-shot", "cot"]
[[tests]]
vars = { input = "Tom has 3 apples and buys 4 more. How many apples?" }
assert = [{ type = "answer", value = "7" }, { type = "not-icontains", value = "sorry" }]
''')
    s = suites.load(str(p))
    assert s.strategies == ("zero-shot", "cot") and s.cases[0].input.startswith("Tom")
    assert [a.type for a in s.cases[0].asserts] == ["answer", "not-icontains"]


def test_every_problem_is_reported_at_once_with_its_key(tmp_path):
    p = write(tmp_path, '''template = "no-such-template"
strategies = ["zero-shot", "tree-of-thought"]
repeat = 0
samples = 99
colour = "blue"
[[tests]]
vars = { input = "hi", topic = "x" }
assert = [{ type = "answr", value = "7" }, { type = "regex", value = "(" }, { type = "max-tokens", value = -3 }]
[[tests]]
vars = { input = "no assertions" }
[[tests]]
assert = [{ type = "json-schema", value = "missing.json" }, { type = "is-json", value = 1 }]
''')
    with pytest.raises(ConfigError) as e:
        suites.load_file(p)
    err = e.value
    assert err.path == str(p)
    text = "\n".join(err.problems)
    for needle in ("unknown key 'colour'", "template = 'no-such-template': no template named",
                   "strategies: unknown 'tree-of-thought'", "repeat = 0", "samples = 99",
                   "tests[1].vars.topic: unknown variable", "tests[1].assert[1].type: unknown assertion 'answr'; did you mean 'answer'",
                   "tests[1].assert[2].value: invalid regular expression", "tests[1].assert[3].value must be a positive whole number",
                   "tests[2] has no assertions", "tests[3].vars is missing", "tests[3].assert[1].value: no such schema file",
                   "tests[3].assert[2]: is-json takes no value"):
        assert needle in text, (needle, text)
    assert len(err.problems) == 13, text


def test_a_suite_name_is_found_and_an_unknown_one_is_one_sentence():
    assert suites.find("math").name == "math.toml"
    assert suites.find("sentiment") is None  # a template, not a suite
    with pytest.raises(SandboxError, match="no suite named 'nope'; known: .*math"):
        suites.load("nope")


def test_labelled_jsonl_becomes_a_suite_of_answer_tests(tmp_path):
    data = write(tmp_path, '{"input": "great", "expected": "positive"}\n{"input": "awful", "expected": "negative"}\n', "d.jsonl")
    s = suites.from_template_data("sentiment", data)
    assert s.n == 2 and [c.expected for c in s.cases] == ["positive", "negative"]
    assert s.cases[1].where == "d.jsonl line 2"
    bad = write(tmp_path, '{"input": "x", "expected": "postive"}\n', "bad.jsonl")
    with pytest.raises(ConfigError, match="line 1: expected 'postive' is not one of sentiment's answer_choices"):
        suites.from_template_data("sentiment", bad)


# ---- assertions --------------------------------------------------------------------------------------


def reply(output: str, answer=None, **kw) -> Reply:
    base = dict(output=output, answer=answer, total_ms=500.0, completion_tokens=20, cost_usd=0.002, perplexity=3.5,
                finish_reason="stop", blocked=False)
    return Reply(**{**base, **kw})


SCHEMA = {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}}}


@pytest.mark.parametrize("kind, value, output, answer, ok", [
    ("equals", "Paris", "  Paris\n", None, True),
    ("equals", "Paris", "Paris.", None, False),
    ("contains", "Paris", "It is Paris.", None, True),
    ("contains", "paris", "It is Paris.", None, False),
    ("icontains", "paris", "It is PARIS.", None, True),
    ("not-icontains", "sorry", "Sorry, I can't.", None, False),
    ("not-contains", "sorry", "Sorry, I can't.", None, True),
    ("regex", r"\d{3}", "call 555 now", None, True),
    ("not-regex", r"\d{3}", "call 555 now", None, False),
    ("is-json", None, '```json\n{"a": 1}\n```', None, True),
    ("is-json", None, "{a: 1}", None, False),
    ("not-is-json", None, "plain words", None, True),
    ("json-schema", SCHEMA, '{"name": "Ada"}', None, True),
    ("json-schema", SCHEMA, '{"name": 5}', None, False),
    ("answer", "7", "The answer is 7.", "7", True),
    ("answer", "7.0", "The answer is 7.", "7", True),
    ("answer", "7", "The answer is 8.", "8", False),
    ("answer", "7", "No idea.", None, False),
    ("not-answer", "7", "The answer is 8.", "8", True),
    ("max-latency-ms", 400, "x", None, False),
    ("max-latency-ms", 500, "x", None, True),
    ("max-tokens", 19, "x", None, False),
    ("max-cost-usd", 0.01, "x", None, True),
    ("perplexity-below", 3.0, "x", None, False),
])
def test_each_assertion(kind, value, output, answer, ok):
    got = check(Assertion(kind, value, "t"), reply(output, answer))
    assert got.passed is ok
    assert (got.reason == "") is ok  # a failure always says why


def test_failure_reasons_name_what_the_reply_had():
    assert check(Assertion("answer", "7"), reply("The answer is 8.", "8")).reason == "answer 8, expected 7"
    assert check(Assertion("answer", "7"), reply("hmm")).reason == "no answer found, expected 7"
    assert "took 500 ms, over 100 ms" == check(Assertion("max-latency-ms", 100), reply("x")).reason
    assert check(Assertion("json-schema", SCHEMA), reply('{"name": 5}')).reason.startswith("json-schema schema failed: $.name")
    assert check(Assertion("not-icontains", "sorry"), reply("Sorry, I can't.")).reason == \
        "not-icontains 'sorry' failed: output \"Sorry, I can't.\""
    blocked = check_all([Assertion("contains", "x")], reply("x", blocked=True))
    assert not blocked[0].passed and "guard blocked" in blocked[0].reason


def test_the_cache_key_changes_with_everything_that_decides_a_turn(tmp_path):
    base = dict(rendered_prompt="p", params={"temperature": 0.0, "seed": 1}, seeds=[1], strategy="cot",
                model_sha256="abc", grammar=None, extra={"answer_pattern": "x"})
    k = turn_key(**base)
    assert k == turn_key(**{**base, "params": {"seed": 1, "temperature": 0.0}})  # order does not matter
    for change in ({"rendered_prompt": "p2"}, {"params": {"temperature": 0.1, "seed": 1}}, {"seeds": [2]},
                   {"strategy": "few-shot"}, {"model_sha256": "abd"}, {"grammar": "root ::= \"a\""},
                   {"extra": {"answer_pattern": "y"}}):
        assert turn_key(**{**base, **change}) != k, change
    cache = ResultCache(tmp_path / "c.db")
    assert cache.get(k) is None
    cache.put(k, {"turn_id": "t1", "output": "ok"})
    assert cache.get(k) == {"turn_id": "t1", "output": "ok"} and len(cache) == 1
    cache.close()


def test_plan_checks_overrides_before_any_model_work():
    s = suites.load("math")
    p = runner.plan(s, strategies="cot,zero-shot", repeat=3, limit=4, seed=5)
    assert p.strategies == ("cot", "zero-shot") and p.n == 4 and p.turns == 24
    assert [p.row_seed(i, r) for i, r in ((0, 0), (1, 0), (0, 2))] == [5, 5 + 64, 5 + 2 * runner.REPEAT_STRIDE]
    from sandbox.core.sampling import SamplingParams

    d = SamplingParams(temperature=0.7)
    assert p.params("cot", d, 0).temperature == 0.7  # repeated: sampled, or every seed would agree
    assert runner.plan(s, repeat=1).params("cot", d, 0).temperature == 0.0  # one seed: greedy, as before
    for kwargs, says in (({"repeat": 0}, "--repeat 0"), ({"limit": 0}, "--limit 0"), ({"samples": 1}, "2 to 32 samples"),
                         ({"strategies": "tot"}, "unknown strategy 'tot'"), ({"seed": 2**31 - 1}, "out of range")):
        with pytest.raises(SandboxError, match=says):
            runner.plan(s, **kwargs)


# ---- the report ----------------------------------------------------------------------------------------


def test_report_json_has_the_contract_keys():
    from tests.test_suite_html import sample_report

    doc = sample_report().to_dict()
    assert {"cells", "comparisons", "cache", "template", "n", "results"} <= set(doc)
    cell = doc["cells"][0]
    assert {"template", "strategy", "model", "passed", "total", "pass_rate", "ci95", "mean_ms", "cost_usd"} <= set(cell)
    assert cell["ci95"] == [0.0567, 0.5098] and cell["passed"] == 2 and cell["total"] == 10
    cmp = doc["comparisons"][0]
    assert {"a", "b", "rows", "diff", "ci95", "p_value", "verdict"} <= set(cmp)
    assert (cmp["a"], cmp["b"], cmp["rows"], cmp["diff"]) == ("zero-shot", "few-shot", 10, -0.6)
    assert cmp["p_value"] == pytest.approx(2 / 64)
    assert doc["cache"] == {"hits": 5, "misses": 15, "hit_rate": 0.25}
    assert doc["results"]["few-shot"]["accuracy"] == 0.8
    assert cell["failures"][0]["failed"][0]["reason"] == "answer 3, expected 9"


def test_the_terminal_table_shows_intervals_and_p_values():
    from sandbox.cli.eval import table
    from tests.test_suite_html import sample_report

    text = table(sample_report())
    assert "zero-shot" in text and "[0.06, 0.51]" in text and "[0.49, 0.94]" in text
    assert "zero-shot − few-shot: -0.60 [-0.90, -0.30], McNemar p = 0.0312 (0 vs 6 discordant)" in text
    assert "few-shot beats zero-shot on these 10 rows (80% vs 20%), p = 0.03" in text


# ---- the real model --------------------------------------------------------------------------------------


@pytest.fixture
def base(engine):
    from sandbox.core import config
    from sandbox.core.session import Session
    from sandbox.core.store import Store

    registry = config.load()
    store = Store.open()
    yield Session(engine=engine, spec=registry.get(None), registry=registry, store=store)
    store.close()


def _suite_with_template(tmp_path: Path, few_shot_reply: str = "The answer is 5.") -> Path:
    tpl = (REPO / "prompts" / "math.toml").read_text(encoding="utf-8")
    tpl = tpl.replace('data = "data/math.jsonl"\n', "").replace('output = "The answer is 5."', f'output = "{few_shot_reply}"')
    (tmp_path / "mymath.toml").write_text(tpl, encoding="utf-8")
    return write(tmp_path, '''template = "mymath.toml"
strategies = ["zero-shot", "few-shot", "cot"]
max_tokens = 8
[[tests]]
vars = { input = "Tom has 3 apples and buys 4 more. How many apples?" }
assert = [{ type = "answer", value = "7" }]
[[tests]]
vars = { input = "What is 10 minus 4?" }
assert = [{ type = "not-icontains", value = "zebra" }, { type = "max-tokens", value = 8 }]
''', "suite.toml")


@pytest.mark.model
def test_a_matrix_runs_logs_every_row_and_reruns_only_the_edited_cells(tmp_path, base, sandbox_home):
    path = _suite_with_template(tmp_path)
    cache = ResultCache()
    plan = runner.plan(suites.load_file(path))
    first = runner.run_all(plan, lambda name: base, cache)
    assert [c.strategy for c in first.cells] == ["zero-shot", "few-shot", "cot"]
    assert (first.cache_hits, first.cache_misses) == (0, 6)
    assert all(c.total == 2 for c in first.cells) and all(r.seed in (0, 64) for c in first.cells for r in c.rows)
    assert all(c.rows[1].passed for c in first.cells)  # "zebra" never appears, 8 tokens at most
    with sqlite3.connect(sandbox_home / "sandbox.db") as db:
        logged = dict(db.execute("select id, session_id from turns").fetchall())
        titles = sorted(t for (t,) in db.execute("select title from sessions"))
    assert titles == ["eval suite · cot", "eval suite · few-shot", "eval suite · zero-shot"]
    assert {r.turn_id: r.session_id for c in first.cells for r in c.rows} == logged  # every row is a logged turn

    again = runner.run_all(plan, lambda name: base, cache)
    assert (again.cache_hits, again.cache_misses) == (6, 0)
    assert [[r.turn_id for r in c.rows] for c in again.cells] == [[r.turn_id for r in c.rows] for c in first.cells]

    _suite_with_template(tmp_path, "So the answer is 5.")  # only a few-shot reply changes
    edited = runner.run_all(runner.plan(suites.load_file(path)), lambda name: base, cache)
    fresh = {c.strategy: sum(not r.cached for r in c.rows) for c in edited.cells}
    assert fresh == {"zero-shot": 0, "few-shot": 2, "cot": 0}
    assert (edited.cache_hits, edited.cache_misses) == (4, 2)
    assert runner.run_all(runner.plan(suites.load_file(path), use_cache=False), lambda name: base, cache).cache_misses == 6
    cache.close()


@pytest.mark.model
def test_cancel_keeps_what_finished(tmp_path, base):
    plan = runner.plan(suites.load_file(_suite_with_template(tmp_path)))
    cancel = threading.Event()
    events = []
    for ev in runner.run(plan, lambda name: base, None, cancel):
        events.append(ev)
        if isinstance(ev, runner.RowFinished):
            cancel.set()
    report = events[-1].report
    assert report.cancelled and [c.total for c in report.cells] == [1]
    assert report.to_dict()["cells"][0]["total"] == 1


@pytest.mark.model
def test_cli_suite_json_html_and_cache(tmp_path):
    path = _suite_with_template(tmp_path)
    html = tmp_path / "r.html"
    r = run_cli("eval", str(path), "--strategies", "zero-shot,cot", "--repeat", "2", "--json", "--html", str(html))
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert [c["strategy"] for c in doc["cells"]] == ["zero-shot", "cot"] and doc["repeat"] == 2
    assert all(c["total"] == 4 and c["tests"] == 2 and c["stability"] is not None for c in doc["cells"])
    assert doc["comparisons"][0]["bootstrap_ci95"] is not None and doc["cache"] == {"hits": 0, "misses": 8, "hit_rate": 0.0}
    assert "Content-Security-Policy" in html.read_text() and "pass rate" in r.stderr
    r = run_cli("eval", str(path), "--strategies", "zero-shot,cot", "--repeat", "2")
    assert r.returncode == 0, r.stderr
    assert "cache: 8 hits, 0 misses (100% hit rate)" in r.stderr
    assert "paired comparisons" in r.stdout and "McNemar p = " in r.stdout


def test_cli_suite_errors_are_one_sentence(tmp_path):
    bad = write(tmp_path, 'template = "math"\n[[tests]]\nvars = { input = "x" }\nassert = [{ type = "nope" }]\n', "bad.toml")
    r = run_cli("eval", str(bad))
    assert r.returncode == 2 and "bad.toml: tests[1].assert[1].type: unknown assertion 'nope'" in r.stderr
    assert "Traceback" not in r.stderr
    r = run_cli("eval", "math", "--data", "x.jsonl")
    assert r.returncode == 2 and "--data goes with a template" in r.stderr
    r = run_cli("eval", "math", "--repeat", "0")
    assert r.returncode == 2 and "--repeat: 0 is out of range" in r.stderr


async def test_compare_screen_runs_a_suite_and_a_cell_opens_its_session(tmp_path, base, sandbox_home):
    import time

    from textual.app import App
    from textual.widgets import DataTable, Input, Select

    from sandbox.tui.screens.compare import CompareScreen
    from sandbox.tui.screens.sessions import ReplayScreen

    suite_dir = sandbox_home / "prompts" / "suites"
    suite_dir.mkdir(parents=True)
    src = _suite_with_template(tmp_path).read_text().replace('"mymath.toml"', f'"{tmp_path / "mymath.toml"}"')
    (suite_dir / "tiny.toml").write_text(src)

    class CompareApp(App):
        def on_mount(self) -> None:
            self.push_screen(CompareScreen(base))

    app = CompareApp()
    async with app.run_test(size=(150, 44)) as pilot:
        screen = app.screen
        screen.query_one("#suite-name", Select).value = "tiny"
        screen.query_one("#suite-repeat", Input).value = "2"
        await pilot.click("#suite-run")
        deadline = time.monotonic() + 300
        while screen.report is None or screen.running:
            assert time.monotonic() < deadline, "timed out waiting for the suite"
            await pilot.pause(0.1)
        report = screen.report
        assert [c.strategy for c in report.cells] == ["zero-shot", "cot"]  # the checked strategies
        assert all(c.total == 4 for c in report.cells)
        table = screen.query_one("#suite-table", DataTable)
        assert table.row_count == 2
        row = [str(v) for v in table.get_row_at(0)]
        lo, hi = report.cells[0].ci95
        assert row[0] == "zero-shot" and row[2] == f"[{lo:.2f}, {hi:.2f}]" and row[4] == f"{report.cells[0].passed}/4 of 4"
        verdicts = str(screen.query_one("#suite-verdict-text").content)
        assert "zero-shot − cot" in verdicts and "McNemar p = " in verdicts
        table.focus()
        await pilot.press("enter")
        await pilot.pause(0.2)
        assert isinstance(app.screen, ReplayScreen)
        assert app.screen.session_id == report.cells[0].session_ids[0]
