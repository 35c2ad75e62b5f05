"""models.toml: the model registry, the hosted models the cost estimator shows, and price overrides.

Hosted prices come from genai-prices' packaged snapshot (core/tokens/snapshot.py); models.toml only
says which hosted models to show (`[hosted] models`) and overrides a price (`[pricing."NAME"]`: a
negotiated rate, a model the snapshot lacks). A user's models.toml adds its hosted models and
overrides to the packaged ones (`[hosted] replace = true` shows only its own).

Every problem in the file is collected, each naming its key, and reported together."""

from __future__ import annotations

import dataclasses
import math
import sys
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from sandbox.core import paths
from sandbox.core.errors import ConfigError, SandboxError
from sandbox.core.limits import RANGES
from sandbox.core.sampling import LIMITS, SamplingParams

ENCODINGS = ("cl100k_base", "o200k_base")
MODEL_KEYS = {"title", "source", "path", "repo", "file", "n_ctx", "gpu_layers", "flash_attn", "sampling", "chat_format"}
PRICE_KEYS = {"input_per_mtok", "output_per_mtok", "cache_read_per_mtok", "encoding", "approximate", "as_of", "provider"}
HOSTED_KEYS = {"models", "replace"}
HOSTED_MODEL_KEYS = {"model", "provider", "encoding", "approximate"}
REMOTE_KEYS = {"url", "model", "api_key_env", "timeout", "chat_template"}  # a model served over HTTP (core/remote.py)


@dataclass(frozen=True)
class ModelSpec:
    name: str
    title: str
    source: str  # "bundled" | "path" | "repo"
    path: str | None = None
    repo: str | None = None
    file: str | None = None
    n_ctx: int = 4096
    gpu_layers: int = 0
    flash_attn: bool | str | None = None  # true, false, "auto" (llama.cpp decides); unset: off on the CPU
    sampling: SamplingParams = field(default_factory=SamplingParams)
    # A served model (source "remote"): the OpenAI-compatible base URL, the server's model id,
    # the environment variable holding the API key (the key itself is never stored), the
    # request timeout in seconds, and optionally a Jinja chat template file to render prompts with.
    url: str | None = None
    server_model: str | None = None
    api_key_env: str | None = None
    timeout: float = 60.0
    chat_template: str | None = None

    def local_path(self) -> Path:
        """Where this model's GGUF file is (or will be, once pulled)."""
        if self.source == "remote":
            raise SandboxError(f"model {self.name!r} is served at {self.url}; it has no local file")
        if self.source == "bundled":
            return paths.bundled_model()
        if self.source == "path":
            return Path(self.path).expanduser()
        return paths.models_dir() / self.repo / self.file

    def available(self) -> bool:
        if self.source == "remote":
            return True  # configured; whether the server answers is known only when asked
        try:
            return self.local_path().is_file()
        except SandboxError:
            return False


@dataclass(frozen=True)
class Price:
    """A price override from models.toml: USD per million tokens."""

    model: str
    input_per_mtok: Decimal
    output_per_mtok: Decimal
    encoding: str
    approximate: bool = False
    as_of: str | None = None  # ISO date of the price (default: the day its file was last changed)
    cache_read_per_mtok: Decimal | None = None  # None: cached input costs the input rate
    provider: str | None = None


@dataclass(frozen=True)
class HostedModel:
    """A hosted model to show in the cost table, priced from the genai-prices snapshot."""

    model: str  # as genai-prices names it; also the key of its entry in a turn's `cost`
    provider: str | None = None  # None: the provider genai-prices infers from the name
    encoding: str | None = None  # None: by provider (see tokens.prices.default_encoding)
    approximate: bool | None = None


@dataclass(frozen=True)
class Registry:
    path: Path
    default: str
    models: dict[str, ModelSpec]
    pricing: dict[str, Price]  # overrides: they win over the snapshot
    hosted: tuple[HostedModel, ...] = ()

    def get(self, name: str | None) -> ModelSpec:
        name = name or self.default
        if name not in self.models:
            known = ", ".join(sorted(self.models))
            raise SandboxError(f"unknown model {name!r} in {self.path}; known models: {known}")
        return self.models[name]


