"""Redaction: typed placeholders, the same value -> the same placeholder across one turn's input
and output, invisible characters stripped, and no raw value in any finding's detail."""

from __future__ import annotations

import json

from sandbox.core.guard import Redactor, load_policy


def test_typed_numbered_placeholders():
    res = load_policy().only("rules").scan("mail a@b.co or c@d.io, call +44 20 7946 0958, card 4242 4242 4242 4242")
    assert res.verdict == "redact"
    assert res.redacted == "mail <EMAIL_1> or <EMAIL_2>, call <PHONE_1>, card <CREDIT_CARD_1>"


def test_same_value_same_placeholder_across_input_and_output():
    p = load_policy().only("rules")
    r = Redactor()
    a = p.scan("I am Jane (jane@x.org), card 4242 4242 4242 4242", redactor=r)
    b = p.scan("Noted: Jane@X.org and 4242-4242-4242-4242, plus bob@y.org", stage="output", redactor=r)
    assert a.redacted == "I am Jane (<EMAIL_1>), card <CREDIT_CARD_1>"
    assert b.redacted == "Noted: <EMAIL_1> and <CREDIT_CARD_1>, plus <EMAIL_2>"
    assert r.counts == {"EMAIL": 2, "CREDIT_CARD": 1}


def test_separate_turns_number_from_one():
    p = load_policy().only("rules")
    assert p.scan("x@y.io").redacted == "<EMAIL_1>"
    assert p.scan("z@y.io").redacted == "<EMAIL_1>"


def test_redactor_keeps_no_raw_values():
    r = Redactor()
    r.placeholder("EMAIL", "secret.person@example.com")
    assert "secret.person" not in repr(vars(r))


def test_zero_width_characters_are_stripped_and_unchanged_text_is_identical():
    p = load_policy().only("rules")
    res = p.scan("pass\u200bword")
    assert res.verdict == "warn" and res.redacted == "password"
    plain = "nothing to see here"
    assert p.scan(plain).redacted is plain


def test_overlapping_spans_become_one_placeholder():
    # The email sits inside a secret assignment's value: one placeholder, no leftovers.
    res = load_policy().only("rules").scan("credentials=admin@corp-example.com:Xy9!kQ2#pL")
    assert "@" not in res.redacted and res.redacted.count("<") == 1


def test_details_never_contain_the_value():
    values = ["jane.roe@example.com", "+1 (415) 555-2671", "4242 4242 4242 4242", "078-05-1120",
              "GB82 WEST 1234 5698 7654 32", "93.184.216.34", "AKIAIOSFODNN7EXAMPLE", "Hunter2!xyz",
              "sk-proj-a1B2c3D4e5F6g7H8i9J0a1B2c3D4e5F6g7H8i9J0"]
    text = "; ".join(values[:-2]) + f"; password={values[-2]}; key {values[-1]}"
    res = load_policy().only("rules").scan(text)
    dumped = json.dumps([f.to_dict() for f in res.findings])
    assert len([f for f in res.findings if f.action == "redact"]) == len(values)
    for v in values:
        assert v not in dumped and v not in res.redacted
    for digits in ("4242", "1120", "2671", "5432"):
        assert digits not in dumped


def test_output_profanity_is_masked_input_profanity_is_only_flagged():
    p = load_policy().only("rules")
    assert p.scan("well fuck that", stage="input").redacted == "well fuck that"
    assert p.scan("well fuck that", stage="output").redacted == "well <PROFANITY_1> that"
