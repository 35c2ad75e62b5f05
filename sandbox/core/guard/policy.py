"""The guard policy: what to do per category and stage, read from TOML (the packaged default with
the user's guard.toml merged over it, key by key). Every problem is reported at once."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field, replace
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from sandbox.core import paths
from sandbox.core.errors import ConfigError, SandboxError
from sandbox.core.guard.model import ACTIONS, CATEGORIES, STAGES

DEFAULT_POLICY = Path(__file__).with_name("default_policy.toml")
TOP_KEYS = {"limits", "categories", "disabled"}
LIMIT_KEYS = {"max_chars", "max_tokens"}
CATEGORY_KEYS = {"action", "threshold", "on_error", *STAGES}
STAGE_KEYS = {"action", "threshold"}
ON_ERROR = ("open", "closed")


@dataclass(frozen=True)
class CategoryPolicy:
    action: str = "warn"
    threshold: float = 0.5
    on_error: str = "open"
    stages: dict = field(default_factory=dict)  # stage -> {"action", "threshold"} overrides

    def for_stage(self, stage: str) -> tuple[str, float]:
        o = self.stages.get(stage, {})
        return o.get("action", self.action), o.get("threshold", self.threshold)


@dataclass(frozen=True)
class GuardPolicy:
    categories: dict[str, CategoryPolicy]
    max_chars: int = 32000
    max_tokens: int = 8000
    disabled: frozenset[str] = frozenset()
    sources: tuple[str, ...] = ()
    layers: frozenset[str] = frozenset({"rules", "learned"})  # which scanner layers run (guard eval compares them)

    def only(self, *layers: str) -> "GuardPolicy":
        """A copy that runs only these layers ("rules", "learned")."""
        return replace(self, layers=frozenset(layers))

    def without(self, categories) -> "GuardPolicy":
        """A copy with these categories switched off (for experiments)."""
        names = {categories} if isinstance(categories, str) else set(categories)
        unknown = sorted(names - set(CATEGORIES))
        if unknown:
            raise SandboxError(f"unknown guard categor{'y' if len(unknown) == 1 else 'ies'} {', '.join(unknown)}; "
                               f"known: {', '.join(CATEGORIES)}")
        return replace(self, disabled=self.disabled | frozenset(names))

    def rule(self, category: str) -> CategoryPolicy:
        return self.categories.get(category, CategoryPolicy())

    def scan(self, text: str, stage: str = "input", redactor=None, canary=None, system_prompt=None, fmt=None, prefix=""):
        from sandbox.core.guard.scan import scan

        return scan(self, text, stage=stage, redactor=redactor, canary=canary, system_prompt=system_prompt, fmt=fmt,
                    prefix=prefix)

    def to_dict(self) -> dict:
        return {
            "limits": {"max_chars": self.max_chars, "max_tokens": self.max_tokens},
            "disabled": sorted(self.disabled),
            "categories": {
                name: {"action": c.action, "threshold": c.threshold, "on_error": c.on_error, **c.stages}
                for name, c in self.categories.items()
            },
        }


def _read(path: Path) -> dict:
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise SandboxError(f"guard policy file {path} does not exist") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(path, [f"not valid TOML: {e}"]) from None
    except (OSError, UnicodeDecodeError) as e:
        raise SandboxError(f"cannot read guard policy {path}: {e}") from None


def _merge(base: dict, over: dict) -> dict:
    out = dict(base)
    for k, v in over.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def validate(data: dict) -> list[str]:
    """Problems in a (possibly partial) policy document, each naming its key."""
    problems: list[str] = []
    for k in data:
        if k not in TOP_KEYS:
            problems.append(f"unknown key {k!r} (expected one of: {', '.join(sorted(TOP_KEYS))})")
    disabled = data.get("disabled", [])
    if not isinstance(disabled, list) or not all(isinstance(x, str) for x in disabled):
        problems.append("disabled: must be a list of category names")
    else:
        for x in disabled:
            if x not in CATEGORIES:
                problems.append(f"disabled: unknown category {x!r}")
    limits = data.get("limits", {})
    if not isinstance(limits, dict):
        problems.append("limits: must be a table")
    else:
        for k, v in limits.items():
            if k not in LIMIT_KEYS:
                problems.append(f"limits.{k}: unknown key (expected max_chars or max_tokens)")
            elif not isinstance(v, int) or isinstance(v, bool) or v < 0:
                problems.append(f"limits.{k}: must be a whole number >= 0 (0 = no limit), got {v!r}")
    cats = data.get("categories", {})
    if not isinstance(cats, dict):
        problems.append("categories: must be a table")
        return problems
    for name, table in cats.items():
        key = f"categories.{name}"
        if name not in CATEGORIES:
            problems.append(f"{key}: unknown category {name!r} (known: {', '.join(CATEGORIES)})")
            continue
        if not isinstance(table, dict):
            problems.append(f"{key}: must be a table")
            continue
        for k, v in table.items():
            if k not in CATEGORY_KEYS:
                problems.append(f"{key}.{k}: unknown key (expected action, threshold, on_error, input or output)")
            elif k in STAGES:
                if not isinstance(v, dict):
                    problems.append(f"{key}.{k}: must be a table with action and/or threshold")
                    continue
                for sk, sv in v.items():
                    if sk not in STAGE_KEYS:
                        problems.append(f"{key}.{k}.{sk}: unknown key (expected action or threshold)")
                    else:
                        problems += _check_value(f"{key}.{k}.{sk}", sk, sv)
            else:
                problems += _check_value(f"{key}.{k}", k, v)
    return problems


def _check_value(key: str, kind: str, v) -> list[str]:
    if kind == "action" and v not in ACTIONS:
        return [f"{key}: unknown action {v!r} (use {', '.join(ACTIONS[:-1])} or {ACTIONS[-1]})"]
    if kind == "threshold" and not (_is_number(v) and 0.0 <= v <= 1.0):
        return [f"{key}: threshold must be a number from 0 to 1, got {v!r}"]
    if kind == "on_error" and v not in ON_ERROR:
        return [f"{key}: on_error must be \"open\" or \"closed\", got {v!r}"]
    return []


def _build(data: dict, sources: tuple[str, ...]) -> GuardPolicy:
    cats = {}
    for name in CATEGORIES:
        t = data.get("categories", {}).get(name, {})
        stages = {s: dict(t[s]) for s in STAGES if s in t}
        cats[name] = CategoryPolicy(
            action=t.get("action", "warn"),
            threshold=float(t.get("threshold", 0.5)),
            on_error=t.get("on_error", "open"),
            stages=stages,
        )
    limits = data.get("limits", {})
    return GuardPolicy(
        categories=cats,
        max_chars=int(limits.get("max_chars", 32000)),
        max_tokens=int(limits.get("max_tokens", 8000)),
        disabled=frozenset(data.get("disabled", [])),
        sources=sources,
    )


def load_policy(path: str | Path | None = None) -> GuardPolicy:
    """The packaged default with an override merged over it: `path` if given, else the user's
    guard.toml in the config dir when it exists."""
    base = _read(DEFAULT_POLICY)
    problems = validate(base)
    if problems:  # pragma: no cover - the packaged file is tested
        raise ConfigError(DEFAULT_POLICY, problems)
    sources = [str(DEFAULT_POLICY)]
    over_path = Path(path).expanduser() if path else paths.config_dir() / "guard.toml"
    if path or over_path.is_file():
        over = _read(over_path)
        problems = validate(over)
        if problems:
            raise ConfigError(over_path, problems)
        base = _merge(base, over)
        sources.append(str(over_path))
    return _build(base, tuple(sources))
