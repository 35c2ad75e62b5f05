"""PriceTable (exact decimals), context gauge and energy arithmetic."""

from __future__ import annotations

from decimal import Decimal

import pytest

from sandbox.core import config, paths
from sandbox.core.config import Price
from sandbox.core.tokens import PriceTable, TokenCounter, context_gauge, encoding, local_energy, usd_out


def price(model, inp, out, enc="o200k_base", approximate=False) -> Price:
    return Price(model, Decimal(inp), Decimal(out), enc, approximate, as_of="2026-10-01")


def has(entry: dict, expected: dict) -> bool:
    """The contract's keys are kept (the entry may have more: price_date, price_source, ...)."""
    return {k: entry.get(k) for k in expected} == expected


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
    assert has(total, {"encoding": "o200k_base", "input_tokens": 7000, "output_tokens": 3000, "usd": 0.00285, "exact": True})
    assert has(total, {"price_source": "override", "price_date": "2026-10-01", "cached_tokens": 0, "saved_usd": 0.0})
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
    assert has(cost["gpt-4o"], {"encoding": "o200k_base", "input_tokens": 8, "input_usd": 0.00002, "exact": True,
                                "price_source": "override", "price_date": "2026-10-01"})
    assert has(cost["gpt-3.5-turbo"], {"encoding": "cl100k_base", "input_tokens": 9, "input_usd": 0.000005, "exact": True})
    assert cost["claude-sonnet-4"]["exact"] is False  # approximate: Anthropic's tokenizer is not tiktoken
    assert list(cost) == list(table.prices)


def test_turn_cost_and_self_consistency_outputs(table):
    prompt, out = "2 + 2 = 4", "hello world"
    one = table.turn_cost(prompt, out)
    assert has(one["gpt-4o"], {"encoding": "o200k_base", "input_tokens": 7, "output_tokens": 2,
                               "usd": usd_out(table.usd("gpt-4o", 7, 2)), "exact": True})
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
    t = PriceTable.for_registry(registry, counter)
    assert t.counter is counter
    cost = t.prompt_cost("x" * 10)
    assert list(cost) == [h.model for h in registry.hosted] and not t.unpriced
    assert all(c["exact"] == (c["provider"] == "openai") for c in cost.values())  # only OpenAI's encodings are exact
    assert {c["price_source"] for c in cost.values()} == {"genai-prices"}


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
    assert has(cost["gpt-4o"], {"encoding": "o200k_base", "input_tokens": n_in, "output_tokens": 2,
                                "usd": usd_out(table.usd("gpt-4o", n_in, 2)), "exact": True})
    assert cost["claude-sonnet-4"]["exact"] is False
    assert table.chat_cost([], "")["gpt-4o"]["input_tokens"] == 3  # the reply priming alone


# --- genai-prices' snapshot ---------------------------------------------------------------------

from datetime import date, datetime, timezone  # noqa: E402

from sandbox.core.config import HostedModel  # noqa: E402
from sandbox.core.tokens import CacheReuse, PriceSnapshot  # noqa: E402
from sandbox.core.tokens.prices import CACHE_BLOCK, CACHE_MIN_TOKENS  # noqa: E402

WHEN = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)  # prices change on dates: fix the moment
SHOWN = ["gpt-6-luna", "claude-sonnet-5", "gemini-4-argon", "gpt-3.5-turbo"]


@pytest.fixture(scope="module")
def snap_table() -> PriceTable:
    return PriceTable(hosted=[HostedModel(m) for m in SHOWN], when=WHEN)


def genai_calc(model: str, provider: str, n_in: int, n_out: int, cached: int = 0, when=WHEN) -> Decimal:
    """The expected amount, straight from genai-prices' own calc API."""
    from genai_prices import Usage, calc_price

    return calc_price(Usage(input_tokens=n_in, cache_read_tokens=cached, output_tokens=n_out), model,
                      provider_id=provider, genai_request_timestamp=when).total_price


@pytest.mark.parametrize("model,provider", [("gpt-6-luna", "openai"), ("claude-sonnet-5", "anthropic"),
                                            ("gemini-4-argon", "google"), ("gpt-3.5-turbo", "openai")])
@pytest.mark.parametrize("n_in,n_out", [(123_456, 7_890), (1_500_000, 250_000)])
def test_snapshot_prices_match_genai_prices_to_the_cent(snap_table, model, provider, n_in, n_out):
    expected = genai_calc(model, provider, n_in, n_out)
    got = snap_table.usd(model, n_in, n_out)
    assert got == expected  # exactly, not only to the cent
    assert round(Decimal(usd_out(got)), 2) == round(expected, 2)
    assert snap_table.prices[model].provider == provider and snap_table.prices[model].source == "genai-prices"


