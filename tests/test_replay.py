"""Replay and re-run against the real bundled model and a real SQLite log.

One 3-turn session is made once per module (fixed seeds, temperature 0.8) and its database copied
into each test's own SANDBOX_HOME."""

from __future__ import annotations

import json
import shutil
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from conftest import run_cli

pytestmark = pytest.mark.model

TEXTS = ["Name a fruit.", "What colour is it?", "Say that in French."]
MAX_TOKENS = 12
N_CTX = 1024


def make_session(texts=TEXTS, *, first_ignores_eos: bool = True) -> str:
    """A logged session made through Session, as the CLI and the TUI make them."""
    from sandbox.core.session import Session
    from sandbox.core.turn import TurnRequest

    s = Session.open(n_ctx=N_CTX)
    try:
        for i, text in enumerate(texts):
            params = s.defaults.with_(temperature=0.8, seed=100 + i, max_tokens=MAX_TOKENS)
            for _ in s.turn(TurnRequest(text=text, params=params, ignore_eos=first_ignores_eos and i == 0)):
                pass
    finally:
        s.close()
    return s.id


@pytest.fixture(scope="module")
def logged(tmp_path_factory):
    """(session id, path of a database holding it), made once."""
    home = tmp_path_factory.mktemp("replay-origin")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SANDBOX_HOME", str(home))
        mp.setenv("HF_HUB_OFFLINE", "1")
        mp.delenv("SANDBOX_MODELS", raising=False)
        sid = make_session()
    return sid, home / "sandbox.db"


@pytest.fixture
def sid(logged, sandbox_home):
    """The logged session, in this test's own log."""
    session_id, db = logged
    sandbox_home.mkdir(parents=True, exist_ok=True)
    shutil.copy(db, sandbox_home / "sandbox.db")
    return session_id


def db_rows(home, sql, params=()):
    conn = sqlite3.connect(home / "sandbox.db")
    conn.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in conn.execute(sql, params)]
    finally:
        conn.close()


# ---- replay: as logged, no model -------------------------------------------------------------------


def test_load_steps_through_the_turns_as_logged(sid):
    from sandbox.core import replay
    from sandbox.core.store import Store

    r = replay.load(sid[:8])
    with Store.open(readonly=True) as store:
        turns = store.turns(sid)
    assert r.session_id == sid and [t.idx for t in r.turns] == [0, 1, 2]
    assert r.current.idx == 0 and r.prev().idx == 0
    assert r.next().idx == 1 and r.next().idx == 2 and r.next().idx == 2
    assert r.prev().idx == 1
    last = r.turns[2]
    assert last.data == turns[2]  # exactly what was logged
    assert last.kept == [0, 1] and last.dropped == []
    assert last.seed == 102 and last.params["temperature"] == 0.8
    assert last.usage["cached_tokens"] > 0 and last.timings["total_ms"] > 0 and last.cost
    sections = dict(last.sections())
    assert sections["Rendered prompt"] == turns[2]["rendered_prompt"]
    assert TEXTS[0] in sections["Rendered prompt"] and turns[0]["output"] in sections["Rendered prompt"]
    assert "#0, #1" in sections["Memory window"]
    assert "seed 102" in sections["Params"] and "temperature 0.8" in sections["Params"]
    assert sections["Output"].startswith(turns[2]["output"] or "(empty)")
    assert "no findings" in sections["Guard"] and "completion" in sections["Tokens, timings, cost"]


def test_replay_cli_prints_every_turn_and_json_is_the_logged_turns(sid):
    from sandbox.core.store import Store

    with Store.open(readonly=True) as store:
        turns = store.turns(sid)
    out = run_cli("replay", sid)
    assert out.returncode == 0, out.stderr
    for t in turns:
        assert t["rendered_prompt"] in out.stdout
        assert f"seed {t['seed']}" in out.stdout
    assert out.stdout.count("── Rendered prompt") == 3
    js = run_cli("replay", sid[:6], "--json")
    assert js.returncode == 0, js.stderr
    doc = json.loads(js.stdout)
    assert doc["session"]["session_id"] == sid and doc["turns"] == turns


def test_unknown_id_is_one_line_and_exit_2(sid):
    for args in (["replay", "nosuchsession"], ["replay", "nosuchsession", "--rerun", "--json"]):
        out = run_cli(*args)
        assert out.returncode == 2
        assert out.stdout == ""
        assert out.stderr.count("\n") == 1 and "no session with id 'nosuchsession'" in out.stderr


def test_unknown_id_with_no_log_yet(sandbox_home):
    out = run_cli("replay", "abcd1234")
    assert out.returncode == 2 and out.stderr.count("\n") == 1 and "log is empty" in out.stderr


