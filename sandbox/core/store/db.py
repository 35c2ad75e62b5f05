"""`Store`: the SQLite log of sessions and turns.

One connection per Store, WAL journal, a 5 s busy timeout, foreign keys on, one transaction per
turn. A database we cannot trust (not SQLite, fails its integrity check, written by a newer
sandbox) is refused before anything is written to it.
"""

from __future__ import annotations

import functools
import json
import os
import re
import random
import sqlite3
import time
import threading
import uuid
import weakref
from contextlib import contextmanager
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any, Iterator

from sqlite_utils import Database

from sandbox import __version__
from sandbox.core import paths
from sandbox.core.errors import SandboxError
from sandbox.core.store import rows
from sandbox.core.store.schema import MIGRATION_NAMES, MIGRATION_SET, migrations

SETUP_RETRY_S = 30.0  # how long opening a fresh database keeps retrying its setup
BUSY_TIMEOUT_S = 5.0
TITLE_CHARS = 60
MIN_PREFIX = 4
SQLITE_MAGIC = b"SQLite format 3\x00"

SESSION_COLUMNS = (
    "id", "created_at", "updated_at", "title", "model", "model_sha256", "model_path", "n_ctx",
    "settings_json", "parent_id", "llama_cpp_version", "sandbox_version",
)  # fmt: skip


def now_iso() -> str:
    """The timestamp format of the log: ISO 8601, UTC, milliseconds (sorts as text)."""
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def new_id() -> str:
    return uuid.uuid4().hex