def test_snapshot_prices_checked_by_hand(snap_table):
    # genai-prices 0.2.3, prices in force on 2026-12-01, USD per million tokens:
    # gpt-6-luna $0.10 in / $0.50 out; claude-sonnet-5 $2 / $10; gemini-4-argon $4 / $20 from 2026-12-01 ($2 / $10 before)
    assert snap_table.usd("gpt-6-luna", 200_000, 50_000) == Decimal("0.045")  # 0.02 + 0.025
    assert snap_table.usd("claude-sonnet-5", 200_000, 50_000) == Decimal("0.9")  # 0.40 + 0.50
    assert snap_table.usd("gemini-4-argon", 100_000, 10_000) == Decimal("0.6")  # 0.40 + 0.20
    before = PriceTable(hosted=[HostedModel("gemini-4-argon")], when=datetime(2026, 11, 30, tzinfo=timezone.utc))
    assert before.usd("gemini-4-argon", 100_000, 10_000) == Decimal("0.3")  # the introductory rate
    # a prompt over 272K tokens bills the whole request at 2x input, 1.5x output
    assert snap_table.usd("gpt-6-luna", 300_000, 10_000) == Decimal("0.0675")  # 300K x 0.20 + 10K x 0.75


def test_an_override_wins_over_the_snapshot():
    negotiated = Price("gpt-6-luna", Decimal("0.05"), Decimal("0.25"), "o200k_base", cache_read_per_mtok=Decimal("0.005"),
                       as_of="2026-11-20")
    t = PriceTable({"gpt-6-luna": negotiated}, hosted=[HostedModel("gpt-6-luna"), HostedModel("claude-sonnet-5")],
                   when=WHEN)
    assert list(t.prices) == ["gpt-6-luna", "claude-sonnet-5"]  # in models.toml's order
    assert t.usd("gpt-6-luna", 200_000, 50_000) == Decimal("0.0225")  # 0.01 + 0.0125
    assert t.usd("gpt-6-luna", 200_000, 0, cached_tokens=100_000) == Decimal("0.0055")  # 0.005 + 0.0005
    cost = t.prompt_cost("hello world")
    assert has(cost["gpt-6-luna"], {"price_source": "override", "price_date": "2026-11-20"})
    assert has(cost["claude-sonnet-5"], {"price_source": "genai-prices", "price_date": t.snapshot.date})
    assert t.sources() == [(f"genai-prices {t.snapshot.version}", t.snapshot.date), ("override gpt-6-luna", "2026-11-20")]


def test_a_model_missing_from_the_snapshot_is_reported_not_priced_at_zero():
    t = PriceTable(hosted=[HostedModel("gpt-9-ultra"), HostedModel("foo-model"), HostedModel("gpt-6-luna")], when=WHEN)
    assert list(t.prices) == ["gpt-6-luna"]
    assert set(t.unpriced) == {"gpt-9-ultra", "foo-model"}
    assert "not in the genai-prices" in t.unpriced["gpt-9-ultra"] and "[pricing.\"gpt-9-ultra\"]" in t.unpriced["gpt-9-ultra"]
    for cost in (t.prompt_cost("hi"), t.turn_cost("hi", "there"), t.chat_cost([{"role": "user", "content": "hi"}], "x")):
        assert list(cost) == ["gpt-6-luna"]  # no zero-priced entry for a model nobody prices
    with pytest.raises(KeyError):
        t.usd("gpt-9-ultra", 10)
    assert PriceTable(hosted=[HostedModel("gpt-6-luna", provider="nope")]).unpriced["gpt-6-luna"].endswith(
        "or give it a [pricing.\"gpt-6-luna\"] table in models.toml")


def long_chat(turns: int) -> list[dict]:
    msgs = [{"role": "system", "content": "You are a careful assistant. " * 400}]  # ~2,400 tokens: cacheable
    for i in range(turns):
        msgs += [{"role": "user", "content": f"question {i}"}, {"role": "assistant", "content": f"answer {i}"}]
    return msgs + [{"role": "user", "content": "and now?"}]


