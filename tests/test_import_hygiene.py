"""Core never loads Textual, and headless commands start without it (start-up time)."""

import subprocess
import sys


def _modules_after(code: str) -> set[str]:
    out = subprocess.run([sys.executable, "-c", code + "\nimport sys; print('\\n'.join(sys.modules))"],
                         capture_output=True, text=True, check=True)
    return set(out.stdout.split())


def test_core_session_imports_no_textual():
    mods = _modules_after("import sandbox.core.session")
    assert "textual" not in mods
    assert not any(m.startswith("sandbox.tui") for m in mods)


def test_cli_parser_and_help_import_no_textual_and_no_llama():
    mods = _modules_after("from sandbox.cli import build_parser; build_parser()")
    assert "textual" not in mods
    assert "llama_cpp" not in mods


def test_version_needs_no_model():
    out = subprocess.run([sys.executable, "-m", "sandbox", "--version"], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.startswith("sandbox ")


def test_a_price_table_reads_genai_prices_on_first_use_not_when_made():
    # A session is made while the model loads; genai-prices' import (~0.3 s of CPU) waits for the
    # first cost instead of holding up the first turn.
    code = ("import sys\n"
            "from sandbox.core import config\n"
            "from sandbox.core.tokens import PriceTable\n"
            "t = PriceTable.for_registry(config.load())\n"
            "print('made', 'genai_prices' in sys.modules)\n"
            "t.prices\n"
            "print('used', 'genai_prices' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split("\n")
    assert out[:2] == ["made False", "used True"]
