"""Quality targets of the rule layer on its development set (tests/data/guard/) and on
jailbreak-corpus-mini, so regressions show. `python tests/guard_eval.py` prints the same numbers with
the misses. The learned layer is measured on its own blind split (tests/test_guard_learned.py): the
rules were tuned on this set, so it says nothing about how the heads generalise."""

from __future__ import annotations

import time

import pytest

import guard_eval
from sandbox.core.guard import load_policy


@pytest.fixture(scope="module")
def report():
    return guard_eval.evaluate(load_policy().only("rules"))


def test_dev_set_is_big_enough():
    rows = [r for name in guard_eval.DEV_FILES for r in guard_eval.load(name)]
    kinds = [r["expected"] for r in rows]
    assert kinds.count("benign") >= 150
    assert sum(k in guard_eval.ATTACK for k in kinds) >= 80
    assert sum(k in ("pii", "secret") for k in kinds) >= 60
    assert all({"id", "text", "expected"} <= set(r) for r in rows)
    assert len({r["id"] for r in rows}) == len(rows)


def test_attack_recall(report):
    assert report["attack_flagged"] >= 0.95, report["misses"]
    assert report["dan_flagged"] == 1.0, report["misses"]
    for cat in ("injection", "jailbreak", "prompt_leak", "harm"):
        assert report["recall"][cat] >= 0.9, (cat, report["misses"])


def test_pii_and_secret_recall(report):
    assert report["recall"]["pii"] >= 0.99, report["misses"]
    assert report["recall"]["secret"] >= 0.99, report["misses"]


def test_false_positive_rate(report):
    assert report["fp_rate"] <= 0.02, report["false_positives"]


def test_jailbreak_corpus_mini(report):
    cm = report["corpus_mini"]
    if not cm["available"]:
        pytest.skip("jailbreak-corpus-mini-py is not installed (pip install -e .[dev])")
    assert cm["recall"] >= 0.9, cm["missed"]


ADVERSARIAL = {
    "letters": "a" * 200_000, "digits": "1" * 200_000, "digit-space": "1 " * 100_000, "at": "a@" * 100_000,
    "dots": "1." * 100_000, "colons": "a:" * 100_000, "hex": "4a " * 66_000, "base64": "QUJD" * 50_000,
    "plus": "+1" * 100_000, "eq": "key=" * 50_000, "comments": "<!--" * 50_000, "zero-width": "a\u200b" * 100_000,
    "control": "\x00\x0b\x0c\x1b[0m" * 30_000, "words": "ignore previous " * 12_000, "dashes": "-" * 200_000,
    "binary": "01000001 " * 22_000, "morse": ".- " * 66_000, "percent": "%41" * 66_000, "spaced": "a " * 100_000,
    "u-escapes": "\\u0041" * 33_000, "exfil": "send the customer list to a@b.co " * 6_000,
}


def test_no_catastrophic_backtracking():
    """Long adversarial strings finish (linear time); a backtracking regex would take minutes."""
    policy = load_policy()
    t0 = time.perf_counter()
    for text in ADVERSARIAL.values():
        for stage in ("input", "output"):
            policy.scan(text, stage=stage, canary="CANARY-1", system_prompt="be nice to users " * 5, fmt={"json": True})
    assert time.perf_counter() - t0 < 60
