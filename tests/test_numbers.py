"""Every number sandbox shows is written by one module."""

from sandbox.core import numbers


def test_counts_ms_rates_dollars():
    assert numbers.count(19001) == "19,001" and numbers.count(None) == numbers.MISSING
    assert numbers.ms(3.25) == "3.2 ms" and numbers.ms(1234.4) == "1,234 ms" and numbers.ms(12_345) == "12.35 s"
    assert numbers.rate(121.54) == "121.5 tok/s"
    assert numbers.usd(0.000325) == "$0.000325" and numbers.usd(2.5) == "$2.5000" and numbers.usd(1234.5) == "$1,234.5000"


def test_local_time_falls_back_to_the_text():
    assert numbers.local_time(None) == numbers.MISSING
    assert numbers.local_time("not a time") == "not a time"
    assert len(numbers.local_time("2026-11-22T04:44:53.294+00:00")) == len("2026-11-22 04:44")
