"""<config dir>/config.toml: memory defaults and energy; every problem reported with its key."""

import pytest

from sandbox.core import settings
from sandbox.core.errors import ConfigError
from sandbox.core.memory import WindowSettings


def test_no_file_means_defaults(sandbox_home):
    s = settings.load()
    assert s.memory == WindowSettings() and s.energy.watts is None


def test_memory_and_energy_are_read(sandbox_home):
    sandbox_home.mkdir(parents=True, exist_ok=True)
    (sandbox_home / "config.toml").write_text('[memory]\nmode = "turns"\nlast_k = 3\nsummary = true\n'
                                              '[energy]\nwatts = 30\nusd_per_kwh = 0.25\n')
    s = settings.load()
    assert s.memory == WindowSettings(mode="turns", last_k=3, summary=True)
    assert (s.energy.watts, s.energy.usd_per_kwh) == (30, 0.25)


def test_all_problems_at_once(sandbox_home):
    sandbox_home.mkdir(parents=True, exist_ok=True)
    (sandbox_home / "config.toml").write_text('[memory]\nmode = "fifo"\ncolour = 1\n[energy]\nwatts = -3\n[other]\n')
    with pytest.raises(ConfigError) as e:
        settings.load()
    msg = str(e.value)
    for part in ["unknown section [other]", "memory.colour", "mode 'fifo'", "energy.watts = -3"]:
        assert part in msg, part


def test_cli_flags_override_the_file(sandbox_home):
    from tests.conftest import run_cli

    sandbox_home.mkdir(parents=True, exist_ok=True)
    (sandbox_home / "config.toml").write_text('[memory]\nmode = "turns"\nlast_k = 1\n')
    import json

    out = run_cli("chat", "--json", "--max-tokens", "4", "--seed", "1", "--no-log", input="a\nb\nc\n")
    assert [json.loads(line)["memory"]["kept"] for line in out.stdout.splitlines()] == [[], [0], [1]]
    out = run_cli("chat", "--json", "--max-tokens", "4", "--seed", "1", "--no-log", "--memory", "tokens", input="a\nb\nc\n")
    assert [json.loads(line)["memory"]["kept"] for line in out.stdout.splitlines()] == [[], [0], [0, 1]]