def load(path: Path | str | None = None) -> Registry:
    path = Path(path) if path else paths.models_toml()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SandboxError(f"models file {path} does not exist; pass an existing file with --models") from None
    except (OSError, UnicodeDecodeError) as e:
        raise SandboxError(f"cannot read models file {path}: {e}") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(path, [f"not valid TOML ({e})"]) from None
    registry = parse(data, path)
    packaged = paths.packaged_models_toml()
    if path.resolve() != packaged.resolve() and packaged.is_file():
        registry = with_packaged_hosted(registry, load(packaged), replace=_replaces_hosted(data))
    return registry


def _replaces_hosted(data: dict) -> bool:
    hosted = data.get("hosted")
    return isinstance(hosted, dict) and hosted.get("replace") is True


def with_packaged_hosted(user: Registry, packaged: Registry, replace: bool = False) -> Registry:
    """A user's models.toml adds its hosted models and price overrides to the packaged ones (its
    own win); with `[hosted] replace = true` only its own are shown."""
    if replace:
        return user
    mine = {h.model for h in user.hosted}
    hosted = tuple(h for h in packaged.hosted if h.model not in mine) + user.hosted
    return dataclasses.replace(user, hosted=hosted, pricing={**packaged.pricing, **user.pricing})


def parse(data: dict, path: Path) -> Registry:
    problems: list[str] = []
    models: dict[str, ModelSpec] = {}
    raw_models = data.get("models", {})
    if not isinstance(raw_models, dict) or not raw_models:
        problems.append("[models] is missing or empty; add at least one [models.NAME] table")
        raw_models = {}
    for name, m in raw_models.items():
        spec = _model(name, m, problems)
        if spec:
            models[name] = spec
    default = data.get("default")
    if default is None:
        default = next(iter(raw_models), "")
    elif not isinstance(default, str):
        problems.append(f"default = {default!r} must be a model name (a string)")
    elif default not in raw_models:
        problems.append(f"default = {default!r} names no [models.{default}] table")
    pricing: dict[str, Price] = {}
    raw_pricing = data.get("pricing") or {}
    if not isinstance(raw_pricing, dict):
        problems.append("pricing must be a table of [pricing.\"NAME\"] tables")
        raw_pricing = {}
    for name, p in raw_pricing.items():
        price = _price(name, p, problems, _file_date(path))
        if price:
            pricing[name] = price
    hosted = _hosted(data.get("hosted"), problems)
    unknown = set(data) - {"default", "models", "pricing", "hosted"}
    problems += [f"unknown top-level key {k!r}" for k in sorted(unknown)]
    if problems:
        raise ConfigError(path, problems)
    return Registry(path=path, default=default, models=models, pricing=pricing, hosted=hosted)


def _file_date(path: Path) -> str | None:
    try:
        return date.fromtimestamp(path.stat().st_mtime).isoformat()
    except OSError:
        return None


def _hosted(raw: object, problems: list[str]) -> tuple[HostedModel, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, dict):
        problems.append('hosted must be a table: [hosted] models = ["gpt-6-luna", ...]')
        return ()
    problems += [f"hosted.{k}: unknown key (known: models, replace)" for k in sorted(set(raw) - HOSTED_KEYS)]
    if not isinstance(raw.get("replace", False), bool):
        problems.append(f"hosted.replace = {raw['replace']!r} must be true or false")
    entries = raw.get("models", [])
    if not isinstance(entries, list):
        problems.append('hosted.models must be a list of model names, e.g. ["gpt-6-luna", "claude-haiku-5-5"]')
        return ()
    out: list[HostedModel] = []
    for i, e in enumerate(entries):
        key = f"hosted.models[{i}]"
        if isinstance(e, str) and e.strip():
            out.append(HostedModel(e.strip()))
            continue
        if not isinstance(e, dict):
            problems.append(f"{key} = {e!r} must be a model name or a table {{ model = \"...\", provider = \"...\" }}")
            continue
        before = len(problems)
        problems += [f"{key}.{k}: unknown key (known: {', '.join(sorted(HOSTED_MODEL_KEYS))})"
                     for k in sorted(set(e) - HOSTED_MODEL_KEYS)]
        if not isinstance(e.get("model"), str) or not e["model"].strip():
            problems.append(f"{key}.model is missing (the model's name, as `sandbox prices` lists it)")
        if "provider" in e and (not isinstance(e["provider"], str) or not e["provider"]):
            problems.append(f"{key}.provider = {e['provider']!r} must be a provider id, e.g. \"openai\"")
        if "encoding" in e and e["encoding"] not in ENCODINGS:
            problems.append(f"{key}.encoding = {e['encoding']!r} is unknown; use one of {', '.join(ENCODINGS)}")
        if "approximate" in e and not isinstance(e["approximate"], bool):
            problems.append(f"{key}.approximate = {e['approximate']!r} must be true or false")
        if len(problems) == before:
            out.append(HostedModel(e["model"].strip(), e.get("provider"), e.get("encoding"), e.get("approximate")))
    return tuple(out)


