"""`sandbox score` and the decoding flags of `sandbox run`, as a user runs them."""

from __future__ import annotations

import json

from conftest import run_cli


def test_score_json_shape(tmp_path):
    f = tmp_path / "fox.txt"
    f.write_text("The quick brown fox jumps over the lazy dog.\n", encoding="utf-8")
    r = run_cli("score", "--json", "--least", "3", str(f))
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert {"tokens", "nll", "perplexity", "least_likely"} <= set(doc)
    assert doc["tokens"] > 5 and doc["perplexity"] > 1
    assert len(doc["least_likely"]) == 3
    assert set(doc["least_likely"][0]) == {"token", "text", "logprob", "position"}
    lps = [t["logprob"] for t in doc["least_likely"]]
    assert lps == sorted(lps)


def test_score_refuses_empty_and_single_token_text():
    r = run_cli("score", "-", input="   \n")
    assert r.returncode == 2 and "empty" in r.stderr and "Traceback" not in r.stderr
    r = run_cli("score", "-", input="Hi")
    assert r.returncode == 2 and "single token" in r.stderr


def test_bad_grammar_file_names_the_file_and_the_position(tmp_path):
    g = tmp_path / "bad.gbnf"
    g.write_text('root ::= item+\nitem ::= "a" @@ "b"\n', encoding="utf-8")
    r = run_cli("run", "hi", "--no-log", "--grammar", str(g))
    assert r.returncode == 2
    assert str(g) in r.stderr and "line 2, column 14" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr


def test_schema_that_is_not_json_is_an_error_with_line_and_column(tmp_path):
    s = tmp_path / "bad.json"
    s.write_text('{"type": "object",\n  "properties": {,}}', encoding="utf-8")
    r = run_cli("run", "hi", "--no-log", "--json-schema", str(s))
    assert r.returncode == 2 and "line 2, column 18" in r.stderr and str(s) in r.stderr


def test_shipped_grammar_by_name_with_logprobs():
    r = run_cli("run", "Is the sun a star?", "--template", "yes-no", "--grammar", "yes-no", "--logprobs", "2",
                "--json", "--no-log", "--seed", "1")
    assert r.returncode == 0, r.stderr
    turn = json.loads(r.stdout)
    assert turn["output"] in {"yes", "no"}
    assert len(turn["logprobs"]) == turn["usage"]["completion_tokens"] and turn["perplexity"] >= 1
