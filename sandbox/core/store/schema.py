"""The log database schema, as an ordered list of small named migrations (sqlite-utils `Migrations`).

Rules: a migration that has shipped is never edited or renamed; change the schema by appending a
new one. Columns are only ever added (docs/ARCHITECTURE.md §5 is a contract). The names recorded in
`_sqlite_migrations` are how `Store.open` tells an older database (pending names) from a newer one
(a recorded name this code does not know).
"""

from __future__ import annotations

from sqlite_utils import Database, Migrations

MIGRATION_SET = "sandbox"

migrations = Migrations(MIGRATION_SET)
MIGRATION_NAMES: list[str] = []


def migration(fn):
    MIGRATION_NAMES.append(fn.__name__)
    return migrations()(fn)


@migration
def m001_initial(db: Database) -> None:
    # The minimum tables of docs/ARCHITECTURE.md §5.
    db["sessions"].create(
        {
            "id": str,
            "created_at": str,
            "title": str,
            "model": str,
            "model_sha256": str,
            "settings_json": str,
            "parent_id": str,
        },
        pk="id",
    )
    db["turns"].create(
        {
            "id": str,
            "session_id": str,
            "idx": int,
            "created_at": str,
            "user_text": str,
            "strategy": str,
            "template": str,
            "rendered_prompt": str,
            "output": str,
            "answer": str,
            "votes_json": str,
            "params_json": str,
            "memory_json": str,
            "prompt_tokens": int,
            "cached_tokens": int,
            "completion_tokens": int,
            "ttft_ms": float,
            "total_ms": float,
            "tokens_per_s": float,
            "cost_json": str,
            "finish_reason": str,
            "blocked": int,
        },
        pk="id",
        foreign_keys=[("session_id", "sessions", "id")],
        not_null={"session_id", "idx"},
    )
    db["samples"].create(
        {
            "id": int,
            "turn_id": str,
            "idx": int,
            "seed": int,
            "output": str,
            "answer": str,
            "completion_tokens": int,
        },
        pk="id",
        foreign_keys=[("turn_id", "turns", "id")],
        not_null={"turn_id", "idx"},
    )
    db["guard_events"].create(
        {
            "id": int,
            "turn_id": str,
            "stage": str,
            "rule": str,
            "category": str,
            "action": str,
            "score": float,
            "detail": str,
        },
        pk="id",
        foreign_keys=[("turn_id", "turns", "id")],
        not_null={"turn_id", "stage"},
    )
    db["turns"].create_index(["session_id", "idx"])
    db["samples"].create_index(["turn_id"])
    db["guard_events"].create_index(["turn_id"])
    db["sessions"].create_index(["created_at"])
    # parent_id is deliberately not a foreign key: an imported re-run may arrive without its parent.


@migration
def m002_turns_fts(db: Database) -> None:
    db["turns"].enable_fts(["user_text", "output"], create_triggers=True)


@migration
def m003_run_metadata(db: Database) -> None:
    # What is needed to reproduce a run (versions, model file, seed) and to round-trip any turn
    # object exactly: keys without a column of their own are kept in extra_json.
    sessions = db["sessions"]
    for column, kind in (
        ("updated_at", str),
        ("llama_cpp_version", str),
        ("sandbox_version", str),
        ("model_path", str),
        ("n_ctx", int),
    ):
        sessions.add_column(column, kind)
    db.execute(
        "UPDATE sessions SET updated_at = max(created_at, coalesce("
        "(SELECT max(created_at) FROM turns WHERE turns.session_id = sessions.id), created_at))"
    )
    turns = db["turns"]
    for column, kind in (
        ("system", str),
        ("guard_json", str),
        ("load_ms", float),
        ("seed", int),
        ("model", str),
        ("extra_json", str),
    ):
        turns.add_column(column, kind)
    # Before this migration a turn's model was its session's.
    db.execute("UPDATE turns SET model = (SELECT model FROM sessions WHERE sessions.id = turns.session_id)")
    db["samples"].add_column("finish_reason", str)
    db["samples"].add_column("extra_json", str)
    for column, kind in (("span_start", int), ("span_end", int), ("extra_json", str)):
        db["guard_events"].add_column(column, kind)


@migration
def m004_turn_request(db: Database) -> None:
    # The TurnRequest that decided each turn, whole (grammar and schema as text): a re-run reads
    # it back instead of rebuilding the request from the result. NULL for turns logged before.
    db["turns"].add_column("request_json", str)


@migration
def m005_turn_embeddings(db: Database) -> None:
    # Retrieval memory: each past turn's sentence embedding, computed once per encoder model.
    db["turn_embeddings"].create(
        {"turn_id": str, "model": str, "vector": bytes},
        pk=("turn_id", "model"),
        foreign_keys=[("turn_id", "turns", "id")],
    )
