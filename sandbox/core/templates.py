"""Prompt templates: prompts/*.toml (docs/ARCHITECTURE.md §5), loaded, checked and looked up by name.

A template file is checked as a whole: every problem (unknown key, wrong type, unknown variable,
bad regex, missing data file) is collected and raised together as one ConfigError naming the file.
"""

from __future__ import annotations

import difflib
import json
import re
import string
import sys
from dataclasses import dataclass, field
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from sandbox.core import paths
from sandbox.core.errors import ConfigError, SandboxError

KEYS = (
    "name", "description", "system", "template", "cot_trigger", "answer_pattern", "answer_choices",
    "data", "output_format", "examples",
)
EXAMPLE_KEYS = ("input", "output", "cot")
VARIABLES = ("input",)
_STRING_KEYS = ("name", "description", "system", "template", "cot_trigger", "answer_pattern", "data")


@dataclass(frozen=True)
class Example:
    """One few-shot example. `cot` is the worked reasoning used instead of `output` by the CoT
    strategies; `enabled` lets the UI switch an example off without deleting it."""

    input: str
    output: str
    cot: str | None = None
    enabled: bool = True

    def to_dict(self) -> dict:
        return {"input": self.input, "output": self.output, "cot": self.cot, "enabled": self.enabled}


@dataclass(frozen=True)
class DataRow:
    """One labelled line of a template's data file (prompts/data/*.jsonl)."""

    line: int
    input: str
    expected: str


@dataclass(frozen=True)
class Template:
    name: str
    path: Path | None = None
    source: str = "inline"  # "user" | "packaged" | "file" | "inline"
    description: str = ""
    system: str | None = None
    template: str = "{input}"
    cot_trigger: str | None = None
    answer_pattern: str | None = None
    answer_choices: tuple[str, ...] | None = None
    data: str | None = None
    output_format: str | dict | None = None
    examples: tuple[Example, ...] = field(default_factory=tuple)

    def format(self, input: str) -> str:
        """The template with `{input}` filled in (`{{` and `}}` give literal braces)."""
        return self.template.format(input=input)

    @property
    def output_format_kind(self) -> str | None:
        """"json", "schema" (a JSON-schema table), "regex", or None."""
        if self.output_format is None:
            return None
        if isinstance(self.output_format, dict):
            return "schema"
        return "json" if self.output_format == "json" else "regex"

    def data_path(self) -> Path | None:
        """The data file, relative to the template's own directory."""
        if not self.data:
            return None
        p = Path(self.data).expanduser()
        if not p.is_absolute() and self.path is not None:
            p = self.path.parent / p
        return p

    def load_data(self) -> list[DataRow]:
        p = self.data_path()
        if p is None:
            raise SandboxError(f"template {self.name!r} has no data file; set data = \"data/NAME.jsonl\" in {self.path}")
        return load_data(p)

    def to_dict(self) -> dict:
        return {
            "name": self.name, "path": str(self.path) if self.path else None, "source": self.source,
            "description": self.description, "system": self.system, "template": self.template,
            "cot_trigger": self.cot_trigger, "answer_pattern": self.answer_pattern,
            "answer_choices": list(self.answer_choices) if self.answer_choices else None,
            "data": self.data, "data_path": str(self.data_path()) if self.data else None,
            "output_format": self.output_format,
            "examples": [{k: v for k, v in e.to_dict().items() if k != "enabled"} for e in self.examples],
        }


@dataclass(frozen=True)
class TemplateInfo:
    """One row of `list_templates()`. A template that fails to load is listed with its error."""

    name: str
    description: str
    source: str
    path: Path
    n_examples: int
    data: str | None
    data_lines: int | None
    shadowed: bool = False  # a user template of the same name wins
    error: str | None = None
    internal: bool = False  # used by sandbox itself (summary memory), not a prompt to pick

    @property
    def pickable(self) -> bool:
        """Offered in template pickers: loads, is not shadowed, is a prompt for the user."""
        return not (self.error or self.shadowed or self.internal)

    def to_dict(self) -> dict:
        return {
            "name": self.name, "description": self.description, "source": self.source, "path": str(self.path),
            "n_examples": self.n_examples, "data": self.data, "data_lines": self.data_lines,
            "shadowed": self.shadowed, "error": self.error, "internal": self.internal,
        }