def test_cache_read_pricing_of_a_second_turn(snap_table):
    first = snap_table.chat_cost(long_chat(0), "a reply")
    assert all(c["cached_tokens"] == 0 and c["saved_usd"] == 0 for c in first.values())
    # the local run reused 2,500 of its 2,600 prompt tokens from the KV cache on the follow-up turn
    reuse = CacheReuse(cached_tokens=2_500, prompt_tokens=2_600, previous=first)
    second = snap_table.chat_cost(long_chat(1), "another reply", reuse)
    luna = second["gpt-6-luna"]
    n_in, n_out = luna["input_tokens"], luna["output_tokens"]
    share = n_in * 2_500 // 2_600
    expected_cached = min(share, first["gpt-6-luna"]["input_tokens"]) // CACHE_BLOCK * CACHE_BLOCK
    assert luna["cached_tokens"] == expected_cached >= CACHE_MIN_TOKENS
    assert luna["usd"] == usd_out(genai_calc("gpt-6-luna", "openai", n_in, n_out, expected_cached))
    assert luna["saved_usd"] == usd_out(genai_calc("gpt-6-luna", "openai", n_in, n_out)
                                        - genai_calc("gpt-6-luna", "openai", n_in, n_out, expected_cached))
    assert luna["saved_usd"] > 0
    assert second["gpt-3.5-turbo"]["cached_tokens"] == 0  # no cache-read price: every input token at the input rate
    total = snap_table.total([first, second])["gpt-6-luna"]
    assert total["cached_tokens"] == expected_cached and total["saved_usd"] == luna["saved_usd"]
    assert total["usd"] == usd_out(genai_calc("gpt-6-luna", "openai", first["gpt-6-luna"]["input_tokens"],
                                              first["gpt-6-luna"]["output_tokens"])
                                   + genai_calc("gpt-6-luna", "openai", n_in, n_out, expected_cached))


def test_the_cache_rule_at_its_edges():
    assert CacheReuse(0, 100).hosted("m", 5_000) == 0  # nothing reused locally
    assert CacheReuse(1_000, 1_000).hosted("m", 1_100) == 1_024  # all of it, in 128-token blocks
    assert CacheReuse(900, 1_000).hosted("m", 1_100) == 0  # 990 is under the providers' 1,024-token minimum
    assert CacheReuse(1_000, 1_000, {"m": {"input_tokens": 1_500}}).hosted("m", 4_000) == 1_408  # the previous prompt caps it
    assert CacheReuse(5_000, 1_000).hosted("m", 2_000) == 1_920  # never more than the prompt


def test_session_totals_are_priced_per_request_not_from_the_sums(snap_table):
    turn = {"gpt-6-luna": {"input_tokens": 200_000, "output_tokens": 0, "cached_tokens": 0}}
    total = snap_table.total([turn, turn])["gpt-6-luna"]
    assert total["input_tokens"] == 400_000  # over the 272K tier as a sum, but no single request is
    assert total["usd"] == 0.04  # 2 x 200K x $0.10, not 400K x $0.20


def test_prices_are_read_offline_from_the_packaged_snapshot(monkeypatch):
    import socket
    import threading

    from genai_prices import data_snapshot

    def no_network(*a, **kw):
        raise AssertionError("sandbox tried to reach the network")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    # another library in the process may install a downloaded snapshot: sandbox still reads the packaged one
    monkeypatch.setattr(data_snapshot, "_custom_snapshot", data_snapshot.DataSnapshot(providers=[], from_auto_update=True))
    t = PriceTable(hosted=[HostedModel("gpt-6-luna")], snapshot=PriceSnapshot(), when=WHEN)
    assert t.usd("gpt-6-luna", 200_000, 50_000) == Decimal("0.045")
    assert len(t.listing("luna")) > 1
    assert not any(th.name.startswith("genai_prices") for th in threading.enumerate())  # no UpdatePrices task


def test_the_snapshot_is_dated_by_its_own_notes():
    from genai_prices.types import ModelInfo, ModelPrice, Provider

    snap = PriceSnapshot.packaged()
    assert date.fromisoformat(snap.date) >= date(2026, 11, 1)  # genai-prices 0.2.3: 2026-11-04
    m = ModelInfo(id="m", match=None, price_comments="Launched 2026-03-01; rates verified on 2026-05-02. From 2027-01-01 "
                                                     "the price doubles; introductory rates through 2026-12-31.",
                  prices=ModelPrice(input_mtok=Decimal(1)))
    dated = PriceSnapshot([Provider(id="p", name="P", api_pattern="", models=[m])])
    assert dated.date == "2026-05-02"  # scheduled changes do not make it look fresher
    assert dated.age_days(date(2026, 8, 2)) == 92 and not dated.stale(date(2026, 8, 2))
    assert dated.stale(date(2026, 8, 3))
    old = PriceTable(hosted=[HostedModel("m")], snapshot=dated)
    assert old.unpriced  # a ModelInfo that matches nothing: reported, not priced
    t = PriceTable(hosted=[HostedModel("gpt-6-luna")], snapshot=PriceSnapshot(snapshot_date="2026-01-15"))
    notice = t.stale_notice(date(2026, 12, 1))
    assert "2026-01-15" in notice and "pip install -U genai-prices" in notice
    assert t.stale_notice(date(2026, 2, 1)) is None
    assert PriceTable({"x": price("x", "1", "1")}).stale_notice(date(2030, 1, 1)) is None  # overrides only: no snapshot
