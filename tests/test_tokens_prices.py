"""PriceTable (exact decimals), context gauge and energy arithmetic."""

from __future__ import annotations

from decimal import Decimal

import pytest

from sandbox.core import config, paths
from sandbox.core.config import Price
from sandbox.core.tokens import PriceTable, TokenCounter, context_gauge, encoding, local_energy, usd_out


def price(model, inp, out, enc="o200k_base", approximate=False) -> Price:
    return Price(model, Decimal(inp), Decimal(out), enc, approximate)


@pytest.fixture(scope="module")
def table() -> PriceTable:
    return PriceTable({
        "gpt-4o": price("gpt-4o", "2.50", "10.00"),
        "gpt-4o-mini": price("gpt-4o-mini", "0.15", "0.60"),
        "gpt-3.5-turbo": price("gpt-3.5-turbo", "0.50", "1.50", "cl100k_base"),
        "claude-sonnet-4": price("claude-sonnet-4", "3.00", "15.00", "cl100k_base", approximate=True),
    })


# --- exact arithmetic --------------------------------------------------------------------------

def test_a_million_tokens_costs_the_list_price_exactly(table):
    assert table.usd("gpt-4o", 1_000_000) == Decimal("2.5")
    assert table.usd("gpt-4o", 0, 1_000_000) == Decimal("10")
    assert table.usd("gpt-4o", 118, 39) == Decimal("0.000685")  # ARCHITECTURE's turn example
    assert usd_out(table.usd("gpt-4o", 1_000_000)) == 2.5
    assert usd_out(table.usd("gpt-4o", 118, 39)) == 0.000685


def test_rounding_happens_only_at_output(table):
    assert table.usd("gpt-4o-mini", 7, 3) == Decimal("0.00000285")
    assert usd_out(table.usd("gpt-4o-mini", 7, 3)) == 0.000003  # half up at 1e-6
    assert usd_out(table.usd("gpt-4o-mini", 1, 0)) == 0.0  # 1.5e-7


def test_session_total_of_many_small_turns_has_no_drift(table):
    turn = {"gpt-4o-mini": {"input_tokens": 7, "output_tokens": 3, "usd": 0.000003, "exact": True}}
    total = table.total([turn] * 1000)["gpt-4o-mini"]
    # 1000 x 2.85e-6 is 0.00285; summing the rounded per-turn amounts would say 0.003.
    assert total == {"encoding": "o200k_base", "input_tokens": 7000, "output_tokens": 3000, "usd": 0.00285, "exact": True}
    many = [{"gpt-4o": {"input_tokens": 1, "output_tokens": 0}}] * 200_000
    assert table.total(many)["gpt-4o"]["usd"] == 0.5  # where a float sum of 2.5e-6 drifts
    assert sum([2.5e-6] * 200_000) != 0.5


def test_total_ignores_the_callers_decimal_context(table):
    import decimal

    with decimal.localcontext(decimal.Context(prec=3)):
        assert table.usd("gpt-4o", 123_456_789, 987_654_321) == Decimal("10185.185182500")


def test_total_keeps_models_no_longer_priced_as_inexact_sums(table):
    turns = [{"old-model": {"input_tokens": 10, "output_tokens": 5, "usd": 0.1, "exact": True}}] * 3
    total = table.total(turns)["old-model"]
    assert total["usd"] == 0.3 and total["input_tokens"] == 30 and total["exact"] is False
    assert table.total([]) == {} and table.total([{}, None]) == {}


# --- costs of texts ----------------------------------------------------------------------------

def test_prompt_cost_counts_with_each_models_encoding(table):
    text = "お誕生日おめでとう"  # 9 tokens in cl100k_base, 8 in o200k_base
    cost = table.prompt_cost(text)
    assert cost["gpt-4o"] == {"encoding": "o200k_base", "input_tokens": 8, "input_usd": 0.00002, "exact": True}
    assert cost["gpt-3.5-turbo"] == {"encoding": "cl100k_base", "input_tokens": 9, "input_usd": 0.000005, "exact": True}
    assert cost["claude-sonnet-4"]["exact"] is False  # approximate: Anthropic's tokenizer is not tiktoken
    assert list(cost) == list(table.prices)


def test_turn_cost_and_self_consistency_outputs(table):
    prompt, out = "2 + 2 = 4", "hello world"
    one = table.turn_cost(prompt, out)
    assert one["gpt-4o"] == {"encoding": "o200k_base", "input_tokens": 7, "output_tokens": 2,
                             "usd": usd_out(table.usd("gpt-4o", 7, 2)), "exact": True}
    three = table.turn_cost(prompt, [out, out, "hi"])
    assert three["gpt-4o"]["input_tokens"] == 7 and three["gpt-4o"]["output_tokens"] == 5
    assert table.turn_cost("", "")["gpt-4o"]["usd"] == 0.0


