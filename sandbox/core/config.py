"""models.toml: the model registry and the hosted-API price table.

Every problem in the file is collected, each naming its key, and reported together."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from sandbox.core import paths
from sandbox.core.errors import ConfigError, SandboxError
from sandbox.core.sampling import LIMITS, SamplingParams

ENCODINGS = ("cl100k_base", "o200k_base")
MODEL_KEYS = {"title", "source", "path", "repo", "file", "n_ctx", "gpu_layers", "sampling", "chat_format"}
REMOTE_KEYS = {"url", "model", "api_key_env", "timeout", "chat_template"}  # a model served over HTTP (core/remote.py)
PRICE_KEYS = {"input_per_mtok", "output_per_mtok", "encoding", "approximate", "as_of"}


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
    model: str
    input_per_mtok: Decimal
    output_per_mtok: Decimal
    encoding: str
    approximate: bool = False
    as_of: str | None = None


@dataclass(frozen=True)
class Registry:
    path: Path
    default: str
    models: dict[str, ModelSpec]
    pricing: dict[str, Price]

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
    return parse(data, path)


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
    elif default not in raw_models:
        problems.append(f"default = {default!r} names no [models.{default}] table")
    pricing: dict[str, Price] = {}
    for name, p in (data.get("pricing") or {}).items():
        price = _price(name, p, problems)
        if price:
            pricing[name] = price
    unknown = set(data) - {"default", "models", "pricing"}
    problems += [f"unknown top-level key {k!r}" for k in sorted(unknown)]
    if problems:
        raise ConfigError(path, problems)
    return Registry(path=path, default=default, models=models, pricing=pricing)


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
    if not isinstance(n_ctx, int) or isinstance(n_ctx, bool) or not (64 <= n_ctx <= 1_048_576 or ("url" in m and n_ctx == 0)):
        problems.append(f"{key}.n_ctx = {n_ctx!r} must be an integer from 64 to 1048576")
    gpu_layers = m.get("gpu_layers", 0)
    if not isinstance(gpu_layers, int) or isinstance(gpu_layers, bool) or gpu_layers < -1:
        problems.append(f"{key}.gpu_layers = {gpu_layers!r} must be -1 (all), 0 (CPU) or a layer count")
    sampling = SamplingParams()
    raw_s = m.get("sampling", {})
    if not isinstance(raw_s, dict):
        problems.append(f"{key}.sampling must be a table")
    else:
        for k, v in raw_s.items():
            if k not in LIMITS:
                problems.append(f"{key}.sampling.{k}: unknown key (known: {', '.join(LIMITS)})")
                continue
            lo, hi = LIMITS[k]
            if not isinstance(v, (int, float)) or isinstance(v, bool) or not lo <= v <= hi:
                problems.append(f"{key}.sampling.{k} = {v!r} must be from {lo} to {hi}")
        if len(problems) == before:
            sampling = SamplingParams().with_(**raw_s)
    if len(problems) > before:
        return None
    return ModelSpec(
        name=name, title=m.get("title", name), source=source, path=m.get("path"), repo=m.get("repo"),
        file=m.get("file"), n_ctx=n_ctx, gpu_layers=gpu_layers, sampling=sampling, **(remote or {}),
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


def _price(name: str, p: object, problems: list[str]) -> Price | None:
    key = f"pricing.{name}"
    if not isinstance(p, dict):
        problems.append(f"{key} must be a table")
        return None
    before = len(problems)
    problems += [f"{key}.{k}: unknown key" for k in sorted(set(p) - PRICE_KEYS)]
    amounts = {}
    for k in ("input_per_mtok", "output_per_mtok"):
        v = p.get(k)
        try:
            # str() first: Decimal(0.1) would carry the float's binary error into every total.
            d = Decimal(str(v)) if isinstance(v, (int, float)) and not isinstance(v, bool) else None
        except InvalidOperation:
            d = None
        if v is None:
            problems.append(f"{key}.{k} is missing (USD per million tokens)")
        elif d is None or d < 0:
            problems.append(f"{key}.{k} = {v!r} must be a non-negative number (USD per million tokens)")
        amounts[k] = d
    enc = p.get("encoding", "o200k_base")
    if enc not in ENCODINGS:
        problems.append(f"{key}.encoding = {enc!r} is unknown; use one of {', '.join(ENCODINGS)}")
    if len(problems) > before:
        return None
    return Price(
        model=name, input_per_mtok=amounts["input_per_mtok"], output_per_mtok=amounts["output_per_mtok"],
        encoding=enc, approximate=bool(p.get("approximate", False)), as_of=p.get("as_of"),
    )
