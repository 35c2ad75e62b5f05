"""PII found by well-kept validators: generated values of every kind, in the formats people write,
are redacted; look-alikes are not."""

from __future__ import annotations

import re

import pytest
from faker import Faker

from sandbox.core.guard import load_policy

KINDS = ("email", "phone", "card", "ssn", "iban", "ipv4")


def _generated(n_per_kind: int = 60):
    fake = Faker(["en_US", "en_GB", "de_DE", "fr_FR"])
    Faker.seed(1234)
    us = fake["en_US"]
    cards = ["visa", "visa13", "visa19", "mastercard", "amex", "discover", "jcb15", "jcb16", "diners", "maestro"]
    out = []
    for i in range(n_per_kind):
        loc = fake[("en_US", "en_GB", "de_DE", "fr_FR")[i % 4]]
        values = {
            "email": loc.email(),
            "phone": loc.phone_number(),
            "card": us.credit_card_number(card_type=cards[i % len(cards)]),
            "ssn": us.ssn(),
            "iban": loc.iban(),
            "ipv4": us.ipv4_public(),
        }
        for kind, value in values.items():
            out.append((kind, value, f"Hi, for the records: {value} — thanks."))
    return out


def test_generated_pii_is_redacted_at_least_99_percent():
    policy = load_policy().only("rules")
    rows = _generated()
    missed = [(k, v) for k, v, text in rows if v in policy.scan(text).redacted]
    assert len(missed) / len(rows) <= 0.01, missed


def test_us_phone_numbers_in_every_generated_format_are_removed_whole():
    """Faker's en_US formats (bare, dotted, (area), +1-, 001-, with x-extensions): nothing of the
    number is left, not even the extension after a placeholder."""
    fake = Faker("en_US")
    fake.seed_instance(11)
    policy = load_policy().only("rules")
    values = [fake.phone_number() for _ in range(600)]
    left = [(v, r) for v in values if (r := policy.scan(f"my number is {v}, thanks").redacted)
            and re.sub(r"\D", "", v)[-4:] in re.sub(r"\D", "", r)]
    assert len(left) <= 1, left


@pytest.mark.parametrize("value", [
    "9119530005", "(418)624-7064x024", "+1-537-640-6812x41586", "001-418-624-7064x0245", "206.269.0743x9150",
    "+44 20 7946 0958", "020 7946 0958", "+49 30 901820", "+33 1 42 68 53 00", "(555) 123-4567 ext. 89",
    # a 00 inside a number is digits, not an international prefix
    "(512)431-0077x28378", "642.783.0091x0340", "+55 48 0014-7121", "06 00 12 34 56",
    # dialled with 00 and Luhn-valid by chance: a phone, not a card
    "001-581-498-5451x05362",
])
def test_phone_formats(value):
    res = load_policy().only("rules").scan(f"call me on {value} tonight")
    assert value not in res.redacted and "<PHONE_1>" in res.redacted, res.findings


@pytest.mark.parametrize("value,brand", [
    ("3530111333300000", "JCB"), ("213125199619832", "JCB"), ("180012345678905", "JCB"), ("378282246310005", "American Express"),
    ("30569309025904", "Diners Club"), ("6011111111111117", "Discover"), ("5555555555554444", "Mastercard"),
    ("2221000000000009", "Mastercard"), ("4111111111111111", "Visa"), ("6759649826438453", "Maestro"),
    ("2200000000000004", "Mir"), ("6200000000000005", "UnionPay"),
])
def test_card_issuers(value, brand):
    res = load_policy().only("rules").scan(f"card {value} exp 09/29")
    f = next(f for f in res.findings if f.rule == "pii.credit_card")
    assert brand in f.detail and value not in res.redacted


@pytest.mark.parametrize("text", [
    "The order id is 1234567812345678 and it shipped.",  # Luhn-invalid
    "Version 10.2.3.4 is out, build 2024-05-12.",
    "We sold 3,500 units in 2023 and 4,200 in 2024.",
    "convert 01001000 01101001 from binary",
    "The meeting is at 10:30 in room 204.",
])
def test_look_alikes_are_left_alone(text):
    res = load_policy().only("rules").scan(text)
    assert not [f for f in res.findings if f.category == "pii" and f.action != "allow"], res.findings


def test_iban_and_ssn_validators():
    p = load_policy().only("rules")
    assert "<IBAN_1>" in p.scan("pay to DE89 3704 0044 0532 0130 00").redacted
    assert "<IBAN_1>" in p.scan("BE68 5390 0754 7034").redacted
    assert "IBAN" not in p.scan("DE89 3704 0044 0532 0130 01").redacted  # checksum fails
    assert "<SSN_1>" in p.scan("SSN 536-22-1234").redacted
    assert "<SSN_1>" not in p.scan("SSN 666-22-1234").redacted  # never issued
