"""The user's own settings file, `<config dir>/config.toml` (`$SANDBOX_HOME/config.toml` when set):
conversation memory defaults and, optionally, the local machine's power draw for an energy
estimate. Every key is optional; every problem is reported at once with its key.

    [memory]
    mode = "tokens"          # or "turns": the last `last_k` turns; or "retrieval": window + recalled turns
    recall = "embedding"     # retrieval: "embedding" (sentence encoder) or "bm25" (SQLite FTS5)
    recall_k = 3             # retrieval: at most this many dropped turns recalled
    last_k = 8
    low_water = 0.5          # after an overflow, refill the window to this share of its budget
    reserve_output = 512     # tokens kept free for the reply (default: max_tokens)
    summary = false          # fold dropped turns into a running summary

    [energy]                 # both keys, or none: sandbox cannot know your laptop's real draw
    watts = 30
    usd_per_kwh = 0.25
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, fields
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from sandbox.core import paths
from sandbox.core.errors import ConfigError, SandboxError
from sandbox.core.limits import RANGES
from sandbox.core.memory import WindowSettings


@dataclass(frozen=True)
class EnergySettings:
    watts: float | None = None
    usd_per_kwh: float | None = None


@dataclass(frozen=True)
class UserSettings:
    memory: WindowSettings = WindowSettings()
    energy: EnergySettings = EnergySettings()
    path: Path | None = None


def path() -> Path:
    return paths.config_dir() / "config.toml"


def load(file: Path | None = None) -> UserSettings:
    file = Path(file) if file else path()
    if not file.is_file():
        return UserSettings()
    try:
        data = tomllib.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as e:
        raise SandboxError(f"cannot read settings file {file}: {e}") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(file, [f"not valid TOML ({e})"]) from None
    problems: list[str] = [f"unknown section [{k}] (known: memory, energy)" for k in data if k not in ("memory", "energy")]
    memory = _memory(data.get("memory", {}), problems)
    energy = _energy(data.get("energy", {}), problems)
    if problems:
        raise ConfigError(file, problems)
    return UserSettings(memory=memory, energy=energy, path=file)


def _memory(raw: dict, problems: list[str]) -> WindowSettings:
    if not isinstance(raw, dict):
        problems.append(f"memory = {raw!r} must be a [memory] table")
        return WindowSettings()
    known = {f.name for f in fields(WindowSettings)}
    unknown = [k for k in raw if k not in known]
    problems += [f"memory.{k}: unknown key (known: {', '.join(sorted(known))})" for k in unknown]
    settings = WindowSettings(**{k: v for k, v in raw.items() if k in known})
    mine = settings.problems(prefix="memory.")
    problems += mine
    return WindowSettings() if mine else settings


def _energy(raw: dict, problems: list[str]) -> EnergySettings:
    if not isinstance(raw, dict):
        problems.append(f"energy = {raw!r} must be an [energy] table")
        return EnergySettings()
    for k in raw:
        if k not in ("watts", "usd_per_kwh"):
            problems.append(f"energy.{k}: unknown key (known: usd_per_kwh, watts)")
    values = {}
    for k in ("watts", "usd_per_kwh"):
        v = raw.get(k)
        problem = RANGES[k].problem(v, f"energy.{k}") if v is not None else None
        if problem:
            problems.append(problem)
            v = None
        values[k] = v
    if (values["watts"] is None) != (values["usd_per_kwh"] is None):
        problems.append("energy needs both watts and usd_per_kwh (or neither)")
        return EnergySettings()
    return EnergySettings(**values)
