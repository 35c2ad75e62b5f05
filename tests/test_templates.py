"""Template files: loading, every problem reported at once, lookup by name, shipped prompts and data."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from fractions import Fraction as F
from math import ceil
from pathlib import Path

import pytest

from sandbox.core import paths
from sandbox.core.answers import extract, normalise, normalise_number
from sandbox.core.errors import ConfigError, SandboxError
from sandbox.core.templates import Example, list_templates, load, load_data, load_file

REPO = Path(__file__).resolve().parent.parent
SHIPPED = ["json-extract", "math", "memory-summary", "sentiment", "summarise", "translate", "yes-no"]


@pytest.fixture(autouse=True)
def user_home(tmp_path, monkeypatch):
    monkeypatch.setenv("SANDBOX_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def problems_of(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as e:
        load_file(path)
    assert e.value.path == str(path)
    assert str(path) in str(e.value)
    return e.value.problems


# -------------------------------------------------------------------------------- loading


def test_minimal_template_defaults(tmp_path):
    t = load_file(write(tmp_path / "bare.toml", 'description = "d"\n'))
    assert t.name == "bare" and t.template == "{input}" and t.system is None
    assert t.format("hi {there}") == "hi {there}"
    assert t.examples == () and t.answer_pattern is None and t.answer_choices is None


def test_full_template(tmp_path):
    t = load_file(write(tmp_path / "x.toml", """
name = "x"
description = "desc"
system = "sys {not a variable}"
template = "Q: {input}\\nA {{literal}}:"
cot_trigger = "Think."
answer_pattern = 'answer: (\\w+)'
answer_choices = ["Yes", "No"]
output_format = "json"

[[examples]]
input = "a"
output = "b"
cot = "because. answer: b"
"""))
    assert t.format("2+2") == "Q: 2+2\nA {literal}:"
    assert t.system == "sys {not a variable}"  # the system prompt is literal text
    assert t.answer_choices == ("Yes", "No")
    assert t.examples == (Example("a", "b", "because. answer: b"),)
    assert t.output_format_kind == "json"
    assert t.to_dict()["examples"] == [{"input": "a", "output": "b", "cot": "because. answer: b"}]


def test_output_format_kinds(tmp_path):
    schema = load_file(write(tmp_path / "s.toml", '[output_format]\ntype = "object"\n'))
    regex = load_file(write(tmp_path / "r.toml", "output_format = '^(yes|no)$'\n"))
    assert schema.output_format_kind == "schema" and schema.output_format == {"type": "object"}
    assert regex.output_format_kind == "regex"


def test_toml_syntax_error_names_file_and_line(tmp_path):
    p = write(tmp_path / "bad.toml", 'name = "x"\ntemplate = "{input}\ndescription = "y"\n')
    problems = problems_of(p)
    assert len(problems) == 1
    assert "not valid TOML" in problems[0] and "line 2" in problems[0]


def test_unknown_key_is_named(tmp_path):
    problems = problems_of(write(tmp_path / "k.toml", 'name = "k"\ntemplte = "{input}"\n'))
    assert problems == ["unknown key 'templte'; did you mean 'template'?"]


def test_unknown_variable_is_named(tmp_path):
    p = write(tmp_path / "v.toml", 'template = "{input} in {language}"\n')
    with pytest.raises(ConfigError) as e:
        load_file(p)
    assert str(p) in str(e.value) and "{language}" in str(e.value)


@pytest.mark.parametrize("template, needle", [
    ("Q: {}", "{}"),
    ("Q: {0}", "{0}"),
    ("Q: {input!r}", "{input!r}"),
    ("Q: {input.upper}", "{input.upper}"),
])
def test_only_plain_input_is_a_variable(tmp_path, template, needle):
    problems = problems_of(write(tmp_path / "v.toml", f"template = '{template} {{input}}'\n"))
    assert any(needle in p and "unknown variable" in p for p in problems), problems


def test_unbalanced_brace_and_missing_input(tmp_path):
    problems = problems_of(write(tmp_path / "b.toml", "template = 'Q: {input'\n"))
    assert problems[0].startswith("template: ") and "literal brace" in problems[0]
    problems = problems_of(write(tmp_path / "n.toml", "template = 'Q: nothing'\n"))
    assert problems == ["template does not use {input}, so the user's text would be dropped; add {input}"]


def test_bad_regex_names_the_key(tmp_path):
    problems = problems_of(write(tmp_path / "r.toml", "answer_pattern = 'answer: (\\d+'\n"))
    assert len(problems) == 1 and problems[0].startswith("answer_pattern: invalid regular expression")
    problems = problems_of(write(tmp_path / "o.toml", "output_format = '[a-'\n"))
    assert problems[0].startswith("output_format: invalid regular expression")


def test_all_problems_at_once(tmp_path):
    p = write(tmp_path / "many.toml", """