def _translate_errors(method):
    """sqlite3 errors that are about the file, not the code, become one sentence for people."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        with self._lock:
            try:
                return method(self, *args, **kwargs)
            except sqlite3.DatabaseError as e:
                error = _file_error(self.path, e)
                if error is None:
                    raise
                raise error from None

    return wrapper


def _file_error(path: Path, e: sqlite3.DatabaseError) -> SandboxError | None:
    if type(e) not in (sqlite3.DatabaseError, sqlite3.OperationalError):
        return None  # IntegrityError, ProgrammingError...: a bug, keep the traceback
    msg = str(e).lower()
    if "locked" in msg or "busy" in msg:
        return SandboxError(
            f"the log database {path} is locked by another sandbox process (waited {BUSY_TIMEOUT_S:g} s); "
            "close the other process or try again"
        )
    if "readonly" in msg or "read-only" in msg:
        return SandboxError(f"the log database {path} is read-only; make it writable or set SANDBOX_HOME to a writable folder")
    if "not a database" in msg or "malformed" in msg or "corrupt" in msg:
        return corrupt_error(path, str(e))
    if "unable to open" in msg:
        return SandboxError(f"cannot open the log database {path}; check that it exists and that you may read it")
    if "disk is full" in msg or "i/o error" in msg:
        return SandboxError(f"cannot write the log database {path} ({e}); free some disk space and try again")
    if isinstance(e, sqlite3.OperationalError) and ("no such table" in msg or "no such column" in msg):
        return SandboxError(f"the log database {path} does not have the tables sandbox expects ({e}); it may belong to another program")
    return None


def corrupt_error(path: Path, why: str) -> SandboxError:
    return SandboxError(
        f"the log database {path} is damaged or not a sandbox database ({why}); it was left untouched: "
        "move it aside (sandbox will start a new one) or restore a backup"
    )


_OPEN: "weakref.WeakSet[Store]" = weakref.WeakSet()


def close_all() -> None:
    """Close every Store still open (the program calls this before its quick exit): the last
    connection to close checkpoints the WAL into the database file and removes the -wal and -shm
    files, so a copy of sandbox.db alone holds every turn."""
    for store in list(_OPEN):
        try:
            store.close()
        except Exception:  # noqa: BLE001 - exiting anyway; the WAL is still recovered on the next open
            pass


class Store:
    """The log. Open with `Store.open()`; use from any thread (calls are serialised)."""

    def __init__(self, db: Database, path: Path, readonly: bool):
        self.db = db
        self.path = path
        self.readonly = readonly
        self._lock = threading.RLock()
        self._empty = False  # a readonly open of a database with no tables yet
        self.migrated: list[str] = []  # the migrations this open applied

    # ---- opening -------------------------------------------------------------------------

    @classmethod
    def open(cls, path: str | Path | None = None, *, readonly: bool = False) -> "Store":
        if path is None:
            path = paths.db_path()
            if not readonly:
                paths.ensure_home()
        path = Path(path).expanduser()
        _check_header(path, readonly)
        try:
            if readonly and not (os.access(path, os.W_OK) and os.access(path.parent, os.W_OK)):
                conn = sqlite3.connect(
                    path.absolute().as_uri() + "?mode=ro", uri=True, timeout=BUSY_TIMEOUT_S, check_same_thread=False
                )
            elif readonly:
                # Read-write, but `query_only` (set in _prepare): SQLite lets only a writable
                # connection fold the WAL back and delete the -wal and -shm files when it closes, so
                # `sandbox log list` leaves sandbox.db as it found it. mode=ro is for files we may not write.
                conn = sqlite3.connect(f"{path.absolute().as_uri()}?mode=rw", uri=True, timeout=BUSY_TIMEOUT_S,
                                       check_same_thread=False)
            else:
                conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_S, check_same_thread=False)
        except sqlite3.DatabaseError as e:
            raise (_file_error(path, e) or e) from None
        store = cls(Database(conn, execute_plugins=False, recursive_triggers=False), path, readonly)
        try:
            store._prepare()
        except BaseException:
            conn.close()
            raise
        _OPEN.add(store)
        return store

    @_translate_errors
    def _prepare(self) -> None:
        conn = self.db.conn
        conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        conn.execute("PRAGMA foreign_keys = ON")
        if self.readonly:
            conn.execute("PRAGMA query_only = ON")
        applied = self._applied()
        unknown = [name for name in applied if name not in MIGRATION_NAMES]
        if unknown:
            raise SandboxError(
                f"the log database {self.path} was written by a newer sandbox (schema step {unknown[-1]!r}); "
                "upgrade sandbox to use it, or set SANDBOX_HOME to another folder"
            )
        if not applied and set(self.db.table_names()) - {"sqlite_sequence"}:
            raise corrupt_error(self.path, "it has tables but no sandbox schema record")
        pending = [name for name in MIGRATION_NAMES if name not in applied]
        if self.readonly:
            if not applied:
                self._empty = True  # a new, empty file: reads as an empty log
            elif pending:
                raise SandboxError(
                    f"the log database {self.path} was written by an older sandbox and needs upgrading; "
                    "run `sandbox log migrate`"
                )
            return
        check = conn.execute("PRAGMA quick_check").fetchone()[0]
        if check != "ok":
            raise corrupt_error(self.path, f"integrity check: {check}")
        # Until WAL is on, processes racing to set up a fresh database can hit SQLite's deadlock
        # rule (one holds a read lock while another wants the write lock): SQLite then answers
        # "locked" at once instead of waiting, so this one-time setup retries.
        deadline = time.monotonic() + SETUP_RETRY_S
        while True:
            try:
                if self.db.journal_mode != "wal":
                    self.db.enable_wal()
                if [name for name in MIGRATION_NAMES if name not in self._applied()]:
                    self._migrate()
                return
            except sqlite3.OperationalError as e:
                text = str(e).lower()
                if ("locked" not in text and "busy" not in text) or time.monotonic() > deadline:
                    raise
                time.sleep(random.uniform(0.05, 0.3))

    def _applied(self) -> list[str]:
        if not self.db[migrations.migrations_table].exists():
            return []
        return [m.name for m in migrations.applied(self.db)]

    def _migrate(self) -> None:
        # IMMEDIATE: two processes opening a fresh database must not both run the migrations.
        with self._transaction():
            before = set(self._applied())
            migrations.apply(self.db)
            self.migrated = [name for name in self._applied() if name not in before]

    def close(self) -> None:
        with self._lock:
            self.db.close()
        _OPEN.discard(self)

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ---- writing -------------------------------------------------------------------------

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        conn = self.db.conn
        if conn.in_transaction:
            with self.db.atomic():
                yield
            return
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def _require_writable(self) -> None:
        if self.readonly:
            raise RuntimeError(f"Store for {self.path} was opened read-only")

    @_translate_errors
    def create_session(
        self,
        id: str,
        *,
        model: str,
        model_sha256: str | None,
        settings: dict,
        title: str | None = None,
        parent_id: str | None = None,
        model_path: str | None = None,
        n_ctx: int | None = None,
        created_at: str | None = None,
    ) -> None:
        self._require_writable()
        created_at = created_at or now_iso()
        row = {
            "id": id,
            "created_at": created_at,
            "updated_at": created_at,
            "title": _title(title) if title else None,
            "model": model,
            "model_sha256": model_sha256,
            "model_path": str(model_path) if model_path is not None else None,
            "n_ctx": n_ctx,
            "settings_json": json.dumps(settings, ensure_ascii=False),
            "parent_id": parent_id,
            "llama_cpp_version": _llama_cpp_version(),
            "sandbox_version": __version__,
        }
        with self._transaction():
            self.db["sessions"].insert(row)

    @_translate_errors
    def log_turn(self, turn: dict) -> None:
        """The turn, its samples and guard findings, and the session's updated_at/title: all or nothing."""
        self._require_writable()
        wrong = [key for key, kind in (("session_id", str), ("turn_id", str), ("idx", int), ("created_at", str))
                 if not isinstance(turn.get(key), kind)]
        if wrong:
            raise ValueError(f"cannot log a turn without a valid {', '.join(wrong)}")
        turn_row, sample_rows, guard_rows = rows.encode_turn(turn)
        with self._transaction():
            session = self.db.execute(
                "SELECT title FROM sessions WHERE id = ?", [turn_row["session_id"]]
            ).fetchone()
            if session is None:
                raise SandboxError(f"cannot log turn {turn_row['id']}: no session with id {turn_row['session_id']} in {self.path}")
            self._insert_turn(turn_row, sample_rows, guard_rows)
            title = session[0] or (_title(turn_row["user_text"]) if turn_row["user_text"] else None)
            self.db.execute(
                "UPDATE sessions SET updated_at = max(coalesce(updated_at, ''), ?), title = ? WHERE id = ?",
                [turn_row["created_at"], title, turn_row["session_id"]],
            )

    def _insert_turn(self, turn_row: dict, sample_rows: list[dict], guard_rows: list[dict]) -> None:
        self.db["turns"].insert(turn_row)
        if sample_rows:
            self.db["samples"].insert_all(sample_rows)
        if guard_rows:
            self.db["guard_events"].insert_all(guard_rows)

    @_translate_errors
    def import_session(self, doc: dict, *, new_ids: bool = False, source: str = "the import") -> str:
        """Add a session exported by `export_session` (one transaction); returns its id here.

        With new_ids the session and its turns get fresh ids, so the same export can be imported
        next to the original. source names the file in error messages."""
        self._require_writable()
        problems = export_problems(doc)
        if problems:
            raise SandboxError(f"{source} is not a sandbox session export: " + "; ".join(problems))
        session, turns = doc["session"], doc["turns"]
        session_id = new_id() if new_ids else session["session_id"]
        row = {column: session.get(column) for column in SESSION_COLUMNS if column != "id"}
        row["id"] = session_id
        row["settings_json"] = json.dumps(session.get("settings") or {}, ensure_ascii=False)
        with self._transaction():
            if self.db.execute("SELECT 1 FROM sessions WHERE id = ?", [session_id]).fetchone():
                raise SandboxError(
                    f"session {session_id} is already in {self.path}; use --new-id to import a copy"
                )
            self.db["sessions"].insert(row)
            for turn in turns:
                turn = dict(turn, session_id=session_id)
                if new_ids:
                    turn["turn_id"] = new_id()
                elif self.db.execute("SELECT 1 FROM turns WHERE id = ?", [turn.get("turn_id")]).fetchone():
                    raise SandboxError(
                        f"turn {turn.get('turn_id')} is already in {self.path}; use --new-id to import a copy"
                    )
                self._insert_turn(*rows.encode_turn(turn))
        return session_id

    # ---- reading -------------------------------------------------------------------------

    @_translate_errors
    def sessions(self, limit: int | None = 50, search: str | None = None) -> list[dict]:
        """Newest first: [{"session_id", "created_at", "updated_at", "model", "title", "turns", "tokens"}].

        search keeps sessions whose title contains it or that have a turn matching it (full text)."""
        if self._empty:
            return []
        where, params = "", []
        if search:
            where = "WHERE s.title LIKE ? ESCAPE '\\'"
            params = ["%" + re.sub(r"([%_\\])", r"\\\1", search) + "%"]
            try:
                params.append(_fts_query(search, raw=False))
                where += (
                    " OR s.id IN (SELECT t2.session_id FROM turns t2"
                    " JOIN turns_fts ON turns_fts.rowid = t2.rowid WHERE turns_fts MATCH ?)"
                )
            except SandboxError:
                pass  # no words to match in the turns: the title alone decides
        sql = f"""
            SELECT s.id AS session_id, s.created_at, s.updated_at, s.model, s.title,
                   count(t.id) AS turns,
                   coalesce(sum(coalesce(t.prompt_tokens, 0) + coalesce(t.completion_tokens, 0)), 0) AS tokens
            FROM sessions s LEFT JOIN turns t ON t.session_id = s.id
            {where}
            GROUP BY s.id
            ORDER BY s.created_at DESC, s.rowid DESC
        """
        if limit is not None:
            sql += " LIMIT ?"
            params.append(int(limit))
        return [dict(r) for r in self._rows(sql, params)]

    @_translate_errors
    def session_stats(self, ids: list[str]) -> dict[str, dict]:
        """Per session id: {"parent_id", "strategies": [in first-use order], "costs": [turn cost dicts]}
        (what the Sessions screen lists and filters on, without decoding whole turns)."""
        out: dict[str, dict] = {}
        if self._empty:
            return out
        ids = list(dict.fromkeys(ids))
        for start in range(0, len(ids), 500):  # below SQLite's limit on bound parameters
            chunk = ids[start:start + 500]
            marks = ",".join("?" * len(chunk))
            for r in self._rows(f"SELECT id, parent_id FROM sessions WHERE id IN ({marks})", chunk):
                out[r["id"]] = {"parent_id": r["parent_id"], "strategies": [], "costs": []}
            for r in self._rows(
                f"SELECT session_id, strategy, cost_json FROM turns WHERE session_id IN ({marks}) ORDER BY idx, rowid",
                chunk,
            ):
                s = out[r["session_id"]]
                if r["strategy"] and r["strategy"] not in s["strategies"]:
                    s["strategies"].append(r["strategy"])
                if r["cost_json"]:
                    s["costs"].append(json.loads(r["cost_json"]))
        return out

    @_translate_errors
    def session(self, id: str) -> dict:
        """The session row (settings parsed); id may be a unique prefix of at least 4 characters.

        The id is under both "id" (the row's column) and "session_id" (the name in every JSON
        document of docs/ARCHITECTURE.md §6)."""
        session_id = self.resolve(id)
        row = dict(self._rows("SELECT * FROM sessions WHERE id = ?", [session_id])[0])
        out: dict[str, Any] = {"id": row["id"], "session_id": row["id"]}
        for column in SESSION_COLUMNS[1:]:
            if column == "settings_json":
                out["settings"] = json.loads(row[column]) if row[column] else {}
            else:
                out[column] = row[column]
        return out

    @_translate_errors
    def resolve(self, id: str) -> str:
        """The full session id for an id or unique prefix, or a SandboxError saying what to do."""
        id = (id or "").strip()
        if not self._empty and id:
            if self.db.execute("SELECT 1 FROM sessions WHERE id = ?", [id]).fetchone():
                return id
            if len(id) >= MIN_PREFIX:
                pattern = re.sub(r"([%_\\])", r"\\\1", id) + "%"
                found = [r[0] for r in self.db.execute(
                    "SELECT id FROM sessions WHERE id LIKE ? ESCAPE '\\' LIMIT 5", [pattern]
                )]  # fmt: skip
                found = [f for f in found if f.startswith(id)]  # LIKE ignores case; ids do not
                if len(found) == 1:
                    return found[0]
                if len(found) > 1:
                    raise SandboxError(f"session id {id!r} matches several sessions; give more characters")
        raise SandboxError(f"no session with id {id!r}; run `sandbox log list`")

    @_translate_errors
    def turns(self, session_id: str) -> list[dict]:
        """The session's turn objects (docs/ARCHITECTURE.md §6 plus idx, created_at, system, seed), in order."""
        session_id = self.resolve(session_id)
        turn_rows = self._rows("SELECT * FROM turns WHERE session_id = ? ORDER BY idx, rowid", [session_id])
        samples: dict[str, list] = {}
        for r in self._rows(
            "SELECT samples.* FROM samples JOIN turns ON turns.id = samples.turn_id WHERE turns.session_id = ?",
            [session_id],
        ):
            samples.setdefault(r["turn_id"], []).append(dict(r))
        findings: dict[str, list] = {}
        for r in self._rows(
            "SELECT g.* FROM guard_events g JOIN turns ON turns.id = g.turn_id WHERE turns.session_id = ? ORDER BY g.id",
            [session_id],
        ):
            findings.setdefault(r["turn_id"], []).append(dict(r))
        return [rows.decode_turn(dict(t), samples.get(t["id"], []), findings.get(t["id"], [])) for t in turn_rows]

    @_translate_errors
    def turn_embeddings(self, session_id: str, model: str) -> dict[int, bytes]:
        """Retrieval memory: the stored embedding of each of the session's turns (idx -> vector bytes)."""
        if self._empty:
            return {}
        return {r[0]: r[1] for r in self._rows(
            "SELECT t.idx, e.vector FROM turn_embeddings e JOIN turns t ON t.id = e.turn_id "
            "WHERE t.session_id = ? AND e.model = ?", [session_id, model])}

    @_translate_errors
    def save_turn_embeddings(self, session_id: str, model: str, vectors: dict[int, bytes]) -> int:
        """Store embeddings of logged turns (by idx); a turn not in the log is skipped. Returns the count stored."""
        self._require_writable()
        with self._transaction():
            ids = {r[0]: r[1] for r in self.db.execute(
                "SELECT idx, id FROM turns WHERE session_id = ? ORDER BY rowid", [session_id]).fetchall()}
            rows = [{"turn_id": ids[i], "model": model, "vector": v} for i, v in vectors.items() if i in ids]
            if rows:
                self.db["turn_embeddings"].insert_all(rows, replace=True)
        return len(rows)

    def export_session(self, id: str) -> dict:
        """`{"session": {...}, "turns": [...]}`: what `log show --json` prints and `log import` reads."""
        with self._lock:
            session = self.session(id)
            return {"session": session, "turns": self.turns(session["session_id"])}

    @_translate_errors
    def search(self, query: str, limit: int = 50, *, raw: bool = False) -> list[dict]:
        """Full-text search over prompts and outputs, best match first.

        The query is taken as plain words (all must appear; "a phrase" in double quotes; word* for
        a prefix), so any text is safe. raw=True passes SQLite FTS5 syntax through instead."""
        if self._empty:
            return []
        match = _fts_query(query, raw=raw)
        # Rank first, then snippets for the best `limit` only: snippet() over every match is slow.
        sql = """
            WITH best AS (
                SELECT rowid, rank FROM turns_fts WHERE turns_fts MATCH :match ORDER BY rank LIMIT :limit
            )
            SELECT t.session_id, t.id AS turn_id, t.idx, t.created_at,
                   coalesce(t.model, s.model) AS model,
                   snippet(turns_fts, -1, '**', '**', '…', 12) AS snippet
            FROM turns_fts
            JOIN best ON best.rowid = turns_fts.rowid
            JOIN turns t ON t.rowid = turns_fts.rowid
            JOIN sessions s ON s.id = t.session_id
            WHERE turns_fts MATCH :match
            ORDER BY best.rank, t.created_at DESC
        """
        try:
            return [dict(r) for r in self._rows(sql, {"match": match, "limit": int(limit)})]
        except sqlite3.OperationalError as e:
            if raw and _file_error(self.path, e) is None:
                raise SandboxError(f"cannot search for {query!r}: {e} (drop --raw to search for plain words)") from None
            raise

    @_translate_errors
    def latest_session_id(self) -> str | None:
        if self._empty:
            return None
        row = self.db.execute("SELECT id FROM sessions ORDER BY created_at DESC, rowid DESC LIMIT 1").fetchone()
        return row[0] if row else None

    def _rows(self, sql: str, params: list | dict) -> list[sqlite3.Row]:
        cursor = self.db.conn.cursor()
        cursor.row_factory = sqlite3.Row
        return cursor.execute(sql, params).fetchall()