def test_a_fallback_encoding_makes_costs_inexact(monkeypatch, tmp_path):
    from sandbox.core.tokens import encodings

    monkeypatch.setattr(encodings, "_built", {})
    monkeypatch.setattr(encodings, "_encodings", {})
    real = encodings.bpe_path
    monkeypatch.setattr(encodings, "bpe_path", lambda n: tmp_path / "x" if n == "o200k_base" else real(n))
    t = PriceTable({"gpt-4o": price("gpt-4o", "2.50", "10")})
    assert t.prompt_cost("hello world")["gpt-4o"]["exact"] is False
    assert t.turn_cost("a", "b")["gpt-4o"]["exact"] is False
    assert encoding("o200k_base").loaded == "cl100k_base"


def test_shares_a_session_counter_and_reads_the_shipped_price_table():
    registry = config.load(paths.packaged_models_toml())
    counter = TokenCounter()
    t = PriceTable(registry.pricing, counter)
    assert t.counter is counter
    cost = t.prompt_cost("x" * 10)
    assert set(cost) == set(registry.pricing)
    assert all(c["exact"] == (not registry.pricing[m].approximate) for m, c in cost.items())


# --- context gauge ----------------------------------------------------------------------------

def test_gauge_parts_and_left():
    g = context_gauge(8192, 100, 2000, 300, 512)
    assert g.used == 2912 and g.left == 5280 and g.over == 0 and g.level == "ok"
    assert g.parts == (("system", 100), ("window", 2000), ("prompt", 300), ("reserved", 512))
    assert g.fraction == 2912 / 8192


@pytest.mark.parametrize("used,level", [
    (6553, "ok"),     # 79.99%: 80% of 8192 is 6553.6
    (6554, "warn"),   # 80.0%
    (7782, "warn"),   # 94.99%
    (7783, "full"),   # 95.0% (7782.4)
    (8192, "full"),   # exactly full, left 0
    (9000, "full"),   # over
])
def test_gauge_levels_at_the_edges(used, level):
    g = context_gauge(8192, 0, 0, used, 0)
    assert g.level == level and g.left == 8192 - used


def test_gauge_thresholds_are_exact_percentages():
    assert context_gauge(100, 0, 0, 79, 0).level == "ok"
    assert context_gauge(100, 0, 0, 80, 0).level == "warn"
    assert context_gauge(100, 0, 0, 94, 0).level == "warn"
    assert context_gauge(100, 0, 0, 95, 0).level == "full"


def test_gauge_over_the_window():
    g = context_gauge(4096, 500, 3000, 600, 512)
    assert g.left == -516 and g.over == 516 and g.level == "full" and g.fraction > 1
    assert context_gauge(64, 0, 0, 0, 0).level == "ok"


@pytest.mark.parametrize("args", [(0, 0, 0, 0, 0), (-1, 0, 0, 0, 0), (100, -1, 0, 0, 0), (100, 0, 0, 1.5, 0),
                                  (100, 0, True, 0, 0)])
def test_gauge_rejects_nonsense(args):
    with pytest.raises(ValueError):
        context_gauge(*args)


# --- energy -----------------------------------------------------------------------------------

def test_energy_is_off_unless_both_are_set():
    assert local_energy(1000, None, 0.3) is None
    assert local_energy(1000, 30, None) is None


def test_energy_arithmetic():
    e = local_energy(3_600_000, 1000, 0.30)  # one hour at 1 kW
    assert e.wh == Decimal(1000) and e.usd == Decimal("0.3")
    small = local_energy(420, 30, 0.25)  # a 420 ms turn on a 30 W laptop
    assert small.wh == Decimal("0.0035") and small.usd == Decimal("8.75E-7")
    assert small.to_json() == {"wh": 0.0035, "usd": 8.75e-07}
    assert local_energy(0, 30, 0.25).wh == 0


@pytest.mark.parametrize("args", [(-1, 30, 0.3), (10, -30, 0.3), (10, 30, float("nan")), (10, float("inf"), 0.3)])
def test_energy_rejects_nonsense(args):
    with pytest.raises(ValueError):
        local_energy(*args)


def test_chat_cost_counts_messages_as_hosted_apis_bill_them(table):
    messages = [{"role": "system", "content": "You are a careful math tutor."}, {"role": "user", "content": "2 + 2 = ?"}]
    cost = table.chat_cost(messages, ["4", "four"])
    o200k = encoding("o200k_base")
    n_in = sum(o200k.count(m["role"]) + o200k.count(m["content"]) + 3 for m in messages) + 3
    assert cost["gpt-4o"] == {"encoding": "o200k_base", "input_tokens": n_in, "output_tokens": 2,
                              "usd": usd_out(table.usd("gpt-4o", n_in, 2)), "exact": True}
    assert cost["claude-sonnet-4"]["exact"] is False
    assert table.chat_cost([], "")["gpt-4o"]["input_tokens"] == 3  # the reply priming alone
