"""models.toml: the packaged file is valid, and every problem in a bad one is reported with its key."""

from decimal import Decimal

import pytest

from sandbox.core import config, paths
from sandbox.core.errors import ConfigError, SandboxError


def test_packaged_models_toml_is_valid_and_has_the_bundled_default():
    reg = config.load(paths.packaged_models_toml())
    assert reg.default == "smollm2-135m"
    spec = reg.get(None)
    assert spec.source == "bundled" and spec.available()
    assert len(reg.models) >= 6
    # hosted models come from the genai-prices snapshot: a flagship and a small model per provider, no prices here
    assert [h.model for h in reg.hosted] == ["gpt-6-astra", "gpt-6-luna", "claude-fable-5-2", "claude-haiku-5-5",
                                             "gemini-4-argon", "gemini-3.8-flash"]
    assert reg.pricing == {}
    for name, spec in reg.models.items():
        if spec.source == "repo":
            assert spec.repo and spec.file.endswith(".gguf"), name


def test_all_problems_are_listed_with_their_keys(tmp_path):
    f = tmp_path / "models.toml"
    f.write_text('''
default = "nope"
[models.a]
title = "no source"
n_ctx = 10
[models.b]
path = "/x.gguf"
gpu_layers = -3
colour = "blue"
[models.b.sampling]
temperature = 9
bogus = 1
[pricing.x]
input_per_mtok = -1
encoding = "p50k"
''')
    with pytest.raises(ConfigError) as e:
        config.load(f)
    msg = str(e.value)
    for expected in ["default = 'nope'", "models.a needs source", "models.a.n_ctx", "models.b.gpu_layers",
                     "models.b.colour: unknown key", "models.b.sampling.temperature", "models.b.sampling.bogus",
                     "pricing.x.input_per_mtok", "pricing.x.output_per_mtok is missing", "pricing.x.encoding"]:
        assert expected in msg, expected
    assert str(f) in msg


def test_unquoted_dotted_model_name_gets_a_hint(tmp_path):
    f = tmp_path / "models.toml"
    f.write_text('[models.qwen2.5-3b]\nrepo = "a/b"\nfile = "c.gguf"\n')
    with pytest.raises(ConfigError, match='must be quoted'):
        config.load(f)


def test_toml_syntax_error_names_the_file(tmp_path):
    f = tmp_path / "models.toml"
    f.write_text("[models\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        config.load(f)


def test_unknown_model_lists_the_known_ones():
    reg = config.load(paths.packaged_models_toml())
    with pytest.raises(SandboxError, match="unknown model 'gpt-5'.*smollm2-135m"):
        reg.get("gpt-5")


def test_lookup_order_env_then_cwd_then_packaged(tmp_path, monkeypatch):
    assert paths.models_toml() == paths.packaged_models_toml()
    (tmp_path / "models.toml").write_text("")
    assert paths.models_toml() == tmp_path / "models.toml"
    monkeypatch.setenv("SANDBOX_MODELS", str(tmp_path / "other.toml"))
    assert paths.models_toml() == tmp_path / "other.toml"
