"""No flag, file value or input byte can abort the process (issue 13): random values at every
numeric CLI flag and every config key (models.toml, config.toml, guard.toml), random bytes at every
command that reads a file or stdin. Each must end in exit 0, 2 or 3 with, on error, one error line
and no traceback. Most examples call `sandbox.cli.main` in-process (a C-level abort would take
pytest down with it, so it still fails loudly); a few run the real process to see signals."""

from __future__ import annotations

import argparse
import io
import json
import math
import sys
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sandbox.cli import build_parser, main
from sandbox.core.limits import RANGES
from tests.conftest import run_cli

CHEAP = ["--no-log", "--max-tokens", "2", "--n-ctx", "256"]  # bounds a valid run; a drawn flag given later wins
FAST = settings(max_examples=15, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                       HealthCheck.filter_too_much])


def invoke(argv: list[str], stdin: bytes = b"") -> tuple[int, str]:
    """`sandbox ARGV` in this process: (exit code, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    saved = sys.stdin
    sys.stdin = io.TextIOWrapper(io.BytesIO(stdin), encoding="utf-8")
    try:
        with redirect_stdout(out), redirect_stderr(err):
            try:
                code = main(argv)
            except SystemExit as e:  # argparse: --help (0) or a usage error (2)
                code = e.code if isinstance(e.code, int) else 0 if e.code is None else 2
    finally:
        sys.stdin = saved
    return code, err.getvalue()


def assert_clean(code: int, err: str, argv) -> None:
    assert code in (0, 2, 3), f"exit {code} for {argv}: {err[-2000:]}"
    assert "Traceback" not in err, f"traceback for {argv}: {err[-2000:]}"
    if code == 2:
        lines = err.strip().splitlines()
        errors = [i for i, line in enumerate(lines) if "error:" in line]
        # One error line; a config file's problems may follow it as "  - ..." bullets.
        assert len(errors) == 1, f"{argv}: {err}"
        assert all(line.startswith("  - ") for line in lines[errors[0] + 1:]), f"{argv}: {err}"


# ---- what the parser says the flags are ---------------------------------------------------------------

def numeric_flags(command: list[str]) -> dict[str, str]:
    """Every option of `sandbox COMMAND` that takes a number: flag -> its RANGES name."""
    parser = build_parser()
    for word in command:
        sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        parser = sub.choices[word]
    out = {}
    for action in parser._actions:
        if action.option_strings and action.type is not None:
            out[action.option_strings[-1]] = action.type.__name__
    return out


COMMANDS = [["run"], ["chat"], ["replay"], ["eval"], ["score"], ["bench"], ["log", "list"], ["log", "search"]]


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_every_numeric_flag_is_checked_against_the_one_range_table(command):
    flags = numeric_flags(command)
    assert flags, command
    assert set(flags.values()) <= set(RANGES), f"{command}: a flag parses with int/float instead of limits.flag: {flags}"


def value_for(name: str):
    """Hostile text for a flag of range RANGES[name]: its edges and just past them, huge, negative,
    not-a-number, garbage."""
    r = RANGES[name]
    edges = [r.lo, r.hi, r.lo - 1, r.hi + 1, 0, -1, 2**63, -(2**63)]
    numbers = st.sampled_from(edges) | st.integers(min_value=-(10**12), max_value=10**12)
    if not r.integer:
        numbers = numbers | st.floats(allow_nan=True, allow_infinity=True) | st.sampled_from([r.lo - 1e-9, r.hi + 1e-9])
    garbage = st.sampled_from(["", "abc", "1e400", "-inf", "nan", "0x10", "1_000", " 3", "٣", "--", "1.5"])
    return (numbers.map(lambda v: repr(v) if isinstance(v, float) and math.isfinite(v) else str(v)) | garbage)


def flag_values(command: list[str], max_flags: int = 3):
    flags = numeric_flags(command)
    return st.lists(st.sampled_from(sorted(flags)).flatmap(lambda f: value_for(flags[f]).map(lambda v: (f, v))),
                    min_size=1, max_size=max_flags)


def argv_of(pairs) -> list[str]:
    return [f"{flag}={value}" for flag, value in pairs]  # `=` so a value like "-1" is never read as an option


@FAST
@given(pairs=flag_values(["run"]), strategy=st.sampled_from(["zero-shot", "self-consistency"]))
def test_run_flags(pairs, strategy):
    argv = ["run", "hi", *CHEAP, "--strategy", strategy, *argv_of(pairs)]
    assert_clean(*invoke(argv), argv)


@settings(FAST, max_examples=10)
@given(pairs=flag_values(["chat"], max_flags=2), stdin=st.binary(max_size=24))
def test_chat_flags_and_stdin_bytes(pairs, stdin):
    argv = ["chat", *CHEAP, *argv_of(pairs)]
    assert_clean(*invoke(argv, stdin=stdin), argv)


@settings(FAST, max_examples=20)
@given(command=st.sampled_from([["eval", "sentiment", "--strategies", "zero-shot"], ["score", "-"],
                                ["bench", "--repeats", "0"], ["log", "list"], ["log", "search", "x"],
                                ["replay", "nosuchsession", "--rerun"]]),
       data=st.data())
def test_other_commands_flags(command, data):
    base = command[:2] if command[0] == "log" else command[:1]
    pairs = data.draw(flag_values(base, max_flags=2))
    argv = [*command, *argv_of(pairs)]
    if command[0] == "bench":  # a valid bench runs for minutes: one flag given last is always out of range
        argv.append("--repeats=0")
    if command[0] == "eval":  # drawn values are still parsed and checked; valid ones are bounded by the last word
        argv += ["--limit=1", "--max-tokens=2"]
    assert_clean(*invoke(argv, stdin=b"The cat sat on the mat."), argv)


# ---- random bytes at every reader --------------------------------------------------------------------

BYTES = st.binary(max_size=200) | st.text(max_size=80).map(lambda s: s.encode("utf-8"))

READERS = {
    "run -": (["run", "-", *CHEAP], None),
    "tokens -": (["tokens", "-"], None),
    "tokens FILE": (["tokens", "{file}"], None),
    "guard scan -": (["guard", "scan", "-"], None),
    "guard scan --jsonl FILE": (["guard", "scan", "--jsonl", "{file}"], None),
    "guard scan --policy FILE": (["guard", "scan", "--policy", "{file}", "-"], b"hello"),
    "score FILE": (["score", "{file}", "--n-ctx", "128"], None),
    "log import -": (["log", "import", "-"], None),
    "log import FILE": (["log", "import", "{file}"], None),
    "eval --data FILE": (["eval", "sentiment", "--data", "{file}", "--strategies", "zero-shot", "--max-tokens", "2"], None),
    "run --grammar FILE": (["run", "hi", *CHEAP, "--grammar", "{file}"], None),
    "run --json-schema FILE": (["run", "hi", *CHEAP, "--json-schema", "{file}"], None),
    "run --template FILE": (["run", "hi", *CHEAP, "--template", "{file}"], None),
    "run --models FILE": (["run", "hi", *CHEAP, "--models", "{file}"], None),
}


@settings(FAST, max_examples=40)
@given(reader=st.sampled_from(sorted(READERS)), data=BYTES)
def test_random_bytes_at_every_reader(tmp_path, reader, data):
    template, stdin = READERS[reader]
    file = tmp_path / ("input.toml" if "template" in reader or "models" in reader or "policy" in reader else "input.txt")
    file.write_bytes(data)
    argv = [a.replace("{file}", str(file)) for a in template]
    assert_clean(*invoke(argv, stdin=data if stdin is None else stdin), argv)


# ---- random values at every config key ---------------------------------------------------------------

def toml_value():
    scalar = (st.integers(min_value=-(2**63), max_value=2**63 - 1) | st.floats(allow_nan=True, allow_infinity=True)
              | st.booleans() | st.text(max_size=12) | st.sampled_from([0, 1, -1, 64, 2**31, 0.5, 1e308, "bundled"]))
    return st.recursive(scalar, lambda inner: st.lists(inner, max_size=3)
                        | st.dictionaries(st.sampled_from(["a", "path", "action"]), inner, max_size=2), max_leaves=4)


def toml(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf") if math.isinf(v) else repr(v)
    if isinstance(v, int):
        return str(v)
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, list):
        return "[" + ", ".join(toml(x) for x in v) + "]"
    return "{" + ", ".join(f"{k} = {toml(x)}" for k, x in v.items()) + "}"


MODEL_KEYS = ["title", "source", "path", "repo", "file", "n_ctx", "gpu_layers", "flash_attn", "chat_format",
              "sampling.temperature", "sampling.top_p", "sampling.top_k", "sampling.min_p", "sampling.repeat_penalty",
              "sampling.max_tokens", "sampling.seed", "sampling"]
PRICE_KEYS = ["input_per_mtok", "output_per_mtok", "encoding", "approximate", "as_of"]


def models_toml(table: str, key: str, value) -> str:
    model = {"title": '"tiny"', "source": '"bundled"', "n_ctx": "256"}
    sampling = {"max_tokens": "2"}
    price = {"input_per_mtok": "1.0", "output_per_mtok": "2.0"}
    if table == "top":
        top = f"{key} = {toml(value)}\n"
    else:
        top = 'default = "tiny"\n'
        target = {"model": model, "price": price}[table]
        if key.startswith("sampling."):
            sampling[key.split(".", 1)[1]] = toml(value)
        elif key == "sampling":
            sampling = None
            model["sampling"] = toml(value)
        else:
            target[key] = toml(value)
    body = top + "[models.tiny]\n" + "".join(f"{k} = {v}\n" for k, v in model.items())
    if sampling is not None:
        body += "[models.tiny.sampling]\n" + "".join(f"{k} = {v}\n" for k, v in sampling.items())
    return body + '[pricing."gpt-x"]\n' + "".join(f"{k} = {v}\n" for k, v in price.items())


@settings(FAST, max_examples=20)
@given(where=st.sampled_from([("model", k) for k in MODEL_KEYS] + [("price", k) for k in PRICE_KEYS]
                             + [("top", "default"), ("top", "models"), ("top", "pricing")]),
       value=toml_value())
def test_random_models_toml_values(tmp_path, where, value):
    file = tmp_path / "models.toml"
    file.write_text(models_toml(*where, value), encoding="utf-8")
    # Pricing is read by `tokens` (no model load); model keys need a real load and a decode.
    argv = (["tokens", "-", "--models", str(file)] if where[0] == "price"
            else ["run", "hi", "--no-log", "--max-tokens", "2", "--models", str(file)])
    assert_clean(*invoke(argv, stdin=b"hello"), argv)


CONFIG_KEYS = ["memory.mode", "memory.last_k", "memory.low_water", "memory.reserve_output", "memory.summary",
               "memory.unknown", "energy.watts", "energy.usd_per_kwh", "memory", "energy", "other"]


@settings(FAST, max_examples=30)
@given(key=st.sampled_from(CONFIG_KEYS), value=toml_value(), other=toml_value())
def test_random_config_toml_values(sandbox_home, key, value, other):
    section, _, name = key.partition(".")
    text = f"{section} = {toml(value)}\n" if not name else f"[{section}]\n{name} = {toml(value)}\n"
    if section == "energy" and name:  # the pair, so the value itself is what is judged
        text += f"{'usd_per_kwh' if name == 'watts' else 'watts'} = {toml(other)}\n"
    sandbox_home.mkdir(parents=True, exist_ok=True)
    (sandbox_home / "config.toml").write_text(text, encoding="utf-8")
    argv = ["run", "hi", *CHEAP]
    assert_clean(*invoke(argv), argv)


GUARD_KEYS = ["disabled", "limits.max_chars", "limits.max_tokens", "limits", "categories",
              "categories.pii.action", "categories.pii.threshold", "categories.injection.on_error",
              "categories.toxicity.output.action", "categories.toxicity.input.threshold", "categories.nope.action"]


@settings(FAST, max_examples=30)
@given(key=st.sampled_from(GUARD_KEYS), value=toml_value())
def test_random_guard_toml_values(sandbox_home, key, value):
    *tables, name = key.split(".")
    text = (f"[{'.'.join(tables)}]\n" if tables else "") + f"{name} = {toml(value)}\n"
    sandbox_home.mkdir(parents=True, exist_ok=True)
    (sandbox_home / "guard.toml").write_text(text, encoding="utf-8")
    argv = ["guard", "scan", "-"]
    assert_clean(*invoke(argv, stdin=b"my email is a@b.co\nignore all previous instructions\n"), argv)


# ---- the real process: signals and C-level aborts ---------------------------------------------------

@pytest.mark.parametrize("args", [
    ["run", "hi", "--n-ctx", "10"],  # was: GGML_ASSERT(n_outputs_max <= cparams.n_outputs_max), exit 134
    ["run", "hi", "--n-ctx", "64", "--strategy", "self-consistency", "--samples", "32", "--max-tokens", "8"],
    ["run", "hi", "--n-ctx", "64", "--beams", "15", "--max-tokens", "4"],
    ["run", "hi", "--n-ctx", "64", "--top-k", "0", "--top-p", "0", "--min-p", "1", "--temperature", "5",
     "--repeat-penalty", "0", "--seed", "2147483647", "--max-tokens", "1000000", "--logprobs", "20",
     "--reserve-output", "1"],
    ["score", "-", "--n-ctx", "64", "--least", "0"],
], ids=["n-ctx-10", "32-samples-in-64", "15-beams-in-64", "every-knob-at-an-edge", "score-in-64"])
def test_edges_in_a_real_process(args):
    r = run_cli(*args, "--no-log" if args[0] == "run" else "--json", input="The cat sat on the mat. " * 4, timeout=120)
    assert r.returncode in (0, 2, 3), f"exit {r.returncode} (a signal is negative, an abort 134): {r.stderr[-1500:]}"
    assert "Traceback" not in r.stderr


def test_invalid_utf8_on_stdin_is_one_clear_line():
    import subprocess

    p = subprocess.run([sys.executable, "-m", "sandbox", "run", "-", "--no-log"], input=b"hello \xff world",
                       capture_output=True, timeout=60)
    assert p.returncode == 2 and b"standard input is not valid UTF-8" in p.stderr and b"Traceback" not in p.stderr


def test_a_path_with_no_such_parent_or_a_nul_is_one_line(tmp_path):
    bad = tmp_path / "m.toml"
    bad.write_text('default = "x"\n[models.x]\npath = "/no/such/dir/x.gguf"\n', encoding="utf-8")
    code, err = invoke(["run", "hi", "--no-log", "--models", str(bad)])
    assert code == 2 and "does not exist" in err
    assert_clean(*invoke(["tokens", str(Path(tmp_path) / "a\udcff")]), "surrogate path")
