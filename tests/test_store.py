"""The SQLite log: schema, exact round-trips, one transaction per turn, search, and refusing
databases it cannot trust. Real SQLite files in tmp_path; no mocks."""

from __future__ import annotations

import copy
import json
import os
import shutil
import sqlite3
import sys
import threading
from pathlib import Path

import pytest
from sqlite_utils import Database

from sandbox.core.errors import SandboxError
from sandbox.core.store import Store, export_problems
from sandbox.core.store import db as store_db
from sandbox.core.store.schema import MIGRATION_NAMES, migrations

FIXTURES = Path(__file__).parent / "fixtures"
sys.path.insert(0, str(FIXTURES))
from sample_turns import make_turn  # noqa: E402

SID = "5e55104abcdef0123456789"

EXPECTED_COLUMNS = {
    "sessions": {
        "id": str, "created_at": str, "title": str, "model": str, "model_sha256": str, "settings_json": str,
        "parent_id": str, "updated_at": str, "llama_cpp_version": str, "sandbox_version": str, "model_path": str,
        "n_ctx": int,
    },
    "turns": {
        "id": str, "session_id": str, "idx": int, "created_at": str, "user_text": str, "strategy": str,
        "template": str, "rendered_prompt": str, "output": str, "answer": str, "votes_json": str,
        "params_json": str, "memory_json": str, "prompt_tokens": int, "cached_tokens": int,
        "completion_tokens": int, "ttft_ms": float, "total_ms": float, "tokens_per_s": float, "cost_json": str,
        "finish_reason": str, "blocked": int, "system": str, "guard_json": str, "load_ms": float, "seed": int,
        "model": str, "extra_json": str, "request_json": str,
    },
    "samples": {
        "id": int, "turn_id": str, "idx": int, "seed": int, "output": str, "answer": str,
        "completion_tokens": int, "finish_reason": str, "extra_json": str,
    },
    "guard_events": {
        "id": int, "turn_id": str, "stage": str, "rule": str, "category": str, "action": str, "score": float,
        "detail": str, "span_start": int, "span_end": int, "extra_json": str,
    },
    "turn_embeddings": {"turn_id": str, "model": str, "vector": bytes},
}  # fmt: skip


@pytest.fixture
def db_path(tmp_path) -> Path:
    return tmp_path / "sandbox.db"


@pytest.fixture
def store(db_path):
    s = Store.open(db_path)
    s.create_session(SID, model="smollm2-135m", model_sha256="ab" * 32, settings={"n_ctx": 8192},
                     model_path="/models/x.gguf", n_ctx=8192)
    yield s
    s.close()


def _count(path: Path, sql: str, params=()) -> int:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(sql, params).fetchone()[0]
    finally:
        conn.close()


# ---- schema ---------------------------------------------------------------------------------


def test_migrations_on_a_blank_database_make_exactly_these_columns():
    db = Database(memory=True)
    migrations.apply(db)
    for table, columns in EXPECTED_COLUMNS.items():
        assert db[table].columns_dict == columns, table
    assert {t.name for t in db.triggers} == {"turns_ai", "turns_ad", "turns_au"}
    assert db["turns_fts"].exists()
    assert {tuple(i.columns) for i in db["turns"].indexes} >= {("session_id", "idx")}
    assert {tuple(i.columns) for i in db["samples"].indexes} >= {("turn_id",)}
    assert {tuple(i.columns) for i in db["guard_events"].indexes} >= {("turn_id",)}
    fks = {(fk.table, fk.column, fk.other_table) for t in ("turns", "samples", "guard_events") for fk in db[t].foreign_keys}
    assert fks == {("turns", "session_id", "sessions"), ("samples", "turn_id", "turns"), ("guard_events", "turn_id", "turns")}


def test_open_creates_a_wal_database_with_every_migration_recorded_by_name(db_path):
    with Store.open(db_path) as s:
        assert s.migrated == MIGRATION_NAMES
        assert s.db.journal_mode == "wal"
        assert s.db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        assert s.db.execute("PRAGMA busy_timeout").fetchone()[0] == 5000
    with Store.open(db_path) as s:
        assert s.migrated == []  # nothing left to apply
    names = [r[0] for r in sqlite3.connect(db_path).execute("SELECT name FROM _sqlite_migrations ORDER BY id")]
    assert names == MIGRATION_NAMES


