"""TurnRequest and Turn: the JSON contract, and a test that cannot forget a request field.

`NON_DEFAULT` must name every field of TurnRequest (a new field fails the first test until it is
listed), and every listed value must survive the log and reach the re-run's Session.turn as it
was (a field without replay support fails the model test)."""

from __future__ import annotations

import dataclasses
import json
import sqlite3

import pytest

from sandbox.core.errors import SandboxError
from sandbox.core.memory import WindowSettings
from sandbox.core.sampling import SamplingParams
from sandbox.core.templates import Example
from sandbox.core.turn import Regenerates, Sample, Turn, TurnRequest, reconstructed_request, request_differences

YES_NO = 'root ::= "yes" | "no"\n'
SCHEMA = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}

# field -> the changes that make one turn with that field off its default (plus what it needs).
NON_DEFAULT: dict[str, dict] = {
    "text": {"text": "Name one planet."},
    "strategy": {"strategy": "cot"},
    "template": {"template": "math"},
    "samples": {"strategy": "self-consistency", "samples": 2},
    "system": {"system": "You answer in one word."},
    "examples": {"strategy": "few-shot", "examples": (Example("Is fire hot?", "yes"), Example("Is ice hot?", "no", enabled=False))},
    "cot_trigger": {"strategy": "cot", "cot_trigger": "Think in one short line."},
    "params": {"params": SamplingParams(temperature=0.4, top_p=0.9, top_k=20, min_p=0.1, repeat_penalty=1.2,
                                        max_tokens=5, seed=77)},
    "ignore_eos": {"ignore_eos": True},
    "memory": {"memory": WindowSettings(mode="turns", last_k=1, reserve_output=64)},
    "guards_off": {"guards_off": frozenset({"pii", "toxicity"})},
    "logprobs": {"logprobs": 2},
    "grammar": {"grammar": YES_NO},
    "json_schema": {"json_schema": SCHEMA},
    "constrain": {"constrain": True, "template": "yes-no", "grammar": YES_NO},
    "beams": {"beams": 2},
    "length_penalty": {"beams": 2, "length_penalty": 0.5},
    "history": {"history": False},
    "regenerates": {"regenerates": Regenerates("0123abcd", 5, "Mars.")},
}
BASE = TurnRequest(text="Is the sky blue?", params=SamplingParams(max_tokens=6, seed=3))


def test_every_request_field_has_a_non_default_value_here():
    names = [f.name for f in dataclasses.fields(TurnRequest)]
    assert sorted(NON_DEFAULT) == sorted(names), "list the new TurnRequest field in NON_DEFAULT (and replay it)"
    default = TurnRequest()
    for name, changes in NON_DEFAULT.items():
        assert changes[name] != getattr(default, name), name


def test_a_request_with_every_field_set_round_trips_through_json():
    everything = TurnRequest(**{name: changes[name] for name, changes in NON_DEFAULT.items()})
    notes: list[str] = []
    back = TurnRequest.from_dict(json.loads(json.dumps(everything.to_dict())), notes)
    assert back == everything and notes == []
    assert set(everything.to_dict()) == {f.name for f in dataclasses.fields(TurnRequest)}


def test_unknown_and_missing_fields_are_named_and_a_bad_value_is_an_error():
    d = BASE.to_dict()
    d["speculative_draft"] = "tiny"
    del d["length_penalty"]
    notes: list[str] = []
    r = TurnRequest.from_dict(d, notes)
    assert r.length_penalty == 1.0 and r.text == BASE.text
    assert any("speculative_draft" in n and "newer sandbox" in n for n in notes), notes
    assert any("no length_penalty field" in n and "older sandbox" in n for n in notes), notes
    with pytest.raises(SandboxError, match="beams"):
        TurnRequest.from_dict({**BASE.to_dict(), "beams": "three"})
    with pytest.raises(SandboxError, match="params"):
        TurnRequest.from_dict({**BASE.to_dict(), "params": None})


def test_request_differences_name_the_nested_field():
    a = BASE.to_dict()
    b = BASE.replace(params=BASE.params.with_(temperature=1.0)).to_dict()
    assert request_differences(a, b) == ["params.temperature"]
    assert request_differences(a, a) == []


def test_turn_to_dict_keeps_the_contract_keys_and_round_trips():
    t = Turn("s1", "t1", 0, "2026-01-01T00:00:00.000+00:00", "smollm2-135m", "zero-shot", prompt="hi", output="hello",
             samples=[Sample(1, "hello", None, 2, "stop")], params=SamplingParams(seed=1).to_dict(), seed=1,
             request=BASE)
    d = t.to_dict()
    for key in ("session_id", "turn_id", "model", "strategy", "template", "prompt", "rendered_prompt", "output", "answer",
                "samples", "votes", "params", "usage", "timings", "cost", "memory", "guard", "blocked", "finish_reason"):
        assert key in d, key
    assert "perplexity" not in d and "logprobs" not in d and "regenerated_from" not in d  # not asked for
    assert d["samples"] == [{"seed": 1, "output": "hello", "answer": None, "completion_tokens": 2, "finish_reason": "stop"}]
    assert d["request"] == BASE.to_dict()
    again = Turn.from_dict(json.loads(json.dumps({**d, "from_the_future": 1})))
    assert again.to_dict() == {**d, "from_the_future": 1}