def export_problems(doc: Any) -> list[str]:
    """What keeps doc from being a `log export --format json` document (all problems at once)."""
    if not isinstance(doc, dict):
        return ['expected a JSON object with "session" and "turns"']
    problems = []
    session, turns = doc.get("session"), doc.get("turns")
    if not isinstance(session, dict):
        problems.append('"session" must be an object')
    else:
        if not isinstance(session.get("session_id"), str) or not session.get("session_id"):
            problems.append('"session.session_id" must be a non-empty string')
        if not isinstance(session.get("settings", {}), (dict, type(None))):
            problems.append('"session.settings" must be an object')
    if not isinstance(turns, list):
        problems.append('"turns" must be a list')
    else:
        for i, turn in enumerate(turns):
            if not isinstance(turn, dict):
                problems.append(f"turns[{i}] must be an object")
                continue
            for key in ("turn_id", "idx", "created_at"):
                if turn.get(key) is None:
                    problems.append(f'turns[{i}] has no "{key}"')
    return problems


def _check_header(path: Path, readonly: bool) -> None:
    """Refuse a file that is not SQLite before SQLite (or we) write anything to it."""
    try:
        with path.open("rb") as f:
            header = f.read(len(SQLITE_MAGIC))
    except FileNotFoundError:
        if readonly:
            raise SandboxError(f"there is no log database at {path} yet; it is created by the first logged turn") from None
        return
    except IsADirectoryError:
        raise SandboxError(f"the log database path {path} is a directory; move it or set SANDBOX_HOME to another folder") from None
    except OSError as e:
        raise SandboxError(f"cannot read the log database {path} ({e.strerror}); check its permissions") from None
    if header and header != SQLITE_MAGIC:
        raise corrupt_error(path, "not an SQLite file")