def test_default_path_is_under_sandbox_home(tmp_path, monkeypatch):
    monkeypatch.setenv("SANDBOX_HOME", str(tmp_path / "home"))
    with Store.open() as s:
        assert s.path == tmp_path / "home" / "sandbox.db"
    assert (tmp_path / "home" / "sandbox.db").is_file()


def test_the_v1_fixture_migrates_forward_without_loss(tmp_path):
    path = tmp_path / "old.db"
    shutil.copy(FIXTURES / "schema_v1.db", path)
    before = {t: [dict(r) for r in Database(path)[t].rows] for t in ("sessions", "turns", "samples", "guard_events")}

    with pytest.raises(SandboxError, match="older sandbox.*sandbox log migrate"):
        Store.open(path, readonly=True)

    with Store.open(path) as s:
        assert s.migrated == ["m003_run_metadata", "m004_turn_request", "m005_turn_embeddings"]
        db = s.db
        for table, columns in EXPECTED_COLUMNS.items():
            assert db[table].columns_dict == columns, table
        for table, old_rows in before.items():
            new_rows = [dict(r) for r in db[table].rows]
            assert [{k: r[k] for k in old} for r, old in zip(new_rows, old_rows)] == old_rows, table
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"

        listed = s.sessions()
        assert [x["session_id"] for x in listed] == ["v1session0000002", "v1session0000001"]
        assert listed[1]["updated_at"] == "2025-01-01T09:01:00.000+00:00"  # backfilled from its last turn
        assert listed[0]["updated_at"] == "2025-01-02T09:00:00.000+00:00"
        turns = s.turns("v1session0000001")
        assert [t["prompt"] for t in turns] == ["What is the capital of France?", "And of Italy?"]
        assert turns[0]["model"] == "smollm2-135m"  # backfilled from the session
        assert turns[0]["usage"] == {"prompt_tokens": 30, "cached_tokens": 0, "completion_tokens": 12}
        assert turns[1]["votes"] == {"Rome": 2}
        assert [x["seed"] for x in turns[1]["samples"]] == [7, 8]
        blocked = s.turns("v1session0000002")[0]
        assert blocked["blocked"] is True and blocked["guard"]["input"][0]["rule"] == "pii.email"
        assert [h["turn_id"] for h in s.search("Paris")] == ["v1turn10"]

        s.log_turn(make_turn("v1session0000001", 2, prompt="And of Spain?"))
        assert len(s.turns("v1session0000001")) == 3
    with Store.open(path, readonly=True) as r:
        assert r.search("Spain")[0]["idx"] == 2


# ---- round trip -------------------------------------------------------------------------------


def _odd_turns():
    plain = make_turn(SID, 0)
    blocked = make_turn(SID, 1, blocked=True, finish_reason="blocked", output="", answer=None, samples=[], votes=None,
                        rendered_prompt="", cost={}, memory={})
    extended = make_turn(SID, 2, vote={"winner": "5", "share": 0.5}, notes=["window dropped 1 turn"], ignore_eos=True,
                         guard={"input": [], "output": [{"rule": "tox", "category": "toxicity", "action": "warn",
                                                          "score": 0.25, "detail": None, "span": [0, 3], "model": "x"}],
                                "disabled": ["pii"], "verdict": "warn"})
    extended["usage"]["reasoning_tokens"] = 3
    extended["samples"][0]["finish_reason"] = None
    extended["samples"][1]["logprob"] = -1.5
    missing = make_turn(SID, 3, usage=None, timings={"ttft_ms": 1}, samples=None)
    for key in ("memory", "cost", "guard", "votes"):
        del missing[key]
    unicode = make_turn(SID, 4, prompt="naïve 🙂 \"quotes\" and 'AND' * NOT", output="多言語\n\n```py\nx=1\n```",
                        guard={"input": [{"rule": "u", "category": "unicode", "action": "redact", "score": 1,
                                          "detail": "zero width", "span": "weird"}], "output": "not a list"})
    types = make_turn(SID, 5, answer=5, output=["a", "list"], blocked=0, seed="7",
                      usage={"prompt_tokens": 1.5, "cached_tokens": True, "completion_tokens": None},
                      timings={"load_ms": 140, "ttft_ms": 0, "total_ms": 0.0, "tokens_per_s": "fast"})
    types["samples"][0]["completion_tokens"] = 40.0
    return [plain, blocked, extended, missing, unicode, types]