def _model(name: str, m: object, problems: list[str]) -> ModelSpec | None:
    key = f"models.{name}"
    if not isinstance(m, dict):
        problems.append(f"{key} must be a table")
        return None
    before = len(problems)
    for k in sorted(set(m) - MODEL_KEYS - REMOTE_KEYS):
        if isinstance(m[k], dict):  # [models.qwen2.5-3b] parses as models -> "qwen2" -> "5-3b"
            problems.append(f"{key}.{k}: a model name with a dot must be quoted, e.g. [models.\"{name}.{k}\"]")
        else:
            problems.append(f"{key}.{k}: unknown key (known: {', '.join(sorted(MODEL_KEYS | REMOTE_KEYS))})")
    remote = None
    if "url" in m:
        remote = _remote(key, m, problems)
        source = "remote"
    elif set(m) & (REMOTE_KEYS - {"url"}):
        problems.append(f"{key}: {', '.join(sorted(set(m) & (REMOTE_KEYS - {'url'})))} only apply to a served model; add url")
        source = "?"
    elif m.get("source") == "bundled":
        source = "bundled"
    elif "path" in m:
        source = "path"
        if not isinstance(m["path"], str) or not m["path"]:
            problems.append(f"{key}.path must be a file path string")
    elif "repo" in m or "file" in m:
        source = "repo"
        for k in ("repo", "file"):
            if not isinstance(m.get(k), str) or not m.get(k):
                problems.append(f"{key}.{k} is missing; a hub model needs both repo and file")
    else:
        problems.append(f"{key} needs source = \"bundled\", a path, or repo + file")
        source = "?"
    n_ctx = m.get("n_ctx", 0 if "url" in m else 4096)  # a server's 0: ask the server
    gpu_layers = m.get("gpu_layers", 0)
    for k, v in (("n_ctx", n_ctx), ("gpu_layers", gpu_layers)):
        if k == "n_ctx" and "url" in m and v == 0:
            continue
        problem = RANGES[k].problem(v, f"{key}.{k}")
        if problem:
            problems.append(problem)
    flash_attn = m.get("flash_attn")
    if flash_attn is not None and not (isinstance(flash_attn, bool) or flash_attn == "auto"):
        problems.append(f"{key}.flash_attn = {flash_attn!r} must be true, false or \"auto\"")
    if "title" in m and not isinstance(m["title"], str):
        problems.append(f"{key}.title = {m['title']!r} must be a string")
    sampling = SamplingParams()
    raw_s = m.get("sampling", {})
    if not isinstance(raw_s, dict):
        problems.append(f"{key}.sampling must be a table")
    else:
        for k, v in raw_s.items():
            if k not in LIMITS:
                problems.append(f"{key}.sampling.{k}: unknown key (known: {', '.join(LIMITS)})")
                continue
            problem = RANGES[k].problem(v, f"{key}.sampling.{k}")
            if problem:
                problems.append(problem)
        if len(problems) == before:
            sampling = SamplingParams().with_(**raw_s)
    if len(problems) > before:
        return None
    return ModelSpec(
        name=name, title=m.get("title", name), source=source, path=m.get("path"), repo=m.get("repo"),
        file=m.get("file"), n_ctx=n_ctx, gpu_layers=gpu_layers, flash_attn=flash_attn, sampling=sampling, **(remote or {}),
    )