# ---- re-run ------------------------------------------------------------------------------------------


def test_rerun_of_an_unchanged_session_is_identical_turn_by_turn(sid, sandbox_home):
    from sandbox.core import replay
    from sandbox.core.store import Store

    run = replay.rerun(sid)
    events = list(run)
    assert isinstance(events[0], replay.RerunStarted) and events[0].warnings == []
    assert isinstance(events[-1], replay.RerunDone)
    result = run.result
    assert result["warnings"] == [] and result["reproduction_expected"] is True
    assert result["identical"] is True, [t["diff"] for t in result["turns"]]
    assert [t["idx"] for t in result["turns"]] == [0, 1, 2]
    for t in result["turns"]:
        assert t["identical"] is True and t["diff"] is None and t["verdict"] == "reproduced"
        assert t["prompt_identical"] is True and t["answer_changed"] is False
    with Store.open(readonly=True) as store:
        new = store.session(result["rerun_session_id"])
        before, after = store.turns(sid), store.turns(new["session_id"])
    assert new["parent_id"] == sid and new["n_ctx"] == N_CTX
    assert [t["idx"] for t in after] == [0, 1, 2]
    for b, a in zip(before, after):
        assert (a["seed"], a["params"], a["ignore_eos"], a["output"], a["rendered_prompt"]) == \
               (b["seed"], b["params"], b["ignore_eos"], b["output"], b["rendered_prompt"])
        assert a["memory"]["kept"] == b["memory"]["kept"]


def test_rerun_with_another_temperature_reports_diffs(sid):
    from sandbox.core import replay
    from sandbox.core.store import Store

    result = replay.rerun(sid, overrides={"temperature": 1.6, "top_k": 0, "min_p": 0.0}).run()
    assert result["reproduction_expected"] is False and result["overrides"]["temperature"] == 1.6
    assert result["identical"] is False
    changed = [t for t in result["turns"] if not t["identical"]]
    assert changed and all(t["verdict"] == "changed" for t in changed)
    assert all(t["diff"].startswith("--- ") and "\n+++ " in t["diff"] for t in changed)
    with Store.open(readonly=True) as store:
        assert store.session(result["rerun_session_id"])["parent_id"] == sid
        assert all(t["params"]["temperature"] == 1.6 and t["seed"] == 100 + t["idx"]
                   for t in store.turns(result["rerun_session_id"]))


def tamper_sha(home, sid):
    conn = sqlite3.connect(home / "sandbox.db")
    with conn:
        conn.execute("UPDATE sessions SET model_sha256 = ? WHERE id = ?", ["0" * 64, sid])
    conn.close()


def test_a_different_model_file_is_said_up_front(sid, sandbox_home):
    from sandbox.core import replay

    tamper_sha(sandbox_home, sid)
    events = iter(replay.rerun(sid))
    first = next(events)
    events.close()  # nothing loaded, nothing logged
    assert isinstance(first, replay.RerunStarted)
    assert first.reproduction_expected is False
    assert len(first.warnings) == 1 and "is not the file the session was logged with" in first.warnings[0]
    assert db_rows(sandbox_home, "SELECT count(*) AS n FROM sessions")[0]["n"] == 1


def test_rerun_json_through_the_entry_point_warns_first(sid, sandbox_home):
    tamper_sha(sandbox_home, sid)
    out = run_cli("replay", sid, "--rerun", "--json", "--max-tokens", "8")
    assert out.returncode == 0, out.stderr
    assert out.stderr.splitlines()[0].startswith("sandbox: warning: the model file ")
    doc = json.loads(out.stdout)  # one JSON document, nothing else
    assert doc["session_id"] == sid and doc["rerun_session_id"] and doc["rerun_session_id"] != sid
    assert isinstance(doc["identical"], bool) and doc["warnings"] and doc["reproduction_expected"] is False
    assert [t["idx"] for t in doc["turns"]] == [0, 1, 2]
    for t in doc["turns"]:
        assert isinstance(t["identical"], bool) and (t["diff"] is None or t["diff"].startswith("--- "))
        assert {"answer_before", "answer_after", "answer_changed"} <= set(t)
    row = db_rows(sandbox_home, "SELECT parent_id FROM sessions WHERE id = ?", [doc["rerun_session_id"]])
    assert row == [{"parent_id": sid}]


def test_rerun_cli_prints_verdicts_and_exit_0_when_reproduced(sid):
    out = run_cli("replay", sid[:8], "--rerun")
    assert out.returncode == 0, out.stderr
    assert "exact reproduction expected" in out.stderr.splitlines()[0]
    assert out.stdout.splitlines()[:3] == ["turn 0: reproduced", "turn 1: reproduced", "turn 2: reproduced"]
    assert out.stdout.splitlines()[-1].startswith("reproduced exactly: 3 of 3 turns identical")