@pytest.mark.parametrize("turn", _odd_turns(), ids=["plain", "blocked", "extended", "missing-keys", "unicode", "types"])
def test_a_turn_round_trips_exactly(store, turn):
    logged = copy.deepcopy(turn)
    store.log_turn(turn)
    assert turn == logged  # log_turn does not change what it was given
    [got] = store.turns(SID)
    assert got == logged
    assert json.dumps(got, sort_keys=True) == json.dumps(logged, sort_keys=True)  # ints stay ints


def test_rows_land_in_their_columns(store, db_path):
    store.log_turn(make_turn(SID, 0))
    db = Database(db_path)
    row = db["turns"].get(f"{SID}-t0")
    assert row["user_text"].startswith("Sam has 0 pens")
    assert (row["prompt_tokens"], row["cached_tokens"], row["completion_tokens"]) == (120, 96, 40)
    assert (row["load_ms"], row["ttft_ms"], row["total_ms"], row["tokens_per_s"]) == (140, 35.5, 420.25, 98.5)
    assert json.loads(row["params_json"])["seed"] == 7 and row["seed"] == 7 and row["blocked"] == 0
    assert json.loads(row["extra_json"]) == {"ints": ["timings.load_ms"]}  # 140, not 140.0, comes back
    assert [(s["idx"], s["seed"]) for s in db["samples"].rows] == [(0, 8), (1, 9)]
    [event] = db["guard_events"].rows
    assert (event["stage"], event["rule"], event["span_start"], event["span_end"]) == ("input", "pii.email", 4, 21)


def test_turns_come_back_in_idx_order_with_the_session_updated(tmp_path):
    with Store.open(tmp_path / "o.db") as s:
        s.create_session("o1", model="m", model_sha256=None, settings={}, created_at="2026-01-01T00:00:00.000+00:00")
        assert s.session("o1")["updated_at"] == "2026-01-01T00:00:00.000+00:00"
        for idx in (2, 0, 1):
            s.log_turn(make_turn("o1", idx))
        assert [t["idx"] for t in s.turns("o1")] == [0, 1, 2]
        session = s.session("o1")
        assert session["updated_at"] == "2026-11-20T10:00:02.000+00:00"  # the latest turn's
        assert session["title"] == "Sam has 2 pens and buys 3 more. How many pens?"  # the first logged turn's


def test_title_is_the_first_prompt_on_one_line_cut_to_60_characters(store):
    store.log_turn(make_turn(SID, 0, prompt="word " * 30 + "\n\nmore"))
    title = store.session(SID)["title"]
    assert len(title) == 60 and title.endswith("…") and "\n" not in title
    store.log_turn(make_turn(SID, 1, prompt="something else"))
    assert store.session(SID)["title"] == title


def test_an_explicit_title_is_kept(tmp_path):
    with Store.open(tmp_path / "t.db") as s:
        s.create_session("t1", model="m", model_sha256=None, settings={}, title="My experiment")
        s.log_turn(make_turn("t1", 0))
        assert s.session("t1")["title"] == "My experiment"


# ---- one transaction per turn -------------------------------------------------------------


def _nothing_of(path: Path, turn_id: str) -> None:
    assert _count(path, "SELECT count(*) FROM turns WHERE id = ?", [turn_id]) == 0
    assert _count(path, "SELECT count(*) FROM samples WHERE turn_id = ?", [turn_id]) == 0
    assert _count(path, "SELECT count(*) FROM guard_events WHERE turn_id = ?", [turn_id]) == 0
    assert _count(path, "SELECT count(*) FROM turns_fts WHERE turns_fts MATCH 'pens'") == 0


def test_a_bad_sample_leaves_nothing_of_its_turn(store, db_path):
    turn = make_turn(SID, 0)
    turn["samples"][1]["seed"] = 2**70  # too big for SQLite: fails after the turns row is written
    before = store.session(SID)
    with pytest.raises(OverflowError):
        store.log_turn(turn)
    _nothing_of(db_path, turn["turn_id"])
    assert store.session(SID) == before  # neither updated_at nor title moved
    store.log_turn(make_turn(SID, 0))  # and the store is still usable
    assert len(store.turns(SID)) == 1


