"""Replay without the model: the Sessions list (search, filters, cost), the step-through view of a
logged turn, the per-turn comparison and override checks. Sessions are written through the Store."""

from __future__ import annotations

import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from sandbox.core import replay
from sandbox.core.errors import SandboxError
from sandbox.core.store import Store

sys.path.insert(0, str(Path(__file__).parent / "fixtures"))
from sample_turns import make_turn  # noqa: E402


def iso(days_ago: float) -> str:
    return (datetime.now(timezone.utc) - timedelta(days=days_ago)).isoformat(timespec="milliseconds")


def add_session(store, sid, *, model="smollm2-135m", days_ago=0.0, turns=2, parent_id=None, **turn_overrides):
    created = iso(days_ago)
    store.create_session(sid, model=model, model_sha256="ab" * 32, settings={"n_ctx": 2048}, created_at=created,
                         parent_id=parent_id)
    for i in range(turns):
        store.log_turn(make_turn(sid, i, **{"created_at": created, **turn_overrides}))


@pytest.fixture
def log(sandbox_home):
    with Store.open() as store:
        add_session(store, "old-math-session", days_ago=40)
        add_session(store, "week-few-shot", days_ago=3, strategy="few-shot", prompt="I loved the film")
        add_session(store, "today-other-model", model="tinyllama", turns=1, strategy="zero-shot",
                    prompt="Tell me about otters", cost={"gpt-4o": {"input_tokens": 1000, "output_tokens": 0, "usd": 0.0025},
                                                         "gpt-4o-mini": {"input_tokens": 1000, "output_tokens": 0, "usd": 0.00015}})
        add_session(store, "rerun-of-old", turns=1, parent_id="old-math-session", days_ago=0.01)
    return sandbox_home


def ids(rows):
    return [r["session_id"] for r in rows]


def test_list_is_newest_first_with_turns_strategies_and_cost(log):
    rows = replay.list_sessions()
    assert ids(rows) == ["today-other-model", "rerun-of-old", "week-few-shot", "old-math-session"]
    by_id = {r["session_id"]: r for r in rows}
    old = by_id["old-math-session"]
    assert old["turns"] == 2 and old["strategies"] == ["self-consistency"] and old["model"] == "smollm2-135m"
    assert old["cost_model"] == "gpt-4o" and old["cost_usd"] == pytest.approx(0.00137)  # 2 x 0.000685, as logged
    assert by_id["today-other-model"]["cost_model"] == "gpt-4o" and by_id["today-other-model"]["cost_usd"] == 0.0025
    assert by_id["rerun-of-old"]["parent_id"] == "old-math-session" and old["parent_id"] is None


def test_filters_and_search(log):
    assert ids(replay.list_sessions(model="tinyllama")) == ["today-other-model"]
    assert ids(replay.list_sessions(strategy="few-shot")) == ["week-few-shot"]
    assert ids(replay.list_sessions(since="7 days")) == ["today-other-model", "rerun-of-old", "week-few-shot"]
    assert "old-math-session" in ids(replay.list_sessions(since=iso(60)[:10]))
    assert ids(replay.list_sessions(search="otters")) == ["today-other-model"]
    assert ids(replay.list_sessions(search="loved film")) == ["week-few-shot"]
    assert ids(replay.list_sessions(search="otters", model="smollm2-135m")) == []
    assert len(replay.list_sessions(limit=2)) == 2
    with pytest.raises(SandboxError, match="not a date"):
        replay.list_sessions(since="last tuesday")


def test_list_with_no_log_yet_is_empty(sandbox_home):
    assert replay.list_sessions() == []
    with pytest.raises(SandboxError, match="log is empty"):
        replay.load("abcd")


def test_session_stats_reads_only_what_the_list_needs(log):
    with Store.open(readonly=True) as store:
        stats = store.session_stats(["week-few-shot", "rerun-of-old", "no-such"])
    assert set(stats) == {"week-few-shot", "rerun-of-old"}
    assert stats["week-few-shot"]["strategies"] == ["few-shot"] and len(stats["week-few-shot"]["costs"]) == 2
    assert stats["rerun-of-old"]["parent_id"] == "old-math-session"


def test_a_self_consistency_turn_shows_samples_votes_and_guard(log):
    r = replay.load("old-math")
    assert r.session_id == "old-math-session" and len(r.turns) == 2
    turn = r.current
    sections = dict(turn.sections())
    assert list(sections)[:5] == ["Prompt", "Rendered prompt", "Memory window", "Params", "Output"]
    assert sections["Prompt"].startswith("[system] You are a careful math tutor.")
    assert "seed 8" in sections["Samples and votes"] and "votes:" in sections["Samples and votes"]
    assert "seed 7 (samples: 8, 9)" in sections["Params"]
    assert "input: redact pii (pii.email" in sections["Guard"]
    assert "gpt-4o $0.000685" in sections["Tokens, timings, cost"]
    assert "answer: 3" in sections["Output"]


def test_compare_says_what_differs():
    before = make_turn("a", 0)
    same = replay.compare(before, dict(before), orig_id="aaaa", rerun_id="bbbb")
    assert same["identical"] and same["diff"] is None and same["verdict"] == "reproduced"
    changed = dict(before, output="Something else.\nOn two lines.", answer="9")
    r = replay.compare(before, changed, orig_id="aaaa", rerun_id="bbbb")
    assert not r["identical"] and r["verdict"] == "not reproduced"
    assert r["differences"] == ["output", "answer"] and r["answer_changed"]
    assert (r["answer_before"], r["answer_after"]) == ("3", "9")
    assert r["diff"].startswith("--- aaaa turn 0 (logged)\n+++ bbbb turn 0 (re-run)\n@@")
    assert "\n+On two lines.\n" in r["diff"]
    assert replay.compare(before, changed, expected=False)["verdict"] == "changed"
    failed = replay.compare(before, None, error="few-shot needs examples")
    assert failed["verdict"] == "error" and not failed["identical"]
    assert "few-shot needs examples" in replay.verdict_line(failed)


def test_bad_overrides_are_refused_before_anything_runs():
    with pytest.raises(SandboxError, match="cannot override"):
        replay.check_overrides({"colour": "blue"})
    with pytest.raises(SandboxError, match="strategy"):
        replay.check_overrides({"strategy": "tree-of-thought"})
    with pytest.raises(SandboxError, match="temperature"):
        replay.check_overrides({"temperature": -1})
    assert replay.check_overrides({"temperature": 1.2, "seed": None}) == {"temperature": 1.2}
