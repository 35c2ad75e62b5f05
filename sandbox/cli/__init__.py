"""`sandbox` command line: parse, call core, print. Each command group lives in its own module
with a `register(subparsers)` function; modules import core lazily so `--help` and `--version`
never load a model, and headless commands never import Textual."""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from sandbox import __version__
from sandbox.core.errors import SandboxError

# Command modules, in the order `sandbox --help` lists them.
COMMAND_MODULES = ["tui", "run", "tokens", "prices", "guard", "log", "replay", "eval", "templates", "models", "bench", "score",
                   "memtest", "embed", "probe"]


def build_parser(modules: list[str] = COMMAND_MODULES) -> argparse.ArgumentParser:
    from sandbox.cli.common import Parser

    parser = Parser(
        prog="sandbox",
        description="A terminal workbench for prompt engineering on a local GGUF model. "
        "With no command, opens the TUI on the default model.",
    )
    parser.add_argument("--version", action="version", version=f"sandbox {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in modules:
        try:
            module = importlib.import_module(f"sandbox.cli.{name}")
        except ModuleNotFoundError as e:
            if e.name == f"sandbox.cli.{name}":
                continue  # a command group not built yet
            raise
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    given = argv if argv is not None else sys.argv[1:]
    for arg in given:
        try:
            arg.encode("utf-8")
        except UnicodeEncodeError:  # bytes the locale could not decode arrive as lone surrogates
            print(f"sandbox: error: the argument {arg.encode('utf-8', 'replace').decode()!r} is not valid UTF-8; "
                  f"pass UTF-8 text", file=sys.stderr)
            return 2
    # Opening the TUI needs only its own command: the other fourteen modules' imports (~50 ms)
    # would delay its first frame.
    parser = build_parser(["tui"] if not given or given[0] == "tui" else COMMAND_MODULES)
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        args = parser.parse_args(["tui", *given])
    try:
        return int(args.func(args) or 0)
    except SandboxError as e:
        print(f"sandbox: error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("sandbox: cancelled", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


def entry() -> None:
    """The `sandbox` program (the console script and `python -m sandbox`): `main`, then a quick exit.

    A normal interpreter exit tears the whole heap down first: a full garbage collection of
    everything loaded (the price table, the guard's rules and encoder, the tokenizers) and the Rust
    tokenizers' maps freed one by one, ~0.35 s of `sandbox run` on a 2-core machine, after the
    reply was printed. Little is left to do by then: the log's writes are committed when each turn
    ends, its connections are closed here (so the WAL is folded into sandbox.db), and sandbox
    registers no exit hooks. So output is flushed and the process ends at once;
    threads still loading in the background (the encoder when a bad flag ended a command early)
    end with it, with no C++ destructor run to abort on. An exception still exits the normal way."""
    code = main()
    store = sys.modules.get("sandbox.core.store.db")  # only if this command opened the log
    if store is not None:
        store.close_all()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a reader that went away, or a closed stream: nothing to flush to
            pass
    os._exit(code)
