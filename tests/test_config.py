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
flash_attn = "yes"
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
                     "models.b.flash_attn = 'yes' must be true, false or \"auto\"",
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


ONE_MODEL = '''
[models.mine]
title = "my one model"
source = "bundled"
'''


def test_a_user_file_adds_hosted_models_and_overrides_to_the_packaged_ones(tmp_path):
    packaged = config.load(paths.packaged_models_toml())
    f = tmp_path / "models.toml"
    f.write_text(ONE_MODEL)
    reg = config.load(f)
    assert list(reg.models) == ["mine"] and reg.hosted == packaged.hosted  # cost columns kept
    f.write_text(ONE_MODEL + '''
[hosted]
models = ["gpt-6-sol", { model = "gpt-6-luna", provider = "azure", approximate = true }]
[pricing."in-house"]
input_per_mtok = 0.5
output_per_mtok = 1.5
cache_read_per_mtok = 0.05
as_of = 2026-10-01
''')
    reg = config.load(f)
    names = [h.model for h in reg.hosted]
    assert names == [h.model for h in packaged.hosted if h.model != "gpt-6-luna"] + ["gpt-6-sol", "gpt-6-luna"]
    assert reg.hosted[-1] == config.HostedModel("gpt-6-luna", provider="azure", approximate=True)  # the user's wins
    p = reg.pricing["in-house"]
    assert (p.input_per_mtok, p.output_per_mtok, p.cache_read_per_mtok, p.as_of) == (
        Decimal("0.5"), Decimal("1.5"), Decimal("0.05"), "2026-10-01")
    f.write_text(ONE_MODEL + '[hosted]\nreplace = true\nmodels = ["gpt-6-sol"]\n')
    assert [h.model for h in config.load(f).hosted] == ["gpt-6-sol"]


def test_an_old_pricing_table_still_works_as_an_override_dated_by_its_file(tmp_path):
    f = tmp_path / "models.toml"
    f.write_text(ONE_MODEL + '[pricing."gpt-4o"]\ninput_per_mtok = 2.50\noutput_per_mtok = 10.00\nencoding = "o200k_base"\n')
    p = config.load(f).pricing["gpt-4o"]
    assert p.input_per_mtok == Decimal("2.50") and p.cache_read_per_mtok is None and p.encoding == "o200k_base"
    from datetime import date

    assert p.as_of == date.fromtimestamp(f.stat().st_mtime).isoformat()


def test_hosted_and_pricing_problems_are_all_listed(tmp_path):
    f = tmp_path / "models.toml"
    f.write_text(ONE_MODEL + '''
[hosted]
models = ["ok", 3, { provider = "openai" }, { model = "x", encoding = "p50k", colour = 1, approximate = "yes" }]
extra = 1
replace = "no"
[pricing.y]
input_per_mtok = 1
output_per_mtok = 2
cache_read_per_mtok = -1
as_of = "last week"
''')
    with pytest.raises(ConfigError) as e:
        config.load(f)
    msg = str(e.value)
    for expected in ["hosted.models[1] = 3 must be a model name", "hosted.models[2].model is missing",
                     "hosted.models[3].encoding = 'p50k'", "hosted.models[3].colour: unknown key",
                     "hosted.models[3].approximate = 'yes'", "hosted.extra: unknown key", "hosted.replace = 'no'",
                     "pricing.y.cache_read_per_mtok = -1", "pricing.y.as_of = 'last week'"]:
        assert expected in msg, expected
    assert str(f) in msg


def test_flash_attn_is_read_as_written_and_unset_by_default(tmp_path):
    f = tmp_path / "models.toml"
    f.write_text('default = "a"\n[models.a]\nsource = "bundled"\nflash_attn = "auto"\n'
                 '[models.b]\nsource = "bundled"\nflash_attn = false\n[models.c]\nsource = "bundled"\n')
    reg = config.load(f)
    assert [reg.get(n).flash_attn for n in "abc"] == ["auto", False, None]


def test_models_list_json_shows_the_flash_attention_setting(tmp_path):
    from tests.conftest import run_cli

    f = tmp_path / "models.toml"
    f.write_text('default = "a"\n[models.a]\nsource = "bundled"\nflash_attn = true\n[models.b]\nsource = "bundled"\n')
    done = run_cli("models", "list", "--json", env={"SANDBOX_MODELS": str(f)})
    assert done.returncode == 0, done.stderr
    import json

    assert {r["name"]: r["flash_attn"] for r in json.loads(done.stdout)} == {"a": True, "b": None}