def test_a_turn_logged_before_requests_were_stored_is_rebuilt_from_its_result():
    logged = {"idx": 2, "prompt": "And then?", "strategy": "self-consistency", "template": "math",
              "samples": [{"seed": 8}, {"seed": 9}, {"seed": 10}], "params": {"temperature": 0.9, "seed": 8},
              "memory": {"kept": [0, 1], "dropped": [], "settings": {"mode": "turns", "last_k": 3}},
              "guard": {"disabled": ["pii"]}, "ignore_eos": False}
    r = reconstructed_request(logged)
    assert (r.text, r.samples, r.params.seed, r.params.temperature) == ("And then?", 3, 8, 0.9)
    assert r.memory == WindowSettings(mode="turns", last_k=3) and r.guards_off == {"pii"} and r.history


# ---- through the log and the re-run, on the real model ---------------------------------------------------


@pytest.mark.model
def test_every_request_field_survives_the_log_and_reaches_the_rerun(sandbox_home, monkeypatch):
    from sandbox.core import replay
    from sandbox.core.events import TurnDone
    from sandbox.core.session import Session
    from sandbox.core.store import Store

    s = Session.open(n_ctx=1024)
    sent: dict[int, TurnRequest] = {}
    try:
        for name, changes in NON_DEFAULT.items():
            request = BASE.replace(**changes)
            for ev in s.turn(request):
                if isinstance(ev, TurnDone):
                    sent[ev.turn.idx] = (name, request)
    finally:
        s.close()
    with Store.open() as store:
        logged = store.turns(s.id)
    assert len(logged) == len(NON_DEFAULT)
    for t in logged:
        name, request = sent[t["idx"]]
        back = TurnRequest.from_dict(t["request"])
        assert getattr(back, name) == getattr(request, name), f"{name} did not survive the log"

    received: dict[int, TurnRequest] = {}
    real_turn = Session.turn

    def spy(self, request, cancel=None):
        received[self.next_idx] = request
        return real_turn(self, request, cancel=cancel)

    monkeypatch.setattr(Session, "turn", spy)
    result = replay.rerun(s.id).run()
    for t in logged:
        name, request = sent[t["idx"]]
        assert getattr(received[t["idx"]], name) == getattr(request, name), f"{name} did not reach the re-run"
        assert received[t["idx"]] == TurnRequest.from_dict(t["request"]), name
    assert all(r["request_differences"] == [] for r in result["turns"]), result["turns"]
    assert result["identical"], [replay.verdict_line(r) for r in result["turns"]]
    assert not any("older sandbox" in w or "newer sandbox" in w for w in result["warnings"]), result["warnings"]


@pytest.mark.model
def test_bad_logged_requests_are_named_not_tracebacks(sandbox_home):
    from sandbox.core import replay
    from sandbox.core.session import Session

    s = Session.open(n_ctx=1024)
    try:
        stateless = BASE.replace(history=False)  # so one turn's failure does not change what the next one sees
        for request in (stateless, stateless.replace(text="Yes or no?", grammar=YES_NO), stateless.replace(text="Old one.")):
            for _ in s.turn(request):
                pass
    finally:
        s.close()
    db = sandbox_home / "sandbox.db"

    def edit(idx, change):
        conn = sqlite3.connect(db)
        (raw,) = conn.execute("SELECT request_json FROM turns WHERE session_id = ? AND idx = ?", [s.id, idx]).fetchone()
        d = json.loads(raw)
        change(d)
        conn.execute("UPDATE turns SET request_json = ? WHERE session_id = ? AND idx = ?",
                     [json.dumps(d), s.id, idx])
        conn.commit()
        conn.close()

    edit(0, lambda d: d.update(speculative_draft="tiny"))  # a newer sandbox wrote it
    edit(0, lambda d: d.pop("length_penalty"))  # an older one did
    edit(1, lambda d: d.update(grammar="root ::= (("))  # no longer parses
    conn = sqlite3.connect(db)  # turn 2: logged before requests were stored
    conn.execute("UPDATE turns SET request_json = NULL WHERE session_id = ? AND idx = 2", [s.id])
    conn.commit()
    conn.close()

    result = replay.rerun(s.id).run()
    warnings = " | ".join(result["warnings"])
    assert "turn 0" in warnings and "speculative_draft" in warnings and "length_penalty" in warnings
    assert "turn 2 was logged before sandbox stored whole requests" in warnings
    assert not result["reproduction_expected"]  # a field it does not know was set
    bad = result["turns"][1]
    assert bad["verdict"] == "error" and bad["error"].startswith("turn 1 (its logged grammar)") and "grammar does not parse" in bad["error"]
    assert result["turns"][0]["identical"] and result["turns"][2]["identical"]

    edit(0, lambda d: d.update(beams="three"))
    with pytest.raises(SandboxError, match=r"turn 0: .*beams.*re-run stops before it starts"):
        replay.rerun(s.id).run()