name = 3
colour = "red"
template = "{input} {who}"
answer_pattern = '(['
answer_choices = ["a", "A"]
data = "data/missing.jsonl"

[[examples]]
input = "only input"

[[examples]]
input = "x"
output = "y"
extra = 1
""")
    problems = problems_of(p)
    text = "\n".join(problems)
    for needle in [
        "unknown key 'colour'", "name must be a string", "{who}", "answer_pattern: invalid regular expression",
        "answer_choices repeats a", "data = 'data/missing.jsonl': no such file", "examples[1]: output is missing",
        "examples[2]: unknown key 'extra'",
    ]:
        assert needle in text, needle
    assert len(problems) == 8


def test_data_file_relative_to_template(tmp_path):
    write(tmp_path / "data" / "d.jsonl", '{"input": "a", "expected": "b"}\n\n{"input": "c", "expected": 3}\n')
    t = load_file(write(tmp_path / "t.toml", 'data = "data/d.jsonl"\n'))
    rows = t.load_data()
    assert [(r.line, r.input, r.expected) for r in rows] == [(1, "a", "b"), (3, "c", "3")]


def test_bad_data_lines_are_all_reported(tmp_path):
    p = write(tmp_path / "d.jsonl", '{"input": "a", "expected": "b"}\nnot json\n{"expected": "x"}\n{"input": "i", "expected": null}\n')
    with pytest.raises(ConfigError) as e:
        load_data(p)
    assert [x.split(":")[0] for x in e.value.problems] == ["line 2", "line 3", "line 4"]


# -------------------------------------------------------------------------------- lookup


def test_lookup_user_first_then_packaged(user_home):
    assert load("math").source == "packaged"
    write(paths.user_prompts() / "math.toml", 'description = "mine"\n')
    t = load("math")
    assert t.source == "user" and t.description == "mine"
    rows = [(i.name, i.source, i.shadowed) for i in list_templates() if i.name == "math"]
    assert rows == [("math", "user", False), ("math", "packaged", True)]


def test_lookup_by_declared_name_and_by_path(tmp_path):
    write(paths.user_prompts() / "file-name.toml", 'name = "nice-name"\n')
    assert load("nice-name").path.name == "file-name.toml"
    p = write(tmp_path / "elsewhere.toml", 'description = "e"\n')
    t = load(str(p))
    assert t.source == "file" and t.name == "elsewhere"


def test_unknown_name_lists_known():
    with pytest.raises(SandboxError) as e:
        load("nope")
    assert "no template named 'nope'" in str(e.value) and "sentiment" in str(e.value)


def test_missing_path():
    with pytest.raises(SandboxError, match="does not exist"):
        load("/no/such/file.toml")


def test_list_shows_broken_user_template():
    write(paths.user_prompts() / "broken.toml", "colour = 1\n")
    rows = {i.name: i for i in list_templates()}
    assert rows["broken"].error and "colour" in rows["broken"].error
    assert rows["sentiment"].error is None


# -------------------------------------------------------------------------------- shipped prompts


def test_shipped_templates_load():
    rows = {i.name: i for i in list_templates() if i.source == "packaged"}
    assert sorted(rows) == SHIPPED
    for name in SHIPPED:
        t = load(name)
        assert t.description and rows[name].error is None
        # memory-summary is zero-shot on purpose (small models copy examples' facts into summaries)
        assert rows[name].n_examples == len(t.examples) >= (0 if name == "memory-summary" else 2)
    assert load("sentiment").answer_choices == ("positive", "negative", "neutral")
    assert load("yes-no").answer_choices == ("yes", "no")
    assert load("json-extract").output_format_kind == "schema"
    assert rows["math"].data_lines >= 40 and rows["sentiment"].data_lines >= 40


def test_shipped_examples_extract_their_own_answers():
    math = load("math")
    for ex in math.examples:
        assert ex.cot and ex.cot.endswith(ex.output)
        assert extract(ex.cot, math.answer_pattern) == extract(ex.output, math.answer_pattern) is not None
    yn = load("yes-no")
    for ex in yn.examples:
        assert extract(ex.output, yn.answer_pattern, yn.answer_choices) == ex.output
        assert extract(ex.cot, yn.answer_pattern, yn.answer_choices) == ex.output
    s = load("sentiment")
    assert len(s.examples) in range(4, 7)
    assert {extract(ex.output, None, s.answer_choices) for ex in s.examples} == set(s.answer_choices)


def test_json_extract_examples_fit_the_schema():
    t = load("json-extract")
    schema = t.output_format
    for ex in t.examples:
        obj = json.loads(ex.output)
        assert set(obj) == set(schema["required"]) == set(schema["properties"])
        assert all(v is None or isinstance(v, str) for v in obj.values())


def test_sentiment_data():
    t = load("sentiment")
    rows = t.load_data()
    assert len(rows) >= 40
    labels = [normalise(r.expected, t.answer_choices) for r in rows]
    assert None not in labels
    assert all(labels.count(c) >= 10 for c in t.answer_choices)
    assert len({r.input for r in rows}) == len(rows)
    assert not {r.input for r in rows} & {e.input for e in t.examples}


# Each line of prompts/data/math.jsonl, recomputed here from the numbers in its question.
MATH_CHECKS = [
    12 * 7 - 65, 18 * 7 * 3, 150 // 24, 3 * F("2.50") + F("1.25"), 60 * F("2.5"), 28 - 28 * F(1, 4),
    45 * 2 + 17 * 4, 50 - F("13.75") - F("8.40"), 2 * (14 + 9), 12 * 8, F(240, 15), ceil(F(100, 8)), -4 + 11,
    6 - 15, (19 * 60 + 45 + 135) - 21 * 60, 80 - 80 * F(25, 100), 3 * F(84, 4), 1200 * F(3, 4), 36 * 500,
    F("127.50") / 5, F(16, 40) * 120, (40 - 12 - 4) / F(2) + 4, F(7, 5 + 7 + 8) * 100, F(6, 100) * 350,
    4 * 6 - 5 - 7, F(420, 15), 1250 - 487 - 362, F(2, 3) * 6, F(96, 3) + 1, 25 + F("0.10") * 140,
    24 * 18 - 379, F("3.2") + F("4.5") + F("5.8"), 250 * 14, 2 * 12 + 3 * 7, 500 // 40, 3 * 12 - 14,
    18 + F("2.5") * 6, 8 * 35 + 17, 45 + 45 * F(8, 100), F(5400, 30) / 60, F(18, 24) * 100,
    F("6.40") / F("0.10"), 42 - 15 + 9 - 12, 1500 * 22, 2 * 14 + 5, F(36, 4) ** 2, 60 * 15 - 60 * 9,
    4 * 85 - 80 - 90 - 78, 20 - F("3.50") * 4, F("7.4") * 25,
]


def test_math_data_answers_are_correct():
    rows = load("math").load_data()
    assert len(rows) == len(MATH_CHECKS) >= 40
    assert len({r.input for r in rows}) == len(rows)
    for row, value in zip(rows, MATH_CHECKS):
        assert normalise_number(row.expected) == row.expected, row  # already canonical
        assert F(row.expected) == F(value), (row.line, row.input, row.expected, value)


# -------------------------------------------------------------------------------- CLI


def cli(tmp_path, *args):
    env = {**os.environ, "SANDBOX_HOME": str(tmp_path / "home"), "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "sandbox", "templates", *args], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)


def test_cli_list_json(tmp_path):
    r = cli(tmp_path, "list", "--json")
    assert r.returncode == 0, r.stderr
    rows = json.loads(r.stdout)
    by_name = {row["name"]: row for row in rows}
    assert sorted(by_name) == SHIPPED
    assert by_name["math"]["source"] == "packaged" and by_name["math"]["data_lines"] >= 40
    assert set(by_name["sentiment"]) >= {"name", "description", "source", "path", "n_examples", "data", "data_lines"}


def test_cli_list_text_show_and_path(tmp_path):
    r = cli(tmp_path, "list")
    assert r.returncode == 0 and "sentiment" in r.stdout and "packaged" in r.stdout
    r = cli(tmp_path, "show", "math")
    assert r.returncode == 0, r.stderr
    assert "math.toml" in r.stdout and "Question: {input}" in r.stdout and "The answer is 5." in r.stdout
    r = cli(tmp_path, "show", "sentiment", "--json")
    assert json.loads(r.stdout)["answer_choices"] == ["positive", "negative", "neutral"]
    r = cli(tmp_path, "path", "yes-no")
    assert r.returncode == 0 and Path(r.stdout.strip()).name == "yes-no.toml"


def test_cli_errors_are_one_line(tmp_path):
    r = cli(tmp_path, "show", "nope")
    assert r.returncode != 0 and r.stdout == ""
    assert r.stderr.startswith("sandbox: error: no template named 'nope'") and "Traceback" not in r.stderr
    write(tmp_path / "home" / "prompts" / "bad.toml", "template = '{x}'\n")
    r = cli(tmp_path, "show", "bad")
    assert r.returncode != 0 and "{x}" in r.stderr and "bad.toml" in r.stderr and "Traceback" not in r.stderr


def test_cli_does_not_import_textual(tmp_path):
    code = (
        "import argparse, sys; from sandbox.cli import templates; p = argparse.ArgumentParser(); "
        "templates.register(p.add_subparsers()); a = p.parse_args(['templates', 'show', 'math']); a.func(a); "
        "print('textual' in sys.modules)"
    )
    env = {**os.environ, "SANDBOX_HOME": str(tmp_path), "PYTHONPATH": str(REPO)}
    r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert r.stdout.strip().endswith("False"), r.stdout + r.stderr