def test_a_failure_after_samples_rolls_back_the_whole_turn(store, db_path, monkeypatch):
    from sqlite_utils.db import Table

    real_insert_all = Table.insert_all

    def insert_all(self, records, *args, **kwargs):
        if self.name == "guard_events":
            raise RuntimeError("disk unplugged")
        return real_insert_all(self, records, *args, **kwargs)

    monkeypatch.setattr(Table, "insert_all", insert_all)
    turn = make_turn(SID, 0)
    with pytest.raises(RuntimeError, match="disk unplugged"):
        store.log_turn(turn)
    _nothing_of(db_path, turn["turn_id"])
    assert store.session(SID)["title"] is None


def test_a_turn_for_an_unknown_session_is_refused(store, db_path):
    with pytest.raises(SandboxError, match="no session with id nope"):
        store.log_turn(make_turn("nope", 0))
    assert _count(db_path, "SELECT count(*) FROM turns") == 0


def test_a_turn_without_its_identity_is_a_bug(store):
    turn = make_turn(SID, 0)
    del turn["created_at"]
    with pytest.raises(ValueError, match="without a valid created_at"):
        store.log_turn(turn)


# ---- reading --------------------------------------------------------------------------------


def test_sessions_newest_first_with_counts(tmp_path):
    with Store.open(tmp_path / "s.db") as s:
        for i, created in enumerate(["2026-01-01T00:00:00.000+00:00", "2026-03-01T00:00:00.000+00:00",
                                     "2026-02-01T00:00:00.000+00:00"]):
            s.create_session(f"sess{i}xyz", model="m", model_sha256=None, settings={}, created_at=created)
        s.log_turn(make_turn("sess2xyz", 0))
        s.log_turn(make_turn("sess2xyz", 1, prompt="banana bread"))
        listed = s.sessions()
        assert [x["session_id"] for x in listed] == ["sess1xyz", "sess2xyz", "sess0xyz"]
        assert set(listed[0]) >= {"session_id", "created_at", "model", "title", "turns"}
        assert [x["turns"] for x in listed] == [0, 2, 0]
        assert listed[1]["tokens"] == 2 * (120 + 40)
        assert [x["session_id"] for x in s.sessions(limit=1)] == ["sess1xyz"]
        assert [x["session_id"] for x in s.sessions(search="banana")] == ["sess2xyz"]
        assert s.sessions(search="100%_") == []
        assert s.latest_session_id() == "sess1xyz"


def test_session_ids_resolve_by_unique_prefix(tmp_path):
    with Store.open(tmp_path / "p.db") as s:
        for sid in ("abcd1111", "abcd2222", "ffff0000"):
            s.create_session(sid, model="m", model_sha256=None, settings={"k": [1, 2]})
        assert s.session("ffff")["session_id"] == "ffff0000"
        assert s.session("ffff")["id"] == "ffff0000"
        assert s.session("ffff")["settings"] == {"k": [1, 2]}
        assert s.session("abcd1")["session_id"] == "abcd1111"
        with pytest.raises(SandboxError, match="matches several sessions"):
            s.session("abcd")
        with pytest.raises(SandboxError, match=r"no session with id 'fff'; run `sandbox log list`"):
            s.session("fff")  # too short to be a prefix
        with pytest.raises(SandboxError, match="no session with id 'ABCD1111'"):
            s.session("ABCD1111")
        with pytest.raises(SandboxError, match="no session with id '%%%%'"):
            s.session("%%%%")
        with pytest.raises(SandboxError):
            s.turns("nope")


def test_the_store_can_be_used_from_a_worker_thread(store):
    errors = []

    def work():
        try:
            store.log_turn(make_turn(SID, 0))
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    t = threading.Thread(target=work)
    t.start()
    t.join()
    assert errors == [] and len(store.turns(SID)) == 1