def test_a_mismatch_is_reported_as_not_reproduced(sid, sandbox_home):
    """Change a logged output behind the log's back: the re-run must say it did not reproduce it."""
    conn = sqlite3.connect(sandbox_home / "sandbox.db")
    with conn:
        conn.execute("UPDATE turns SET output = output || ' (edited)' WHERE session_id = ? AND idx = 2", [sid])
        conn.execute("UPDATE samples SET output = output || ' (edited)' WHERE turn_id = "
                     "(SELECT id FROM turns WHERE session_id = ? AND idx = 2)", [sid])
    conn.close()
    out = run_cli("replay", sid, "--rerun")
    assert out.returncode == 1, out.stderr
    lines = out.stdout.splitlines()
    assert lines[:2] == ["turn 0: reproduced", "turn 1: reproduced"]
    assert lines[2] == "turn 2: not reproduced (output, samples differ)" or lines[2] == "turn 2: not reproduced (output differs)"
    assert "(edited)" in out.stdout  # the diff shows the logged text against the regenerated one
    assert lines[-1].startswith("NOT reproduced: 2 of 3 turns identical")


def test_cancelled_turns_are_skipped_and_said(sid, sandbox_home):
    from sandbox.core import replay

    conn = sqlite3.connect(sandbox_home / "sandbox.db")
    with conn:
        conn.execute("UPDATE turns SET finish_reason = 'cancelled' WHERE session_id = ? AND idx = 2", [sid])
    conn.close()
    events = []
    run = replay.rerun(sid, overrides={"max_tokens": 4})
    for ev in run:
        events.append(ev)
    skipped = [e for e in events if isinstance(e, replay.TurnSkipped)]
    assert [e.idx for e in skipped] == [2] and "cancelled" in skipped[0].reason
    assert [t["idx"] for t in run.result["turns"]] == [0, 1]
    assert run.result["skipped"][0]["idx"] == 2


def test_bad_overrides_are_one_clear_error(sid):
    out = run_cli("replay", sid, "--rerun", "--temperature", "9")
    assert out.returncode == 2 and out.stderr.count("\n") == 1 and "temperature" in out.stderr
    out = run_cli("replay", sid, "--temperature", "0.5")
    assert out.returncode == 2 and "--rerun" in out.stderr


def test_ctrl_c_stops_the_rerun_and_logs_the_partial_turn_as_cancelled(sid, sandbox_home):
    import os

    # Turn 0 was logged with ignore_eos, so a large --max-tokens keeps it generating until Ctrl+C.
    proc = subprocess.Popen([sys.executable, "-m", "sandbox", "replay", sid, "--rerun", "--json", "--max-tokens", "900"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=os.environ.copy())
    seen = ""
    deadline = time.monotonic() + 120
    while "turn 0 …." not in seen:  # a dot per 16 tokens: generation is under way
        assert time.monotonic() < deadline and proc.poll() is None, seen
        seen += proc.stderr.read(1)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    doc = json.loads(stdout)
    assert doc["cancelled"] is True and doc["identical"] is False
    assert [t["idx"] for t in doc["turns"]] == [0] and doc["turns"][0]["verdict"] == "cancelled"
    rows = db_rows(sandbox_home, "SELECT idx, finish_reason, completion_tokens FROM turns WHERE session_id = ?",
                   [doc["rerun_session_id"]])
    assert len(rows) == 1 and rows[0]["finish_reason"] == "cancelled" and 0 < rows[0]["completion_tokens"] < 900


# ---- resume ------------------------------------------------------------------------------------------


def test_run_session_resumes_idx_and_the_model_sees_earlier_turns(sandbox_home):
    common = ["--json", "--max-tokens", "8", "--n-ctx", str(N_CTX), "--seed", "5"]
    first = run_cli("run", "My name is Zorblax the Third.", *common)
    assert first.returncode == 0, first.stderr
    sid = json.loads(first.stdout)["session_id"]
    second = run_cli("run", "What is my name?", "--session", sid[:10], *common)
    assert second.returncode == 0, second.stderr
    turn = json.loads(second.stdout)
    assert turn["session_id"] == sid and turn["idx"] == 1
    assert "My name is Zorblax the Third." in turn["rendered_prompt"]
    assert turn["memory"]["kept"] == [0]
    rows = db_rows(sandbox_home, "SELECT idx FROM turns WHERE session_id = ? ORDER BY idx", [sid])
    assert [r["idx"] for r in rows] == [0, 1]
