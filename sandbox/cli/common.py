"""Pieces shared by the command modules: option groups and output helpers."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from contextlib import contextmanager
from pathlib import Path


class Parser(argparse.ArgumentParser):
    """argparse with its mistakes as one line, like every other error (the usage is in --help)."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def add_model_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", metavar="NAME", help="model name from models.toml (default: its `default`)")
    p.add_argument("--models", metavar="FILE", help="another models.toml (or set SANDBOX_MODELS)")


def add_sampling_knobs(g, seed_help: str) -> None:
    """The seven sampling parameters of SamplingParams, as flags (read back by sampling_overrides)."""
    from sandbox.core.limits import flag  # every numeric flag's type: one range table, in core
    g.add_argument("--temperature", type=flag("temperature"), metavar="T")
    g.add_argument("--top-p", type=flag("top_p"), metavar="P")
    g.add_argument("--top-k", type=flag("top_k"), metavar="K")
    g.add_argument("--min-p", type=flag("min_p"), metavar="P")
    g.add_argument("--repeat-penalty", type=flag("repeat_penalty"), metavar="R")
    g.add_argument("--seed", type=flag("seed"), metavar="S", help=seed_help)
    g.add_argument("--max-tokens", type=flag("max_tokens"), metavar="N")


def add_sampling_args(p: argparse.ArgumentParser) -> None:
    from sandbox.core.limits import flag

    g = p.add_argument_group("sampling (defaults come from models.toml)")
    add_sampling_knobs(g, "random seed (default: a fresh one, logged)")
    g.add_argument("--n-ctx", type=flag("n_ctx"), metavar="N", help="context window in tokens")
    g.add_argument("--ignore-eos", action="store_true", help="never stop at end-of-sequence: generate exactly --max-tokens")


def sampling_overrides(args: argparse.Namespace) -> dict:
    return {
        k: getattr(args, k, None)
        for k in ("temperature", "top_p", "top_k", "min_p", "repeat_penalty", "seed", "max_tokens")
    }


# Line separators that JSON allows raw but line-based readers split on.
_LINE_BREAKERS = str.maketrans({"\u2028": "\\u2028", "\u2029": "\\u2029", "\u0085": "\\u0085"})


def print_json(obj) -> None:
    """One JSON document on one line (safe for JSONL readers), then flush."""
    import json  # not at import: the TUI, which loads this module too, never prints JSON

    sys.stdout.write(json.dumps(obj, ensure_ascii=False).translate(_LINE_BREAKERS) + "\n")
    sys.stdout.flush()


def decode_text(data: bytes, label: str, reader: str) -> str:
    """`data` as UTF-8 text, or a one-line SandboxError naming `label` (a file, standard input)."""
    from sandbox.core.errors import SandboxError

    if b"\0" in data:
        raise SandboxError(f"{label} looks binary (it contains NUL bytes); {reader} UTF-8 text")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise SandboxError(f"{label} is not valid UTF-8 (bad byte at offset {e.start}); convert it to UTF-8 first") from None
    return text.removeprefix("\ufeff")  # a byte-order mark is file metadata, not text


def read_text(name: str, reader: str) -> str:
    """The UTF-8 text of file `name`, or of stdin for "-". `reader` names the command for the
    error ("sandbox tokens counts"). Any problem is a one-line SandboxError naming the file."""
    from sandbox.core.errors import SandboxError

    label = "standard input" if name == "-" else name
    if name == "-":
        data = sys.stdin.buffer.read()
    else:
        try:
            data = Path(name).read_bytes()
        except FileNotFoundError:
            raise SandboxError(f"{name} does not exist; pass a text file, or - to read standard input") from None
        except IsADirectoryError:
            raise SandboxError(f"{name} is a directory; pass a text file") from None
        except OSError as e:
            raise SandboxError(f"cannot read {name}: {e.strerror}") from None
    return decode_text(data, label, reader)


@contextmanager
def ctrl_c_cancels(cancel: threading.Event):
    """First Ctrl+C sets `cancel` (generation stops at the next token and the partial turn is
    still logged); a second one interrupts outright."""
    def handler(signum, frame):
        if cancel.is_set():
            raise KeyboardInterrupt
        cancel.set()

    try:
        previous = signal.signal(signal.SIGINT, handler)
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