def test_export_and_import_round_trip(store, tmp_path):
    for idx in range(3):
        store.log_turn(make_turn(SID, idx))
    doc = store.export_session(SID)
    text = json.dumps(doc)
    with Store.open(tmp_path / "other.db") as other:
        assert other.import_session(json.loads(text)) == SID
        assert other.export_session(SID) == doc
        with pytest.raises(SandboxError, match="already in .*--new-id"):
            other.import_session(json.loads(text))
        copy_id = other.import_session(json.loads(text), new_ids=True)
        assert copy_id != SID
        copied = other.export_session(copy_id)
        assert [t["prompt"] for t in copied["turns"]] == [t["prompt"] for t in doc["turns"]]
        assert {t["turn_id"] for t in copied["turns"]}.isdisjoint({t["turn_id"] for t in doc["turns"]})
        assert len(other.sessions()) == 2
    # a turn id that is already taken refuses the whole import
    with pytest.raises(SandboxError, match="turn .* is already in"):
        store.import_session(dict(doc, session=dict(doc["session"], session_id="elsewhere")))
    assert [x["session_id"] for x in store.sessions()] == [SID]


def test_export_problems_are_all_listed():
    assert export_problems([]) == ['expected a JSON object with "session" and "turns"']
    problems = export_problems({"session": {"settings": 3}, "turns": [{"idx": 0}, 5]})
    assert problems == ['"session.session_id" must be a non-empty string', '"session.settings" must be an object',
                        'turns[0] has no "turn_id"', 'turns[0] has no "created_at"', "turns[1] must be an object"]


# ---- search ----------------------------------------------------------------------------------


def test_search_finds_prompts_and_outputs(store):
    store.log_turn(make_turn(SID, 0, prompt="Tell me about the Eiffel tower", output="It is in Paris."))
    store.log_turn(make_turn(SID, 1, prompt="And the Colosseum?", output="It stands in Rome; see AND-gates too."))
    [hit] = store.search("eiffel")
    assert hit["turn_id"] == f"{SID}-t0" and hit["session_id"] == SID and hit["idx"] == 0
    assert hit["model"] == "smollm2-135m" and "**Eiffel**" in hit["snippet"]
    assert [h["idx"] for h in store.search("rome")] == [1]
    assert [h["idx"] for h in store.search("Paris tower")] == [0]  # all words, across both columns
    assert [h["idx"] for h in store.search('"the Eiffel tower"')] == [0]
    assert [h["idx"] for h in store.search("Eiff*")] == [0]
    assert [h["idx"] for h in store.search("AND")] == [1]  # a word, not an operator
    assert store.search("colosseum", limit=1)[0]["idx"] == 1


@pytest.mark.parametrize("query", ['"unbalanced', "AND", "OR NOT", "a:b", "-x", "NEAR(", "tower)", "x AND (", "foo\"bar", "it's"])
def test_odd_queries_are_just_words(store, query):
    store.log_turn(make_turn(SID, 0))
    assert isinstance(store.search(query), list)


@pytest.mark.parametrize("query", ["*", "", "   ", '""', "- ( )", "'"])
def test_a_query_without_words_is_a_clear_error(store, query):
    with pytest.raises(SandboxError, match="no words to look for"):
        store.search(query)


def test_raw_fts_syntax_errors_are_clear(store):
    store.log_turn(make_turn(SID, 0))
    assert len(store.search("pens OR nothing", raw=True)) == 1
    with pytest.raises(SandboxError, match="cannot search for 'AND'"):
        store.search("AND", raw=True)
    with pytest.raises(SandboxError, match="cannot search for"):
        store.search('"unbalanced', raw=True)


# ---- databases we must not write --------------------------------------------------------------


def _bytes(path: Path) -> bytes:
    return path.read_bytes()


def test_a_newer_schema_is_refused_and_left_alone(db_path):
    with Store.open(db_path) as s:
        s.create_session(SID, model="m", model_sha256=None, settings={})
        s.db["_sqlite_migrations"].insert({"migration_set": "sandbox", "name": "m999_from_the_future", "applied_at": "x"})
    before = _bytes(db_path)
    for readonly in (False, True):
        with pytest.raises(SandboxError, match=r"newer sandbox \(schema step 'm999_from_the_future'\).*upgrade sandbox"):
            Store.open(db_path, readonly=readonly)
    assert _bytes(db_path) == before


def test_another_programs_migrations_do_not_count_as_newer(db_path):
    with Store.open(db_path) as s:
        s.db["_sqlite_migrations"].insert({"migration_set": "someone-else", "name": "m001", "applied_at": "x"})
    with Store.open(db_path) as s:
        assert s.migrated == []


