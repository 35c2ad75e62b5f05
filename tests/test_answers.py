"""Answer extraction, normalisation and the self-consistency vote."""

from __future__ import annotations

import pytest

from sandbox.core.answers import (
    DEFAULT_ANSWER_PATTERN, Vote, choices_pattern, extract, matches, normalise, normalise_number, vote,
)

MATH = r"(?i)answer\s*(?:is|:)\s*\$?(-?[\d,\.]+)"  # the pattern docs/ARCHITECTURE.md §5 shows


@pytest.mark.parametrize("raw, expected", [
    ("1000", "1000"), ("1,000", "1000"), ("1000.0", "1000"), ("$1,000", "1000"), ("$1,000.00", "1000"),
    ("-3.50", "-3.5"), ("-$3.50", "-3.5"), ("$-3.50", "-3.5"), ("+7", "7"), ("0.50", "0.5"), (".5", "0.5"),
    ("5.", "5"), ("1,234,567", "1234567"), ("-0", "0"), ("007", "7"), ("1e3", None), ("1,2", None),
    ("12,34", None), ("", None), ("-", None), ("$", None), ("3/4", None), ("--3", None),
])
def test_normalise_number(raw, expected):
    assert normalise_number(raw) == expected


@pytest.mark.parametrize("text", ["The answer is 1,000.", "Answer: 1000.0", "the answer is $1,000", "ANSWER IS 1000"])
def test_numbers_extract_the_same(text):
    assert extract(text, MATH) == "1000"


def test_last_match_wins():
    text = "First I thought the answer is 12. Checking again: 3 x 5 = 15. The answer is 15."
    assert extract(text, MATH) == "15"


def test_group_zero_when_no_group():
    assert extract("values 3 then 4.50", r"\d+(?:\.\d+)?") == "4.5"


def test_first_matched_group_of_an_alternation():
    pattern = r"answer is (\d+)|^(\d+)$"
    assert extract("42", pattern) == "42"
    assert extract("so the answer is 7", pattern) == "7"


def test_no_match_is_no_answer():
    assert extract("I am not sure.", MATH) is None
    assert extract("", MATH) is None
    assert extract("anything", None) is None


def test_default_pattern_only_takes_explicit_answers():
    assert extract("The answer is 42.", DEFAULT_ANSWER_PATTERN) == "42"
    assert extract("So the final answer is **$1,200**.", DEFAULT_ANSWER_PATTERN) == "1200"
    assert extract("Answer: Paris", DEFAULT_ANSWER_PATTERN) == "paris"
    assert extract("The answer is 5 apples.\nThanks!", DEFAULT_ANSWER_PATTERN) == "5"
    assert extract("2 + 3 = 5, then 5 * 2 = 10", DEFAULT_ANSWER_PATTERN) is None  # no guessing from numbers
    assert extract("The answer is: -3.50.", DEFAULT_ANSWER_PATTERN) == "-3.5"


def test_choices_are_canonical_and_case_insensitive():
    choices = ("positive", "negative", "neutral")
    assert extract("POSITIVE", None, choices) == "positive"
    assert extract("Sentiment: Negative.", None, choices) == "negative"
    assert extract("Not negative at all; overall it is positive.", None, choices) == "positive"
    assert extract("great product", None, choices) is None
    assert extract("positively great", None, choices) is None  # whole words only


def test_choices_with_a_pattern_reject_other_words():
    choices = ("Yes", "No")
    assert extract("Answer: yes", r"(?i)answer:\s*(\w+)", choices) == "Yes"
    assert extract("Answer: maybe", r"(?i)answer:\s*(\w+)", choices) is None


def test_choices_pattern_escapes_and_prefers_longer():
    p = choices_pattern(["a+b", "a+b+c"])
    assert extract("it is a+b+c", p, ["a+b", "a+b+c"]) == "a+b+c"


def test_normalise_text_and_matches():
    assert normalise("  **Paris**. ") == "paris"
    assert normalise("'Hello   world'") == "hello world"
    assert normalise(None) is None and normalise("  ") is None
    assert matches("1000", "1,000.00") and matches("positive", "Positive", ("positive", "negative"))
    assert not matches(None, "5") and not matches("5", "6")


# -------------------------------------------------------------------------------- vote


def test_vote_majority_and_agreement():
    v = vote(["5", "5", "6", None, "5"])
    assert v == Vote(winner="5", counts={"5": 3, "6": 1}, agreement=0.6, tie=False, tied=[])
    assert list(v.counts) == ["5", "6"]


def test_vote_counts_ordered_most_first_then_first_seen():
    v = vote(["b", "a", "c", "a", "c", "c"])
    assert list(v.counts.items()) == [("c", 3), ("a", 2), ("b", 1)]


def test_tie_goes_to_first_appearance_and_is_flagged():
    v = vote([None, "7", "8", "8", "7"])
    assert v.winner == "7" and v.tie and v.tied == ["7", "8"]
    assert v.agreement == pytest.approx(2 / 5)
    assert vote(["8", "7", "7", "8"]).winner == "8"


def test_none_does_not_vote():
    v = vote([None, None, "x"])
    assert v.winner == "x" and v.counts == {"x": 1} and not v.tie
    assert v.agreement == pytest.approx(1 / 3)


@pytest.mark.parametrize("answers", [[], [None, None]])
def test_no_answers_no_winner(answers):
    v = vote(answers)
    assert v.winner is None and v.counts == {} and v.agreement == 0.0 and not v.tie


def test_vote_to_dict():
    assert vote(["a", "b"]).to_dict() == {
        "winner": "a", "counts": {"a": 1, "b": 1}, "agreement": 0.5, "tie": True, "tied": ["a", "b"],
    }
