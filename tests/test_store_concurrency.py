"""Several processes writing one log, and a writer killed mid-loop: the database stays whole and
every committed turn is there."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

from sandbox.core.store import Store
from sandbox.core.store.schema import MIGRATION_NAMES

ROOT = Path(__file__).resolve().parent.parent
WRITER = Path(__file__).parent / "fixtures" / "log_writer.py"


def _env() -> dict:
    return {**os.environ, "PYTHONPATH": str(ROOT)}


def _integrity(path: Path) -> str:
    conn = sqlite3.connect(path)
    try:
        return conn.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        conn.close()


def test_three_writers_at_once_lose_nothing(tmp_path):
    db, go = tmp_path / "sandbox.db", tmp_path / "go"
    procs = [
        subprocess.Popen([sys.executable, str(WRITER), str(db), f"writer{i}", "20", "--go", str(go)],
                         env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for i in range(3)
    ]
    go.touch()  # all three open the fresh database (and race to migrate it) together
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        assert out.split() == [str(i) for i in range(20)]
    assert _integrity(db) == "ok"
    with Store.open(db, readonly=True) as store:
        listed = {s["session_id"]: s["turns"] for s in store.sessions()}
        assert listed == {"writer0": 20, "writer1": 20, "writer2": 20}
        for i in range(3):
            turns = store.turns(f"writer{i}")
            assert [t["idx"] for t in turns] == list(range(20))
            assert all(len(t["samples"]) == 2 and len(t["guard"]["input"]) == 1 for t in turns)
        assert len(store.search("output")) == 50  # the search limit; the index has all 60
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT count(*) FROM turns_fts WHERE turns_fts MATCH 'output'").fetchone()[0] == 60
    assert conn.execute("SELECT count(*) FROM _sqlite_migrations").fetchone()[0] == len(MIGRATION_NAMES)  # each migration applied once, not once per writer
    conn.close()


def test_a_writer_killed_mid_loop_leaves_an_intact_database(tmp_path):
    db = tmp_path / "sandbox.db"
    proc = subprocess.Popen([sys.executable, str(WRITER), str(db), "victim", "0"],
                            env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    committed = []
    try:
        for line in proc.stdout:
            committed.append(int(line))
            if len(committed) >= 25:
                break
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        proc.stdout.close()
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    assert _integrity(db) == "ok"
    with Store.open(db) as store:  # a writable open after the crash recovers the WAL
        turns = store.turns("victim")
        idxs = [t["idx"] for t in turns]
        assert idxs == list(range(len(idxs)))  # whole turns only, no gaps
        assert set(committed) <= set(idxs)
        assert all(len(t["samples"]) == 2 for t in turns)
        n_samples = store.db.execute("SELECT count(*) FROM samples").fetchone()[0]
        assert n_samples == 2 * len(turns)  # no half-written turn
        store.create_session("after", model="m", model_sha256=None, settings={})  # still writable
