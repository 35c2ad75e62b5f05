"""Token counting and hosted-cost estimation.

- `encoding(name)`: a tiktoken encoding, loaded offline from bundled files (never the network).
- `TokenCounter`: counts a text with the local model's tokenizer and each tiktoken encoding;
  cached by chunk, so it is cheap to call while the user types.
- `PriceTable`: hosted-API cost of a prompt / a turn / a session, in exact decimals, from
  genai-prices' offline snapshot (`PriceSnapshot`) and models.toml overrides.
- `context_gauge`, `local_energy`: the arithmetic behind the context gauge and the energy note.

Importing this package is cheap: tiktoken and llama.cpp load only when a count needs them.
"""

from importlib import import_module

# Each name is imported from its module on first use (PEP 562): `sandbox.core.tokens.gauge` is on
# the TUI's first-frame path, and importing it used to load the counter, the prices and the
# snapshot's dataclasses too (~30 ms).
_HOME = {
    "ENCODINGS": "sandbox.core.config",
    "Counts": "sandbox.core.tokens.counter", "EncodingCount": "sandbox.core.tokens.counter",
    "LocalTokenizer": "sandbox.core.tokens.counter", "TokenCounter": "sandbox.core.tokens.counter",
    "Encoding": "sandbox.core.tokens.encodings", "encoding": "sandbox.core.tokens.encodings",
    "Energy": "sandbox.core.tokens.gauge", "Gauge": "sandbox.core.tokens.gauge",
    "context_gauge": "sandbox.core.tokens.gauge", "local_energy": "sandbox.core.tokens.gauge",
    "CacheReuse": "sandbox.core.tokens.prices", "PriceTable": "sandbox.core.tokens.prices",
    "usd_out": "sandbox.core.tokens.prices",
    "PriceRow": "sandbox.core.tokens.snapshot", "PriceSnapshot": "sandbox.core.tokens.snapshot",
}

__all__ = sorted(_HOME)


def __getattr__(name: str):
    if name in _HOME:
        value = getattr(import_module(_HOME[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