def test_a_file_that_is_not_sqlite_is_refused_and_unchanged(db_path):
    db_path.write_text("these are my notes, not a database\n" * 50)
    before = _bytes(db_path)
    for readonly in (False, True):
        with pytest.raises(SandboxError, match=f"{db_path.name} is damaged or not a sandbox database.*left untouched"):
            Store.open(db_path, readonly=readonly)
    assert _bytes(db_path) == before
    assert sorted(p.name for p in db_path.parent.iterdir()) == [db_path.name]


def test_a_database_of_another_program_is_refused(db_path):
    conn = sqlite3.connect(db_path)
    conn.execute("CREATE TABLE notes(x)")
    conn.commit()
    conn.close()
    before = _bytes(db_path)
    for readonly in (False, True):
        with pytest.raises(SandboxError, match="not a sandbox database"):
            Store.open(db_path, readonly=readonly)
    assert _bytes(db_path) == before


def test_a_damaged_database_is_refused_and_unchanged(db_path):
    with Store.open(db_path) as s:
        s.create_session(SID, model="m", model_sha256=None, settings={})
        for idx in range(40):
            s.log_turn(make_turn(SID, idx, output="long output " * 200))
    size = db_path.stat().st_size
    assert size > 40_000
    with db_path.open("r+b") as f:  # scribble over pages in the middle, keep the header
        f.seek(size // 2)
        f.write(os.urandom(8192))
    before = _bytes(db_path)
    with pytest.raises(SandboxError, match="damaged"):
        Store.open(db_path)
    assert _bytes(db_path) == before


def test_a_locked_database_is_a_clear_error(store, db_path, monkeypatch):
    monkeypatch.setattr(store_db, "BUSY_TIMEOUT_S", 0.2)
    blocker = sqlite3.connect(db_path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        store.db.conn.execute("PRAGMA busy_timeout = 200")
        with pytest.raises(SandboxError, match="locked by another sandbox process"):
            store.log_turn(make_turn(SID, 0))
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    store.log_turn(make_turn(SID, 0))
    assert len(store.turns(SID)) == 1


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root writes read-only files anyway")
def test_a_read_only_file_is_a_clear_error(store, db_path):
    store.close()
    for p in db_path.parent.iterdir():
        p.chmod(0o444)
    try:
        with pytest.raises(SandboxError, match="read-only"):
            with Store.open(db_path) as s:
                s.log_turn(make_turn(SID, 0))
    finally:
        for p in db_path.parent.iterdir():
            p.chmod(0o644)


def test_read_only_errors_from_sqlite_become_one_sentence(store, db_path):
    # The same error a read-only file gives, from a read-only connection (root can write any file).
    conn = sqlite3.connect(db_path.absolute().as_uri() + "?mode=ro", uri=True)
    with pytest.raises(sqlite3.OperationalError) as raised:
        conn.execute("INSERT INTO sessions(id) VALUES ('x')")
    conn.close()
    error = store_db._file_error(db_path, raised.value)
    assert str(error) == (f"the log database {db_path} is read-only; make it writable or set SANDBOX_HOME "
                          "to a writable folder")


def test_readonly_opens_never_write(store, db_path):
    store.log_turn(make_turn(SID, 0))
    store.close()
    before = _bytes(db_path)
    mtime = db_path.stat().st_mtime_ns
    with Store.open(db_path, readonly=True) as r:
        assert r.sessions()[0]["turns"] == 1
        r.turns(SID), r.search("pens"), r.session(SID[:6]), r.latest_session_id()
        with pytest.raises(RuntimeError, match="read-only"):
            r.log_turn(make_turn(SID, 1))
        with pytest.raises(RuntimeError, match="read-only"):
            r.create_session("x", model="m", model_sha256=None, settings={})
    assert _bytes(db_path) == before and db_path.stat().st_mtime_ns == mtime


def test_readonly_open_of_a_missing_file_says_so_and_creates_nothing(db_path):
    with pytest.raises(SandboxError, match="no log database at"):
        Store.open(db_path, readonly=True)
    assert not db_path.exists()


def test_readonly_open_of_an_empty_file_reads_as_an_empty_log(db_path):
    db_path.touch()
    with Store.open(db_path, readonly=True) as r:
        assert r.sessions() == [] and r.search("x") == [] and r.latest_session_id() is None
        with pytest.raises(SandboxError, match="no session with id"):
            r.session("abcd")
    assert db_path.stat().st_size == 0