def _remote(key: str, m: dict, problems: list[str]) -> dict | None:
    """The served-model keys of `m`, checked (problems appended); None when they are not usable."""
    before = len(problems)
    url = m.get("url")
    if not isinstance(url, str) or not url.startswith(("http://", "https://")) or "://" == url[-3:]:
        problems.append(f"{key}.url = {url!r} must be an http:// or https:// base URL, e.g. \"http://127.0.0.1:8080/v1\"")
    for k in sorted({"source", "path", "repo", "file"} & set(m)):
        problems.append(f"{key}.{k}: a served model (url) has no local file; remove {k}")
    model = m.get("model")
    if model is not None and (not isinstance(model, str) or not model):
        problems.append(f"{key}.model = {model!r} must be the server's model id (a string)")
    env = m.get("api_key_env")
    if env is not None and (not isinstance(env, str) or not env.replace("_", "a").isalnum() or env[0].isdigit()):
        problems.append(f"{key}.api_key_env = {env!r} must name an environment variable, e.g. \"LAB_API_KEY\" "
                        "(the key itself never goes in models.toml)")
    timeout = m.get("timeout", 60.0)
    if not isinstance(timeout, (int, float)) or isinstance(timeout, bool) or not 0 < timeout <= 3600:
        problems.append(f"{key}.timeout = {timeout!r} must be seconds, more than 0 and at most 3600")
    tpl = m.get("chat_template")
    if tpl is not None and (not isinstance(tpl, str) or not tpl):
        problems.append(f"{key}.chat_template = {tpl!r} must be the path of a Jinja chat template file")
    if len(problems) > before:
        return None
    return {"url": url.rstrip("/"), "server_model": model, "api_key_env": env, "timeout": float(timeout),
            "chat_template": tpl}


def _price(name: str, p: object, problems: list[str], file_date: str | None = None) -> Price | None:
    key = f"pricing.{name}"
    if not isinstance(p, dict):
        problems.append(f"{key} must be a table")
        return None
    before = len(problems)
    problems += [f"{key}.{k}: unknown key" for k in sorted(set(p) - PRICE_KEYS)]
    amounts = {}
    for k in ("input_per_mtok", "output_per_mtok", "cache_read_per_mtok"):
        v = p.get(k)
        if v is None and k == "cache_read_per_mtok":
            amounts[k] = None
            continue
        try:
            # str() first: Decimal(0.1) would carry the float's binary error into every total.
            number = isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
            d = Decimal(str(v)) if number else None
        except InvalidOperation:
            d = None
        if v is None:
            problems.append(f"{key}.{k} is missing (USD per million tokens)")
        elif d is None or d < 0:
            problems.append(f"{key}.{k} = {v!r} must be a non-negative number (USD per million tokens)")
        amounts[k] = d
    enc = p.get("encoding", "o200k_base")
    if not isinstance(enc, str) or enc not in ENCODINGS:
        problems.append(f"{key}.encoding = {enc!r} is unknown; use one of {', '.join(ENCODINGS)}")
    as_of = p.get("as_of")
    if isinstance(as_of, date) and not isinstance(as_of, datetime):  # as_of = 2026-10-01 (a TOML date)
        as_of = as_of.isoformat()
    if as_of is not None:
        try:
            as_of = date.fromisoformat(as_of).isoformat()
        except (TypeError, ValueError):
            problems.append(f"{key}.as_of = {as_of!r} must be a date, e.g. \"2026-10-01\"")
    if "provider" in p and (not isinstance(p["provider"], str) or not p["provider"]):
        problems.append(f"{key}.provider = {p['provider']!r} must be a name, e.g. \"openai\"")
    if len(problems) > before:
        return None
    return Price(
        model=name, input_per_mtok=amounts["input_per_mtok"], output_per_mtok=amounts["output_per_mtok"],
        encoding=enc, approximate=bool(p.get("approximate", False)), as_of=as_of or file_date,
        cache_read_per_mtok=amounts["cache_read_per_mtok"], provider=p.get("provider"),
    )
