"""Eval suites: prompts/suites/NAME.toml (or a path), checked as a whole.

```toml
template = "math"                       # or templates = ["math", "my.toml"]
strategies = ["zero-shot", "cot"]
[[tests]]
vars = { input = "Tom has 3 apples and buys 4 more. How many apples?" }
assert = [{ type = "answer", value = "7" }, { type = "not-icontains", value = "sorry" }]
```

Optional keys: name, description, models, samples, repeat, seed, max_tokens, temperature,
cost_model, `assert` (checked on every test), and `data` (a labelled JSONL file, relative to the
suite: each line becomes a test with one `answer` assertion). Every problem is reported at once,
each naming the key it is about (ConfigError), like templates and models.toml.
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from sandbox.core import paths, templates
from sandbox.core.errors import ConfigError, SandboxError
from sandbox.core.sampling import LIMITS
from sandbox.core.strategies import MAX_SAMPLES, MIN_SAMPLES, STRATEGIES
from sandbox.core.templates import VARIABLES, _unknown

KEYS = ("name", "description", "template", "templates", "strategies", "models", "samples", "repeat", "seed",
        "max_tokens", "temperature", "cost_model", "assert", "data", "tests")
TEST_KEYS = ("vars", "assert", "description")
ASSERT_KEYS = ("type", "value")
TEXT_TYPES = ("equals", "contains", "icontains", "regex", "is-json", "json-schema", "answer")  # each has a not-*
LIMIT_TYPES = ("max-latency-ms", "max-cost-usd", "max-tokens", "perplexity-below")
ASSERT_TYPES = TEXT_TYPES + tuple(f"not-{t}" for t in TEXT_TYPES) + LIMIT_TYPES
MAX_REPEAT = 100


@dataclass(frozen=True)
class Assertion:
    type: str  # as written: "not-icontains"
    value: Any = None  # the string, number or JSON schema (a dict) it checks against
    where: str = ""  # "tests[3].assert[2]": where it was written, for reports

    @property
    def negated(self) -> bool:
        return self.type.startswith("not-")

    @property
    def base(self) -> str:
        return self.type[4:] if self.negated else self.type

    def label(self) -> str:
        if self.value is None:
            return self.type
        shown = "schema" if isinstance(self.value, dict) else repr(self.value)
        return f"{self.type} {shown}"

    def to_dict(self) -> dict:
        return {"type": self.type, "value": self.value}


@dataclass(frozen=True)
class Case:
    """One test: the variables filled into the template and what the reply must satisfy."""

    index: int
    vars: dict[str, str]
    asserts: tuple[Assertion, ...]
    description: str | None = None
    where: str = ""  # "tests[3]" or "math.jsonl line 7"

    @property
    def input(self) -> str:
        return self.vars["input"]

    @property
    def expected(self) -> str | None:
        """The first `answer` assertion's value (what the old eval called the label)."""
        return next((str(a.value) for a in self.asserts if a.type == "answer"), None)


@dataclass(frozen=True)
class Suite:
    name: str
    path: Path | None
    templates: tuple[templates.Template, ...]
    strategies: tuple[str, ...]
    cases: tuple[Case, ...]
    description: str = ""
    models: tuple[str | None, ...] = (None,)  # None: the models.toml default
    samples: int | None = None
    repeat: int = 1
    seed: int = 0
    max_tokens: int | None = None
    temperature: float | None = None
    cost_model: str | None = None

    @property
    def n(self) -> int:
        return len(self.cases)

    def needs_logprobs(self) -> bool:
        return any(a.type == "perplexity-below" for c in self.cases for a in c.asserts)

    def limited(self, limit: int | None) -> "Suite":
        if limit is None:
            return self
        return replace(self, cases=self.cases[:limit])


# ---------------------------------------------------------------------------------------- lookup


def suite_dirs() -> list[Path]:
    return [paths.user_prompts() / "suites", paths.packaged_prompts() / "suites"]


def find(ref: str) -> Path | None:
    """The suite file `ref` names (a path, or NAME in the user's then the packaged suites/), or None."""
    if ref.endswith(".toml") or "/" in ref or "\\" in ref:
        p = Path(ref).expanduser()
        return p if p.is_file() and is_suite_file(p) else None
    for d in suite_dirs():
        p = d / f"{ref}.toml"
        if p.is_file():
            return p
    return None


