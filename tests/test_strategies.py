"""Strategies: the exact prompt each one renders (golden), example handling, sample counts."""

from __future__ import annotations

from dataclasses import replace

import pytest

from sandbox.core.answers import DEFAULT_ANSWER_PATTERN, choices_pattern, extract
from sandbox.core.errors import SandboxError
from sandbox.core.sampling import SamplingParams
from sandbox.core.strategies import (
    STRATEGIES, Example, Rendered, ensure_sampling_temperature, example_views, examples_of, render,
)
from sandbox.core.templates import load, load_file

QUIZ = """
name = "quiz"
description = "golden test template"
system = "You are terse."
template = "Q: {input}\\nA:"
cot_trigger = "Reason first."
answer_pattern = 'answer is (\\w+)'

[[examples]]
input = "1+1"
output = "answer is 2"
cot = "One plus one is two, so the answer is 2"

[[examples]]
input = "2+2"
output = "answer is 4"
"""


@pytest.fixture
def quiz(tmp_path):
    p = tmp_path / "quiz.toml"
    p.write_text(QUIZ, encoding="utf-8")
    return load_file(p)


@pytest.fixture(autouse=True)
def user_home(tmp_path, monkeypatch):
    monkeypatch.setenv("SANDBOX_HOME", str(tmp_path / "home"))


def msgs(*pairs):
    return [{"role": r, "content": c} for r, c in pairs]


# -------------------------------------------------------------------------------- no template


def test_zero_shot_raw():
    assert render("zero-shot", None, "Hello there") == Rendered(
        strategy="zero-shot", system=None, pinned=[], user="Hello there", n_samples=1,
        answer_pattern=None, choices=None, template=None,
    )


def test_cot_raw():
    r = render("cot", None, "What is 6 x 7?")
    assert r.user == "What is 6 x 7?\nLet's think step by step."
    assert r.pinned == [] and r.n_samples == 1 and r.system is None
    assert r.answer_pattern == DEFAULT_ANSWER_PATTERN


def test_cot_custom_trigger_and_none():
    assert render("cot", None, "x", cot_trigger="Work it out.").user == "x\nWork it out."
    assert render("cot", None, "x", cot_trigger="").user == "x"


def test_self_consistency_raw():
    r = render("self-consistency", None, "What is 6 x 7?")
    assert r.user == "What is 6 x 7?\nLet's think step by step."
    assert r.n_samples == 5 and r.answer_pattern == DEFAULT_ANSWER_PATTERN
    assert render("self-consistency", None, "q", samples=2).n_samples == 2
    assert render("self-consistency", None, "q", samples=32).n_samples == 32


@pytest.mark.parametrize("bad", [0, 1, 33, -5, True, 2.5, "5"])
def test_self_consistency_sample_bounds(bad):
    with pytest.raises(SandboxError, match="2 to 32 samples"):
        render("self-consistency", None, "q", samples=bad)


def test_other_strategies_ignore_samples():
    assert render("cot", None, "q", samples=9).n_samples == 1


def test_few_shot_without_examples_is_a_clear_error(quiz):
    message = "few-shot needs examples: pick a template with [[examples]] or add some"
    with pytest.raises(SandboxError) as e:
        render("few-shot", None, "q")
    assert str(e.value) == message
    with pytest.raises(SandboxError, match=r"few-shot needs examples"):
        render("few-shot", quiz, "q", examples=[])
    off = [replace(ex, enabled=False) for ex in quiz.examples]
    with pytest.raises(SandboxError, match=r"few-shot needs examples"):
        render("few-shot", quiz, "q", examples=off)


def test_unknown_strategy():
    with pytest.raises(SandboxError, match="unknown strategy 'tree'; choose one of zero-shot, few-shot, cot, self-consistency"):
        render("tree", None, "q")


# -------------------------------------------------------------------------------- with a template


def test_zero_shot_golden(quiz):
    r = render("zero-shot", quiz, "3+3")
    assert (r.system, r.pinned, r.user) == ("You are terse.", [], "Q: 3+3\nA:")
    assert r.answer_pattern == "answer is (\\w+)" and r.template == "quiz"
    assert r.messages() == msgs(("system", "You are terse."), ("user", "Q: 3+3\nA:"))


def test_few_shot_golden(quiz):
    r = render("few-shot", quiz, "3+3")
    assert r.pinned == msgs(
        ("user", "Q: 1+1\nA:"), ("assistant", "answer is 2"),
        ("user", "Q: 2+2\nA:"), ("assistant", "answer is 4"),
    )
    assert r.user == "Q: 3+3\nA:" and r.n_samples == 1
    assert r.messages("ignored default")[0] == {"role": "system", "content": "You are terse."}


def test_cot_golden_uses_worked_examples_only(quiz):
    r = render("cot", quiz, "3+3")
    assert r.pinned == msgs(
        ("user", "Q: 1+1\nA:\nReason first."), ("assistant", "One plus one is two, so the answer is 2"),
    )
    assert r.user == "Q: 3+3\nA:\nReason first."
    assert r.answer_pattern == "answer is (\\w+)"


