"""Looking inside decoding on the real bundled model: logprobs against plain llama-cpp-python,
stable perplexity, grammar- and schema-constrained output, beam search, and the turn fields."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from sandbox.core.engine import log_softmax
from sandbox.core.sampling import SamplingParams

REPO = Path(__file__).resolve().parent.parent
GREEDY = SamplingParams(temperature=0.0, repeat_penalty=1.0, max_tokens=6, seed=1)


def chat(engine, text: str) -> list[int]:
    return engine.tokenize(engine.render_chat([{"role": "user", "content": text}]))


@pytest.fixture
def session(engine):
    from sandbox.core import config
    from sandbox.core.session import Session

    registry = config.load()
    return Session(engine=engine, spec=registry.get(None), registry=registry, store=None)


def turn_of(session, text, **kw):
    from sandbox.core.events import TurnDone
    from sandbox.core.turn import TurnRequest

    params = kw.pop("params", SamplingParams(max_tokens=24, seed=3))
    request = TurnRequest(text=text, params=params, history=False, **kw)
    return next(e.turn.to_dict() for e in session.turn(request) if isinstance(e, TurnDone))  # the JSON contract


# ---- logprobs and scoring -------------------------------------------------------------------------

def test_logprobs_match_plain_llama_cpp_python(engine, bundled_model_path):
    import llama_cpp

    from sandbox.core.llama_cpu import avoid_crashing_paths

    avoid_crashing_paths()  # the engine's own model parameters (on an AMX CPU, plain ones crash)
    prompt = chat(engine, "Name a colour.")
    s = engine.generate(prompt, GREEDY, logprobs=5).run().samples[0]
    assert len(s.logprobs) == len(s.tokens) == 6
    # The engine's context: its flash-attention setting (off on the CPU), the same cache size.
    llm = llama_cpp.Llama(model_path=str(bundled_model_path), n_ctx=engine.n_ctx, logits_all=True, verbose=False,
                          n_threads=engine.n_threads, flash_attn=engine.flash_attn == "on")
    try:
        # As the engine decodes: the prompt but its last token in one batch, that token alone, then one at a time.
        llm.eval(prompt[:-1])
        llm.eval(prompt[-1:])
        for t in s.tokens:
            llm.eval([t])
        scores = np.array(llm.scores[:llm.n_tokens])
    finally:
        llm.close()
    for i, lp in enumerate(s.logprobs):
        ref = log_softmax(scores[len(prompt) - 1 + i])  # the row that predicted generated token i
        assert lp.token == s.tokens[i]
        assert lp.logprob == pytest.approx(ref[lp.token], abs=2e-3)
        assert lp.top[0][0] == int(np.argmax(ref)) == lp.token  # greedy took the most likely token
        for tok, _text, value in lp.top:
            assert value == pytest.approx(ref[tok], abs=2e-3)
    # Engine.score of the same tokens, all in one batch, gives nearly the same numbers: llama.cpp's
    # logits depend on the batch shape (over 44-60-token replies: mean 0.02-0.06 nats, at most
    # 0.12-0.32, with flash attention on or off), so exactly equal only token by token as above.
    scored = np.array(engine.score(prompt + s.tokens)[len(prompt) - 1:])
    drift = np.abs(scored - np.array([lp.logprob for lp in s.logprobs]))
    assert drift.mean() < 0.05 and drift.max() < 0.2, drift


def test_perplexity_of_a_fixed_text_is_stable_and_finite(engine):
    from sandbox.core.decoding import score_summary

    tokens = engine.tokenize("The quick brown fox jumps over the lazy dog.", special=False)
    texts = [engine.tokenizer.piece(t).decode("utf-8", "replace") for t in tokens]
    a = score_summary(engine.score(tokens), texts, tokens)
    b = score_summary(engine.score(tokens), texts, tokens)
    assert a == b
    assert math.isfinite(a["perplexity"]) and a["perplexity"] > 1 and a["nll"] == pytest.approx(math.log(a["perplexity"]))
    assert a["tokens"] == len(tokens)


def test_turn_with_logprobs_has_them_and_a_perplexity(session):
    turn = turn_of(session, "Say hello.", logprobs=3, params=SamplingParams(max_tokens=8, seed=2))
    lps = turn["logprobs"]
    assert len(lps) == turn["usage"]["completion_tokens"] and all(len(x["top"]) == 3 for x in lps)
    expected = math.exp(-sum(x["logprob"] for x in lps) / len(lps))
    assert turn["perplexity"] == pytest.approx(expected, rel=1e-3)
    plain = turn_of(session, "Say hello.", params=SamplingParams(max_tokens=8, seed=2))
    assert "logprobs" not in plain and "perplexity" not in plain
    assert plain["output"] == turn["output"]  # asking for logprobs does not change what is generated


# ---- constrained output ---------------------------------------------------------------------------

@pytest.mark.parametrize("seed", [1, 2])
def test_yes_no_grammar_only_allows_yes_or_no(session, seed):
    grammar = (REPO / "prompts/grammars/yes-no.gbnf").read_text()
    turn = turn_of(session, "Is the sun a star?", template="yes-no", grammar=grammar,
                   params=SamplingParams(temperature=1.2, max_tokens=8, seed=seed))
    assert turn["output"] in {"yes", "no"} and turn["finish_reason"] == "stop"
    assert turn["constraint"]["grammar"] == grammar


def test_json_schema_output_parses_and_the_guard_checks_it(session):
    schema = json.loads((REPO / "prompts/schemas/contact.json").read_text())
    turn = turn_of(session, "Hi, I'm Tom Baker from Initech.", template="json-extract", json_schema=schema,
                   params=SamplingParams(temperature=0.7, max_tokens=80, seed=4))
    value = json.loads(turn["output"])
    assert set(schema["required"]) <= set(value)
    assert not [f for f in turn["guard"]["output"] if f["category"] == "format"]
    assert turn["constraint"]["json_schema"] == schema


def test_schema_that_cannot_finish_stops_at_the_limit_and_says_so(session):
    schema = json.loads((REPO / "prompts/schemas/contact.json").read_text())
    turn = turn_of(session, "Give me JSON.", json_schema=schema, params=SamplingParams(max_tokens=4, seed=1))
    assert turn["finish_reason"] == "length"
    assert any("constrained output is incomplete" in n for n in turn["notes"])
    assert [f["rule"] for f in turn["guard"]["output"]] == ["format.json"]  # the guard sees it is not JSON yet


def test_list_grammar(engine):
    grammar = (REPO / "prompts/grammars/list.gbnf").read_text()
    s = engine.generate(chat(engine, "List three fruits."), SamplingParams(temperature=0.5, max_tokens=60, seed=1),
                        grammar=grammar).run().samples[0]
    lines = s.text.splitlines()
    assert 1 <= len(lines) <= 5 and all(line.startswith("- ") for line in lines)


def test_grammar_positions():
    from sandbox.core.constraints import grammar_position

    text = 'root ::= item+\nitem ::= "a" @@ "b"\n'
    assert grammar_position(text, "error parsing grammar: expecting newline or end at @@ \"b\"") == (2, 14)
    assert grammar_position(text, "error parsing grammar: unexpected end of input") == (2, 20)  # just past the last character
    assert grammar_position("root ::= x\n", "error parsing grammar: Undefined rule identifier 'x'") == (1, 10)


# ---- beam search ----------------------------------------------------------------------------------

def test_beam_width_one_is_greedy(engine):
    prompt = chat(engine, "What is the capital of France?")
    greedy = engine.generate(prompt, GREEDY.with_(max_tokens=10)).run().samples[0]
    [beam] = engine.beam_search(prompt, 1, 10)
    assert beam.tokens == greedy.tokens and beam.text == greedy.text


def test_beam_width_three_returns_three_beams_sorted_by_score(engine):
    prompt = chat(engine, "Name a fruit.")
    beams = engine.beam_search(prompt, 3, 8)
    assert len(beams) == 3
    assert [b.score for b in beams] == sorted((b.score for b in beams), reverse=True)
    assert len({tuple(b.tokens) for b in beams}) == 3
    for b in beams:
        n = len(b.tokens) + (b.finish_reason == "stop")  # an end-of-text token is scored too
        assert b.score == pytest.approx(b.logprob / n)
    # the prompt's cache survives the search: the next call reuses it
    stats = engine.generate(prompt, GREEDY.with_(max_tokens=2)).run()
    assert stats.cached_tokens == len(prompt) - 1


def test_beam_turn_shows_the_beams_as_samples(session):
    turn = turn_of(session, "Name a fruit.", beams=2, params=SamplingParams(max_tokens=6, seed=1))
    assert turn["params"]["decoding"] == "beam" and turn["params"]["beams"] == 2
    assert len(turn["samples"]) == 2 and turn["votes"] is None
    assert turn["samples"][0]["score"] >= turn["samples"][1]["score"]
    assert turn["output"] == turn["samples"][0]["output"]


def test_logprobs_are_withheld_when_the_output_guard_changed_the_reply():
    from sandbox.core.engine import SampleStats, TokenLogprob
    from sandbox.core.session import Session
    from sandbox.core.turn import Turn, TurnRequest

    raw = SampleStats(seed=1, text="mail jane@example.com", tokens=[1, 2],
                      logprobs=[TokenLogprob(1, "mail", -0.5, []), TokenLogprob(2, " jane@example.com", -1.5, [])])
    turn = Turn("s", "t", 0, "", "m", "zero-shot", output="mail <EMAIL_1>")
    Session._decoding_fields(turn, TurnRequest(logprobs=2), raw)
    assert turn.logprobs is None and "logprobs withheld" in turn.notes[0]
    assert turn.perplexity == pytest.approx(math.exp(1.0), abs=1e-4)  # rounded to 4 places
    same = Turn("s", "t", 0, "", "m", "zero-shot", output=raw.text)
    Session._decoding_fields(same, TurnRequest(logprobs=2), raw)
    assert [x["text"] for x in same.to_dict()["logprobs"]] == ["mail", " jane@example.com"]


def test_constrain_to_the_templates_own_format(engine):
    from sandbox.core import constraints, templates
    from sandbox.core.errors import SandboxError

    yes_no = constraints.from_template(engine, templates.load("yes-no"), "zero-shot")
    assert yes_no.grammar == 'root ::= "yes" | "no"\n' and yes_no.schema is None
    contact = constraints.from_template(engine, templates.load("json-extract"), "few-shot")
    assert contact.schema == templates.load("json-extract").output_format and "root ::=" in contact.grammar
    with pytest.raises(SandboxError, match="chain-of-thought"):
        constraints.from_template(engine, templates.load("yes-no"), "cot")
    with pytest.raises(SandboxError, match="nothing to constrain"):
        constraints.from_template(engine, templates.load("math"), "zero-shot")
