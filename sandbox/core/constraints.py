"""Constrained output: read a GBNF grammar or a JSON schema from a file, with errors that name the
file and the position. The engine enforces the grammar while decoding; the output guard's format
check verifies a schema afterwards.

A bare name that is not a file is looked up among the shipped examples: `yes-no` or `yes-no.gbnf`
-> prompts/grammars/yes-no.gbnf, `contact` -> prompts/schemas/contact.json."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from sandbox.core import paths
from sandbox.core.errors import SandboxError


@dataclass(frozen=True)
class Constraint:
    """What a turn is constrained to: `grammar` (GBNF, what the engine enforces) and, for a schema,
    the schema itself (what the guard checks). `source` names the file in messages."""

    grammar: str
    source: str
    schema: dict | None = None


def _resolve(name: str, folder: str, suffix: str) -> Path:
    path = Path(name).expanduser()
    if path.is_file():
        return path
    if path.parent == Path(".") and not path.exists():
        for base in (paths.user_prompts(), paths.packaged_prompts()):
            shipped = base / folder / (name if name.endswith(suffix) else name + suffix)
            if shipped.is_file():
                return shipped
    if path.is_dir():
        raise SandboxError(f"{name} is a directory; pass a {suffix} file")
    raise SandboxError(f"{name} does not exist; pass a {suffix} file (shipped examples are in prompts/{folder}/)")


def _read(path: Path, label: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise SandboxError(f"{label} is not UTF-8 text (bad byte at offset {e.start})") from None
    except OSError as e:
        raise SandboxError(f"cannot read {label}: {e.strerror}") from None


def read_grammar(name: str) -> tuple[str, str]:
    """(GBNF text, file name for messages)."""
    path = _resolve(name, "grammars", ".gbnf")
    text = _read(path, str(path))
    if not text.strip():
        raise SandboxError(f"{path} is empty; a grammar needs at least a `root ::= ...` rule")
    return text, str(path)


def read_schema(name: str) -> tuple[dict, str]:
    """(schema, file name); invalid JSON is an error with its line and column."""
    path = _resolve(name, "schemas", ".json")
    text = _read(path, str(path))
    try:
        schema = json.loads(text)
    except json.JSONDecodeError as e:
        raise SandboxError(f"{path} is not valid JSON: {e.msg} at line {e.lineno}, column {e.colno}") from None
    if not isinstance(schema, dict):
        raise SandboxError(f"{path} is not a JSON schema: the top level must be an object, like {{\"type\": \"object\"}}")
    return schema, str(path)


def grammar_position(text: str, problem: str) -> tuple[int, int] | None:
    """Line and column (1-based) of llama.cpp's parse error, found from the text it quotes ("... at
    <rest of the line>"); the end of the file for "unexpected end of input"."""
    if "end of input" in problem or problem.endswith("the end of the grammar"):
        lines = text.rstrip("\n").split("\n")
        return len(lines), len(lines[-1]) + 1
    undefined = re.search(r"[Uu]ndefined rule identifier '([\w-]+)'", problem)
    if undefined:  # its first use on the right-hand side of a rule
        m = re.search(rf"::=.*?(?<![\w-]){re.escape(undefined.group(1))}(?![\w-])", text)
        if m:
            i = m.end() - len(undefined.group(1))
            return text.count("\n", 0, i) + 1, i - (text.rfind("\n", 0, i) + 1) + 1
    if " at " not in problem:
        return None
    quoted = problem.rsplit(" at ", 1)[1].strip()
    if len(quoted) >= 2 and quoted[0] == quoted[-1] and quoted[0] in "'\"":
        quoted = quoted[1:-1]
    if not quoted:
        return None
    i = text.find(quoted)
    if i < 0:
        return None
    line = text.count("\n", 0, i) + 1
    return line, i - (text.rfind("\n", 0, i) + 1) + 1


def check_grammar(engine, text: str, source: str) -> None:
    """Parse `text` with the engine now (not mid-turn); a failure names the file and the position.
    An engine without grammar support says so (backend.Unavailable), before anything is read further."""
    from sandbox.core.backend import Unavailable

    try:
        engine.check_grammar(text)
    except Unavailable:
        raise
    except SandboxError as e:
        problem = str(e).removeprefix("the grammar does not parse: ")
        where = grammar_position(text, problem)
        at = f" at line {where[0]}, column {where[1]}" if where else ""
        raise SandboxError(f"{source}: the grammar does not parse{at}: {problem}") from None


def load(engine, *, grammar: str | None = None, json_schema: str | None = None) -> Constraint | None:
    """The constraint named by `--grammar FILE` / `--json-schema FILE` (one of them), checked."""
    if grammar and json_schema:
        raise SandboxError("--grammar and --json-schema cannot be combined; a schema is turned into its own grammar")
    if grammar:
        text, source = read_grammar(grammar)
        check_grammar(engine, text, source)
        return Constraint(text, source)
    if json_schema:
        schema, source = read_schema(json_schema)
        try:
            text = engine.json_schema_grammar(schema)
        except SandboxError as e:
            raise SandboxError(f"{source}: {e}") from None
        check_grammar(engine, text, source)
        return Constraint(text, source, schema)
    return None


def from_template(engine, template, strategy: str) -> Constraint:
    """What a template's own output contract constrains to: its JSON schema, any JSON, or (for a
    direct answer, not chain-of-thought) one of its answer choices."""
    kind = template.output_format_kind
    if kind == "schema":
        return Constraint(engine.json_schema_grammar(template.output_format), f"template {template.name}",
                          template.output_format)
    if kind == "json":
        text, source = read_grammar("json")
        return Constraint(text, source)
    if template.answer_choices and strategy in ("zero-shot", "few-shot"):
        alternatives = " | ".join(json.dumps(c) for c in template.answer_choices)
        grammar = f"root ::= {alternatives}\n"
        check_grammar(engine, grammar, f"template {template.name}")
        return Constraint(grammar, f"template {template.name}")
    why = " (its answer choices only constrain a direct answer, not chain-of-thought)" if template.answer_choices else ""
    raise SandboxError(f"template {template.name} has nothing to constrain the reply to{why}: it needs output_format = "
                       "\"json\" or a JSON-schema table, or answer_choices")