_WORD = re.compile(r'"([^"]*)"|(\S+)')


def _fts_query(query: str, *, raw: bool) -> str:
    """Plain words -> an FTS5 query that cannot be a syntax error: every word becomes a quoted
    string (so AND, NOT, -, : and quotes are just text), "phrases" stay phrases, word* stays a
    prefix search."""
    if raw:
        if not query.strip():
            raise SandboxError("the search query is empty; give some words to look for")
        return query
    terms = []
    for phrase, word in _WORD.findall(query):
        text = phrase if phrase else word
        prefix = not phrase and text.endswith("*")
        text = text.replace('"', "").rstrip("*" if prefix else "")
        if not re.search(r"\w", text):
            continue  # only punctuation: the tokenizer would find no word in it
        terms.append('"' + text + '"' + ("*" if prefix else ""))
    if not terms:
        raise SandboxError(f"the search query {query!r} has no words to look for")
    return " ".join(terms)


def _title(text: str) -> str:
    one_line = " ".join(text.split())
    return one_line if len(one_line) <= TITLE_CHARS else one_line[: TITLE_CHARS - 1] + "…"


@functools.lru_cache(maxsize=1)
def _llama_cpp_version() -> str | None:
    # From package metadata: importing llama_cpp here would load the C library.
    try:
        return metadata.version("llama-cpp-python")
    except metadata.PackageNotFoundError:
        return None
