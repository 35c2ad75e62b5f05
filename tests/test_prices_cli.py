"""`sandbox prices` and hosted costs with a user's own models.toml, through the real entry point."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from sandbox.core.tokens import PriceSnapshot

REPO = Path(__file__).resolve().parent.parent
KEYS = ["provider", "model", "input_per_mtok", "output_per_mtok", "cache_read_per_mtok", "context_window"]
ONE_MODEL = '[models.mine]\ntitle = "just mine"\nsource = "bundled"\n'


def sandbox(*args, home: Path, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "SANDBOX_HOME": str(home), "PYTHONPATH": str(REPO)}
    env.pop("SANDBOX_MODELS", None)
    return subprocess.run([sys.executable, "-m", "sandbox", *args], capture_output=True, env=env, timeout=300,
                          cwd=cwd or home.parent)


def test_prices_json_shape(tmp_path):
    r = sandbox("prices", "--json", home=tmp_path / "home")
    assert r.returncode == 0, r.stderr
    rows = json.loads(r.stdout)  # one JSON document and nothing else
    assert len(rows) > 1000  # genai-prices 0.2.3: 2,330 models of 47 providers
    for row in rows:
        assert list(row)[:6] == KEYS
        assert isinstance(row["provider"], str) and isinstance(row["model"], str)
        for k in ("input_per_mtok", "output_per_mtok", "cache_read_per_mtok"):
            assert row[k] is None or (isinstance(row[k], (int, float)) and row[k] >= 0)
        assert row["context_window"] is None or isinstance(row["context_window"], int)
    luna = next(x for x in rows if (x["provider"], x["model"]) == ("openai", "gpt-6-luna"))
    assert (luna["input_per_mtok"], luna["output_per_mtok"], luna["cache_read_per_mtok"]) == (0.1, 0.5, 0.01)
    assert luna["shown"] is True and luna["price_source"] == "genai-prices"
    assert luna["price_date"] == PriceSnapshot.packaged().date


def test_prices_search(tmp_path):
    r = sandbox("prices", "gpt", "--json", home=tmp_path / "home")
    rows = json.loads(r.stdout)
    assert rows and all("gpt" in f"{x['provider']} {x['model']} {x['name'] or ''}".lower() for x in rows)
    assert {"gpt-6-astra", "gpt-6-luna", "gpt-4o"} <= {x["model"] for x in rows if x["provider"] == "openai"}
    assert not any(x["model"].startswith("claude") for x in rows)

    text = sandbox("prices", "GPT-6-L", home=tmp_path / "home").stdout.decode()
    lines = text.splitlines()
    assert lines[0].split() == ["provider", "model", "input", "output", "cache", "read", "context"]
    assert any(line.startswith("*") and "openai" in line and "gpt-6-luna" in line and "$0.10+" in line for line in lines)
    assert "genai-prices" in text and PriceSnapshot.packaged().date in text

    r = sandbox("prices", "no-such-model-anywhere", "--json", home=tmp_path / "home")
    assert r.returncode == 0 and json.loads(r.stdout) == []
    assert b"no model matches" in sandbox("prices", "no-such-model-anywhere", home=tmp_path / "home").stderr


def test_prices_lists_overrides_and_reports_models_it_cannot_price(tmp_path):
    f = tmp_path / "models.toml"
    f.write_text(ONE_MODEL + '[hosted]\nmodels = ["gpt-9-ultra"]\n[pricing."in-house"]\ninput_per_mtok = 0.5\n'
                 'output_per_mtok = 1.5\nas_of = "2026-10-01"\n')
    r = sandbox("prices", "in-house", "--json", "--models", str(f), home=tmp_path / "home")
    assert r.returncode == 0, r.stderr
    row = json.loads(r.stdout)[0]
    assert row["model"] == "in-house" and row["price_source"] == "override" and row["price_date"] == "2026-10-01"
    assert (row["input_per_mtok"], row["output_per_mtok"], row["cache_read_per_mtok"]) == (0.5, 1.5, None)
    assert "gpt-9-ultra" in r.stderr.decode() and "not in the genai-prices" in r.stderr.decode()


@pytest.mark.model
def test_a_one_model_user_models_toml_keeps_the_hosted_cost_columns(tmp_path):
    (tmp_path / "models.toml").write_text(ONE_MODEL)  # ./models.toml, as a new user writes it
    prompt = tmp_path / "p.txt"
    prompt.write_text("How much would this cost on a hosted model?", encoding="utf-8")
    r = sandbox("tokens", "--json", str(prompt), home=tmp_path / "home", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["model"] == "mine"
    assert list(doc["cost"]) == ["gpt-6-astra", "gpt-6-luna", "claude-fable-5-2", "claude-haiku-5-5", "gemini-4-argon",
                                 "gemini-3.8-flash"]
    assert all(c["input_usd"] > 0 and c["price_source"] == "genai-prices" for c in doc["cost"].values())
    assert {c["price_date"] for c in doc["cost"].values()} == {PriceSnapshot.packaged().date}
