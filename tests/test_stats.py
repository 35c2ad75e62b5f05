"""The statistics against textbook values (Newcombe 1998 for Wilson, Agresti's paired-proportions
example, exact McNemar by hand and against scipy), not just their presence."""

from __future__ import annotations

import math

import pytest

from sandbox.core import stats


@pytest.mark.parametrize("k, n, lo, hi", [
    (8, 10, 0.4902, 0.9433),     # the usual worked example
    (0, 20, 0.0, 0.1611),        # Newcombe (1998) table I
    (1, 29, 0.0061, 0.1718),
    (81, 263, 0.2553, 0.3662),
    (15, 148, 0.0624, 0.1605),
    (20, 20, 0.8389, 1.0),
])
def test_wilson_matches_newcombe(k, n, lo, hi):
    got = stats.wilson(k, n)
    assert got == pytest.approx((lo, hi), abs=5e-5)


def test_wilson_of_no_trials_is_uninformative_and_bad_counts_are_refused():
    assert stats.wilson(0, 0) == (0.0, 1.0)
    with pytest.raises(ValueError):
        stats.wilson(11, 10)


def test_mcnemar_exact_by_hand():
    # 9 rows only a passed, 1 only b: 2 * P(X <= 1), X ~ Bin(10, 1/2) = 2 * 11/1024.
    assert stats.mcnemar_exact(9, 1) == pytest.approx(22 / 1024)
    assert stats.mcnemar_exact(1, 9) == stats.mcnemar_exact(9, 1)
    assert stats.mcnemar_exact(0, 0) == 1.0
    assert stats.mcnemar_exact(5, 5) == 1.0
    assert stats.mcnemar_exact(0, 6) == pytest.approx(2 / 64)


def test_mcnemar_exact_agrees_with_scipy_binomtest():
    from scipy import stats as scipy_stats  # in the dev extra

    for b in range(0, 25):
        for c in range(0, 25):
            if b + c == 0:
                continue
            want = scipy_stats.binomtest(b, b + c, 0.5).pvalue
            assert stats.mcnemar_exact(b, c) == pytest.approx(want, rel=1e-9, abs=1e-12), (b, c)


def _table(both: int, only_a: int, only_b: int, neither: int):
    a = [1] * both + [1] * only_a + [0] * only_b + [0] * neither
    b = [1] * both + [0] * only_a + [1] * only_b + [0] * neither
    return a, b


def test_paired_difference_matches_agrestis_presidential_approval_example():
    # Agresti, Categorical Data Analysis: 1600 people, approve at both surveys 794, first only 150,
    # second only 86, neither 570: difference 0.04, 95% CI (0.021, 0.059), McNemar z = 4.17.
    a, b = _table(794, 150, 86, 570)
    r = stats.paired(a, b)
    assert r.rows == 1600 and r.a_better == 150 and r.b_better == 86
    assert r.diff == pytest.approx(0.04)
    assert r.ci95 == pytest.approx((0.0213, 0.0587), abs=5e-4)
    assert r.p_value == pytest.approx(stats.mcnemar_exact(150, 86))
    assert r.p_value < 1e-4 and r.bootstrap_ci95 is None


def test_paired_with_repeats_uses_row_means_and_adds_a_bootstrap_interval():
    a = [1.0, 2 / 3, 1.0, 0.0, 1 / 3] * 8
    b = [0.0, 2 / 3, 1 / 3, 0.0, 0.0] * 8
    r = stats.paired(a, b, repeats=3)
    assert r.a_better == 24 and r.b_better == 0
    assert r.p_value == pytest.approx(2 / 2**24)
    lo, hi = r.bootstrap_ci95
    assert lo <= r.diff <= hi and 0 < lo and hi < 1
    assert stats.paired(a, b, repeats=3).bootstrap_ci95 == r.bootstrap_ci95  # seeded: reproducible


def test_rows_needed_follows_connors_formula():
    # psi = 0.2 discordant, a 10-point gain, alpha 0.05, power 0.8:
    # (1.95996 * sqrt(0.2) + 0.84162 * sqrt(0.19))^2 / 0.01 = 154.6
    assert stats.rows_needed(0.10, 0.2) == 155
    # Nothing discordant observed: guessed from the pass rates (independence), never below the gain.
    assert stats.rows_needed(0.10, None, p_a=0.5, p_b=0.5) == stats.rows_needed(0.10, 0.5)
    assert stats.rows_needed(0.10, 0.01) == stats.rows_needed(0.10, 0.10)


def test_stability_is_the_share_of_tests_whose_verdict_changes():
    assert stats.stability([[True, False, True], [True, True, True], [False, False, False], [False, True]]) == 0.5
    assert stats.stability([[True], [False]]) is None


def test_verdicts_in_plain_words():
    a, b = _table(20, 12, 1, 17)
    r = stats.paired(a, b)
    text = stats.verdict("few-shot", "zero-shot", r, 32 / 50, 21 / 50)
    assert text.startswith("few-shot beats zero-shot on these 50 rows (64% vs 42%), p = 0.003"), text
    swapped = stats.verdict("zero-shot", "few-shot", stats.paired(b, a), 21 / 50, 32 / 50)
    assert swapped.startswith("few-shot beats zero-shot"), swapped
    a, b = _table(5, 3, 2, 10)
    text = stats.verdict("cot", "zero-shot", stats.paired(a, b), 0.4, 0.35)
    assert text.startswith("no difference detectable with 20 rows (40% vs 35%, p = 1.00); about ")
    need = int(text.split("about ")[1].split()[0])
    assert need == stats.rows_needed(0.10, 5 / 20) and "10-point gain" in text
    assert stats.format_p(0.0004) == "p < 0.001" and stats.format_p(0.0456) == "p = 0.05"
    assert math.isclose(stats.Z95, 1.959964, abs_tol=1e-6)
