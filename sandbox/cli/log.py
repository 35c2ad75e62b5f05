"""`sandbox log ...`: browse, search, export and import the SQLite log. Reading commands open the
database read-only, so they never change it (nor create it)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from sandbox.cli.common import print_json
from sandbox.core.errors import SandboxError
from sandbox.core.limits import flag


def register(sub) -> None:
    p = sub.add_parser("log", help="browse, search, export and import logged sessions",
                       description="The log of every session and turn (SQLite; `sandbox log path` prints where).")
    p.set_defaults(func=lambda args: p.print_help() or 0)
    cmds = p.add_subparsers(dest="log_command", metavar="SUBCOMMAND")

    c = cmds.add_parser("path", help="print the path of the log database (it may not exist yet)")
    c.set_defaults(func=cmd_path)

    c = cmds.add_parser("list", help="logged sessions, newest first")
    c.add_argument("--json", action="store_true", help="one JSON list")
    c.add_argument("--limit", type=flag("limit"), default=50, metavar="N", help="at most N sessions (default 50)")
    c.add_argument("--search", metavar="TEXT", help="only sessions whose title or turns contain TEXT")
    c.set_defaults(func=cmd_list)

    c = cmds.add_parser("show", help="one session: its settings and every turn")
    c.add_argument("id", metavar="ID", help="session id, or a unique prefix of at least 4 characters")
    c.add_argument("--json", action="store_true", help='{"session": ..., "turns": [turn objects]}')
    c.set_defaults(func=cmd_show)

    c = cmds.add_parser("search", help="full-text search over prompts and outputs")
    c.add_argument("query", metavar="QUERY",
                   help='words that must all appear; "a phrase" in quotes; word* for a prefix')
    c.add_argument("--json", action="store_true", help="one JSON list of matches")
    c.add_argument("--limit", type=flag("limit"), default=50, metavar="N")
    c.add_argument("--raw", action="store_true", help="QUERY is SQLite FTS5 syntax (AND, OR, NOT, NEAR)")
    c.set_defaults(func=cmd_search)

    c = cmds.add_parser("export", help="one session as a Markdown document or as JSON")
    c.add_argument("id", metavar="ID")
    c.add_argument("--format", choices=["md", "json"], required=True)
    c.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of stdout")
    c.set_defaults(func=cmd_export)

    c = cmds.add_parser("import", help="add a session from a `log export --format json` file")
    c.add_argument("file", metavar="FILE", help="the JSON export, or - for stdin")
    c.add_argument("--new-id", action="store_true", help="give the session and its turns new ids (to keep both copies)")
    c.set_defaults(func=cmd_import)

    c = cmds.add_parser("migrate", help="upgrade the log database to this version of sandbox")
    c.set_defaults(func=cmd_migrate)




def _db_path() -> Path:
    from sandbox.core import paths

    return paths.db_path()


def _reader():
    """The store opened read-only, or None when no database exists yet."""
    from sandbox.core.store import Store

    path = _db_path()
    if not path.exists():
        return None
    return Store.open(path, readonly=True)


def _no_session(id: str) -> SandboxError:
    return SandboxError(f"no session with id {id!r}; the log is empty (run `sandbox run` or open the TUI to start one)")


def cmd_path(args) -> int:
    print(_db_path())
    return 0


def cmd_list(args) -> int:
    store = _reader()
    sessions = []
    if store:
        with store:
            sessions = store.sessions(limit=args.limit, search=args.search)
    if args.json:
        print_json(sessions)
        return 0
    if not sessions:
        print("no sessions logged yet" if not args.search else f"no session matches {args.search!r}")
        return 0
    from sandbox.core import numbers

    ids = _short_ids([s["session_id"] for s in sessions])
    table = [("ID", "CREATED", "MODEL", "TURNS", "TITLE")] + [
        (ids[s["session_id"]], numbers.local_time(s["created_at"]), s["model"] or "", str(s["turns"]), s["title"] or "")
        for s in sessions
    ]
    widths = [max(len(row[i]) for row in table) for i in range(4)]
    for row in table:
        print("  ".join([row[0].ljust(widths[0]), row[1].ljust(widths[1]), row[2].ljust(widths[2]),
                         row[3].rjust(widths[3]), row[4]]).rstrip())
    return 0


def _short_ids(ids: list[str], length: int = 8) -> dict[str, str]:
    """The shortest prefix (at least `length`) that tells the listed ids apart, like git."""
    while length < max((len(i) for i in ids), default=0):
        if len({i[:length] for i in ids}) == len(ids):
            break
        length += 2
    return {i: i[:length] for i in ids}


def _export(id: str) -> dict:
    store = _reader()
    if store is None:
        raise _no_session(id)
    with store:
        return store.export_session(id)


def cmd_show(args) -> int:
    doc = _export(args.id)
    if args.json:
        print_json(doc)
    else:
        from sandbox.core.store.render import session_transcript

        sys.stdout.write(session_transcript(doc))
    return 0


def cmd_search(args) -> int:
    store = _reader()
    hits = []
    if store:
        with store:
            hits = store.search(args.query, limit=args.limit, raw=args.raw)
    if args.json:
        print_json(hits)
        return 0
    if not hits:
        print(f"nothing matches {args.query!r}")
        return 0
    from sandbox.core import numbers

    ids = _short_ids(sorted({h["session_id"] for h in hits}))
    for h in hits:
        print(f"{ids[h['session_id']]} #{h['idx']}  {numbers.local_time(h['created_at'])}  {h['model']}  {' '.join(h['snippet'].split())}")
    return 0


def cmd_export(args) -> int:
    doc = _export(args.id)
    if args.format == "json":
        text = json.dumps(doc, ensure_ascii=False, indent=2) + "\n"
    else:
        from sandbox.core.store.render import session_markdown

        text = session_markdown(doc)
    if not args.output or args.output == "-":
        sys.stdout.write(text)
        return 0
    out = Path(args.output).expanduser()
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as e:
        raise SandboxError(f"cannot write {out} ({e.strerror}); choose another -o FILE") from None
    print(f"wrote session {doc['session']['session_id']} to {out}", file=sys.stderr)
    return 0


def cmd_import(args) -> int:
    from sandbox.core.store import Store

    from sandbox.cli.common import read_text

    source = "stdin" if args.file == "-" else args.file
    text = read_text(args.file if args.file == "-" else str(Path(args.file).expanduser()), "sandbox log import reads")
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as e:
        raise SandboxError(f"{source} is not valid JSON (line {e.lineno}, column {e.colno}: {e.msg})") from None
    with Store.open() as store:
        session_id = store.import_session(doc, new_ids=args.new_id, source=source)
    print(f"imported session {session_id} ({len(doc['turns'])} turns) into {store.path}", file=sys.stderr)
    print(session_id)
    return 0


def cmd_migrate(args) -> int:
    from sandbox.core.store import Store

    with Store.open() as store:
        applied = store.migrated
    if applied:
        print(f"upgraded {store.path}: applied {', '.join(applied)}")
    else:
        print(f"{store.path} is up to date")
    return 0