def is_suite_file(path: Path) -> bool:
    """A .toml is a suite (not a template) when it lives in a suites/ folder or has tests."""
    if path.parent.name == "suites":
        return True
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return False
    return "tests" in data or "strategies" in data


def list_suites() -> list[tuple[str, Path]]:
    """(name, path) of every suite, the user's first; a user suite shadows a packaged one."""
    out, seen = [], set()
    for d in suite_dirs():
        for p in sorted(d.glob("*.toml")) if d.is_dir() else []:
            if p.stem not in seen:
                seen.add(p.stem)
                out.append((p.stem, p))
    return out


def load(ref: str) -> Suite:
    path = find(ref)
    if path is None:
        known = ", ".join(name for name, _ in list_suites()) or "none"
        raise SandboxError(f"no suite named {ref!r}; known: {known} (put your own in {suite_dirs()[0]} or pass a path)")
    return load_file(path)


def load_file(path: Path | str) -> Suite:
    path = Path(path).expanduser()
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SandboxError(f"suite file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as e:
        raise SandboxError(f"cannot read suite file {path}: {e}") from None
    try:
        data = tomllib.loads(raw)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(path, [f"not valid TOML: {e}"]) from None
    return parse(data, path)


# ---------------------------------------------------------------------------------------- parsing


def parse(data: dict, path: Path) -> Suite:
    """Check a parsed suite; raise ConfigError with every problem found."""
    problems: list[str] = []
    problems += [_unknown(k, KEYS) for k in data if k not in KEYS]
    for k in ("name", "description", "cost_model", "data"):
        if k in data and not isinstance(data[k], str):
            problems.append(f"{k} must be a string, not {type(data[k]).__name__}")

    tpls = _templates(data, path, problems)
    strategies = _names(data, "strategies", problems, choices=STRATEGIES) or STRATEGIES
    models = tuple(_names(data, "models", problems) or (None,))
    samples = _int(data, "samples", MIN_SAMPLES, MAX_SAMPLES, problems)
    repeat = _int(data, "repeat", 1, MAX_REPEAT, problems) or 1
    seed = _int(data, "seed", *LIMITS["seed"], problems) or 0
    max_tokens = _int(data, "max_tokens", *LIMITS["max_tokens"], problems)
    temperature = data.get("temperature")
    if temperature is not None:
        lo, hi = LIMITS["temperature"]
        if isinstance(temperature, bool) or not isinstance(temperature, (int, float)) or not lo <= temperature <= hi:
            problems.append(f"temperature = {temperature!r} must be a number from {lo} to {hi}")
            temperature = None

    common = _asserts(data.get("assert", []), "assert", path, problems)
    cases: list[Case] = []
    raw_tests = data.get("tests", [])
    if not isinstance(raw_tests, list):
        problems.append("tests must be an array of tables: write [[tests]] before each one")
        raw_tests = []
    for i, t in enumerate(raw_tests, 1):
        case = _case(t, f"tests[{i}]", len(cases), common, path, problems)
        if case:
            cases.append(case)
    if isinstance(data.get("data"), str):
        data_path = Path(data["data"]).expanduser()
        if not data_path.is_absolute():
            data_path = path.parent / data_path
        try:
            cases += cases_from_data(data_path, common, start=len(cases))
        except ConfigError as e:
            problems += [f"data ({e.path}): {p}" for p in e.problems]
        except SandboxError as e:
            problems.append(f"data = {data['data']!r}: {e}")
    if not cases and not any(p.startswith(("tests", "data")) for p in problems):
        problems.append("the suite has no tests: add [[tests]] tables or data = \"FILE.jsonl\"")
    if problems:
        raise ConfigError(path, problems)
    name = data.get("name") if isinstance(data.get("name"), str) else path.stem
    return Suite(name=name, path=path, templates=tpls, strategies=tuple(strategies), cases=tuple(cases),
                 description=data.get("description", ""), models=models, samples=samples, repeat=repeat,
                 seed=seed, max_tokens=max_tokens, temperature=temperature, cost_model=data.get("cost_model"))


def from_template_data(template: str, data: str | Path | None = None) -> Suite:
    """The old `eval TEMPLATE [--data FILE]`: a labelled JSONL set as a suite of `answer` tests."""
    tpl = templates.load(template)
    data_path = Path(data).expanduser() if data is not None else tpl.data_path()
    if data_path is None:
        raise SandboxError(
            f"template {tpl.name!r} has no data file; pass --data FILE.jsonl (lines of {{\"input\": ..., \"expected\": ...}})"
        )
    cases = cases_from_data(data_path, ())
    choices = tpl.answer_choices
    if choices:  # a label no reply can ever match would silently score as wrong
        from sandbox.core import answers

        bad = [f"line {c.where.rsplit(' ', 1)[-1]}: expected {c.expected!r} is not one of {tpl.name}'s answer_choices "
               f"({', '.join(choices)})" for c in cases if answers.normalise(c.expected, choices) is None]
        if bad:
            raise ConfigError(data_path, bad)
    return Suite(name=tpl.name, path=None, templates=(tpl,), strategies=STRATEGIES, cases=tuple(cases))


def cases_from_data(path: Path, common: tuple[Assertion, ...] | list, start: int = 0) -> list[Case]:
    rows = templates.load_data(path)
    return [Case(start + i, {"input": r.input}, (Assertion("answer", r.expected, f"{path.name} line {r.line}"), *common),
                 where=f"{path.name} line {r.line}") for i, r in enumerate(rows)]


def _templates(data: dict, path: Path, problems: list[str]) -> tuple[templates.Template, ...]:
    if "template" in data and "templates" in data:
        problems.append("give template or templates, not both")
        return ()
    if "template" in data:
        refs, key = data["template"], "template"
        if not isinstance(refs, str):
            problems.append(f"template must be a template name or path, not {type(refs).__name__}")
            return ()
        refs = [refs]
    elif "templates" in data:
        refs, key = data["templates"], "templates"
        if not isinstance(refs, list) or not refs or not all(isinstance(r, str) for r in refs):
            problems.append("templates must be a non-empty list of template names or paths")
            return ()
    else:
        problems.append("template is missing: name the prompt template the tests run through (template = \"math\")")
        return ()
    out = []
    for i, ref in enumerate(refs):
        where = key if key == "template" else f"templates[{i + 1}]"
        if ref.endswith(".toml") and not Path(ref).expanduser().is_absolute():
            local = path.parent / ref  # a path is relative to the suite file
            ref = str(local) if local.is_file() else ref
        try:
            out.append(templates.load(ref))
        except ConfigError as e:
            problems += [f"{where} = {ref!r}: {e.path}: {p}" for p in e.problems]
        except SandboxError as e:
            problems.append(f"{where} = {ref!r}: {e}")
    names = [t.name for t in out]
    if len(set(names)) < len(names):
        problems.append(f"{key} lists the same template twice ({', '.join(sorted({n for n in names if names.count(n) > 1}))})")
    return tuple(out)


def _names(data: dict, key: str, problems: list[str], choices=None) -> list[str] | None:
    if key not in data:
        return None
    raw = data[key]
    if not isinstance(raw, list) or not raw or not all(isinstance(x, str) and x.strip() for x in raw):
        problems.append(f"{key} must be a non-empty list of names")
        return None
    if choices:
        bad = [x for x in raw if x not in choices]
        if bad:
            problems.append(f"{key}: unknown {', '.join(map(repr, bad))}; choose from {', '.join(choices)}")
            return None
    return list(dict.fromkeys(raw))


def _int(data: dict, key: str, lo: int, hi: int, problems: list[str]) -> int | None:
    v = data.get(key)
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
        problems.append(f"{key} = {v!r} must be a whole number from {lo} to {hi}")
        return None
    return v


def _case(t: object, key: str, index: int, common, path: Path, problems: list[str]) -> Case | None:
    if not isinstance(t, dict):
        problems.append(f"{key} must be a table with vars and assert")
        return None
    before = len(problems)
    problems += [f"{key}: {_unknown(k, TEST_KEYS)}" for k in t if k not in TEST_KEYS]
    vars_ = t.get("vars")
    if not isinstance(vars_, dict):
        problems.append(f"{key}.vars is missing: give vars = {{ input = \"...\" }}")
        vars_ = {}
    for name, value in vars_.items():
        if name not in VARIABLES:
            problems.append(f"{key}.vars.{name}: unknown variable; templates fill in only {{input}}")
        elif not isinstance(value, str) or not value.strip():
            problems.append(f"{key}.vars.{name} must be a non-empty string")
    if vars_ and "input" not in vars_:
        problems.append(f"{key}.vars.input is missing")
    if "description" in t and not isinstance(t["description"], str):
        problems.append(f"{key}.description must be a string")
    asserts = _asserts(t.get("assert", []), f"{key}.assert", path, problems)
    if not asserts and not common and len(problems) == before:
        problems.append(f"{key} has no assertions: add assert = [{{ type = \"answer\", value = \"...\" }}]")
    if len(problems) > before:
        return None
    return Case(index, dict(vars_), (*asserts, *common), t.get("description"), key)


def _asserts(raw: object, key: str, path: Path, problems: list[str]) -> tuple[Assertion, ...]:
    if isinstance(raw, dict):
        raw = [raw]
    if not isinstance(raw, list):
        problems.append(f"{key} must be a list of {{ type = ..., value = ... }} tables")
        return ()
    out = []
    for i, a in enumerate(raw, 1):
        where = f"{key}[{i}]"
        got = _assertion(a, where, path, problems)
        if got:
            out.append(got)
    return tuple(out)


def _assertion(a: object, where: str, path: Path, problems: list[str]) -> Assertion | None:
    if not isinstance(a, dict):
        problems.append(f"{where} must be a table like {{ type = \"contains\", value = \"...\" }}")
        return None
    before = len(problems)
    problems += [f"{where}: {_unknown(k, ASSERT_KEYS)}" for k in a if k not in ASSERT_KEYS]
    kind, value = a.get("type"), a.get("value")
    if not isinstance(kind, str):
        problems.append(f"{where}.type is missing (one of {', '.join(ASSERT_TYPES)})")
        return None
    if kind not in ASSERT_TYPES:
        problems.append(f"{where}.type: {_unknown(kind, ASSERT_TYPES).replace('unknown key', 'unknown assertion')}")
        return None
    base = kind[4:] if kind.startswith("not-") else kind
    if base == "is-json":
        if value is not None:
            problems.append(f"{where}: {kind} takes no value")
    elif base == "json-schema":
        value = _schema(value, where, path, problems)
    elif base == "answer":
        if isinstance(value, bool) or not isinstance(value, (str, int, float)) or str(value).strip() == "":
            problems.append(f"{where}.value must be the expected answer (a string or a number)")
        else:
            value = str(value)
    elif base in TEXT_TYPES:
        if not isinstance(value, str) or value == "":
            problems.append(f"{where}.value must be a non-empty string")
        elif base == "regex":
            try:
                re.compile(value)
            except re.error as e:
                problems.append(f"{where}.value: invalid regular expression {value!r} ({e})")
    else:  # limits
        integer = kind == "max-tokens"
        ok = (isinstance(value, int) if integer else isinstance(value, (int, float))) and not isinstance(value, bool)
        if not ok or value <= 0:
            problems.append(f"{where}.value must be a positive {'whole number' if integer else 'number'} for {kind}")
    if len(problems) > before:
        return None
    return Assertion(kind, value, where)


def _schema(value: object, where: str, path: Path, problems: list[str]) -> dict | None:
    """A JSON schema given inline (a TOML table) or as a path to a .json file, relative to the suite."""
    if isinstance(value, str):
        p = Path(value).expanduser()
        if not p.is_absolute():
            p = path.parent / p
        try:
            value = json.loads(p.read_text(encoding="utf-8"))
        except FileNotFoundError:
            problems.append(f"{where}.value: no such schema file {p}")
            return None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
            problems.append(f"{where}.value: cannot read the schema file {p} ({e})")
            return None
    if not isinstance(value, dict):
        problems.append(f"{where}.value must be a JSON schema (a table) or the path of a .json file")
        return None
    from sandbox.core.guard.scanners.format import validate

    try:
        validate(None, value)  # the validator refuses a schema it cannot check
    except (ValueError, TypeError) as e:
        problems.append(f"{where}.value: unsupported JSON schema ({e})")
        return None
    return value