def test_self_consistency_golden(quiz):
    r = render("self-consistency", quiz, "3+3", samples=3, cot_trigger="Go.")
    assert r.pinned == msgs(("user", "Q: 1+1\nA:\nGo."), ("assistant", "One plus one is two, so the answer is 2"))
    assert r.user == "Q: 3+3\nA:\nGo." and r.n_samples == 3


def test_input_braces_are_not_formatted(quiz):
    assert render("zero-shot", quiz, "{input} {0} }{").user == "Q: {input} {0} }{\nA:"


def test_edited_examples_replace_the_templates(quiz):
    edited = [Example("b", "B"), Example("skip", "S", enabled=False), Example("a", "A", cot="because A")]
    r = render("few-shot", quiz, "q", examples=edited)
    assert r.pinned == msgs(("user", "Q: b\nA:"), ("assistant", "B"), ("user", "Q: a\nA:"), ("assistant", "A"))
    r = render("cot", quiz, "q", examples=edited)
    assert r.pinned == msgs(("user", "Q: a\nA:\nReason first."), ("assistant", "because A"))


def test_raw_few_shot_with_given_examples():
    r = render("few-shot", None, "3", examples=[Example("1", "one"), Example("2", "two")])
    assert r.pinned == msgs(("user", "1"), ("assistant", "one"), ("user", "2"), ("assistant", "two"))
    assert r.user == "3" and r.system is None and r.answer_pattern is None


def test_caller_default_system():
    r = render("zero-shot", None, "hi")
    assert r.messages("Be kind.") == msgs(("system", "Be kind."), ("user", "hi"))
    assert r.messages() == msgs(("user", "hi"))


def test_example_views_explain_each_example(quiz):
    edited = [*examples_of(quiz), Example("off", "x", enabled=False)]
    views = example_views("cot", quiz, edited)
    assert [(v.index, v.used, v.reason) for v in views] == [
        (0, True, None), (1, False, "no worked reasoning (cot)"), (2, False, "disabled"),
    ]
    assert views[1].messages == msgs(("user", "Q: 2+2\nA:\nReason first."), ("assistant", "answer is 4"))
    zs = example_views("zero-shot", quiz)
    assert {v.reason for v in zs} == {"zero-shot uses no examples"}
    assert zs[0].messages == msgs(("user", "Q: 1+1\nA:"), ("assistant", "answer is 2"))


def test_examples_of_is_a_fresh_list(quiz):
    mine = examples_of(quiz)
    mine.reverse()
    assert examples_of(quiz)[0].input == "1+1" and examples_of(None) == []


def test_every_strategy_renders(quiz):
    for s in STRATEGIES:
        assert render(s, quiz, "x").user.startswith("Q: x")


# -------------------------------------------------------------------------------- shipped templates


def test_sentiment_few_shot_golden():
    t = load("sentiment")
    r = render("few-shot", t, "Works fine.")
    assert r.system == ("You classify the sentiment of customer reviews. "
                        "Reply with exactly one word: positive, negative or neutral.")
    assert r.pinned[:2] == msgs(
        ("user", "Review: The battery easily lasts two days and the screen is gorgeous. Best phone I've owned.\nSentiment:"),
        ("assistant", "positive"),
    )
    assert len(r.pinned) == 2 * len(t.examples)
    assert r.user == "Review: Works fine.\nSentiment:"
    assert r.choices == ("positive", "negative", "neutral") and r.answer_pattern == choices_pattern(r.choices)
    assert extract(" Neutral", r.answer_pattern, r.choices) == "neutral"


def test_math_self_consistency_golden():
    t = load("math")
    r = render("self-consistency", t, "Ann has 3 apples and eats one. How many are left?")
    assert r.user == "Question: Ann has 3 apples and eats one. How many are left?\nLet's think step by step."
    assert r.pinned[:2] == msgs(
        ("user", "Question: Sam has 2 pens and buys 3 more. How many pens does he have?\nLet's think step by step."),
        ("assistant", "Sam starts with 2 pens and buys 3 more, so he has 2 + 3 = 5 pens. The answer is 5."),
    )
    assert len(r.pinned) == 8 and r.n_samples == 5
    assert extract("3 - 1 = 2. The answer is 2.", r.answer_pattern) == "2"
    assert extract("2", r.answer_pattern) == "2"
    assert extract("There are 2 left", r.answer_pattern) is None


# -------------------------------------------------------------------------------- temperature


def test_temperature_zero_is_raised_for_self_consistency():
    params, note = ensure_sampling_temperature(SamplingParams(temperature=0.0, seed=3))
    assert params == SamplingParams(temperature=0.7, seed=3)
    assert note == "self-consistency needs varied samples: temperature 0.0 raised to 0.7"
    params, note = ensure_sampling_temperature({"temperature": 0, "top_k": 1})
    assert params == {"temperature": 0.7, "top_k": 1} and "raised to 0.7" in note


def test_positive_temperature_is_kept():
    p = SamplingParams(temperature=0.2)
    assert ensure_sampling_temperature(p) == (p, None)