# ---------------------------------------------------------------------------------------- parsing


def template_variables(text: str) -> list[str]:
    """Names of the `{fields}` in a template string; raises ValueError on an unbalanced brace."""
    names = []
    for _literal, name, spec, conversion in string.Formatter().parse(text):
        if name is None:
            continue
        if spec or conversion:
            names.append(name + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else ""))
        else:
            names.append(name)
    return names


def _unknown(key: str, known) -> str:
    close = difflib.get_close_matches(key, known, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else f" (known: {', '.join(known)})"
    return f"unknown key {key!r}{hint}"


def _check_regex(key: str, value: str, problems: list[str]) -> None:
    try:
        re.compile(value)
    except re.error as e:
        problems.append(f"{key}: invalid regular expression {value!r} ({e})")


def parse(data: dict, path: Path, source: str = "file") -> Template:
    """Check a parsed TOML document; raise ConfigError with every problem found."""
    problems: list[str] = []
    problems += [_unknown(k, KEYS) for k in data if k not in KEYS]
    for k in _STRING_KEYS:
        if k in data and not isinstance(data[k], str):
            problems.append(f"{k} must be a string, not {type(data[k]).__name__}")
    text = lambda k, default=None: data[k] if isinstance(data.get(k), str) else default  # noqa: E731

    template = text("template", "{input}")
    try:
        variables = template_variables(template)
    except ValueError as e:
        problems.append(f"template: {e}; write {{{{ or }}}} for a literal brace")
    else:
        for v in variables:
            if v not in VARIABLES:
                shown = "{}" if v == "" else "{" + v + "}"
                problems.append(
                    f"template uses unknown variable {shown}; only {{input}} is filled in (write {{{{ and }}}} for literal braces)"
                )
        if "input" not in variables and "template" in data:
            problems.append("template does not use {input}, so the user's text would be dropped; add {input}")

    pattern = text("answer_pattern")
    if pattern is not None:
        _check_regex("answer_pattern", pattern, problems)

    choices = None
    if "answer_choices" in data:
        raw = data["answer_choices"]
        if not isinstance(raw, list) or not raw or not all(isinstance(c, str) and c.strip() for c in raw):
            problems.append("answer_choices must be a non-empty list of non-empty strings")
        else:
            folded = [c.strip().casefold() for c in raw]
            dupes = sorted({c for c in folded if folded.count(c) > 1})
            if dupes:
                problems.append(f"answer_choices repeats {', '.join(dupes)} (choices are compared ignoring case)")
            choices = tuple(c.strip() for c in raw)

    output_format = data.get("output_format")
    if output_format is not None:
        if isinstance(output_format, str):
            if output_format != "json":
                _check_regex("output_format", output_format, problems)
        elif not isinstance(output_format, dict):
            problems.append('output_format must be "json", a JSON-schema table, or a regular expression')

    examples = []
    raw_examples = data.get("examples", [])
    if not isinstance(raw_examples, list):
        problems.append("examples must be an array of tables: write [[examples]] before each one")
        raw_examples = []
    for i, ex in enumerate(raw_examples, 1):
        key = f"examples[{i}]"
        if not isinstance(ex, dict):
            problems.append(f"{key} must be a table with input and output")
            continue
        before = len(problems)
        problems += [f"{key}: {_unknown(k, EXAMPLE_KEYS)}" for k in ex if k not in EXAMPLE_KEYS]
        for k in ("input", "output"):
            if k not in ex:
                problems.append(f"{key}: {k} is missing")
        for k in EXAMPLE_KEYS:
            if k in ex and not isinstance(ex[k], str):
                problems.append(f"{key}.{k} must be a string, not {type(ex[k]).__name__}")
        if len(problems) == before:
            examples.append(Example(input=ex["input"], output=ex["output"], cot=ex.get("cot")))

    name = text("name", path.stem)
    if not name.strip():
        problems.append("name is empty")
    tpl = Template(
        name=name, path=path, source=source, description=text("description", ""), system=text("system"),
        template=template, cot_trigger=text("cot_trigger"), answer_pattern=pattern, answer_choices=choices,
        data=text("data"), output_format=output_format, examples=tuple(examples),
    )
    if tpl.data and not tpl.data_path().is_file():
        problems.append(f"data = {tpl.data!r}: no such file {tpl.data_path()}")
    if problems:
        raise ConfigError(path, problems)
    return tpl


def load_file(path: Path | str, source: str = "file") -> Template:
    path = Path(path).expanduser()
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SandboxError(f"template file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as e:
        raise SandboxError(f"cannot read template file {path}: {e}") from None
    try:
        data = tomllib.loads(raw)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(path, [f"not valid TOML: {e}"]) from None
    return parse(data, path, source)


def load_data(path: Path | str) -> list[DataRow]:
    """A JSONL file of {"input": ..., "expected": ...} lines; blank lines are skipped."""
    path = Path(path).expanduser()
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise SandboxError(f"data file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as e:
        raise SandboxError(f"cannot read data file {path}: {e}") from None
    rows, problems = [], []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            problems.append(f"line {n}: not valid JSON ({e.msg})")
            continue
        if not isinstance(obj, dict) or not isinstance(obj.get("input"), str):
            problems.append(f'line {n}: needs {{"input": "...", "expected": ...}}')
            continue
        expected = obj.get("expected")
        if isinstance(expected, bool) or not isinstance(expected, (str, int, float)):
            problems.append(f"line {n}: expected must be a string or a number")
            continue
        rows.append(DataRow(line=n, input=obj["input"], expected=str(expected)))
    if problems:
        raise ConfigError(path, problems)
    if not rows:
        raise SandboxError(f"data file {path} has no lines")
    return rows


# ---------------------------------------------------------------------------------------- lookup


def _dirs() -> list[tuple[str, Path]]:
    return [("user", paths.user_prompts()), ("packaged", paths.packaged_prompts())]


def _declared_name(path: Path) -> str:
    """The `name` a file declares, read leniently (a broken file falls back to its stem)."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return path.stem
    name = data.get("name")
    return name if isinstance(name, str) and name.strip() else path.stem


def _looks_like_path(ref: str) -> bool:
    return ref.endswith(".toml") or "/" in ref or "\\" in ref


def find(ref: str) -> Path:
    """The file for a template name (user dir first, then packaged) or a path to a .toml file."""
    if _looks_like_path(ref):
        p = Path(ref).expanduser()
        if not p.is_file():
            raise SandboxError(f"template file {p} does not exist")
        return p
    for _source, d in _dirs():
        p = d / f"{ref}.toml"
        if p.is_file():
            return p
    for _source, d in _dirs():
        for p in sorted(d.glob("*.toml")) if d.is_dir() else []:
            if _declared_name(p) == ref:
                return p
    known = sorted({i.name for i in list_templates()})
    raise SandboxError(
        f"no template named {ref!r}; known: {', '.join(known) or 'none'} "
        f"(put your own in {paths.user_prompts()} or pass a path to a .toml file)"
    )


def load(ref: str) -> Template:
    """Load a template by name or path."""
    p = find(ref)
    return load_file(p, source=_source_of(p))


def _source_of(p: Path) -> str:
    rp = p.resolve()
    for source, d in _dirs():
        if rp.parent == d.resolve():
            return source
    return "file"


def _count_lines(p: Path) -> int | None:
    try:
        with p.open(encoding="utf-8") as f:
            return sum(1 for line in f if line.strip())
    except (OSError, UnicodeDecodeError):
        return None


INTERNAL = {"memory-summary"}  # templates sandbox uses itself; listed, but not offered in pickers


def list_templates() -> list[TemplateInfo]:
    """Every template in the user dir and the packaged prompts, user first, each sorted by name."""
    out: list[TemplateInfo] = []
    seen: set[str] = set()
    for source, d in _dirs():
        rows = []
        for p in sorted(d.glob("*.toml")) if d.is_dir() else []:
            try:
                t = load_file(p, source)
            except SandboxError as e:
                rows.append(TemplateInfo(_declared_name(p), "", source, p, 0, None, None, error=str(e)))
                continue
            dp = t.data_path()
            rows.append(TemplateInfo(
                t.name, t.description, source, p, len(t.examples), t.data, _count_lines(dp) if dp else None,
                internal=t.name in INTERNAL,
            ))
        rows.sort(key=lambda r: r.name)
        for r in rows:
            out.append(r if r.name not in seen else TemplateInfo(**{**r.__dict__, "shadowed": True}))
        seen |= {r.name for r in rows}
    return out
