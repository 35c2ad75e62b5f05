"""`sandbox log ...` through the real entry point (`python -m sandbox`), on a real database."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from sandbox.core.store import Store

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).parent / "fixtures"))
from sample_turns import make_turn  # noqa: E402

SID = "c0ffee00112233445566"


def sandbox(home: Path, *args: str, input: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "SANDBOX_HOME": str(home), "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "sandbox", *args], env=env, input=input,
                          capture_output=True, text=True, timeout=60)


@pytest.fixture
def home(tmp_path) -> Path:
    return tmp_path / "home"


@pytest.fixture
def logged(home) -> Path:
    """A home whose log holds one session of three turns (the last one blocked) and an empty one."""
    home.mkdir()
    with Store.open(home / "sandbox.db") as store:
        store.create_session("e0e0e0e0aaaa", model="smollm2-135m", model_sha256=None, settings={},
                             created_at="2026-01-01T00:00:00.000+00:00")
        store.create_session(SID, model="smollm2-135m", model_sha256="ab" * 32, settings={"n_ctx": 8192},
                             model_path="/models/smol.gguf", n_ctx=8192, created_at="2026-11-20T09:59:00.000+00:00")
        store.log_turn(make_turn(SID, 0, prompt="What is the capital of France?", output="Paris, of course."))
        store.log_turn(make_turn(SID, 1))
        store.log_turn(make_turn(SID, 2, prompt="Email me at [EMAIL]", blocked=True, finish_reason="blocked", rendered_prompt="",
                                 output="", answer=None, samples=[], votes=None))
    return home


def test_path_prints_the_database_path_without_creating_it(home):
    r = sandbox(home, "log", "path")
    assert r.returncode == 0 and r.stdout == f"{home / 'sandbox.db'}\n"
    assert not home.exists()


def test_list_on_a_missing_database_is_empty(home):
    r = sandbox(home, "log", "list", "--json")
    assert (r.returncode, r.stdout, r.stderr) == (0, "[]\n", "")
    r = sandbox(home, "log", "list")
    assert r.returncode == 0 and "no sessions" in r.stdout
    r = sandbox(home, "log", "search", "anything", "--json")
    assert (r.returncode, r.stdout) == (0, "[]\n")
    assert not (home / "sandbox.db").exists()


def test_list(logged):
    r = sandbox(logged, "log", "list", "--json")
    assert r.returncode == 0, r.stderr
    listed = json.loads(r.stdout)
    assert [s["session_id"] for s in listed] == [SID, "e0e0e0e0aaaa"]
    assert {k: listed[0][k] for k in ("session_id", "created_at", "model", "title", "turns")} == {
        "session_id": SID, "created_at": "2026-11-20T09:59:00.000+00:00", "model": "smollm2-135m",
        "title": "What is the capital of France?", "turns": 3}
    assert [s["session_id"] for s in json.loads(sandbox(logged, "log", "list", "--json", "--limit", "1").stdout)] == [SID]

    lines = sandbox(logged, "log", "list").stdout.splitlines()
    assert lines[0].split() == ["ID", "CREATED", "MODEL", "TURNS", "TITLE"]
    assert lines[1].startswith(SID[:8] + " ") and lines[1].endswith("What is the capital of France?")
    assert " 3  " in lines[1]


def test_show(logged):
    r = sandbox(logged, "log", "show", SID[:6], "--json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["session"]["session_id"] == SID and doc["session"]["settings"] == {"n_ctx": 8192}
    assert doc["turns"][1] == make_turn(SID, 1)  # the §6 turn object, exactly as logged

    text = sandbox(logged, "log", "show", SID).stdout
    assert f"session {SID}" in text and "What is the capital of France?" in text and "Paris, of course." in text
    assert "self-consistency · math · 120 in (96 cached) / 40 out · 98.5 tok/s · stop" in text
    assert "BLOCKED" in text


def test_search(logged):
    hits = json.loads(sandbox(logged, "log", "search", "capital France", "--json").stdout)
    assert [(h["session_id"], h["idx"]) for h in hits] == [(SID, 0)]
    assert set(hits[0]) == {"session_id", "turn_id", "idx", "snippet", "created_at", "model"}
    r = sandbox(logged, "log", "search", 'AND "unbalanced')
    assert r.returncode == 0 and "nothing matches" in r.stdout
    r = sandbox(logged, "log", "search", "pens")
    assert r.returncode == 0 and f"{SID[:8]} #1" in r.stdout
    r = sandbox(logged, "log", "search", "AND", "--raw")
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "cannot search for 'AND'" in r.stderr


def test_export_markdown(logged, tmp_path):
    r = sandbox(logged, "log", "export", SID[:8], "--format", "md")
    assert r.returncode == 0, r.stderr
    md = r.stdout
    assert md.startswith("# What is the capital of France?\n")
    assert f"**Model:** `smollm2-135m` (sha256 `{'ab' * 32}`)" in md
    assert "<details><summary>Settings</summary>" in md and '"n_ctx": 8192' in md
    assert md.count("<details><summary>Rendered prompt") == 2  # the blocked turn rendered nothing
    assert "## Turn 0" in md and "> What is the capital of France?" in md and "> Paris, of course." in md
    assert "| Tokens | 120 prompt (96 cached), 40 completion |" in md
    assert "| Time | first token 36 ms, total 420 ms, 98.5 tok/s |" in md
    assert "gpt-4o $0.000685" in md
    out = tmp_path / "s.md"
    r = sandbox(logged, "log", "export", SID, "--format", "md", "-o", str(out))
    assert r.returncode == 0 and r.stdout == "" and out.read_text() == md


def test_export_json_imports_back_exactly(logged, tmp_path):
    out = tmp_path / "s.json"
    r = sandbox(logged, "log", "export", SID, "--format", "json", "-o", str(out))
    assert r.returncode == 0, r.stderr
    shown = json.loads(sandbox(logged, "log", "show", SID, "--json").stdout)
    assert json.loads(out.read_text()) == shown

    other = tmp_path / "other"
    r = sandbox(other, "log", "import", str(out))
    assert r.returncode == 0, r.stderr
    assert r.stdout == f"{SID}\n"
    assert json.loads(sandbox(other, "log", "show", SID, "--json").stdout) == shown

    again = sandbox(other, "log", "import", str(out))
    assert again.returncode == 2 and again.stderr.count("\n") == 1 and "--new-id" in again.stderr
    copy = sandbox(other, "log", "import", str(out), "--new-id")
    assert copy.returncode == 0, copy.stderr
    new_id = copy.stdout.strip()
    assert new_id != SID
    copied = json.loads(sandbox(other, "log", "show", new_id, "--json").stdout)
    assert [t["output"] for t in copied["turns"]] == [t["output"] for t in shown["turns"]]
    assert len(json.loads(sandbox(other, "log", "list", "--json").stdout)) == 2


@pytest.mark.parametrize("content, message", [
    ("not json", "is not valid JSON (line 1, column 1"),
    ('{"session": {}, "turns": {}}', 'is not a sandbox session export: "session.session_id" must be a non-empty string; "turns" must be a list'),
])
def test_import_of_a_bad_file_is_one_line(home, tmp_path, content, message):
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    r = sandbox(home, "log", "import", str(bad))
    assert r.returncode == 2 and r.stdout == "" and r.stderr.count("\n") == 1
    assert f"{bad} {message}" in r.stderr
    r = sandbox(home, "log", "import", str(tmp_path / "missing.json"))
    assert r.returncode == 2 and "missing.json does not exist" in r.stderr and r.stderr.count("\n") == 1


@pytest.mark.parametrize("command", [["show", "deadbeef"], ["show", "dead", "--json"],
                                     ["export", "deadbeef", "--format", "md"]])
def test_an_unknown_id_is_exit_2_and_one_line(logged, command):
    r = sandbox(logged, "log", *command)
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.count("\n") == 1 and "no session with id" in r.stderr and "sandbox log list" in r.stderr


def test_an_unknown_id_on_a_missing_database_is_exit_2(home):
    r = sandbox(home, "log", "show", "deadbeef")
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "no session with id 'deadbeef'" in r.stderr


def test_reading_commands_never_change_the_database(logged, tmp_path):
    db = logged / "sandbox.db"
    before, mtime = db.read_bytes(), db.stat().st_mtime_ns
    for args in (["list"], ["list", "--json"], ["show", SID], ["show", SID, "--json"], ["search", "pens"],
                 ["export", SID, "--format", "md"], ["export", SID, "--format", "json"]):
        assert sandbox(logged, "log", *args).returncode == 0
        # nor leave SQLite's -wal and -shm files beside it (a read-only connection cannot remove them)
        assert sorted(p.name for p in logged.iterdir() if p.name.startswith("sandbox.db")) == ["sandbox.db"], args
    assert db.read_bytes() == before and db.stat().st_mtime_ns == mtime


def test_a_damaged_database_is_one_line_and_left_alone(home):
    home.mkdir()
    db = home / "sandbox.db"
    db.write_bytes(b"garbage" * 1000)
    for args in (["list"], ["show", "abcd"], ["import", "-"], ["migrate"]):
        r = sandbox(home, "log", *args, input='{"session": {"session_id": "x"}, "turns": []}')
        assert r.returncode == 2 and r.stderr.count("\n") == 1 and "damaged" in r.stderr, (args, r.stderr)
    assert db.read_bytes() == b"garbage" * 1000


def test_an_old_database_asks_for_migrate_and_migrate_upgrades_it(home):
    home.mkdir()
    (home / "sandbox.db").write_bytes((Path(__file__).parent / "fixtures" / "schema_v1.db").read_bytes())
    r = sandbox(home, "log", "list")
    assert r.returncode == 2 and "sandbox log migrate" in r.stderr
    r = sandbox(home, "log", "migrate")
    assert r.returncode == 0 and "applied m003_run_metadata" in r.stdout
    assert sandbox(home, "log", "migrate").stdout.endswith("is up to date\n")
    assert len(json.loads(sandbox(home, "log", "list", "--json").stdout)) == 2


def test_help_for_every_subcommand(home):
    for sub in ([], ["path"], ["list"], ["show"], ["search"], ["export"], ["import"], ["migrate"]):
        r = sandbox(home, "log", *sub, "--help")
        assert r.returncode == 0 and r.stdout.startswith("usage: sandbox log"), sub
    r = sandbox(home, "log")
    assert r.returncode == 0 and "SUBCOMMAND" in r.stdout


def test_the_log_command_and_store_do_not_import_textual_or_llama_cpp():
    code = ("import sys, sandbox.cli.log, sandbox.core.store, sandbox.core.store.render; "
            "from sandbox.cli import build_parser; build_parser(); "
            "bad = [m for m in sys.modules if m.split('.')[0] in ('textual', 'llama_cpp') or m.startswith('sandbox.tui')]; "
            "print(bad); sys.exit(1 if bad else 0)")
    r = subprocess.run([sys.executable, "-c", code], env={**os.environ, "PYTHONPATH": str(ROOT)},
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
