"""The cost worker: a real child process prices a turn exactly as this process would, and any
failure of it leaves the pricing to this process."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from sandbox.core import config
from sandbox.core.tokens import CacheReuse, PriceTable
from sandbox.core.tokens.cost_worker import CostWorker
from tests.conftest import run_cli

WHEN = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)
UNICODE = "héllo 日本語 🙂 \u200b tabs\tand\nnewlines"


def long_chat(turns: int) -> list[dict]:
    msgs = [{"role": "system", "content": "You are a careful assistant. " * 400}]  # cacheable on a hosted API
    for i in range(turns):
        msgs += [{"role": "user", "content": f"question {i}"}, {"role": "assistant", "content": f"answer {i}"}]
    return msgs + [{"role": "user", "content": "and now?"}]


@pytest.fixture
def worker():
    w = CostWorker.start()
    assert w is not None
    yield w
    w.close()


def test_the_worker_prices_turns_exactly_as_this_process_does(worker):
    table = PriceTable.for_registry(config.load(None), when=WHEN)
    first_msgs = long_chat(0)
    first = table.chat_cost(first_msgs, "a reply")
    assert worker.chat_cost(first_msgs, ["a reply"], None, WHEN) == first
    reuse = CacheReuse(cached_tokens=2_500, prompt_tokens=2_600, previous=first)
    second = table.chat_cost(long_chat(1), "another reply", reuse)
    assert any(c["cached_tokens"] for c in second.values())  # the cache-read share crossed the pipe
    assert worker.chat_cost(long_chat(1), ["another reply"], reuse, WHEN) == second
    samples = ["4", "four", UNICODE]  # self-consistency: several outputs, one request
    msgs = [{"role": "user", "content": UNICODE}]
    assert worker.chat_cost(msgs, samples, None, WHEN) == table.chat_cost(msgs, samples)


def test_a_models_file_override_reaches_the_worker(tmp_path):
    models = tmp_path / "models.toml"
    models.write_text('[models.mine]\nsource = "bundled"\n[pricing."in-house"]\ninput_per_mtok = 0.5\noutput_per_mtok = 1.5\nas_of = 2026-10-01\n')
    w = CostWorker.start(str(models))
    try:
        cost = w.chat_cost([{"role": "user", "content": "hi"}], ["there"], None, WHEN)
    finally:
        w.close()
    assert cost["in-house"]["price_source"] == "override"
    assert cost == PriceTable.for_registry(config.load(models), when=WHEN).chat_cost(
        [{"role": "user", "content": "hi"}], "there")


def test_a_worker_that_cannot_price_answers_none(tmp_path, worker):
    broken = CostWorker.start(str(tmp_path / "missing.toml"))  # config.load fails in the child
    try:
        assert broken.chat_cost([{"role": "user", "content": "hi"}], ["x"]) is None
    finally:
        broken.close()
    worker.close()  # its input closed: it exits, and a request after that is not sent
    assert worker.chat_cost([{"role": "user", "content": "hi"}], ["x"]) is None


def test_a_session_prices_in_process_when_its_worker_fails():
    from tests.test_engine_contract import ScriptedEngine, session_on

    from sandbox.core.events import TurnDone
    from sandbox.core.turn import TurnRequest

    class Failing:
        calls = 0

        def chat_cost(self, *a):
            Failing.calls += 1
            return None

        def close(self):
            pass

    session = session_on(ScriptedEngine(["Hello there", "Again"]))
    session.prices = PriceTable.for_registry(config.load(None))  # the shipped cost columns
    session.cost_worker = Failing()
    turn = [e for e in session.turn(TurnRequest(text="hi")) if isinstance(e, TurnDone)][0].turn
    assert Failing.calls == 1 and session.cost_worker is None  # asked once, then left out for the session
    assert turn.cost and set(turn.cost) == set(session.prices.prices)
    assert all(c["output_tokens"] > 0 for c in turn.cost.values())


def test_sandbox_run_logs_the_cost_this_process_would_compute():
    r = run_cli("run", "Name a colour.", "--json", "--max-tokens", "8", "--seed", "1")
    assert r.returncode == 0, r.stderr
    turn = json.loads(r.stdout)
    messages = ([{"role": "system", "content": turn["system"]}] if turn["system"] else []) + [
        {"role": "user", "content": turn["prompt"]}]
    expected = PriceTable.for_registry(config.load(None)).chat_cost(messages, turn["output"])
    assert turn["cost"] == expected and expected
