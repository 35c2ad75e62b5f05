"""`sandbox tokens` through the real entry point, as a user runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from sandbox.core import paths
from sandbox.core.tokens import encoding

REPO = Path(__file__).resolve().parent.parent


def sandbox(*args, input: bytes | None = None, home: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "SANDBOX_HOME": str(home), "PYTHONPATH": str(REPO)}
    env.pop("SANDBOX_MODELS", None)
    return subprocess.run([sys.executable, "-m", "sandbox", "tokens", *args], input=input, capture_output=True,
                          env=env, timeout=300)


def one_line_error(r: subprocess.CompletedProcess) -> str:
    assert r.returncode == 2, r.stderr
    assert r.stdout == b""
    err = r.stderr.decode()
    assert err.startswith("sandbox: error: ") and err.count("\n") == 1 and "Traceback" not in err, err
    return err


@pytest.mark.model
def test_json_counts_costs_and_timings(tmp_path):
    text = "Hello, world! Unfamiliarization.\ncafé 你好 🙂\n<|endoftext|>\n"
    f = tmp_path / "prompt.txt"
    f.write_text(text, encoding="utf-8")
    r = sandbox("--json", "--timing", str(f), home=tmp_path / "home")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)  # one JSON document and nothing else
    assert list(doc) == ["model", "local_tokens", "encodings", "cost", "prices", "timings"]
    assert doc["model"] == "smollm2-135m"
    assert isinstance(doc["local_tokens"], int) and doc["local_tokens"] > 10
    assert doc["encodings"] == {name: {"tokens": encoding(name).count(text), "exact": True}
                                for name in ("cl100k_base", "o200k_base")}
    from sandbox.core.tokens import PriceSnapshot

    snapshot = PriceSnapshot.packaged()
    luna = doc["cost"]["gpt-6-luna"]  # $0.10 per million input tokens in the genai-prices 0.2.3 snapshot
    n = doc["encodings"]["o200k_base"]["tokens"]
    assert luna == {"encoding": "o200k_base", "input_tokens": n, "input_usd": round(n * 0.10 / 1e6, 6), "exact": True,
                    "price_source": "genai-prices", "price_date": snapshot.date, "provider": "openai"}
    assert doc["cost"]["claude-haiku-5-5"]["exact"] is False
    assert doc["prices"] == {"sources": [{"source": f"genai-prices {snapshot.version}", "date": snapshot.date}],
                             "unpriced": {}}
    assert doc["timings"]["count_ms"] >= 0 and doc["timings"]["load_ms"] > 0


@pytest.mark.model
def test_stdin_empty_and_readable_table(tmp_path):
    r = sandbox("--json", "-", input=b"", home=tmp_path / "home")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["local_tokens"] == 0 and "timings" not in doc
    assert all(e["tokens"] == 0 for e in doc["encodings"].values())
    assert all(c["input_usd"] == 0 for c in doc["cost"].values())

    r = sandbox("-", input="\ufeffhello world\n".encode(), home=tmp_path / "home")
    assert r.returncode == 0, r.stderr
    out = r.stdout.decode()
    assert "smollm2-135m (local)" in out and "cl100k_base" in out and "gpt-6-luna" in out and "≈$" in out
    assert "prices: genai-prices" in out


@pytest.mark.model
def test_a_10_mb_file(tmp_path):
    para = "The quick brown fox jumps over the lazy dog, again and again.\n" * 20 + "\n"
    f = tmp_path / "big.txt"
    f.write_text(para * (10_000_000 // len(para)), encoding="utf-8")
    r = sandbox("--json", str(f), home=tmp_path / "home")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["encodings"]["cl100k_base"]["tokens"] > 1_000_000


def test_missing_file(tmp_path):
    err = one_line_error(sandbox(str(tmp_path / "nope.txt"), home=tmp_path / "home"))
    assert "nope.txt does not exist" in err


def test_directory(tmp_path):
    assert "is a directory" in one_line_error(sandbox(str(tmp_path), home=tmp_path / "home"))


def test_binary_file(tmp_path):
    f = tmp_path / "blob.bin"
    f.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    err = one_line_error(sandbox(str(f), home=tmp_path / "home"))
    assert "blob.bin looks binary" in err


def test_invalid_utf8(tmp_path):
    f = tmp_path / "latin1.txt"
    f.write_bytes("café au lait".encode("latin-1"))
    err = one_line_error(sandbox(str(f), home=tmp_path / "home"))
    assert "latin1.txt is not valid UTF-8 (bad byte at offset 3)" in err
    assert "standard input is not valid UTF-8" in one_line_error(sandbox("-", input=b"\xff\xfe", home=tmp_path / "h"))


def test_pricing_error_names_the_key(tmp_path):
    models = paths.packaged_models_toml().read_text(encoding="utf-8")
    bad = tmp_path / "models.toml"
    bad.write_text(models + '\n[pricing."gpt-4o"]\ninput_per_mtok = "cheap"\noutput_per_mtok = 10\n', encoding="utf-8")
    f = tmp_path / "p.txt"
    f.write_text("hi", encoding="utf-8")
    err = one_line_error(sandbox("--models", str(bad), str(f), home=tmp_path / "home"))
    assert str(bad) in err and "pricing.gpt-4o.input_per_mtok" in err


def test_unknown_model(tmp_path):
    f = tmp_path / "p.txt"
    f.write_text("hi", encoding="utf-8")
    err = one_line_error(sandbox("--model", "nope", str(f), home=tmp_path / "home"))
    assert "unknown model 'nope'" in err


def test_help_does_not_need_a_model(tmp_path):
    r = sandbox("--help", home=tmp_path / "home")
    assert r.returncode == 0 and b"FILE|-" in r.stdout
